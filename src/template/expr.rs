//! The template expression language's syntax: a JSON string `"[…]"` holds one expression — function
//! calls, single-quoted string literals (`''` escapes a quote), integers, `true`/`false`/`null`,
//! property access `.name` and indexing `[…]`. `"[[…"` is a literal string starting with `[`.
//! Pure: no I/O.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Int(i64),
    Bool(bool),
    Null,
    Call(String, Vec<Expr>),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

/// Is this JSON string an expression (`[…]` but not `[[…`)?
pub fn is_expression(s: &str) -> bool {
    s.starts_with('[') && s.ends_with(']') && !s.starts_with("[[") && s.len() >= 2
}

/// A JSON string's literal value: `[[x]` stands for `[x]`.
pub fn unescape_literal(s: &str) -> &str {
    if s.starts_with("[[") {
        &s[1..]
    } else {
        s
    }
}

/// Deepest nesting of calls and indexes an expression may have.
pub const MAX_DEPTH: usize = 64;

/// Most `.name`/`[index]` accessors one expression may have (each is a level of the evaluator's recursion).
pub const MAX_LINKS: usize = 256;

/// Parse the inside of `[…]`. The error is ARM's message text.
pub fn parse(src: &str) -> Result<Expr, String> {
    let inner = &src[1..src.len() - 1];
    let mut p = Parser {
        s: inner.as_bytes(),
        src: inner,
        i: 0,
        links: 0,
    };
    p.ws();
    if p.i >= p.s.len() {
        return Err(
            "The language expression is empty. Please see https://aka.ms/arm-template-expressions for usage details."
                .into(),
        );
    }
    // Every nesting level is a native stack frame of the parser and of the evaluator: refuse depth
    // no real expression has, so no input text can overflow the stack.
    let mut depth = 0usize;
    let mut quoted = false;
    for b in inner.bytes() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' | b'[' if !quoted => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(p.err(&format!("nesting deeper than {MAX_DEPTH} levels")));
                }
            }
            b')' | b']' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let e = p.expr()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err(&format!(
            "unexpected '{}'",
            p.src[p.i..].chars().next().unwrap_or(' ')
        )));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    /// `.name` and `[index]` accessors so far: each wraps the expression before it one level deeper
    /// (`a[0][0]…` never nests brackets, so the nesting count above does not see it).
    links: usize,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!(
            "The language expression '{}' is not valid: {what} at position '{}'. Please see https://aka.ms/arm-template-expressions for usage details.",
            self.src, self.i
        )
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.ws();
        let mut e = self.primary()?;
        loop {
            self.ws();
            if matches!(self.s.get(self.i), Some(b'.' | b'[')) {
                // found by fuzzing: 5 000 chained `[0]` overflowed the evaluator's (and the drop's) stack
                self.links += 1;
                if self.links > MAX_LINKS {
                    return Err(self.err(&format!(
                        "more than {MAX_LINKS} property or index accessors"
                    )));
                }
            }
            match self.s.get(self.i) {
                Some(b'.') => {
                    self.i += 1;
                    self.ws();
                    let name = self.ident();
                    if name.is_empty() {
                        return Err(self.err("expected a property name"));
                    }
                    e = Expr::Member(Box::new(e), name);
                }
                Some(b'[') => {
                    self.i += 1;
                    let idx = self.expr()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b']') {
                        return Err(self.err("expected ']'"));
                    }
                    self.i += 1;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                _ => return Ok(e),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || self.s[self.i] == b'_'
                || self.s[self.i] == b'$')
        {
            self.i += 1;
        }
        self.src[start..self.i].to_string()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end of expression")),
            Some(b'\'') => {
                self.i += 1;
                let mut out = String::new();
                let mut start = self.i;
                loop {
                    match self.s.get(self.i) {
                        None => return Err(self.err("unterminated string literal")),
                        Some(b'\'') => {
                            out.push_str(&self.src[start..self.i]);
                            if self.s.get(self.i + 1) == Some(&b'\'') {
                                out.push('\'');
                                self.i += 2;
                                start = self.i;
                            } else {
                                self.i += 1;
                                return Ok(Expr::Str(out));
                            }
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                self.src[start..self.i]
                    .parse::<i64>()
                    .map(Expr::Int)
                    .map_err(|_| self.err("invalid integer literal"))
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let name = self.ident();
                self.ws();
                if self.s.get(self.i) == Some(&b'(') {
                    self.i += 1;
                    let mut args = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b')') {
                        self.i += 1;
                        return Ok(Expr::Call(name, args));
                    }
                    loop {
                        args.push(self.expr()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b')') => {
                                self.i += 1;
                                return Ok(Expr::Call(name, args));
                            }
                            _ => return Err(self.err("expected ',' or ')'")),
                        }
                    }
                }
                match name.to_ascii_lowercase().as_str() {
                    "true" => Ok(Expr::Bool(true)),
                    "false" => Ok(Expr::Bool(false)),
                    "null" => Ok(Expr::Null),
                    _ => Err(self.err(&format!("'{name}' is not a function call"))),
                }
            }
            Some(_) => Err(self.err(&format!(
                "unexpected '{}'",
                self.src[self.i..].chars().next().unwrap_or(' ')
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessor_chains_are_bounded() {
        let chain = |n: usize| format!("[parameters('p'){}]", "[0]".repeat(n));
        assert!(parse(&chain(MAX_LINKS)).is_ok());
        let e = parse(&chain(5000)).unwrap_err();
        assert!(
            e.contains("more than 256 property or index accessors"),
            "{e}"
        );
        assert!(parse(&format!("[parameters('p'){}]", ".a".repeat(MAX_LINKS + 1))).is_err());
    }

    #[test]
    fn parses_calls_members_and_indexes() {
        let e = parse("[guid(parameters('resourceGroups')[copyIndex()].rgName)]").unwrap();
        assert_eq!(
            e,
            Expr::Call(
                "guid".into(),
                vec![Expr::Member(
                    Box::new(Expr::Index(
                        Box::new(Expr::Call(
                            "parameters".into(),
                            vec![Expr::Str("resourceGroups".into())]
                        )),
                        Box::new(Expr::Call("copyIndex".into(), vec![]))
                    )),
                    "rgName".into()
                )]
            )
        );
        assert_eq!(
            parse("[concat('it''s', -1, true)]").unwrap(),
            Expr::Call(
                "concat".into(),
                vec![Expr::Str("it's".into()), Expr::Int(-1), Expr::Bool(true)]
            )
        );
        assert!(parse("[concat('a']").is_err());
        assert!(parse("[]").is_err());
        assert!(is_expression("[x()]") && !is_expression("[[x()]") && !is_expression("x"));
        assert_eq!(unescape_literal("[[x]"), "[x]");
    }
}

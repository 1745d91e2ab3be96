//! The OData `$filter` subset Microsoft Graph accepts on directory objects: `eq`, `ne`, `in`,
//! `startswith`, `endswith`, `not`, `and`/`or` with parentheses, and lambda `any` over string
//! collections (`servicePrincipalNames/any(c:c eq 'x')`). Pure: parse to a tree, evaluate on JSON.
//! String comparisons ignore case, as Graph's do on directory properties. Follows
//! https://learn.microsoft.com/graph/filter-query-parameter and …/graph/aad-advanced-queries.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Eq(String, Value),
    Ne(String, Value),
    In(String, Vec<Value>),
    StartsWith(String, String),
    EndsWith(String, String),
    /// `prop/any(v:v eq 'x')`
    Any(String, Value),
}

/// Why a filter was refused: a syntax error, or a clause outside Graph's default query support.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterError {
    Syntax(String),
}

impl Filter {
    /// The properties the filter names (to check them against the type).
    pub fn properties(&self) -> Vec<&str> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let mut v = a.properties();
                v.extend(b.properties());
                v
            }
            Filter::Not(a) => a.properties(),
            Filter::Eq(p, _)
            | Filter::Ne(p, _)
            | Filter::In(p, _)
            | Filter::StartsWith(p, _)
            | Filter::EndsWith(p, _)
            | Filter::Any(p, _) => vec![p.as_str()],
        }
    }

    /// Whether the filter uses an operator Graph serves only as an advanced query (`ne`, `not`,
    /// `endswith`): those need `ConsistencyLevel: eventual` and `$count=true`.
    pub fn is_advanced(&self) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.is_advanced() || b.is_advanced(),
            Filter::Not(_) | Filter::Ne(..) | Filter::EndsWith(..) => true,
            _ => false,
        }
    }

    pub fn matches(&self, obj: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(obj) && b.matches(obj),
            Filter::Or(a, b) => a.matches(obj) || b.matches(obj),
            Filter::Not(a) => !a.matches(obj),
            Filter::Eq(p, v) => same(prop(obj, p), v),
            Filter::Ne(p, v) => !same(prop(obj, p), v),
            Filter::In(p, vs) => vs.iter().any(|v| same(prop(obj, p), v)),
            Filter::StartsWith(p, s) => prop(obj, p)
                .as_str()
                .is_some_and(|x| x.to_lowercase().starts_with(&s.to_lowercase())),
            Filter::EndsWith(p, s) => prop(obj, p)
                .as_str()
                .is_some_and(|x| x.to_lowercase().ends_with(&s.to_lowercase())),
            Filter::Any(p, v) => prop(obj, p)
                .as_array()
                .is_some_and(|a| a.iter().any(|x| same(x, v))),
        }
    }
}

/// A property by name, case-insensitively (OData names are case-sensitive, Graph's are not).
fn prop<'a>(obj: &'a Value, name: &str) -> &'a Value {
    obj.as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| v)
        .unwrap_or(&Value::Null)
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Lit(Value),
    Open,
    Close,
    Comma,
    Colon,
    Slash,
}

fn lex(s: &str) -> Result<Vec<Tok>, FilterError> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            ' ' | '\t' => i += 1,
            '(' => (out.push(Tok::Open), i += 1).1,
            ')' => (out.push(Tok::Close), i += 1).1,
            ',' => (out.push(Tok::Comma), i += 1).1,
            ':' => (out.push(Tok::Colon), i += 1).1,
            '/' => (out.push(Tok::Slash), i += 1).1,
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => {
                            return Err(FilterError::Syntax(format!(
                                "There is an unterminated string literal at position {i} in '{s}'."
                            )))
                        }
                        Some('\'') if c.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            v.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            ch if ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '.' || ch == '@' => {
                let start = i;
                while i < c.len()
                    && (c[i].is_alphanumeric() || matches!(c[i], '_' | '-' | '.' | '@'))
                {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                out.push(match w.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "null" => Tok::Lit(Value::Null),
                    _ if w.chars().all(|c| c.is_ascii_digit()) => {
                        Tok::Lit(w.parse::<i64>().map(Value::from).unwrap_or(Value::Null))
                    }
                    _ => Tok::Ident(w),
                });
            }
            other => {
                return Err(FilterError::Syntax(format!(
                    "Syntax error: character '{other}' is not valid at position {i} in '{s}'."
                )))
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    src: &'a str,
}

/// Parse a `$filter` value.
pub fn parse(src: &str) -> Result<Filter, FilterError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        src,
    };
    let f = p.or()?;
    if p.pos != p.toks.len() {
        return Err(p.err());
    }
    Ok(f)
}

impl Parser<'_> {
    fn err(&self) -> FilterError {
        FilterError::Syntax(format!(
            "Invalid filter clause: syntax error at token {} in '{}'.",
            self.pos + 1,
            self.src
        ))
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), FilterError> {
        if self.next() == Some(t) {
            Ok(())
        } else {
            Err(self.err())
        }
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(k))
    }
    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut l = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let r = self.and()?;
            l = Filter::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut l = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let r = self.unary()?;
            l = Filter::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn literal(&mut self) -> Result<Value, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Lit(v)) => Ok(v),
            _ => Err(self.err()),
        }
    }
    fn string(&mut self) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => Err(self.err()),
        }
    }
    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let f = self.or()?;
            self.expect(Tok::Close)?;
            return Ok(f);
        }
        let Some(Tok::Ident(name)) = self.next() else {
            return Err(self.err());
        };
        let lname = name.to_ascii_lowercase();
        if (lname == "startswith" || lname == "endswith") && self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let Some(Tok::Ident(p)) = self.next() else {
                return Err(self.err());
            };
            self.expect(Tok::Comma)?;
            let s = self.string()?;
            self.expect(Tok::Close)?;
            return Ok(if lname == "startswith" {
                Filter::StartsWith(p, s)
            } else {
                Filter::EndsWith(p, s)
            });
        }
        if self.peek() == Some(&Tok::Slash) {
            // prop/any(v:v eq 'x')
            self.pos += 1;
            if !self.keyword("any") {
                return Err(self.err());
            }
            self.pos += 1;
            self.expect(Tok::Open)?;
            let Some(Tok::Ident(var)) = self.next() else {
                return Err(self.err());
            };
            self.expect(Tok::Colon)?;
            match self.next() {
                Some(Tok::Ident(v)) if v == var => {}
                _ => return Err(self.err()),
            }
            if !self.keyword("eq") {
                return Err(self.err());
            }
            self.pos += 1;
            let v = self.literal()?;
            self.expect(Tok::Close)?;
            return Ok(Filter::Any(name, v));
        }
        let Some(Tok::Ident(op)) = self.next() else {
            return Err(self.err());
        };
        match op.to_ascii_lowercase().as_str() {
            "eq" => Ok(Filter::Eq(name, self.literal()?)),
            "ne" => Ok(Filter::Ne(name, self.literal()?)),
            "in" => {
                self.expect(Tok::Open)?;
                let mut vs = vec![self.literal()?];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    vs.push(self.literal()?);
                }
                self.expect(Tok::Close)?;
                Ok(Filter::In(name, vs))
            }
            _ => Err(self.err()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: &str, obj: Value, expected: bool) {
        let f = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
        assert_eq!(f.matches(&obj), expected, "{filter} on {obj}");
    }

    #[test]
    fn filters_match_as_graph_does() {
        let u = json!({"userPrincipalName": "Admin@Fabrikam.onmicrosoft.com", "displayName": "Fabrikam Admin",
                       "accountEnabled": true, "servicePrincipalNames": ["40000000-0000-0000-0000-000000002121"]});
        check(
            "userPrincipalName eq 'admin@fabrikam.onmicrosoft.com'",
            u.clone(),
            true,
        );
        check(
            "userPrincipalName eq 'reader@fabrikam.onmicrosoft.com'",
            u.clone(),
            false,
        );
        check("startswith(displayName,'fabrikam')", u.clone(), true);
        check("startswith(displayName, 'Reader')", u.clone(), false);
        check(
            "endswith(userPrincipalName,'.onmicrosoft.com')",
            u.clone(),
            true,
        );
        check(
            "accountEnabled eq true and not (displayName eq 'x')",
            u.clone(),
            true,
        );
        check(
            "displayName eq 'x' or displayName eq 'Fabrikam Admin'",
            u.clone(),
            true,
        );
        check("displayName in ('a', 'fabrikam admin')", u.clone(), true);
        check("displayName ne 'Fabrikam Admin'", u.clone(), false);
        check(
            "servicePrincipalNames/any(c:c eq '40000000-0000-0000-0000-000000002121')",
            u.clone(),
            true,
        );
        check("servicePrincipalNames/any(x:x eq 'nope')", u.clone(), false);
        check(
            "displayName eq 'O''Brien'",
            json!({"displayName": "o'brien"}),
            true,
        );
        check(
            "DISPLAYNAME eq 'a' and mail eq null",
            json!({"displayName": "A", "mail": null}),
            true,
        );
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "userPrincipalName eqq 'x'",
            "userPrincipalName eq 'x",
            "startswith(displayName)",
            "(displayName eq 'a'",
            "displayName eq 'a' extra",
            "names/any(c:d eq 'x')",
            "displayName eq 'a' ; drop",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn advanced_operators_are_flagged() {
        for (f, adv) in [
            ("displayName eq 'a'", false),
            ("startswith(displayName,'a')", false),
            ("displayName ne 'a'", true),
            ("endswith(mail,'x')", true),
            ("displayName eq 'a' and not (mail eq 'b')", true),
        ] {
            assert_eq!(parse(f).unwrap().is_advanced(), adv, "{f}");
        }
        assert_eq!(
            parse("a eq 'x' or startswith(b,'y')").unwrap().properties(),
            ["a", "b"]
        );
    }
}

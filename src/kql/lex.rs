//! KQL tokens with their line and column: identifiers (hyphenated operator names such as
//! `project-away` and negated operators such as `!contains` and `in~` are single tokens), string
//! literals ('…', "…", @'verbatim'), numbers, timespan literals (`1d`, `30m`) and punctuation.
//! Pure. Follows the Kusto docs "String data type", "Timespan data type" and "Syntax conventions".

use super::value::timespan_with_unit;
use super::KqlError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Long(i64),
    Real(f64),
    /// Ticks.
    TimeSpan(i64),
    /// Punctuation and operators: `|`, `(`, `==`, `=~`, `..`, …
    Sym(&'static str),
    /// The raw text inside `datetime(…)`, `timespan(…)` or `dynamic(…)`: (keyword, text).
    Raw(&'static str, String),
    Eof,
}

/// A token with where it starts: 1-based line, 0-based character position in the line (as ANTLR's
/// `characterPositionInLine`, which Resource Graph's ParserFailure reports), and its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
    pub text: String,
}

/// Operator names written with a hyphen; the lexer keeps them whole.
const HYPHENATED: &[&str] = &[
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "mv-expand",
    "mv-apply",
    "sample-distinct",
    "make-series",
    "top-nested",
    "top-hitters",
    "parse-where",
    "parse-kv",
];

const SYMBOLS: &[&str] = &[
    "==", "!=", "=~", "!~", "<=", ">=", "..", "=>", "|", "(", ")", "[", "]", "{", "}", ",", ".",
    "=", "<", ">", "+", "-", "*", "/", "%", ":", ";", "!", "~",
];

pub fn lex(src: &str) -> Result<Vec<Token>, KqlError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let col = (i - line_start) as u32;
        let tok_line = line;
        let err = move |text: &str, msg: &str| KqlError::parser(line, col, text, msg);
        let tok = if c == '\''
            || c == '"'
            || ((c == '@' || c == 'h' || c == 'H') && matches!(chars.get(i + 1), Some('\'' | '"')))
        {
            let verbatim = c == '@';
            if c != '\'' && c != '"' {
                i += 1;
            }
            let q = chars[i];
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    let text: String = chars[start..].iter().collect();
                    return Err(err(&text, "unterminated string literal"));
                };
                if ch == '\n' {
                    let text: String = chars[start..i].iter().collect();
                    return Err(err(&text, "unterminated string literal"));
                }
                i += 1;
                if ch == q {
                    if verbatim && chars.get(i) == Some(&q) {
                        s.push(q);
                        i += 1;
                        continue;
                    }
                    break;
                }
                if ch == '\\' && !verbatim {
                    let Some(&e) = chars.get(i) else { continue };
                    i += 1;
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        other => other,
                    });
                    continue;
                }
                s.push(ch);
            }
            Tok::Str(s)
        } else if c.is_ascii_digit()
            || (c == '.'
                && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
                && !matches!(
                    out.last(),
                    Some(Token {
                        tok: Tok::Ident(_) | Tok::Sym(")" | "]"),
                        ..
                    })
                ))
        {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let mut real = false;
            // `1..5` is a range, not a real
            if chars.get(i) == Some(&'.') && chars.get(i + 1) != Some(&'.') {
                real = true;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if matches!(chars.get(i), Some('e' | 'E'))
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+')
            {
                real = true;
                i += 2;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let num: String = chars[start..i].iter().collect();
            if i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '_') {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                match timespan_with_unit(&text) {
                    Some(t) => Tok::TimeSpan(t),
                    None => return Err(err(&text, "unknown timespan unit")),
                }
            } else if real {
                match num.parse() {
                    Ok(r) => Tok::Real(r),
                    Err(_) => return Err(err(&num, "malformed number")),
                }
            } else {
                match num.parse::<i64>() {
                    Ok(n) => Tok::Long(n),
                    Err(_) => return Err(err(&num, "number out of range")),
                }
            }
        } else if c.is_alphabetic()
            || c == '_'
            || c == '$'
            || (c == '!' && chars.get(i + 1).is_some_and(|d| d.is_alphabetic()))
        {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let mut word: String = chars[start..i].iter().collect();
            // `datetime(…)`, `timespan(…)`, `dynamic(…)` and `guid(…)` literals: their insides are not KQL tokens
            let raw_kind = ["datetime", "timespan", "dynamic", "guid"]
                .into_iter()
                .find(|k| *k == word);
            if let Some(kind) = raw_kind {
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars.get(j) == Some(&'(') {
                    let (mut depth, mut quote) = (0usize, None::<char>);
                    let open = j;
                    while j < chars.len() {
                        let ch = chars[j];
                        match quote {
                            Some(_) if ch == '\\' => j += 1,
                            Some(q) if ch == q => quote = None,
                            Some(_) => {}
                            None if ch == '\'' || ch == '"' => quote = Some(ch),
                            None if ch == '(' => depth += 1,
                            None if ch == ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            None => {}
                        }
                        j += 1;
                    }
                    if j >= chars.len() {
                        let text: String = chars[start..].iter().collect();
                        return Err(err(&text, "missing ')'"));
                    }
                    let inner: String = chars[open + 1..j].iter().collect();
                    let text: String = chars[start..=j].iter().collect();
                    for ch in &chars[start..=j] {
                        if *ch == '\n' {
                            line += 1;
                        }
                    }
                    i = j + 1;
                    out.push(Token {
                        tok: Tok::Raw(kind, inner.trim().to_string()),
                        line: tok_line,
                        col,
                        text,
                    });
                    continue;
                }
            }
            if chars.get(i) == Some(&'-') {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let joined: String = chars[start..j].iter().collect();
                if HYPHENATED.contains(&joined.to_ascii_lowercase().as_str()) {
                    word = joined;
                    i = j;
                }
            }
            // `in~`, `!in~`, `has_any~`…: the case-insensitive form of an operator
            if chars.get(i) == Some(&'~') && matches!(word.as_str(), "in" | "!in") {
                word.push('~');
                i += 1;
            }
            Tok::Ident(word)
        } else {
            let rest: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
                Some(s) => {
                    i += s.chars().count();
                    Tok::Sym(s)
                }
                None => return Err(err(&c.to_string(), "unexpected character")),
            }
        };
        let text: String = chars[start..i].iter().collect();
        out.push(Token {
            tok,
            line,
            col,
            text,
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        line,
        col: (chars.len() - line_start) as u32,
        text: "<EOF>".into(),
    });
    Ok(out)
}

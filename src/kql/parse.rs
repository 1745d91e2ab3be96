//! The KQL syntax tree and its recursive-descent parser over `lex` tokens. Nesting (parentheses,
//! operator chains, sub-queries) is bounded by `MAX_DEPTH`, so no input can overflow the stack; an
//! operator outside the supported subset is a ParserFailure at its token. Pure. Follows the Kusto
//! docs for each tabular operator's syntax and Resource Graph's "Supported KQL language elements".

use super::lex::{lex, Tok, Token};
use super::value::{parse_datetime, parse_timespan, Type, Value};
use super::KqlError;

/// How deep expressions and sub-queries may nest.
pub const MAX_DEPTH: usize = 64;

/// A parsed query: one tabular expression.
#[derive(Debug, Clone)]
pub struct Query {
    pub body: Tabular,
    /// Parsed as Log Analytics reads queries (`parse_logs`): `render` is accepted and ignored, and
    /// Resource Graph's join/union/mv-expand limits do not apply.
    pub log_analytics: bool,
}

#[derive(Debug, Clone)]
pub struct Tabular {
    pub source: Source,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone)]
pub enum Source {
    /// A table by name (with where it was named, for "unknown table").
    Table(String, Pos),
    /// A query that starts with an operator: the caller's default table (Resource Graph: Resources).
    Implicit(Pos),
    /// `union A, (B | …)` at the start.
    Union(Vec<Tabular>, bool),
    /// `workspace("name").Table` (Log Analytics' cross-workspace reference): (workspace, table, where).
    Workspace(String, String, Pos),
}

/// Line and character position of a token, for errors found after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone)]
pub enum Op {
    Where(Expr),
    Project(Vec<Named>),
    ProjectAway(Vec<String>),
    Extend(Vec<Named>),
    Summarize {
        aggs: Vec<Named>,
        by: Vec<Named>,
    },
    Count,
    Distinct(Option<Vec<Expr>>),
    Order(Vec<SortKey>),
    Top {
        n: Expr,
        key: SortKey,
    },
    Take(Expr),
    Join {
        kind: JoinKind,
        right: Box<Tabular>,
        on: Vec<(Expr, Expr)>,
        pos: Pos,
    },
    Union {
        legs: Vec<Tabular>,
        inner: bool,
    },
    MvExpand {
        array: bool,
        index: Option<String>,
        items: Vec<(Named, Option<Type>)>,
        limit: Option<i64>,
    },
    Parse {
        expr: Expr,
        parts: Vec<ParsePart>,
    },
    Sample(Expr),
}

/// `name = expr` or a bare `expr` (named after it).
#[derive(Debug, Clone)]
pub struct Named {
    pub name: Option<String>,
    pub expr: Expr,
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
}

#[derive(Debug, Clone)]
pub enum ParsePart {
    Lit(String),
    Star,
    Col(String, Type),
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Lit(Value),
    Name(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    In {
        lhs: Box<Expr>,
        list: Vec<Expr>,
        ci: bool,
        neg: bool,
    },
    Between {
        lhs: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        neg: bool,
    },
    Call(String, Vec<Expr>),
    /// `*` as an argument (`arg_max(x, *)`).
    Star,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    EqCi,
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// A string operator, case-sensitive or not, maybe negated.
    Str {
        op: StrOp,
        cs: bool,
        neg: bool,
    },
    MatchesRegex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    Contains,
    Has,
    StartsWith,
    EndsWith,
}

/// Tabular operators Kusto has that this engine does not: named in the error, never misread.
const UNSUPPORTED_OPS: &[&str] = &[
    "project-rename",
    "project-keep",
    "project-reorder",
    "mv-apply",
    "sample-distinct",
    "make-series",
    "top-nested",
    "top-hitters",
    "parse-where",
    "parse-kv",
    "render",
    "lookup",
    "as",
    "invoke",
    "evaluate",
    "serialize",
    "getschema",
    "search",
    "find",
    "facet",
    "fork",
    "partition",
    "scan",
    "reduce",
    "consume",
    "print",
    "range",
    "datatable",
    "externaldata",
    "let",
];

pub fn parse(src: &str) -> Result<Query, KqlError> {
    parse_dialect(src, false)
}

/// Parse as Log Analytics does: `render` accepted (the API hands visualization hints back only on
/// request; the emulator never does, so the operator is dropped) and no Resource Graph limits.
pub fn parse_logs(src: &str) -> Result<Query, KqlError> {
    parse_dialect(src, true)
}

fn parse_dialect(src: &str, log_analytics: bool) -> Result<Query, KqlError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
        log_analytics,
    };
    let body = p.tabular()?;
    if p.peek_sym(";") {
        p.i += 1;
    }
    if !matches!(p.peek().tok, Tok::Eof) {
        return Err(p.unexpected());
    }
    Ok(Query {
        body,
        log_analytics,
    })
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    log_analytics: bool,
}

fn is_operator(word: &str) -> bool {
    matches!(
        word,
        "where"
            | "filter"
            | "project"
            | "project-away"
            | "extend"
            | "summarize"
            | "count"
            | "distinct"
            | "order"
            | "sort"
            | "top"
            | "take"
            | "limit"
            | "join"
            | "union"
            | "mv-expand"
            | "mvexpand"
            | "parse"
            | "sample"
    )
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, k: usize) -> &Token {
        &self.toks[(self.i + k).min(self.toks.len() - 1)]
    }

    fn pos(&self) -> Pos {
        let t = self.peek();
        Pos {
            line: t.line,
            col: t.col,
        }
    }

    /// The next token, consumed (past the end it keeps answering Eof, and `i -= 1` undoes it).
    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn peek_sym(&self, s: &str) -> bool {
        matches!(self.peek().tok, Tok::Sym(x) if x == s)
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x == w)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        let yes = self.peek_sym(s);
        if yes {
            self.i += 1;
        }
        yes
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.peek_word(w);
        if yes {
            self.i += 1;
        }
        yes
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), KqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{s}'")))
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), KqlError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{w}'")))
        }
    }

    fn ident(&mut self) -> Result<String, KqlError> {
        match &self.peek().tok {
            Tok::Ident(w) if !w.starts_with('!') => {
                let w = w.clone();
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.error("expected a name")),
        }
    }

    fn error(&self, msg: &str) -> KqlError {
        let t = self.peek();
        KqlError::parser(t.line, t.col, &t.text, msg)
    }

    fn unexpected(&self) -> KqlError {
        self.error(&format!("unexpected '{}'", self.peek().text))
    }

    /// One more level of nesting, refused past `MAX_DEPTH`.
    fn enter(&mut self) -> Result<(), KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("the query nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn tabular(&mut self) -> Result<Tabular, KqlError> {
        self.enter()?;
        let pos = self.pos();
        let mut ops = Vec::new();
        let source = match self.peek().tok.clone() {
            Tok::Ident(w) if w == "union" => {
                self.i += 1;
                let (legs, inner) = self.union_legs()?;
                Source::Union(legs, inner)
            }
            Tok::Ident(w) if is_operator(&w) => {
                ops.push(self.operator()?);
                Source::Implicit(pos)
            }
            Tok::Ident(w) if !w.starts_with('!') => self.table_source()?,
            _ => return Err(self.error("expected a table name")),
        };
        while self.eat_sym("|") {
            if self.log_analytics && self.peek_word("render") {
                self.skip_render()?;
                continue;
            }
            ops.push(self.operator()?);
        }
        self.depth -= 1;
        Ok(Tabular { source, ops })
    }

    fn operator(&mut self) -> Result<Op, KqlError> {
        let word = match &self.peek().tok {
            Tok::Ident(w) => w.clone(),
            _ => return Err(self.error("expected a query operator")),
        };
        let at = self.pos();
        let start = self.i;
        self.i += 1;
        Ok(match word.as_str() {
            "where" | "filter" => Op::Where(self.expr()?),
            "project" => Op::Project(self.named_list()?),
            "extend" => Op::Extend(self.named_list()?),
            "project-away" => Op::ProjectAway(self.name_patterns()?),
            "summarize" => {
                let aggs = if self.peek_word("by") {
                    Vec::new()
                } else {
                    self.named_list()?
                };
                let by = if self.eat_word("by") {
                    self.named_list()?
                } else {
                    Vec::new()
                };
                Op::Summarize { aggs, by }
            }
            "count" => Op::Count,
            "distinct" => {
                if self.eat_sym("*") {
                    Op::Distinct(None)
                } else {
                    let mut cols = vec![self.expr()?];
                    while self.eat_sym(",") {
                        cols.push(self.expr()?);
                    }
                    Op::Distinct(Some(cols))
                }
            }
            "order" | "sort" => {
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_sym(",") {
                    keys.push(self.sort_key()?);
                }
                Op::Order(keys)
            }
            "top" => {
                let n = self.expr()?;
                self.expect_word("by")?;
                Op::Top {
                    n,
                    key: self.sort_key()?,
                }
            }
            "take" | "limit" => Op::Take(self.expr()?),
            "sample" => Op::Sample(self.expr()?),
            "join" => self.join(at)?,
            "union" => {
                let (legs, inner) = self.union_legs()?;
                Op::Union { legs, inner }
            }
            "mv-expand" => self.mv_expand(None)?,
            // the legacy spelling, still common in Resource Graph samples, expands 128 rows at most
            "mvexpand" => self.mv_expand(Some(128))?,
            "parse" => self.parse_op()?,
            _ => {
                self.i = start;
                let known = UNSUPPORTED_OPS.contains(&word.as_str());
                return Err(self.error(&if known {
                    format!("the '{word}' operator is not supported by this emulator")
                } else {
                    format!("unknown query operator '{word}'")
                }));
            }
        })
    }

    fn named_list(&mut self) -> Result<Vec<Named>, KqlError> {
        let mut out = vec![self.named()?];
        while self.eat_sym(",") {
            out.push(self.named()?);
        }
        Ok(out)
    }

    fn named(&mut self) -> Result<Named, KqlError> {
        if let (Tok::Ident(w), Tok::Sym("=")) = (&self.peek().tok, &self.peek_at(1).tok) {
            let name = w.clone();
            self.i += 2;
            return Ok(Named {
                name: Some(name),
                expr: self.expr()?,
            });
        }
        Ok(Named {
            name: None,
            expr: self.expr()?,
        })
    }

    /// Column names for `project-away`, with `*` wildcards (`prop*`).
    fn name_patterns(&mut self) -> Result<Vec<String>, KqlError> {
        let mut out = Vec::new();
        loop {
            let mut pat = String::new();
            loop {
                match &self.peek().tok {
                    Tok::Ident(w) if !w.starts_with('!') => pat.push_str(w),
                    Tok::Sym("*") => pat.push('*'),
                    _ => break,
                }
                self.i += 1;
            }
            if pat.is_empty() {
                return Err(self.error("expected a column name"));
            }
            out.push(pat);
            if !self.eat_sym(",") {
                return Ok(out);
            }
        }
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let expr = self.expr()?;
        // Kusto: descending by default; nulls last when descending, first when ascending
        let desc = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let mut nulls_first = !desc;
        if self.eat_word("nulls") {
            nulls_first = if self.eat_word("first") {
                true
            } else {
                self.expect_word("last")?;
                false
            };
        }
        Ok(SortKey {
            expr,
            desc,
            nulls_first,
        })
    }

    /// `kind=…` before a join, union or mv-expand.
    fn kind_option(&mut self) -> Result<Option<String>, KqlError> {
        if self.peek_word("kind") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
            self.i += 2;
            return Ok(Some(self.ident()?));
        }
        Ok(None)
    }

    fn join(&mut self, pos: Pos) -> Result<Op, KqlError> {
        let kind = match self.kind_option()?.as_deref() {
            None | Some("innerunique") => JoinKind::InnerUnique,
            Some("inner") => JoinKind::Inner,
            Some("leftouter") => JoinKind::LeftOuter,
            Some(k) => {
                self.i -= 1;
                return Err(self.error(&format!("join kind '{k}' is not supported")));
            }
        };
        let right = self.sub_tabular()?;
        self.expect_word("on")?;
        let mut on = Vec::new();
        loop {
            let e = self.expr()?;
            flatten_join_condition(e, &mut on)?;
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(Op::Join {
            kind,
            right: Box::new(right),
            on,
            pos,
        })
    }

    /// `(T | …)` or a bare table name.
    fn sub_tabular(&mut self) -> Result<Tabular, KqlError> {
        if self.eat_sym("(") {
            let t = self.tabular()?;
            self.expect_sym(")")?;
            return Ok(t);
        }
        Ok(Tabular {
            source: self.table_source()?,
            ops: Vec::new(),
        })
    }

    /// A table name, or `workspace("name").Table`.
    fn table_source(&mut self) -> Result<Source, KqlError> {
        let pos = self.pos();
        if self.peek_word("workspace") && matches!(self.peek_at(1).tok, Tok::Sym("(")) {
            self.i += 2;
            let ws = match &self.peek().tok {
                Tok::Str(s) => s.clone(),
                _ => {
                    return Err(
                        self.error("expected the workspace's name, id or resource id as a string")
                    )
                }
            };
            self.i += 1;
            self.expect_sym(")")?;
            self.expect_sym(".")?;
            let table = self.ident()?;
            return Ok(Source::Workspace(ws, table, pos));
        }
        Ok(Source::Table(self.ident()?, pos))
    }

    /// `render` and its arguments up to the next `|` or the end: accepted and dropped (the last
    /// operator of a query in Log Analytics; the service ignores it unless a visualization is asked).
    fn skip_render(&mut self) -> Result<(), KqlError> {
        self.i += 1;
        let mut depth = 0usize;
        loop {
            match &self.peek().tok {
                Tok::Eof => return Ok(()),
                Tok::Sym("|") | Tok::Sym(";") if depth == 0 => return Ok(()),
                Tok::Sym("(") => depth += 1,
                Tok::Sym(")") => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.i += 1;
        }
    }

    fn union_legs(&mut self) -> Result<(Vec<Tabular>, bool), KqlError> {
        let inner = match self.kind_option()?.as_deref() {
            None | Some("outer") => false,
            Some("inner") => true,
            Some(k) => {
                self.i -= 1;
                return Err(self.error(&format!("union kind '{k}' is not supported")));
            }
        };
        let mut legs = vec![self.sub_tabular()?];
        while self.eat_sym(",") {
            legs.push(self.sub_tabular()?);
        }
        Ok((legs, inner))
    }

    fn mv_expand(&mut self, default_limit: Option<i64>) -> Result<Op, KqlError> {
        let mut array = false;
        let mut index = None;
        loop {
            if let Some(k) = self.kind_option()? {
                array = match k.as_str() {
                    "array" => true,
                    "bag" => false,
                    _ => {
                        self.i -= 1;
                        return Err(self.error("expected 'bag' or 'array'"));
                    }
                };
            } else if self.peek_word("bagexpansion") && matches!(self.peek_at(1).tok, Tok::Sym("="))
            {
                self.i += 2;
                array = self.ident()? == "array";
            } else if self.peek_word("with_itemindex")
                && matches!(self.peek_at(1).tok, Tok::Sym("="))
            {
                self.i += 2;
                index = Some(self.ident()?);
            } else {
                break;
            }
        }
        let mut items = Vec::new();
        loop {
            let named = self.named()?;
            let mut ty = None;
            if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect_sym("(")?;
                ty = Some(self.type_name()?);
                self.expect_sym(")")?;
            }
            items.push((named, ty));
            if !self.eat_sym(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") {
            match self.next().tok {
                Tok::Long(n) => Some(n),
                _ => {
                    self.i -= 1;
                    return Err(self.error("expected a row limit"));
                }
            }
        } else {
            default_limit
        };
        Ok(Op::MvExpand {
            array,
            index,
            items,
            limit,
        })
    }

    fn type_name(&mut self) -> Result<Type, KqlError> {
        let t = self.peek().clone();
        let name = self.ident()?;
        Type::from_name(&name)
            .ok_or_else(|| KqlError::parser(t.line, t.col, &t.text, "unknown type"))
    }

    fn parse_op(&mut self) -> Result<Op, KqlError> {
        if let Some(k) = self.kind_option()? {
            if k != "simple" {
                self.i -= 1;
                return Err(self.error(&format!("parse kind '{k}' is not supported")));
            }
        }
        let expr = self.expr()?;
        self.expect_word("with")?;
        let mut parts = Vec::new();
        loop {
            match self.peek().tok.clone() {
                Tok::Str(s) => {
                    self.i += 1;
                    parts.push(ParsePart::Lit(s));
                }
                Tok::Sym("*") => {
                    self.i += 1;
                    parts.push(ParsePart::Star);
                }
                Tok::Ident(w) if !w.starts_with('!') => {
                    self.i += 1;
                    let ty = if self.eat_sym(":") {
                        self.type_name()?
                    } else {
                        Type::String
                    };
                    parts.push(ParsePart::Col(w, ty));
                }
                _ => break,
            }
        }
        if parts.is_empty() {
            return Err(self.error("expected a parse pattern"));
        }
        Ok(Op::Parse { expr, parts })
    }

    // ---- scalar expressions, lowest precedence first ----

    pub fn expr(&mut self) -> Result<Expr, KqlError> {
        self.enter()?;
        let e = self.binary_level(0);
        self.depth -= 1;
        e
    }

    /// Left-associative levels: `or`, `and`, comparison, additive, multiplicative. Each link of a
    /// chain counts as a level of nesting, so `a + a + … + a` is bounded too.
    fn binary_level(&mut self, level: u8) -> Result<Expr, KqlError> {
        if level == 2 {
            return self.comparison();
        }
        if level == 5 {
            return self.unary();
        }
        let mut lhs = self.binary_level(level + 1)?;
        let saved = self.depth;
        loop {
            let pos = self.pos();
            let op = match (&self.peek().tok, level) {
                (Tok::Ident(w), 0) if w == "or" => BinOp::Or,
                (Tok::Ident(w), 1) if w == "and" => BinOp::And,
                (Tok::Sym("+"), 3) => BinOp::Add,
                (Tok::Sym("-"), 3) => BinOp::Sub,
                (Tok::Sym("*"), 4) => BinOp::Mul,
                (Tok::Sym("/"), 4) => BinOp::Div,
                (Tok::Sym("%"), 4) => BinOp::Mod,
                _ => break,
            };
            self.i += 1;
            self.enter()?;
            let rhs = self.binary_level(level + 1)?;
            lhs = Expr {
                kind: ExprKind::Bin(op, Box::new(lhs), Box::new(rhs)),
                pos,
            };
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let lhs = self.binary_level(3)?;
        let pos = self.pos();
        let tok = self.peek().tok.clone();
        let op = match &tok {
            Tok::Sym("==") => Some(BinOp::Eq),
            Tok::Sym("!=") => Some(BinOp::Ne),
            Tok::Sym("=~") => Some(BinOp::EqCi),
            Tok::Sym("!~") => Some(BinOp::NeCi),
            Tok::Sym("<") => Some(BinOp::Lt),
            Tok::Sym("<=") => Some(BinOp::Le),
            Tok::Sym(">") => Some(BinOp::Gt),
            Tok::Sym(">=") => Some(BinOp::Ge),
            Tok::Ident(w) => str_op(w),
            _ => None,
        };
        if let Some(op) = op {
            self.i += 1;
            let rhs = self.binary_level(3)?;
            return Ok(Expr {
                kind: ExprKind::Bin(op, Box::new(lhs), Box::new(rhs)),
                pos,
            });
        }
        let Tok::Ident(w) = tok else { return Ok(lhs) };
        match w.as_str() {
            "matches" => {
                self.i += 1;
                self.expect_word("regex")?;
                let rhs = self.binary_level(3)?;
                Ok(Expr {
                    kind: ExprKind::Bin(BinOp::MatchesRegex, Box::new(lhs), Box::new(rhs)),
                    pos,
                })
            }
            "in" | "in~" | "!in" | "!in~" => {
                self.i += 1;
                self.expect_sym("(")?;
                let mut list = Vec::new();
                if !self.peek_sym(")") {
                    list.push(self.expr()?);
                    while self.eat_sym(",") {
                        list.push(self.expr()?);
                    }
                }
                self.expect_sym(")")?;
                let (ci, neg) = (w.ends_with('~'), w.starts_with('!'));
                Ok(Expr {
                    kind: ExprKind::In {
                        lhs: Box::new(lhs),
                        list,
                        ci,
                        neg,
                    },
                    pos,
                })
            }
            "between" | "!between" => {
                self.i += 1;
                self.expect_sym("(")?;
                let lo = self.binary_level(3)?;
                self.expect_sym("..")?;
                let hi = self.binary_level(3)?;
                self.expect_sym(")")?;
                let neg = w.starts_with('!');
                Ok(Expr {
                    kind: ExprKind::Between {
                        lhs: Box::new(lhs),
                        lo: Box::new(lo),
                        hi: Box::new(hi),
                        neg,
                    },
                    pos,
                })
            }
            w if w.starts_with('!') || KNOWN_STRING_OPS.contains(&w) => Err(self.error(&format!(
                "the '{w}' operator is not supported by this emulator"
            ))),
            _ => Ok(lhs),
        }
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        if self.eat_sym("-") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(match e.kind {
                ExprKind::Lit(Value::Long(n)) => Expr {
                    kind: ExprKind::Lit(Value::Long(-n)),
                    pos,
                },
                ExprKind::Lit(Value::Real(n)) => Expr {
                    kind: ExprKind::Lit(Value::Real(-n)),
                    pos,
                },
                ExprKind::Lit(Value::TimeSpan(n)) => Expr {
                    kind: ExprKind::Lit(Value::TimeSpan(-n)),
                    pos,
                },
                _ => Expr {
                    kind: ExprKind::Neg(Box::new(e)),
                    pos,
                },
            });
        }
        if self.eat_sym("+") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return e;
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, KqlError> {
        let mut e = self.primary()?;
        let saved = self.depth;
        loop {
            let pos = self.pos();
            if self.eat_sym(".") {
                self.enter()?;
                let name = match self.next() {
                    Token {
                        tok: Tok::Ident(w), ..
                    } if !w.starts_with('!') => w,
                    // `properties.['odd name']`
                    Token {
                        tok: Tok::Sym("["), ..
                    } => {
                        let Tok::Str(s) = self.next().tok else {
                            self.i -= 1;
                            return Err(self.error("expected a property name"));
                        };
                        self.expect_sym("]")?;
                        s
                    }
                    _ => {
                        self.i -= 1;
                        return Err(self.error("expected a property name"));
                    }
                };
                e = Expr {
                    kind: ExprKind::Member(Box::new(e), name),
                    pos,
                };
            } else if self.eat_sym("[") {
                self.enter()?;
                let idx = self.expr()?;
                self.expect_sym("]")?;
                e = Expr {
                    kind: ExprKind::Index(Box::new(e), Box::new(idx)),
                    pos,
                };
            } else {
                break;
            }
        }
        self.depth = saved;
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let t = self.next();
        let pos = Pos {
            line: t.line,
            col: t.col,
        };
        let lit = |v| {
            Ok(Expr {
                kind: ExprKind::Lit(v),
                pos,
            })
        };
        let bad = |msg: &str| Err(KqlError::parser(t.line, t.col, &t.text, msg));
        match t.tok.clone() {
            Tok::Str(s) => lit(Value::str(&s)),
            Tok::Long(n) => lit(Value::Long(n)),
            Tok::Real(r) => lit(Value::Real(r)),
            Tok::TimeSpan(ts) => lit(Value::TimeSpan(ts)),
            Tok::Raw(kind, text) => match kind {
                _ if text == "null" => lit(if kind == "dynamic" {
                    Value::dynamic(serde_json::Value::Null)
                } else {
                    Value::Null
                }),
                "datetime" => match parse_datetime(&text) {
                    Some(ticks) => lit(Value::DateTime(ticks)),
                    None => bad("malformed datetime literal"),
                },
                "guid" => match super::funcs::guid(&text) {
                    Some(g) => lit(Value::str(&g)),
                    None => bad("malformed guid literal"),
                },
                "timespan" => match parse_timespan(&text) {
                    Some(ticks) => lit(Value::TimeSpan(ticks)),
                    None => bad("malformed timespan literal"),
                },
                _ if crate::wire::json_depth(&text) > MAX_DEPTH => {
                    bad("the dynamic literal nests too deeply")
                }
                _ => match json5::from_str::<serde_json::Value>(&text) {
                    Ok(j) => lit(Value::dynamic(j)),
                    Err(_) => bad("malformed dynamic literal"),
                },
            },
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Sym("*") => Ok(Expr {
                kind: ExprKind::Star,
                pos,
            }),
            Tok::Ident(w) if w == "true" || w == "false" => lit(Value::Bool(w == "true")),
            Tok::Ident(w) if !w.starts_with('!') => {
                if !self.eat_sym("(") {
                    return Ok(Expr {
                        kind: ExprKind::Name(w),
                        pos,
                    });
                }
                // `long(null)`, `string(null)`…: a typed null
                if let (Some(ty), Tok::Ident(n), Tok::Sym(")")) =
                    (Type::from_name(&w), &self.peek().tok, &self.peek_at(1).tok)
                {
                    if n == "null" {
                        self.i += 2;
                        return lit(ty.null());
                    }
                }
                let mut args = Vec::new();
                if !self.peek_sym(")") {
                    args.push(self.expr()?);
                    while self.eat_sym(",") {
                        args.push(self.expr()?);
                    }
                }
                self.expect_sym(")")?;
                Ok(Expr {
                    kind: ExprKind::Call(w, args),
                    pos,
                })
            }
            _ => {
                self.i -= 1;
                Err(self.unexpected())
            }
        }
    }
}

/// String operators Kusto has beyond this engine's subset.
const KNOWN_STRING_OPS: &[&str] = &[
    "has_any",
    "has_all",
    "hasprefix",
    "hassuffix",
    "hasprefix_cs",
    "hassuffix_cs",
    "contains_any",
];

fn str_op(w: &str) -> Option<BinOp> {
    let neg = w.starts_with('!');
    let w = w.trim_start_matches('!');
    let (base, cs) = match w.strip_suffix("_cs") {
        Some(b) => (b, true),
        None => (w, false),
    };
    let op = match base {
        "contains" => StrOp::Contains,
        "has" => StrOp::Has,
        "startswith" => StrOp::StartsWith,
        "endswith" => StrOp::EndsWith,
        _ => return None,
    };
    Some(BinOp::Str { op, cs, neg })
}

/// `$left.a == $right.b and $left.c == $right.d, e` → [(a, b), (c, d), (e, e)].
fn flatten_join_condition(e: Expr, out: &mut Vec<(Expr, Expr)>) -> Result<(), KqlError> {
    let pos = e.pos;
    match e.kind {
        ExprKind::Bin(BinOp::And, a, b) => {
            flatten_join_condition(*a, out)?;
            flatten_join_condition(*b, out)
        }
        ExprKind::Bin(BinOp::Eq, a, b) => {
            let side = |x: &Expr| match &x.kind {
                ExprKind::Member(base, _) => match &base.kind {
                    ExprKind::Name(n) if n == "$left" => Some(true),
                    ExprKind::Name(n) if n == "$right" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            let strip = |x: Expr| match x.kind {
                ExprKind::Member(_, name) => Expr {
                    kind: ExprKind::Name(name),
                    pos: x.pos,
                },
                other => Expr {
                    kind: other,
                    pos: x.pos,
                },
            };
            match (side(&a), side(&b)) {
                (Some(true), Some(false)) => out.push((strip(*a), strip(*b))),
                (Some(false), Some(true)) => out.push((strip(*b), strip(*a))),
                _ => {
                    return Err(KqlError::parser(
                        pos.line,
                        pos.col,
                        "==",
                        "join conditions compare $left.column == $right.column",
                    ));
                }
            }
            Ok(())
        }
        ExprKind::Name(n) if !n.starts_with('$') => {
            let c = Expr {
                kind: ExprKind::Name(n),
                pos,
            };
            out.push((c.clone(), c));
            Ok(())
        }
        _ => Err(KqlError::parser(
            pos.line,
            pos.col,
            "on",
            "join conditions are column names or $left.column == $right.column",
        )),
    }
}

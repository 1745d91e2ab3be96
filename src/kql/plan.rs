//! Binding: a parsed expression against a table's columns becomes a `BExpr` with column indices,
//! resolved functions, precompiled literal regexes and a static type; output column names follow
//! Kusto (`properties.a.b` → `properties_a_b`, `count()` → `count_`, `dcount(x)` → `dcount_x`).
//! Unknown names are errors here, before any row is read. Pure. Follows the Kusto docs
//! "summarize operator" (default column names) and "project operator".

use regex::Regex;

use super::parse::{BinOp, Expr, ExprKind, Pos};
use super::value::{Column, Type, Value};
use super::{Ctx, KqlError};

impl AggSpec {
    /// Does the aggregate keep whole input rows (`arg_max`, `arg_min`, `take_any`)?
    pub fn keeps_row(&self) -> bool {
        matches!(self.agg, Agg::ArgMax | Agg::ArgMin | Agg::Any)
    }
}

impl BExpr {
    /// The same expression with every column index `i` replaced by `f(i)` (binding it to a narrower
    /// row); `f` also sees every column the expression reads.
    pub fn map_cols(&self, f: &mut dyn FnMut(usize) -> usize) -> BExpr {
        let b = |e: &BExpr, f: &mut dyn FnMut(usize) -> usize| Box::new(e.map_cols(f));
        match self {
            BExpr::Lit(v) => BExpr::Lit(v.clone()),
            BExpr::Col(i) => BExpr::Col(f(*i)),
            BExpr::Member(e, k) => BExpr::Member(b(e, f), k.clone()),
            BExpr::Index(e, i) => BExpr::Index(b(e, f), b(i, f)),
            BExpr::Neg(e) => BExpr::Neg(b(e, f)),
            BExpr::Bin(op, x, y) => BExpr::Bin(*op, b(x, f), b(y, f)),
            BExpr::Matches(e, re) => BExpr::Matches(b(e, f), re.clone()),
            BExpr::In { lhs, list, ci, neg } => BExpr::In {
                lhs: b(lhs, f),
                list: list.iter().map(|e| e.map_cols(f)).collect(),
                ci: *ci,
                neg: *neg,
            },
            BExpr::Between { lhs, lo, hi, neg } => BExpr::Between {
                lhs: b(lhs, f),
                lo: b(lo, f),
                hi: b(hi, f),
                neg: *neg,
            },
            BExpr::Call(func, args, re) => BExpr::Call(
                *func,
                args.iter().map(|e| e.map_cols(f)).collect(),
                re.clone(),
            ),
        }
    }
}

/// A bound scalar expression.
#[derive(Debug, Clone)]
pub enum BExpr {
    Lit(Value),
    Col(usize),
    Member(Box<BExpr>, String),
    Index(Box<BExpr>, Box<BExpr>),
    Neg(Box<BExpr>),
    Bin(BinOp, Box<BExpr>, Box<BExpr>),
    /// `x matches regex 'literal'`, compiled once.
    Matches(Box<BExpr>, Regex),
    In {
        lhs: Box<BExpr>,
        list: Vec<BExpr>,
        ci: bool,
        neg: bool,
    },
    Between {
        lhs: Box<BExpr>,
        lo: Box<BExpr>,
        hi: Box<BExpr>,
        neg: bool,
    },
    /// A scalar function; the regex is its literal pattern argument, compiled once.
    Call(Func, Vec<BExpr>, Option<Regex>),
}

/// Scalar functions of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    ToString,
    ToInt,
    ToLong,
    ToReal,
    ToBool,
    ToDateTime,
    ToGuid,
    ToTimeSpan,
    ToLower,
    ToUpper,
    StrLen,
    Substring,
    StrCat,
    Split,
    ReplaceString,
    Extract,
    Trim,
    TrimStart,
    TrimEnd,
    IsEmpty,
    IsNotEmpty,
    IsNull,
    IsNotNull,
    Iff,
    Case,
    Coalesce,
    ArrayLength,
    BagKeys,
    Pack,
    ParseJson,
    Ago,
    Bin,
    Not,
    IndexOf,
    Abs,
    Round,
}

/// (name, function, min args, max args)
const FUNCS: &[(&str, Func, usize, usize)] = &[
    ("tostring", Func::ToString, 1, 1),
    ("toint", Func::ToInt, 1, 1),
    ("tolong", Func::ToLong, 1, 1),
    ("todouble", Func::ToReal, 1, 1),
    ("toreal", Func::ToReal, 1, 1),
    ("tobool", Func::ToBool, 1, 1),
    ("toboolean", Func::ToBool, 1, 1),
    ("todatetime", Func::ToDateTime, 1, 1),
    ("toguid", Func::ToGuid, 1, 1),
    ("totimespan", Func::ToTimeSpan, 1, 1),
    ("tolower", Func::ToLower, 1, 1),
    ("toupper", Func::ToUpper, 1, 1),
    ("strlen", Func::StrLen, 1, 1),
    ("substring", Func::Substring, 2, 3),
    ("strcat", Func::StrCat, 1, 64),
    ("split", Func::Split, 2, 3),
    ("replace_string", Func::ReplaceString, 3, 3),
    ("extract", Func::Extract, 3, 4),
    ("trim", Func::Trim, 2, 2),
    ("trim_start", Func::TrimStart, 2, 2),
    ("trim_end", Func::TrimEnd, 2, 2),
    ("isempty", Func::IsEmpty, 1, 1),
    ("isnotempty", Func::IsNotEmpty, 1, 1),
    ("isnull", Func::IsNull, 1, 1),
    ("isnotnull", Func::IsNotNull, 1, 1),
    ("iff", Func::Iff, 3, 3),
    ("iif", Func::Iff, 3, 3),
    ("case", Func::Case, 3, 255),
    ("coalesce", Func::Coalesce, 1, 64),
    ("array_length", Func::ArrayLength, 1, 1),
    ("bag_keys", Func::BagKeys, 1, 1),
    ("pack", Func::Pack, 0, 254),
    ("bag_pack", Func::Pack, 0, 254),
    ("parse_json", Func::ParseJson, 1, 1),
    ("todynamic", Func::ParseJson, 1, 1),
    ("ago", Func::Ago, 1, 1),
    ("bin", Func::Bin, 2, 2),
    ("floor", Func::Bin, 2, 2),
    ("not", Func::Not, 1, 1),
    ("indexof", Func::IndexOf, 2, 2),
    ("abs", Func::Abs, 1, 1),
    ("round", Func::Round, 1, 2),
];

/// Aggregation functions of `summarize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Count,
    CountIf,
    DCount,
    Sum,
    Avg,
    Min,
    Max,
    MakeList,
    MakeSet,
    ArgMax,
    ArgMin,
    Any,
}

/// (name, aggregate, min args, max args, default column prefix)
const AGGS: &[(&str, Agg, usize, usize, &str)] = &[
    ("count", Agg::Count, 0, 0, "count_"),
    ("countif", Agg::CountIf, 1, 1, "countif_"),
    ("dcount", Agg::DCount, 1, 2, "dcount_"),
    ("sum", Agg::Sum, 1, 1, "sum_"),
    ("avg", Agg::Avg, 1, 1, "avg_"),
    ("min", Agg::Min, 1, 1, "min_"),
    ("max", Agg::Max, 1, 1, "max_"),
    ("make_list", Agg::MakeList, 1, 2, "list_"),
    ("make_set", Agg::MakeSet, 1, 2, "set_"),
    ("arg_max", Agg::ArgMax, 2, 64, "max_"),
    ("arg_min", Agg::ArgMin, 2, 64, "min_"),
    ("any", Agg::Any, 1, 64, "any_"),
];

pub fn is_aggregate(name: &str) -> bool {
    AGGS.iter().any(|a| a.0 == name)
}

/// A bound aggregate: its function, the bound arguments and the column(s) it yields.
#[derive(Debug, Clone)]
pub struct AggSpec {
    pub agg: Agg,
    pub args: Vec<BExpr>,
    /// For arg_max/arg_min: the input columns carried along (after the extremum's own column).
    pub carry: Vec<usize>,
    pub outputs: Vec<Column>,
    /// `make_list(x, n)`: the size cap.
    pub cap: Option<usize>,
}

pub struct Binder<'a> {
    pub cols: &'a [Column],
    pub ctx: &'a Ctx,
}

/// Kusto's name for an unnamed projection: `a` for `a`, `a_b_c` for `a.b['c']`, `a_0` for `a[0]`.
pub fn path_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(n) => Some(n.clone()),
        ExprKind::Member(b, k) => Some(format!("{}_{}", path_name(b)?, k)),
        ExprKind::Index(b, i) => match &i.kind {
            ExprKind::Lit(Value::Str(k)) => Some(format!("{}_{}", path_name(b)?, k)),
            ExprKind::Lit(Value::Long(n)) => Some(format!("{}_{}", path_name(b)?, n)),
            _ => None,
        },
        _ => None,
    }
}

/// The name a `summarize` key or aggregate argument takes: its path, or the first path inside it
/// (`tostring(properties.osType)` → `properties_osType`, `bin(t, 1h)` → `t`).
pub fn inferred_name(e: &Expr) -> Option<String> {
    if let Some(n) = path_name(e) {
        return Some(n);
    }
    match &e.kind {
        ExprKind::Call(_, args) => args.iter().find_map(inferred_name),
        ExprKind::Bin(_, a, b) => inferred_name(a).or_else(|| inferred_name(b)),
        ExprKind::Neg(a) => inferred_name(a),
        _ => None,
    }
}

/// `name`, or `name1`, `name2`… when taken.
pub fn unique_name(taken: &[Column], name: &str) -> String {
    if !taken.iter().any(|c| c.name == name) {
        return name.to_string();
    }
    (1..)
        .map(|k| format!("{name}{k}"))
        .find(|n| !taken.iter().any(|c| c.name == *n))
        .unwrap_or_default()
}

fn sem(pos: Pos, token: &str, msg: String) -> KqlError {
    KqlError::semantic(pos.line, pos.col, token, msg)
}

impl Binder<'_> {
    fn column(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.name == name)
    }

    pub fn bind(&self, e: &Expr, op: &str) -> Result<(BExpr, Type), KqlError> {
        Ok(match &e.kind {
            ExprKind::Lit(v) => (BExpr::Lit(v.clone()), v.type_of().unwrap_or(Type::Dynamic)),
            ExprKind::Name(n) => match self.column(n) {
                Some(i) => (BExpr::Col(i), self.cols[i].ty),
                None => {
                    return Err(sem(
                        e.pos,
                        n,
                        format!("'{op}' operator: Failed to resolve scalar expression named '{n}'"),
                    ))
                }
            },
            ExprKind::Member(b, k) => (
                BExpr::Member(Box::new(self.bind(b, op)?.0), k.clone()),
                Type::Dynamic,
            ),
            ExprKind::Index(b, i) => (
                BExpr::Index(Box::new(self.bind(b, op)?.0), Box::new(self.bind(i, op)?.0)),
                Type::Dynamic,
            ),
            ExprKind::Neg(a) => {
                let (a, t) = self.bind(a, op)?;
                (BExpr::Neg(Box::new(a)), t)
            }
            ExprKind::Bin(BinOp::MatchesRegex, a, b) => {
                let (a, _) = self.bind(a, op)?;
                let ExprKind::Lit(Value::Str(pat)) = &b.kind else {
                    return Err(sem(
                        b.pos,
                        "matches",
                        "'matches regex' takes a string literal pattern".into(),
                    ));
                };
                (
                    BExpr::Matches(Box::new(a), compile(pat, b.pos)?),
                    Type::Bool,
                )
            }
            ExprKind::Bin(bop, a, b) => {
                let (a, ta) = self.bind(a, op)?;
                let (b, tb) = self.bind(b, op)?;
                let ty = match bop {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                        arith_type(*bop, ta, tb)
                    }
                    _ => Type::Bool,
                };
                (BExpr::Bin(*bop, Box::new(a), Box::new(b)), ty)
            }
            ExprKind::In { lhs, list, ci, neg } => {
                let lhs = Box::new(self.bind(lhs, op)?.0);
                let list = list
                    .iter()
                    .map(|x| Ok(self.bind(x, op)?.0))
                    .collect::<Result<_, KqlError>>()?;
                (
                    BExpr::In {
                        lhs,
                        list,
                        ci: *ci,
                        neg: *neg,
                    },
                    Type::Bool,
                )
            }
            ExprKind::Between { lhs, lo, hi, neg } => (
                BExpr::Between {
                    lhs: Box::new(self.bind(lhs, op)?.0),
                    lo: Box::new(self.bind(lo, op)?.0),
                    hi: Box::new(self.bind(hi, op)?.0),
                    neg: *neg,
                },
                Type::Bool,
            ),
            ExprKind::Call(name, args) => self.call(e.pos, name, args, op)?,
            ExprKind::Star => {
                return Err(sem(
                    e.pos,
                    "*",
                    "'*' is only allowed in arg_max/arg_min".into(),
                ))
            }
        })
    }

    fn call(
        &self,
        pos: Pos,
        name: &str,
        args: &[Expr],
        op: &str,
    ) -> Result<(BExpr, Type), KqlError> {
        if name == "now" {
            if args.len() > 1 {
                return Err(sem(pos, name, "now() takes at most one argument".into()));
            }
            let mut t = self.ctx.now_ticks();
            if let Some(a) = args.first() {
                match self.bind(a, op)?.0 {
                    BExpr::Lit(Value::TimeSpan(o)) => t = t.saturating_add(o),
                    _ => return Err(sem(a.pos, name, "now() takes a timespan literal".into())),
                }
            }
            return Ok((BExpr::Lit(Value::DateTime(t)), Type::DateTime));
        }
        if is_aggregate(name) {
            return Err(sem(
                pos,
                name,
                format!(
                    "'{op}' operator: the aggregate function '{name}' is only allowed in summarize"
                ),
            ));
        }
        let Some(&(_, f, min, max)) = FUNCS.iter().find(|x| x.0 == name) else {
            return Err(KqlError::parser(
                pos.line,
                pos.col,
                name,
                &format!("unknown function '{name}'"),
            ));
        };
        if args.len() < min || args.len() > max {
            return Err(sem(
                pos,
                name,
                format!(
                    "function '{name}' takes {min}..{max} arguments, {} given",
                    args.len()
                ),
            ));
        }
        if f == Func::Pack && args.len() % 2 == 1 {
            return Err(sem(
                pos,
                name,
                format!("function '{name}' takes name/value pairs"),
            ));
        }
        if f == Func::Case && args.len() % 2 == 0 {
            return Err(sem(
                pos,
                name,
                "case() takes predicate/value pairs and an else value".into(),
            ));
        }
        let mut bound = Vec::with_capacity(args.len());
        let mut types = Vec::with_capacity(args.len());
        // extract's 4th argument is a type (`typeof(long)`), read below
        let value_args = if f == Func::Extract { &args[..3] } else { args };
        for a in value_args {
            let (b, t) = self.bind(a, op)?;
            bound.push(b);
            types.push(t);
        }
        let regex = match f {
            Func::Extract | Func::Trim | Func::TrimStart | Func::TrimEnd => match &args[0].kind {
                ExprKind::Lit(Value::Str(p)) => {
                    let p = match f {
                        // every leading and trailing match goes, not just one
                        Func::Trim => format!("^(?:{p})+|(?:{p})+$"),
                        Func::TrimStart => format!("^(?:{p})+"),
                        Func::TrimEnd => format!("(?:{p})+$"),
                        _ => p.to_string(),
                    };
                    Some(compile(&p, args[0].pos)?)
                }
                _ => {
                    return Err(sem(
                        args[0].pos,
                        name,
                        format!("{name}() takes a string literal regex"),
                    ))
                }
            },
            _ => None,
        };
        let ty = match f {
            Func::ToString
            | Func::ToLower
            | Func::ToUpper
            | Func::Substring
            | Func::StrCat
            | Func::ReplaceString
            | Func::Trim
            | Func::TrimStart
            | Func::TrimEnd => Type::String,
            Func::Extract => match args.get(3).map(|a| &a.kind) {
                Some(ExprKind::Call(t, a)) if t == "typeof" && a.len() == 1 => {
                    let tn = path_name(&a[0]).and_then(|n| Type::from_name(&n));
                    let Some(tn) = tn else {
                        return Err(sem(pos, name, "extract(): unknown type".into()));
                    };
                    bound.truncate(3);
                    bound.push(BExpr::Lit(Value::str(tn.name())));
                    tn
                }
                Some(_) => {
                    return Err(sem(
                        pos,
                        name,
                        "extract(): the 4th argument is typeof(T)".into(),
                    ))
                }
                None => Type::String,
            },
            Func::ToInt => Type::Int,
            Func::ToLong | Func::StrLen | Func::ArrayLength | Func::IndexOf => Type::Long,
            Func::ToReal | Func::Round => Type::Real,
            Func::ToBool
            | Func::IsEmpty
            | Func::IsNotEmpty
            | Func::IsNull
            | Func::IsNotNull
            | Func::Not => Type::Bool,
            Func::ToDateTime | Func::Ago => Type::DateTime,
            Func::ToTimeSpan => Type::TimeSpan,
            Func::ToGuid => Type::Guid,
            Func::Split | Func::BagKeys | Func::Pack | Func::ParseJson => Type::Dynamic,
            Func::Iff => types[1],
            Func::Case => types[1],
            Func::Coalesce | Func::Bin | Func::Abs => types[0],
        };
        Ok((BExpr::Call(f, bound, regex), ty))
    }

    /// One `summarize` aggregate (`name = agg(args)` or `agg(args)`), given the `by` column names
    /// (which `arg_max(x, *)` does not repeat).
    pub fn aggregate(
        &self,
        name: Option<&str>,
        e: &Expr,
        by_names: &[String],
        taken: &mut Vec<Column>,
    ) -> Result<AggSpec, KqlError> {
        let ExprKind::Call(fname, args) = &e.kind else {
            return Err(sem(
                e.pos,
                "summarize",
                "'summarize' operator: expected an aggregate function such as count()".into(),
            ));
        };
        let Some(&(_, agg, min, max, prefix)) = AGGS.iter().find(|a| a.0 == fname) else {
            if FUNCS.iter().any(|f| f.0 == fname) {
                return Err(sem(
                    e.pos,
                    fname,
                    format!("'summarize' operator: '{fname}' is not an aggregate function"),
                ));
            }
            return Err(KqlError::parser(
                e.pos.line,
                e.pos.col,
                fname,
                &format!("unknown aggregate function '{fname}'"),
            ));
        };
        if args.len() < min || args.len() > max {
            return Err(sem(
                e.pos,
                fname,
                format!(
                    "aggregate '{fname}' takes {min}..{max} arguments, {} given",
                    args.len()
                ),
            ));
        }
        let mut spec = AggSpec {
            agg,
            args: Vec::new(),
            carry: Vec::new(),
            outputs: Vec::new(),
            cap: None,
        };
        let mut push = |taken: &mut Vec<Column>, n: &str, ty: Type| {
            let col = Column {
                name: unique_name(taken, n),
                ty,
            };
            taken.push(col.clone());
            spec.outputs.push(col);
        };
        match agg {
            Agg::ArgMax | Agg::ArgMin => {
                let (x, tx) = self.bind(&args[0], "summarize")?;
                spec.args.push(x);
                let xname = name
                    .map(str::to_string)
                    .or_else(|| path_name(&args[0]))
                    .unwrap_or_else(|| {
                        format!("{prefix}{}", inferred_name(&args[0]).unwrap_or_default())
                    });
                push(taken, &xname, tx);
                for a in &args[1..] {
                    match &a.kind {
                        ExprKind::Star => {
                            for (i, c) in self.cols.iter().enumerate() {
                                if c.name == xname || by_names.contains(&c.name) {
                                    continue;
                                }
                                spec.carry.push(i);
                                push(taken, &c.name, c.ty);
                            }
                        }
                        ExprKind::Name(n) => match self.column(n) {
                            Some(i) => {
                                spec.carry.push(i);
                                push(taken, n, self.cols[i].ty);
                            }
                            None => return Err(sem(a.pos, n, format!("'summarize' operator: Failed to resolve scalar expression named '{n}'"))),
                        },
                        _ => return Err(sem(a.pos, fname, format!("{fname}(): the columns to return are names or *"))),
                    }
                }
            }
            _ => {
                let mut ty = Type::Long;
                for (k, a) in args.iter().enumerate() {
                    let (b, t) = self.bind(a, "summarize")?;
                    if k == 0 {
                        ty = match agg {
                            Agg::Count | Agg::CountIf | Agg::DCount => Type::Long,
                            Agg::Avg => Type::Real,
                            Agg::Sum => match t {
                                Type::Int | Type::Long => Type::Long,
                                Type::TimeSpan => Type::TimeSpan,
                                _ => Type::Real,
                            },
                            Agg::MakeList | Agg::MakeSet => Type::Dynamic,
                            _ => t,
                        };
                    }
                    if k == 1 && matches!(agg, Agg::MakeList | Agg::MakeSet) {
                        match b {
                            BExpr::Lit(Value::Long(n)) if n >= 0 => spec.cap = Some(n as usize),
                            _ => {
                                return Err(sem(
                                    a.pos,
                                    fname,
                                    format!("{fname}(): the size limit is a literal number"),
                                ))
                            }
                        }
                        continue;
                    }
                    spec.args.push(b);
                }
                let default = match agg {
                    Agg::Count | Agg::CountIf => prefix.to_string(),
                    _ => format!(
                        "{prefix}{}",
                        args.first().and_then(inferred_name).unwrap_or_default()
                    ),
                };
                push(taken, name.unwrap_or(&default), ty);
                if agg == Agg::Any {
                    // any(a, b, …) yields one column per argument
                    for a in &args[1..] {
                        let n = format!("{prefix}{}", inferred_name(a).unwrap_or_default());
                        let t = self.bind(a, "summarize")?.1;
                        push(taken, &n, t);
                    }
                }
            }
        }
        Ok(spec)
    }
}

fn arith_type(op: BinOp, a: Type, b: Type) -> Type {
    use Type::*;
    match (op, a, b) {
        (_, Dynamic, _) | (_, _, Dynamic) => Dynamic,
        (BinOp::Sub, DateTime, DateTime) => TimeSpan,
        (BinOp::Add | BinOp::Sub, DateTime, TimeSpan) | (BinOp::Add, TimeSpan, DateTime) => {
            DateTime
        }
        (BinOp::Div, TimeSpan, TimeSpan) => Real,
        (_, TimeSpan, _) | (_, _, TimeSpan) => TimeSpan,
        (_, Real, _) | (_, _, Real) => Real,
        (_, Int | Long, Int | Long) => Long,
        _ => Dynamic,
    }
}

fn compile(pattern: &str, pos: Pos) -> Result<Regex, KqlError> {
    // Kusto's regexes are RE2; the regex crate's syntax is RE2's
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| sem(pos, pattern, format!("invalid regular expression: {e}")))
}

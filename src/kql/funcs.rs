//! Scalar evaluation of bound expressions over one row (operators, dynamic access, the scalar
//! functions) and the `summarize` aggregates. KQL's rules: nulls propagate through arithmetic,
//! `==` with a null is false (both null: null), `=~`/`contains`/`has` ignore case, `has` matches
//! whole terms, a missing dynamic key is null. Pure: `now` comes from the caller's `Ctx`. Follows
//! the Kusto docs "String operators", "Null values" and each function's page.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value as Json;

use super::parse::{BinOp, StrOp};
use super::plan::{Agg, AggSpec, BExpr, Func};
use super::value::{compare, equals, parse_datetime, parse_timespan, sort_cmp, Key, Type, Value};

/// Evaluate `e` on `row`; `now` is the query's time in ticks.
pub fn eval(e: &BExpr, row: &[Value], now: i64) -> Value {
    match e {
        BExpr::Lit(v) => v.clone(),
        BExpr::Col(i) => row[*i].clone(),
        BExpr::Member(..) | BExpr::Index(..) if borrowable(e) => match path(e, row, now) {
            Some(j) => Value::dynamic(j.clone()),
            None => Value::Null,
        },
        BExpr::Member(b, k) => member(&eval(b, row, now), k),
        BExpr::Index(b, i) => {
            let base = eval(b, row, now);
            match eval(i, row, now).scalar() {
                Value::Str(k) => member(&base, &k),
                Value::Long(n) => index(&base, n),
                _ => Value::Null,
            }
        }
        BExpr::Neg(a) => match eval(a, row, now).scalar() {
            Value::Long(n) => Value::Long(n.wrapping_neg()),
            Value::Real(r) => Value::Real(-r),
            Value::TimeSpan(t) => Value::TimeSpan(-t),
            _ => Value::Null,
        },
        BExpr::Bin(BinOp::And, a, b) => {
            // null and false is false; null and true is null
            let x = eval(a, row, now).scalar();
            if matches!(x, Value::Bool(false)) {
                return Value::Bool(false);
            }
            match (x, eval(b, row, now).scalar()) {
                (_, Value::Bool(false)) => Value::Bool(false),
                (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                _ => Value::Null,
            }
        }
        BExpr::Bin(BinOp::Or, a, b) => {
            let x = eval(a, row, now).scalar();
            if matches!(x, Value::Bool(true)) {
                return Value::Bool(true);
            }
            match (x, eval(b, row, now).scalar()) {
                (_, Value::Bool(true)) => Value::Bool(true),
                (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                _ => Value::Null,
            }
        }
        BExpr::Bin(op, a, b) => binary(*op, &operand(a, row, now), &operand(b, row, now)),
        BExpr::Matches(a, re) => {
            let v = eval(a, row, now);
            Value::Bool(re.is_match(&v.to_kql_string()))
        }
        BExpr::In { lhs, list, ci, neg } => {
            let v = eval(lhs, row, now);
            if v.is_null() {
                return if *neg {
                    Value::Bool(true)
                } else {
                    Value::Bool(false)
                };
            }
            let mut found = false;
            for item in list {
                let it = eval(item, row, now);
                // a dynamic array in the list stands for its elements
                let hit = match &it {
                    Value::Dynamic(j) if j.is_array() => j
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|x| in_eq(&v, &Value::dynamic(x.clone()), *ci)),
                    _ => in_eq(&v, &it, *ci),
                };
                if hit {
                    found = true;
                    break;
                }
            }
            Value::Bool(found != *neg)
        }
        BExpr::Between { lhs, lo, hi, neg } => {
            let v = eval(lhs, row, now);
            let (lo, hi) = (eval(lo, row, now), eval(hi, row, now));
            if v.is_null() || lo.is_null() || hi.is_null() {
                return Value::Null;
            }
            match (compare(&v, &lo), compare(&v, &hi)) {
                (Some(a), Some(b)) => Value::Bool((a.is_ge() && b.is_le()) != *neg),
                _ => Value::Null,
            }
        }
        BExpr::Call(f, args, re) => call(*f, args, re.as_ref(), row, now),
    }
}

/// A column or literal operand by reference (no copy, no reference count touched); others evaluated.
fn operand<'a>(e: &'a BExpr, row: &'a [Value], now: i64) -> std::borrow::Cow<'a, Value> {
    match e {
        BExpr::Col(i) => std::borrow::Cow::Borrowed(&row[*i]),
        BExpr::Lit(v) => std::borrow::Cow::Borrowed(v),
        e => std::borrow::Cow::Owned(eval(e, row, now)),
    }
}

/// Is `e` a member/index chain over a column (`properties.a['b'][0]`), which `path` walks by reference?
fn borrowable(e: &BExpr) -> bool {
    match e {
        BExpr::Col(_) => true,
        BExpr::Member(b, _) => borrowable(b),
        BExpr::Index(b, i) => matches!(**i, BExpr::Lit(_)) && borrowable(b),
        _ => false,
    }
}

/// The JSON a borrowable chain reaches, without copying the bags on the way (only the end is
/// copied by the caller); `None` for a missing key, an index out of range or a non-dynamic value.
fn path<'a>(e: &BExpr, row: &'a [Value], now: i64) -> Option<&'a Json> {
    match e {
        BExpr::Col(i) => match &row[*i] {
            Value::Dynamic(j) => Some(j),
            _ => None,
        },
        BExpr::Member(b, k) => path(b, row, now)?.get(k.as_str()),
        BExpr::Index(b, i) => {
            let base = path(b, row, now)?;
            match eval(i, row, now).scalar() {
                Value::Str(k) => base.get(&*k),
                Value::Long(n) => {
                    let a = base.as_array()?;
                    let at = if n < 0 { a.len() as i64 + n } else { n };
                    a.get(usize::try_from(at).ok()?)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn in_eq(v: &Value, item: &Value, ci: bool) -> bool {
    if ci {
        if let (Some(a), Some(b)) = (v.as_str(), item.as_str()) {
            return eq_ci(a, b);
        }
    }
    equals(v, item) == Some(true)
}

/// `=~`: equal ignoring case (ASCII fast path, Unicode lower-casing otherwise).
pub fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// `bag.k`: a missing key, or a non-bag, is null.
pub fn member(base: &Value, k: &str) -> Value {
    match base {
        Value::Dynamic(j) => match j.get(k) {
            Some(x) => Value::dynamic(x.clone()),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// `array[n]`, negative from the end; out of range is null.
fn index(base: &Value, n: i64) -> Value {
    let Value::Dynamic(j) = base else {
        return Value::Null;
    };
    let Some(a) = j.as_array() else {
        return Value::Null;
    };
    let i = if n < 0 { a.len() as i64 + n } else { n };
    if i < 0 {
        return Value::Null;
    }
    a.get(i as usize)
        .map(|x| Value::dynamic(x.clone()))
        .unwrap_or(Value::Null)
}

fn binary(op: BinOp, a: &Value, b: &Value) -> Value {
    match op {
        BinOp::Eq => equals(a, b).map(Value::Bool).unwrap_or(Value::Null),
        BinOp::Ne => equals(a, b).map(|x| Value::Bool(!x)).unwrap_or(Value::Null),
        BinOp::EqCi | BinOp::NeCi => {
            let eq = match (a.as_str(), b.as_str()) {
                (Some(x), Some(y)) => Some(eq_ci(x, y)),
                _ => equals(a, b),
            };
            match eq {
                Some(e) => Value::Bool(e == (op == BinOp::EqCi)),
                None => Value::Null,
            }
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            if a.is_null() || b.is_null() {
                return Value::Null;
            }
            match compare(a, b) {
                Some(o) => Value::Bool(match op {
                    BinOp::Lt => o.is_lt(),
                    BinOp::Le => o.is_le(),
                    BinOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }),
                None => Value::Null,
            }
        }
        BinOp::Str { op, cs, neg } => {
            let (h, n) = (a.to_kql_string(), b.to_kql_string());
            let hit = string_op(op, cs, &h, &n);
            Value::Bool(hit != neg)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
            arith(op, &a.scalar(), &b.scalar())
        }
        // bound separately
        BinOp::And | BinOp::Or | BinOp::MatchesRegex => Value::Null,
    }
}

/// The string operators; `cs` is the `_cs` (case-sensitive) form.
pub fn string_op(op: StrOp, cs: bool, h: &str, n: &str) -> bool {
    let (h, n) = if cs || (h.is_ascii() && n.is_ascii() && !has_upper(h) && !has_upper(n)) {
        (std::borrow::Cow::Borrowed(h), std::borrow::Cow::Borrowed(n))
    } else {
        (
            std::borrow::Cow::Owned(h.to_lowercase()),
            std::borrow::Cow::Owned(n.to_lowercase()),
        )
    };
    match op {
        StrOp::Contains => h.contains(&*n),
        StrOp::StartsWith => h.starts_with(&*n),
        StrOp::EndsWith => h.ends_with(&*n),
        StrOp::Has => has_term(&h, &n),
    }
}

fn has_upper(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_uppercase())
}

/// `has`: the needle occurs bounded by non-alphanumeric characters (or the ends), i.e. as whole
/// terms; Kusto's terms are runs of ASCII letters and digits. An empty needle matches.
fn has_term(h: &str, n: &str) -> bool {
    if n.is_empty() {
        return true;
    }
    let term = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let first_is_term = term(n.chars().next());
    let last_is_term = term(n.chars().last());
    let mut from = 0;
    while let Some(at) = h[from..].find(n) {
        let s = from + at;
        let e = s + n.len();
        let before_ok = !first_is_term || !term(h[..s].chars().last());
        let after_ok = !last_is_term || !term(h[e..].chars().next());
        if before_ok && after_ok {
            return true;
        }
        from = s + n.chars().next().map_or(1, char::len_utf8);
    }
    false
}

fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::*;
    match (op, a, b) {
        (_, Null, _) | (_, _, Null) => Null,
        (_, Long(x), Long(y)) => match op {
            BinOp::Add => Long(x.wrapping_add(*y)),
            BinOp::Sub => Long(x.wrapping_sub(*y)),
            BinOp::Mul => Long(x.wrapping_mul(*y)),
            // integer division by zero is null, as Kusto answers
            BinOp::Div => x.checked_div(*y).map(Long).unwrap_or(Null),
            _ => x.checked_rem(*y).map(Long).unwrap_or(Null),
        },
        (BinOp::Sub, DateTime(x), DateTime(y)) => TimeSpan(x.saturating_sub(*y)),
        (BinOp::Add, DateTime(x), TimeSpan(y)) | (BinOp::Add, TimeSpan(y), DateTime(x)) => {
            DateTime(x.saturating_add(*y))
        }
        (BinOp::Sub, DateTime(x), TimeSpan(y)) => DateTime(x.saturating_sub(*y)),
        (BinOp::Add, TimeSpan(x), TimeSpan(y)) => TimeSpan(x.saturating_add(*y)),
        (BinOp::Sub, TimeSpan(x), TimeSpan(y)) => TimeSpan(x.saturating_sub(*y)),
        (BinOp::Div, TimeSpan(x), TimeSpan(y)) if *y != 0 => Real(*x as f64 / *y as f64),
        (BinOp::Mul, TimeSpan(x), n) | (BinOp::Mul, n, TimeSpan(x)) => match n.as_f64() {
            Some(f) => TimeSpan((*x as f64 * f).round() as i64),
            None => Null,
        },
        (BinOp::Div, TimeSpan(x), n) => match n.as_f64() {
            Some(f) if f != 0.0 => TimeSpan((*x as f64 / f).round() as i64),
            _ => Null,
        },
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Real(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            }),
            _ => Null,
        },
    }
}

/// Convert to a column type (`toint`, `parse … x:long`, `mv-expand … to typeof(T)`), null when it
/// does not convert.
pub fn convert(v: &Value, ty: Type) -> Value {
    let s = v.scalar();
    match ty {
        Type::String => Value::str(&v.to_kql_string()),
        Type::Dynamic => match v {
            Value::Dynamic(_) => v.clone(),
            Value::Null => Value::dynamic(Json::Null),
            other => Value::dynamic(other.to_json()),
        },
        Type::Int | Type::Long => match &s {
            Value::Long(n) => Value::Long(if ty == Type::Int {
                *n as i32 as i64
            } else {
                *n
            }),
            Value::Real(r) if r.is_finite() => Value::Long(r.trunc() as i64),
            Value::Bool(b) => Value::Long(*b as i64),
            Value::Str(t) => match t.trim().parse::<i64>() {
                Ok(n) => Value::Long(n),
                Err(_) => match t.trim().parse::<f64>() {
                    Ok(r) if r.is_finite() => Value::Long(r.trunc() as i64),
                    _ => Value::Null,
                },
            },
            Value::DateTime(t) | Value::TimeSpan(t) => Value::Long(*t),
            _ => Value::Null,
        },
        Type::Real => match &s {
            Value::Long(n) => Value::Real(*n as f64),
            Value::Real(r) => Value::Real(*r),
            Value::Bool(b) => Value::Real(*b as i64 as f64),
            Value::Str(t) => t
                .trim()
                .parse::<f64>()
                .map(Value::Real)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        Type::Bool => match &s {
            Value::Bool(b) => Value::Bool(*b),
            Value::Long(n) => Value::Bool(*n != 0),
            Value::Str(t) => match t.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => Value::Null,
            },
            _ => Value::Null,
        },
        Type::DateTime => match &s {
            Value::DateTime(t) => Value::DateTime(*t),
            Value::Str(t) => parse_datetime(t)
                .map(Value::DateTime)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        Type::Guid => match &s {
            Value::Str(t) => guid(t).map(|g| Value::str(&g)).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        Type::TimeSpan => match &s {
            Value::TimeSpan(t) => Value::TimeSpan(*t),
            Value::Str(t) => parse_timespan(t)
                .map(Value::TimeSpan)
                .unwrap_or(Value::Null),
            Value::Long(n) => Value::TimeSpan(*n),
            _ => Value::Null,
        },
    }
}

/// A GUID's canonical text (lower case, hyphenated), from the forms Kusto's `toguid` takes.
pub fn guid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

fn call(f: Func, args: &[BExpr], re: Option<&regex::Regex>, row: &[Value], now: i64) -> Value {
    let arg = |k: usize| eval(&args[k], row, now);
    match f {
        Func::ToString => Value::str(&arg(0).to_kql_string()),
        Func::ToInt => convert(&arg(0), Type::Int),
        Func::ToLong => convert(&arg(0), Type::Long),
        Func::ToReal => convert(&arg(0), Type::Real),
        Func::ToBool => convert(&arg(0), Type::Bool),
        Func::ToDateTime => convert(&arg(0), Type::DateTime),
        Func::ToGuid => convert(&arg(0), Type::Guid),
        Func::ToTimeSpan => convert(&arg(0), Type::TimeSpan),
        Func::ToLower => Value::str(&arg(0).to_kql_string().to_lowercase()),
        Func::ToUpper => Value::str(&arg(0).to_kql_string().to_uppercase()),
        Func::StrLen => Value::Long(arg(0).to_kql_string().chars().count() as i64),
        Func::Substring => {
            let s: Vec<char> = arg(0).to_kql_string().chars().collect();
            let Some(start) = arg(1).as_i64() else {
                return Value::str("");
            };
            let start = start.clamp(0, s.len() as i64) as usize;
            let end = match args.get(2) {
                Some(l) => match eval(l, row, now).as_i64() {
                    Some(l) => (start as i64).saturating_add(l.max(0)).min(s.len() as i64) as usize,
                    None => return Value::str(""),
                },
                None => s.len(),
            };
            Value::str(&s[start..end].iter().collect::<String>())
        }
        Func::StrCat => {
            let mut out = String::new();
            for a in args {
                out.push_str(&eval(a, row, now).to_kql_string());
            }
            Value::str(&out)
        }
        Func::Split => {
            let (s, d) = (arg(0).to_kql_string(), arg(1).to_kql_string());
            let parts: Vec<Json> = if d.is_empty() {
                vec![Json::String(s.clone())]
            } else {
                s.split(d.as_str())
                    .map(|p| Json::String(p.to_string()))
                    .collect()
            };
            match args.get(2) {
                // split(s, d, i): the i-th part, as a one-element array (Kusto's shape)
                Some(i) => match eval(i, row, now).as_i64() {
                    Some(i) if i >= 0 && (i as usize) < parts.len() => {
                        Value::dynamic(Json::Array(vec![parts[i as usize].clone()]))
                    }
                    _ => Value::dynamic(Json::Array(vec![])),
                },
                None => Value::dynamic(Json::Array(parts)),
            }
        }
        Func::ReplaceString => {
            let (s, from, to) = (
                arg(0).to_kql_string(),
                arg(1).to_kql_string(),
                arg(2).to_kql_string(),
            );
            if from.is_empty() {
                Value::str(&s)
            } else {
                Value::str(&s.replace(&from, &to))
            }
        }
        Func::Extract => {
            let Some(re) = re else { return Value::Null };
            let src = arg(2).to_kql_string();
            let group = arg(1).as_i64().unwrap_or(0);
            let found = re
                .captures(&src)
                .and_then(|c| c.get(group.max(0) as usize))
                .map(|m| m.as_str().to_string());
            let ty = args
                .get(3)
                .map(|t| eval(t, row, now).to_kql_string())
                .and_then(|t| Type::from_name(&t));
            match (found, ty) {
                (Some(s), Some(t)) => convert(&Value::str(&s), t),
                (Some(s), None) => Value::str(&s),
                (None, Some(t)) => t.null(),
                (None, None) => Value::str(""),
            }
        }
        Func::Trim | Func::TrimStart | Func::TrimEnd => {
            let Some(re) = re else { return Value::Null };
            let s = arg(1).to_kql_string();
            Value::str(&re.replace_all(&s, ""))
        }
        Func::IsEmpty => Value::Bool(arg(0).is_empty()),
        Func::IsNotEmpty => Value::Bool(!arg(0).is_empty()),
        Func::IsNull => Value::Bool(arg(0).is_null()),
        Func::IsNotNull => Value::Bool(!arg(0).is_null()),
        Func::Not => match arg(0).scalar() {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        },
        Func::Iff => {
            if arg(0).truthy() {
                arg(1)
            } else {
                arg(2)
            }
        }
        Func::Case => {
            let mut k = 0;
            while k + 1 < args.len() {
                if arg(k).truthy() {
                    return arg(k + 1);
                }
                k += 2;
            }
            arg(args.len() - 1)
        }
        Func::Coalesce => {
            for a in args {
                let v = eval(a, row, now);
                if !v.is_null() && !matches!(&v, Value::Str(s) if s.is_empty()) {
                    return v;
                }
            }
            Value::Null
        }
        Func::ArrayLength => match arg(0) {
            Value::Dynamic(j) => j
                .as_array()
                .map(|a| Value::Long(a.len() as i64))
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        Func::BagKeys => match arg(0) {
            Value::Dynamic(j) => match j.as_object() {
                Some(o) => Value::dynamic(Json::Array(
                    o.keys().map(|k| Json::String(k.clone())).collect(),
                )),
                None => Value::Null,
            },
            _ => Value::Null,
        },
        Func::Pack => {
            let mut m = serde_json::Map::new();
            for pair in args.chunks(2) {
                let k = eval(&pair[0], row, now).to_kql_string();
                m.insert(k, eval(&pair[1], row, now).into_json());
            }
            Value::dynamic(Json::Object(m))
        }
        Func::ParseJson => match arg(0) {
            Value::Str(s) => serde_json::from_str(&s)
                .map(Value::dynamic)
                .unwrap_or_else(|_| Value::dynamic(Json::String(s.to_string()))),
            Value::Dynamic(j) => match &*j {
                Json::String(s) => serde_json::from_str(s)
                    .map(Value::dynamic)
                    .unwrap_or(Value::Dynamic(j.clone())),
                _ => Value::Dynamic(j),
            },
            other => convert(&other, Type::Dynamic),
        },
        Func::Ago => match arg(0).scalar() {
            Value::TimeSpan(t) => Value::DateTime(now.saturating_sub(t)),
            _ => Value::Null,
        },
        Func::Bin => bin(&arg(0).scalar(), &arg(1).scalar()),
        Func::IndexOf => {
            let (s, n) = (arg(0).to_kql_string(), arg(1).to_kql_string());
            Value::Long(
                s.find(&n)
                    .map(|b| s[..b].chars().count() as i64)
                    .unwrap_or(-1),
            )
        }
        Func::Abs => match arg(0).scalar() {
            Value::Long(n) => Value::Long(n.wrapping_abs()),
            Value::Real(r) => Value::Real(r.abs()),
            Value::TimeSpan(t) => Value::TimeSpan(t.abs()),
            _ => Value::Null,
        },
        Func::Round => {
            let Some(x) = arg(0).as_f64() else {
                return Value::Null;
            };
            let p = args
                .get(1)
                .and_then(|p| eval(p, row, now).as_i64())
                .unwrap_or(0)
                .clamp(-15, 15);
            let m = 10f64.powi(p as i32);
            Value::Real((x * m).round() / m)
        }
    }
}

/// `bin(value, size)`: rounds down to a multiple of size (numbers, timespans, datetimes since the epoch).
fn bin(v: &Value, size: &Value) -> Value {
    match (v, size) {
        (Value::Long(x), Value::Long(s)) if *s > 0 => x
            .div_euclid(*s)
            .checked_mul(*s)
            .map(Value::Long)
            .unwrap_or(Value::Null),
        (Value::DateTime(t), Value::TimeSpan(s)) if *s > 0 => t
            .div_euclid(*s)
            .checked_mul(*s)
            .map(Value::DateTime)
            .unwrap_or(Value::Null),
        (Value::TimeSpan(t), Value::TimeSpan(s)) if *s > 0 => t
            .div_euclid(*s)
            .checked_mul(*s)
            .map(Value::TimeSpan)
            .unwrap_or(Value::Null),
        (x, s) => match (x.as_f64(), s.as_f64()) {
            (Some(x), Some(s)) if s > 0.0 => Value::Real((x / s).floor() * s),
            _ => Value::Null,
        },
    }
}

/// One group's running state for one aggregate.
#[derive(Debug, Clone)]
pub enum AggState {
    Count(i64),
    Distinct(HashSet<Key>),
    Sum {
        long: i64,
        real: f64,
        ts: i64,
        any_real: bool,
        any: bool,
    },
    Avg {
        sum: f64,
        n: i64,
    },
    Extreme(Option<Value>),
    List(Vec<Json>),
    Set(Vec<Json>, HashSet<Key>),
    /// arg_max/arg_min: the extreme value and the row carrying it.
    Arg(Option<(Value, Arc<[Value]>)>),
    Any(Option<Arc<[Value]>>),
}

impl AggState {
    pub fn new(spec: &AggSpec) -> AggState {
        match spec.agg {
            Agg::Count | Agg::CountIf => AggState::Count(0),
            Agg::DCount => AggState::Distinct(HashSet::new()),
            Agg::Sum => AggState::Sum {
                long: 0,
                real: 0.0,
                ts: 0,
                any_real: false,
                any: false,
            },
            Agg::Avg => AggState::Avg { sum: 0.0, n: 0 },
            Agg::Min | Agg::Max => AggState::Extreme(None),
            Agg::MakeList => AggState::List(Vec::new()),
            Agg::MakeSet => AggState::Set(Vec::new(), HashSet::new()),
            Agg::ArgMax | Agg::ArgMin => AggState::Arg(None),
            Agg::Any => AggState::Any(None),
        }
    }

    /// Fold one row in. Nulls are skipped, as every aggregate of the subset does.
    /// `shared` is the row as its table holds it, when there is one (`arg_max`, `arg_min` and
    /// `take_any` keep it; without it they keep a copy).
    pub fn add(&mut self, spec: &AggSpec, row: &[Value], shared: Option<&Arc<[Value]>>, now: i64) {
        let whole = || shared.cloned().unwrap_or_else(|| Arc::from(row));
        let arg0 = || eval(&spec.args[0], row, now);
        match self {
            AggState::Count(n) => {
                if spec.agg == Agg::Count || arg0().truthy() {
                    *n += 1;
                }
            }
            AggState::Distinct(set) => {
                let v = arg0();
                if !v.is_null() {
                    set.insert(v.key());
                }
            }
            AggState::Sum {
                long,
                real,
                ts,
                any_real,
                any,
            } => match arg0().scalar() {
                Value::Long(n) => {
                    *long = long.wrapping_add(n);
                    *any = true;
                }
                Value::Real(r) => {
                    *real += r;
                    *any_real = true;
                    *any = true;
                }
                Value::TimeSpan(t) => {
                    *ts += t;
                    *any = true;
                }
                _ => {}
            },
            AggState::Avg { sum, n } => {
                if let Some(x) = arg0().as_f64() {
                    *sum += x;
                    *n += 1;
                }
            }
            AggState::Extreme(cur) => {
                let v = arg0();
                if v.is_null() {
                    return;
                }
                if beats(&v, cur.as_ref(), spec.agg == Agg::Max) {
                    *cur = Some(v);
                }
            }
            AggState::List(items) => {
                let v = arg0();
                if !v.is_null() && spec.cap.is_none_or(|c| items.len() < c) {
                    items.push(v.into_json());
                }
            }
            AggState::Set(items, seen) => {
                let v = arg0();
                if !v.is_null() && spec.cap.is_none_or(|c| items.len() < c) && seen.insert(v.key())
                {
                    items.push(v.into_json());
                }
            }
            AggState::Arg(cur) => {
                let v = arg0();
                if v.is_null() {
                    return;
                }
                if beats(&v, cur.as_ref().map(|(c, _)| c), spec.agg == Agg::ArgMax) {
                    *cur = Some((v, whole()));
                }
            }
            AggState::Any(cur) => {
                if cur.is_none() {
                    *cur = Some(whole());
                }
            }
        }
    }

    /// The aggregate's output values (one per output column).
    pub fn finish(self, spec: &AggSpec, out: &mut Vec<Value>, now: i64) {
        match self {
            AggState::Count(n) => out.push(Value::Long(n)),
            AggState::Distinct(s) => out.push(Value::Long(s.len() as i64)),
            AggState::Sum {
                long,
                real,
                ts,
                any_real,
                any,
            } => out.push(if !any {
                Value::Null
            } else if spec.outputs[0].ty == Type::TimeSpan {
                Value::TimeSpan(ts)
            } else if any_real || spec.outputs[0].ty == Type::Real {
                Value::Real(real + long as f64)
            } else {
                Value::Long(long)
            }),
            AggState::Avg { sum, n } => out.push(if n == 0 {
                Value::Null
            } else {
                Value::Real(sum / n as f64)
            }),
            AggState::Extreme(v) => out.push(v.unwrap_or(Value::Null)),
            AggState::List(items) | AggState::Set(items, _) => {
                out.push(Value::dynamic(Json::Array(items)))
            }
            AggState::Arg(cur) => match cur {
                Some((v, row)) => {
                    out.push(v);
                    out.extend(spec.carry.iter().map(|&i| row[i].clone()));
                }
                None => out.extend(spec.outputs.iter().map(|c| c.ty.null())),
            },
            AggState::Any(row) => match row {
                Some(row) => out.extend(spec.args.iter().map(|a| eval(a, &row, now))),
                None => out.extend(spec.outputs.iter().map(|c| c.ty.null())),
            },
        }
    }
}

/// Does `v` beat the extreme so far (`None`: nothing yet), the greatest when `max`, else the least?
fn beats(v: &Value, so_far: Option<&Value>, max: bool) -> bool {
    so_far.is_none_or(|c| {
        let o = sort_cmp(v, c);
        if max {
            o.is_gt()
        } else {
            o.is_lt()
        }
    })
}

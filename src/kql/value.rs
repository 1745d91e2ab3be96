//! KQL values and tables: the scalar types (bool, long, real, string, datetime, timespan, dynamic),
//! their null rules (a string is never null: it is empty), ordering, hashing for group keys, and the
//! conversions `tostring`/`todatetime` follow. Pure: no clock, no I/O. Follows the Kusto docs
//! "Scalar data types" (datetime/timespan literal syntax, null values).

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value as Json;

/// One 100-nanosecond tick, Kusto's datetime and timespan resolution.
pub const TICKS_PER_SEC: i64 = 10_000_000;

/// A column's declared type. `Int` exists for `toint` and `parse … x:int`; it holds a `Long`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    Int,
    Long,
    Real,
    String,
    DateTime,
    TimeSpan,
    Dynamic,
    /// Log Analytics' `guid` columns (`toguid()`, `guid(…)`); the value is its canonical lower-case
    /// text, so it compares with strings as Kusto lets it.
    Guid,
}

impl Type {
    /// Kusto's name for the type (as `typeof()` and `parse … x:long` spell it).
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Long => "long",
            Type::Real => "real",
            Type::String => "string",
            Type::DateTime => "datetime",
            Type::TimeSpan => "timespan",
            Type::Dynamic => "dynamic",
            Type::Guid => "guid",
        }
    }

    /// The column type name Resource Graph's table format uses.
    pub fn arg_name(self) -> &'static str {
        match self {
            Type::Bool => "boolean",
            Type::Int | Type::Long => "integer",
            Type::Real => "number",
            Type::String | Type::TimeSpan | Type::Guid => "string",
            Type::DateTime => "datetime",
            Type::Dynamic => "object",
        }
    }

    /// The type a name in `x:type`, `to typeof(type)` or `T(null)` stands for.
    pub fn from_name(s: &str) -> Option<Type> {
        Some(match s.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => Type::Bool,
            "int" => Type::Int,
            "long" => Type::Long,
            "real" | "double" => Type::Real,
            "string" => Type::String,
            "datetime" | "date" => Type::DateTime,
            "timespan" | "time" => Type::TimeSpan,
            "dynamic" => Type::Dynamic,
            "guid" | "uuid" | "uniqueid" => Type::Guid,
            _ => return None,
        })
    }

    /// The null of this type: strings have none (an empty string stands in).
    pub fn null(self) -> Value {
        match self {
            Type::String => Value::Str(Arc::from("")),
            _ => Value::Null,
        }
    }
}

/// A scalar value. Strings and dynamic values are shared (`Arc`), so copying a row is cheap.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(Arc<str>),
    /// Ticks (100 ns) since 1970-01-01T00:00:00Z.
    DateTime(i64),
    /// Ticks (100 ns).
    TimeSpan(i64),
    Dynamic(Arc<Json>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    pub fn dynamic(j: Json) -> Value {
        Value::Dynamic(Arc::new(j))
    }

    /// Null, or a dynamic holding JSON null.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Dynamic(j) => j.is_null(),
            _ => false,
        }
    }

    /// `isempty`: null, an empty string, or a dynamic null/empty string.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.is_empty(),
            Value::Dynamic(j) => matches!(&**j, Json::Null) || j.as_str() == Some(""),
            _ => false,
        }
    }

    /// A dynamic holding a JSON scalar becomes the scalar (string, long, real, bool); others stay.
    /// Comparisons and arithmetic look through dynamic this way, as Kusto does.
    pub fn scalar(&self) -> Value {
        match self {
            Value::Dynamic(j) => match &**j {
                Json::Null => Value::Null,
                Json::Bool(b) => Value::Bool(*b),
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Value::Long(i),
                    None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
                },
                Json::String(s) => Value::str(s),
                _ => self.clone(),
            },
            v => v.clone(),
        }
    }

    /// The value as a number, if it is one (dynamic numbers included).
    pub fn as_f64(&self) -> Option<f64> {
        match self.scalar() {
            Value::Long(i) => Some(i as f64),
            Value::Real(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.scalar() {
            Value::Long(i) => Some(i),
            Value::Real(r) if r.is_finite() => Some(r.trunc() as i64),
            _ => None,
        }
    }

    /// `where` keeps a row only for `true`; null and anything else are false.
    pub fn truthy(&self) -> bool {
        matches!(self.scalar(), Value::Bool(true))
    }

    /// `tostring()`: a string as is, a dynamic string without quotes, other dynamic values as
    /// compact JSON, null as the empty string.
    pub fn to_kql_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Long(i) => i.to_string(),
            Value::Real(r) => format_real(*r),
            Value::Str(s) => s.to_string(),
            Value::DateTime(t) => format_datetime(*t),
            Value::TimeSpan(t) => format_timespan(*t),
            Value::Dynamic(j) => match &**j {
                Json::Null => String::new(),
                Json::String(s) => s.clone(),
                other => other.to_string(),
            },
        }
    }

    /// Borrow the text of a string (or dynamic string) without copying.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Dynamic(j) => j.as_str(),
            _ => None,
        }
    }

    /// The value as JSON, how Resource Graph returns it: datetimes ISO 8601, timespans `d.hh:mm:ss`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Long(i) => Json::from(*i),
            Value::Real(r) => serde_json::Number::from_f64(*r)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Value::Str(s) => Json::String(s.to_string()),
            Value::DateTime(t) => Json::String(format_datetime(*t)),
            Value::TimeSpan(t) => Json::String(format_timespan(*t)),
            Value::Dynamic(j) => (**j).clone(),
        }
    }

    /// The value as a dynamic element (for `make_list`, `pack`, …).
    pub fn into_json(self) -> Json {
        match self {
            Value::Dynamic(j) => Arc::try_unwrap(j).unwrap_or_else(|j| (*j).clone()),
            v => v.to_json(),
        }
    }

    /// Kusto's runtime type of the value (for `Dynamic`, `dynamic`).
    pub fn type_of(&self) -> Option<Type> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => Type::Bool,
            Value::Long(_) => Type::Long,
            Value::Real(_) => Type::Real,
            Value::Str(_) => Type::String,
            Value::DateTime(_) => Type::DateTime,
            Value::TimeSpan(_) => Type::TimeSpan,
            Value::Dynamic(_) => Type::Dynamic,
        })
    }

    /// A hashable key for grouping, `distinct` and join: equal keys for values `==` calls equal.
    pub fn key(&self) -> Key {
        match self {
            Value::Str(s) => return Key::Str(s.clone()),
            Value::Long(i) => return Key::Long(*i),
            _ => {}
        }
        match self.scalar() {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(b),
            Value::Long(i) => Key::Long(i),
            Value::Real(r) if r.fract() == 0.0 && r.abs() < 9e15 => Key::Long(r as i64),
            Value::Real(r) => Key::Real(r.to_bits()),
            Value::Str(s) => Key::Str(s),
            Value::DateTime(t) => Key::DateTime(t),
            Value::TimeSpan(t) => Key::TimeSpan(t),
            Value::Dynamic(j) => Key::Json(j.to_string()),
        }
    }
}

/// See [`Value::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Null,
    Bool(bool),
    Long(i64),
    Real(u64),
    Str(Arc<str>),
    DateTime(i64),
    TimeSpan(i64),
    Json(String),
}

/// Equality as `==` has it; `None` when either side is null (Kusto: `null == null` is null).
pub fn equals(a: &Value, b: &Value) -> Option<bool> {
    match (a.is_null(), b.is_null()) {
        (true, true) => None,
        (true, false) | (false, true) => Some(false),
        _ => Some(compare(a, b) == Some(Ordering::Equal)),
    }
}

/// Ordering between two non-null values of comparable types; `None` when they do not compare.
/// Dynamic scalars are looked through; plain values compare without a copy (the sort's hot path).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if matches!(a, Value::Dynamic(_)) || matches!(b, Value::Dynamic(_)) {
        return compare_plain(&a.scalar(), &b.scalar());
    }
    compare_plain(a, b)
}

fn compare_plain(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Long(x), Value::Long(y)) => Some(x.cmp(y)),
        (Value::Long(_) | Value::Real(_), Value::Long(_) | Value::Real(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Value::Str(x), Value::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), Value::DateTime(y)) | (Value::TimeSpan(x), Value::TimeSpan(y)) => {
            Some(x.cmp(y))
        }
        // A string compared with a datetime is read as one (`where t > '2024-01-01'`).
        (Value::DateTime(x), Value::Str(s)) => parse_datetime(s).map(|y| x.cmp(&y)),
        (Value::Str(s), Value::DateTime(y)) => parse_datetime(s).map(|x| x.cmp(y)),
        (Value::Dynamic(x), Value::Dynamic(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    }
}

/// The total order `order by`, `top` and `min`/`max` use: nulls aside (the caller places them),
/// numbers before strings before the rest, each compared naturally.
pub fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    if let Some(o) = compare(a, b) {
        return o;
    }
    fn rank(v: &Value) -> u8 {
        match v.scalar() {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Long(_) | Value::Real(_) => 2,
            Value::DateTime(_) => 3,
            Value::TimeSpan(_) => 4,
            Value::Str(_) => 5,
            Value::Dynamic(_) => 6,
        }
    }
    rank(a)
        .cmp(&rank(b))
        .then_with(|| a.to_kql_string().cmp(&b.to_kql_string()))
}

/// Kusto prints reals without a trailing `.0` when whole (`tostring(2.0)` is `2`).
pub fn format_real(r: f64) -> String {
    if r.is_nan() {
        "NaN".into()
    } else if r.is_infinite() {
        if r > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        r.to_string()
    }
}

/// ISO 8601 in UTC with the fraction only when it is not zero: `2024-01-01T00:00:00Z`.
pub fn format_datetime(ticks: i64) -> String {
    let secs = ticks.div_euclid(TICKS_PER_SEC);
    let frac = ticks.rem_euclid(TICKS_PER_SEC);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return String::new();
    };
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if frac != 0 {
        let f = format!("{frac:07}");
        let _ = write!(s, ".{}", f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Kusto's timespan text: `[-][d.]hh:mm:ss[.fffffff]` (`1.00:00:00`, `01:30:00`).
pub fn format_timespan(ticks: i64) -> String {
    let neg = ticks < 0;
    let t = ticks.unsigned_abs();
    let tps = TICKS_PER_SEC as u64;
    let (days, rem) = (t / (86_400 * tps), t % (86_400 * tps));
    let (h, m, s, f) = (
        rem / (3600 * tps),
        rem / (60 * tps) % 60,
        rem / tps % 60,
        rem % tps,
    );
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if days > 0 {
        let _ = write!(out, "{days}.");
    }
    let _ = write!(out, "{h:02}:{m:02}:{s:02}");
    if f > 0 {
        let _ = write!(out, ".{f:07}");
    }
    out
}

/// Parse a datetime as `datetime(…)` and `todatetime()` accept it: `2024-01-01`,
/// `2024-01-01T10:00[:00[.fffffff]][Z|±hh:mm]`, or with a space for the `T`.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = time::Month::try_from(mo as u8).ok()?;
    let date = time::Date::from_calendar_date(y as i32, month, d as u8).ok()?;
    let mut ticks = (date.to_julian_day() as i64 - 2_440_588) * 86_400 * TICKS_PER_SEC;
    let mut i = 10;
    if i < b.len() {
        if b[i] != b'T' && b[i] != b' ' {
            return None;
        }
        i += 1;
        let (h, mi) = (num(i, 2)?, num(i + 3, 2)?);
        if b.get(i + 2) != Some(&b':') || h > 23 || mi > 59 {
            return None;
        }
        ticks += (h * 3600 + mi * 60) * TICKS_PER_SEC;
        i += 5;
        if b.get(i) == Some(&b':') {
            let sec = num(i + 1, 2)?;
            if sec > 60 {
                return None;
            }
            ticks += sec * TICKS_PER_SEC;
            i += 3;
            if b.get(i) == Some(&b'.') {
                i += 1;
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let digits = &s[start..i];
                if digits.is_empty() {
                    return None;
                }
                let mut f: i64 = 0;
                for (k, c) in digits.bytes().take(7).enumerate() {
                    f += (c - b'0') as i64 * 10i64.pow(6 - k as u32);
                }
                ticks += f;
            }
        }
        match &s[i..] {
            "" | "Z" | "z" => {}
            off if (off.starts_with('+') || off.starts_with('-')) && off.len() == 6 => {
                let oh: i64 = off.get(1..3)?.parse().ok()?;
                let om: i64 = off.get(4..6)?.parse().ok()?;
                let o = (oh * 3600 + om * 60) * TICKS_PER_SEC;
                ticks -= if off.starts_with('+') { o } else { -o };
            }
            _ => return None,
        }
    }
    Some(ticks)
}

/// Parse a timespan as `totimespan()` and `timespan(…)` accept it: `[-][d.]hh:mm[:ss[.f]]`, or a
/// number with a unit (`1d`, `2h`, `30m`, `10s`, `100ms`, `5microseconds`, `1tick`).
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = timespan_with_unit(s) {
        return Some(t);
    }
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if r.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, r),
        _ => (0, s),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let mins = days
        .checked_mul(24)?
        .checked_add(h)?
        .checked_mul(60)?
        .checked_add(m)?;
    let mut t = mins.checked_mul(60 * TICKS_PER_SEC)?;
    if let Some(sec) = parts.get(2) {
        let secs: f64 = sec.parse().ok()?;
        t = t.checked_add((secs * TICKS_PER_SEC as f64).round() as i64)?;
    }
    Some(if neg { -t } else { t })
}

/// `1d`, `1.5h`, `30m`, `10s`, `100ms`, `10microseconds`, `2ticks`, `1day`, `3hours`.
pub fn timespan_with_unit(s: &str) -> Option<i64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let per = match unit {
        "d" | "day" | "days" => 86_400 * TICKS_PER_SEC,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * TICKS_PER_SEC,
        "m" | "min" | "minute" | "minutes" => 60 * TICKS_PER_SEC,
        "s" | "sec" | "second" | "seconds" => TICKS_PER_SEC,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 10_000,
        "microsecond" | "microseconds" => 10,
        "tick" | "ticks" => 1,
        _ => return None,
    };
    Some((n * per as f64).round() as i64)
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: Type,
}

/// One row; shared so that `where`, `order by`, `take` and friends move rows without copying them.
pub type Row = Arc<[Value]>;

/// A table: typed columns and rows of values in column order.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

impl Table {
    /// A table from column (name, type) pairs and rows.
    pub fn new(columns: &[(&str, Type)], rows: Vec<Vec<Value>>) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(n, t)| Column {
                    name: n.to_string(),
                    ty: *t,
                })
                .collect(),
            rows: rows.into_iter().map(Row::from).collect(),
        }
    }

    /// The index of a column by exact name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Resource Graph's `resultFormat: table` shape: `{"columns": [{"name", "type"}], "rows": [[…]]}`,
    /// with its type names (string, integer, number, boolean, object, datetime).
    pub fn to_columns_and_rows(&self) -> Json {
        let columns: Vec<Json> = self
            .columns
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "type": c.ty.arg_name()}))
            .collect();
        let rows: Vec<Json> = self
            .rows
            .iter()
            .map(|r| Json::Array(r.iter().map(Value::to_json).collect()))
            .collect();
        serde_json::json!({"columns": columns, "rows": rows})
    }

    /// The rows as JSON objects (Resource Graph's `objectArray`).
    pub fn to_objects(&self) -> Vec<Json> {
        self.rows
            .iter()
            .map(|r| {
                let mut m = serde_json::Map::with_capacity(self.columns.len());
                for (c, v) in self.columns.iter().zip(r.iter()) {
                    m.insert(c.name.clone(), v.to_json());
                }
                Json::Object(m)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_and_timespans_round_trip() {
        let cases = [
            ("2024-01-01", "2024-01-01T00:00:00Z"),
            ("2024-01-01T10:30:00Z", "2024-01-01T10:30:00Z"),
            ("2024-01-01 10:30", "2024-01-01T10:30:00Z"),
            ("2024-02-29T23:59:59.5Z", "2024-02-29T23:59:59.5Z"),
            ("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z"),
            ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
        ];
        for (input, out) in cases {
            let t = parse_datetime(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(format_datetime(t), out, "{input}");
        }
        for bad in ["2024-13-01", "2024-1-1", "yesterday", "2024-01-01T25:00"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        let spans = [
            ("1d", "1.00:00:00"),
            ("2h", "02:00:00"),
            ("30m", "00:30:00"),
            ("1.5s", "00:00:01.5000000"),
            ("100ms", "00:00:00.1000000"),
            ("1.02:03:04", "1.02:03:04"),
            ("-01:00:00", "-01:00:00"),
        ];
        for (input, out) in spans {
            let t = parse_timespan(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(format_timespan(t), out, "{input}");
        }
    }
}

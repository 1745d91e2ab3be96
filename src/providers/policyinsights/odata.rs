//! The OData query options of PolicyInsights' queries over policy-state records (JSON objects):
//! `$filter` (`eq ne gt ge lt le`, `and or not`, parentheses; string comparisons ignore case as the
//! service's do), `$apply` (`filter(…)`, `groupby((…)[, aggregate(…)])`, `aggregate($count as X |
//! f with sum|min|max|average|countdistinct as X)`, chained with `/`), `$orderby`, `$select`, `$top`.
//! Property names are matched without regard to case (`PolicyDefinitionAction` is
//! `policyDefinitionAction`). Pure. Follows policyStates.json's QueryOptions and its examples.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Cmp(String, CmpOp, Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if cs.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            v.push(*c);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < cs.len()
                    && !matches!(cs[i], ' ' | '\t' | '\n' | '\r' | '(' | ')' | ',' | '\'')
                {
                    i += 1;
                }
                out.push(Tok::Word(cs[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
    depth: usize,
}

impl P {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.t.get(self.i), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn or(&mut self) -> Result<Filter, String> {
        let mut l = self.and()?;
        while self.peek_word("or") {
            self.i += 1;
            l = Filter::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Filter, String> {
        let mut l = self.unary()?;
        while self.peek_word("and") {
            self.i += 1;
            l = Filter::And(Box::new(l), Box::new(self.unary()?));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Filter, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("the filter is nested too deeply".into());
        }
        let r = if self.peek_word("not") {
            self.i += 1;
            Ok(Filter::Not(Box::new(self.unary()?)))
        } else if self.t.get(self.i) == Some(&Tok::Open) {
            self.i += 1;
            let f = self.or()?;
            if self.t.get(self.i) != Some(&Tok::Close) {
                return Err("')' expected".into());
            }
            self.i += 1;
            Ok(f)
        } else {
            self.cmp()
        };
        self.depth -= 1;
        r
    }
    fn cmp(&mut self) -> Result<Filter, String> {
        let Some(Tok::Word(field)) = self.t.get(self.i).cloned() else {
            return Err(format!("a property name expected at token {}", self.i + 1));
        };
        let Some(Tok::Word(op)) = self.t.get(self.i + 1).cloned() else {
            return Err(format!("an operator expected after '{field}'"));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            o => return Err(format!("the operator '{o}' is not supported")),
        };
        let v = match self.t.get(self.i + 2).cloned() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => literal(&w),
            _ => return Err(format!("a value expected after '{field} {op:?}'")),
        };
        self.i += 3;
        Ok(Filter::Cmp(field, op, v))
    }
}

fn literal(w: &str) -> Value {
    match w.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => w
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| w.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(w.to_string())),
    }
}

/// Parse a `$filter`.
pub fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut p = P {
        t: lex(s)?,
        i: 0,
        depth: 0,
    };
    let f = p.or()?;
    if p.i != p.t.len() {
        return Err(format!("unexpected token at position {}", p.i + 1));
    }
    Ok(f)
}

/// The record's value of `field`, the key matched without regard to case.
pub fn get<'r>(r: &'r Map<String, Value>, field: &str) -> Option<&'r Value> {
    r.get(field).or_else(|| {
        r.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .map(|(_, v)| v)
    })
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Array(x), _) if matches!(b, Value::String(_)) => {
            // a collection (policyDefinitionGroupNames) equals a value it contains
            x.iter()
                .any(|e| order(e, b) == Some(Ordering::Equal))
                .then_some(Ordering::Equal)
        }
        _ => None,
    }
}

impl Filter {
    /// The property names the filter reads.
    pub fn fields(&self) -> Vec<String> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let mut v = a.fields();
                v.extend(b.fields());
                v
            }
            Filter::Not(a) => a.fields(),
            Filter::Cmp(f, _, _) => vec![f.clone()],
        }
    }

    pub fn matches(&self, r: &Map<String, Value>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(r) && b.matches(r),
            Filter::Or(a, b) => a.matches(r) || b.matches(r),
            Filter::Not(a) => !a.matches(r),
            Filter::Cmp(f, op, v) => {
                let x = get(r, f).unwrap_or(&Value::Null);
                let o = order(x, v);
                match op {
                    CmpOp::Eq => o == Some(Ordering::Equal),
                    CmpOp::Ne => o != Some(Ordering::Equal),
                    CmpOp::Gt => o == Some(Ordering::Greater),
                    CmpOp::Ge => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
                    CmpOp::Lt => o == Some(Ordering::Less),
                    CmpOp::Le => matches!(o, Some(Ordering::Less | Ordering::Equal)),
                }
            }
        }
    }
}

/// One aggregate of `aggregate(…)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Agg {
    Count(String),
    /// (field, method, alias)
    With(String, String, String),
}

/// One transformation of `$apply`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Filter(Filter),
    GroupBy(Vec<String>, Vec<Agg>),
    Aggregate(Vec<Agg>),
}

impl Step {
    /// The record property names the step reads.
    pub fn fields(&self) -> Vec<String> {
        let of_aggs = |aggs: &[Agg]| -> Vec<String> {
            aggs.iter()
                .filter_map(|a| match a {
                    Agg::With(f, _, _) => Some(f.clone()),
                    Agg::Count(_) => None,
                })
                .collect()
        };
        match self {
            Step::Filter(f) => f.fields(),
            Step::GroupBy(fields, aggs) => {
                let mut v = fields.clone();
                v.extend(of_aggs(aggs));
                v
            }
            Step::Aggregate(aggs) => of_aggs(aggs),
        }
    }
}

/// Split at top-level occurrences of `sep` (outside parentheses and quotes).
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut cur) = (0i32, false, String::new());
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().map(|x| x.trim().to_string()).collect()
}

/// `name(inner)` → `inner`.
fn call<'s>(s: &'s str, name: &str) -> Option<&'s str> {
    let s = s.trim();
    let rest = s
        .get(..name.len())
        .filter(|h| h.eq_ignore_ascii_case(name))?;
    let _ = rest;
    let inner = s[name.len()..].trim_start();
    inner.strip_prefix('(')?.strip_suffix(')')
}

fn parse_aggs(s: &str) -> Result<Vec<Agg>, String> {
    split_top(s, ',')
        .into_iter()
        .map(|a| {
            let words: Vec<&str> = a.split_whitespace().collect();
            match words.as_slice() {
                [c, as_, alias]
                    if c.eq_ignore_ascii_case("$count") && as_.eq_ignore_ascii_case("as") =>
                {
                    Ok(Agg::Count(alias.to_string()))
                }
                [f, w, m, as_, alias]
                    if w.eq_ignore_ascii_case("with") && as_.eq_ignore_ascii_case("as") =>
                {
                    let m = m.to_ascii_lowercase();
                    if !["sum", "min", "max", "average", "countdistinct"].contains(&m.as_str()) {
                        return Err(format!("the aggregation method '{m}' is not supported"));
                    }
                    Ok(Agg::With(f.to_string(), m, alias.to_string()))
                }
                _ => Err(format!("the aggregate expression '{a}' is not supported")),
            }
        })
        .collect()
}

/// Parse `$apply`.
pub fn parse_apply(s: &str) -> Result<Vec<Step>, String> {
    split_top(s, '/')
        .into_iter()
        .map(|t| {
            if let Some(inner) = call(&t, "filter") {
                return Ok(Step::Filter(parse_filter(inner)?));
            }
            if let Some(inner) = call(&t, "aggregate") {
                return Ok(Step::Aggregate(parse_aggs(inner)?));
            }
            if let Some(inner) = call(&t, "groupby") {
                let parts = split_top(inner, ',');
                let fields = parts
                    .first()
                    .and_then(|p| p.strip_prefix('(')?.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!("groupby expects a parenthesised list of properties: '{t}'")
                    })?;
                let fields: Vec<String> = fields
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
                let aggs = match parts.get(1) {
                    None => Vec::new(),
                    Some(a) => parse_aggs(
                        call(a, "aggregate")
                            .ok_or_else(|| format!("aggregate(…) expected: '{a}'"))?,
                    )?,
                };
                if parts.len() > 2 {
                    return Err(format!("groupby takes at most two arguments: '{t}'"));
                }
                return Ok(Step::GroupBy(fields, aggs));
            }
            Err(format!("the transformation '{t}' is not supported"))
        })
        .collect()
}

/// The record's key for `field` (its own spelling when present, else as written).
fn key_of(sample: Option<&Map<String, Value>>, field: &str) -> String {
    sample
        .and_then(|r| r.keys().find(|k| k.eq_ignore_ascii_case(field)))
        .cloned()
        .unwrap_or_else(|| field.to_string())
}

fn aggregate(rows: &[Map<String, Value>], aggs: &[Agg], out: &mut Map<String, Value>) {
    for a in aggs {
        match a {
            Agg::Count(alias) => {
                out.insert(alias.clone(), Value::from(rows.len()));
            }
            Agg::With(f, m, alias) => {
                let vals: Vec<&Value> = rows
                    .iter()
                    .filter_map(|r| get(r, f))
                    .filter(|v| !v.is_null())
                    .collect();
                let nums: Vec<f64> = vals.iter().filter_map(|v| v.as_f64()).collect();
                let v = match m.as_str() {
                    "countdistinct" => {
                        let mut seen: Vec<String> =
                            vals.iter().map(|v| v.to_string().to_lowercase()).collect();
                        seen.sort();
                        seen.dedup();
                        Value::from(seen.len())
                    }
                    "sum" => Value::from(nums.iter().sum::<f64>()),
                    "average" if !nums.is_empty() => {
                        Value::from(nums.iter().sum::<f64>() / nums.len() as f64)
                    }
                    "min" => vals
                        .iter()
                        .copied()
                        .min_by(|a, b| order(a, b).unwrap_or(Ordering::Equal))
                        .cloned()
                        .unwrap_or(Value::Null),
                    "max" => vals
                        .iter()
                        .copied()
                        .max_by(|a, b| order(a, b).unwrap_or(Ordering::Equal))
                        .cloned()
                        .unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                out.insert(alias.clone(), v);
            }
        }
    }
}

/// One group of `groupby`: its key, its head record (the grouped properties) and its members.
type Group = (Vec<String>, Map<String, Value>, Vec<Map<String, Value>>);

/// Run the `$apply` steps over the records.
pub fn apply(steps: &[Step], mut rows: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    for s in steps {
        rows = match s {
            Step::Filter(f) => rows.into_iter().filter(|r| f.matches(r)).collect(),
            Step::Aggregate(aggs) => {
                let mut out = Map::new();
                aggregate(&rows, aggs, &mut out);
                vec![out]
            }
            Step::GroupBy(fields, aggs) => {
                let keys: Vec<String> = fields.iter().map(|f| key_of(rows.first(), f)).collect();
                let mut groups: Vec<Group> = Vec::new();
                let mut index: std::collections::HashMap<Vec<String>, usize> = Default::default();
                for r in rows {
                    let vals: Vec<Value> = keys
                        .iter()
                        .map(|k| get(&r, k).cloned().unwrap_or(Value::Null))
                        .collect();
                    let k: Vec<String> =
                        vals.iter().map(|v| v.to_string().to_lowercase()).collect();
                    let i = *index.entry(k.clone()).or_insert_with(|| {
                        let head = keys.iter().cloned().zip(vals).collect();
                        groups.push((k, head, Vec::new()));
                        groups.len() - 1
                    });
                    groups[i].2.push(r);
                }
                groups
                    .into_iter()
                    .map(|(_, mut head, members)| {
                        aggregate(&members, aggs, &mut head);
                        head
                    })
                    .collect()
            }
        };
    }
    rows
}

/// Parse `$orderby` (`Field [asc|desc], …`).
pub fn parse_orderby(s: &str) -> Result<Vec<(String, bool)>, String> {
    s.split(',')
        .map(|p| {
            let w: Vec<&str> = p.split_whitespace().collect();
            match w.as_slice() {
                [f] => Ok((f.to_string(), false)),
                [f, d] if d.eq_ignore_ascii_case("asc") => Ok((f.to_string(), false)),
                [f, d] if d.eq_ignore_ascii_case("desc") => Ok((f.to_string(), true)),
                _ => Err(format!("the order by clause '{}' is not valid", p.trim())),
            }
        })
        .collect()
}

pub fn sort(rows: &mut [Map<String, Value>], by: &[(String, bool)]) {
    rows.sort_by(|a, b| {
        for (f, desc) in by {
            let (x, y) = (
                get(a, f).unwrap_or(&Value::Null),
                get(b, f).unwrap_or(&Value::Null),
            );
            let o = match (x, y) {
                (Value::Null, Value::Null) => Ordering::Equal,
                (Value::Null, _) => Ordering::Less,
                (_, Value::Null) => Ordering::Greater,
                _ => order(x, y).unwrap_or(Ordering::Equal),
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

/// Keep only the `$select`ed properties (and the `@odata.` annotations), in the record's spelling.
pub fn select(r: Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    r.into_iter()
        .filter(|(k, _)| {
            k.starts_with("@odata.") || fields.iter().any(|f| f.eq_ignore_ascii_case(k))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn filters_of_the_examples_and_clients() {
        let r = rec(
            json!({"isCompliant": false, "policyDefinitionAction": "deny", "complianceState": "NonCompliant",
            "policyAssignmentId": "/subscriptions/S/providers/Microsoft.Authorization/policyAssignments/A",
            "timestamp": "2019-10-06T17:58:00Z", "policyDefinitionGroupNames": ["g1"]}),
        );
        let cases = [
            ("IsCompliant eq false", true),
            ("IsCompliant eq false and (PolicyDefinitionAction eq 'audit' or PolicyDefinitionAction eq 'deny')", true),
            ("IsCompliant eq false and (PolicyDefinitionAction ne 'audit' and PolicyDefinitionAction ne 'deny')", false),
            ("complianceState eq 'noncompliant'", true),
            ("policyAssignmentId eq '/subscriptions/s/providers/microsoft.authorization/policyassignments/a'", true),
            ("not (complianceState eq 'Compliant')", true),
            ("timestamp ge '2019-10-06T00:00:00Z'", true),
            ("resourceType eq 'x'", false),
            ("policyDefinitionGroupNames eq 'g1'", true),
        ];
        for (f, want) in cases {
            assert_eq!(parse_filter(f).unwrap().matches(&r), want, "{f}");
        }
        for bad in ["", "a eq", "a like 'x'", "(a eq 'x'", "a eq 'x' b"] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apply_groupby_and_aggregate() {
        let rows: Vec<_> = [
            ("a1", "r1", false),
            ("a1", "r2", false),
            ("a1", "r1", false),
            ("a2", "r1", true),
        ]
        .iter()
        .map(|(a, r, c)| rec(json!({"policyAssignmentId": a, "resourceId": r, "isCompliant": c})))
        .collect();
        let steps = parse_apply("groupby((PolicyAssignmentId, ResourceId))/groupby((PolicyAssignmentId), aggregate($count as NumberOfRecords))").unwrap();
        let mut out = apply(&steps, rows.clone());
        sort(&mut out, &parse_orderby("NumberOfRecords desc").unwrap());
        assert_eq!(
            Value::Object(out[0].clone()),
            json!({"policyAssignmentId": "a1", "NumberOfRecords": 2})
        );
        assert_eq!(out.len(), 2);
        let out = apply(
            &parse_apply("filter(isCompliant eq false)/aggregate($count as N)").unwrap(),
            rows.clone(),
        );
        assert_eq!(Value::Object(out[0].clone()), json!({"N": 3}));
        let out = apply(
            &parse_apply("aggregate(resourceId with countdistinct as R)").unwrap(),
            rows,
        );
        assert_eq!(Value::Object(out[0].clone()), json!({"R": 2}));
        for bad in ["groupby(a)", "compute(x)", "aggregate(x as y)"] {
            assert!(parse_apply(bad).is_err(), "{bad}");
        }
    }
}

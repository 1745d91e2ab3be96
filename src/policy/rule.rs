//! A policy rule's `if` block in checked form: logical operators, conditions on a `field`, a `value`
//! or a `count`, and the parser that builds it with Azure's error codes and the JSON path of the fault
//! ("Azure Policy definition structure policy rule"). Nesting is bounded so no rule overflows the
//! stack. Pure; evaluation is in `eval`.

use serde_json::Value;

use super::aliases;
use super::PolicyError;
use crate::template::expr;

/// How deep `allOf`/`anyOf`/`not`/`count.where` may nest (each level is a stack frame when parsed and
/// when evaluated; no real definition comes near it).
pub const MAX_DEPTH: usize = 32;

/// The condition operators, as the docs spell them (matched case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equals,
    NotEquals,
    Like,
    NotLike,
    Match,
    MatchInsensitively,
    NotMatch,
    NotMatchInsensitively,
    Contains,
    NotContains,
    In,
    NotIn,
    ContainsKey,
    NotContainsKey,
    Less,
    LessOrEquals,
    Greater,
    GreaterOrEquals,
    Exists,
}

const OPS: &[(&str, Op)] = &[
    ("equals", Op::Equals),
    ("notEquals", Op::NotEquals),
    ("like", Op::Like),
    ("notLike", Op::NotLike),
    ("match", Op::Match),
    ("matchInsensitively", Op::MatchInsensitively),
    ("notMatch", Op::NotMatch),
    ("notMatchInsensitively", Op::NotMatchInsensitively),
    ("contains", Op::Contains),
    ("notContains", Op::NotContains),
    ("in", Op::In),
    ("notIn", Op::NotIn),
    ("containsKey", Op::ContainsKey),
    ("notContainsKey", Op::NotContainsKey),
    ("less", Op::Less),
    ("lessOrEquals", Op::LessOrEquals),
    ("greater", Op::Greater),
    ("greaterOrEquals", Op::GreaterOrEquals),
    ("exists", Op::Exists),
];

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        OPS.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, o)| *o)
    }

    pub fn name(self) -> &'static str {
        OPS.iter()
            .find(|(_, o)| *o == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Lhs {
    /// `field`: a keyword (`type`, `name`, `tags['x']`…), an alias, or an expression giving one.
    Field(String),
    /// `value`: a literal or an expression.
    Value(Value),
    Count(Box<Count>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CountSource {
    /// `count.field`: an array alias (`…[*]`).
    Field(String),
    /// `count.value`: an array, or an expression giving one.
    Value(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub source: CountSource,
    /// `count.name` (value count): what `current('name')` calls the member.
    pub name: Option<String>,
    pub where_: Option<Box<Cond>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    AllOf(Vec<Cond>),
    AnyOf(Vec<Cond>),
    Not(Box<Cond>),
    Leaf {
        lhs: Lhs,
        op: Op,
        rhs: Value,
        /// `rhs` holds an expression (or a `[[` escape) to evaluate; otherwise it is used as written.
        rhs_expr: bool,
    },
}

fn parse_error(inner: &str, path: &str) -> PolicyError {
    PolicyError::new(
        "InvalidPolicyRule",
        format!("Failed to parse policy rule: '{inner}. Path '{path}'.'."),
        path,
    )
}

fn member<'v>(m: &'v serde_json::Map<String, Value>, key: &str) -> Option<(&'v String, &'v Value)> {
    m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
}

/// The keywords `field` accepts besides aliases.
pub fn is_field_keyword(f: &str) -> bool {
    const WORDS: &[&str] = &[
        "name",
        "fullName",
        "kind",
        "type",
        "location",
        "id",
        "tags",
        "identity.type",
        "identity.userAssignedIdentities",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(f)) || tag_name(f).is_some()
}

/// `tags['x']`, `tags[x]`, `tags.x` → `x`.
pub fn tag_name(f: &str) -> Option<&str> {
    let lower = f.get(..5)?.to_ascii_lowercase();
    if lower == "tags[" && f.ends_with(']') {
        let inner = &f[5..f.len() - 1];
        let inner = inner
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .unwrap_or(inner);
        return Some(inner);
    }
    if lower == "tags." && f.len() > 5 {
        return Some(&f[5..]);
    }
    None
}

/// A literal `field` must be a keyword or alias-shaped (expressions are checked when evaluated).
fn check_field(f: &str, path: &str, definition: &str) -> Result<(), PolicyError> {
    if expr::is_expression(f) || is_field_keyword(f) || aliases::split(f).is_some() {
        return Ok(());
    }
    // Azure: InvalidPolicyAlias "The policy definition '…' rule is invalid. The 'field' property '…' of
    // the policy rule doesn't exist as an alias under provider '…' and resource type '…'." (the
    // Azure/azure-policy issue #363); a text that is not an alias at all has no provider to name.
    Err(PolicyError::new(
        "InvalidPolicyAlias",
        format!("The policy definition '{definition}' rule is invalid. The 'field' property '{f}' of the policy rule is neither a resource property nor an alias."),
        path,
    ))
}

/// Parse a condition or logical operator at `path` (`if`, `if.allOf[0]`…).
pub fn parse_cond(
    v: &Value,
    path: &str,
    depth: usize,
    definition: &str,
) -> Result<Cond, PolicyError> {
    if depth > MAX_DEPTH {
        return Err(parse_error(
            &format!("The policy rule nests logical operators and count expressions deeper than {MAX_DEPTH} levels"),
            path,
        ));
    }
    let Some(m) = v.as_object() else {
        return Err(parse_error(
            "Error converting value: a condition or logical operator must be an object",
            path,
        ));
    };
    for (word, is_list) in [("allOf", true), ("anyOf", true), ("not", false)] {
        let Some((k, inner)) = member(m, word) else {
            continue;
        };
        if let Some((other, _)) = m.iter().find(|(o, _)| o != &k) {
            return Err(parse_error(
                &format!("Could not find member '{other}' on object of type 'LogicalExpressionDefinition'"),
                &format!("{path}.{other}"),
            ));
        }
        let here = format!("{path}.{k}");
        if !is_list {
            return Ok(Cond::Not(Box::new(parse_cond(
                inner,
                &here,
                depth + 1,
                definition,
            )?)));
        }
        let Some(items) = inner.as_array() else {
            return Err(parse_error(
                &format!("The '{k}' operator expects an array of conditions"),
                &here,
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, c) in items.iter().enumerate() {
            out.push(parse_cond(
                c,
                &format!("{here}[{i}]"),
                depth + 1,
                definition,
            )?);
        }
        return Ok(if word == "allOf" {
            Cond::AllOf(out)
        } else {
            Cond::AnyOf(out)
        });
    }
    let mut lhs: Option<Lhs> = None;
    let mut op: Option<(Op, Value)> = None;
    for (k, x) in m {
        let here = format!("{path}.{k}");
        let side = if k.eq_ignore_ascii_case("field") {
            let Some(f) = x.as_str() else {
                return Err(parse_error("The 'field' property must be a string", &here));
            };
            check_field(f, &here, definition)?;
            Some(Lhs::Field(f.to_string()))
        } else if k.eq_ignore_ascii_case("value") {
            Some(Lhs::Value(x.clone()))
        } else if k.eq_ignore_ascii_case("count") {
            Some(Lhs::Count(Box::new(parse_count(
                x, &here, depth, definition,
            )?)))
        } else {
            None
        };
        if let Some(s) = side {
            if lhs.is_some() {
                return Err(parse_error(
                    "A condition has exactly one of 'field', 'value' and 'count'",
                    &here,
                ));
            }
            lhs = Some(s);
            continue;
        }
        let Some(o) = Op::parse(k) else {
            return Err(parse_error(
                &format!(
                    "Could not find member '{k}' on object of type 'LeafExpressionDefinition'"
                ),
                &here,
            ));
        };
        if op.is_some() {
            return Err(parse_error(
                "A condition has exactly one condition operator",
                &here,
            ));
        }
        check_operand(&o, x, &here)?;
        op = Some((o, x.clone()));
    }
    match (lhs, op) {
        (Some(lhs), Some((op, rhs))) => Ok(Cond::Leaf {
            lhs,
            op,
            rhs_expr: has_expression(&rhs, 0),
            rhs,
        }),
        (None, _) => Err(parse_error(
            "The condition has none of 'field', 'value' or 'count'",
            path,
        )),
        (Some(_), None) => Err(parse_error(
            "The condition has no condition operator (equals, like, in, exists, …)",
            path,
        )),
    }
}

/// Whether evaluating `v` can change it: a string starting with `[` somewhere in it.
fn has_expression(v: &Value, depth: usize) -> bool {
    match v {
        Value::String(s) => s.starts_with('['),
        Value::Array(a) => depth > 64 || a.iter().any(|x| has_expression(x, depth + 1)),
        Value::Object(m) => depth > 64 || m.values().any(|x| has_expression(x, depth + 1)),
        _ => false,
    }
}

/// Operands whose shape is fixed: `exists` takes a boolean, `in`/`notIn` an array.
fn check_operand(op: &Op, x: &Value, path: &str) -> Result<(), PolicyError> {
    let is_expr = x.as_str().is_some_and(expr::is_expression);
    let ok = is_expr
        || match op {
            Op::Exists => {
                x.is_boolean()
                    || x.as_str().is_some_and(|s| {
                        s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")
                    })
            }
            Op::In | Op::NotIn => x.is_array(),
            _ => true,
        };
    if ok {
        Ok(())
    } else {
        Err(parse_error(
            &format!(
                "The '{}' condition expects {}",
                op.name(),
                if matches!(op, Op::Exists) {
                    "a boolean ('true' or 'false')"
                } else {
                    "an array"
                }
            ),
            path,
        ))
    }
}

fn parse_count(
    v: &Value,
    path: &str,
    depth: usize,
    definition: &str,
) -> Result<Count, PolicyError> {
    let Some(m) = v.as_object() else {
        return Err(parse_error(
            "The 'count' expression must be an object",
            path,
        ));
    };
    let mut source = None;
    let mut name = None;
    let mut where_ = None;
    for (k, x) in m {
        let here = format!("{path}.{k}");
        if k.eq_ignore_ascii_case("field") || k.eq_ignore_ascii_case("value") {
            if source.is_some() {
                return Err(parse_error(
                    "A 'count' expression has exactly one of 'field' and 'value'",
                    &here,
                ));
            }
            if k.eq_ignore_ascii_case("field") {
                let Some(f) = x.as_str() else {
                    return Err(parse_error("The 'field' property must be a string", &here));
                };
                if !expr::is_expression(f) && !f.ends_with("[*]") {
                    return Err(parse_error(
                        &format!("The field '{f}' of a 'count' expression must be an array alias ending in '[*]'"),
                        &here,
                    ));
                }
                check_field(f, &here, definition)?;
                source = Some(CountSource::Field(f.to_string()));
            } else {
                source = Some(CountSource::Value(x.clone()));
            }
        } else if k.eq_ignore_ascii_case("name") {
            let Some(n) = x.as_str().filter(|n| !n.is_empty()) else {
                return Err(parse_error(
                    "The 'name' of a 'count' expression must be a non-empty string",
                    &here,
                ));
            };
            name = Some(n.to_string());
        } else if k.eq_ignore_ascii_case("where") {
            where_ = Some(Box::new(parse_cond(x, &here, depth + 1, definition)?));
        } else {
            return Err(parse_error(
                &format!(
                    "Could not find member '{k}' on object of type 'CountExpressionDefinition'"
                ),
                &here,
            ));
        }
    }
    let Some(source) = source else {
        return Err(parse_error(
            "A 'count' expression needs 'field' or 'value'",
            path,
        ));
    };
    if name.is_some() && matches!(source, CountSource::Field(_)) {
        return Err(parse_error(
            "The 'name' property is only valid in a 'value' count",
            &format!("{path}.name"),
        ));
    }
    Ok(Count {
        source,
        name,
        where_,
    })
}

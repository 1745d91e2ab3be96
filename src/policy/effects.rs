//! Policy effects as data for the request pipeline: the effect named in `then` (possibly a parameter,
//! case-insensitive), `then.details` evaluated for the resource, and the pure functions the pipeline
//! applies — `append` and `modify` changes to a body (tags and aliases, `[*]` members), the existence
//! check of `auditIfNotExists`/`deployIfNotExists` over related resources the caller passes in, and
//! the `denyAction` check. Docs: "Azure Policy definitions effect basics". Never reads the store.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::aliases::{self, PSeg};
use super::eval::{fail, policy_type, values_equal, Ev, EvalContext, Outcome};
use super::rule;
use super::{Definition, PolicyError};
use crate::template::expr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Deny,
    Audit,
    Append,
    Modify,
    AuditIfNotExists,
    DeployIfNotExists,
    DenyAction,
    Disabled,
    Manual,
}

const EFFECTS: &[(&str, Effect)] = &[
    ("deny", Effect::Deny),
    ("audit", Effect::Audit),
    ("append", Effect::Append),
    ("modify", Effect::Modify),
    ("auditIfNotExists", Effect::AuditIfNotExists),
    ("deployIfNotExists", Effect::DeployIfNotExists),
    ("denyAction", Effect::DenyAction),
    ("disabled", Effect::Disabled),
    ("manual", Effect::Manual),
];

impl Effect {
    pub fn parse(s: &str) -> Option<Effect> {
        EFFECTS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, e)| *e)
    }

    /// Where the effect runs in a request ("effect basics", order of evaluation): disabled first,
    /// then append and modify (they change the request), deny, audit, manual, auditIfNotExists and
    /// denyAction; deployIfNotExists after the provider answered success. Sort a request's outcomes
    /// by it.
    pub fn order(self) -> u8 {
        match self {
            Effect::Disabled => 0,
            Effect::Append | Effect::Modify => 1,
            Effect::Deny => 2,
            Effect::Audit => 3,
            Effect::Manual => 4,
            Effect::AuditIfNotExists => 5,
            Effect::DenyAction => 6,
            Effect::DeployIfNotExists => 7,
        }
    }

    /// The name as the docs spell it (`auditIfNotExists`).
    pub fn name(self) -> &'static str {
        EFFECTS
            .iter()
            .find(|(_, e)| *e == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }
}

pub(crate) fn unknown_effect(e: &str) -> PolicyError {
    PolicyError::new(
        "InvalidPolicyRule",
        format!(
            "Failed to parse policy rule: 'The policy effect '{e}' is not supported; the effects are {}. Path 'then.effect'.'.",
            EFFECTS.iter().map(|(n, _)| format!("'{n}'")).collect::<Vec<_>>().join(", ")
        ),
        "policyRule.then.effect",
    )
}

/// What each effect needs in `then.details` ("effect basics" and the per-effect pages), checked
/// when the effect is written literally (a parameterised effect is checked when evaluated).
pub(crate) fn check_details(
    definition: &str,
    effect: Effect,
    then: &Value,
) -> Result<(), PolicyError> {
    let details = member(then, "details");
    // Azure's code and first sentence (Azure/azure-policy issue #880); the second names what is missing.
    let need = |what: &str, path: &str| {
        Err(PolicyError::new(
            "InvalidPolicyRuleEffectDetails",
            format!("The policy definition '{definition}' rule is invalid. The policy effect 'details' property could not be parsed. The '{}' effect requires {what}.", effect.name()),
            &format!("policyRule.{path}"),
        ))
    };
    let d = |k: &str| details.and_then(|d| member(d, k));
    match effect {
        Effect::AuditIfNotExists | Effect::DeployIfNotExists
            if !d("type").is_some_and(Value::is_string) =>
        {
            need(
                "'details.type', the type of the related resource",
                "then.details.type",
            )
        }
        Effect::DeployIfNotExists if d("deployment").is_none() => {
            need("'details.deployment'", "then.details.deployment")
        }
        Effect::DeployIfNotExists | Effect::Modify
            if !d("roleDefinitionIds").is_some_and(Value::is_array) =>
        {
            need(
                "'details.roleDefinitionIds'",
                "then.details.roleDefinitionIds",
            )
        }
        Effect::Modify if !d("operations").is_some_and(Value::is_array) => need(
            "'details.operations', an array of operations",
            "then.details.operations",
        ),
        Effect::Append if !details.is_some_and(|x| x.is_array() || x.is_object()) => need(
            "'details', an array of 'field' and 'value' pairs",
            "then.details",
        ),
        Effect::DenyAction if !d("actionNames").is_some_and(Value::is_array) => {
            need("'details.actionNames'", "then.details.actionNames")
        }
        _ => Ok(()),
    }
}

fn member<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

pub(crate) fn resolve_effect(
    def: &Definition,
    params: &Map<String, Value>,
) -> Result<Effect, PolicyError> {
    let raw = member(&def.then, "effect")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // the common form, `[parameters('effect')]`, without parsing
    let direct = raw
        .strip_prefix("[parameters('")
        .and_then(|r| r.strip_suffix("')]"))
        .filter(|n| !n.contains('\''))
        .and_then(|n| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)))
        .and_then(|(_, v)| v.as_str());
    let text = if let Some(e) = direct {
        e.to_string()
    } else if expr::is_expression(raw) {
        let ctx = EvalContext::new(OffsetDateTime::UNIX_EPOCH);
        let ev = Ev::new(&Value::Null, &Value::Null, &ctx, params);
        match ev
            .value(&Value::String(raw.to_string()))
            .map_err(|e| fail(def, &e))?
        {
            Value::String(s) => s,
            other => crate::template::eval::to_text(&other),
        }
    } else {
        raw.to_string()
    };
    Effect::parse(&text).ok_or_else(|| unknown_effect(&text))
}

/// `then.details` for the matched resource: expressions evaluated (with `field()` reading it), but
/// `existenceCondition` kept as written and, of a `deployment`, only `properties.parameters`.
pub(crate) fn eval_details(def: &Definition, ev: &Ev) -> Result<Value, String> {
    let Some(details) = member(&def.then, "details") else {
        return Ok(Value::Null);
    };
    let Some(m) = details.as_object() else {
        return ev.value(details);
    };
    let mut out = Map::new();
    for (k, v) in m {
        let x = if k.eq_ignore_ascii_case("existenceCondition") {
            v.clone()
        } else if k.eq_ignore_ascii_case("deployment") {
            let mut d = v.clone();
            if let Some(p) = v.get("properties").and_then(|p| p.get("parameters")) {
                d["properties"]["parameters"] = ev.value(p)?;
            }
            d
        } else {
            ev.value(v)?
        };
        out.insert(k.clone(), x);
    }
    Ok(Value::Object(out))
}

/// Why an `append` or `modify` could not be applied, and the effect that then applies (`modify`:
/// the definition's `conflictEffect`, deny by default; `append`: deny).
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub effect: Effect,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SetMode {
    /// Set when absent; a different value present is a conflict.
    Add,
    AddOrReplace,
    Remove,
}

/// Where a `field` of an `append`/`modify` points.
enum Target {
    Tags,
    Tag(String),
    Path(Vec<PSeg>, bool),
}

fn target_of(field: &str) -> Result<Target, String> {
    if field.eq_ignore_ascii_case("tags") {
        return Ok(Target::Tags);
    }
    if let Some(t) = rule::tag_name(field) {
        return Ok(Target::Tag(t.to_string()));
    }
    match aliases::resolve(field) {
        Some(r) => Ok(Target::Path(r.path, r.modifiable)),
        None => Err(format!(
            "The field '{field}' is neither a tag nor an alias."
        )),
    }
}

fn set_path(v: &mut Value, segs: &[PSeg], new: &Value, mode: SetMode) -> Result<(), String> {
    match segs {
        [] => Ok(()),
        [PSeg::All] => {
            if mode == SetMode::Remove {
                if let Value::Array(a) = v {
                    if new.is_null() {
                        a.clear();
                    } else {
                        a.retain(|x| !values_equal(x, new));
                    }
                }
                return Ok(());
            }
            if !v.is_array() {
                *v = json!([]);
            }
            if let Value::Array(a) = v {
                match new {
                    Value::Array(items) => a.extend(items.iter().cloned()),
                    other => a.push(other.clone()),
                }
            }
            Ok(())
        }
        [PSeg::All, rest @ ..] => {
            if let Value::Array(a) = v {
                for e in a {
                    set_path(e, rest, new, mode)?;
                }
            }
            Ok(())
        }
        [PSeg::Key(k), rest @ ..] => {
            if !v.is_object() {
                if mode == SetMode::Remove {
                    return Ok(());
                }
                *v = json!({});
            }
            let Value::Object(m) = v else {
                return Ok(());
            };
            let existing = m.keys().find(|x| x.eq_ignore_ascii_case(k)).cloned();
            if rest.is_empty() {
                match (mode, existing) {
                    (SetMode::Remove, Some(key)) => {
                        m.remove(&key);
                    }
                    (SetMode::Remove, None) => {}
                    (SetMode::Add, Some(key)) if !m[&key].is_null() => {
                        if !values_equal(&m[&key], new) {
                            return Err(format!(
                                "The property '{k}' already has a different value."
                            ));
                        }
                    }
                    (_, Some(key)) => {
                        m.insert(key, new.clone());
                    }
                    (_, None) => {
                        m.insert(k.clone(), new.clone());
                    }
                }
                return Ok(());
            }
            let key = match existing {
                Some(key) => key,
                None if mode == SetMode::Remove => return Ok(()),
                None => {
                    m.insert(k.clone(), Value::Null);
                    k.clone()
                }
            };
            let Some(child) = m.get_mut(&key) else {
                return Ok(());
            };
            if rest[0] == PSeg::All && !child.is_array() {
                if mode == SetMode::Remove {
                    return Ok(());
                }
                *child = json!([]);
            }
            set_path(child, rest, new, mode)
        }
    }
}

fn set_target(
    body: &mut Value,
    field: &str,
    value: &Value,
    mode: SetMode,
    check_modifiable: bool,
) -> Result<(), String> {
    match target_of(field)? {
        Target::Tags => match mode {
            SetMode::Remove => {
                if let Value::Object(m) = body {
                    m.retain(|k, _| !k.eq_ignore_ascii_case("tags"));
                }
                Ok(())
            }
            SetMode::AddOrReplace => {
                body["tags"] = value.clone();
                Ok(())
            }
            SetMode::Add => {
                let Some(add) = value.as_object() else {
                    return Err("The value for 'tags' must be an object.".into());
                };
                for (k, v) in add {
                    set_path(
                        body,
                        &[PSeg::Key("tags".into()), PSeg::Key(k.clone())],
                        v,
                        mode,
                    )?;
                }
                Ok(())
            }
        },
        Target::Tag(t) => {
            if mode != SetMode::Remove && !value.is_string() {
                return Err(format!("The value of tag '{t}' must be a string."));
            }
            set_path(body, &[PSeg::Key("tags".into()), PSeg::Key(t)], value, mode)
        }
        Target::Path(path, modifiable) => {
            if check_modifiable && !modifiable {
                return Err(format!("The alias '{field}' is not modifiable."));
            }
            set_path(body, &path, value, mode)
        }
    }
}

/// The `append` effect: `details` is the evaluated array of `{field, value}`. A `[*]` alias adds
/// members; any other field is set when absent and is a conflict when it has another value.
pub fn apply_append(body: &Value, details: &Value) -> Result<Value, Conflict> {
    let conflict = |message: String| Conflict {
        effect: Effect::Deny,
        message,
    };
    let mut out = body.clone();
    let items = match details {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![details.clone()],
        _ => Vec::new(),
    };
    for d in &items {
        let field = member(d, "field")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = member(d, "value").cloned().unwrap_or(Value::Null);
        set_target(&mut out, field, &value, SetMode::Add, false).map_err(conflict)?;
    }
    Ok(out)
}

/// What `modify` made of a body: the changed body, and the operations skipped because of a conflict
/// whose effect lets the request through (`conflictEffect` audit or disabled).
#[derive(Debug, Clone, PartialEq)]
pub struct Modified {
    pub body: Value,
    pub skipped: Vec<Conflict>,
}

/// The `modify` effect: `operations` is the evaluated `details.operations` (`{operation: add |
/// addOrReplace | remove, field, value, condition?}`), on tags, modifiable aliases and a VM's
/// `identity.type` ("effect-modify": only tags can be removed). An operation that cannot apply falls
/// back to `conflict_effect` (`details.conflictEffect`, deny when absent): deny refuses the request
/// (`Err`), audit and disabled skip the operation.
pub fn apply_modify(
    body: &Value,
    operations: &Value,
    conflict_effect: Option<&str>,
) -> Result<Modified, Conflict> {
    let effect = conflict_effect
        .and_then(Effect::parse)
        .unwrap_or(Effect::Deny);
    let mut out = Modified {
        body: body.clone(),
        skipped: Vec::new(),
    };
    for op in operations.as_array().into_iter().flatten() {
        if let Some(c) = member(op, "condition") {
            let on = match c {
                Value::Bool(b) => *b,
                Value::String(s) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            if !on {
                continue;
            }
        }
        let kind = member(op, "operation")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let field = member(op, "field")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = member(op, "value").cloned().unwrap_or(Value::Null);
        let mode = if kind.eq_ignore_ascii_case("add") {
            Ok(SetMode::Add)
        } else if kind.eq_ignore_ascii_case("addOrReplace") {
            Ok(SetMode::AddOrReplace)
        } else if kind.eq_ignore_ascii_case("remove") {
            Ok(SetMode::Remove)
        } else {
            Err(format!(
                "The modify operation '{kind}' is not one of 'add', 'addOrReplace' and 'remove'."
            ))
        };
        let mut next = out.body.clone();
        let r = mode.and_then(|mode| modify_one(&mut next, field, &value, mode));
        match r {
            Ok(()) => out.body = next,
            Err(message) => {
                let c = Conflict { effect, message };
                if effect == Effect::Deny {
                    return Err(c);
                }
                out.skipped.push(c);
            }
        }
    }
    Ok(out)
}

fn modify_one(body: &mut Value, field: &str, value: &Value, mode: SetMode) -> Result<(), String> {
    if field.eq_ignore_ascii_case("identity.type") {
        let t = policy_type(body).to_ascii_lowercase();
        if mode == SetMode::Remove
            || !matches!(
                t.as_str(),
                "microsoft.compute/virtualmachines" | "microsoft.compute/virtualmachinescalesets"
            )
        {
            return Err("Only the identity.type of virtual machines and virtual machine scale sets can be added or replaced.".into());
        }
        return set_path(
            body,
            &[PSeg::Key("identity".into()), PSeg::Key("type".into())],
            value,
            mode,
        );
    }
    let is_tag = field.eq_ignore_ascii_case("tags") || rule::tag_name(field).is_some();
    if mode == SetMode::Remove && !is_tag {
        return Err(format!(
            "The modify operation 'remove' cannot apply to '{field}': only tags can be removed."
        ));
    }
    set_target(body, field, value, mode, true)
}

fn norm_type(t: &str) -> String {
    policy_type(&json!({ "type": t })).to_ascii_lowercase()
}

/// `auditIfNotExists`/`deployIfNotExists`: whether a related resource satisfies the effect. The
/// caller passes the candidates it found where `details` points (`existenceScope`,
/// `resourceGroupName`); they are filtered by `details.type` and `details.name` and tested with
/// `existenceCondition`, whose `field` conditions read the candidate while `field()` in its values
/// reads the evaluated `target`. `details` is `Outcome::details`.
pub fn related_exists(
    def: &Definition,
    params: &Map<String, Value>,
    details: &Value,
    target: &Value,
    candidates: &[Value],
    ctx: &EvalContext,
) -> Result<bool, PolicyError> {
    let want_type = member(details, "type")
        .and_then(Value::as_str)
        .map(norm_type);
    let want_name = member(details, "name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    for c in candidates {
        if want_type
            .as_ref()
            .is_some_and(|t| *t != policy_type(c).to_ascii_lowercase())
        {
            continue;
        }
        if want_name.is_some_and(|n| {
            !c["name"]
                .as_str()
                .unwrap_or_default()
                .eq_ignore_ascii_case(n)
        }) {
            continue;
        }
        let Some(cond) = &def.existence else {
            return Ok(true);
        };
        let ev = Ev::new(c, target, ctx, params);
        if ev.cond(cond).map_err(|e| fail(def, &e))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `denyAction`: whether the outcome refuses `action` (`delete`) on the resource.
pub fn denies_action(outcome: &Outcome, action: &str) -> bool {
    outcome.matched
        && outcome.effect == Effect::DenyAction
        && member(&outcome.details, "actionNames")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(action)))
            })
}

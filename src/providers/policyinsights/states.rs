//! Policy states computed on demand from the current store (so they are "updated on every write"):
//! for each resource in a query's scope — resource groups and the subscription itself included — each
//! assignment in force (`policy::effective`) and each of its definitions, a record Compliant,
//! NonCompliant or Exempt, shaped as policyStates.json's `PolicyState`. `*IfNotExists` members look
//! for the related resource among the store's rows (`policy::related_exists`). Never answers HTTP.
//! Docs: "Get compliance data of Azure resources", "Azure Policy compliance states".

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{context_for, group_ancestors, Applied, Member, PolicySet};
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::facts::Snapshot;
use crate::policy::{self, Effect};
use crate::store::{Store, Stored};

/// What a query covers: the subscriptions (with, optionally, one group or one resource below them)
/// and, for an assignment or a definition, the records of that one.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Lower-cased subscription ids.
    pub subscriptions: Vec<String>,
    /// Lower-cased resource group name.
    pub resource_group: Option<String>,
    /// Lower-cased resource key: the resource and what is below it.
    pub resource: Option<String>,
    /// Only this assignment's records (lower-cased id).
    pub assignment: Option<String>,
    /// Only this definition's records (its name: the URL names it at a subscription, whether it is a
    /// built-in or the subscription's own).
    pub definition: Option<String>,
    /// Only this set definition's (its name).
    pub set_definition: Option<String>,
}

/// One state, with what remediation needs beside it; `record` builds the `PolicyState` (only what a
/// query keeps is built: a scan of 10 000 resources under 50 assignments has 500 000 states).
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub body: &'a Value,
    sub: &'a str,
    rg: &'a str,
    mg_ids: &'a str,
    pub applied: &'a Applied,
    pub member: &'a Member,
    pub effect: Effect,
    /// The outcome's evaluated `then.details` (the deployment of a deployIfNotExists, the operations
    /// of a modify) when NonCompliant; `Null` otherwise.
    pub details: Value,
    pub compliance: &'static str,
}

impl Hit<'_> {
    /// The record as policyStates.json's `PolicyState`, stamped `stamp`.
    pub fn record(&self, stamp: &str) -> Map<String, Value> {
        record(
            stamp,
            self.body,
            self.sub,
            self.rg,
            self.mg_ids,
            self.applied,
            self.member,
            self.effect,
            self.compliance,
        )
    }
}

/// Types the compliance scan does not look at: deployments and their operations, PolicyInsights'
/// own remediations.
fn scanned(rtype: &str) -> bool {
    !(rtype.starts_with("microsoft.resources/deployments")
        || rtype.starts_with("microsoft.policyinsights/"))
}

/// The body policy sees for a subscription (type `Microsoft.Resources/subscriptions`).
pub fn subscription_body(snap: &Snapshot, sub: &str) -> Option<Value> {
    let s = snap.dir.subscription(sub)?;
    Some(json!({
        "id": format!("/subscriptions/{}", s.subscription_id),
        "name": s.subscription_id,
        "type": "Microsoft.Resources/subscriptions",
        "properties": {"displayName": s.display_name, "subscriptionId": s.subscription_id,
                        "tenantId": s.tenant_id},
    }))
}

fn norm_type(t: &str) -> String {
    policy::eval::policy_type(&json!({ "type": t })).to_ascii_lowercase()
}

fn member_str<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

/// Every state of `scope` now, handed to `sink` one by one.
pub fn compute(
    store: &Store,
    snap: &Snapshot,
    set: &PolicySet,
    scope: &Scope,
    now: OffsetDateTime,
    sink: &mut dyn FnMut(Hit),
) -> Result<(), ArmError> {
    if set.assignments.is_empty() {
        return Ok(());
    }
    for sub in &scope.subscriptions {
        let ancestors = group_ancestors(snap, sub);
        let mg_ids: Vec<String> = snap
            .groups
            .ancestors_of_subscription(sub)
            .iter()
            .map(|g| g.name.clone())
            .collect();
        let mg_ids = mg_ids.join(",");
        let rows = store.read(|tx| tx.in_scope(sub, None))?;
        // candidates of the *IfNotExists look-ups, by policy type
        let mut by_type: HashMap<String, Vec<&Stored>> = HashMap::new();
        for r in &rows {
            by_type.entry(norm_type(&r.rtype)).or_default().push(r);
        }
        let sub_body = subscription_body(snap, sub);
        let mut targets: Vec<(String, &Value, String, String)> = Vec::new();
        if scope.resource_group.is_none() && scope.resource.is_none() {
            if let Some(b) = &sub_body {
                targets.push((
                    format!("/subscriptions/{sub}"),
                    b,
                    String::new(),
                    String::new(),
                ));
            }
        }
        for r in &rows {
            if !scanned(&r.rtype) {
                continue;
            }
            if let Some(rg) = &scope.resource_group {
                if r.rg != *rg {
                    continue;
                }
            }
            if let Some(res) = &scope.resource {
                if !(r.key == *res || r.key.starts_with(&format!("{res}/"))) {
                    continue;
                }
            }
            targets.push((r.key.clone(), &r.body, r.rg.clone(), r.rtype.clone()));
        }
        let mut contexts: HashMap<String, policy::EvalContext> = HashMap::new();
        for (key, body, rg, _) in targets {
            let applied = set.in_force(&key, &ancestors);
            if applied.is_empty() {
                continue;
            }
            let id_str = body["id"].as_str().unwrap_or(&key).to_string();
            let mut ctx = contexts
                .entry(rg.clone())
                .or_insert_with(|| context_for(store, snap, &id_str, "GET", "", now))
                .clone();
            for a in applied {
                if scope
                    .assignment
                    .as_ref()
                    .is_some_and(|x| !a.id.eq_ignore_ascii_case(x))
                {
                    continue;
                }
                for m in &a.members {
                    if scope
                        .definition
                        .as_ref()
                        .is_some_and(|d| !last_segment(&m.definition_id).eq_ignore_ascii_case(d))
                        || scope.set_definition.as_ref().is_some_and(|d| {
                            !m.set_definition_id
                                .as_deref()
                                .is_some_and(|s| last_segment(s).eq_ignore_ascii_case(d))
                        })
                    {
                        continue;
                    }
                    let Some((effect, compliance, details)) = judge(
                        set, a, m, body, &key, &rg, &ancestors, &by_type, &mut ctx, now,
                    ) else {
                        continue;
                    };
                    sink(Hit {
                        body,
                        sub,
                        rg: &rg,
                        mg_ids: &mg_ids,
                        applied: a,
                        member: m,
                        effect,
                        details,
                        compliance,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The state of one member on one resource, `None` when it does not apply (mode, `disabled`, an
/// `*IfNotExists` whose `if` is false, an evaluation error).
#[allow(clippy::too_many_arguments)]
fn judge(
    set: &PolicySet,
    a: &Applied,
    m: &Member,
    body: &Value,
    key: &str,
    rg: &str,
    ancestors: &[String],
    by_type: &HashMap<String, Vec<&Stored>>,
    ctx: &mut policy::EvalContext,
    now: OffsetDateTime,
) -> Option<(Effect, &'static str, Value)> {
    let effect = m.def.effect(&m.params).ok()?;
    if matches!(effect, Effect::Disabled | Effect::Manual) {
        return None;
    }
    if set.exemption_in(a, m, key, ancestors, now).is_some() {
        return Some((effect, "Exempt", Value::Null));
    }
    ctx.policy = json!({"assignmentId": a.id, "definitionId": m.definition_id,
        "setDefinitionId": m.set_definition_id.clone().unwrap_or_default(),
        "definitionReferenceId": m.reference_id.clone().unwrap_or_default()});
    let o = match policy::evaluate(&m.def, &m.params, body, ctx) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(assignment = %a.id, resource = %key, error = %e.message, "policy state not evaluable");
            return None;
        }
    };
    if !o.applicable {
        return None;
    }
    match effect {
        Effect::AuditIfNotExists | Effect::DeployIfNotExists => {
            if !o.matched {
                return None;
            }
            let cands = candidates(&o.details, key, rg, by_type);
            let exists = policy::related_exists(&m.def, &m.params, &o.details, body, &cands, ctx)
                .unwrap_or(false);
            if exists {
                Some((effect, "Compliant", Value::Null))
            } else {
                Some((effect, "NonCompliant", o.details))
            }
        }
        _ => Some((
            effect,
            if o.matched {
                "NonCompliant"
            } else {
                "Compliant"
            },
            o.details,
        )),
    }
}

/// The related resources an `*IfNotExists` looks at: those of `details.type` in the target's resource
/// group (`existenceScope` ResourceGroup, the default), its subscription (`Subscription`), or below the
/// target (extension resources such as diagnostic settings).
fn candidates(
    details: &Value,
    key: &str,
    rg: &str,
    by_type: &HashMap<String, Vec<&Stored>>,
) -> Vec<Value> {
    let Some(t) = member_str(details, "type") else {
        return Vec::new();
    };
    let subscription_wide = member_str(details, "existenceScope")
        .is_some_and(|s| s.eq_ignore_ascii_case("subscription"));
    let group = member_str(details, "resourceGroupName").map(str::to_lowercase);
    let below = format!("{key}/");
    by_type
        .get(&norm_type(t))
        .into_iter()
        .flatten()
        .filter(|r| {
            subscription_wide
                || r.key.starts_with(&below)
                || match &group {
                    Some(g) => r.rg == *g,
                    None => !rg.is_empty() && r.rg == rg,
                }
        })
        .map(|r| r.body.clone())
        .collect()
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or_default()
}

fn text_of(v: &Value) -> String {
    if v.is_null() {
        String::new()
    } else {
        v.to_string()
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    stamp: &str,
    body: &Value,
    sub: &str,
    rg: &str,
    mg_ids: &str,
    a: &Applied,
    m: &Member,
    effect: Effect,
    compliance: &str,
) -> Map<String, Value> {
    let id = body["id"].as_str().unwrap_or_default();
    let rid = ResourceId::parse(id).ok();
    let rg_name = rid
        .as_ref()
        .and_then(|r| r.resource_group.clone())
        .unwrap_or_else(|| rg.to_string());
    let ap = &a.body["properties"];
    let last = |s: &str| s.rsplit('/').next().unwrap_or_default().to_string();
    let set_id = m.set_definition_id.clone().unwrap_or_default();
    let scope = ap["scope"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| a.scope.clone());
    let sub_id = rid
        .as_ref()
        .and_then(|r| r.subscription.clone())
        .unwrap_or_else(|| sub.to_string());
    let v = json!({
        "@odata.id": null,
        "timestamp": stamp,
        "resourceId": id,
        "policyAssignmentId": a.id,
        "policyDefinitionId": m.definition_id,
        "effectiveParameters": "",
        "isCompliant": compliance == "Compliant",
        "subscriptionId": sub_id,
        "resourceType": policy::eval::policy_type(body),
        "resourceLocation": body["location"].as_str().unwrap_or_default(),
        "resourceGroup": rg_name,
        "resourceTags": text_of(body.get("tags").unwrap_or(&Value::Null)),
        "policyAssignmentName": a.name,
        "policyAssignmentOwner": "tbd",
        "policyAssignmentParameters": text_of(ap.get("parameters").unwrap_or(&json!({}))),
        "policyAssignmentScope": scope,
        "policyDefinitionName": last(&m.definition_id),
        "policyDefinitionAction": effect.name().to_ascii_lowercase(),
        "policyDefinitionCategory": "tbd",
        "policySetDefinitionId": set_id,
        "policySetDefinitionName": if set_id.is_empty() { String::new() } else { last(&set_id) },
        "policySetDefinitionOwner": "",
        "policySetDefinitionCategory": "",
        "policySetDefinitionParameters": "",
        "managementGroupIds": mg_ids,
        "policyDefinitionReferenceId": m.reference_id.clone().unwrap_or_default(),
        "complianceState": compliance,
        "policyDefinitionGroupNames": m.group_names,
        "policyDefinitionVersion": "",
        "policySetDefinitionVersion": "",
        "policyAssignmentVersion": ap["definitionVersion"].as_str().unwrap_or_default(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

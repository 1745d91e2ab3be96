//! Policy states computed from the store: for each resource of a query's scope — resource groups and
//! the subscription itself included — each assignment in force (`policy::effective`) and each of its
//! definitions, a record Compliant, NonCompliant or Exempt, shaped as policyStates.json's
//! `PolicyState`; kept per subscription and evaluated again only where a write touched them
//! (`sub_states`). Never answers HTTP. Docs: "Get compliance data of Azure resources".

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{context_for, group_ancestors, location_of, Applied, Member, PolicySet};
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
    pub details: &'a Value,
    pub compliance: &'static str,
}

impl Hit<'_> {
    /// The record as policyStates.json's `PolicyState`, stamped `stamp`.
    pub fn record(&self, stamp: &str) -> Map<String, Value> {
        self.record_only(stamp, None)
    }

    /// The record with only the properties `only` names (every one when `None`): a query that
    /// groups or selects builds no more than it reads.
    pub fn record_only(&self, stamp: &str, only: Option<&[&'static str]>) -> Map<String, Value> {
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
            only,
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

/// One state kept for a target: which member of which assignment (indices into the `PolicySet`
/// the states were computed under, the one that keeps them).
#[derive(Debug)]
struct State {
    assignment: u32,
    member: u32,
    effect: Effect,
    compliance: &'static str,
    details: Value,
}

/// A resource (or the subscription itself) with its states, in the record order (assignment id,
/// then reference id).
#[derive(Debug)]
struct Target {
    key: String,
    rg: String,
    rtype: String,
    body: Value,
    states: Arc<[State]>,
}

/// Every state of one subscription at one moment, kept in the `PolicySet`'s memos: the next
/// computation re-reads the subscription's rows and evaluates again only the targets whose body
/// changed (all of them when a change reaches other targets' evaluation: a resource group, a type an
/// `*IfNotExists` looks for, the subscription, the groups above it, or the clock crossing an
/// exemption's expiry or a rule's `utcNow()`).
#[derive(Debug)]
pub struct SubStates {
    computed_at: OffsetDateTime,
    ancestors: Vec<String>,
    mg_ids: String,
    subscription: Option<Target>,
    /// Every row of the subscription, in key order (the types `scanned` skips have no states).
    rows: Vec<Target>,
    /// Targets evaluated in the computation that made this (the others were reused).
    pub evaluated: usize,
}

/// What one computation needs beside the target.
struct Pass<'s> {
    store: &'s Store,
    snap: &'s Snapshot,
    set: &'s PolicySet,
    ancestors: &'s [String],
    now: OffsetDateTime,
    /// Assignment indices by lower-cased id, and each one's member indices by reference id.
    order: Vec<(u32, Vec<u32>)>,
    contexts: HashMap<String, policy::EvalContext>,
    rows: &'s [Stored],
    /// Row indices by lower-cased policy type, built at the first `*IfNotExists` look-up.
    by_type: std::cell::OnceCell<HashMap<String, Vec<usize>>>,
}

/// The `*IfNotExists` related types of the set (lower-cased policy types); `None` when one is an
/// expression, so that any type may be one.
fn related_types(set: &PolicySet) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for a in &set.assignments {
        for m in &a.members {
            if !matches!(
                m.effect,
                Some(Effect::AuditIfNotExists | Effect::DeployIfNotExists)
            ) {
                continue;
            }
            let details = m
                .def
                .then
                .as_object()
                .and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case("details")))
                .map(|(_, d)| d)
                .unwrap_or(&Value::Null);
            match member_str(details, "type") {
                Some(t) if !crate::template::expr::is_expression(t) => out.push(norm_type(t)),
                _ => return None,
            }
        }
    }
    Some(out)
}

/// The states of subscription `sub` now: those kept from the last computation where nothing they
/// depend on changed, the others evaluated.
pub fn sub_states(
    store: &Store,
    snap: &Snapshot,
    set: &PolicySet,
    sub: &str,
    now: OffsetDateTime,
) -> Result<Arc<SubStates>, ArmError> {
    let ancestors = group_ancestors(snap, sub);
    let mg_ids: Vec<String> = snap
        .groups
        .ancestors_of_subscription(sub)
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let mg_ids = mg_ids.join(",");
    let sub_body = subscription_body(snap, sub);
    let rows = store.read(|tx| tx.in_scope(sub, None))?;
    let memo_key = format!("policy-states:{sub}");
    let uses_now = set
        .assignments
        .iter()
        .any(|a| a.members.iter().any(|m| m.uses_now));
    let old = set.memo::<SubStates>(&memo_key).filter(|o| {
        o.ancestors == ancestors
            && o.mg_ids == mg_ids
            && o.subscription.as_ref().map(|t| &t.body) == sub_body.as_ref()
            && (o.computed_at == now
                || (!uses_now && !set.exemption_expires_between(o.computed_at, now)))
    });
    // what changed since: by key, the rows added, removed or whose body differs
    let kept: HashMap<&str, &Target> = old
        .as_ref()
        .map(|o| o.rows.iter().map(|t| (t.key.as_str(), t)).collect())
        .unwrap_or_default();
    let old = old.as_ref().filter(|o| {
        let related = related_types(set);
        let reaches_others = |rtype: &str| {
            let t = norm_type(rtype);
            t == "microsoft.resources/subscriptions/resourcegroups"
                || related.as_ref().is_none_or(|r| r.contains(&t))
        };
        // rows added or changed, then rows removed
        let mut seen = 0usize;
        for r in &rows {
            let before = kept.get(r.key.as_str());
            seen += usize::from(before.is_some());
            if before.is_none_or(|t| t.body != r.body) && reaches_others(&r.rtype) {
                return false;
            }
        }
        if seen == o.rows.len() {
            return true;
        }
        let now_keys: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.key.as_str()).collect();
        o.rows
            .iter()
            .filter(|t| !now_keys.contains(t.key.as_str()))
            .all(|t| !reaches_others(&t.rtype))
    });
    let mut order: Vec<(u32, Vec<u32>)> = (0..set.assignments.len() as u32)
        .map(|i| {
            let a = &set.assignments[i as usize];
            let mut ms: Vec<u32> = (0..a.members.len() as u32).collect();
            ms.sort_by_cached_key(|j| {
                a.members[*j as usize]
                    .reference_id
                    .clone()
                    .unwrap_or_default()
                    .to_lowercase()
            });
            (i, ms)
        })
        .collect();
    order.sort_by_cached_key(|(i, _)| set.assignments[*i as usize].id.to_lowercase());
    let mut pass = Pass {
        store,
        snap,
        set,
        ancestors: &ancestors,
        now,
        order,
        contexts: HashMap::new(),
        rows: &rows,
        by_type: Default::default(),
    };
    let mut evaluated = 0usize;
    let subscription = match sub_body {
        None => None,
        Some(body) => {
            let key = format!("/subscriptions/{sub}");
            let states = match old.and_then(|o| o.subscription.as_ref()) {
                Some(t) => t.states.clone(),
                None => {
                    evaluated += 1;
                    evaluate_target(&mut pass, &key, &body, "")
                }
            };
            Some(Target {
                key,
                rg: String::new(),
                rtype: String::new(),
                body,
                states,
            })
        }
    };
    let mut states: Vec<Arc<[State]>> = Vec::with_capacity(rows.len());
    for r in &rows {
        let st = match old.and_then(|_| kept.get(r.key.as_str())) {
            Some(t) if t.body == r.body => t.states.clone(),
            _ if !scanned(&r.rtype) => Arc::from(Vec::new()),
            _ => {
                evaluated += 1;
                evaluate_target(&mut pass, &r.key, &r.body, &r.rg)
            }
        };
        states.push(st);
    }
    let out = Arc::new(SubStates {
        computed_at: now,
        ancestors: ancestors.clone(),
        mg_ids,
        subscription,
        rows: rows
            .into_iter()
            .zip(states)
            .map(|(r, states)| Target {
                key: r.key,
                rg: r.rg,
                rtype: r.rtype,
                body: r.body,
                states,
            })
            .collect(),
        evaluated,
    });
    set.remember(&memo_key, out.clone());
    Ok(out)
}

/// The states of one target under every assignment that reaches it.
fn evaluate_target(pass: &mut Pass, key: &str, body: &Value, rg: &str) -> Arc<[State]> {
    let set = pass.set;
    let ptype = policy::eval::policy_type(body);
    let indexed = policy::indexed_type(&ptype);
    let mut out = Vec::new();
    let (store, snap, now) = (pass.store, pass.snap, pass.now);
    let (rows, by_type) = (pass.rows, &pass.by_type);
    let related = Related { rows, by_type };
    let ctx = pass.contexts.entry(rg.to_string()).or_insert_with(|| {
        let id = body["id"].as_str().unwrap_or(key);
        context_for(store, snap, id, "GET", "", now)
    });
    let location = location_of(body);
    for (ai, members) in &pass.order {
        let a = &set.assignments[*ai as usize];
        if !PolicySet::reaches(a, key, pass.ancestors) || !a.selects(&ptype, location) {
            continue;
        }
        for mi in members {
            let m = &a.members[*mi as usize];
            let Some(effect) = a.effect_for(m, &ptype, location) else {
                continue;
            };
            if matches!(effect, Effect::Disabled | Effect::Manual) {
                continue;
            }
            let applicable = m.def.mode.applies_with(&ptype, indexed);
            let judged = judge(
                set,
                a,
                m,
                effect,
                applicable,
                body,
                key,
                rg,
                pass.ancestors,
                &related,
                ctx,
                now,
            );
            if let Some((compliance, details)) = judged {
                out.push(State {
                    assignment: *ai,
                    member: *mi,
                    effect,
                    compliance,
                    details,
                });
            }
        }
    }
    Arc::from(out)
}

/// Every state of `scope` now, handed to `sink` one by one, ordered by resource id, assignment id
/// and reference id.
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
    let mut subs = scope.subscriptions.clone();
    subs.sort();
    subs.dedup();
    for sub in &subs {
        let states = sub_states(store, snap, set, sub, now)?;
        let whole = scope.resource_group.is_none() && scope.resource.is_none();
        let targets =
            states
                .subscription
                .iter()
                .filter(|_| whole)
                .chain(states.rows.iter().filter(|t| {
                    scope.resource_group.as_ref().is_none_or(|rg| t.rg == *rg)
                        && scope.resource.as_ref().is_none_or(|res| {
                            t.key == *res
                                || (t.key.starts_with(res.as_str())
                                    && t.key.as_bytes().get(res.len()) == Some(&b'/'))
                        })
                }));
        for t in targets {
            for s in t.states.iter() {
                let a = &set.assignments[s.assignment as usize];
                let m = &a.members[s.member as usize];
                if scope
                    .assignment
                    .as_ref()
                    .is_some_and(|x| !a.id.eq_ignore_ascii_case(x))
                    || scope
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
                sink(Hit {
                    body: &t.body,
                    sub,
                    rg: &t.rg,
                    mg_ids: &states.mg_ids,
                    applied: a,
                    member: m,
                    effect: s.effect,
                    details: &s.details,
                    compliance: s.compliance,
                });
            }
        }
    }
    Ok(())
}

/// The subscription's rows an `*IfNotExists` looks among, with their index by type.
struct Related<'r> {
    rows: &'r [Stored],
    by_type: &'r std::cell::OnceCell<HashMap<String, Vec<usize>>>,
}

/// The state of one member on one resource, `None` when it does not apply (mode, an `*IfNotExists`
/// whose `if` is false, an evaluation error).
#[allow(clippy::too_many_arguments)]
fn judge(
    set: &PolicySet,
    a: &Applied,
    m: &Member,
    effect: Effect,
    applicable: bool,
    body: &Value,
    key: &str,
    rg: &str,
    ancestors: &[String],
    related: &Related,
    ctx: &mut policy::EvalContext,
    now: OffsetDateTime,
) -> Option<(&'static str, Value)> {
    if !applicable {
        return None;
    }
    if set.exemption_in(a, m, key, ancestors, now).is_some() {
        return Some(("Exempt", Value::Null));
    }
    if m.uses_policy_fn {
        ctx.policy = json!({"assignmentId": a.id, "definitionId": m.definition_id,
            "setDefinitionId": m.set_definition_id.clone().unwrap_or_default(),
            "definitionReferenceId": m.reference_id.clone().unwrap_or_default()});
    }
    let o = match policy::evaluate_prepared(&m.def, &m.params, body, ctx, effect, true, false) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(assignment = %a.id, resource = %key, error = %e.message, "policy state not evaluable");
            return None;
        }
    };
    match effect {
        Effect::AuditIfNotExists | Effect::DeployIfNotExists => {
            if !o.matched {
                return None;
            }
            let cands = candidates(&o.details, key, rg, related);
            let exists = policy::related_exists(&m.def, &m.params, &o.details, body, &cands, ctx)
                .unwrap_or(false);
            if exists {
                Some(("Compliant", Value::Null))
            } else {
                Some(("NonCompliant", o.details))
            }
        }
        _ => Some((
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
fn candidates(details: &Value, key: &str, rg: &str, related: &Related) -> Vec<Value> {
    let Some(t) = member_str(details, "type") else {
        return Vec::new();
    };
    let index = related.by_type.get_or_init(|| {
        let mut m: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in related.rows.iter().enumerate() {
            m.entry(norm_type(&r.rtype)).or_default().push(i);
        }
        m
    });
    let subscription_wide = member_str(details, "existenceScope")
        .is_some_and(|s| s.eq_ignore_ascii_case("subscription"));
    let group = member_str(details, "resourceGroupName").map(str::to_lowercase);
    let below = format!("{key}/");
    index
        .get(&norm_type(t))
        .into_iter()
        .flatten()
        .map(|i| &related.rows[*i])
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

/// The properties of a `PolicyState` record (policyStates.json), in the order they are written.
pub const FIELDS: &[&str] = &[
    "timestamp",
    "resourceId",
    "policyAssignmentId",
    "policyDefinitionId",
    "effectiveParameters",
    "isCompliant",
    "subscriptionId",
    "resourceType",
    "resourceLocation",
    "resourceGroup",
    "resourceTags",
    "policyAssignmentName",
    "policyAssignmentOwner",
    "policyAssignmentParameters",
    "policyAssignmentScope",
    "policyDefinitionName",
    "policyDefinitionAction",
    "policyDefinitionCategory",
    "policySetDefinitionId",
    "policySetDefinitionName",
    "policySetDefinitionOwner",
    "policySetDefinitionCategory",
    "policySetDefinitionParameters",
    "managementGroupIds",
    "policyDefinitionReferenceId",
    "complianceState",
    "policyDefinitionGroupNames",
    "policyDefinitionVersion",
    "policySetDefinitionVersion",
    "policyAssignmentVersion",
];

/// The record's properties `only` names (all of `FIELDS`, after `@odata.id`, when `None`).
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
    only: Option<&[&'static str]>,
) -> Map<String, Value> {
    let id = body["id"].as_str().unwrap_or_default();
    let rid = std::cell::OnceCell::new();
    let rid = || rid.get_or_init(|| ResourceId::parse(id).ok());
    let ap = &a.body["properties"];
    let last = |s: &str| s.rsplit('/').next().unwrap_or_default().to_string();
    let set_id = m.set_definition_id.as_deref().unwrap_or_default();
    let field = |f: &str| -> Value {
        match f {
            "timestamp" => json!(stamp),
            "resourceId" => json!(id),
            "policyAssignmentId" => json!(a.id),
            "policyDefinitionId" => json!(m.definition_id),
            "isCompliant" => json!(compliance == "Compliant"),
            "subscriptionId" => json!(rid()
                .as_ref()
                .and_then(|r| r.subscription.clone())
                .unwrap_or_else(|| sub.to_string())),
            "resourceType" => json!(policy::eval::policy_type(body)),
            "resourceLocation" => json!(body["location"].as_str().unwrap_or_default()),
            "resourceGroup" => json!(rid()
                .as_ref()
                .and_then(|r| r.resource_group.clone())
                .unwrap_or_else(|| rg.to_string())),
            "resourceTags" => json!(text_of(body.get("tags").unwrap_or(&Value::Null))),
            "policyAssignmentName" => json!(a.name),
            "policyAssignmentOwner" | "policyDefinitionCategory" => json!("tbd"),
            "policyAssignmentParameters" => {
                json!(text_of(ap.get("parameters").unwrap_or(&json!({}))))
            }
            "policyAssignmentScope" => json!(ap["scope"].as_str().unwrap_or(&a.scope)),
            "policyDefinitionName" => json!(last(&m.definition_id)),
            "policyDefinitionAction" => json!(effect.name().to_ascii_lowercase()),
            "policySetDefinitionId" => json!(set_id),
            "policySetDefinitionName" => json!(last(set_id)),
            "managementGroupIds" => json!(mg_ids),
            "policyDefinitionReferenceId" => {
                json!(m.reference_id.as_deref().unwrap_or_default())
            }
            "complianceState" => json!(compliance),
            "policyDefinitionGroupNames" => json!(m.group_names),
            "policyAssignmentVersion" => {
                json!(ap["definitionVersion"].as_str().unwrap_or_default())
            }
            _ => json!(""),
        }
    };
    let mut out = Map::new();
    match only {
        None => {
            out.insert("@odata.id".into(), Value::Null);
            for f in FIELDS {
                out.insert((*f).to_string(), field(f));
            }
        }
        Some(fs) => {
            for f in fs {
                out.insert((*f).to_string(), field(f));
            }
        }
    }
    out
}

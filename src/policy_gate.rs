//! Azure Policy's effects in the one request pipeline, between the RBAC decision and the handler: a
//! PUT or PATCH is evaluated, as the resource it would store, against every assignment in force
//! (`append`/`modify` change the body, `deny` refuses with RequestDisallowedByPolicy, `audit` writes
//! the Policy activity event), after the write `auditIfNotExists` and `deployIfNotExists` (the
//! deployment run as the assignment's managed identity through the `RunAs` hook dispatch hands in), and
//! `denyAction` on DELETE. Reads the cached `PolicySet`, writes activity events, never stores a resource
//! itself, never imports the pipeline. Docs: "Azure Policy effect basics" (order of evaluation), "effect-deny",
//! "effect-modify", "effect-deploy-if-not-exists", "effect-deny-action", "Activity log: Policy".

use std::cell::Cell;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::app::App;
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::facts::Snapshot;
use crate::policy::{self, Effect, EvalContext, Outcome};
use crate::providers::policy::effective::{self, Applied, Member, PolicySet};
use crate::providers::policyinsights::RunAs;
use crate::providers::Caller;

/// One member that matched a request.
#[derive(Clone)]
pub struct Hit {
    pub assignment: Applied,
    pub member: Member,
    pub outcome: Outcome,
}

/// What the policies made of a write before it ran, and what they still do after it.
pub struct Gate {
    /// The request body to hand the handler, when `append` or `modify` changed it.
    pub body: Option<Value>,
    /// For `x-ms-emulator-decision`: the assignments that changed or audited the request.
    pub notes: Vec<String>,
    /// The resource as evaluated (after `append`/`modify`).
    resource: Value,
    target: String,
    ancestors: Vec<String>,
    audits: Vec<Hit>,
    /// auditIfNotExists and deployIfNotExists, checked once the write succeeded.
    after: Vec<Hit>,
    api_version: String,
    method: String,
}

/// Types Azure Policy never evaluates on write here: deployments (their resources are, each on its
/// own request), the policy resources themselves, and the management-group hierarchy.
pub(crate) fn evaluated_type(t: &str) -> bool {
    let t = t.to_ascii_lowercase();
    !(t == "microsoft.resources/deployments"
        || t.starts_with("microsoft.authorization/policy")
        || t.starts_with("microsoft.management/")
        || t.starts_with("microsoft.resources/deployments/"))
}

/// The type and name of the target when it is a resource group or a resource in a subscription.
pub(crate) fn target_kind(id: &ResourceId) -> Option<(String, String)> {
    id.subscription.as_deref().filter(|s| !s.is_empty())?;
    if id.providers.is_empty() {
        let rg = id.resource_group.as_deref().filter(|r| !r.is_empty())?;
        return Some(("Microsoft.Resources/resourceGroups".into(), rg.to_string()));
    }
    if !id.is_instance() {
        return None;
    }
    let t = id.full_type()?;
    evaluated_type(&t).then(|| (t, id.name().unwrap_or_default().to_string()))
}

thread_local! {
    /// How deep deployIfNotExists deployments are nested on this thread (a deployment's resources
    /// are evaluated again; their own deployIfNotExists stop here).
    static DEPTH: Cell<u8> = const { Cell::new(0) };
}

/// The resource as the write would store it: the body with id, name and type (PUT), or the stored
/// resource with the patch merged (PATCH).
pub(crate) fn as_stored(
    app: &App,
    method: &str,
    id: &ResourceId,
    rtype: &str,
    name: &str,
    body: Option<&Value>,
) -> Option<Value> {
    let existing = app.store.get(&id.key()).ok().flatten();
    let mut full = match (method, &existing) {
        ("PATCH", Some(e)) => {
            let mut b = e.body.clone();
            if let Some(p) = body.and_then(Value::as_object) {
                crate::providers::resources::apply_patch(&mut b, p);
            }
            b
        }
        ("PATCH", None) => return None,
        _ => {
            let mut b = body.cloned().unwrap_or_else(|| json!({}));
            if !b.is_object() {
                return None;
            }
            if b.get("location").is_none() {
                if let Some(l) = existing.as_ref().and_then(|e| e.body.get("location")) {
                    b["location"] = l.clone();
                }
            }
            b
        }
    };
    full["id"] = json!(id.canonical());
    full["name"] = json!(name);
    full["type"] = json!(rtype);
    Some(full)
}

fn policy_ref(a: &Applied, m: &Member) -> Value {
    json!({
        "assignmentId": a.id,
        "definitionId": m.definition_id,
        "setDefinitionId": m.set_definition_id.clone().unwrap_or_default(),
        "definitionReferenceId": m.reference_id.clone().unwrap_or_default(),
    })
}

/// The members in force on a target, not exempt, of enforced assignments whose resource selectors
/// select `resource`, with their effect (an assignment's override applied).
fn candidates<'s>(
    set: &'s PolicySet,
    target: &str,
    ancestors: &[String],
    now: OffsetDateTime,
    resource: &Value,
    want: &dyn Fn(Effect) -> bool,
) -> Vec<(&'s Applied, &'s Member, Effect)> {
    let mut out = Vec::new();
    let rtype = policy::eval::policy_type(resource);
    let location = effective::location_of(resource);
    for a in set.in_force(target, ancestors) {
        // DoNotEnforce: evaluated for compliance only; no effect, no activity event ("assignment
        // structure": enforcement mode)
        if !a.enforce || !a.selects(&rtype, location) {
            continue;
        }
        for m in &a.members {
            let Some(effect) = a.effect_for(m, &rtype, location) else {
                continue;
            };
            if want(effect) && set.exemption_in(a, m, target, ancestors, now).is_none() {
                out.push((a, m, effect));
            }
        }
    }
    out
}

/// The candidates whose rule matches `resource`, in `Effect::order`.
fn matched(cands: &[(&Applied, &Member, Effect)], ctx: &EvalContext, resource: &Value) -> Vec<Hit> {
    let mut hits = Vec::new();
    let applies = |m: &Member| m.def.mode.applies(&policy::eval::policy_type(resource));
    for (a, m, effect) in cands {
        // the context is shared; only a rule that calls policy() gets its own with the assignment
        let own;
        let c = if m.uses_policy_fn {
            let mut x = ctx.clone();
            x.policy = policy_ref(a, m);
            own = x;
            &own
        } else {
            ctx
        };
        match policy::evaluate_prepared(&m.def, &m.params, resource, c, *effect, applies(m), true) {
            Ok(o) if o.matched => hits.push(Hit {
                assignment: (*a).clone(),
                member: (*m).clone(),
                outcome: o,
            }),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(assignment = %a.id, definition = %m.definition_id, error = %e.message, "policy evaluation failed; the member is skipped")
            }
        }
    }
    hits.sort_by_key(|h| h.outcome.effect.order());
    hits
}

/// Before a PUT or PATCH: `append` and `modify` change the body, `deny` refuses. `Ok(None)` when no
/// policy concerns the request.
pub fn before_write(
    app: &App,
    snap: &Snapshot,
    method: &str,
    id: &ResourceId,
    api_version: &str,
    body: Option<&Value>,
) -> Result<Option<Gate>, ArmError> {
    if !matches!(method, "PUT" | "PATCH") {
        return Ok(None);
    }
    let Some((rtype, name)) = target_kind(id) else {
        return Ok(None);
    };
    let set = app.policies();
    if set.assignments.is_empty() {
        return Ok(None);
    }
    let target = id.key();
    let sub = id.subscription.clone().unwrap_or_default();
    let ancestors = effective::group_ancestors(snap, &sub);
    if set.in_force(&target, &ancestors).is_empty() {
        return Ok(None);
    }
    let Some(mut resource) = as_stored(app, method, id, &rtype, &name, body) else {
        return Ok(None);
    };
    let now = app.clock.now();
    let ctx = effective::context_for(&app.store, snap, &target, method, api_version, now);
    let mut notes = Vec::new();
    let original = resource.clone();
    // append and modify first: they change what deny and audit see
    let cands = candidates(&set, &target, &ancestors, now, &resource, &|e| {
        !matches!(e, Effect::Disabled | Effect::Manual | Effect::DenyAction)
    });
    if cands.is_empty() {
        return Ok(None);
    }
    let (change, rest): (Vec<_>, Vec<_>) = cands
        .into_iter()
        .partition(|(_, _, e)| matches!(e, Effect::Append | Effect::Modify));
    let changers = matched(&change, &ctx, &resource);
    for h in changers.iter().filter(|h| h.assignment.enforce) {
        let details = &h.outcome.details;
        let changed = match h.outcome.effect {
            Effect::Append => policy::apply_append(&resource, details),
            _ => {
                if h.assignment.identity.is_none() {
                    tracing::warn!(assignment = %h.assignment.id, "modify assignment without a managed identity: skipped");
                    continue;
                }
                let ops = details.get("operations").cloned().unwrap_or(Value::Null);
                let conflict = details.get("conflictEffect").and_then(Value::as_str);
                policy::apply_modify(&resource, &ops, conflict).map(|m| m.body)
            }
        };
        match changed {
            Ok(b) => {
                if b != resource {
                    notes.push(format!(
                        "{} by policy assignment '{}' (definition '{}')",
                        if h.outcome.effect == Effect::Append {
                            "appended"
                        } else {
                            "modified"
                        },
                        h.assignment.name,
                        h.member.def.name
                    ));
                }
                resource = b;
            }
            Err(c) => {
                return Err(disallowed(&name, std::slice::from_ref(h), Some(&c.message)));
            }
        }
    }
    let rest = matched(&rest, &ctx, &resource);
    let denies: Vec<Hit> = rest
        .iter()
        .filter(|h| h.outcome.effect == Effect::Deny && h.assignment.enforce)
        .cloned()
        .collect();
    if !denies.is_empty() {
        return Err(disallowed(&name, &denies, None));
    }
    let audits: Vec<Hit> = rest
        .iter()
        .filter(|h| h.outcome.effect == Effect::Audit && h.assignment.enforce)
        .cloned()
        .collect();
    for h in &audits {
        notes.push(format!(
            "audited by policy assignment '{}' (definition '{}')",
            h.assignment.name, h.member.def.name
        ));
    }
    let after: Vec<Hit> = rest
        .into_iter()
        .filter(|h| {
            h.assignment.enforce
                && matches!(
                    h.outcome.effect,
                    Effect::AuditIfNotExists | Effect::DeployIfNotExists
                )
        })
        .collect();
    let new_body = (resource != original).then(|| request_body(method, body, &original, &resource));
    Ok(Some(Gate {
        body: new_body,
        notes,
        resource,
        target,
        ancestors,
        audits,
        after,
        api_version: api_version.to_string(),
        method: method.to_string(),
    }))
}

/// The request body carrying the changes `append`/`modify` made to the resource: each top-level
/// member that changed is sent whole (for a PATCH too: a whole member merges to itself).
fn request_body(method: &str, body: Option<&Value>, before: &Value, after: &Value) -> Value {
    let mut out = body.cloned().unwrap_or_else(|| json!({}));
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return out;
    };
    for (k, v) in a {
        if matches!(k.as_str(), "id" | "name" | "type") {
            continue;
        }
        if b.get(k) != Some(v) {
            out[k.as_str()] = v.clone();
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) && method == "PATCH" {
            out[k.as_str()] = Value::Null;
        } else if !a.contains_key(k) {
            if let Some(m) = out.as_object_mut() {
                m.remove(k);
            }
        }
    }
    out
}

/// After the handler answered: the audit events, then (on success) auditIfNotExists and
/// deployIfNotExists.
pub fn after_write(
    app: &App,
    snap: &Snapshot,
    run_as: &RunAs,
    caller: &Caller,
    gate: Gate,
    status: u16,
) {
    if status >= 300 {
        return;
    }
    let now = app.clock.now();
    for h in &gate.audits {
        write_event(
            app,
            snap,
            caller,
            &gate,
            policy_entry(h, "audit"),
            "audit",
            "Warning",
            "EndRequest",
        );
    }
    if gate.after.is_empty() || DEPTH.with(|d| d.get()) >= 3 {
        return;
    }
    let ctx = effective::context_for(
        &app.store,
        snap,
        &gate.target,
        &gate.method,
        &gate.api_version,
        now,
    );
    for h in &gate.after {
        let candidates = related_candidates(app, &gate.target, &h.outcome.details, &gate.resource);
        let mut c = ctx.clone();
        c.policy = policy_ref(&h.assignment, &h.member);
        let exists = match policy::related_exists(
            &h.member.def,
            &h.member.params,
            &h.outcome.details,
            &gate.resource,
            &candidates,
            &c,
        ) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(assignment = %h.assignment.id, error = %e.message, "existence check failed");
                continue;
            }
        };
        if exists {
            continue;
        }
        if h.outcome.effect == Effect::AuditIfNotExists {
            write_event(
                app,
                snap,
                caller,
                &gate,
                policy_entry(h, "auditIfNotExists"),
                "auditIfNotExists",
                "Warning",
                "EndRequest",
            );
            continue;
        }
        write_event(
            app,
            snap,
            caller,
            &gate,
            policy_entry(h, "deployIfNotExists"),
            "deployIfNotExists",
            "Informational",
            "BeginRequest",
        );
        deploy(run_as, &gate, h);
    }
}

/// The resources a `*IfNotExists` effect looks among: of `details.type`, below the evaluated
/// resource when the type is one of its children or an extension, else in `details.resourceGroupName`
/// (the resource's group by default) or the subscription (`existenceScope`).
fn related_candidates(app: &App, target: &str, details: &Value, resource: &Value) -> Vec<Value> {
    let Some(want) = details
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
    else {
        return Vec::new();
    };
    let Ok(id) = ResourceId::parse(target) else {
        return Vec::new();
    };
    let sub = id.subscription.clone().unwrap_or_default().to_lowercase();
    let rtype = resource["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let extension = EXTENSION_TYPES.contains(&want.as_str());
    let child = want.starts_with(&format!("{rtype}/"));
    let rows = if child || extension {
        app.store
            .read(|tx| tx.tree(target))
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.key != target)
            .collect::<Vec<_>>()
    } else {
        let subscription_scope = details
            .get("existenceScope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("subscription"));
        let rg = details
            .get("resourceGroupName")
            .and_then(Value::as_str)
            .map(str::to_lowercase)
            .or_else(|| id.resource_group.clone().map(|r| r.to_lowercase()));
        let rg = if subscription_scope { None } else { rg };
        app.store
            .read(|tx| tx.by_type(&want, Some(&sub), rg.as_deref()))
            .unwrap_or_default()
    };
    rows.into_iter()
        .filter(|r| r.rtype == want)
        .map(|r| r.body)
        .collect()
}

/// Extension types a `details.type` commonly names: looked up on the evaluated resource.
const EXTENSION_TYPES: &[&str] = &[
    "microsoft.insights/diagnosticsettings",
    "microsoft.authorization/locks",
    "microsoft.guestconfiguration/guestconfigurationassignments",
    "microsoft.maintenance/configurationassignments",
    "microsoft.security/advancedthreatprotectionsettings",
];

/// Run `details.deployment` as the assignment's managed identity: at the resource's group (or
/// `details.resourceGroupName`), or at the subscription with `deploymentScope: subscription`. Its
/// own RBAC decides; a refusal fails the deployment and leaves the original write standing.
fn deploy(run_as: &RunAs, gate: &Gate, h: &Hit) {
    let Some((pid, tid)) = h.assignment.identity.clone() else {
        tracing::warn!(assignment = %h.assignment.id, "deployIfNotExists without a managed identity: nothing deployed");
        return;
    };
    let d = &h.outcome.details;
    let Some(dep) = d.get("deployment") else {
        return;
    };
    let Ok(id) = ResourceId::parse(&gate.target) else {
        return;
    };
    let sub = id.subscription.clone().unwrap_or_default();
    let at_sub = d
        .get("deploymentScope")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("subscription"));
    // Azure names these deployments PolicyDeployment_<number>.
    let name = format!(
        "PolicyDeployment_{}",
        uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000_000
    );
    let mut body = dep.clone();
    let path = if at_sub {
        if body.get("location").is_none() {
            body["location"] = gate
                .resource
                .get("location")
                .cloned()
                .unwrap_or(json!("westus"));
        }
        format!("/subscriptions/{sub}/providers/Microsoft.Resources/deployments/{name}?api-version=2021-04-01")
    } else {
        let rg = d
            .get("resourceGroupName")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| id.resource_group.clone())
            .unwrap_or_default();
        format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}?api-version=2021-04-01")
    };
    if body["properties"].get("mode").is_none() {
        body["properties"]["mode"] = json!("Incremental");
    }
    DEPTH.with(|x| x.set(x.get() + 1));
    let reply = run_as(&pid, &tid, "PUT", &path, Some(&body));
    DEPTH.with(|x| x.set(x.get() - 1));
    if reply.status >= 300 {
        tracing::info!(assignment = %h.assignment.id, status = reply.status, body = %String::from_utf8_lossy(&reply.body), "deployIfNotExists deployment refused");
    } else {
        tracing::info!(assignment = %h.assignment.id, deployment = %path, "deployIfNotExists deployment started");
    }
}

/// Types denyAction never blocks ("effect-deny-action": no lockout).
const DENY_ACTION_EXEMPT: &[&str] = &[
    "microsoft.authorization/policyassignments",
    "microsoft.authorization/denyassignments",
    "microsoft.blueprint/blueprintassignments",
    "microsoft.resources/deploymentstacks",
    "microsoft.authorization/locks",
];

/// Before a DELETE: `denyAction` with `delete` among its actions refuses.
pub fn before_delete(
    app: &App,
    snap: &Snapshot,
    id: &ResourceId,
    api_version: &str,
) -> Result<(), ArmError> {
    let Some((rtype, name)) = target_kind(id) else {
        return Ok(());
    };
    if DENY_ACTION_EXEMPT.contains(&rtype.to_ascii_lowercase().as_str()) {
        return Ok(());
    }
    let set = app.policies();
    if set.assignments.is_empty() {
        return Ok(());
    }
    let target = id.key();
    let sub = id.subscription.clone().unwrap_or_default();
    let ancestors = effective::group_ancestors(snap, &sub);
    if set.in_force(&target, &ancestors).is_empty() {
        return Ok(());
    }
    let Ok(Some(row)) = app.store.get(&target) else {
        return Ok(());
    };
    let now = app.clock.now();
    let ctx = effective::context_for(&app.store, snap, &target, "DELETE", api_version, now);
    let cands = candidates(&set, &target, &ancestors, now, &row.body, &|e| {
        e == Effect::DenyAction
    });
    let hits: Vec<Hit> = matched(&cands, &ctx, &row.body)
        .into_iter()
        .filter(|h| h.assignment.enforce && policy::denies_action(&h.outcome, "delete"))
        .collect();
    if hits.is_empty() {
        return Ok(());
    }
    Err(disallowed(&name, &hits, None))
}

/// RequestDisallowedByPolicy (403) as Azure words it: "Resource '{name}' was disallowed by policy.
/// Policy identifiers: '[…]'." — or, when an assignment has a nonComplianceMessage, "… Reasons:
/// '{message}'. See error details for policy resource IDs." — with one PolicyViolation in
/// `additionalInfo` per refusing member (captured errors in public issues: Azure/azure-cli,
/// MicrosoftDocs). denyAction uses the same code (no captured denyAction error found).
pub fn disallowed(name: &str, hits: &[Hit], conflict: Option<&str>) -> ArmError {
    let idents: Vec<Value> = hits.iter().map(identifier).collect();
    let reasons: Vec<String> = hits
        .iter()
        .filter_map(|h| non_compliance_message(&h.assignment, &h.member))
        .collect();
    let message = if !reasons.is_empty() {
        format!(
            "Resource '{name}' was disallowed by policy. Reasons: '{}'. See error details for policy resource IDs.",
            reasons.join("', '")
        )
    } else {
        format!(
            "Resource '{name}' was disallowed by policy. Policy identifiers: '{}'.",
            serde_json::to_string(&idents).unwrap_or_default()
        )
    };
    let mut e = ArmError::new("RequestDisallowedByPolicy", message).with_target(name);
    for h in hits {
        e = e.with_additional_info(json!({"type": "PolicyViolation", "info": violation(h)}));
    }
    let why = hits
        .iter()
        .map(|h| {
            format!(
                "policy assignment '{}' ({}) definition '{}' ({})",
                h.assignment.name,
                h.assignment.id,
                h.member.def.name,
                h.outcome.effect.name()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let why = match conflict {
        Some(c) => format!("denied; refused by {why}: {c}"),
        None => format!("denied; refused by {why}"),
    };
    e.with_header("x-ms-emulator-decision", why)
}

fn display_or_name(body: &Value) -> String {
    body["properties"]["displayName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or(body["name"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn identifier(h: &Hit) -> Value {
    let a = &h.assignment;
    let m = &h.member;
    let mut v = json!({
        "policyAssignment": {"name": display_or_name(&a.body), "id": a.id},
        "policyDefinition": {"name": m.display_name, "id": m.definition_id, "version": m.version},
    });
    if let Some(s) = &m.set_definition_id {
        v["policySetDefinition"] =
            json!({"name": m.set_display_name, "id": s, "version": m.set_version});
    }
    v
}

fn non_compliance_message(a: &Applied, m: &Member) -> Option<String> {
    let msgs = a.body["properties"]["nonComplianceMessages"].as_array()?;
    let specific = msgs.iter().find(|x| {
        x["policyDefinitionReferenceId"].as_str().is_some_and(|r| {
            m.reference_id
                .as_deref()
                .is_some_and(|mr| mr.eq_ignore_ascii_case(r))
        })
    });
    let general = msgs.iter().find(|x| {
        x.get("policyDefinitionReferenceId")
            .is_none_or(Value::is_null)
    });
    specific
        .or(general)
        .and_then(|x| x["message"].as_str())
        .map(String::from)
}

fn violation(h: &Hit) -> Value {
    let a = &h.assignment;
    let m = &h.member;
    let mut info = Map::new();
    info.insert(
        "evaluationDetails".into(),
        json!({"evaluatedExpressions": h.outcome.evaluated}),
    );
    info.insert("policyDefinitionId".into(), json!(m.definition_id));
    info.insert(
        "policyDefinitionName".into(),
        json!(m.definition_id.rsplit('/').next().unwrap_or_default()),
    );
    info.insert("policyDefinitionDisplayName".into(), json!(m.display_name));
    info.insert("policyDefinitionVersion".into(), json!(m.version));
    info.insert(
        "policyDefinitionEffect".into(),
        json!(capitalized(h.outcome.effect.name())),
    );
    info.insert("policyAssignmentId".into(), json!(a.id));
    info.insert("policyAssignmentName".into(), json!(a.name));
    info.insert(
        "policyAssignmentDisplayName".into(),
        json!(a.body["properties"]["displayName"]
            .as_str()
            .unwrap_or_default()),
    );
    info.insert(
        "policyAssignmentScope".into(),
        json!(a.body["properties"]["scope"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| scope_of(&a.id))),
    );
    info.insert(
        "policyAssignmentParameters".into(),
        a.body["properties"]["parameters"]
            .as_object()
            .map(|p| Value::Object(p.clone()))
            .unwrap_or(json!({})),
    );
    if let Some(s) = &m.set_definition_id {
        info.insert("policySetDefinitionId".into(), json!(s));
        info.insert(
            "policySetDefinitionName".into(),
            json!(s.rsplit('/').next().unwrap_or_default()),
        );
        info.insert(
            "policySetDefinitionDisplayName".into(),
            json!(m.set_display_name),
        );
        info.insert("policySetDefinitionVersion".into(), json!(m.set_version));
        if let Some(r) = &m.reference_id {
            info.insert("policyDefinitionReferenceId".into(), json!(r));
        }
    }
    info.insert("policyExemptionIds".into(), json!([]));
    info.insert("policyEnrollmentIds".into(), json!([]));
    Value::Object(info)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn scope_of(assignment_id: &str) -> String {
    assignment_id
        .rsplit_once("/providers/Microsoft.Authorization/policyAssignments/")
        .map(|(s, _)| s.to_string())
        .unwrap_or_default()
}

fn policy_entry(h: &Hit, effect: &str) -> Value {
    json!([{
        "policyDefinitionId": h.member.definition_id,
        "policySetDefinitionId": h.member.set_definition_id.clone().unwrap_or_default(),
        "policyDefinitionReferenceId": h.member.reference_id.clone().unwrap_or_default(),
        "policySetDefinitionName": h.member.set_definition_id.as_deref().and_then(|s| s.rsplit('/').next()).unwrap_or_default(),
        "policyDefinitionName": h.member.definition_id.rsplit('/').next().unwrap_or_default(),
        "policyDefinitionEffect": capitalized(effect),
        "policyAssignmentId": h.assignment.id,
        "policyAssignmentName": h.assignment.name,
        "policyAssignmentScope": scope_of(&h.assignment.id),
        "policyAssignmentParameters": h.assignment.body["properties"]["parameters"].clone(),
    }])
}

/// A deny's Policy event (`Microsoft.Authorization/policies/deny/action`, level Error), from the
/// refusal's PolicyViolation entries: written beside the request's failed Administrative events.
pub fn record_deny(
    app: &App,
    snap: &Snapshot,
    caller: &Caller,
    id: &ResourceId,
    body: Option<&Value>,
    err: &ArmError,
) {
    if err.code != "RequestDisallowedByPolicy" {
        return;
    }
    let Some((rtype, _)) = target_kind(id) else {
        return;
    };
    let policies: Vec<Value> = err
        .extra
        .as_deref()
        .map(|x| x.2.iter().map(|i| i["info"].clone()).collect())
        .unwrap_or_default();
    let gate = Gate {
        body: None,
        notes: Vec::new(),
        resource: json!({"id": id.canonical(), "type": rtype,
            "location": body.and_then(|b| b.get("location")).cloned().unwrap_or(Value::Null)}),
        target: id.key(),
        ancestors: effective::group_ancestors(snap, id.subscription.as_deref().unwrap_or_default()),
        audits: Vec::new(),
        after: Vec::new(),
        api_version: String::new(),
        method: String::new(),
    };
    write_event(
        app,
        snap,
        caller,
        &gate,
        Value::Array(policies),
        "deny",
        "Error",
        "EndRequest",
    );
}

/// A Policy-category activity event (`Microsoft.Authorization/policies/{effect}/action`) in the
/// subscription's log: the caller and action of the request that triggered it ("Activity log event
/// schema": Policy category; audit is a Warning, a deployIfNotExists start a BeginRequest).
#[allow(clippy::too_many_arguments)]
fn write_event(
    app: &App,
    snap: &Snapshot,
    caller: &Caller,
    gate: &Gate,
    policies: Value,
    effect: &str,
    level: &str,
    event_name: &str,
) {
    if caller.platform {
        return;
    }
    let Ok(id) = ResourceId::parse(gate.resource["id"].as_str().unwrap_or_default()) else {
        return;
    };
    let Some(sub) = id
        .subscription
        .as_deref()
        .and_then(|s| snap.dir.subscription(s))
    else {
        return;
    };
    let now = app.clock.now();
    let ts = crate::clock::arm_time(now);
    let event_id = uuid::Uuid::new_v4().to_string();
    let operation = format!("Microsoft.Authorization/policies/{effect}/action");
    let canonical = id.canonical();
    let ancestors = gate
        .ancestors
        .iter()
        .rev()
        .map(|g| g.rsplit('/').next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let action = format!(
        "{}/write",
        gate.resource["type"].as_str().unwrap_or_default()
    );
    let ev = json!({
        "authorization": {"action": action, "scope": canonical},
        "caller": caller.client_name,
        "channels": "Operation",
        "claims": crate::activity::flatten_claims(&caller.claims.to_value()),
        "correlationId": event_id,
        "description": "",
        "eventDataId": event_id,
        "eventName": {"value": event_name, "localizedValue": if event_name == "BeginRequest" { "Begin request" } else { "End request" }},
        "category": {"value": "Policy", "localizedValue": "Policy"},
        "id": format!("{canonical}/events/{event_id}/ticks/{}", crate::activity::ticks(now)),
        "level": level,
        "resourceGroupName": id.resource_group.clone().unwrap_or_default(),
        "resourceProviderName": {"value": "Microsoft.Authorization", "localizedValue": "Microsoft Authorization"},
        "resourceId": canonical,
        "resourceType": {"value": gate.resource["type"], "localizedValue": gate.resource["type"]},
        "operationId": event_id,
        "operationName": {"value": operation, "localizedValue": operation},
        "properties": {
            "isComplianceCheck": "False",
            "resourceLocation": gate.resource["location"].as_str().unwrap_or_default(),
            "ancestors": ancestors,
            "policies": serde_json::to_string(&policies).unwrap_or_default(),
            "eventCategory": "Policy",
            "entity": canonical,
            "message": operation,
            "hierarchy": format!("{}/{}", sub.tenant_id.to_lowercase(), sub.subscription_id.to_lowercase()),
        },
        "status": {"value": if event_name == "BeginRequest" { "Started" } else { "Succeeded" }, "localizedValue": if event_name == "BeginRequest" { "Started" } else { "Succeeded" }},
        "subStatus": {"value": "", "localizedValue": ""},
        "eventTimestamp": ts,
        "submissionTimestamp": ts,
        "subscriptionId": sub.subscription_id.to_lowercase(),
        "tenantId": sub.tenant_id.to_lowercase(),
    });
    let subkey = sub.subscription_id.to_lowercase();
    if let Err(e) = app.store.write(|tx| {
        tx.append_activity(&subkey, &ts, &event_id, &ev)?;
        crate::monitor::on_activity(tx, &subkey, &[&ev], now)
    }) {
        tracing::error!(error = %e, "policy activity event not written");
    }
}

/// For `POST /_emulator/explain`: what the policies in force would do to this request — refuse it
/// (`denies`, with the assignment and definition), or change or audit it — without running it.
pub fn explain(
    app: &App,
    snap: &Snapshot,
    method: &str,
    id: &ResourceId,
    body: Option<&Value>,
) -> (Vec<Value>, bool) {
    let verdict = match method {
        "DELETE" => before_delete(app, snap, id, "").map(|_| None),
        "PUT" | "PATCH" => before_write(app, snap, method, id, "", body),
        _ => Ok(None),
    };
    match verdict {
        Err(e) => {
            let assignments: Vec<Value> = e
                .extra
                .as_deref()
                .map(|x| {
                    x.2.iter()
                        .map(|i| json!({"policyAssignmentId": i["info"]["policyAssignmentId"], "policyDefinitionId": i["info"]["policyDefinitionId"], "effect": i["info"]["policyDefinitionEffect"]}))
                        .collect()
                })
                .unwrap_or_default();
            (
                vec![json!({"kind": "policy", "effect": "denies", "code": e.code, "message": e.message, "policies": assignments})],
                true,
            )
        }
        Ok(Some(g)) => (
            g.notes
                .iter()
                .map(|n| {
                    let effect = if n.starts_with("audited") { "audits" } else { "changes" };
                    json!({"kind": "policy", "effect": effect, "message": format!("The request is {n}.")})
                })
                .collect(),
            false,
        ),
        Ok(None) => (Vec::new(), false),
    }
}

//! Remediations at any scope: create/update, get, list, delete, cancel, listDeployments. A remediation
//! is stored `Accepted` and runs at its next read (GET, list, listDeployments): the non-compliant
//! resources of its assignment (and reference id) within its scope — `filters.locations`,
//! `filters.resourceIds`, `resourceCount` applied — each get the `deployIfNotExists` deployment
//! (`details.deployment` at `deploymentScope`) or the `modify` operations, as requests of the
//! assignment's managed identity through `RunAs`, so its own role assignments decide. Then
//! `Succeeded`, or `Failed` when the failed share passes `failureThreshold`. Follows remediations.json
//! (2024-10-01) and its examples.

use serde_json::{json, Map, Value};

use super::states::{self, Hit};
use super::{list_reply, parse_eq_filter, scope_of, stored_row, Cx, PolicySet, RunAs};
use crate::arm::error::ArmError;
use crate::arm::policyinsights_route::InsightsOp;
use crate::arm::resource_id::{is_at_or_above, ResourceId};
use crate::policy::Effect;
use crate::store::Store;
use crate::wire::Reply;

const TYPE: &str = "Microsoft.PolicyInsights/remediations";
const TYPE_L: &str = "microsoft.policyinsights/remediations";
/// Where the deployments of a remediation are kept in its stored body (never returned).
const DEPLOYMENTS: &str = "_deployments";
/// The api-version of the deployments a remediation makes.
const DEPLOYMENT_API: &str = "2021-04-01";

fn invalid(message: String) -> ArmError {
    // Code from Azure's remediation errors ("InvalidCreateRemediationRequest" in azure-cli issues);
    // the texts are the emulator's.
    ArmError::new("InvalidCreateRemediationRequest", message).with_status(400)
}

/// The remediation id of the request (for listDeployments and cancel, without the action).
fn remediation_id(cx: &Cx) -> ResourceId {
    let mut id = cx.id.clone();
    if let Some(p) = id.providers.last_mut() {
        p.types.truncate(1);
    }
    id
}

fn public(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.remove(DEPLOYMENTS);
    }
    body
}

fn not_found(cx: &Cx) -> ArmError {
    // Azure answers a missing remediation with 404 RemediationNotFound (azure-rest-api-specs issues).
    let name = remediation_id(cx).name().unwrap_or_default().to_string();
    ArmError::new(
        "RemediationNotFound",
        format!("The remediation '{name}' could not be found."),
    )
    .with_status(404)
}

/// Remediations_CreateOrUpdateAt*.
pub fn remediations_create_or_update(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
) -> Result<Reply, ArmError> {
    let body = cx.object_body()?;
    let empty = Map::new();
    let p = body
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let Some(aid) = p
        .get("policyAssignmentId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(invalid(
            "The remediation request must name a 'policyAssignmentId'.".into(),
        ));
    };
    let Some(a) = set
        .assignments
        .iter()
        .find(|a| a.id.eq_ignore_ascii_case(aid))
    else {
        return Err(ArmError::new(
            "PolicyAssignmentNotFound",
            format!("The policy assignment '{aid}' is not found."),
        )
        .with_status(404));
    };
    let reference = p
        .get("policyDefinitionReferenceId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let initiative = a.members.iter().any(|m| m.set_definition_id.is_some());
    let member = match (initiative, reference) {
        (true, None) => {
            return Err(invalid(format!("The policy assignment '{aid}' assigns a policy set definition: the remediation must name a 'policyDefinitionReferenceId'.")))
        }
        (true, Some(r)) => a
            .members
            .iter()
            .find(|m| m.reference_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(r)))
            .ok_or_else(|| invalid(format!("The policy definition reference '{r}' is not part of the policy set definition of assignment '{aid}'.")))?,
        (false, _) => &a.members[0],
    };
    // (an override by reference id counts; one by resource location or type is the resource's)
    let effect = a.effect_for(member, "", None);
    if !matches!(effect, Some(Effect::DeployIfNotExists | Effect::Modify)) {
        return Err(invalid(format!("The policy definition '{}' of assignment '{aid}' has effect '{}': only 'deployIfNotExists' and 'modify' policies can be remediated.", member.definition_id, effect.map(Effect::name).unwrap_or("unknown"))));
    }
    let mode = match p.get("resourceDiscoveryMode").and_then(Value::as_str) {
        None => "ExistingNonCompliant",
        Some(m) if m.eq_ignore_ascii_case("ExistingNonCompliant") => "ExistingNonCompliant",
        Some(m) if m.eq_ignore_ascii_case("ReEvaluateCompliance") => "ReEvaluateCompliance",
        Some(m) => {
            return Err(invalid(format!("The resource discovery mode '{m}' is not valid: use 'ExistingNonCompliant' or 'ReEvaluateCompliance'.")))
        }
    };
    let id = remediation_id(cx);
    let existing = store.get(&id.key())?;
    if let Some(e) = &existing {
        let state = e.body["properties"]["provisioningState"]
            .as_str()
            .unwrap_or_default();
        if matches!(state, "Accepted" | "Evaluating") {
            return Err(ArmError::conflict(format!(
                "The remediation '{}' is in progress and cannot be updated.",
                id.name().unwrap_or_default()
            )));
        }
    }
    let created = existing
        .as_ref()
        .map(|e| e.body["properties"]["createdOn"].clone())
        .unwrap_or_else(|| json!(cx.now_str()));
    let mut props = json!({
        "policyAssignmentId": a.id,
        "resourceDiscoveryMode": mode,
        "provisioningState": "Accepted",
        "createdOn": created,
        "lastUpdatedOn": cx.now_str(),
        "deploymentStatus": {"totalDeployments": 0, "successfulDeployments": 0, "failedDeployments": 0},
        "statusMessage": "Remediation accepted",
        "correlationId": cx.new_id,
        "resourceCount": p.get("resourceCount").cloned().unwrap_or(json!(500)),
        "parallelDeployments": p.get("parallelDeployments").cloned().unwrap_or(json!(10)),
    });
    if let Some(r) = reference {
        props["policyDefinitionReferenceId"] = json!(r);
    }
    for k in ["filters", "failureThreshold"] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            props[k] = v.clone();
        }
    }
    let out = json!({
        "id": id.canonical(),
        "name": id.name().unwrap_or_default(),
        "type": TYPE,
        "properties": props,
        "systemData": cx.system_data(existing.as_ref().map(|e| &e.body["systemData"])),
    });
    store.write(|tx| tx.put(&stored_row(&id, TYPE, out.clone())))?;
    Ok(Reply::json(
        if existing.is_some() { 200 } else { 201 },
        &out,
    ))
}

/// Run an `Accepted` remediation now and store the outcome; any other is returned as stored.
fn settle(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
    run_as: &RunAs,
    mut body: Value,
) -> Result<Value, ArmError> {
    if body["properties"]["provisioningState"] != "Accepted" {
        return Ok(body);
    }
    let id = ResourceId::parse(body["id"].as_str().unwrap_or_default())
        .map_err(|_| ArmError::internal())?;
    let p = body["properties"].clone();
    let aid = p["policyAssignmentId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reference = p["policyDefinitionReferenceId"]
        .as_str()
        .map(str::to_lowercase);
    let mut scope = scope_of(cx, &InsightsOp::scope(&id));
    scope.assignment = Some(aid.clone());
    let stamp = crate::clock::arm_time(cx.now);
    let count = p["resourceCount"].as_u64().unwrap_or(500) as usize;
    let locations: Vec<String> = p["filters"]["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|l| l.to_lowercase().replace(' ', ""))
        .collect();
    let resource_ids: Vec<String> = p["filters"]["resourceIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_lowercase)
        .collect();
    // (record, effect, details, identity) of each resource to remediate
    let mut chosen: Vec<Chosen> = Vec::new();
    states::compute(store, cx.snap, set, &scope, cx.now, &mut |h: Hit| {
        if chosen.len() >= count
            || h.compliance != "NonCompliant"
            || !matches!(h.effect, Effect::DeployIfNotExists | Effect::Modify)
        {
            return;
        }
        let r = h.member.reference_id.as_deref().unwrap_or_default();
        if reference
            .as_deref()
            .is_some_and(|x| !r.eq_ignore_ascii_case(x))
        {
            return;
        }
        let record = h.record(&stamp);
        let l = record["resourceLocation"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let id = record["resourceId"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        if (!locations.is_empty() && !locations.contains(&l))
            || (!resource_ids.is_empty() && !resource_ids.contains(&id))
        {
            return;
        }
        chosen.push(Chosen {
            record,
            effect: h.effect,
            details: h.details.clone(),
            identity: h.applied.identity.clone(),
        });
    })?;
    let mut deployments = Vec::new();
    for (i, s) in chosen.iter().enumerate() {
        deployments.push(remediate(cx, store, run_as, &id, i, s));
    }
    let failed = deployments
        .iter()
        .filter(|d| d["status"] == "Failed")
        .count();
    let total = deployments.len();
    // failureThreshold.percentage: the remediation fails when the failed share passes it; without one,
    // when any deployment failed.
    let failed_state = match p["failureThreshold"]["percentage"].as_f64() {
        Some(t) => total > 0 && (failed as f64 / total as f64) > t,
        None => failed > 0,
    };
    let state = if failed_state { "Failed" } else { "Succeeded" };
    body["properties"]["provisioningState"] = json!(state);
    body["properties"]["deploymentStatus"] = json!({"totalDeployments": total,
        "successfulDeployments": total - failed, "failedDeployments": failed});
    body["properties"]["statusMessage"] = json!(format!(
        "Remediation {}: {} of {total} deployments succeeded",
        state.to_lowercase(),
        total - failed
    ));
    body["properties"]["lastUpdatedOn"] = json!(cx.now_str());
    body[DEPLOYMENTS] = Value::Array(deployments);
    store.write(|tx| tx.put(&stored_row(&id, TYPE, body.clone())))?;
    Ok(body)
}

/// A resource a remediation acts on.
struct Chosen {
    record: Map<String, Value>,
    effect: Effect,
    details: Value,
    identity: Option<(String, String)>,
}

/// One resource's remediation: the deployment or the modify, as the identity. The listDeployments item.
fn remediate(
    cx: &Cx,
    store: &Store,
    run_as: &RunAs,
    remediation: &ResourceId,
    index: usize,
    s: &Chosen,
) -> Value {
    let identity = s.identity.as_ref();
    let rid = s.record["resourceId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let location = s.record["resourceLocation"].clone();
    let mut item = json!({"remediatedResourceId": rid, "deploymentId": "", "status": "Failed",
        "resourceLocation": location, "createdOn": cx.now_str(), "lastUpdatedOn": cx.now_str()});
    let fail = |mut item: Value, error: Value| {
        item["error"] = error;
        item
    };
    let Some((pid, tid)) = identity else {
        return fail(
            item,
            json!({"code": "MissingPolicyAssignmentIdentity", "message": "The policy assignment has no managed identity to remediate with."}),
        );
    };
    let target = ResourceId::parse(&rid).unwrap_or_default();
    let sub = target.subscription.clone().unwrap_or_default();
    let (method, path, req_body) = if s.effect == Effect::DeployIfNotExists {
        let d = member(&s.details, "deployment")
            .cloned()
            .unwrap_or(Value::Null);
        let at_sub = member(&s.details, "deploymentScope")
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case("subscription"));
        let name = crate::template::hash::guid(&[
            remediation.key(),
            rid.to_lowercase(),
            index.to_string(),
        ]);
        let mut b = json!({"properties": d.get("properties").cloned().unwrap_or(json!({}))});
        let path = if at_sub {
            b["location"] = d
                .get("location")
                .cloned()
                .filter(|l| l.is_string())
                .unwrap_or_else(|| {
                    if location.as_str().is_some_and(|l| !l.is_empty()) {
                        location.clone()
                    } else {
                        json!("westus")
                    }
                });
            format!("/subscriptions/{sub}/providers/Microsoft.Resources/deployments/{name}")
        } else {
            let Some(rg) = target.resource_group.clone() else {
                return fail(
                    item,
                    json!({"code": "InvalidDeploymentScope", "message": format!("The resource '{rid}' is not in a resource group: its deployIfNotExists deployment needs 'deploymentScope' 'subscription'.")}),
                );
            };
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}")
        };
        item["deploymentId"] = json!(path);
        ("PUT", format!("{path}?api-version={DEPLOYMENT_API}"), b)
    } else {
        let Ok(Some(row)) = store.get(&target.key()) else {
            return fail(
                item,
                json!({"code": "ResourceNotFound", "message": format!("The resource '{rid}' was not found.")}),
            );
        };
        let ops = member(&s.details, "operations")
            .cloned()
            .unwrap_or(json!([]));
        let conflict = member(&s.details, "conflictEffect").and_then(Value::as_str);
        let changed = match crate::policy::apply_modify(&row.body, &ops, conflict) {
            Ok(m) => m.body,
            Err(c) => {
                return fail(
                    item,
                    json!({"code": "PolicyModifyConflict", "message": c.message}),
                )
            }
        };
        let api = api_version_for(&target);
        item["deploymentId"] = json!(rid);
        ("PUT", format!("{rid}?api-version={api}"), changed)
    };
    let reply = run_as(pid, tid, method, &path, Some(&req_body));
    let rbody: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if reply.status >= 400 {
        let e = rbody.get("error").cloned().unwrap_or(json!({"code": crate::wire::status_name(reply.status), "message": String::from_utf8_lossy(&reply.body)}));
        return fail(item, e);
    }
    // a deployment answers Accepted and has already run: its stored outcome says how it went
    let done = if s.effect == Effect::DeployIfNotExists {
        let key = ResourceId::parse(item["deploymentId"].as_str().unwrap_or_default())
            .map(|d| d.key())
            .unwrap_or_default();
        match store.get(&key) {
            Ok(Some(row)) => row.body.clone(),
            _ => rbody,
        }
    } else {
        rbody
    };
    if done["properties"]["provisioningState"] == "Failed" {
        let e = done["properties"]["error"].clone();
        return fail(item, e);
    }
    item["status"] = json!("Succeeded");
    item
}

/// The api-version a modify's PUT uses: the type's newest stable one the catalogue knows.
fn api_version_for(id: &ResourceId) -> String {
    let Some(t) = id.full_type() else {
        return "2021-04-01".into();
    };
    let (ns, rest) = t.split_once('/').unwrap_or((&t, ""));
    let versions = super::api_versions(ns, rest);
    versions
        .iter()
        .filter(|v| !v.contains("preview"))
        .max()
        .or(versions.iter().max())
        .map(|v| v.to_string())
        .unwrap_or_else(|| "2021-04-01".into())
}

fn member<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn stored(cx: &Cx, store: &Store) -> Result<Value, ArmError> {
    let id = remediation_id(cx);
    store
        .get(&id.key())?
        .map(|r| r.body.clone())
        .ok_or_else(|| not_found(cx))
}

/// Remediations_GetAt*: runs an accepted remediation first.
pub fn remediations_get(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
    run_as: &RunAs,
) -> Result<Reply, ArmError> {
    let body = settle(cx, store, set, run_as, stored(cx, store)?)?;
    Ok(Reply::json(200, &public(body)))
}

/// Remediations_DeleteAt*: 200 with the deleted remediation, 204 when there was none.
pub fn remediations_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let id = remediation_id(cx);
    let Some(row) = store.get(&id.key())? else {
        return Ok(Reply::empty(204));
    };
    let body = row.body.clone();
    store.write(|tx| tx.delete(&id.key()))?;
    Ok(Reply::json(200, &public(body)))
}

/// Remediations_ListFor*: those at or below the scope, `$filter` on `PolicyAssignmentId` and
/// `PolicyDefinitionReferenceId` (eq, and), `$top`.
pub fn remediations_list(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
    run_as: &RunAs,
) -> Result<Reply, ArmError> {
    let scope = cx.id.scope_of_last_part().key();
    let mut wanted: Vec<(String, String)> = Vec::new();
    if let Some(f) = cx
        .req
        .query("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        for (k, v) in parse_eq_filter(f).ok_or_else(|| ArmError::invalid_filter(f))? {
            let k = k.to_ascii_lowercase();
            if k != "policyassignmentid" && k != "policydefinitionreferenceid" {
                return Err(ArmError::invalid_filter(f));
            }
            wanted.push((k, v.to_lowercase()));
        }
    }
    let rows = store.read(|tx| tx.by_type(TYPE_L, None, None))?;
    let mut items = Vec::new();
    for r in rows {
        if !is_at_or_above(&scope, &r.parent) {
            continue;
        }
        let p = &r.body["properties"];
        let ok = wanted.iter().all(|(k, v)| {
            let field = if k == "policyassignmentid" {
                "policyAssignmentId"
            } else {
                "policyDefinitionReferenceId"
            };
            p[field].as_str().is_some_and(|x| x.eq_ignore_ascii_case(v))
        });
        if ok {
            items.push(public(settle(cx, store, set, run_as, r.body)?));
        }
    }
    Ok(list_reply(cx, items))
}

/// Remediations_CancelAt*: an accepted remediation is cancelled before it runs (answered
/// `Cancelling`, stored `Cancelled`); a finished one cannot be (Azure answers 400, as the terraform
/// provider's #16478 records).
pub fn remediations_cancel(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut body = stored(cx, store)?;
    let state = body["properties"]["provisioningState"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if state != "Accepted" && state != "Evaluating" {
        return Err(ArmError::new(
            "InvalidCancelRemediationRequest",
            format!(
                "The remediation '{}' is in state '{state}' and cannot be cancelled.",
                remediation_id(cx).name().unwrap_or_default()
            ),
        )
        .with_status(400));
    }
    body["properties"]["lastUpdatedOn"] = json!(cx.now_str());
    body["properties"]["provisioningState"] = json!("Cancelled");
    let id = remediation_id(cx);
    store.write(|tx| tx.put(&stored_row(&id, TYPE, body.clone())))?;
    body["properties"]["provisioningState"] = json!("Cancelling");
    Ok(Reply::json(200, &public(body)))
}

/// Remediations_ListDeploymentsAt*: each resource's deployment (or modify), `$top`.
pub fn remediations_list_deployments(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
    run_as: &RunAs,
) -> Result<Reply, ArmError> {
    let body = settle(cx, store, set, run_as, stored(cx, store)?)?;
    let items = body[DEPLOYMENTS].as_array().cloned().unwrap_or_default();
    Ok(list_reply(cx, items))
}

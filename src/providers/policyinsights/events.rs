//! Policy events (policyEvents.json `PolicyEvent`, 2024-10-01): one record per policy of each
//! Policy-category activity event the request pipeline wrote (`policy_gate`: audit, deny,
//! auditIfNotExists, deployIfNotExists) in the query's window and scope — the events of the writes
//! that evaluated a policy, as Azure keeps them. Reads the activity log; never answers HTTP.
//! Docs: "Get compliance data of Azure resources" (policy events).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::odata::Filter;
use super::Scope;
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::clock::arm_time;
use crate::store::Store;

const OID_CLAIM: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/// The text of a JSON value as a PolicyEvent string property carries it (`""` for none).
fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn last(s: &str) -> String {
    s.rsplit('/').next().unwrap_or_default().to_string()
}

/// Does the event's resource fall in the scope's group or resource?
fn in_scope(scope: &Scope, ev: &Value) -> bool {
    let rid = ev["resourceId"].as_str().unwrap_or_default().to_lowercase();
    let group = ev["resourceGroupName"].as_str().unwrap_or_default();
    scope
        .resource_group
        .as_ref()
        .is_none_or(|g| group.eq_ignore_ascii_case(g))
        && scope.resource.as_ref().is_none_or(|r| {
            rid == *r || (rid.starts_with(r.as_str()) && rid.as_bytes().get(r.len()) == Some(&b'/'))
        })
}

/// Does one entry of the event's `policies` belong to the scope's assignment or definition?
fn policy_in_scope(scope: &Scope, p: &Value) -> bool {
    let s = |k: &str| p[k].as_str().unwrap_or_default();
    scope
        .assignment
        .as_ref()
        .is_none_or(|a| s("policyAssignmentId").eq_ignore_ascii_case(a))
        && scope
            .definition
            .as_ref()
            .is_none_or(|d| last(s("policyDefinitionId")).eq_ignore_ascii_case(d))
        && scope
            .set_definition
            .as_ref()
            .is_none_or(|d| last(s("policySetDefinitionId")).eq_ignore_ascii_case(d))
}

/// The PolicyEvent of one policy of an activity event.
fn record(ev: &Value, p: &Value) -> Map<String, Value> {
    let rid = ev["resourceId"].as_str().unwrap_or_default();
    let parsed = ResourceId::parse(rid).ok();
    let props = &ev["properties"];
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let effect = s("policyDefinitionEffect").to_ascii_lowercase();
    let v = json!({
        "@odata.id": null,
        "timestamp": ev["eventTimestamp"],
        "resourceId": rid,
        "policyAssignmentId": s("policyAssignmentId"),
        "policyDefinitionId": s("policyDefinitionId"),
        "effectiveParameters": "",
        // the events the pipeline writes are each a policy's finding against the request
        "isCompliant": false,
        "subscriptionId": ev["subscriptionId"],
        "resourceType": ev["resourceType"]["value"],
        "resourceLocation": text_of(&props["resourceLocation"]),
        "resourceGroup": parsed.as_ref().and_then(|r| r.resource_group.clone()).unwrap_or_default(),
        "resourceTags": "",
        "policyAssignmentName": s("policyAssignmentName"),
        "policyAssignmentOwner": "tbd",
        "policyAssignmentParameters": text_of(&p["policyAssignmentParameters"]),
        "policyAssignmentScope": s("policyAssignmentScope"),
        "policyDefinitionName": s("policyDefinitionName"),
        "policyDefinitionAction": effect,
        "policyDefinitionCategory": "tbd",
        "policySetDefinitionId": s("policySetDefinitionId"),
        "policySetDefinitionName": s("policySetDefinitionName"),
        "policySetDefinitionOwner": "",
        "policySetDefinitionCategory": "",
        "policySetDefinitionParameters": "",
        "managementGroupIds": text_of(&props["ancestors"]),
        "policyDefinitionReferenceId": s("policyDefinitionReferenceId"),
        "complianceState": "NonCompliant",
        "tenantId": ev["tenantId"],
        "principalOid": ev["claims"][OID_CLAIM],
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The events of `scope` between `from` and `to` that `keep` keeps, newest first.
pub fn records(
    store: &Store,
    scope: &Scope,
    from: OffsetDateTime,
    to: OffsetDateTime,
    keep: Option<&Filter>,
) -> Result<Vec<Map<String, Value>>, ArmError> {
    let (from, to) = (arm_time(from), arm_time(to));
    let mut out = Vec::new();
    for sub in &scope.subscriptions {
        let events = store.read(|tx| tx.activity(sub, &from, &to))?;
        for ev in events {
            if ev["category"]["value"] != "Policy" || !in_scope(scope, &ev) {
                continue;
            }
            let policies: Vec<Value> = ev["properties"]["policies"]
                .as_str()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            for p in policies.iter().filter(|p| policy_in_scope(scope, p)) {
                let r = record(&ev, p);
                if keep.is_none_or(|f| f.matches(&r)) {
                    out.push(r);
                }
            }
        }
    }
    out.sort_by(|a, b| {
        b["timestamp"]
            .as_str()
            .unwrap_or_default()
            .cmp(a["timestamp"].as_str().unwrap_or_default())
    });
    Ok(out)
}

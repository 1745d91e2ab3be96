//! Microsoft.PolicyInsights: policy states (`queryResults`, `summarize`, `triggerEvaluation`) computed
//! from the store and kept until a write changes them (`states`), their OData options (`odata`), remediations
//! (`remediations`) that run a `deployIfNotExists` deployment or a `modify` as the assignment's managed
//! identity through `RunAs`. Never touches HTTP or tokens: the identity's requests re-enter the
//! pipeline through the hook dispatch hands in. Follows policyStates.json and remediations.json
//! (2024-10-01) and their examples.

pub mod odata;
pub mod remediations;
pub mod states;

use serde_json::{json, Map, Value};

// the policies in force come from the shared loader (`policy::effective`, the one issue 11 reads
// them through); the shared helpers of `providers`, also for `states` and `remediations`
use super::catalog::api_versions;
pub use super::policy::effective::{
    context_for, group_ancestors, location_of, Applied, Member, PolicySet,
};
use super::{list_reply, operation_for, parse_eq_filter, stored_row, Cx, OPERATION_OWNER};
use crate::arm::error::ArmError;
use crate::arm::policyinsights_route::InsightsOp;
use crate::arm::resource_id::ResourceId;
use crate::store::Store;
use crate::wire::Reply;

pub use states::{Hit, Scope};

/// Run a request through the whole pipeline as a managed identity: (principal id, tenant id, method,
/// path and query, body).
pub type RunAs<'a> = dyn Fn(&str, &str, &str, &str, Option<&Value>) -> Reply + 'a;

/// The one entry point from dispatch: the handler named after the operation.
pub fn run(
    op: InsightsOp,
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
    run_as: &RunAs,
) -> Result<Reply, ArmError> {
    use InsightsOp::*;
    match op {
        PolicyStatesListQueryResults => policy_states_list_query_results(cx, store, set),
        PolicyStatesSummarize => policy_states_summarize(cx, store, set),
        PolicyStatesTriggerEvaluation => policy_states_trigger_evaluation(cx, store, set),
        PolicyStatesAsyncOperationResults => policy_states_async_operation_results(cx, store),
        RemediationsCreateOrUpdate => remediations::remediations_create_or_update(cx, store, set),
        RemediationsGet => remediations::remediations_get(cx, store, set, run_as),
        RemediationsDelete => remediations::remediations_delete(cx, store),
        RemediationsList => remediations::remediations_list(cx, store, set, run_as),
        RemediationsCancel => remediations::remediations_cancel(cx, store),
        RemediationsListDeployments => {
            remediations::remediations_list_deployments(cx, store, set, run_as)
        }
    }
}

/// A refusal of a query option. Code and text are the emulator's: Azure's own were not found in
/// public material.
fn bad_query(option: &str, why: &str) -> ArmError {
    ArmError::new(
        "InvalidQueryParameterValue",
        format!("The value of the query parameter '{option}' is not valid: {why}."),
    )
    .with_status(400)
}

/// The `Scope` a request's id names (the id without its PolicyInsights part): a management group, a
/// subscription, a resource group, a resource, or an assignment / definition / set definition.
pub fn scope_of(cx: &Cx, scope: &ResourceId) -> Scope {
    let mut out = Scope::default();
    let mut base = scope.clone();
    if let Some(last) = scope.last() {
        let t = last.types[0].0.to_ascii_lowercase();
        let name = last.types[0].1.clone().unwrap_or_default();
        if last
            .namespace
            .eq_ignore_ascii_case("Microsoft.Authorization")
            && last.types.len() == 1
        {
            let hit = match t.as_str() {
                "policyassignments" => {
                    out.assignment = Some(scope.canonical());
                    true
                }
                "policydefinitions" => {
                    out.definition = Some(name);
                    true
                }
                "policysetdefinitions" => {
                    out.set_definition = Some(name);
                    true
                }
                _ => false,
            };
            if hit {
                base.providers.pop();
            }
        }
    }
    if let Some(g) = base.management_group() {
        if base.providers.len() == 1 {
            out.subscriptions = cx
                .snap
                .groups
                .descendants(g)
                .1
                .into_iter()
                .map(|s| s.to_lowercase())
                .collect();
            return out;
        }
    }
    if let Some(s) = base.subscription.as_deref().filter(|s| !s.is_empty()) {
        out.subscriptions = vec![s.to_lowercase()];
    }
    if !base.providers.is_empty() {
        out.resource = Some(base.key());
    } else if let Some(rg) = &base.resource_group {
        out.resource_group = Some(rg.to_lowercase());
    }
    out
}

/// The records of the request's scope that `keep` keeps, ordered by resource id, assignment id and
/// reference id, with only the properties `only` names (every one when `None`) beside those `keep`
/// reads.
fn records(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
    keep: Option<&odata::Filter>,
    only: Option<Vec<&'static str>>,
) -> Result<Vec<Map<String, Value>>, ArmError> {
    let scope = scope_of(cx, &InsightsOp::scope(cx.id));
    let stamp = crate::clock::arm_time(cx.now);
    let only = only.map(|mut o| {
        if let Some(f) = keep {
            o.extend(known_fields(&f.fields()));
        }
        o.sort_by_key(|f| states::FIELDS.iter().position(|x| x == f));
        o.dedup();
        o
    });
    let mut out = Vec::new();
    states::compute(store, cx.snap, set, &scope, cx.now, &mut |h| {
        let r = h.record_only(&stamp, only.as_deref());
        if keep.is_none_or(|f| f.matches(&r)) {
            out.push(r);
        }
    })?;
    Ok(out)
}

/// The record properties among `names` (matched without regard to case), in `FIELDS`' spelling.
fn known_fields(names: &[String]) -> Vec<&'static str> {
    names
        .iter()
        .filter_map(|n| {
            states::FIELDS
                .iter()
                .find(|f| f.eq_ignore_ascii_case(n))
                .copied()
        })
        .collect()
}

/// The record properties a query reads, `None` when its answer shows whole records: a `$apply`
/// that groups or aggregates reads only what its steps up to that one name; a `$select` only the
/// selected properties and those filtered or ordered on.
fn read_fields(
    apply: &[odata::Step],
    orderby: &[(String, bool)],
    select: Option<&[String]>,
) -> Option<Vec<&'static str>> {
    let mut names = Vec::new();
    for s in apply {
        names.extend(s.fields());
        if !matches!(s, odata::Step::Filter(_)) {
            return Some(known_fields(&names));
        }
    }
    let select = select?;
    names.extend(select.iter().cloned());
    names.extend(orderby.iter().map(|(f, _)| f.clone()));
    Some(known_fields(&names))
}

/// `{base}{scope}/providers/Microsoft.PolicyInsights/policyStates/$metadata`.
fn metadata(cx: &Cx) -> String {
    let scope = InsightsOp::scope(cx.id).canonical();
    format!(
        "{}{scope}/providers/Microsoft.PolicyInsights/policyStates/$metadata",
        cx.base_url
    )
}

fn policy_states_resource(cx: &Cx) -> String {
    cx.id
        .last()
        .and_then(|p| p.types[0].1.clone())
        .unwrap_or_else(|| "latest".into())
        .to_ascii_lowercase()
}

fn top(cx: &Cx) -> Result<Option<usize>, ArmError> {
    match cx.req.query("$top") {
        None => Ok(None),
        Some(t) => t
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| bad_query("$top", "it must be a non-negative integer")),
    }
}

fn filter_of(cx: &Cx) -> Result<Option<odata::Filter>, ArmError> {
    match cx
        .req
        .query("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        None => Ok(None),
        Some(f) => odata::parse_filter(f)
            .map(Some)
            .map_err(|e| bad_query("$filter", &e)),
    }
}

fn check_time(cx: &Cx, option: &str) -> Result<(), ArmError> {
    if let Some(t) = cx
        .req
        .query(option)
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let fmt = &time::format_description::well_known::Rfc3339;
        let ok = time::OffsetDateTime::parse(t, fmt).is_ok()
            || time::OffsetDateTime::parse(&format!("{t}Z"), fmt).is_ok()
            || time::OffsetDateTime::parse(&format!("{}Z", t.replacen(' ', "T", 1)), fmt).is_ok()
            || time::OffsetDateTime::parse(&t.replacen(' ', "T", 1), fmt).is_ok();
        if !ok {
            return Err(bad_query(option, "it must be an ISO 8601 date and time"));
        }
    }
    Ok(())
}

/// PolicyStates_ListQueryResultsFor*: the states of the scope through `$filter`, `$apply`,
/// `$orderby`, `$top`, `$select` (`$from`/`$to` checked: every state is the latest, stamped now).
pub fn policy_states_list_query_results(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
) -> Result<Reply, ArmError> {
    check_time(cx, "$from")?;
    check_time(cx, "$to")?;
    let filter = filter_of(cx)?;
    let apply = match cx
        .req
        .query("$apply")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        None => Vec::new(),
        Some(a) => odata::parse_apply(a).map_err(|e| bad_query("$apply", &e))?,
    };
    let orderby = match cx
        .req
        .query("$orderby")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        None => Vec::new(),
        Some(o) => odata::parse_orderby(o).map_err(|e| bad_query("$orderby", &e))?,
    };
    let top = top(cx)?;
    let select: Option<Vec<String>> = cx
        .req
        .query("$select")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(|f| f.trim().to_string()).collect());
    let only = read_fields(&apply, &orderby, select.as_deref());
    let rows = records(cx, store, set, filter.as_ref(), only)?;
    let mut rows = odata::apply(&apply, rows);
    odata::sort(&mut rows, &orderby);
    if let Some(t) = top {
        rows.truncate(t);
    }
    let meta = metadata(cx);
    let res = policy_states_resource(cx);
    let entity = format!("{meta}#{res}/$entity");
    let value: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let r = match &select {
                Some(s) => odata::select(r, s),
                None => r,
            };
            let mut m = Map::new();
            m.insert("@odata.id".into(), Value::Null);
            m.insert("@odata.context".into(), json!(entity));
            m.extend(r.into_iter().filter(|(k, _)| k != "@odata.id"));
            Value::Object(m)
        })
        .collect();
    Ok(Reply::json(
        200,
        // (every state in one page: `@odata.nextLink` null, as the examples show a last page)
        &json!({"@odata.context": format!("{meta}#{res}"), "@odata.count": value.len(), "@odata.nextLink": null, "value": value}),
    ))
}

/// Counts by compliance state of distinct keys: a key's state is NonCompliant if any of its records
/// is, else Compliant if any is, else Exempt.
fn details_by<'r>(
    rows: &[&'r Map<String, Value>],
    keys: impl Fn(&'r Map<String, Value>) -> Vec<String>,
) -> (Vec<Value>, usize) {
    let mut worst: std::collections::BTreeMap<String, u8> = Default::default();
    for r in rows {
        let rank = match r["complianceState"].as_str().unwrap_or_default() {
            "NonCompliant" => 2,
            "Compliant" => 1,
            _ => 0,
        };
        for k in keys(r) {
            let e = worst.entry(k).or_insert(rank);
            *e = (*e).max(rank);
        }
    }
    let count = |n: u8| worst.values().filter(|v| **v == n).count();
    let mut out = Vec::new();
    for (n, name) in [(1, "compliant"), (2, "noncompliant"), (0, "exempt")] {
        let c = count(n);
        if c > 0 {
            out.push(json!({"complianceState": name, "count": c}));
        }
    }
    (out, count(2))
}

fn summary_results(cx: &Cx, rows: &[&Map<String, Value>], extra_filter: &str) -> Value {
    let lower = |r: &Map<String, Value>, k: &str| r[k].as_str().unwrap_or_default().to_lowercase();
    let (resource_details, non_compliant_resources) =
        details_by(rows, |r| vec![lower(r, "resourceId")]);
    let (policy_details, non_compliant_policies) = details_by(rows, |r| {
        vec![format!(
            "{}|{}|{}",
            lower(r, "policyAssignmentId"),
            lower(r, "policyDefinitionId"),
            lower(r, "policyDefinitionReferenceId")
        )]
    });
    let (group_details, _) = details_by(rows, group_names);
    let scope = InsightsOp::scope(cx.id).canonical();
    let filter = if extra_filter.is_empty() {
        "IsCompliant eq false".to_string()
    } else {
        format!("IsCompliant eq false and {extra_filter}")
    };
    json!({
        "queryResultsUri": format!("{}{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version={}&$filter={filter}", cx.base_url, cx.api_version),
        "nonCompliantResources": non_compliant_resources,
        "nonCompliantPolicies": non_compliant_policies,
        "resourceDetails": resource_details,
        "policyDetails": policy_details,
        "policyGroupDetails": group_details,
    })
}

/// The lower-cased group names of a record.
fn group_names(r: &Map<String, Value>) -> Vec<String> {
    r["policyDefinitionGroupNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_lowercase)
        .collect()
}

/// PolicyStates_SummarizeFor*: the counts of the scope, then per assignment (at most `$top`) and per
/// definition of each.
pub fn policy_states_summarize(cx: &Cx, store: &Store, set: &PolicySet) -> Result<Reply, ArmError> {
    check_time(cx, "$from")?;
    check_time(cx, "$to")?;
    let filter = filter_of(cx)?;
    let top = top(cx)?;
    let read = vec![
        "resourceId",
        "policyAssignmentId",
        "policyDefinitionId",
        "policyDefinitionReferenceId",
        "policySetDefinitionId",
        "policyDefinitionAction",
        "complianceState",
        "policyDefinitionGroupNames",
    ];
    let rows = records(cx, store, set, filter.as_ref(), Some(read))?;
    let all: Vec<&Map<String, Value>> = rows.iter().collect();
    let mut assignment_ids: Vec<String> = Vec::new();
    for r in &rows {
        let a = r["policyAssignmentId"].as_str().unwrap_or_default();
        if !assignment_ids.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            assignment_ids.push(a.to_string());
        }
    }
    if let Some(t) = top {
        assignment_ids.truncate(t);
    }
    let assignments: Vec<Value> = assignment_ids
        .iter()
        .map(|a| {
            let mine: Vec<&Map<String, Value>> = rows
                .iter()
                .filter(|r| r["policyAssignmentId"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(a)))
                .collect();
            let set_id = mine[0]["policySetDefinitionId"].clone();
            let mut members: Vec<(String, String)> = Vec::new();
            for r in &mine {
                let d = r["policyDefinitionId"].as_str().unwrap_or_default().to_string();
                let rf = r["policyDefinitionReferenceId"].as_str().unwrap_or_default().to_string();
                if !members.contains(&(d.clone(), rf.clone())) {
                    members.push((d, rf));
                }
            }
            let definitions: Vec<Value> = members
                .iter()
                .map(|(d, rf)| {
                    let of: Vec<&Map<String, Value>> = mine
                        .iter()
                        .copied()
                        .filter(|r| r["policyDefinitionId"] == json!(d) && r["policyDefinitionReferenceId"] == json!(rf))
                        .collect();
                    json!({
                        "policyDefinitionId": d,
                        "policyDefinitionReferenceId": rf,
                        "policyDefinitionGroupNames": of[0]["policyDefinitionGroupNames"],
                        "effect": of[0]["policyDefinitionAction"],
                        "results": summary_results(cx, &of, &format!("PolicyAssignmentId eq '{a}' and PolicyDefinitionId eq '{d}'")),
                    })
                })
                .collect();
            let mut groups: Vec<String> = Vec::new();
            for r in &mine {
                for g in group_names(r) {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
            let policy_groups: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let of: Vec<&Map<String, Value>> = mine
                        .iter()
                        .copied()
                        .filter(|r| group_names(r).contains(g))
                        .collect();
                    json!({"policyGroupName": g, "results": summary_results(cx, &of,
                        &format!("'{g}' IN PolicyDefinitionGroupNames and PolicyAssignmentId eq '{a}'"))})
                })
                .collect();
            json!({
                "policyAssignmentId": a,
                "policySetDefinitionId": set_id,
                "results": summary_results(cx, &mine, &format!("PolicyAssignmentId eq '{a}'")),
                "policyDefinitions": definitions,
                "policyGroups": policy_groups,
            })
        })
        .collect();
    let meta = metadata(cx);
    Ok(Reply::json(
        200,
        &json!({
            "@odata.context": format!("{meta}#summary"),
            "@odata.count": 1,
            "value": [{
                "@odata.id": null,
                "@odata.context": format!("{meta}#summary/$entity"),
                "results": summary_results(cx, &all, ""),
                "policyAssignments": assignments,
            }],
        }),
    ))
}

/// PolicyStates_TriggerSubscriptionEvaluation / _TriggerResourceGroupEvaluation: evaluates the scope
/// now (states are computed from the store, so the scan's result is what the next query shows) and
/// answers 202 with a `Location` that reports 200 when polled.
pub fn policy_states_trigger_evaluation(
    cx: &Cx,
    store: &Store,
    set: &PolicySet,
) -> Result<Reply, ArmError> {
    let scope = scope_of(cx, &InsightsOp::scope(cx.id));
    let mut n = 0usize;
    states::compute(store, cx.snap, set, &scope, cx.now, &mut |_| n += 1)?;
    let sub = cx.id.subscription.clone().unwrap_or_default();
    let path = format!(
        "/subscriptions/{sub}/providers/Microsoft.PolicyInsights/asyncOperationResults/{}",
        cx.new_id
    );
    let body = json!({"id": path, "name": cx.new_id, "status": "Succeeded", "states": n,
        OPERATION_OWNER: cx.caller.object_id});
    store.write(|tx| tx.put_operation(cx.new_id, &body))?;
    Ok(Reply::empty(202)
        .header(
            "location",
            format!("{}{path}?api-version={}", cx.base_url, cx.api_version),
        )
        .header("retry-after", "0"))
}

/// The poll of a trigger's `Location`: 200 once done (it is done when answered), 404 for an unknown id.
pub fn policy_states_async_operation_results(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let op = cx.id.name().unwrap_or_default();
    match operation_for(store, op, cx.caller, true)? {
        Some(_) => Ok(Reply::empty(200)),
        None => Err(ArmError::not_found(format!(
            "The asynchronous operation '{op}' could not be found."
        ))),
    }
}

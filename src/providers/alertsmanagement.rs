//! Microsoft.AlertsManagement alerts (AlertsManagement.json 2019-05-05-preview … 2025-05-25-preview):
//! fired alerts (`monitor`) listed with the spec's filters, read, state changed, their history (who
//! and when), enrichments (none: no Prometheus rules) and summary at a subscription, group or resource
//! scope (authorized by the pipeline) and at tenant level (decided here alert by alert, home and
//! delegated); the metadata and operations lists. Never touches hyper.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Cx;
use crate::alerting;
use crate::arm::alerts_route::AlertsOp;
use crate::arm::error::ArmError;
use crate::authz::{self, MethodKind, Path, Subject};
use crate::clock::arm_time;
use crate::monitor::{ALERTS, HISTORY};
use crate::store::{Store, Stored};
use crate::wire::Reply;

/// Answer one Microsoft.AlertsManagement operation.
pub fn run(op: AlertsOp, cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    use AlertsOp::*;
    match op {
        GetAll => alerts_get_all(cx, store),
        GetById => alerts_get_by_id(cx, store),
        ChangeState => alerts_change_state(cx, store),
        GetHistory => alerts_get_history(cx, store),
        GetEnrichments => alerts_get_enrichments(cx, store),
        GetSummary => alerts_get_summary(cx, store),
        GetAllTenant => alerts_get_all_tenant(cx, store),
        GetByIdTenant => alerts_get_by_id_tenant(cx, store),
        ChangeStateTenant => alerts_change_state_tenant(cx, store),
        GetHistoryTenant => alerts_get_history_tenant(cx, store),
        MetaData => alerts_meta_data(cx),
        OperationsList => operations_list(),
    }
}

fn alert_not_found(id: &str) -> ArmError {
    ArmError::new(
        "ResourceNotFound",
        format!("The alert '{id}' could not be found."),
    )
    .with_status(404)
}

/// The alert as Azure answers it: the row without the history kept beside it.
fn public(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.remove(HISTORY);
    }
    body
}

/// `timeRange` (1h, 1d, 7d, 30d) as a duration.
fn time_range(v: &str) -> Result<time::Duration, ArmError> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "1h" => time::Duration::hours(1),
        "1d" => time::Duration::days(1),
        "7d" => time::Duration::days(7),
        "30d" => time::Duration::days(30),
        _ => {
            return Err(ArmError::bad_request(format!(
                "The value '{v}' of 'timeRange' is not valid: use 1h, 1d, 7d or 30d."
            )))
        }
    })
}

/// The filters Alerts_GetAll and Alerts_GetSummary share: a time range (one day unless given) and
/// the essentials' fields, each a comma-separated list of accepted values.
struct Filters<'a> {
    since: OffsetDateTime,
    now: OffsetDateTime,
    fields: Vec<(&'static str, &'a str)>,
}

impl<'a> Filters<'a> {
    fn of(cx: &'a Cx) -> Result<Filters<'a>, ArmError> {
        let range = time_range(cx.req.query("timeRange").unwrap_or("1d"))?;
        let fields = [
            "alertState",
            "monitorCondition",
            "severity",
            "monitorService",
            "targetResourceGroup",
            "targetResourceType",
            "targetResource",
            "alertRule",
            "signalType",
            "smartGroupId",
        ]
        .into_iter()
        .filter_map(|q| cx.req.query(q).map(|v| (q, v)))
        .collect();
        Ok(Filters {
            since: cx.now - range,
            now: cx.now,
            fields,
        })
    }

    fn keep(&self, alert: &Value) -> bool {
        let e = &alert["properties"]["essentials"];
        let started = e["startDateTime"]
            .as_str()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
        started.is_none_or(|t| t >= self.since && t <= self.now)
            && self.fields.iter().all(|(field, want)| {
                want.split(',').any(|w| {
                    e[*field]
                        .as_str()
                        .is_some_and(|got| got.eq_ignore_ascii_case(w.trim()))
                })
            })
    }
}

fn newest_first(rows: &mut [Value]) {
    let t = |v: &Value| {
        v["properties"]["essentials"]["startDateTime"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    rows.sort_by_key(|b| std::cmp::Reverse(t(b)));
}

/// The request's `{scope}` as written (the id without its Microsoft.AlertsManagement part): a
/// subscription, a resource group or a resource.
fn scope(cx: &Cx) -> String {
    let mut s = cx.id.clone();
    s.providers.pop();
    s.canonical()
}

/// Whether an alert is within `scope` (lower-cased): every alert of the subscription at a
/// subscription, else the alerts whose target resource is the scope or below it.
fn within(alert: &Value, scope: &str, sub: &str) -> bool {
    if scope == format!("/subscriptions/{sub}") {
        return true;
    }
    let target = alert["properties"]["essentials"]["targetResource"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    target == scope || target.starts_with(&format!("{scope}/"))
}

/// The alerts at the request's scope that pass its filters.
fn filtered_alerts(cx: &Cx, store: &Store) -> Result<Vec<Value>, ArmError> {
    let f = Filters::of(cx)?;
    let sub = cx.sub_key();
    let at = scope(cx).to_lowercase();
    Ok(store
        .read(|tx| tx.by_type(ALERTS, Some(&sub), None))?
        .into_iter()
        .map(|r| r.body)
        .filter(|a| within(a, &at, &sub) && f.keep(a))
        .map(public)
        .collect())
}

/// Alerts_GetAll: the scope's alerts, newest first.
pub fn alerts_get_all(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut rows = filtered_alerts(cx, store)?;
    newest_first(&mut rows);
    Ok(Reply::json(200, &json!({"value": rows})))
}

/// The store key of the alert a request names (`{scope}/…/alerts/{id}` with or without a verb
/// after it: alerts are kept at their subscription), and the id.
fn alert_key(cx: &Cx) -> (String, String) {
    let name = cx
        .id
        .last()
        .and_then(|p| p.types[0].1.clone())
        .unwrap_or_default();
    let key = format!(
        "/subscriptions/{}/providers/microsoft.alertsmanagement/alerts/{}",
        cx.sub_key(),
        name.to_lowercase()
    );
    (key, name)
}

/// The alert a request names, when it is within the request's scope.
fn named_alert(cx: &Cx, store: &Store) -> Result<Stored, ArmError> {
    let (key, name) = alert_key(cx);
    let at = scope(cx).to_lowercase();
    store
        .read(|tx| tx.get(&key))?
        .filter(|r| r.rtype == ALERTS && within(&r.body, &at, &cx.sub_key()))
        .ok_or_else(|| alert_not_found(&name))
}

/// Alerts_GetById.
pub fn alerts_get_by_id(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    Ok(Reply::json(200, &public(named_alert(cx, store)?.body)))
}

/// `newState` of a change-state request.
fn new_state(cx: &Cx) -> Result<&'static str, ArmError> {
    let Some(state) = cx.req.query("newState") else {
        return Err(ArmError::bad_request(
            "The query parameter 'newState' is required: New, Acknowledged or Closed.",
        ));
    };
    Ok(match state.to_ascii_lowercase().as_str() {
        "new" => "New",
        "acknowledged" => "Acknowledged",
        "closed" => "Closed",
        _ => {
            return Err(ArmError::bad_request(format!(
                "The state '{state}' is not valid: use New, Acknowledged or Closed."
            )))
        }
    })
}

/// Set the alert's state, and record the change (who, when, the optional comment body) in its
/// history; a request for the state it is in changes nothing.
fn change_state(cx: &Cx, store: &Store, key: &str, name: &str) -> Result<Reply, ArmError> {
    let state = new_state(cx)?;
    // `Comments` is `{"comment"}` in 2025-05-25-preview and `{"comments"}` in 2019-05-05-preview
    // (what azure-mgmt-alertsmanagement 1.0.1 sends)
    let comment = cx
        .body
        .and_then(|b| b["comment"].as_str().or(b["comments"].as_str()))
        .unwrap_or_default()
        .to_string();
    let who = cx.caller.client_name.clone();
    let now = arm_time(cx.now);
    let updated = store.write(|tx| -> Result<Option<Value>, ArmError> {
        let Some(mut row) = tx.get(key)?.filter(|r| r.rtype == ALERTS) else {
            return Ok(None);
        };
        let old = row.body["properties"]["essentials"]["alertState"]
            .as_str()
            .unwrap_or("New")
            .to_string();
        if old != state {
            let e = &mut row.body["properties"]["essentials"];
            e["alertState"] = json!(state);
            e["lastModifiedDateTime"] = json!(now);
            e["lastModifiedUserName"] = json!(who);
            let entry = alerting::state_change(&now, &who, &old, state, &comment);
            match row.body[HISTORY].as_array_mut() {
                Some(h) => h.push(entry),
                None => row.body[HISTORY] = json!([entry]),
            }
            tx.put(&row)?;
        }
        Ok(Some(row.body))
    })?;
    updated
        .map(|b| Reply::json(200, &public(b)))
        .ok_or_else(|| alert_not_found(name))
}

/// Alerts_ChangeState: `POST …/alerts/{id}/changestate?newState=Acknowledged`.
pub fn alerts_change_state(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    new_state(cx)?;
    let r = named_alert(cx, store)?;
    let (_, name) = alert_key(cx);
    change_state(cx, store, &r.key, &name)
}

/// The alert's history (`AlertModification`): id, type and name of the alert, its modifications.
fn history(alert: &Value) -> Value {
    let id = alert["id"].as_str().unwrap_or_default();
    json!({
        "properties": {
            "alertId": id.rsplit('/').next().unwrap_or_default(),
            "modifications": alert.get(HISTORY).cloned().unwrap_or_else(|| json!([])),
        },
        "id": id,
        "type": "Microsoft.AlertsManagement/alerts",
        "name": alert["name"],
    })
}

/// Alerts_GetHistory.
pub fn alerts_get_history(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    Ok(Reply::json(200, &history(&named_alert(cx, store)?.body)))
}

/// Alerts_GetEnrichments: "a collection of one object named default". Enrichments are the results
/// of a Prometheus rule's queries; the emulator has no Prometheus rules, so the list is empty.
pub fn alerts_get_enrichments(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let alert = named_alert(cx, store)?.body;
    let id = alert["id"].as_str().unwrap_or_default();
    Ok(Reply::json(
        200,
        &json!({"value": [{
            "name": "default",
            "type": "Microsoft.AlertsManagement/alerts/enrichments",
            "id": format!("{id}/enrichments/default"),
            "properties": {"alertId": id.rsplit('/').next().unwrap_or_default(), "enrichments": []},
        }]}),
    ))
}

/// The `groupby` fields of Alerts_GetSummary (the spec's AlertsSummaryGroupByFields), with the
/// values every summary lists even at a count of 0 (the enumerations); the others list what occurs.
const GROUP_BY: &[(&str, &[&str])] = &[
    ("severity", &["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]),
    ("alertState", &["New", "Acknowledged", "Closed"]),
    ("monitorCondition", &["Fired", "Resolved"]),
    ("monitorService", &[]),
    ("signalType", &[]),
    ("alertRule", &[]),
];

/// Count `alerts` by `fields[0]`, each group by the rest.
fn summarize(alerts: &[&Value], fields: &[(&'static str, &'static [&'static str])]) -> Vec<Value> {
    let Some(((field, known), rest)) = fields.split_first() else {
        return Vec::new();
    };
    let value = |a: &Value| {
        a["properties"]["essentials"][*field]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut names: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    let mut seen: Vec<String> = alerts
        .iter()
        .map(|a| value(a))
        .filter(|v| !names.iter().any(|n| n.eq_ignore_ascii_case(v)))
        .collect();
    seen.sort();
    seen.dedup();
    names.extend(seen);
    names
        .into_iter()
        .map(|n| {
            let members: Vec<&Value> = alerts
                .iter()
                .copied()
                .filter(|a| value(a).eq_ignore_ascii_case(&n))
                .collect();
            let mut g = json!({"name": n, "count": members.len()});
            if let Some(((next, _), _)) = rest.split_first() {
                g["groupedby"] = json!(next);
                g["values"] = json!(summarize(&members, rest));
            }
            g
        })
        .collect()
}

/// Alerts_GetSummary: the scope's alerts (with the list's filters) counted by one or two
/// `groupby` fields. The emulator forms no smart groups: `smartGroupsCount` is 0.
pub fn alerts_get_summary(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let Some(groupby) = cx.req.query("groupby").filter(|g| !g.trim().is_empty()) else {
        return Err(ArmError::bad_request(
            "The query parameter 'groupby' is required: severity, alertState, monitorCondition, monitorService, signalType or alertRule (at most two, comma-separated).",
        ));
    };
    let mut fields = Vec::new();
    for f in groupby.split(',').map(str::trim) {
        let Some(g) = GROUP_BY.iter().find(|(n, _)| n.eq_ignore_ascii_case(f)) else {
            return Err(ArmError::bad_request(format!(
                "The value '{f}' of 'groupby' is not valid: use severity, alertState, monitorCondition, monitorService, signalType or alertRule."
            )));
        };
        fields.push(*g);
    }
    if fields.len() > 2 {
        return Err(ArmError::bad_request(format!(
            "'groupby' takes at most two fields; '{groupby}' names {}.",
            fields.len()
        )));
    }
    let alerts = filtered_alerts(cx, store)?;
    let refs: Vec<&Value> = alerts.iter().collect();
    let at = scope(cx);
    Ok(Reply::json(
        200,
        &json!({
            "properties": {
                "groupedby": fields[0].0,
                "smartGroupsCount": 0,
                "total": alerts.len(),
                "values": summarize(&refs, &fields),
            },
            "id": format!("{at}/providers/Microsoft.AlertsManagement/alertsSummary/current"),
            "type": "Microsoft.AlertsManagement/alertsSummary",
            "name": "current",
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Tenant level: every alert of a subscription the caller reaches — its own tenant's, or one its
// tenant manages through a delegation — that a grant lets it act on, decided at the alert's target.

enum Verdict {
    /// The caller's tenant has no standing in the alert's subscription: it does not see it.
    Unseen,
    /// Seen, but no grant covers the action at this scope.
    Refused(String),
    Allowed,
}

fn verdict(cx: &Cx, alert: &Stored, action: &str) -> Verdict {
    let caller = cx.caller;
    if caller.platform {
        return Verdict::Allowed;
    }
    let Some(sub) = cx.snap.dir.subscription(&alert.sub) else {
        return Verdict::Unseen;
    };
    let path = if sub.tenant_id.eq_ignore_ascii_case(&caller.tenant_id) {
        Path::Customer
    } else if cx
        .snap
        .managed_by
        .get(&alert.sub)
        .is_some_and(|t| t.iter().any(|t| t.eq_ignore_ascii_case(&caller.tenant_id)))
    {
        Path::Delegated
    } else {
        return Verdict::Unseen;
    };
    // Alerts belong to their target resource: a role on it (or above it) lets the caller see them.
    let target = alert.body["properties"]["essentials"]["targetResource"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let sub_scope = format!("/subscriptions/{}", alert.sub);
    let scope = if target == sub_scope || target.starts_with(&format!("{sub_scope}/")) {
        target
    } else {
        sub_scope
    };
    let subject = Subject {
        object_id: &caller.object_id,
        groups: &caller.groups,
    };
    let now = cx.now.unix_timestamp();
    if authz::decide(&subject, action, false, &scope, path, &cx.snap.access, now).is_allowed() {
        Verdict::Allowed
    } else {
        Verdict::Refused(scope)
    }
}

/// Alerts_GetAllTenant: every alert the caller may read, with the list's filters, newest first.
pub fn alerts_get_all_tenant(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let f = Filters::of(cx)?;
    let action = AlertsOp::GetAllTenant.action();
    let mut rows: Vec<Value> = store
        .read(|tx| tx.by_type(ALERTS, None, None))?
        .into_iter()
        .filter(|r| matches!(verdict(cx, r, action), Verdict::Allowed) && f.keep(&r.body))
        .map(|r| public(r.body))
        .collect();
    newest_first(&mut rows);
    Ok(Reply::json(200, &json!({"value": rows})))
}

/// The alert a tenant-level request names by its GUID, when the caller may do `action` on it: 404
/// when no subscription it reaches has it, 403 AuthorizationFailed when it has no grant for it.
fn tenant_alert(cx: &Cx, store: &Store, action: &str) -> Result<Stored, ArmError> {
    let name = cx
        .id
        .providers
        .first()
        .and_then(|p| p.types[0].1.clone())
        .unwrap_or_default();
    let mut refused = None;
    for r in store.read(|tx| tx.by_type_and_name(ALERTS, &name))? {
        match verdict(cx, &r, action) {
            Verdict::Allowed => return Ok(r),
            Verdict::Refused(scope) => refused = Some(scope),
            Verdict::Unseen => {}
        }
    }
    Err(match refused {
        Some(scope) => ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            action,
            &scope,
        ),
        None => alert_not_found(&name),
    })
}

/// Alerts_GetByIdTenant.
pub fn alerts_get_by_id_tenant(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let r = tenant_alert(cx, store, AlertsOp::GetByIdTenant.action())?;
    Ok(Reply::json(200, &public(r.body)))
}

/// Alerts_ChangeStateTenant.
pub fn alerts_change_state_tenant(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    new_state(cx)?;
    let action = AlertsOp::ChangeStateTenant.action();
    let r = tenant_alert(cx, store, action)?;
    // A state change is a write: a ReadOnly lock above the alert stops a customer-path caller here
    // as it does at the subscription path (the pipeline's lock check; delegated callers never).
    if !cx.caller.platform {
        let path = if cx
            .snap
            .dir
            .subscription(&r.sub)
            .is_some_and(|s| s.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id))
        {
            Path::Customer
        } else {
            Path::Delegated
        };
        let display = r.body["id"].as_str().unwrap_or(&r.key).to_string();
        authz::refuse_if_locked(
            &cx.snap.locks,
            MethodKind::Write,
            &r.key,
            &display,
            path,
            action,
        )?;
    }
    let name = r.key.rsplit('/').next().unwrap_or_default().to_string();
    change_state(cx, store, &r.key, &name)
}

/// Alerts_GetHistoryTenant.
pub fn alerts_get_history_tenant(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let r = tenant_alert(cx, store, AlertsOp::GetHistoryTenant.action())?;
    Ok(Reply::json(200, &history(&r.body)))
}

/// The monitor services of Alerts_MetaData (`identifier=MonitorServiceList`), as
/// AlertsMetaData_MonitorService.json (2025-05-25-preview) lists them: name and display name.
const MONITOR_SERVICES: &[(&str, &str)] = &[
    (
        "ActivityLog Administrative",
        "Activity Log - Administrative",
    ),
    ("ActivityLog Autoscale", "Activity Log - Autoscale"),
    ("ActivityLog Policy", "Activity Log - Policy"),
    (
        "ActivityLog Recommendation",
        "Activity Log - Recommendation",
    ),
    ("ActivityLog Security", "Activity Log - Security"),
    ("Application Insights", "Application Insights"),
    ("Azure Backup", "Azure Backup"),
    ("Custom", "Custom"),
    ("Data Box Edge", "Data Box Edge"),
    ("VM Insights", "VM Insights"),
    ("Log Analytics", "Log Analytics"),
    ("Nagios", "NAGIOS"),
    ("Platform", "Platform"),
    ("Resource Health", "Resource Health"),
    ("SCOM", "SCOM"),
    ("ServiceHealth", "Service Health"),
    ("Smart Detector", "SmartDetector"),
    ("Zabbix", "ZABBIX"),
];

/// Alerts_MetaData: `identifier` is required and `MonitorServiceList` its one value.
pub fn alerts_meta_data(cx: &Cx) -> Result<Reply, ArmError> {
    match cx.req.query("identifier") {
        Some(i) if i.eq_ignore_ascii_case("MonitorServiceList") => {}
        Some(i) => {
            return Err(ArmError::bad_request(format!(
                "The value '{i}' of 'identifier' is not valid: use MonitorServiceList."
            )))
        }
        None => {
            return Err(ArmError::bad_request(
                "The query parameter 'identifier' is required: MonitorServiceList.",
            ))
        }
    }
    let data: Vec<Value> = MONITOR_SERVICES
        .iter()
        .map(|(n, d)| json!({"name": n, "displayName": d}))
        .collect();
    Ok(Reply::json(
        200,
        &json!({"properties": {"metadataIdentifier": "MonitorServiceList", "data": data}}),
    ))
}

/// Microsoft.AlertsManagement's operations (Operations_List.json, 2025-05-25-preview): name,
/// description, operation, resource.
const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    ("register/action", "Subscription Registration Action", "Subscription Registration Action", "Subscription"),
    ("register/action", "Registers the subscription for the Microsoft Alerts Management", "Register subscription", "register"),
    ("alerts/read", "Get all the alerts for the input filters.", "Read alerts", "alerts"),
    ("alerts/changestate/action", "Change the state of the alert.", "Resolve alerts", "alerts"),
    ("alerts/history/read", "Get history of the alert", "Read alert history", "alerts"),
    ("smartDetectorAlertRules/write", "Create or update Smart Detector alert rule in a given subscription", "Create Smart Detector alert rule", "smartDetectorAlertRules"),
    ("smartDetectorAlertRules/read", "Get all the Smart Detector alert rules for the input filters", "Read Smart Detector alert rules", "smartDetectorAlertRules"),
    ("smartDetectorAlertRules/delete", "Delete Smart Detector alert rule in a given subscription", "Delete Smart Detector alert rule", "smartDetectorAlertRules"),
    ("resourceHealthAlertRules/write", "Create or update Resource Health alert rule in a given subscription", "Create Resource Health alert rule", "resourceHealthAlertRules"),
    ("resourceHealthAlertRules/read", "Get all the Resource Health alert rules for the input filters", "Read Resource Health alert rules", "resourceHealthAlertRules"),
    ("resourceHealthAlertRules/delete", "Delete Resource Health alert rule in a given subscription", "Delete Resource Health alert rule", "resourceHealthAlertRules"),
    ("migrateFromSmartDetection/read", "Get the status of an asynchronous Smart Detection to smart alerts migration process", "Get Smart Detection Migration status", "migrateFromSmartDetection"),
    ("migrateFromSmartDetection/action", "Starts an asynchronous migration process of Smart Detection to smart alerts in an Application Insights resource", "Migrate From Smart Detection", "migrateFromSmartDetection"),
    ("alertsSummary/read", "Get the summary of alerts", "Read alerts summary", "alertsSummary"),
    ("smartGroups/read", "Get all the smart groups for the input filters", "Read smart groups", "smartGroups"),
    ("smartGroups/changestate/action", "Change the state of the smart group", "Read smart groups", "smartGroups"),
    ("smartGroups/history/read", "Get history of the smart group", "Read smart group history", "smartGroups"),
    ("actionRules/read", "Get all the alert processing rules for the input filters.", "Read action rules", "actionRules"),
    ("actionRules/write", "Create or update alert processing rule in a given subscription", "Write action rule", "actionRules"),
    ("actionRules/delete", "Delete alert processing rule in a given subscription.", "Delete action rule", "actionRules"),
    ("alertsMetaData/read", "Get alerts meta data for the input parameter.", "Read alerts meta data", "Microsoft.AlertsManagement/alertsMetaData"),
    ("Operations/read", "Reads the operations provided", "Read operations", "operations"),
    ("prometheusRuleGroups/Write", "Set prometheusRuleGroups", "Creates or updates the prometheusRuleGroups", "prometheusRuleGroups"),
    ("prometheusRuleGroups/Delete", "Delete prometheusRuleGroups", "Deletes the prometheusRuleGroups", "prometheusRuleGroups"),
    ("prometheusRuleGroups/Read", "Read prometheusRuleGroups", "Reads the prometheusRuleGroups", "prometheusRuleGroups"),
];

/// Operations_List.
pub fn operations_list() -> Result<Reply, ArmError> {
    let value: Vec<Value> = OPERATIONS
        .iter()
        .map(|(n, d, o, r)| {
            json!({"name": format!("Microsoft.AlertsManagement/{n}"), "display": {
                "description": d, "operation": o, "provider": "Microsoft.AlertsManagement", "resource": r}})
        })
        .collect();
    Ok(Reply::json(200, &json!({"value": value})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(sev: &str, state: &str, service: &str) -> Value {
        json!({"properties": {"essentials": {
            "severity": sev, "alertState": state, "monitorService": service, "monitorCondition": "Fired"}}})
    }

    #[test]
    fn summary_counts_every_known_value_and_what_occurs() {
        let alerts = [
            alert("Sev4", "New", "ActivityLog Administrative"),
            alert("Sev4", "Acknowledged", "ActivityLog Administrative"),
            alert("Sev2", "New", "Log Analytics"),
        ];
        let refs: Vec<&Value> = alerts.iter().collect();
        let by = |names: &[&str]| -> Vec<(&'static str, &'static [&'static str])> {
            names
                .iter()
                .map(|n| *GROUP_BY.iter().find(|(g, _)| g == n).unwrap())
                .collect()
        };
        let counts = |v: &[Value]| -> Vec<(String, u64)> {
            v.iter()
                .map(|g| {
                    (
                        g["name"].as_str().unwrap().to_string(),
                        g["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        let sev = summarize(&refs, &by(&["severity", "alertState"]));
        assert_eq!(
            counts(&sev),
            [
                ("Sev0", 0),
                ("Sev1", 0),
                ("Sev2", 1),
                ("Sev3", 0),
                ("Sev4", 2)
            ]
            .map(|(n, c)| (n.to_string(), c))
        );
        assert_eq!(sev[4]["groupedby"], "alertState");
        assert_eq!(
            counts(sev[4]["values"].as_array().unwrap()),
            [("New", 1), ("Acknowledged", 1), ("Closed", 0)].map(|(n, c)| (n.to_string(), c))
        );
        let svc = summarize(&refs, &by(&["monitorService"]));
        assert_eq!(
            counts(&svc),
            [("ActivityLog Administrative", 2), ("Log Analytics", 1)]
                .map(|(n, c)| (n.to_string(), c))
        );
        assert!(svc[0].get("values").is_none());
    }

    #[test]
    fn history_answers_the_alert_with_its_modifications() {
        let a = json!({"id": "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/g1",
            "name": "rule", HISTORY: [{"modificationEvent": "AlertCreated"}], "properties": {}});
        let h = history(&a);
        assert_eq!(h["properties"]["alertId"], "g1");
        assert_eq!(
            h["properties"]["modifications"][0]["modificationEvent"],
            "AlertCreated"
        );
        assert!(public(a).get(HISTORY).is_none());
    }
}

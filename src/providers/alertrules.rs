//! What Microsoft.Insights adds to the alert resources it stores: action groups (receivers with
//! `status`, `useCommonAlertSchema`; actionGroups.json), activity-log alerts (activityLogAlerts_API.json
//! 2020-10-01: `enabled`, `location: Global`, scopes and `allOf` checked) and scheduled query rules
//! (scheduledQueryRule_API.json 2018-04-16 and 2023-12-01: the rule checked as `alerting` reads it,
//! `lastUpdatedTime`/`provisioningState` or `createdWithApiVersion`/`isLegacyLogAnalyticsRule`).
//! Each write tells `monitor` that rules changed. Get, list and delete are the generic resource path.

use serde_json::{json, Map, Value};

use super::Cx;
use crate::arm::error::ArmError;
use crate::clock::arm_time;
use crate::store::{Store, StoreError, Stored, Tx};
use crate::wire::Reply;

fn props(body: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    body.entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

/// `Global` when none is given, and spelled `Global` however the request spelled it: Microsoft.Insights
/// answers its global alert resources so (actionGroups.json and activityLogAlerts_API.json examples).
fn default_location(body: &mut Map<String, Value>) {
    match body.get("location").and_then(Value::as_str) {
        Some(l) if !l.eq_ignore_ascii_case("global") => {}
        _ => {
            body.insert("location".into(), json!("Global"));
        }
    }
}

/// Action groups: receivers as Azure returns them (e-mail and SMS receivers `Enabled`, the common
/// alert schema off unless asked for).
pub fn complete_action_group(body: &mut Map<String, Value>) -> Result<(), ArmError> {
    default_location(body);
    let Some(p) = props(body) else {
        return Err(ArmError::bad_request("'properties' must be an object."));
    };
    let short = p
        .get("groupShortName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if short.is_empty() || short.chars().count() > 12 {
        return Err(ArmError::bad_request(
            "'properties.groupShortName' is required and must be at most 12 characters long.",
        ));
    }
    p.entry("enabled").or_insert(json!(true));
    for (list, status) in [
        ("emailReceivers", true),
        ("smsReceivers", true),
        ("webhookReceivers", false),
        ("logicAppReceivers", false),
        ("azureFunctionReceivers", false),
        ("automationRunbookReceivers", false),
        ("armRoleReceivers", false),
        ("eventHubReceivers", false),
        ("itsmReceivers", false),
        ("azureAppPushReceivers", false),
        ("voiceReceivers", false),
    ] {
        let receivers = p.entry(list).or_insert_with(|| json!([]));
        let Some(items) = receivers.as_array_mut() else {
            return Err(ArmError::bad_request(format!(
                "'properties.{list}' must be an array."
            )));
        };
        for r in items.iter_mut().filter_map(Value::as_object_mut) {
            if status {
                r.entry("status").or_insert(json!("Enabled"));
            }
            if list == "emailReceivers" {
                // what the 2026-09-01 examples show for an address nobody was asked to confirm
                r.entry("verificationStatus")
                    .or_insert(json!("LegacyAllowed"));
            }
            if !matches!(
                list,
                "smsReceivers" | "voiceReceivers" | "azureAppPushReceivers" | "itsmReceivers"
            ) {
                r.entry("useCommonAlertSchema").or_insert(json!(false));
            }
        }
    }
    Ok(())
}

/// Activity-log alerts: `enabled` true unless set, `Global`, a scope and an `allOf` condition required.
pub fn complete_activity_log_alert(
    store: &Store,
    body: &mut Map<String, Value>,
) -> Result<(), ArmError> {
    default_location(body);
    let Some(p) = props(body) else {
        return Err(ArmError::bad_request("'properties' must be an object."));
    };
    if !p
        .get("scopes")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty() && s.iter().all(Value::is_string))
    {
        return Err(ArmError::bad_request(
            "'properties.scopes' must list at least one resource id.",
        ));
    }
    if !p
        .get("condition")
        .and_then(|c| c.get("allOf"))
        .is_some_and(Value::is_array)
    {
        return Err(ArmError::bad_request(
            "'properties.condition.allOf' is required.",
        ));
    }
    p.entry("enabled").or_insert(json!(true));
    p.entry("actions")
        .or_insert_with(|| json!({"actionGroups": []}));
    store.write(crate::monitor::rules_changed)?;
    Ok(())
}

/// Scheduled query rules of either shape, checked as they will be evaluated; evaluations count from
/// this write.
pub fn complete_scheduled_query_rule(
    cx: &Cx,
    store: &Store,
    body: &mut Map<String, Value>,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    let as_value = Value::Object(body.clone());
    crate::alerting::query_rule(&as_value).map_err(ArmError::bad_request)?;
    let legacy = as_value["properties"].get("source").is_some();
    body.entry("tags").or_insert_with(|| json!({}));
    let now = arm_time(cx.now);
    let created_with = existing
        .and_then(|e| e["properties"]["createdWithApiVersion"].as_str())
        .unwrap_or(cx.api_version)
        .to_string();
    let Some(p) = props(body) else {
        return Err(ArmError::bad_request("'properties' must be an object."));
    };
    if legacy {
        p.insert("lastUpdatedTime".into(), json!(now));
        p.insert("provisioningState".into(), json!("Succeeded"));
    } else {
        p.entry("enabled").or_insert(json!(true));
        p.insert("createdWithApiVersion".into(), json!(created_with));
        p.insert("isLegacyLogAnalyticsRule".into(), json!(false));
        p.entry("isWorkspaceAlertsStorageConfigured")
            .or_insert(json!(false));
    }
    let key = cx.id.key();
    store.write(|tx| crate::monitor::schedule_from(tx, &key, cx.now))?;
    Ok(())
}

/// A deleted activity-log alert stops matching at once.
pub fn after_delete(tx: &Tx, gone: &[Stored]) -> Result<(), StoreError> {
    if gone
        .iter()
        .any(|r| r.rtype == crate::monitor::ACTIVITY_LOG_ALERTS)
    {
        crate::monitor::rules_changed(tx)?;
    }
    Ok(())
}

/// `POST …/actionGroups/{name}/createNotifications`: test notifications to the receivers the request
/// lists (in the outbox like any alert's), answered complete at once; the status stays readable at
/// `…/actionGroups/{name}/notificationStatus/{id}`.
pub fn create_notifications(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let Some(request) = cx.body.filter(|b| b.is_object()) else {
        return Err(ArmError::bad_request(
            "The notification request must be a JSON object.",
        ));
    };
    let mut group = cx.id.clone();
    if let Some(last) = group.providers.last_mut() {
        last.types.truncate(1);
    }
    let group_id = group.canonical();
    let sub = cx.sub_key();
    // a numeric id, as the service's are
    let notification_id = cx
        .new_id
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .chain("0000000000000".chars())
        .take(14)
        .collect::<String>();
    let now = arm_time(cx.now);
    let status_id = format!("{group_id}/notificationStatus/{notification_id}");
    let status = store.write(|tx| -> Result<Value, ArmError> {
        if tx.get(&group.key())?.is_none() {
            return Err(ArmError::new(
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.Insights/actionGroups/{}' under resource group '{}' was not found.",
                    group.name().unwrap_or_default(),
                    group.resource_group.as_deref().unwrap_or_default()
                ),
            )
            .with_status(404));
        }
        let details =
            crate::monitor::test_notifications(tx, &sub, &group_id, request, cx.now)?;
        let status = json!({
            "context": {"notificationSource": "Microsoft.Insights/TestNotification",
                        "contextType": "Microsoft.Insights/activityLogs"},
            "state": "Complete",
            "createdTime": now,
            "completedTime": now,
            "actionDetails": details,
        });
        let id = crate::arm::resource_id::ResourceId::parse(&status_id)
            .map_err(|e| ArmError::bad_request(e.0))?;
        tx.put(&super::stored_row(
            &id,
            "microsoft.insights/actiongroups/notificationstatus",
            status.clone(),
        ))?;
        Ok(status)
    })?;
    Ok(Reply::json(200, &status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_alert_resources_answer_global() {
        for (given, want) in [
            (json!("global"), "Global"),
            (json!("GLOBAL"), "Global"),
            (json!("Global"), "Global"),
            (Value::Null, "Global"),
            (json!(7), "Global"),
            (json!("swedencentral"), "swedencentral"),
        ] {
            let mut body = Map::new();
            if !given.is_null() {
                body.insert("location".into(), given.clone());
            }
            default_location(&mut body);
            assert_eq!(body["location"], want, "{given}");
        }
    }
}

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

fn props(body: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    body.entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

fn default_location(body: &mut Map<String, Value>) {
    if !body.get("location").is_some_and(Value::is_string) {
        body.insert("location".into(), json!("Global"));
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

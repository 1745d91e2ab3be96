//! Microsoft.AlertsManagement alerts (alertsmanagement.json 2019-05-05-preview … 2025-05-25-preview):
//! the alerts fired rules left in the store (`monitor`), listed for a subscription with the spec's
//! filters (`alertState`, `monitorCondition`, `severity`, `monitorService`, `targetResourceGroup`,
//! `alertRule`, `timeRange` — one day unless given), read by id, and their state changed (`New`,
//! `Acknowledged`, `Closed`). Authorized by the pipeline like any read (`…/alerts/read`), so a
//! delegated principal lists a customer's alerts through its delegation. Never touches hyper.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Cx;
use crate::arm::error::ArmError;
use crate::clock::arm_time;
use crate::store::Store;
use crate::wire::Reply;

const ALERTS: &str = "microsoft.alertsmanagement/alerts";

fn alert_not_found(id: &str) -> ArmError {
    ArmError::new(
        "ResourceNotFound",
        format!("The alert '{id}' could not be found."),
    )
    .with_status(404)
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

/// Alerts_GetAll: the subscription's alerts, newest first.
pub fn alerts_get_all(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.sub_key();
    let range = time_range(cx.req.query("timeRange").unwrap_or("1d"))?;
    let since = cx.now - range;
    let filters: Vec<(&str, &str)> = [
        ("alertState", "alertState"),
        ("monitorCondition", "monitorCondition"),
        ("severity", "severity"),
        ("monitorService", "monitorService"),
        ("targetResourceGroup", "targetResourceGroup"),
        ("targetResourceType", "targetResourceType"),
        ("targetResource", "targetResource"),
        ("alertRule", "alertRule"),
        ("signalType", "signalType"),
    ]
    .into_iter()
    .filter_map(|(q, field)| cx.req.query(q).map(|v| (field, v)))
    .collect();
    let mut rows: Vec<Value> = store
        .read(|tx| tx.by_type(ALERTS, Some(&sub), None))?
        .into_iter()
        .map(|r| r.body)
        .filter(|a| {
            let e = &a["properties"]["essentials"];
            let started = e["startDateTime"]
                .as_str()
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
            started.is_none_or(|t| t >= since && t <= cx.now)
                && filters.iter().all(|(field, want)| {
                    want.split(',').any(|w| {
                        e[*field]
                            .as_str()
                            .is_some_and(|got| got.eq_ignore_ascii_case(w.trim()))
                    })
                })
        })
        .collect();
    rows.sort_by(|a, b| {
        let t = |v: &Value| {
            v["properties"]["essentials"]["startDateTime"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        t(b).cmp(&t(a))
    });
    Ok(Reply::json(200, &json!({"value": rows})))
}

/// Alerts_GetById.
pub fn alerts_get_by_id(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    store
        .get(&key)?
        .filter(|r| r.row.rtype == ALERTS)
        .map(|r| Reply::json_bytes(200, r.json().to_vec()))
        .ok_or_else(|| alert_not_found(cx.id.name().unwrap_or_default()))
}

/// Alerts_ChangeState: `POST …/alerts/{id}/changestate?newState=Acknowledged` (an optional
/// `{"comment"}` body is kept in the alert's history of the state).
pub fn alerts_change_state(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut alert_id = cx.id.clone();
    if let Some(last) = alert_id.providers.last_mut() {
        last.types.truncate(1);
    }
    let key = alert_id.key();
    let Some(state) = cx.req.query("newState") else {
        return Err(ArmError::bad_request(
            "The query parameter 'newState' is required: New, Acknowledged or Closed.",
        ));
    };
    let state = match state.to_ascii_lowercase().as_str() {
        "new" => "New",
        "acknowledged" => "Acknowledged",
        "closed" => "Closed",
        _ => {
            return Err(ArmError::bad_request(format!(
                "The state '{state}' is not valid: use New, Acknowledged or Closed."
            )))
        }
    };
    let who = cx.caller.client_name.clone();
    let now = arm_time(cx.now);
    let updated = store.write(|tx| -> Result<Option<Value>, ArmError> {
        let Some(mut row) = tx.get(&key)?.filter(|r| r.rtype == ALERTS) else {
            return Ok(None);
        };
        let e = &mut row.body["properties"]["essentials"];
        e["alertState"] = json!(state);
        e["lastModifiedDateTime"] = json!(now);
        e["lastModifiedUserName"] = json!(who);
        tx.put(&row)?;
        Ok(Some(row.body))
    })?;
    updated
        .map(|b| Reply::json(200, &b))
        .ok_or_else(|| alert_not_found(alert_id.name().unwrap_or_default()))
}

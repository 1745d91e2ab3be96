//! Azure Monitor alerts over the store: activity-log alert rules evaluated against each activity-log
//! record in the transaction that writes it (`on_activity`), scheduled query rules evaluated on the
//! emulator clock (`run_due`, through `logs::query` over each window), and what a fired rule leaves:
//! a `Microsoft.AlertsManagement/alerts` row and one outbox entry per e-mail, SMS and HTTP POST of
//! its action groups. The outbox is read by `GET /_emulator/outbox` and delivered by `notify` (the
//! edge); nothing here does I/O beyond the store. Matching and payloads are `alerting`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::alerting::{self, ActivityRule, Evaluation, Fired, QueryRule, Receiver};
use crate::clock::arm_time;
use crate::facts::Snapshot;
use crate::log_alerts;
use crate::logs::{self, Asker, Window};
use crate::store::{Store, StoreError, Stored, Tx};

pub const ACTION_GROUPS: &str = "microsoft.insights/actiongroups";
pub const ACTIVITY_LOG_ALERTS: &str = "microsoft.insights/activitylogalerts";
pub const SCHEDULED_QUERY_RULES: &str = "microsoft.insights/scheduledqueryrules";
pub const ALERTS: &str = "microsoft.alertsmanagement/alerts";
/// The key of an alert row's history (Alerts_GetHistory's `modifications`), kept beside the resource.
pub const HISTORY: &str = "history";
/// The outbox's key in the activity table: like the tenant logs' `/tenants/…`, it can never be a
/// subscription GUID.
pub const OUTBOX: &str = "/_emulator/outbox";
/// Outbox entries appended by this process (any store): `notify` reads the outbox only for a while
/// after this moves, so an emulator with nothing to send never touches its store.
pub static OUTBOX_APPENDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// A value that changes whenever an activity-log alert rule is written or deleted.
const GENERATION: &str = "alerts:activity-rules";
/// At most this many evaluations of one rule per clock move (a day of 1-minute evaluations); the
/// rest are skipped, and the rule resumes from the latest due time.
const MAX_EVALUATIONS: usize = 1440;

/// Record that the activity-log alert rules changed (in the writing transaction).
pub fn rules_changed(tx: &Tx) -> Result<(), StoreError> {
    tx.set_meta(GENERATION, &uuid::Uuid::new_v4().to_string())
}

type RuleCache = HashMap<(String, String), Arc<Vec<ActivityRule>>>;

/// The enabled activity-log alert rules of a subscription, parsed once per generation of the rules
/// (the generation is a fresh GUID per change, so two stores never share an entry).
fn activity_rules(tx: &Tx, sub: &str) -> Result<Arc<Vec<ActivityRule>>, StoreError> {
    static CACHE: Mutex<Option<RuleCache>> = Mutex::new(None);
    let build = || -> Result<Arc<Vec<ActivityRule>>, StoreError> {
        Ok(Arc::new(
            tx.by_type(ACTIVITY_LOG_ALERTS, Some(sub), None)?
                .iter()
                .filter_map(|r| alerting::activity_rule(&r.body))
                .collect(),
        ))
    };
    let Some(generation) = tx.meta(GENERATION)? else {
        // no rule was ever written since the world was loaded
        return build();
    };
    let key = (generation, sub.to_string());
    if let Some(hit) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|c| c.get(&key).cloned())
    {
        return Ok(hit);
    }
    let rules = build()?;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if map.len() >= 1024 {
        map.clear();
    }
    map.insert(key, rules.clone());
    Ok(rules)
}

/// Evaluate the subscription's activity-log alert rules against `events`, just written to its log
/// (called by `activity::record` and the policy gate in the same transaction). Each rule whose
/// scope holds the event's resource and whose conditions the event meets fires.
pub fn on_activity(
    tx: &Tx,
    sub: &str,
    events: &[&Value],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if sub.is_empty() || sub.starts_with('/') {
        return Ok(());
    }
    // a rule written or deleted by this request (a PATCH, a resource group's DELETE) changes the set
    let touches_rules = events.iter().any(|e| {
        let op = e["operationName"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        op.starts_with("microsoft.insights/activitylogalerts/")
            || op == "microsoft.resources/subscriptions/resourcegroups/delete"
    });
    if touches_rules {
        rules_changed(tx)?;
    }
    let rules = activity_rules(tx, sub)?;
    if rules.is_empty() {
        return Ok(());
    }
    for event in events {
        let at = alerting::EventScope::of(event);
        for rule in rules.iter() {
            if at.within(&rule.scopes) && alerting::matches(&rule.condition, event) {
                fire_activity(tx, sub, rule, event, now)?;
            }
        }
    }
    Ok(())
}

fn new_alert_id(sub: &str) -> String {
    format!(
        "/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/{}",
        uuid::Uuid::new_v4()
    )
}

fn fire_activity(
    tx: &Tx,
    sub: &str,
    rule: &ActivityRule,
    event: &Value,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let category = event["category"]["value"]
        .as_str()
        .unwrap_or("Administrative")
        .to_string();
    let fired = Fired {
        alert_id: new_alert_id(sub),
        subscription: sub.to_string(),
        rule_id: rule.id.clone(),
        rule_name: rule.name.clone(),
        description: rule.description.clone(),
        severity: 4,
        signal_type: "Activity Log",
        monitoring_service: format!("Activity Log - {category}"),
        monitor_service: format!("ActivityLog {category}"),
        target_ids: vec![event["resourceId"].as_str().unwrap_or_default().to_string()],
        fired: arm_time(now),
        alert_context: alerting::activity_context(event),
        legacy: Value::Null,
        custom_properties: Map::new(),
        email_subject: None,
        resolved: None,
    };
    let mut notified = Vec::new();
    for (group, props) in &rule.action_groups {
        let mut f = fired.clone();
        f.custom_properties = props.clone();
        f.legacy = alerting::legacy_activity_payload(event, props);
        notified.extend(notify(tx, group, &f)?);
    }
    store_alert(tx, &fired, &notified)?;
    tracing::info!(rule = %rule.id, alert = %fired.alert_id, caller = %event["caller"].as_str().unwrap_or_default(), "activity log alert fired");
    Ok(())
}

/// The alert's row: its resource, and under `history` (never answered as part of the alert) the
/// modifications Alerts_GetHistory answers, starting with its creation and the action groups notified.
fn store_alert(tx: &Tx, f: &Fired, notified: &[String]) -> Result<(), StoreError> {
    let mut body = alerting::alert_resource(f);
    body[HISTORY] = Value::Array(alerting::created_history(f, notified));
    tx.put(&Stored {
        key: f.alert_id.to_lowercase(),
        rtype: ALERTS.into(),
        sub: f.subscription.to_lowercase(),
        rg: String::new(),
        parent: format!("/subscriptions/{}", f.subscription.to_lowercase()),
        body,
    })
}

/// Queue what the action group `group` sends for `f`: e-mails and SMS into the outbox, HTTP POSTs
/// for `notify` to deliver; the group's id when it exists. A missing action group sends nothing (as
/// Azure, which logs it).
fn notify(tx: &Tx, group: &str, f: &Fired) -> Result<Option<String>, StoreError> {
    let Some(ag) = tx.get(&group.trim_end_matches('/').to_lowercase())? else {
        tracing::warn!(action_group = %group, rule = %f.rule_id, "alert fired for an action group that does not exist");
        return Ok(None);
    };
    let group_id = ag.body["id"].as_str().unwrap_or(group).to_string();
    queue(tx, &group_id, alerting::receivers(&ag.body), f)?;
    Ok(Some(group_id))
}

/// An action group's test notifications (`createNotifications`): a sample alert of the request's
/// `alertType` sent to the receivers the request lists, through the same outbox; the
/// `actionDetails` of the answer (one per receiver, `Completed`).
pub fn test_notifications(
    tx: &Tx,
    sub: &str,
    group_id: &str,
    request: &Value,
    now: OffsetDateTime,
) -> Result<Vec<Value>, StoreError> {
    let alert_type = request["alertType"].as_str().unwrap_or("servicehealth");
    let f = Fired {
        alert_id: new_alert_id(sub),
        subscription: sub.to_string(),
        rule_id: format!("{group_id}/testNotifications"),
        rule_name: format!("Test notification ({alert_type})"),
        description: "A test notification of an action group.".into(),
        severity: 4,
        signal_type: "Activity Log",
        monitoring_service: "Activity Log - Administrative".into(),
        monitor_service: "ActivityLog Administrative".into(),
        target_ids: vec![format!("/subscriptions/{sub}")],
        fired: arm_time(now),
        alert_context: json!({"alertType": alert_type}),
        legacy: Value::Null,
        custom_properties: Map::new(),
        email_subject: None,
        resolved: None,
    };
    let receivers = alerting::receivers(&json!({"properties": request}));
    let sent = queue(tx, group_id, receivers, &f)?;
    Ok(sent
        .into_iter()
        .map(|(mechanism, name)| {
            json!({"MechanismType": mechanism, "Name": name, "Status": "Completed",
                   "SubState": "Default", "SendTime": f.fired, "Detail": null})
        })
        .collect())
}

/// The outbox entries of `receivers` for `f`; (mechanism, receiver name) of each.
fn queue(
    tx: &Tx,
    group_id: &str,
    receivers: Vec<Receiver>,
    f: &Fired,
) -> Result<Vec<(&'static str, String)>, StoreError> {
    let mut sent = Vec::new();
    let base = |kind: &str, receiver: &str| {
        json!({
            "kind": kind,
            "receiver": receiver,
            "actionGroup": group_id,
            "alertId": f.alert_id,
            "alertRule": f.rule_name,
            "alertRuleId": f.rule_id,
            "subscriptionId": f.subscription,
            "monitorCondition": f.condition(),
            "time": f.resolved.as_deref().unwrap_or(&f.fired),
        })
    };
    let alert_key = f
        .alert_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    for r in receivers {
        sent.push(match &r {
            Receiver::Email { name, .. } => ("Email", name.clone()),
            Receiver::Sms { name, .. } => ("Sms", name.clone()),
            Receiver::Post { kind, name, .. } => (
                match *kind {
                    "logicApp" => "LogicApp",
                    "azureFunction" => "AzureFunction",
                    "automationRunbook" => "AutomationRunbook",
                    _ => "Webhook",
                },
                name.clone(),
            ),
        });
        let entry = match r {
            Receiver::Email {
                name,
                address,
                common,
            } => {
                let (mut subject, body) = alerting::email_text(f);
                if f.email_subject.as_deref().is_some_and(|s| s.contains("${")) {
                    subject =
                        crate::log_alerts::expand_subject(&subject, &alerting::common_payload(f));
                }
                let mut e = base("email", &name);
                e["to"] = json!(address);
                e["subject"] = json!(subject);
                e["body"] = json!(body);
                e["commonAlertSchema"] = json!(common);
                e
            }
            Receiver::Sms { name, number } => {
                let mut e = base("sms", &name);
                e["to"] = json!(number);
                e["text"] = json!(alerting::sms_text(f));
                e
            }
            Receiver::Post {
                kind,
                name,
                url,
                common,
            } => {
                let mut e = base("webhook", &name);
                e["receiverType"] = json!(kind);
                e["url"] = json!(url);
                e["commonAlertSchema"] = json!(common);
                e["payload"] = if common || f.legacy.is_null() {
                    alerting::common_payload(f)
                } else {
                    f.legacy.clone()
                };
                e
            }
        };
        tx.append_activity(
            OUTBOX,
            f.resolved.as_deref().unwrap_or(&f.fired),
            &alert_key,
            &entry,
        )?;
        OUTBOX_APPENDS.fetch_add(1, std::sync::atomic::Ordering::Release);
    }
    Ok(sent)
}

/// Every outbox entry, oldest first.
pub fn outbox(store: &Store) -> Result<Vec<Value>, StoreError> {
    Ok(store
        .read(|tx| tx.activity_since(OUTBOX, 0))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// Outbox entries after sequence number `after` (what `notify` has not seen yet).
pub fn outbox_since(store: &Store, after: i64) -> Result<Vec<(i64, Value)>, StoreError> {
    store.read(|tx| tx.activity_since(OUTBOX, after))
}

// ---------------------------------------------------------------------------------------------
// Scheduled query rules

fn meta_key(what: &str, rule_key: &str) -> String {
    format!("alerts:{what}:{rule_key}")
}

/// A scheduled query rule was created or changed at `now`: its evaluations count from then.
pub fn schedule_from(tx: &Tx, rule_key: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    tx.set_meta(&meta_key("last", rule_key), &arm_time(now))
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn ticks(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 100) as i64
}

/// Run every scheduled query rule's evaluations that fell due up to `now` (the emulator clock, after
/// a move of it). Returns how many alerts fired.
pub fn run_due(store: &Store, snap: &Snapshot, now: OffsetDateTime) -> Result<usize, StoreError> {
    let rows = store.read(|tx| tx.by_type(SCHEDULED_QUERY_RULES, None, None))?;
    let mut fired = 0;
    for row in rows {
        match alerting::query_rule(&row.body) {
            Ok(Some(rule)) => fired += run_rule(store, snap, &row, &rule, now)?,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(rule = %row.key, error = %e, "scheduled query rule not evaluated")
            }
        }
    }
    Ok(fired)
}

/// What is kept of one time series of a scheduled query rule between evaluations.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct SeriesState {
    /// Breached (`1`) or not (`0`) per evaluation, newest last, as many as `failingPeriods` reads.
    #[serde(default)]
    history: String,
    /// The fired, not yet resolved alert of a stateful rule.
    #[serde(default)]
    open: Option<String>,
    /// When the series last fired (for `muteActionsDuration` / `throttlingInMin`).
    #[serde(default)]
    fired: Option<String>,
    /// Evaluations in a row without the condition since the open alert fired.
    #[serde(default)]
    clear: usize,
}

/// One evaluation of a series: record it; returns whether the rule's condition holds (enough of
/// the last `numberOfEvaluationPeriods` evaluations breached).
fn record(st: &mut SeriesState, breached: bool, failing: (usize, usize)) -> bool {
    st.history.push(if breached { '1' } else { '0' });
    let keep = st.history.len().saturating_sub(failing.0.max(1));
    st.history = st.history[keep..].to_string();
    let h: Vec<bool> = st.history.chars().map(|c| c == '1').collect();
    alerting::fails_enough(&h, failing)
}

fn run_rule(
    store: &Store,
    snap: &Snapshot,
    row: &Stored,
    rule: &QueryRule,
    now: OffsetDateTime,
) -> Result<usize, StoreError> {
    let (last, saved) = store.read(|tx| -> Result<_, StoreError> {
        Ok((
            tx.meta(&meta_key("last", &row.key))?,
            tx.meta(&meta_key("series", &row.key))?,
        ))
    })?;
    let Some(last) = last.as_deref().and_then(parse_time) else {
        // a rule stored before evaluations were kept (or by the world): count from now
        store.write(|tx| schedule_from(tx, &row.key, now))?;
        return Ok(0);
    };
    let (due, new_last) = alerting::due_times(last, rule.frequency, now, MAX_EVALUATIONS);
    if due.is_empty() {
        return Ok(0);
    }
    let mut states: BTreeMap<String, SeriesState> = saved
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let resolve_after = log_alerts::resolve_after(rule.frequency);
    let mut fired = 0;
    let workspaces = logs::workspaces(store)?;
    let primary = rule.scopes.first().cloned().unwrap_or_default();
    let is_workspace = primary
        .to_ascii_lowercase()
        .contains("/providers/microsoft.operationalinsights/workspaces/");
    let workspace_id = logs::candidates(&workspaces, &primary)
        .first()
        .map(|w| w.customer_id.clone())
        .unwrap_or_default();
    let rule_id = row.body["id"].as_str().unwrap_or(&row.key).to_string();
    for t in due.iter().copied() {
        let window = Window {
            start: ticks(t - rule.window),
            end: ticks(t),
        };
        let outcome = if is_workspace || !primary.starts_with('/') {
            let refs: Vec<&str> = rule.scopes.iter().map(String::as_str).collect();
            logs::query(
                store,
                snap,
                Asker::Platform,
                &refs,
                &rule.query,
                Some(window),
                t,
                false,
            )
        } else {
            logs::query_resource(
                store,
                snap,
                Asker::Platform,
                &primary,
                &rule.query,
                Some(window),
                t,
                false,
            )
        };
        let table = match outcome {
            Ok(o) => logs::result_table("PrimaryResult", &o.table),
            Err(e) => {
                // a failed query neither fires nor resolves anything
                tracing::warn!(rule = %rule.id, error = ?e, "scheduled query rule: the query failed");
                continue;
            }
        };
        let columns: Vec<String> = table["columns"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let rows: Vec<Vec<Value>> = table["rows"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| r.as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let series = log_alerts::evaluate(rule, &columns, &rows);
        let mut to_resolve: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in &series {
            seen.insert(s.key.clone());
            let st = states.entry(s.key.clone()).or_default();
            if !record(st, s.breached, rule.failing) {
                if st.open.is_some() {
                    st.clear += 1;
                }
                continue;
            }
            st.clear = 0;
            if rule.auto_mitigate && st.open.is_some() {
                // stateful: fired once, not again until resolved
                continue;
            }
            let muted =
                st.fired.as_deref().and_then(parse_time).is_some_and(|lf| {
                    rule.throttle > time::Duration::ZERO && t < lf + rule.throttle
                });
            if muted {
                continue;
            }
            let mut sub_table = table.clone();
            sub_table["rows"] = Value::Array(
                s.rows
                    .iter()
                    .map(|&i| Value::Array(rows[i].clone()))
                    .collect(),
            );
            let eval = Evaluation {
                rule,
                start: arm_time(t - rule.window),
                end: arm_time(t),
                value: s.value,
                row_count: s.rows.len(),
                table: sub_table,
                workspace_id: workspace_id.clone(),
                subscription: row.sub.clone(),
                dims: s.dims.clone(),
            };
            let f = log_fired(row, rule, &rule_id, &eval, t);
            store.write(|tx| -> Result<(), StoreError> {
                let mut notified = Vec::new();
                for g in &rule.action_groups {
                    notified.extend(notify(tx, g, &f)?);
                }
                store_alert(tx, &f, &notified)
            })?;
            tracing::info!(rule = %rule.id, alert = %f.alert_id, value = s.value, series = %s.key, "scheduled query rule fired");
            fired += 1;
            st.fired = Some(arm_time(t));
            if rule.auto_mitigate {
                st.open = Some(f.alert_id.clone());
            }
        }
        // a series the result no longer holds did not breach
        for (key, st) in states.iter_mut() {
            if !seen.contains(key) && !record(st, false, rule.failing) && st.open.is_some() {
                st.clear += 1;
            }
        }
        for st in states.values_mut() {
            if st.clear >= resolve_after {
                if let Some(id) = st.open.take() {
                    to_resolve.push(id);
                }
                st.clear = 0;
            }
        }
        if !to_resolve.is_empty() {
            store.write(|tx| -> Result<(), StoreError> {
                for id in &to_resolve {
                    resolve(tx, id, t, rule)?;
                }
                Ok(())
            })?;
        }
        let throttle = rule.throttle;
        states.retain(|_, st| {
            st.open.is_some()
                || st.history.contains('1')
                || (throttle > time::Duration::ZERO
                    && st
                        .fired
                        .as_deref()
                        .and_then(parse_time)
                        .is_some_and(|lf| t < lf + throttle))
        });
    }
    let saved = serde_json::to_string(&states).unwrap_or_default();
    store.write(|tx| -> Result<(), StoreError> {
        tx.set_meta(&meta_key("last", &row.key), &arm_time(new_last))?;
        tx.set_meta(&meta_key("series", &row.key), &saved)?;
        Ok(())
    })?;
    Ok(fired)
}

/// The alert one series of a scheduled query rule fires. The 2018-04-16 shape sends Log
/// Analytics' legacy payload (or the rule's `customWebhookPayload`) to webhooks without the common
/// schema; from 2021-08-01 the standard webhook payload is the common schema ("Sample payloads for
/// log search alerts using webhook actions").
fn log_fired(
    row: &Stored,
    rule: &QueryRule,
    rule_id: &str,
    eval: &Evaluation,
    t: OffsetDateTime,
) -> Fired {
    let service = if rule.legacy {
        "Log Analytics"
    } else {
        "Log Alerts V2"
    };
    let legacy = match (&rule.custom_webhook, rule.legacy) {
        (Some(template), true) => log_alerts::custom_payload(template, eval),
        (None, true) => alerting::legacy_log_payload(eval),
        _ => Value::Null,
    };
    // a series split by resourceIdColumn targets that resource
    let target = rule.resource_id_column.as_ref().and_then(|c| {
        eval.dims
            .iter()
            .find(|(n, v)| n.eq_ignore_ascii_case(c) && v.starts_with('/'))
            .map(|(_, v)| vec![v.clone()])
    });
    Fired {
        alert_id: new_alert_id(&row.sub),
        subscription: row.sub.clone(),
        rule_id: rule_id.to_string(),
        rule_name: rule.name.clone(),
        description: rule.description.clone(),
        severity: rule.severity,
        signal_type: "Log",
        monitoring_service: service.into(),
        monitor_service: service.into(),
        target_ids: target.unwrap_or_else(|| rule.scopes.clone()),
        fired: arm_time(t),
        alert_context: alerting::log_context(eval),
        legacy,
        custom_properties: rule.custom_properties.clone(),
        email_subject: rule.email_subject.clone(),
        resolved: None,
    }
}

/// A stateful alert whose condition cleared: `monitorCondition` Resolved with
/// `monitorConditionResolvedDateTime`, and its action groups notified again ("Alerts and state":
/// "the alert rule sends out a resolved notification by using webhooks or email").
fn resolve(tx: &Tx, alert_id: &str, t: OffsetDateTime, rule: &QueryRule) -> Result<(), StoreError> {
    let key = alert_id.to_lowercase();
    let Some(mut row) = tx.get(&key)? else {
        return Ok(());
    };
    let at = arm_time(t);
    let e = &mut row.body["properties"]["essentials"];
    e["monitorCondition"] = json!("Resolved");
    e["monitorConditionResolvedDateTime"] = json!(at);
    e["lastModifiedDateTime"] = json!(at);
    let c = &mut row.body["properties"]["context"]["essentials"];
    if c.is_object() {
        c["monitorCondition"] = json!("Resolved");
        c["resolvedDateTime"] = json!(at);
    }
    // the history Alerts_GetHistory answers: the condition change, then the groups notified again
    let mut entries = vec![alerting::modification(
        "MonitorConditionChange",
        "Monitor condition changed from 'Fired' to 'Resolved'",
        &at,
        "System",
        "Fired",
        "Resolved",
        "",
        Value::Null,
    )];
    if let Some(mut f) = alerting::resolved_from(&row.body, &at) {
        f.email_subject = rule.email_subject.clone();
        let mut notified = Vec::new();
        for g in &rule.action_groups {
            notified.extend(notify(tx, g, &f)?);
        }
        // created_history's entries after its first (the creation) are the groups notified
        entries.extend(
            alerting::created_history(&f, &notified)
                .into_iter()
                .skip(1)
                .map(|mut e| {
                    e["modifiedAt"] = json!(at);
                    e
                }),
        );
        tracing::info!(alert = %f.alert_id, rule = %f.rule_id, "log search alert resolved");
    }
    match row.body[HISTORY].as_array_mut() {
        Some(h) => h.extend(entries),
        None => row.body[HISTORY] = Value::Array(entries),
    }
    tx.put(&row)?;
    Ok(())
}

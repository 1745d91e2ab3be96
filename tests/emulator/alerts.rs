//! Alerts that fire: action groups, activity-log alerts evaluated as each record is written (a
//! webhook receiving the common-schema or legacy payload, with Azure's retries), scheduled query rules
//! evaluated when the clock moves, `Microsoft.AlertsManagement/alerts` read and changed through a
//! delegation, the outbox at `/_emulator/outbox`, and the Lighthouse sample delegation-alert-for-customer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INSIGHTS: &str = "/providers/Microsoft.Insights";
const AG_API: &str = "api-version=2023-01-01";
const ALA_API: &str = "api-version=2020-10-01";
const SQR_API: &str = "api-version=2023-12-01";
const ALERTS_API: &str = "api-version=2019-05-05-preview";
const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

/// A local HTTP server that answers each POST with the next status of `statuses` (then 200) and
/// keeps the bodies it received.
pub(crate) struct Hook {
    pub(crate) url: String,
    pub(crate) bodies: Arc<Mutex<Vec<Value>>>,
}

pub(crate) async fn hook(statuses: Vec<u16>) -> Hook {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/alerts?code=secret",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let statuses = Arc::new(Mutex::new(statuses));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            let statuses = statuses.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break buf[end + 4..end + 4 + len].to_vec();
                        }
                    }
                };
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                let status = {
                    let mut s = statuses.lock().unwrap();
                    if s.is_empty() {
                        200
                    } else {
                        s.remove(0)
                    }
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Hook { url, bodies }
}

impl Hook {
    /// Wait (up to `secs`) until `n` bodies arrived.
    pub(crate) async fn wait_for(&self, n: usize, secs: u64) -> Vec<Value> {
        for _ in 0..secs * 20 {
            if self.bodies.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.bodies.lock().unwrap().clone()
    }
}

pub(crate) fn ag_path(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}{INSIGHTS}/actionGroups/{name}")
}

pub(crate) async fn put_ok(e: &Emu, token: &str, path: &str, body: Value) -> Value {
    let r = e.call("PUT", path, Some(token), Some(body)).await;
    assert!(
        r.status == 200 || r.status == 201,
        "PUT {path}: {} {}",
        r.status,
        r.body
    );
    r.body
}

pub(crate) async fn action_group(
    e: &Emu,
    token: &str,
    path: &str,
    webhook: &str,
    common: bool,
) -> Value {
    put_ok(
        e,
        token,
        &format!("{path}?{AG_API}"),
        json!({"location": "Global", "properties": {
            "groupShortName": "msp-ops", "enabled": true,
            "emailReceivers": [{"name": "ops", "emailAddress": "ops@contosomsp.example"}],
            "smsReceivers": [{"name": "oncall", "countryCode": "1", "phoneNumber": "5550100"}],
            "webhookReceivers": [{"name": "automation", "serviceUri": webhook, "useCommonAlertSchema": common}],
        }}),
    )
    .await
}

pub(crate) async fn outbox(e: &Emu, kind: &str) -> Vec<Value> {
    let r = e
        .call("GET", &format!("/_emulator/outbox?kind={kind}"), None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["value"].as_array().unwrap().clone()
}

pub(crate) async fn alerts(e: &Emu, token: &str, sub: &str) -> Resp {
    e.call(
        "GET",
        &format!("/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts?{ALERTS_API}"),
        Some(token),
        None,
    )
    .await
}

/// Rows into a workspace's table through the admin endpoint (`POST /_emulator/logs/{customerId}/{table}`).
pub(crate) async fn ingest(e: &Emu, customer_id: &str, table: &str, rows: Value) {
    let r = e
        .call(
            "POST",
            &format!("/_emulator/logs/{customer_id}/{table}"),
            None,
            Some(rows),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

pub(crate) async fn advance(e: &Emu, by: &str) {
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": by})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn action_groups_store_their_receivers_as_azure_returns_them() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let path = ag_path(FABRIKAM_PROD, "rg-web", "ops");
    let b = action_group(&e, &t, &path, "https://example.invalid/hook", true).await;
    assert_eq!(b["location"], "Global");
    let p = &b["properties"];
    assert_eq!(p["emailReceivers"][0]["status"], "Enabled");
    assert_eq!(p["emailReceivers"][0]["useCommonAlertSchema"], false);
    assert_eq!(p["smsReceivers"][0]["status"], "Enabled");
    assert_eq!(p["webhookReceivers"][0]["useCommonAlertSchema"], true);
    assert_eq!(p["enabled"], true);
    // every receiver type is kept as sent
    let full = json!({"location": "Global", "properties": {"groupShortName": "all", "enabled": true,
        "azureFunctionReceivers": [{"name": "f", "functionAppResourceId": "/x", "functionName": "F", "httpTriggerUrl": "http://127.0.0.1:9/f", "useCommonAlertSchema": true}],
        "logicAppReceivers": [{"name": "l", "resourceId": "/y", "callbackUrl": "http://127.0.0.1:9/l"}],
        "automationRunbookReceivers": [{"name": "r", "automationAccountId": "/z", "runbookName": "R", "webhookResourceId": "/w", "isGlobalRunbook": false, "serviceUri": "http://127.0.0.1:9/r"}]}});
    let b = put_ok(
        &e,
        &t,
        &format!("{}?{AG_API}", ag_path(FABRIKAM_PROD, "rg-web", "all")),
        full,
    )
    .await;
    assert_eq!(
        b["properties"]["logicAppReceivers"][0]["callbackUrl"],
        "http://127.0.0.1:9/l"
    );
    assert_eq!(
        b["properties"]["automationRunbookReceivers"][0]["runbookName"],
        "R"
    );
    // test notifications go to the receivers the request names, through the outbox
    let r = e
        .call(
            "POST",
            &format!("{path}/createNotifications?api-version=2026-09-01"),
            Some(&t),
            Some(json!({"alertType": "budget",
                "emailReceivers": [{"name": "me", "emailAddress": "me@fabrikam.example"}],
                "smsReceivers": [{"name": "phone", "countryCode": "44", "phoneNumber": "7700900123"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "Complete");
    let details = r.body["actionDetails"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0]["MechanismType"], "Email");
    assert_eq!(details[0]["Status"], "Completed");
    let mails = outbox(&e, "email").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["to"], "me@fabrikam.example");
    assert_eq!(outbox(&e, "sms").await[0]["to"], "+44 7700900123");
    // groupShortName is required, at most 12 characters
    let r = e
        .call(
            "PUT",
            &format!("{}?{AG_API}", ag_path(FABRIKAM_PROD, "rg-web", "bad")),
            Some(&t),
            Some(json!({"location": "Global", "properties": {"groupShortName": "much-too-long-name", "enabled": true}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"), "{}", r.body);
}

/// The issue's scenario: an activity-log alert in fabrikam-prod calls the provider's automation when
/// alice (delegated) deletes a resource group there.
#[tokio::test]
async fn activity_log_alert_posts_the_common_schema_when_alice_deletes_a_group() {
    let e = emu().await;
    let server = hook(vec![]).await;
    let alice = e.token("alice").await;
    let ag = ag_path(FABRIKAM_PROD, "rg-web", "msp-automation");
    action_group(&e, &alice, &ag, &server.url, true).await;
    let rule = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web{INSIGHTS}/activityLogAlerts/rg-deleted");
    let b = put_ok(
        &e,
        &alice,
        &format!("{rule}?{ALA_API}"),
        json!({"location": "Global", "properties": {
            "scopes": [format!("/subscriptions/{FABRIKAM_PROD}")],
            "condition": {"allOf": [
                {"field": "category", "equals": "Administrative"},
                {"field": "operationName", "equals": "Microsoft.Resources/subscriptions/resourceGroups/delete"},
                {"field": "status", "equals": "Succeeded"}]},
            "actions": {"actionGroups": [{"actionGroupId": ag, "webhookProperties": {"customer": "fabrikam"}}]},
            "description": "A resource group was deleted"}}),
    )
    .await;
    assert_eq!(b["properties"]["enabled"], true);
    // spelled as Microsoft.Insights answers it, here and on a read (the JS SDK test checks it too)
    assert_eq!(b["location"], "Global");
    let r = e
        .call("GET", &format!("{rule}?{ALA_API}"), Some(&alice), None)
        .await;
    assert_eq!(r.body["location"], "Global", "{}", r.body);
    // a write that does not match fires nothing
    let rg =
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-temp?api-version=2024-11-01");
    put_ok(&e, &alice, &rg, json!({"location": "westeurope"})).await;
    assert!(server.wait_for(1, 1).await.is_empty());
    let r = e.call("DELETE", &rg, Some(&alice), None).await;
    assert!(r.status == 202 || r.status == 200, "{}", r.body);
    let got = server.wait_for(1, 10).await;
    assert_eq!(got.len(), 1, "one POST for the EndRequest event: {got:?}");
    let p = &got[0];
    assert_eq!(p["schemaId"], "azureMonitorCommonAlertSchema");
    let ess = &p["data"]["essentials"];
    assert_eq!(ess["alertRule"], "rg-deleted");
    assert_eq!(ess["signalType"], "Activity Log");
    assert_eq!(ess["monitoringService"], "Activity Log - Administrative");
    assert_eq!(ess["severity"], "Sev4");
    assert_eq!(ess["monitorCondition"], "Fired");
    let target = ess["alertTargetIDs"][0].as_str().unwrap();
    assert_eq!(
        target,
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-temp")
    );
    assert!(ess["alertId"].as_str().unwrap().starts_with(&format!(
        "/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.AlertsManagement/alerts/"
    )));
    let ctx = &p["data"]["alertContext"];
    assert_eq!(ctx["caller"], "alice@contosomsp.onmicrosoft.com");
    assert_eq!(
        ctx["operationName"],
        "Microsoft.Resources/subscriptions/resourceGroups/delete"
    );
    assert_eq!(ctx["status"], "Succeeded");
    assert_eq!(p["data"]["customProperties"]["customer"], "fabrikam");

    // the alert, listed by the customer and through the delegation, and acknowledged by alice
    let admin = e.token("admin@fabrikam").await;
    let mine = alerts(&e, &admin, FABRIKAM_PROD).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let list = mine.body["value"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let alert = &list[0];
    assert_eq!(alert["type"], "Microsoft.AlertsManagement/alerts");
    assert_eq!(alert["name"], "rg-deleted");
    assert_eq!(alert["properties"]["essentials"]["alertState"], "New");
    assert_eq!(
        alert["properties"]["essentials"]["monitorService"],
        "ActivityLog Administrative"
    );
    assert_eq!(alert["id"], ess["alertId"]);
    let theirs = alerts(&e, &alice, FABRIKAM_PROD).await;
    assert_eq!(theirs.body["value"].as_array().unwrap().len(), 1);
    let id = alert["id"].as_str().unwrap();
    let r = e
        .call(
            "POST",
            &format!("{id}/changestate?newState=Acknowledged&{ALERTS_API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["essentials"]["alertState"],
        "Acknowledged"
    );
    assert_eq!(
        r.body["properties"]["essentials"]["lastModifiedUserName"],
        "alice@contosomsp.onmicrosoft.com"
    );
    let r = e
        .call("GET", &format!("{id}?{ALERTS_API}"), Some(&admin), None)
        .await;
    assert_eq!(
        r.body["properties"]["essentials"]["alertState"],
        "Acknowledged"
    );
    let r = e
        .call(
            "POST",
            &format!("{id}/changestate?newState=Sleeping&{ALERTS_API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    // a tenant with no standing in the subscription sees nothing
    let northwind = e.token("admin@northwind").await;
    assert!(alerts(&e, &northwind, FABRIKAM_PROD).await.status >= 400);
    // alerts are not resources of the subscription
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resources?api-version=2024-11-01"),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        !r.body.to_string().contains("AlertsManagement"),
        "{}",
        r.body
    );

    // the e-mail and the SMS are in the outbox
    let mails = outbox(&e, "email").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "ops@contosomsp.example");
    assert!(mails[0]["subject"].as_str().unwrap().contains("rg-deleted"));
    let sms = outbox(&e, "sms").await;
    assert_eq!(sms[0]["to"], "+1 5550100");
    assert_eq!(outbox(&e, "webhook").await[0]["url"], server.url);

    // a disabled rule, and a deleted one, fire no more
    let mut disabled = e
        .call("GET", &format!("{rule}?{ALA_API}"), Some(&alice), None)
        .await
        .body;
    disabled["properties"]["enabled"] = json!(false);
    put_ok(&e, &alice, &format!("{rule}?{ALA_API}"), disabled).await;
    put_ok(&e, &alice, &rg, json!({"location": "westeurope"})).await;
    e.call("DELETE", &rg, Some(&alice), None).await;
    assert_eq!(server.wait_for(2, 1).await.len(), 1);
    assert_eq!(outbox(&e, "email").await.len(), 1);
}

/// Without the common schema the webhook gets the legacy activity-log payload; 503 is retried as
/// Azure retries it (the second attempt 5 s later).
#[tokio::test]
async fn legacy_payload_and_retry_after_503() {
    let e = emu().await;
    let server = hook(vec![503]).await;
    let t = e.token("admin@fabrikam").await;
    let ag = ag_path(FABRIKAM_PROD, "rg-web", "legacy");
    action_group(&e, &t, &ag, &server.url, false).await;
    put_ok(
        &e,
        &t,
        &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web{INSIGHTS}/activityLogAlerts/tags?{ALA_API}"),
        json!({"location": "Global", "properties": {
            "scopes": [format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web")],
            "condition": {"allOf": [{"field": "category", "equals": "Administrative"},
                                    {"anyOf": [{"field": "status", "equals": "Succeeded"}, {"field": "status", "equals": "Failed"}]},
                                    {"field": "resourceType", "equals": "Microsoft.Resources/tags"}]},
            "actions": {"actionGroups": [{"actionGroupId": ag}]}}}),
    )
    .await;
    // a write outside the rule's scope (another group) is not seen
    put_ok(
        &e,
        &t,
        &format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-other?api-version=2024-11-01"),
        json!({"location": "westeurope"}),
    )
    .await;
    let r = e
        .call(
            "PUT",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Resources/tags/default?api-version=2021-04-01"),
            Some(&t),
            Some(json!({"properties": {"tags": {"env": "prod"}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = server.wait_for(2, 15).await;
    assert_eq!(got.len(), 2, "the 503 was retried: {got:?}");
    assert_eq!(got[0], got[1]);
    let p = &got[1];
    assert_eq!(p["schemaId"], "Microsoft.Insights/activityLogs");
    assert_eq!(p["data"]["status"], "Activated");
    let log = &p["data"]["context"]["activityLog"];
    assert_eq!(log["caller"], "admin@fabrikam.onmicrosoft.com");
    assert_eq!(log["subscriptionId"], FABRIKAM_PROD);
    assert_eq!(log["resourceGroupName"], "rg-web");
}

pub(crate) async fn workspace(
    e: &Emu,
    token: &str,
    sub: &str,
    rg: &str,
    name: &str,
) -> (String, String) {
    let path = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{name}");
    let b = put_ok(
        e,
        token,
        &format!("{path}?api-version=2025-07-01"),
        json!({"location": "westeurope", "properties": {}}),
    )
    .await;
    (
        path,
        b["properties"]["customerId"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn scheduled_query_rule_fires_when_the_clock_passes_its_frequency() {
    let e = emu().await;
    let server = hook(vec![]).await;
    let t = e.token("admin@fabrikam").await;
    let (ws, cid) = workspace(&e, &t, FABRIKAM_PROD, "rg-web", "ws-alerts").await;
    let ag = ag_path(FABRIKAM_PROD, "rg-web", "sqr");
    action_group(&e, &t, &ag, &server.url, true).await;
    let rule = |threshold: i64, enabled: bool| {
        json!({"location": "westeurope", "properties": {
            "severity": 2, "enabled": enabled, "evaluationFrequency": "PT5M", "windowSize": "PT10M",
            "scopes": [ws], "description": "failed logins",
            "criteria": {"allOf": [{"query": format!("Logins_CL | where Result == 'Failed' | extend n = {threshold}"),
                "timeAggregation": "Count", "operator": "GreaterThan", "threshold": threshold,
                "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}}]},
            "actions": {"actionGroups": [ag], "customProperties": {"team": "msp"}}}})
    };
    let base = format!(
        "/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web{INSIGHTS}/scheduledQueryRules"
    );
    let b = put_ok(
        &e,
        &t,
        &format!("{base}/failed-logins?{SQR_API}"),
        rule(1, true),
    )
    .await;
    assert_eq!(b["properties"]["createdWithApiVersion"], "2023-12-01");
    assert_eq!(b["properties"]["isLegacyLogAnalyticsRule"], false);
    put_ok(&e, &t, &format!("{base}/never?{SQR_API}"), rule(100, true)).await;
    put_ok(&e, &t, &format!("{base}/off?{SQR_API}"), rule(0, false)).await;
    // a malformed schedule is refused
    let mut bad = rule(1, true);
    bad["properties"]["evaluationFrequency"] = json!("every five minutes");
    let r = e
        .call("PUT", &format!("{base}/bad?{SQR_API}"), Some(&t), Some(bad))
        .await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"), "{}", r.body);

    let rows = json!([{"User": "eve", "Result": "Failed"}, {"User": "eve", "Result": "Failed"}, {"User": "bob", "Result": "Success"}]);
    ingest(&e, &cid, "Logins_CL", rows).await;
    // nothing runs before the clock passes the frequency
    advance(&e, "PT1M").await;
    assert!(alerts(&e, &t, FABRIKAM_PROD).await.body["value"]
        .as_array()
        .unwrap()
        .is_empty());
    advance(&e, "PT5M").await;
    let got = server.wait_for(1, 10).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let ess = &got[0]["data"]["essentials"];
    assert_eq!(ess["alertRule"], "failed-logins");
    assert_eq!(ess["signalType"], "Log");
    assert_eq!(ess["monitoringService"], "Log Alerts V2");
    assert_eq!(ess["severity"], "Sev2");
    let cond = &got[0]["data"]["alertContext"]["condition"];
    assert_eq!(cond["allOf"][0]["metricValue"], 2.0);
    assert_eq!(cond["windowSize"], "PT10M");
    assert_eq!(got[0]["data"]["customProperties"]["team"], "msp");
    let list = alerts(&e, &t, FABRIKAM_PROD).await.body["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        list.len(),
        1,
        "only the rule whose threshold was passed fired: {list:?}"
    );
    assert_eq!(
        list[0]["properties"]["essentials"]["monitorService"],
        "Log Alerts V2"
    );
    // stateful (autoMitigate): the condition still holds ten minutes on, no second alert; once the
    // rows leave the window the alert resolves after three clear 5-minute evaluations ("Alerts and
    // state"), not after two
    advance(&e, "PT5M").await;
    assert_eq!(
        alerts(&e, &t, FABRIKAM_PROD).await.body["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    advance(&e, "PT10M").await;
    assert_eq!(
        alerts(&e, &t, FABRIKAM_PROD).await.body["value"][0]["properties"]["essentials"]
            ["monitorCondition"],
        "Fired"
    );
    advance(&e, "PT5M").await;
    let list = alerts(&e, &t, FABRIKAM_PROD).await.body["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["properties"]["essentials"]["monitorCondition"],
        "Resolved"
    );
    // one e-mail when it fired, one when it resolved
    assert_eq!(outbox(&e, "email").await.len(), 2);
}

/// Item 6: the Azure Lighthouse sample delegation-alert-for-customer, unmodified, in fabrikam-dev;
/// a new delegation of fabrikam-dev fires it once the clock passes its 5-minute frequency.
#[tokio::test]
async fn the_delegation_alert_sample_fires_for_a_new_delegation() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let (ws, _) = workspace(&e, &admin, FABRIKAM_DEV, "rg-dev", "ws-delegations").await;
    let r = e
        .call(
            "PUT",
            &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Insights/diagnosticSettings/to-ws?api-version=2021-05-01-preview"),
            Some(&admin),
            Some(json!({"properties": {"workspaceId": ws, "logs": [{"category": "Administrative", "enabled": true}]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/templates/lighthouse/templates/delegation-alert-for-customer/delegationAlert.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let params = json!({
        "logAnalyticsResourceId": {"value": ws},
        "logAnalyticsWorkspaceLocation": {"value": "westeurope"},
        "actionGroupNameOrId": {"value": "geneva"},
        "emailAddress": {"value": "security@fabrikam.example"},
    });
    let dep = format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/Microsoft.Resources/deployments/delegation-alert?api-version=2025-04-01");
    let r = e
        .call(
            "PUT",
            &dep,
            Some(&admin),
            Some(json!({"properties": {"mode": "Incremental", "template": template, "parameters": params}})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = e.call("GET", &dep, Some(&admin), None).await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        r.body
    );
    let rule = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev{INSIGHTS}/scheduledQueryRules/armDelegation?api-version=2018-04-16"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rule.status, 200, "{}", rule.body);
    assert_eq!(rule.body["properties"]["provisioningState"], "Succeeded");
    // nothing before a delegation
    advance(&e, "PT6M").await;
    assert!(outbox(&e, "email").await.is_empty());

    // fabrikam-dev is delegated to Contoso MSP
    let def_id = "70000000-0000-0000-0000-00000000a1e7";
    let def = format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}?api-version=2022-10-01");
    put_ok(&e, &admin, &def, json!({"properties": {
        "registrationDefinitionName": "Contoso MSP - monitoring", "description": "alerts",
        "managedByTenantId": CONTOSO,
        "authorizations": [{"principalId": MSP_OPERATORS, "principalIdDisplayName": "MSP Operators", "roleDefinitionId": CONTRIBUTOR}]}})).await;
    let assign = format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationAssignments/70000000-0000-0000-0000-00000000b1e7?api-version=2022-10-01");
    put_ok(&e, &admin, &assign, json!({"properties": {"registrationDefinitionId":
        format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}")}})).await;
    assert!(
        outbox(&e, "email").await.is_empty(),
        "not before the next evaluation"
    );
    advance(&e, "PT5M").await;
    let mails = outbox(&e, "email").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "security@fabrikam.example");
    assert_eq!(mails[0]["subject"], "Azure Delegated Resource Management");
    assert_eq!(mails[0]["alertRule"], "armDelegation");
    assert!(mails[0]["actionGroup"]
        .as_str()
        .unwrap()
        .ends_with("/actionGroups/geneva"));
    let list = alerts(&e, &admin, FABRIKAM_DEV).await.body["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["properties"]["essentials"]["severity"], "Sev0");
    assert_eq!(
        list[0]["properties"]["essentials"]["monitorService"],
        "Log Analytics"
    );
    // the provider, now delegated, sees the alert about its own delegation
    let alice = e.token("alice").await;
    assert_eq!(
        alerts(&e, &alice, FABRIKAM_DEV).await.body["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // the next window holds no new delegation: no second e-mail
    advance(&e, "PT5M").await;
    assert_eq!(outbox(&e, "email").await.len(), 1);
}

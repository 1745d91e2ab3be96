//! Log search alert semantics: a stateful rule split by dimensions fires one alert per combination
//! and, after the documented number of clear evaluations, resolves each with a `Resolved`
//! notification; a stateless rule fires on every evaluation past its mute; the 2018-04-16 metric
//! measurement trigger with a custom webhook payload; the requests `az monitor scheduled-query`
//! sends at its api-version 2021-08-01.

use crate::alerts::{
    action_group, advance, ag_path, alerts, hook, ingest, outbox, put_ok, workspace,
};
use crate::*;
use serde_json::{json, Value};

const INSIGHTS: &str = "/providers/Microsoft.Insights";
const SQR_API: &str = "api-version=2023-12-01";

fn rules_path(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}{INSIGHTS}/scheduledQueryRules")
}

async fn alert_list(e: &Emu, t: &str) -> Vec<Value> {
    let r = alerts(e, t, FABRIKAM_PROD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["value"].as_array().unwrap().clone()
}

fn conditions(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|a| {
            a["properties"]["essentials"]["monitorCondition"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn user_of(body: &Value) -> String {
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_stateful_rule_split_by_user_fires_and_resolves_each_user() {
    let e = emu().await;
    let server = hook(vec![]).await;
    let t = e.token("admin@fabrikam").await;
    let (ws, cid) = workspace(&e, &t, FABRIKAM_PROD, "rg-web", "ws-dims").await;
    let ag = ag_path(FABRIKAM_PROD, "rg-web", "dims");
    action_group(&e, &t, &ag, &server.url, true).await;
    put_ok(
        &e,
        &t,
        &format!("{}/failed-by-user?{SQR_API}", rules_path(FABRIKAM_PROD, "rg-web")),
        json!({"location": "westeurope", "properties": {
            "severity": 1, "enabled": true, "evaluationFrequency": "PT5M", "windowSize": "PT5M",
            "scopes": [ws], "autoMitigate": true,
            "criteria": {"allOf": [{"query": "Logins_CL | where Result == 'Failed'",
                "timeAggregation": "Count", "operator": "GreaterThan", "threshold": 1,
                "dimensions": [{"name": "User", "operator": "Include", "values": ["*"]},
                               {"name": "Result", "operator": "Exclude", "values": ["Success"]}],
                "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}}]},
            "actions": {"actionGroups": [ag], "customProperties": {"team": "msp"},
                        "actionProperties": {"Email.Subject": "${data.essentials.monitorCondition}: failed logins of ${data.alertContext.condition.allOf[0].dimensions[0].value}"}}}}),
    )
    .await;
    let rows = json!([
        {"User": "eve", "Result": "Failed"}, {"User": "eve", "Result": "Failed"}, {"User": "eve", "Result": "Failed"},
        {"User": "bob", "Result": "Failed"},
        {"User": "mallory", "Result": "Failed"}, {"User": "mallory", "Result": "Failed"},
        {"User": "alice", "Result": "Success"}, {"User": "alice", "Result": "Success"}]);
    ingest(&e, &cid, "Logins_CL", rows).await;

    advance(&e, "PT5M").await;
    let got = server.wait_for(2, 10).await;
    assert_eq!(
        got.len(),
        2,
        "eve (3) and mallory (2) pass 1, bob (1) does not: {got:?}"
    );
    let mut users: Vec<String> = got.iter().map(user_of).collect();
    users.sort();
    assert_eq!(users, ["eve", "mallory"]);
    for b in &got {
        let ess = &b["data"]["essentials"];
        assert_eq!(ess["monitorCondition"], "Fired");
        assert!(ess.get("resolvedDateTime").is_none());
        let cond = &b["data"]["alertContext"]["condition"]["allOf"][0];
        assert_eq!(cond["dimensions"][0]["name"], "User");
        assert_eq!(
            cond["dimensions"][1],
            json!({"name": "Result", "value": "Failed"})
        );
        let want = if user_of(b) == "eve" { 3.0 } else { 2.0 };
        assert_eq!(cond["metricValue"], want);
        assert_eq!(b["data"]["customProperties"]["team"], "msp");
    }
    let list = alert_list(&e, &t).await;
    assert_eq!(conditions(&list), ["Fired", "Fired"]);
    assert_ne!(list[0]["id"], list[1]["id"], "one alert per combination");

    // stateful: two clear 5-minute evaluations do not resolve it, the third does ("Alerts and state")
    advance(&e, "PT10M").await;
    assert_eq!(conditions(&alert_list(&e, &t).await), ["Fired", "Fired"]);
    assert_eq!(
        server.bodies.lock().unwrap().len(),
        2,
        "no new notification while fired"
    );
    advance(&e, "PT5M").await;
    let list = alert_list(&e, &t).await;
    assert_eq!(conditions(&list), ["Resolved", "Resolved"]);
    for a in &list {
        let ess = &a["properties"]["essentials"];
        assert!(ess["monitorConditionResolvedDateTime"].is_string(), "{a}");
        // the history records the condition change and the groups notified again
        let id = a["id"].as_str().unwrap();
        let h = e
            .call(
                "GET",
                &format!("{id}/history?api-version=2019-05-05-preview"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(h.status, 200, "{}", h.body);
        let events: Vec<&str> = h.body["properties"]["modifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["modificationEvent"].as_str().unwrap())
            .collect();
        assert_eq!(
            events,
            [
                "AlertCreated",
                "ActionsTriggered",
                "MonitorConditionChange",
                "ActionsTriggered"
            ],
            "{}",
            h.body
        );
    }
    let got = server.wait_for(4, 10).await;
    assert_eq!(got.len(), 4, "{got:?}");
    let resolved: Vec<&Value> = got[2..].iter().collect();
    let mut users: Vec<String> = resolved.iter().map(|b| user_of(b)).collect();
    users.sort();
    assert_eq!(
        users,
        ["eve", "mallory"],
        "the resolved notifications keep their dimensions"
    );
    for b in resolved {
        let ess = &b["data"]["essentials"];
        assert_eq!(ess["monitorCondition"], "Resolved");
        assert!(ess["resolvedDateTime"].is_string());
        assert_eq!(ess["alertRule"], "failed-by-user");
        assert_eq!(b["data"]["customProperties"]["team"], "msp");
        let fired_id = &ess["alertId"];
        assert!(
            list.iter().any(|a| &a["id"] == fired_id),
            "the same alert resolves"
        );
    }
    // e-mails: the subject from actionProperties' Email.Subject, filled from the common schema
    let mut subjects: Vec<String> = outbox(&e, "email")
        .await
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Fired: failed logins of eve",
            "Fired: failed logins of mallory",
            "Resolved: failed logins of eve",
            "Resolved: failed logins of mallory",
        ]
    );

    // eve fails again: a new alert for her alone
    ingest(
        &e,
        &cid,
        "Logins_CL",
        json!([{"User": "eve", "Result": "Failed"}, {"User": "eve", "Result": "Failed"}]),
    )
    .await;
    advance(&e, "PT5M").await;
    let got = server.wait_for(5, 10).await;
    assert_eq!(got.len(), 5);
    assert_eq!(user_of(&got[4]), "eve");
    assert_eq!(got[4]["data"]["essentials"]["monitorCondition"], "Fired");
    let mut conds = conditions(&alert_list(&e, &t).await);
    conds.sort();
    assert_eq!(conds, ["Fired", "Resolved", "Resolved"]);
}

#[tokio::test]
async fn a_stateless_rule_fires_each_evaluation_after_its_mute_and_never_resolves() {
    let e = emu().await;
    let server = hook(vec![]).await;
    let t = e.token("admin@fabrikam").await;
    let (ws, cid) = workspace(&e, &t, FABRIKAM_PROD, "rg-web", "ws-stateless").await;
    let ag = ag_path(FABRIKAM_PROD, "rg-web", "stateless");
    action_group(&e, &t, &ag, &server.url, true).await;
    put_ok(
        &e,
        &t,
        &format!("{}/errors?{SQR_API}", rules_path(FABRIKAM_PROD, "rg-web")),
        json!({"location": "westeurope", "properties": {
            "severity": 3, "enabled": true, "evaluationFrequency": "PT5M", "windowSize": "PT1H",
            "scopes": [ws], "autoMitigate": false, "muteActionsDuration": "PT10M",
            "criteria": {"allOf": [{"query": "AppErrors_CL", "timeAggregation": "Count",
                "operator": "GreaterThan", "threshold": 0}]},
            "actions": {"actionGroups": [ag]}}}),
    )
    .await;
    ingest(&e, &cid, "AppErrors_CL", json!([{"Message": "disk full"}])).await;
    advance(&e, "PT5M").await;
    assert_eq!(alert_list(&e, &t).await.len(), 1);
    // +10: within the 10-minute mute of the +5 alert
    advance(&e, "PT5M").await;
    assert_eq!(alert_list(&e, &t).await.len(), 1);
    // +15: the mute is over and the condition still holds: a second alert
    advance(&e, "PT5M").await;
    assert_eq!(alert_list(&e, &t).await.len(), 2);
    // an hour on the row has left the window; stateless alerts stay Fired
    advance(&e, "PT2H").await;
    let t = e.token("admin@fabrikam").await;
    let list = alert_list(&e, &t).await;
    assert!(list.len() >= 3, "{}", list.len());
    assert!(conditions(&list).iter().all(|c| c == "Fired"));
    let n = list.len();
    advance(&e, "PT1H").await;
    let t = e.token("admin@fabrikam").await;
    assert_eq!(alert_list(&e, &t).await.len(), n, "no rows, no alerts");
    let got = server.wait_for(n, 10).await;
    assert!(got
        .iter()
        .all(|b| b["data"]["essentials"]["monitorCondition"] == "Fired"));
}

#[tokio::test]
async fn a_2018_metric_measurement_rule_posts_its_custom_payload_per_computer() {
    let e = emu().await;
    let common = hook(vec![]).await;
    let custom = hook(vec![]).await;
    let t = e.token("admin@fabrikam").await;
    let (ws, cid) = workspace(&e, &t, FABRIKAM_PROD, "rg-web", "ws-legacy").await;
    let ag = ag_path(FABRIKAM_PROD, "rg-web", "legacy");
    put_ok(
        &e,
        &t,
        &format!("{ag}?api-version=2023-01-01"),
        json!({"location": "Global", "properties": {"groupShortName": "legacy", "enabled": true,
            "emailReceivers": [{"name": "ops", "emailAddress": "ops@contosomsp.example"}],
            "webhookReceivers": [
                {"name": "common", "serviceUri": common.url, "useCommonAlertSchema": true},
                {"name": "custom", "serviceUri": custom.url, "useCommonAlertSchema": false}]}}),
    )
    .await;
    // 5-minute bins of computer a (90, 95, 50, 99) and b (10, 85), inside the first hour's window
    let now = e.call("GET", "/_emulator/clock", None, None).await.body["now"]
        .as_str()
        .unwrap()
        .to_string();
    let now =
        time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339).unwrap();
    let at = |m: i64| {
        (now - time::Duration::minutes(m))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let rows = json!([
        {"Computer": "a", "TimeGenerated": at(40), "Value": 90.0},
        {"Computer": "a", "TimeGenerated": at(35), "Value": 95.0},
        {"Computer": "a", "TimeGenerated": at(30), "Value": 50.0},
        {"Computer": "a", "TimeGenerated": at(25), "Value": 99.0},
        {"Computer": "b", "TimeGenerated": at(40), "Value": 10.0},
        {"Computer": "b", "TimeGenerated": at(35), "Value": 85.0}]);
    ingest(&e, &cid, "Perf_CL", rows).await;
    let query =
        "Perf_CL | summarize AggregatedValue = avg(Value) by Computer, bin(TimeGenerated, 5m)";
    let rule = |kind: &str, breaches: i64| {
        json!({"location": "westeurope", "properties": {"enabled": "true", "description": "hot CPUs",
            "source": {"query": query, "dataSourceId": ws, "queryType": "ResultCount"},
            "schedule": {"frequencyInMinutes": 15, "timeWindowInMinutes": 60},
            "action": {"odata.type": "Microsoft.WindowsAzure.Management.Monitoring.Alerts.Models.Microsoft.AppInsights.Nexus.DataContracts.Resources.ScheduledQueryRules.AlertingAction",
                "severity": "1",
                "aznsAction": {"actionGroup": [ag], "emailSubject": "CPU hot",
                    "customWebhookPayload": "{\"text\": \"#alertrulename: #searchresultcount bins over #thresholdvalue in #subscriptionid (#alerttype)\", \"IncludeDimensions\": true}"},
                "trigger": {"thresholdOperator": "GreaterThan", "threshold": 80,
                    "metricTrigger": {"thresholdOperator": "GreaterThan", "threshold": breaches,
                        "metricTriggerType": kind, "metricColumn": "Computer"}}}}})
    };
    let base = rules_path(FABRIKAM_PROD, "rg-web");
    // a: 3 breaches in total (> 2); 2 in a row (not > 2); b: 1
    put_ok(
        &e,
        &t,
        &format!("{base}/cpu-total?api-version=2018-04-16"),
        rule("Total", 2),
    )
    .await;
    put_ok(
        &e,
        &t,
        &format!("{base}/cpu-consecutive?api-version=2018-04-16"),
        rule("Consecutive", 2),
    )
    .await;
    let r = e
        .call(
            "PUT",
            &format!("{base}/bad?api-version=2018-04-16"),
            Some(&t),
            Some(rule("Sometimes", 2)),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"), "{}", r.body);

    advance(&e, "PT15M").await;
    let got = custom.wait_for(1, 10).await;
    assert_eq!(
        got.len(),
        1,
        "only cpu-total fires, for computer a: {got:?}"
    );
    assert_eq!(
        got[0],
        json!({"text": format!("cpu-total: 4 bins over 80 in {FABRIKAM_PROD} (Metric measurement)"),
               "IncludeDimensions": true,
               "Dimensions": [{"name": "Computer", "value": "a"}]})
    );
    let got = common.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    let ctx = &got[0]["data"]["alertContext"];
    assert_eq!(
        got[0]["data"]["essentials"]["monitoringService"],
        "Log Analytics"
    );
    assert_eq!(ctx["AlertType"], "Metric measurement");
    assert_eq!(ctx["Dimensions"][0]["value"], "a");
    assert_eq!(ctx["ResultCount"], 4);
    let mails = outbox(&e, "email").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["subject"], "CPU hot");
    assert_eq!(alert_list(&e, &t).await.len(), 1);
    // 15 minutes on the window has lost a's first three bins: one breach is not more than two
    advance(&e, "PT15M").await;
    let t = e.token("admin@fabrikam").await;
    assert_eq!(alert_list(&e, &t).await.len(), 1);
    assert_eq!(custom.bodies.lock().unwrap().len(), 1);
}

/// The requests `az monitor scheduled-query create/update/show/list/delete` sends (its vendored SDK
/// at api-version 2021-08-01, bodies as its recorded test session shows them).
#[tokio::test]
async fn the_scheduled_query_extension_requests_are_served_at_2021_08_01() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let (ws, _) = workspace(&e, &t, FABRIKAM_PROD, "rg-web", "ws-ext").await;
    let api = "api-version=2021-08-01";
    let base = rules_path(FABRIKAM_PROD, "rg-web");
    let body = |desc: &str, sev: i64, enabled: bool, freq: &str, op: &str, threshold: f64| {
        json!({"location": "westeurope", "properties": {"description": desc, "severity": sev,
            "enabled": enabled, "scopes": [ws], "evaluationFrequency": freq, "windowSize": freq,
            "criteria": {"allOf": [{"query": "AppErrors_CL | where Level == 'Error'", "timeAggregation": "Count",
                "resourceIdColumn": "_ResourceId", "dimensions": [], "operator": op, "threshold": threshold,
                "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}}]},
            "actions": {"actionGroups": [], "customProperties": {"k1": "v1"}},
            "checkWorkspaceAlertsStorageConfigured": false, "skipQueryValidation": false,
            "autoMitigate": true}})
    };
    let r = e
        .call(
            "PUT",
            &format!("{base}/sq01?{api}"),
            Some(&t),
            Some(body("Test rule", 2, true, "PT5M", "GreaterThan", 360.0)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = &r.body["properties"];
    assert_eq!(r.body["name"], "sq01");
    assert_eq!(p["severity"], 2);
    assert_eq!(p["criteria"]["allOf"][0]["threshold"], 360.0);
    assert_eq!(p["criteria"]["allOf"][0]["timeAggregation"], "Count");
    assert_eq!(p["createdWithApiVersion"], "2021-08-01");
    assert_eq!(p["skipQueryValidation"], false);
    // update = GET, then PUT of the changed body
    let r = e
        .call("GET", &format!("{base}/sq01?{api}"), Some(&t), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut changed = body("Test rule 2", 4, false, "PT10M", "LessThan", 260.0);
    changed["properties"]["muteActionsDuration"] = json!("PT30M");
    changed["properties"]["autoMitigate"] = json!(false);
    let r = e
        .call(
            "PUT",
            &format!("{base}/sq01?{api}"),
            Some(&t),
            Some(changed),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body["properties"];
    assert_eq!(
        (
            &p["severity"],
            &p["enabled"],
            &p["windowSize"],
            &p["muteActionsDuration"]
        ),
        (&json!(4), &json!(false), &json!("PT10M"), &json!("PT30M"))
    );
    assert_eq!(p["criteria"]["allOf"][0]["operator"], "LessThan");
    assert_eq!(p["createdWithApiVersion"], "2021-08-01");
    for url in [
        format!("{base}?{api}"),
        format!("/subscriptions/{FABRIKAM_PROD}{INSIGHTS}/scheduledQueryRules?{api}"),
    ] {
        let r = e.call("GET", &url, Some(&t), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let names: Vec<&str> = r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(names, ["sq01"], "{url}");
    }
    let r = e
        .call("DELETE", &format!("{base}/sq01?{api}"), Some(&t), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call("GET", &format!("{base}/sq01?{api}"), Some(&t), None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "ResourceNotFound"),
        "{}",
        r.body
    );
}

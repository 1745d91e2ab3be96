//! Microsoft.AlertsManagement beyond list/get/changestate, through the real pipeline: an alert's
//! history (created by the system, its action group notified, acknowledged by a delegated user with
//! a comment), the summary's counts, the tenant-level forms as each caller's standing and grants
//! allow them, the metadata and the operations list.

use crate::*;
use serde_json::{json, Value};

/// What azure-mgmt-alertsmanagement 1.0.1 sends.
const API: &str = "api-version=2019-05-05-preview";
const AM: &str = "/providers/Microsoft.AlertsManagement";

/// An action group and an activity log alert rule in fabrikam-prod that fires whenever a resource
/// group is written; then `groups` resource groups written by admin@fabrikam. Returns the alerts,
/// newest first, and the action group's id.
async fn fire(e: &Emu, admin: &str, groups: &[&str]) -> (Vec<Value>, String) {
    let rg_web = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web");
    let ag = format!("{rg_web}/providers/Microsoft.Insights/actionGroups/ops");
    let r = e
        .call(
            "PUT",
            &format!("{ag}?api-version=2023-01-01"),
            Some(admin),
            Some(json!({"location": "Global", "properties": {"groupShortName": "ops", "enabled": true,
                "emailReceivers": [{"name": "ops", "emailAddress": "ops@fabrikam.example"}]}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &format!("{rg_web}/providers/Microsoft.Insights/activityLogAlerts/rg-written?api-version=2020-10-01"),
            Some(admin),
            Some(json!({"location": "Global", "properties": {
                "scopes": [format!("/subscriptions/{FABRIKAM_PROD}")],
                "condition": {"allOf": [
                    {"field": "category", "equals": "Administrative"},
                    {"field": "operationName", "equals": "Microsoft.Resources/subscriptions/resourceGroups/write"},
                    {"field": "status", "equals": "Succeeded"}]},
                "actions": {"actionGroups": [{"actionGroupId": ag}]}}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    for g in groups {
        let r = e
            .call(
                "PUT",
                &format!(
                    "/subscriptions/{FABRIKAM_PROD}/resourcegroups/{g}?api-version=2024-11-01"
                ),
                Some(admin),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert!(r.status < 300, "{}", r.body);
    }
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}{AM}/alerts?{API}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let alerts = r.body["value"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), groups.len(), "one alert per group written");
    (alerts, ag)
}

fn guid(alert: &Value) -> String {
    alert["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delegated_acknowledgement_is_in_the_history_with_its_user() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let (alerts, ag) = fire(&e, &admin, &["rg-one"]).await;
    let id = alerts[0]["id"].as_str().unwrap().to_string();
    assert!(alerts[0].get("history").is_none(), "{}", alerts[0]);

    // alice is Contributor on fabrikam-prod through Contoso's delegation
    let alice = e.token("alice").await;
    let r = e
        .call(
            "POST",
            &format!("{id}/changestate?newState=Acknowledged&{API}"),
            Some(&alice),
            Some(json!({"comment": "on it"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("history").is_none());

    let r = e
        .call("GET", &format!("{id}/history?{API}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["properties"]["alertId"], guid(&alerts[0]));
    let m = r.body["properties"]["modifications"].as_array().unwrap();
    let events: Vec<&str> = m
        .iter()
        .map(|x| x["modificationEvent"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["AlertCreated", "ActionsTriggered", "StateChange"]);
    assert_eq!(m[0]["modifiedBy"], "System");
    assert_eq!(m[1]["details"]["actionGroup"]["actionGroupId"], ag.as_str());
    assert_eq!(m[2]["modifiedBy"], "alice@contosomsp.onmicrosoft.com");
    assert_eq!(m[2]["oldValue"], "New");
    assert_eq!(m[2]["newValue"], "Acknowledged");
    assert_eq!(m[2]["comments"], "on it");
    assert_eq!(m[2]["details"]["type"], "PropertyChange");
    assert_eq!(
        m[2]["description"],
        "State changed from 'New' to 'Acknowledged'"
    );
    assert!(m[2]["modifiedAt"].as_str().unwrap() >= m[0]["modifiedAt"].as_str().unwrap());

    // the same state again changes nothing
    let r = e
        .call(
            "POST",
            &format!("{id}/changestate?newState=Acknowledged&{API}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // closed by the customer, through the tenant-level operation
    let tenant_alert = format!("{AM}/alerts/{}", guid(&alerts[0]));
    let r = e
        .call(
            "POST",
            &format!("{tenant_alert}/changestate?newState=Closed&{API}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["essentials"]["alertState"], "Closed");

    // alice reads the history at tenant level through the delegation
    let r = e
        .call(
            "GET",
            &format!("{tenant_alert}/history?{API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = r.body["properties"]["modifications"].as_array().unwrap();
    assert_eq!(m.len(), 4, "{m:?}");
    assert_eq!(m[3]["modifiedBy"], "admin@fabrikam.onmicrosoft.com");
    assert_eq!(m[3]["oldValue"], "Acknowledged");
    assert_eq!(m[3]["newValue"], "Closed");

    // bob (MSP Readers: Reader through the delegation) sees it, and may not change it
    let bob = e.token("bob").await;
    let r = e
        .call("GET", &format!("{AM}/alerts?{API}"), Some(&bob), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1, "{}", r.body);
    let r = e
        .call("GET", &format!("{tenant_alert}?{API}"), Some(&bob), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call(
            "POST",
            &format!("{tenant_alert}/changestate?newState=New&{API}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "AuthorizationFailed");

    // a tenant with no standing in fabrikam-prod: an empty list, and 404 for the alert
    let northwind = e.token("admin@northwind").await;
    let r = e
        .call("GET", &format!("{AM}/alerts?{API}"), Some(&northwind), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!([]));
    for path in [tenant_alert.clone(), format!("{tenant_alert}/history")] {
        let r = e
            .call("GET", &format!("{path}?{API}"), Some(&northwind), None)
            .await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert_eq!(r.code(), "ResourceNotFound");
    }

    // enrichments: one `default` object, with none (the emulator has no Prometheus rules)
    let r = e
        .call(
            "GET",
            &format!("{id}/enrichments?{API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"][0]["name"], "default");
    assert_eq!(r.body["value"][0]["properties"]["enrichments"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_counts_alerts_by_the_fields_asked() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let (alerts, _) = fire(&e, &admin, &["rg-one", "rg-two", "rg-three"]).await;
    let id = alerts[0]["id"].as_str().unwrap();
    let r = e
        .call(
            "POST",
            &format!("{id}/changestate?newState=Acknowledged&{API}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let summary = format!("/subscriptions/{FABRIKAM_PROD}{AM}/alertsSummary");
    let alice = e.token("alice").await;
    let r = e
        .call(
            "GET",
            &format!("{summary}?groupby=severity,alertState&{API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body["properties"];
    assert_eq!(p["total"], 3);
    assert_eq!(p["groupedby"], "severity");
    assert_eq!(p["smartGroupsCount"], 0);
    let sev4 = p["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "Sev4")
        .unwrap();
    assert_eq!(sev4["count"], 3);
    assert_eq!(sev4["groupedby"], "alertState");
    let states: Vec<(String, u64)> = sev4["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().into(),
                v["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("New", 2), ("Acknowledged", 1), ("Closed", 0)].map(|(n, c)| (n.to_string(), c))
    );
    assert_eq!(
        r.body["id"],
        format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.AlertsManagement/alertsSummary/current")
    );

    // the list's filters apply; one field; an unknown field or none is refused
    let r = e
        .call(
            "GET",
            &format!("{summary}?groupby=monitorService&alertState=New&{API}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["total"], 2);
    assert_eq!(
        r.body["properties"]["values"],
        json!([{"name": "ActivityLog Administrative", "count": 2}])
    );
    for q in [
        "groupby=colour",
        "groupby=severity,alertState,signalType",
        "",
    ] {
        let r = e
            .call("GET", &format!("{summary}?{q}&{API}"), Some(&admin), None)
            .await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    // a tenant with no standing in the subscription
    let northwind = e.token("admin@northwind").await;
    let r = e
        .call(
            "GET",
            &format!("{summary}?groupby=severity&{API}"),
            Some(&northwind),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_and_operations_are_readable_by_anyone_signed_in() {
    let e = emu().await;
    let t = e.token("admin@northwind").await;
    let r = e
        .call(
            "GET",
            &format!("{AM}/alertsMetaData?identifier=MonitorServiceList&{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["metadataIdentifier"],
        "MonitorServiceList"
    );
    let names: Vec<&str> = r.body["properties"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"ActivityLog Administrative") && names.contains(&"Log Analytics"));
    let r = e
        .call("GET", &format!("{AM}/alertsMetaData?{API}"), Some(&t), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e
        .call("GET", &format!("{AM}/operations?{API}"), Some(&t), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "Microsoft.AlertsManagement/alerts/history/read"));
    let r = e
        .call("GET", &format!("{AM}/operations?{API}"), None, None)
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_with_a_group_role_sees_the_alerts_of_that_group() {
    let e = emu().await;
    let admin = e.token("admin@northwind").await;
    let sub = format!("/subscriptions/{NORTHWIND_MAIN}");
    let r = e
        .call(
            "PUT",
            &format!("{sub}/resourceGroups/rg-managed/providers/Microsoft.Insights/activityLogAlerts/rg-written?api-version=2020-10-01"),
            Some(&admin),
            Some(json!({"location": "Global", "properties": {
                "scopes": [sub],
                "condition": {"allOf": [
                    {"field": "category", "equals": "Administrative"},
                    {"field": "operationName", "equals": "Microsoft.Resources/subscriptions/resourceGroups/write"},
                    {"field": "status", "equals": "Succeeded"}]},
                "actions": {"actionGroups": []}}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    // both groups written again, as they are: one alert targets each
    for g in ["rg-managed", "rg-private"] {
        let path = format!("{sub}/resourcegroups/{g}?api-version=2024-11-01");
        let r = e.call("GET", &path, Some(&admin), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = json!({"location": r.body["location"]});
        let r = e.call("PUT", &path, Some(&admin), Some(body)).await;
        assert!(r.status < 300, "{}", r.body);
    }
    let r = e
        .call(
            "GET",
            &format!("{sub}{AM}/alerts?{API}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2, "{}", r.body);

    // bob is Reader on rg-managed only, through Contoso's delegation
    let bob = e.token("bob").await;
    let r = e
        .call("GET", &format!("{sub}{AM}/alerts?{API}"), Some(&bob), None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let rg = format!("{sub}/resourceGroups/rg-managed{AM}");
    let r = e
        .call("GET", &format!("{rg}/alerts?{API}"), Some(&bob), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = r.body["value"].as_array().unwrap().clone();
    assert_eq!(seen.len(), 1, "{}", r.body);
    assert!(seen[0]["properties"]["essentials"]["targetResource"]
        .as_str()
        .unwrap()
        .ends_with("/rg-managed"));
    let r = e
        .call(
            "GET",
            &format!("{rg}/alerts/{}/history?{API}", guid(&seen[0])),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call(
            "GET",
            &format!("{rg}/alertsSummary?groupby=severity&{API}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["total"], 1);
    assert_eq!(
        r.body["id"],
        format!("{sub}/resourceGroups/rg-managed/providers/Microsoft.AlertsManagement/alertsSummary/current")
    );
    // the other group's alert is not at this scope; at tenant level bob sees only his group's
    let r = e
        .call(
            "GET",
            &format!("{sub}{AM}/alerts?{API}"),
            Some(&admin),
            None,
        )
        .await;
    let other = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["properties"]["essentials"]["targetResource"]
                .as_str()
                .unwrap()
                .ends_with("/rg-private")
        })
        .unwrap()
        .clone();
    let r = e
        .call(
            "GET",
            &format!("{rg}/alerts/{}?{API}", guid(&other)),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = e
        .call("GET", &format!("{AM}/alerts?{API}"), Some(&bob), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1, "{}", r.body);
    let r = e
        .call(
            "GET",
            &format!("{AM}/alerts/{}?{API}", guid(&other)),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_lock_stops_the_customers_state_change_at_either_path_not_the_providers() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let alice = e.token("alice").await;
    let (alerts, _) = fire(&e, &admin, &["rg-locked-alert"]).await;
    let id = alerts[0]["id"].as_str().unwrap().to_string();
    let tenant_alert = format!("{AM}/alerts/{}", guid(&alerts[0]));
    let lock = format!(
        "/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/locks/ro?api-version=2020-05-01"
    );
    let r = e
        .call(
            "PUT",
            &lock,
            Some(&admin),
            Some(json!({"properties": {"level": "ReadOnly"}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    for path in [id.clone(), tenant_alert.clone()] {
        let r = e
            .call(
                "POST",
                &format!("{path}/changestate?newState=Acknowledged&{API}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{path}: {}", r.body);
        assert_eq!(r.code(), "ScopeLocked", "{path}");
    }
    // a lock does not stop the service provider (Lighthouse), at the tenant-level path either
    let r = e
        .call(
            "POST",
            &format!("{tenant_alert}/changestate?newState=Acknowledged&{API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["essentials"]["alertState"],
        "Acknowledged"
    );
}

//! Fault injection (`/_emulator/faults`): ARM errors, latency, dropped connections and long-running
//! operations stuck InProgress then Failed (or Succeeded), matched by method, path, provider and
//! principal, with a count; marked in `x-ms-emulator-decision`; listed, removed, cleared by reset.

use serde_json::{json, Value};

use crate::{emu, emu_with, FABRIKAM_PROD};

const CI_APP: &str = "40000000-0000-0000-0000-000000002121";

async fn add(e: &crate::Emu, rule: Value) -> String {
    let r = e.call("POST", "/_emulator/faults", None, Some(rule)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn rg(name: &str) -> String {
    format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/{name}?api-version=2024-11-01")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_rule_matches_its_principal_and_path_and_counts_down() {
    let e = emu().await;
    let id = add(
        &e,
        json!({
            "match": {"method": "GET", "path": "/subscriptions/*/resourcegroups/rg-web", "principal": CI_APP},
            "effect": {"kind": "error", "status": 503, "code": "ServiceUnavailable", "message": "The service is unavailable (injected)."},
            "count": 2
        }),
    )
    .await;
    let ci = e.token("fabrikam-ci").await;
    let admin = e.token("admin@fabrikam").await;
    for _ in 0..2 {
        let r = e.call("GET", &rg("rg-web"), Some(&ci), None).await;
        assert_eq!(r.status, 503);
        assert_eq!(r.code(), "ServiceUnavailable");
        assert_eq!(
            r.body["error"]["message"],
            "The service is unavailable (injected)."
        );
        assert!(!r.header("x-ms-request-id").is_empty());
        let why = r.header("x-ms-emulator-decision");
        assert!(
            why.starts_with(&format!("fault injected; rule {id} (error 503")),
            "{why}"
        );
        // another principal, another path: untouched
        assert_eq!(
            e.call("GET", &rg("rg-web"), Some(&admin), None)
                .await
                .status,
            200
        );
        assert_eq!(
            e.call("GET", &rg("rg-data"), Some(&ci), None).await.status,
            200
        );
    }
    assert_eq!(
        e.call("GET", &rg("rg-web"), Some(&ci), None).await.status,
        200
    );
    let list = e.call("GET", "/_emulator/faults", None, None).await;
    assert_eq!(list.body["value"][0]["id"], id.as_str());
    assert_eq!(list.body["value"][0]["hits"], 2);
    assert_eq!(list.body["value"][0]["count"], 0);
    assert_eq!(
        e.call("DELETE", &format!("/_emulator/faults/{id}"), None, None)
            .await
            .status,
        204
    );
    let again = e
        .call("DELETE", &format!("/_emulator/faults/{id}"), None, None)
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(again.code(), "FaultRuleNotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_latency_drop_bad_rules_and_reset() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    add(
        &e,
        json!({"match": {"provider": "Microsoft.Network"}, "effect": {"kind": "error", "status": 409, "code": "AnotherOperationInProgress", "message": "busy"}}),
    )
    .await;
    let vnets = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Network/virtualNetworks?api-version=2024-05-01");
    let r = e.call("GET", &vnets, Some(&admin), None).await;
    assert_eq!((r.status, r.code()), (409, "AnotherOperationInProgress"));
    let accounts = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Storage/storageAccounts?api-version=2024-01-01");
    assert_eq!(
        e.call("GET", &accounts, Some(&admin), None).await.status,
        200
    );

    add(
        &e,
        json!({"match": {"path": "*/rg-data"}, "effect": {"kind": "latency", "ms": 20}}),
    )
    .await;
    let slow = e.call("GET", &rg("rg-data"), Some(&admin), None).await;
    assert_eq!(slow.status, 200);
    let why = slow.header("x-ms-emulator-decision");
    assert!(why.contains("(latency 20 ms); allowed"), "{why}");

    add(
        &e,
        json!({"match": {"path": "*/rg-web"}, "effect": {"kind": "drop"}, "count": 1}),
    )
    .await;
    let dropped = e
        .client
        .get(format!("{}{}", e.base, rg("rg-web")))
        .bearer_auth(&admin)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "a dropped connection gives no answer: {dropped:?}"
    );
    assert_eq!(
        e.call("GET", &rg("rg-web"), Some(&admin), None)
            .await
            .status,
        200
    );

    let bad = e
        .call(
            "POST",
            "/_emulator/faults",
            None,
            Some(json!({"effect": {"kind": "explode"}})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidFaultRule"));

    assert_eq!(
        e.call("POST", "/_emulator/reset", None, None).await.status,
        200
    );
    assert_eq!(
        e.call("GET", "/_emulator/faults", None, None).await.body,
        json!({"value": []})
    );
    assert_eq!(e.call("GET", &vnets, Some(&admin), None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_running_operation_stays_in_progress_then_fails() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let id = add(
        &e,
        json!({"match": {"method": "PUT", "path": "*/rg-stuck"},
               "effect": {"kind": "lro", "polls": 2, "result": "Failed", "code": "InternalOperationError", "message": "Provisioning failed (injected)."}}),
    )
    .await;
    let r = e
        .call(
            "PUT",
            &rg("rg-stuck"),
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Accepted");
    let op = r.header("azure-asyncoperation").to_string();
    assert!(
        op.contains("/providers/Microsoft.Resources/emulatorFaultOperations/"),
        "{op}"
    );
    for _ in 0..2 {
        let p = e.call("GET", &op, Some(&admin), None).await;
        assert_eq!(
            (p.status, p.body["status"].as_str()),
            (200, Some("InProgress"))
        );
        assert_eq!(p.header("retry-after"), "1");
        assert!(p.header("x-ms-emulator-decision").contains(&id));
    }
    let done = e.call("GET", &op, Some(&admin), None).await;
    assert_eq!(done.body["status"], "Failed");
    assert_eq!(done.body["error"]["code"], "InternalOperationError");
    // the request never ran
    assert_eq!(
        e.call("GET", &rg("rg-stuck"), Some(&admin), None)
            .await
            .status,
        404
    );
    // polling needs a token
    assert_eq!(e.call("GET", &op, None, None).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_running_operation_that_succeeds_ran_the_request() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    add(
        &e,
        json!({"match": {"path": "*/rg-slow*"}, "effect": {"kind": "lro", "polls": 1, "result": "Succeeded"}}),
    )
    .await;
    let r = e
        .call(
            "PUT",
            &rg("rg-slow"),
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let op = r.header("azure-asyncoperation").to_string();
    assert_eq!(
        e.call("GET", &op, Some(&admin), None).await.body["status"],
        "InProgress"
    );
    assert_eq!(
        e.call("GET", &op, Some(&admin), None).await.body["status"],
        "Succeeded"
    );
    // GETs pass a lro rule untouched
    assert_eq!(
        e.call("GET", &rg("rg-slow"), Some(&admin), None)
            .await
            .status,
        200
    );
    let d = e.call("DELETE", &rg("rg-slow"), Some(&admin), None).await;
    assert_eq!(d.status, 202);
    assert_eq!(d.header("location"), d.header("azure-asyncoperation"));
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_endpoints_need_the_admin_key_when_one_is_set() {
    let key = "fault-admin-key-0123456789";
    let e = emu_with(|o| o.admin_key = Some(key.into())).await;
    let r = e.call("GET", "/_emulator/faults", None, None).await;
    assert_eq!((r.status, r.code()), (401, "AdminKeyRequired"));
    let r = e
        .raw(
            "GET",
            "/_emulator/faults",
            &[("x-emulator-admin-key", key)],
            vec![],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = e.call("GET", "/_emulator/metrics", None, None).await;
    assert_eq!(r.status, 401);
}

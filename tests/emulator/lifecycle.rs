//! A subscription's lifecycle: cancel (Disabled, read-only, Owner only, never through a delegation),
//! enable, rename, and the deletion after the retention period on the emulator clock — with what the
//! deleted resources made as the platform (a managed application's deny assignment).

use crate::*;
use serde_json::json;

const TAILSPIN_PROD: &str = "20000000-0000-0000-0000-000000004001";
const V: &str = "api-version=2021-10-01";

fn action(verb: &str) -> String {
    format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Subscription/{verb}?{V}")
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_disables_then_retention_deletes() {
    let e = emu().await;
    let owner = e.token("admin@tailspin").await;
    let alice = e.token("alice").await;
    let sub = format!("/subscriptions/{TAILSPIN_PROD}?api-version=2022-12-01");
    let rg_new = format!(
        "/subscriptions/{TAILSPIN_PROD}/resourcegroups/rg-after-cancel?api-version=2024-11-01"
    );
    let deny_list = format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01");
    let app_rg =
        format!("/subscriptions/{TAILSPIN_PROD}/resourcegroups/rg-apps?api-version=2024-11-01");

    // a delegated Contributor may not cancel (Contributor's notActions name it; Owner is never delegated)
    let r = e.call("POST", &action("cancel"), Some(&alice), None).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AuthorizationFailed"),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Subscription/cancel/action"));

    let r = e.call("POST", &action("cancel"), Some(&owner), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"subscriptionId": TAILSPIN_PROD}));
    let r = e.call("GET", &sub, Some(&owner), None).await;
    assert_eq!(r.body["state"], "Disabled");

    // read-only: writes refused with ARM's code, by the owner and the provider alike; reads work
    let body = json!({"location": "westeurope"});
    for t in [&owner, &alice] {
        let r = e.call("PUT", &rg_new, Some(t), Some(body.clone())).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "ReadOnlyDisabledSubscription"),
            "{:?}",
            r.body
        );
        assert_eq!(
            r.body["error"]["message"],
            format!("The subscription '{TAILSPIN_PROD}' is disabled and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled.")
        );
    }
    assert_eq!(e.call("GET", &app_rg, Some(&owner), None).await.status, 200);
    let r = e
        .call(
            "POST",
            &action("rename"),
            Some(&owner),
            Some(json!({"subscriptionName": "x"})),
        )
        .await;
    assert_eq!(r.code(), "ReadOnlyDisabledSubscription");

    // enable: writable again, nothing lost
    let r = e.call("POST", &action("enable"), Some(&owner), None).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"subscriptionId": TAILSPIN_PROD}))
    );
    assert_eq!(
        e.call("GET", &sub, Some(&owner), None).await.body["state"],
        "Enabled"
    );
    let r = e
        .call("PUT", &rg_new, Some(&owner), Some(body.clone()))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = e
        .call(
            "POST",
            &action("rename"),
            Some(&owner),
            Some(json!({"subscriptionName": "Tailspin Production"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        e.call("GET", &sub, Some(&owner), None).await.body["displayName"],
        "Tailspin Production"
    );
    let r = e
        .call("POST", &action("rename"), Some(&owner), Some(json!({})))
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));

    // cancel again; 89 days later everything is still there
    assert_eq!(
        e.call("POST", &action("cancel"), Some(&owner), None)
            .await
            .status,
        200
    );
    let denies = e.call("GET", &deny_list, Some(&owner), None).await;
    assert_eq!(
        denies.body["value"].as_array().unwrap().len(),
        1,
        "{:?}",
        denies.body
    );
    let advance = |d: &str| json!({"advance": d});
    e.call("POST", "/_emulator/clock", None, Some(advance("P89D")))
        .await;
    let owner = e.token("admin@tailspin").await;
    assert_eq!(e.call("GET", &app_rg, Some(&owner), None).await.status, 200);

    // past 90 days: the resources, and the deny assignment the managed application made, are gone
    e.call("POST", "/_emulator/clock", None, Some(advance("P2D")))
        .await;
    let owner = e.token("admin@tailspin").await;
    let r = e.call("GET", &app_rg, Some(&owner), None).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "ResourceGroupNotFound"),
        "{:?}",
        r.body
    );
    let denies = e.call("GET", &deny_list, Some(&owner), None).await;
    assert_eq!(denies.body["value"], json!([]), "{:?}", denies.body);
    assert_eq!(
        e.call("GET", &sub, Some(&owner), None).await.body["state"],
        "Deleted"
    );
    let r = e.call("POST", &action("enable"), Some(&owner), None).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = e.call("PUT", &rg_new, Some(&owner), Some(body)).await;
    assert_eq!(r.code(), "ReadOnlyDisabledSubscription");
    // the delegation went with the subscription's resources
    let msp = e.token("msp-automation").await;
    let r = e
        .call(
            "GET",
            "/subscriptions?api-version=2022-12-01",
            Some(&msp),
            None,
        )
        .await;
    let ids: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["subscriptionId"].as_str())
        .collect();
    assert!(!ids.contains(&TAILSPIN_PROD), "{ids:?}");
    e.call("POST", "/_emulator/reset", None, None).await;
}

//! Guardrails: management locks (and their bypass by the service provider), deny assignments (read-only,
//! made by the platform and by managed applications), and `POST /_emulator/explain` for each decision.

use crate::*;
use serde_json::{json, Value};

const TAILSPIN_PROD: &str = "20000000-0000-0000-0000-000000004001";

async fn explain(e: &Emu, body: Value) -> Value {
    let r = e.call("POST", "/_emulator/explain", None, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn kinds(v: &Value) -> Vec<(String, String)> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["effect"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_lock_stops_the_customer_writes_and_actions_not_the_provider() {
    let e = emu().await;
    let admin = e.token("admin@tailspin").await;
    let vnet = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-frozen/providers/Microsoft.Network/virtualNetworks/vnet-frozen?api-version=2023-09-01");
    assert_eq!(e.call("GET", &vnet, Some(&admin), None).await.status, 200);
    let r = e
        .call(
            "PATCH",
            &vnet,
            Some(&admin),
            Some(json!({"tags": {"a": "b"}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "ScopeLocked"));
    assert_eq!(
        r.body["error"]["message"],
        format!("The scope '/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-frozen/providers/Microsoft.Network/virtualNetworks/vnet-frozen' cannot perform write operation because following scope(s) are locked: '/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-frozen'. Please remove the lock and try again.")
    );
    let sa = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-frozen/providers/Microsoft.Storage/storageAccounts/frozensa");
    assert_eq!(
        e.call(
            "PUT",
            &format!("{sa}?api-version=2023-05-01"),
            Some(&admin),
            Some(json!({"location": "westeurope"}))
        )
        .await
        .code(),
        "ScopeLocked"
    );
    let r = e.call("POST", &format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-frozen/providers/Microsoft.Network/virtualNetworks/vnet-frozen/checkIpAddressAvailability?api-version=2023-09-01"), Some(&admin), None).await;
    assert_eq!(r.code(), "ScopeLocked", "ReadOnly blocks POST actions");
    assert_eq!(
        e.call(
            "DELETE",
            &rg_url(TAILSPIN_PROD, "rg-frozen"),
            Some(&admin),
            None
        )
        .await
        .code(),
        "ScopeLocked"
    );
    // alice acts through the delegation: the lock does not stop her
    let alice = e.token("alice").await;
    let r = e
        .call(
            "PATCH",
            &vnet,
            Some(&alice),
            Some(json!({"tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("x-ms-emulator-decision").contains("lock 'freeze'"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    // explain says both
    let x = explain(
        &e,
        json!({"principal": "admin@tailspin.onmicrosoft.com", "method": "PATCH", "url": vnet}),
    )
    .await;
    assert_eq!(x["decision"], "denied");
    assert!(kinds(&x).contains(&("lock".into(), "denies".into())));
    let x = explain(
        &e,
        json!({"principal": "alice@contosomsp.onmicrosoft.com", "method": "PATCH", "url": vnet}),
    )
    .await;
    assert_eq!(x["decision"], "allowed");
    assert_eq!(
        kinds(&x)[1],
        ("delegatedAuthorization".to_string(), "allows".to_string())
    );
    assert!(kinds(&x).contains(&("lock".into(), "bypassed".into())));
}

fn rg_url(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version=2024-11-01")
}

#[tokio::test(flavor = "multi_thread")]
async fn locks_api_at_every_scope() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let base = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/locks");
    let r = e
        .call(
            "PUT",
            &format!("{base}/keep?api-version=2020-05-01"),
            Some(&admin),
            Some(json!({"properties": {"level": "CanNotDelete", "notes": "keep it"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"properties": {"level": "CanNotDelete", "notes": "keep it"}, "id": format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/locks/keep"), "type": "Microsoft.Authorization/locks", "name": "keep"})
    );
    let vm = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01");
    assert_eq!(
        e.call(
            "PUT",
            &format!("{vm}/providers/Microsoft.Authorization/locks/vmlock?api-version=2016-09-01"),
            Some(&admin),
            Some(json!({"properties": {"level": "ReadOnly"}}))
        )
        .await
        .status,
        201
    );
    assert_eq!(e.call("PUT", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/locks/sublock?api-version=2020-05-01"), Some(&admin), Some(json!({"properties": {"level": "CanNotDelete"}}))).await.status, 201);
    let r = e
        .call(
            "GET",
            &format!("{base}?api-version=2020-05-01"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        3,
        "at, above and below: {}",
        r.body
    );
    let r = e
        .call(
            "GET",
            &format!("{base}?api-version=2020-05-01&$filter=atScope()"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2, "at and above");
    // bad input
    assert_eq!(
        e.call(
            "PUT",
            &format!("{base}/x?api-version=2020-05-01"),
            Some(&admin),
            Some(json!({"properties": {"level": "Sometimes"}}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        e.call(
            "PUT",
            &format!("{base}/x?api-version=2020-05-01"),
            Some(&admin),
            Some(json!({"properties": {"level": "ReadOnly", "notes": "n".repeat(513)}}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        e.call(
            "PUT",
            &format!("{base}/x?api-version=2019-01-01"),
            Some(&admin),
            Some(json!({"properties": {"level": "ReadOnly"}}))
        )
        .await
        .code(),
        "InvalidApiVersionParameter"
    );
    // Contributor cannot manage locks
    let ci = e.token("fabrikam-ci").await;
    let r = e
        .call(
            "PUT",
            &format!("{base}/ci?api-version=2020-05-01"),
            Some(&ci),
            Some(json!({"properties": {"level": "ReadOnly"}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Authorization/locks/write"));
    // deleting the group with a locked child fails entirely; removing the locks lets it go
    assert_eq!(
        e.call(
            "DELETE",
            &rg_url(FABRIKAM_PROD, "rg-web"),
            Some(&admin),
            None
        )
        .await
        .code(),
        "ScopeLocked"
    );
    for l in [
        format!("{base}/keep"),
        format!("{vm}/providers/Microsoft.Authorization/locks/vmlock"),
        format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/locks/sublock"),
    ] {
        assert_eq!(
            e.call(
                "DELETE",
                &format!("{l}?api-version=2020-05-01"),
                Some(&admin),
                None
            )
            .await
            .status,
            200
        );
    }
    assert_eq!(
        e.call(
            "DELETE",
            &rg_url(FABRIKAM_PROD, "rg-web"),
            Some(&admin),
            None
        )
        .await
        .status,
        202
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_assignments_are_read_only_and_stop_everyone_they_name() {
    let e = emu().await;
    let ts = e.token("admin@tailspin").await;
    let alice = e.token("alice").await;
    let mrg = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/mrg-tailspin-app");
    let vm = format!(
        "{mrg}/providers/Microsoft.Compute/virtualMachines/vm-appliance?api-version=2024-03-01"
    );
    for t in [&ts, &alice] {
        assert_eq!(e.call("GET", &vm, Some(t), None).await.status, 200);
        let r = e.call("DELETE", &vm, Some(t), None).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "DenyAssignmentAuthorizationFailed")
        );
        let r = e
            .call(
                "PUT",
                &format!(
                    "{mrg}/providers/Microsoft.Network/virtualNetworks/v?api-version=2023-09-01"
                ),
                Some(t),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(r.code(), "DenyAssignmentAuthorizationFailed");
    }
    let r = e
        .call(
            "GET",
            &format!(
                "{mrg}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"
            ),
            Some(&ts),
            None,
        )
        .await;
    let list = r.body["value"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "80000000-0000-0000-0000-000000004001");
    assert_eq!(list[0]["properties"]["isSystemProtected"], true);
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        e.call(
            "GET",
            &format!("{id}?api-version=2022-04-01"),
            Some(&alice),
            None
        )
        .await
        .status,
        200
    );
    let r = e.call("GET", &format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01&$filter=atScope()"), Some(&ts), None).await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        0,
        "atScope() excludes below"
    );
    // nobody can create or delete one through the API
    let put = format!("{mrg}/providers/Microsoft.Authorization/denyAssignments/90000000-0000-0000-0000-000000000001?api-version=2022-04-01");
    let body = json!({"properties": {"denyAssignmentName": "mine", "permissions": [{"actions": ["*"]}], "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}]}});
    let r = e.call("PUT", &put, Some(&ts), Some(body.clone())).await;
    assert_eq!(r.status, 405);
    assert_eq!(
        r.body["Message"],
        "The requested resource does not support http method 'PUT'."
    );
    assert_eq!(
        e.call(
            "DELETE",
            &format!("{id}?api-version=2022-04-01"),
            Some(&ts),
            None
        )
        .await
        .status,
        405
    );
    let r = e
        .call(
            "PUT",
            &put.replace("2022-04-01", "2024-07-01-preview"),
            Some(&ts),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 403);
    let x = explain(&e, json!({"principal": "alice@contosomsp.onmicrosoft.com", "action": "Microsoft.Compute/virtualMachines/delete", "scope": vm.split('?').next().unwrap()})).await;
    assert_eq!(x["decision"], "denied");
    assert_eq!(x["reasons"][1]["kind"], "denyAssignment");
    assert_eq!(x["reasons"][1]["id"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_managed_application_makes_and_removes_its_deny_assignment() {
    let e = emu().await;
    let ts = e.token("admin@tailspin").await;
    let app = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-apps/providers/Microsoft.Solutions/applications/app2?api-version=2021-07-01");
    let mrg = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/mrg-app2");
    let r = e.call("PUT", &app, Some(&ts), Some(json!({"location": "westeurope", "kind": "ServiceCatalog", "properties": {"managedResourceGroupId": mrg}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let g = e
        .call(
            "GET",
            &format!("{mrg}?api-version=2024-11-01"),
            Some(&ts),
            None,
        )
        .await;
    assert_eq!(g.body["managedBy"], app.split('?').next().unwrap());
    let r = e
        .call(
            "GET",
            &format!(
                "{mrg}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"
            ),
            Some(&ts),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = e
        .call(
            "PUT",
            &format!("{mrg}/providers/Microsoft.Network/virtualNetworks/v?api-version=2023-09-01"),
            Some(&ts),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.code(), "DenyAssignmentAuthorizationFailed");
    assert_eq!(e.call("DELETE", &app, Some(&ts), None).await.status, 200);
    assert_eq!(
        e.call(
            "GET",
            &format!("{mrg}?api-version=2024-11-01"),
            Some(&ts),
            None
        )
        .await
        .status,
        404
    );
    let r = e.call("GET", &format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"), Some(&ts), None).await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        1,
        "only the world's own remains"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_names_grants_and_their_absence() {
    let e = emu().await;
    let x = explain(&e, json!({"principal": "reader@fabrikam.onmicrosoft.com", "action": "Microsoft.Resources/subscriptions/resourceGroups/write", "scope": format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-x")})).await;
    assert_eq!(x["decision"], "denied");
    assert_eq!(x["reasons"][0]["kind"], "noGrant");
    assert!(x["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["role"] == "Reader" && r["effect"] == "doesNotCover"));
    let x = explain(&e, json!({"principal": "30000000-0000-0000-0000-000000002112", "method": "GET", "url": format!("https://localhost/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-web?api-version=2024-11-01")})).await;
    assert_eq!(x["decision"], "allowed");
    assert_eq!(x["reasons"][0]["kind"], "roleAssignment");
    assert_eq!(
        x["reasons"][0]["name"],
        "70000000-0000-0000-0000-000000002005"
    );
    let x = explain(&e, json!({"principal": "bob@contosomsp.onmicrosoft.com", "method": "GET", "url": format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev")})).await;
    assert_eq!(x["decision"], "denied");
    assert_eq!(x["reasons"][0]["code"], "InvalidAuthenticationTokenTenant");
    assert_eq!(
        e.call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({"principal": "nobody"}))
        )
        .await
        .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_answers_the_data_plane_lines() {
    let e = emu().await;
    let blob = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata/blobServices/default/containers/reports/blobs/q3.csv");
    let read = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";
    let x = explain(
        &e,
        json!({"principal": "reader@fabrikam.onmicrosoft.com", "action": read, "scope": blob}),
    )
    .await;
    assert_eq!(x["decision"], "allowed");
    assert_eq!(x["reasons"][0]["role"], "Storage Blob Data Reader");
    let x = explain(
        &e,
        json!({"principal": "admin@fabrikam.onmicrosoft.com", "action": read, "scope": blob}),
    )
    .await;
    assert_eq!(x["decision"], "denied");
    assert_eq!(
        x["reasons"][0]["code"], "AuthorizationPermissionMismatch",
        "{x}"
    );
    let x = explain(
        &e,
        json!({"principal": "alice@contosomsp.onmicrosoft.com", "action": read, "scope": blob}),
    )
    .await;
    assert_eq!(x["decision"], "denied");
    assert_eq!(x["reasons"][1]["kind"], "dataPlane");
    assert_eq!(x["reasons"][1]["code"], "InvalidAuthenticationInfo");
    let secret = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/fabrikam-kv/secrets/db-password");
    let x = explain(&e, json!({"principal": "msp-automation", "action": "Microsoft.KeyVault/vaults/secrets/getSecret/action", "scope": secret})).await;
    assert_eq!(x["decision"], "denied");
    assert_eq!(x["reasons"][1]["kind"], "dataPlane");
}

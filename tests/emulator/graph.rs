//! Microsoft Graph over the real server: tokens for Graph's audiences, `/me`, users, service
//! principals and groups as the caller's tenant sees them, `getByIds`, Graph's error envelope.

use serde_json::json;

use crate::{emu, FABRIKAM};

const GRAPH: &str = "https://graph.microsoft.com/.default";

#[tokio::test]
async fn me_is_the_signed_in_user_and_applications_have_no_me() {
    let e = emu().await;
    let alice = e.token_for("alice", GRAPH).await;
    let r = e.call("GET", "/v1.0/me", Some(&alice), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["userPrincipalName"],
        "alice@contosomsp.onmicrosoft.com"
    );
    assert_eq!(r.body["id"], "30000000-0000-0000-0000-000000001111");
    assert!(r.header("request-id").len() == 36);
    // az asks with a token for the emulator's own URL (the cloud's microsoftGraphResourceId)
    let own = e.token_for("alice", &format!("{}//.default", e.base)).await;
    let r = e.call("GET", "/v1.0/me", Some(&own), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let sp = e.token_for("fabrikam-ci", GRAPH).await;
    let r = e.call("GET", "/v1.0/me", Some(&sp), None).await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"));
}

#[tokio::test]
async fn a_caller_sees_its_own_tenants_directory_only() {
    let e = emu().await;
    let admin = e.token_for("admin@fabrikam", GRAPH).await;
    let r = e.call("GET", "/v1.0/users", Some(&admin), None).await;
    let upns: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        upns,
        [
            "admin@fabrikam.onmicrosoft.com",
            "reader@fabrikam.onmicrosoft.com"
        ]
    );
    let r = e
        .call(
            "GET",
            "/v1.0/servicePrincipals?$filter=appId%20eq%20'40000000-0000-0000-0000-000000002121'",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["value"][0]["displayName"], "fabrikam-ci");
    assert_eq!(r.body["value"][0]["appOwnerOrganizationId"], FABRIKAM);
    // Contoso's objects do not exist for Fabrikam: 404 with Graph's envelope, empty getByIds
    let r = e
        .call(
            "GET",
            "/v1.0/users/alice@contosomsp.onmicrosoft.com",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "Request_ResourceNotFound"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Resource 'alice@contosomsp.onmicrosoft.com' does not exist"));
    assert_eq!(
        r.body["error"]["innerError"]["request-id"],
        r.header("request-id")
    );
    let ids = json!({"ids": ["30000000-0000-0000-0000-000000001111", "30000000-0000-0000-0000-000000002112"]});
    let r = e
        .call(
            "POST",
            "/v1.0/directoryObjects/getByIds",
            Some(&admin),
            Some(ids),
        )
        .await;
    assert_eq!(r.status, 200);
    let v = r.body["value"].as_array().unwrap();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(v[0]["userPrincipalName"], "reader@fabrikam.onmicrosoft.com");
}

#[tokio::test]
async fn groups_and_advanced_queries() {
    let e = emu().await;
    let bob = e.token_for("bob", GRAPH).await;
    let r = e
        .call(
            "GET",
            "/v1.0/groups/30000000-0000-0000-0000-000000001102/members",
            Some(&bob),
            None,
        )
        .await;
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bob", "msp-reporting"]);
    // ne is an advanced query: refused without ConsistencyLevel, counted with it
    let path = "/v1.0/users?$filter=displayName%20ne%20'Bob'&$count=true";
    let r = e.call("GET", path, Some(&bob), None).await;
    assert_eq!((r.status, r.code()), (400, "Request_UnsupportedQuery"));
    let resp = e
        .client
        .get(format!("{}{path}", e.base))
        .bearer_auth(&bob)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["@odata.count"], 1);
    assert_eq!(
        body["value"][0]["userPrincipalName"],
        "alice@contosomsp.onmicrosoft.com"
    );
}

#[tokio::test]
async fn graph_refuses_missing_and_arm_tokens_with_its_own_envelope() {
    let e = emu().await;
    let r = e.call("GET", "/v1.0/me", None, None).await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));
    assert_eq!(r.body["error"]["message"], "Access token is empty.");
    let arm = e.token("alice").await;
    let r = e.call("GET", "/v1.0/me", Some(&arm), None).await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));
    assert_eq!(
        r.body["error"]["message"],
        "Access token validation failure. Invalid audience."
    );
    let admin = e.token_for("admin@fabrikam", GRAPH).await;
    let r = e
        .call(
            "PATCH",
            "/v1.0/users/reader@fabrikam.onmicrosoft.com",
            Some(&admin),
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "Authorization_RequestDenied"));
}

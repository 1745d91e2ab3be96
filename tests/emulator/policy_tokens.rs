//! Policy tokens for external evaluation: a definition with `externalEvaluationEnforcementSettings`
//! (CoinFlip) assigned in fabrikam-prod; a write without a token refused (or audited), a token
//! acquired for exactly that operation lets it through — as the customer admin and as alice through
//! the delegation —, a token for another operation and an expired one (emulator clock) refused, a
//! failed coin flip issues no token, and the management-group form.

use crate::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const API: &str = "api-version=2025-11-01";
const SA_API: &str = "api-version=2023-05-01";
const HEADER: &str = "x-ms-policy-external-evaluations";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}

fn storage() -> Value {
    json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
           "properties": {"supportsHttpsTrafficOnly": true}})
}

fn account(n: &str) -> String {
    format!(
        "{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/{n}",
        sub()
    )
}

/// A definition requiring an external evaluation of every storage account write, assigned to
/// fabrikam-prod.
async fn require_tokens(e: &Emu, t: &str, probability: f64, missing: &str) {
    let def = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/coin-flip-storage",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &format!("{def}?{API}"),
            Some(t),
            Some(json!({"properties": {
                "displayName": "Storage writes need a coin flip",
                "mode": "All",
                "policyRule": {
                    "if": {"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                    "then": {"effect": "audit"}
                },
                "externalEvaluationEnforcementSettings": {
                    "missingTokenAction": missing,
                    "resultLifespan": "PT10M",
                    "endpointSettings": {"kind": "CoinFlip", "details": {"successProbability": probability}},
                    "roleDefinitionIds": []
                }
            }})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Authorization/policyAssignments/coin-flip?{API}",
                sub()
            ),
            Some(t),
            Some(json!({"properties": {"policyDefinitionId": def}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn acquire(
    e: &Emu,
    t: &str,
    scope: &str,
    method: &str,
    uri: &str,
    content: Option<Value>,
) -> Resp {
    let mut op = json!({"httpMethod": method, "uri": format!("https://management.azure.com{uri}")});
    if let Some(c) = content {
        op["content"] = c;
    }
    e.call(
        "POST",
        &format!("{scope}/providers/Microsoft.Authorization/acquirePolicyToken?{API}"),
        Some(t),
        Some(json!({"operation": op})),
    )
    .await
}

async fn put_with(e: &Emu, t: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
    let auth = format!("Bearer {t}");
    let mut h = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(tok) = token {
        h.push((HEADER, tok));
    }
    e.raw(
        "PUT",
        &format!("{path}?{SA_API}"),
        &h,
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_needs_a_token_for_exactly_that_operation() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    require_tokens(&e, &admin, 1.0, "deny").await;
    let sa = account("sttoken1");

    // without a token: refused as a policy refusal
    let r = put_with(&e, &admin, &sa, None, &storage()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Resource 'sttoken1' was disallowed by policy."));
    let info = &r.body["error"]["additionalInfo"][0];
    assert_eq!(info["type"], "PolicyViolation");
    assert!(info["info"]["policyAssignmentId"]
        .as_str()
        .unwrap()
        .ends_with("/policyAssignments/coin-flip"));

    // a token for this PUT and this content
    let r = acquire(
        &e,
        &admin,
        &sub(),
        "put",
        &format!("{sa}?{SA_API}"),
        Some(storage()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["result"], "Succeeded");
    let d = &b["requestDetails"];
    assert_eq!(d["resourceId"], sa);
    assert_eq!(d["apiVersion"], "2023-05-01");
    assert_eq!(d["httpMethod"], "PUT");
    assert_eq!(
        d["authorizationAction"],
        "Microsoft.Storage/storageAccounts/write"
    );
    let want: String = Sha256::digest(serde_json::to_vec(&storage()).unwrap())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(d["contentHash"], want.as_str());
    let res = &b["results"][0];
    assert_eq!(res["result"], "Succeeded");
    assert_eq!(res["endpointKind"], "CoinFlip");
    assert_eq!(res["policyAction"], "Allow");
    assert_eq!(
        res["message"],
        "Coin flip successful (success probability: '1')."
    );
    assert!(res["policyInfo"]["policyDefinitionId"]
        .as_str()
        .unwrap()
        .ends_with("/policyDefinitions/coin-flip-storage"));
    let token = b["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("PT 1."), "{token}");
    assert!(b["tokenId"].as_str().is_some_and(|s| s.len() == 36));
    let exp = time::OffsetDateTime::parse(
        b["expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        (exp - e.app.clock.now()).whole_minutes(),
        9,
        "resultLifespan PT10M"
    );

    // the token for another content or another method is refused
    let mut other = storage();
    other["tags"] = json!({"x": "y"});
    let r = put_with(&e, &admin, &sa, Some(&token), &other).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r
        .header("x-ms-emulator-decision")
        .contains("another operation"));
    let r = put_with(&e, &admin, &account("sttoken2"), Some(&token), &storage()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // a forged token is refused
    let r = put_with(&e, &admin, &sa, Some("PT 1.a.b.c"), &storage()).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // with the token, exactly this operation passes
    let r = put_with(&e, &admin, &sa, Some(&token), &storage()).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    assert!(r
        .header("x-ms-emulator-decision")
        .contains("policy token accepted"));

    // a write the rule does not match (another type) needs no token
    let r = e
        .call(
            "PUT",
            &format!(
                "{}/resourceGroups/rg-no-token?api-version=2021-04-01",
                sub()
            ),
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    // the policy resources are not evaluated: the assignment goes without a token
    let r = e
        .call(
            "DELETE",
            &format!(
                "{}/providers/Microsoft.Authorization/policyAssignments/coin-flip?{API}",
                sub()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put_with(&e, &admin, &account("sttoken3"), None, &storage()).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    // reads need no token
    let r = e
        .call("GET", &format!("{sa}?{SA_API}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn alice_acquires_through_the_delegation_and_tokens_expire_on_the_emulator_clock() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    require_tokens(&e, &admin, 1.0, "Deny").await;
    let alice = e.token("alice").await;
    let sa = account("stalice");
    let r = acquire(
        &e,
        &alice,
        &sub(),
        "PUT",
        &format!("{sa}?{SA_API}"),
        Some(storage()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();

    // past resultLifespan the token no longer serves
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": "PT11M"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put_with(&e, &alice, &sa, Some(&token), &storage()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.header("x-ms-emulator-decision").contains("expired"));

    // a fresh one does
    let r = acquire(
        &e,
        &alice,
        &sub(),
        "PUT",
        &format!("{sa}?{SA_API}"),
        Some(storage()),
    )
    .await;
    let token = r.body["token"].as_str().unwrap().to_string();
    let r = put_with(&e, &alice, &sa, Some(&token), &storage()).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    // a DELETE needs its own token (no content: the hash of nothing is zeros)
    let r = e
        .call("DELETE", &format!("{sa}?{SA_API}"), Some(&alice), None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = acquire(
        &e,
        &alice,
        &sub(),
        "delete",
        &format!("{sa}?{SA_API}"),
        None,
    )
    .await;
    assert_eq!(r.body["requestDetails"]["contentHash"], "0".repeat(64));
    assert_eq!(
        r.body["requestDetails"]["authorizationAction"],
        "Microsoft.Storage/storageAccounts/delete"
    );
    let token = r.body["token"].as_str().unwrap().to_string();
    let auth = format!("Bearer {alice}");
    let r = e
        .raw(
            "DELETE",
            &format!("{sa}?{SA_API}"),
            &[("authorization", auth.as_str()), (HEADER, token.as_str())],
            Vec::new(),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    // alice cannot acquire in a subscription she does not reach (not delegated: ARM's wrong-tenant 401)
    let r = acquire(
        &e,
        &alice,
        &format!("/subscriptions/{FABRIKAM_DEV}"),
        "PUT",
        &format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x?{SA_API}"),
        None,
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.code(), "InvalidAuthenticationTokenTenant");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_coin_flip_issues_no_token_and_audit_lets_the_write_through() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    require_tokens(&e, &admin, 0.0, "audit").await;
    let sa = account("staudit");
    let r = acquire(
        &e,
        &admin,
        &sub(),
        "PUT",
        &format!("{sa}?{SA_API}"),
        Some(storage()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], "Failed");
    assert!(r.body.get("token").is_none(), "{}", r.body);
    assert_eq!(r.body["results"][0]["result"], "Failed");
    assert_eq!(r.body["results"][0]["policyAction"], "Audit");
    assert_eq!(
        r.body["results"][0]["message"],
        "Coin flip failed (success probability: '0')."
    );
    // missingTokenAction audit: the write passes, the decision says why
    let r = put_with(&e, &admin, &sa, None, &storage()).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    assert!(r.header("x-ms-emulator-decision").contains("audited"));

    // an operation outside the scope, and a body without an operation, are bad requests
    let r = acquire(
        &e,
        &admin,
        &sub(),
        "PUT",
        &format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg?api-version=2021-04-01"),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e
        .call(
            "POST",
            &format!(
                "{}/providers/Microsoft.Authorization/acquirePolicyToken?{API}",
                sub()
            ),
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_acquired_at_a_management_group_for_an_operation_below_it() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    require_tokens(&e, &admin, 1.0, "deny").await;
    let sa = account("stmg");
    let root = format!("/providers/Microsoft.Management/managementGroups/{FABRIKAM}");
    let r = acquire(
        &e,
        &admin,
        &root,
        "PUT",
        &format!("{sa}?{SA_API}"),
        Some(storage()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], "Succeeded");
    let token = r.body["token"].as_str().unwrap().to_string();
    let r = put_with(&e, &admin, &sa, Some(&token), &storage()).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
}

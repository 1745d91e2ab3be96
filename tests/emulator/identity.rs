//! The Entra side over HTTPS: discovery, JWKS, token grants and their AADSTS errors.

use crate::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn openid_configuration_names_this_emulator() {
    let e = emu().await;
    let r = e
        .call(
            "GET",
            &format!("/{FABRIKAM}/v2.0/.well-known/openid-configuration"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    for k in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
    ] {
        assert!(r.body[k].as_str().unwrap().starts_with(&e.base), "{k}");
    }
    let jwks = e
        .call(
            "GET",
            &format!("/{FABRIKAM}/discovery/v2.0/keys"),
            None,
            None,
        )
        .await;
    assert_eq!(jwks.body["keys"][0]["kty"], "RSA");
    let by_domain = e
        .call(
            "GET",
            "/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            None,
            None,
        )
        .await;
    assert_eq!(by_domain.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_and_their_errors() {
    let e = emu().await;
    // both credential kinds work
    assert!(!e.token("fabrikam-ci").await.is_empty());
    assert!(!e.token("reader@fabrikam").await.is_empty());
    let post = |tenant: &'static str, form: Vec<(&'static str, &'static str)>| {
        let c = e.client.clone();
        let url = format!("{}/{tenant}/oauth2/v2.0/token", e.base);
        async move {
            let r = c.post(url).form(&form).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = post(
        FABRIKAM,
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "40000000-0000-0000-0000-000000002121"),
            ("client_secret", "wrong"),
            ("scope", "https://management.azure.com/.default"),
        ],
    )
    .await;
    assert_eq!((s, v["error"].as_str().unwrap()), (401, "invalid_client"));
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));
    let (s, v) = post(
        FABRIKAM,
        vec![
            ("grant_type", "password"),
            ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("username", "admin@fabrikam.onmicrosoft.com"),
            ("password", "nope"),
            ("scope", "https://management.azure.com/.default"),
        ],
    )
    .await;
    assert_eq!((s, v["error"].as_str().unwrap()), (400, "invalid_grant"));
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS50126"));
    let (s, v) = post(
        "10000000-0000-0000-0000-00000000dead",
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
            ("scope", "https://management.azure.com/.default"),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("AADSTS90002"),
        "{v}"
    );
    let (s, v) = post(
        FABRIKAM,
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "40000000-0000-0000-0000-000000001121"),
            ("client_secret", "msp-automation-secret"),
            ("scope", "https://management.azure.com/.default"),
        ],
    )
    .await;
    assert_eq!(s, 400, "an SP of Contoso is unknown in Fabrikam: {v}");
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .contains("AADSTS700016"));
}

#[tokio::test(flavor = "multi_thread")]
async fn user_flows_return_id_token_refresh_token_and_client_info() {
    let e = emu().await;
    let r = e
        .client
        .post(format!("{}/organizations/oauth2/v2.0/token", e.base))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("username", "alice@contosomsp.onmicrosoft.com"),
            ("password", "Alice-Pa55!"),
            (
                "scope",
                "https://management.core.windows.net//.default offline_access openid profile",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    for k in ["access_token", "id_token", "refresh_token", "client_info"] {
        assert!(v[k].is_string(), "{k}");
    }
    assert!(v["expires_in"].is_i64());
    let rt = v["refresh_token"].as_str().unwrap();
    let r2 = e
        .client
        .post(format!("{}/{CONTOSO}/oauth2/v2.0/token", e.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("refresh_token", rt),
            ("scope", "https://storage.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r2.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_realm_answers_for_known_users() {
    let e = emu().await;
    let r = e
        .call(
            "GET",
            "/common/userrealm/alice@contosomsp.onmicrosoft.com?api-version=1.0",
            None,
            None,
        )
        .await;
    assert_eq!(r.body["account_type"], "Managed");
}

//! Host-style data plane through the emulator's port as an HTTPS proxy: `CONNECT
//! fabrikamdata.blob.core.windows.net:443` and `CONNECT fabrikam-kv.vault.azure.net:443` open a tunnel
//! with a certificate the local CA mints for the name; Blob and Key Vault answer with host-style
//! URLs; other hosts and unknown accounts are refused at the CONNECT.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::*;

const STORAGE: &str = "https://storage.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const KV_ID: &str = "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/fabrikam-kv";

fn port(e: &Emu) -> u16 {
    e.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// A client that sends every https request through the emulator as its proxy (HTTPS_PROXY).
fn proxied(e: &Emu) -> reqwest::Client {
    let ca = std::fs::read(state_dir().join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .use_rustls_tls()
        .proxy(reqwest::Proxy::https(format!("http://localhost:{}", port(e))).unwrap())
        .build()
        .unwrap()
}

/// Send a raw request head on a plain TCP connection and read the status line.
async fn plain(e: &Emu, head: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port(e)))
        .await
        .unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") && s.read(&mut b).await.unwrap() == 1 {
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).trim_end().to_string()
}

#[tokio::test]
async fn reader_lists_reports_at_the_accounts_own_host_name() {
    let e = emu().await;
    let tok = e.token_for("reader@fabrikam", STORAGE).await;
    let r = proxied(&e)
        .get("https://fabrikamdata.blob.core.windows.net/reports?restype=container&comp=list")
        .bearer_auth(&tok)
        .header("x-ms-version", "2026-10-06")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("<Name>q3.csv</Name>"), "{body}");
    assert!(
        body.contains("ServiceEndpoint=\"https://fabrikamdata.blob.core.windows.net/\""),
        "{body}"
    );
    let r = proxied(&e)
        .get("https://fabrikamdata.blob.core.windows.net/reports/q3.csv")
        .bearer_auth(&tok)
        .header("x-ms-version", "2026-10-06")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("region,quarter"));
    // the path-style address keeps working beside it
    let r = e
        .client
        .get(format!("{}/fabrikamdata/reports/q3.csv", e.base))
        .bearer_auth(&tok)
        .header("x-ms-version", "2026-10-06")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn key_vault_by_host_name_challenges_and_returns_host_style_ids() {
    let e = emu().await;
    let c = proxied(&e);
    let url = "https://fabrikam-kv.vault.azure.net/secrets/db-password?api-version=7.5";
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        challenge,
        format!("Bearer authorization=\"https://localhost:{}/{FABRIKAM}\", resource=\"https://vault.azure.net\"", port(&e))
    );
    // admin@fabrikam grants itself Key Vault Secrets User on the vault, then reads
    let arm = e.token("admin@fabrikam").await;
    let ra = e
        .call(
            "PUT",
            &format!("{KV_ID}/providers/Microsoft.Authorization/roleAssignments/5d5e7c52-1f28-4a8e-9d51-3a2b8a7c0001?api-version=2022-04-01"),
            Some(&arm),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}"),
                "principalId": "30000000-0000-0000-0000-000000002111", "principalType": "User"}})),
        )
        .await;
    assert_eq!(ra.status, 201, "{:?}", ra.body);
    let tok = e.token_for("admin@fabrikam", VAULT).await;
    let r = c.get(url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let id = b["id"].as_str().unwrap();
    assert!(
        id.starts_with("https://fabrikam-kv.vault.azure.net/secrets/db-password/"),
        "{id}"
    );
    // the id as az --id passes it back
    let r = c
        .get(format!("{id}?api-version=7.5"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_proxy_refuses_other_hosts_unknown_accounts_and_plain_requests() {
    let e = emu().await;
    let cases = [
        (
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            "HTTP/1.1 403 ",
        ),
        (
            "CONNECT nosuchaccount.blob.core.windows.net:443 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 404 lighthouse-emulator's world has no storage account named 'nosuchaccount'",
        ),
        (
            "CONNECT fabrikamdata.blob.core.windows.net:80 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 403 ",
        ),
        ("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP/1.1 400 "),
        ("CONNECT localhost:5000 HTTP/1.1\r\n\r\n", "HTTP/1.1 403 "),
        (
            "CONNECT localhost:443 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200 Connection Established",
        ),
    ];
    for (head, want) in cases {
        let got = plain(&e, head).await;
        assert!(got.starts_with(want), "{head:?}: {got}");
    }
    // the TLS port still answers as before
    let r = e.call("GET", "/_emulator/health", None, None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn msal_user_realm_lookup_on_localhost_443_goes_through_the_tunnel() {
    // MSAL Python asks https://localhost/common/userrealm/… on 443 whatever port the authority
    // names; through the proxy it reaches this emulator without binding :443.
    let e = emu().await;
    let r = proxied(&e)
        .get("https://localhost/common/userrealm/admin@fabrikam.onmicrosoft.com?api-version=1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["account_type"], "Managed", "{b}");
}

#[tokio::test]
async fn a_client_that_proxies_localhost_too_still_reaches_the_emulator() {
    // Node's NO_PROXY matches host names only, so `localhost:PORT` entries do not exempt it; an
    // IP address sends no SNI. Both tunnel to the emulator itself.
    let e = emu().await;
    for url in [
        format!("https://localhost:{}/_emulator/health", port(&e)),
        format!("https://127.0.0.1:{}/_emulator/health", port(&e)),
    ] {
        let r = proxied(&e).get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
    }
}

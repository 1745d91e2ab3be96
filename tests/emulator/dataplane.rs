//! The data plane over TLS: Blob Storage at `/{account}/…` and Key Vault secrets at `/{vault}/secrets/…`,
//! with Entra tokens for their audiences. A managing-tenant token is refused as Azure refuses it (Storage
//! InvalidAuthenticationInfo "Issuer validation failed", Key Vault AKV10032); same-tenant callers are
//! authorized with dataActions; Shared Key and SAS are refused.

use crate::*;
use serde_json::{json, Value};

const STORAGE: &str = "https://storage.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";
const RG_DATA: &str = "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-data";
const Q3: &str = "region,quarter,revenue_eur\nwesteurope,2026-Q3,1284000\nnortheurope,2026-Q3,932500\nuksouth,2026-Q3,407250\n";
const BLOB_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const FABRIKAM_CI_OID: &str = "30000000-0000-0000-0000-000000002121";
const ADMIN_FABRIKAM_OID: &str = "30000000-0000-0000-0000-000000002111";

struct Raw {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn h(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn raw(
    e: &Emu,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let mut rb = e.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}", e.base),
    );
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.body(body.to_vec()).send().await.unwrap();
    Raw {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

/// A blob request as the Python SDK sends it (x-ms-version, bearer token).
async fn blob(
    e: &Emu,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let mut h = vec![("x-ms-version", "2026-10-06")];
    h.extend_from_slice(headers);
    raw(e, method, path, Some(token), &h, body).await
}

async fn kv(e: &Emu, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Raw {
    let sep = if path.contains('?') { '&' } else { '?' };
    let p = format!("{path}{sep}api-version=2026-04-01");
    let b = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    raw(
        e,
        method,
        &p,
        token,
        &[("content-type", "application/json")],
        &b,
    )
    .await
}

async fn assign(e: &Emu, who: &str, scope: &str, role: &str, principal: &str) {
    let admin = e.token(who).await;
    let name = uuid_like(scope, role, principal);
    let r = e
        .call(
            "PUT",
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"),
            Some(&admin),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": principal}})),
        )
        .await;
    assert_eq!(r.status, 201, "role assignment: {}", r.body);
}

fn uuid_like(a: &str, b: &str, c: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (a, b, c).hash(&mut h);
    let x = h.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        x >> 32,
        x & 0xffff,
        (x >> 16) & 0xfff,
        (x >> 4) & 0xfff,
        x & 0xffff_ffff_ffff
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn reader_downloads_q3_whole_and_by_range_and_lists_it() {
    let e = emu().await;
    let t = e.token_for("reader@fabrikam", STORAGE).await;
    let r = blob(&e, "GET", "/fabrikamdata/reports/q3.csv", &t, &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), Q3);
    assert_eq!(r.h("x-ms-blob-type"), "BlockBlob");
    assert_eq!(r.h("content-type"), "text/csv");
    assert_eq!(r.h("accept-ranges"), "bytes");
    assert!(r.h("etag").starts_with("\"0x"), "{}", r.h("etag"));
    assert!(
        r.h("last-modified").ends_with(" GMT"),
        "{}",
        r.h("last-modified")
    );
    assert!(!r.h("content-md5").is_empty());
    assert!(!r.h("x-ms-request-id").is_empty());
    assert_eq!(r.h("x-ms-version"), "2026-10-06");
    assert_eq!(
        r.h("x-ms-emulator-decision"),
        "",
        "azure-storage-blob reads any \"or-\" header as replication status"
    );

    // as the Python SDK downloads: x-ms-range past the end → 206 with the whole length
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/reports/q3.csv",
        &t,
        &[("x-ms-range", "bytes=0-33554431")],
        b"",
    )
    .await;
    assert_eq!(r.status, 206);
    assert_eq!(
        r.h("content-range"),
        format!("bytes 0-{}/{}", Q3.len() - 1, Q3.len())
    );
    assert_eq!(r.text(), Q3);
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/reports/q3.csv",
        &t,
        &[("range", "bytes=7-13")],
        b"",
    )
    .await;
    assert_eq!((r.status, r.text().as_str()), (206, "quarter"));
    assert_eq!(r.h("content-range"), format!("bytes 7-13/{}", Q3.len()));
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/reports/q3.csv",
        &t,
        &[("x-ms-range", "bytes=5000-")],
        b"",
    )
    .await;
    assert_eq!((r.status, r.h("x-ms-error-code")), (416, "InvalidRange"));

    let r = blob(&e, "HEAD", "/fabrikamdata/reports/q3.csv", &t, &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-length"), Q3.len().to_string());

    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/reports?restype=container&comp=list&prefix=q",
        &t,
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.h("content-type"), "application/xml");
    let x = r.text();
    assert!(x.contains("<EnumerationResults ServiceEndpoint=\""), "{x}");
    assert!(x.contains("ContainerName=\"reports\""), "{x}");
    assert!(x.contains("<Blob><Name>q3.csv</Name>"), "{x}");
    assert!(
        x.contains(&format!("<Content-Length>{}</Content-Length>", Q3.len())),
        "{x}"
    );
    let r = blob(&e, "GET", "/fabrikamdata/?comp=list", &t, &[], b"").await;
    assert!(
        r.text().contains("<Container><Name>reports</Name>"),
        "{}",
        r.text()
    );

    let r = blob(&e, "GET", "/fabrikamdata/reports/nope.csv", &t, &[], b"").await;
    assert_eq!((r.status, r.h("x-ms-error-code")), (404, "BlobNotFound"));
    assert!(r.text().contains("<Code>BlobNotFound</Code>"));
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/nope?restype=container&comp=list",
        &t,
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (404, "ContainerNotFound")
    );
    // the reader cannot write
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/reports/x.txt",
        &t,
        &[("x-ms-blob-type", "BlockBlob")],
        b"x",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (403, "AuthorizationPermissionMismatch")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alice_and_admin_at_fabrikam_cannot_read_q3() {
    let e = emu().await;
    // alice is Contributor on fabrikam-prod through the delegation: her token is from Contoso MSP
    let alice = e.token_for("alice", STORAGE).await;
    let r = blob(&e, "GET", "/fabrikamdata/reports/q3.csv", &alice, &[], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.h("x-ms-error-code"), "InvalidAuthenticationInfo");
    assert_eq!(
        r.h("www-authenticate"),
        format!("Bearer authorization_uri={}/{FABRIKAM}/oauth2/authorize resource_id=https://storage.azure.com", e.base)
    );
    let x = r.text();
    assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>InvalidAuthenticationInfo</Code><Message>Server failed to authenticate the request. Please refer to the information in the www-authenticate header.\nRequestId:"), "{x}");
    assert!(x.contains("<AuthenticationErrorDetail>Issuer validation failed. Issuer did not match.</AuthenticationErrorDetail>"), "{x}");
    // listing containers is refused the same way, as is the service principal of the MSP
    let msp = e.token_for("msp-automation", STORAGE).await;
    let r = blob(&e, "GET", "/fabrikamdata/?comp=list", &msp, &[], b"").await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (401, "InvalidAuthenticationInfo")
    );

    // admin@fabrikam is Owner: control-plane actions, no data actions
    let admin = e.token_for("admin@fabrikam", STORAGE).await;
    let r = blob(&e, "GET", "/fabrikamdata/reports/q3.csv", &admin, &[], b"").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.h("x-ms-error-code"), "AuthorizationPermissionMismatch");
    assert!(r.text().contains("<Message>This request is not authorized to perform this operation using this permission.\nRequestId:"), "{}", r.text());
    assert!(
        r.h("x-ms-emulator-decision").starts_with("denied"),
        "{}",
        r.h("x-ms-emulator-decision")
    );
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/reports?restype=container&comp=list",
        &admin,
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (403, "AuthorizationPermissionMismatch")
    );
    // ...but containers are control-plane actions an Owner holds
    let r = blob(&e, "GET", "/fabrikamdata/?comp=list", &admin, &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_refuses_shared_key_sas_anonymous_and_wrong_audiences() {
    let e = emu().await;
    let r = raw(
        &e,
        "GET",
        "/fabrikamdata/reports/q3.csv",
        None,
        &[
            ("x-ms-version", "2026-10-06"),
            ("authorization", "SharedKey fabrikamdata:c2lnbmF0dXJl"),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (403, "KeyBasedAuthenticationNotPermitted")
    );
    assert!(r
        .text()
        .contains("Key based authentication is not permitted on this storage account."));
    assert!(r
        .h("x-ms-emulator-decision")
        .contains("Microsoft Entra access only"));
    let r = raw(
        &e,
        "GET",
        "/fabrikamdata/reports/q3.csv?sv=2022-11-02&sr=b&sp=r&sig=abc",
        None,
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (403, "KeyBasedAuthenticationNotPermitted")
    );
    let r = raw(
        &e,
        "GET",
        "/fabrikamdata/reports/q3.csv",
        None,
        &[("x-ms-version", "2026-10-06")],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (401, "NoAuthenticationInformation")
    );
    assert!(r.h("www-authenticate").contains(FABRIKAM));
    let arm = e.token("reader@fabrikam").await;
    let r = blob(&e, "GET", "/fabrikamdata/reports/q3.csv", &arm, &[], b"").await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (401, "InvalidAuthenticationInfo")
    );
    assert!(r
        .text()
        .contains("Audience validation failed. Audience did not match."));
    // an unknown account is not a data-plane path at all
    let t = e.token_for("reader@fabrikam", STORAGE).await;
    assert_eq!(
        blob(&e, "GET", "/nosuchaccount/reports/q3.csv", &t, &[], b"")
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_contributor_creates_uploads_lists_and_deletes() {
    let e = emu().await;
    let sa = format!("{RG_DATA}/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
    let ci = e.token_for("fabrikam-ci", STORAGE).await;
    // Contributor: may create containers (an Action), may not write blobs (a dataAction)
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/uploads?restype=container",
        &ci,
        &[("x-ms-meta-owner", "ci")],
        b"",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.h("etag").starts_with("\"0x") && r.h("last-modified").ends_with("GMT"));
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/uploads?restype=container",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (409, "ContainerAlreadyExists")
    );
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/uploads/dir/hello.txt",
        &ci,
        &[("x-ms-blob-type", "BlockBlob")],
        b"hello",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (403, "AuthorizationPermissionMismatch")
    );

    assign(&e, "admin@fabrikam", &sa, BLOB_CONTRIBUTOR, FABRIKAM_CI_OID).await;
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/uploads/dir/hello.txt",
        &ci,
        &[
            ("x-ms-blob-type", "BlockBlob"),
            ("x-ms-blob-content-type", "text/plain"),
            ("x-ms-meta-k", "v"),
        ],
        b"hello world",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.h("content-md5"), "XrY7u+Ae7tCTyyK7j1rNww==");
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/uploads/dir/hello.txt",
        &ci,
        &[("x-ms-blob-type", "BlockBlob"), ("if-none-match", "*")],
        b"again",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (409, "BlobAlreadyExists")
    );
    let r = blob(&e, "PUT", "/fabrikamdata/uploads/top.bin", &ci, &[], b"x").await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (400, "MissingRequiredHeader")
    );
    // staged blocks
    for (id, part) in [("YmxvY2sx", &b"abc"[..]), ("YmxvY2sy", &b"def"[..])] {
        let r = blob(
            &e,
            "PUT",
            &format!("/fabrikamdata/uploads/blocks.bin?comp=block&blockid={id}"),
            &ci,
            &[],
            part,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>YmxvY2sx</Latest><Latest>YmxvY2sy</Latest></BlockList>";
    let r = blob(
        &e,
        "PUT",
        "/fabrikamdata/uploads/blocks.bin?comp=blocklist",
        &ci,
        &[],
        list.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = blob(&e, "GET", "/fabrikamdata/uploads/blocks.bin", &ci, &[], b"").await;
    assert_eq!(r.text(), "abcdef");

    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/uploads/dir/hello.txt",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello world"));
    assert_eq!(
        (r.h("content-type"), r.h("x-ms-meta-k")),
        ("text/plain", "v")
    );
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/uploads?restype=container&comp=list&prefix=dir/&include=metadata",
        &ci,
        &[],
        b"",
    )
    .await;
    let x = r.text();
    assert!(
        x.contains("<Prefix>dir/</Prefix>")
            && x.contains("<Name>dir/hello.txt</Name>")
            && !x.contains("blocks.bin"),
        "{x}"
    );
    assert!(x.contains("<Metadata><k>v</k></Metadata>"), "{x}");
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/uploads?restype=container&comp=list&delimiter=/",
        &ci,
        &[],
        b"",
    )
    .await;
    let x = r.text();
    assert!(
        x.contains("<BlobPrefix><Name>dir/</Name></BlobPrefix>")
            && x.contains("<Name>blocks.bin</Name>"),
        "{x}"
    );
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/?comp=list&include=metadata",
        &ci,
        &[],
        b"",
    )
    .await;
    assert!(
        r.text().contains("<Name>uploads</Name>") && r.text().contains("<owner>ci</owner>"),
        "{}",
        r.text()
    );
    let r = blob(
        &e,
        "HEAD",
        "/fabrikamdata/uploads?restype=container",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.h("x-ms-meta-owner")), (200, "ci"));

    let r = blob(
        &e,
        "DELETE",
        "/fabrikamdata/uploads/dir/hello.txt",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/uploads/dir/hello.txt",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.h("x-ms-error-code")), (404, "BlobNotFound"));
    let r = blob(
        &e,
        "DELETE",
        "/fabrikamdata/uploads?restype=container",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = blob(
        &e,
        "GET",
        "/fabrikamdata/uploads?restype=container",
        &ci,
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (404, "ContainerNotFound")
    );

    // the contributor deletes the world's blob; reset brings it back
    assert_eq!(
        blob(&e, "DELETE", "/fabrikamdata/reports/q3.csv", &ci, &[], b"")
            .await
            .status,
        202
    );
    assert_eq!(
        blob(&e, "GET", "/fabrikamdata/reports/q3.csv", &ci, &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        e.call("POST", "/_emulator/reset", None, None).await.status,
        200
    );
    let reader = e.token_for("reader@fabrikam", STORAGE).await;
    let r = blob(&e, "GET", "/fabrikamdata/reports/q3.csv", &reader, &[], b"").await;
    assert_eq!((r.status, r.text().as_str()), (200, Q3));
}

#[tokio::test(flavor = "multi_thread")]
async fn arm_points_clients_at_the_data_plane() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let r = e.call("GET", &format!("{RG_DATA}/providers/Microsoft.Storage/storageAccounts/fabrikamdata?api-version=2023-05-01"), Some(&admin), None).await;
    assert_eq!(
        r.body["properties"]["primaryEndpoints"]["blob"],
        format!("{}/fabrikamdata/", e.base)
    );
    let r = e
        .call(
            "GET",
            &format!(
                "{RG_DATA}/providers/Microsoft.KeyVault/vaults/fabrikam-kv?api-version=2023-07-01"
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["properties"]["vaultUri"],
        format!("{}/fabrikam-kv/", e.base)
    );
    let r = e
        .call(
            "GET",
            &format!("{RG_DATA}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["value"][0]["properties"]["vaultUri"],
        format!("{}/fabrikam-kv/", e.base)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_vault_challenge_and_the_refusals() {
    let e = emu().await;
    // the SDK's first, bodiless request
    let r = kv(&e, "GET", "/fabrikam-kv/secrets/db-password/", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.h("www-authenticate"),
        format!(
            "Bearer authorization=\"{}/{FABRIKAM}\", resource=\"https://vault.azure.net\"",
            e.base
        )
    );
    assert_eq!(
        r.json(),
        json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
    );

    // a delegated principal: alice, Contributor on fabrikam-prod through Azure Lighthouse
    let alice = e.token_for("alice", VAULT).await;
    let r = kv(
        &e,
        "GET",
        "/fabrikam-kv/secrets/db-password/",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "Unauthorized");
    assert_eq!(
        r.json()["error"]["message"],
        format!("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{FABRIKAM}/, https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/, https://sts.windows.net/e2d54eb5-3869-4f70-8578-dee5fc7331f4/, found https://sts.windows.net/{CONTOSO}/.")
    );
    assert!(r.h("www-authenticate").contains(FABRIKAM));

    // wrong audience
    let arm = e.token("admin@fabrikam").await;
    let r = kv(
        &e,
        "GET",
        "/fabrikam-kv/secrets/db-password/",
        Some(&arm),
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["error"]["message"],
        "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com."
    );

    // right tenant, no Key Vault role (the vault uses RBAC)
    let reader = e.token_for("reader@fabrikam", VAULT).await;
    let r = kv(
        &e,
        "GET",
        "/fabrikam-kv/secrets/db-password/",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "Forbidden");
    assert_eq!(r.json()["error"]["innererror"]["code"], "ForbiddenByRbac");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Caller is not authorized to perform action on resource."));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_grants_itself_secrets_user_then_reads() {
    let e = emu().await;
    let vault = format!("{RG_DATA}/providers/Microsoft.KeyVault/vaults/fabrikam-kv");
    let t = e.token_for("admin@fabrikam", VAULT).await;
    let r = kv(
        &e,
        "GET",
        "/fabrikam-kv/secrets/db-password/",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["innererror"]["code"].as_str()),
        (403, Some("ForbiddenByRbac"))
    );
    assign(
        &e,
        "admin@fabrikam",
        &vault,
        SECRETS_USER,
        ADMIN_FABRIKAM_OID,
    )
    .await;
    let r = kv(
        &e,
        "GET",
        "/fabrikam-kv/secrets/db-password/",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["value"], "Fabrikam-Db-Pa55!");
    assert_eq!(b["contentType"], "text/plain");
    assert_eq!(b["tags"]["environment"], "prod");
    assert_eq!(b["attributes"]["enabled"], true);
    assert_eq!(b["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    let id = b["id"].as_str().unwrap();
    let version = id.rsplit('/').next().unwrap();
    assert_eq!(id, format!("{}/secrets/db-password/{version}", e.base));
    assert_eq!(version.len(), 32);
    // by version, without the trailing slash, and at the root (the world has one vault)
    assert_eq!(
        kv(
            &e,
            "GET",
            &format!("/fabrikam-kv/secrets/db-password/{version}"),
            Some(&t),
            None
        )
        .await
        .json()["value"],
        "Fabrikam-Db-Pa55!"
    );
    assert_eq!(
        kv(
            &e,
            "GET",
            "/fabrikam-kv/secrets/db-password",
            Some(&t),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        kv(&e, "GET", "/secrets/db-password/", Some(&t), None)
            .await
            .json()["value"],
        "Fabrikam-Db-Pa55!"
    );
    // list (readMetadata), but no writes with Secrets User
    let r = kv(&e, "GET", "/fabrikam-kv/secrets", Some(&t), None).await;
    assert_eq!(
        r.json()["value"][0]["id"],
        format!("{}/secrets/db-password", e.base)
    );
    assert!(r.json()["value"][0].get("value").is_none());
    let r = kv(
        &e,
        "PUT",
        "/fabrikam-kv/secrets/other",
        Some(&t),
        Some(json!({"value": "x"})),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["innererror"]["code"].as_str()),
        (403, Some("ForbiddenByRbac"))
    );
    let r = kv(&e, "GET", "/fabrikam-kv/secrets/missing/", Some(&t), None).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (404, Some("SecretNotFound"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_officer_sets_versions_deletes_recovers_and_purges() {
    let e = emu().await;
    let vault = format!("{RG_DATA}/providers/Microsoft.KeyVault/vaults/fabrikam-kv");
    assign(
        &e,
        "admin@fabrikam",
        &vault,
        SECRETS_OFFICER,
        FABRIKAM_CI_OID,
    )
    .await;
    let t = e.token_for("fabrikam-ci", VAULT).await;
    let r1 = kv(
        &e,
        "PUT",
        "/fabrikam-kv/secrets/api-key",
        Some(&t),
        Some(json!({"value": "one"})),
    )
    .await;
    assert_eq!(r1.status, 200, "{}", r1.text());
    let r2 = kv(
        &e,
        "PUT",
        "/fabrikam-kv/secrets/api-key",
        Some(&t),
        Some(json!({"value": "two", "contentType": "text/plain", "tags": {"a": "b"}})),
    )
    .await;
    assert_ne!(r1.json()["id"], r2.json()["id"]);
    assert_eq!(
        kv(&e, "GET", "/fabrikam-kv/secrets/api-key/", Some(&t), None)
            .await
            .json()["value"],
        "two"
    );
    let v1 = r1.json()["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        kv(
            &e,
            "GET",
            &format!("/fabrikam-kv/secrets/api-key/{v1}"),
            Some(&t),
            None
        )
        .await
        .json()["value"],
        "one"
    );
    let r = kv(
        &e,
        "GET",
        "/fabrikam-kv/secrets/api-key/versions",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 2);
    // disable a version: its value can no longer be read
    let r = kv(
        &e,
        "PATCH",
        &format!("/fabrikam-kv/secrets/api-key/{v1}"),
        Some(&t),
        Some(json!({"attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["attributes"]["enabled"].as_bool()),
        (200, Some(false))
    );
    let r = kv(
        &e,
        "GET",
        &format!("/fabrikam-kv/secrets/api-key/{v1}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["innererror"]["code"].as_str()),
        (403, Some("SecretDisabled"))
    );

    let r = kv(&e, "DELETE", "/fabrikam-kv/secrets/api-key", Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!(
        d["recoveryId"],
        format!("{}/deletedsecrets/api-key", e.base)
    );
    assert!(
        d["deletedDate"].is_i64() && d["scheduledPurgeDate"].as_i64() > d["deletedDate"].as_i64()
    );
    assert!(d.get("value").is_none());
    assert_eq!(
        kv(&e, "GET", "/fabrikam-kv/secrets/api-key/", Some(&t), None)
            .await
            .status,
        404
    );
    assert_eq!(
        kv(
            &e,
            "GET",
            "/fabrikam-kv/deletedsecrets/api-key",
            Some(&t),
            None
        )
        .await
        .json()["recoveryId"],
        d["recoveryId"]
    );
    let r = kv(
        &e,
        "PUT",
        "/fabrikam-kv/secrets/api-key",
        Some(&t),
        Some(json!({"value": "three"})),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["innererror"]["code"].as_str()),
        (409, Some("ObjectIsDeletedButRecoverable"))
    );
    let r = kv(&e, "GET", "/fabrikam-kv/deletedsecrets", Some(&t), None).await;
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 1);
    let r = kv(
        &e,
        "POST",
        "/fabrikam-kv/deletedsecrets/api-key/recover",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        kv(&e, "GET", "/fabrikam-kv/secrets/api-key/", Some(&t), None)
            .await
            .json()["value"],
        "two"
    );
    kv(&e, "DELETE", "/fabrikam-kv/secrets/api-key", Some(&t), None).await;
    assert_eq!(
        kv(
            &e,
            "DELETE",
            "/fabrikam-kv/deletedsecrets/api-key",
            Some(&t),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        kv(
            &e,
            "GET",
            "/fabrikam-kv/deletedsecrets/api-key",
            Some(&t),
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        kv(
            &e,
            "PUT",
            "/fabrikam-kv/secrets/api-key",
            Some(&t),
            Some(json!({"value": "new"}))
        )
        .await
        .status,
        200
    );
}

/// Blob names Storage refuses: longer than 1 024 characters (OutOfRangeInput) or with a control
/// character such as NUL (InvalidResourceName) — never stored (issue 13 found a 60 000-character name).
#[tokio::test(flavor = "multi_thread")]
async fn blob_names_follow_storage_limits() {
    let e = emu().await;
    let ci = e.token_for("fabrikam-ci", STORAGE).await;
    let long = format!("/fabrikamdata/reports/{}", "n".repeat(2_000));
    let r = blob(
        &e,
        "PUT",
        &long,
        &ci,
        &[("x-ms-blob-type", "BlockBlob")],
        b"x",
    )
    .await;
    assert_eq!((r.status, r.h("x-ms-error-code")), (400, "OutOfRangeInput"));
    // a 60 000-character name does not even pass the HTTP layer's URI limit
    let huge = format!("/fabrikamdata/reports/{}", "n".repeat(60_000));
    let r = blob(
        &e,
        "PUT",
        &huge,
        &ci,
        &[("x-ms-blob-type", "BlockBlob")],
        b"x",
    )
    .await;
    assert!((400..500).contains(&r.status), "{}", r.status);
    let nul = "/fabrikamdata/reports/a%00b";
    let r = blob(
        &e,
        "PUT",
        nul,
        &ci,
        &[("x-ms-blob-type", "BlockBlob")],
        b"x",
    )
    .await;
    assert_eq!(
        (r.status, r.h("x-ms-error-code")),
        (400, "InvalidResourceName")
    );
    let ok = format!("/fabrikamdata/reports/{}", "n".repeat(1_024));
    let r = blob(&e, "GET", &ok, &ci, &[], b"").await;
    assert_ne!(r.h("x-ms-error-code"), "OutOfRangeInput");
}

/// Blob ETags on reads and deletes (issue 13: a stale If-Match was ignored and the blob deleted): a stale
/// If-Match is 412 ConditionNotMet, a matching If-None-Match on GET is 304, and a DELETE with a stale
/// If-Match leaves the blob where it is.
#[tokio::test(flavor = "multi_thread")]
async fn blob_etags_on_get_and_delete() {
    let e = emu().await;
    let sa = format!("{RG_DATA}/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
    assign(&e, "admin@fabrikam", &sa, BLOB_CONTRIBUTOR, FABRIKAM_CI_OID).await;
    let ci = e.token_for("fabrikam-ci", STORAGE).await;
    let path = "/fabrikamdata/reports/etag.txt";
    let r = blob(
        &e,
        "PUT",
        path,
        &ci,
        &[("x-ms-blob-type", "BlockBlob")],
        b"v1",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let etag = r.h("etag").to_string();
    let stale = "\"0x8DCAFEBABE00000\"";
    let r = blob(&e, "GET", path, &ci, &[("if-match", stale)], b"").await;
    assert_eq!((r.status, r.h("x-ms-error-code")), (412, "ConditionNotMet"));
    let r = blob(&e, "GET", path, &ci, &[("if-none-match", &etag)], b"").await;
    assert_eq!(r.status, 304);
    let r = blob(&e, "GET", path, &ci, &[("if-match", &etag)], b"").await;
    assert_eq!((r.status, r.text()), (200, "v1".to_string()));
    let r = blob(&e, "DELETE", path, &ci, &[("if-match", stale)], b"").await;
    assert_eq!((r.status, r.h("x-ms-error-code")), (412, "ConditionNotMet"));
    assert_eq!(
        blob(&e, "GET", path, &ci, &[], b"").await.status,
        200,
        "still there"
    );
    let r = blob(&e, "DELETE", path, &ci, &[("if-match", &etag)], b"").await;
    assert_eq!(r.status, 202);
    e.call("POST", "/_emulator/reset", None, None).await;
}

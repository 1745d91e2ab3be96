//! Every refusal code of the foundation: authentication, api-version, body, ids, RBAC, locks.

use crate::*;
use base64::Engine;
use serde_json::json;

fn rg_path(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version=2024-11-01")
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_refusals() {
    let e = emu().await;
    let path = rg_path(FABRIKAM_PROD, "rg-web");
    let r = e.call("GET", &path, None, None).await;
    assert_eq!((r.status, r.code()), (401, "AuthenticationFailed"));
    assert!(
        r.header("www-authenticate")
            .contains(&format!("/{FABRIKAM}\"")),
        "{}",
        r.header("www-authenticate")
    );

    let r = e
        .raw("GET", &path, &[("authorization", "Basic abc")], vec![])
        .await;
    assert_eq!((r.status, r.code()), (401, "AuthenticationFailed"));

    let r = e.call("GET", &path, Some("garbage"), None).await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));

    // alg: none with the claims of a real token
    let real = e.token("admin@fabrikam").await;
    let payload = real.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{payload}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );
    let r = e.call("GET", &path, Some(&none), None).await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));

    // forged: signed by another key
    let other = lighthouse_emulator::auth::keys::SigningKey::generate().unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let forged = lighthouse_emulator::auth::token::sign(&other, &claims);
    let r = e.call("GET", &path, Some(&forged), None).await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));

    // tampered payload
    let mut parts: Vec<&str> = real.split('.').collect();
    let mut c2 = claims.clone();
    c2["oid"] = json!("30000000-0000-0000-0000-000000002112");
    let p2 =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c2).unwrap());
    parts[1] = &p2;
    let r = e.call("GET", &path, Some(&parts.join(".")), None).await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));

    // wrong audience
    let storage = e
        .token_for("admin@fabrikam", "https://storage.azure.com/.default")
        .await;
    let r = e.call("GET", &path, Some(&storage), None).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "InvalidAuthenticationTokenAudience")
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("https://storage.azure.com"));

    // az's audience and our own base URL are accepted
    let az = e
        .token_for(
            "admin@fabrikam",
            "https://management.core.windows.net//.default",
        )
        .await;
    assert_eq!(e.call("GET", &path, Some(&az), None).await.status, 200);
    let own = e
        .token_for("admin@fabrikam", &format!("{}/.default", e.base))
        .await;
    assert_eq!(e.call("GET", &path, Some(&own), None).await.status, 200);

    // expired, on the emulator's clock
    e.app.clock.advance(time::Duration::hours(2));
    let r = e.call("GET", &path, Some(&real), None).await;
    assert_eq!((r.status, r.code()), (401, "ExpiredAuthenticationToken"));
    e.app.clock.reset();
    assert_eq!(e.call("GET", &path, Some(&real), None).await.status, 200);

    // a tenant with no standing on the subscription
    let msp = e.token("msp-reporting").await;
    let r = e
        .call("GET", &rg_path(FABRIKAM_DEV, "rg-dev"), Some(&msp), None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "InvalidAuthenticationTokenTenant")
    );
    assert!(r.header("www-authenticate").contains(FABRIKAM));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_shape_refusals() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "MissingApiVersionParameter"));
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=yesterday"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidApiVersionParameter"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2024-11-01"));
    // a newer well-formed version is served
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=2031-01-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = e
        .call(
            "GET",
            "/subscriptions/not-a-guid/resourcegroups?api-version=2024-11-01",
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidSubscriptionId"));
    let r = e
        .call(
            "GET",
            "/subscriptions/20000000-0000-0000-0000-00000000dead?api-version=2022-12-01",
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "SubscriptionNotFound"));
    let r = e
        .call("GET", &rg_path(FABRIKAM_PROD, "nope"), Some(&t), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
    let r = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/nope?api-version=2023-09-01"), Some(&t), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "ResourceNotFound"));
    let auth = format!("Bearer {t}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-new"),
            &h,
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-new"),
            &h,
            b"[1,2]".to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-new"),
            &h,
            br#"{"location": 5}"#.to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-new"),
            &h,
            br#"{"tags": {}}"#.to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "LocationRequired"));
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "bad%20name."),
            &h,
            br#"{"location":"westeurope"}"#.to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidResourceGroupName"));
    let ct = [
        ("authorization", auth.as_str()),
        ("content-type", "application/xml"),
    ];
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-new"),
            &ct,
            b"<x/>".to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (415, "UnsupportedMediaType"));
    let big = format!(
        "{{\"location\":\"westeurope\",\"tags\":{{\"x\":\"{}\"}}}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let r = e
        .raw(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-new"),
            &h,
            big.into_bytes(),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "RequestEntityTooLarge"));
    // nothing was half-written by any of the refusals
    let r = e
        .call("GET", &rg_path(FABRIKAM_PROD, "rg-new"), Some(&t), None)
        .await;
    assert_eq!(r.status, 404);
    let r = e
        .call(
            "PATCH",
            "/subscriptions?api-version=2022-12-01",
            Some(&t),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn rbac_refusals_name_the_action_and_scope() {
    let e = emu().await;
    let reader = e.token("reader@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &rg_path(FABRIKAM_PROD, "rg-reader"),
            Some(&reader),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("'reader@fabrikam.onmicrosoft.com' with object id '30000000-0000-0000-0000-000000002112'"), "{msg}");
    assert!(
        msg.contains("'Microsoft.Resources/subscriptions/resourceGroups/write'"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "'/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-reader'"
        )),
        "{msg}"
    );
    assert!(r.header("x-ms-emulator-decision").starts_with("denied"));
    // reads are fine for the reader, not for someone without any role on fabrikam-dev
    assert_eq!(
        e.call(
            "GET",
            &rg_path(FABRIKAM_PROD, "rg-web"),
            Some(&reader),
            None
        )
        .await
        .status,
        200
    );
    let r = e
        .call("GET", &rg_path(FABRIKAM_DEV, "rg-dev"), Some(&reader), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // Contributor cannot write role assignments
    let ci = e.token("fabrikam-ci").await;
    let ra = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleAssignments/11111111-2222-3333-4444-555555555555?api-version=2022-04-01");
    let body = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"), "principalId": "30000000-0000-0000-0000-000000002112"}});
    let r = e.call("PUT", &ra, Some(&ci), Some(body)).await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_lock_stops_the_customer() {
    let e = emu().await;
    let t = e.token("admin@northwind").await;
    let vm = format!("/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-managed/providers/Microsoft.Compute/virtualMachines/vm-app-01?api-version=2024-03-01");
    let r = e.call("DELETE", &vm, Some(&t), None).await;
    assert_eq!((r.status, r.code()), (409, "ScopeLocked"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("rg-managed"));
    assert_eq!(e.call("GET", &vm, Some(&t), None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn jsonc_bodies_are_read_like_newtonsoft_reads_them() {
    // az deployment sub create sends `{"properties": {…, template: {…}}}` with an unquoted key
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let auth = format!("Bearer {t}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body =
        b"{\"location\": \"westeurope\", tags: {/* a comment */ \"env\": \"jsonc\"}}".to_vec();
    let r = e
        .raw(
            "PUT",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-jsonc?api-version=2024-11-01"
            ),
            &h,
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["tags"]["env"], "jsonc");
}

/// A body nested past serde_json's limit must not reach the lenient reader, which recurses without a
/// bound: every depth gets ARM's 400, the process stays up (issue 13: 3 100–5 000 deep aborted it).
#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_bodies_are_refused() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let path = rg_path(FABRIKAM_PROD, "rg-deep");
    for depth in [129usize, 3_100, 5_000, 20_000] {
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes();
        let r = e
            .raw(
                "PUT",
                &path,
                &[
                    ("authorization", &format!("Bearer {t}")),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "InvalidRequestContent"),
            "depth {depth}"
        );
    }
    // and a lenient (JSONC) body of ordinary depth is still read
    let r = e
        .raw(
            "PUT",
            &path,
            &[
                ("authorization", &format!("Bearer {t}")),
                ("content-type", "application/json"),
            ],
            b"{location: 'westeurope', /* a comment */}".to_vec(),
        )
        .await;
    assert_eq!(r.status, 201);
}

/// A template expression nested 5 000 deep is refused as an invalid template, not evaluated (issue 13:
/// it aborted the process).
#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_template_expressions_are_refused() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let expr = format!("[{}'a'{}]", "concat(".repeat(5_000), ")".repeat(5_000));
    let body = json!({"properties": {"mode": "Incremental", "template": {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "resources": [],
        "outputs": {"deep": {"type": "string", "value": expr}}}}});
    let path = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-web/providers/Microsoft.Resources/deployments/deep?api-version=2024-03-01");
    let r = e.call("PUT", &path, Some(&t), Some(body)).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "InvalidTemplate", "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nesting deeper than 64"),
        "{:?}",
        r.body
    );
}

/// ETags on ARM writes: If-Match with a stale etag, If-None-Match: * on an existing resource or group,
/// If-Match: * on a missing one → 412 PreconditionFailed and nothing written; the current etag passes.
#[tokio::test(flavor = "multi_thread")]
async fn conditional_writes_honour_etags() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let auth = format!("Bearer {t}");
    let nsg = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/nsg-etag?api-version=2023-09-01");
    let put = |hdr: Option<(&'static str, String)>, body: Value| {
        let (e, nsg, auth) = (&e, nsg.clone(), auth.clone());
        async move {
            let mut h: Vec<(&str, &str)> = vec![
                ("authorization", &auth),
                ("content-type", "application/json"),
            ];
            let v;
            if let Some((k, val)) = hdr {
                v = val;
                h.push((k, &v));
            }
            e.raw("PUT", &nsg, &h, serde_json::to_vec(&body).unwrap())
                .await
        }
    };
    let body = json!({"location": "westeurope", "tags": {"v": "1"}});
    let r = put(Some(("if-match", "*".into())), body.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (412, "PreconditionFailed"),
        "If-Match: * on a missing resource"
    );
    let r = put(Some(("if-none-match", "*".into())), body.clone()).await;
    assert_eq!(r.status, 201, "If-None-Match: * creates");
    let etag = r.body["etag"].as_str().unwrap().to_string();
    let r = put(Some(("if-none-match", "*".into())), body.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (412, "PreconditionFailed"),
        "If-None-Match: * on an existing resource"
    );
    let r = put(
        Some(("if-match", "W/\"stale\"".into())),
        json!({"location": "westeurope", "tags": {"v": "2"}}),
    )
    .await;
    assert_eq!(r.status, 412);
    let got = e.call("GET", &nsg, Some(&t), None).await;
    assert_eq!(
        got.body["tags"]["v"], "1",
        "a refused write changes nothing"
    );
    let r = put(
        Some(("if-match", etag.clone())),
        json!({"location": "westeurope", "tags": {"v": "2"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_ne!(
        r.body["etag"].as_str().unwrap(),
        etag,
        "a write changes the etag"
    );
    // DELETE with the old etag is refused; the group with If-None-Match: * too
    let r = e
        .raw(
            "DELETE",
            &nsg,
            &[("authorization", &auth), ("if-match", &etag)],
            vec![],
        )
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(e.call("GET", &nsg, Some(&t), None).await.status, 200);
    let rg = rg_path(FABRIKAM_PROD, "rg-web");
    let r = e
        .raw(
            "PUT",
            &rg,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("if-none-match", "*"),
            ],
            br#"{"location":"westeurope"}"#.to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code()), (412, "PreconditionFailed"));
    e.call("POST", "/_emulator/reset", None, None).await;
}

/// Azure's limits on what a body carries: tags (count, name and value length, reserved characters) and
/// an absurd location, each refused with ARM's code and without echoing megabytes back.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_tags_and_locations_are_refused() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let path = rg_path(FABRIKAM_PROD, "rg-limits");
    let many: serde_json::Map<String, Value> =
        (0..10_000).map(|i| (format!("t{i}"), json!("v"))).collect();
    for (body, code) in [
        (
            json!({"location": "westeurope", "tags": many}),
            "InvalidTags",
        ),
        (
            json!({"location": "westeurope", "tags": {"k": "v".repeat(1 << 20)}}),
            "InvalidTagValueLength",
        ),
        (
            json!({"location": "westeurope", "tags": {"a&b": "v"}}),
            "InvalidTagNameCharacters",
        ),
    ] {
        let r = e.call("PUT", &path, Some(&t), Some(body)).await;
        assert_eq!((r.status, r.code()), (400, code));
        assert!(r.body.to_string().len() < 4_000);
    }
    let r = e
        .call(
            "PUT",
            &path,
            Some(&t),
            Some(json!({"location": "x".repeat(3 << 20)})),
        )
        .await;
    assert_eq!(
        r.status,
        400,
        "{}",
        &r.body.to_string()[..200.min(r.body.to_string().len())]
    );
    assert!(
        r.body.to_string().len() < 4_000,
        "the location is not echoed back: {} bytes",
        r.body.to_string().len()
    );
    assert_eq!(
        e.call("GET", &path, Some(&t), None).await.status,
        404,
        "nothing was written"
    );
}

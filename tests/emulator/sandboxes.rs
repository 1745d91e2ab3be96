//! Sandboxes: isolated worlds in one process, each on its own port (`/_emulator/sandboxes`). What one
//! writes, resets, snapshots or does to its clock no other sees; ARM, the token service, metadata and
//! the data plane answer at each sandbox's base URL; fixtures from a snapshot; ttl; --max-sandboxes.

use crate::*;
use serde_json::{json, Value};

async fn create(e: &Emu, body: Value) -> Resp {
    e.call("POST", "/_emulator/sandboxes", None, Some(body))
        .await
}

/// An `Emu` for the sandbox `created` describes: same client, the sandbox's URL and world.
fn open(e: &Emu, created: &Resp) -> Emu {
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let (app, port) = e.app.sandboxes.get().unwrap().get(id).unwrap();
    let url = created.body["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("https://localhost:{port}"));
    Emu {
        base: url,
        client: e.client.clone(),
        app,
    }
}

async fn put(who: &Emu, t: &str, name: &str) -> u16 {
    who.call(
        "PUT",
        &rg(name),
        Some(t),
        Some(json!({"location": "westeurope"})),
    )
    .await
    .status
}

async fn offset(x: &Emu) -> i64 {
    x.call("GET", "/_emulator/clock", None, None).await.body["offsetSeconds"]
        .as_i64()
        .unwrap()
}

fn rg(name: &str) -> String {
    format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/{name}?api-version=2024-11-01")
}

#[tokio::test(flavor = "multi_thread")]
async fn sandboxes_are_isolated_worlds_with_their_own_reset_clock_and_snapshots() {
    let e = emu().await;
    let a = open(&e, &create(&e, json!({})).await);
    let b = open(&e, &create(&e, json!({"fixtures": "default"})).await);
    assert_ne!(a.base, b.base);
    // the token service and ARM answer at each base URL; a write in one is seen by no other
    let ta = a.token("admin@fabrikam").await;
    let tb = b.token("admin@fabrikam").await;
    let tm = e.token("admin@fabrikam").await;
    assert_eq!(put(&a, &ta, "rg-a").await, 201);
    assert_eq!(put(&b, &tb, "rg-b").await, 201);
    assert_eq!(
        a.call("GET", &rg("rg-b"), Some(&ta), None).await.status,
        404
    );
    assert_eq!(
        b.call("GET", &rg("rg-a"), Some(&tb), None).await.status,
        404
    );
    assert_eq!(
        e.call("GET", &rg("rg-a"), Some(&tm), None).await.status,
        404
    );
    assert_eq!(
        a.call("GET", &rg("rg-a"), Some(&ta), None).await.status,
        200
    );
    // the world's delegation works inside a sandbox
    let msp = a.token("msp-automation").await;
    assert_eq!(
        a.call("GET", &rg("rg-a"), Some(&msp), None).await.status,
        200
    );
    // metadata and the OpenID configuration name the sandbox's URL
    let m = a
        .call(
            "GET",
            "/metadata/endpoints?api-version=2022-09-01",
            None,
            None,
        )
        .await;
    assert_eq!(m.status, 200);
    assert!(m.body.to_string().contains(&a.base), "{}", m.body);
    let oidc = a
        .call(
            "GET",
            &format!("/{FABRIKAM}/v2.0/.well-known/openid-configuration"),
            None,
            None,
        )
        .await;
    assert!(oidc.body["token_endpoint"]
        .as_str()
        .unwrap()
        .starts_with(&a.base));
    // the data plane: reader@fabrikam reads q3.csv path-style from the sandbox
    let st = a
        .token_for("reader@fabrikam", "https://storage.azure.com/.default")
        .await;
    let blob = a
        .client
        .get(format!("{}/fabrikamdata/reports/q3.csv", a.base))
        .bearer_auth(&st)
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap();
    assert_eq!(blob.status(), 200);
    // each its own clock
    a.call(
        "POST",
        "/_emulator/clock",
        None,
        Some(json!({"advance": "PT2H"})),
    )
    .await;
    assert_eq!(
        b.call("GET", "/_emulator/clock", None, None).await.body["offsetSeconds"],
        0
    );
    assert_eq!(
        e.call("GET", "/_emulator/clock", None, None).await.body["offsetSeconds"],
        0
    );
    assert_eq!(
        a.call("GET", "/_emulator/clock", None, None).await.body["offsetSeconds"],
        7200
    );
    // each its own explain
    let x = a
        .call("POST", "/_emulator/explain", None, Some(json!({"principal": "admin@fabrikam.onmicrosoft.com", "method": "GET", "url": rg("rg-a")})))
        .await;
    assert_eq!(x.body["decision"], "allowed", "{}", x.body);
    // each its own snapshots
    let s = a
        .call(
            "POST",
            "/_emulator/snapshots",
            None,
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(s.status, 201);
    assert_eq!(
        b.call("GET", "/_emulator/snapshots/mine", None, None)
            .await
            .status,
        404
    );
    assert_eq!(
        e.call("GET", "/_emulator/snapshots/mine", None, None)
            .await
            .status,
        404
    );
    // a sandbox's reset brings back its start (and real time) and leaves the others untouched
    let r = a.call("POST", "/_emulator/reset", None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ta = a.token("admin@fabrikam").await;
    assert_eq!(
        a.call("GET", &rg("rg-a"), Some(&ta), None).await.status,
        404
    );
    assert_eq!(
        a.call("GET", "/_emulator/clock", None, None).await.body["offsetSeconds"],
        0
    );
    assert_eq!(
        b.call("GET", &rg("rg-b"), Some(&tb), None).await.status,
        200
    );
    // no sandboxes inside a sandbox
    assert_eq!(create(&a, json!({})).await.status, 404);
    // listed, got, deleted: the port closes
    let list = e.call("GET", "/_emulator/sandboxes", None, None).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 2);
    let id = list.body["value"][0]["id"].as_str().unwrap().to_string();
    let url = list.body["value"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(
        e.call("GET", &format!("/_emulator/sandboxes/{id}"), None, None)
            .await
            .status,
        200
    );
    assert_eq!(
        e.call("DELETE", &format!("/_emulator/sandboxes/{id}"), None, None)
            .await
            .status,
        200
    );
    assert_eq!(
        e.call("GET", &format!("/_emulator/sandboxes/{id}"), None, None)
            .await
            .code(),
        "SandboxNotFound"
    );
    // a connection still open from before answers 404 SandboxNotFound (e.client pooled one)
    if let Ok(r) = e.client.get(format!("{url}/_emulator/health")).send().await {
        assert_eq!(r.status(), 404);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "SandboxNotFound");
    }
    let fresh = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(state_dir().join("ca.pem")).unwrap())
                .unwrap(),
        )
        .use_rustls_tls()
        .build()
        .unwrap();
    assert!(
        fresh
            .get(format!("{url}/_emulator/health"))
            .send()
            .await
            .is_err(),
        "nothing listens on a dropped sandbox's port"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_starts_from_a_snapshot_and_resets_to_it() {
    let e = emu().await;
    let tm = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &rg("rg-seed"),
            Some(&tm),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201);
    // the snapshot is taken two hours ahead; the main clock goes back after it
    e.call(
        "POST",
        "/_emulator/clock",
        None,
        Some(json!({"advance": "PT2H"})),
    )
    .await;
    e.call(
        "POST",
        "/_emulator/snapshots",
        None,
        Some(json!({"name": "seeded"})),
    )
    .await;
    e.call(
        "POST",
        "/_emulator/clock",
        None,
        Some(json!({"reset": true})),
    )
    .await;
    let s = open(&e, &create(&e, json!({"fixtures": "seeded"})).await);
    assert_eq!(
        offset(&s).await,
        7200,
        "a sandbox starts at its snapshot's time"
    );
    let t = s.token("admin@fabrikam").await;
    assert_eq!(
        s.call("GET", &rg("rg-seed"), Some(&t), None).await.status,
        200
    );
    assert_eq!(
        s.call("DELETE", &rg("rg-seed"), Some(&t), None)
            .await
            .status,
        202
    );
    assert_eq!(
        s.call("GET", &rg("rg-seed"), Some(&t), None).await.status,
        404
    );
    assert_eq!(
        s.call("POST", "/_emulator/reset", None, None).await.status,
        200
    );
    assert_eq!(offset(&s).await, 7200, "and resets to it");
    assert_eq!(
        s.call("GET", &rg("rg-seed"), Some(&t), None).await.status,
        200,
        "reset goes back to the snapshot"
    );
    assert_eq!(
        e.call("GET", &rg("rg-seed"), Some(&tm), None).await.status,
        200,
        "the main world keeps its own"
    );
    // unknown fixtures and bad ttls are refused
    let r = create(&e, json!({"fixtures": "no-such-snapshot-or-file"})).await;
    assert_eq!((r.status, r.code()), (400, "InvalidFixtures"), "{}", r.body);
    let r = create(&e, json!({"ttl": "an hour"})).await;
    assert_eq!((r.status, r.code()), (400, "InvalidDuration"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sandboxes_expire_after_their_ttl() {
    let e = emu().await;
    let r = create(&e, json!({"ttl": "PT1S"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["ttl"], "PT1S");
    let id = r.body["id"].as_str().unwrap().to_string();
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if e.call("GET", &format!("/_emulator/sandboxes/{id}"), None, None)
            .await
            .status
            == 404
        {
            gone = true;
            break;
        }
    }
    assert!(gone, "a sandbox outlived its ttl");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_live_at_once_and_max_sandboxes_bounds_them() {
    let e = emu_with(|o| o.max_sandboxes = 200).await;
    let mut urls = Vec::new();
    for _ in 0..200 {
        let r = create(&e, json!({})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        urls.push(r.body["url"].as_str().unwrap().to_string());
    }
    let r = create(&e, json!({})).await;
    assert_eq!((r.status, r.code()), (409, "TooManySandboxes"));
    // every one answers at its own URL
    for u in &urls {
        let h = e
            .call("GET", &format!("{u}/_emulator/health"), None, None)
            .await;
        assert_eq!(h.status, 200);
    }
    let list = e.call("GET", "/_emulator/sandboxes", None, None).await;
    let first = list.body["value"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list.body["value"].as_array().unwrap().len(), 200);
    e.call(
        "DELETE",
        &format!("/_emulator/sandboxes/{first}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        create(&e, json!({})).await.status,
        201,
        "room again after a delete"
    );
    // --max-sandboxes 0 turns them off
    let off = emu_with(|o| o.max_sandboxes = 0).await;
    assert_eq!(create(&off, json!({})).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_port_as_a_proxy_tunnels_to_its_sandboxes() {
    // clients that send localhost through HTTPS_PROXY (the JS SDK) reach a sandbox with the main
    // emulator's environment too
    let e = emu().await;
    let s = open(&e, &create(&e, json!({})).await);
    s.call(
        "POST",
        "/_emulator/clock",
        None,
        Some(json!({"advance": "PT3H"})),
    )
    .await;
    let main_port = e.base.rsplit(':').next().unwrap();
    let proxied = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(state_dir().join("ca.pem")).unwrap())
                .unwrap(),
        )
        .use_rustls_tls()
        .proxy(reqwest::Proxy::https(format!("http://localhost:{main_port}")).unwrap())
        .build()
        .unwrap();
    let clock: Value = proxied
        .get(format!("{}/_emulator/clock", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        clock["offsetSeconds"], 10800,
        "the tunnel reached the sandbox"
    );
}

/// A fault rule of the main world that names a sandbox reaches that sandbox's requests and no other
/// world's; a rule that names none stays in the main world (parallel CI jobs do not share faults);
/// a sandbox's own rules work in it alone.
#[tokio::test(flavor = "multi_thread")]
async fn fault_rules_name_their_sandbox() {
    let e = emu().await;
    let created = create(&e, json!({})).await;
    let sid = created.body["id"].as_str().unwrap().to_string();
    let a = open(&e, &created);
    let b = open(&e, &create(&e, json!({})).await);
    let error =
        |code: &str| json!({"kind": "error", "status": 503, "code": code, "message": "injected"});
    let r = e
        .call(
            "POST",
            "/_emulator/faults",
            None,
            Some(
                json!({"match": {"method": "PUT", "sandbox": sid}, "effect": error("ForSandboxA")}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "POST",
            "/_emulator/faults",
            None,
            Some(json!({"match": {"method": "PUT", "path": "*/rg-main-only*"}, "effect": error("MainOnly")})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (ta, tb, tm) = (
        a.token("admin@fabrikam").await,
        b.token("admin@fabrikam").await,
        e.token("admin@fabrikam").await,
    );
    let hit = a
        .call(
            "PUT",
            &rg("rg-x"),
            Some(&ta),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((hit.status, hit.code()), (503, "ForSandboxA"));
    assert!(hit
        .header("x-ms-emulator-decision")
        .contains("fault injected"));
    assert_eq!(put(&b, &tb, "rg-x").await, 201);
    assert_eq!(put(&e, &tm, "rg-x").await, 201);
    assert_eq!(
        put(&a, &ta, "rg-main-only").await,
        503,
        "the sandbox rule still fires"
    );
    assert_eq!(
        put(&b, &tb, "rg-main-only").await,
        201,
        "a main rule without a sandbox stays in main"
    );
    let main = e
        .call(
            "PUT",
            &rg("rg-main-only"),
            Some(&tm),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((main.status, main.code()), (503, "MainOnly"));
    // a sandbox's own rule: its own world only
    let r = b
        .call(
            "POST",
            "/_emulator/faults",
            None,
            Some(json!({"match": {"method": "DELETE"}, "effect": error("OwnRule")})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let del = b.call("DELETE", &rg("rg-x"), Some(&tb), None).await;
    assert_eq!((del.status, del.code()), (503, "OwnRule"));
    assert_ne!(
        e.call("DELETE", &rg("rg-x"), Some(&tm), None).await.status,
        503
    );
}

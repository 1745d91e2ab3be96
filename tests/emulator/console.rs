//! The web console over the real server: `/` leads to it, a page signs in through the token service
//! (`?as=`), its reads are journaled as the principal's requests, a client's refused request shows in
//! the journal with the caller's home tenant, foreign form posts are refused, and `--console-bind off`
//! leaves `/` to ARM. The browser-level behaviour is tests/python/test_console.py (Chromium).

use super::*;

async fn html(e: &Emu, path: &str, cookie: &str) -> (u16, String, Vec<String>) {
    let r = e
        .client
        .get(format!("{}{path}", e.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (status, r.text().await.unwrap(), cookies)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_signs_in_through_the_token_service_and_journals_every_request() {
    let e = emu().await;
    let (status, page, _) = html(&e, "/", "").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("One-click sign-in (emulator convenience)"),
        "{page}"
    );

    let (status, page, cookies) = html(
        &e,
        "/console/customers?as=alice@contosomsp.onmicrosoft.com",
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Fabrikam") && page.contains("Tailspin Toys"));
    assert!(page.contains("rg-managed") && !page.contains("rg-private"));
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("lec_token_"))
        .expect("a token cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookies
        .iter()
        .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")));
    // the cookie carries the session: no `as` needed any more
    let (_, page, _) = html(&e, "/console/resources", &cookie).await;
    assert!(page.contains("alice@contosomsp.onmicrosoft.com") && page.contains("vm-appliance"));

    // the token request and the reads were journaled as alice's, from the console
    let (_, json, _) = html(&e, "/console/activity.json?console=all&caller=alice", "").await;
    let v: Value = serde_json::from_str(&json).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert!(entries.iter().any(|x| x["path"] == "/subscriptions"
        && x["status"] == 200
        && x["console"] == true
        && x["homeTenantName"] == "Contoso MSP"));

    // a client's refused request is there too, with the caller's home tenant
    let alice = e.token("alice").await;
    let r = e
        .call(
            "PUT",
            &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-x?api-version=2021-04-01"),
            Some(&alice),
            Some(serde_json::json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 401);
    let (_, json, _) = html(
        &e,
        &format!("/console/activity.json?status=401&subscription={FABRIKAM_DEV}"),
        "",
    )
    .await;
    let v: Value = serde_json::from_str(&json).unwrap();
    let x = &v["entries"][0];
    assert_eq!(x["code"], "InvalidAuthenticationTokenTenant", "{v}");
    assert_eq!(x["caller"], "alice@contosomsp.onmicrosoft.com");
    assert_eq!(x["homeTenantId"], CONTOSO);
    assert_eq!(x["console"], false);
    assert!(x["explain"]
        .as_str()
        .unwrap()
        .starts_with("/console/explain?"));

    // the explanation names the tenant rule
    let (_, page, _) = html(&e, x["explain"].as_str().unwrap(), &cookie).await;
    assert!(page.contains("InvalidAuthenticationTokenTenant") && page.contains("Decision: denied"));

    // a form posted from another origin is refused
    let r = e
        .client
        .post(format!("{}/console/reset", e.base))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn console_bind_off_leaves_the_root_to_arm() {
    let e = emu_with(|o| o.console_bind = "off".into()).await;
    let (status, page, _) = html(&e, "/console/", "").await;
    assert_ne!(status, 200);
    assert!(!page.contains("<html"), "{page}");
    assert!(lighthouse_emulator::start::start(Options {
        console_bind: "nowhere".into(),
        ..Options::ephemeral(state_dir())
    })
    .await
    .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_and_reset_from_the_console_need_the_admin_key_when_one_is_set() {
    let key = "console-class-key-2026";
    let e = emu_with(|o| o.admin_key = Some(key.into())).await;
    let post = |form: &'static str| {
        e.client
            .post(format!("{}/console/clock", e.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let page = post("advance=PT2H").await.unwrap().text().await.unwrap();
    assert!(page.contains("AdminKeyRequired"), "{page}");
    let r = post("advance=PT2H&admin_key=console-class-key-2026")
        .await
        .unwrap();
    let remembered = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("lec_admin_key_"));
    let page = r.text().await.unwrap();
    assert!(page.contains("The clock now reads"), "{page}");
    assert!(remembered);
    assert!(e.app.clock.offset_seconds() >= 7200);
    let _ = key;
}

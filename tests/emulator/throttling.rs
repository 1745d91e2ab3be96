//! ARM throttling (`--throttling arm`, `POST /_emulator/throttling`): the documented buckets counted
//! down in the `x-ms-ratelimit-remaining-*` headers, 429 `SubscriptionRequestsThrottled` with
//! `Retry-After` when one is empty, other subscriptions and principals untouched, reset refills.

use serde_json::json;

use crate::{emu, emu_with, FABRIKAM_DEV, FABRIKAM_PROD};
use lighthouse_emulator::throttle::Mode;

fn groups(sub: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups?api-version=2024-11-01")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_reads_is_throttled_at_the_bucket_size() {
    let e = emu_with(|o| o.throttling = Mode::Arm).await;
    let r = e
        .call(
            "POST",
            "/_emulator/throttling",
            None,
            Some(json!({"refill": false})),
        )
        .await;
    assert_eq!(r.body, json!({"mode": "arm", "refill": false}));
    let ci = e.token("fabrikam-ci").await;
    for i in 1..=250u32 {
        let r = e.call("GET", &groups(FABRIKAM_PROD), Some(&ci), None).await;
        assert_eq!(r.status, 200, "read {i}");
        assert_eq!(
            r.header("x-ms-ratelimit-remaining-subscription-reads"),
            (250 - i).to_string(),
            "read {i}"
        );
        assert_eq!(
            r.header("x-ms-ratelimit-remaining-subscription-global-reads"),
            (3750 - i).to_string(),
            "read {i}"
        );
    }
    let r = e.call("GET", &groups(FABRIKAM_PROD), Some(&ci), None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "SubscriptionRequestsThrottled");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(r.header("x-ms-ratelimit-remaining-subscription-reads"), "0");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "Number of 'read' requests for subscription '{FABRIKAM_PROD}' actor '"
        )) && msg.contains("Please try again after '1' seconds"),
        "{msg}"
    );
    assert!(r.header("x-ms-emulator-decision").starts_with("throttled"));
    // writes and deletes have their own buckets; another subscription and another principal theirs
    let w = e
        .call(
            "PUT",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-throttle?api-version=2024-11-01"
            ),
            Some(&ci),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert!(w.status == 201 || w.status == 200, "{}", w.status);
    assert_eq!(
        w.header("x-ms-ratelimit-remaining-subscription-writes"),
        "199"
    );
    assert_eq!(
        w.header("x-ms-ratelimit-remaining-subscription-global-writes"),
        "2999"
    );
    let d = e
        .call(
            "DELETE",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-throttle?api-version=2024-11-01"
            ),
            Some(&ci),
            None,
        )
        .await;
    assert_eq!(
        d.header("x-ms-ratelimit-remaining-subscription-deletes"),
        "199"
    );
    let other = e.call("GET", &groups(FABRIKAM_DEV), Some(&ci), None).await;
    assert_eq!(other.status, 200);
    assert_eq!(
        other.header("x-ms-ratelimit-remaining-subscription-reads"),
        "249"
    );
    let admin = e.token("admin@fabrikam").await;
    let r = e
        .call("GET", &groups(FABRIKAM_PROD), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-ms-ratelimit-remaining-subscription-reads"),
        "249"
    );
    assert_eq!(
        r.header("x-ms-ratelimit-remaining-subscription-global-reads"),
        "3499"
    );
    // a tenant-level request counts against the tenant's bucket
    let t = e
        .call(
            "GET",
            "/subscriptions?api-version=2022-12-01",
            Some(&ci),
            None,
        )
        .await;
    assert_eq!(t.status, 200);
    assert_eq!(t.header("x-ms-ratelimit-remaining-tenant-reads"), "249");
    assert_eq!(t.header("x-ms-ratelimit-remaining-subscription-reads"), "");
    // reset: full buckets, refill on, the command line's mode
    assert_eq!(
        e.call("POST", "/_emulator/reset", None, None).await.status,
        200
    );
    let r = e.call("GET", &groups(FABRIKAM_PROD), Some(&ci), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-ms-ratelimit-remaining-subscription-reads"),
        "249"
    );
    let s = e.call("GET", "/_emulator/throttling", None, None).await;
    assert_eq!(s.body, json!({"mode": "arm", "refill": true}));
}

#[tokio::test(flavor = "multi_thread")]
async fn off_by_default_and_switched_at_run_time() {
    let e = emu().await;
    let ci = e.token("fabrikam-ci").await;
    for _ in 0..2 {
        let r = e.call("GET", &groups(FABRIKAM_PROD), Some(&ci), None).await;
        assert_eq!(
            r.header("x-ms-ratelimit-remaining-subscription-reads"),
            "249"
        );
    }
    let s = e
        .call(
            "POST",
            "/_emulator/throttling",
            None,
            Some(json!({"mode": "arm", "refill": false})),
        )
        .await;
    assert_eq!(s.body, json!({"mode": "arm", "refill": false}));
    for want in ["249", "248", "247"] {
        let r = e.call("GET", &groups(FABRIKAM_PROD), Some(&ci), None).await;
        assert_eq!(
            r.header("x-ms-ratelimit-remaining-subscription-reads"),
            want
        );
    }
    let bad = e
        .call(
            "POST",
            "/_emulator/throttling",
            None,
            Some(json!({"mode": "fast"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    // reset goes back to the command line's mode: off
    e.call("POST", "/_emulator/reset", None, None).await;
    let s = e.call("GET", "/_emulator/throttling", None, None).await;
    assert_eq!(s.body["mode"], "off");
}

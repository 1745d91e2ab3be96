//! `GET /_emulator/metrics`: Prometheus text with requests by surface, method, status and decision,
//! latency histograms, tokens issued, store size and the sandboxes gauge.

use crate::{emu, FABRIKAM_PROD};

/// The value of the sample line `name{labels}` (exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_tokens_and_store_are_counted() {
    let e = emu().await;
    let ci = e.token("fabrikam-ci").await;
    let reader = e.token("reader@fabrikam").await;
    let path = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=2024-11-01");
    for _ in 0..3 {
        assert_eq!(e.call("GET", &path, Some(&ci), None).await.status, 200);
    }
    let put = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-m?api-version=2024-11-01");
    let denied = e
        .call(
            "PUT",
            &put,
            Some(&reader),
            Some(serde_json::json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(e.call("GET", &path, None, None).await.status, 401);

    let r = e
        .client
        .get(format!("{}/_emulator/metrics", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let t = r.text().await.unwrap();
    let get_ok = sample(
        &t,
        "lighthouse_emulator_requests_total{surface=\"arm\",method=\"GET\",status=\"200\",decision=\"allowed\"}",
    );
    assert_eq!(get_ok, Some(3.0), "{t}");
    assert_eq!(
        sample(&t, "lighthouse_emulator_requests_total{surface=\"arm\",method=\"PUT\",status=\"403\",decision=\"denied\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&t, "lighthouse_emulator_requests_total{surface=\"arm\",method=\"GET\",status=\"401\",decision=\"unauthenticated\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&t, "lighthouse_emulator_requests_total{surface=\"entra\",method=\"POST\",status=\"200\",decision=\"none\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &t,
            "lighthouse_emulator_tokens_issued_total{grant=\"client_credentials\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &t,
            "lighthouse_emulator_tokens_issued_total{grant=\"password\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &t,
            "lighthouse_emulator_request_duration_seconds_count{surface=\"arm\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &t,
            "lighthouse_emulator_request_duration_seconds_bucket{surface=\"arm\",le=\"+Inf\"}"
        ),
        Some(5.0)
    );
    assert!(sample(&t, "lighthouse_emulator_store_resources").unwrap() > 10.0);
    assert_eq!(sample(&t, "lighthouse_emulator_sandboxes"), Some(0.0));
    assert_eq!(
        sample(&t, "lighthouse_emulator_throttling_enabled"),
        Some(0.0)
    );
    assert!(sample(&t, "process_resident_memory_bytes").unwrap() > 0.0);
    // every sample line is `series value`, every series has HELP and TYPE
    for l in t.lines().filter(|l| !l.starts_with('#')) {
        let (series, v) = l.rsplit_once(' ').unwrap();
        assert!(v.parse::<f64>().is_ok(), "{l}");
        let name = series.split('{').next().unwrap();
        let base = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            t.contains(&format!("# TYPE {base} ")) || t.contains(&format!("# TYPE {name} ")),
            "{name} has no TYPE"
        );
    }
}

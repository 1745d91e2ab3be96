//! Log Analytics tables kept across writes and scanned in place: rows appended after a query extend
//! the kept table (a new column types it again) and answer as a table loaded at once; the one-pass
//! `where` + `summarize` over several workspaces and a `timespan` answers as the general path (the
//! operators run one by one over the rows, or `union workspace(…)`); the Logs Ingestion API's 413 for
//! a body over 1 MB (compressed or not) and 401 `InvalidAudience` for another API's token.

use std::io::Write as _;

use crate::*;
use serde_json::{json, Value};

const LA: &str = "https://api.loganalytics.io/.default";
const MONITOR: &str = "https://monitor.azure.com//.default";
const METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
const FABRIKAM_CI_OID: &str = "30000000-0000-0000-0000-000000002121";

fn base() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers")
}

/// A workspace in fabrikam-prod/rg-web made by its admin; returns (ARM id, customerId).
async fn workspace(e: &Emu, name: &str) -> (String, String) {
    let t = e.token("admin@fabrikam").await;
    crate::alerts::workspace(e, &t, FABRIKAM_PROD, "rg-web", name).await
}

async fn load(e: &Emu, cid: &str, table: &str, rows: Value) {
    let r = e
        .call(
            "POST",
            &format!("/_emulator/logs/{cid}/{table}"),
            None,
            Some(rows),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The columns (name, type) and rows of PrimaryResult.
async fn run(e: &Emu, token: &str, cid: &str, body: Value) -> (Vec<Value>, Vec<Value>) {
    let r = e
        .call(
            "POST",
            &format!("/v1/workspaces/{cid}/query"),
            Some(token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{body}: {:?}", r.body);
    let t = &r.body["tables"][0];
    (
        t["columns"].as_array().unwrap().clone(),
        t["rows"].as_array().unwrap().clone(),
    )
}

fn perf(i: usize, extra: Option<(&str, Value)>) -> Value {
    let mut row = json!({
        "TimeGenerated": format!("2026-01-0{}T{:02}:00:00Z", 1 + i % 3, i % 24),
        "Computer": format!("vm-{}", i % 4),
        "Cpu": (i * 7 % 100) as f64 + 0.5,
        "Count": i % 5,
    });
    if let Some((k, v)) = extra {
        row[k] = v;
    }
    row
}

#[tokio::test]
async fn appended_rows_extend_the_kept_table_as_one_load_would_give() {
    let e = emu().await;
    let (_, cid) = workspace(&e, "ws-kept").await;
    let t = e.token_for("admin@fabrikam", LA).await;
    let batches: Vec<Value> = vec![
        // the first load; the next one only appends rows of the same columns
        json!((0..6).map(|i| perf(i, None)).collect::<Vec<_>>()),
        json!((6..9).map(|i| perf(i, None)).collect::<Vec<_>>()),
        // a column never seen, null at first, then typed by a later row
        json!([perf(9, Some(("Disk", Value::Null)))]),
        json!([perf(10, Some(("Disk", json!(42))))]),
        json!([perf(11, Some(("Region", json!("westeurope"))))]),
    ];
    let queries = [
        "Perf_CL | project-away TenantId | order by TimeGenerated asc, Computer asc",
        "Perf_CL | where Cpu > 20 | summarize n = count(), c = sum(Count) by Computer | order by Computer asc",
        "Perf_CL | summarize max(Cpu), dcount(Computer) by bin(TimeGenerated, 1d) | order by TimeGenerated asc",
    ];
    let mut sent: Vec<Value> = Vec::new();
    for b in &batches {
        load(&e, &cid, "Perf_CL", b.clone()).await;
        sent.extend(b.as_array().unwrap().iter().cloned());
        // the same rows loaded at once into a new workspace of another emulator
        let fresh = emu().await;
        let (_, fresh_cid) = workspace(&fresh, "ws-fresh").await;
        load(&fresh, &fresh_cid, "Perf_CL", json!(sent)).await;
        let ft = fresh.token_for("admin@fabrikam", LA).await;
        for q in queries {
            let kept = run(&e, &t, &cid, json!({"query": q})).await;
            let once = run(&fresh, &ft, &fresh_cid, json!({"query": q})).await;
            assert_eq!(kept, once, "{q} after {} rows", sent.len());
        }
    }
    let (cols, rows) = run(
        &e,
        &t,
        &cid,
        json!({"query": "Perf_CL | where isnotnull(Disk) | project Disk"}),
    )
    .await;
    assert_eq!(cols, vec![json!({"name": "Disk", "type": "long"})]);
    assert_eq!(rows, vec![json!([42])]);
}

/// `T | where … | summarize …` as written (the one-pass scan over each workspace's kept table, the
/// timespan as one more filter) and with an `extend` first (every operator over the rows, one by one).
#[tokio::test]
async fn the_one_pass_scan_answers_as_the_general_path_with_timespans_and_workspaces() {
    let e = emu().await;
    let (_, a) = workspace(&e, "ws-a").await;
    let (_, b) = workspace(&e, "ws-b").await;
    let (_, c) = workspace(&e, "ws-c").await;
    load(
        &e,
        &a,
        "Perf_CL",
        json!((0..40).map(|i| perf(i, None)).collect::<Vec<_>>()),
    )
    .await;
    load(
        &e,
        &b,
        "Perf_CL",
        json!((40..70).map(|i| perf(i, None)).collect::<Vec<_>>()),
    )
    .await;
    // another shape: the union lines columns up by name (the general path in any case)
    load(
        &e,
        &c,
        "Perf_CL",
        json!((70..80)
            .map(|i| perf(i, Some(("Disk", json!(i)))))
            .collect::<Vec<_>>()),
    )
    .await;
    let t = e.token_for("admin@fabrikam", LA).await;
    let rests = [
        "| where Cpu > 30 | summarize count() by Computer, TenantId",
        "| where Computer in ('vm-1', 'vm-2') | where Count >= 1 | summarize sum(Count), avg(Cpu) by bin(TimeGenerated, 12h)",
        "| summarize make_set(Computer), max(TimeGenerated), dcount(TenantId)",
        "| summarize arg_max(Cpu, Computer) by TenantId",
        "| where Cpu < 50",
        "| take 1000",
    ];
    // (timespan, the same window written as a `where`)
    let spans = [
        None,
        Some((
            "2026-01-01T12:00:00Z/2026-01-03T00:00:00Z",
            "TimeGenerated >= datetime(2026-01-01T12:00:00Z) and TimeGenerated < datetime(2026-01-03T00:00:00Z)",
        )),
        Some((
            "2026-01-02T00:00:00Z/PT6H",
            "TimeGenerated >= datetime(2026-01-02T00:00:00Z) and TimeGenerated < datetime(2026-01-02T06:00:00Z)",
        )),
    ];
    let scopes: [&[&str]; 3] = [&[], &[&b], &[&b, &c]];
    let sorted = |mut rows: Vec<Value>| {
        rows.sort_by_key(|r| r.to_string());
        rows
    };
    let mut answered = 0;
    for rest in rests {
        for span in spans {
            for extra in scopes {
                let body = |q: String| {
                    let mut v = json!({"query": q, "workspaces": extra});
                    if let Some((s, _)) = span {
                        v["timespan"] = json!(s);
                    }
                    v
                };
                let fast = run(&e, &t, &a, body(format!("Perf_CL {rest}"))).await;
                let general = run(
                    &e,
                    &t,
                    &a,
                    body(format!("Perf_CL | extend g_ = 1 | project-away g_ {rest}")),
                )
                .await;
                let what = format!("{rest} timespan {span:?} workspaces {extra:?}");
                assert_eq!(fast.0, general.0, "{what}");
                assert_eq!(sorted(fast.1.clone()), sorted(general.1), "{what}");
                answered += fast.1.len();
                if let Some((_, filter)) = span {
                    // the timespan is exactly a TimeGenerated filter
                    let written = run(
                        &e,
                        &t,
                        &a,
                        json!({"query": format!("Perf_CL | where {filter} {rest}"), "workspaces": extra}),
                    )
                    .await;
                    assert_eq!(written.0, fast.0, "{what}");
                    assert_eq!(
                        sorted(written.1),
                        sorted(fast.1.clone()),
                        "as a where: {what}"
                    );
                }
                if extra.len() == 1 {
                    // the union of both workspaces' tables by `workspace("…")`, in the same order
                    let union = run(
                        &e,
                        &t,
                        &a,
                        body(format!(
                            "union workspace('{a}').Perf_CL, workspace('{b}').Perf_CL {rest}"
                        )),
                    )
                    .await;
                    assert_eq!(union, fast, "union {what}");
                }
            }
        }
    }
    assert!(answered > 100, "{answered} rows in all");
}

#[tokio::test]
async fn an_upload_over_one_megabyte_is_refused_with_413() {
    let e = emu().await;
    let (ws, _) = workspace(&e, "ws-big").await;
    let admin = e.token("admin@fabrikam").await;
    let dcr = format!("{}/Microsoft.Insights/dataCollectionRules/dcr-big", base());
    let r = e
        .call(
            "PUT",
            &format!("{dcr}?api-version=2023-03-11"),
            Some(&admin),
            Some(json!({"location": "westeurope", "properties": {
                "streamDeclarations": {"Custom-Big": {"columns": [
                    {"name": "TimeGenerated", "type": "datetime"}, {"name": "Text", "type": "string"}]}},
                "destinations": {"logAnalytics": [{"name": "la", "workspaceResourceId": ws}]},
                "dataFlows": [{"streams": ["Custom-Big"], "destinations": ["la"],
                               "transformKql": "source", "outputStream": "Custom-Big_CL"}]}})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    let immutable = r.body["properties"]["immutableId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = e
        .call(
            "PUT",
            &format!("{dcr}/providers/Microsoft.Authorization/roleAssignments/7e000000-0000-0000-0000-000000000002?api-version=2022-04-01"),
            Some(&admin),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{METRICS_PUBLISHER}"),
                "principalId": FABRIKAM_CI_OID}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // a token for ARM rather than https://monitor.azure.com
    let arm_ci = e.token("fabrikam-ci").await;
    let r = e
        .raw(
            "POST",
            &format!("/dataCollectionRules/{immutable}/streams/Custom-Big?api-version=2023-01-01"),
            &[
                ("authorization", format!("Bearer {arm_ci}").as_str()),
                ("content-type", "application/json"),
            ],
            b"[]".to_vec(),
        )
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(r.code(), "InvalidAudience");
    let ci = e.token_for("fabrikam-ci", MONITOR).await;
    let big = json!([{"Text": "x".repeat(600_000)}, {"Text": "y".repeat(600_000)}]).to_string();
    let small = json!([{"Text": "x".repeat(1000)}]).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(big.as_bytes()).unwrap();
    let gz_big = gz.finish().unwrap();
    assert!(gz_big.len() < 1 << 20);
    let auth = format!("Bearer {ci}");
    let path =
        format!("/dataCollectionRules/{immutable}/streams/Custom-Big?api-version=2023-01-01");
    for (body, gzip, status) in [
        (big.clone().into_bytes(), false, 413),
        (gz_big, true, 413),
        (small.into_bytes(), false, 204),
    ] {
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        if gzip {
            headers.push(("content-encoding", "gzip"));
        }
        let r = e.raw("POST", &path, &headers, body).await;
        assert_eq!(r.status, status, "{:?}", r.body);
        if status == 413 {
            assert_eq!(r.code(), "ContentLengthLimitExceeded");
            assert!(r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Maximum allowed content length: 1048576 bytes (1 MB)."));
        }
    }
}

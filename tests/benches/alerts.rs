//! The cost of activity-log alert rules on the write of an activity-log record (issue 12: with 100
//! rules in scope, under 2x the cost without rules). Two in-memory stores: one with 100 activity-log
//! alerts scoped to the subscription (each evaluated against every record, none matching), one with
//! none. `activity::record` — the Begin and End events of one request, written in one transaction
//! with the rules' evaluation — is timed on both, round after round alternately; the medians and their
//! ratio are printed. `scripts/bench-alerts` runs it. No assertion: a measurement.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use lighthouse_emulator::activity::{record, Record};
use lighthouse_emulator::providers::Caller;
use lighthouse_emulator::store::{Store, Stored};
use serde_json::json;

const SUB: &str = "20000000-0000-0000-0000-000000002001";
const TENANT: &str = "10000000-0000-0000-0000-000000000002";
const RULES: usize = 100;

fn store_with(rules: usize) -> Store {
    let store = Store::open(None).unwrap();
    store
        .write(|tx| {
            for i in 0..rules {
                let id = format!("/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Insights/activityLogAlerts/rule-{i}");
                tx.put(&Stored {
                    key: id.to_lowercase(),
                    rtype: "microsoft.insights/activitylogalerts".into(),
                    sub: SUB.into(),
                    rg: "rg-web".into(),
                    parent: format!("/subscriptions/{SUB}/resourcegroups/rg-web"),
                    body: json!({"id": id, "location": "Global", "properties": {
                        "enabled": true,
                        "scopes": [format!("/subscriptions/{SUB}")],
                        "condition": {"allOf": [
                            {"field": "category", "equals": "Administrative"},
                            {"field": "operationName", "equals": format!("Microsoft.Compute/virtualMachines/delete-{i}")},
                            {"field": "status", "equals": "Succeeded"}]},
                        "actions": {"actionGroups": []}}}),
                })?;
            }
            lighthouse_emulator::monitor::rules_changed(tx)
        })
        .unwrap();
    store
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let plain = store_with(0);
    let ruled = store_with(RULES);
    let caller = Caller {
        object_id: "30000000-0000-0000-0000-000000002111".into(),
        tenant_id: TENANT.into(),
        groups: Vec::new(),
        client_name: "admin@fabrikam.onmicrosoft.com".into(),
        identity_type: "User",
        claims: lighthouse_emulator::auth::token::Claims::Built(Arc::new(
            json!({"oid": "30000000-0000-0000-0000-000000002111", "tid": TENANT}),
        )),
        platform: false,
    };
    let resource = format!("/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet-bench");
    let uri = format!("https://localhost:8443{resource}?api-version=2024-05-01");
    let one = |store: &Store| {
        let r = Record {
            caller: &caller,
            method: "PUT",
            action: "Microsoft.Network/virtualNetworks/write",
            resource_id: &resource,
            subscription_id: SUB,
            subscription_tenant: TENANT,
            resource_group: Some("rg-web"),
            status: 200,
            error: None,
            correlation_id: "c0000000-0000-0000-0000-000000000000",
            client_request_id: None,
            grant: None,
            now: time::OffsetDateTime::now_utc(),
            uri: &uri,
            managed_by_tenant: None,
        };
        black_box(record(store, &r)).unwrap();
    };
    for s in [&plain, &ruled] {
        for _ in 0..200 {
            one(s); // warm-up: the rules are parsed once, then kept until they change
        }
    }
    let median = |store: &Store| {
        let mut lat: Vec<f64> = (0..n)
            .map(|_| {
                let t = Instant::now();
                one(store);
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        lat.sort_by(|a, b| a.total_cmp(b));
        lat[lat.len() / 2]
    };
    let (mut a_all, mut b_all, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (a, b) = (median(&plain), median(&ruled));
        println!("round {}: record median {a:.1} µs without rules, {b:.1} µs with {RULES} rules in scope (x{:.2})", r + 1, b / a);
        a_all.push(a);
        b_all.push(b);
        ratios.push(b / a);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "median over {rounds} rounds of {n} records: {:.1} µs vs {:.1} µs; ratio {:.2} (target < 2)",
        med(&mut a_all),
        med(&mut b_all),
        med(&mut ratios)
    );
}

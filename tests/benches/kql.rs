//! Criterion benchmark of the KQL engine (`kql::run`) over 10,000 Resources-shaped rows (issue 10,
//! item 4: well under 20 ms in release) for the two queries the issue names, beside the same
//! questions asked of SQLite (`json_extract` over the rows stored as JSON text, in memory), the
//! other implementation the issue weighed. Parsing is timed separately; building the table is not
//! (the provider builds it once per query from the store). `scripts/bench-kql` runs it.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use lighthouse_emulator::kql::{self, Ctx, Table, Tables, Type, Value};
use serde_json::json;

const ROWS: usize = 10_000;

/// The columns Resource Graph hands the engine.
use lighthouse_emulator::providers::resourcegraph::COLUMNS;

const TYPES: &[&str] = &[
    "microsoft.storage/storageaccounts",
    "microsoft.compute/virtualmachines",
    "microsoft.network/virtualnetworks",
    "microsoft.keyvault/vaults",
];

/// One resource as JSON, deterministic in `i`.
fn resource(i: usize) -> serde_json::Value {
    let ty = TYPES[i % TYPES.len()];
    let sub = format!("20000000-0000-0000-0000-{:012}", i % 40);
    let rg = format!("rg-{}", i % 200);
    let name = format!("res{:05}", (i * 7919) % ROWS);
    let location = ["eastus", "westeurope", "uksouth"][i % 3];
    let env = ["prod", "dev"][i % 2];
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{ty}/{name}"),
        "name": name,
        "type": ty,
        "tenantId": format!("10000000-0000-0000-0000-{:012}", i % 5),
        "kind": if i % 4 == 0 { "StorageV2" } else { "" },
        "location": location,
        "resourceGroup": rg,
        "subscriptionId": sub,
        "managedBy": "",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "plan": null,
        "properties": {
            "provisioningState": "Succeeded",
            "supportsHttpsTrafficOnly": i % 3 != 0,
            "encryption": {"services": {"blob": {"enabled": true}}, "keySource": "Microsoft.Storage"},
            "networkAcls": {"defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
            "primaryEndpoints": {"blob": format!("https://{name}.blob.core.windows.net/")}
        },
        "tags": {"env": env, "owner": format!("team{}", i % 9)},
        "identity": null,
        "zones": null,
        "extendedLocation": null
    })
}

fn table() -> Table {
    let rows = (0..ROWS)
        .map(|i| {
            let r = resource(i);
            COLUMNS
                .iter()
                .map(|(c, t)| match (t, &r[*c]) {
                    (Type::String, v) => Value::str(v.as_str().unwrap_or("")),
                    (_, v) => Value::dynamic(v.clone()),
                })
                .collect()
        })
        .collect();
    Table::new(COLUMNS, rows)
}

struct One(Table);

impl Tables for One {
    fn table(&self, name: &str) -> Option<Table> {
        name.eq_ignore_ascii_case("resources")
            .then(|| self.0.clone())
    }
}

const QUERIES: &[(&str, &str, &str)] = &[
    (
        "summarize_by_tenant",
        "Resources | summarize count() by tenantId",
        "SELECT tenantId, count(*) FROM r GROUP BY tenantId",
    ),
    (
        "where_project_order",
        "Resources | where type =~ 'microsoft.storage/storageaccounts' | project name, tenantId, properties.supportsHttpsTrafficOnly | order by name asc",
        "SELECT name, tenantId, json_extract(properties, '$.supportsHttpsTrafficOnly') FROM r WHERE lower(type) = 'microsoft.storage/storageaccounts' ORDER BY name",
    ),
];

fn main() {
    let tables = One(table());
    let ctx = Ctx {
        now: time::OffsetDateTime::UNIX_EPOCH,
        default_table: Some("Resources".into()),
        seed: 0,
    };
    let db = rusqlite::Connection::open_in_memory().unwrap();
    let cols: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    db.execute(&format!("CREATE TABLE r ({})", cols.join(", ")), [])
        .unwrap();
    {
        let placeholders = vec!["?"; cols.len()].join(", ");
        let mut ins = db
            .prepare(&format!("INSERT INTO r VALUES ({placeholders})"))
            .unwrap();
        for i in 0..ROWS {
            let r = resource(i);
            let vals: Vec<String> = cols
                .iter()
                .map(|c| match &r[*c] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            ins.execute(rusqlite::params_from_iter(vals)).unwrap();
        }
    }
    for (name, kql_text, sql) in QUERIES {
        let q = kql::parse(kql_text).unwrap();
        let out = kql::run(&q, &tables, &ctx).unwrap();
        let mut stmt = db.prepare(sql).unwrap();
        let n = stmt.query_map([], |_| Ok(())).unwrap().count();
        assert_eq!(
            out.rows.len(),
            n,
            "{name}: the engine and SQLite disagree on the row count"
        );
        println!("{name}: {} rows", out.rows.len());
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for (name, kql_text, sql) in QUERIES {
        let q = kql::parse(kql_text).unwrap();
        c.bench_function(&format!("kql/{name}"), |b| {
            b.iter(|| black_box(kql::run(&q, &tables, &ctx).unwrap()))
        });
        c.bench_function(&format!("kql_parse/{name}"), |b| {
            b.iter(|| black_box(kql::parse(kql_text).unwrap()))
        });
        let mut stmt = db.prepare(sql).unwrap();
        c.bench_function(&format!("sqlite/{name}"), |b| {
            b.iter(|| {
                let rows: Vec<String> = stmt
                    .query_map([], |r| {
                        r.get::<_, rusqlite::types::Value>(0)
                            .map(|v| format!("{v:?}"))
                    })
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                black_box(rows)
            })
        });
    }
    c.final_summary();
}

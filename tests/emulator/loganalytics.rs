//! Log Analytics across tenants: workspaces (customerId, defaults, sharedKeys refused), the activity
//! log streamed into AzureActivity through a subscription diagnostic setting (only what is written
//! after it exists), the query API at `/v1/workspaces/{id}/query` as a delegated provider principal,
//! cross-workspace queries (`workspaces`, `workspace("…")`, partial errors), ingestion of any table
//! through `/_emulator/logs`, timespans, and the API's errors (401, 403, 404, 400 with inner errors).

use crate::*;
use serde_json::{json, Value};

const LA: &str = "https://api.loganalytics.io/.default";
const TAILSPIN: &str = "10000000-0000-0000-0000-000000000004";
const TAILSPIN_PROD: &str = "20000000-0000-0000-0000-000000004001";
const WS_API: &str = "api-version=2025-07-01";

fn ws_path(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{name}")
}

/// A workspace made by `who`, with a subscription diagnostic setting sending the activity log to it;
/// returns its customerId.
async fn workspace_with_setting(e: &Emu, who: &str, sub: &str, rg: &str, name: &str) -> String {
    let t = e.token(who).await;
    let path = ws_path(sub, rg, name);
    let r = e
        .call(
            "PUT",
            &format!("{path}?{WS_API}"),
            Some(&t),
            Some(json!({"location": "westeurope", "properties": {}})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    let cid = r.body["properties"]["customerId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = e
        .call(
            "PUT",
            &format!("/subscriptions/{sub}/providers/Microsoft.Insights/diagnosticSettings/to-{name}?api-version=2021-05-01-preview"),
            Some(&t),
            Some(json!({"properties": {"workspaceId": path, "logs": [
                {"category": "Administrative", "enabled": true},
                {"category": "Policy", "enabled": true},
                {"category": "Security", "enabled": true}]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    cid
}

async fn query(e: &Emu, token: &str, cid: &str, body: Value) -> Resp {
    e.call(
        "POST",
        &format!("/v1/workspaces/{cid}/query"),
        Some(token),
        Some(body),
    )
    .await
}

/// The rows of PrimaryResult as JSON arrays, with the column names.
fn result(r: &Resp) -> (Vec<String>, Vec<Value>) {
    let t = &r.body["tables"][0];
    assert_eq!(t["name"], "PrimaryResult", "{:?}", r.body);
    let cols = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    (cols, t["rows"].as_array().unwrap().clone())
}

#[tokio::test]
async fn workspaces_get_a_customer_id_and_refuse_shared_keys() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let path = ws_path(FABRIKAM_PROD, "rg-web", "ws-one");
    let r = e
        .call(
            "PUT",
            &format!("{path}?{WS_API}"),
            Some(&t),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let p = &r.body["properties"];
    let cid = p["customerId"].as_str().unwrap().to_string();
    assert_eq!(cid.len(), 36);
    assert_eq!(p["provisioningState"], "Succeeded");
    assert_eq!(p["sku"]["name"], "PerGB2018");
    assert_eq!(p["retentionInDays"], 30);
    assert_eq!(p["features"]["disableLocalAuth"], true);
    // a diagnostic setting naming the workspace by its GUID: ARM's LinkedInvalidPropertyId
    let r = e
        .call(
            "PUT",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Insights/diagnosticSettings/bad?api-version=2021-05-01-preview"),
            Some(&t),
            Some(json!({"properties": {"workspaceId": cid, "logs": [{"category": "Administrative", "enabled": true}]}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "LinkedInvalidPropertyId"));
    // an update keeps the workspace id and creation date
    let r = e
        .call(
            "PUT",
            &format!("{path}?api-version=2022-10-01"),
            Some(&t),
            Some(json!({"location": "westeurope", "properties": {"retentionInDays": 90}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["customerId"], cid.as_str());
    assert_eq!(r.body["properties"]["retentionInDays"], 90);
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.OperationalInsights/workspaces?{WS_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = e
        .call(
            "POST",
            &format!("{path}/sharedKeys?{WS_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "KeyBasedAuthenticationNotPermitted")
    );
    assert!(r.header("x-ms-emulator-decision").contains("Entra"));
    let r = e
        .call("DELETE", &format!("{path}?{WS_API}"), Some(&t), None)
        .await;
    assert!(r.status == 200 || r.status == 204);
    // the workspace is gone from the query API too
    let la = e.token_for("admin@fabrikam", LA).await;
    let r = query(&e, &la, &cid, json!({"query": "AzureActivity | count"})).await;
    assert_eq!((r.status, r.code()), (404, "WorkspaceNotFoundError"));
    // soft-deleted: listed by deletedWorkspaces (not by the resource list), recovered by a PUT of
    // the same name with its workspace id
    let deleted = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.OperationalInsights/deletedWorkspaces?{WS_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        deleted.body["value"][0]["properties"]["customerId"],
        cid.as_str()
    );
    let listed = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resources?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert!(!listed.body.to_string().contains("deletedWorkspaces"));
    let r = e
        .call(
            "PUT",
            &format!("{path}?{WS_API}"),
            Some(&t),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.body["properties"]["customerId"], cid.as_str());
    let deleted = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.OperationalInsights/deletedWorkspaces?{WS_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(deleted.body["value"], json!([]));
    // force=true deletes for good
    e.call(
        "DELETE",
        &format!("{path}?{WS_API}&force=true"),
        Some(&t),
        None,
    )
    .await;
    let r = e
        .call(
            "PUT",
            &format!("{path}?{WS_API}"),
            Some(&t),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_ne!(r.body["properties"]["customerId"], cid.as_str());
}

#[tokio::test]
async fn the_activity_log_reaches_a_workspace_and_a_delegated_provider_queries_it() {
    let e = emu().await;
    let alice = e.token("alice").await;
    // written before the setting exists: never sent
    let r = e
        .call(
            "PUT",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-before?api-version=2021-04-01"
            ),
            Some(&alice),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let cid = workspace_with_setting(&e, "admin@fabrikam", FABRIKAM_PROD, "rg-web", "ws-fab").await;
    for (m, g) in [("PUT", "rg-after"), ("DELETE", "rg-before")] {
        let r = e
            .call(
                m,
                &format!(
                    "/subscriptions/{FABRIKAM_PROD}/resourceGroups/{g}?api-version=2021-04-01"
                ),
                Some(&alice),
                (m == "PUT").then(|| json!({"location": "westeurope"})),
            )
            .await;
        assert!(r.status < 300, "{m} {g}: {:?}", r.body);
    }
    let msp = e.token_for("msp-automation", LA).await;
    let r = query(
        &e,
        &msp,
        &cid,
        json!({"query": "AzureActivity | where OperationNameValue has 'write' and Caller == 'alice@contosomsp.onmicrosoft.com' | project Caller, TenantId, ResourceGroup, Claims_d, ActivityStatusValue"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (cols, rows) = result(&r);
    assert_eq!(
        cols,
        [
            "Caller",
            "TenantId",
            "ResourceGroup",
            "Claims_d",
            "ActivityStatusValue"
        ]
    );
    // Begin and End of rg-after's PUT; rg-before's PUT came before the setting
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row[1], cid.as_str(), "TenantId is the workspace id");
        assert_eq!(row[2], "RG-AFTER");
        let claims: Value = serde_json::from_str(row[3].as_str().unwrap()).unwrap();
        assert_eq!(
            claims["http://schemas.microsoft.com/identity/claims/tenantid"], CONTOSO,
            "alice's home tenant in the claims"
        );
    }
    let types: Vec<&str> = r.body["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["string", "string", "string", "dynamic", "string"]);
    // the delete arrived too; summarize by bin() over the emulator clock
    let r = query(
        &e,
        &msp,
        &cid,
        json!({"query": "AzureActivity | where OperationNameValue endswith '/DELETE' | summarize count() by bin(TimeGenerated, 1h), Caller | render barchart", "timespan": "PT1H"}),
    )
    .await;
    let (cols, rows) = result(&r);
    assert_eq!(cols, ["TimeGenerated", "Caller", "count_"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], 2);
    // a window in the past holds nothing
    let r = query(
        &e,
        &msp,
        &cid,
        json!({"query": "AzureActivity | count", "timespan": "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z"}),
    )
    .await;
    assert_eq!(result(&r).1, [json!([0])]);
    // GET with query= works the same, with the emulator's own URL as the token audience
    let own = e
        .token_for("msp-automation", &format!("{}/.default", e.base))
        .await;
    let q = "AzureActivity%20%7C%20where%20Caller%20%3D%3D%20%27alice%40contosomsp.onmicrosoft.com%27%20%7C%20count";
    let r = e
        .call(
            "GET",
            &format!("/v1/workspaces/{cid}/query?query={q}"),
            Some(&own),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(result(&r).1, [json!([4])]);
    // a principal without a role: the API's 403; a Storage token: 401
    let nw = e.token_for("admin@northwind", LA).await;
    let r = query(&e, &nw, &cid, json!({"query": "AzureActivity"})).await;
    assert_eq!((r.status, r.code()), (403, "InsufficientAccessError"));
    let storage = e
        .token_for("msp-automation", "https://storage.azure.com/.default")
        .await;
    let r = query(&e, &storage, &cid, json!({"query": "AzureActivity"})).await;
    assert_eq!((r.status, r.code()), (401, "InvalidTokenError"));
    let r = e
        .call(
            "POST",
            &format!("/v1/workspaces/{cid}/query"),
            None,
            Some(json!({"query": "AzureActivity"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "AuthorizationRequiredError"));
}

#[tokio::test]
async fn one_query_across_customer_workspaces() {
    let e = emu().await;
    let fab = workspace_with_setting(&e, "admin@fabrikam", FABRIKAM_PROD, "rg-web", "ws-fab").await;
    let tail =
        workspace_with_setting(&e, "admin@tailspin", TAILSPIN_PROD, "rg-apps", "ws-tail").await;
    let _ = TAILSPIN;
    let alice = e.token("alice").await;
    for sub in [FABRIKAM_PROD, TAILSPIN_PROD] {
        let r = e
            .call(
                "PUT",
                &format!("/subscriptions/{sub}/resourceGroups/rg-x?api-version=2021-04-01"),
                Some(&alice),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let msp = e.token_for("msp-automation", LA).await;
    let q = "AzureActivity | where Caller startswith 'alice' | summarize count() by TenantId, SubscriptionId | order by SubscriptionId asc";
    let want = json!([[fab, FABRIKAM_PROD, 2], [tail, TAILSPIN_PROD, 2]]);
    // `workspaces` in the body, by workspace id and by ARM id
    let tail_id = ws_path(TAILSPIN_PROD, "rg-apps", "ws-tail");
    for extra in [tail.clone(), tail_id] {
        let r = query(&e, &msp, &fab, json!({"query": q, "workspaces": [extra]})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(Value::Array(result(&r).1), want);
        assert!(r.body.get("error").is_none());
    }
    // workspace("…") inside the query, by name
    let r = query(
        &e,
        &msp,
        &fab,
        json!({"query": format!("union AzureActivity, workspace('ws-tail').AzureActivity | where Caller startswith 'alice' | summarize count() by TenantId, SubscriptionId | order by SubscriptionId asc")}),
    )
    .await;
    assert_eq!(Value::Array(result(&r).1), want, "{:?}", r.body);
    // a workspace the caller cannot read: a partial error, the rest answered
    let nw_ws = {
        let t = e.token("admin@northwind").await;
        let r = e
            .call(
                "PUT",
                &format!(
                    "{}?{WS_API}",
                    ws_path(NORTHWIND_MAIN, "rg-private", "ws-nw")
                ),
                Some(&t),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        r.body["properties"]["customerId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let r = query(
        &e,
        &msp,
        &fab,
        json!({"query": "AzureActivity | summarize dcount(TenantId)", "workspaces": [tail, nw_ws, "no-such-ws"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(result(&r).1, [json!([2])]);
    assert_eq!(r.body["error"]["code"], "PartialError");
    let codes: Vec<&str> = r.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["InsufficientAccessError", "WorkspaceNotFoundError"]);
}

#[tokio::test]
async fn ingested_rows_and_query_errors() {
    let e = emu().await;
    let cid = workspace_with_setting(&e, "admin@fabrikam", FABRIKAM_PROD, "rg-web", "ws-fab").await;
    let rows = json!([
        {"TimeGenerated": "2026-01-01T10:00:00Z", "Computer": "vm-web-01", "Cpu": 93.5, "Count": 3, "Ok": false, "Tags": {"env": "prod"}},
        {"TimeGenerated": "2026-01-01T11:00:00Z", "Computer": "vm-web-02", "Cpu": 12.0, "Count": 1, "Ok": true}
    ]);
    let r = e
        .call(
            "POST",
            &format!("/_emulator/logs/{cid}/Perf_CL"),
            None,
            Some(rows),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["ingested"], 2);
    let t = e.token_for("admin@fabrikam", LA).await;
    let r = query(
        &e,
        &t,
        &cid,
        json!({"query": "Perf_CL | where Cpu > 50 | project TimeGenerated, Computer, Cpu, Count, Ok, Tags, TenantId, Type"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let types: Vec<&str> = r.body["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["datetime", "string", "real", "long", "bool", "dynamic", "string", "string"]
    );
    assert_eq!(
        result(&r).1,
        [json!([
            "2026-01-01T10:00:00Z",
            "vm-web-01",
            93.5,
            3,
            false,
            "{\"env\":\"prod\"}",
            cid,
            "Perf_CL"
        ])]
    );
    // the API's 400s: syntax, then semantics (an unknown table)
    let r = query(&e, &t, &cid, json!({"query": "Perf_CL | wher Cpu > 1"})).await;
    assert_eq!((r.status, r.code()), (400, "BadArgumentError"));
    assert_eq!(r.body["error"]["innererror"]["code"], "SyntaxError");
    let r = query(&e, &t, &cid, json!({"query": "Nope_CL | count"})).await;
    assert_eq!(r.body["error"]["innererror"]["code"], "SemanticError");
    let r = query(
        &e,
        &t,
        &cid,
        json!({"query": "Perf_CL", "timespan": "soon"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "BadArgumentError"));
    // bad rows and unknown workspaces are refused at ingestion
    let r = e
        .call(
            "POST",
            &format!("/_emulator/logs/{cid}/Perf_CL"),
            None,
            Some(json!({"not": "an array"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = e
        .call(
            "POST",
            "/_emulator/logs/00000000-0000-0000-0000-000000000000/Perf_CL",
            None,
            Some(json!([])),
        )
        .await;
    assert_eq!(r.status, 404);
}

/// A client that sends every https request through the emulator as its proxy (HTTPS_PROXY).
fn proxied(e: &Emu) -> reqwest::Client {
    let port: u16 = e.base.rsplit(':').next().unwrap().parse().unwrap();
    let ca = std::fs::read(state_dir().join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .use_rustls_tls()
        .proxy(reqwest::Proxy::https(format!("http://localhost:{port}")).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_query_api_at_its_own_host_name() {
    let e = emu().await;
    let cid = workspace_with_setting(&e, "admin@fabrikam", FABRIKAM_PROD, "rg-web", "ws-fab").await;
    let t = e.token_for("msp-automation", LA).await;
    let r = proxied(&e)
        .post(format!("https://api.loganalytics.io/v1/workspaces/{cid}/query"))
        .bearer_auth(&t)
        .json(&json!({"query": "AzureActivity | where OperationNameValue has 'diagnosticSettings' | count"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    // the setting's own creation (Begin + End) is the first thing it sends
    assert_eq!(body["tables"][0]["rows"], json!([[2]]), "{body}");
    let r = proxied(&e)
        .get("https://api.loganalytics.io/v1/nowhere")
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The data-plane spec's one stored example (resource-centric: StorageBlobLogs of a storage account),
/// replayed against fabrikamdata: the rows about the account, from whichever workspace holds them, and
/// the example's shape (tables[].name, columns[].name/type, rows).
#[tokio::test]
async fn the_query_api_spec_example_replays() {
    let e = emu().await;
    let dir = format!(
        "{}/tests/spec-examples/loganalytics-query/2022-10-27",
        env!("CARGO_MANIFEST_DIR")
    );
    let ex: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{dir}/examples/la-post-resource-centric-example.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let account = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
    let cid = workspace_with_setting(&e, "admin@fabrikam", FABRIKAM_PROD, "rg-web", "ws-fab").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<Value> = ["GetBlob", "GetBlob", "PutBlob"]
        .iter()
        .map(|op| {
            json!({"OperationName": op, "_ResourceId": account.to_lowercase(),
                   "TimeGenerated": lighthouse_emulator::kql::format_datetime(now * 10_000_000)})
        })
        .chain([json!({"OperationName": "GetBlob", "_ResourceId": "/subscriptions/other"})])
        .collect();
    let r = e
        .call(
            "POST",
            &format!("/_emulator/logs/{cid}/StorageBlobLogs"),
            None,
            Some(Value::Array(rows)),
        )
        .await;
    assert_eq!(r.status, 200);
    let t = e.token_for("admin@fabrikam", LA).await;
    let r = e
        .call(
            "POST",
            &format!("/v1{account}/query"),
            Some(&t),
            Some(ex["parameters"]["body"].clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let want = &ex["responses"]["200"]["body"];
    let shape = |v: &Value| {
        let mut out = std::collections::BTreeSet::new();
        crate::spec_replay::paths(v, "", &mut out);
        out
    };
    assert_eq!(shape(&r.body), shape(want), "{:?}", r.body);
    assert_eq!(r.body["tables"][0]["columns"], want["tables"][0]["columns"]);
    assert_eq!(
        r.body["tables"][0]["rows"],
        json!([["GetBlob", 2], ["PutBlob", 1]])
    );
    // a caller with no standing on the account: 403
    let nw = e.token_for("admin@northwind", LA).await;
    let r = e
        .call(
            "POST",
            &format!("/v1{account}/query"),
            Some(&nw),
            Some(ex["parameters"]["body"].clone()),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "InsufficientAccessError"));
}

//! The Logs Ingestion API through data collection rules: a rule's immutable id and endpoint, its data
//! flows checked against its stream declarations, uploads (plain and gzip) refused without
//! `Microsoft.Insights/Telemetry/Write` and written through the flows' `transformKql` once the caller
//! holds Monitoring Metrics Publisher; `guid` columns and `toguid()` in the query API.

use std::io::Write as _;

use crate::*;
use serde_json::{json, Value};

const MONITOR: &str = "https://monitor.azure.com//.default";
const LA: &str = "https://api.loganalytics.io/.default";
const DCR_API: &str = "api-version=2023-03-11";
const METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
const FABRIKAM_CI_OID: &str = "30000000-0000-0000-0000-000000002121";

fn rule_body(ws: &str, streams: &[&str]) -> Value {
    json!({
        "location": "westeurope",
        "kind": "Direct",
        "properties": {
            "streamDeclarations": {"Custom-Events": {"columns": [
                {"name": "TimeGenerated", "type": "datetime"},
                {"name": "Id", "type": "guid"},
                {"name": "Message", "type": "string"},
                {"name": "Severity", "type": "string"}]}},
            "destinations": {"logAnalytics": [{"name": "la", "workspaceResourceId": ws}]},
            "dataFlows": [
                {"streams": streams, "destinations": ["la"],
                 "transformKql": "source | where Severity != 'debug' | extend Level = toupper(Severity) | project-away Severity",
                 "outputStream": "Custom-Events_CL"},
                {"streams": streams, "destinations": ["la"], "transformKql": "source",
                 "outputStream": "Custom-Raw_CL"}
            ]
        }
    })
}

async fn upload(e: &Emu, token: &str, rule: &str, stream: &str, body: Vec<u8>, gzip: bool) -> Resp {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if gzip {
        headers.push(("content-encoding", "gzip"));
    }
    e.raw(
        "POST",
        &format!("/dataCollectionRules/{rule}/streams/{stream}?api-version=2023-01-01"),
        &headers,
        body,
    )
    .await
}

fn gz(v: &Value) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(v.to_string().as_bytes()).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn rows_go_through_a_rule_into_its_workspace_tables() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let base = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers");
    let (ws, cid) =
        crate::alerts::workspace(&e, &admin, FABRIKAM_PROD, "rg-web", "ws-ingest").await;

    // an endpoint: its immutable id and the ingestion endpoint clients are given
    let dce = format!("{base}/Microsoft.Insights/dataCollectionEndpoints/dce-one");
    let r = e
        .call(
            "PUT",
            &format!("{dce}?{DCR_API}"),
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    assert!(r.body["properties"]["immutableId"]
        .as_str()
        .unwrap()
        .starts_with("dce-"));
    assert!(r.body["properties"]["logsIngestion"]["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://"));

    // a flow over an undeclared stream is refused
    let dcr = format!("{base}/Microsoft.Insights/dataCollectionRules/dcr-one");
    let r = e
        .call(
            "PUT",
            &format!("{dcr}?{DCR_API}"),
            Some(&admin),
            Some(rule_body(&ws, &["Custom-Nope"])),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "InvalidPayload");

    let r = e
        .call(
            "PUT",
            &format!("{dcr}?{DCR_API}"),
            Some(&admin),
            Some(rule_body(&ws, &["Custom-Events"])),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    let immutable = r.body["properties"]["immutableId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        immutable.starts_with("dcr-") && immutable.len() == 36,
        "{immutable}"
    );
    assert!(r.body["properties"]["endpoints"]["logsIngestion"].is_string());
    // a second PUT keeps the immutable id
    let r = e
        .call(
            "PUT",
            &format!("{dcr}?{DCR_API}"),
            Some(&admin),
            Some(rule_body(&ws, &["Custom-Events"])),
        )
        .await;
    assert_eq!(r.body["properties"]["immutableId"], immutable.as_str());

    let rows = json!([
        {"TimeGenerated": "2026-01-01T00:00:00Z", "Id": "6F9619FF-8B86-D011-B42D-00C04FC964FF", "Message": "one", "Severity": "info"},
        {"Id": "{2c6c2a3e-0000-4000-8000-000000000002}", "Message": "two", "Severity": "error"},
        {"Id": "not-a-guid", "Message": "three", "Severity": "debug"}
    ]);
    let ci = e.token_for("fabrikam-ci", MONITOR).await;
    // no token, a token for another audience, an unknown rule
    let r = e
        .raw(
            "POST",
            &format!("/dataCollectionRules/{immutable}/streams/Custom-Events"),
            &[],
            rows.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let arm_ci = e.token("fabrikam-ci").await;
    assert_eq!(
        upload(
            &e,
            &arm_ci,
            &immutable,
            "Custom-Events",
            rows.to_string().into_bytes(),
            false
        )
        .await
        .status,
        401
    );
    let r = upload(
        &e,
        &ci,
        "dcr-00000000000000000000000000000000",
        "Custom-Events",
        rows.to_string().into_bytes(),
        false,
    )
    .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    // Contributor (fabrikam-ci) and Owner (admin) hold no data action: the service's 403
    for who in ["fabrikam-ci", "admin@fabrikam"] {
        let t = e.token_for(who, MONITOR).await;
        let r = upload(&e, &t, &immutable, "Custom-Events", gz(&rows), true).await;
        assert_eq!(r.status, 403, "{who}: {:?}", r.body);
        assert_eq!(r.code(), "OperationFailed");
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&immutable));
    }
    // Monitoring Metrics Publisher on the rule grants Microsoft.Insights/Telemetry/Write
    let r = e
        .call(
            "PUT",
            &format!("{dcr}/providers/Microsoft.Authorization/roleAssignments/7e000000-0000-0000-0000-000000000001?api-version=2022-04-01"),
            Some(&admin),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{METRICS_PUBLISHER}"),
                "principalId": FABRIKAM_CI_OID}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = upload(&e, &ci, &immutable, "Custom-Events", gz(&rows), true).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    // a stream no flow takes, a body that is not JSON
    let r = upload(
        &e,
        &ci,
        &immutable,
        "Custom-Other",
        rows.to_string().into_bytes(),
        false,
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = upload(
        &e,
        &ci,
        &immutable,
        "Custom-Events",
        b"{not json".to_vec(),
        false,
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    let la = e.token_for("admin@fabrikam", LA).await;
    let q = |text: &str| json!({"query": text});
    let r = e
        .call(
            "POST",
            &format!("/v1/workspaces/{cid}/query"),
            Some(&la),
            Some(q(
                "Events_CL | order by Message asc | project Message, Level, Id, TimeGenerated",
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = &r.body["tables"][0];
    let types: Vec<&str> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["string", "string", "guid", "datetime"]);
    let rows_out = t["rows"].as_array().unwrap();
    assert_eq!(rows_out.len(), 2, "{rows_out:?}");
    assert_eq!(rows_out[0][0], "one");
    assert_eq!(rows_out[0][1], "INFO");
    assert_eq!(rows_out[0][2], "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    assert_eq!(rows_out[0][3], "2026-01-01T00:00:00Z");
    assert_eq!(rows_out[1][2], "2c6c2a3e-0000-4000-8000-000000000002");
    // the passthrough flow kept every row; a malformed guid is null
    let r = e
        .call(
            "POST",
            &format!("/v1/workspaces/{cid}/query"),
            Some(&la),
            Some(q("Raw_CL | where isnull(Id) | project Message")),
        )
        .await;
    assert_eq!(
        r.body["tables"][0]["rows"],
        json!([["three"]]),
        "{:?}",
        r.body
    );
    // guid literals, toguid() and comparisons with strings
    for (text, want) in [
        ("Raw_CL | where Id == guid(6F9619FF-8B86-D011-B42D-00C04FC964FF) | project Message", json!([["one"]])),
        ("Raw_CL | where Id == toguid('{2C6C2A3E-0000-4000-8000-000000000002}') | project Message", json!([["two"]])),
        ("Raw_CL | where Id == '6f9619ff-8b86-d011-b42d-00c04fc964ff' | project Message", json!([["one"]])),
        ("Raw_CL | where Message == 'one' | project g = toguid('nope')", json!([[null]])),
    ] {
        let r = e
            .call("POST", &format!("/v1/workspaces/{cid}/query"), Some(&la), Some(q(text)))
            .await;
        assert_eq!(r.status, 200, "{text}: {:?}", r.body);
        assert_eq!(r.body["tables"][0]["rows"], want, "{text}");
    }
    let r = e
        .call(
            "POST",
            &format!("/v1/workspaces/{cid}/query"),
            Some(&la),
            Some(q("Raw_CL | take 1 | project g = toguid(Id)")),
        )
        .await;
    assert_eq!(
        r.body["tables"][0]["columns"][0]["type"], "guid",
        "{:?}",
        r.body
    );
}

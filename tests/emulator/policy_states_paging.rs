//! Policy-state queries past one page (`@odata.nextLink` with `$skiptoken`, followed as the SDKs
//! follow it: a POST to the link) and `$expand=PolicyEvaluationDetails` on a resource's states.

use std::collections::BTreeSet;

use crate::*;
use serde_json::{json, Value};

const PI: &str = "api-version=2024-10-01";
const POLICY: &str = "api-version=2025-11-01";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn auth(kind: &str, name: &str) -> String {
    format!("{}/providers/Microsoft.Authorization/{kind}/{name}", sub())
}

async fn ok(e: &Emu, t: &str, method: &str, path: &str, body: Option<Value>) -> Resp {
    let r = e.call(method, path, Some(t), body).await;
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn states_page_by_skiptoken_and_expand_evaluation_details() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    // an initiative of 120 references to "audit every resource": 120 states per resource
    ok(&e, &t, "PUT", &format!("{}?{POLICY}", auth("policyDefinitions", "audit-all")), Some(json!({"properties": {
        "mode": "All",
        "policyRule": {"if": {"field": "type", "notEquals": "Microsoft.Example/none"}, "then": {"effect": "audit"}}}}))).await;
    let refs: Vec<Value> = (0..120)
        .map(|i| json!({"policyDefinitionId": auth("policyDefinitions", "audit-all"), "policyDefinitionReferenceId": format!("r{i:03}")}))
        .collect();
    ok(
        &e,
        &t,
        "PUT",
        &format!(
            "{}?{POLICY}",
            auth("policySetDefinitions", "audit-all-x120")
        ),
        Some(json!({"properties": {"policyDefinitions": refs}})),
    )
    .await;
    ok(&e, &t, "PUT", &format!("{}?{POLICY}", auth("policyAssignments", "audit-all-x120")),
        Some(json!({"properties": {"policyDefinitionId": auth("policySetDefinitions", "audit-all-x120")}}))).await;

    let query = format!(
        "{}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?{PI}",
        sub()
    );
    let counted = ok(
        &e,
        &t,
        "POST",
        &format!("{query}&$apply=aggregate(%24count%20as%20n)"),
        None,
    )
    .await;
    let total = counted.body["value"][0]["n"].as_u64().unwrap() as usize;
    assert!(total > 1000, "{}", counted.body);

    let mut seen = BTreeSet::new();
    let mut pages = 0;
    let mut next = Some(query.clone());
    while let Some(path) = next {
        let r = ok(&e, &t, "POST", &path, None).await;
        let value = r.body["value"].as_array().unwrap();
        assert_eq!(
            r.body["@odata.count"].as_u64().unwrap() as usize,
            value.len()
        );
        assert!(value.len() <= 1000);
        for v in value {
            let key = format!("{}|{}", v["resourceId"], v["policyDefinitionReferenceId"]);
            assert!(seen.insert(key.clone()), "{key} on two pages");
        }
        pages += 1;
        next = r.body["@odata.nextLink"].as_str().map(|l| {
            assert!(
                l.contains("$skiptoken=") || l.contains("%24skiptoken="),
                "{l}"
            );
            let at = l.find("/subscriptions/").unwrap();
            l[at..].to_string()
        });
        assert!(pages < 10, "the pages never end");
    }
    assert_eq!(seen.len(), total);
    assert_eq!(pages, total.div_ceil(1000));

    // a resource's states with the conditions evaluated
    let sa = format!(
        "{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata",
        sub()
    );
    let r = ok(&e, &t, "POST", &format!(
        "{sa}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?{PI}&$expand=PolicyEvaluationDetails&$top=1"), None).await;
    let details = &r.body["value"][0]["policyEvaluationDetails"]["evaluatedExpressions"][0];
    assert_eq!(details["expressionKind"], "Field", "{}", r.body);
    assert_eq!(details["expression"], "type");
    assert_eq!(
        details["expressionValue"],
        "Microsoft.Storage/storageAccounts"
    );
    assert_eq!(details["operator"], "NotEquals");
    assert_eq!(details["result"], "True");
    // without $expand there are none
    let r = ok(
        &e,
        &t,
        "POST",
        &format!(
            "{sa}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?{PI}&$top=1"
        ),
        None,
    )
    .await;
    assert!(r.body["value"][0].get("policyEvaluationDetails").is_none());
}

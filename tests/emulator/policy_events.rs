//! Policy events (`Microsoft.PolicyInsights/policyEvents/default/queryResults`): the audits and
//! refusals the request pipeline wrote, at subscription, resource-group and assignment scope, with
//! `$filter`, `$apply`, `$top` and the `$from`/`$to` window, as the customer admin and as the
//! service provider through the delegation.

use crate::*;
use serde_json::{json, Value};

const PI: &str = "api-version=2024-10-01";
const POLICY: &str = "api-version=2025-11-01";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn events(scope: &str, query: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.PolicyInsights/policyEvents/default/queryResults?{PI}{query}"
    )
}
fn values(r: &Resp) -> Vec<Value> {
    r.body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{} {}", r.status, r.body))
        .clone()
}
fn actions(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> = values(r)
        .iter()
        .map(|e| e["policyDefinitionAction"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn put_policy(e: &Emu, t: &str, scope: &str, name: &str, rule: Value) -> String {
    let def = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/{name}",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &format!("{def}?{POLICY}"),
            Some(t),
            Some(json!({"properties": {"mode": "Indexed", "policyRule": rule}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = format!("{scope}/providers/Microsoft.Authorization/policyAssignments/{name}");
    let r = e
        .call(
            "PUT",
            &format!("{a}?{POLICY}"),
            Some(t),
            Some(json!({"properties": {"policyDefinitionId": def}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_events_list_the_pipelines_audits_and_refusals() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let rg_data = format!("{}/resourceGroups/rg-data", sub());
    let rg_web = format!("{}/resourceGroups/rg-web", sub());
    let audit = put_policy(
        &e,
        &t,
        &sub(),
        "audit-env",
        json!({
        "if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                         {"field": "tags['env']", "exists": "false"}]},
        "then": {"effect": "audit"}}),
    )
    .await;
    put_policy(
        &e,
        &t,
        &rg_web,
        "no-eastus",
        json!({
        "if": {"field": "location", "equals": "eastus"}, "then": {"effect": "deny"}}),
    )
    .await;
    // nothing written since: no events
    let r = e.call("POST", &events(&sub(), ""), Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(values(&r).is_empty(), "{}", r.body);

    let sa = format!("{rg_data}/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
    let r = e
        .call(
            "PATCH",
            &format!("{sa}?api-version=2023-01-01"),
            Some(&t),
            Some(json!({"tags": {"owner": "ops"}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let vnet = format!(
        "{rg_web}/providers/Microsoft.Network/virtualNetworks/vnet-us?api-version=2023-09-01"
    );
    let r = e
        .call(
            "PUT",
            &vnet,
            Some(&t),
            Some(json!({"location": "eastus",
            "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    let r = e.call("POST", &events(&sub(), ""), Some(&t), None).await;
    assert_eq!(actions(&r), vec!["audit", "deny"], "{}", r.body);
    let ev = values(&r)
        .into_iter()
        .find(|v| v["policyDefinitionAction"] == "audit")
        .unwrap();
    assert!(ev["resourceId"].as_str().unwrap().eq_ignore_ascii_case(&sa));
    assert!(ev["policyAssignmentId"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case(&audit));
    assert_eq!(ev["complianceState"], "NonCompliant");
    assert_eq!(ev["isCompliant"], false);
    assert_eq!(ev["resourceGroup"], "rg-data");
    assert_eq!(ev["principalOid"], "30000000-0000-0000-0000-000000002111");
    assert_eq!(ev["tenantId"], FABRIKAM);
    assert!(ev["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("policyEvents/$metadata#default/$entity"));

    // a resource group's, an assignment's
    let r = e.call("POST", &events(&rg_data, ""), Some(&t), None).await;
    assert_eq!(actions(&r), vec!["audit"]);
    let r = e.call("POST", &events(&audit, ""), Some(&t), None).await;
    assert_eq!(actions(&r), vec!["audit"]);
    // $filter, $top, $apply
    let r = e
        .call(
            "POST",
            &events(
                &sub(),
                "&$filter=policyDefinitionAction%20eq%20%27deny%27&$top=5",
            ),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(actions(&r), vec!["deny"]);
    let r = e
        .call(
            "POST",
            &events(
                &sub(),
                "&$apply=groupby((resourceGroup),%20aggregate(%24count%20as%20n))",
            ),
            Some(&t),
            None,
        )
        .await;
    let mut groups: Vec<(String, u64)> = values(&r)
        .iter()
        .map(|g| {
            (
                g["resourceGroup"].as_str().unwrap().to_string(),
                g["n"].as_u64().unwrap(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![("rg-data".to_string(), 1), ("rg-web".to_string(), 1)]
    );
    // a window after them: none
    let r = e
        .call(
            "POST",
            &events(
                &sub(),
                "&$from=2999-01-01T00:00:00Z&$to=2999-01-02T00:00:00Z",
            ),
            Some(&t),
            None,
        )
        .await;
    assert!(values(&r).is_empty(), "{}", r.body);
    let r = e
        .call("POST", &events(&sub(), "&$from=yesterday"), Some(&t), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // the service provider reads them through the delegation
    let alice = e.token("alice").await;
    let r = e
        .call("POST", &events(&sub(), ""), Some(&alice), None)
        .await;
    assert_eq!(actions(&r), vec!["audit", "deny"], "{}", r.body);
}

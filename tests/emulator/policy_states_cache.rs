//! Policy states are kept between queries and evaluated again only where a write touched them: each
//! kind of write that changes a state is followed by a query that must show the change — the
//! resource's own body, a related resource an `auditIfNotExists` looks for, the resource group a
//! rule reads through `resourceGroup()`, a new and a deleted resource, and the clock passing an
//! exemption's expiry.

use std::collections::BTreeMap;

use crate::*;
use serde_json::{json, Value};

const PI: &str = "api-version=2024-10-01";
const POLICY: &str = "api-version=2025-11-01";
const NET: &str = "api-version=2023-09-01";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn rg() -> String {
    format!("{}/resourceGroups/rg-cache", sub())
}
fn vnet(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{name}",
        rg()
    )
}

/// Definition name → compliance state of the records of `resource` (twice, to read the kept states
/// too: both answers must agree).
async fn states_of(e: &Emu, t: &str, resource: &str) -> BTreeMap<String, String> {
    let mut answers = Vec::new();
    for _ in 0..2 {
        let r = e
            .call(
                "POST",
                &format!(
                    "{resource}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?{PI}"
                ),
                Some(t),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let m: BTreeMap<String, String> = r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| {
                v["resourceId"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(resource)
            })
            .map(|v| {
                (
                    v["policyDefinitionName"].as_str().unwrap().to_string(),
                    v["complianceState"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        answers.push(m);
    }
    assert_eq!(answers[0], answers[1], "a repeated query differs");
    answers.pop().unwrap()
}

async fn put(e: &Emu, t: &str, path: &str, body: Value) {
    let r = e.call("PUT", path, Some(t), Some(body)).await;
    assert!(r.status < 300, "PUT {path}: {} {}", r.status, r.body);
}

fn want(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_states_follow_every_write_that_changes_them() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    put(
        &e,
        &t,
        &format!("{}?api-version=2024-11-01", rg()),
        json!({"location": "westeurope"}),
    )
    .await;
    let vnet_body = |tags: Value| {
        json!({"location": "westeurope", "tags": tags,
            "properties": {"addressSpace": {"addressPrefixes": ["10.7.0.0/16"]}}})
    };
    put(
        &e,
        &t,
        &format!("{}?{NET}", vnet("vnet-a")),
        vnet_body(json!({})),
    )
    .await;
    let is_vnet = json!({"field": "type", "equals": "Microsoft.Network/virtualNetworks"});
    let defs = [
        // the resource's own body
        (
            "env-tag",
            json!({"if": {"allOf": [is_vnet, {"field": "tags['env']", "exists": "false"}]},
                "then": {"effect": "audit"}}),
        ),
        // a related resource in the same group
        (
            "nsg-beside",
            json!({"if": is_vnet, "then": {"effect": "auditIfNotExists",
                "details": {"type": "Microsoft.Network/networkSecurityGroups"}}}),
        ),
        // the resource group, through resourceGroup()
        (
            "gold-group",
            json!({"if": {"allOf": [is_vnet,
                {"value": "[resourceGroup().tags]", "containsKey": "tier"}]},
                "then": {"effect": "audit"}}),
        ),
    ];
    for (name, rule) in &defs {
        let def = format!(
            "{}/providers/Microsoft.Authorization/policyDefinitions/{name}",
            sub()
        );
        put(
            &e,
            &t,
            &format!("{def}?{POLICY}"),
            json!({"properties": {"mode": "Indexed", "policyRule": rule}}),
        )
        .await;
        put(
            &e,
            &t,
            &format!(
                "{}/providers/Microsoft.Authorization/policyAssignments/{name}?{POLICY}",
                sub()
            ),
            json!({"properties": {"policyDefinitionId": def}}),
        )
        .await;
    }
    let a = vnet("vnet-a");
    assert_eq!(
        states_of(&e, &t, &a).await,
        want(&[
            ("env-tag", "NonCompliant"),
            ("gold-group", "Compliant"),
            ("nsg-beside", "NonCompliant")
        ])
    );
    // its own body
    put(
        &e,
        &t,
        &format!("{a}?{NET}"),
        vnet_body(json!({"env": "prod"})),
    )
    .await;
    assert_eq!(
        states_of(&e, &t, &a).await,
        want(&[
            ("env-tag", "Compliant"),
            ("gold-group", "Compliant"),
            ("nsg-beside", "NonCompliant")
        ])
    );
    // a related resource
    put(
        &e,
        &t,
        &format!(
            "{}/providers/Microsoft.Network/networkSecurityGroups/nsg-1?{NET}",
            rg()
        ),
        json!({"location": "westeurope"}),
    )
    .await;
    assert_eq!(
        states_of(&e, &t, &a).await,
        want(&[
            ("env-tag", "Compliant"),
            ("gold-group", "Compliant"),
            ("nsg-beside", "Compliant")
        ])
    );
    // the resource group
    put(
        &e,
        &t,
        &format!("{}?api-version=2024-11-01", rg()),
        json!({"location": "westeurope", "tags": {"tier": "gold"}}),
    )
    .await;
    assert_eq!(
        states_of(&e, &t, &a).await,
        want(&[
            ("env-tag", "Compliant"),
            ("gold-group", "NonCompliant"),
            ("nsg-beside", "Compliant")
        ])
    );
    // a new resource, then its deletion
    let b = vnet("vnet-b");
    put(&e, &t, &format!("{b}?{NET}"), vnet_body(json!({}))).await;
    assert_eq!(
        states_of(&e, &t, &b).await,
        want(&[
            ("env-tag", "NonCompliant"),
            ("gold-group", "NonCompliant"),
            ("nsg-beside", "Compliant")
        ])
    );
    let r = e
        .call("DELETE", &format!("{b}?{NET}"), Some(&t), None)
        .await;
    assert!(r.status < 300, "{}", r.body);
    assert!(states_of(&e, &t, &b).await.is_empty());
    // an exemption that expires in an hour: Exempt now, the rule's own state once the clock passes it
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    put(
        &e,
        &t,
        &format!("{}/providers/Microsoft.Authorization/policyExemptions/gold-for-now?api-version=2024-12-01-preview", rg()),
        json!({"properties": {"exemptionCategory": "Waiver", "expiresOn": expires,
            "policyAssignmentId": format!("{}/providers/Microsoft.Authorization/policyAssignments/gold-group", sub())}}),
    )
    .await;
    assert_eq!(
        states_of(&e, &t, &a).await,
        want(&[
            ("env-tag", "Compliant"),
            ("gold-group", "Exempt"),
            ("nsg-beside", "Compliant")
        ])
    );
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": "PT2H"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = e.token("admin@fabrikam").await;
    assert_eq!(
        states_of(&e, &t, &a).await,
        want(&[
            ("env-tag", "Compliant"),
            ("gold-group", "NonCompliant"),
            ("nsg-beside", "Compliant")
        ])
    );
}

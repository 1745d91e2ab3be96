//! An assignment's `resourceSelectors` and `overrides` (kind `policyEffect`) as Azure applies them
//! ("Azure Policy assignment structure"): a resource the selectors do not select is neither refused
//! nor given a state; an override changes the effect of every member, or of the members its
//! `policyDefinitionReferenceId` selector names — at write time and in compliance alike.

use crate::*;
use serde_json::{json, Value};

const POLICY: &str = "api-version=2025-11-01";
const NET: &str = "api-version=2023-09-01";
const PI: &str = "api-version=2024-10-01";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn auth(kind: &str, name: &str) -> String {
    format!("{}/providers/Microsoft.Authorization/{kind}/{name}", sub())
}
fn rg(name: &str) -> String {
    format!("{}/resourceGroups/{name}", sub())
}
fn vnet(group: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{name}?{NET}",
        rg(group)
    )
}
fn vnet_body(location: &str) -> Value {
    json!({"location": location, "properties": {"addressSpace": {"addressPrefixes": ["10.8.0.0/16"]}}})
}

async fn ok(e: &Emu, t: &str, method: &str, path: &str, body: Option<Value>) -> Resp {
    let r = e.call(method, path, Some(t), body).await;
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
    r
}

/// The states of `group`: (definition reference id, effect, compliance) of each virtual network.
async fn states(e: &Emu, t: &str, group: &str) -> Vec<(String, String, String)> {
    let r = ok(
        e,
        t,
        "POST",
        &format!(
            "{}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?{PI}",
            rg(group)
        ),
        None,
    )
    .await;
    let mut out: Vec<(String, String, String)> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["resourceType"] == "Microsoft.Network/virtualNetworks")
        .map(|v| {
            (
                v["policyDefinitionReferenceId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                v["policyDefinitionAction"].as_str().unwrap().to_string(),
                v["complianceState"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_selectors_and_effect_overrides() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    // "no virtual networks", its effect a parameter (Deny by default)
    ok(&e, &t, "PUT", &format!("{}?{POLICY}", auth("policyDefinitions", "no-vnets")), Some(json!({"properties": {
        "mode": "Indexed",
        "parameters": {"effect": {"type": "String", "defaultValue": "Deny", "allowedValues": ["Deny", "Audit", "Disabled"]}},
        "policyRule": {"if": {"field": "type", "equals": "Microsoft.Network/virtualNetworks"},
                       "then": {"effect": "[parameters('effect')]"}}}}))).await;
    let def = auth("policyDefinitions", "no-vnets");
    ok(
        &e,
        &t,
        "PUT",
        &format!(
            "{}?{POLICY}",
            auth("policySetDefinitions", "no-vnets-twice")
        ),
        Some(json!({"properties": {
        "policyDefinitions": [
            {"policyDefinitionId": def, "policyDefinitionReferenceId": "one"},
            {"policyDefinitionId": def, "policyDefinitionReferenceId": "two"}]}})),
    )
    .await;
    for g in ["rg-selected", "rg-overridden", "rg-initiative"] {
        ok(
            &e,
            &t,
            "PUT",
            &format!("{}?api-version=2024-11-01", rg(g)),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    }
    let assign = |group: &str, name: &str, extra: Value| {
        let mut p = extra;
        p["policyDefinitionId"] = json!(if name == "initiative" {
            auth("policySetDefinitions", "no-vnets-twice")
        } else {
            def.clone()
        });
        (
            format!(
                "{}/providers/Microsoft.Authorization/policyAssignments/{name}?{POLICY}",
                rg(group)
            ),
            json!({ "properties": p }),
        )
    };

    // resourceSelectors: only West Europe's resources are evaluated
    let (p, b) = assign(
        "rg-selected",
        "eu-only",
        json!({"resourceSelectors": [
        {"name": "EU", "selectors": [{"kind": "resourceLocation", "in": ["westeurope"]}]}]}),
    );
    ok(&e, &t, "PUT", &p, Some(b)).await;
    let r = e
        .call(
            "PUT",
            &vnet("rg-selected", "vnet-we"),
            Some(&t),
            Some(vnet_body("westeurope")),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
    ok(
        &e,
        &t,
        "PUT",
        &vnet("rg-selected", "vnet-ne"),
        Some(vnet_body("northeurope")),
    )
    .await;
    assert!(
        states(&e, &t, "rg-selected").await.is_empty(),
        "a resource not selected has no state"
    );

    // an override without selectors: every member audits instead of denying
    let (p, b) = assign(
        "rg-overridden",
        "audit-instead",
        json!({"overrides": [
        {"kind": "policyEffect", "value": "Audit"}]}),
    );
    ok(&e, &t, "PUT", &p, Some(b)).await;
    ok(
        &e,
        &t,
        "PUT",
        &vnet("rg-overridden", "vnet-1"),
        Some(vnet_body("westeurope")),
    )
    .await;
    assert_eq!(
        states(&e, &t, "rg-overridden").await,
        vec![(
            String::new(),
            "audit".to_string(),
            "NonCompliant".to_string()
        )]
    );

    // an override naming one reference of an initiative: the other still denies
    let (p, b) = assign(
        "rg-initiative",
        "initiative",
        json!({"overrides": [
        {"kind": "policyEffect", "value": "Audit",
         "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["one"]}]}]}),
    );
    ok(&e, &t, "PUT", &p, Some(b)).await;
    let r = e
        .call(
            "PUT",
            &vnet("rg-initiative", "vnet-2"),
            Some(&t),
            Some(vnet_body("westeurope")),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let refs: Vec<&str> = r.body["error"]["additionalInfo"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "PolicyViolation")
        .map(|i| i["info"]["policyDefinitionReferenceId"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec!["two"], "{}", r.body);
    // disabling "two" as well lets the write through, audited by "one"
    let (p, b) = assign(
        "rg-initiative",
        "initiative",
        json!({"overrides": [
        {"kind": "policyEffect", "value": "Audit",
         "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["one"]}]},
        {"kind": "policyEffect", "value": "Disabled",
         "selectors": [{"kind": "policyDefinitionReferenceId", "notIn": ["one"]}]}]}),
    );
    ok(&e, &t, "PUT", &p, Some(b)).await;
    ok(
        &e,
        &t,
        "PUT",
        &vnet("rg-initiative", "vnet-2"),
        Some(vnet_body("westeurope")),
    )
    .await;
    assert_eq!(
        states(&e, &t, "rg-initiative").await,
        vec![(
            "one".to_string(),
            "audit".to_string(),
            "NonCompliant".to_string()
        )]
    );
}

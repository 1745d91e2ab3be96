//! Behaviour behind the spec examples beyond their shape: rollback on error redeploys the earlier
//! deployment in complete mode, template specs are read as the caller, external inputs must be
//! defined, zone peers line up through physical zones, reserved names, the Bicep export, the
//! template hash matching a deployment's, a namespace's resource types.

use crate::*;
use serde_json::{json, Value};

const API: &str = "api-version=2025-04-01";

fn rg_data() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data")
}

fn dep(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Resources/deployments/{name}?{API}",
        rg_data()
    )
}

fn storage_template(account: &str) -> Value {
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
                       "name": account, "location": "westeurope",
                       "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}]
    })
}

/// PUT, then the final state as GET shows it (the emulator's poll is terminal at once).
async fn deploy(e: &Emu, t: &str, name: &str, body: Value) -> Value {
    let r = e.call("PUT", &dep(name), Some(t), Some(body)).await;
    assert!(
        r.status == 200 || r.status == 201,
        "{} {}",
        r.status,
        r.body
    );
    let got = e.call("GET", &dep(name), Some(t), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    got.body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deployment_rolls_back_to_the_last_successful_one_in_complete_mode() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let good = deploy(
        &e,
        &t,
        "good",
        json!({"properties": {"mode": "Incremental", "template": storage_template("fabrikamdata")}}),
    )
    .await;
    assert_eq!(good["properties"]["provisioningState"], "Succeeded");
    // A container of an account that does not exist makes this one fail.
    let mut failing = storage_template("fabrikamdata");
    failing["resources"][0] = json!({
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers", "apiVersion": "2023-05-01",
        "name": "nosuchaccount/default/c"});
    let bad = deploy(
        &e,
        &t,
        "bad",
        json!({"properties": {"mode": "Incremental", "template": failing,
                              "onErrorDeployment": {"type": "LastSuccessful"}}}),
    )
    .await;
    assert_eq!(bad["properties"]["provisioningState"], "Failed", "{bad}");
    assert_eq!(
        bad["properties"]["onErrorDeployment"],
        json!({"type": "LastSuccessful", "deploymentName": "good", "provisioningState": "Succeeded"})
    );
    // The redeployment ran in complete mode: the key vault, not in "good", is gone.
    let kv = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.KeyVault/vaults/fabrikam-kv?api-version=2023-07-01",
                rg_data()
            ),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(kv.status, 404, "{}", kv.body);
    let good = e.call("GET", &dep("good"), Some(&t), None).await;
    assert_eq!(good.body["properties"]["mode"], "Complete");
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_needs_a_successful_deployment_in_the_group() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let body = |od: Value| {
        json!({"properties": {"mode": "Incremental", "template": storage_template("fabrikamdata"),
                              "onErrorDeployment": od}})
    };
    let r = e
        .call(
            "PUT",
            &dep("x"),
            Some(&t),
            Some(body(json!({"type": "LastSuccessful"}))),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "InvalidOnErrorDeployment");
    let r = e
        .call(
            "PUT",
            &dep("x"),
            Some(&t),
            Some(body(
                json!({"type": "SpecificDeployment", "deploymentName": "nope"}),
            )),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.code(), "DeploymentNotFound");
    // subscription-scope deployments cannot roll back
    let r = e
        .call(
            "PUT",
            &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Resources/deployments/x?{API}"),
            Some(&t),
            Some(json!({"location": "westeurope", "properties": {"mode": "Incremental",
                "template": {"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
                             "contentVersion": "1.0.0.0", "resources": []},
                "onErrorDeployment": {"type": "LastSuccessful"}}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn template_specs_are_read_as_the_caller() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let spec = format!(
        "{}/providers/Microsoft.Resources/templateSpecs/storage",
        rg_data()
    );
    for (path, body) in [
        (
            format!("{spec}?api-version=2022-02-01"),
            json!({"location": "westeurope", "properties": {}}),
        ),
        (
            format!("{spec}/versions/v1?api-version=2022-02-01"),
            json!({"location": "westeurope", "properties": {"mainTemplate": storage_template("specdeployed")}}),
        ),
    ] {
        let r = e.call("PUT", &path, Some(&admin), Some(body)).await;
        assert!(r.status < 300, "{} {}", r.status, r.body);
    }
    let link = json!({"properties": {"mode": "Incremental", "templateLink": {"id": format!("{spec}/versions/v1")}}});
    let got = deploy(&e, &admin, "from-spec", link.clone()).await;
    assert_eq!(got["properties"]["provisioningState"], "Succeeded", "{got}");
    assert_eq!(
        got["properties"]["templateLink"]["id"],
        format!("{spec}/versions/v1")
    );
    let sa = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/specdeployed?api-version=2023-05-01",
                rg_data()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(sa.status, 200);
    // a missing version: the read's own error
    let mut missing = link.clone();
    missing["properties"]["templateLink"]["id"] = json!(format!("{spec}/versions/v9"));
    let r = e
        .call("PUT", &dep("from-spec"), Some(&admin), Some(missing))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // the reader may not deploy at all
    let reader = e.token("reader@fabrikam").await;
    let r = e.call("PUT", &dep("r"), Some(&reader), Some(link)).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn external_inputs_feed_parameter_expressions() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"greeting": {"type": "string"}},
        "resources": [],
        "outputs": {"greeting": {"type": "string", "value": "[parameters('greeting')]"}}
    });
    let got = deploy(
        &e,
        &t,
        "inputs",
        json!({"properties": {
        "mode": "Incremental", "template": template,
        "externalInputDefinitions": {"who": {"kind": "sys.envVar", "config": "WHO"}},
        "externalInputs": {"who": {"value": "it's me"}},
        "parameters": {"greeting": {"expression": "[concat('hello, ', externalInputs('who'))]"}}}}),
    )
    .await;
    assert_eq!(
        got["properties"]["outputs"]["greeting"]["value"],
        "hello, it's me"
    );
    let r = e
        .call(
            "PUT",
            &dep("inputs"),
            Some(&t),
            Some(json!({"properties": {
                "mode": "Incremental", "template": template,
                "parameters": {"greeting": {"expression": "[externalInputs('who')]"}}}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'who'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn zone_peers_line_up_through_physical_zones() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let path = |sub: &str| {
        format!("/subscriptions/{sub}/providers/Microsoft.Resources/checkZonePeers?api-version=2022-12-01")
    };
    let r = e
        .call(
            "POST",
            &path(FABRIKAM_PROD),
            Some(&t),
            Some(json!({"location": "eastus", "subscriptionIds": [format!("subscriptions/{FABRIKAM_DEV}")]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let locations = |sub: &str| format!("/subscriptions/{sub}/locations?api-version=2022-12-01");
    let mine = e
        .call("GET", &locations(FABRIKAM_PROD), Some(&t), None)
        .await;
    let theirs = e
        .call("GET", &locations(FABRIKAM_DEV), Some(&t), None)
        .await;
    let zones = |v: &Value| -> Vec<(String, String)> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "eastus")
            .unwrap()["availabilityZoneMappings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["logicalZone"].as_str().unwrap().to_string(),
                    m["physicalZone"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (mine, theirs) = (zones(&mine.body), zones(&theirs.body));
    for peer in r.body["availabilityZonePeers"].as_array().unwrap() {
        let logical = peer["availabilityZone"].as_str().unwrap();
        let physical = &mine.iter().find(|(l, _)| l == logical).unwrap().1;
        let their_logical = &theirs.iter().find(|(_, p)| p == physical).unwrap().0;
        assert_eq!(
            peer["peers"][0]["availabilityZone"].as_str().unwrap(),
            their_logical
        );
        assert_eq!(peer["peers"][0]["subscriptionId"], FABRIKAM_DEV);
    }
    let r = e
        .call(
            "POST",
            &path(FABRIKAM_PROD),
            Some(&t),
            Some(json!({"location": "atlantis", "subscriptionIds": []})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_names_and_the_template_hash() {
    let e = emu().await;
    let t = e.token("reader@fabrikam").await;
    let check = |name: &str| json!({"name": name, "type": "Microsoft.Web/sites"});
    for (name, want) in [("contoso-shop", "Allowed"), ("microsoftshop", "Reserved")] {
        let r = e
            .call(
                "POST",
                "/providers/Microsoft.Resources/checkResourceName?api-version=2022-12-01",
                Some(&t),
                Some(check(name)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], want, "{name}");
    }
    // calculateTemplateHash gives the templateHash a deployment of the same template reports
    let admin = e.token("admin@fabrikam").await;
    let template = storage_template("fabrikamdata");
    let h = e
        .call(
            "POST",
            &format!("/providers/Microsoft.Resources/calculateTemplateHash?{API}"),
            Some(&admin),
            Some(template.clone()),
        )
        .await;
    assert_eq!(h.status, 200, "{}", h.body);
    let got = deploy(
        &e,
        &admin,
        "hashed",
        json!({"properties": {"mode": "Incremental", "template": template}}),
    )
    .await;
    assert_eq!(h.body["templateHash"], got["properties"]["templateHash"]);
    assert!(h.body["minifiedTemplate"]
        .as_str()
        .unwrap()
        .contains("\"FABRIKAMDATA\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn export_as_bicep_and_a_namespace_s_resource_types() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "POST",
            &format!("{}/exportTemplate?{API}", rg_data()),
            Some(&t),
            Some(json!({"resources": ["*"], "outputFormat": "Bicep"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let bicep = r.body["output"].as_str().unwrap();
    assert!(
        bicep.contains("param storageAccounts_fabrikamdata_name string = 'fabrikamdata'"),
        "{bicep}"
    );
    assert!(bicep.contains("resource storageAccounts_fabrikamdata_name_resource 'Microsoft.Storage/storageAccounts@"), "{bicep}");
    assert!(
        bicep.contains("  name: storageAccounts_fabrikamdata_name\n"),
        "{bicep}"
    );
    assert!(r.body.get("template").is_none());

    let r = e
        .call(
            "GET",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Storage/resourceTypes?{API}"
            ),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sa = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resourceType"] == "storageAccounts")
        .unwrap();
    assert_eq!(sa["defaultApiVersion"], "2023-05-01");
    let r = e
        .call(
            "GET",
            &format!(
                "/subscriptions/{FABRIKAM_PROD}/providers/Contoso.Nothing/resourceTypes?{API}"
            ),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

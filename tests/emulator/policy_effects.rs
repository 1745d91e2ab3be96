//! Azure Policy effects in the request pipeline, proven with the Lighthouse policy samples
//! (tests/templates/lighthouse, unmodified) deployed by template, then direct writes and template
//! deployments refused, changed or audited — as the customer admin and as the provider through its
//! delegation — plus DoNotEnforce, exemptions, notScopes, denyAction and deployIfNotExists run as the
//! assignment's managed identity with its own RBAC.

use crate::*;
use lighthouse_emulator::clock::arm_time;
use serde_json::{json, Value};

const DEP_API: &str = "api-version=2021-04-01";
const POL_API: &str = "api-version=2023-04-01";
const SA_API: &str = "api-version=2023-05-01";
const NET_API: &str = "api-version=2024-05-01";
const NORTHWIND: &str = "10000000-0000-0000-0000-000000000003";

fn load(rel: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/templates/lighthouse/templates")
        .join(rel);
    // (some samples carry comments: ARM reads templates as JSONC)
    json5::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn sub(s: &str) -> String {
    format!("/subscriptions/{s}")
}

/// PUT a deployment at `scope` (a subscription or group) and return it once terminal.
async fn deploy(
    e: &Emu,
    t: &str,
    scope: &str,
    name: &str,
    template: Value,
    params: Value,
) -> Value {
    let path = format!("{scope}/providers/Microsoft.Resources/deployments/{name}?{DEP_API}");
    let r = e
        .call(
            "PUT",
            &path,
            Some(t),
            Some(json!({"location": "westeurope",
            "properties": {"mode": "Incremental", "template": template, "parameters": params}})),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    e.call("GET", &path, Some(t), None).await.body
}

fn storage(https: bool) -> Value {
    json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
           "properties": {"supportsHttpsTrafficOnly": https}})
}

fn policy_events(e: &Emu) -> String {
    let now = e.app.clock.now();
    let f = format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        arm_time(now - time::Duration::hours(1)),
        arm_time(now + time::Duration::hours(1))
    );
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("api-version", "2015-04-01");
    q.append_pair("$filter", &f);
    format!(
        "/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Insights/eventtypes/management/values?{}",
        q.finish()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn enforce_https_storage_refuses_the_customer_and_the_provider() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let d = deploy(
        &e,
        &admin,
        &sub(FABRIKAM_PROD),
        "https",
        load("policy-enforce-https-storage/enforceHttpsStorage.json"),
        json!({}),
    )
    .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    let sa = |n: &str| {
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/{n}?{SA_API}")
    };

    let r = e
        .call("PUT", &sa("plainhttp1"), Some(&admin), Some(storage(false)))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("Resource 'plainhttp1' was disallowed by policy. Policy identifiers: '[{\"policyAssignment\":{\"name\":\"Enforce https traffic only for storage account\",\"id\":\"/subscriptions/20000000-0000-0000-0000-000000002001/providers/Microsoft.Authorization/policyAssignments/enforce-https-storage-assignment\"},\"policyDefinition\":{\"name\":\"Enforce https traffic-only for storage account\""), "{msg}");
    assert_eq!(r.body["error"]["target"], "plainhttp1");
    let info = &r.body["error"]["additionalInfo"][0];
    assert_eq!(info["type"], "PolicyViolation");
    assert_eq!(
        info["info"]["policyDefinitionName"],
        "enforce-https-storage"
    );
    assert_eq!(info["info"]["policyDefinitionEffect"], "Deny");
    assert_eq!(
        info["info"]["policyAssignmentName"],
        "enforce-https-storage-assignment"
    );
    assert_eq!(info["info"]["policyAssignmentScope"], sub(FABRIKAM_PROD));
    let ev = info["info"]["evaluationDetails"]["evaluatedExpressions"]
        .as_array()
        .unwrap();
    assert_eq!(ev[0]["expression"], "type");
    assert!(
        r.header("x-ms-emulator-decision")
            .contains("enforce-https-storage-assignment"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    // nothing stored
    assert_eq!(
        e.call("GET", &sa("plainhttp1"), Some(&admin), None)
            .await
            .status,
        404
    );

    // the refusal is in the activity log as a Policy deny event (level Error)
    let log = e.call("GET", &policy_events(&e), Some(&admin), None).await;
    let deny: Vec<&Value> = log.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["operationName"]["value"] == "Microsoft.Authorization/policies/deny/action")
        .collect();
    assert_eq!(deny.len(), 1, "{}", log.body);
    assert_eq!(deny[0]["level"], "Error");
    assert_eq!(deny[0]["category"]["value"], "Policy");
    assert!(deny[0]["properties"]["policies"]
        .as_str()
        .unwrap()
        .contains("enforce-https-storage-assignment"));
    // explain names the assignment that would refuse it, without writing
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({"principal": "alice", "method": "PUT",
        "url": format!("https://localhost{}", sa("plainhttp1")), "body": storage(false)})),
        )
        .await;
    assert_eq!(x.body["decision"], "denied", "{}", x.body);
    let policy = x.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "policy")
        .unwrap()
        .clone();
    assert_eq!(policy["code"], "RequestDisallowedByPolicy");
    assert!(policy["policies"][0]["policyAssignmentId"]
        .as_str()
        .unwrap()
        .ends_with("/enforce-https-storage-assignment"));
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({"principal": "alice", "method": "PUT",
        "url": format!("https://localhost{}", sa("plainhttp1")), "body": storage(true)})),
        )
        .await;
    assert_eq!(x.body["decision"], "allowed", "{}", x.body);
    let ok = e
        .call("PUT", &sa("securehttp1"), Some(&admin), Some(storage(true)))
        .await;
    assert!(ok.status < 300, "{} {}", ok.status, ok.body);

    // the provider, through its Contributor delegation, is refused by the customer's policy too
    let alice = e.token("alice").await;
    let r = e
        .call("PUT", &sa("plainhttp2"), Some(&alice), Some(storage(false)))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
    // and a PATCH that would turn https off is judged on the merged resource
    let r = e
        .call(
            "PATCH",
            &sa("securehttp1"),
            Some(&alice),
            Some(json!({"properties": {"supportsHttpsTrafficOnly": false}})),
        )
        .await;
    assert_eq!(r.code(), "RequestDisallowedByPolicy", "{}", r.body);
    let r = e
        .call(
            "PATCH",
            &sa("securehttp1"),
            Some(&alice),
            Some(json!({"tags": {"a": "b"}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);

    // a template deployment's resources re-enter the pipeline: the deployment fails on the policy
    let tpl = json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
        "name": "plainhttp3", "location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
        "properties": {"supportsHttpsTrafficOnly": false}}]});
    // validate and what-if report the refusal without writing
    let rg_data = format!("{}/resourceGroups/rg-data", sub(FABRIKAM_PROD));
    let dep =
        |op: &str| format!("{rg_data}/providers/Microsoft.Resources/deployments/sa/{op}?{DEP_API}");
    let req = json!({"properties": {"mode": "Incremental", "template": tpl.clone()}});
    let v = e
        .call("POST", &dep("validate"), Some(&alice), Some(req.clone()))
        .await;
    assert_eq!(v.status, 400, "{}", v.body);
    assert_eq!(v.code(), "InvalidTemplateDeployment");
    assert_eq!(v.body["error"]["message"], "The template deployment failed because of policy violation. Please see details for more information.");
    assert_eq!(
        v.body["error"]["details"][0]["code"],
        "RequestDisallowedByPolicy"
    );
    assert_eq!(
        v.body["error"]["details"][0]["additionalInfo"][0]["type"],
        "PolicyViolation"
    );
    let w = e
        .call("POST", &dep("whatIf"), Some(&alice), Some(req))
        .await;
    assert_eq!(w.body["status"], "Failed", "{}", w.body);
    assert_eq!(
        w.body["error"]["details"][0]["code"],
        "RequestDisallowedByPolicy"
    );
    // the deployment's PUT is refused by the same preflight
    let put = format!("{rg_data}/providers/Microsoft.Resources/deployments/sa?{DEP_API}");
    let r = e
        .call(
            "PUT",
            &put,
            Some(&alice),
            Some(json!({"properties": {"mode": "Incremental", "template": tpl}})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidTemplateDeployment"),
        "{}",
        r.body
    );
    // a resource whose body needs another's runtime state passes preflight and is refused when it
    // re-enters the pipeline: the deployment fails on it
    let tpl = json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "resources": [
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet-ref", "location": "westeurope",
         "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}},
        {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "dependsOn": ["vnet-ref"],
         "name": "plainhttp3", "location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
         "properties": {"supportsHttpsTrafficOnly": "[not(equals(reference('vnet-ref').addressSpace.addressPrefixes[0], '10.1.0.0/16'))]"}}]});
    let d = deploy(&e, &alice, &rg_data, "sa", tpl, json!({})).await;
    assert_eq!(d["properties"]["provisioningState"], "Failed", "{d}");
    assert!(d.to_string().contains("RequestDisallowedByPolicy"), "{d}");
    assert_eq!(
        e.call("GET", &sa("plainhttp3"), Some(&admin), None)
            .await
            .status,
        404
    );

    // DoNotEnforce lets the write through
    let a = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyAssignments/enforce-https-storage-assignment?{POL_API}");
    let r = e
        .call(
            "PATCH",
            &a,
            Some(&admin),
            Some(json!({"properties": {"enforcementMode": "DoNotEnforce"}})),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let r = e
        .call("PUT", &sa("plainhttp4"), Some(&admin), Some(storage(false)))
        .await;
    assert!(r.status < 300, "DoNotEnforce: {} {}", r.status, r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn exemptions_and_not_scopes_exclude_and_a_non_compliance_message_is_the_reason() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    deploy(
        &e,
        &admin,
        &sub(FABRIKAM_PROD),
        "https",
        load("policy-enforce-https-storage/enforceHttpsStorage.json"),
        json!({}),
    )
    .await;
    let a = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyAssignments/enforce-https-storage-assignment");
    let r = e.call("PUT", &format!("{a}?{POL_API}"), Some(&admin), Some(json!({"properties": {
        "policyDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyDefinitions/enforce-https-storage"),
        "notScopes": [format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web")],
        "nonComplianceMessages": [{"message": "Storage must be https only."}]}}))).await;
    assert!(r.status < 300, "{}", r.body);
    let sa = |rg: &str, n: &str| {
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{n}?{SA_API}")
    };
    let r = e
        .call(
            "PUT",
            &sa("rg-data", "plainhttp5"),
            Some(&admin),
            Some(storage(false)),
        )
        .await;
    assert_eq!(r.body["error"]["message"], "Resource 'plainhttp5' was disallowed by policy. Reasons: 'Storage must be https only.'. See error details for policy resource IDs.");
    let r = e
        .call(
            "PUT",
            &sa("rg-web", "plainhttp6"),
            Some(&admin),
            Some(storage(false)),
        )
        .await;
    assert!(r.status < 300, "notScopes: {} {}", r.status, r.body);
    // an exemption at rg-data
    let x = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Authorization/policyExemptions/waiver?api-version=2022-07-01-preview");
    let r = e
        .call(
            "PUT",
            &x,
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": a, "exemptionCategory": "Waiver"}})),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let r = e
        .call(
            "PUT",
            &sa("rg-data", "plainhttp7"),
            Some(&admin),
            Some(storage(false)),
        )
        .await;
    assert!(r.status < 300, "exempt: {} {}", r.status, r.body);
    // expired, it no longer applies
    let r = e.call("PUT", &x, Some(&admin), Some(json!({"properties": {"policyAssignmentId": a, "exemptionCategory": "Waiver", "expiresOn": "2020-01-01T00:00:00Z"}}))).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let r = e
        .call(
            "PUT",
            &sa("rg-data", "plainhttp8"),
            Some(&admin),
            Some(storage(false)),
        )
        .await;
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_certain_managing_tenants_refuses_an_onboarding_to_another_tenant() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let d = deploy(
        &e,
        &admin,
        &sub(FABRIKAM_DEV),
        "allow",
        load("policy-allow-certain-managing-tenants/policyAllowCertainTenantIds.json"),
        json!({"listOfAllowedTenants": {"value": [CONTOSO]}}),
    )
    .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    let def = |tenant: &str| {
        json!({"properties": {"registrationDefinitionName": "ops", "managedByTenantId": tenant,
        "authorizations": [{"principalId": "30000000-0000-0000-0000-000000001101", "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c"}]}})
    };
    let path = |id: &str| {
        format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{id}?api-version=2022-10-01")
    };
    let r = e
        .call(
            "PUT",
            &path("51000000-0000-0000-0000-000000000001"),
            Some(&admin),
            Some(def(NORTHWIND)),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Enforce-Managing-Tenant-IDs-def-assignments"));
    let r = e
        .call(
            "PUT",
            &path("51000000-0000-0000-0000-000000000002"),
            Some(&admin),
            Some(def(CONTOSO)),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    // the onboarding sample, by template, to a tenant not on the list: the deployment fails
    let tpl = load("delegated-resource-management/subscription/subscription.json");
    let mut p = load("delegated-resource-management/subscription/subscription.parameters.json")
        ["parameters"]
        .clone();
    p["managedByTenantId"]["value"] = json!(NORTHWIND);
    for a in p["authorizations"]["value"].as_array_mut().unwrap() {
        a["principalId"] = json!("30000000-0000-0000-0000-000000003111");
    }
    let r = e
        .call("PUT", &format!("{}/providers/Microsoft.Resources/deployments/onboard-nw?{DEP_API}", sub(FABRIKAM_DEV)),
            Some(&admin), Some(json!({"location": "westeurope", "properties": {"mode": "Incremental", "template": tpl.clone(), "parameters": p.clone()}})))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidTemplateDeployment"),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["error"]["details"][0]["code"],
        "RequestDisallowedByPolicy"
    );
    p["managedByTenantId"]["value"] = json!(CONTOSO);
    for a in p["authorizations"]["value"].as_array_mut().unwrap() {
        a["principalId"] = json!("30000000-0000-0000-0000-000000001101");
    }
    let d = deploy(&e, &admin, &sub(FABRIKAM_DEV), "onboard-contoso", tpl, p).await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn add_or_replace_tag_modifies_a_vm_as_it_is_written() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let d = deploy(
        &e,
        &admin,
        &sub(FABRIKAM_PROD),
        "tags",
        load("policy-add-or-replace-tag/addOrReplaceTag.json"),
        json!({}),
    )
    .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    let vm = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01?api-version=2024-07-01");
    let r = e
        .call(
            "PATCH",
            &vm,
            Some(&admin),
            Some(json!({"tags": {"env": "prod"}})),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    assert_eq!(
        r.body["tags"],
        json!({"env": "prod", "managedByTenant": "Lighthouse"}),
        "{}",
        r.body
    );
    assert!(
        r.header("x-ms-emulator-decision")
            .contains("modified by policy assignment 'CRUD-tags'"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    // a new VM gets the tag on create (the current body put again under a new name)
    let mut body = e.call("GET", &vm, Some(&admin), None).await.body;
    body["tags"] = json!({});
    let r = e.call("PUT", &vm, Some(&admin), Some(body)).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    assert_eq!(
        r.body["tags"]["managedByTenant"], "Lighthouse",
        "{}",
        r.body
    );
    // other types are left alone
    let vnet = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet-tagless?{NET_API}");
    let r = e.call("PUT", &vnet, Some(&admin), Some(json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}}))).await;
    assert!(r.status < 300, "{}", r.body);
    assert!(
        r.body["tags"].get("managedByTenant").is_none(),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_initiative_denies_by_location_and_audits_by_type() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let d = deploy(
        &e,
        &admin,
        &sub(FABRIKAM_PROD),
        "initiative",
        load("policy-initiative/armPolicyInitiative.json"),
        json!({
        "policyInitiativeName": {"value": "restrictive"}, "deniedLocation": {"value": "eastus"},
        "deniedResource": {"value": "Microsoft.Network/publicIPAddresses"}}),
    )
    .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    let set_id = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policySetDefinitions/restrictive");
    let a = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/policyAssignments/restrictive-web?{POL_API}");
    let r = e
        .call(
            "PUT",
            &a,
            Some(&admin),
            Some(
                json!({"properties": {"policyDefinitionId": set_id, "displayName": "Restrictive"}}),
            ),
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let net =
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network");
    let r = e.call("PUT", &format!("{net}/virtualNetworks/vnet-east?{NET_API}"), Some(&admin), Some(json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.8.0.0/16"]}}}))).await;
    assert_eq!(r.code(), "RequestDisallowedByPolicy", "{}", r.body);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("\"policySetDefinition\":{\"name\":\"Restrictive Policy Initiative\""),
        "{msg}"
    );
    assert_eq!(
        r.body["error"]["additionalInfo"][0]["info"]["policySetDefinitionName"],
        "restrictive"
    );
    // elsewhere in the subscription the initiative does not reach
    let other = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Network/virtualNetworks/vnet-east?{NET_API}");
    let r = e.call("PUT", &other, Some(&admin), Some(json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.8.0.0/16"]}}}))).await;
    assert!(r.status < 300, "{}", r.body);
    // audit: allowed, with the Policy event in the activity log
    let r = e.call("PUT", &format!("{net}/publicIPAddresses/pip-audited?{NET_API}"), Some(&admin), Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}))).await;
    assert!(r.status < 300, "{}", r.body);
    assert!(
        r.header("x-ms-emulator-decision")
            .contains("audited by policy assignment 'restrictive-web'"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    let log = e.call("GET", &policy_events(&e), Some(&admin), None).await;
    let audit: Vec<&Value> = log.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["operationName"]["value"] == "Microsoft.Authorization/policies/audit/action")
        .collect();
    assert_eq!(audit.len(), 1, "{}", log.body);
    assert_eq!(audit[0]["category"]["value"], "Policy");
    assert_eq!(audit[0]["level"], "Warning");
    assert!(
        audit[0]["resourceId"]
            .as_str()
            .unwrap()
            .ends_with("/publicIPAddresses/pip-audited"),
        "{}",
        audit[0]
    );
    assert!(audit[0]["properties"]["policies"]
        .as_str()
        .unwrap()
        .contains("restrictive-web"));
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_action_stops_a_delete() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let def = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyDefinitions/keep-vnets");
    let r = e.call("PUT", &format!("{def}?{POL_API}"), Some(&admin), Some(json!({"properties": {"mode": "Indexed",
        "policyRule": {"if": {"field": "type", "equals": "Microsoft.Network/virtualNetworks"},
                       "then": {"effect": "denyAction", "details": {"actionNames": ["delete"]}}}}}))).await;
    assert!(r.status < 300, "{}", r.body);
    let a = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyAssignments/keep-vnets?{POL_API}");
    let r = e
        .call(
            "PUT",
            &a,
            Some(&admin),
            Some(json!({"properties": {"policyDefinitionId": def}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let vnet = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet-web?{NET_API}");
    let r = e.call("DELETE", &vnet, Some(&admin), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "RequestDisallowedByPolicy");
    assert_eq!(e.call("GET", &vnet, Some(&admin), None).await.status, 200);
    // writes are not refused by it
    let r = e
        .call(
            "PATCH",
            &vnet,
            Some(&admin),
            Some(json!({"tags": {"x": "y"}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_if_not_exists_runs_as_the_managed_identity_with_its_own_roles() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let def = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyDefinitions/nsg-per-group");
    let rule = json!({"properties": {"mode": "Indexed", "policyRule": {
        "if": {"field": "type", "equals": "Microsoft.Network/virtualNetworks"},
        "then": {"effect": "deployIfNotExists", "details": {
            "type": "Microsoft.Network/networkSecurityGroups", "name": "nsg-policy",
            "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"],
            "deployment": {"properties": {"mode": "incremental", "parameters": {"loc": {"value": "[field('location')]"}}, "template": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "parameters": {"loc": {"type": "string"}},
                "resources": [{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01",
                               "name": "nsg-policy", "location": "[parameters('loc')]", "properties": {}}]}}}}}}}});
    let r = e
        .call("PUT", &format!("{def}?{POL_API}"), Some(&admin), Some(rule))
        .await;
    assert!(r.status < 300, "{}", r.body);
    let a = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyAssignments/nsg-per-group?{POL_API}");
    let r = e
        .call(
            "PUT",
            &a,
            Some(&admin),
            Some(
                json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
        "properties": {"policyDefinitionId": def}}),
            ),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let principal = r.body["identity"]["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    let net = |rg: &str| {
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/{rg}/providers/Microsoft.Network")
    };
    let vnet_body = json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.6.0.0/16"]}}});
    // without a role the identity's deployment is refused; the write stands
    let r = e
        .call(
            "PUT",
            &format!("{}/virtualNetworks/vnet-a?{NET_API}", net("rg-web")),
            Some(&admin),
            Some(vnet_body.clone()),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let nsg = |rg: &str| format!("{}/networkSecurityGroups/nsg-policy?{NET_API}", net(rg));
    assert_eq!(
        e.call("GET", &nsg("rg-web"), Some(&admin), None)
            .await
            .status,
        404
    );
    // the customer grants Network Contributor to the identity at rg-data; a write there deploys
    let ra = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Authorization/roleAssignments/7a000000-0000-0000-0000-000000000001?api-version=2022-04-01");
    let r = e.call("PUT", &ra, Some(&admin), Some(json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"),
        "principalId": principal, "principalType": "ServicePrincipal"}}))).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let r = e
        .call(
            "PUT",
            &format!("{}/virtualNetworks/vnet-b?{NET_API}", net("rg-data")),
            Some(&admin),
            Some(vnet_body.clone()),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let got = e.call("GET", &nsg("rg-data"), Some(&admin), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["systemData"]["createdBy"], principal);
    assert_eq!(got.body["systemData"]["createdByType"], "ManagedIdentity");
    // rg-web still has none: its identity has no role there
    assert_eq!(
        e.call("GET", &nsg("rg-web"), Some(&admin), None)
            .await
            .status,
        404
    );
}

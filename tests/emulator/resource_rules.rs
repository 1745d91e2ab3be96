//! Issue 9 items 1–5: global names, platform-owned objects, locations and names, create statuses, and
//! child resources kept in their parent's body — through the real server as the world's principals.

use serde_json::json;

use super::*;

const TAILSPIN_PROD: &str = "20000000-0000-0000-0000-000000004001";
const SA_API: &str = "api-version=2023-05-01";
const KV_API: &str = "api-version=2023-07-01";
const NET_API: &str = "api-version=2023-09-01";
const RG_API: &str = "api-version=2024-11-01";

fn rg(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

async fn put_rg(e: &Emu, t: &str, sub: &str, name: &str) {
    let r = e
        .call(
            "PUT",
            &format!("{}?{RG_API}", rg(sub, name)),
            Some(t),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn global_names_are_taken_in_every_tenant_and_name_checks_agree_with_put() {
    let e = emu().await;
    let alice = e.token("alice").await;
    put_rg(&e, &alice, FABRIKAM_PROD, "rg-alice").await;
    let sa = |sub: &str, group: &str, name: &str| {
        format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{name}?{SA_API}",
            rg(sub, group)
        )
    };
    let body =
        json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}});
    // alice, delegated Contributor, in her own group of fabrikam-prod
    let r = e
        .call(
            "PUT",
            &sa(FABRIKAM_PROD, "rg-alice", "fabrikamdata"),
            Some(&alice),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "StorageAccountAlreadyTaken"),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["error"]["message"],
        "The storage account named fabrikamdata is already taken."
    );
    // names are case-insensitive
    let r = e
        .call(
            "PUT",
            &sa(FABRIKAM_PROD, "rg-alice", "FabrikamData"),
            Some(&alice),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        r.code(),
        "AccountNameInvalid",
        "upper case is invalid first"
    );
    let kv = format!(
        "{}/providers/Microsoft.KeyVault/vaults/fabrikam-kv?{KV_API}",
        rg(FABRIKAM_PROD, "rg-alice")
    );
    let r = e
        .call("PUT", &kv, Some(&alice), Some(json!({"location": "westeurope", "properties": {"tenantId": FABRIKAM, "sku": {"family": "A", "name": "standard"}}})))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "VaultAlreadyExists"),
        "{}",
        r.body
    );
    // another tenant altogether
    let nw = e.token("northwind-ci").await;
    let r = e
        .call(
            "PUT",
            &sa(NORTHWIND_MAIN, "rg-private", "fabrikamdata"),
            Some(&nw),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.code(), "StorageAccountAlreadyTaken");
    // the owner updates its own account as before
    let admin = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &sa(FABRIKAM_PROD, "rg-data", "fabrikamdata"),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // checkNameAvailability says the same, from any subscription
    let check = |sub: &str, ns: &str, name: &str, ty: &str| {
        (
            format!("/subscriptions/{sub}/providers/{ns}/checkNameAvailability?{SA_API}"),
            json!({"name": name, "type": ty}),
        )
    };
    for (sub, ns, name, ty, available, reason) in [
        (
            NORTHWIND_MAIN,
            "Microsoft.Storage",
            "fabrikamdata",
            "Microsoft.Storage/storageAccounts",
            false,
            "AlreadyExists",
        ),
        (
            NORTHWIND_MAIN,
            "Microsoft.Storage",
            "freshname01",
            "Microsoft.Storage/storageAccounts",
            true,
            "",
        ),
        (
            NORTHWIND_MAIN,
            "Microsoft.Storage",
            "Bad_Name",
            "Microsoft.Storage/storageAccounts",
            false,
            "AccountNameInvalid",
        ),
        (
            NORTHWIND_MAIN,
            "Microsoft.KeyVault",
            "fabrikam-kv",
            "Microsoft.KeyVault/vaults",
            false,
            "AlreadyExists",
        ),
        (
            NORTHWIND_MAIN,
            "Microsoft.KeyVault",
            "1-bad",
            "Microsoft.KeyVault/vaults",
            false,
            "AccountNameInvalid",
        ),
    ] {
        let (path, b) = check(sub, ns, name, ty);
        let r = e.call("POST", &path, Some(&nw), Some(b)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["nameAvailable"], available, "{name}: {}", r.body);
        if !available {
            assert_eq!(r.body["reason"], reason, "{name}");
        }
    }
    // and PUT refuses the invalid name the check calls invalid
    let r = e
        .call(
            "PUT",
            &sa(FABRIKAM_PROD, "rg-alice", "Bad_Name"),
            Some(&alice),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "AccountNameInvalid"),
        "{}",
        r.body
    );
    // a fresh name is accepted once, then taken for everyone else
    let r = e
        .call(
            "PUT",
            &sa(FABRIKAM_PROD, "rg-alice", "alicedata01"),
            Some(&alice),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &sa(NORTHWIND_MAIN, "rg-private", "alicedata01"),
            Some(&nw),
            Some(body),
        )
        .await;
    assert_eq!(r.code(), "StorageAccountAlreadyTaken");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_managed_applications_group_takes_its_deny_assignment() {
    let e = emu().await;
    let alice = e.token("alice").await;
    let admin = e.token("admin@tailspin").await;
    let mrg = rg(TAILSPIN_PROD, "mrg-tailspin-app");
    let vnet = format!("{mrg}/providers/Microsoft.Network/virtualNetworks/v1?{NET_API}");
    let r = e
        .call(
            "PUT",
            &vnet,
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(
        r.code(),
        "DenyAssignmentAuthorizationFailed",
        "before: {}",
        r.body
    );
    // alice (delegated) deletes the application's group
    let r = e
        .call(
            "DELETE",
            &format!("{}?{RG_API}", rg(TAILSPIN_PROD, "rg-apps")),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // the managed resource group and its deny assignment went with the application
    let r = e
        .call("GET", &format!("{mrg}?{RG_API}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = e.call("GET", &format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"), Some(&admin), None).await;
    assert_eq!(r.body["value"], json!([]), "{}", r.body);
    // and the Owner may use the name again
    put_rg(&e, &admin, TAILSPIN_PROD, "mrg-tailspin-app").await;
    let r = e
        .call(
            "PUT",
            &vnet,
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_mode_deployment_takes_the_application_and_what_it_owns() {
    let e = emu().await;
    let admin = e.token("admin@tailspin").await;
    let dep = format!(
        "{}/providers/Microsoft.Resources/deployments/empty?api-version=2024-03-01",
        rg(TAILSPIN_PROD, "rg-apps")
    );
    let template = json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                          "contentVersion": "1.0.0.0", "resources": []});
    let r = e
        .call(
            "PUT",
            &dep,
            Some(&admin),
            Some(json!({"properties": {"mode": "Complete", "template": template}})),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
    let app = format!(
        "{}/providers/Microsoft.Solutions/applications/tailspin-app?api-version=2021-07-01",
        rg(TAILSPIN_PROD, "rg-apps")
    );
    assert_eq!(e.call("GET", &app, Some(&admin), None).await.status, 404);
    let r = e.call("GET", &format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"), Some(&admin), None).await;
    assert_eq!(r.body["value"], json!([]), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_locations_are_refused_and_known_ones_normalised() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let r = e
        .call(
            "PUT",
            &format!("{}?{RG_API}", rg(FABRIKAM_PROD, "rg-mars")),
            Some(&t),
            Some(json!({"location": "marsnorth"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "LocationNotAvailableForResourceGroup"),
        "{}",
        r.body
    );
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("The provided location 'marsnorth' is not available for resource group. List of available regions is '"), "{msg}");
    assert!(msg.contains("westeurope"), "{msg}");
    let r = e
        .call(
            "PUT",
            &format!("{}?{RG_API}", rg(FABRIKAM_PROD, "rg-global")),
            Some(&t),
            Some(json!({"location": "global"})),
        )
        .await;
    assert_eq!(r.code(), "LocationNotAvailableForResourceGroup");
    let r = e
        .call(
            "PUT",
            &format!("{}?{RG_API}", rg(FABRIKAM_PROD, "rg-we")),
            Some(&t),
            Some(json!({"location": "West Europe"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["location"].as_str()),
        (201, Some("westeurope")),
        "{}",
        r.body
    );
    let vnet = |name: &str| {
        format!(
            "{}/providers/Microsoft.Network/virtualNetworks/{name}?{NET_API}",
            rg(FABRIKAM_PROD, "rg-we")
        )
    };
    let r = e
        .call(
            "PUT",
            &vnet("v1"),
            Some(&t),
            Some(json!({"location": "marsnorth"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "LocationNotAvailableForResourceType"),
        "{}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'Microsoft.Network/virtualNetworks'"));
    let zone = format!(
        "{}/providers/Microsoft.Network/dnsZones/contoso.example?api-version=2018-05-01",
        rg(FABRIKAM_PROD, "rg-we")
    );
    let r = e
        .call("PUT", &zone, Some(&t), Some(json!({"location": "global"})))
        .await;
    assert!(r.status < 300, "global resources: {}", r.body);
    // names by the type's rule
    let r = e
        .call(
            "PUT",
            &vnet("-bad"),
            Some(&t),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidResourceName"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_answer_the_statuses_their_specs_list() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let admin = e.token("admin@fabrikam").await;
    let group = rg(FABRIKAM_PROD, "rg-web");
    let vnet = format!("{group}/providers/Microsoft.Network/virtualNetworks/vnet-web");
    for (who, path, body, create) in [
        // Microsoft.Security pricings, Microsoft.Insights metricAlerts and diagnosticSettings: 200 only
        (&admin, format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Security/pricings/VirtualMachines?api-version=2024-01-01"),
         json!({"properties": {"pricingTier": "Standard"}}), 200),
        (&t, format!("{group}/providers/Microsoft.Insights/metricAlerts/cpu?api-version=2018-03-01"),
         json!({"location": "global", "properties": {"severity": 3, "enabled": true, "scopes": [vnet], "evaluationFrequency": "PT1M", "windowSize": "PT5M", "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", "allOf": []}}}), 200),
        (&t, format!("{vnet}/providers/Microsoft.Insights/diagnosticSettings/diag?api-version=2021-05-01-preview"),
         json!({"properties": {"logs": [], "metrics": []}}), 200),
        // the network provider lists 201
        (&t, format!("{group}/providers/Microsoft.Network/networkSecurityGroups/nsg1?{NET_API}"),
         json!({"location": "westeurope"}), 201),
    ] {
        let r = e.call("PUT", &path, Some(who), Some(body.clone())).await;
        assert_eq!(r.status, create, "{path}: {}", r.body);
        let r = e.call("PUT", &path, Some(who), Some(body)).await;
        assert_eq!(r.status, 200, "{path} again: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn subnets_and_rules_are_one_object_seen_from_the_parent_and_on_their_own() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let vnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-kids",
        rg(FABRIKAM_PROD, "rg-web")
    );
    let r = e
        .call(
            "PUT",
            &format!("{vnet}?{NET_API}"),
            Some(&t),
            Some(json!({"location": "westeurope", "properties": {
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [{"name": "default", "properties": {"addressPrefix": "10.9.0.0/24"}},
                        {"name": "apps", "properties": {"addressPrefix": "10.9.1.0/24"}}]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["properties"]["subnets"][0]["id"],
        format!("{vnet}/subnets/default")
    );
    let list = e
        .call("GET", &format!("{vnet}/subnets?{NET_API}"), Some(&t), None)
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let names: Vec<&str> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "apps"]);
    let one = e
        .call(
            "GET",
            &format!("{vnet}/subnets/DEFAULT?{NET_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(
        one.body["type"],
        "Microsoft.Network/virtualNetworks/subnets"
    );
    assert_eq!(one.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(one.body["properties"]["addressPrefix"], "10.9.0.0/24");
    assert!(one.body["etag"].is_string());
    // a child PUT shows in the parent's body, and the parent's etag changes with it
    let r = e
        .call(
            "PUT",
            &format!("{vnet}/subnets/data?{NET_API}"),
            Some(&t),
            Some(json!({"properties": {"addressPrefix": "10.9.2.0/24"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &format!("{vnet}/subnets/apps?{NET_API}"),
            Some(&t),
            Some(json!({"properties": {"addressPrefix": "10.9.3.0/24"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let parent = e
        .call("GET", &format!("{vnet}?{NET_API}"), Some(&t), None)
        .await;
    let subnets = parent.body["properties"]["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 3);
    assert_eq!(subnets[1]["properties"]["addressPrefix"], "10.9.3.0/24");
    assert_eq!(parent.body["etag"], r.body["etag"]);
    // DELETE of the child removes it from the parent
    let r = e
        .call(
            "DELETE",
            &format!("{vnet}/subnets/default?{NET_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = e
        .call(
            "GET",
            &format!("{vnet}/subnets/default?{NET_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "NotFound"), "{}", r.body);
    let parent = e
        .call("GET", &format!("{vnet}?{NET_API}"), Some(&t), None)
        .await;
    assert_eq!(
        parent.body["properties"]["subnets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // a missing parent
    let r = e
        .call(
            "GET",
            &format!("{vnet}-none/subnets?{NET_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "ResourceNotFound"),
        "{}",
        r.body
    );
    // security rules of a network security group, the same way
    let nsg = format!(
        "{}/providers/Microsoft.Network/networkSecurityGroups/nsg-kids",
        rg(FABRIKAM_PROD, "rg-web")
    );
    let rule = json!({"name": "ssh", "properties": {"priority": 100, "access": "Allow", "direction": "Inbound", "protocol": "Tcp",
        "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}});
    let r = e
        .call(
            "PUT",
            &format!("{nsg}?{NET_API}"),
            Some(&t),
            Some(json!({"location": "westeurope", "properties": {"securityRules": [rule]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "GET",
            &format!("{nsg}/securityRules/ssh?{NET_API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        r.body["properties"]["destinationPortRange"], "22",
        "{}",
        r.body
    );
    assert_eq!(
        r.body["type"],
        "Microsoft.Network/networkSecurityGroups/securityRules"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cognitive_services_subdomain_is_held_by_one_account() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let nw = e.token("northwind-ci").await;
    let account = |sub: &str, group: &str, name: &str| {
        format!(
            "{}/providers/Microsoft.CognitiveServices/accounts/{name}?api-version=2023-05-01",
            rg(sub, group)
        )
    };
    let body = json!({"location": "westeurope", "kind": "OpenAI", "sku": {"name": "S0"},
                      "properties": {"customSubDomainName": "fabrikam-ai"}});
    let r = e
        .call(
            "PUT",
            &account(FABRIKAM_PROD, "rg-web", "ai1"),
            Some(&t),
            Some(body.clone()),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    // the same account again keeps its subdomain
    let r = e
        .call(
            "PUT",
            &account(FABRIKAM_PROD, "rg-web", "ai1"),
            Some(&t),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &account(NORTHWIND_MAIN, "rg-private", "ai2"),
            Some(&nw),
            Some(body),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "CustomDomainInUse"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn head_and_patch_see_embedded_children() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let vnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-web",
        rg(FABRIKAM_PROD, "rg-web")
    );
    let r = e
        .call("PATCH", &format!("{vnet}?{NET_API}"), Some(&t), Some(json!({"properties": {"subnets": [{"name": "s1", "properties": {"addressPrefix": "10.1.1.0/24"}}]}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["subnets"][0]["id"],
        format!("{vnet}/subnets/s1")
    );
    assert_eq!(
        e.call(
            "HEAD",
            &format!("{vnet}/subnets/s1?{NET_API}"),
            Some(&t),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        e.call(
            "HEAD",
            &format!("{vnet}/subnets/s2?{NET_API}"),
            Some(&t),
            None
        )
        .await
        .status,
        404
    );
}

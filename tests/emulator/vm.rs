//! The VM workflow (issue 9 item 7): the image alias document and marketplace catalogue `az vm create`
//! reads, what Compute and Network add to the objects it makes, the instance view and power
//! operations, and the limits of a delegated caller (extensions yes; VM login roles and disk-encryption
//! secrets no) with `/_emulator/explain` saying why.

use crate::*;
use serde_json::{json, Value};

const API: &str = "api-version=2024-07-01";
const NET: &str = "api-version=2023-09-01";
const VM_ADMIN_LOGIN: &str = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
const ALICE_OID: &str = "30000000-0000-0000-0000-000000001111";

fn images(loc: &str) -> String {
    format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Compute/locations/{loc}/publishers")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_alias_document_is_public_even_behind_an_admin_key() {
    let e = emu_with(|o| o.admin_key = Some("a-long-enough-admin-key".into())).await;
    let r = e
        .call("GET", "/_emulator/vm-image-aliases.json", None, None)
        .await;
    assert_eq!(r.status, 200);
    let ubuntu = &r.body["outputs"]["aliases"]["value"]["Linux"]["Ubuntu2204"];
    assert_eq!(ubuntu["publisher"], "Canonical");
    assert_eq!(ubuntu["offer"], "0001-com-ubuntu-server-jammy");
    assert_eq!(ubuntu["sku"], "22_04-lts-gen2");
    assert!(r.body["outputs"]["aliases"]["value"]["Windows"]["Win2022Datacenter"].is_object());
    // the other admin endpoints still need the key
    let r = e.call("GET", "/_emulator/health", None, None).await;
    assert_eq!(r.status, 401);
    // and the metadata endpoint advertises the document
    let m = e
        .call(
            "GET",
            "/metadata/endpoints?api-version=2022-09-01",
            None,
            None,
        )
        .await;
    assert_eq!(
        m.body["vmImageAliasDoc"],
        format!("{}/_emulator/vm-image-aliases.json", e.base)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_catalogue_answers_bare_arrays() {
    let e = emu().await;
    let t = e.token("alice").await;
    let base = images("westeurope");
    let r = e
        .call("GET", &format!("{base}?{API}"), Some(&t), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Canonical") && names.contains(&"MicrosoftWindowsServer"),
        "{names:?}"
    );
    let offers = e
        .call(
            "GET",
            &format!("{base}/Canonical/artifacttypes/vmimage/offers?{API}"),
            Some(&t),
            None,
        )
        .await;
    assert!(offers
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "0001-com-ubuntu-server-jammy"));
    let sku = format!("{base}/Canonical/artifacttypes/vmimage/offers/0001-com-ubuntu-server-jammy/skus/22_04-lts-gen2");
    // what az vm create asks to resolve `latest`
    let r = e
        .call(
            "GET",
            &format!("{sku}/versions?$expand=properties&$orderby=name%20desc&$top=1&{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let newest = list[0]["name"].as_str().unwrap().to_string();
    assert_eq!(newest, "22.04.202411060");
    assert_eq!(list[0]["location"], "westeurope");
    assert!(list[0]["id"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Versions/{newest}")));
    let all = e
        .call("GET", &format!("{sku}/versions?{API}"), Some(&t), None)
        .await;
    assert!(all.body.as_array().unwrap().len() > 1);
    let v = e
        .call(
            "GET",
            &format!("{sku}/versions/{newest}?{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(v.status, 200);
    assert_eq!(v.body["properties"]["hyperVGeneration"], "V2");
    assert_eq!(
        v.body["properties"]["osDiskImage"]["operatingSystem"],
        "Linux"
    );
    assert_eq!(
        v.body["properties"]["imageDeprecationStatus"]["imageState"],
        "Active"
    );
    // Compute's 404 for what the marketplace does not have
    for missing in [
        format!("{sku}/versions/1.2.3?{API}"),
        format!("{base}/Canonical/artifacttypes/vmimage/offers/0001-com-ubuntu-server-jammy/skus/nope/versions?{API}"),
        format!("{base}/NoSuchPublisher/artifacttypes/vmimage/offers?{API}"),
    ] {
        let r = e.call("GET", &missing, Some(&t), None).await;
        assert_eq!((r.status, r.code()), (404, "NotFound"), "{missing}");
        assert_eq!(r.body["error"]["message"], "Artifact: VMImage was not found.");
    }
    // extension images, for `az vm extension set` without --version
    let r = e
        .call("GET", &format!("{base}/Microsoft.Azure.Extensions/artifacttypes/vmextension/types/CustomScript/versions?{API}"), Some(&t), None)
        .await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "2.1.10"),
        "{}",
        r.body
    );
}

async fn put(e: &Emu, t: &str, path: &str, body: Value) -> Resp {
    let r = e.call("PUT", path, Some(t), Some(body)).await;
    assert!(
        r.status == 200 || r.status == 201,
        "PUT {path}: {} {}",
        r.status,
        r.body
    );
    r
}

/// What `az vm create`'s template makes, put one by one: a network, a public IP, a NIC and the VM.
async fn make_vm(e: &Emu, t: &str, rg: &str) -> String {
    let g = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/{rg}");
    put(
        e,
        t,
        &format!("{g}?api-version=2024-11-01"),
        json!({"location": "westeurope"}),
    )
    .await;
    let net = format!("{g}/providers/Microsoft.Network");
    let vnet = put(e, t, &format!("{net}/virtualNetworks/vm1VNET?{NET}"), json!({"location": "westeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["10.7.0.0/16"]},
                       "subnets": [{"name": "vm1Subnet", "properties": {"addressPrefix": "10.7.1.0/24"}}]}})).await;
    let subnet = vnet.body["properties"]["subnets"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        subnet,
        format!("{net}/virtualNetworks/vm1VNET/subnets/vm1Subnet")
    );
    let pip = put(
        e,
        t,
        &format!("{net}/publicIPAddresses/vm1PublicIP?{NET}"),
        json!({"location": "westeurope",
        "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}),
    )
    .await;
    assert!(pip.body["properties"]["ipAddress"]
        .as_str()
        .unwrap()
        .starts_with("20."));
    let nic = put(
        e,
        t,
        &format!("{net}/networkInterfaces/vm1VMNic?{NET}"),
        json!({"location": "westeurope",
        "properties": {"ipConfigurations": [{"name": "ipconfigvm1", "properties": {
            "privateIPAllocationMethod": "Dynamic", "subnet": {"id": subnet},
            "publicIPAddress": {"id": format!("{net}/publicIPAddresses/vm1PublicIP")}}}]}}),
    )
    .await;
    assert_eq!(
        nic.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.7.1.4"
    );
    assert!(nic.body["properties"]["macAddress"]
        .as_str()
        .unwrap()
        .starts_with("00-0D-3A-"));
    let vm = format!("{g}/providers/Microsoft.Compute/virtualMachines/vm1");
    let r = put(e, t, &format!("{vm}?{API}"), json!({"location": "westeurope", "properties": {
        "hardwareProfile": {"vmSize": "Standard_B2s"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                                              "sku": "22_04-lts-gen2", "version": "latest"},
                           "osDisk": {"createOption": "FromImage", "name": null}},
        "osProfile": {"computerName": "vm1", "adminUsername": "azureuser", "adminPassword": "Secret-Pa55!",
                      "customData": "IyEvYmluL3NoCg=="},
        "networkProfile": {"networkInterfaces": [{"id": format!("{net}/networkInterfaces/vm1VMNic")}]}}})).await;
    assert_eq!(r.status, 201);
    vm
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vm_gets_what_compute_adds_and_an_instance_view_that_follows_its_power() {
    let e = emu().await;
    let t = e.token("alice").await;
    let vm = make_vm(&e, &t, "rg-vm-power").await;
    let r = e.call("GET", &format!("{vm}?{API}"), Some(&t), None).await;
    let p = &r.body["properties"];
    assert!(p["osProfile"].get("adminPassword").is_none(), "{p}");
    assert!(p["osProfile"].get("customData").is_none());
    assert_eq!(
        p["osProfile"]["linuxConfiguration"]["provisionVMAgent"],
        true
    );
    let vm_id = p["vmId"].as_str().unwrap().to_string();
    assert_eq!(vm_id.len(), 36);
    assert_eq!(
        p["storageProfile"]["imageReference"]["exactVersion"],
        "22.04.202411060"
    );
    let disk = p["storageProfile"]["osDisk"]["name"].as_str().unwrap();
    assert_eq!(disk, format!("vm1_OsDisk_1_{}", vm_id.replace('-', "")));
    assert!(p["storageProfile"]["osDisk"]["managedDisk"]["id"]
        .as_str()
        .unwrap()
        .ends_with(disk));
    assert_eq!(p["storageProfile"]["osDisk"]["osType"], "Linux");
    assert!(
        p.get("instanceView").is_none(),
        "a plain GET has no instance view"
    );
    // Compute made the OS disk, managed by the VM
    let disk_id = p["storageProfile"]["osDisk"]["managedDisk"]["id"]
        .as_str()
        .unwrap();
    let d = e
        .call(
            "GET",
            &format!("{disk_id}?api-version=2024-03-02"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["managedBy"].as_str().unwrap(), vm);
    assert_eq!(d.body["properties"]["diskSizeGB"], 30);
    assert_eq!(d.body["sku"]["name"], "Premium_LRS");

    let power = |v: &Value| -> Vec<String> {
        v["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"].as_str().unwrap().to_string())
            .collect()
    };
    let r = e
        .call(
            "GET",
            &format!("{vm}?$expand=instanceView&{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        power(&r.body["properties"]["instanceView"]),
        ["ProvisioningState/succeeded", "PowerState/running"]
    );
    assert_eq!(
        r.body["properties"]["instanceView"]["statuses"][1]["displayStatus"],
        "VM running"
    );
    for (verb, state) in [
        ("powerOff", "stopped"),
        ("deallocate", "deallocated"),
        ("start", "running"),
        ("restart", "running"),
    ] {
        let r = e
            .call("POST", &format!("{vm}/{verb}?{API}"), Some(&t), None)
            .await;
        assert_eq!(r.status, 202, "{verb}: {}", r.body);
        let op = r.header("azure-asyncoperation").to_string();
        assert!(!r.header("location").is_empty());
        let polled = e.call("GET", &op, Some(&t), None).await;
        assert_eq!(polled.body["status"], "Succeeded", "{verb}");
        let location = e.call("GET", r.header("location"), Some(&t), None).await;
        assert_eq!(location.status, 200, "{verb}");
        let view = e
            .call("GET", &format!("{vm}/instanceView?{API}"), Some(&t), None)
            .await;
        assert_eq!(
            power(&view.body)[1],
            format!("PowerState/{state}"),
            "after {verb}"
        );
    }
    // restart needs a running VM
    e.call("POST", &format!("{vm}/deallocate?{API}"), Some(&t), None)
        .await;
    let r = e
        .call("POST", &format!("{vm}/restart?{API}"), Some(&t), None)
        .await;
    assert_eq!((r.status, r.code()), (409, "OperationNotAllowed"));
    assert_eq!(
        r.body["error"]["message"],
        "The operation requires the VM to be running (or set to run)."
    );
    // made again under the same name, the VM runs
    assert_eq!(
        e.call("DELETE", &format!("{vm}?{API}"), Some(&t), None)
            .await
            .status,
        200
    );
    make_vm(&e, &t, "rg-vm-power").await;
    let view = e
        .call("GET", &format!("{vm}/instanceView?{API}"), Some(&t), None)
        .await;
    assert_eq!(power(&view.body)[1], "PowerState/running");
    // a missing VM is ARM's ResourceNotFound
    let r = e
        .call("GET", &format!("{vm}x/instanceView?{API}"), Some(&t), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "ResourceNotFound"));
    // a reader may look but not power off (403 names the action)
    let bob = e.token("bob").await;
    let r = e
        .call("POST", &format!("{vm}/powerOff?{API}"), Some(&bob), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'Microsoft.Compute/virtualMachines/powerOff/action'"));
    assert_eq!(
        e.call(
            "GET",
            &format!("{vm}?$expand=instanceView&{API}"),
            Some(&bob),
            None
        )
        .await
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delegated_caller_manages_extensions_but_not_vm_login_roles() {
    let e = emu().await;
    let t = e.token("alice").await;
    let vm = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01");
    // a custom script extension: allowed; its protected settings never come back
    let r = put(&e, &t, &format!("{vm}/extensions/CustomScript?{API}"), json!({"location": "westeurope", "properties": {
        "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript", "typeHandlerVersion": "2.1",
        "settings": {"commandToExecute": "echo hi"}, "protectedSettings": {"storageAccountKey": "secret"}}})).await;
    assert!(
        r.body["properties"].get("protectedSettings").is_none(),
        "{}",
        r.body
    );
    let got = e
        .call(
            "GET",
            &format!("{vm}/extensions/CustomScript?{API}"),
            Some(&t),
            None,
        )
        .await;
    assert!(got.body["properties"].get("protectedSettings").is_none());
    let view = e
        .call(
            "GET",
            &format!("{vm}?$expand=instanceView&{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        view.body["properties"]["instanceView"]["extensions"][0]["type"],
        "Microsoft.Azure.Extensions.CustomScript"
    );
    // boot diagnostics: a VM update
    let mut body = e
        .call("GET", &format!("{vm}?{API}"), Some(&t), None)
        .await
        .body;
    body["properties"]["diagnosticsProfile"] = json!({"bootDiagnostics": {"enabled": true}});
    let r = put(&e, &t, &format!("{vm}?{API}"), body).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["properties"]["diagnosticsProfile"]["bootDiagnostics"]["enabled"],
        true
    );

    // the VM login roles carry data actions: alice cannot assign one (Contributor's notActions) …
    let ra = format!("{vm}/providers/Microsoft.Authorization/roleAssignments/7f000000-0000-0000-0000-000000000001?api-version=2022-04-01");
    let ra_body = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{VM_ADMIN_LOGIN}"),
                                         "principalId": ALICE_OID, "principalType": "User"}});
    let r = e.call("PUT", &ra, Some(&t), Some(ra_body.clone())).await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // … and explain says why: data actions are never delegated
    let x = e.call("POST", "/_emulator/explain", None, Some(json!({
        "principal": "alice@contosomsp.onmicrosoft.com", "method": "PUT", "url": ra, "body": ra_body}))).await.body;
    assert_eq!(x["decision"], "denied");
    let role = x["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "dataActionRole")
        .expect("a dataActionRole reason");
    assert_eq!(role["role"], "Virtual Machine Administrator Login");
    assert!(role["message"]
        .as_str()
        .unwrap()
        .contains("never delegated"));
    // msp-automation, a delegated User Access Administrator (delegatedRoleDefinitionIds: Contributor),
    // may write role assignments but never one with data actions: refused, and explain agrees
    let msp = e.token("msp-automation").await;
    let mut ra_body = ra_body.clone();
    ra_body["properties"]["principalId"] = json!("30000000-0000-0000-0000-000000002112"); // reader@fabrikam
    let r = e.call("PUT", &ra, Some(&msp), Some(ra_body.clone())).await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({
        "principal": "msp-automation", "method": "PUT", "url": ra, "body": ra_body})),
        )
        .await
        .body;
    assert_eq!(x["decision"], "denied", "{x}");
    assert!(x["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["kind"] == "dataActionRole"));
    // signing in to the VM with Entra ID is the data action itself
    let x = e.call("POST", "/_emulator/explain", None, Some(json!({
        "principal": "alice@contosomsp.onmicrosoft.com", "action": "Microsoft.Compute/virtualMachines/login/action", "scope": vm}))).await.body;
    assert_eq!(x["decision"], "denied");
    assert!(
        x["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "dataPlane"
                && r["message"]
                    .as_str()
                    .unwrap()
                    .contains("Microsoft Entra ID sign-in")),
        "{x}"
    );
    // disk-encryption secrets live on the Key Vault data plane
    let kv = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/fabrikam-kv");
    let x = e.call("POST", "/_emulator/explain", None, Some(json!({
        "principal": "alice@contosomsp.onmicrosoft.com", "action": "Microsoft.KeyVault/vaults/secrets/setSecret/action", "scope": kv}))).await.body;
    assert_eq!(x["decision"], "denied");
    assert!(
        x["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "diskEncryption"),
        "{x}"
    );
    // the customer's Owner may assign the role
    let admin = e.token("admin@fabrikam").await;
    let r = e.call("PUT", &ra.replace("7f000000", "7f000001"), Some(&admin), Some(json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{VM_ADMIN_LOGIN}"),
        "principalId": "30000000-0000-0000-0000-000000002112"}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_delegation_can_hold_a_vm_login_role() {
    // the other half of "neither hold nor assign": onboarding refuses an authorization with either
    // VM login role (both carry data actions), as Azure's rule for registration definitions says
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    for (role, def) in [
        (VM_ADMIN_LOGIN, "5a000000-0000-0000-0000-000000000001"),
        (
            "fb879df8-f326-4884-b1cf-06f3ad86be52", // Virtual Machine User Login
            "5a000000-0000-0000-0000-000000000002",
        ),
    ] {
        let r = e
            .call(
                "PUT",
                &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{def}?api-version=2022-10-01"),
                Some(&admin),
                Some(json!({"properties": {
                    "registrationDefinitionName": "Contoso MSP - VM sign-in",
                    "managedByTenantId": CONTOSO,
                    "authorizations": [{"principalId": "30000000-0000-0000-0000-000000001101",
                                        "principalIdDisplayName": "MSP Operators", "roleDefinitionId": role}]}})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "InvalidRegistrationDefinitionCreateRequest"),
            "{role}: {}",
            r.body
        );
        assert_eq!(
            r.body["error"]["message"],
            format!("The role definition '{role}' with data actions not allowed for registration definition '{def}'. Only built in role definitions without any data and notData actions are allowed.")
        );
    }
}

//! Microsoft.Compute as `az vm` uses it: the marketplace image and extension-image catalogue
//! (`fixtures/vm-images.json`, answered as the bare arrays the API returns), what the Compute RP adds
//! to a virtual machine it stores (vmId, OS disk, osProfile without secrets), its instance view and
//! power operations. Never sees hyper or tokens. Follows the Compute spec (VirtualMachines_*,
//! VirtualMachineImages_*, VirtualMachineExtensionImages_*) and `az vm`'s calls (azure-cli 2.91).

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::Cx;
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::store::Store;
use crate::wire::Reply;

/// The Azure CLI's image alias document, served at `/_emulator/vm-image-aliases.json` (the
/// `vmImageAliasDoc` the metadata endpoint advertises).
pub const IMAGE_ALIASES_JSON: &str = include_str!("../../fixtures/vm-image-aliases.json");
const IMAGES_JSON: &str = include_str!("../../fixtures/vm-images.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Image {
    publisher: String,
    offer: String,
    sku: String,
    os: String,
    os_name: String,
    os_version: String,
    #[serde(rename = "hyperVGeneration")]
    generation: String,
    architecture: String,
    size_in_gb: u32,
    security_type: Option<String>,
    versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ExtensionImage {
    publisher: String,
    #[serde(rename = "type")]
    kind: String,
    versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Catalogue {
    images: Vec<Image>,
    extensions: Vec<ExtensionImage>,
}

fn catalogue() -> &'static Catalogue {
    static C: OnceLock<Catalogue> = OnceLock::new();
    C.get_or_init(|| serde_json::from_str(IMAGES_JSON).expect("fixtures/vm-images.json parses"))
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `m[key]`, set to `value` when absent or null (templates send `"name": null` for "Compute picks").
fn default<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
    value: impl FnOnce() -> Value,
) -> &'a mut Value {
    let slot = m.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = value();
    }
    slot
}

/// Names along the id's Compute provider part: `locations/{l}/publishers/{p}/…`.
fn names(cx: &Cx) -> Vec<String> {
    cx.id
        .last()
        .map(|p| {
            p.types
                .iter()
                .filter_map(|(_, n)| n.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

/// The id prefix Compute writes for catalogue entries (its own capitalisation, as Azure returns it).
fn location_prefix(cx: &Cx, location: &str) -> String {
    format!(
        "/Subscriptions/{}/Providers/Microsoft.Compute/Locations/{location}",
        cx.id.subscription.as_deref().unwrap_or_default()
    )
}

/// Compute answers an unknown publisher, offer, sku or version with this 404
/// (Azure/azure-cli#22630, danielsollondon/azvmimagebuilder#80).
fn artifact_not_found(kind: &str) -> ArmError {
    ArmError::new("NotFound", format!("Artifact: {kind} was not found.")).with_status(404)
}

fn entry(location: &str, name: &str, id: String) -> Value {
    json!({"location": location, "name": name, "id": id})
}

/// `…/locations/{l}/publishers` (VirtualMachineImages_ListPublishers).
pub fn virtual_machine_images_list_publishers(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let n = names(cx);
    let loc = &n[0];
    let mut seen: Vec<&str> = Vec::new();
    let c = catalogue();
    let all = c
        .images
        .iter()
        .map(|i| i.publisher.as_str())
        .chain(c.extensions.iter().map(|e| e.publisher.as_str()));
    for p in all {
        if !seen.iter().any(|s| eq(s, p)) {
            seen.push(p);
        }
    }
    let items: Vec<Value> = seen
        .iter()
        .map(|p| {
            entry(
                loc,
                p,
                format!("{}/Publishers/{p}", location_prefix(cx, loc)),
            )
        })
        .collect();
    Ok(Reply::json(200, &Value::Array(items)))
}

fn images_of<'a>(publisher: &'a str) -> impl Iterator<Item = &'static Image> + 'a {
    catalogue()
        .images
        .iter()
        .filter(move |i| eq(&i.publisher, publisher))
}

/// `…/publishers/{p}/artifacttypes/vmimage/offers` (VirtualMachineImages_ListOffers).
pub fn virtual_machine_images_list_offers(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let n = names(cx);
    let (loc, publisher) = (&n[0], &n[1]);
    let mut offers: Vec<&str> = Vec::new();
    for i in images_of(publisher) {
        if !offers.iter().any(|o| eq(o, &i.offer)) {
            offers.push(&i.offer);
        }
    }
    if offers.is_empty() {
        return Err(artifact_not_found("VMImage"));
    }
    let prefix = format!(
        "{}/Publishers/{publisher}/ArtifactTypes/VMImage/Offers",
        location_prefix(cx, loc)
    );
    let items: Vec<Value> = offers
        .iter()
        .map(|o| entry(loc, o, format!("{prefix}/{o}")))
        .collect();
    Ok(Reply::json(200, &Value::Array(items)))
}

/// `…/offers/{o}/skus` (VirtualMachineImages_ListSkus).
pub fn virtual_machine_images_list_skus(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let n = names(cx);
    let (loc, publisher, offer) = (&n[0], &n[1], &n[3]);
    let prefix = format!(
        "{}/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus",
        location_prefix(cx, loc)
    );
    let items: Vec<Value> = images_of(publisher)
        .filter(|i| eq(&i.offer, offer))
        .map(|i| entry(loc, &i.sku, format!("{prefix}/{}", i.sku)))
        .collect();
    if items.is_empty() {
        return Err(artifact_not_found("VMImage"));
    }
    Ok(Reply::json(200, &Value::Array(items)))
}

fn find_image(publisher: &str, offer: &str, sku: &str) -> Option<&'static Image> {
    images_of(publisher).find(|i| eq(&i.offer, offer) && eq(&i.sku, sku))
}

/// Version names compare as dotted numbers (`22.04.202411060` > `22.04.202409110`).
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn image_for(cx: &Cx) -> Result<(&'static Image, String, String), ArmError> {
    let n = names(cx);
    let (loc, publisher, offer, sku) = (&n[0], &n[1], &n[3], &n[4]);
    let image = find_image(publisher, offer, sku).ok_or_else(|| artifact_not_found("VMImage"))?;
    let prefix = format!(
        "{}/Publishers/{}/ArtifactTypes/VMImage/Offers/{}/Skus/{}/Versions",
        location_prefix(cx, loc),
        image.publisher,
        image.offer,
        image.sku
    );
    Ok((image, loc.clone(), prefix))
}

/// `…/skus/{sku}/versions` with `$orderby=name desc` and `$top` (VirtualMachineImages_List): what
/// `az vm create` asks to resolve `latest`.
pub fn virtual_machine_images_list(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let (image, loc, prefix) = image_for(cx)?;
    let mut versions: Vec<&String> = image.versions.iter().collect();
    versions.sort_by_key(|v| version_key(v));
    let order = cx.req.query("$orderby").unwrap_or_default().to_lowercase();
    if order.contains("desc") {
        versions.reverse();
    }
    let top = cx
        .req
        .query("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let items: Vec<Value> = versions
        .into_iter()
        .take(top)
        .map(|v| entry(&loc, v, format!("{prefix}/{v}")))
        .collect();
    Ok(Reply::json(200, &Value::Array(items)))
}

/// `…/versions/{version}` (VirtualMachineImages_Get): the properties `az vm create` reads to choose
/// the security type (features), the generation and the plan.
pub fn virtual_machine_images_get(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let (image, loc, prefix) = image_for(cx)?;
    let asked = names(cx).get(5).cloned().unwrap_or_default();
    let version = image
        .versions
        .iter()
        .find(|v| eq(v, &asked))
        .ok_or_else(|| artifact_not_found("VMImage"))?;
    let mut features = Vec::new();
    if let Some(t) = &image.security_type {
        features.push(json!({"name": "SecurityType", "value": t}));
    }
    features.push(json!({"name": "IsAcceleratedNetworkSupported", "value": "True"}));
    features.push(json!({"name": "DiskControllerTypes", "value": "SCSI, NVMe"}));
    Ok(Reply::json(
        200,
        &json!({
            "name": version, "location": loc, "id": format!("{prefix}/{version}"),
            "properties": {
                "hyperVGeneration": image.generation,
                "architecture": image.architecture,
                "replicaType": "Managed",
                "disallowed": {"vmDiskType": "Unmanaged"},
                "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": false},
                "imageDeprecationStatus": {"imageState": "Active"},
                "features": features,
                "osDiskImage": {"operatingSystem": image.os, "sizeInGb": image.size_in_gb},
                "dataDiskImages": [],
            }
        }),
    ))
}

fn extension_images(publisher: &str) -> impl Iterator<Item = &'static ExtensionImage> + '_ {
    catalogue()
        .extensions
        .iter()
        .filter(move |e| eq(&e.publisher, publisher))
}

/// `…/publishers/{p}/artifacttypes/vmextension/types` (VirtualMachineExtensionImages_ListTypes).
pub fn virtual_machine_extension_images_list_types(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let n = names(cx);
    let (loc, publisher) = (&n[0], &n[1]);
    let prefix = format!(
        "{}/Publishers/{publisher}/ArtifactTypes/VMExtension/Types",
        location_prefix(cx, loc)
    );
    let items: Vec<Value> = extension_images(publisher)
        .map(|e| entry(loc, &e.kind, format!("{prefix}/{}", e.kind)))
        .collect();
    if items.is_empty() {
        return Err(artifact_not_found("VMExtension"));
    }
    Ok(Reply::json(200, &Value::Array(items)))
}

fn extension_for(cx: &Cx) -> Result<(&'static ExtensionImage, String, String), ArmError> {
    let n = names(cx);
    let (loc, publisher, kind) = (&n[0], &n[1], &n[3]);
    let e = extension_images(publisher)
        .find(|e| eq(&e.kind, kind))
        .ok_or_else(|| artifact_not_found("VMExtension"))?;
    let prefix = format!(
        "{}/Publishers/{}/ArtifactTypes/VMExtension/Types/{}/Versions",
        location_prefix(cx, loc),
        e.publisher,
        e.kind
    );
    Ok((e, loc.clone(), prefix))
}

/// `…/types/{type}/versions` (VirtualMachineExtensionImages_ListVersions): how `az vm extension set`
/// finds the newest handler version.
pub fn virtual_machine_extension_images_list_versions(
    cx: &Cx,
    _: &Store,
) -> Result<Reply, ArmError> {
    let (e, loc, prefix) = extension_for(cx)?;
    let mut versions: Vec<&String> = e.versions.iter().collect();
    versions.sort_by_key(|v| version_key(v));
    let items: Vec<Value> = versions
        .into_iter()
        .map(|v| entry(&loc, v, format!("{prefix}/{v}")))
        .collect();
    Ok(Reply::json(200, &Value::Array(items)))
}

/// `…/types/{type}/versions/{version}` (VirtualMachineExtensionImages_Get).
pub fn virtual_machine_extension_images_get(cx: &Cx, _: &Store) -> Result<Reply, ArmError> {
    let (e, loc, prefix) = extension_for(cx)?;
    let asked = names(cx).get(4).cloned().unwrap_or_default();
    let v = e
        .versions
        .iter()
        .find(|v| eq(v, &asked))
        .ok_or_else(|| artifact_not_found("VMExtension"))?;
    Ok(Reply::json(
        200,
        &json!({"name": v, "location": loc, "id": format!("{prefix}/{v}"),
                "properties": {"operatingSystem": if e.kind.contains("Windows") || e.publisher == "Microsoft.Compute" { "Windows" } else { "Linux" },
                               "computeRole": "IaaS", "handlerSchema": "", "vmScaleSetEnabled": true, "supportsMultipleExtensions": false}}),
    ))
}

// --- virtual machines ---

/// What Compute adds to a virtual machine it stores (VirtualMachines_CreateOrUpdate's answer): a
/// stable `vmId` and `timeCreated`, the OS disk it makes from the image (named
/// `{vm}_OsDisk_1_{32 hex}`), the image's exact version, osProfile defaults — and never the admin
/// password or custom data, which Azure does not return.
pub fn complete_virtual_machine(cx: &Cx, body: &mut Map<String, Value>, existing: Option<&Value>) {
    let name = cx.id.name().unwrap_or_default().to_string();
    let old = |path: &[&str]| -> Option<Value> {
        let mut v = existing?;
        for p in path {
            v = v.get(*p)?;
        }
        Some(v.clone()).filter(|v| !v.is_null())
    };
    let vm_id = old(&["properties", "vmId"])
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| cx.new_id.to_string());
    let created = old(&["properties", "timeCreated"]).unwrap_or_else(|| json!(cx.now_str()));
    let Some(Value::Object(p)) = body.get_mut("properties") else {
        return;
    };
    p.insert("vmId".into(), json!(vm_id));
    p.insert("timeCreated".into(), created);
    // the image the VM boots from, when it is a marketplace image the catalogue knows
    let image_ref = p
        .get("storageProfile")
        .and_then(|s| s.get("imageReference"))
        .cloned()
        .unwrap_or(Value::Null);
    let image = find_image(
        image_ref["publisher"].as_str().unwrap_or_default(),
        image_ref["offer"].as_str().unwrap_or_default(),
        image_ref["sku"].as_str().unwrap_or_default(),
    );
    let windows_profile = p
        .get("osProfile")
        .is_some_and(|o| o.get("windowsConfiguration").is_some());
    let os_type = match image {
        Some(i) => i.os.clone(),
        None if windows_profile => "Windows".into(),
        None => "Linux".into(),
    };
    if let Some(Value::Object(os)) = p.get_mut("osProfile") {
        os.remove("adminPassword");
        os.remove("customData");
        default(os, "secrets", || json!([]));
        default(os, "allowExtensionOperations", || json!(true));
        default(os, "requireGuestProvisionSignal", || json!(true));
        if os_type == "Linux" {
            let lc = default(
                os,
                "linuxConfiguration",
                || json!({"disablePasswordAuthentication": false}),
            );
            if let Value::Object(lc) = lc {
                default(lc, "provisionVMAgent", || json!(true));
                default(
                    lc,
                    "patchSettings",
                    || json!({"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"}),
                );
            }
        }
    }
    let sp = default(p, "storageProfile", || json!({})).as_object_mut();
    let Some(sp) = sp else { return };
    if let (Some(i), Some(Value::Object(r))) = (image, sp.get_mut("imageReference")) {
        let asked = r
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("latest")
            .to_string();
        let exact = if eq(&asked, "latest") {
            i.versions
                .iter()
                .max_by_key(|v| version_key(v))
                .cloned()
                .unwrap_or_default()
        } else {
            asked
        };
        r.insert("exactVersion".into(), json!(exact));
    }
    let disk_name = old(&["properties", "storageProfile", "osDisk", "name"])
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{name}_OsDisk_1_{}", vm_id.replace('-', "")));
    let sub = cx.id.subscription.as_deref().unwrap_or_default();
    let rg = cx.id.resource_group.as_deref().unwrap_or_default();
    let disk = default(sp, "osDisk", || json!({}));
    if let Value::Object(d) = disk {
        default(d, "osType", || json!(os_type));
        default(d, "createOption", || json!("FromImage"));
        default(d, "caching", || json!("ReadWrite"));
        default(d, "deleteOption", || json!("Detach"));
        if let Some(i) = image {
            default(d, "diskSizeGB", || json!(i.size_in_gb));
        }
        let name = default(d, "name", || json!(disk_name))
            .as_str()
            .unwrap_or_default()
            .to_string();
        let md = default(d, "managedDisk", || json!({}));
        if let Value::Object(md) = md {
            default(md, "storageAccountType", || json!("Premium_LRS"));
            default(md, "id", || {
                json!(format!(
                    "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Compute/disks/{name}",
                    rg.to_uppercase()
                ))
            });
        }
    }
    default(sp, "dataDisks", || json!([]));
}

/// The managed OS disk a new VM's `storageProfile.osDisk.managedDisk.id` names, made as Compute makes
/// it (Microsoft.Compute/disks, `managedBy` the VM, created from the image) when it is not there yet.
/// Not for the world's own VMs: a world file lists exactly the resources its groups hold.
pub fn create_os_disk(cx: &Cx, store: &Store, vm: &Map<String, Value>) -> Result<(), ArmError> {
    if cx.caller.platform {
        return Ok(());
    }
    let p = &vm["properties"];
    let disk = &p["storageProfile"]["osDisk"];
    let Some(id) = disk["managedDisk"]["id"]
        .as_str()
        .and_then(|i| ResourceId::parse(i).ok())
    else {
        return Ok(());
    };
    let same_group = id
        .subscription
        .as_deref()
        .unwrap_or_default()
        .eq_ignore_ascii_case(cx.id.subscription.as_deref().unwrap_or_default())
        && id
            .resource_group
            .as_deref()
            .unwrap_or_default()
            .eq_ignore_ascii_case(cx.id.resource_group.as_deref().unwrap_or_default());
    let from_image = disk["createOption"]
        .as_str()
        .is_some_and(|c| eq(c, "FromImage"));
    if !same_group || !from_image || store.get(&id.key())?.is_some() {
        return Ok(());
    }
    let r = &p["storageProfile"]["imageReference"];
    let image = find_image(
        r["publisher"].as_str().unwrap_or_default(),
        r["offer"].as_str().unwrap_or_default(),
        r["sku"].as_str().unwrap_or_default(),
    );
    let sku = disk["managedDisk"]["storageAccountType"]
        .as_str()
        .unwrap_or("Premium_LRS");
    let location = vm.get("location").cloned().unwrap_or(Value::Null);
    let mut creation = json!({"createOption": "FromImage"});
    if let Some(i) = image {
        creation["imageReference"] = json!({"id": format!(
            "/Subscriptions/{}/Providers/Microsoft.Compute/Locations/{}/Publishers/{}/ArtifactTypes/VMImage/Offers/{}/Skus/{}/Versions/{}",
            cx.id.subscription.as_deref().unwrap_or_default(), location.as_str().unwrap_or_default(),
            i.publisher, i.offer, i.sku, r["exactVersion"].as_str().unwrap_or_default())});
    }
    let body = json!({
        "id": id.canonical(), "name": id.name(), "type": "Microsoft.Compute/disks",
        "location": location, "managedBy": vm["id"],
        "sku": {"name": sku, "tier": if sku.starts_with("Premium") { "Premium" } else { "Standard" }},
        "properties": {
            "osType": disk["osType"], "hyperVGeneration": image.map(|i| i.generation.as_str()),
            "creationData": creation, "diskSizeGB": disk["diskSizeGB"],
            "diskState": "Attached", "provisioningState": "Succeeded",
            "timeCreated": cx.now_str(), "uniqueId": p["vmId"],
        },
    });
    let row = super::stored_row(&id, "Microsoft.Compute/disks", body);
    store.write(|tx| tx.put(&row))?;
    Ok(())
}

/// A VM extension's `protectedSettings` (passwords, storage keys, script URIs with SAS) go to the
/// VM and are never returned, as Compute answers (VirtualMachineExtensions_Get).
pub fn complete_virtual_machine_extension(body: &mut Map<String, Value>) {
    if let Some(Value::Object(p)) = body.get_mut("properties") {
        p.remove("protectedSettings");
    }
}

/// The power state a VM is in: kept in the store's meta table as `{state} {vmId}` (a VM deleted and
/// made again under the same name has a new vmId, and so starts running).
fn power_key(vm_key: &str) -> String {
    format!("vm-power-state:{vm_key}")
}

fn power_state(store: &Store, vm_key: &str, vm_id: &str) -> Result<String, ArmError> {
    let kept = store.read(|tx| tx.meta(&power_key(vm_key)))?;
    Ok(kept
        .and_then(|k| {
            let (state, id) = k.split_once(' ')?;
            (id == vm_id).then(|| state.to_string())
        })
        .unwrap_or_else(|| "running".into()))
}

fn vm_row(store: &Store, vm: &ResourceId) -> Result<Value, ArmError> {
    if let Some(r) = store.get(&vm.key())? {
        return Ok(r.body.clone());
    }
    let rg = vm.resource_group.clone().unwrap_or_default();
    if store.get(&rg_key(vm))?.is_none() {
        return Err(ArmError::resource_group_not_found(&rg));
    }
    Err(ArmError::resource_not_found(
        &format!(
            "Microsoft.Compute/virtualMachines/{}",
            vm.name().unwrap_or_default()
        ),
        &rg,
    ))
}

fn rg_key(id: &ResourceId) -> String {
    format!(
        "/subscriptions/{}/resourcegroups/{}",
        id.subscription
            .as_deref()
            .unwrap_or_default()
            .to_lowercase(),
        id.resource_group
            .as_deref()
            .unwrap_or_default()
            .to_lowercase()
    )
}

/// The VM the request names (`…/virtualMachines/{vm}[/{verb}]`).
fn vm_id_of(cx: &Cx) -> ResourceId {
    let mut vm = cx.id.clone();
    if let Some(p) = vm.providers.last_mut() {
        p.types.truncate(1);
    }
    vm
}

fn status(code: &str, display: &str, time: Option<&str>) -> Value {
    let mut s = json!({"code": code, "level": "Info", "displayStatus": display});
    if let Some(t) = time {
        s["time"] = json!(t);
    }
    s
}

/// The instance view (VirtualMachineInstanceView): provisioning and power state, the agent, the OS
/// disk and each extension's status.
fn instance_view(cx: &Cx, store: &Store, vm_key: &str, vm: &Value) -> Result<Value, ArmError> {
    let p = &vm["properties"];
    let vm_id = p["vmId"].as_str().unwrap_or_default();
    let state = power_state(store, vm_key, vm_id)?;
    let changed = vm["systemData"]["lastModifiedAt"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| cx.now_str());
    let display = match state.as_str() {
        "running" => "VM running",
        "stopped" => "VM stopped",
        "deallocated" => "VM deallocated",
        _ => "VM running",
    };
    let image = find_image(
        p["storageProfile"]["imageReference"]["publisher"]
            .as_str()
            .unwrap_or_default(),
        p["storageProfile"]["imageReference"]["offer"]
            .as_str()
            .unwrap_or_default(),
        p["storageProfile"]["imageReference"]["sku"]
            .as_str()
            .unwrap_or_default(),
    );
    let extensions: Vec<Value> = store
        .read(|tx| tx.children(vm_key, "microsoft.compute/virtualmachines/extensions"))?
        .into_iter()
        .map(|e| {
            let ep = &e.body["properties"];
            json!({
                "name": e.body["name"],
                "type": format!("{}.{}", ep["publisher"].as_str().unwrap_or_default(), ep["type"].as_str().unwrap_or_default()),
                "typeHandlerVersion": ep["typeHandlerVersion"],
                "statuses": [status("ProvisioningState/succeeded", "Provisioning succeeded", None)],
            })
        })
        .collect();
    let mut view = json!({
        "computerName": p["osProfile"]["computerName"],
        "vmAgent": {
            "vmAgentVersion": "2.11.1.12",
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready",
                          "message": "Guest Agent is running", "time": changed}],
            "extensionHandlers": [],
        },
        "disks": [{"name": p["storageProfile"]["osDisk"]["name"],
                   "statuses": [status("ProvisioningState/succeeded", "Provisioning succeeded", Some(&changed))]}],
        "extensions": extensions,
        "statuses": [
            status("ProvisioningState/succeeded", "Provisioning succeeded", Some(&changed)),
            status(&format!("PowerState/{state}"), display, None),
        ],
    });
    if let Some(i) = image {
        view["osName"] = json!(i.os_name);
        view["osVersion"] = json!(i.os_version);
        view["hyperVGeneration"] = json!(i.generation);
    }
    if state != "running" {
        // a VM that is not running reports no agent
        view.as_object_mut().map(|v| v.remove("vmAgent"));
    }
    if p["diagnosticsProfile"]["bootDiagnostics"]["enabled"].as_bool() == Some(true) {
        view["bootDiagnostics"] = json!({});
    }
    Ok(view)
}

/// GET of a virtual machine; `$expand=instanceView` adds `properties.instanceView`
/// (VirtualMachines_Get) — what `az vm get-instance-view`, `az vm show -d` and `az vm list -d` ask.
pub fn virtual_machines_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut vm = vm_row(store, cx.id)?;
    let expand = cx.req.query("$expand").unwrap_or_default().to_lowercase();
    if expand.contains("instanceview") {
        let view = instance_view(cx, store, &cx.id.key(), &vm)?;
        vm["properties"]["instanceView"] = view;
    }
    Ok(Reply::json(200, &vm))
}

/// `GET …/virtualMachines/{vm}/instanceView` (VirtualMachines_InstanceView).
pub fn virtual_machines_instance_view(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let id = vm_id_of(cx);
    let vm = vm_row(store, &id)?;
    Ok(Reply::json(200, &instance_view(cx, store, &id.key(), &vm)?))
}

/// start, powerOff, deallocate, restart: long-running as Compute answers them — 202 with
/// `Azure-AsyncOperation` and `Location`, then the new power state.
fn power_operation(cx: &Cx, store: &Store, verb: &str) -> Result<Reply, ArmError> {
    let id = vm_id_of(cx);
    let vm = vm_row(store, &id)?;
    let vm_id = vm["properties"]["vmId"].as_str().unwrap_or_default();
    let now = power_state(store, &id.key(), vm_id)?;
    let next = match verb {
        "start" => "running",
        "powerOff" => "stopped",
        "deallocate" => "deallocated",
        _ => {
            // restart needs a running VM (409 OperationNotAllowed; PierreBeucher/cloudypad#69)
            if now != "running" {
                return Err(ArmError::new(
                    "OperationNotAllowed",
                    "The operation requires the VM to be running (or set to run).",
                )
                .with_status(409));
            }
            "running"
        }
    };
    let value = format!("{next} {vm_id}");
    store.write(|tx| tx.set_meta(&power_key(&id.key()), &value))?;
    // the Location record first: both URLs name the same operation, and the status body must win
    let location = cx.location_operation(store)?;
    let op = cx.async_operation(store, "Succeeded", None)?;
    Ok(Reply::empty(202)
        .header("azure-asyncoperation", op)
        .header("location", location)
        .header("retry-after", "0"))
}

pub fn virtual_machines_start(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    power_operation(cx, store, "start")
}

pub fn virtual_machines_power_off(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    power_operation(cx, store, "powerOff")
}

pub fn virtual_machines_deallocate(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    power_operation(cx, store, "deallocate")
}

pub fn virtual_machines_restart(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    power_operation(cx, store, "restart")
}

/// Why a delegated principal cannot sign in to a VM with Microsoft Entra ID: the login roles carry
/// the data actions `…/virtualMachines/login/action` and `…/loginAsAdmin/action`, and data actions are
/// never delegated (ARM-FACTS §7.6: "No Microsoft Entra ID login to VMs"). For `/_emulator/explain`.
pub fn delegated_data_action_reason(action: &str) -> Option<Value> {
    let a = action.to_ascii_lowercase();
    if !a.starts_with("microsoft.compute/virtualmachines/login") {
        return None;
    }
    Some(
        json!({"kind": "dataPlane", "effect": "denies", "code": "AuthorizationFailed",
        "message": format!("'{action}' is a data action: Microsoft Entra ID sign-in to a virtual machine (the AADSSHLoginForLinux and AADLoginForWindows extensions) needs Virtual Machine User Login or Virtual Machine Administrator Login in the VM's own tenant, and data actions are never delegated (Azure Lighthouse). A delegated principal may install those extensions but cannot sign in through them.")}),
    )
}

/// Azure Disk Encryption keeps a VM's disk-encryption secrets (and optionally its key-encryption
/// key) in a key vault: reading or writing them is a Key Vault data action, which a delegated
/// principal never gets (ARM-FACTS §7.6: "no Key Vault integration for VM disk encryption secrets").
pub fn disk_encryption_note(action: &str) -> Option<Value> {
    let a = action.to_ascii_lowercase();
    if !(a.starts_with("microsoft.keyvault/vaults/secrets/")
        || a.starts_with("microsoft.keyvault/vaults/keys/"))
    {
        return None;
    }
    Some(json!({"kind": "diskEncryption", "effect": "denies",
        "message": "VM disk encryption (the AzureDiskEncryption extensions) keeps its secrets and keys in a key vault's data plane: a delegated principal may set the extension on a VM, but the vault refuses its token, so it cannot create or read the disk-encryption secrets."}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_names_an_image_of_the_catalogue() {
        let doc: Value = serde_json::from_str(IMAGE_ALIASES_JSON).unwrap();
        let aliases = doc["outputs"]["aliases"]["value"].as_object().unwrap();
        let mut n = 0;
        for os in aliases.values() {
            for (alias, a) in os.as_object().unwrap() {
                let i = find_image(
                    a["publisher"].as_str().unwrap(),
                    a["offer"].as_str().unwrap(),
                    a["sku"].as_str().unwrap(),
                );
                assert!(i.is_some(), "{alias} is not in fixtures/vm-images.json");
                n += 1;
            }
        }
        assert!(n >= 10);
    }

    #[test]
    fn versions_order_as_numbers() {
        for (a, b) in [
            ("22.04.202411060", "22.04.202409110"),
            ("2.1.10", "2.1.9"),
            ("20348.2762.241006", "17763.6414.241004"),
        ] {
            assert!(version_key(a) > version_key(b), "{a} > {b}");
        }
    }
}

//! Microsoft.Resources as ARM serves it: resource groups, generic resources of any provider (stored as
//! the client sent them plus what ARM adds), resource lists with `$filter`, provider registration and
//! the polling URLs of long-running operations. Follows ARM-FACTS.md §3.1–3.2 and CLIENTS.md §2.7–2.8.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{list_reply, parse_eq_filter, stored_row, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::store::{Cached, Store, Stored};
use crate::wire::Reply;

pub const RG_TYPE: &str = "Microsoft.Resources/resourceGroups";

/// Resource group names: 1–90 of letters, digits, `_ ( ) - .`; not ending in `.`.
pub fn valid_rg_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=90).contains(&n)
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '(' | ')' | '-' | '.'))
}

fn rg_id(sub: &str, rg: &str) -> ResourceId {
    ResourceId {
        subscription: Some(sub.to_string()),
        resource_group: Some(rg.to_string()),
        ..Default::default()
    }
}

/// The stored resource group of `id` (which names one), or ResourceGroupNotFound.
pub fn require_rg(store: &Store, id: &ResourceId) -> Result<Arc<Cached>, ArmError> {
    let sub = id.subscription.as_deref().unwrap_or_default();
    let rg = id.resource_group.as_deref().unwrap_or_default();
    let key = rg_id(sub, rg).key();
    store
        .get(&key)?
        .ok_or_else(|| ArmError::resource_group_not_found(rg))
}

/// The cloud (`AzureCloud`, `AzureUSGovernment`) of the request's subscription.
fn cloud_of<'a>(cx: &Cx<'a>) -> &'a str {
    cx.id
        .subscription
        .as_deref()
        .and_then(|s| cx.snap.dir.subscription(s))
        .and_then(|s| cx.snap.dir.tenant(&s.tenant_id))
        .map(|t| t.cloud.as_str())
        .unwrap_or("AzureCloud")
}

/// A location as ARM keeps it (`West Europe` → `westeurope`), or ARM's 400 when the subscription's cloud
/// has no such region: LocationNotAvailableForResourceGroup for a group (`rtype` None), otherwise
/// LocationNotAvailableForResourceType; `global` is a location for resources, never for groups.
/// (Texts as ARM answers them, e.g. microsoft/vscode-azureresourcegroups#33, Azure/azure-cli#16368.)
fn location_of(cx: &Cx, given: &str, rtype: Option<&str>) -> Result<String, ArmError> {
    let cloud = cloud_of(cx);
    if let Some(region) = super::catalog::region(cloud, given) {
        return Ok(region.to_string());
    }
    let list = super::catalog::location_list(cloud);
    // a message quotes the location given: a long one is cut, never echoed back whole
    let given: String = if given.chars().count() > 120 {
        format!("{}…", given.chars().take(120).collect::<String>())
    } else {
        given.to_string()
    };
    match rtype {
        Some(_) if given.eq_ignore_ascii_case("global") => Ok("global".into()),
        None => Err(ArmError::new(
            "LocationNotAvailableForResourceGroup",
            format!("The provided location '{given}' is not available for resource group. List of available regions is '{list}'."),
        )
        .with_status(400)),
        Some(t) => Err(ArmError::new(
            "LocationNotAvailableForResourceType",
            format!("The provided location '{given}' is not available for resource type '{t}'. List of available regions for the resource type is '{list},global'."),
        )
        .with_status(400)),
    }
}

pub fn resource_groups_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.resource_group.clone().unwrap_or_default();
    if !valid_rg_name(&name) {
        return Err(ArmError::invalid_resource_group_name(&name).with_target(name));
    }
    let body = cx.object_body()?;
    let location = match body.get("location") {
        Some(Value::String(l)) if !l.is_empty() => l.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ArmError::location_required())
        }
        Some(_) => {
            return Err(ArmError::invalid_request_content(
                "Error converting value to type 'String'. Path 'location'.",
            ))
        }
    };
    let tags = body.get("tags").cloned().unwrap_or_else(|| json!({}));
    if !tags.is_object() {
        return Err(ArmError::invalid_request_content(
            "Error converting value to type 'Dictionary`2'. Path 'tags'.",
        ));
    }
    let location = location_of(cx, &location, None)?;
    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    if let Some(e) = &existing {
        let old_loc = e.body["location"].as_str().unwrap_or_default();
        if !old_loc.eq_ignore_ascii_case(&location) {
            return Err(ArmError::new(
                "InvalidResourceGroupLocation",
                format!("Invalid resource group location '{location}'. The Resource group already exists in location '{old_loc}'."),
            )
            .with_status(409));
        }
    }
    // ARM keeps the casing the group was created with.
    let shown_name = existing
        .as_ref()
        .and_then(|e| e.body["name"].as_str().map(String::from))
        .unwrap_or(name);
    let sub = cx.id.subscription.clone().unwrap_or_default();
    let mut out = json!({
        "id": format!("/subscriptions/{}/resourceGroups/{shown_name}", sub.to_lowercase()),
        "name": shown_name,
        "type": RG_TYPE,
        "location": location,
        "tags": tags,
        "properties": {"provisioningState": "Succeeded"},
    });
    if let Some(m) = body.get("managedBy").filter(|m| !m.is_null()) {
        out["managedBy"] = m.clone();
    }
    let row = stored_row(cx.id, RG_TYPE, out.clone());
    store.write(|tx| tx.put(&row))?;
    Ok(Reply::json(
        if existing.is_some() { 200 } else { 201 },
        &out,
    ))
}

pub fn resource_groups_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    Ok(Reply::json_bytes(
        200,
        require_rg(store, cx.id)?.json().to_vec(),
    ))
}

pub fn resource_groups_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut rg = (*require_rg(store, cx.id)?).clone();
    let body = cx.object_body()?;
    if let Some(tags) = body.get("tags") {
        if !tags.is_object() && !tags.is_null() {
            return Err(ArmError::invalid_request_content(
                "Error converting value to type 'Dictionary`2'. Path 'tags'.",
            ));
        }
        rg.body["tags"] = if tags.is_null() {
            json!({})
        } else {
            tags.clone()
        };
    }
    if let Some(m) = body.get("managedBy") {
        rg.body["managedBy"] = m.clone();
    }
    store.write(|tx| tx.put(&rg))?;
    Ok(Reply::json(200, &rg.body))
}

pub fn resource_groups_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    require_rg(store, cx.id)?;
    let key = cx.id.key();
    store.write(|tx| tx.delete_tree(&key))?;
    let location = cx.location_operation(store)?;
    Ok(Reply::empty(202)
        .header("location", location)
        .header("retry-after", "1"))
}

pub fn resource_groups_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.sub_key();
    let rows =
        store.read(|tx| tx.by_type("microsoft.resources/resourcegroups", Some(&sub), None))?;
    let filter = cx.req.query("$filter").map(str::to_string);
    let items = filter_items(
        rows.into_iter()
            .filter(|r| (cx.may_read)(&r.key))
            .map(|r| r.body)
            .collect(),
        filter.as_deref(),
        false,
    )?;
    Ok(list_reply(cx, items))
}

/// Apply ARM's list `$filter` (tagName/tagValue, resourceType, resourceGroup, name, substringof).
fn filter_items(
    items: Vec<Value>,
    filter: Option<&str>,
    allow_resource_fields: bool,
) -> Result<Vec<Value>, ArmError> {
    let Some(f) = filter.filter(|f| !f.trim().is_empty()) else {
        return Ok(items);
    };
    if let Some(rest) = f.trim().strip_prefix("substringof(") {
        let inner = rest
            .strip_suffix(')')
            .ok_or_else(|| ArmError::invalid_filter(f))?;
        let (needle, field) = inner
            .split_once(',')
            .ok_or_else(|| ArmError::invalid_filter(f))?;
        let needle = needle.trim().trim_matches('\'').to_lowercase();
        if !field.trim().eq_ignore_ascii_case("name") {
            return Err(ArmError::invalid_filter(f));
        }
        return Ok(items
            .into_iter()
            .filter(|v| {
                v["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(&needle)
            })
            .collect());
    }
    let clauses = parse_eq_filter(f).ok_or_else(|| ArmError::invalid_filter(f))?;
    let mut tag_name: Option<String> = None;
    let mut tag_value: Option<String> = None;
    let mut preds: Vec<(String, String)> = Vec::new();
    for (k, v) in clauses {
        match k.to_ascii_lowercase().as_str() {
            "tagname" => tag_name = Some(v),
            "tagvalue" => tag_value = Some(v),
            "resourcetype" | "resourcegroup" | "name" | "location"
                if allow_resource_fields
                    || k.eq_ignore_ascii_case("name")
                    || k.eq_ignore_ascii_case("location") =>
            {
                preds.push((k.to_ascii_lowercase(), v))
            }
            _ => return Err(ArmError::invalid_filter(f)),
        }
    }
    Ok(items
        .into_iter()
        .filter(|v| {
            if let Some(tn) = &tag_name {
                let tags = v["tags"].as_object();
                let hit = tags.and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case(tn)));
                match (hit, &tag_value) {
                    (None, _) => return false,
                    (Some((_, tv)), Some(want)) if tv.as_str() != Some(want.as_str()) => {
                        return false
                    }
                    _ => {}
                }
            }
            preds.iter().all(|(k, want)| {
                let got = match k.as_str() {
                    "resourcetype" => v["type"].as_str().unwrap_or_default().to_string(),
                    "resourcegroup" => rg_of(v["id"].as_str().unwrap_or_default()),
                    other => v[other].as_str().unwrap_or_default().to_string(),
                };
                got.eq_ignore_ascii_case(want)
            })
        })
        .collect())
}

fn rg_of(id: &str) -> String {
    ResourceId::parse(id)
        .ok()
        .and_then(|i| i.resource_group)
        .unwrap_or_default()
}

fn is_tracked_listing(r: &Stored) -> bool {
    // Resource lists show top-level tracked resources, not groups, extension resources or children.
    r.rtype != "microsoft.resources/resourcegroups"
        && r.rtype != "microsoft.resources/providers"
        && r.rtype != "microsoft.resources/deployments"
        && !r.rtype.starts_with("microsoft.authorization/")
        && !r.rtype.starts_with("microsoft.managedservices/")
        // a soft-deleted workspace is listed by `deletedWorkspaces` only
        && r.rtype != "microsoft.operationalinsights/deletedworkspaces"
        // fired alerts are AlertsManagement's records, not resources
        && r.rtype != "microsoft.alertsmanagement/alerts"
        && r.rtype.matches('/').count() == 1
}

pub fn resources_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.sub_key();
    let rg = cx.id.resource_group.clone();
    if rg.is_some() {
        require_rg(store, cx.id)?;
    }
    let rg_l = rg.map(|r| r.to_lowercase());
    let rows = store.read(|tx| tx.in_scope(&sub, rg_l.as_deref()))?;
    let items: Vec<Value> = rows
        .into_iter()
        .filter(is_tracked_listing)
        .filter(|r| (cx.may_read)(&r.key))
        .map(|r| generic_summary(&r.body, cx.req.query("$expand").unwrap_or_default()))
        .collect();
    let filter = cx.req.query("$filter").map(str::to_string);
    Ok(list_reply(
        cx,
        filter_items(items, filter.as_deref(), true)?,
    ))
}

/// The GenericResource shape resource lists return.
/// With `$expand=createdTime,changedTime,provisioningState` (any of them), lists add those fields.
fn generic_summary(b: &Value, expand: &str) -> Value {
    let mut out = Map::new();
    for k in [
        "id",
        "name",
        "type",
        "location",
        "kind",
        "sku",
        "plan",
        "identity",
        "managedBy",
        "tags",
        "extendedLocation",
        "zones",
    ] {
        if let Some(v) = b.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    let expand = expand.to_ascii_lowercase();
    for (field, value) in [
        ("createdTime", &b["systemData"]["createdAt"]),
        ("changedTime", &b["systemData"]["lastModifiedAt"]),
        ("provisioningState", &b["properties"]["provisioningState"]),
    ] {
        if expand.contains(&field.to_ascii_lowercase()) && !value.is_null() {
            out.insert(field.into(), value.clone());
        }
    }
    Value::Object(out)
}

// --- generic resources of any provider ---

/// The "{Namespace}/{type}/{name}[/{type}/{name}]" part ARM's ResourceNotFound message names.
fn type_and_name(id: &ResourceId) -> String {
    let Some(p) = id.last() else {
        return String::new();
    };
    let mut types = vec![p.namespace.clone()];
    let mut names = Vec::new();
    for (t, n) in &p.types {
        types.push(t.clone());
        names.push(n.clone().unwrap_or_default());
    }
    format!("{}/{}", types.join("/"), names.join("/"))
}

fn not_found(id: &ResourceId) -> ArmError {
    let rg = id.resource_group.clone().unwrap_or_default();
    ArmError::resource_not_found(&type_and_name(id), &rg)
}

/// Check that what `id` hangs from exists: its resource group, its parent resource (nested types) and
/// the scope an extension resource extends.
fn require_parents(store: &Store, id: &ResourceId) -> Result<(), ArmError> {
    if id.resource_group.as_deref().is_some_and(|r| !r.is_empty()) {
        require_rg(store, id)?;
    }
    let Some(last) = id.last() else { return Ok(()) };
    if last.types.len() > 1 {
        // The top-level resource must exist; intermediate singletons such as a storage account's
        // `blobServices/default` exist implicitly, as in Azure.
        let mut top = id.clone();
        if let Some(p) = top.providers.last_mut() {
            p.types.truncate(1);
        }
        if store.read(|tx| tx.get(&top.key()))?.is_none() {
            let pname = last.types[0].1.clone().unwrap_or_default();
            return Err(ArmError::new(
                "ParentResourceNotFound",
                // ARM's text whatever the method (a GET said 'write' before)
                format!("Can not perform requested operation on nested resource. Parent resource '{pname}' not found."),
            )
            .with_status(404)
            .with_target(pname));
        }
    } else if id.providers.len() > 1 {
        let scope = id.scope_of_last_part();
        if store.read(|tx| tx.get(&scope.key()))?.is_none() {
            return Err(not_found(&scope));
        }
    }
    Ok(())
}

fn etag(new_id: &str) -> String {
    format!("W/\"{new_id}\"")
}

pub fn resources_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut body = cx.object_body()?.clone();
    check_name(cx.id)?;
    let rtype = cx.id.full_type().unwrap_or_default();
    super::naming::check_name(&rtype, cx.id.name().unwrap_or_default())?;
    if let Some(e) = super::children::embedded(cx.id) {
        return put_embedded_child(cx, store, &e);
    }
    require_parents(store, cx.id)?;
    refuse_databricks_in_managed_subscription(cx, store)?;
    if let Some(Value::String(l)) = body.get("location") {
        let l = location_of(cx, l, Some(&rtype))?;
        body.insert("location".into(), json!(l));
    }
    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    let mut out = build_resource(cx, body, existing.as_ref().map(|e| &e.body));
    super::complete_resource(cx, store, &mut out, existing.as_ref().map(|e| &e.body))?;
    let id_shown = out["id"].as_str().unwrap_or_default().to_string();
    super::children::normalize_parent(&rtype, &id_shown, &etag(cx.new_id), &mut out);
    let managed_app = managed_application_parts(cx, &out)?;
    let global =
        super::naming::global(&rtype).filter(|_| cx.id.last().is_some_and(|p| p.types.len() == 1));
    store.write(|tx| -> Result<(), ArmError> {
        // A globally named type's name is taken by a resource of any subscription or tenant; looked
        // up in the same transaction as the insert.
        if let Some(g) = global {
            let name = cx.id.name().unwrap_or_default();
            if tx
                .by_type_and_name(g.rtype, name)?
                .iter()
                .any(|r| r.key != key)
            {
                return Err(g.taken(name));
            }
        }
        if let Some(sub) = super::naming::custom_subdomain(&rtype, &out) {
            // the accounts of this one type, by the type's index
            let holders = tx.by_type(&rtype.to_ascii_lowercase(), None, None)?;
            if holders.iter().any(|r| {
                r.key != key
                    && super::naming::custom_subdomain(&rtype, &r.body).as_deref()
                        == Some(sub.as_str())
            }) {
                return Err(super::naming::custom_domain_in_use(&sub));
            }
        }
        tx.put(&stored_row(cx.id, &rtype, out.clone()))?;
        if let Some((rg, deny)) = &managed_app {
            // The managed resource group and the system deny assignment are the platform's, made for
            // this application: they go whenever the application goes, however it is deleted.
            if tx.get(&rg.key)?.is_none() {
                tx.put(rg)?;
            }
            tx.set_owner(&rg.key, &key)?;
            let system_deny = tx
                .children(&rg.key, "microsoft.authorization/denyassignments")?
                .into_iter()
                .find(|d| d.body["properties"]["isSystemProtected"].as_bool() == Some(true));
            match system_deny {
                Some(d) => tx.set_owner(&d.key, &key)?,
                None => {
                    tx.put(deny)?;
                    tx.set_owner(&deny.key, &key)?;
                }
            }
        }
        Ok(())
    })?;
    let status = create_status(&rtype, existing.is_some());
    created_reply(cx, store, status, &out)
}

/// The answer to a PUT: the body, and the `Azure-AsyncOperation` that clients poll (not for the
/// platform replaying the world).
fn created_reply(cx: &Cx, store: &Store, status: u16, out: &Value) -> Result<Reply, ArmError> {
    if cx.caller.platform {
        return Ok(Reply::json(status, out));
    }
    let op = cx.async_operation(store, "Succeeded", None)?;
    Ok(Reply::json(status, out)
        .header("azure-asyncoperation", op)
        .header("retry-after", "1"))
}

/// A PUT of a child kept in its parent's body (a subnet, a security rule): one object seen both ways.
fn put_embedded_child(
    cx: &Cx,
    store: &Store,
    e: &super::children::Embedded,
) -> Result<Reply, ArmError> {
    if e.parent.resource_group.is_some() {
        require_rg(store, &e.parent)?;
    }
    let (child, existed) = super::children::put(cx, store, e, &etag(cx.new_id))?;
    let rtype = cx.id.full_type().unwrap_or_default();
    created_reply(cx, store, create_status(&rtype, existed), &child)
}

/// The status of a PUT: 200 for an update; for a create, 201 where every generated client of the
/// type accepts it (the specs' `responses`, tabled in `create_statuses`), else 200 — which 97% of the
/// PUTs of the generated clients accept (README "Create statuses").
fn create_status(rtype: &str, existed: bool) -> u16 {
    let t = rtype.to_ascii_lowercase();
    if !existed
        && super::create_statuses::CREATED_201
            .binary_search(&t.as_str())
            .is_ok()
    {
        201
    } else {
        200
    }
}

fn check_name(id: &ResourceId) -> Result<(), ArmError> {
    let name = id.name().unwrap_or_default();
    let bad = name.is_empty()
        || name.len() > 260
        || name.ends_with('.')
        || name.ends_with(' ')
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '<' | '>' | '%' | '&' | '\\' | '?' | '/'));
    if bad {
        return Err(ArmError::new(
            "InvalidResourceName",
            format!("The resource name '{name}' is invalid. It must not contain the characters '<', '>', '%', '&', '\\', '?', '/' or control characters, and must not end with '.' or a space."),
        ));
    }
    Ok(())
}

/// The stored JSON: what the client sent plus id, name, type, provisioningState, etag, systemData.
fn build_resource(cx: &Cx, mut body: Map<String, Value>, existing: Option<&Value>) -> Value {
    let canonical = cx.id.canonical();
    let name = existing
        .and_then(|e| e["name"].as_str().map(String::from))
        .unwrap_or_else(|| cx.id.name().unwrap_or_default().to_string());
    let id = existing
        .and_then(|e| e["id"].as_str().map(String::from))
        .unwrap_or(canonical);
    body.insert("id".into(), json!(id));
    body.insert("name".into(), json!(name));
    body.insert("type".into(), json!(cx.id.full_type().unwrap_or_default()));
    let props = body.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(p) = props {
        p.insert("provisioningState".into(), json!("Succeeded"));
    }
    body.insert("etag".into(), json!(etag(cx.new_id)));
    body.insert(
        "systemData".into(),
        cx.system_data(existing.map(|e| &e["systemData"])),
    );
    add_endpoints(cx, &mut body);
    add_identities(cx, &mut body, existing);
    Value::Object(body)
}

/// Managed identities get their service principal ids, as Azure makes them: a system-assigned identity
/// on any resource (`identity.type` containing SystemAssigned) and user-assigned identity resources.
/// Ids are kept across updates.
fn add_identities(cx: &Cx, body: &mut Map<String, Value>, existing: Option<&Value>) {
    let tenant = cx
        .id
        .subscription
        .as_deref()
        .and_then(|s| cx.snap.dir.subscription(s))
        .map(|s| s.tenant_id.to_lowercase())
        .unwrap_or_default();
    let wants_system = body
        .get("identity")
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.to_ascii_lowercase().contains("systemassigned"));
    if wants_system {
        let pid = existing
            .and_then(|e| e["identity"]["principalId"].as_str().map(String::from))
            .unwrap_or_else(|| cx.new_id.to_string());
        if let Some(Value::Object(i)) = body.get_mut("identity") {
            i.insert("principalId".into(), json!(pid));
            i.insert("tenantId".into(), json!(tenant));
        }
    }
    let is_uai = cx.id.full_type().is_some_and(|t| {
        t.eq_ignore_ascii_case("Microsoft.ManagedIdentity/userAssignedIdentities")
    });
    if is_uai {
        let keep = |k: &str| existing.and_then(|e| e["properties"][k].as_str().map(String::from));
        let pid = keep("principalId").unwrap_or_else(|| cx.new_id.to_string());
        // the client id: a second stable id derived from the principal id
        let client = keep("clientId").unwrap_or_else(|| {
            let hex: String = pid.chars().rev().filter(|c| *c != '-').collect();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
        });
        if let Some(Value::Object(p)) = body.get_mut("properties") {
            p.insert("principalId".into(), json!(pid));
            p.insert("clientId".into(), json!(client));
            p.insert("tenantId".into(), json!(tenant));
        }
    }
}

/// Storage accounts and vaults point at the emulator's own data-plane endpoints.
fn add_endpoints(cx: &Cx, body: &mut Map<String, Value>) {
    let t = cx.id.full_type().unwrap_or_default().to_ascii_lowercase();
    let name = cx.id.name().unwrap_or_default();
    if let Some(Value::Object(p)) = body.get_mut("properties") {
        set_endpoints(cx.base_url, &t, name, p);
    }
}

/// The data-plane endpoints of a storage account or key vault, path-style on the emulator's own URL
/// (README "Data plane"): `primaryEndpoints.blob` = `{base}/{account}/`, `vaultUri` = `{base}/{vault}/`.
fn set_endpoints(base: &str, rtype: &str, name: &str, p: &mut Map<String, Value>) {
    if rtype == "microsoft.storage/storageaccounts" {
        p.insert(
            "primaryEndpoints".into(),
            json!({"blob": format!("{base}/{name}/")}),
        );
    } else if rtype == "microsoft.keyvault/vaults" {
        p.insert("vaultUri".into(), json!(format!("{base}/{name}/")));
    }
}

/// The types whose answers carry the emulator's own data-plane URL.
fn has_endpoints(rtype: &str) -> bool {
    matches!(
        rtype,
        "microsoft.storage/storageaccounts" | "microsoft.keyvault/vaults"
    )
}

/// Endpoints follow the URL the client used (the world is loaded before any client connects).
fn with_endpoints(base: &str, mut body: Value) -> Value {
    let t = body["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if let Some(Value::Object(p)) = body.get_mut("properties") {
        set_endpoints(base, &t, &name, p);
    }
    body
}

/// A managed application (Microsoft.Solutions/applications) owns its managed resource group: creating
/// the application creates that group (managedBy the application) and the platform's deny assignment on
/// it — Everyone may read, nobody may change, the publisher excluded (ARM-FACTS.md §5.3).
fn managed_application_parts(cx: &Cx, app: &Value) -> Result<Option<(Stored, Stored)>, ArmError> {
    let t = cx.id.full_type().unwrap_or_default();
    if !t.eq_ignore_ascii_case("Microsoft.Solutions/applications") {
        return Ok(None);
    }
    let Some(mrg_id) = app["properties"]["managedResourceGroupId"].as_str() else {
        return Err(ArmError::bad_request(
            "A managed application needs properties.managedResourceGroupId.",
        ));
    };
    let mrg = ResourceId::parse(mrg_id)
        .ok()
        .filter(|m| m.resource_group.as_deref().is_some_and(|r| !r.is_empty()) && m.providers.is_empty())
        .filter(|m| m.subscription.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(cx.id.subscription.as_deref().unwrap_or_default())))
        .ok_or_else(|| ArmError::bad_request(format!("The managed resource group id '{mrg_id}' must name a resource group in the application's subscription.")))?;
    let app_id = app["id"].as_str().unwrap_or_default();
    let location = app["location"].as_str().unwrap_or("westeurope");
    let rg_name = mrg.resource_group.clone().unwrap_or_default();
    let sub = mrg.subscription.clone().unwrap_or_default().to_lowercase();
    let rg_body = json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{rg_name}"),
        "name": rg_name, "type": RG_TYPE, "location": location, "managedBy": app_id, "tags": {},
        "properties": {"provisioningState": "Succeeded"},
    });
    let rg = stored_row(&mrg, RG_TYPE, rg_body);
    // a stable id derived from the application's id
    let digest = sha2::Digest::finalize(sha2::Digest::chain_update(
        sha2::Sha256::default(),
        app_id.to_lowercase().as_bytes(),
    ));
    let h: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let guid = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    let scope = mrg.canonical();
    let publisher: Vec<Value> = app["properties"]["publisherTenantId"]
        .as_str()
        .map(|_| Vec::new())
        .unwrap_or_default();
    let deny_body = json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/denyAssignments/{guid}"),
        "name": guid, "type": "Microsoft.Authorization/denyAssignments",
        "properties": {
            "denyAssignmentName": format!("System deny assignment created by managed application {app_id}"),
            "description": "Created by the managed application: only the publisher may change its managed resource group.",
            "permissions": [{"actions": ["*"], "notActions": ["*/read"], "dataActions": [], "notDataActions": []}],
            "scope": scope, "doNotApplyToChildScopes": false,
            "principals": [{"id": crate::authz::EVERYONE, "type": "SystemDefined"}],
            "excludePrincipals": publisher, "isSystemProtected": true,
        }
    });
    let mut deny_id = mrg.clone();
    deny_id
        .providers
        .push(crate::arm::resource_id::ProviderPart {
            namespace: "Microsoft.Authorization".into(),
            types: vec![("denyAssignments".into(), Some(guid))],
        });
    let deny = stored_row(
        &deny_id,
        "Microsoft.Authorization/denyAssignments",
        deny_body,
    );
    Ok(Some((rg, deny)))
}

pub fn resources_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    if let Some(e) = super::children::embedded(cx.id) {
        return super::children::get(cx, store, &e);
    }
    let key = cx.id.key();
    match store.get(&key)? {
        Some(r) if has_endpoints(&r.rtype) => Ok(Reply::json(
            200,
            &with_endpoints(cx.base_url, r.body.clone()),
        )),
        Some(r) => Ok(Reply::json_bytes(200, r.json().to_vec())),
        None => {
            require_parents(store, cx.id)?;
            Err(not_found(cx.id))
        }
    }
}

pub fn resources_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    let mut row = store
        .read(|tx| tx.get(&key))?
        .ok_or_else(|| not_found(cx.id))?;
    apply_patch(&mut row.body, cx.object_body()?);
    row.body["etag"] = json!(etag(cx.new_id));
    row.body["systemData"] = cx.system_data(Some(&row.body["systemData"].clone()));
    let (rtype, id_shown) = (
        row.body["type"].as_str().unwrap_or_default().to_string(),
        row.body["id"].as_str().unwrap_or_default().to_string(),
    );
    super::children::normalize_parent(&rtype, &id_shown, &etag(cx.new_id), &mut row.body);
    store.write(|tx| tx.put(&row))?;
    Ok(Reply::json(200, &row.body))
}

/// A PATCH body applied to a stored resource as ARM applies it: JSON merge-patch, `tags` replaced whole,
/// the read-only `id`, `name`, `type`, `systemData` and `etag` ignored. The policy gate predicts the
/// stored resource with it too.
pub fn apply_patch(body: &mut Value, patch: &serde_json::Map<String, Value>) {
    for (k, v) in patch {
        if matches!(k.as_str(), "id" | "name" | "type" | "systemData" | "etag") {
            continue;
        }
        merge(&mut body[k.as_str()], v, k == "tags");
    }
}

/// JSON merge-patch, except that `tags` are replaced whole as ARM does.
fn merge(target: &mut Value, patch: &Value, replace: bool) {
    match (target, patch) {
        (t @ Value::Object(_), Value::Object(p)) if !replace => {
            if let Value::Object(tm) = t {
                for (k, v) in p {
                    if v.is_null() {
                        tm.remove(k);
                    } else {
                        merge(tm.entry(k.clone()).or_insert(Value::Null), v, false);
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub fn resources_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    if let Some(e) = super::children::embedded(cx.id) {
        return super::children::delete(cx, store, &e, &etag(cx.new_id));
    }
    let key = cx.id.key();
    // What the resource made as the platform (a managed application's managed resource group and
    // deny assignment) is owned by it and goes in the same transaction (`Tx::delete_tree`).
    let gone = store.write(|tx| {
        let gone = tx.delete_tree(&key)?;
        super::after_delete(cx, tx, &gone)?;
        Ok::<_, crate::store::StoreError>(gone)
    })?;
    if gone.is_empty() {
        require_parents(store, cx.id)?;
        return Ok(Reply::empty(204));
    }
    Ok(Reply::empty(200))
}

pub fn resources_list_children(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    if let Some(e) = super::children::embedded(cx.id) {
        if e.parent.resource_group.is_some() {
            require_rg(store, &e.parent)?;
        }
        return super::children::list(cx, store, &e);
    }
    let rtype = cx.id.full_type().unwrap_or_default().to_ascii_lowercase();
    let mut parent_id = cx.id.clone();
    if let Some(p) = parent_id.providers.last_mut() {
        p.types.pop();
        if p.types.is_empty() {
            parent_id.providers.pop();
        }
    }
    let rows = if parent_id.providers.is_empty() && parent_id.resource_group.is_none() {
        // `/subscriptions/{s}/providers/{ns}/{type}`: every one in the subscription
        let sub = cx.sub_key();
        store.read(|tx| tx.by_type(&rtype, Some(&sub), None))?
    } else {
        if parent_id
            .resource_group
            .as_deref()
            .is_some_and(|r| !r.is_empty())
        {
            require_rg(store, &parent_id)?;
        }
        let pkey = parent_id.key();
        store.read(|tx| tx.children(&pkey, &rtype))?
    };
    let filter = cx.req.query("$filter").map(str::to_string);
    let items = filter_items(
        rows.into_iter()
            .map(|r| with_endpoints(cx.base_url, r.body))
            .collect(),
        filter.as_deref(),
        true,
    )?;
    Ok(list_reply(cx, items))
}

pub fn resources_action(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let mut target = cx.id.clone();
    let verb = target
        .providers
        .last_mut()
        .and_then(|p| p.types.pop())
        .map(|(t, _)| t)
        .unwrap_or_default();
    if target.providers.last().is_some_and(|p| p.types.is_empty()) {
        if verb.eq_ignore_ascii_case("checkNameAvailability") {
            return check_name_availability(cx, store);
        }
        return Err(ArmError::not_found(format!(
            "The requested path '{}' was not found.",
            cx.id.canonical()
        )));
    }
    let key = target.key();
    let row = store
        .read(|tx| tx.get(&key))?
        .ok_or_else(|| not_found(&target))?;
    let t = row.rtype.as_str();
    if let Some(answer) = super::resource_action(cx, store, t, &verb) {
        return answer;
    }
    if t == "microsoft.storage/storageaccounts" && verb.eq_ignore_ascii_case("listKeys") {
        return Ok(Reply::json(
            200,
            &json!({"keys": [
            {"keyName": "key1", "value": "ZW11bGF0b3Ita2V5LTE=", "permissions": "FULL"},
            {"keyName": "key2", "value": "ZW11bGF0b3Ita2V5LTI=", "permissions": "FULL"}]}),
        ));
    }
    Ok(Reply::json(200, &json!({})))
}

/// `POST /subscriptions/{sub}/providers/{ns}/checkNameAvailability` with `{name, type}`: the name of a
/// globally named type (`naming::GLOBAL_NAMES`) is taken by a resource of any subscription or tenant,
/// and invalid by the type's name rule — the same two checks, in the same words, as its PUT (what
/// `az storage account create`, `az keyvault create` and `az storage account check-name` ask).
fn check_name_availability(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let ns = cx.id.namespace().unwrap_or_default().to_ascii_lowercase();
    let body = cx.object_body()?;
    let name = body.get("name").and_then(Value::as_str).ok_or_else(|| {
        ArmError::invalid_request_content("Required property 'name' not found in JSON.")
    })?;
    let given_type = body.get("type").and_then(Value::as_str).unwrap_or_default();
    let Some(g) = super::naming::global_for_check(&ns, given_type) else {
        return Err(ArmError::invalid_request_content(&format!(
            "The resource type '{given_type}' does not support checkNameAvailability in namespace '{ns}'."
        )));
    };
    let answer = if let Some((reason, message)) = super::naming::invalid_reason(g.rtype, name) {
        json!({"nameAvailable": false, "reason": reason, "message": message})
    } else if store
        .read(|tx| tx.by_type_and_name(g.rtype, name))?
        .is_empty()
    {
        json!({"nameAvailable": true})
    } else {
        // Service Bus and Event Hubs name the reason NameInUse; the others AlreadyExists
        let reason = if g.code == "BadRequest" && !g.rtype.starts_with("microsoft.documentdb") {
            "NameInUse"
        } else {
            "AlreadyExists"
        };
        json!({"nameAvailable": false, "reason": reason, "message": g.message_for(name)})
    };
    // Microsoft.Sql's CheckNameAvailabilityResponse names its fields `name` and `available`
    let answer = if g.rtype == "microsoft.sql/servers" {
        let mut a = answer;
        a["name"] = json!(name);
        a["available"] = a["nameAvailable"].clone();
        a
    } else {
        answer
    };
    Ok(Reply::json(200, &answer))
}

/// `GET /subscriptions/{sub}/tagNames`: every tag name on the subscription's groups and resources,
/// with its values and how many carry each (Tags_List).
pub fn tags_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.sub_key();
    let rows = store.read(|tx| tx.in_scope(&sub, None))?;
    // name → (count, value → count), in order of first sight; names compare case-insensitively
    type Counted = (String, usize);
    let mut names: Vec<(String, usize, Vec<Counted>)> = Vec::new();
    for r in &rows {
        let Some(tags) = r.body.get("tags").and_then(Value::as_object) else {
            continue;
        };
        for (k, v) in tags {
            let value = v.as_str().unwrap_or_default().to_string();
            let i = match names.iter().position(|(n, ..)| n.eq_ignore_ascii_case(k)) {
                Some(i) => i,
                None => {
                    names.push((k.clone(), 0, Vec::new()));
                    names.len() - 1
                }
            };
            let entry = &mut names[i];
            entry.1 += 1;
            match entry.2.iter_mut().find(|(v, _)| *v == value) {
                Some(v) => v.1 += 1,
                None => entry.2.push((value, 1)),
            }
        }
    }
    let items = names
        .into_iter()
        .map(|(name, count, values)| {
            let id = format!("/subscriptions/{sub}/tagNames/{name}");
            let values: Vec<Value> = values
                .into_iter()
                .map(|(v, c)| {
                    json!({"id": format!("{id}/tagValues/{v}"), "tagValue": v,
                           "count": {"type": "Total", "value": c}})
                })
                .collect();
            json!({"id": id, "tagName": name, "count": {"type": "Total", "value": count}, "values": values})
        })
        .collect();
    Ok(list_reply(cx, items))
}

/// The row whose tags `{scope}/providers/Microsoft.Resources/tags/default` names: the group or resource
/// itself; a subscription's tags live in a row of their own (subscriptions are not stored rows).
fn tags_row(cx: &Cx, store: &Store) -> Result<Stored, ArmError> {
    let scope = cx.id.scope_of_last_part();
    if scope.resource_group.is_none() && scope.providers.is_empty() {
        let own = store.read(|tx| tx.get(&cx.id.key()))?;
        let row = own.unwrap_or_else(|| {
            super::stored_row(cx.id, "Microsoft.Resources/tags", json!({"tags": {}}))
        });
        return Ok(row);
    }
    let key = scope.key();
    match store.read(|tx| tx.get(&key))? {
        Some(r) => Ok(r),
        None if scope.providers.is_empty() => Err(ArmError::resource_group_not_found(
            scope.resource_group.as_deref().unwrap_or_default(),
        )),
        None => Err(not_found(&scope)),
    }
}

fn tags_reply(cx: &Cx, tags: &Value) -> Reply {
    let scope = cx.id.scope_of_last_part().canonical();
    Reply::json(
        200,
        &json!({"id": format!("{scope}/providers/Microsoft.Resources/tags/default"),
                "name": "default", "type": "Microsoft.Resources/tags",
                "properties": {"tags": if tags.is_object() { tags.clone() } else { json!({}) }}}),
    )
}

/// `properties.tags` of a Tags request body: an object of strings.
fn body_tags(cx: &Cx) -> Result<Map<String, Value>, ArmError> {
    let body = cx.object_body()?;
    match &body.get("properties").and_then(|p| p.get("tags")) {
        Some(Value::Object(t)) if t.values().all(Value::is_string) => Ok(t.clone()),
        Some(Value::Object(_)) => Err(ArmError::invalid_request_content(
            "Error converting value to type 'String'. Path 'properties.tags'.",
        )),
        _ => Err(ArmError::invalid_request_content(
            "Required property 'properties.tags' not found in JSON.",
        )),
    }
}

fn put_tags(store: &Store, mut row: Stored, tags: Map<String, Value>) -> Result<Value, ArmError> {
    let tags = Value::Object(tags);
    row.body["tags"] = tags.clone();
    store.write(|tx| tx.put(&row))?;
    Ok(tags)
}

pub fn tags_get_at_scope(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let row = tags_row(cx, store)?;
    Ok(tags_reply(cx, &row.body["tags"]))
}

/// PUT replaces every tag of the scope.
pub fn tags_create_or_update_at_scope(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let tags = body_tags(cx)?;
    let row = tags_row(cx, store)?;
    Ok(tags_reply(cx, &put_tags(store, row, tags)?))
}

/// PATCH with `operation`: `Merge` adds or changes the given tags, `Replace` sets exactly them,
/// `Delete` removes the given names (when the value matches, or is given empty).
pub fn tags_update_at_scope(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let given = body_tags(cx)?;
    let op = cx
        .object_body()?
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let row = tags_row(cx, store)?;
    let mut tags = row.body["tags"].as_object().cloned().unwrap_or_default();
    match op.as_str() {
        "merge" => tags.extend(given),
        "replace" => tags = given,
        "delete" => tags.retain(|k, v| {
            !given
                .iter()
                .any(|(gk, gv)| gk.eq_ignore_ascii_case(k) && (gv == v || gv.as_str() == Some("")))
        }),
        _ => {
            return Err(ArmError::invalid_request_content(
                "The property 'operation' must be one of 'Merge', 'Replace' or 'Delete'.",
            ))
        }
    }
    Ok(tags_reply(cx, &put_tags(store, row, tags)?))
}

/// DELETE removes every tag of the scope.
pub fn tags_delete_at_scope(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let row = tags_row(cx, store)?;
    put_tags(store, row, Map::new())?;
    Ok(Reply::empty(200))
}

/// `POST …/resourcegroups/{rg}/exportTemplate` with `{resources: ["*"] | [ids], options}`: the group's
/// resources as a deployment template, names as parameters unless `SkipResourceNameParameterization`
/// (ResourceGroups_ExportTemplate; answered at once, which the SDK poller accepts).
pub fn resource_groups_export_template(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let rg = require_rg(store, cx.id)?;
    let body = cx.object_body()?;
    let wanted: Option<Vec<String>> = match body.get("resources").and_then(Value::as_array) {
        Some(list) if list.iter().any(|r| r.as_str() == Some("*")) => None,
        Some(list) => Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect(),
        ),
        None => {
            return Err(ArmError::invalid_request_content(
                "Required property 'resources' not found in JSON.",
            ))
        }
    };
    let options = body
        .get("options")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let parameterize = !options.contains("skipresourcenameparameterization");
    let rows = store.read(|tx| tx.in_scope(&rg.sub, Some(&rg.rg)))?;
    let mut parameters = serde_json::Map::new();
    let mut resources = Vec::new();
    for r in rows {
        if r.key == rg.key
            || r.rtype.starts_with("microsoft.authorization/")
            || r.rtype.starts_with("microsoft.resources/deployments")
            || wanted.as_ref().is_some_and(|w| !w.contains(&r.key))
        {
            continue;
        }
        let Ok(id) = ResourceId::parse(r.body["id"].as_str().unwrap_or(&r.key)) else {
            continue;
        };
        let Some(part) = id.providers.last() else {
            continue;
        };
        let full_type = id.full_type().unwrap_or_default();
        let names: Vec<&str> = part
            .types
            .iter()
            .filter_map(|(_, n)| n.as_deref())
            .collect();
        let (top_type, top_name) = (
            part.types[0].0.as_str(),
            names.first().copied().unwrap_or_default(),
        );
        let param = format!("{top_type}_{top_name}_name")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>();
        let name = if parameterize {
            parameters.insert(
                param.clone(),
                json!({"defaultValue": top_name, "type": "String"}),
            );
            if names.len() > 1 {
                format!(
                    "[concat(parameters('{param}'), '/{}')]",
                    names[1..].join("/")
                )
            } else {
                format!("[parameters('{param}')]")
            }
        } else {
            names.join("/")
        };
        let mut res = serde_json::Map::new();
        res.insert("type".into(), json!(full_type));
        let api =
            super::catalog::api_versions(&part.namespace, &full_type[part.namespace.len() + 1..]);
        let api = api.iter().find(|v| !v.contains("preview")).or(api.first());
        res.insert(
            "apiVersion".into(),
            json!(api.copied().unwrap_or("2021-04-01")),
        );
        res.insert("name".into(), json!(name));
        for (k, v) in r.body.as_object().into_iter().flatten() {
            if matches!(k.as_str(), "id" | "name" | "type" | "etag" | "systemData") {
                continue;
            }
            let mut v = v.clone();
            if k == "properties" {
                if let Some(p) = v.as_object_mut() {
                    p.remove("provisioningState");
                }
            }
            res.insert(k.clone(), v);
        }
        if names.len() > 1 {
            let top = if parameterize {
                format!("parameters('{param}')")
            } else {
                format!("'{top_name}'")
            };
            res.insert(
                "dependsOn".into(),
                json!([format!(
                    "[resourceId('{}/{}', {top})]",
                    part.namespace, top_type
                )]),
            );
        }
        resources.push(Value::Object(res));
    }
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": parameters,
        "variables": {},
        "resources": resources,
    });
    // `outputFormat: Bicep` answers `output` (the Bicep text) in place of `template`
    let bicep = body
        .get("outputFormat")
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case("Bicep"));
    Ok(Reply::json(
        200,
        &if bicep {
            json!({"output": crate::template::bicep::decompile(&template)})
        } else {
            json!({ "template": template })
        },
    ))
}

// --- providers and operation polling ---

/// Namespaces every subscription shows as registered.
pub const KNOWN_NAMESPACES: &[&str] = &[
    "Microsoft.Authorization",
    "Microsoft.Compute",
    "Microsoft.Databricks",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.ManagedServices",
    "Microsoft.Network",
    "Microsoft.OperationalInsights",
    "Microsoft.PolicyInsights",
    "Microsoft.ResourceGraph",
    "Microsoft.Resources",
    "Microsoft.Solutions",
    "Microsoft.Storage",
    "Microsoft.Web",
];

/// A namespace as the catalogue spells it (`microsoft.network` → `Microsoft.Network`), if it knows it.
fn known_namespace(ns: &str) -> Option<String> {
    KNOWN_NAMESPACES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(ns))
        .map(|k| k.to_string())
        .or_else(|| {
            super::catalog::namespaces()
                .get(&ns.to_ascii_lowercase())
                .map(|n| n.name.clone())
        })
}

fn provider_state(store: &Store, sub: &str, ns: &str) -> Result<String, ArmError> {
    let key = format!(
        "/subscriptions/{}/providers/{}",
        sub.to_lowercase(),
        ns.to_lowercase()
    );
    Ok(match store.read(|tx| tx.get(&key))? {
        Some(r) => r.body["registrationState"]
            .as_str()
            .unwrap_or("Registered")
            .to_string(),
        None if ns.eq_ignore_ascii_case("Microsoft.ManagedServices") => {
            if managed_services_in_use(store, sub)? {
                "Registered".into()
            } else {
                "NotRegistered".into()
            }
        }
        None if KNOWN_NAMESPACES.iter().any(|k| k.eq_ignore_ascii_case(ns)) => "Registered".into(),
        None => "NotRegistered".into(),
    })
}

/// Does the subscription hold registration definitions or assignments (onboarding registers the RP)?
fn managed_services_in_use(store: &Store, sub: &str) -> Result<bool, ArmError> {
    let sub = sub.to_lowercase();
    let defs = store.read(|tx| {
        tx.by_type(
            "microsoft.managedservices/registrationdefinitions",
            Some(&sub),
            None,
        )
    })?;
    let assigns = store.read(|tx| {
        tx.by_type(
            "microsoft.managedservices/registrationassignments",
            Some(&sub),
            None,
        )
    })?;
    Ok(!defs.is_empty() || !assigns.is_empty())
}

/// A subscription registered for Microsoft.ManagedServices cannot get Databricks workspaces (the seeds'
/// rule from the 2019–2020 documentation).
fn refuse_databricks_in_managed_subscription(cx: &Cx, store: &Store) -> Result<(), ArmError> {
    let t = cx.id.full_type().unwrap_or_default();
    if cx.caller.platform || !t.eq_ignore_ascii_case("Microsoft.Databricks/workspaces") {
        return Ok(());
    }
    let sub = cx.id.subscription.clone().unwrap_or_default();
    if provider_state(store, &sub, "Microsoft.ManagedServices")? == "Registered" {
        return Err(ArmError::new(
            "DatabricksNotSupportedOnDelegatedSubscription",
            format!("The subscription '{}' is registered for Azure delegated resource management (Microsoft.ManagedServices); Azure Databricks workspaces cannot be created in it.", sub.to_lowercase()),
        )
        .with_status(409));
    }
    Ok(())
}

fn provider_body(sub: &str, ns: &str, state: &str) -> Value {
    provider_body_as(sub, ns, state, false)
}

/// `aliases`: `$expand=resourceTypes/aliases` asked for the policy aliases of each type.
fn provider_body_as(sub: &str, ns: &str, state: &str, aliases: bool) -> Value {
    let mut types = super::catalog::resource_types(ns);
    if aliases {
        // types with aliases that no built-in role names (registrationDefinitions…) are listed too
        for t in crate::policy::aliases::types_in(ns) {
            if !types.iter().any(|x| {
                x["resourceType"]
                    .as_str()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&t))
            }) {
                let versions = super::catalog::api_versions(ns, &t);
                types.push(json!({"resourceType": t, "locations": [], "apiVersions": versions, "capabilities": "None"}));
            }
        }
        crate::policy::aliases::expand(ns, &mut types);
    }
    json!({
        // `GET /providers/{ns}` (Providers_GetAtTenantScope) has no subscription
        "id": if sub.is_empty() { format!("/providers/{ns}") } else { format!("/subscriptions/{}/providers/{ns}", sub.to_lowercase()) },
        "namespace": ns,
        "registrationState": state,
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": types,
    })
}

/// Every namespace the catalogue knows, and any other one registered in this subscription.
pub fn providers_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.id.subscription.clone().unwrap_or_default();
    let mut names: Vec<String> = KNOWN_NAMESPACES.iter().map(|k| k.to_string()).collect();
    for n in super::catalog::namespaces().values() {
        if !names.iter().any(|k| k.eq_ignore_ascii_case(&n.name)) {
            names.push(n.name.clone());
        }
    }
    let key = format!("/subscriptions/{}", sub.to_lowercase());
    for r in store.read(|tx| tx.children(&key, "microsoft.resources/providers"))? {
        let ns = r.body["namespace"].as_str().unwrap_or_default().to_string();
        if !names.iter().any(|k| k.eq_ignore_ascii_case(&ns)) {
            names.push(ns);
        }
    }
    let aliases = crate::policy::aliases::wants_aliases(cx.req.query("$expand"));
    let mut items = Vec::with_capacity(names.len());
    for ns in &names {
        items.push(provider_body_as(
            &sub,
            ns,
            &provider_state(store, &sub, ns)?,
            aliases,
        ));
    }
    Ok(list_reply(cx, items))
}

pub fn providers_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.id.subscription.clone().unwrap_or_default();
    let ns = cx.id.provider_namespace_only.clone().unwrap_or_default();
    let key = format!(
        "/subscriptions/{}/providers/{}",
        sub.to_lowercase(),
        ns.to_lowercase()
    );
    let display = match known_namespace(&ns) {
        Some(k) => k,
        None => match store.read(|tx| tx.get(&key))? {
            Some(r) => r.body["namespace"].as_str().unwrap_or(&ns).to_string(),
            None => return Err(ArmError::invalid_resource_namespace(&ns).with_status(404)),
        },
    };
    let state = provider_state(store, &sub, &display)?;
    let aliases = crate::policy::aliases::wants_aliases(cx.req.query("$expand"));
    Ok(Reply::json(
        200,
        &provider_body_as(&sub, &display, &state, aliases),
    ))
}

fn set_registration(cx: &Cx, store: &Store, state: &str) -> Result<Reply, ArmError> {
    let sub = cx.id.subscription.clone().unwrap_or_default();
    let ns_given = cx.id.namespace().unwrap_or_default().to_string();
    let ns = known_namespace(&ns_given).unwrap_or(ns_given);
    // the state is what is kept; the answer is built from the catalogue each time
    let kept = json!({"namespace": ns, "registrationState": state});
    let row = crate::store::Stored {
        key: format!(
            "/subscriptions/{}/providers/{}",
            sub.to_lowercase(),
            ns.to_lowercase()
        ),
        rtype: "microsoft.resources/providers".into(),
        sub: sub.to_lowercase(),
        rg: String::new(),
        parent: format!("/subscriptions/{}", sub.to_lowercase()),
        body: kept,
    };
    store.write(|tx| tx.put(&row))?;
    Ok(Reply::json(200, &provider_body(&sub, &ns, state)))
}

pub fn providers_register(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    set_registration(cx, store, "Registered")
}

pub fn providers_unregister(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    set_registration(cx, store, "Unregistered")
}

/// Does the caller's tenant own or manage the subscription in the path (tenant-level paths: yes)?
fn has_standing(cx: &Cx) -> bool {
    let Some(sub) = cx
        .id
        .subscription
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| cx.snap.dir.subscription(s))
    else {
        return true;
    };
    cx.caller.platform
        || sub.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id)
        || cx
            .snap
            .managed_by
            .get(&sub.subscription_id.to_lowercase())
            .is_some_and(|t| {
                t.iter()
                    .any(|t| t.eq_ignore_ascii_case(&cx.caller.tenant_id))
            })
}

/// `Location` polling: 200 once the operation is done (all emulator operations finish at once).
pub fn operation_results_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let op = cx.id.extra.get(1).cloned().unwrap_or_default();
    match super::operation_for(store, &op, cx.caller, has_standing(cx))? {
        Some(_) => Ok(Reply::empty(200)),
        None => Err(ArmError::not_found(format!(
            "The operation '{op}' could not be found."
        ))),
    }
}

/// `Azure-AsyncOperation` polling: the operation status body.
pub fn operation_statuses_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let op = cx.id.name().unwrap_or_default().to_string();
    match super::operation_for(store, &op, cx.caller, has_standing(cx))? {
        Some(body) => Ok(Reply::json(200, &body)),
        None => Err(ArmError::not_found(format!(
            "The operation '{op}' could not be found."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_names() {
        for (n, ok) in [
            ("rg-web", true),
            ("a.b_(c)", true),
            ("ends.", false),
            ("", false),
            ("sp ace", false),
            ("ümlaut", true),
        ] {
            assert_eq!(valid_rg_name(n), ok, "{n}");
        }
        assert!(!valid_rg_name(&"x".repeat(91)));
    }

    #[test]
    fn merge_patch_keeps_untouched_fields_and_replaces_tags() {
        let mut t = json!({"tags": {"a": "1"}, "properties": {"x": 1, "y": 2}});
        merge(&mut t["tags"], &json!({"b": "2"}), true);
        merge(&mut t["properties"], &json!({"y": null, "z": 3}), false);
        assert_eq!(
            t,
            json!({"tags": {"b": "2"}, "properties": {"x": 1, "z": 3}})
        );
    }
}

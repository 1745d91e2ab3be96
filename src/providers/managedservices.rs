//! Microsoft.ManagedServices (Azure Lighthouse): registration definitions and assignments at
//! subscription and resource-group scope with the onboarding rules of `lighthouse`, long-running answers
//! the SDK pollers follow, `$expandRegistrationDefinition`, the `managedByTenantId` filters, marketplace
//! definitions and the operations list. Follows ARM-FACTS.md §1, §7 and the 2022-10-01 spec examples.

use serde_json::{json, Map, Value};

use super::{list_reply, stored_row, Cx};
use crate::arm::api_version::at_least;
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_at_or_above, is_guid, ResourceId};
use crate::authz::{self, Path, Subject, Via};
use crate::facts::builtin_role;
use crate::lighthouse::{self, REGISTRATION_ASSIGNMENT_DELETE_ROLE};
use crate::store::{Store, Stored};
use crate::wire::Reply;

const DEF_TYPE: &str = "Microsoft.ManagedServices/registrationDefinitions";
const ASSIGN_TYPE: &str = "Microsoft.ManagedServices/registrationAssignments";
const DEF_TYPE_L: &str = "microsoft.managedservices/registrationdefinitions";
const ASSIGN_TYPE_L: &str = "microsoft.managedservices/registrationassignments";

fn invalid_definition(msg: impl Into<String>) -> ArmError {
    ArmError::new("InvalidRegistrationDefinitionCreateRequest", msg)
}

fn invalid_assignment(msg: impl Into<String>) -> ArmError {
    ArmError::new("InvalidRegistrationAssignmentCreateRequest", msg)
}

fn sub_of(cx: &Cx) -> String {
    cx.id
        .subscription
        .clone()
        .unwrap_or_default()
        .to_lowercase()
}

/// The customer's tenant: the tenant that owns the subscription in the path.
fn customer_tenant<'a>(cx: &'a Cx) -> Option<&'a crate::world::Tenant> {
    let sub = cx.snap.dir.subscription(&sub_of(cx))?;
    cx.snap.dir.tenant(&sub.tenant_id)
}

/// Onboarding and removal by the customer need Owner-level rights: besides the ManagedServices action
/// (checked by dispatch) the caller must be able to write role assignments there (ARM-FACTS §7.4, §7.5).
fn require_owner_level(cx: &Cx) -> Result<(), ArmError> {
    if cx.caller.platform {
        return Ok(());
    }
    let scope = cx.id.scope_of_last_part();
    let scope_key = scope.key();
    let action = "Microsoft.Authorization/roleAssignments/write";
    let path =
        if customer_tenant(cx).is_some_and(|t| t.id.eq_ignore_ascii_case(&cx.caller.tenant_id)) {
            Path::Customer
        } else {
            Path::Delegated
        };
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    let now = cx.now.unix_timestamp();
    if authz::decide(
        &subject,
        action,
        false,
        &scope_key,
        path,
        &cx.snap.access,
        now,
    )
    .is_allowed()
    {
        Ok(())
    } else {
        Err(ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            action,
            &scope.canonical(),
        ))
    }
}

/// Subscriptions holding a Databricks workspace cannot be onboarded (the seeds' rule).
fn refuse_databricks(cx: &Cx, store: &Store, what: &str) -> Result<(), ArmError> {
    let sub = sub_of(cx);
    let ws = store.read(|tx| tx.by_type("microsoft.databricks/workspaces", Some(&sub), None))?;
    if let Some(w) = ws.first() {
        let msg = format!(
            "The subscription '{sub}' uses Azure Databricks (workspace '{}'), so it cannot be onboarded to Azure delegated resource management.",
            w.body["id"].as_str().unwrap_or_default()
        );
        return Err(if what == "definition" {
            invalid_definition(msg)
        } else {
            invalid_assignment(msg)
        });
    }
    Ok(())
}

/// The definition as returned: stored JSON, minus `eligibleAuthorizations` for versions before
/// 2020-02-01-preview.
fn shape_definition(body: &Value, api: &str) -> Value {
    let mut b = body.clone();
    if !at_least(api, "2020-02-01-preview") {
        if let Some(p) = b.get_mut("properties").and_then(Value::as_object_mut) {
            p.remove("eligibleAuthorizations");
        }
    }
    if !at_least(api, "2019-09-01") {
        if let Some(o) = b.as_object_mut() {
            o.remove("systemData");
        }
    }
    b
}

fn lro_reply(cx: &Cx, store: &Store, status: u16, body: &Value) -> Result<Reply, ArmError> {
    if cx.caller.platform {
        return Ok(Reply::json(status, body));
    }
    let op = cx.async_operation(store, "Succeeded", None)?;
    Ok(Reply::json(status, body)
        .header("azure-asyncoperation", op)
        .header("retry-after", "1"))
}

pub fn registration_definitions_create_or_update(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    if !is_guid(&name) {
        return Err(invalid_definition(format!(
            "The registration definition id '{name}' is not a valid GUID."
        )));
    }
    if cx.id.resource_group.is_some() {
        return Err(invalid_definition(format!(
            "The registration definition '{name}' must be created at subscription scope; assign it to a resource group with a registration assignment."
        )));
    }
    let body = cx.object_body()?;
    let props = body
        .get("properties")
        .filter(|p| p.is_object())
        .ok_or_else(|| {
            invalid_definition(format!(
                "The registration definition '{name}' has no 'properties'."
            ))
        })?;
    let customer = customer_tenant(cx)
        .cloned()
        .ok_or_else(|| ArmError::subscription_not_found(&sub_of(cx)))?;
    let managed_by = props["managedByTenantId"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let managing = cx.snap.dir.tenant(&managed_by).cloned();
    let builtin = |g: &str| builtin_role(g).map(|r| r.as_ref());
    let kind = |id: &str| cx.snap.dir.principal(id).map(|p| p.kind.as_str());
    let rules = lighthouse::Context {
        definition: &name,
        customer_tenant: &customer.id,
        customer_cloud: &customer.cloud,
        managing_cloud: managing.as_ref().map(|t| t.cloud.as_str()),
        builtin: &builtin,
        principal_kind: &kind,
        max_authorizations: cx.max_authorizations,
    };
    lighthouse::check_definition(&rules, props, body.get("plan")).map_err(invalid_definition)?;
    refuse_databricks(cx, store, "definition")?;
    require_owner_level(cx)?;

    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    let mut p: Map<String, Value> = props.as_object().cloned().unwrap_or_default();
    p.insert("managedByTenantId".into(), json!(managed_by));
    p.insert("provisioningState".into(), json!("Succeeded"));
    p.insert("manageeTenantId".into(), json!(customer.id));
    p.insert("manageeTenantName".into(), json!(customer.display_name));
    if let Some(m) = &managing {
        p.insert("managedByTenantName".into(), json!(m.display_name));
    }
    let sub = sub_of(cx);
    let mut out = json!({
        "properties": p,
        "id": format!("/subscriptions/{sub}/providers/{DEF_TYPE}/{}", name.to_lowercase()),
        "type": DEF_TYPE,
        "name": name.to_lowercase(),
        "systemData": cx.system_data(existing.as_ref().map(|e| &e.body["systemData"])),
    });
    if let Some(plan) = body.get("plan").filter(|p| !p.is_null()) {
        out["plan"] = plan.clone();
    }
    store.write(|tx| tx.put(&stored_row(cx.id, DEF_TYPE, out.clone())))?;
    lro_reply(
        cx,
        store,
        if existing.is_some() { 200 } else { 201 },
        &shape_definition(&out, cx.api_version),
    )
}

pub fn registration_definitions_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = definition_key(cx.id);
    match store.read(|tx| tx.get(&key))? {
        Some(r) => Ok(Reply::json(200, &shape_definition(&r.body, cx.api_version))),
        None => Err(not_found(cx, "registration definition")),
    }
}

/// Definitions live at subscription scope; a resource-group path names the same definition.
fn definition_key(id: &ResourceId) -> String {
    let mut d = id.clone();
    d.resource_group = None;
    d.key()
}

fn not_found(cx: &Cx, what: &str) -> ArmError {
    ArmError::new(
        "ResourceNotFound",
        format!(
            "The {what} '{}' could not be found.",
            cx.id.name().unwrap_or_default()
        ),
    )
    .with_status(404)
}

pub fn registration_definitions_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = definition_key(cx.id);
    if store.read(|tx| tx.get(&key))?.is_none() {
        return Ok(Reply::empty(204));
    }
    require_owner_level(cx)?;
    let sub = sub_of(cx);
    let users = store.read(|tx| tx.by_type(ASSIGN_TYPE_L, Some(&sub), None))?;
    if let Some(a) = users.iter().find(|a| {
        a.body["properties"]["registrationDefinitionId"]
            .as_str()
            .is_some_and(|d| d.eq_ignore_ascii_case(&key))
    }) {
        return Err(ArmError::conflict(format!(
            "The registration definition '{}' is used by the registration assignment '{}'; delete the assignment first.",
            cx.id.name().unwrap_or_default(),
            a.body["id"].as_str().unwrap_or_default()
        )));
    }
    store.write(|tx| tx.delete(&key))?;
    Ok(Reply::empty(200))
}

/// `$filter=managedByTenantId eq 'x'` or `managedByTenantId in ('x', 'y')`.
fn managed_by_filter(cx: &Cx) -> Result<Option<Vec<String>>, ArmError> {
    let Some(f) = cx
        .req
        .query("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    else {
        return Ok(None);
    };
    let bad = || ArmError::invalid_filter(f);
    let (field, rest) = f.split_once(char::is_whitespace).ok_or_else(bad)?;
    if !field.eq_ignore_ascii_case("managedByTenantId") {
        return Err(bad());
    }
    let rest = rest.trim_start();
    let (op, value) = rest.split_once(char::is_whitespace).ok_or_else(bad)?;
    let ids: Vec<String> = match op.to_ascii_lowercase().as_str() {
        "eq" => vec![value.trim().trim_matches('\'').to_lowercase()],
        "in" => value
            .trim()
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or_else(bad)?
            .split(',')
            .map(|s| s.trim().trim_matches('\'').to_lowercase())
            .collect(),
        _ => return Err(bad()),
    };
    Ok(Some(ids))
}

pub fn registration_definitions_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let filter = managed_by_filter(cx)?;
    let sub = sub_of(cx);
    let rows = store.read(|tx| tx.by_type(DEF_TYPE_L, Some(&sub), None))?;
    let items = rows
        .into_iter()
        .filter(|r| match &filter {
            Some(ids) => ids.contains(
                &r.body["properties"]["managedByTenantId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase(),
            ),
            None => true,
        })
        .map(|r| shape_definition(&r.body, cx.api_version))
        .collect();
    Ok(list_reply(cx, items))
}

// --- assignments ---

pub fn registration_assignments_create_or_update(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    if !is_guid(&name) {
        return Err(invalid_assignment(format!(
            "The registration assignment id '{name}' is not a valid GUID."
        )));
    }
    if cx
        .id
        .resource_group
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        let rg_key = cx.id.scope_of_last_part().key();
        if store.read(|tx| tx.get(&rg_key))?.is_none() {
            return Err(ArmError::resource_group_not_found(
                cx.id.resource_group.as_deref().unwrap_or_default(),
            ));
        }
    }
    let body = cx.object_body()?;
    let def_id = body
        .get("properties")
        .and_then(|p| p.get("registrationDefinitionId"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let parsed = ResourceId::parse(&def_id).ok().filter(|d| {
        d.full_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(DEF_TYPE))
            && d.subscription
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&sub_of(cx)))
    });
    let Some(def_rid) = parsed else {
        return Err(invalid_assignment(format!(
            "The registration definition id '{def_id}' of registration assignment '{name}' must be the full id of a registration definition in subscription '{}'.",
            sub_of(cx)
        )));
    };
    let def_key = definition_key(&def_rid);
    let Some(def) = store.read(|tx| tx.get(&def_key))? else {
        return Err(invalid_assignment(format!(
            "The registration definition '{def_id}' does not exist."
        )));
    };
    refuse_databricks(cx, store, "assignment")?;
    require_owner_level(cx)?;
    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    if let Some(e) = &existing {
        let old = e.body["properties"]["registrationDefinitionId"]
            .as_str()
            .unwrap_or_default();
        if !old.eq_ignore_ascii_case(def.body["id"].as_str().unwrap_or_default()) {
            return Err(invalid_assignment(format!(
                "The registration assignment '{name}' already points at '{old}'; its registration definition cannot be changed."
            )));
        }
    }
    let out = json!({
        "properties": {
            "registrationDefinitionId": def.body["id"],
            "provisioningState": "Succeeded",
        },
        "id": format!("{}/providers/{ASSIGN_TYPE}/{}", cx.id.scope_of_last_part().canonical(), name.to_lowercase()),
        "type": ASSIGN_TYPE,
        "name": name.to_lowercase(),
        "systemData": cx.system_data(existing.as_ref().map(|e| &e.body["systemData"])),
    });
    store.write(|tx| tx.put(&stored_row(cx.id, ASSIGN_TYPE, out.clone())))?;
    let shown = shape_assignment(cx, store, &out)?;
    lro_reply(
        cx,
        store,
        if existing.is_some() { 200 } else { 201 },
        &shown,
    )
}

/// An assignment as returned, with its definition inlined when `$expandRegistrationDefinition=true`.
fn shape_assignment(cx: &Cx, store: &Store, body: &Value) -> Result<Value, ArmError> {
    let mut b = body.clone();
    if !at_least(cx.api_version, "2019-09-01") {
        if let Some(o) = b.as_object_mut() {
            o.remove("systemData");
        }
    }
    let expand = cx
        .req
        .query("$expandRegistrationDefinition")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if expand {
        let def_key = body["properties"]["registrationDefinitionId"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        if let Some(d) = store.read(|tx| tx.get(&def_key))? {
            b["properties"]["registrationDefinition"] = shape_definition(&d.body, cx.api_version);
        }
    }
    Ok(b)
}

pub fn registration_assignments_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    match store.read(|tx| tx.get(&key))? {
        Some(r) => Ok(Reply::json(200, &shape_assignment(cx, store, &r.body)?)),
        None => Err(not_found(cx, "registration assignment")),
    }
}

/// Who may remove a delegation: the customer with Owner-level rights, or a managing-tenant principal
/// holding the "Managed Services Registration assignment Delete Role" in this delegation (§7.5).
fn require_remover(cx: &Cx, assignment: &Stored) -> Result<(), ArmError> {
    if cx.caller.platform {
        return Ok(());
    }
    let is_customer =
        customer_tenant(cx).is_some_and(|t| t.id.eq_ignore_ascii_case(&cx.caller.tenant_id));
    if is_customer {
        return require_owner_level(cx);
    }
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    let id = assignment.body["id"].as_str().unwrap_or_default();
    let holds = cx.snap.access.grants_of(&subject).any(|g| {
        matches!(&g.via, Via::Delegation { registration_assignment_id, .. } if registration_assignment_id.eq_ignore_ascii_case(id))
            && g.role.id == REGISTRATION_ASSIGNMENT_DELETE_ROLE
    });
    if holds {
        Ok(())
    } else {
        Err(ArmError::authorization_failed(
            &cx.caller.client_name,
            &cx.caller.object_id,
            "Microsoft.ManagedServices/registrationAssignments/delete",
            &cx.id.canonical(),
        ))
    }
}

pub fn registration_assignments_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    let Some(row) = store.read(|tx| tx.get(&key))? else {
        return Ok(Reply::empty(204));
    };
    require_remover(cx, &row)?;
    store.write(|tx| tx.delete(&key))?;
    if cx.caller.platform {
        return Ok(Reply::empty(200));
    }
    let op = cx.async_operation(store, "Succeeded", None)?;
    let loc = cx.location_operation(store)?;
    Ok(Reply::empty(202)
        .header("azure-asyncoperation", op)
        .header("location", loc)
        .header("retry-after", "1"))
}

pub fn registration_assignments_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let filter = managed_by_filter(cx)?;
    let sub = sub_of(cx);
    let scope = cx.id.scope_of_last_part().key();
    let rows = store.read(|tx| tx.by_type(ASSIGN_TYPE_L, Some(&sub), None))?;
    let mut items = Vec::new();
    for r in rows {
        if !is_at_or_above(&scope, &r.parent) {
            continue;
        }
        if let Some(ids) = &filter {
            let def_key = r.body["properties"]["registrationDefinitionId"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let managed_by = store
                .read(|tx| tx.get(&def_key))?
                .and_then(|d| {
                    d.body["properties"]["managedByTenantId"]
                        .as_str()
                        .map(str::to_lowercase)
                })
                .unwrap_or_default();
            if !ids.contains(&managed_by) {
                continue;
            }
        }
        items.push(shape_assignment(cx, store, &r.body)?);
    }
    Ok(list_reply(cx, items))
}

// --- marketplace definitions: the plans of definitions that carry one ---

fn marketplace_identifier(plan: &Value) -> String {
    ["publisher", "product", "name", "version"]
        .iter()
        .map(|k| plan[*k].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(".")
}

fn marketplace_items(cx: &Cx, store: &Store) -> Result<Vec<Value>, ArmError> {
    let subs: Vec<String> = match cx.id.subscription.as_deref() {
        Some(s) if !s.is_empty() => vec![s.to_lowercase()],
        _ => cx
            .snap
            .dir
            .subscriptions
            .iter()
            .filter(|s| s.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id))
            .map(|s| s.subscription_id.to_lowercase())
            .collect(),
    };
    let prefix = match cx.id.subscription.as_deref() {
        Some(s) if !s.is_empty() => format!("/subscriptions/{}", s.to_lowercase()),
        _ => String::new(),
    };
    let mut items = Vec::new();
    for s in subs {
        for r in store.read(|tx| tx.by_type(DEF_TYPE_L, Some(&s), None))? {
            let Some(plan) = r.body.get("plan").filter(|p| p.is_object()) else {
                continue;
            };
            let ident = marketplace_identifier(plan);
            let p = &r.body["properties"];
            let mut props = json!({
                "managedByTenantId": p["managedByTenantId"],
                "authorizations": p["authorizations"],
                "offerDisplayName": plan["product"],
                "publisherDisplayName": plan["publisher"],
                "planDisplayName": plan["name"],
            });
            if at_least(cx.api_version, "2020-02-01-preview")
                && p.get("eligibleAuthorizations").is_some()
            {
                props["eligibleAuthorizations"] = p["eligibleAuthorizations"].clone();
            }
            items.push(json!({
                "properties": props,
                "plan": plan,
                "id": format!("{prefix}/providers/Microsoft.ManagedServices/marketplaceRegistrationDefinitions/{ident}"),
                "type": "Microsoft.ManagedServices/marketplaceRegistrationDefinitions",
                "name": ident,
            }));
        }
    }
    Ok(items)
}

pub fn marketplace_registration_definitions_list(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    let mut items = marketplace_items(cx, store)?;
    if let Some(f) = cx.req.query("$filter").filter(|f| !f.trim().is_empty()) {
        let pairs = super::parse_eq_filter(f).ok_or_else(|| ArmError::invalid_filter(f))?;
        match pairs.as_slice() {
            [(k, v)] if k.eq_ignore_ascii_case("planIdentifier") => items.retain(|i| {
                i["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(v))
            }),
            _ => return Err(ArmError::invalid_filter(f)),
        }
    }
    Ok(list_reply(cx, items))
}

pub fn marketplace_registration_definitions_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let want = cx.id.name().unwrap_or_default().to_lowercase();
    // `publisher.product.plan.version`, or a prefix of it (publisher, publisher.product, …)
    let hit = marketplace_items(cx, store)?.into_iter().find(|i| {
        let n = i["name"].as_str().unwrap_or_default().to_lowercase();
        n == want || n.starts_with(&format!("{want}."))
    });
    hit.map(|h| Reply::json(200, &h))
        .ok_or_else(|| not_found(cx, "marketplace registration definition"))
}

pub fn managed_services_operations_list(_cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let ops = [
        (
            "Microsoft.ManagedServices/registrationDefinitions/read",
            "Managed Services Registration Definition",
            "List Managed Services Registration Definitions",
            "Retrieves a list of Managed Services registration definitions.",
        ),
        (
            "Microsoft.ManagedServices/registrationDefinitions/write",
            "Managed Services Registration Definition",
            "Create or Update Managed Services Registration Definition",
            "Add or modify Managed Services registration definition.",
        ),
        (
            "Microsoft.ManagedServices/registrationDefinitions/delete",
            "Managed Services Registration Definition",
            "Delete Managed Services Registration Definition",
            "Removes Managed Services registration definition.",
        ),
        (
            "Microsoft.ManagedServices/registrationAssignments/read",
            "Managed Services Registration Assignment",
            "List Managed Services Registration Assignments",
            "Retrieves a list of Managed Services registration assignments.",
        ),
        (
            "Microsoft.ManagedServices/registrationAssignments/write",
            "Managed Services Registration Assignment",
            "Create or Update Managed Services Registration Assignment",
            "Add or modify Managed Services registration assignment.",
        ),
        (
            "Microsoft.ManagedServices/registrationAssignments/delete",
            "Managed Services Registration Assignment",
            "Delete Managed Services Registration Assignment",
            "Removes Managed Services registration assignment.",
        ),
        (
            "Microsoft.ManagedServices/marketplaceRegistrationDefinitions/read",
            "Managed Services Marketplace Registration Definition",
            "List Managed Services Marketplace Registration Definitions",
            "Retrieves a list of Managed Services marketplace registration definitions.",
        ),
        (
            "Microsoft.ManagedServices/operationStatuses/read",
            "Operation Status",
            "Read Operation Status",
            "Read operation status.",
        ),
        (
            "Microsoft.ManagedServices/register/action",
            "Register",
            "Register Subscription",
            "Register to Managed Services.",
        ),
        (
            "Microsoft.ManagedServices/unregister/action",
            "Unregister",
            "Unregister Subscription",
            "Unregister from Managed Services.",
        ),
    ];
    let value: Vec<Value> = ops
        .iter()
        .map(|(name, resource, operation, description)| json!({
            "name": name,
            "display": {"provider": "Microsoft Managed Services", "resource": resource, "operation": operation, "description": description},
        }))
        .collect();
    Ok(Reply::json(200, &json!({ "value": value })))
}

//! Microsoft.Management: management groups (each tenant's root "Tenant Root Group" named after the
//! tenant id, groups below it, subscriptions moved in and out), descendants, hierarchy settings,
//! checkNameAvailability, getEntities and operations. Every handler authorizes itself (the root is
//! readable by its whole tenant; moves to or from the root need no right on it), always on the
//! customer path: a delegation never reaches a management group. Follows the 2023-04-01 spec and
//! learn.microsoft.com/azure/governance/management-groups (overview, "Management group access").

use serde_json::{json, Value};

use super::{stored_row, Caller, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::authz::{self, Path, Subject};
use crate::facts::{derived_guid, Snapshot};
use crate::hierarchy::{group_id, group_key, Group, GROUP_SUBSCRIPTION_TYPE};

use crate::store::Store;
use crate::wire::Reply;

const TYPE: &str = "Microsoft.Management/managementGroups";
const SUB_TYPE: &str = "Microsoft.Management/managementGroups/subscriptions";
const SETTINGS: &str = "Microsoft.Management/managementGroups/settings";
const READ: &str = "Microsoft.Management/managementGroups/read";
const WRITE: &str = "Microsoft.Management/managementGroups/write";
const DELETE: &str = "Microsoft.Management/managementGroups/delete";
const SUB_WRITE: &str = "Microsoft.Management/managementGroups/subscriptions/write";
const SUB_DELETE: &str = "Microsoft.Management/managementGroups/subscriptions/delete";
const SETTINGS_WRITE: &str = "Microsoft.Management/managementGroups/settings/write";
const SETTINGS_DELETE: &str = "Microsoft.Management/managementGroups/settings/delete";
/// Moving a subscription needs Owner on it (learn.microsoft.com, "Moving management groups and
/// subscriptions"): the right to write role assignments there.
const SUBSCRIPTION_OWNER: &str = "Microsoft.Authorization/roleAssignments/write";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
/// The version stamp of a root group nobody has changed.
const ROOT_UPDATED: &str = "2020-01-01T00:00:00.0000000Z";

/// Dispatch's hook for every id at or below a management group: a delegation never reaches one
/// (Lighthouse delegates subscriptions and resource groups only), and a principal of another tenant —
/// a service provider's included — never sees a tenant's groups.
pub fn reachable(snap: &Snapshot, caller: &Caller, id: &ResourceId) -> Result<(), ArmError> {
    let Some(name) = id.management_group() else {
        return Ok(());
    };
    if id.providers[1..].iter().any(|p| {
        p.namespace
            .eq_ignore_ascii_case("Microsoft.ManagedServices")
    }) {
        // emulator wording: Azure Lighthouse onboards subscriptions and resource groups only
        // (learn.microsoft.com/azure/lighthouse/how-to/onboard-management-group)
        return Err(ArmError::new(
            "InvalidResourceType",
            format!("The resource type '{}' is not supported at management group scope '{}': Azure Lighthouse delegates subscriptions and resource groups only.", id.full_type().unwrap_or_default(), group_id(name)),
        )
        .with_status(400));
    }
    if caller.platform || id.providers.len() == 1 {
        return Ok(()); // the group's own operations answer for themselves
    }
    match snap.groups.group(name) {
        Some(g) if !g.tenant_id.eq_ignore_ascii_case(&caller.tenant_id) => {
            Err(ArmError::authorization_failed(
                &caller.client_name,
                &caller.object_id,
                &id.action("GET"),
                &group_id(name),
            ))
        }
        _ => Ok(()),
    }
}

fn allowed(cx: &Cx, action: &str, scope_key: &str) -> bool {
    if cx.caller.platform {
        return true;
    }
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    authz::decide(
        &subject,
        action,
        false,
        scope_key,
        Path::Customer,
        &cx.snap.access,
        cx.now.unix_timestamp(),
    )
    .is_allowed()
}

fn refuse(cx: &Cx, action: &str, scope: &str) -> ArmError {
    ArmError::authorization_failed(&cx.caller.client_name, &cx.caller.object_id, action, scope)
        .with_header(
            "x-ms-emulator-decision",
            "denied; no role assignment grants this action on the management group or above it"
                .into(),
        )
}

fn require(cx: &Cx, action: &str, g: &Group) -> Result<(), ArmError> {
    if allowed(cx, action, &group_key(&g.name)) {
        Ok(())
    } else {
        Err(refuse(cx, action, &group_id(&g.name)))
    }
}

/// The root is readable by every principal of its tenant; any other group needs `read` on it or above.
fn may_read(cx: &Cx, g: &Group) -> bool {
    (g.is_root() && same_tenant(cx, g)) || allowed(cx, READ, &group_key(&g.name))
}

fn same_tenant(cx: &Cx, g: &Group) -> bool {
    cx.caller.platform || g.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id)
}

fn not_found(name: &str) -> ArmError {
    // emulator wording; a group of another tenant answers the same
    ArmError::not_found(format!("'{}' not found", group_id(name))).with_status(404)
}

/// The group the request names, if it is one of the caller's tenant.
fn the_group<'a>(cx: &'a Cx) -> Result<&'a Group, ArmError> {
    let name = cx.id.management_group().unwrap_or_default();
    cx.snap
        .groups
        .group(name)
        .filter(|g| same_tenant(cx, g))
        .ok_or_else(|| not_found(name))
}

fn readable_group<'a>(cx: &'a Cx) -> Result<&'a Group, ArmError> {
    let g = the_group(cx)?;
    if may_read(cx, g) {
        Ok(g)
    } else {
        Err(refuse(cx, READ, &group_id(&g.name)))
    }
}

fn parent_info(cx: &Cx, g: &Group) -> Value {
    match g.parent.as_deref().and_then(|p| cx.snap.groups.group(p)) {
        Some(p) => json!({"id": group_id(&p.name), "name": p.name, "displayName": p.display_name}),
        None => Value::Null,
    }
}

fn details(cx: &Cx, g: &Group) -> Value {
    let stored = g.body.as_ref().map(|b| &b["properties"]["details"]);
    let pick = |k: &str, dflt: Value| {
        stored
            .and_then(|d| d.get(k))
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(dflt)
    };
    let mut d = json!({
        "version": pick("version", json!(1)),
        "updatedTime": pick("updatedTime", json!(ROOT_UPDATED)),
        "updatedBy": pick("updatedBy", json!(g.tenant_id)),
    });
    let parent = parent_info(cx, g);
    if !parent.is_null() {
        d["parent"] = parent;
    }
    d
}

fn child_items(cx: &Cx, g: &Group, recurse: bool, subscriptions: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for c in cx.snap.groups.child_groups(&g.name) {
        let mut item = json!({"id": group_id(&c.name), "type": TYPE, "name": c.name, "displayName": c.display_name});
        if recurse {
            let below = child_items(cx, c, true, subscriptions);
            if !below.is_empty() {
                item["children"] = json!(below);
            }
        }
        out.push(item);
    }
    if subscriptions {
        for s in cx.snap.groups.subscriptions_in(&g.name) {
            let name = cx
                .snap
                .dir
                .subscription(&s)
                .map(|x| x.display_name.clone())
                .unwrap_or_default();
            out.push(json!({"id": format!("/subscriptions/{s}"), "type": "/subscriptions", "name": s, "displayName": name}));
        }
    }
    out
}

/// The ManagementGroup body, with what `$expand` asks for.
fn group_body(cx: &Cx, g: &Group, expand: Option<&str>, recurse: bool, subs: bool) -> Value {
    let mut d = details(cx, g);
    let chain = cx.snap.groups.ancestors(&g.name);
    match expand.map(str::to_ascii_lowercase).as_deref() {
        Some("path") => {
            d["path"] = chain
                .iter()
                .rev()
                .map(|a| json!({"name": a.name, "displayName": a.display_name}))
                .collect();
        }
        Some("ancestors") => {
            d["managementGroupAncestorsChain"] = chain
                .iter()
                .map(|a| json!({"name": a.name, "displayName": a.display_name}))
                .collect();
        }
        _ => {}
    }
    let mut p = json!({"tenantId": g.tenant_id, "displayName": g.display_name, "details": d});
    if expand.is_some_and(|e| e.eq_ignore_ascii_case("children")) {
        p["children"] = json!(child_items(cx, g, recurse, subs));
    }
    json!({"id": group_id(&g.name), "type": TYPE, "name": g.name, "properties": p})
}

fn accepted(cx: &Cx, store: &Store, name: &str, location: bool) -> Result<Reply, ArmError> {
    let op = cx.async_operation(store, "Succeeded", None)?;
    let body = json!({"id": group_id(name), "type": TYPE, "name": name, "status": "NotStarted"});
    let mut r = Reply::json(202, &body)
        .header("azure-asyncoperation", op)
        .header("retry-after", "0".to_string());
    if location {
        r = r.header(
            "location",
            format!(
                "{}{}?api-version={}",
                cx.base_url,
                group_id(name),
                cx.api_version
            ),
        );
    }
    Ok(r)
}

/// Azure's id rules: up to 90 letters, digits, `-`, `_`, `(`, `)`, `.`; not ending with `.`.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 90
        && !n.ends_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '(' | ')' | '.'))
}

fn parent_from<'a>(cx: &Cx<'a>, v: Option<&str>) -> Result<Option<&'a Group>, ArmError> {
    let Some(id) = v.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let name = crate::hierarchy::group_of_scope(id).unwrap_or(id);
    cx.snap
        .groups
        .group(name)
        .filter(|g| same_tenant(cx, g))
        .map(Some)
        .ok_or_else(|| {
            ArmError::new(
                "BadRequest",
                format!("The parent management group '{id}' was not found."),
            )
            .with_status(400)
        })
}

/// May the caller put a group under `parent`? Under the root, anyone of the tenant unless the
/// root's settings require authorization; elsewhere, `managementGroups/write` on the parent.
fn may_place_under(cx: &Cx, parent: &Group) -> Result<(), ArmError> {
    if parent.is_root() && !cx.snap.groups.requires_authorization(&parent.tenant_id) {
        return Ok(());
    }
    require(cx, WRITE, parent)
}

fn write_group(
    cx: &Cx,
    store: &Store,
    name: &str,
    tenant: &str,
    display: &str,
    parent: Option<&Group>,
    version: i64,
) -> Result<(), ArmError> {
    let mut details =
        json!({"version": version, "updatedTime": cx.now_str(), "updatedBy": cx.caller.object_id});
    if let Some(p) = parent {
        details["parent"] =
            json!({"id": group_id(&p.name), "name": p.name, "displayName": p.display_name});
    }
    let body = json!({"id": group_id(name), "type": TYPE, "name": name,
        "properties": {"tenantId": tenant, "displayName": display, "details": details}});
    let id = ResourceId::parse(&group_id(name)).map_err(|e| ArmError::bad_request(e.0))?;
    store.write(|tx| tx.put(&stored_row(&id, TYPE, body)))?;
    Ok(())
}

pub fn management_groups_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.management_group().unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(ArmError::new("BadRequest", format!("The management group ID '{name}' is not valid. It may have up to 90 letters, digits, hyphens, underscores, periods and parentheses, and may not end with a period.")).with_status(400));
    }
    let body = cx.object_body()?;
    let props = body.get("properties").cloned().unwrap_or(Value::Null);
    let parent = parent_from(cx, props["details"]["parent"]["id"].as_str())?;
    if let Some(existing) = cx.snap.groups.group(&name) {
        if !same_tenant(cx, existing) {
            return Err(ArmError::new("Conflict", format!("The management group ID '{name}' is already in use: management group IDs are unique across Azure.")).with_status(409));
        }
        require(cx, WRITE, existing)?;
        let existing = existing.clone();
        let new_parent = if existing.is_root() {
            None
        } else {
            match parent {
                Some(p) => Some(check_move(cx, &existing, p)?),
                None => existing
                    .parent
                    .as_deref()
                    .and_then(|p| cx.snap.groups.group(p)),
            }
        };
        let display = props["displayName"]
            .as_str()
            .unwrap_or(&existing.display_name);
        let version = version_of(&existing) + 1;
        write_group(
            cx,
            store,
            &existing.name,
            &existing.tenant_id,
            display,
            new_parent,
            version,
        )?;
        return accepted(cx, store, &existing.name, true);
    }
    let tenant = if cx.caller.platform {
        parent.map(|p| p.tenant_id.clone()).unwrap_or_default()
    } else {
        cx.caller.tenant_id.clone()
    };
    let parent = match parent {
        Some(p) => p,
        None => cx
            .snap
            .groups
            .group(&tenant)
            .ok_or_else(|| ArmError::bad_request("The caller's tenant has no root group."))?,
    };
    may_place_under(cx, parent)?;
    let display = props["displayName"].as_str().unwrap_or(&name).to_string();
    write_group(cx, store, &name, &tenant, &display, Some(parent), 1)?;
    // "the user who creates a management group is given Owner on it" (Management group access)
    if !cx.caller.platform {
        let scope = group_id(&name);
        let ra = derived_guid(&format!(
            "mg-owner|{}|{}",
            scope.to_lowercase(),
            cx.caller.object_id
        ));
        let ra_id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{ra}");
        let body = json!({"id": ra_id, "name": ra, "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"),
                "principalId": cx.caller.object_id, "principalType": if cx.caller.identity_type == "User" { "User" } else { "ServicePrincipal" },
                "scope": scope, "condition": null, "conditionVersion": null,
                "description": "Owner of the management group it created", "delegatedManagedIdentityResourceId": null,
                "createdOn": cx.now_str(), "updatedOn": cx.now_str(), "createdBy": cx.caller.object_id, "updatedBy": cx.caller.object_id}});
        let id = ResourceId::parse(&ra_id).map_err(|e| ArmError::bad_request(e.0))?;
        store.write(|tx| {
            tx.put(&stored_row(
                &id,
                "Microsoft.Authorization/roleAssignments",
                body,
            ))
        })?;
    }
    accepted(cx, store, &name, true)
}

fn version_of(g: &Group) -> i64 {
    g.body
        .as_ref()
        .and_then(|b| b["properties"]["details"]["version"].as_i64())
        .unwrap_or(1)
}

/// A group moving under `to`: not under itself or a descendant; the caller may write both the group
/// (checked) and the new parent.
fn check_move<'a>(cx: &Cx, g: &Group, to: &'a Group) -> Result<&'a Group, ArmError> {
    if cx.snap.groups.is_at_or_below(&to.name, &g.name) {
        return Err(ArmError::new(
            "BadRequest",
            format!(
                "The management group '{}' cannot be moved under itself or one of its descendants ('{}').",
                g.name, to.name
            ),
        )
        .with_status(400));
    }
    let same = g
        .parent
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(&to.name));
    if !same {
        may_place_under(cx, to)?;
    }
    Ok(to)
}

pub fn management_groups_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let g = the_group(cx)?.clone();
    require(cx, WRITE, &g)?;
    let body = cx.object_body()?;
    let display = body
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or(&g.display_name)
        .to_string();
    let parent = match body.get("parentGroupId").and_then(Value::as_str) {
        Some(p) if !g.is_root() => {
            Some(check_move(cx, &g, parent_from(cx, Some(p))?.unwrap_or(&g))?)
        }
        _ => g.parent.as_deref().and_then(|p| cx.snap.groups.group(p)),
    };
    write_group(
        cx,
        store,
        &g.name,
        &g.tenant_id,
        &display,
        parent,
        version_of(&g) + 1,
    )?;
    let snap = store.read(Snapshot::load)?;
    let fresh = snap.groups.group(&g.name).cloned().unwrap_or(g);
    let view = Cx {
        snap: &snap,
        ..copy(cx)
    };
    Ok(Reply::json(
        200,
        &group_body(&view, &fresh, None, false, true),
    ))
}

/// A shallow copy of the context (its fields are references).
fn copy<'a>(cx: &Cx<'a>) -> Cx<'a> {
    Cx {
        req: cx.req,
        id: cx.id,
        route: cx.route,
        api_version: cx.api_version,
        caller: cx.caller,
        snap: cx.snap,
        now: cx.now,
        base_url: cx.base_url,
        body: cx.body,
        new_id: cx.new_id,
        max_authorizations: cx.max_authorizations,
        subrequest: cx.subrequest,
        may_read: cx.may_read,
    }
}

pub fn management_groups_get(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let g = readable_group(cx)?;
    let expand = cx.req.query("$expand");
    if let Some(e) = expand {
        if !["children", "path", "ancestors"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(e))
        {
            return Err(ArmError::bad_request(format!(
                "The $expand value '{e}' is not valid: use children, path or ancestors."
            )));
        }
    }
    let recurse = cx
        .req
        .query("$recurse")
        .is_some_and(|r| r.eq_ignore_ascii_case("true"));
    let subs = !cx.req.query("$filter").is_some_and(|f| {
        let f = f.to_ascii_lowercase().replace(' ', "");
        f.contains("childtypenesubscription")
    });
    Ok(Reply::json(200, &group_body(cx, g, expand, recurse, subs)))
}

pub fn management_groups_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let items: Vec<Value> = cx
        .snap
        .groups
        .groups_of_tenant(&cx.caller.tenant_id)
        .into_iter()
        .filter(|g| may_read(cx, g))
        .map(|g| {
            json!({"id": group_id(&g.name), "type": TYPE, "name": g.name,
            "properties": {"tenantId": g.tenant_id, "displayName": g.display_name}})
        })
        .collect();
    Ok(Reply::json(
        200,
        &json!({"value": items, "@nextLink": null, "nextLink": null}),
    ))
}

pub fn management_groups_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.management_group().unwrap_or_default();
    let Some(g) = cx.snap.groups.group(name).filter(|g| same_tenant(cx, g)) else {
        return Ok(Reply::empty(204));
    };
    require(cx, DELETE, g)?;
    if g.is_root() {
        return Err(ArmError::new(
            "BadRequest",
            "The tenant root management group cannot be deleted.",
        )
        .with_status(400));
    }
    let (groups, subs) = (
        cx.snap.groups.child_groups(&g.name),
        cx.snap.groups.subscriptions_in(&g.name),
    );
    if !groups.is_empty() || !subs.is_empty() {
        // "If a management group contains child resources, the request will fail" (REST reference);
        // emulator wording
        return Err(ArmError::new(
            "BadRequest",
            format!(
                "The management group '{}' has {} child groups and {} subscriptions: move or delete them before deleting the group.",
                g.name,
                groups.len(),
                subs.len()
            ),
        )
        .with_status(400));
    }
    let name = g.name.clone();
    store.write(|tx| tx.delete_tree(&group_key(&name)).map(|_| ()))?;
    accepted(cx, store, &name, false)
}

pub fn management_groups_get_descendants(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let g = readable_group(cx)?;
    let (groups, _) = cx.snap.groups.descendants(&g.name);
    let parent_id = |x: &Group| {
        x.parent.as_deref().map(|p| {
            let pg = cx
                .snap
                .groups
                .group(p)
                .map(|p| p.name.clone())
                .unwrap_or(p.to_string());
            json!({"id": group_id(&pg)})
        })
    };
    let mut items: Vec<Value> = Vec::new();
    let mut all = vec![g];
    all.extend(groups.iter().copied());
    for x in &groups {
        items.push(
            json!({"id": group_id(&x.name), "type": TYPE, "name": x.name,
            "properties": {"displayName": x.display_name, "parent": parent_id(x)}}),
        );
    }
    for x in all {
        for s in cx.snap.groups.subscriptions_in(&x.name) {
            let display = cx
                .snap
                .dir
                .subscription(&s)
                .map(|d| d.display_name.clone())
                .unwrap_or_default();
            items.push(
                json!({"id": format!("/subscriptions/{s}"), "type": SUB_TYPE, "name": s,
                "properties": {"displayName": display, "parent": {"id": group_id(&x.name)}}}),
            );
        }
    }
    Ok(Reply::json(200, &json!({"value": items, "nextLink": null})))
}

fn subscription_item(cx: &Cx, g: &Group, sub: &str) -> Value {
    let s = cx.snap.dir.subscription(sub);
    json!({"id": format!("{}/subscriptions/{sub}", group_id(&g.name)), "type": SUB_TYPE, "name": sub,
        "properties": {"tenant": g.tenant_id, "displayName": s.map(|s| s.display_name.clone()).unwrap_or_default(),
            "parent": {"id": group_id(&g.name)},
            "state": s.map(|s| if s.state.eq_ignore_ascii_case("Enabled") { "Active".to_string() } else { s.state.clone() }).unwrap_or_default()}})
}

/// The subscription the request names, of the group's tenant.
fn the_subscription(cx: &Cx, g: &Group) -> Result<String, ArmError> {
    let sub = cx.id.name().unwrap_or_default().to_ascii_lowercase();
    match cx.snap.dir.subscription(&sub) {
        Some(s) if s.tenant_id.eq_ignore_ascii_case(&g.tenant_id) => Ok(sub),
        // emulator wording; a subscription of another tenant is not found either
        _ => Err(ArmError::not_found(format!(
            "Subscription '{sub}' was not found in the tenant of management group '{}'.",
            g.name
        ))
        .with_status(404)),
    }
}

/// Moving a subscription in or out: `subscriptions/write` (or delete) on the group it leaves and the
/// one it joins, except the root, and Owner on the subscription.
fn may_move(
    cx: &Cx,
    sub: &str,
    from: Option<&Group>,
    to: &Group,
    action: &str,
) -> Result<(), ArmError> {
    for g in [from, Some(to)].into_iter().flatten() {
        if !g.is_root() {
            require(cx, action, g)?;
        }
    }
    let scope = format!("/subscriptions/{sub}");
    if !allowed(cx, SUBSCRIPTION_OWNER, &scope) {
        return Err(refuse(cx, SUBSCRIPTION_OWNER, &scope));
    }
    Ok(())
}

fn place(store: &Store, sub: &str, g: &Group) -> Result<(), ArmError> {
    let path = format!("{}/subscriptions/{sub}", group_id(&g.name));
    let id = ResourceId::parse(&path).map_err(|e| ArmError::bad_request(e.0))?;
    let row = stored_row(&id, SUB_TYPE, json!({"name": sub}));
    store.write(|tx| {
        for r in tx.by_type_and_name(GROUP_SUBSCRIPTION_TYPE, sub)? {
            tx.delete(&r.key)?;
        }
        if !g.is_root() {
            tx.put(&row)?;
        }
        Ok::<(), crate::store::StoreError>(())
    })?;
    Ok(())
}

pub fn management_group_subscriptions_create(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let g = the_group(cx)?;
    let sub = the_subscription(cx, g)?;
    let from = cx.snap.groups.parent_of_subscription(&sub);
    may_move(cx, &sub, from, g, SUB_WRITE)?;
    place(store, &sub, g)?;
    Ok(Reply::json(200, &subscription_item(cx, g, &sub)))
}

pub fn management_group_subscriptions_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let g = the_group(cx)?;
    let sub = the_subscription(cx, g)?;
    let here = cx
        .snap
        .groups
        .parent_of_subscription(&sub)
        .is_some_and(|p| p.name == g.name);
    if !here || g.is_root() {
        return Ok(Reply::empty(204));
    }
    let root = cx
        .snap
        .groups
        .group(&g.tenant_id)
        .ok_or_else(ArmError::internal)?;
    may_move(cx, &sub, Some(g), root, SUB_DELETE)?;
    place(store, &sub, root)?;
    Ok(Reply::empty(200))
}

pub fn management_group_subscriptions_get_subscription(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    let g = readable_group(cx)?;
    let sub = the_subscription(cx, g)?;
    if !cx.snap.groups.subscriptions_in(&g.name).contains(&sub) {
        return Err(ArmError::not_found(format!(
            "Subscription '{sub}' is not under management group '{}'.",
            g.name
        ))
        .with_status(404));
    }
    Ok(Reply::json(200, &subscription_item(cx, g, &sub)))
}

pub fn management_group_subscriptions_get_subscriptions_under_management_group(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    let g = readable_group(cx)?;
    let items: Vec<Value> = cx
        .snap
        .groups
        .subscriptions_in(&g.name)
        .iter()
        .map(|s| subscription_item(cx, g, s))
        .collect();
    Ok(Reply::json(200, &json!({"value": items, "nextLink": null})))
}

// --- hierarchy settings (on the tenant root only) ---

fn settings_key(g: &Group) -> String {
    format!("{}/settings/default", group_key(&g.name))
}

fn root_only(g: &Group) -> Result<(), ArmError> {
    if g.is_root() {
        Ok(())
    } else {
        Err(ArmError::new(
            "BadRequest",
            format!(
                "Hierarchy settings can only be set on the tenant root group, not on '{}'.",
                g.name
            ),
        )
        .with_status(400))
    }
}

fn settings_body(g: &Group, props: &Value) -> Value {
    let mut p = json!({"tenantId": g.tenant_id});
    for k in [
        "requireAuthorizationForGroupCreation",
        "defaultManagementGroup",
    ] {
        if let Some(v) = props.get(k).filter(|v| !v.is_null()) {
            p[k] = v.clone();
        }
    }
    json!({"id": format!("{}/settings/default", group_id(&g.name)), "type": SETTINGS, "name": "default", "properties": p})
}

fn write_settings(cx: &Cx, store: &Store, merge: bool) -> Result<Reply, ArmError> {
    let g = the_group(cx)?;
    root_only(g)?;
    require(cx, SETTINGS_WRITE, g)?;
    let body = cx.object_body()?;
    let mut props = body.get("properties").cloned().unwrap_or(json!({}));
    if merge {
        if let Some(old) = store.get(&settings_key(g))? {
            let mut p = old.body["properties"].clone();
            if let (Some(o), Some(n)) = (p.as_object_mut(), props.as_object()) {
                for (k, v) in n {
                    o.insert(k.clone(), v.clone());
                }
            }
            props = p;
        }
    }
    if let Some(d) = props["defaultManagementGroup"].as_str() {
        parent_from(cx, Some(d))?;
    }
    let out = settings_body(g, &props);
    let id = ResourceId::parse(&format!("{}/settings/default", group_id(&g.name)))
        .map_err(|e| ArmError::bad_request(e.0))?;
    store.write(|tx| tx.put(&stored_row(&id, SETTINGS, out.clone())))?;
    Ok(Reply::json(200, &out))
}

pub fn hierarchy_settings_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    write_settings(cx, store, false)
}

pub fn hierarchy_settings_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    write_settings(cx, store, true)
}

pub fn hierarchy_settings_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let g = readable_group(cx)?;
    match store.get(&settings_key(g))? {
        Some(r) => Ok(Reply::json_bytes(200, r.json().to_vec())),
        None => Err(ArmError::not_found(format!(
            "No hierarchy settings are set on management group '{}'.",
            g.name
        ))
        .with_status(404)),
    }
}

pub fn hierarchy_settings_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let g = readable_group(cx)?;
    let items: Vec<Value> = store
        .get(&settings_key(g))?
        .map(|r| r.body.clone())
        .into_iter()
        .collect();
    Ok(Reply::json(
        200,
        &json!({"value": items, "@nextLink": null, "nextLink": null}),
    ))
}

pub fn hierarchy_settings_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let g = the_group(cx)?;
    require(cx, SETTINGS_DELETE, g)?;
    let key = settings_key(g);
    Ok(Reply::empty(if store.write(|tx| tx.delete(&key))? {
        200
    } else {
        204
    }))
}

// --- tenant-level actions ---

pub fn check_name_availability(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let body = cx.object_body()?;
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    if !valid_name(name) {
        return Ok(Reply::json(
            200,
            &json!({"nameAvailable": false, "reason": "Invalid", "message": format!("The management group ID '{name}' is not valid.")}),
        ));
    }
    Ok(Reply::json(
        200,
        &match cx.snap.groups.group(name) {
            Some(_) => json!({"nameAvailable": false, "reason": "AlreadyExists",
                "message": format!("The group with the specified name '{name}' already exists.")}),
            None => json!({"nameAvailable": true}),
        },
    ))
}

pub fn entities_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let mut items = Vec::new();
    let perm = |key: &str| {
        if allowed(cx, DELETE, key) {
            "delete"
        } else if allowed(cx, WRITE, key) {
            "edit"
        } else {
            "view"
        }
    };
    for g in cx.snap.groups.groups_of_tenant(&cx.caller.tenant_id) {
        if !may_read(cx, g) {
            continue;
        }
        let chain = cx.snap.groups.ancestors(&g.name);
        let (groups, subs) = cx.snap.groups.descendants(&g.name);
        let children = cx.snap.groups.child_groups(&g.name).len();
        let p = perm(&group_key(&g.name));
        let mut props = json!({"tenantId": g.tenant_id, "displayName": g.display_name,
            "permissions": p, "inheritedPermissions": p,
            "parentDisplayNameChain": chain.iter().rev().map(|a| a.display_name.clone()).collect::<Vec<_>>(),
            "parentNameChain": chain.iter().rev().map(|a| a.name.clone()).collect::<Vec<_>>(),
            "numberOfDescendants": groups.len() + subs.len(),
            "numberOfChildren": children + cx.snap.groups.subscriptions_in(&g.name).len(),
            "numberOfChildGroups": children});
        let parent = parent_info(cx, g);
        if !parent.is_null() {
            props["parent"] = json!({"id": parent["id"]});
        }
        items.push(
            json!({"id": group_id(&g.name), "type": TYPE, "name": g.name, "properties": props}),
        );
    }
    Ok(Reply::json(200, &json!({"value": items, "nextLink": null})))
}

pub fn management_operations_list(_cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let ops = [
        (
            READ,
            "Management Groups",
            "List or get the management groups",
        ),
        (
            WRITE,
            "Management Groups",
            "Create or update a management group",
        ),
        (DELETE, "Management Groups", "Delete a management group"),
        (
            "Microsoft.Management/managementGroups/descendants/read",
            "Management Groups",
            "List the descendants of a management group",
        ),
        (
            "Microsoft.Management/managementGroups/subscriptions/read",
            "Management Group Subscriptions",
            "List the subscriptions of a management group",
        ),
        (
            SUB_WRITE,
            "Management Group Subscriptions",
            "Move a subscription into a management group",
        ),
        (
            SUB_DELETE,
            "Management Group Subscriptions",
            "Move a subscription out of a management group",
        ),
        (
            "Microsoft.Management/managementGroups/settings/read",
            "Hierarchy Settings",
            "Read the hierarchy settings",
        ),
        (
            SETTINGS_WRITE,
            "Hierarchy Settings",
            "Create or update the hierarchy settings",
        ),
        (
            SETTINGS_DELETE,
            "Hierarchy Settings",
            "Delete the hierarchy settings",
        ),
        (
            "Microsoft.Management/checkNameAvailability/action",
            "Management Groups",
            "Check whether a management group id is available",
        ),
        (
            "Microsoft.Management/getEntities/action",
            "Entities",
            "List the entities (groups and subscriptions) the caller may see",
        ),
    ];
    let value: Vec<Value> = ops
        .iter()
        .map(|(name, resource, description)| {
            json!({"name": name, "display": {"provider": "Microsoft Management",
            "resource": resource, "operation": description, "description": description}})
        })
        .collect();
    Ok(Reply::json(200, &json!({"value": value, "nextLink": null})))
}

/// Backfill (the one-off import of a tenant's subscriptions into its hierarchy) has nothing to do
/// here: every subscription of the world is in its tenant's tree from the start.
pub fn start_tenant_backfill(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Ok(Reply::json(
        200,
        &json!({"tenantId": cx.caller.tenant_id, "status": "Completed"}),
    ))
}

pub fn tenant_backfill_status(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    start_tenant_backfill(cx, store)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn group_ids_follow_azures_rules() {
        for ok in ["Contoso", "a-b_c(d).e", &"x".repeat(90)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "ends.", "has space", "slash/", &"x".repeat(91)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

//! Microsoft.Authorization: the built-in (and custom) role definitions, role assignments at any scope
//! with ARM's filters and conflict rules, and the caller's effective permissions. Delegated (Lighthouse)
//! grants never appear in role-assignment lists. Follows ARM-FACTS.md §4 and the 2022-04-01 spec.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{list_reply, parse_eq_filter, stored_row, Cx};
use crate::arm::api_version::at_least;
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_at_or_above, is_guid, ResourceId};
use crate::authz::{self, RoleDefinition, Subject, Via};
use crate::facts::{builtin_role, builtin_roles, role_guid, Snapshot};
use crate::store::Store;
use crate::wire::Reply;

const RA_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// The scope part of an extension id (`/subscriptions/s` for `/subscriptions/s/providers/…`), or "".
fn scope_path(id: &ResourceId) -> String {
    let s = id.scope_of_last_part().canonical();
    if s == "/" {
        String::new()
    } else {
        s
    }
}

/// The scope a role definition read at `id` is named under: the request's, except at a management
/// group, where a role definition has its tenant-level id (the id role assignments there carry).
fn role_definition_scope(id: &ResourceId) -> String {
    if id.management_group().is_some() {
        String::new()
    } else {
        scope_path(id)
    }
}

pub fn role_definition_body(scope: &str, r: &RoleDefinition, api_version: &str) -> Value {
    let perms: Vec<Value> = r
        .permissions
        .iter()
        .map(|p| {
            if at_least(api_version, "2018-01-01-preview") {
                json!({"actions": p.actions, "notActions": p.not_actions, "dataActions": p.data_actions, "notDataActions": p.not_data_actions})
            } else {
                json!({"actions": p.actions, "notActions": p.not_actions})
            }
        })
        .collect();
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{}", r.id),
        "name": r.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": r.role_name,
            "type": r.role_type,
            "description": r.description,
            "assignableScopes": r.assignable_scopes,
            "permissions": perms,
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2025-01-01T00:00:00.0000000Z",
            "createdBy": Value::Null,
            "updatedBy": Value::Null,
        }
    })
}

pub fn role_definitions_get(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let guid = cx.id.name().unwrap_or_default().to_string();
    let role = cx
        .snap
        .role(&guid)
        .ok_or_else(|| ArmError::role_definition_does_not_exist(&guid))?;
    Ok(Reply::json(
        200,
        &role_definition_body(&role_definition_scope(cx.id), role, cx.api_version),
    ))
}

pub fn role_definitions_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let filter = cx.req.query("$filter").unwrap_or("").trim().to_string();
    let clauses = if filter.is_empty() {
        Vec::new()
    } else {
        parse_eq_filter(&filter).ok_or_else(|| ArmError::invalid_filter(&filter))?
    };
    let scope = role_definition_scope(cx.id);
    let mut roles: Vec<&Arc<RoleDefinition>> = builtin_roles()
        .values()
        .chain(cx.snap.custom_roles.values())
        .collect();
    roles.sort_by(|a, b| a.role_name.cmp(&b.role_name));
    let mut items = Vec::new();
    for r in roles {
        let keep = clauses
            .iter()
            .all(|(k, v)| match k.to_ascii_lowercase().as_str() {
                "rolename" => r.role_name.eq_ignore_ascii_case(v),
                "type" => r.role_type.eq_ignore_ascii_case(v),
                _ => false,
            });
        if !clauses
            .iter()
            .all(|(k, _)| matches!(k.to_ascii_lowercase().as_str(), "rolename" | "type"))
        {
            return Err(ArmError::invalid_filter(&filter));
        }
        if keep {
            items.push(role_definition_body(&scope, r, cx.api_version));
        }
    }
    Ok(list_reply(cx, items))
}

pub fn role_definitions_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let guid = cx.id.name().unwrap_or_default().to_string();
    if !is_guid(&guid) {
        return Err(ArmError::new("InvalidRoleDefinitionId", format!("The role definition ID '{guid}' is not valid. The role definition ID must be a GUID.")));
    }
    if builtin_role(&guid.to_lowercase()).is_some() {
        return Err(ArmError::new(
            "RoleDefinitionAlreadyExists",
            "A built-in role definition cannot be changed.",
        )
        .with_status(409));
    }
    let body = cx.object_body()?;
    let p = body.get("properties").cloned().unwrap_or(Value::Null);
    let name = p["roleName"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(ArmError::new(
            "InvalidRoleDefinition",
            "The role definition must have a roleName.",
        ));
    }
    if !p["permissions"].is_array()
        || p["assignableScopes"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    {
        return Err(ArmError::new(
            "InvalidRoleDefinition",
            "The role definition must have permissions and at least one assignable scope.",
        ));
    }
    if builtin_roles()
        .values()
        .any(|r| r.role_name.eq_ignore_ascii_case(name))
    {
        return Err(ArmError::new(
            "RoleDefinitionWithSameNameExists",
            format!(
                "A role definition cannot be updated with a name that already exists: '{name}'."
            ),
        )
        .with_status(409));
    }
    let out = json!({
        "id": cx.id.canonical(), "name": guid.to_lowercase(), "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name, "type": "CustomRole", "description": p["description"].as_str().unwrap_or_default(),
            "assignableScopes": p["assignableScopes"], "permissions": p["permissions"],
            "createdOn": cx.now_str(), "updatedOn": cx.now_str(), "createdBy": cx.caller.object_id, "updatedBy": cx.caller.object_id,
        }
    });
    store.write(|tx| {
        tx.put(&stored_row(
            cx.id,
            "Microsoft.Authorization/roleDefinitions",
            out.clone(),
        ))
    })?;
    Ok(Reply::json(201, &out))
}

pub fn role_definitions_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    match store.read(|tx| tx.get(&key))? {
        Some(r) => {
            store.write(|tx| tx.delete(&key))?;
            Ok(Reply::json(200, &r.body))
        }
        None => Ok(Reply::empty(204)),
    }
}

// --- role assignments ---

/// Is `principal_id` the identity of a managed identity (user-assigned, or a resource's system-assigned
/// identity) in this subscription?
pub fn is_managed_identity(store: &Store, sub: &str, principal_id: &str) -> Result<bool, ArmError> {
    let rows = store.read(|tx| tx.in_scope(sub, None))?;
    Ok(rows.iter().any(|r| {
        let b = &r.body;
        let sys = b["identity"]["principalId"].as_str();
        let uai = (r.rtype == "microsoft.managedidentity/userassignedidentities")
            .then(|| b["properties"]["principalId"].as_str())
            .flatten();
        [sys, uai]
            .into_iter()
            .flatten()
            .any(|p| p.eq_ignore_ascii_case(principal_id))
    }))
}

/// Why a delegated caller may not assign role `guid` to `principal_id` (of kind `kind_name`) at `scope`,
/// or `None`: its delegated User Access Administrator authorizations covering the scope must list the
/// role, and the principal must be a managed identity (ARM-FACTS §7.2). Also used by explain.
#[allow(clippy::too_many_arguments)]
pub fn delegated_assignment_refusal(
    snap: &Snapshot,
    subject: &Subject,
    now: i64,
    scope: &str,
    guid: &str,
    principal_id: &str,
    kind_name: &str,
    managed_identity: bool,
) -> Option<String> {
    let scope_l = scope.to_lowercase();
    let covering = snap.access.grants_of(subject).filter(|g| {
        matches!(g.via, Via::Delegation { .. })
            && g.active(now)
            && is_at_or_above(&g.scope, &scope_l)
    });
    let role_name = snap
        .role(guid)
        .map(|r| r.role_name.as_str())
        .unwrap_or_default();
    authz::delegated_assignment_refusal(
        covering,
        guid,
        role_name,
        principal_id,
        kind_name,
        managed_identity,
    )
}

fn ra_scope(row_body: &Value) -> String {
    row_body["properties"]["scope"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn role_assignments_create(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    if !is_guid(&name) {
        return Err(ArmError::new(
            "InvalidRoleAssignmentId",
            format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
        ));
    }
    let body = cx.object_body()?;
    let p = body
        .get("properties")
        .and_then(|p| p.as_object())
        .ok_or_else(|| ArmError::invalid_request_content("The 'properties' object is required."))?;
    let role_def_id = p
        .get("roleDefinitionId")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let principal_id = p
        .get("principalId")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if role_def_id.is_empty() {
        return Err(ArmError::new(
            "InvalidRoleDefinitionId",
            "The role definition ID '' is not valid.",
        ));
    }
    if !is_guid(principal_id) {
        return Err(ArmError::new(
            "InvalidPrincipalId",
            format!("A valid principal ID must be provided for role assignment. The principal ID '{principal_id}' is not valid."),
        ));
    }
    let guid = role_guid(role_def_id);
    if !is_guid(&guid) || cx.snap.role(&guid).is_none() {
        return Err(ArmError::role_definition_does_not_exist(&guid));
    }
    let scope = scope_path(cx.id);
    let scope_key = scope.to_lowercase();
    // The principal must exist in the directory of the tenant that owns the scope.
    let scope_tenant = cx
        .id
        .subscription
        .as_deref()
        .and_then(|s| cx.snap.dir.subscription(s))
        .map(|s| s.tenant_id.clone())
        .or_else(|| {
            // at a management group: the group's tenant
            let g = cx.snap.groups.group(cx.id.management_group()?)?;
            Some(g.tenant_id.clone())
        })
        .unwrap_or_else(|| cx.caller.tenant_id.clone());
    let directory_kind = cx
        .snap
        .dir
        .principal(principal_id)
        .filter(|pr| pr.tenant_id.eq_ignore_ascii_case(&scope_tenant))
        .map(|pr| pr.kind.as_str());
    let sub_l = cx.sub_key();
    let managed_identity = if directory_kind.is_none() && !sub_l.is_empty() {
        is_managed_identity(store, &sub_l, principal_id)?
    } else if directory_kind.is_none() && cx.id.management_group().is_some() {
        // at a management group: the identity of a policy assignment made at a group of its tenant
        let rows =
            store.read(|tx| tx.by_type("microsoft.authorization/policyassignments", None, None))?;
        rows.iter().any(|r| {
            r.parent
                .starts_with("/providers/microsoft.management/managementgroups/")
                && r.body["identity"]["principalId"]
                    .as_str()
                    .is_some_and(|p| p.eq_ignore_ascii_case(principal_id))
                && r.body["identity"]["tenantId"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&scope_tenant))
        })
    } else {
        false
    };
    let kind = match (directory_kind, managed_identity) {
        (Some(k), _) => k,
        (None, true) => "ServicePrincipal",
        (None, false) => return Err(ArmError::principal_not_found(principal_id, &scope_tenant)),
    };
    // A managing-tenant caller may only assign the roles its User Access Administrator authorization
    // lists in delegatedRoleDefinitionIds, and only to managed identities (ARM-FACTS §7.2, §4.4). The
    // decision let the write through on such an authorization; the body decides the rest.
    if !cx.caller.platform && !cx.caller.tenant_id.eq_ignore_ascii_case(&scope_tenant) {
        let subject = Subject {
            object_id: &cx.caller.object_id,
            groups: &cx.caller.groups,
        };
        let kind_name = if managed_identity {
            "managed identity"
        } else {
            kind
        };
        if let Some(why) = delegated_assignment_refusal(
            cx.snap,
            &subject,
            cx.now.unix_timestamp(),
            &scope,
            &guid,
            principal_id,
            kind_name,
            managed_identity,
        ) {
            let e = ArmError::authorization_failed(
                &cx.caller.client_name,
                &cx.caller.object_id,
                authz::ROLE_ASSIGNMENT_WRITE,
                &scope,
            );
            let message = format!("{} The emulator's reason: {why}.", e.message);
            return Err(ArmError { message, ..e }
                .with_header("x-ms-emulator-decision", format!("denied; {why}")));
        }
    }
    let principal_type = p
        .get("principalType")
        .and_then(|v| v.as_str())
        .map(String::from)
        .unwrap_or_else(|| kind.to_string());
    let sub = cx.sub_key();
    let existing = store.read(|tx| {
        tx.by_type(
            "microsoft.authorization/roleassignments",
            if sub.is_empty() { None } else { Some(&sub) },
            None,
        )
    })?;
    let key = cx.id.key();
    let mut created = None;
    for e in &existing {
        let ep = &e.body["properties"];
        let same_triple = ra_scope(&e.body).eq_ignore_ascii_case(&scope)
            && ep["principalId"]
                .as_str()
                .unwrap_or_default()
                .eq_ignore_ascii_case(principal_id)
            && role_guid(ep["roleDefinitionId"].as_str().unwrap_or_default()) == guid;
        if e.key == key {
            if !same_triple {
                return Err(ArmError::role_assignment_update_not_permitted());
            }
            created = Some(e.body.clone());
        } else if same_triple {
            return Err(ArmError::role_assignment_exists(
                e.body["name"].as_str().unwrap_or_default(),
            ));
        }
    }
    let sub_for_role = cx.sub_key();
    let role_full = if sub_for_role.is_empty() {
        format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    } else {
        format!("/subscriptions/{sub_for_role}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    };
    let created_on = created
        .as_ref()
        .and_then(|c| c["properties"]["createdOn"].as_str().map(String::from))
        .unwrap_or_else(|| cx.now_str());
    let out = json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}", name.to_lowercase()),
        "name": name.to_lowercase(),
        "type": RA_TYPE,
        "properties": {
            "roleDefinitionId": role_full,
            "principalId": principal_id.to_lowercase(),
            "principalType": principal_type,
            "scope": if scope.is_empty() { "/".to_string() } else { scope.clone() },
            "condition": p.get("condition").cloned().unwrap_or(Value::Null),
            "conditionVersion": p.get("conditionVersion").cloned().unwrap_or(Value::Null),
            "description": p.get("description").cloned().unwrap_or(Value::Null),
            "delegatedManagedIdentityResourceId": p.get("delegatedManagedIdentityResourceId").cloned().unwrap_or(Value::Null),
            "createdOn": created_on,
            "updatedOn": cx.now_str(),
            "createdBy": cx.caller.object_id,
            "updatedBy": cx.caller.object_id,
        }
    });
    let _ = scope_key;
    store.write(|tx| tx.put(&stored_row(cx.id, RA_TYPE, out.clone())))?;
    Ok(Reply::json(201, &out))
}

pub fn role_assignments_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    super::get_stored(cx, store, ArmError::role_assignment_not_found)
}

pub fn role_assignments_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    match store.read(|tx| tx.get(&key))? {
        Some(r) => {
            store.write(|tx| tx.delete(&key))?;
            Ok(Reply::json(200, &r.body))
        }
        None => Ok(Reply::empty(204)),
    }
}

/// List filter of role assignments (and deny assignments): ARM's small grammar.
#[derive(Debug, PartialEq)]
pub enum ScopeFilter {
    /// At, above and below the scope (no filter).
    All,
    /// At or above the scope.
    AtScope,
    /// At, above and below, for one principal.
    Principal(String),
    /// At, above and below, for a principal and its groups.
    AssignedTo(String),
    /// At or above, for a principal and its groups.
    AtScopeAssignedTo(String),
}

pub fn parse_scope_filter(f: Option<&str>) -> Result<ScopeFilter, ArmError> {
    let Some(f) = f.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(ScopeFilter::All);
    };
    let parts = super::split_and(f);
    let mut at_scope = false;
    let mut principal = None;
    let mut assigned = None;
    for p in parts {
        let p = p.trim();
        if p.eq_ignore_ascii_case("atScope()") {
            at_scope = true;
        } else if let Some(v) = p
            .strip_prefix("assignedTo(")
            .and_then(|r| r.strip_suffix(')'))
        {
            assigned = Some(v.trim().trim_matches('\'').to_lowercase());
        } else if let Some(pairs) = parse_eq_filter(p) {
            match pairs.as_slice() {
                [(k, v)] if k.eq_ignore_ascii_case("principalId") => {
                    principal = Some(v.to_lowercase())
                }
                _ => return Err(ArmError::invalid_filter(f)),
            }
        } else {
            return Err(ArmError::invalid_filter(f));
        }
    }
    Ok(match (at_scope, principal, assigned) {
        (false, None, None) => ScopeFilter::All,
        (true, None, None) => ScopeFilter::AtScope,
        (false, Some(p), None) => ScopeFilter::Principal(p),
        (_, None, Some(a)) if at_scope => ScopeFilter::AtScopeAssignedTo(a),
        (false, None, Some(a)) => ScopeFilter::AssignedTo(a),
        _ => return Err(ArmError::invalid_filter(f)),
    })
}

pub fn role_assignments_list_for_scope(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let filter = parse_scope_filter(cx.req.query("$filter"))?;
    let scope = scope_path(cx.id).to_lowercase();
    let rows =
        store.read(|tx| tx.by_type("microsoft.authorization/roleassignments", None, None))?;
    let groups_of = |oid: &str| -> Vec<String> {
        let mut v = vec![oid.to_string()];
        v.extend(cx.snap.dir.groups_of(oid).iter().cloned());
        v
    };
    // Management groups: those above the scope (inherited there) and the scopes below a group's.
    let (groups_above, scopes_below) = group_scopes(cx, &scope);
    let items: Vec<Value> = rows
        .into_iter()
        .filter(|r| {
            let s = ra_scope(&r.body).to_lowercase();
            let s = if s == "/" { String::new() } else { s };
            let above = is_at_or_above(&s, &scope) || groups_above.contains(&s);
            let below =
                is_at_or_above(&scope, &s) || scopes_below.iter().any(|b| is_at_or_above(b, &s));
            let pid = r.body["properties"]["principalId"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            match &filter {
                ScopeFilter::All => above || below,
                ScopeFilter::AtScope => above,
                ScopeFilter::Principal(p) => (above || below) && &pid == p,
                ScopeFilter::AssignedTo(p) => (above || below) && groups_of(p).contains(&pid),
                ScopeFilter::AtScopeAssignedTo(p) => above && groups_of(p).contains(&pid),
            }
        })
        .map(|r| r.body)
        .collect();
    Ok(list_reply(cx, items))
}

/// For a listing at `scope` (lower-cased): the keys of the management groups above it (the groups
/// holding its subscription, or above its group), and, at a group, the group and subscription scopes
/// below it.
fn group_scopes(cx: &Cx, scope: &str) -> (Vec<String>, Vec<String>) {
    use crate::hierarchy::group_key;
    let h = &cx.snap.groups;
    match cx.id.management_group() {
        Some(g) => (
            h.ancestors(g).iter().map(|a| group_key(&a.name)).collect(),
            h.scopes_below(scope),
        ),
        None => (
            cx.id
                .subscription
                .as_deref()
                .map(|s| h.ancestors_of_subscription(s))
                .unwrap_or_default()
                .iter()
                .map(|a| group_key(&a.name))
                .collect(),
            Vec::new(),
        ),
    }
}

/// The caller's effective permissions at a scope: one entry per grant that applies (not merged).
pub fn permissions_list_for_scope(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let scope = scope_path(cx.id).to_lowercase();
    let delegated = cx
        .id
        .subscription
        .as_deref()
        .and_then(|s| cx.snap.dir.subscription(s))
        .map(|s| !s.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id))
        .unwrap_or(false);
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    let mut items = Vec::new();
    for g in cx.snap.access.grants_of(&subject) {
        let on_path = matches!(
            (&g.via, delegated),
            (Via::RoleAssignment, false) | (Via::Delegation { .. }, true)
        );
        if on_path && is_at_or_above(&g.scope, &scope) {
            // a delegated User Access Administrator serves only to assign its listed roles
            if g.assignable_roles().is_some() {
                items.push(json!({"actions": [authz::ROLE_ASSIGNMENT_WRITE], "notActions": [], "dataActions": [], "notDataActions": []}));
                continue;
            }
            for p in &g.role.permissions {
                items.push(json!({"actions": p.actions, "notActions": p.not_actions, "dataActions": p.data_actions, "notDataActions": p.not_data_actions}));
            }
        }
    }
    Ok(list_reply(cx, items))
}

pub fn provider_operations_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let ops = [
        (
            "Microsoft.Authorization/roleAssignments/read",
            "Role Assignment",
            "Get role assignment",
        ),
        (
            "Microsoft.Authorization/roleAssignments/write",
            "Role Assignment",
            "Create role assignment",
        ),
        (
            "Microsoft.Authorization/roleAssignments/delete",
            "Role Assignment",
            "Delete role assignment",
        ),
        (
            "Microsoft.Authorization/roleDefinitions/read",
            "Role Definition",
            "Get role definition",
        ),
        (
            "Microsoft.Authorization/roleDefinitions/write",
            "Role Definition",
            "Create or update custom role definition",
        ),
        (
            "Microsoft.Authorization/roleDefinitions/delete",
            "Role Definition",
            "Delete custom role definition",
        ),
        (
            "Microsoft.Authorization/permissions/read",
            "Permissions",
            "List the caller's permissions",
        ),
        (
            "Microsoft.Authorization/locks/read",
            "Management locks",
            "Get management locks",
        ),
        (
            "Microsoft.Authorization/locks/write",
            "Management locks",
            "Add management locks",
        ),
        (
            "Microsoft.Authorization/locks/delete",
            "Management locks",
            "Delete management locks",
        ),
        (
            "Microsoft.Authorization/denyAssignments/read",
            "Deny Assignment",
            "Get deny assignment",
        ),
    ];
    let items = ops
        .iter()
        .map(|(name, res, op)| json!({"name": name, "isDataAction": false, "display": {"provider": "Microsoft Authorization", "resource": res, "operation": op, "description": op}}))
        .collect();
    Ok(list_reply(cx, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_filters() {
        assert_eq!(parse_scope_filter(None).unwrap(), ScopeFilter::All);
        assert_eq!(
            parse_scope_filter(Some("atScope()")).unwrap(),
            ScopeFilter::AtScope
        );
        assert_eq!(
            parse_scope_filter(Some("principalId eq 'ABC'")).unwrap(),
            ScopeFilter::Principal("abc".into())
        );
        assert_eq!(
            parse_scope_filter(Some("assignedTo('x')")).unwrap(),
            ScopeFilter::AssignedTo("x".into())
        );
        assert_eq!(
            parse_scope_filter(Some("atScope() and assignedTo('x')")).unwrap(),
            ScopeFilter::AtScopeAssignedTo("x".into())
        );
        assert!(parse_scope_filter(Some("roleName eq 'x'")).is_err());
    }
}

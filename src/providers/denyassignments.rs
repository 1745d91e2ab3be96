//! Microsoft.Authorization/denyAssignments: read-only for everyone (list and get at every scope with
//! `atScope()`, `principalId eq`, `denyAssignmentName eq`, `gdprExportPrincipalId eq`); only the platform
//! writes them (the world file and managed applications). PUT/DELETE through the API are refused as ARM
//! refuses them (ARM-FACTS.md §5.2). Evaluation lives in `authz`.

use serde_json::{json, Value};

use super::{list_reply, parse_eq_filter, split_and, stored_row, Cx};
use crate::arm::api_version::at_least;
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_at_or_above, is_guid};
use crate::store::Store;
use crate::wire::Reply;

pub const DENY_TYPE: &str = "Microsoft.Authorization/denyAssignments";

pub fn deny_assignments_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    super::get_stored(cx, store, || {
        super::named_not_found(cx, "DenyAssignmentNotFound", "deny assignment")
    })
}

pub fn deny_assignments_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let scope = cx.id.scope_of_last_part().key();
    let (mut at_scope, mut principal, mut name, mut gdpr) = (false, None, None, None);
    if let Some(f) = cx
        .req
        .query("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        for clause in split_and(f) {
            let c = clause.trim();
            if c.eq_ignore_ascii_case("atScope()") {
                at_scope = true;
                continue;
            }
            match parse_eq_filter(c).as_deref() {
                Some([(k, v)]) if k.eq_ignore_ascii_case("principalId") => {
                    principal = Some(v.to_lowercase())
                }
                Some([(k, v)]) if k.eq_ignore_ascii_case("denyAssignmentName") => {
                    name = Some(v.clone())
                }
                Some([(k, v)]) if k.eq_ignore_ascii_case("gdprExportPrincipalId") => {
                    gdpr = Some(v.to_lowercase())
                }
                _ => return Err(ArmError::invalid_filter(f)),
            }
        }
    }
    let rows =
        store.read(|tx| tx.by_type("microsoft.authorization/denyassignments", None, None))?;
    let ids = |p: &Value, k: &str| -> Vec<String> {
        p[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["id"].as_str().map(str::to_lowercase))
            .collect()
    };
    let mut items = Vec::new();
    for r in rows {
        let p = &r.body["properties"];
        let above = is_at_or_above(&r.parent, &scope);
        let below = is_at_or_above(&scope, &r.parent);
        // atScope(): at or above only; otherwise at, above and below
        let keep = above || (!at_scope && below);
        if !keep {
            continue;
        }
        if let Some(pid) = &principal {
            if !ids(p, "principals").contains(pid) {
                continue;
            }
        }
        if let Some(n) = &name {
            if !p["denyAssignmentName"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(n))
            {
                continue;
            }
        }
        if let Some(pid) = &gdpr {
            if !ids(p, "principals").contains(pid) && !ids(p, "excludePrincipals").contains(pid) {
                continue;
            }
            items.push(json!({"properties": {"denyAssignmentName": p["denyAssignmentName"], "description": p["description"]}}));
            continue;
        }
        items.push(r.body);
    }
    Ok(list_reply(cx, items))
}

/// Only the platform creates deny assignments. The GA versions do not route PUT/DELETE at all (405 in
/// ASP.NET style); the 2024-07-01-preview user-assigned deny assignments are not available to
/// customers in Lighthouse scenarios, so they are refused with 403.
fn refuse(cx: &Cx) -> ArmError {
    if at_least(cx.api_version, "2024-07-01-preview") {
        ArmError::new(
            "AuthorizationFailed",
            format!("The client '{}' with object id '{}' does not have authorization to perform action 'Microsoft.Authorization/denyAssignments/write' over scope '{}'. Deny assignments are created by Azure (managed applications, deployment stacks, Blueprints); customers cannot create them.", cx.caller.client_name, cx.caller.object_id, cx.id.canonical()),
        )
    } else {
        ArmError::method_not_allowed(&cx.req.method)
    }
}

pub fn deny_assignments_create(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    if !cx.caller.platform {
        return Err(refuse(cx));
    }
    let name = cx.id.name().unwrap_or_default().to_lowercase();
    if !is_guid(&name) {
        return Err(ArmError::bad_request(
            "A deny assignment id must be a GUID.",
        ));
    }
    let body = cx.object_body()?;
    let scope = cx.id.scope_of_last_part().canonical();
    let mut props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    props["scope"] = json!(scope);
    if props.get("isSystemProtected").is_none() {
        props["isSystemProtected"] = json!(true);
    }
    if props.get("doNotApplyToChildScopes").is_none() {
        props["doNotApplyToChildScopes"] = json!(false);
    }
    let out = json!({
        "properties": props,
        "id": format!("{scope}/providers/{DENY_TYPE}/{name}"),
        "type": DENY_TYPE,
        "name": name,
    });
    store.write(|tx| tx.put(&stored_row(cx.id, DENY_TYPE, out.clone())))?;
    Ok(Reply::json(201, &out))
}

pub fn deny_assignments_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    if !cx.caller.platform {
        return Err(refuse(cx));
    }
    let key = cx.id.key();
    Ok(Reply::empty(if store.write(|tx| tx.delete(&key))? {
        200
    } else {
        204
    }))
}

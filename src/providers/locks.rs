//! Microsoft.Authorization/locks: management locks at subscription, resource-group and resource scope
//! (every api-version of the locks spec), listed with `$filter=atScope()`. Enforcement lives in dispatch
//! (customer principals only); this module stores and validates. Follows ARM-FACTS.md §6 and the
//! 2020-05-01 spec examples.

use serde_json::{json, Value};

use super::{list_reply, stored_row, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::is_at_or_above;
use crate::store::Store;
use crate::wire::Reply;

const LOCK_TYPE: &str = "Microsoft.Authorization/locks";

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars().count() <= 260
        && !n
            .chars()
            .any(|c| c.is_control() || matches!(c, '<' | '>' | '%' | '&' | ':' | '\\' | '?' | '/'))
}

pub fn management_locks_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    if !valid_name(&name) {
        // emulator choice of code; the rule is the spec's
        return Err(ArmError::new(
            "InvalidLockName",
            format!("The lock name '{name}' is invalid: at most 260 characters, without '<', '>', '%', '&', ':', '\\', '?', '/' or control characters."),
        ));
    }
    let body = cx.object_body()?;
    let props = body.get("properties").cloned().unwrap_or(Value::Null);
    let level = props.get("level").and_then(Value::as_str).unwrap_or("");
    let level = ["CanNotDelete", "ReadOnly"]
        .into_iter()
        .find(|l| l.eq_ignore_ascii_case(level))
        .ok_or_else(|| {
            ArmError::new(
                "LockLevelRequired",
                format!("The lock level '{level}' is not valid. The level must be 'CanNotDelete' or 'ReadOnly'."),
            )
        })?;
    let notes = props.get("notes").and_then(Value::as_str);
    if notes.is_some_and(|n| n.chars().count() > 512) {
        return Err(ArmError::new(
            "LockNotesTooLong",
            "The lock notes must not be longer than 512 characters.",
        ));
    }
    let scope = cx.id.scope_of_last_part();
    let scope_key = scope.key();
    if scope.subscription.as_deref().is_some_and(|s| !s.is_empty())
        && (scope.resource_group.is_some() || !scope.providers.is_empty())
        && store.read(|tx| tx.get(&scope_key))?.is_none()
    {
        return Err(match scope.resource_group.as_deref() {
            Some(rg) if scope.providers.is_empty() => ArmError::resource_group_not_found(rg),
            _ => ArmError::new(
                "ResourceNotFound",
                format!("The Resource '{}' was not found.", scope.canonical()),
            )
            .with_status(404),
        });
    }
    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    let mut p = json!({"level": level});
    if let Some(n) = notes {
        p["notes"] = json!(n);
    }
    if let Some(o) = props.get("owners").filter(|o| o.is_array()) {
        p["owners"] = o.clone();
    }
    let out = json!({
        "properties": p,
        "id": format!("{}/providers/{LOCK_TYPE}/{name}", scope.canonical()),
        "type": LOCK_TYPE,
        "name": name,
    });
    store.write(|tx| tx.put(&stored_row(cx.id, LOCK_TYPE, out.clone())))?;
    Ok(Reply::json(
        if existing.is_some() { 200 } else { 201 },
        &out,
    ))
}

pub fn management_locks_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    super::get_stored(cx, store, || {
        super::named_not_found(cx, "LockNotFound", "lock")
    })
}

pub fn management_locks_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    Ok(Reply::empty(if store.write(|tx| tx.delete(&key))? {
        200
    } else {
        204
    }))
}

/// Locks at, above and below the scope; with `$filter=atScope()` only at and above.
pub fn management_locks_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let at_scope_only = match cx
        .req
        .query("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        None => false,
        Some(f) if f.eq_ignore_ascii_case("atScope()") => true,
        Some(f) => return Err(ArmError::invalid_filter(f)),
    };
    let scope = cx.id.scope_of_last_part().key();
    let rows = store.read(|tx| tx.by_type("microsoft.authorization/locks", None, None))?;
    let items: Vec<Value> = rows
        .into_iter()
        .filter(|r| {
            is_at_or_above(&r.parent, &scope)
                || (!at_scope_only && is_at_or_above(&scope, &r.parent))
        })
        .map(|r| r.body)
        .collect();
    Ok(list_reply(cx, items))
}

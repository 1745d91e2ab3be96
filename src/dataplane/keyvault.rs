//! Key Vault secrets at `/{vault}/secrets…` (and `/secrets…` when the world has one vault): set, get (latest
//! with or without the trailing slash, or a version), update, list, list versions, delete (soft delete:
//! `deletedsecrets`, recover, purge). The challenge flow of the SDKs: a request without a token gets 401
//! with `WWW-Authenticate: Bearer authorization="{base}/{vault tenant}", resource="https://vault.azure.net"`.
//! A token from another tenant gets AKV10032 (invalid issuer), whatever a delegation grants; RBAC vaults
//! decide with dataActions (`Microsoft.KeyVault/vaults/secrets/…`) at `{vault id}/secrets/{name}`, access
//! policy vaults with their `accessPolicies`. Any api-version is served (the SDKs send 2025-07-01,
//! 2026-04-01). Secret ids are `{base}/secrets/{name}/{version}`: the SDKs parse ids as exactly
//! vault/collection/name/version, so the vault's path segment cannot appear in them.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{authenticate, decide, display_id, fresh_hex, AuthFailure, DataCx};
use crate::app::AuthzMode;
use crate::auth::token::{v1_issuer, TokenError};
use crate::store::{SecretRow, Store, StoreError, Stored};
use crate::wire::{Reply, Req};
use crate::world::is_secret_name;

pub const VAULT_AUDIENCE: &str = "https://vault.azure.net";
const RECOVERABLE_DAYS: i64 = 90;

const ACT_GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
const ACT_SET: &str = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
const ACT_META: &str = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
const ACT_DELETE: &str = "Microsoft.KeyVault/vaults/secrets/delete";
const ACT_RECOVER: &str = "Microsoft.KeyVault/vaults/secrets/recover/action";
const ACT_PURGE: &str = "Microsoft.KeyVault/vaults/secrets/purge/action";

/// Store a new version of a secret (`body` holds value, contentType, tags, attributes); returns the row.
pub fn put_version(
    store: &Store,
    vault: &str,
    name: &str,
    mut body: Value,
    now: OffsetDateTime,
) -> Result<SecretRow, StoreError> {
    let version = fresh_hex();
    let t = now.unix_timestamp();
    let mut attrs = json!({"enabled": true});
    if let Some(a) = body["attributes"].as_object() {
        for k in ["enabled", "nbf", "exp"] {
            if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                attrs[k] = v.clone();
            }
        }
    }
    attrs["created"] = json!(t);
    attrs["updated"] = json!(t);
    body["attributes"] = attrs;
    body["name"] = json!(name);
    store.write(|tx| tx.put_secret_version(vault, name, &version, &body))?;
    Ok(SecretRow {
        name: name.to_lowercase(),
        version,
        body,
        deleted: None,
    })
}

fn kv_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

fn kv_error_inner(status: u16, code: &str, message: &str, inner: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message, "innererror": {"code": inner}}}),
    )
}

fn not_found(name: &str) -> Reply {
    kv_error(404, "SecretNotFound", &format!("A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"))
}

pub fn handle(cx: &DataCx, req: &Req, vault: &Stored) -> Reply {
    let location = vault.body["location"]
        .as_str()
        .unwrap_or("westeurope")
        .to_string();
    let r = serve(cx, req, vault);
    let mut r = r
        .header("x-ms-request-id", cx.request_id.to_string())
        .header("x-ms-keyvault-service-version", "1.9.2455.1")
        .header("x-ms-keyvault-region", location)
        .header(
            "x-ms-keyvault-network-info",
            "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
        )
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header(
            "strict-transport-security",
            "max-age=31536000;includeSubDomains",
        );
    if let Some(c) = req.header("x-ms-client-request-id") {
        r = r.header("x-ms-client-request-id", c.to_string());
    }
    r
}

/// The tenant a vault trusts: its `properties.tenantId`, else its subscription's tenant.
fn vault_tenant(cx: &DataCx, vault: &Stored) -> String {
    vault.body["properties"]["tenantId"]
        .as_str()
        .map(str::to_lowercase)
        .unwrap_or_else(|| super::resource_tenant(cx.snap, vault))
}

/// One operation: what it needs (RBAC data action, access-policy permission) and at which scope.
struct Op {
    action: &'static str,
    policy: &'static str,
}

fn serve(cx: &DataCx, req: &Req, vault: &Stored) -> Reply {
    let tenant = vault_tenant(cx, vault);
    let challenge = format!(
        "Bearer authorization=\"{}/{tenant}\", resource=\"{VAULT_AUDIENCE}\"",
        cx.login_base
    );
    let unauthorized = |msg: String| {
        kv_error(401, "Unauthorized", &msg).header("www-authenticate", challenge.clone())
    };
    let caller = match authenticate(cx, req, &[VAULT_AUDIENCE.to_string()], &tenant) {
        Ok(c) => c,
        Err(AuthFailure::Missing | AuthFailure::NotBearer) => {
            return unauthorized("AKV10000: Request is missing a Bearer or PoP token.".into())
        }
        Err(AuthFailure::Invalid(TokenError::Expired { .. })) => {
            return unauthorized("AKV10020: Invalid token: the token is expired.".into())
        }
        Err(AuthFailure::Invalid(_)) => {
            return unauthorized("AKV10016: Token validation failed: the token could not be verified.".into())
        }
        Err(AuthFailure::Audience(aud)) => {
            return unauthorized(format!("AKV10022: Invalid audience. Expected {VAULT_AUDIENCE}, found: {aud}."))
        }
        Err(AuthFailure::Issuer(iss, _)) => {
            let iss = if iss.is_empty() { "(none)".to_string() } else { iss };
            return unauthorized(format!(
                "AKV10032: Invalid issuer. Expected one of {}, https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/, https://sts.windows.net/e2d54eb5-3869-4f70-8578-dee5fc7331f4/, found {iss}.",
                v1_issuer(&tenant)
            ))
            .header("x-ms-emulator-decision", format!("denied; the token was issued by another tenant than the vault's ({tenant}): data-plane access does not follow Azure Lighthouse delegations"));
        }
        Err(AuthFailure::UnknownPrincipal) => {
            return unauthorized("AKV10016: Token validation failed: the token's principal does not exist in its tenant.".into())
        }
    };
    if req.query("api-version").is_none_or(str::is_empty) {
        return kv_error(
            400,
            "BadParameter",
            "The 'api-version' query parameter is missing.",
        );
    }

    // Path: [/{vault}]/{collection}[/{name}[/{version}|/versions|/recover]]
    let vname = vault.key.rsplit('/').next().unwrap_or_default();
    let mut segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let is_collection =
        |s: &str| s.eq_ignore_ascii_case("secrets") || s.eq_ignore_ascii_case("deletedsecrets");
    if segs.len() > 1 && segs[0].eq_ignore_ascii_case(vname) && is_collection(segs[1]) {
        segs.remove(0);
    }
    let collection = segs
        .first()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let name = segs.get(1).copied().filter(|s| !s.is_empty());
    let third = segs.get(2).copied().filter(|s| !s.is_empty());
    if segs.len() > 3 {
        return kv_error(404, "NotFound", "The requested resource was not found.");
    }
    if let Some(n) = name {
        if !is_secret_name(n) {
            return kv_error(
                400,
                "BadParameter",
                &format!("The request URI contains an invalid name: {n}"),
            );
        }
    }
    let m = req.method.as_str();
    let op = match (collection.as_str(), m, name, third) {
        ("secrets", "GET", None, _) => Op {
            action: ACT_META,
            policy: "list",
        },
        ("secrets", "GET", Some(_), Some(v)) if v.eq_ignore_ascii_case("versions") => Op {
            action: ACT_META,
            policy: "list",
        },
        ("secrets", "GET", Some(_), _) => Op {
            action: ACT_GET,
            policy: "get",
        },
        ("secrets", "PUT", Some(_), None) => Op {
            action: ACT_SET,
            policy: "set",
        },
        ("secrets", "PATCH", Some(_), _) => Op {
            action: ACT_SET,
            policy: "set",
        },
        ("secrets", "DELETE", Some(_), None) => Op {
            action: ACT_DELETE,
            policy: "delete",
        },
        ("deletedsecrets", "GET", _, None) => Op {
            action: ACT_META,
            policy: "list",
        },
        ("deletedsecrets", "DELETE", Some(_), None) => Op {
            action: ACT_PURGE,
            policy: "purge",
        },
        ("deletedsecrets", "POST", Some(_), Some(r)) if r.eq_ignore_ascii_case("recover") => Op {
            action: ACT_RECOVER,
            policy: "recover",
        },
        _ => {
            return kv_error(
                405,
                "MethodNotAllowed",
                &format!(
                    "The method {m} is not allowed on {}; lighthouse-emulator models secrets only.",
                    req.path
                ),
            )
        }
    };
    let vault_id = display_id(vault);
    let scope = match name {
        Some(n) => format!("{vault_id}/secrets/{n}"),
        None => vault_id.clone(),
    };
    let location = vault.body["location"].as_str().unwrap_or("westeurope");
    let who = format!(
        "appid={};oid={};iss={}",
        caller.claims.appid, caller.object_id, caller.claims.iss
    );
    if vault.body["properties"]["enableRbacAuthorization"].as_bool() == Some(true) {
        let (ok, why) = decide(cx, &caller, op.action, true, &scope);
        if !ok {
            let msg = format!("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: {who}\r\nAction: '{}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {vname};location={location}\r\n", op.action, scope.to_lowercase());
            return kv_error_inner(403, "Forbidden", &msg, "ForbiddenByRbac")
                .header("x-ms-emulator-decision", why);
        }
    } else if cx.authz == AuthzMode::Enforce
        && !policy_allows(&vault.body, &caller.object_id, &caller.groups, op.policy)
    {
        let msg = format!("The user, group or application '{who}' does not have secrets {} permission on key vault '{vname};location={location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287", op.policy);
        return kv_error_inner(403, "Forbidden", &msg, "AccessDenied").header(
            "x-ms-emulator-decision",
            "denied; no access policy of the vault grants this permission",
        );
    }

    let key = &vault.key;
    let result = match (collection.as_str(), m) {
        ("secrets", "GET") => match (name, third) {
            (None, _) => list(cx, key, None),
            (Some(n), Some(v)) if v.eq_ignore_ascii_case("versions") => list(cx, key, Some(n)),
            (Some(n), v) => get(cx, key, n, v),
        },
        ("secrets", "PUT") => set(cx, req, key, name.unwrap_or_default()),
        ("secrets", "PATCH") => update(cx, req, key, name.unwrap_or_default(), third),
        ("secrets", "DELETE") => delete(cx, key, name.unwrap_or_default()),
        ("deletedsecrets", "GET") => match name {
            None => list_deleted(cx, key),
            Some(n) => get_deleted(cx, key, n),
        },
        ("deletedsecrets", "DELETE") => purge(cx, key, name.unwrap_or_default()),
        _ => recover(cx, key, name.unwrap_or_default()),
    };
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "data-plane store error");
        kv_error(
            500,
            "InternalServerError",
            "The service encountered an internal error.",
        )
    })
}

/// Does an access-policy vault let `oid` (or one of its groups) use secret permission `perm`?
fn policy_allows(vault: &Value, oid: &str, groups: &[String], perm: &str) -> bool {
    vault["properties"]["accessPolicies"]
        .as_array()
        .map(|ps| {
            ps.iter().any(|p| {
                let who = p["objectId"].as_str().unwrap_or_default();
                let names_caller = who.eq_ignore_ascii_case(oid)
                    || groups.iter().any(|g| g.eq_ignore_ascii_case(who));
                names_caller
                    && p["permissions"]["secrets"].as_array().is_some_and(|s| {
                        s.iter()
                            .filter_map(Value::as_str)
                            .any(|x| x.eq_ignore_ascii_case(perm) || x.eq_ignore_ascii_case("all"))
                    })
            })
        })
        .unwrap_or(false)
}

fn attributes(row: &SecretRow) -> Value {
    let mut a = row.body["attributes"].clone();
    a["recoveryLevel"] = json!("Recoverable+Purgeable");
    a["recoverableDays"] = json!(RECOVERABLE_DAYS);
    a
}

fn display_name(row: &SecretRow) -> String {
    row.body["name"].as_str().unwrap_or(&row.name).to_string()
}

/// A secret bundle (`with_value` for get/set) or a list item (`versioned` false drops the version).
fn bundle(cx: &DataCx, row: &SecretRow, with_value: bool, versioned: bool) -> Value {
    let name = display_name(row);
    let id = if versioned {
        format!("{}/secrets/{name}/{}", cx.base_url, row.version)
    } else {
        format!("{}/secrets/{name}", cx.base_url)
    };
    let mut b = json!({});
    if with_value {
        b["value"] = row.body["value"].clone();
    }
    if let Some(ct) = row.body["contentType"].as_str() {
        b["contentType"] = json!(ct);
    }
    b["id"] = json!(id);
    b["attributes"] = attributes(row);
    if row.body["tags"].is_object() {
        b["tags"] = row.body["tags"].clone();
    }
    b
}

fn deleted_bundle(cx: &DataCx, row: &SecretRow) -> Value {
    let mut b = bundle(cx, row, false, true);
    let d = row.deleted.clone().unwrap_or(Value::Null);
    let name = display_name(row);
    let obj = json!({
        "recoveryId": format!("{}/deletedsecrets/{name}", cx.base_url),
        "deletedDate": d["deletedDate"],
        "scheduledPurgeDate": d["scheduledPurgeDate"],
    });
    if let (Some(o), Some(extra)) = (b.as_object_mut(), obj.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    b
}

fn latest_live(cx: &DataCx, vault: &str, name: &str) -> Result<Option<SecretRow>, StoreError> {
    Ok(cx
        .store
        .read(|tx| tx.secret_versions(vault, name))?
        .into_iter()
        .rev()
        .find(|r| r.deleted.is_none()))
}

fn get(cx: &DataCx, vault: &str, name: &str, version: Option<&str>) -> Result<Reply, StoreError> {
    let versions = cx.store.read(|tx| tx.secret_versions(vault, name))?;
    let row = match version {
        Some(v) => versions
            .into_iter()
            .find(|r| r.version.eq_ignore_ascii_case(v) && r.deleted.is_none()),
        None => versions.into_iter().rev().find(|r| r.deleted.is_none()),
    };
    let Some(row) = row else {
        return Ok(not_found(name));
    };
    if row.body["attributes"]["enabled"].as_bool() == Some(false) {
        return Ok(kv_error_inner(
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            "SecretDisabled",
        ));
    }
    Ok(Reply::json(200, &bundle(cx, &row, true, true)))
}

fn list(cx: &DataCx, vault: &str, name: Option<&str>) -> Result<Reply, StoreError> {
    let items: Vec<Value> = match name {
        None => cx
            .store
            .read(|tx| tx.secrets_latest(vault))?
            .iter()
            .filter(|r| r.deleted.is_none())
            .map(|r| bundle(cx, r, false, false))
            .collect(),
        Some(n) => {
            let rows = cx.store.read(|tx| tx.secret_versions(vault, n))?;
            if !rows.iter().any(|r| r.deleted.is_none()) {
                return Ok(not_found(n));
            }
            rows.iter()
                .filter(|r| r.deleted.is_none())
                .map(|r| bundle(cx, r, false, true))
                .collect()
        }
    };
    Ok(Reply::json(200, &json!({"value": items, "nextLink": null})))
}

fn set(cx: &DataCx, req: &Req, vault: &str, name: &str) -> Result<Reply, StoreError> {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(Value::Object(o)) => Value::Object(o),
        _ => {
            return Ok(kv_error(
                400,
                "BadParameter",
                "The request body is not a valid JSON object.",
            ))
        }
    };
    if !body["value"].is_string() {
        return Ok(kv_error(
            400,
            "BadParameter",
            "Property 'value' is required and must be a string.",
        ));
    }
    let versions = cx.store.read(|tx| tx.secret_versions(vault, name))?;
    if versions.iter().any(|r| r.deleted.is_some()) {
        return Ok(kv_error_inner(409, "Conflict", &format!("Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."), "ObjectIsDeletedButRecoverable"));
    }
    // keep the first spelling of the name
    let spelled = versions
        .first()
        .and_then(|r| r.body["name"].as_str().map(String::from))
        .unwrap_or_else(|| name.to_string());
    let mut stored = json!({"value": body["value"]});
    for k in ["contentType", "tags", "attributes"] {
        if !body[k].is_null() {
            stored[k] = body[k].clone();
        }
    }
    let row = put_version(cx.store, vault, &spelled, stored, cx.now)?;
    Ok(Reply::json(200, &bundle(cx, &row, true, true)))
}

fn update(
    cx: &DataCx,
    req: &Req,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Reply, StoreError> {
    let patch: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let versions = cx.store.read(|tx| tx.secret_versions(vault, name))?;
    let row = match version {
        Some(v) => versions
            .into_iter()
            .find(|r| r.version.eq_ignore_ascii_case(v) && r.deleted.is_none()),
        None => versions.into_iter().rev().find(|r| r.deleted.is_none()),
    };
    let Some(mut row) = row else {
        return Ok(not_found(name));
    };
    if let Some(a) = patch["attributes"].as_object() {
        for k in ["enabled", "nbf", "exp"] {
            if let Some(v) = a.get(k) {
                row.body["attributes"][k] = v.clone();
            }
        }
    }
    for k in ["contentType", "tags"] {
        if !patch[k].is_null() {
            row.body[k] = patch[k].clone();
        }
    }
    row.body["attributes"]["updated"] = json!(cx.now.unix_timestamp());
    cx.store
        .write(|tx| tx.update_secret_version(vault, name, &row.version, &row.body))?;
    Ok(Reply::json(200, &bundle(cx, &row, false, true)))
}

fn delete(cx: &DataCx, vault: &str, name: &str) -> Result<Reply, StoreError> {
    let Some(mut row) = latest_live(cx, vault, name)? else {
        return Ok(not_found(name));
    };
    let t = cx.now.unix_timestamp();
    let d = json!({"deletedDate": t, "scheduledPurgeDate": t + RECOVERABLE_DAYS * 24 * 3600});
    cx.store
        .write(|tx| tx.set_secret_deleted(vault, name, Some(&d)))?;
    row.deleted = Some(d);
    Ok(Reply::json(200, &deleted_bundle(cx, &row)))
}

fn deleted_latest(cx: &DataCx, vault: &str, name: &str) -> Result<Option<SecretRow>, StoreError> {
    Ok(cx
        .store
        .read(|tx| tx.secret_versions(vault, name))?
        .into_iter()
        .rev()
        .find(|r| r.deleted.is_some()))
}

fn deleted_not_found(name: &str) -> Reply {
    kv_error(
        404,
        "SecretNotFound",
        &format!("Deleted Secret not found: {name}"),
    )
}

fn get_deleted(cx: &DataCx, vault: &str, name: &str) -> Result<Reply, StoreError> {
    Ok(match deleted_latest(cx, vault, name)? {
        Some(row) => Reply::json(200, &deleted_bundle(cx, &row)),
        None => deleted_not_found(name),
    })
}

fn list_deleted(cx: &DataCx, vault: &str) -> Result<Reply, StoreError> {
    let items: Vec<Value> = cx
        .store
        .read(|tx| tx.secrets_latest(vault))?
        .iter()
        .filter(|r| r.deleted.is_some())
        .map(|r| {
            let mut b = deleted_bundle(cx, r);
            b["id"] = json!(format!("{}/secrets/{}", cx.base_url, display_name(r)));
            b
        })
        .collect();
    Ok(Reply::json(200, &json!({"value": items, "nextLink": null})))
}

fn purge(cx: &DataCx, vault: &str, name: &str) -> Result<Reply, StoreError> {
    if deleted_latest(cx, vault, name)?.is_none() {
        return Ok(deleted_not_found(name));
    }
    cx.store.write(|tx| tx.purge_secret(vault, name))?;
    Ok(Reply::empty(204))
}

fn recover(cx: &DataCx, vault: &str, name: &str) -> Result<Reply, StoreError> {
    let Some(mut row) = deleted_latest(cx, vault, name)? else {
        return Ok(deleted_not_found(name));
    };
    cx.store
        .write(|tx| tx.set_secret_deleted(vault, name, None))?;
    row.deleted = None;
    Ok(Reply::json(200, &bundle(cx, &row, false, true)))
}

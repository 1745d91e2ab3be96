//! The data plane: Blob Storage (`blob`) and Key Vault secrets (`keyvault`) served path-style on the
//! emulator's port, at `/{account}/…` and `/{vault}/secrets/…`, for storage accounts and key vaults that
//! exist in the store. Bearer tokens only; the token's tenant must be the account's or vault's tenant, so
//! a managing tenant's principal is refused whatever it holds through a delegation (ARM-FACTS §7.7); then
//! dataActions decide through `authz::decide` on the customer path. Plain `Req` → `Reply`; the contents
//! live in the store; nothing here reaches the activity log (Azure's does not record data operations).

pub mod blob;
pub mod ingestion;
pub mod keyvault;
pub mod logs;

use serde_json::json;
use time::OffsetDateTime;

use crate::app::AuthzMode;
use crate::auth::keys::SigningKey;
use crate::auth::token::{self, AccessClaims, TokenError};
use crate::authz::{self, Decision, Path, Subject};
use crate::explain::describe;
use crate::facts::Snapshot;
use crate::hosts::Hosted;
use crate::store::{Store, StoreError, Stored};
use crate::wire::{Reply, Req};
use crate::world::{is_storage_account_name, is_vault_name, WorldData};

pub const STORAGE_ACCOUNT_TYPE: &str = "microsoft.storage/storageaccounts";
pub const VAULT_TYPE: &str = "microsoft.keyvault/vaults";

/// What a data-plane handler gets from the edge.
pub struct DataCx<'a> {
    pub store: &'a Store,
    pub snap: &'a Snapshot,
    pub key: &'a SigningKey,
    pub now: OffsetDateTime,
    /// `https://localhost:8443` as the client addressed us, or the host-style name it used
    /// (`https://fabrikamdata.blob.core.windows.net`).
    pub base_url: &'a str,
    /// The emulator's own `https://localhost:{port}`: the authority a challenge names.
    pub login_base: &'a str,
    /// The request came by host-style name (through the CONNECT tunnel): the path holds no
    /// account or vault segment.
    pub host_style: bool,
    pub request_id: &'a str,
    pub authz: AuthzMode,
}

/// The account or vault a path names.
pub enum Target {
    Account(Stored),
    Vault(Stored),
}

/// A storage account or key vault found by name across subscriptions (names are globally unique in
/// Azure; the first in id order wins here).
pub fn find_by_name(store: &Store, rtype: &str, name: &str) -> Result<Option<Stored>, StoreError> {
    let suffix = format!("/{}", name.to_ascii_lowercase());
    Ok(store
        .read(|tx| tx.by_type(rtype, None, None))?
        .into_iter()
        .find(|r| r.key.ends_with(&suffix)))
}

/// Which data-plane resource, if any, a path addresses: `/{vault}/secrets…` and `/{vault}/deletedsecrets…`
/// name a vault; `/{account}…` a storage account; `/secrets…` at the root the only vault when there is
/// exactly one. `None` leaves the path to the other surfaces (tenant ids, `common`, … are never names).
pub fn resolve(store: &Store, path: &str) -> Option<Target> {
    let mut segs = path.trim_start_matches('/').split('/');
    let first = segs.next().unwrap_or("");
    let second = segs.next().unwrap_or("").to_ascii_lowercase();
    let first_l = first.to_ascii_lowercase();
    let kv_collection = |s: &str| matches!(s, "secrets" | "deletedsecrets");
    if kv_collection(&first_l) {
        if let Ok(Some(a)) = find_by_name(store, STORAGE_ACCOUNT_TYPE, &first_l) {
            return Some(Target::Account(a));
        }
        let vaults = store.read(|tx| tx.by_type(VAULT_TYPE, None, None)).ok()?;
        return match vaults.len() {
            1 => vaults.into_iter().next().map(Target::Vault),
            _ => None,
        };
    }
    if is_vault_name(first) && kv_collection(&second) {
        if let Ok(Some(v)) = find_by_name(store, VAULT_TYPE, first) {
            return Some(Target::Vault(v));
        }
    }
    if is_storage_account_name(first) {
        if let Ok(Some(a)) = find_by_name(store, STORAGE_ACCOUNT_TYPE, first) {
            return Some(Target::Account(a));
        }
    }
    if is_vault_name(first) {
        if let Ok(Some(v)) = find_by_name(store, VAULT_TYPE, first) {
            return Some(Target::Vault(v));
        }
    }
    None
}

impl DataCx<'_> {
    /// The account's Blob endpoint without the trailing slash: `{base}/{account}` path-style, the
    /// base itself host-style.
    pub fn account_url(&self, name: &str) -> String {
        if self.host_style {
            self.base_url.to_string()
        } else {
            format!("{}/{name}", self.base_url)
        }
    }
}

/// Serve a request that came by host-style name (`crate::hosts`): the account or vault the host
/// names, whatever the path; 404 when the world has no such account or vault (Azure's DNS would not
/// resolve the name; the CONNECT proxy already refuses it).
pub fn handle_hosted(cx: &DataCx, req: &Req, hosted: &Hosted) -> Option<Reply> {
    let (rtype, name, what) = match hosted {
        Hosted::Blob(a) => (STORAGE_ACCOUNT_TYPE, a, "storage account"),
        Hosted::Vault(v) => (VAULT_TYPE, v, "key vault"),
        Hosted::LogAnalytics => {
            return Some(logs::handle(cx, req).unwrap_or_else(|| {
                logs::error(
                    404,
                    "PathNotFoundError",
                    &format!("The requested path does not exist: {}", req.path),
                    None,
                    cx.request_id,
                )
            }))
        }
        Hosted::Local => return None,
    };
    Some(match find_by_name(cx.store, rtype, name) {
        Ok(Some(r)) if rtype == VAULT_TYPE => keyvault::handle(cx, req, &r),
        Ok(Some(r)) => blob::handle(cx, req, &r),
        Ok(None) => Reply::json(
            404,
            &json!({"error": {"code": "ResourceNotFound", "message": format!("The emulator's world has no {what} named '{name}'.")}}),
        ),
        Err(e) => Reply::json(
            500,
            &json!({"error": {"code": "InternalError", "message": e.0}}),
        ),
    })
}

/// Serve a data-plane request, or `None` when the path names no account or vault (nor the Log
/// Analytics query API at `/v1/…`).
pub fn handle(cx: &DataCx, req: &Req) -> Option<Reply> {
    if req.path.starts_with("/v1/") {
        return logs::handle(cx, req);
    }
    if let Some(r) = ingestion::handle(cx, req) {
        return Some(r);
    }
    Some(match resolve(cx.store, &req.path)? {
        Target::Account(a) => blob::handle(cx, req, &a),
        Target::Vault(v) => keyvault::handle(cx, req, &v),
    })
}

/// The tenant that owns a resource: its subscription's home tenant.
pub fn resource_tenant(snap: &Snapshot, r: &Stored) -> String {
    snap.dir
        .subscription(&r.sub)
        .map(|s| s.tenant_id.to_lowercase())
        .unwrap_or_default()
}

/// A caller that passed authentication.
pub struct DataCaller {
    pub claims: AccessClaims,
    pub object_id: String,
    pub groups: Vec<String>,
}

/// Why a bearer token was not accepted (each surface words it its own way).
pub enum AuthFailure {
    Missing,
    NotBearer,
    Invalid(TokenError),
    Audience(String),
    /// The token's issuer (tenant) is not the resource's: (found issuer, found tenant).
    Issuer(String, String),
    UnknownPrincipal,
}

/// Check the bearer token of `req` for one of `audiences` and the resource tenant `tenant`.
pub fn authenticate(
    cx: &DataCx,
    req: &Req,
    audiences: &[String],
    tenant: &str,
) -> Result<DataCaller, AuthFailure> {
    let header = req.header("authorization").ok_or(AuthFailure::Missing)?;
    let (scheme, tok) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::NotBearer);
    }
    let claims = token::verify_access_token(cx.key, tok.trim(), cx.now.unix_timestamp())
        .map_err(AuthFailure::Invalid)?;
    if !token::audience_matches(&claims.aud, audiences) {
        return Err(AuthFailure::Audience(claims.aud));
    }
    if !claims.tid.eq_ignore_ascii_case(tenant) {
        return Err(AuthFailure::Issuer(claims.iss.clone(), claims.tid.clone()));
    }
    let principal = cx
        .snap
        .dir
        .principal(&claims.oid)
        .filter(|p| p.tenant_id.eq_ignore_ascii_case(&claims.tid))
        .ok_or(AuthFailure::UnknownPrincipal)?;
    Ok(DataCaller {
        object_id: principal.object_id.to_lowercase(),
        groups: cx.snap.dir.groups_of(&principal.object_id).to_vec(),
        claims,
    })
}

/// The RBAC decision for a same-tenant caller: `(allowed, x-ms-emulator-decision text)`. Control
/// actions (`data` false) are checked for container operations, whose role entries are Actions.
pub fn decide(
    cx: &DataCx,
    caller: &DataCaller,
    action: &str,
    data: bool,
    scope: &str,
) -> (bool, String) {
    let subject = Subject {
        object_id: &caller.object_id,
        groups: &caller.groups,
    };
    let d = authz::decide(
        &subject,
        action,
        data,
        &scope.to_lowercase(),
        Path::Customer,
        &cx.snap.access,
        cx.now.unix_timestamp(),
    );
    let text = match &d {
        Decision::NoGrant => format!(
            "denied; no role assignment grants {} '{action}' at {scope}",
            if data { "data action" } else { "action" }
        ),
        other => describe(other),
    };
    let allowed = match cx.authz {
        AuthzMode::Off => true,
        AuthzMode::Log => {
            if !d.is_allowed() {
                tracing::warn!(action = %action, scope = %scope, "authz=log: enforce would refuse a data-plane request");
            }
            true
        }
        AuthzMode::Enforce => d.is_allowed(),
    };
    (allowed, text)
}

/// RFC 1123 (`Mon, 27 Jan 2025 10:00:00 GMT`), what Storage puts in `Last-Modified` and `Date`.
pub fn rfc1123(t: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[t.month() as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Load the world's data section into the store (after its ARM requests made the accounts and vaults).
pub fn load_world_data(
    store: &Store,
    data: &WorldData,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let account = |name: &str| -> Result<Stored, StoreError> {
        find_by_name(store, STORAGE_ACCOUNT_TYPE, name)?.ok_or_else(|| {
            StoreError(format!(
                "world data: no storage account named '{name}' in the world's requests"
            ))
        })
    };
    for c in &data.containers {
        let a = account(&c.account)?;
        store.write(|tx| {
            tx.put_container(&a.key, &c.name, &blob::new_container(now, &c.metadata))
        })?;
    }
    for b in &data.blobs {
        let a = account(&b.account)?;
        store.write(|tx| -> Result<(), StoreError> {
            if tx.container(&a.key, &b.container)?.is_none() {
                tx.put_container(
                    &a.key,
                    &b.container,
                    &blob::new_container(now, &Default::default()),
                )?;
            }
            let props = blob::new_blob_props(
                now,
                None,
                b.content.as_bytes(),
                json!({"contentType": b.content_type}),
                &b.metadata,
            );
            tx.put_blob(&a.key, &b.container, &b.name, b.content.as_bytes(), &props)
        })?;
    }
    for s in &data.secrets {
        let v = find_by_name(store, VAULT_TYPE, &s.vault)?.ok_or_else(|| {
            StoreError(format!(
                "world data: no key vault named '{}' in the world's requests",
                s.vault
            ))
        })?;
        let mut body = json!({"value": s.value});
        if let Some(ct) = &s.content_type {
            body["contentType"] = json!(ct);
        }
        if !s.tags.is_empty() {
            body["tags"] = json!(s.tags);
        }
        keyvault::put_version(store, &v.key, &s.name, body, now)?;
    }
    Ok(())
}

/// A fresh hex id without hyphens (secret versions, ETags).
pub fn fresh_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The display (canonical) id of a stored resource.
pub fn display_id(r: &Stored) -> String {
    r.body["id"].as_str().unwrap_or(&r.key).to_string()
}

//! Blob Storage, path-style as Azurite serves it: `/{account}/?comp=list`, `/{account}/{container}?restype=container`
//! (create, properties, metadata, list blobs, delete) and `/{account}/{container}/{blob…}` (Put Blob, Put
//! Block, Put Block List, Get Blob with ranges, properties, metadata, delete). Storage's XML bodies and
//! headers (`ETag`, `Last-Modified`, `Content-MD5`, `x-ms-*`), errors as `<Error>` with `x-ms-error-code`.
//! Microsoft Entra bearer tokens only: Shared Key and SAS are refused (the emulator models Entra access).
//! Container operations are checked against the role Actions (`…/containers/read|write|delete`), blob
//! operations against dataActions (`…/containers/blobs/read|write|delete`), at
//! `{account id}/blobServices/default/containers/{c}[/blobs/{b}]`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{
    authenticate, decide, display_id, fresh_hex, resource_tenant, rfc1123, AuthFailure, DataCx,
};
use crate::auth::token::TokenError;
use crate::store::{StoreError, Stored};
use crate::wire::{Reply, Req};
use crate::world::is_container_name;

/// The x-ms-version answered when the client sent none.
pub const DEFAULT_VERSION: &str = "2026-10-06";
/// The first x-ms-version that accepts bearer tokens.
pub const MIN_BEARER_VERSION: &str = "2017-11-09";
pub const STORAGE_AUDIENCE: &str = "https://storage.azure.com/";

const ACT_CONTAINER_READ: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/read";
const ACT_CONTAINER_WRITE: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/write";
const ACT_CONTAINER_DELETE: &str =
    "Microsoft.Storage/storageAccounts/blobServices/containers/delete";
const ACT_BLOB_READ: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";
const ACT_BLOB_WRITE: &str =
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write";
const ACT_BLOB_DELETE: &str =
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete";

/// The properties of a new container.
pub fn new_container(now: OffsetDateTime, metadata: &BTreeMap<String, String>) -> Value {
    json!({"etag": etag(), "lastModified": now.unix_timestamp(), "metadata": metadata})
}

/// The properties of a new or replaced block blob; `headers` carries contentType and friends.
pub fn new_blob_props(
    now: OffsetDateTime,
    created: Option<i64>,
    content: &[u8],
    headers: Value,
    metadata: &BTreeMap<String, String>,
) -> Value {
    let mut p = json!({
        "etag": etag(),
        "lastModified": now.unix_timestamp(),
        "creationTime": created.unwrap_or(now.unix_timestamp()),
        "contentLength": content.len(),
        "contentType": "application/octet-stream",
        "contentMd5": md5_b64(content),
        "metadata": metadata,
    });
    if let (Some(p), Value::Object(h)) = (p.as_object_mut(), headers) {
        for (k, v) in h {
            if !v.is_null() {
                p.insert(k, v);
            }
        }
    }
    p
}

fn etag() -> String {
    format!("\"0x8DD{}\"", fresh_hex()[..12].to_ascii_uppercase())
}

fn md5_b64(b: &[u8]) -> String {
    STANDARD.encode(Md5::digest(b))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// What one request addresses.
struct Addr<'a> {
    account: &'a Stored,
    container: Option<String>,
    blob: Option<String>,
}

pub fn handle(cx: &DataCx, req: &Req, account: &Stored) -> Reply {
    let r = serve(cx, req, account);
    finish(cx, req, r)
}

/// The headers every Storage answer carries.
fn finish(cx: &DataCx, req: &Req, mut r: Reply) -> Reply {
    let version = req
        .header("x-ms-version")
        .unwrap_or(DEFAULT_VERSION)
        .to_string();
    r = r
        .header("x-ms-request-id", cx.request_id.to_string())
        .header("x-ms-version", version)
        .header("date", rfc1123(cx.now))
        .header("server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0");
    if let Some(c) = req.header("x-ms-client-request-id") {
        r = r.header("x-ms-client-request-id", c.to_string());
    }
    if req.method == "HEAD" && r.get_header("content-length").is_none() {
        let n = r.body.len().to_string();
        r = r.header("content-length", n);
    }
    r
}

/// A Storage error: XML body, `x-ms-error-code`.
fn error(cx: &DataCx, status: u16, code: &str, message: &str, detail: Option<&str>) -> Reply {
    let time = cx
        .now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let detail = detail
        .map(|d| {
            format!(
                "<AuthenticationErrorDetail>{}</AuthenticationErrorDetail>",
                xml_escape(d)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}\nRequestId:{}\nTime:{time}</Message>{detail}</Error>",
        xml_escape(message),
        cx.request_id
    );
    Reply::text(status, "application/xml", body).header("x-ms-error-code", code.to_string())
}

fn store_error(cx: &DataCx, e: StoreError) -> Reply {
    tracing::error!(error = %e, "data-plane store error");
    error(
        cx,
        500,
        "InternalError",
        "Server encountered an internal error. Please try again after some time.",
        None,
    )
}

const AUTH_FAILED: &str =
    "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.";
const KEY_AUTH: &str = "Key based authentication is not permitted on this storage account.";
const SHARED_KEY_NOTE: &str = "denied; lighthouse-emulator models Microsoft Entra access only: Shared Key and SAS are refused (use a bearer token for https://storage.azure.com/)";

fn serve(cx: &DataCx, req: &Req, account: &Stored) -> Reply {
    let tenant = resource_tenant(cx.snap, account);
    let challenge = format!(
        "Bearer authorization_uri={}/{tenant}/oauth2/authorize resource_id=https://storage.azure.com",
        cx.login_base
    );
    // Shared Key, SAS: refused — only Entra access is modeled (allowSharedKeyAccess = false).
    let auth = req.header("authorization").unwrap_or("");
    let scheme = auth.split_whitespace().next().unwrap_or("");
    if req.query("sig").is_some()
        || scheme.eq_ignore_ascii_case("SharedKey")
        || scheme.eq_ignore_ascii_case("SharedKeyLite")
    {
        return error(
            cx,
            403,
            "KeyBasedAuthenticationNotPermitted",
            KEY_AUTH,
            None,
        )
        .header("x-ms-emulator-decision", SHARED_KEY_NOTE);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        let v = req.header("x-ms-version").unwrap_or("");
        if v < MIN_BEARER_VERSION {
            return error(
                cx,
                400,
                "InvalidHeaderValue",
                &format!("Authentication scheme Bearer is not supported with x-ms-version '{v}'; send x-ms-version {MIN_BEARER_VERSION} or later."),
                None,
            );
        }
    }
    let name = account.key.rsplit('/').next().unwrap_or_default();
    let audiences = vec![
        STORAGE_AUDIENCE.to_string(),
        format!("https://{name}.blob.core.windows.net/"),
        format!("{}/", cx.account_url(name)),
    ];
    let caller = match authenticate(cx, req, &audiences, &tenant) {
        Ok(c) => c,
        Err(f) => {
            let (status, code, detail) = match f {
                AuthFailure::Missing => (401, "NoAuthenticationInformation", None),
                AuthFailure::NotBearer => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some("Authentication scheme is not supported.".to_string()),
                ),
                AuthFailure::Invalid(TokenError::Expired { .. }) => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some("Lifetime validation failed. The token is expired.".into()),
                ),
                AuthFailure::Invalid(TokenError::BadSignature) => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some(
                        "Signature validation failed. The token's signature could not be verified."
                            .into(),
                    ),
                ),
                AuthFailure::Invalid(_) => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some("Failed to validate the access token.".into()),
                ),
                AuthFailure::Audience(_) => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some("Audience validation failed. Audience did not match.".into()),
                ),
                AuthFailure::Issuer(..) => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some("Issuer validation failed. Issuer did not match.".into()),
                ),
                AuthFailure::UnknownPrincipal => (
                    401,
                    "InvalidAuthenticationInfo",
                    Some("The token's principal does not exist in its tenant.".into()),
                ),
            };
            let message = if code == "NoAuthenticationInformation" {
                "Server failed to authenticate the request. Please refer to the information in the www-authenticate header."
            } else {
                AUTH_FAILED
            };
            let mut r = error(cx, status, code, message, detail.as_deref())
                .header("www-authenticate", challenge);
            if let Some(d) = &detail {
                if d.starts_with("Issuer") {
                    r = r.header("x-ms-emulator-decision", format!("denied; the token was issued by another tenant than the storage account's ({tenant}): data-plane access does not follow Azure Lighthouse delegations"));
                }
            }
            return r;
        }
    };

    // Address: /{account}[/{container}[/{blob…}]]
    let rest = req.path.trim_start_matches('/');
    let rest = if cx.host_style {
        rest
    } else {
        rest.split_once('/').map(|(_, r)| r).unwrap_or("")
    };
    let (container, blob) = match rest.split_once('/') {
        Some((c, b)) if !b.is_empty() => (Some(c.to_string()), Some(b.to_string())),
        Some((c, _)) => (Some(c.to_string()), None),
        None if rest.is_empty() => (None, None),
        None => (Some(rest.to_string()), None),
    };
    // A blob name is 1–1 024 characters (Storage counts UTF-16 units) without control characters
    // ("Naming and referencing containers, blobs, and metadata"; the service's codes and texts).
    if let Some(b) = &blob {
        if b.encode_utf16().count() > 1024 {
            return error(
                cx,
                400,
                "OutOfRangeInput",
                "The specified resource name length is not within the permissible limits.",
                None,
            );
        }
        if b.chars().any(char::is_control) {
            return error(
                cx,
                400,
                "InvalidResourceName",
                "The specifed resource name contains invalid characters.",
                None,
            );
        }
    }
    let addr = Addr {
        account,
        container: container.filter(|c| !c.is_empty()),
        blob,
    };
    let restype = req.query("restype").unwrap_or("");
    let comp = req.query("comp").unwrap_or("");
    let base = display_id(account);
    let svc_scope = format!("{base}/blobServices/default");
    let check = |action: &str, data: bool, scope: &str| -> Result<String, Reply> {
        let (ok, why) = decide(cx, &caller, action, data, scope);
        if ok {
            // Storage answers carry no x-ms-emulator-decision when allowed: azure-storage-blob reads every
            // response header containing "or-" as an object-replication status (it would fail on it).
            tracing::debug!(decision = %why, "data-plane decision");
            Ok(why)
        } else {
            Err(error(
                cx,
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
                None,
            )
            .header("x-ms-emulator-decision", why))
        }
    };
    let m = req.method.as_str();
    let out: Result<Reply, Reply> = match (&addr.container, &addr.blob) {
        (None, _) => match (m, restype, comp) {
            ("GET", _, "list") => check(ACT_CONTAINER_READ, false, &svc_scope)
                .and_then(|_| list_containers(cx, req, &addr)),
            ("GET" | "HEAD", "account", "properties") => Ok(Reply::empty(200)
                .header("x-ms-sku-name", "Standard_LRS")
                .header("x-ms-account-kind", "StorageV2")
                .header("x-ms-is-hns-enabled", "false")),
            _ => Err(unsupported(cx)),
        },
        (Some(c), None) => {
            let scope = format!("{svc_scope}/containers/{c}");
            if restype != "container" {
                Err(error(
                    cx,
                    400,
                    "InvalidUri",
                    "The requested URI does not represent any resource on the server.",
                    None,
                ))
            } else {
                match (m, comp) {
                    ("PUT", "") => check(ACT_CONTAINER_WRITE, false, &scope)
                        .and_then(|_| create_container(cx, req, &addr, c)),
                    ("PUT", "metadata") => check(ACT_CONTAINER_WRITE, false, &scope)
                        .and_then(|_| set_container_metadata(cx, req, &addr, c)),
                    ("GET" | "HEAD", "" | "metadata") => check(ACT_CONTAINER_READ, false, &scope)
                        .and_then(|_| container_properties(cx, &addr, c)),
                    ("GET", "list") => check(ACT_BLOB_READ, true, &scope)
                        .and_then(|_| list_blobs(cx, req, &addr, c)),
                    ("DELETE", "") => check(ACT_CONTAINER_DELETE, false, &scope)
                        .and_then(|_| delete_container(cx, &addr, c)),
                    _ => Err(unsupported(cx)),
                }
            }
        }
        (Some(c), Some(b)) => {
            let scope = format!("{svc_scope}/containers/{c}/blobs/{b}");
            match (m, comp) {
                ("PUT", "" | "block" | "blocklist" | "metadata" | "properties") => {
                    check(ACT_BLOB_WRITE, true, &scope).and_then(|_| match comp {
                        "" => put_blob(cx, req, &addr, c, b),
                        "block" => put_block(cx, req, &addr, c, b),
                        "blocklist" => put_block_list(cx, req, &addr, c, b),
                        _ => set_blob_properties(cx, req, &addr, c, b, comp),
                    })
                }
                ("GET" | "HEAD", "" | "metadata") => {
                    check(ACT_BLOB_READ, true, &scope).and_then(|_| get_blob(cx, req, &addr, c, b))
                }
                ("DELETE", "") => check(ACT_BLOB_DELETE, true, &scope)
                    .and_then(|_| delete_blob(cx, req, &addr, c, b)),
                _ => Err(unsupported(cx)),
            }
        }
    };
    out.unwrap_or_else(|e| e)
}

fn unsupported(cx: &DataCx) -> Reply {
    error(
        cx,
        400,
        "UnsupportedHttpVerb",
        "The resource doesn't support the specified HTTP verb or query (lighthouse-emulator models containers, block blobs and their properties).",
        None,
    )
}

fn container_not_found(cx: &DataCx) -> Reply {
    error(
        cx,
        404,
        "ContainerNotFound",
        "The specified container does not exist.",
        None,
    )
}

fn blob_not_found(cx: &DataCx) -> Reply {
    error(
        cx,
        404,
        "BlobNotFound",
        "The specified blob does not exist.",
        None,
    )
}

/// The ARM id key of a container created through the management plane.
fn arm_container_key(addr: &Addr, c: &str) -> String {
    format!("{}/blobservices/default/containers/{c}", addr.account.key)
}

/// A container's properties: the data-plane row, or one made from a container that ARM created.
fn container(cx: &DataCx, addr: &Addr, c: &str) -> Result<Option<Value>, Reply> {
    let acct = &addr.account.key;
    let found = cx
        .store
        .write(|tx| -> Result<Option<Value>, StoreError> {
            if let Some(v) = tx.container(acct, c)? {
                return Ok(Some(v));
            }
            if tx.get(&arm_container_key(addr, c))?.is_some() {
                let v = new_container(cx.now, &BTreeMap::new());
                tx.put_container(acct, c, &v)?;
                return Ok(Some(v));
            }
            Ok(None)
        })
        .map_err(|e| store_error(cx, e))?;
    Ok(found)
}

fn metadata_from(req: &Req) -> BTreeMap<String, String> {
    req.headers
        .iter()
        .filter_map(|(k, v)| {
            k.to_ascii_lowercase()
                .strip_prefix("x-ms-meta-")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect()
}

fn with_metadata(mut r: Reply, props: &Value) -> Reply {
    if let Some(m) = props["metadata"].as_object() {
        for (k, v) in m {
            r = r.header(
                format!("x-ms-meta-{k}"),
                v.as_str().unwrap_or_default().to_string(),
            );
        }
    }
    r
}

fn time_of(v: &Value) -> String {
    OffsetDateTime::from_unix_timestamp(v.as_i64().unwrap_or(0))
        .map(rfc1123)
        .unwrap_or_default()
}

fn create_container(cx: &DataCx, req: &Req, addr: &Addr, c: &str) -> Result<Reply, Reply> {
    if !is_container_name(c) {
        return Err(error(
            cx,
            400,
            "InvalidResourceName",
            "The specifed resource name contains invalid characters.",
            None,
        ));
    }
    if container(cx, addr, c)?.is_some() {
        return Err(error(
            cx,
            409,
            "ContainerAlreadyExists",
            "The specified container already exists.",
            None,
        ));
    }
    let props = new_container(cx.now, &metadata_from(req));
    cx.store
        .write(|tx| tx.put_container(&addr.account.key, c, &props))
        .map_err(|e| store_error(cx, e))?;
    Ok(Reply::empty(201)
        .header(
            "etag",
            props["etag"].as_str().unwrap_or_default().to_string(),
        )
        .header("last-modified", time_of(&props["lastModified"]))
        .header("x-ms-request-server-encrypted", "true"))
}

fn set_container_metadata(cx: &DataCx, req: &Req, addr: &Addr, c: &str) -> Result<Reply, Reply> {
    let mut props = container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    props["metadata"] = json!(metadata_from(req));
    props["etag"] = json!(etag());
    props["lastModified"] = json!(cx.now.unix_timestamp());
    cx.store
        .write(|tx| tx.put_container(&addr.account.key, c, &props))
        .map_err(|e| store_error(cx, e))?;
    Ok(Reply::empty(200)
        .header(
            "etag",
            props["etag"].as_str().unwrap_or_default().to_string(),
        )
        .header("last-modified", time_of(&props["lastModified"])))
}

fn container_properties(cx: &DataCx, addr: &Addr, c: &str) -> Result<Reply, Reply> {
    let props = container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    let r = Reply::empty(200)
        .header(
            "etag",
            props["etag"].as_str().unwrap_or_default().to_string(),
        )
        .header("last-modified", time_of(&props["lastModified"]))
        .header("x-ms-lease-status", "unlocked")
        .header("x-ms-lease-state", "available")
        .header("x-ms-has-immutability-policy", "false")
        .header("x-ms-has-legal-hold", "false")
        .header("x-ms-default-encryption-scope", "$account-encryption-key")
        .header("x-ms-deny-encryption-scope-override", "false");
    Ok(with_metadata(r, &props))
}

fn delete_container(cx: &DataCx, addr: &Addr, c: &str) -> Result<Reply, Reply> {
    let acct = &addr.account.key;
    let arm_key = arm_container_key(addr, c);
    let existed = cx
        .store
        .write(|tx| -> Result<bool, StoreError> {
            let a = tx.delete_container(acct, c)?;
            let b = tx.delete(&arm_key)?;
            Ok(a || b)
        })
        .map_err(|e| store_error(cx, e))?;
    if !existed {
        return Err(container_not_found(cx));
    }
    Ok(Reply::empty(202))
}

fn metadata_xml(props: &Value) -> String {
    let mut s = String::from("<Metadata>");
    if let Some(m) = props["metadata"].as_object() {
        for (k, v) in m {
            s.push_str(&format!(
                "<{k}>{}</{k}>",
                xml_escape(v.as_str().unwrap_or_default())
            ));
        }
    }
    s.push_str("</Metadata>");
    s
}

/// `<Prefix>`, `<Marker>`, `<MaxResults>` echo and the page of names after `marker`.
fn paging(req: &Req) -> (String, String, usize, String) {
    let prefix = req.query("prefix").unwrap_or("").to_string();
    let marker = req.query("marker").unwrap_or("").to_string();
    let max = req
        .query("maxresults")
        .and_then(|m| m.parse::<usize>().ok())
        .filter(|m| *m > 0)
        .unwrap_or(5000)
        .min(5000);
    let mut echo = String::new();
    if !prefix.is_empty() {
        echo.push_str(&format!("<Prefix>{}</Prefix>", xml_escape(&prefix)));
    }
    if !marker.is_empty() {
        echo.push_str(&format!("<Marker>{}</Marker>", xml_escape(&marker)));
    }
    if req.query("maxresults").is_some() {
        echo.push_str(&format!("<MaxResults>{max}</MaxResults>"));
    }
    (prefix, marker, max, echo)
}

fn includes(req: &Req, what: &str) -> bool {
    req.query("include")
        .unwrap_or("")
        .split(',')
        .any(|i| i.trim().eq_ignore_ascii_case(what))
}

fn xml_reply(body: String) -> Reply {
    Reply::text(200, "application/xml", body)
}

fn list_containers(cx: &DataCx, req: &Req, addr: &Addr) -> Result<Reply, Reply> {
    let acct = &addr.account.key;
    // containers ARM created appear on the data plane too
    let arm_prefix = format!("{acct}/blobservices/default/containers/");
    let rows = cx
        .store
        .write(|tx| -> Result<Vec<(String, Value)>, StoreError> {
            let arm = tx.tree(&format!("{acct}/blobservices/default"))?;
            for r in arm {
                if let Some(n) = r.key.strip_prefix(&arm_prefix) {
                    if !n.contains('/') && tx.container(acct, n)?.is_none() {
                        tx.put_container(acct, n, &new_container(cx.now, &BTreeMap::new()))?;
                    }
                }
            }
            tx.containers(acct)
        })
        .map_err(|e| store_error(cx, e))?;
    let (prefix, marker, max, echo) = paging(req);
    let meta = includes(req, "metadata");
    let matching: Vec<&(String, Value)> = rows
        .iter()
        .filter(|(n, _)| {
            n.starts_with(&prefix) && (marker.is_empty() || n.as_str() >= marker.as_str())
        })
        .collect();
    let mut items = String::new();
    for (n, p) in matching.iter().take(max) {
        items.push_str(&format!(
            "<Container><Name>{}</Name><Properties><Last-Modified>{}</Last-Modified><Etag>{}</Etag><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><DefaultEncryptionScope>$account-encryption-key</DefaultEncryptionScope><DenyEncryptionScopeOverride>false</DenyEncryptionScopeOverride><HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold></Properties>{}</Container>",
            xml_escape(n),
            time_of(&p["lastModified"]),
            xml_escape(p["etag"].as_str().unwrap_or_default()),
            if meta { metadata_xml(p) } else { String::new() }
        ));
    }
    let next = matching
        .get(max)
        .map(|(n, _)| format!("<NextMarker>{}</NextMarker>", xml_escape(n)))
        .unwrap_or_else(|| "<NextMarker />".into());
    let name = addr.account.key.rsplit('/').next().unwrap_or_default();
    Ok(xml_reply(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}/\">{echo}<Containers>{items}</Containers>{next}</EnumerationResults>",
        cx.account_url(name)
    )))
}

fn blob_properties_xml(p: &Value) -> String {
    let mut s = format!(
        "<Creation-Time>{}</Creation-Time><Last-Modified>{}</Last-Modified><Etag>{}</Etag><Content-Length>{}</Content-Length><Content-Type>{}</Content-Type>",
        time_of(&p["creationTime"]),
        time_of(&p["lastModified"]),
        xml_escape(p["etag"].as_str().unwrap_or_default().trim_matches('"')),
        p["contentLength"].as_u64().unwrap_or(0),
        xml_escape(p["contentType"].as_str().unwrap_or("application/octet-stream")),
    );
    for (key, tag) in [
        ("contentEncoding", "Content-Encoding"),
        ("contentLanguage", "Content-Language"),
        ("contentMd5", "Content-MD5"),
        ("cacheControl", "Cache-Control"),
        ("contentDisposition", "Content-Disposition"),
    ] {
        if let Some(v) = p[key].as_str() {
            s.push_str(&format!("<{tag}>{}</{tag}>", xml_escape(v)));
        }
    }
    s.push_str("<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted>");
    s
}

fn list_blobs(cx: &DataCx, req: &Req, addr: &Addr, c: &str) -> Result<Reply, Reply> {
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    let (prefix, marker, max, mut echo) = paging(req);
    let delimiter = req.query("delimiter").unwrap_or("").to_string();
    if !delimiter.is_empty() {
        echo.push_str(&format!(
            "<Delimiter>{}</Delimiter>",
            xml_escape(&delimiter)
        ));
    }
    let rows = cx
        .store
        .read(|tx| tx.blobs(&addr.account.key, c, &prefix))
        .map_err(|e| store_error(cx, e))?;
    let meta = includes(req, "metadata");
    // entries: blobs, or virtual directories when a delimiter folds names
    let mut entries: Vec<(String, Option<&Value>)> = Vec::new();
    for r in &rows {
        if !marker.is_empty() && r.name.as_str() < marker.as_str() {
            continue;
        }
        let tail = &r.name[prefix.len()..];
        if !delimiter.is_empty() {
            if let Some(i) = tail.find(&delimiter) {
                let dir = format!("{prefix}{}", &tail[..i + delimiter.len()]);
                if entries.last().map(|(n, _)| n != &dir).unwrap_or(true) {
                    entries.push((dir, None));
                }
                continue;
            }
        }
        entries.push((r.name.clone(), Some(&r.body)));
    }
    let mut items = String::new();
    for (n, p) in entries.iter().take(max) {
        match p {
            Some(p) => items.push_str(&format!(
                "<Blob><Name>{}</Name><Properties>{}</Properties>{}</Blob>",
                xml_escape(n),
                blob_properties_xml(p),
                if meta { metadata_xml(p) } else { String::new() }
            )),
            None => items.push_str(&format!(
                "<BlobPrefix><Name>{}</Name></BlobPrefix>",
                xml_escape(n)
            )),
        }
    }
    let next = entries
        .get(max)
        .map(|(n, _)| format!("<NextMarker>{}</NextMarker>", xml_escape(n)))
        .unwrap_or_else(|| "<NextMarker />".into());
    let name = addr.account.key.rsplit('/').next().unwrap_or_default();
    Ok(xml_reply(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}/\" ContainerName=\"{}\">{echo}<Blobs>{items}</Blobs>{next}</EnumerationResults>",
        cx.account_url(name),
        xml_escape(c)
    )))
}

/// The content headers a Put Blob or Put Block List sets (`x-ms-blob-content-*`).
fn content_headers(req: &Req) -> Value {
    let mut h = Map::new();
    for (hdr, key) in [
        ("x-ms-blob-content-type", "contentType"),
        ("x-ms-blob-content-encoding", "contentEncoding"),
        ("x-ms-blob-content-language", "contentLanguage"),
        ("x-ms-blob-cache-control", "cacheControl"),
        ("x-ms-blob-content-disposition", "contentDisposition"),
    ] {
        if let Some(v) = req.header(hdr) {
            h.insert(key.into(), json!(v));
        }
    }
    if !h.contains_key("contentType") {
        if let Some(ct) = req
            .header("content-type")
            .filter(|_| req.query("comp").is_none())
        {
            h.insert("contentType".into(), json!(ct));
        }
    }
    Value::Object(h)
}

/// If-Match / If-None-Match against the current blob (`None` = absent).
fn preconditions(cx: &DataCx, req: &Req, current: Option<&Value>) -> Result<(), Reply> {
    let tag = current.and_then(|p| p["etag"].as_str());
    if let Some(m) = req.header("if-none-match") {
        if (m.trim() == "*" && current.is_some()) || (tag.is_some() && Some(m.trim()) == tag) {
            return Err(if m.trim() == "*" {
                error(
                    cx,
                    409,
                    "BlobAlreadyExists",
                    "The specified blob already exists.",
                    None,
                )
            } else {
                error(
                    cx,
                    412,
                    "ConditionNotMet",
                    "The condition specified using HTTP conditional header(s) is not met.",
                    None,
                )
            });
        }
    }
    if let Some(m) = req.header("if-match") {
        if m.trim() != "*" && Some(m.trim()) != tag || (m.trim() == "*" && current.is_none()) {
            return Err(error(
                cx,
                412,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
                None,
            ));
        }
    }
    Ok(())
}

fn write_blob(
    cx: &DataCx,
    req: &Req,
    addr: &Addr,
    c: &str,
    b: &str,
    content: &[u8],
) -> Result<Reply, Reply> {
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    let acct = &addr.account.key;
    let current = cx
        .store
        .read(|tx| tx.blob(acct, c, b, false))
        .map_err(|e| store_error(cx, e))?;
    preconditions(cx, req, current.as_ref().map(|r| &r.body))?;
    let mut props = new_blob_props(
        cx.now,
        None,
        content,
        content_headers(req),
        &metadata_from(req),
    );
    if let Some(md5) = req.header("x-ms-blob-content-md5") {
        props["contentMd5"] = json!(md5);
    }
    cx.store
        .write(|tx| -> Result<(), StoreError> {
            tx.clear_blocks(acct, c, b)?;
            tx.put_blob(acct, c, b, content, &props)
        })
        .map_err(|e| store_error(cx, e))?;
    Ok(Reply::empty(201)
        .header(
            "etag",
            props["etag"].as_str().unwrap_or_default().to_string(),
        )
        .header("last-modified", time_of(&props["lastModified"]))
        .header("content-md5", md5_b64(content))
        .header("x-ms-request-server-encrypted", "true"))
}

fn check_transactional_md5(cx: &DataCx, req: &Req) -> Result<(), Reply> {
    if let Some(sent) = req.header("content-md5") {
        if sent.trim() != md5_b64(&req.body) {
            return Err(error(cx, 400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value calculated by the server.", None));
        }
    }
    Ok(())
}

fn put_blob(cx: &DataCx, req: &Req, addr: &Addr, c: &str, b: &str) -> Result<Reply, Reply> {
    match req.header("x-ms-blob-type") {
        None => {
            return Err(error(
                cx,
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified.",
                None,
            )
            .header("x-ms-emulator-note", "x-ms-blob-type"))
        }
        Some(t) if !t.eq_ignore_ascii_case("BlockBlob") => {
            return Err(error(
                cx,
                400,
                "InvalidHeaderValue",
                "lighthouse-emulator stores block blobs only (x-ms-blob-type: BlockBlob).",
                None,
            ))
        }
        _ => {}
    }
    check_transactional_md5(cx, req)?;
    write_blob(cx, req, addr, c, b, &req.body)
}

fn put_block(cx: &DataCx, req: &Req, addr: &Addr, c: &str, b: &str) -> Result<Reply, Reply> {
    let Some(id) = req.query("blockid").filter(|i| !i.is_empty()) else {
        return Err(error(
            cx,
            400,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
            None,
        ));
    };
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    check_transactional_md5(cx, req)?;
    cx.store
        .write(|tx| tx.put_block(&addr.account.key, c, b, id, &req.body))
        .map_err(|e| store_error(cx, e))?;
    Ok(Reply::empty(201)
        .header("content-md5", md5_b64(&req.body))
        .header("x-ms-request-server-encrypted", "true"))
}

/// The block ids of a `<BlockList>` body, in order (`Latest`, `Uncommitted`, `Committed` alike).
fn block_ids(xml: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else { break };
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        if matches!(tag, "Latest" | "Uncommitted" | "Committed") {
            if let Some(end) = rest.find(&format!("</{tag}>")) {
                ids.push(rest[..end].trim().to_string());
                rest = &rest[end..];
            }
        }
    }
    ids
}

fn put_block_list(cx: &DataCx, req: &Req, addr: &Addr, c: &str, b: &str) -> Result<Reply, Reply> {
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    let ids = block_ids(&String::from_utf8_lossy(&req.body));
    let blocks = cx
        .store
        .read(|tx| tx.blocks(&addr.account.key, c, b))
        .map_err(|e| store_error(cx, e))?;
    let mut content = Vec::new();
    for id in &ids {
        match blocks.get(id) {
            Some(bytes) => content.extend_from_slice(bytes),
            None => {
                return Err(error(
                    cx,
                    400,
                    "InvalidBlockList",
                    "The specified block list is invalid.",
                    None,
                ))
            }
        }
    }
    write_blob(cx, req, addr, c, b, &content)
}

fn set_blob_properties(
    cx: &DataCx,
    req: &Req,
    addr: &Addr,
    c: &str,
    b: &str,
    comp: &str,
) -> Result<Reply, Reply> {
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    let acct = &addr.account.key;
    let cur = cx
        .store
        .read(|tx| tx.blob(acct, c, b, true))
        .map_err(|e| store_error(cx, e))?
        .ok_or_else(|| blob_not_found(cx))?;
    preconditions(cx, req, Some(&cur.body))?;
    let mut props = cur.body.clone();
    if comp == "metadata" {
        props["metadata"] = json!(metadata_from(req));
    } else if let (Some(p), Value::Object(h)) = (props.as_object_mut(), content_headers(req)) {
        for (k, v) in h {
            p.insert(k, v);
        }
    }
    props["etag"] = json!(etag());
    props["lastModified"] = json!(cx.now.unix_timestamp());
    let content = cur.content.unwrap_or_default();
    cx.store
        .write(|tx| tx.put_blob(acct, c, b, &content, &props))
        .map_err(|e| store_error(cx, e))?;
    Ok(Reply::empty(200)
        .header(
            "etag",
            props["etag"].as_str().unwrap_or_default().to_string(),
        )
        .header("last-modified", time_of(&props["lastModified"])))
}

/// `bytes=a-b` or `bytes=a-` (one range; anything else reads the whole blob).
fn parse_range(h: &str) -> Option<(u64, Option<u64>)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let start = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() {
        None
    } else {
        Some(b.trim().parse().ok()?)
    };
    Some((start, end))
}

fn get_blob(cx: &DataCx, req: &Req, addr: &Addr, c: &str, b: &str) -> Result<Reply, Reply> {
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    let head = req.method == "HEAD";
    let row = cx
        .store
        .read(|tx| tx.blob(&addr.account.key, c, b, !head))
        .map_err(|e| store_error(cx, e))?
        .ok_or_else(|| blob_not_found(cx))?;
    let p = &row.body;
    read_preconditions(cx, req, p)?;
    let size = p["contentLength"].as_u64().unwrap_or(0);
    let mut r = Reply::empty(200)
        .header("last-modified", time_of(&p["lastModified"]))
        .header("etag", p["etag"].as_str().unwrap_or_default().to_string())
        .header(
            "content-type",
            p["contentType"]
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_string(),
        )
        .header("accept-ranges", "bytes")
        .header("x-ms-blob-type", "BlockBlob")
        .header("x-ms-creation-time", time_of(&p["creationTime"]))
        .header("x-ms-lease-status", "unlocked")
        .header("x-ms-lease-state", "available")
        .header("x-ms-server-encrypted", "true");
    for (key, hdr) in [
        ("contentEncoding", "content-encoding"),
        ("contentLanguage", "content-language"),
        ("cacheControl", "cache-control"),
        ("contentDisposition", "content-disposition"),
    ] {
        if let Some(v) = p[key].as_str() {
            r = r.header(hdr, v.to_string());
        }
    }
    r = with_metadata(r, p);
    if head || req.query("comp") == Some("metadata") {
        r = r
            .header("x-ms-access-tier", "Hot")
            .header("x-ms-access-tier-inferred", "true")
            .header("content-length", size.to_string());
        if let Some(md5) = p["contentMd5"].as_str() {
            r = r.header("content-md5", md5.to_string());
        }
        return Ok(r);
    }
    let content = row.content.unwrap_or_default();
    let range = req
        .header("x-ms-range")
        .or_else(|| req.header("range"))
        .and_then(parse_range);
    match range {
        Some((start, end)) => {
            if start >= size {
                return Err(error(
                    cx,
                    416,
                    "InvalidRange",
                    "The range specified is invalid for the current size of the resource.",
                    None,
                )
                .header("content-range", format!("bytes */{size}")));
            }
            let last = end.unwrap_or(size - 1).min(size - 1);
            if last < start {
                return Err(error(
                    cx,
                    416,
                    "InvalidRange",
                    "The range specified is invalid for the current size of the resource.",
                    None,
                )
                .header("content-range", format!("bytes */{size}")));
            }
            let part = content[start as usize..=last as usize].to_vec();
            r.status = 206;
            r = r.header("content-range", format!("bytes {start}-{last}/{size}"));
            if req.header("x-ms-range-get-content-md5") == Some("true") {
                r = r.header("content-md5", md5_b64(&part));
            } else if let Some(md5) = p["contentMd5"].as_str() {
                r = r.header("x-ms-blob-content-md5", md5.to_string());
            }
            r.body = part;
        }
        None => {
            if let Some(md5) = p["contentMd5"].as_str() {
                r = r.header("content-md5", md5.to_string());
            }
            r.body = content;
        }
    }
    Ok(r)
}

fn delete_blob(cx: &DataCx, req: &Req, addr: &Addr, c: &str, b: &str) -> Result<Reply, Reply> {
    container(cx, addr, c)?.ok_or_else(|| container_not_found(cx))?;
    // the conditions are checked against the blob in the same transaction that deletes it
    let outcome = cx
        .store
        .write(|tx| -> Result<Result<(), Reply>, StoreError> {
            let Some(cur) = tx.blob(&addr.account.key, c, b, false)? else {
                return Ok(Err(blob_not_found(cx)));
            };
            if let Err(r) = preconditions(cx, req, Some(&cur.body)) {
                return Ok(Err(r));
            }
            tx.delete_blob(&addr.account.key, c, b)?;
            Ok(Ok(()))
        })
        .map_err(|e| store_error(cx, e))?;
    outcome?;
    Ok(Reply::empty(202).header("x-ms-delete-type-permanent", "true"))
}

/// If-Match / If-None-Match on a read: a stale If-Match is 412 ConditionNotMet; an If-None-Match the blob
/// matches is 304 Not Modified (Storage's "Specifying conditional headers for Blob service operations").
fn read_preconditions(cx: &DataCx, req: &Req, current: &Value) -> Result<(), Reply> {
    let tag = current["etag"].as_str().unwrap_or_default();
    if let Some(m) = req.header("if-match") {
        if m.trim() != "*" && m.split(',').all(|t| t.trim() != tag) {
            return Err(error(
                cx,
                412,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
                None,
            ));
        }
    }
    if let Some(m) = req.header("if-none-match") {
        if m.trim() == "*" || m.split(',').any(|t| t.trim() == tag) {
            return Err(Reply::empty(304)
                .header("etag", tag.to_string())
                .header("x-ms-error-code", "ConditionNotMet"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_block_lists_parse() {
        assert_eq!(parse_range("bytes=0-33554431"), Some((0, Some(33554431))));
        assert_eq!(parse_range("bytes=5-"), Some((5, None)));
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(
            block_ids("<?xml version='1.0'?><BlockList><Latest>QUE=</Latest><Uncommitted>QUI=</Uncommitted></BlockList>"),
            vec!["QUE=".to_string(), "QUI=".to_string()]
        );
        assert_eq!(md5_b64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}

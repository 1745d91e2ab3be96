//! ARM's conditional requests: `If-Match` / `If-None-Match` on a write checked against the stored
//! etag before the handler runs (the Azure REST API guidelines' ETag table). Reads the store, writes
//! nothing.

use serde_json::Value;

use super::Cx;
use crate::arm::error::ArmError;
use crate::store::Store;

/// ARM's conditional requests (the Azure REST API guidelines' ETag table): on a PUT, PATCH or DELETE of
/// a resource or resource group, `If-Match: *` needs the resource to exist and `If-Match: "etag"` its
/// current etag; `If-None-Match: *` needs it not to exist (create only) and `If-None-Match: "etag"`
/// another etag. Otherwise 412 PreconditionFailed, and nothing is written. The caller holds the
/// pipeline's conditional-write gate, so no write slips between this check and the handler's.
pub fn check(cx: &Cx, store: &Store) -> Result<(), ArmError> {
    let if_match = cx.req.header("if-match").map(str::trim);
    let if_none = cx.req.header("if-none-match").map(str::trim);
    if if_match.is_none() && if_none.is_none() {
        return Ok(());
    }
    if !matches!(cx.req.method.as_str(), "PUT" | "PATCH" | "DELETE") {
        return Ok(());
    }
    let current = store.get(&cx.id.key())?;
    let etag = current.as_ref().and_then(|c| {
        c.row
            .body
            .get("etag")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    // weak comparison: `W/"x"` and `"x"` name the same version
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    let listed = |h: &str, e: &str| h.split(',').any(|t| bare(t) == bare(e));
    let failed = match (if_match, if_none) {
        (Some("*"), _) if current.is_none() => true,
        (Some(h), _) if h != "*" => etag.as_deref().is_none_or(|e| !listed(h, e)),
        (_, Some("*")) => current.is_some(),
        (_, Some(h)) => etag.as_deref().is_some_and(|e| listed(h, e)),
        _ => false,
    };
    if failed {
        return Err(ArmError::new(
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )
        .with_status(412));
    }
    Ok(())
}

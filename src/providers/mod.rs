//! Resource providers: one module per provider the emulator models, each a set of handlers named
//! after the spec's operationIds that take a request context and the store and return a `Reply` or an
//! `ArmError`. Providers never see hyper, TLS or token bytes, and share state only through the store.

pub mod alertrules;
pub mod alertsmanagement;
pub mod authorization;
pub mod catalog;
pub mod children;
pub mod compute;
pub mod create_statuses;
pub mod datacollection;
pub mod denyassignments;
pub mod deployments;
pub mod insights;
pub mod lifecycle;
pub mod locks;
pub mod loganalytics;
pub mod managedservices;
pub mod managementgroups;
pub mod metadata;
pub mod naming;
pub mod network;
pub mod pim;
pub mod policy;
pub mod policyinsights;
pub mod preconditions;
pub mod providertypes;
pub mod resourcegraph;
pub mod resourcegraph_scope;
pub mod resources;
pub mod subscriptions;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::arm::route::Route;
use crate::clock::arm_time;
use crate::facts::Snapshot;
use crate::store::{Store, StoreError, Stored};
use crate::wire::{Reply, Req};

impl From<StoreError> for ArmError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ArmError::internal()
    }
}

/// The field of a stored operation record naming who started it (never returned to clients).
pub const OPERATION_OWNER: &str = "_startedBy";

/// The stored operation `op` if `caller` may poll it: the caller who started it, or anyone with standing
/// on its subscription (dispatch has already checked that standing unless the caller started it).
pub fn operation_for(
    store: &Store,
    op: &str,
    caller: &Caller,
    standing_checked: bool,
) -> Result<Option<Value>, ArmError> {
    let Some(mut body) = store.read(|tx| tx.operation(op))? else {
        return Ok(None);
    };
    let started_by_caller = body[OPERATION_OWNER]
        .as_str()
        .is_some_and(|o| o.eq_ignore_ascii_case(&caller.object_id));
    if !started_by_caller && !standing_checked {
        return Ok(None);
    }
    if let Some(o) = body.as_object_mut() {
        o.remove(OPERATION_OWNER);
    }
    Ok(Some(body))
}

/// The authenticated caller of a request (or the platform replaying the world).
#[derive(Debug, Clone)]
pub struct Caller {
    pub object_id: String,
    pub tenant_id: String,
    /// Lower-cased object ids of the caller's groups.
    pub groups: Vec<String>,
    /// UPN for users, app id for service principals (ARM's "client" in messages).
    pub client_name: String,
    /// `User`, `Application` or `ManagedIdentity` (systemData's createdByType).
    pub identity_type: &'static str,
    /// The token's claims, for the activity log (decoded when a record is written).
    pub claims: crate::auth::token::Claims,
    /// The platform itself (world replay, managed applications): no checks, no activity.
    pub platform: bool,
}

impl Caller {
    pub fn platform() -> Caller {
        Caller {
            object_id: "00000000-0000-0000-0000-000000000000".into(),
            tenant_id: String::new(),
            groups: Vec::new(),
            client_name: "Microsoft.Azure.ResourceManager".into(),
            identity_type: "Application",
            claims: crate::auth::token::Claims::None,
            platform: true,
        }
    }
}

/// The request context every handler receives.
pub struct Cx<'a> {
    pub req: &'a Req,
    pub id: &'a ResourceId,
    pub route: &'a Route,
    pub api_version: &'a str,
    pub caller: &'a Caller,
    pub snap: &'a Snapshot,
    pub now: OffsetDateTime,
    /// `https://localhost:8443` — what the client used to reach us.
    pub base_url: &'a str,
    /// The parsed JSON body of PUT/PATCH/POST, when one was sent.
    pub body: Option<&'a Value>,
    /// A fresh GUID for this request (operation ids, new names).
    pub new_id: &'a str,
    /// Settings the providers read.
    pub max_authorizations: usize,
    /// Run another ARM request (method, path with query, JSON body) through the whole pipeline as the
    /// same caller: how template deployments create their resources.
    pub subrequest: &'a dyn Fn(&str, &str, Option<&Value>) -> Reply,
    /// Whether the caller may read the item with this id: lists of groups and resources show only
    /// those when the caller has no read right on the whole list's scope (ARM filters such lists).
    pub may_read: &'a dyn Fn(&str) -> bool,
    /// Azure Policy's verdict on a PUT of this body at this id, without writing: the
    /// RequestDisallowedByPolicy error when an assignment in force denies it (validate and what-if).
    pub policy_check: &'a dyn Fn(&str, &Value) -> Option<ArmError>,
}

impl Cx<'_> {
    /// The request's subscription id, lower-cased (empty at tenant scope).
    pub fn sub_key(&self) -> String {
        self.id
            .subscription
            .as_deref()
            .unwrap_or_default()
            .to_lowercase()
    }

    pub fn now_str(&self) -> String {
        arm_time(self.now)
    }

    /// The body as a JSON object, or InvalidRequestContent.
    pub fn object_body(&self) -> Result<&serde_json::Map<String, Value>, ArmError> {
        match self.body {
            Some(Value::Object(m)) => Ok(m),
            Some(_) => Err(ArmError::invalid_request_content(
                "The request body must be a JSON object.",
            )),
            None => Err(ArmError::invalid_request_content(
                "The request content is empty.",
            )),
        }
    }

    pub fn system_data(&self, created: Option<&Value>) -> Value {
        let now = self.now_str();
        let by = self.caller.client_name.clone();
        let by_type = self.caller.identity_type;
        match created {
            Some(c) if c.is_object() => json!({
                "createdBy": c["createdBy"], "createdByType": c["createdByType"], "createdAt": c["createdAt"],
                "lastModifiedBy": by, "lastModifiedByType": by_type, "lastModifiedAt": now,
            }),
            _ => json!({
                "createdBy": by, "createdByType": by_type, "createdAt": now,
                "lastModifiedBy": by, "lastModifiedByType": by_type, "lastModifiedAt": now,
            }),
        }
    }

    /// Record a finished long-running operation and return its `Azure-AsyncOperation` URL.
    pub fn async_operation(
        &self,
        store: &Store,
        status: &str,
        error: Option<&ArmError>,
    ) -> Result<String, ArmError> {
        let ns = self
            .id
            .namespace()
            .unwrap_or("Microsoft.Resources")
            .to_string();
        let path = match self.id.subscription.as_deref() {
            Some(s) if !s.is_empty() => format!(
                "/subscriptions/{s}/providers/{ns}/operationStatuses/{}",
                self.new_id
            ),
            _ => format!("/providers/{ns}/operationStatuses/{}", self.new_id),
        };
        let mut body = json!({
            "id": path, "name": self.new_id, "status": status,
            "startTime": self.now_str(), "endTime": self.now_str(), "percentComplete": 100.0,
        });
        if let Some(e) = error {
            body["error"] = json!({"code": e.code, "message": e.message});
        }
        body[OPERATION_OWNER] = json!(self.caller.object_id);
        store.write(|tx| tx.put_operation(self.new_id, &body))?;
        Ok(format!(
            "{}{path}?api-version={}",
            self.base_url, self.api_version
        ))
    }

    /// Record a finished long-running operation and return its `Location` URL.
    pub fn location_operation(&self, store: &Store) -> Result<String, ArmError> {
        let sub = self.id.subscription.clone().unwrap_or_default();
        let path = format!("/subscriptions/{sub}/operationresults/{}", self.new_id);
        let body = json!({"id": path, "name": self.new_id, "status": "Succeeded", "startTime": self.now_str(),
                          "endTime": self.now_str(), OPERATION_OWNER: self.caller.object_id});
        store.write(|tx| tx.put_operation(self.new_id, &body))?;
        Ok(format!(
            "{}{path}?api-version={}",
            self.base_url, self.api_version
        ))
    }
}

/// What a resource provider adds to a resource it stores, beyond what ARM adds to every resource
/// (ids, provisioningState, etag, systemData): Compute's vmId and OS disk, Network's addresses.
/// The one place the generic PUT path reaches a provider's own completion.
pub fn complete_resource(
    cx: &Cx,
    store: &Store,
    body: &mut Value,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    let Value::Object(b) = body else {
        return Ok(());
    };
    let t = cx.id.full_type().unwrap_or_default().to_ascii_lowercase();
    match t.as_str() {
        "microsoft.compute/virtualmachines" => {
            compute::complete_virtual_machine(cx, b, existing);
            compute::create_os_disk(cx, store, b)?;
        }
        "microsoft.compute/virtualmachines/extensions" => {
            compute::complete_virtual_machine_extension(b)
        }
        "microsoft.network/networkinterfaces" => {
            network::complete_network_interface(cx, store, b, existing)
        }
        "microsoft.network/publicipaddresses" => {
            network::complete_public_ip_address(cx, b, existing)
        }
        "microsoft.network/virtualnetworks" => network::complete_virtual_network(cx, b),
        "microsoft.operationalinsights/workspaces" => {
            loganalytics::complete_workspace(cx, store, b, existing)?
        }
        "microsoft.insights/diagnosticsettings" => loganalytics::check_diagnostic_setting(b)?,
        datacollection::RULE_TYPE => datacollection::complete_rule(cx, store, b, existing)?,
        datacollection::ENDPOINT_TYPE => datacollection::complete_endpoint(cx, b, existing),
        "microsoft.insights/actiongroups" => alertrules::complete_action_group(b)?,
        "microsoft.insights/activitylogalerts" => {
            alertrules::complete_activity_log_alert(store, b)?
        }
        "microsoft.insights/scheduledqueryrules" => {
            alertrules::complete_scheduled_query_rule(cx, store, b, existing)?
        }
        _ => {}
    }
    Ok(())
}

/// What a provider keeps of the rows a DELETE removed, in the same transaction (a workspace stays
/// soft-deleted, listed under `deletedWorkspaces`, for Azure's 14 days).
pub fn after_delete(cx: &Cx, tx: &crate::store::Tx, gone: &[Stored]) -> Result<(), StoreError> {
    alertrules::after_delete(tx, gone)?;
    for row in gone {
        if row.rtype == "microsoft.operationalinsights/workspaces" {
            loganalytics::soft_delete_workspace(cx, tx, row)?;
        }
    }
    Ok(())
}

/// A provider's own answer to `POST {resource}/{verb}` on a stored resource of type `rtype`, if it
/// has one (the generic path answers the others).
pub fn resource_action(
    cx: &Cx,
    store: &Store,
    rtype: &str,
    verb: &str,
) -> Option<Result<Reply, ArmError>> {
    match (rtype, verb.to_ascii_lowercase().as_str()) {
        ("microsoft.insights/actiongroups", "createnotifications") => {
            Some(alertrules::create_notifications(cx, store))
        }
        ("microsoft.operationalinsights/workspaces", "sharedkeys" | "regeneratesharedkey") => {
            Some(Err(loganalytics::workspace_shared_keys(cx)))
        }
        _ => None,
    }
}

/// Build the store row for `id` with `body`.
pub fn stored_row(id: &ResourceId, rtype: &str, body: Value) -> Stored {
    let parent = id.parent().map(|p| p.key()).unwrap_or_else(|| "/".into());
    // The parent of an extension resource's first pair is the scope it extends.
    let parent = if id.last().map(|p| p.types.len()) == Some(1) {
        id.scope_of_last_part().key()
    } else {
        parent
    };
    Stored {
        key: id.key(),
        rtype: rtype.to_ascii_lowercase(),
        sub: id.subscription.clone().unwrap_or_default().to_lowercase(),
        rg: id.resource_group.clone().unwrap_or_default().to_lowercase(),
        parent,
        body,
    }
}

/// GET of the stored resource at the request's id, or `missing()` when there is none.
pub fn get_stored(
    cx: &Cx,
    store: &Store,
    missing: impl FnOnce() -> ArmError,
) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    store
        .get(&key)?
        .map(|r| Reply::json_bytes(200, r.json().to_vec()))
        .ok_or_else(missing)
}

/// HEAD of the request's id: 204 when it exists, 404 otherwise.
pub fn check_existence(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    if let Some(e) = children::embedded(cx.id) {
        let there = children::exists(store, &e, cx.id.name().unwrap_or_default())?;
        return Ok(Reply::empty(if there { 204 } else { 404 }));
    }
    let key = cx.id.key();
    Ok(Reply::empty(if store.get(&key)?.is_some() {
        204
    } else {
        404
    }))
}

/// The 404 of an extension resource type ARM names in its own words (`LockNotFound`, …).
pub fn named_not_found(cx: &Cx, code: &str, what: &str) -> ArmError {
    ArmError::new(
        code,
        format!(
            "The {what} '{}' could not be found.",
            cx.id.name().unwrap_or_default()
        ),
    )
    .with_status(404)
}

/// This request's URL with `$skiptoken` set to `skip`: the `nextLink` of a page.
pub fn next_link(cx: &Cx, skip: usize) -> String {
    let mut q: Vec<(String, String)> = cx
        .req
        .query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
        .cloned()
        .collect();
    q.push(("$skiptoken".into(), skip.to_string()));
    let qs = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q)
        .finish();
    format!("{}{}?{}", cx.base_url, cx.req.path, qs)
}

/// `{"value": [...], "nextLink": null}` — or paged with `$top` / `$skiptoken`.
pub fn list_reply(cx: &Cx, items: Vec<Value>) -> Reply {
    let top = cx
        .req
        .query("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|t| *t > 0);
    let skip = cx
        .req
        .query("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    match top {
        Some(top) if skip + top < items.len() => {
            let page: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
            Reply::json(
                200,
                &json!({"value": page, "nextLink": next_link(cx, skip + top)}),
            )
        }
        _ => Reply::json(
            200,
            &json!({"value": items.into_iter().skip(skip).collect::<Vec<_>>()}),
        ),
    }
}

/// Parse a simple OData filter `a eq 'x' and b eq 'y'` into (name, value) pairs; `None` if the
/// filter uses anything else.
pub fn parse_eq_filter(f: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for clause in split_and(f) {
        let clause = clause.trim();
        let (name, rest) = clause.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix("eq ")
            .or_else(|| rest.strip_prefix("EQ "))
            .or_else(|| rest.strip_prefix("Eq "))?;
        let v = rest.trim();
        let v = v.strip_prefix('\'')?.strip_suffix('\'')?;
        out.push((name.to_string(), v.replace("''", "'")));
    }
    Some(out)
}

/// Split on ` and ` outside quotes.
pub fn split_and(f: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_q = !in_q;
        }
        if !in_q && i + 5 <= chars.len() {
            let w: String = chars[i..i + 5].iter().collect();
            if w.eq_ignore_ascii_case(" and ") {
                parts.push(std::mem::take(&mut cur));
                i += 5;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_filters() {
        assert_eq!(
            parse_eq_filter("tagName eq 'env' and tagValue eq 'it''s'"),
            Some(vec![
                ("tagName".into(), "env".into()),
                ("tagValue".into(), "it's".into())
            ])
        );
        assert_eq!(parse_eq_filter("name gt 'x'"), None);
        assert_eq!(split_and("a eq 'x and y' and b eq 'z'").len(), 2);
    }
}

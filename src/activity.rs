//! The activity log's writer: turns one finished ARM write, delete or action (allowed or refused) into
//! the EventData records Azure keeps in the customer subscription's log (BeginRequest + EndRequest),
//! naming the caller, object id and home tenant from the token's claims, plus the tenant-level
//! delegation event (register/unregister) the managing tenant reads. Shapes follow ARM-FACTS.md §8.2
//! and §8.4; `events` and `delegation_event` are pure (ids and time passed in). Never touches HTTP.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::authz::Grant;
use crate::clock::arm_time;
use crate::providers::Caller;
use crate::store::{Store, StoreError};

/// What dispatch knows about a finished request.
pub struct Record<'a> {
    pub caller: &'a Caller,
    pub method: &'a str,
    /// The RBAC action (the event's operationName).
    pub action: &'a str,
    /// Canonical id of the target resource or scope.
    pub resource_id: &'a str,
    /// Lower-cased subscription id.
    pub subscription_id: &'a str,
    /// The subscription's (customer's) tenant.
    pub subscription_tenant: &'a str,
    pub resource_group: Option<&'a str>,
    pub status: u16,
    /// The ARM error body when the request failed.
    pub error: Option<&'a Value>,
    pub correlation_id: &'a str,
    pub client_request_id: Option<&'a str>,
    /// The grant that allowed the request (role assignment or delegation), if any.
    pub grant: Option<&'a Grant>,
    pub now: OffsetDateTime,
    /// The request URI as the client sent it.
    pub uri: &'a str,
    /// For a PUT or DELETE of a registration assignment: the managing tenant of its definition, read
    /// by dispatch *before* the request ran (`delegation_tenant`), since a DELETE leaves nothing behind.
    pub managed_by_tenant: Option<&'a str>,
}

const DELEGATION_SEGMENT: &str = "/providers/microsoft.managedservices/registrationassignments/";
const REGISTER: &str = "Microsoft.Resources/tenants/register/action";
const UNREGISTER: &str = "Microsoft.Resources/tenants/unregister/action";

/// The store key of a tenant's tenant-level log. The activity table's `sub` column holds subscription
/// GUIDs; a `/tenants/{tid}` key can never collide with one.
pub fn tenant_log_key(tenant_id: &str) -> String {
    format!("/tenants/{}", tenant_id.to_lowercase())
}

/// Append the events of `r` to the store: Begin + End into the subscription's log and, for a successful
/// PUT/DELETE of a registration assignment, the register/unregister event into the managing tenant's
/// tenant-level log. The platform (world replay) leaves no trace.
pub fn record(store: &Store, r: &Record) -> Result<(), StoreError> {
    if r.caller.platform {
        return Ok(());
    }
    let id = || uuid::Uuid::new_v4().to_string();
    let [begin, end] = events(r, &id(), &id(), &id());
    let tenant_event = delegation_event(r, &id(), &id());
    let ts = arm_time(r.now);
    store.write(|tx| {
        tx.append_activity(r.subscription_id, &ts, r.correlation_id, &begin)?;
        tx.append_activity(r.subscription_id, &ts, r.correlation_id, &end)?;
        // subscription diagnostic settings stream both into Log Analytics (AzureActivity)
        crate::logs::stream_activity(tx, r.subscription_id, &[&begin, &end])?;
        // activity-log alert rules of the subscription see each record as it is written
        crate::monitor::on_activity(tx, r.subscription_id, &[&begin, &end], r.now)?;
        if let Some((tenant, event)) = &tenant_event {
            tx.append_activity(&tenant_log_key(tenant), &ts, r.correlation_id, event)?;
        }
        Ok(())
    })
}

/// The managing tenant a PUT or DELETE of a registration assignment concerns, read from the store
/// before the request runs: for a PUT from the body's `registrationDefinitionId` (or the stored
/// assignment), for a DELETE from the stored assignment; then the definition's `managedByTenantId`.
/// `None` for every other request (a read costs no key).
pub fn delegation_tenant(
    store: &Store,
    method: &str,
    id: &crate::arm::resource_id::ResourceId,
    body: &[u8],
) -> Option<String> {
    if !matches!(method, "PUT" | "DELETE") {
        return None;
    }
    let key = id.key();
    let key = key.as_str();
    if !key.contains(DELEGATION_SEGMENT) {
        return None;
    }
    let from_body = (method == "PUT")
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten()
        .and_then(|b| {
            b["properties"]["registrationDefinitionId"]
                .as_str()
                .map(str::to_lowercase)
        });
    store
        .read(|tx| -> Result<Option<String>, StoreError> {
            let def_id = match from_body {
                Some(d) => Some(d),
                None => tx.get(key)?.and_then(|a| {
                    a.body["properties"]["registrationDefinitionId"]
                        .as_str()
                        .map(str::to_lowercase)
                }),
            };
            let Some(def_id) = def_id else {
                return Ok(None);
            };
            Ok(tx.get(&def_id)?.and_then(|d| {
                d.body["properties"]["managedByTenantId"]
                    .as_str()
                    .map(str::to_lowercase)
            }))
        })
        .ok()
        .flatten()
}

/// .NET ticks (100 ns since 0001-01-01) of `t`, as the event id's `/ticks/{n}` carries them.
pub fn ticks(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 100 + 621_355_968_000_000_000
}

/// The BeginRequest and EndRequest events of `r` (ARM-FACTS §8.2).
pub fn events(r: &Record, begin_id: &str, end_id: &str, operation_id: &str) -> [Value; 2] {
    let ok = (200..300).contains(&r.status);
    let begin = event(r, begin_id, operation_id, None);
    let end = event(r, end_id, operation_id, Some(ok));
    [begin, end]
}

/// One event; `end` is `None` for BeginRequest, `Some(succeeded)` for EndRequest.
fn event(r: &Record, event_id: &str, operation_id: &str, end: Option<bool>) -> Value {
    let ts = arm_time(r.now);
    let (provider, rtype) = provider_and_type(r.action);
    let mut authorization = json!({"action": r.action, "scope": r.resource_id});
    if let Some(e) = evidence(r) {
        authorization["evidence"] = e;
    }
    let mut properties = Map::new();
    if end.is_some() {
        properties.insert("statusCode".into(), json!(status_name(r.status)));
        let service_request = if r.error.is_some() {
            Value::Null
        } else {
            json!(operation_id)
        };
        properties.insert("serviceRequestId".into(), service_request);
        if let Some(err) = r.error {
            properties.insert(
                "statusMessage".into(),
                json!(serde_json::to_string(err).unwrap_or_default()),
            );
        }
    }
    properties.insert("eventCategory".into(), json!("Administrative"));
    properties.insert("entity".into(), json!(r.resource_id));
    properties.insert("message".into(), json!(r.action));
    // a write at a management group is logged in the tenant-level log: no subscription to name
    let sub_shown = if r.subscription_id.starts_with("/tenants/") {
        ""
    } else {
        r.subscription_id
    };
    let hierarchy = if sub_shown.is_empty() {
        r.subscription_tenant.to_lowercase()
    } else {
        format!("{}/{sub_shown}", r.subscription_tenant.to_lowercase())
    };
    properties.insert("hierarchy".into(), json!(hierarchy));
    let (event_name, status, level, sub_status) = match end {
        None => (
            ("BeginRequest", "Begin request"),
            "Started",
            "Informational",
            json!({"value": "", "localizedValue": ""}),
        ),
        Some(ok) => (
            ("EndRequest", "End request"),
            if ok { "Succeeded" } else { "Failed" },
            if ok { "Informational" } else { "Error" },
            json!({
                "value": status_name(r.status),
                "localizedValue": format!("{} (HTTP Status Code: {})", status_text(r.status), r.status),
            }),
        ),
    };
    json!({
        "authorization": authorization,
        "caller": r.caller.client_name,
        "channels": "Operation",
        "claims": flatten_claims(&r.caller.claims.to_value()),
        "correlationId": r.correlation_id,
        "description": "",
        "eventDataId": event_id,
        "eventName": {"value": event_name.0, "localizedValue": event_name.1},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "httpRequest": http_request(r),
        "id": format!("{}/events/{event_id}/ticks/{}", r.resource_id, ticks(r.now)),
        "level": level,
        "resourceGroupName": r.resource_group.unwrap_or_default(),
        "resourceProviderName": {"value": provider, "localizedValue": provider},
        "resourceId": r.resource_id,
        "resourceType": {"value": rtype, "localizedValue": rtype},
        "operationId": operation_id,
        "operationName": {"value": r.action, "localizedValue": operation_text(r.action)},
        "properties": properties,
        "status": {"value": status, "localizedValue": status},
        "subStatus": sub_status,
        "eventTimestamp": ts,
        "submissionTimestamp": ts,
        "subscriptionId": sub_shown,
        "tenantId": r.subscription_tenant.to_lowercase(),
    })
}

fn http_request(r: &Record) -> Value {
    json!({
        "clientRequestId": r.client_request_id.unwrap_or_default(),
        "clientIpAddress": "127.0.0.1",
        "method": r.method,
        "uri": r.uri,
    })
}

/// The tenant-level event of a successful PUT (register) or DELETE (unregister) of a registration
/// assignment, with the managing tenant whose log it belongs in (ARM-FACTS §8.4).
pub fn delegation_event(r: &Record, event_id: &str, operation_id: &str) -> Option<(String, Value)> {
    let tenant = r.managed_by_tenant?.to_lowercase();
    let lower = r.resource_id.to_ascii_lowercase();
    if !(200..300).contains(&r.status) || !lower.contains(DELEGATION_SEGMENT) {
        return None;
    }
    let (action, text) = match r.method {
        "PUT" => (REGISTER, "Register tenant"),
        "DELETE" => (UNREGISTER, "Unregister tenant"),
        _ => return None,
    };
    let mut description = Map::new();
    description.insert("delegationResourceId".into(), json!(r.resource_id));
    description.insert(
        "subscriptionTenantId".into(),
        json!(r.subscription_tenant.to_lowercase()),
    );
    description.insert("subscriptionId".into(), json!(r.subscription_id));
    if let Some(rg) = r.resource_group {
        description.insert("resourceGroupName".into(), json!(rg));
    }
    let ts = arm_time(r.now);
    let event = json!({
        "authorization": {"action": action, "scope": "/"},
        "caller": r.caller.client_name,
        "channels": "Operation",
        "claims": flatten_claims(&r.caller.claims.to_value()),
        "correlationId": r.correlation_id,
        "description": Value::Object(description).to_string(),
        "eventDataId": event_id,
        "eventName": {"value": "EndRequest", "localizedValue": "End request"},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "httpRequest": http_request(r),
        "id": format!("/events/{event_id}/ticks/{}", ticks(r.now)),
        "level": "Informational",
        "resourceGroupName": "",
        "resourceProviderName": {"value": "Microsoft.Resources", "localizedValue": "Microsoft.Resources"},
        "resourceId": "/",
        "resourceType": {"value": "Microsoft.Resources/tenants", "localizedValue": "Microsoft.Resources/tenants"},
        "operationId": operation_id,
        "operationName": {"value": action, "localizedValue": text},
        "properties": {
            "statusCode": status_name(r.status),
            "eventCategory": "Administrative",
            "entity": "/",
            "message": action,
            "hierarchy": tenant,
        },
        "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
        "subStatus": {
            "value": status_name(r.status),
            "localizedValue": format!("{} (HTTP Status Code: {})", status_text(r.status), r.status),
        },
        "eventTimestamp": ts,
        "submissionTimestamp": ts,
        "subscriptionId": "",
        "tenantId": tenant,
    });
    Some((tenant, event))
}

/// `authorization.evidence` from the grant that allowed the request: for a delegation the scope is
/// the registration assignment's and the assignment id its GUID (Azure's internal id is not public).
fn evidence(r: &Record) -> Option<Value> {
    let g = r.grant?;
    let (scope, guid) = split_assignment_id(&g.id, &g.scope);
    let principal_type = if g.principal_id.eq_ignore_ascii_case(&r.caller.object_id) {
        if r.caller.identity_type == "User" {
            "User"
        } else {
            "ServicePrincipal"
        }
    } else {
        "Group"
    };
    Some(json!({
        "role": g.role.role_name,
        "roleAssignmentScope": scope,
        "roleAssignmentId": hex32(&guid),
        "roleDefinitionId": hex32(&g.role.id),
        "principalId": hex32(&g.principal_id),
        "principalType": principal_type,
    }))
}

/// `{scope}/providers/{ns}/{type}/{guid}` → (scope, guid); `/` for a tenant-root scope.
fn split_assignment_id(id: &str, fallback_scope: &str) -> (String, String) {
    let guid = id.rsplit('/').next().unwrap_or_default().to_string();
    let scope = match id.to_ascii_lowercase().rfind("/providers/") {
        Some(i) if i > 0 => id[..i].to_string(),
        Some(_) => "/".to_string(),
        None => fallback_scope.to_string(),
    };
    (scope, guid)
}

/// A GUID as 32 lower-case hex digits without dashes, as evidence ids are written.
fn hex32(guid: &str) -> String {
    guid.chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `Microsoft.Compute/virtualMachines/start/action` → (`Microsoft.Compute`, `Microsoft.Compute/virtualMachines`).
fn provider_and_type(action: &str) -> (String, String) {
    let parts: Vec<&str> = action.split('/').collect();
    let provider = parts.first().copied().unwrap_or_default().to_string();
    let drop = if parts
        .last()
        .is_some_and(|p| p.eq_ignore_ascii_case("action"))
    {
        2
    } else {
        1
    };
    let keep = parts.len().saturating_sub(drop).max(1);
    (provider, parts[..keep.min(parts.len())].join("/"))
}

/// `Microsoft.Resources/subscriptions/resourceGroups/write` → `Create or Update Resource Group`.
fn operation_text(action: &str) -> String {
    // Names the resource provider publishes that the rule below does not derive. A delegation's
    // PUT is "Add Managed Services Registration Assignment" in the activity log: the Azure Lighthouse
    // sample delegation-alert-for-customer queries AzureActivity for exactly that OperationName.
    if action.eq_ignore_ascii_case("Microsoft.ManagedServices/registrationAssignments/write") {
        return "Add Managed Services Registration Assignment".into();
    }
    let parts: Vec<&str> = action.split('/').collect();
    let (verb, ty) = match parts.as_slice() {
        [.., ty, verb, last] if last.eq_ignore_ascii_case("action") => (Some(*verb), *ty),
        [.., ty, _] => (None, if parts.len() > 2 { *ty } else { parts[0] }),
        _ => return action.to_string(),
    };
    let noun = humanize(ty);
    match verb {
        Some(v) => format!("{} {noun}", capitalize(v)),
        None => match parts.last().map(|l| l.to_ascii_lowercase()).as_deref() {
            Some("write") => format!("Create or Update {noun}"),
            Some("delete") => format!("Delete {noun}"),
            _ => action.to_string(),
        },
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `resourceGroups` → `Resource Group`.
fn humanize(ty: &str) -> String {
    if ty.contains('.') {
        return ty.to_string();
    }
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in ty.chars() {
        if ch.is_uppercase() && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    if let Some(last) = words.last_mut() {
        if last.ends_with('s') && !last.ends_with("ss") {
            last.pop();
        }
    }
    words
        .iter()
        .map(|w| capitalize(w))
        .collect::<Vec<_>>()
        .join(" ")
}

pub use crate::wire::status_name;

fn status_text(status: u16) -> &'static str {
    match status_name(status) {
        "NoContent" => "No Content",
        "BadRequest" => "Bad Request",
        "NotFound" => "Not Found",
        "MethodNotAllowed" => "Method Not Allowed",
        "PreconditionFailed" => "Precondition Failed",
        "RequestEntityTooLarge" => "Request Entity Too Large",
        "UnsupportedMediaType" => "Unsupported Media Type",
        "TooManyRequests" => "Too Many Requests",
        "NotImplemented" => "Not Implemented",
        "ServiceUnavailable" => "Service Unavailable",
        "InternalServerError" => "Internal Server Error",
        other => other,
    }
}

/// The token's claims as the activity log shows them: .NET's inbound claim-type names for the mapped
/// JWT claims, every value a string (numbers written out, lists comma-joined).
pub fn flatten_claims(claims: &Value) -> Value {
    let Some(m) = claims.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, v) in m {
        let key = match k.as_str() {
            "tid" => "http://schemas.microsoft.com/identity/claims/tenantid",
            "oid" => "http://schemas.microsoft.com/identity/claims/objectidentifier",
            "upn" => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
            "scp" => "http://schemas.microsoft.com/identity/claims/scope",
            "amr" => "http://schemas.microsoft.com/claims/authnmethodsreferences",
            "acr" => "http://schemas.microsoft.com/claims/authnclassreference",
            "sub" => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
            "given_name" => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "family_name" => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "unique_name" => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            "idp" => "http://schemas.microsoft.com/identity/claims/identityprovider",
            other => other,
        };
        let value = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        out.insert(key.to_string(), json!(value));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{RoleDefinition, Via};
    use std::sync::Arc;

    const SUB: &str = "20000000-0000-0000-0000-000000002001";
    const FABRIKAM: &str = "10000000-0000-0000-0000-000000000002";
    const CONTOSO: &str = "10000000-0000-0000-0000-000000000001";

    fn alice() -> Caller {
        Caller {
            object_id: "30000000-0000-0000-0000-000000001111".into(),
            tenant_id: CONTOSO.into(),
            groups: vec!["30000000-0000-0000-0000-000000001101".into()],
            client_name: "alice@contosomsp.onmicrosoft.com".into(),
            identity_type: "User",
            claims: crate::auth::token::Claims::Built(std::sync::Arc::new(json!({
                "aud": "https://management.azure.com/", "iss": format!("https://sts.windows.net/{CONTOSO}/"),
                "iat": 1700000000, "nbf": 1700000000, "exp": 1700003600,
                "amr": ["pwd", "mfa"], "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "appidacr": "0",
                "groups": ["30000000-0000-0000-0000-000000001101"], "idtyp": "user", "name": "Alice",
                "oid": "30000000-0000-0000-0000-000000001111", "tid": CONTOSO,
                "upn": "alice@contosomsp.onmicrosoft.com", "ver": "1.0", "scp": null,
            }))),
            platform: false,
        }
    }

    fn delegated_contributor() -> Grant {
        Grant {
            id: format!("/subscriptions/{SUB}/providers/Microsoft.ManagedServices/registrationAssignments/60000000-0000-0000-0000-000000002001"),
            scope: format!("/subscriptions/{SUB}"),
            principal_id: "30000000-0000-0000-0000-000000001101".into(),
            role: Arc::new(RoleDefinition {
                id: "b24988ac-6180-42a0-ab88-20f7382dd24c".into(),
                role_name: "Contributor".into(),
                description: String::new(),
                role_type: "BuiltInRole".into(),
                permissions: vec![],
                assignable_scopes: vec![],
            }),
            via: Via::Delegation {
                registration_assignment_id: "x".into(),
                registration_definition_id: "y".into(),
                managed_by_tenant_id: CONTOSO.into(),
                eligible: false,
                assignable_roles: None,
            },
            expires_at: None,
        }
    }

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(1_714_557_600_123_456_700).unwrap()
    }

    fn record<'a>(
        caller: &'a Caller,
        grant: Option<&'a Grant>,
        status: u16,
        error: Option<&'a Value>,
    ) -> Record<'a> {
        Record {
            caller,
            method: "PUT",
            action: "Microsoft.Resources/subscriptions/resourceGroups/write",
            resource_id: "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-new",
            subscription_id: SUB,
            subscription_tenant: FABRIKAM,
            resource_group: Some("rg-new"),
            status,
            error,
            correlation_id: "c0000000-0000-0000-0000-000000000001",
            client_request_id: Some("d0000000-0000-0000-0000-000000000001"),
            grant,
            now: at(),
            uri: "https://localhost/subscriptions/20000000-0000-0000-0000-000000002001/resourcegroups/rg-new?api-version=2024-11-01",
            managed_by_tenant: None,
        }
    }

    #[test]
    fn delegated_write_begin_and_end() {
        let c = alice();
        let g = delegated_contributor();
        let [b, e] = events(&record(&c, Some(&g), 201, None), "b1", "e1", "op1");
        let rid = "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-new";
        assert_eq!(
            b,
            json!({
                "authorization": {
                    "action": "Microsoft.Resources/subscriptions/resourceGroups/write",
                    "scope": rid,
                    "evidence": {
                        "role": "Contributor",
                        "roleAssignmentScope": format!("/subscriptions/{SUB}"),
                        "roleAssignmentId": "60000000000000000000000000002001",
                        "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                        "principalId": "30000000000000000000000000001101",
                        "principalType": "Group",
                    },
                },
                "caller": "alice@contosomsp.onmicrosoft.com",
                "channels": "Operation",
                "claims": {
                    "aud": "https://management.azure.com/",
                    "iss": format!("https://sts.windows.net/{CONTOSO}/"),
                    "iat": "1700000000", "nbf": "1700000000", "exp": "1700003600",
                    "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
                    "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "appidacr": "0",
                    "groups": "30000000-0000-0000-0000-000000001101", "idtyp": "user", "name": "Alice",
                    "http://schemas.microsoft.com/identity/claims/objectidentifier": "30000000-0000-0000-0000-000000001111",
                    "http://schemas.microsoft.com/identity/claims/tenantid": CONTOSO,
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice@contosomsp.onmicrosoft.com",
                    "ver": "1.0",
                },
                "correlationId": "c0000000-0000-0000-0000-000000000001",
                "description": "",
                "eventDataId": "b1",
                "eventName": {"value": "BeginRequest", "localizedValue": "Begin request"},
                "category": {"value": "Administrative", "localizedValue": "Administrative"},
                "httpRequest": {
                    "clientRequestId": "d0000000-0000-0000-0000-000000000001",
                    "clientIpAddress": "127.0.0.1",
                    "method": "PUT",
                    "uri": "https://localhost/subscriptions/20000000-0000-0000-0000-000000002001/resourcegroups/rg-new?api-version=2024-11-01",
                },
                "id": format!("{rid}/events/b1/ticks/638501544001234567"),
                "level": "Informational",
                "resourceGroupName": "rg-new",
                "resourceProviderName": {"value": "Microsoft.Resources", "localizedValue": "Microsoft.Resources"},
                "resourceId": rid,
                "resourceType": {"value": "Microsoft.Resources/subscriptions/resourceGroups", "localizedValue": "Microsoft.Resources/subscriptions/resourceGroups"},
                "operationId": "op1",
                "operationName": {"value": "Microsoft.Resources/subscriptions/resourceGroups/write", "localizedValue": "Create or Update Resource Group"},
                "properties": {
                    "eventCategory": "Administrative",
                    "entity": rid,
                    "message": "Microsoft.Resources/subscriptions/resourceGroups/write",
                    "hierarchy": format!("{FABRIKAM}/{SUB}"),
                },
                "status": {"value": "Started", "localizedValue": "Started"},
                "subStatus": {"value": "", "localizedValue": ""},
                "eventTimestamp": "2024-05-01T10:00:00.1234567Z",
                "submissionTimestamp": "2024-05-01T10:00:00.1234567Z",
                "subscriptionId": SUB,
                "tenantId": FABRIKAM,
            })
        );
        assert_eq!(e["eventName"]["value"], "EndRequest");
        assert_eq!(e["operationId"], "op1");
        assert_eq!(
            e["status"],
            json!({"value": "Succeeded", "localizedValue": "Succeeded"})
        );
        assert_eq!(
            e["subStatus"],
            json!({"value": "Created", "localizedValue": "Created (HTTP Status Code: 201)"})
        );
        assert_eq!(
            e["properties"],
            json!({
                "statusCode": "Created", "serviceRequestId": "op1", "eventCategory": "Administrative",
                "entity": rid, "message": "Microsoft.Resources/subscriptions/resourceGroups/write",
                "hierarchy": format!("{FABRIKAM}/{SUB}"),
            })
        );
        assert_eq!(e["level"], "Informational");
        assert_eq!(e["id"], format!("{rid}/events/e1/ticks/638501544001234567"));
    }

    #[test]
    fn refused_write_is_failed_with_status_message() {
        let mut c = alice();
        c.client_name = "reader@fabrikam.onmicrosoft.com".into();
        let err = json!({"error": {"code": "AuthorizationFailed", "message": "no"}});
        let [b, e] = events(&record(&c, None, 403, Some(&err)), "b", "e", "o");
        assert_eq!(b["status"]["value"], "Started");
        assert_eq!(b["authorization"].get("evidence"), None);
        assert_eq!(
            e["status"],
            json!({"value": "Failed", "localizedValue": "Failed"})
        );
        assert_eq!(e["level"], "Error");
        assert_eq!(
            e["subStatus"],
            json!({"value": "Forbidden", "localizedValue": "Forbidden (HTTP Status Code: 403)"})
        );
        assert_eq!(e["properties"]["statusCode"], "Forbidden");
        assert_eq!(e["properties"]["serviceRequestId"], Value::Null);
        assert_eq!(
            e["properties"]["statusMessage"],
            r#"{"error":{"code":"AuthorizationFailed","message":"no"}}"#
        );
    }

    #[test]
    fn status_names_and_texts() {
        for (s, name, text) in [
            (200, "OK", "OK"),
            (201, "Created", "Created"),
            (202, "Accepted", "Accepted"),
            (204, "NoContent", "No Content"),
            (400, "BadRequest", "Bad Request"),
            (403, "Forbidden", "Forbidden"),
            (404, "NotFound", "Not Found"),
            (409, "Conflict", "Conflict"),
            (500, "InternalServerError", "Internal Server Error"),
        ] {
            assert_eq!((status_name(s), status_text(s)), (name, text), "{s}");
        }
    }

    #[test]
    fn operation_names_and_types() {
        for (action, text, provider, rtype) in [
            (
                "Microsoft.Resources/subscriptions/resourceGroups/delete",
                "Delete Resource Group",
                "Microsoft.Resources",
                "Microsoft.Resources/subscriptions/resourceGroups",
            ),
            (
                "Microsoft.Compute/virtualMachines/start/action",
                "Start Virtual Machine",
                "Microsoft.Compute",
                "Microsoft.Compute/virtualMachines",
            ),
            (
                "Microsoft.Authorization/roleAssignments/write",
                "Create or Update Role Assignment",
                "Microsoft.Authorization",
                "Microsoft.Authorization/roleAssignments",
            ),
            (
                "Microsoft.Storage/storageAccounts/listKeys/action",
                "ListKeys Storage Account",
                "Microsoft.Storage",
                "Microsoft.Storage/storageAccounts",
            ),
            (
                "Microsoft.Compute/register/action",
                "Register Microsoft.Compute",
                "Microsoft.Compute",
                "Microsoft.Compute",
            ),
        ] {
            assert_eq!(operation_text(action), text, "{action}");
            assert_eq!(
                provider_and_type(action),
                (provider.to_string(), rtype.to_string()),
                "{action}"
            );
        }
    }

    #[test]
    fn evidence_of_direct_assignment_names_the_user() {
        let mut c = alice();
        c.object_id = "30000000-0000-0000-0000-000000002111".into();
        let mut g = delegated_contributor();
        g.id = format!("/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Authorization/roleAssignments/70000000-0000-0000-0000-000000002001");
        g.principal_id = c.object_id.clone();
        g.via = Via::RoleAssignment;
        let [b, _] = events(&record(&c, Some(&g), 200, None), "b", "e", "o");
        let ev = &b["authorization"]["evidence"];
        assert_eq!(
            ev["roleAssignmentScope"],
            format!("/subscriptions/{SUB}/resourceGroups/rg-web")
        );
        assert_eq!(ev["roleAssignmentId"], "70000000000000000000000000002001");
        assert_eq!(ev["principalType"], "User");
    }

    #[test]
    fn delegation_events() {
        let c = alice();
        let rid = format!("/subscriptions/{SUB}/resourceGroups/rg-x/providers/Microsoft.ManagedServices/registrationAssignments/61000000-0000-0000-0000-000000000001");
        let mut r = record(&c, None, 201, None);
        r.resource_id = &rid;
        r.resource_group = Some("rg-x");
        r.action = "Microsoft.ManagedServices/registrationAssignments/write";
        assert_eq!(delegation_event(&r, "t1", "o1"), None, "no managing tenant");
        r.managed_by_tenant = Some(CONTOSO);
        let (tenant, ev) = delegation_event(&r, "t1", "o1").unwrap();
        assert_eq!(tenant, CONTOSO);
        assert_eq!(ev["operationName"]["value"], REGISTER);
        assert_eq!(ev["eventName"]["value"], "EndRequest");
        assert_eq!(ev["tenantId"], CONTOSO);
        assert_eq!(
            ev["description"],
            format!(
                r#"{{"delegationResourceId":"{rid}","subscriptionTenantId":"{FABRIKAM}","subscriptionId":"{SUB}","resourceGroupName":"rg-x"}}"#
            )
        );
        r.method = "DELETE";
        r.status = 200;
        let (_, ev) = delegation_event(&r, "t1", "o1").unwrap();
        assert_eq!(ev["operationName"]["value"], UNREGISTER);
        r.status = 403;
        assert_eq!(delegation_event(&r, "t1", "o1"), None, "refused");
        r.status = 200;
        r.resource_id = "/subscriptions/x/resourceGroups/rg";
        assert_eq!(delegation_event(&r, "t1", "o1"), None, "not an assignment");
    }

    #[test]
    fn ticks_are_dotnet_ticks() {
        assert_eq!(ticks(OffsetDateTime::UNIX_EPOCH), 621_355_968_000_000_000);
    }
}

//! Azure Policy tokens for external evaluation: `PolicyTokens_Acquire` / `_AcquireAtManagementGroup`
//! evaluate every assignment in force over the operation's resource whose definition has
//! `externalEvaluationEnforcementSettings` (endpoint kind `CoinFlip`) and sign a token bound to that one
//! operation; `check` enforces `missingTokenAction` on a write that comes without such a token in
//! `x-ms-policy-external-evaluations`. Never stores anything. Spec: policy 2025-11-01 openapi.json
//! (PolicyTokenRequest/Response, ExternalEvaluationEnforcementSettings) and its two examples.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::App;
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::arm::route::Route;
use crate::facts::Snapshot;
use crate::providers::policy::effective::{self, Applied, Member};

/// The request header that carries a policy token on the real operation.
pub const HEADER: &str = "x-ms-policy-external-evaluations";

/// How long a result lives when the definition names no `resultLifespan` (an emulator choice: the
/// spec's example shows two hours between its claims' date and the expiration).
const DEFAULT_LIFESPAN: time::Duration = time::Duration::hours(2);

/// The operation a token is acquired for, as `requestDetails` reports it.
struct Operation {
    uri: String,
    resource_id: ResourceId,
    api_version: String,
    action: String,
    method: String,
    content_hash: String,
}

/// SHA-256 (lower-case hex) of the content as compact JSON; 64 zeros without content (both examples,
/// which send none). Azure does not document its canonical form; the emulator hashes the same compact
/// serialization on both sides, so whitespace in the real request never matters.
pub fn content_hash(content: Option<&Value>) -> String {
    match content.filter(|c| !c.is_null()) {
        None => "0".repeat(64),
        Some(c) => {
            let bytes = serde_json::to_vec(c).unwrap_or_default();
            hex(&Sha256::digest(&bytes))
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn bad(message: impl Into<String>) -> ArmError {
    ArmError::new("InvalidRequestContent", message).with_status(400)
}

/// Parse `parameters.operation` (uri, httpMethod, content).
fn operation(body: Option<&Value>) -> Result<Operation, ArmError> {
    let op = body
        .and_then(|b| b.get("operation"))
        .filter(|o| o.is_object())
        .ok_or_else(|| bad("The request content is missing the required property 'operation'."))?;
    let uri = op["uri"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad("The request content is missing the required property 'operation.uri'.")
        })?;
    let method = op["httpMethod"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad("The request content is missing the required property 'operation.httpMethod'.")
        })?
        .to_ascii_uppercase();
    // scheme and host are the client's business (management.azure.com or the emulator's own)
    let after_scheme = uri.split_once("://").map_or(uri, |(_, r)| r);
    let path_query = match after_scheme.find('/') {
        Some(i) if uri.contains("://") => &after_scheme[i..],
        _ if uri.contains("://") => "/",
        _ => uri,
    };
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let api_version = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("api-version="))
        .unwrap_or_default()
        .to_string();
    let resource_id = ResourceId::parse(path).map_err(|_| {
        bad(format!(
            "The operation uri '{uri}' is not a valid resource uri."
        ))
    })?;
    let action = match Route::parse(&method, &resource_id) {
        Ok(r) => r.action(&method, &resource_id),
        Err(_) => resource_id.action(&method),
    };
    Ok(Operation {
        uri: uri.to_string(),
        api_version,
        action,
        method,
        content_hash: content_hash(op.get("content")),
        resource_id,
    })
}

/// The assignments in force on `id` whose members need an external evaluation (enforced, not
/// exempt).
fn requiring<'s>(
    set: &'s effective::PolicySet,
    snap: &Snapshot,
    id: &ResourceId,
    now: OffsetDateTime,
) -> Vec<(&'s Applied, &'s Member, Value)> {
    let target = id.key();
    let ancestors = match id.subscription.as_deref() {
        Some(s) => effective::group_ancestors(snap, s),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for a in set.in_force(&target, &ancestors) {
        if !a.enforce {
            continue;
        }
        for m in &a.members {
            let Some(ext) = m.def.external.as_ref() else {
                continue;
            };
            if set.exemption_in(a, m, &target, &ancestors, now).is_none() {
                out.push((a, m, ext.clone()));
            }
        }
    }
    out
}

/// `missingTokenAction` as written, `Deny` by default (a language expression is taken as Deny).
fn missing_action(ext: &Value) -> &'static str {
    match ext["missingTokenAction"].as_str() {
        Some(s) if s.eq_ignore_ascii_case("audit") => "Audit",
        _ => "Deny",
    }
}

fn policy_info(a: &Applied, m: &Member) -> Value {
    let mut v = json!({
        "policyAssignmentId": a.id,
        "policyAssignmentName": a.name,
        "policyDefinitionId": m.definition_id,
        "policyDefinitionName": m.definition_id.rsplit('/').next().unwrap_or_default(),
        "policyDefinitionDisplayName": m.display_name,
        "policyDefinitionEffect": m.effect.map(|e| e.name()).unwrap_or_default(),
    });
    if let Some(s) = &m.set_definition_id {
        v["policySetDefinitionId"] = json!(s);
        v["policyDefinitionReferenceId"] = json!(m.reference_id.clone().unwrap_or_default());
    }
    v
}

/// One endpoint invocation. `CoinFlip` (the kind the spec's examples show) succeeds with
/// `details.successProbability` (default 0.5); 1 and 0 are certain. Other kinds fail: the emulator
/// calls no external endpoint.
fn invoke(ext: &Value, now: OffsetDateTime) -> (bool, String, Value, Value, OffsetDateTime) {
    let lifespan = ext["resultLifespan"]
        .as_str()
        .and_then(crate::clock::parse_duration)
        .unwrap_or(DEFAULT_LIFESPAN);
    let expires = now + lifespan;
    let kind = ext["endpointSettings"]["kind"].as_str().unwrap_or_default();
    if !kind.eq_ignore_ascii_case("CoinFlip") {
        return (
            false,
            format!("The endpoint kind '{kind}' is not supported by the emulator."),
            json!({}),
            Value::Null,
            expires,
        );
    }
    let p = ext["endpointSettings"]["details"]["successProbability"]
        .as_f64()
        .unwrap_or(0.5);
    let ok = p >= 1.0 || (p > 0.0 && rand::random::<f64>() < p);
    let shown = if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        p.to_string()
    };
    let message = if ok {
        format!("Coin flip successful (success probability: '{shown}').")
    } else {
        format!("Coin flip failed (success probability: '{shown}').")
    };
    (
        ok,
        message,
        json!({"isValid": ok}),
        json!({"successProbability": p}),
        expires,
    )
}

/// `POST {scope}/providers/Microsoft.Authorization/acquirePolicyToken`: 200 with the
/// PolicyTokenResponse; the token only when every evaluation succeeded.
pub fn policy_tokens_acquire(
    app: &App,
    snap: &Snapshot,
    scope: &ResourceId,
    body: Option<&Value>,
) -> Result<Value, ArmError> {
    let op = operation(body)?;
    // the operation must lie in the scope the token is acquired at
    let scope_key = scope.key();
    let scope_key = scope_key
        .strip_suffix("/providers/microsoft.authorization/acquirepolicytoken")
        .unwrap_or(&scope_key)
        .to_string();
    let target = op.resource_id.key();
    let under_group = op
        .resource_id
        .subscription
        .as_deref()
        .is_some_and(|s| effective::group_ancestors(snap, s).contains(&scope_key));
    if !(target == scope_key || target.starts_with(&format!("{scope_key}/")) || under_group) {
        return Err(bad(format!(
            "The operation uri '{}' is not in the scope '{}' the token is requested at.",
            op.uri,
            scope
                .canonical()
                .trim_end_matches("/providers/Microsoft.Authorization/acquirePolicyToken")
        )));
    }
    let now = app.clock.now();
    let set = app.policies();
    let mut results = Vec::new();
    let mut all_ok = true;
    let mut expiration = now + DEFAULT_LIFESPAN;
    let mut bound = Vec::new();
    for (a, m, ext) in requiring(&set, snap, &op.resource_id, now) {
        let (ok, message, claims, info, expires) = invoke(&ext, now);
        all_ok &= ok;
        expiration = expiration.min(expires);
        let action = if ok { "Allow" } else { missing_action(&ext) };
        results.push(json!({
            "policyInfo": policy_info(a, m),
            "result": if ok { "Succeeded" } else { "Failed" },
            "endpointKind": ext["endpointSettings"]["kind"],
            "message": message,
            "claims": claims,
            "policyAction": action,
            "additionalInfo": info,
            "expiration": crate::clock::arm_time(expires),
        }));
        if ok {
            bound.push(json!({
                "assignment": a.id.to_ascii_lowercase(),
                "definition": m.definition_id.to_ascii_lowercase(),
                "claims": claims,
            }));
        }
    }
    let request_details = json!({
        "uri": op.uri,
        "resourceId": op.resource_id.canonical(),
        "apiVersion": op.api_version,
        "authorizationAction": op.action,
        "httpMethod": op.method,
        "contentHash": op.content_hash,
    });
    let mut out = json!({
        "result": if all_ok { "Succeeded" } else { "Failed" },
        "requestDetails": request_details,
        "results": results,
    });
    if let Some(c) = body
        .and_then(|b| b.get("changeReference"))
        .filter(|c| c.is_string())
    {
        out["changeReference"] = c.clone();
    }
    if !all_ok {
        out["message"] = json!(
            "One or more external evaluations failed; no policy token was issued. See 'results' for details."
        );
        return Ok(out);
    }
    let token_id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    let claims = json!({
        "lhe_pt": 1,
        "jti": token_id,
        "iat": now.unix_timestamp(),
        "exp": expiration.unix_timestamp(),
        "rid": op.resource_id.key(),
        "apv": op.api_version,
        "mth": op.method,
        "chs": op.content_hash,
        "res": bound,
    });
    let jwt = crate::auth::token::sign(&app.key, &claims);
    out["token"] = json!(format!("PT 1.{jwt}"));
    out["tokenId"] = json!(token_id);
    out["expiration"] = json!(crate::clock::arm_time(expiration));
    Ok(out)
}

/// The token's claims when it is ours, unexpired and for exactly this operation; else why not.
fn verified(
    app: &App,
    token: &str,
    method: &str,
    id: &ResourceId,
    api_version: &str,
    body: Option<&Value>,
) -> Result<Value, &'static str> {
    let raw = token.trim();
    let raw = raw.strip_prefix("PT ").unwrap_or(raw).trim();
    let raw = raw.strip_prefix("1.").unwrap_or(raw);
    let c = crate::auth::token::verify_signed(&app.key, raw)
        .map_err(|_| "the policy token is not valid")?;
    if c["lhe_pt"] != json!(1) {
        return Err("the policy token is not valid");
    }
    if c["exp"].as_i64().unwrap_or(0) <= app.clock.unix() {
        return Err("the policy token has expired");
    }
    let same = c["rid"].as_str() == Some(id.key().as_str())
        && c["mth"].as_str() == Some(method)
        && c["apv"].as_str().unwrap_or_default() == api_version
        && c["chs"].as_str() == Some(content_hash(body).as_str());
    if !same {
        return Err("the policy token was acquired for another operation");
    }
    Ok(c)
}

/// Does the token carry a successful evaluation of this member?
fn covers(c: &Value, a: &Applied, m: &Member) -> bool {
    c["res"].as_array().is_some_and(|r| {
        r.iter().any(|x| {
            x["assignment"].as_str() == Some(a.id.to_ascii_lowercase().as_str())
                && x["definition"].as_str() == Some(m.definition_id.to_ascii_lowercase().as_str())
        })
    })
}

/// Before a write (PUT, PATCH, DELETE, POST action) on a resource: each assignment requiring an
/// external evaluation needs a valid token for exactly this operation; without one its
/// `missingTokenAction` applies — `Deny` refuses with RequestDisallowedByPolicy, `Audit` lets the
/// request through with a note. `Ok(notes)` for `x-ms-emulator-decision`.
pub fn check(
    app: &App,
    snap: &Snapshot,
    method: &str,
    id: &ResourceId,
    api_version: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Result<Vec<String>, ArmError> {
    let set = app.policies();
    if set.assignments.is_empty() {
        return Ok(Vec::new());
    }
    let now = app.clock.now();
    // deployments, the policy resources and the hierarchy are never evaluated on write (the gate's
    // rule): removing an assignment or deploying a template needs no token
    if id
        .full_type()
        .is_some_and(|t| !crate::policy_gate::evaluated_type(&t))
    {
        return Ok(Vec::new());
    }
    let mut needed = requiring(&set, snap, id, now);
    if needed.is_empty() {
        return Ok(Vec::new());
    }
    // Only the members whose rule applies to the resource: a rule evaluated without the token's
    // claims either does not match (its other conditions fail first: no token needed), or matches or
    // stops at `claims()` (needed). Targets the gate does not evaluate (above a subscription) always
    // need it.
    if let Some((rtype, name)) = crate::policy_gate::target_kind(id) {
        let resource = match method {
            "PUT" | "PATCH" => crate::policy_gate::as_stored(app, method, id, &rtype, &name, body),
            _ => app
                .store
                .get(&id.key())
                .ok()
                .flatten()
                .map(|r| r.body.clone()),
        };
        let Some(resource) = resource else {
            return Ok(Vec::new());
        };
        let ctx = effective::context_for(&app.store, snap, &id.key(), method, api_version, now);
        let ptype = crate::policy::eval::policy_type(&resource);
        let location = effective::location_of(&resource);
        needed.retain(|(a, m, _)| {
            let Some(effect) = a.effect_for(m, &ptype, location) else {
                return false;
            };
            let applies = m.def.mode.applies(&ptype);
            match crate::policy::evaluate_prepared(
                &m.def, &m.params, &resource, &ctx, effect, applies, false,
            ) {
                Ok(o) => o.matched,
                Err(_) => true,
            }
        });
        if needed.is_empty() {
            return Ok(Vec::new());
        }
    }
    let claims = match token {
        None => Err("no policy token was sent"),
        Some(t) => verified(app, t, method, id, api_version, body),
    };
    let mut notes = Vec::new();
    let mut denied = Vec::new();
    for (a, m, ext) in needed {
        let why = match &claims {
            Err(why) => Some(*why),
            Ok(c) if covers(c, a, m) => None,
            Ok(_) => Some("the policy token has no successful evaluation for this policy"),
        };
        let Some(why) = why else {
            notes.push(format!(
                "policy token accepted for assignment '{}' (definition '{}')",
                a.name, m.def.name
            ));
            continue;
        };
        if missing_action(&ext) == "Audit" {
            notes.push(format!(
                "audited by policy assignment '{}' (definition '{}'): {why}",
                a.name, m.def.name
            ));
        } else {
            denied.push((a, m, why));
        }
    }
    if denied.is_empty() {
        return Ok(notes);
    }
    let name = id.name().unwrap_or_default().to_string();
    let idents: Vec<Value> = denied
        .iter()
        .map(|(a, m, _)| {
            json!({
                "policyAssignment": {"name": a.body["properties"]["displayName"].as_str().filter(|s| !s.is_empty()).unwrap_or(&a.name), "id": a.id},
                "policyDefinition": {"name": m.display_name, "id": m.definition_id, "version": m.version},
            })
        })
        .collect();
    // RequestDisallowedByPolicy as the gate words it (policy_gate::disallowed); the reason is the
    // emulator's own wording (no captured refusal for a missing policy token was found).
    let mut e = ArmError::new(
        "RequestDisallowedByPolicy",
        format!(
            "Resource '{name}' was disallowed by policy. Policy identifiers: '{}'.",
            serde_json::to_string(&idents).unwrap_or_default()
        ),
    )
    .with_target(&name);
    for (a, m, why) in &denied {
        let mut info = policy_info(a, m);
        info["reason"] = json!(format!("External evaluation required: {why}."));
        e = e.with_additional_info(json!({"type": "PolicyViolation", "info": info}));
    }
    let why = denied
        .iter()
        .map(|(a, m, why)| {
            format!(
                "policy assignment '{}' definition '{}': {why}",
                a.name, m.def.name
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(e.with_header(
        "x-ms-emulator-decision",
        format!("denied; refused by {why}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// uri, method, content → resource id, api-version, action, method, hash.
    type Row = (
        &'static str,
        &'static str,
        Option<Value>,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        String,
    );

    #[test]
    fn operations_read_as_request_details() {
        // (uri, method, content) → (resource id, api-version, action, method, hash)
        let zeros = "0".repeat(64);
        let cases: Vec<Row> = vec![
            (
                "https://management.azure.com/subscriptions/s1/resourceGroups/testRG/providers/Microsoft.Compute/virtualMachines/testVM?api-version=2024-01-01",
                "delete",
                None,
                "/subscriptions/s1/resourceGroups/testRG/providers/Microsoft.Compute/virtualMachines/testVM",
                "2024-01-01",
                "Microsoft.Compute/virtualMachines/delete",
                "DELETE",
                zeros.clone(),
            ),
            (
                "https://localhost:8443/providers/Microsoft.Management/managementGroups/MyManagementGroup/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000000?api-version=2022-04-01",
                "DELETE",
                None,
                "/providers/Microsoft.Management/managementGroups/MyManagementGroup/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000000",
                "2022-04-01",
                "Microsoft.Authorization/roleAssignments/delete",
                "DELETE",
                zeros.clone(),
            ),
            (
                "/subscriptions/s1/resourceGroups/rg?api-version=2021-04-01",
                "put",
                Some(json!({"location": "westeurope"})),
                "/subscriptions/s1/resourceGroups/rg",
                "2021-04-01",
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                "PUT",
                // sha256('{"location":"westeurope"}')
                hex(&Sha256::digest(br#"{"location":"westeurope"}"#)),
            ),
        ];
        for (uri, method, content, rid, apv, action, m, hash) in cases {
            let mut op = json!({"uri": uri, "httpMethod": method});
            if let Some(c) = content {
                op["content"] = c;
            }
            let o = operation(Some(&json!({ "operation": op }))).unwrap();
            assert_eq!(o.resource_id.canonical(), rid, "{uri}");
            assert_eq!(o.api_version, apv, "{uri}");
            assert_eq!(o.action, action, "{uri}");
            assert_eq!(o.method, m, "{uri}");
            assert_eq!(o.content_hash, hash, "{uri}");
        }
        for bad in [
            json!({}),
            json!({"operation": {"uri": "/subscriptions/s1"}}),
            json!({"operation": {"httpMethod": "GET"}}),
        ] {
            assert_eq!(
                operation(Some(&bad)).err().unwrap().code,
                "InvalidRequestContent"
            );
        }
    }
}

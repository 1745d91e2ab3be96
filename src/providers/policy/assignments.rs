//! Policy assignments and exemptions at any scope (management group, subscription, resource group,
//! resource): parameters checked against the assigned definition, `notScopes`, `enforcementMode`, a
//! system- or user-assigned managed identity (its `principalId` is what the role-assignment rules
//! recognise as a managed identity, and it goes with the assignment), and the list filters clients send.
//! Stores what effects, compliance and remediation will read; evaluates nothing. Follows the 2025-11-01
//! policy spec and the 2024-12-01-preview exemptions spec.

use serde_json::{json, Map, Value};

use super::{
    list_reply, named_not_found, parse_eq_filter, plain, resolve_definition, scope_of_collection,
    split_and, stored_row, Cx, Kind,
};
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_at_or_above, ResourceId};
use crate::store::Store;
use crate::wire::Reply;

const ASSIGNMENT: &str = "Microsoft.Authorization/policyAssignments";
const EXEMPTION: &str = "Microsoft.Authorization/policyExemptions";

/// The scope an assignment or exemption is made at must exist (ARM answers for the missing group or
/// resource first, as for locks).
fn require_scope(store: &Store, scope: &ResourceId) -> Result<(), ArmError> {
    let has_sub = scope.subscription.as_deref().is_some_and(|s| !s.is_empty());
    if has_sub
        && (scope.resource_group.is_some() || !scope.providers.is_empty())
        && store.read(|tx| tx.get(&scope.key()))?.is_none()
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
    Ok(())
}

/// The tenant that owns the scope: the subscription's, else (a management group) the caller's.
fn scope_tenant(cx: &Cx) -> String {
    cx.id
        .subscription
        .as_deref()
        .and_then(|s| cx.snap.dir.subscription(s))
        .map(|s| s.tenant_id.to_lowercase())
        .unwrap_or_else(|| cx.caller.tenant_id.to_lowercase())
}

fn scope_string(scope: &ResourceId) -> String {
    let s = scope.canonical();
    if s == "/" {
        String::new()
    } else {
        s
    }
}

/// Assignment parameters against the definition's: unknown, missing required, and values outside
/// `allowedValues` are refused with Azure's codes and wording (UndefinedPolicyParameter,
/// MissingPolicyParameter, PolicyParameterValueNotAllowed — seen in Azure/ALZ-Bicep#585,
/// Azure/terraform-azurerm-caf-enterprise-scale#1313; the allowed-values check is case-sensitive).
fn check_parameters(
    assignment: &str,
    def: &Value,
    given: &Map<String, Value>,
) -> Result<(), ArmError> {
    let def_name = def["name"].as_str().unwrap_or_default();
    let empty = Map::new();
    let defined = def["properties"]["parameters"]
        .as_object()
        .unwrap_or(&empty);
    let find = |k: &str| defined.iter().find(|(dk, _)| dk.eq_ignore_ascii_case(k));
    let unknown: Vec<&str> = given
        .keys()
        .map(String::as_str)
        .filter(|k| find(k).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ArmError::new(
            "UndefinedPolicyParameter",
            format!("The policy assignment '{assignment}' has the parameter(s) '{}' which are not defined in the policy definition '{def_name}'.", unknown.join(",")),
        ));
    }
    let missing: Vec<&str> = defined
        .iter()
        .filter(|(k, d)| {
            d.get("defaultValue").is_none() && !given.keys().any(|g| g.eq_ignore_ascii_case(k))
        })
        .map(|(k, _)| k.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ArmError::new(
            "MissingPolicyParameter",
            format!("The policy assignment '{assignment}' is missing the parameter(s) '{}' as defined in the policy definition '{def_name}'.", missing.join(",")),
        ));
    }
    for (k, v) in given {
        let (dk, d) = find(k).expect("checked above");
        let Some(allowed) = d.get("allowedValues").and_then(Value::as_array) else {
            continue;
        };
        let value = v.get("value").unwrap_or(&Value::Null);
        let is_array_param = d["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("array"));
        let bad: Vec<&Value> = match value {
            Value::Array(items) if is_array_param => {
                items.iter().filter(|i| !allowed.contains(i)).collect()
            }
            other => (!allowed.contains(other))
                .then_some(other)
                .into_iter()
                .collect(),
        };
        if let Some(b) = bad.first() {
            let list: Vec<String> = allowed.iter().map(plain).collect();
            return Err(ArmError::new(
                "PolicyParameterValueNotAllowed",
                format!("The value '{}' is not allowed for policy parameter '{dk}' in policy definition '{def_name}'. The allowed values are '{}'.", plain(b), list.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `identity`: SystemAssigned gets a principal id (kept across updates) and the scope's tenant;
/// UserAssigned names identities of the store, each shown with its principal and client ids.
fn checked_identity(
    cx: &Cx,
    store: &Store,
    identity: &Value,
    existing: Option<&Value>,
) -> Result<Option<Value>, ArmError> {
    let Some(i) = identity.as_object() else {
        return Ok(None);
    };
    let t = i.get("type").and_then(Value::as_str).unwrap_or("None");
    match t.to_ascii_lowercase().as_str() {
        "none" => Ok(None),
        "systemassigned" => {
            let pid = existing
                .and_then(|e| e["identity"]["principalId"].as_str().map(String::from))
                .unwrap_or_else(|| cx.new_id.to_string());
            Ok(Some(json!({"type": "SystemAssigned", "principalId": pid, "tenantId": scope_tenant(cx)})))
        }
        "userassigned" => {
            let ids = i
                .get("userAssignedIdentities")
                .and_then(Value::as_object)
                .filter(|m| m.len() == 1)
                .ok_or_else(|| {
                    ArmError::new(
                        "InvalidPolicyAssignmentIdentity",
                        "A policy assignment with a 'UserAssigned' identity must name exactly one identity in 'userAssignedIdentities'.",
                    )
                })?;
            let mut out = Map::new();
            for uai in ids.keys() {
                let key = ResourceId::parse(uai).map(|r| r.key()).unwrap_or_default();
                let row = store.read(|tx| tx.get(&key))?.ok_or_else(|| {
                    ArmError::new(
                        "InvalidPolicyAssignmentIdentity",
                        format!("The user assigned identity '{uai}' of the policy assignment could not be found."),
                    )
                })?;
                out.insert(
                    uai.clone(),
                    json!({"principalId": row.body["properties"]["principalId"], "clientId": row.body["properties"]["clientId"]}),
                );
            }
            Ok(Some(json!({"type": "UserAssigned", "userAssignedIdentities": out})))
        }
        _ => Err(ArmError::invalid_request_content(&format!(
            "The identity type '{t}' is not supported: use 'SystemAssigned', 'UserAssigned' or 'None'."
        ))),
    }
}

/// PolicyAssignments_Create: 201 (the spec's only status, for updates too).
pub fn policy_assignments_create(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    let body = cx.object_body()?;
    let scope = cx.id.scope_of_last_part();
    require_scope(store, &scope)?;
    let existing = store.read(|tx| tx.get(&cx.id.key()))?.map(|r| r.body);
    let out = build_assignment(cx, store, &name, &scope, body, existing.as_ref())?;
    store.write(|tx| tx.put(&stored_row(cx.id, ASSIGNMENT, out.clone())))?;
    Ok(Reply::json(201, &out))
}

fn build_assignment(
    cx: &Cx,
    store: &Store,
    name: &str,
    scope: &ResourceId,
    body: &Map<String, Value>,
    existing: Option<&Value>,
) -> Result<Value, ArmError> {
    let p = match body.get("properties") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    let def_id = p
        .get("policyDefinitionId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if def_id.is_empty() {
        // emulator's wording; Azure refuses an assignment without a definition
        return Err(ArmError::new(
            "InvalidCreatePolicyAssignmentRequest",
            format!("The policy assignment '{name}' request is invalid. The property 'policyDefinitionId' is required."),
        ));
    }
    // Azure's code and wording (Azure/Enterprise-Scale#804): 400 inside a deployment's BadRequest.
    let Some((kind, def)) = resolve_definition(store, &def_id)? else {
        let set = def_id
            .to_ascii_lowercase()
            .contains("/policysetdefinitions/");
        let (code, what) = if set {
            (Kind::Set.not_found_code(), "policy set definition")
        } else {
            (Kind::Definition.not_found_code(), "policy definition")
        };
        return Err(ArmError::new(
            code,
            format!("The policy assignment create request is invalid. The {what} '{def_id}' could not be found."),
        ));
    };
    let params = match p.get("parameters") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(ArmError::invalid_request_content(
                "The 'parameters' property must be an object.",
            ))
        }
    };
    check_parameters(name, &def, &params)?;
    let mode = p
        .get("enforcementMode")
        .and_then(Value::as_str)
        .unwrap_or("Default");
    let mode = ["Default", "DoNotEnforce", "Enroll"]
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(mode))
        .ok_or_else(|| {
            ArmError::invalid_request_content(&format!(
                "The enforcement mode '{mode}' is not valid: use 'Default' or 'DoNotEnforce'."
            ))
        })?;
    let not_scopes = match p.get("notScopes") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    for ns in &not_scopes {
        let s = ns.as_str().unwrap_or_default();
        if ResourceId::parse(s).is_err() {
            return Err(ArmError::new(
                "InvalidNotScopes",
                format!("The policy assignment '{name}' has an invalid not-scope '{s}'."),
            ));
        }
    }
    let identity = match body.get("identity") {
        Some(i) => checked_identity(cx, store, i, existing)?,
        None => None,
    };
    if identity.is_none() {
        if let Some(effect) = identity_effect(store, kind, &def, &params)? {
            // Azure's code and wording (Azure/azure-cli#13150, Azure/azure-policy#476)
            return Err(ArmError::new(
                "ResourceIdentityRequired",
                format!("The policy assignment '{name}' request is invalid. Policy assignments must include a resource identity when assigning '{effect}' policy definitions."),
            ));
        }
    }
    let location = body.get("location").and_then(Value::as_str);
    if identity.is_some() && location.is_none_or(str::is_empty) {
        // Azure requires a location with a managed identity (its docs and the terraform provider's
        // check, hashicorp/terraform-provider-azurerm#7075); the code is ARM's generic one.
        return Err(ArmError::new(
            "LocationRequired",
            format!("The policy assignment '{name}' has a managed identity, so its 'location' is required."),
        ));
    }
    let mut meta = match p.get("metadata") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    // What Azure fills: the creator's object id and time, then who changed it last.
    match existing {
        Some(e) => {
            for k in ["createdBy", "createdOn"] {
                if let Some(v) = e["properties"]["metadata"].get(k) {
                    meta.insert(k.into(), v.clone());
                }
            }
            meta.insert("updatedBy".into(), json!(cx.caller.object_id));
            meta.insert("updatedOn".into(), json!(cx.now_str()));
        }
        None => {
            meta.insert("createdBy".into(), json!(cx.caller.object_id));
            meta.insert("createdOn".into(), json!(cx.now_str()));
            meta.insert("updatedBy".into(), Value::Null);
            meta.insert("updatedOn".into(), Value::Null);
        }
    }
    let version = def["properties"]["version"].as_str().unwrap_or("1.0.0");
    let major = version.split('.').next().unwrap_or("1");
    let mut props = Map::new();
    for k in ["displayName", "description"] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            props.insert(k.into(), v.clone());
        }
    }
    props.insert("metadata".into(), Value::Object(meta));
    props.insert("policyDefinitionId".into(), json!(def_id));
    let definition_version = p
        .get("definitionVersion")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| format!("{major}.*.*"));
    props.insert("definitionVersion".into(), json!(definition_version));
    props.insert("scope".into(), json!(scope_string(scope)));
    props.insert("notScopes".into(), Value::Array(not_scopes));
    props.insert("parameters".into(), Value::Object(params));
    props.insert("enforcementMode".into(), json!(mode));
    let instance = existing
        .and_then(|e| e["properties"]["instanceId"].as_str().map(String::from))
        .unwrap_or_else(|| second_guid(cx.new_id));
    props.insert("instanceId".into(), json!(instance));
    props.insert(
        "assignmentType".into(),
        p.get("assignmentType").cloned().unwrap_or(json!("Custom")),
    );
    for k in [
        "nonComplianceMessages",
        "resourceSelectors",
        "overrides",
        "selfServeExemptionSettings",
    ] {
        if let Some(v) = p.get(k).filter(|v| v.is_array() || v.is_object()) {
            props.insert(k.into(), v.clone());
        }
    }
    if kind == Kind::Set {
        check_message_references(name, &def, props.get("nonComplianceMessages"))?;
    }
    let created = existing.map(|e| e["systemData"].clone());
    let mut out = json!({
        "properties": props,
        "id": format!("{}/providers/{ASSIGNMENT}/{name}", scope_string(scope)),
        "type": ASSIGNMENT,
        "name": name,
        "systemData": cx.system_data(created.as_ref()),
    });
    if let Some(l) = location {
        out["location"] = json!(l);
    }
    if let Some(i) = identity {
        out["identity"] = i;
    }
    Ok(out)
}

/// The effect of a definition as assigned: a literal, or `[parameters('x')]` read from the given
/// parameters (`{"x": {"value": …}}`) or the parameter's default.
fn effect_of(def: &Value, params: &Map<String, Value>) -> Option<String> {
    let e = def["properties"]["policyRule"]["then"]["effect"].as_str()?;
    let Some(p) = e
        .strip_prefix("[parameters('")
        .and_then(|r| r.strip_suffix("')]"))
    else {
        return Some(e.to_string());
    };
    let given = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(p))
        .map(|(_, v)| &v["value"]);
    let default = def["properties"]["parameters"]
        .as_object()
        .and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case(p)))
        .map(|(_, d)| &d["defaultValue"]);
    given.or(default)?.as_str().map(String::from)
}

/// `Modify` or `DeployIfNotExists` when the assigned definition (or one an initiative references) has
/// that effect: such assignments need a managed identity. Effects an initiative passes down through its
/// own parameters are read from the reference's literal value or the definition's default.
fn identity_effect(
    store: &Store,
    kind: Kind,
    def: &Value,
    params: &Map<String, Value>,
) -> Result<Option<&'static str>, ArmError> {
    let needs = |e: Option<String>| match e.map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("modify") => Some("Modify"),
        Some("deployifnotexists") => Some("DeployIfNotExists"),
        _ => None,
    };
    if kind == Kind::Definition {
        return Ok(needs(effect_of(def, params)));
    }
    for r in def["properties"]["policyDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = r["policyDefinitionId"].as_str().unwrap_or_default();
        if let Some((Kind::Definition, d)) = resolve_definition(store, id)? {
            let literal: Map<String, Value> = r["parameters"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| !v["value"].as_str().is_some_and(|s| s.starts_with('[')))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(e) = needs(effect_of(&d, &literal)) {
                return Ok(Some(e));
            }
        }
    }
    Ok(None)
}

/// A second stable id from this request's id (the identity's principal id is the first): its hex
/// digits reversed, in GUID form.
fn second_guid(seed: &str) -> String {
    let hex: String = seed.chars().rev().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return seed.to_string();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Non-compliance messages of an initiative's assignment may name only references of the set
/// (hashicorp/terraform-provider-azurerm#15685 quotes Azure's refusal).
fn check_message_references(name: &str, set: &Value, msgs: Option<&Value>) -> Result<(), ArmError> {
    let refs: Vec<String> = set["properties"]["policyDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            r["policyDefinitionReferenceId"]
                .as_str()
                .map(str::to_lowercase)
        })
        .collect();
    let bad: Vec<&str> = msgs
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m["policyDefinitionReferenceId"].as_str())
        .filter(|r| !refs.contains(&r.to_lowercase()))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(ArmError::new(
        "InvalidNonComplianceMessages",
        format!("The policy assignment '{name}' request is invalid. The following policy definition reference Ids used in non-compliance messages do not exist in the assigned policy set definition: '{}'.", bad.join(", ")),
    ))
}

fn assignment_not_found(cx: &Cx) -> ArmError {
    named_not_found(cx, "PolicyAssignmentNotFound", "policy assignment")
}

/// `$expand=LatestDefinitionVersion, EffectiveDefinitionVersion` (what `az policy assignment list`
/// offers): the assigned definition's version.
fn expanded(cx: &Cx, store: &Store, mut a: Value) -> Result<Value, ArmError> {
    let Some(expand) = cx.req.query("$expand").map(str::to_ascii_lowercase) else {
        return Ok(a);
    };
    let def_id = a["properties"]["policyDefinitionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let version = resolve_definition(store, &def_id)?
        .and_then(|(_, d)| d["properties"]["version"].as_str().map(String::from));
    if let Some(v) = version {
        if expand.contains("latestdefinitionversion") {
            a["properties"]["latestDefinitionVersion"] = json!(v);
        }
        if expand.contains("effectivedefinitionversion") {
            a["properties"]["effectiveDefinitionVersion"] = json!(v);
        }
    }
    Ok(a)
}

pub fn policy_assignments_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let a = store
        .get(&cx.id.key())?
        .map(|r| r.body.clone())
        .ok_or_else(|| assignment_not_found(cx))?;
    Ok(Reply::json(200, &expanded(cx, store, a)?))
}

/// PolicyAssignments_Update (PATCH): identity, location, resource selectors and overrides.
pub fn policy_assignments_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    let existing = store
        .read(|tx| tx.get(&cx.id.key()))?
        .map(|r| r.body)
        .ok_or_else(|| assignment_not_found(cx))?;
    let patch = cx.object_body()?;
    let mut merged = existing.as_object().cloned().unwrap_or_default();
    for k in ["identity", "location"] {
        if let Some(v) = patch.get(k) {
            merged.insert(k.into(), v.clone());
        }
    }
    if let Some(Value::Object(pp)) = patch.get("properties") {
        if let Some(Value::Object(mp)) = merged.get_mut("properties") {
            for (k, v) in pp {
                mp.insert(k.clone(), v.clone());
            }
        }
    }
    let scope = cx.id.scope_of_last_part();
    let out = build_assignment(cx, store, &name, &scope, &merged, Some(&existing))?;
    store.write(|tx| tx.put(&stored_row(cx.id, ASSIGNMENT, out.clone())))?;
    Ok(Reply::json(200, &out))
}

/// DELETE: 200 with the deleted assignment, 204 when there was none. Its system-assigned identity goes
/// with it (the role-assignment rules find managed identities among stored rows).
pub fn policy_assignments_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    match store.read(|tx| tx.get(&key))? {
        Some(r) => {
            store.write(|tx| tx.delete(&key))?;
            Ok(Reply::json(200, &r.body))
        }
        None => Ok(Reply::empty(204)),
    }
}

/// Which rows of a list at a scope: Azure's `$filter` values for assignments and exemptions.
#[derive(Debug, PartialEq)]
enum ScopeFilter {
    /// No filter: what applies at the scope (at and above) and what is made inside it (below).
    All,
    /// `atScope()`: at and above.
    AtScope,
    /// `atExactScope()`: at the scope only.
    AtExactScope,
    /// `atScopeAndBelow()`: at and below.
    AtScopeAndBelow,
}

struct ListFilter {
    scope: ScopeFilter,
    /// `policyDefinitionId eq '…'` (assignments) or `policyAssignmentId eq '…'` (exemptions).
    id_eq: Option<(String, String)>,
    /// `excludeExpired()` (exemptions).
    exclude_expired: bool,
}

fn list_filter(f: Option<&str>, id_names: &[&str]) -> Result<ListFilter, ArmError> {
    let mut out = ListFilter {
        scope: ScopeFilter::All,
        id_eq: None,
        exclude_expired: false,
    };
    let Some(f) = f.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(out);
    };
    for part in split_and(f) {
        let p = part.trim();
        let set = |s: ScopeFilter, out: &mut ListFilter| {
            if out.scope != ScopeFilter::All {
                return Err(ArmError::invalid_filter(f));
            }
            out.scope = s;
            Ok(())
        };
        if p.eq_ignore_ascii_case("atScope()") {
            set(ScopeFilter::AtScope, &mut out)?;
        } else if p.eq_ignore_ascii_case("atExactScope()") {
            set(ScopeFilter::AtExactScope, &mut out)?;
        } else if p.eq_ignore_ascii_case("atScopeAndBelow()") {
            set(ScopeFilter::AtScopeAndBelow, &mut out)?;
        } else if p.eq_ignore_ascii_case("excludeExpired()")
            && id_names.contains(&"policyAssignmentId")
        {
            out.exclude_expired = true;
        } else {
            match parse_eq_filter(p).as_deref() {
                Some([(k, v)])
                    if id_names.iter().any(|n| n.eq_ignore_ascii_case(k))
                        && out.id_eq.is_none() =>
                {
                    let field = id_names.iter().find(|n| n.eq_ignore_ascii_case(k)).unwrap();
                    out.id_eq = Some((field.to_string(), v.to_lowercase()));
                }
                _ => return Err(ArmError::invalid_filter(f)),
            }
        }
    }
    Ok(out)
}

fn listed(
    cx: &Cx,
    store: &Store,
    rtype: &str,
    filter: &ListFilter,
) -> Result<Vec<Value>, ArmError> {
    let scope = scope_of_collection(cx.id).key();
    let now = cx.now_str();
    let rows = store.read(|tx| tx.by_type(&rtype.to_lowercase(), None, None))?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            let at = r.parent.eq_ignore_ascii_case(&scope);
            let above = is_at_or_above(&r.parent, &scope);
            let below = is_at_or_above(&scope, &r.parent);
            let in_scope = match filter.scope {
                ScopeFilter::All => above || below,
                ScopeFilter::AtScope => above,
                ScopeFilter::AtExactScope => at,
                ScopeFilter::AtScopeAndBelow => below,
            };
            let id_ok = filter.id_eq.as_ref().is_none_or(|(field, v)| {
                r.body["properties"][field.as_str()]
                    .as_str()
                    .is_some_and(|x| x.to_lowercase() == *v)
            });
            let live = !filter.exclude_expired
                || r.body["properties"]["expiresOn"]
                    .as_str()
                    .is_none_or(|e| e > now.as_str());
            in_scope && id_ok && live
        })
        .map(|r| r.body)
        .collect())
}

/// PolicyAssignments_List / _ListForResourceGroup / _ListForResource / _ListForManagementGroup.
pub fn policy_assignments_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let filter = list_filter(cx.req.query("$filter"), &["policyDefinitionId"])?;
    let items = listed(cx, store, ASSIGNMENT, &filter)?
        .into_iter()
        .map(|a| expanded(cx, store, a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(list_reply(cx, items))
}

// --- exemptions ---

fn exemption_not_found(cx: &Cx) -> ArmError {
    named_not_found(cx, "PolicyExemptionNotFound", "policy exemption")
}

/// PolicyExemptions_CreateOrUpdate: the assignment must exist, the category be Waiver or Mitigated,
/// reference ids be the assigned initiative's, and (unless `assignmentScopeValidation` is
/// `DoNotValidate`) the exemption lie at or below the assignment's scope. 201 on create, 200 on update.
pub fn policy_exemptions_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let scope = cx.id.scope_of_last_part();
    require_scope(store, &scope)?;
    let existing = store.read(|tx| tx.get(&cx.id.key()))?.map(|r| r.body);
    let body = cx.object_body()?;
    let out = build_exemption(cx, store, &scope, body, existing.as_ref())?;
    store.write(|tx| tx.put(&stored_row(cx.id, EXEMPTION, out.clone())))?;
    Ok(Reply::json(
        if existing.is_some() { 200 } else { 201 },
        &out,
    ))
}

fn build_exemption(
    cx: &Cx,
    store: &Store,
    scope: &ResourceId,
    body: &Map<String, Value>,
    existing: Option<&Value>,
) -> Result<Value, ArmError> {
    let name = cx.id.name().unwrap_or_default();
    let p = match body.get("properties") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    let assignment_id = p
        .get("policyAssignmentId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let assignment = ResourceId::parse(&assignment_id)
        .ok()
        .filter(|a| a.full_type().is_some_and(|t| t.eq_ignore_ascii_case(ASSIGNMENT)))
        .map(|a| store.get(&a.key()))
        .transpose()?
        .flatten()
        .map(|r| r.body.clone())
        .ok_or_else(|| {
            ArmError::new(
                "PolicyAssignmentNotFound",
                format!("The policy exemption '{name}' request is invalid. The policy assignment '{assignment_id}' could not be found."),
            )
            .with_status(404)
        })?;
    let category = p
        .get("exemptionCategory")
        .and_then(Value::as_str)
        .unwrap_or("");
    let category = ["Waiver", "Mitigated"]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(category))
        .ok_or_else(|| {
            ArmError::new(
                "InvalidPolicyExemptionCategory",
                format!("The policy exemption '{name}' has an invalid exemption category '{category}'. The allowed values are 'Waiver, Mitigated'."),
            )
        })?;
    let validation = p
        .get("assignmentScopeValidation")
        .and_then(Value::as_str)
        .unwrap_or("Default");
    let assignment_scope = assignment["properties"]["scope"]
        .as_str()
        .unwrap_or_default();
    // within: below by id, or below through the management-group hierarchy (an exemption on a
    // subscription or a child group of a group's assignment)
    let key = scope.key();
    let groups_above: Vec<String> =
        match (&scope.subscription, crate::hierarchy::group_of_scope(&key)) {
            (Some(sub), _) => super::effective::group_ancestors(cx.snap, sub),
            (None, Some(g)) => cx
                .snap
                .groups
                .ancestors(g)
                .iter()
                .map(|g| crate::hierarchy::group_key(&g.name))
                .collect(),
            _ => Vec::new(),
        };
    let a_scope = assignment_scope.to_lowercase();
    let within = is_at_or_above(&a_scope, &key)
        || groups_above
            .iter()
            .any(|g| *g == a_scope.trim_end_matches('/'));
    if validation.eq_ignore_ascii_case("Default") && !within {
        return Err(ArmError::new(
            "PolicyExemptionScopeNotWithinAssignmentScope",
            format!("The policy exemption '{name}' scope '{}' is not within the scope '{assignment_scope}' of the policy assignment '{assignment_id}'.", scope_string(scope)),
        ));
    }
    let refs = match p.get("policyDefinitionReferenceIds") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if !refs.is_empty() {
        let def_id = assignment["properties"]["policyDefinitionId"]
            .as_str()
            .unwrap_or_default();
        let set_refs: Vec<String> = match resolve_definition(store, def_id)? {
            Some((Kind::Set, set)) => set["properties"]["policyDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    r["policyDefinitionReferenceId"]
                        .as_str()
                        .map(str::to_lowercase)
                })
                .collect(),
            _ => Vec::new(),
        };
        if let Some(bad) = refs
            .iter()
            .filter_map(Value::as_str)
            .find(|r| !set_refs.contains(&r.to_lowercase()))
        {
            return Err(ArmError::new(
                "InvalidPolicyDefinitionReferenceId",
                format!("The policy exemption '{name}' names the policy definition reference id '{bad}', which the assigned policy set definition '{def_id}' does not have."),
            ));
        }
    }
    if let Some(e) = p.get("expiresOn").filter(|v| !v.is_null()) {
        let ok = e.as_str().is_some_and(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        });
        if !ok {
            return Err(ArmError::invalid_request_content(&format!(
                "The 'expiresOn' value '{}' is not a valid date and time.",
                plain(e)
            )));
        }
    }
    let mut props = Map::new();
    props.insert("policyAssignmentId".into(), json!(assignment_id));
    props.insert("policyDefinitionReferenceIds".into(), Value::Array(refs));
    props.insert("exemptionCategory".into(), json!(category));
    for k in [
        "displayName",
        "description",
        "metadata",
        "expiresOn",
        "resourceSelectors",
    ] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            props.insert(k.into(), v.clone());
        }
    }
    props.insert("assignmentScopeValidation".into(), json!(validation));
    let created = existing.map(|e| e["systemData"].clone());
    Ok(json!({
        "properties": props,
        "systemData": cx.system_data(created.as_ref()),
        "id": format!("{}/providers/{EXEMPTION}/{name}", scope_string(scope)),
        "type": EXEMPTION,
        "name": name,
    }))
}

pub fn policy_exemptions_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    store
        .get(&cx.id.key())?
        .map(|r| Reply::json_bytes(200, r.json().to_vec()))
        .ok_or_else(|| exemption_not_found(cx))
}

/// PolicyExemptions_Update (PATCH): resource selectors and scope validation.
pub fn policy_exemptions_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let existing = store
        .read(|tx| tx.get(&cx.id.key()))?
        .map(|r| r.body)
        .ok_or_else(|| exemption_not_found(cx))?;
    let patch = cx.object_body()?;
    let mut merged = existing.as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(pp)) = patch.get("properties") {
        if let Some(Value::Object(mp)) = merged.get_mut("properties") {
            for (k, v) in pp {
                mp.insert(k.clone(), v.clone());
            }
        }
    }
    let scope = cx.id.scope_of_last_part();
    let out = build_exemption(cx, store, &scope, &merged, Some(&existing))?;
    store.write(|tx| tx.put(&stored_row(cx.id, EXEMPTION, out.clone())))?;
    Ok(Reply::json(200, &out))
}

pub fn policy_exemptions_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    Ok(Reply::empty(if store.write(|tx| tx.delete(&key))? {
        200
    } else {
        204
    }))
}

/// PolicyExemptions_List*: `atScope()`, `atExactScope()`, `excludeExpired()`,
/// `policyAssignmentId eq '…'`.
pub fn policy_exemptions_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let filter = list_filter(cx.req.query("$filter"), &["policyAssignmentId"])?;
    Ok(list_reply(cx, listed(cx, store, EXEMPTION, &filter)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let ok = |f: &str| list_filter(Some(f), &["policyDefinitionId"]).map(|l| l.scope);
        assert_eq!(ok("atScope()").unwrap(), ScopeFilter::AtScope);
        assert_eq!(ok("atExactScope()").unwrap(), ScopeFilter::AtExactScope);
        assert_eq!(
            ok("atscopeandbelow()").unwrap(),
            ScopeFilter::AtScopeAndBelow
        );
        assert_eq!(ok("policyDefinitionId eq '/x'").unwrap(), ScopeFilter::All);
        assert!(ok("atScope() and atExactScope()").is_err());
        assert!(ok("name eq 'x'").is_err());
        assert!(ok("excludeExpired()").is_err());
        assert!(list_filter(
            Some("excludeExpired() and atScope()"),
            &["policyAssignmentId"]
        )
        .is_ok());
    }

    #[test]
    fn parameters_follow_the_definition() {
        let def = json!({"name": "d", "properties": {"parameters": {
            "effect": {"type": "String", "allowedValues": ["Audit", "Deny"], "defaultValue": "Audit"},
            "tagName": {"type": "String"},
            "locs": {"type": "Array", "allowedValues": ["westeurope", "northeurope"]}}}});
        let check =
            |p: Value| check_parameters("a", &def, p.as_object().unwrap()).map_err(|e| e.code);
        assert!(
            check(json!({"tagName": {"value": "env"}, "locs": {"value": ["westeurope"]}})).is_ok()
        );
        assert_eq!(
            check(json!({"locs": {"value": []}})),
            Err("MissingPolicyParameter".into())
        );
        assert_eq!(
            check(json!({"tagName": {"value": "x"}, "locs": {"value": []}, "other": {"value": 1}})),
            Err("UndefinedPolicyParameter".into())
        );
        assert_eq!(
            check(
                json!({"tagName": {"value": "x"}, "locs": {"value": []}, "effect": {"value": "deny"}})
            ),
            Err("PolicyParameterValueNotAllowed".into())
        );
        assert_eq!(
            check(json!({"tagName": {"value": "x"}, "locs": {"value": ["eastus"]}})),
            Err("PolicyParameterValueNotAllowed".into())
        );
    }
}

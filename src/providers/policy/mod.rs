//! Microsoft.Authorization policy definitions and set definitions (initiatives) with their versions, at
//! a subscription or a management group, beside the read-only built-in catalogue embedded from
//! fixtures/policy/built-in-policies (served at the tenant). Stores and validates; never evaluates a rule
//! (that is the policy language's). Follows the 2025-11-01 policy spec and its examples; assignments and
//! exemptions are in `assignments`.

pub mod assignments;
mod builtins;
pub mod effective;

pub use builtins::{built_ins, BuiltIns};

use serde_json::{json, Map, Value};

// (the shared helpers of `providers`, also for `assignments`)
use super::{list_reply, named_not_found, parse_eq_filter, split_and, stored_row, Cx};
use crate::arm::error::ArmError;
use crate::arm::policy_route::PolicyOp;
use crate::arm::resource_id::{is_at_or_above, ResourceId};
use crate::store::Store;
use crate::wire::Reply;

/// A policy definition or a policy set definition (initiative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Definition,
    Set,
}

impl Kind {
    pub fn rtype(self) -> &'static str {
        match self {
            Kind::Definition => "Microsoft.Authorization/policyDefinitions",
            Kind::Set => "Microsoft.Authorization/policySetDefinitions",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Kind::Definition => "policy definition",
            Kind::Set => "policy set definition",
        }
    }
    /// `PolicyDefinitionNotFound` / `PolicySetDefinitionNotFound` (Azure's codes, seen in
    /// Azure/Azure-Landing-Zones#3950: "The policy definition 'x' could not be found.").
    pub fn not_found_code(self) -> &'static str {
        match self {
            Kind::Definition => "PolicyDefinitionNotFound",
            Kind::Set => "PolicySetDefinitionNotFound",
        }
    }
    fn of(op: PolicyOp) -> Kind {
        use PolicyOp::*;
        match op {
            PolicySetDefinitionsCreateOrUpdate
            | PolicySetDefinitionsGet
            | PolicySetDefinitionsDelete
            | PolicySetDefinitionsList
            | PolicySetDefinitionVersionsCreateOrUpdate
            | PolicySetDefinitionVersionsGet
            | PolicySetDefinitionVersionsDelete
            | PolicySetDefinitionVersionsList
            | PolicySetDefinitionVersionsListAll => Kind::Set,
            _ => Kind::Definition,
        }
    }
}

/// The one entry point from dispatch: the handler named after the operation.
pub fn run(op: PolicyOp, cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    use PolicyOp::*;
    let kind = Kind::of(op);
    match op {
        PolicyDefinitionsCreateOrUpdate | PolicySetDefinitionsCreateOrUpdate => {
            definitions_create_or_update(cx, store, kind)
        }
        PolicyDefinitionsGet | PolicySetDefinitionsGet => definitions_get(cx, store, kind),
        PolicyDefinitionsDelete | PolicySetDefinitionsDelete => definitions_delete(cx, store, kind),
        PolicyDefinitionsList | PolicySetDefinitionsList => definitions_list(cx, store, kind),
        PolicyDefinitionVersionsCreateOrUpdate | PolicySetDefinitionVersionsCreateOrUpdate => {
            definition_versions_create_or_update(cx, store, kind)
        }
        PolicyDefinitionVersionsGet | PolicySetDefinitionVersionsGet => {
            definition_versions_get(cx, store, kind)
        }
        PolicyDefinitionVersionsDelete | PolicySetDefinitionVersionsDelete => {
            definition_versions_delete(cx, store, kind)
        }
        PolicyDefinitionVersionsList | PolicySetDefinitionVersionsList => {
            definition_versions_list(cx, store, kind)
        }
        PolicyDefinitionVersionsListAll | PolicySetDefinitionVersionsListAll => {
            definition_versions_list_all(cx, store, kind)
        }
        PolicyAssignmentsCreate => assignments::policy_assignments_create(cx, store),
        PolicyAssignmentsGet => assignments::policy_assignments_get(cx, store),
        PolicyAssignmentsUpdate => assignments::policy_assignments_update(cx, store),
        PolicyAssignmentsDelete => assignments::policy_assignments_delete(cx, store),
        PolicyAssignmentsList => assignments::policy_assignments_list(cx, store),
        PolicyExemptionsCreateOrUpdate => {
            assignments::policy_exemptions_create_or_update(cx, store)
        }
        PolicyExemptionsGet => assignments::policy_exemptions_get(cx, store),
        PolicyExemptionsUpdate => assignments::policy_exemptions_update(cx, store),
        PolicyExemptionsDelete => assignments::policy_exemptions_delete(cx, store),
        PolicyExemptionsList => assignments::policy_exemptions_list(cx, store),
        // signed by the edge's key: served by `policy_tokens` through dispatch
        PolicyTokensAcquire => Err(ArmError::internal()),
    }
}

/// Is this the tenant scope (no subscription, no management group)?
fn at_tenant(id: &ResourceId) -> bool {
    id.subscription.is_none() && id.providers.len() == 1
}

/// The definition or set definition `id_str` names (a built-in at the tenant, or a stored custom one),
/// with its kind, or `None`.
pub fn resolve_definition(store: &Store, id_str: &str) -> Result<Option<(Kind, Value)>, ArmError> {
    let Ok(id) = ResourceId::parse(id_str) else {
        return Ok(None);
    };
    let Some(t) = id.full_type() else {
        return Ok(None);
    };
    let kind = if t.eq_ignore_ascii_case(Kind::Definition.rtype()) {
        Kind::Definition
    } else if t.eq_ignore_ascii_case(Kind::Set.rtype()) {
        Kind::Set
    } else {
        return Ok(None);
    };
    if at_tenant(&id) {
        return Ok(built_ins()
            .get(kind, id.name().unwrap_or_default())
            .map(|v| (kind, v.clone())));
    }
    Ok(store.get(&id.key())?.map(|r| (kind, r.body.clone())))
}

fn not_found(cx: &Cx, kind: Kind) -> ArmError {
    named_not_found(cx, kind.not_found_code(), kind.what())
}

fn invalid(code: &str, message: String) -> ArmError {
    ArmError::new(code, message)
}

/// Semantic versions order numerically (`1.10.0` after `1.9.0`); anything else as text.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0))
        .collect()
}

fn props_of(body: &Map<String, Value>) -> Result<Map<String, Value>, ArmError> {
    match body.get("properties") {
        Some(Value::Object(p)) => Ok(p.clone()),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => Err(ArmError::invalid_request_content(
            "The 'properties' property must be an object.",
        )),
    }
}

/// Checks a definition's or set definition's properties and returns what Azure stores.
fn checked_properties(
    cx: &Cx,
    store: &Store,
    kind: Kind,
    name: &str,
    mut p: Map<String, Value>,
) -> Result<Map<String, Value>, ArmError> {
    // ARM-FACTS §13.1: displayName ≤ 128, description ≤ 512. The specs state no maxLength, and
    // Microsoft's own Lighthouse sample (policy-allow-certain-managing-tenants, api-version 2018-05-01)
    // deploys a 143-character displayName: the limit is applied from the 2019 api-versions on.
    let old_api = cx.api_version < "2019-01-01";
    if !old_api
        && p.get("displayName")
            .and_then(Value::as_str)
            .is_some_and(|d| d.chars().count() > 128)
    {
        return Err(invalid(
            "InvalidPolicyDefinitionDisplayName",
            format!(
                "The {} '{name}' display name exceeds the maximum length of 128 characters.",
                kind.what()
            ),
        ));
    }
    if p.get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.chars().count() > 512)
    {
        return Err(invalid(
            "InvalidPolicyDefinitionDescription",
            format!(
                "The {} '{name}' description exceeds the maximum length of 512 characters.",
                kind.what()
            ),
        ));
    }
    if let Some(params) = p.get("parameters").filter(|v| !v.is_null()) {
        let Some(params) = params.as_object() else {
            return Err(ArmError::invalid_request_content(
                "The 'parameters' property must be an object.",
            ));
        };
        for (pn, def) in params {
            // Azure's rule, seen as PolicyParameterAllowedAndDefaultValuesMismatch
            // (Azure/azure-monitor-baseline-alerts#917).
            if let (Some(allowed), Some(default)) = (
                def.get("allowedValues").and_then(Value::as_array),
                def.get("defaultValue"),
            ) {
                if !allowed.contains(default) {
                    let list: Vec<String> = allowed.iter().map(plain).collect();
                    return Err(invalid(
                        "PolicyParameterAllowedAndDefaultValuesMismatch",
                        format!("The policy '{name}' defines parameter '{pn}' with a default value '{}' and allowed values '{}'. The 'allowedValues' property must include the value of the 'defaultValue' property if both are present.", plain(default), list.join(",")),
                    ));
                }
            }
        }
    }
    match kind {
        Kind::Definition => {
            if !p.get("policyRule").is_some_and(Value::is_object) {
                // emulator's code: Azure refuses a definition without a rule
                return Err(invalid(
                    "InvalidPolicyRule",
                    format!("The policy definition '{name}' has no valid 'policyRule': it must be an object with 'if' and 'then'."),
                ));
            }
            let mode = p
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or("Indexed")
                .to_string();
            p.insert("mode".into(), json!(mode));
        }
        Kind::Set => check_set_references(cx, store, name, &mut p)?,
    }
    p.insert("policyType".into(), json!("Custom"));
    if !p.get("parameters").is_some_and(Value::is_object) {
        p.insert("parameters".into(), json!({}));
    }
    if !p.get("metadata").is_some_and(Value::is_object) {
        p.insert("metadata".into(), json!({}));
    }
    let meta = p
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .unwrap();
    meta.entry("createdBy")
        .or_insert_with(|| json!(cx.caller.object_id));
    meta.entry("createdOn")
        .or_insert_with(|| json!(cx.now_str()));
    Ok(p)
}

/// `1.*.*` for a definition at version 1.x.y: how a reference or assignment follows its definition.
pub fn major_pin(def: &Value) -> String {
    let v = def["properties"]["version"].as_str().unwrap_or("1.0.0");
    format!("{}.*.*", v.split('.').next().unwrap_or("1"))
}

/// A JSON value as Azure prints it in messages (strings bare).
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every reference of a set definition names a definition that exists, with parameters it defines;
/// reference ids are unique (generated when missing) and group names are the set's groups.
fn check_set_references(
    cx: &Cx,
    store: &Store,
    name: &str,
    p: &mut Map<String, Value>,
) -> Result<(), ArmError> {
    let groups: Vec<String> = p
        .get("policyDefinitionGroups")
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(|g| g["name"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let Some(refs) = p
        .get_mut("policyDefinitions")
        .and_then(Value::as_array_mut)
        .filter(|r| !r.is_empty())
    else {
        return Err(invalid(
            "InvalidPolicySetDefinitionRequest",
            format!("The policy set definition '{name}' request is invalid. At least one policy definition must be referenced."),
        ));
    };
    let mut seen = Vec::new();
    for (i, r) in refs.iter_mut().enumerate() {
        let def_id = r["policyDefinitionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some((Kind::Definition, def)) = resolve_definition(store, &def_id)? else {
            // Azure's code and wording (Azure/Enterprise-Scale#804).
            return Err(invalid(
                "PolicyDefinitionNotFound",
                format!("The policy set definition '{name}' request is invalid. The policy definition '{def_id}' could not be found."),
            )
            .with_status(404));
        };
        let reference = match r["policyDefinitionReferenceId"].as_str() {
            Some(s) if !s.is_empty() => s.to_string(),
            // Azure generates a number-like id when none is given
            _ => format!("{}{i}", &cx.new_id.replace('-', "")[..12]),
        };
        if seen.contains(&reference.to_lowercase()) {
            return Err(invalid(
                "InvalidPolicySetDefinitionRequest",
                format!("The policy set definition '{name}' request is invalid. The policy definition reference id '{reference}' is used more than once."),
            ));
        }
        seen.push(reference.to_lowercase());
        r["policyDefinitionReferenceId"] = json!(reference);
        if r.get("definitionVersion").is_none_or(Value::is_null) {
            // Azure pins each reference to the referenced definition's major version
            r["definitionVersion"] = json!(major_pin(&def));
        }
        for g in r["groupNames"].as_array().into_iter().flatten() {
            let g = g.as_str().unwrap_or_default();
            if !groups.contains(&g.to_lowercase()) {
                return Err(invalid(
                    "InvalidPolicySetDefinitionRequest",
                    format!("The policy set definition '{name}' request is invalid. The group name '{g}' referenced by '{reference}' is not defined in 'policyDefinitionGroups'."),
                ));
            }
        }
        // Azure's wording (UndefinedPolicyParameter, gettek/terraform-azurerm-policy-as-code#47).
        let defined = &def["properties"]["parameters"];
        let unknown: Vec<&str> = r["parameters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                !defined
                    .as_object()
                    .is_some_and(|d| d.keys().any(|dk| dk.eq_ignore_ascii_case(k)))
            })
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(
                "UndefinedPolicyParameter",
                format!("The policy set definition '{name}' is attempting to assign the parameter(s) '{}' which are not defined in the policy definition '{}'.", unknown.join(","), def["name"].as_str().unwrap_or_default()),
            ));
        }
    }
    Ok(())
}

fn body_for(
    scope: &ResourceId,
    kind: Kind,
    name: &str,
    props: Map<String, Value>,
    system_data: Value,
) -> Value {
    let scope = scope.canonical();
    let scope = if scope == "/" { String::new() } else { scope };
    json!({
        "properties": props,
        "id": format!("{scope}/providers/{}/{name}", kind.rtype()),
        "type": kind.rtype(),
        "name": name,
        "systemData": system_data,
    })
}

fn version_id(def_id: &ResourceId, v: &str) -> ResourceId {
    ResourceId::parse(&format!("{}/versions/{v}", def_id.canonical())).expect("a version id parses")
}

/// The stored versions of a custom definition, newest first.
fn stored_versions(store: &Store, def_key: &str, kind: Kind) -> Result<Vec<Value>, ArmError> {
    let rtype = format!("{}/versions", kind.rtype()).to_lowercase();
    let mut rows: Vec<Value> = store
        .read(|tx| tx.children(def_key, &rtype))?
        .into_iter()
        .map(|r| r.body)
        .collect();
    rows.sort_by_key(|b| std::cmp::Reverse(version_key(b["name"].as_str().unwrap_or(""))));
    Ok(rows)
}

fn version_body(def: &Value, kind: Kind, v: &str) -> Value {
    let mut props = def["properties"].clone();
    if let Some(p) = props.as_object_mut() {
        p.remove("versions");
        p.insert("version".into(), json!(v));
    }
    json!({
        "properties": props,
        "id": format!("{}/versions/{v}", def["id"].as_str().unwrap_or_default()),
        "type": format!("{}/versions", kind.rtype()),
        "name": v,
        "systemData": def.get("systemData").cloned().unwrap_or(Value::Null),
    })
}

/// PUT of a definition: stores it and its version (`properties.version`, default 1.0.0) and answers
/// 201 as the spec says for definitions (set definitions: 201 on create, 200 on update).
pub fn definitions_create_or_update(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    let body = cx.object_body()?;
    let props = props_of(body)?;
    let mut props = checked_properties(cx, store, kind, &name, props)?;
    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    let version = props
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("1.0.0")
        .to_string();
    props.insert("version".into(), json!(version));
    let scope = cx.id.scope_of_last_part();
    let created = existing.as_ref().map(|e| e.body["systemData"].clone());
    let mut out = body_for(&scope, kind, &name, props, cx.system_data(created.as_ref()));
    if let Some(e) = &existing {
        // the creator and creation time stay
        for k in ["createdBy", "createdOn"] {
            if let Some(v) = e.body["properties"]["metadata"].get(k) {
                out["properties"]["metadata"][k] = v.clone();
            }
        }
    }
    let vid = version_id(cx.id, &version);
    let vbody = version_body(&out, kind, &version);
    let vrow = stored_row(&vid, &format!("{}/versions", kind.rtype()), vbody);
    store.write(|tx| tx.put(&vrow))?;
    let mut versions: Vec<String> = stored_versions(store, &key, kind)?
        .iter()
        .filter_map(|v| v["name"].as_str().map(String::from))
        .collect();
    if versions.is_empty() {
        versions.push(version.clone());
    }
    out["properties"]["versions"] = json!(versions);
    store.write(|tx| tx.put(&stored_row(cx.id, kind.rtype(), out.clone())))?;
    let status = match (kind, existing.is_some()) {
        (Kind::Set, true) => 200,
        _ => 201,
    };
    Ok(Reply::json(status, &out))
}

pub fn definitions_get(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    if at_tenant(cx.id) {
        return built_ins()
            .get(kind, cx.id.name().unwrap_or_default())
            .map(|v| Reply::json(200, v))
            .ok_or_else(|| not_found(cx, kind));
    }
    if let Some(r) = store.get(&cx.id.key())? {
        return Ok(Reply::json_bytes(200, r.json().to_vec()));
    }
    Err(not_found(cx, kind))
}

/// DELETE: 200 when it existed, 204 otherwise; refused while an assignment (or, for a definition, an
/// initiative) still references it: 400 `InvalidDeletePolicyDefinitionRequest` with Azure's wording
/// ("… cannot be deleted. It is referenced by the policy assignment '…'. Please delete all policy
/// assignments referencing the policy.", azuredemoenvironment/ade#37, Azure/Azure-Landing-Zones#444).
pub fn definitions_delete(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    let Some(row) = store.read(|tx| tx.get(&key))? else {
        return Ok(Reply::empty(204));
    };
    let my_id = row.body["id"].as_str().unwrap_or_default().to_lowercase();
    let refers = |v: &Value| v.as_str().is_some_and(|d| d.to_lowercase() == my_id);
    let mut users = Vec::new();
    for a in store.read(|tx| tx.by_type("microsoft.authorization/policyassignments", None, None))? {
        if refers(&a.body["properties"]["policyDefinitionId"]) {
            users.push(("policy assignment", a.body["id"].clone()));
        }
    }
    if kind == Kind::Definition {
        for s in store
            .read(|tx| tx.by_type("microsoft.authorization/policysetdefinitions", None, None))?
        {
            let refs = s.body["properties"]["policyDefinitions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if refs.iter().any(|r| refers(&r["policyDefinitionId"])) {
                users.push(("policy set definition", s.body["id"].clone()));
            }
        }
    }
    if let Some((what_uses, id)) = users.first() {
        let code = match kind {
            Kind::Definition => "InvalidDeletePolicyDefinitionRequest",
            Kind::Set => "InvalidDeletePolicySetDefinitionRequest",
        };
        return Err(invalid(
            code,
            format!("The {} '{}' cannot be deleted. It is referenced by the {what_uses} '{}'. Please delete all {what_uses}s referencing the policy.", kind.what(), cx.id.name().unwrap_or_default(), plain(id)),
        ));
    }
    let vtype = format!("{}/versions", kind.rtype()).to_lowercase();
    store.write(|tx| {
        for v in tx.children(&key, &vtype)? {
            tx.delete(&v.key)?;
        }
        tx.delete(&key)
    })?;
    Ok(Reply::empty(200))
}

/// `policyType eq 'BuiltIn'|'Custom'|'Static'` and `category eq '…'` (the spec's `$filter` values).
struct DefinitionFilter {
    policy_type: Option<String>,
    category: Option<String>,
}

fn definition_filter(f: Option<&str>) -> Result<DefinitionFilter, ArmError> {
    let mut out = DefinitionFilter {
        policy_type: None,
        category: None,
    };
    let Some(f) = f.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(out);
    };
    let pairs = parse_eq_filter(f).ok_or_else(|| ArmError::invalid_filter(f))?;
    for (k, v) in pairs {
        match k.to_ascii_lowercase().as_str() {
            "policytype" => out.policy_type = Some(v.to_lowercase()),
            "category" => out.category = Some(v.to_lowercase()),
            _ => return Err(ArmError::invalid_filter(f)),
        }
    }
    Ok(out)
}

/// Lists at a subscription or management group: the customs stored there, then the built-ins (as
/// Azure lists them side by side); at the tenant the built-ins only.
pub fn definitions_list(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let filter = definition_filter(cx.req.query("$filter"))?;
    let mut items: Vec<Value> = Vec::new();
    if !at_tenant(cx.id) {
        let scope = scope_of_collection(cx.id).key();
        let rows = store.read(|tx| tx.by_type(&kind.rtype().to_lowercase(), None, None))?;
        items.extend(
            rows.into_iter()
                .filter(|r| is_at_or_above(&r.parent, &scope))
                .map(|r| r.body),
        );
    }
    items.extend(built_ins().all(kind).iter().cloned());
    let items = items
        .into_iter()
        .filter(|v| {
            let p = &v["properties"];
            filter.policy_type.as_ref().is_none_or(|t| {
                p["policyType"]
                    .as_str()
                    .is_some_and(|pt| pt.to_lowercase() == *t)
            }) && filter.category.as_ref().is_none_or(|c| {
                p["metadata"]["category"]
                    .as_str()
                    .is_some_and(|pc| pc.to_lowercase() == *c)
            })
        })
        .collect();
    Ok(list_reply(cx, items))
}

/// The scope a collection URL (`{scope}/providers/Microsoft.Authorization/{type}`) lists.
pub fn scope_of_collection(id: &ResourceId) -> ResourceId {
    let mut s = id.clone();
    if let Some(p) = s.providers.last_mut() {
        p.types.pop();
        if p.types.is_empty() {
            s.providers.pop();
        }
    }
    s
}

/// The definition of a version URL (`…/{name}/versions[/{v}]`).
fn definition_of_version(id: &ResourceId) -> ResourceId {
    let mut d = id.clone();
    if let Some(p) = d.providers.last_mut() {
        p.types.truncate(1);
    }
    d
}

fn definition_versions(cx: &Cx, store: &Store, kind: Kind) -> Result<Option<Vec<Value>>, ArmError> {
    let def_id = definition_of_version(cx.id);
    if at_tenant(&def_id) {
        return Ok(built_ins()
            .get(kind, def_id.name().unwrap_or_default())
            .map(|v| {
                let ver = v["properties"]["version"].as_str().unwrap_or("1.0.0");
                vec![version_body(v, kind, ver)]
            }));
    }
    let key = def_id.key();
    if store.read(|tx| tx.get(&key))?.is_none() {
        return Ok(None);
    }
    Ok(Some(stored_versions(store, &key, kind)?))
}

pub fn definition_versions_list(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let def = definition_of_version(cx.id);
    match definition_versions(cx, store, kind)? {
        Some(v) => Ok(list_reply(cx, v)),
        None => Err(invalid(
            kind.not_found_code(),
            format!(
                "The {} '{}' could not be found.",
                kind.what(),
                def.name().unwrap_or_default()
            ),
        )
        .with_status(404)),
    }
}

pub fn definition_versions_get(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let want = cx.id.name().unwrap_or_default();
    definition_versions(cx, store, kind)?
        .and_then(|vs| vs.into_iter().find(|v| v["name"].as_str() == Some(want)))
        .map(|v| Reply::json(200, &v))
        .ok_or_else(|| {
            let def = definition_of_version(cx.id);
            invalid(
                &format!(
                    "{}VersionNotFound",
                    kind.not_found_code().trim_end_matches("NotFound")
                ),
                format!(
                    "The {} '{}' version '{want}' could not be found.",
                    kind.what(),
                    def.name().unwrap_or_default()
                ),
            )
            .with_status(404)
        })
}

/// PUT of a version: stores it; the definition itself (made when missing) shows the newest version's
/// properties and every version in `versions`. 201 on create, 200 on update.
pub fn definition_versions_create_or_update(
    cx: &Cx,
    store: &Store,
    kind: Kind,
) -> Result<Reply, ArmError> {
    let v = cx.id.name().unwrap_or_default().to_string();
    let def_id = definition_of_version(cx.id);
    let def_name = def_id.name().unwrap_or_default().to_string();
    let body = cx.object_body()?;
    let mut props = checked_properties(cx, store, kind, &def_name, props_of(body)?)?;
    props.insert("version".into(), json!(v));
    let key = cx.id.key();
    let existing = store.read(|tx| tx.get(&key))?;
    let scope = def_id.scope_of_last_part();
    let def_body = body_for(&scope, kind, &def_name, props, cx.system_data(None));
    let vbody = version_body(&def_body, kind, &v);
    store.write(|tx| {
        tx.put(&stored_row(
            cx.id,
            &format!("{}/versions", kind.rtype()),
            vbody.clone(),
        ))
    })?;
    let def_key = def_id.key();
    let versions = stored_versions(store, &def_key, kind)?;
    let names: Vec<String> = versions
        .iter()
        .filter_map(|x| x["name"].as_str().map(String::from))
        .collect();
    let current = store.read(|tx| tx.get(&def_key))?;
    let newest = names.first().cloned().unwrap_or_else(|| v.clone());
    let mut def = match current {
        Some(c) if newest != v => c.body,
        _ => def_body,
    };
    def["properties"]["versions"] = json!(names);
    store.write(|tx| tx.put(&stored_row(&def_id, kind.rtype(), def)))?;
    Ok(Reply::json(
        if existing.is_some() { 200 } else { 201 },
        &vbody,
    ))
}

pub fn definition_versions_delete(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let key = cx.id.key();
    if !store.write(|tx| tx.delete(&key))? {
        return Ok(Reply::empty(204));
    }
    let def_id = definition_of_version(cx.id);
    let def_key = def_id.key();
    let names: Vec<String> = stored_versions(store, &def_key, kind)?
        .iter()
        .filter_map(|x| x["name"].as_str().map(String::from))
        .collect();
    if let Some(mut def) = store.read(|tx| tx.get(&def_key))?.map(|r| r.body) {
        def["properties"]["versions"] = json!(names);
        store.write(|tx| tx.put(&stored_row(&def_id, kind.rtype(), def)))?;
    }
    Ok(Reply::empty(200))
}

/// `POST {scope}/providers/Microsoft.Authorization/listPolicy[Set]DefinitionVersions`: every version of
/// every definition at the scope (the built-ins' at the tenant).
pub fn definition_versions_list_all(cx: &Cx, store: &Store, kind: Kind) -> Result<Reply, ArmError> {
    let scope = scope_of_collection(cx.id);
    let items: Vec<Value> = if at_tenant(cx.id) {
        built_ins()
            .all(kind)
            .iter()
            .map(|d| {
                version_body(
                    d,
                    kind,
                    d["properties"]["version"].as_str().unwrap_or("1.0.0"),
                )
            })
            .collect()
    } else {
        let scope_key = scope.key();
        let vtype = format!("{}/versions", kind.rtype()).to_lowercase();
        store
            .read(|tx| tx.by_type(&vtype, None, None))?
            .into_iter()
            .filter(|r| {
                ResourceId::parse(&r.key)
                    .map(|i| definition_of_version(&i).scope_of_last_part().key() == scope_key)
                    .unwrap_or(false)
            })
            .map(|r| r.body)
            .collect()
    };
    Ok(Reply::json(200, &json!({ "value": items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        let mut v = vec!["1.9.0", "1.10.0", "1.2.1"];
        v.sort_by_key(|s| std::cmp::Reverse(version_key(s)));
        assert_eq!(v, ["1.10.0", "1.9.0", "1.2.1"]);
    }
}

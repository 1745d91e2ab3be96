//! Microsoft.Resources/deployments: template deployments at management-group, subscription and
//! resource-group scope (tenant scope refused). A deployment is validated by `template::prepare`, then
//! run synchronously: each resource goes through `cx.subrequest` — the whole ARM pipeline as the same
//! caller, so authorization, the providers' validation (the Lighthouse onboarding rules) and the
//! activity log apply exactly as to a direct request. The history keeps each deployment with its
//! state, times, correlation id, parameters, outputs, error and per-resource operations.
//! Follows the 2025-04-01 deployments spec, ARM-FACTS.md §1.10, §3.2 and §3.5.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Value};

use super::{list_reply, parse_eq_filter, stored_row, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::store::Store;
use crate::template::eval::{Context, Env};
use crate::template::locate::{locate, path_string, Seg};
use crate::template::{self, hash, Plan, TemplateError};
use crate::wire::{status_name, Reply};

const DEP_TYPE: &str = "Microsoft.Resources/deployments";
const DEP_TYPE_L: &str = "microsoft.resources/deployments";
const OP_TYPE_L: &str = "microsoft.resources/deployments/operations";
const FAILED_MESSAGE: &str = "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.";

/// The stored resource group `rg` of `sub`, or ResourceGroupNotFound.
fn require_group(store: &Store, sub: &str, rg: &str) -> Result<Value, ArmError> {
    let key = format!("/subscriptions/{sub}/resourcegroups/{rg}").to_lowercase();
    store
        .read(|tx| tx.get(&key))?
        .map(|r| r.body)
        .ok_or_else(|| ArmError::resource_group_not_found(rg))
}

/// Where a deployment runs.
#[derive(Debug, Clone)]
struct Scope {
    sub: String,
    rg: Option<String>,
    /// A management-group deployment: the group (as stored, its tenant's).
    mg: Option<crate::hierarchy::Group>,
}

fn scope_of(cx: &Cx) -> Result<Scope, ArmError> {
    if let Some(g) = cx
        .id
        .management_group()
        .filter(|_| cx.id.providers.len() == 2)
    {
        let group = cx
            .snap
            .groups
            .group(g)
            .filter(|x| {
                cx.caller.platform || x.tenant_id.eq_ignore_ascii_case(&cx.caller.tenant_id)
            })
            .ok_or_else(|| {
                ArmError::not_found(format!(
                    "'/providers/Microsoft.Management/managementGroups/{g}' not found"
                ))
                .with_status(404)
            })?;
        return Ok(Scope {
            sub: String::new(),
            rg: None,
            mg: Some(group.clone()),
        });
    }
    let tenant =
        cx.id.providers.len() > 1 || cx.id.subscription.as_deref().is_none_or(str::is_empty);
    if tenant {
        return Err(ArmError::new(
            "UnsupportedDeploymentScope",
            "The emulator runs deployments at management-group ('/providers/Microsoft.Management/managementGroups/{groupId}/providers/Microsoft.Resources/deployments/{name}'), subscription and resource-group scope; tenant deployments are not supported.",
        ));
    }
    Ok(Scope {
        sub: cx.sub_key(),
        rg: cx.id.resource_group.clone().filter(|r| !r.is_empty()),
        mg: None,
    })
}

/// The deployment's own id (without `/validate`, `/operations/…`).
fn deployment_id(cx: &Cx) -> ResourceId {
    let mut d = cx.id.clone();
    if let Some(p) = d.providers.last_mut() {
        p.types.truncate(1);
    }
    d
}

fn deployment_name(cx: &Cx) -> String {
    cx.id
        .last()
        .and_then(|p| p.types[0].1.clone())
        .unwrap_or_default()
}

fn not_found(name: &str) -> ArmError {
    ArmError::new(
        "DeploymentNotFound",
        format!("Deployment '{name}' could not be found."),
    )
}

/// `properties.onErrorDeployment` ("Rollback on error to successful deployment",
/// learn.microsoft.com/azure/azure-resource-manager/templates/rollback-on-error): resource-group
/// deployments only; the earlier deployment must be in the group's history and have succeeded.
/// Answers the echo `{type, deploymentName}` with the name resolved.
fn on_error_deployment(
    cx: &Cx,
    store: &Store,
    scope: &Scope,
    name: &str,
) -> Result<Option<Value>, ArmError> {
    let Some(od) = cx
        .object_body()?
        .get("properties")
        .and_then(|p| p.get("onErrorDeployment"))
        .filter(|v| !v.is_null())
    else {
        return Ok(None);
    };
    // The code is the emulator's: the documentation says only that such a rollback "returns an error".
    let invalid = |m: String| ArmError::new("InvalidOnErrorDeployment", m);
    let Some(rg) = &scope.rg else {
        return Err(invalid(format!("The deployment '{name}' cannot roll back on error: 'onErrorDeployment' is supported only for resource group deployments.")));
    };
    let rows =
        store.read(|tx| tx.by_type(DEP_TYPE_L, Some(&scope.sub), Some(&rg.to_lowercase())))?;
    let succeeded = |b: &Value| b["properties"]["provisioningState"] == "Succeeded";
    let kind = od["type"].as_str().unwrap_or("LastSuccessful");
    let target = match kind.to_ascii_lowercase().as_str() {
        "specificdeployment" => {
            let want = od["deploymentName"].as_str().unwrap_or_default();
            match rows.iter().find(|r| r.body["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(want))) {
                Some(r) if succeeded(&r.body) => r.body["name"].as_str().unwrap_or(want).to_string(),
                Some(_) => return Err(invalid(format!("The deployment '{want}' named by 'onErrorDeployment' of '{name}' did not succeed; only a successful deployment can be redeployed."))),
                None => return Err(not_found(want)),
            }
        }
        "lastsuccessful" => rows
            .iter()
            .filter(|r| succeeded(&r.body) && r.body["name"].as_str().is_some_and(|n| !n.eq_ignore_ascii_case(name)))
            .max_by(|a, b| a.body["properties"]["timestamp"].as_str().cmp(&b.body["properties"]["timestamp"].as_str()))
            .and_then(|r| r.body["name"].as_str().map(String::from))
            .ok_or_else(|| invalid(format!("The deployment '{name}' asks to roll back to the last successful deployment on error, but resource group '{rg}' has no successful deployment in its history.")))?,
        _ => {
            return Err(ArmError::invalid_request_content(&format!(
                "Error converting value \"{kind}\" to type 'OnErrorDeploymentType'. Path 'properties.onErrorDeployment.type'"
            )))
        }
    };
    let kind = if kind.eq_ignore_ascii_case("SpecificDeployment") {
        "SpecificDeployment"
    } else {
        "LastSuccessful"
    };
    Ok(Some(json!({"type": kind, "deploymentName": target})))
}

/// After a failure: redeploy the earlier deployment as it ran (its template and parameters), in
/// complete mode, through the pipeline as the caller. Returns its provisioning state.
fn roll_back(cx: &Cx, store: &Store, od: &Value) -> Result<String, ArmError> {
    let mut id = deployment_id(cx);
    if let Some(p) = id.providers.last_mut() {
        p.types[0].1 = od["deploymentName"].as_str().map(String::from);
    }
    let Some(earlier) = store.read(|tx| tx.get(&id.key()))? else {
        return Ok("Failed".into());
    };
    let parameters: serde_json::Map<String, Value> = earlier.body["properties"]["parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!({"value": v["value"]})))
        .collect();
    let body = json!({"properties": {"mode": "Complete", "template": earlier.body["_template"], "parameters": parameters}});
    let r = (cx.subrequest)(
        "PUT",
        &format!("{}?api-version={}", id.canonical(), cx.api_version),
        Some(&body),
    );
    if r.status >= 300 {
        return Ok("Failed".into());
    }
    // the PUT answers Accepted; the redeployment's outcome is what it left in the history
    let state = store.read(|tx| tx.get(&id.key()))?.and_then(|row| {
        row.body["properties"]["provisioningState"]
            .as_str()
            .map(String::from)
    });
    Ok(state.unwrap_or_else(|| "Failed".into()))
}

fn check_name(name: &str) -> Result<(), ArmError> {
    if name.chars().count() > 64 {
        return Err(ArmError::new(
            "DeploymentNameLengthLimitExceeded",
            format!("The provided deployment name '{name}' has a length of '{}' which exceeds the maximum length of '64'. Please see https://aka.ms/arm-deploy-resources for usage details.", name.chars().count()),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
    {
        return Err(ArmError::new(
            "DeploymentNameInvalidCharacters",
            format!("The provided deployment name '{name}' has these invalid characters: '{}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'. Please see https://aka.ms/arm-deploy-resources for usage details.", name.chars().filter(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))).collect::<String>()),
        ));
    }
    Ok(())
}

/// The parts of a deployment request body, checked.
struct Request {
    location: Option<String>,
    tags: Option<Value>,
    mode: String,
    template: Value,
    parameters: Option<Value>,
    debug: Option<Value>,
    /// `templateLink` when it names a template spec version: echoed in the answer.
    template_link: Option<Value>,
}

fn parse_request(cx: &Cx, scope: &Scope, name: &str) -> Result<Request, ArmError> {
    let body = cx.object_body()?;
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ArmError::invalid_request_content("Required property 'properties' not found in JSON.")
        })?;
    let spec_link = props
        .get("templateLink")
        .filter(|l| l["id"].is_string() && l["uri"].is_null());
    for link in ["templateLink", "parametersLink"] {
        if let Some(l) = props.get(link).filter(|l| !l.is_null()) {
            if link == "templateLink" && spec_link.is_some() {
                continue;
            }
            let uri = l["uri"].as_str().or(l["id"].as_str()).unwrap_or_default();
            return Err(ArmError::new(
                "InvalidDeployment",
                format!("The deployment '{name}' uses '{link}' ('{uri}'), but the emulator has no network access and cannot fetch linked templates, template specs or parameter files. Send the template inline in 'properties.template' and the parameters in 'properties.parameters'."),
            ));
        }
    }
    let template = match spec_link {
        Some(l) => Some(template_spec(cx, l["id"].as_str().unwrap_or_default())?),
        None => props.get("template").filter(|t| !t.is_null()).cloned(),
    };
    let template = template
        .ok_or_else(|| {
            ArmError::new(
                "InvalidDeployment",
                format!("The deployment '{name}' must specify 'properties.template' (inline templates only; 'templateLink' is not supported by the emulator)."),
            )
        })?;
    let mode = props
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("Incremental")
        .to_string();
    let mode = match mode.to_ascii_lowercase().as_str() {
        "incremental" => "Incremental".to_string(),
        "complete" if scope.rg.is_some() => "Complete".to_string(),
        "complete" => {
            return Err(ArmError::new(
                "InvalidDeployment",
                format!("The deployment mode 'Complete' is not supported for deployment '{name}' at subscription scope. Please use 'Incremental' mode instead."),
            ))
        }
        _ => {
            return Err(ArmError::invalid_request_content(&format!(
                "Error converting value \"{mode}\" to type 'DeploymentMode'. Path 'properties.mode'"
            )))
        }
    };
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .map(String::from);
    if scope.rg.is_none() && location.is_none() {
        return Err(ArmError::new(
            "InvalidDeployment",
            format!("The 'location' property must be specified for '{name}'. Please see https://aka.ms/deploy-to-subscription for usage details."),
        ));
    }
    let mut parameters = props.get("parameters").filter(|p| !p.is_null()).cloned();
    if parameters.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(ArmError::invalid_request_content(
            "Error converting value to type 'Dictionary`2'. Path 'properties.parameters'.",
        ));
    }
    if let Some(Value::Object(ps)) = parameters.as_mut() {
        for p in ps.values_mut() {
            if let Some(Value::String(e)) = p.get_mut("expression") {
                *e = external_inputs(e, props, name)?;
            }
        }
    }
    let template_link = spec_link.map(|l| {
        json!({"id": l["id"], "contentVersion": template["contentVersion"].as_str().unwrap_or("1.0.0.0")})
    });
    Ok(Request {
        location,
        tags: body.get("tags").filter(|t| t.is_object()).cloned(),
        mode,
        template,
        parameters,
        debug: props.get("debugSetting").cloned(),
        template_link,
    })
}

/// A parameter expression with each `externalInputs('name')` replaced by the value the request
/// gives in `properties.externalInputs` (as `json('…')`); every name must be defined in
/// `externalInputDefinitions` (Deployments_CreateOrUpdate, "Create deployment using external inputs").
fn external_inputs(
    expr: &str,
    props: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<String, ArmError> {
    const F: &str = "externalInputs('";
    let mut out = expr.to_string();
    while let Some(start) = out.find(F) {
        let rest = &out[start + F.len()..];
        let Some(end) = rest.find("')") else { break };
        let input = rest[..end].to_string();
        let defined = props
            .get("externalInputDefinitions")
            .and_then(|d| d.get(&input))
            .is_some();
        let value = props.get("externalInputs").and_then(|i| i.get(&input));
        let (true, Some(value)) = (defined, value) else {
            return Err(ArmError::new(
                "InvalidDeployment",
                format!("The deployment '{name}' uses the external input '{input}', which 'properties.externalInputDefinitions' and 'properties.externalInputs' must both define."),
            ));
        };
        let literal = serde_json::to_string(&value["value"])
            .unwrap_or_default()
            .replace('\'', "''");
        out.replace_range(
            start..start + F.len() + end + 2,
            &format!("json('{literal}')"),
        );
    }
    Ok(out)
}

/// A template spec version's `mainTemplate`, read as the caller (`templateLink.id`): the template
/// spec lives in the store like any resource, so the caller needs read access to it, as in Azure.
fn template_spec(cx: &Cx, id: &str) -> Result<Value, ArmError> {
    let r = (cx.subrequest)("GET", &format!("{id}?api-version=2022-02-01"), None);
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    if r.status != 200 {
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or("InvalidTemplateSpec");
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("The template spec could not be read.");
        return Err(ArmError::new(code, message.to_string()).with_status(r.status));
    }
    match &body["properties"]["mainTemplate"] {
        t @ Value::Object(_) => Ok(t.clone()),
        _ => Err(ArmError::new(
            "InvalidTemplateSpec",
            format!("The template spec version '{id}' has no 'mainTemplate'."),
        )),
    }
}

/// `subscription()`, `resourceGroup()`, `deployment()`, `tenant()` for a deployment.
fn context(
    cx: &Cx,
    store: &Store,
    scope: &Scope,
    name: &str,
    req: &Request,
    template_hash: &str,
) -> Result<Context, ArmError> {
    let sub = cx.snap.dir.subscription(&scope.sub);
    let tenant_id = sub
        .map(|s| s.tenant_id.to_lowercase())
        .or_else(|| scope.mg.as_ref().map(|g| g.tenant_id.clone()))
        .unwrap_or_default();
    let tenant = cx.snap.dir.tenant(&tenant_id);
    let subscription = json!({
        "id": format!("/subscriptions/{}", scope.sub),
        "subscriptionId": scope.sub,
        "tenantId": tenant_id,
        "displayName": sub.map(|s| s.display_name.clone()).unwrap_or_default(),
    });
    let resource_group = match &scope.rg {
        Some(r) => Some(require_group(store, &scope.sub, r)?),
        None => None,
    };
    let mut deployment = json!({
        "name": name,
        "properties": {
            "template": {"contentVersion": req.template["contentVersion"]},
            "templateHash": template_hash,
            "parameters": req.parameters.clone().unwrap_or_else(|| json!({})),
            "mode": req.mode,
            "provisioningState": "Accepted",
        },
    });
    if let Some(l) = &req.location {
        deployment["location"] = json!(l);
    }
    // `managementGroup()`: the group as its GET answers it (without `$expand`)
    let management_group = scope.mg.as_ref().map(|g| {
        let parent = g.parent.as_deref().and_then(|p| cx.snap.groups.group(p));
        let mut details = json!({});
        if let Some(p) = parent {
            details["parent"] = json!({"id": crate::hierarchy::group_id(&p.name), "name": p.name, "displayName": p.display_name});
        }
        json!({"id": crate::hierarchy::group_id(&g.name), "name": g.name, "type": "Microsoft.Management/managementGroups",
            "properties": {"tenantId": g.tenant_id, "displayName": g.display_name, "details": details}})
    });
    let at_group = scope.mg.is_some();
    Ok(Context {
        subscription: (!at_group).then_some(subscription),
        management_group,
        resource_group_name: resource_group
            .as_ref()
            .and_then(|g| g["name"].as_str().map(String::from))
            .or(scope.rg.clone()),
        resource_group,
        deployment,
        tenant: json!({
            "tenantId": tenant_id,
            "countryCode": tenant.map(|t| t.country_code.clone()).unwrap_or_else(|| "US".into()),
            "displayName": tenant.map(|t| t.display_name.clone()).unwrap_or_default(),
        }),
        subscription_id: (!at_group).then(|| scope.sub.clone()),
        utc_now: cx.now,
    })
}

/// `reference()` and `newGuid()` for a running deployment: what this deployment created so far, else
/// a GET through the pipeline as the deploying caller.
struct DeployEnv<'a> {
    cx: &'a Cx<'a>,
    deployed: RefCell<HashMap<String, Value>>,
    /// lower-cased id → apiVersion, and lower-cased name → id, of the template's resources
    api_versions: HashMap<String, String>,
    names: HashMap<String, String>,
}

impl<'a> DeployEnv<'a> {
    fn new(cx: &'a Cx<'a>) -> Self {
        DeployEnv {
            cx,
            deployed: RefCell::new(HashMap::new()),
            api_versions: HashMap::new(),
            names: HashMap::new(),
        }
    }

    fn learn(&mut self, plan: &Plan) {
        for i in &plan.instances {
            self.api_versions
                .insert(i.id.to_lowercase(), i.api_version.clone());
            self.names.insert(i.name.to_lowercase(), i.id.clone());
        }
    }
}

impl Env for DeployEnv<'_> {
    fn reference(&self, id: &str, api: Option<&str>, full: bool) -> Result<Value, String> {
        let key = id.to_lowercase();
        let shape = |v: Value| {
            if full {
                v
            } else {
                v.get("properties").cloned().unwrap_or(Value::Null)
            }
        };
        if let Some(v) = self.deployed.borrow().get(&key) {
            return Ok(shape(v.clone()));
        }
        let api = api
            .map(String::from)
            .or_else(|| self.api_versions.get(&key).cloned())
            .ok_or_else(|| format!("The template function 'reference' needs an api-version for the resource '{id}', which is not deployed by this template."))?;
        let r = (self.cx.subrequest)("GET", &format!("{id}?api-version={api}"), None);
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if r.status == 200 {
            Ok(shape(body))
        } else {
            Err(format!(
                "The Resource '{id}' was not found or could not be read: {}",
                body["error"]["message"].as_str().unwrap_or("no details")
            ))
        }
    }

    fn new_guid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn resolve_name(&self, name: &str) -> Option<String> {
        self.names.get(&name.to_lowercase()).cloned()
    }
}

/// ARM's InvalidTemplate error for a template problem, with line, column and path in the request body.
fn template_error(cx: &Cx, e: &TemplateError) -> Reply {
    let mut path = vec![Seg::Key("properties".into()), Seg::Key("template".into())];
    path.extend(e.path.iter().cloned());
    let (line, col) = locate(&cx.req.body, &path);
    let message = if e.parse {
        format!("Deployment template parse failed: '{}'.", e.message)
    } else {
        let inner = e
            .message
            .replace("{loc}", &format!(" at line '{line}' and column '{col}'"));
        if inner.starts_with("Deployment template validation failed") {
            inner
        } else {
            format!("Deployment template validation failed: '{inner}'.")
        }
    };
    Reply::json(
        400,
        &json!({"error": {
            "code": "InvalidTemplate",
            "message": message,
            "additionalInfo": [{"type": "TemplateViolation", "info": {
                "lineNumber": line, "linePosition": col, "path": path_string(&path),
            }}],
        }}),
    )
}

fn iso_duration(d: std::time::Duration) -> String {
    format!("PT{}.{:07}S", d.as_secs(), d.subsec_nanos() / 100)
}

/// The provider/type summary and dependency list ARM reports for a deployment.
fn providers_and_dependencies(plan: &Plan, location: &str) -> (Value, Value) {
    let mut providers: Vec<(String, Vec<String>)> = Vec::new();
    for i in plan.instances.iter().filter(|i| i.condition) {
        let (ns, t) = i.rtype.split_once('/').unwrap_or((&i.rtype, ""));
        match providers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(ns))
        {
            Some((_, ts)) => {
                if !ts.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                    ts.push(t.to_string())
                }
            }
            None => providers.push((ns.to_string(), vec![t.to_string()])),
        }
    }
    let providers = providers
        .into_iter()
        .map(|(ns, ts)| {
            json!({"namespace": ns, "resourceTypes": ts.into_iter().map(|t| json!({"resourceType": t, "locations": [location]})).collect::<Vec<_>>()})
        })
        .collect::<Vec<_>>();
    let target = |k: usize| {
        let i = &plan.instances[k];
        json!({"id": i.id, "resourceType": i.rtype, "resourceName": i.name})
    };
    let deps = plan
        .instances
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.depends_on.is_empty())
        .map(|(k, i)| {
            let mut d = target(k);
            d["dependsOn"] = Value::Array(i.depends_on.iter().map(|x| target(*x)).collect());
            d
        })
        .collect::<Vec<_>>();
    (Value::Array(providers), Value::Array(deps))
}

/// Strip the emulator's private fields (`_template`) from a stored deployment.
fn public(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.retain(|k, _| !k.starts_with('_'));
    }
    body
}

fn correlation(cx: &Cx) -> String {
    cx.req
        .header("x-ms-correlation-request-id")
        .map(String::from)
        .unwrap_or_else(|| cx.new_id.to_string())
}

/// One deployment operation row.
struct Op {
    target_id: String,
    rtype: String,
    name: String,
    api_version: String,
    status: u16,
    ok: bool,
    message: Value,
    duration: std::time::Duration,
    operation: &'static str,
}

pub fn deployments_create_or_update(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let started = Instant::now();
    let scope = scope_of(cx)?;
    let name = deployment_name(cx);
    check_name(&name)?;
    let req = parse_request(cx, &scope, &name)?;
    let on_error = on_error_deployment(cx, store, &scope, &name)?;
    let dep_id = deployment_id(cx);
    let dep_key = dep_id.key();
    let existing = store.read(|tx| tx.get(&dep_key))?;
    if let (Some(e), Some(l)) = (&existing, &req.location) {
        if let Some(old) = e.body["location"].as_str() {
            if !old.eq_ignore_ascii_case(l) {
                return Err(ArmError::new(
                    "InvalidDeploymentLocation",
                    format!("Invalid deployment location '{l}'. The deployment '{name}' already exists in location '{old}'."),
                ));
            }
        }
    }
    let template_hash =
        hash::template_hash(&serde_json::to_string(&req.template).unwrap_or_default());
    let ctx = context(cx, store, &scope, &name, &req, &template_hash)?;
    let mut env = DeployEnv::new(cx);
    let plan = match template::prepare(&req.template, req.parameters.as_ref(), &ctx, &env) {
        Ok(p) => p,
        Err(e) => return Ok(template_error(cx, &e)),
    };
    env.learn(&plan);
    let location = req
        .location
        .clone()
        .or_else(|| {
            ctx.resource_group
                .as_ref()
                .and_then(|g| g["location"].as_str().map(String::from))
        })
        .unwrap_or_default();

    // Run the resources in dependency order; a failure stops what depends on it.
    let mut ops: Vec<Op> = Vec::new();
    let mut failed: Vec<bool> = vec![false; plan.instances.len()];
    let mut details: Vec<Value> = Vec::new();
    let mut output_resources: Vec<Value> = Vec::new();
    for &k in &plan.order {
        let inst = &plan.instances[k];
        if !inst.condition {
            continue;
        }
        if inst.depends_on.iter().any(|d| failed[*d]) {
            failed[k] = true;
            continue;
        }
        let op_started = Instant::now();
        let mut op = Op {
            target_id: inst.id.clone(),
            rtype: inst.rtype.clone(),
            name: inst.name.clone(),
            api_version: inst.api_version.clone(),
            status: 0,
            ok: false,
            message: Value::Null,
            duration: Default::default(),
            operation: "Create",
        };
        let body = match plan.body(k, &ctx, &env) {
            Ok(b) => b,
            Err(e) => {
                let mut path = vec![Seg::Key("properties".into()), Seg::Key("template".into())];
                path.extend(e.path.iter().cloned());
                let (line, col) = locate(&cx.req.body, &path);
                let inner = e.message.replace("{loc}", "");
                let err = json!({"code": "InvalidTemplate", "message": format!("Unable to process template language expressions for resource '{}' at line '{line}' and column '{col}'. '{inner}'", inst.id)});
                op.status = 400;
                op.message = json!({"status": "Failed", "error": err});
                details.push(err);
                failed[k] = true;
                op.duration = op_started.elapsed();
                ops.push(op);
                continue;
            }
        };
        let mut body = body;
        if inst.is_deployment() {
            // A nested deployment at subscription scope needs a location: the parent's by default.
            let nested_sub_scope = !inst.id.to_ascii_lowercase().contains("/resourcegroups/");
            if nested_sub_scope && body.get("location").is_none() {
                body["location"] = json!(location);
            }
        }
        let reply = (cx.subrequest)(
            "PUT",
            &format!("{}?api-version={}", inst.id, inst.api_version),
            Some(&body),
        );
        let rbody: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        op.status = reply.status;
        op.ok = reply.status < 300;
        if op.ok && inst.is_deployment() {
            // The nested deployment ran inside the PUT: its own outcome decides.
            let nested = ResourceId::parse(&inst.id)
                .map(|i| i.key())
                .unwrap_or_default();
            let state = store.read(|tx| tx.get(&nested))?;
            if let Some(n) = state {
                if n.body["properties"]["provisioningState"] == "Failed" {
                    op.ok = false;
                    op.status = 400;
                    let err = n.body["properties"]["error"].clone();
                    op.message = json!({"status": "Failed", "error": err});
                    details.push(err);
                }
            }
        }
        if op.ok {
            op.message = rbody.clone();
            env.deployed
                .borrow_mut()
                .insert(inst.id.to_lowercase(), rbody.clone());
            output_resources.push(json!({"id": inst.id}));
        } else if op.message.is_null() {
            let mut err = rbody.get("error").cloned().unwrap_or_else(|| {
                json!({"code": status_name(reply.status), "message": String::from_utf8_lossy(&reply.body)})
            });
            if rbody.get("Message").is_some() {
                err = json!({"code": status_name(reply.status), "message": rbody["Message"]});
            }
            op.message = json!({"status": "Failed", "error": err});
            details.push(err);
        }
        failed[k] = !op.ok;
        op.duration = op_started.elapsed();
        ops.push(op);
    }

    let any_failed = ops.iter().any(|o| !o.ok);
    let mut outputs = None;
    let mut error = None;
    if any_failed {
        error = Some(json!({
            "code": "DeploymentFailed",
            "target": dep_id.canonical(),
            "message": FAILED_MESSAGE,
            "details": details,
        }));
    } else {
        match plan.outputs(&ctx, &env) {
            Ok(o) => {
                if o.as_object().is_some_and(|m| !m.is_empty()) {
                    ops.push(Op {
                        target_id: String::new(),
                        rtype: String::new(),
                        name: String::new(),
                        api_version: String::new(),
                        status: 200,
                        ok: true,
                        message: json!({"status": "Succeeded"}),
                        duration: Default::default(),
                        operation: "EvaluateDeploymentOutput",
                    });
                }
                outputs = Some(o);
            }
            Err(e) => {
                let (line, col) = locate(
                    &cx.req.body,
                    &[
                        vec![Seg::Key("properties".into()), Seg::Key("template".into())],
                        e.path.clone(),
                    ]
                    .concat(),
                );
                let detail = json!({"code": "DeploymentOutputEvaluationFailed", "message": format!("Unable to evaluate template outputs: '{}'. {}", e.path.get(1).map(|s| match s { Seg::Key(k) => k.clone(), Seg::Idx(i) => i.to_string() }).unwrap_or_default(), e.message.replace("{loc}", &format!(" at line '{line}' and column '{col}'")))});
                error = Some(json!({
                    "code": "DeploymentOutputEvaluationFailed",
                    "target": dep_id.canonical(),
                    "message": "Unable to evaluate template outputs. Please see error details and deployment operations. Please see https://aka.ms/arm-common-errors for usage details.",
                    "details": [detail],
                }));
            }
        }
    }

    // Complete mode: what the resource group holds beyond the template goes.
    if req.mode == "Complete" && error.is_none() {
        let keep: Vec<String> = plan
            .instances
            .iter()
            .filter(|i| i.condition)
            .map(|i| i.id.to_lowercase())
            .collect();
        let rg_l = scope.rg.clone().unwrap_or_default().to_lowercase();
        let rows = store.read(|tx| tx.in_scope(&scope.sub, Some(&rg_l)))?;
        for r in rows {
            let top_level = r.rtype.matches('/').count() == 1
                && !r.rtype.starts_with("microsoft.resources/")
                && !r.rtype.starts_with("microsoft.authorization/")
                && !r.rtype.starts_with("microsoft.managedservices/");
            if top_level && !keep.contains(&r.key) {
                if let Some(id) = r.body["id"].as_str() {
                    let api = r.body["apiVersion"].as_str().unwrap_or("2021-04-01");
                    let _ = (cx.subrequest)("DELETE", &format!("{id}?api-version={api}"), None);
                }
            }
        }
    }

    let state = if error.is_some() {
        "Failed"
    } else {
        "Succeeded"
    };
    let (providers, dependencies) = providers_and_dependencies(&plan, &location);
    let mut props = json!({
        "templateHash": template_hash,
        "parameters": plan.parameters_out(),
        "mode": req.mode,
        "provisioningState": state,
        "timestamp": crate::clock::arm_time(cx.now + started.elapsed()),
        "duration": iso_duration(started.elapsed()),
        "correlationId": correlation(cx),
        "providers": providers,
        "dependencies": dependencies,
        "outputResources": output_resources,
    });
    if let Some(o) = &outputs {
        props["outputs"] = o.clone();
    }
    if let Some(e) = &error {
        props["error"] = e.clone();
    }
    if let Some(d) = &req.debug {
        props["debugSetting"] = d.clone();
    }
    if let Some(l) = &req.template_link {
        props["templateLink"] = l.clone();
    }
    if let Some(mut od) = on_error {
        if error.is_some() {
            od["provisioningState"] = json!(roll_back(cx, store, &od)?);
        }
        props["onErrorDeployment"] = od;
    }
    let mut out = json!({
        "id": dep_id.canonical(),
        "name": name,
        "type": DEP_TYPE,
        "properties": props,
    });
    if let Some(l) = &req.location {
        out["location"] = json!(l);
    }
    if let Some(t) = &req.tags {
        out["tags"] = t.clone();
    }
    let mut stored = out.clone();
    stored["_template"] = req.template.clone();

    // Operation rows: ids sort in execution order.
    let base = hash::murmur64(format!("{dep_key}{}", cx.new_id).as_bytes()) as u32;
    let now = cx.now_str();
    let rows: Vec<_> = ops
        .iter()
        .enumerate()
        .filter_map(|(n, o)| {
            let op_id = format!("{base:08X}{:08X}", n + 1);
            let oid = format!("{}/operations/{op_id}", dep_id.canonical());
            let rid = ResourceId::parse(&oid).ok()?;
            let mut p = json!({
                "provisioningOperation": o.operation,
                "provisioningState": if o.ok { "Succeeded" } else { "Failed" },
                "timestamp": now,
                "duration": iso_duration(o.duration),
                "trackingId": uuid::Uuid::new_v4().to_string(),
                "serviceRequestId": uuid::Uuid::new_v4().to_string(),
                "statusCode": status_name(o.status),
                "statusMessage": o.message,
            });
            if !o.target_id.is_empty() {
                p["targetResource"] = json!({"id": o.target_id, "resourceType": o.rtype, "resourceName": o.name, "apiVersion": o.api_version});
            }
            Some(stored_row(&rid, "Microsoft.Resources/deployments/operations", json!({"id": oid, "operationId": op_id, "properties": p})))
        })
        .collect();
    let op_status = {
        let mut s = json!({"status": state, "startTime": now, "endTime": crate::clock::arm_time(cx.now + started.elapsed())});
        if let Some(e) = &error {
            s["error"] = e.clone();
        }
        s
    };
    store.write(|tx| -> Result<(), crate::store::StoreError> {
        tx.delete_tree(&dep_key)?;
        tx.put(&stored_row(&dep_id, DEP_TYPE, stored))?;
        for r in &rows {
            tx.put(r)?;
        }
        tx.put_operation(cx.new_id, &op_status)?;
        Ok(())
    })?;
    let status = if existing.is_some() { 200 } else { 201 };
    if cx.caller.platform {
        return Ok(Reply::json(status, &out));
    }
    // As ARM: the PUT answers Accepted and the client polls the operation status.
    let mut accepted = out;
    accepted["properties"]["provisioningState"] = json!("Accepted");
    if let Some(p) = accepted["properties"].as_object_mut() {
        p.remove("outputs");
        p.remove("error");
        p.remove("outputResources");
    }
    let poll = format!(
        "{}{}/operationStatuses/{}?api-version={}",
        cx.base_url,
        dep_id.canonical(),
        cx.new_id,
        cx.api_version
    );
    Ok(Reply::json(status, &accepted)
        .header("azure-asyncoperation", poll)
        .header("retry-after", "1"))
}

pub fn deployment_operation_statuses_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let op = cx.id.name().unwrap_or_default().to_string();
    match store.read(|tx| tx.operation(&op))? {
        Some(body) => Ok(Reply::json(200, &body)),
        None => Err(ArmError::not_found(format!(
            "The operation '{op}' could not be found."
        ))),
    }
}

fn get_deployment(cx: &Cx, store: &Store) -> Result<Value, ArmError> {
    scope_of(cx)?;
    let key = deployment_id(cx).key();
    store
        .read(|tx| tx.get(&key))?
        .map(|r| r.body)
        .ok_or_else(|| not_found(&deployment_name(cx)))
}

pub fn deployments_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    Ok(Reply::json(200, &public(get_deployment(cx, store)?)))
}

pub fn deployments_check_existence(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    Ok(Reply::empty(if get_deployment(cx, store).is_ok() {
        204
    } else {
        404
    }))
}

pub fn deployments_export_template(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let d = get_deployment(cx, store)?;
    Ok(Reply::json(200, &json!({"template": d["_template"]})))
}

pub fn deployments_cancel(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let d = get_deployment(cx, store)?;
    let state = d["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("Succeeded");
    if matches!(state, "Accepted" | "Running") {
        return Ok(Reply::empty(204));
    }
    Err(ArmError::new(
        "DeploymentCannotBeCancelled",
        format!("The deployment '{}' cannot be cancelled because it is in '{state}' state; only deployments that are 'Accepted' or 'Running' can be cancelled.", deployment_name(cx)),
    )
    .with_status(409))
}

pub fn deployments_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    scope_of(cx)?;
    let key = deployment_id(cx).key();
    if store.read(|tx| tx.get(&key))?.is_none() {
        return Ok(Reply::empty(204));
    }
    store.write(|tx| tx.delete_tree(&key))?;
    let location = cx.location_operation(store)?;
    Ok(Reply::empty(202)
        .header("location", location)
        .header("retry-after", "1"))
}

pub fn deployments_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let scope = scope_of(cx)?;
    if let Some(r) = &scope.rg {
        require_group(store, &scope.sub, r)?;
    }
    let rg_l = scope.rg.clone().unwrap_or_default().to_lowercase();
    let mut rows = store.read(|tx| tx.by_type(DEP_TYPE_L, Some(&scope.sub), Some(&rg_l)))?;
    // every tenant-level row shares the empty subscription: keep the group's own
    let group_key = scope
        .mg
        .as_ref()
        .map(|g| crate::hierarchy::group_key(&g.name));
    rows.retain(|r| group_key.as_ref().is_none_or(|k| &r.parent == k));
    let filter = cx.req.query("$filter").map(str::to_string);
    let want = match filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(f) => {
            let clauses = parse_eq_filter(f).ok_or_else(|| ArmError::invalid_filter(f))?;
            match clauses.as_slice() {
                [(k, v)] if k.eq_ignore_ascii_case("provisioningState") => Some(v.clone()),
                _ => return Err(ArmError::invalid_filter(f)),
            }
        }
        None => None,
    };
    let mut items: Vec<Value> = rows
        .into_iter()
        .map(|r| public(r.body))
        .filter(|b| {
            want.as_deref().is_none_or(|w| {
                b["properties"]["provisioningState"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(w))
            })
        })
        .collect();
    items.sort_by(|a, b| {
        b["properties"]["timestamp"]
            .as_str()
            .cmp(&a["properties"]["timestamp"].as_str())
    });
    Ok(list_reply(cx, items))
}

pub fn deployment_operations_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    get_deployment(cx, store)?;
    let key = deployment_id(cx).key();
    let rows = store.read(|tx| tx.children(&key, OP_TYPE_L))?;
    Ok(list_reply(cx, rows.into_iter().map(|r| r.body).collect()))
}

pub fn deployment_operations_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    get_deployment(cx, store)?;
    let key = cx.id.key();
    match store.read(|tx| tx.get(&key))? {
        Some(r) => Ok(Reply::json(200, &r.body)),
        None => Err(ArmError::new(
            "DeploymentOperationNotFound",
            format!(
                "The deployment operation '{}' could not be found.",
                cx.id.name().unwrap_or_default()
            ),
        )
        .with_status(404)),
    }
}

/// Validate: the template, its parameters and its resources' ids, without deploying.
/// Deployments_CalculateTemplateHash: the request body is a template; the answer is the template
/// minified and upper-cased, and the same `templateHash` a deployment of it reports.
pub fn deployments_calculate_template_hash(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let template = cx.object_body()?;
    let minified = serde_json::to_string(template).unwrap_or_default();
    Ok(Reply::json(
        200,
        &json!({"minifiedTemplate": minified.to_uppercase(), "templateHash": hash::template_hash(&minified)}),
    ))
}

pub fn deployments_validate(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let started = Instant::now();
    let scope = scope_of(cx)?;
    let name = deployment_name(cx);
    check_name(&name)?;
    let req = parse_request(cx, &scope, &name)?;
    let template_hash =
        hash::template_hash(&serde_json::to_string(&req.template).unwrap_or_default());
    let ctx = context(cx, store, &scope, &name, &req, &template_hash)?;
    let mut env = DeployEnv::new(cx);
    let plan = match template::prepare(&req.template, req.parameters.as_ref(), &ctx, &env) {
        Ok(p) => p,
        Err(e) => return Ok(template_error(cx, &e)),
    };
    env.learn(&plan);
    let location = req.location.clone().unwrap_or_default();
    let (providers, dependencies) = providers_and_dependencies(&plan, &location);
    let mut out = json!({
        "id": deployment_id(cx).canonical(),
        "name": name,
        "type": DEP_TYPE,
        "properties": {
            "templateHash": template_hash,
            "parameters": plan.parameters_out(),
            "mode": req.mode,
            "provisioningState": "Succeeded",
            "timestamp": cx.now_str(),
            "duration": iso_duration(started.elapsed()),
            "correlationId": correlation(cx),
            "providers": providers,
            "dependencies": dependencies,
            "validatedResources": plan.instances.iter().filter(|i| i.condition).map(|i| json!({"id": i.id})).collect::<Vec<_>>(),
        },
    });
    if let Some(l) = &req.location {
        out["location"] = json!(l);
    }
    if let Some(l) = &req.template_link {
        out["properties"]["templateLink"] = l.clone();
    }
    Ok(Reply::json(200, &out))
}

/// What-if: for each resource the template would deploy, Create / Modify / NoChange against what
/// exists now (read through the pipeline as the caller). Nested deployments are expanded.
pub fn deployments_what_if(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let scope = scope_of(cx)?;
    let name = deployment_name(cx);
    let req = parse_request(cx, &scope, &name)?;
    let mut changes = Vec::new();
    if let Err(reply) = what_if(cx, store, &scope, &name, &req, &mut changes, 0)? {
        return Ok(reply);
    }
    Ok(Reply::json(
        200,
        &json!({"status": "Succeeded", "properties": {"changes": changes}}),
    ))
}

#[allow(clippy::type_complexity)]
fn what_if(
    cx: &Cx,
    store: &Store,
    scope: &Scope,
    name: &str,
    req: &Request,
    changes: &mut Vec<Value>,
    depth: usize,
) -> Result<Result<(), Reply>, ArmError> {
    let template_hash =
        hash::template_hash(&serde_json::to_string(&req.template).unwrap_or_default());
    let ctx = context(cx, store, scope, name, req, &template_hash)?;
    let mut env = DeployEnv::new(cx);
    let plan = match template::prepare(&req.template, req.parameters.as_ref(), &ctx, &env) {
        Ok(p) => p,
        Err(e) => return Ok(Err(template_error(cx, &e))),
    };
    env.learn(&plan);
    for &k in &plan.order {
        let inst = &plan.instances[k];
        if !inst.condition {
            continue;
        }
        let after = match plan.body(k, &ctx, &env) {
            Ok(b) => b,
            Err(e) => return Ok(Err(template_error(cx, &e))),
        };
        if inst.is_deployment() && depth < 5 {
            let rid = ResourceId::parse(&inst.id).unwrap_or_default();
            let nested_scope = Scope {
                sub: rid.subscription.clone().unwrap_or_default().to_lowercase(),
                rg: rid.resource_group.clone(),
                mg: rid
                    .management_group()
                    .and_then(|g| cx.snap.groups.group(g))
                    .cloned(),
            };
            let nested = Request {
                location: after["location"]
                    .as_str()
                    .map(String::from)
                    .or(req.location.clone()),
                tags: None,
                mode: "Incremental".into(),
                template: after["properties"]["template"].clone(),
                parameters: after["properties"]["parameters"]
                    .as_object()
                    .map(|m| Value::Object(m.clone())),
                debug: None,
                template_link: None,
            };
            if let Err(r) = what_if(
                cx,
                store,
                &nested_scope,
                &inst.name,
                &nested,
                changes,
                depth + 1,
            )? {
                return Ok(Err(r));
            }
            continue;
        }
        let r = (cx.subrequest)(
            "GET",
            &format!("{}?api-version={}", inst.id, inst.api_version),
            None,
        );
        let mut before: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if before.is_object() {
            // what-if shows the resource as read with the template's api-version, and says which
            before["apiVersion"] = json!(inst.api_version);
        }
        let mut after_full = after.clone();
        after_full["id"] = json!(inst.id);
        after_full["name"] = json!(inst.name.rsplit('/').next().unwrap_or_default());
        after_full["type"] = json!(inst.rtype);
        after_full["apiVersion"] = json!(inst.api_version);
        let change = if r.status == 200 {
            let (same, delta) = compare(&before, &after, "");
            json!({
                "resourceId": inst.id,
                "changeType": if same { "NoChange" } else { "Modify" },
                "before": before,
                "after": after_full,
                "delta": delta,
            })
        } else {
            json!({"resourceId": inst.id, "changeType": "Create", "after": after_full})
        };
        env.deployed
            .borrow_mut()
            .insert(inst.id.to_lowercase(), after_full);
        changes.push(change);
    }
    Ok(Ok(()))
}

/// Does `before` already hold everything `after` sets? The property changes when not.
fn compare(before: &Value, after: &Value, path: &str) -> (bool, Vec<Value>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut same = true;
            let mut delta = Vec::new();
            for (k, av) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let bv = b
                    .iter()
                    .find(|(bk, _)| bk.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
                    .unwrap_or(&Value::Null);
                let (s, d) = compare(bv, av, &p);
                same &= s;
                delta.extend(d);
            }
            (same, delta)
        }
        (Value::String(b), Value::String(a)) if b.eq_ignore_ascii_case(a) => (true, Vec::new()),
        (b, a) if b == a => (true, Vec::new()),
        (b, a) => (
            false,
            vec![
                json!({"path": path, "propertyChangeType": if b.is_null() { "Create" } else { "Modify" }, "before": b, "after": a}),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_if_compares_what_the_template_sets() {
        let before = json!({"id": "x", "properties": {"a": "One", "b": 2, "c": 3}});
        assert!(compare(&before, &json!({"properties": {"a": "one", "b": 2}}), "").0);
        let (same, delta) = compare(&before, &json!({"properties": {"b": 5}}), "");
        assert!(!same);
        assert_eq!(delta[0]["path"], "properties.b");
    }

    #[test]
    fn names_and_durations() {
        assert!(check_name("rgAssignment0").is_ok());
        assert!(check_name("bad/name").is_err());
        assert_eq!(
            check_name(&"x".repeat(65)).unwrap_err().code,
            "DeploymentNameLengthLimitExceeded"
        );
        assert_eq!(
            iso_duration(std::time::Duration::from_millis(1500)),
            "PT1.5000000S"
        );
    }
}

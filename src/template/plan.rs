//! A template turned into a deployment plan: `$schema`/`contentVersion` checks, parameters bound and
//! checked (types, defaults, allowedValues, min/max), variables, resources expanded (copy loops,
//! conditions, child resources) into instances with their resource ids, `dependsOn` resolved and
//! ordered topologically; then each instance's request body and the outputs, evaluated when the
//! deployment reaches them. Pure: everything outside the template comes through `Context` and `Env`.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use super::eval::{
    self, as_int, eval_str, eval_value, type_name, Context, Env, EvalError, Scope, Vars,
};
use super::expr;
use super::locate::Seg;

/// A template error: ARM's message (with `{loc}` where " at line 'l' and column 'c'" belongs), the JSON
/// path inside the template, and whether it is a parse (shape) failure rather than a validation one.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub message: String,
    pub path: Vec<Seg>,
    pub parse: bool,
}

impl TemplateError {
    fn validation(message: String, path: Vec<Seg>) -> Self {
        TemplateError {
            message,
            path,
            parse: false,
        }
    }

    fn shape(message: String) -> Self {
        TemplateError {
            message,
            path: Vec::new(),
            parse: true,
        }
    }
}

const SCHEMA_VERSIONS: &[&str] = &[
    "2014-04-01-preview",
    "2015-01-01",
    "2018-05-01",
    "2019-04-01",
    "2019-08-01",
];
const SCHEMA_KINDS: &[&str] = &[
    "deploymenttemplate",
    "subscriptiondeploymenttemplate",
    "managementgroupdeploymenttemplate",
    "tenantdeploymenttemplate",
];

/// Keys of a resource declaration that are template syntax, not part of the request body.
const TEMPLATE_KEYS: &[&str] = &[
    "type",
    "apiversion",
    "name",
    "dependson",
    "condition",
    "copy",
    "comments",
    "metadata",
    "resources",
    "scope",
    "resourcegroup",
    "subscriptionid",
    "apiprofile",
];

/// One resource the deployment will PUT.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Path of the declaration in the template (`resources[1]`, `resources[0].resources[2]`).
    pub path: Vec<Seg>,
    /// The copy loops it sits in: (loop name, index).
    pub copies: Vec<(String, i64)>,
    /// The copy loop of its own declaration, if any.
    pub copy_name: Option<String>,
    pub rtype: String,
    pub api_version: String,
    pub name: String,
    pub id: String,
    pub condition: bool,
    pub depends_on: Vec<usize>,
    /// The declaration as written.
    pub raw: Value,
}

impl Instance {
    pub fn is_deployment(&self) -> bool {
        self.rtype
            .eq_ignore_ascii_case("Microsoft.Resources/deployments")
    }
}

/// A template ready to deploy.
#[derive(Debug)]
pub struct Plan {
    pub template: Value,
    pub params: Map<String, Value>,
    /// Declared parameter types as ARM writes them back (`String`, `SecureString`, `Array` …).
    pub param_types: Vec<(String, String)>,
    pub vars: Vars,
    pub instances: Vec<Instance>,
    /// Instance indexes in deployment order.
    pub order: Vec<usize>,
}

fn seg(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn get_ci<'v>(m: &'v Value, key: &str) -> Option<&'v Value> {
    m.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Check the template's shape, bind parameters, expand resources and order them.
pub fn prepare(
    template: &Value,
    input: Option<&Value>,
    ctx: &Context,
    env: &dyn Env,
) -> Result<Plan, TemplateError> {
    let Some(t) = template.as_object() else {
        return Err(TemplateError::shape(
            "The template must be a JSON object.".into(),
        ));
    };
    let schema = t.get("$schema").and_then(Value::as_str).ok_or_else(|| {
        TemplateError::shape(
            "Required property '$schema' not found in JSON. Path 'properties.template'.".into(),
        )
    })?;
    check_schema(schema)?;
    let cv = t
        .get("contentVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            TemplateError::shape(
                "Required property 'contentVersion' not found in JSON. Path 'properties.template'."
                    .into(),
            )
        })?;
    let parts: Vec<&str> = cv.split('.').collect();
    if parts.len() != 4
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(TemplateError::validation(
            format!("The template content version '{cv}'{{loc}} is not valid. The content version must be four numbers separated by periods, such as '1.0.0.0'."),
            vec![seg("contentVersion")],
        ));
    }
    if let Some(lv) = t.get("languageVersion") {
        return Err(TemplateError::validation(
            format!("The template language version '{}'{{loc}} is not supported by the emulator; use a template without 'languageVersion' (resources as an array).", eval::to_text(lv)),
            vec![seg("languageVersion")],
        ));
    }
    let resources = match t.get("resources") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(TemplateError::shape(
                "Error converting value to type 'TemplateResource[]'. Path 'properties.template.resources'.".into(),
            ))
        }
    };
    static_check(t)?;
    let empty = Map::new();
    let decls = t
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let (params, param_types) = bind_parameters(decls, input, ctx, env)?;
    let vars = Vars::new(
        t.get("variables")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
    );
    let mut plan = Plan {
        template: template.clone(),
        params,
        param_types,
        vars,
        instances: Vec::new(),
        order: Vec::new(),
    };
    let mut instances = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        expand(
            &plan,
            ctx,
            env,
            r,
            vec![seg("resources"), Seg::Idx(i)],
            &[],
            None,
            &mut instances,
        )?;
    }
    plan.instances = instances;
    resolve_dependencies(&mut plan, ctx, env)?;
    plan.order = order(&plan)?;
    Ok(plan)
}

/// Every expression of the template parses and calls only known functions (ARM checks this before
/// deploying anything). Nested inner-scope templates are checked when they run.
fn static_check(t: &Map<String, Value>) -> Result<(), TemplateError> {
    fn walk(v: &Value, path: &mut Vec<Seg>, out: &mut Option<(Vec<Seg>, String)>) {
        if out.is_some() {
            return;
        }
        match v {
            Value::String(s) if expr::is_expression(s) => match expr::parse(s) {
                Err(m) => *out = Some((path.clone(), m)),
                Ok(e) => {
                    let mut unknown = Vec::new();
                    eval::unknown_functions(&e, &mut unknown);
                    if let Some(f) = unknown.first() {
                        *out = Some((path.clone(), format!("The template function '{f}' is not found. Please see https://aka.ms/arm-functions for usage details.")));
                    }
                }
            },
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(Seg::Idx(i));
                    walk(x, path, out);
                    path.pop();
                }
            }
            Value::Object(m) => {
                let inner_scope = m
                    .get("expressionEvaluationOptions")
                    .and_then(|o| o.get("scope"))
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
                for (k, x) in m {
                    if inner_scope && k == "template" {
                        continue;
                    }
                    path.push(Seg::Key(k.clone()));
                    walk(x, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    for section in ["parameters", "variables", "resources", "outputs"] {
        let Some(v) = t.get(section) else { continue };
        let mut found = None;
        walk(v, &mut vec![seg(section)], &mut found);
        if let Some((path, msg)) = found {
            let subject = match (section, path.get(1)) {
                ("resources", Some(Seg::Idx(i))) => format!(
                    "The template resource '{}'",
                    t["resources"][*i]["name"].as_str().unwrap_or_default()
                ),
                (_, Some(Seg::Key(k))) => {
                    format!("The template {} '{k}'", section.trim_end_matches('s'))
                }
                _ => format!("The template {section}"),
            };
            return Err(TemplateError::validation(
                format!("{subject}{{loc}} is not valid: {msg}"),
                path,
            ));
        }
    }
    Ok(())
}

fn check_schema(schema: &str) -> Result<(), TemplateError> {
    let l = schema.to_ascii_lowercase();
    let tail = l
        .split("schema.management.azure.com/schemas/")
        .nth(1)
        .unwrap_or_default();
    let (version, file) = tail.split_once('/').unwrap_or(("", ""));
    let kind = file.trim_end_matches('#').trim_end_matches(".json");
    if SCHEMA_VERSIONS.contains(&version) && SCHEMA_KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(TemplateError::validation(
            format!(
                "The template schema '{schema}' is not supported. Supported versions are '{}'. Please see https://aka.ms/arm-template for usage details.",
                SCHEMA_VERSIONS.join(",")
            ),
            vec![seg("$schema")],
        ))
    }
}

fn arm_type(t: &str) -> &'static str {
    match t {
        "string" => "String",
        "securestring" => "SecureString",
        "int" => "Int",
        "bool" => "Bool",
        "object" => "Object",
        "secureobject" => "SecureObject",
        "array" => "Array",
        _ => "String",
    }
}

/// Parameter values and their declared types.
type Bound = (Map<String, Value>, Vec<(String, String)>);

fn bind_parameters(
    decls: &Map<String, Value>,
    input: Option<&Value>,
    ctx: &Context,
    env: &dyn Env,
) -> Result<Bound, TemplateError> {
    let empty = Map::new();
    let given = input.and_then(Value::as_object).unwrap_or(&empty);
    let unknown: Vec<&String> = given
        .keys()
        .filter(|k| !decls.keys().any(|d| d.eq_ignore_ascii_case(k)))
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::validation(
            format!(
                "The template parameters '{}' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '{}'. Please see https://aka.ms/arm-pass-parameter-values for usage details.",
                unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                decls.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            vec![seg("parameters")],
        ));
    }
    let mut params = Map::new();
    let mut types = Vec::new();
    for (name, decl) in decls {
        let path = vec![seg("parameters"), seg(name)];
        let ty = decl["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !matches!(
            ty.as_str(),
            "string" | "securestring" | "int" | "bool" | "object" | "secureobject" | "array"
        ) {
            return Err(TemplateError::validation(
                format!("The template parameter '{name}'{{loc}} has an invalid type '{}'. The supported types are 'String, SecureString, Int, Bool, Object, SecureObject, Array'. Please see https://aka.ms/arm-template/#parameters for usage details.", decl["type"].as_str().unwrap_or_default()),
                path,
            ));
        }
        let provided = given
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v);
        let value = match provided {
            Some(p) if p.get("reference").is_some() => {
                return Err(TemplateError::validation(
                    format!("The value for the template parameter '{name}' is a Key Vault reference; the emulator has no Key Vault. Pass the value inline."),
                    path,
                ))
            }
            // `{"expression": "[…]"}` (api-version 2025-04-01): evaluated like a default value
            Some(p) if p.get("expression").is_some() => {
                let sc = Scope {
                    ctx,
                    env,
                    params: &params,
                    vars: None,
                    copies: Vec::new(),
                    in_default: true,
                    allow_reference: false,
                };
                eval_value(&p["expression"], &sc).map_err(|e| {
                    TemplateError::validation(
                        format!("The value for the template parameter '{name}'{{loc}} is not valid: {}", e.message),
                        path.clone(),
                    )
                })?
            }
            Some(p) => p.get("value").cloned().unwrap_or(Value::Null),
            None => match decl.get("defaultValue") {
                Some(d) => {
                    let sc = Scope {
                        ctx,
                        env,
                        params: &params,
                        vars: None,
                        copies: Vec::new(),
                        in_default: true,
                        allow_reference: false,
                    };
                    eval_value(d, &sc).map_err(|e| {
                        TemplateError::validation(
                            format!("The template parameter '{name}'{{loc}} is not valid: {}", e.message),
                            [path.clone(), vec![seg("defaultValue")], e.path].concat(),
                        )
                    })?
                }
                None => {
                    return Err(TemplateError::validation(
                        format!("The value for the template parameter '{name}'{{loc}} is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details."),
                        path,
                    ))
                }
            },
        };
        let value =
            coerce(name, &ty, value).map_err(|m| TemplateError::validation(m, path.clone()))?;
        check_constraints(name, decl, &value)
            .map_err(|m| TemplateError::validation(m, path.clone()))?;
        params.insert(name.clone(), value);
        types.push((name.clone(), arm_type(&ty).to_string()));
    }
    Ok((params, types))
}

fn coerce(name: &str, ty: &str, v: Value) -> Result<Value, String> {
    let bad = |want: &str, v: &Value| {
        format!("The provided value for the template parameter '{name}' is not valid. Expected a value of type '{want}', but received a value of type '{}'. Please see https://aka.ms/arm-create-parameter-file for usage details.", type_name(v))
    };
    match ty {
        "string" | "securestring" => match v {
            Value::String(_) => Ok(v),
            other => Err(bad("String, Uri", &other)),
        },
        "int" => match &v {
            Value::Number(_) if as_int(&v).is_some() => Ok(json!(as_int(&v))),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                Ok(json!(s.trim().parse::<i64>().unwrap_or(0)))
            }
            other => Err(bad("Integer", other)),
        },
        "bool" => match &v {
            Value::Bool(_) => Ok(v),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(json!(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(json!(false)),
            other => Err(bad("Boolean", other)),
        },
        "object" | "secureobject" => match v {
            Value::Object(_) => Ok(v),
            other => Err(bad("Object", &other)),
        },
        "array" => match v {
            Value::Array(_) => Ok(v),
            other => Err(bad("Array", &other)),
        },
        _ => Ok(v),
    }
}

fn check_constraints(name: &str, decl: &Value, v: &Value) -> Result<(), String> {
    let invalid = |why: String| {
        format!("The provided value for the template parameter '{name}' is not valid. {why} Please see https://aka.ms/arm-template/#parameters for usage details.")
    };
    if let Some(allowed) = decl.get("allowedValues").and_then(Value::as_array) {
        let ok = match v {
            Value::Array(items) if !allowed.iter().any(Value::is_array) => {
                items.iter().all(|i| allowed.contains(i))
            }
            _ => allowed.contains(v),
        };
        if !ok {
            return Err(invalid(format!(
                "The parameter value is not part of the allowed value(s): '{}'.",
                allowed
                    .iter()
                    .map(eval::to_text)
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
    }
    if let Some(n) = as_int(v) {
        if let Some(min) = decl.get("minValue").and_then(as_int) {
            if n < min {
                return Err(invalid(format!(
                    "The provided value '{n}' is less than the minimum value '{min}'."
                )));
            }
        }
        if let Some(max) = decl.get("maxValue").and_then(as_int) {
            if n > max {
                return Err(invalid(format!(
                    "The provided value '{n}' is greater than the maximum value '{max}'."
                )));
            }
        }
    }
    let len = match v {
        Value::String(s) => Some(s.chars().count() as i64),
        Value::Array(a) => Some(a.len() as i64),
        _ => None,
    };
    if let Some(len) = len {
        if let Some(min) = decl.get("minLength").and_then(as_int) {
            if len < min {
                return Err(invalid(format!(
                    "The length of the value '{len}' is less than the minimum length '{min}'."
                )));
            }
        }
        if let Some(max) = decl.get("maxLength").and_then(as_int) {
            if len > max {
                return Err(invalid(format!(
                    "The length of the value '{len}' is greater than the maximum length '{max}'."
                )));
            }
        }
    }
    Ok(())
}

impl Plan {
    /// The scope expressions of this template see.
    pub fn scope<'a>(
        &'a self,
        ctx: &'a Context,
        env: &'a dyn Env,
        copies: &[(String, i64)],
        allow_reference: bool,
    ) -> Scope<'a> {
        Scope {
            ctx,
            env,
            params: &self.params,
            vars: Some(&self.vars),
            copies: copies.to_vec(),
            in_default: false,
            allow_reference,
        }
    }

    /// The deployment's `parameters` as ARM shows them: `{name: {type, value}}`, secure ones without value.
    pub fn parameters_out(&self) -> Value {
        let mut out = Map::new();
        for (name, ty) in &self.param_types {
            let v = if ty.starts_with("Secure") {
                json!({"type": ty})
            } else {
                json!({"type": ty, "value": self.params.get(name).cloned().unwrap_or(Value::Null)})
            };
            out.insert(name.clone(), v);
        }
        Value::Object(out)
    }

    /// The request body of an instance, evaluated now (so `reference()` sees what was deployed before).
    /// Nested deployments keep their inner template: evaluated here as far as the outer scope allows
    /// when `expressionEvaluationOptions.scope` is `outer` (the default), untouched when `inner`.
    pub fn body(&self, idx: usize, ctx: &Context, env: &dyn Env) -> Result<Value, TemplateError> {
        let inst = &self.instances[idx];
        let sc = self.scope(ctx, env, &inst.copies, true);
        let mut raw = Map::new();
        for (k, v) in inst.raw.as_object().into_iter().flatten() {
            if !TEMPLATE_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                raw.insert(k.clone(), v.clone());
            }
        }
        let mut inner_template = None;
        if inst.is_deployment() {
            if let Some(Value::Object(p)) = raw.get_mut("properties") {
                inner_template = p.remove("template");
            }
        }
        let mut body = Map::new();
        for (k, v) in &raw {
            let ev = eval_value(v, &sc).map_err(|e| self.resource_error(inst, e, k))?;
            body.insert(k.clone(), ev);
        }
        if let Some(tpl) = inner_template {
            let outer = !inst.raw["properties"]["expressionEvaluationOptions"]["scope"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
            let props = body
                .entry("properties")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            if let Some(props) = props {
                if outer {
                    let (tpl, params) = self.outer_template(&tpl, &sc);
                    props.insert("template".into(), tpl);
                    props.insert("parameters".into(), params);
                    props.insert(
                        "expressionEvaluationOptions".into(),
                        json!({"scope": "inner"}),
                    );
                } else {
                    props.insert("template".into(), tpl);
                }
            }
        }
        Ok(Value::Object(body))
    }

    /// A nested template with the outer scope folded in: its expressions evaluated where the outer
    /// scope can (copy indexes, parameters, variables, `deployment()`), the outer parameters and
    /// variables passed in for the rest. The result is evaluated as an inner-scope template.
    fn outer_template(&self, tpl: &Value, sc: &Scope) -> (Value, Value) {
        let mut t = lenient(tpl, sc);
        let mut decls = Map::new();
        let mut values = Map::new();
        for (name, ty) in &self.param_types {
            decls.insert(name.clone(), json!({"type": ty}));
            values.insert(
                name.clone(),
                json!({"value": escape(self.params.get(name).cloned().unwrap_or(Value::Null))}),
            );
        }
        let mut vars = Map::new();
        let var_scope = Scope {
            copies: Vec::new(),
            ..sc.clone()
        };
        for n in self.vars.names() {
            if let Ok(v) = eval_str(
                &format!("[variables('{}')]", n.replace('\'', "''")),
                &var_scope,
            ) {
                vars.insert(n, escape(v));
            }
        }
        if let Some(o) = t.as_object_mut() {
            o.insert("parameters".into(), Value::Object(decls));
            o.insert("variables".into(), Value::Object(vars));
        }
        (t, Value::Object(values))
    }

    fn resource_error(&self, inst: &Instance, e: EvalError, key: &str) -> TemplateError {
        let path = [inst.path.clone(), vec![seg(key)], e.path].concat();
        TemplateError::validation(
            format!(
                "The template resource '{}'{{loc}} is not valid: {}",
                inst.name, e.message
            ),
            path,
        )
    }

    /// The outputs as ARM shows them: `{name: {type, value}}`.
    pub fn outputs(&self, ctx: &Context, env: &dyn Env) -> Result<Value, TemplateError> {
        let mut out = Map::new();
        let Some(outputs) = self.template.get("outputs").and_then(Value::as_object) else {
            return Ok(Value::Object(out));
        };
        let sc = self.scope(ctx, env, &[], true);
        for (name, o) in outputs {
            let path = vec![seg("outputs"), seg(name)];
            let err = |e: EvalError, key: &str| {
                TemplateError::validation(
                    format!(
                        "The template output '{name}'{{loc}} is not valid: {}",
                        e.message
                    ),
                    [path.clone(), vec![seg(key)], e.path].concat(),
                )
            };
            if let Some(c) = o.get("condition") {
                if eval_value(c, &sc).map_err(|e| err(e, "condition"))? == json!(false) {
                    continue;
                }
            }
            let value = if let Some(copy) = o.get("copy") {
                let count = eval_value(&copy["count"], &sc).map_err(|e| err(e, "copy"))?;
                let count = as_int(&count).unwrap_or(0);
                let mut items = Vec::new();
                for i in 0..count {
                    let mut inner = sc.clone();
                    inner.copies.push((String::new(), i));
                    items.push(eval_value(&copy["input"], &inner).map_err(|e| err(e, "copy"))?);
                }
                Value::Array(items)
            } else {
                eval_value(o.get("value").unwrap_or(&Value::Null), &sc)
                    .map_err(|e| err(e, "value"))?
            };
            let ty = o["type"].as_str().unwrap_or("string").to_ascii_lowercase();
            out.insert(name.clone(), json!({"type": arm_type(&ty), "value": value}));
        }
        Ok(Value::Object(out))
    }
}

/// Evaluate what can be evaluated; keep the rest as written.
fn lenient(v: &Value, sc: &Scope) -> Value {
    match v {
        Value::String(s) if expr::is_expression(s) => match eval_str(s, sc) {
            Ok(x) => escape(x),
            Err(_) => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| lenient(x, sc)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), lenient(x, sc))).collect())
        }
        other => other.clone(),
    }
}

/// A value as a literal in a template: strings starting with '[' get the `[[` escape.
fn escape(v: Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('[') => Value::String(format!("[{s}")),
        Value::Array(a) => Value::Array(a.into_iter().map(escape).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, escape(x))).collect()),
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
fn expand(
    plan: &Plan,
    ctx: &Context,
    env: &dyn Env,
    r: &Value,
    path: Vec<Seg>,
    outer_copies: &[(String, i64)],
    parent: Option<(&str, &str)>,
    out: &mut Vec<Instance>,
) -> Result<(), TemplateError> {
    let display = r["name"].as_str().unwrap_or_default().to_string();
    let err = |e: EvalError, key: &str, name: &str| {
        TemplateError::validation(
            format!(
                "The template resource '{name}'{{loc}} is not valid: {}",
                e.message
            ),
            [path.clone(), vec![seg(key)], e.path].concat(),
        )
    };
    if !r.is_object() {
        return Err(TemplateError::validation(
            "The template resource{loc} is not valid: a resource must be a JSON object.".into(),
            path.clone(),
        ));
    }
    let base = plan.scope(ctx, env, outer_copies, false);
    let (copy_name, count) = match get_ci(r, "copy") {
        Some(c) => {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            if name.is_empty() {
                return Err(err(EvalError::new("The copy name must be a non-empty string. Please see https://aka.ms/arm-copy for usage details."), "copy", &display));
            }
            let n = eval_value(c.get("count").unwrap_or(&Value::Null), &base)
                .map_err(|e| err(e, "copy", &display))?;
            let n = as_int(&n).filter(|n| (0..=800).contains(n)).ok_or_else(|| {
                err(EvalError::new(format!("The copy count must be an integer between 0 and 800; it is '{}'. Please see https://aka.ms/arm-copy for usage details.", eval::to_text(&n))), "copy", &display)
            })?;
            (Some(name), n)
        }
        None => (None, 1),
    };
    for i in 0..count {
        let mut copies = outer_copies.to_vec();
        if let Some(n) = &copy_name {
            copies.push((n.clone(), i));
        }
        let sc = plan.scope(ctx, env, &copies, false);
        let field = |key: &str| -> Result<Option<Value>, TemplateError> {
            match get_ci(r, key) {
                Some(v) => eval_value(v, &sc)
                    .map(Some)
                    .map_err(|e| err(e, key, &display)),
                None => Ok(None),
            }
        };
        let text = |key: &str| -> Result<Option<String>, TemplateError> {
            Ok(field(key)?.map(|v| eval::to_text(&v)))
        };
        let condition = match field("condition")? {
            None => true,
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(err(EvalError::new(format!("The template resource condition must evaluate to a boolean; it is of type '{}'.", type_name(&other))), "condition", &display))
            }
        };
        let mut rtype = text("type")?.unwrap_or_default();
        let mut name = text("name")?.unwrap_or_default();
        if name.is_empty() {
            return Err(TemplateError::validation(
                "The template resource ''{loc} is not valid. The name property cannot be null or empty. Please see https://aka.ms/arm-template/#resources for usage details.".into(),
                [path.clone(), vec![seg("name")]].concat(),
            ));
        }
        if let Some((ptype, pname)) = parent {
            if !rtype.contains('/') {
                rtype = format!("{ptype}/{rtype}");
            }
            if name.matches('/').count() + 1 < rtype.matches('/').count() {
                name = format!("{pname}/{name}");
            }
        }
        let api_version = text("apiVersion")?.unwrap_or_default();
        if rtype.is_empty() || !rtype.contains('/') {
            return Err(TemplateError::validation(
                format!("The template resource '{name}'{{loc}} is not valid: the resource type '{rtype}' must be a fully qualified type such as 'Microsoft.Storage/storageAccounts'. Please see https://aka.ms/arm-template/#resources for usage details."),
                [path.clone(), vec![seg("type")]].concat(),
            ));
        }
        if api_version.is_empty() {
            return Err(TemplateError::validation(
                format!("The template resource '{name}'{{loc}} is not valid: the 'apiVersion' property is required. Please see https://aka.ms/arm-template/#resources for usage details."),
                path.clone(),
            ));
        }
        let rg = text("resourceGroup")?;
        let sub = text("subscriptionId")?;
        let scope_prop = text("scope")?;
        let id = instance_id(
            ctx,
            &rtype,
            &name,
            rg.as_deref(),
            sub.as_deref(),
            scope_prop.as_deref(),
        )
        .map_err(|m| {
            TemplateError::validation(
                format!("The template resource '{name}'{{loc}} {m}"),
                path.clone(),
            )
        })?;
        let inst_index = out.len();
        out.push(Instance {
            path: path.clone(),
            copies: copies.clone(),
            copy_name: copy_name.clone(),
            rtype: rtype.clone(),
            api_version,
            name: name.clone(),
            id,
            condition,
            depends_on: Vec::new(),
            raw: r.clone(),
        });
        if let Some(children) = get_ci(r, "resources").and_then(Value::as_array) {
            for (j, c) in children.iter().enumerate() {
                let before = out.len();
                expand(
                    plan,
                    ctx,
                    env,
                    c,
                    [path.clone(), vec![seg("resources"), Seg::Idx(j)]].concat(),
                    &copies,
                    Some((&rtype, &name)),
                    out,
                )?;
                // a child depends on its parent
                for child in &mut out[before..] {
                    child.depends_on.push(inst_index);
                }
            }
        }
    }
    Ok(())
}

/// The resource id an instance gets at the deployment's scope.
fn instance_id(
    ctx: &Context,
    rtype: &str,
    name: &str,
    rg: Option<&str>,
    sub: Option<&str>,
    scope: Option<&str>,
) -> Result<String, String> {
    let types: Vec<&str> = rtype.trim_matches('/').split('/').collect();
    let names: Vec<&str> = name.trim_matches('/').split('/').collect();
    if types.len() != names.len() + 1 {
        return Err(format!("for type '{rtype}' has incorrect segment lengths. A nested resource type must have identical number of segments as its resource name. A root resource type must have segment length one greater than its resource name. Please see https://aka.ms/arm-template/#resources for usage details."));
    }
    let lt = rtype.to_ascii_lowercase();
    let is_deployment = lt == "microsoft.resources/deployments";
    if (rg.is_some() || sub.is_some()) && !is_deployment {
        return Err("is not valid: the 'resourceGroup' and 'subscriptionId' properties are only allowed on resources of type 'Microsoft.Resources/deployments'. Please see https://aka.ms/arm-template/#resources for usage details.".into());
    }
    let s = sub
        .map(String::from)
        .or_else(|| ctx.subscription_id.clone())
        .unwrap_or_default();
    if lt == "microsoft.resources/resourcegroups" {
        return Ok(format!("/subscriptions/{s}/resourceGroups/{name}"));
    }
    let base = if let Some(sc) = scope {
        if sc.starts_with('/') {
            sc.trim_end_matches('/').to_string()
        } else {
            format!(
                "{}/providers/{}",
                scope_base(ctx, None, None),
                sc.trim_matches('/')
            )
        }
    } else if is_deployment {
        match (sub, rg) {
            (_, Some(r)) => format!("/subscriptions/{s}/resourceGroups/{r}"),
            (Some(_), None) => format!("/subscriptions/{s}"),
            (None, None) => scope_base(ctx, None, None),
        }
    } else {
        scope_base(ctx, None, None)
    };
    let mut id = format!("{base}/providers/{}", types[0]);
    for (t, n) in types[1..].iter().zip(names) {
        id.push_str(&format!("/{t}/{n}"));
    }
    Ok(id)
}

fn scope_base(ctx: &Context, sub: Option<&str>, rg: Option<&str>) -> String {
    // a management-group deployment's resources go below its group
    if let (None, None, Some(g)) = (sub, &ctx.subscription_id, &ctx.management_group) {
        return g["id"].as_str().unwrap_or_default().to_string();
    }
    let s = sub
        .map(String::from)
        .or_else(|| ctx.subscription_id.clone())
        .unwrap_or_default();
    match rg
        .map(String::from)
        .or_else(|| ctx.resource_group_name.clone())
    {
        Some(r) => format!("/subscriptions/{s}/resourceGroups/{r}"),
        None => format!("/subscriptions/{s}"),
    }
}

fn resolve_dependencies(
    plan: &mut Plan,
    ctx: &Context,
    env: &dyn Env,
) -> Result<(), TemplateError> {
    let mut all = Vec::new();
    for (i, inst) in plan.instances.iter().enumerate() {
        let mut deps: BTreeSet<usize> = inst.depends_on.iter().copied().collect();
        if let Some(list) = get_ci(&inst.raw, "dependsOn") {
            let sc = plan.scope(ctx, env, &inst.copies, false);
            let list = eval_value(list, &sc).map_err(|e| {
                TemplateError::validation(
                    format!(
                        "The template resource '{}'{{loc}} is not valid: {}",
                        inst.name, e.message
                    ),
                    [inst.path.clone(), vec![seg("dependsOn")], e.path].concat(),
                )
            })?;
            for (j, d) in list.as_array().into_iter().flatten().enumerate() {
                let d = eval::to_text(d);
                let dl = d.trim_end_matches('/').to_ascii_lowercase();
                let matches: Vec<usize> = plan
                    .instances
                    .iter()
                    .enumerate()
                    .filter(|(k, o)| {
                        *k != i
                            && (o.id.to_ascii_lowercase() == dl
                                || o.name.to_ascii_lowercase() == dl
                                || format!("{}/{}", o.rtype, o.name).to_ascii_lowercase() == dl
                                || o.copy_name
                                    .as_deref()
                                    .is_some_and(|c| c.eq_ignore_ascii_case(&dl)))
                    })
                    .map(|(k, _)| k)
                    .collect();
                if matches.is_empty() {
                    return Err(TemplateError::validation(
                        format!("The resource '{d}' is not defined in the template. Please see https://aka.ms/arm-template for usage details."),
                        [inst.path.clone(), vec![seg("dependsOn"), Seg::Idx(j)]].concat(),
                    ));
                }
                deps.extend(matches);
            }
        }
        all.push(deps.into_iter().collect::<Vec<_>>());
    }
    for (inst, deps) in plan.instances.iter_mut().zip(all) {
        inst.depends_on = deps;
    }
    Ok(())
}

/// Kahn's algorithm, taking ready instances in template order.
fn order(plan: &Plan) -> Result<Vec<usize>, TemplateError> {
    let n = plan.instances.len();
    let mut indegree = vec![0usize; n];
    let mut users: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, inst) in plan.instances.iter().enumerate() {
        indegree[i] = inst.depends_on.len();
        for d in &inst.depends_on {
            users.entry(*d).or_default().push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        out.push(i);
        for u in users.get(&i).into_iter().flatten() {
            indegree[*u] -= 1;
            if indegree[*u] == 0 {
                ready.insert(*u);
            }
        }
    }
    if out.len() < n {
        let stuck: Vec<String> = (0..n)
            .filter(|i| indegree[*i] > 0)
            .map(|i| plan.instances[i].name.clone())
            .collect();
        return Err(TemplateError::validation(
            format!("Deployment template validation failed: Circular dependency detected on resource: '{}'. Please see https://aka.ms/arm-template/#resources for usage details.", stuck.join("', '")),
            Vec::new(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoEnv;
    impl Env for NoEnv {
        fn reference(&self, id: &str, _: Option<&str>, _: bool) -> Result<Value, String> {
            Err(format!("no {id}"))
        }
        fn new_guid(&self) -> String {
            "g".into()
        }
    }

    fn sub_ctx() -> Context {
        Context {
            subscription: Some(json!({"id": "/subscriptions/s1", "subscriptionId": "s1"})),
            resource_group: None,
            deployment: json!({"name": "d"}),
            tenant: json!({}),
            subscription_id: Some("s1".into()),
            resource_group_name: None,
            utc_now: time::macros::datetime!(2025-01-01 0:00 UTC),
            management_group: None,
        }
    }

    fn tpl(resources: Value, params: Value) -> Value {
        json!({
            "$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": params,
            "resources": resources,
        })
    }

    #[test]
    fn copy_loops_conditions_and_order() {
        let t = tpl(
            json!([
                {"type": "Microsoft.X/b", "apiVersion": "1", "name": "[concat('b', copyIndex())]", "copy": {"name": "bs", "count": "[parameters('n')]"}, "dependsOn": ["a"]},
                {"type": "Microsoft.X/a", "apiVersion": "1", "name": "a", "condition": "[greater(parameters('n'), 1)]"},
                {"type": "Microsoft.X/c", "apiVersion": "1", "name": "c", "dependsOn": ["bs"]}
            ]),
            json!({"n": {"type": "int", "defaultValue": 2, "minValue": 1}}),
        );
        let p = prepare(&t, None, &sub_ctx(), &NoEnv).unwrap();
        let names: Vec<&str> = p
            .order
            .iter()
            .map(|i| p.instances[*i].name.as_str())
            .collect();
        assert_eq!(names, ["a", "b0", "b1", "c"]);
        assert_eq!(
            p.instances[0].id,
            "/subscriptions/s1/providers/Microsoft.X/b/b0"
        );
        let bad = prepare(&t, Some(&json!({"n": {"value": 0}})), &sub_ctx(), &NoEnv).unwrap_err();
        assert!(
            bad.message.contains("less than the minimum value '1'"),
            "{}",
            bad.message
        );
    }

    #[test]
    fn shape_and_parameter_errors() {
        let e = prepare(
            &json!({"contentVersion": "1.0.0.0"}),
            None,
            &sub_ctx(),
            &NoEnv,
        )
        .unwrap_err();
        assert!(e.parse && e.message.contains("$schema"));
        let t = tpl(
            json!([]),
            json!({"x": {"type": "string", "allowedValues": ["a"]}}),
        );
        let e = prepare(&t, None, &sub_ctx(), &NoEnv).unwrap_err();
        assert!(e.message.contains("is not provided"));
        let e = prepare(&t, Some(&json!({"x": {"value": "b"}})), &sub_ctx(), &NoEnv).unwrap_err();
        assert!(e.message.contains("allowed value(s)"));
        let e = prepare(&t, Some(&json!({"y": {"value": "b"}})), &sub_ctx(), &NoEnv).unwrap_err();
        assert!(e.message.contains("not present in the original template"));
        let t = tpl(
            json!([{"type": "Microsoft.X/a", "apiVersion": "1", "name": "a", "dependsOn": ["ghost"]}]),
            json!({}),
        );
        let e = prepare(&t, None, &sub_ctx(), &NoEnv).unwrap_err();
        assert!(e.message.contains("'ghost' is not defined"));
        assert_eq!(
            e.path,
            vec![seg("resources"), Seg::Idx(0), seg("dependsOn"), Seg::Idx(0)]
        );
    }

    #[test]
    fn unknown_functions_are_found_before_deploying() {
        let t = tpl(
            json!([{"type": "Microsoft.X/a", "apiVersion": "1", "name": "a", "properties": {"x": ["ok", "[toLowr('A')]"]}}]),
            json!({}),
        );
        let e = prepare(&t, None, &sub_ctx(), &NoEnv).unwrap_err();
        assert_eq!(e.message, "The template resource 'a'{loc} is not valid: The template function 'toLowr' is not found. Please see https://aka.ms/arm-functions for usage details.");
        assert_eq!(
            super::super::locate::path_string(&e.path),
            "resources[0].properties.x[1]"
        );
    }

    #[test]
    fn nested_deployment_outer_scope() {
        let t = tpl(
            json!([{
                "type": "Microsoft.Resources/deployments", "apiVersion": "2018-05-01",
                "name": "[concat('rg', copyIndex())]", "resourceGroup": "[parameters('rgs')[copyIndex()]]",
                "copy": {"name": "c", "count": 2},
                "properties": {"mode": "Incremental", "template": {
                    "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                    "contentVersion": "1.0.0.0",
                    "resources": [{"type": "Microsoft.X/a", "apiVersion": "1", "name": "[guid(parameters('rgs')[copyIndex()])]",
                        "properties": {"def": "[resourceId('Microsoft.X/defs/', 'd')]"}}]
                }}
            }]),
            json!({"rgs": {"type": "array"}}),
        );
        let p = prepare(
            &t,
            Some(&json!({"rgs": {"value": ["x", "y"]}})),
            &sub_ctx(),
            &NoEnv,
        )
        .unwrap();
        assert_eq!(
            p.instances[1].id,
            "/subscriptions/s1/resourceGroups/y/providers/Microsoft.Resources/deployments/rg1"
        );
        let body = p.body(1, &sub_ctx(), &NoEnv).unwrap();
        let inner = &body["properties"]["template"]["resources"][0];
        assert_eq!(
            inner["name"],
            json!(super::super::hash::guid(&["y".into()]))
        );
        assert_eq!(
            inner["properties"]["def"],
            "/subscriptions/s1/providers/Microsoft.X/defs/d"
        );
        assert_eq!(
            body["properties"]["expressionEvaluationOptions"]["scope"],
            "inner"
        );
        assert_eq!(
            body["properties"]["parameters"]["rgs"]["value"],
            json!(["x", "y"])
        );
    }
}

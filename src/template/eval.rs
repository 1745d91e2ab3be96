//! Evaluating template expressions: the scope an expression sees (deployment context, parameters,
//! lazily evaluated variables, the copy loops it sits in) and the template functions. Values are JSON.
//! Pure: the context (`subscription()`, `resourceGroup()`, `deployment()`, the time for `utcNow`) is
//! passed in, and `reference()`/`newGuid()` go through the caller's `Env`.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::expr::{self, Expr};
use super::hash;
use super::locate::Seg;

/// What the deployment knows about where it runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// `subscription()`; `None` outside a subscription.
    pub subscription: Option<Value>,
    /// `resourceGroup()`; `None` for subscription-scope deployments.
    pub resource_group: Option<Value>,
    /// `deployment()`.
    pub deployment: Value,
    /// `tenant()`.
    pub tenant: Value,
    /// Subscription id of the deployment's scope.
    pub subscription_id: Option<String>,
    /// Resource group name of the deployment's scope.
    pub resource_group_name: Option<String>,
    /// The time `utcNow()` reports (parameter defaults only).
    pub utc_now: OffsetDateTime,
    /// `managementGroup()` at management-group scope (`{id, name, type, properties}`); `None` elsewhere.
    /// Resources a management-group deployment declares without a scope go below it.
    pub management_group: Option<Value>,
}

/// What evaluation needs from outside: other resources' state and fresh GUIDs.
pub trait Env {
    /// `reference(id, apiVersion, 'Full')`: the resource (its `properties` unless `full`).
    fn reference(&self, id: &str, api_version: Option<&str>, full: bool) -> Result<Value, String>;
    /// `newGuid()`.
    fn new_guid(&self) -> String;
    /// The id of a resource the template declares under `name` (for `reference('name')`).
    fn resolve_name(&self, _name: &str) -> Option<String> {
        None
    }
    /// The functions a language built on this evaluator adds or redefines (Azure Policy's `field()`,
    /// `current()`, `requestContext()`…): asked first, with the evaluated arguments; `None` when `name`
    /// is not one of them, and the template function of that name (if any) runs.
    fn function(
        &self,
        _name: &str,
        _args: &[Value],
        _ctx: &Context,
    ) -> Option<Result<Value, String>> {
        None
    }
}

/// An expression error: ARM's message and the JSON path (relative to the evaluated value).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub message: String,
    pub path: Vec<Seg>,
    /// The error is a deferral (a runtime function outside its stage), not a template fault.
    pub deferred: bool,
}

impl EvalError {
    pub fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
            path: Vec::new(),
            deferred: false,
        }
    }

    fn at(mut self, seg: Seg) -> Self {
        self.path.insert(0, seg);
        self
    }
}

/// Template variables, evaluated on first use (they may refer to each other in any order).
#[derive(Debug)]
pub struct Vars {
    raw: Map<String, Value>,
    copies: HashMap<String, Value>,
    cache: RefCell<HashMap<String, Value>>,
    busy: RefCell<Vec<String>>,
}

impl Vars {
    pub fn new(raw: &Map<String, Value>) -> Vars {
        let mut plain = Map::new();
        let mut copies = HashMap::new();
        for (k, v) in raw {
            if k == "copy" && v.is_array() {
                for c in v.as_array().into_iter().flatten() {
                    if let Some(n) = c["name"].as_str() {
                        copies.insert(n.to_ascii_lowercase(), c.clone());
                    }
                }
            } else {
                plain.insert(k.clone(), v.clone());
            }
        }
        Vars {
            raw: plain,
            copies,
            cache: RefCell::new(HashMap::new()),
            busy: RefCell::new(Vec::new()),
        }
    }

    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.raw.keys().cloned().collect();
        n.extend(
            self.copies
                .values()
                .filter_map(|c| c["name"].as_str().map(String::from)),
        );
        n
    }

    /// The value of every variable (for passing an outer scope into a nested template).
    pub fn all(&self, sc: &Scope) -> Result<Map<String, Value>, EvalError> {
        let mut out = Map::new();
        for n in self.names() {
            out.insert(n.clone(), self.get(&n, sc).map_err(EvalError::new)?);
        }
        Ok(out)
    }

    fn get(&self, name: &str, sc: &Scope) -> Result<Value, String> {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.cache.borrow().get(&key) {
            return Ok(v.clone());
        }
        if self.busy.borrow().contains(&key) {
            return Err(format!("The template variable '{name}' is not valid: the variable refers to itself through a circular reference. Please see https://aka.ms/arm-template/#variables for usage details."));
        }
        let inner = Scope {
            copies: Vec::new(),
            in_default: false,
            ..sc.clone()
        };
        self.busy.borrow_mut().push(key.clone());
        let result = if let Some(c) = self.copies.get(&key) {
            eval_copy_array(c, &inner)
        } else if let Some((_, raw)) = self.raw.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            eval_value(raw, &inner)
        } else {
            self.busy.borrow_mut().retain(|b| b != &key);
            return Err(format!("The template variable '{name}' is not found. Please see https://aka.ms/arm-template/#variables for usage details."));
        };
        self.busy.borrow_mut().retain(|b| b != &key);
        let v = result.map_err(|e| {
            if e.message.starts_with("The template variable") {
                e.message
            } else {
                format!("The template variable '{name}' is not valid: {}", e.message)
            }
        })?;
        self.cache.borrow_mut().insert(key, v.clone());
        Ok(v)
    }
}

/// Everything an expression sees.
#[derive(Clone)]
pub struct Scope<'a> {
    pub ctx: &'a Context,
    pub env: &'a dyn Env,
    pub params: &'a Map<String, Value>,
    pub vars: Option<&'a Vars>,
    /// The copy loops around the expression, innermost last: (loop name, index).
    pub copies: Vec<(String, i64)>,
    /// Evaluating a parameter default: `utcNow`/`newGuid` allowed, `variables`/`reference` not.
    pub in_default: bool,
    /// `reference()` is allowed (resource bodies and outputs, not names or conditions).
    pub allow_reference: bool,
}

/// Evaluate a template value: expressions in strings, property `copy` arrays in objects.
pub fn eval_value(v: &Value, sc: &Scope) -> Result<Value, EvalError> {
    match v {
        Value::String(s) => eval_str(s, sc),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| eval_value(x, sc).map_err(|e| e.at(Seg::Idx(i))))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if k == "copy" && is_property_copy(x) {
                    for (i, c) in x.as_array().into_iter().flatten().enumerate() {
                        let name = c["name"].as_str().unwrap_or_default().to_string();
                        let arr = eval_copy_array(c, sc)
                            .map_err(|e| e.at(Seg::Idx(i)).at(Seg::Key("copy".into())))?;
                        out.insert(name, arr);
                    }
                    continue;
                }
                let key = eval_key(k, sc).map_err(|e| e.at(Seg::Key(k.clone())))?;
                out.insert(
                    key,
                    eval_value(x, sc).map_err(|e| e.at(Seg::Key(k.clone())))?,
                );
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn eval_key(k: &str, sc: &Scope) -> Result<String, EvalError> {
    if expr::is_expression(k) {
        match eval_str(k, sc)? {
            Value::String(s) => Ok(s),
            other => Ok(to_text(&other)),
        }
    } else {
        Ok(expr::unescape_literal(k).to_string())
    }
}

/// A property-level `copy`: an array of `{name, count, input}`.
pub fn is_property_copy(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter().all(|c| {
                c.get("name").is_some() && c.get("count").is_some() && c.get("input").is_some()
            })
    })
}

/// `{name, count, input}` → the array of `input` for each index of the loop `name`.
fn eval_copy_array(c: &Value, sc: &Scope) -> Result<Value, EvalError> {
    let name = c["name"].as_str().unwrap_or_default().to_string();
    let count = eval_value(&c["count"], sc).map_err(|e| e.at(Seg::Key("count".into())))?;
    let count = as_int(&count).ok_or_else(|| {
        EvalError::new(format!(
            "The copy count of '{name}' must be a non-negative integer."
        ))
        .at(Seg::Key("count".into()))
    })?;
    if !(0..=800).contains(&count) {
        return Err(EvalError::new(format!("The copy count of '{name}' must be between 0 and 800; it is '{count}'. Please see https://aka.ms/arm-copy for usage details.")).at(Seg::Key("count".into())));
    }
    let mut out = Vec::new();
    for i in 0..count {
        let mut inner = sc.clone();
        inner.copies.push((name.clone(), i));
        out.push(eval_value(&c["input"], &inner).map_err(|e| e.at(Seg::Key("input".into())))?);
    }
    Ok(Value::Array(out))
}

/// Evaluate one JSON string: an expression, or a literal.
pub fn eval_str(s: &str, sc: &Scope) -> Result<Value, EvalError> {
    if !expr::is_expression(s) {
        return Ok(Value::String(expr::unescape_literal(s).to_string()));
    }
    let e = expr::parse(s).map_err(EvalError::new)?;
    eval(&e, sc).map_err(|m| {
        let deferred = m.starts_with(DEFERRED);
        EvalError {
            message: m.trim_start_matches(DEFERRED).to_string(),
            path: Vec::new(),
            deferred,
        }
    })
}

/// Every function the evaluator knows (lower-case); `list*` functions are known too.
pub const FUNCTIONS: &[&str] = &[
    "if",
    "coalesce",
    "parameters",
    "variables",
    "copyindex",
    "subscription",
    "resourcegroup",
    "deployment",
    "tenant",
    "managementgroup",
    "environment",
    "reference",
    "utcnow",
    "newguid",
    "resourceid",
    "subscriptionresourceid",
    "tenantresourceid",
    "extensionresourceid",
    "managementgroupresourceid",
    "concat",
    "format",
    "string",
    "tolower",
    "toupper",
    "trim",
    "replace",
    "split",
    "substring",
    "startswith",
    "endswith",
    "indexof",
    "lastindexof",
    "padleft",
    "base64",
    "base64tostring",
    "base64tojson",
    "uri",
    "uricomponent",
    "uricomponenttostring",
    "guid",
    "uniquestring",
    "json",
    "join",
    "length",
    "empty",
    "contains",
    "first",
    "last",
    "take",
    "skip",
    "union",
    "intersection",
    "createarray",
    "createobject",
    "array",
    "items",
    "objectkeys",
    "range",
    "min",
    "max",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "int",
    "float",
    "bool",
    "true",
    "false",
    "null",
    "equals",
    "not",
    "and",
    "or",
    "greater",
    "greaterorequals",
    "less",
    "lessorequals",
];

/// The functions an expression calls that the evaluator does not know.
pub fn unknown_functions(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Call(name, args) => {
            let l = name.to_ascii_lowercase();
            if !FUNCTIONS.contains(&l.as_str()) && !l.starts_with("list") {
                out.push(name.clone());
            }
            for a in args {
                unknown_functions(a, out);
            }
        }
        Expr::Member(b, _) => unknown_functions(b, out),
        Expr::Index(b, i) => {
            unknown_functions(b, out);
            unknown_functions(i, out);
        }
        _ => {}
    }
}

/// Marks an error as "this function cannot run at this stage" (a nested template's own loop, say).
const DEFERRED: &str = "\u{1}";

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Float",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}

/// ARM's `string()` of a value: JSON for arrays and objects, `True`/`False` for booleans.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn not_found_fn(name: &str) -> String {
    format!("The template function '{name}' is not found. Please see https://aka.ms/arm-functions for usage details.")
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!("Unable to evaluate template language function '{name}': function requires {want} argument(s) while {} were provided. Please see https://aka.ms/arm-functions for usage details.", args.len()));
    }
    Ok(())
}

fn bad_type(name: &str, i: usize, want: &str, got: &Value) -> String {
    format!("The template language function '{name}' expects its parameter {} to be of type '{want}'. The provided value is of type '{}'. Please see https://aka.ms/arm-functions for usage details.", i + 1, type_name(got))
}

fn str_arg<'v>(name: &str, args: &'v [Value], i: usize) -> Result<&'v str, String> {
    args[i]
        .as_str()
        .ok_or_else(|| bad_type(name, i, "String", &args[i]))
}

fn int_arg(name: &str, args: &[Value], i: usize) -> Result<i64, String> {
    as_int(&args[i]).ok_or_else(|| bad_type(name, i, "Integer", &args[i]))
}

fn bool_arg(name: &str, args: &[Value], i: usize) -> Result<bool, String> {
    args[i]
        .as_bool()
        .ok_or_else(|| bad_type(name, i, "Boolean", &args[i]))
}

fn eval(e: &Expr, sc: &Scope) -> Result<Value, String> {
    match e {
        Expr::Str(s) => Ok(Value::String(s.clone())),
        Expr::Int(i) => Ok(json!(i)),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Null => Ok(Value::Null),
        Expr::Member(base, name) => {
            let b = eval(base, sc)?;
            member(&b, name)
        }
        Expr::Index(base, idx) => {
            let b = eval(base, sc)?;
            let i = eval(idx, sc)?;
            match (&b, &i) {
                (Value::Array(a), _) => {
                    let n = as_int(&i).ok_or_else(|| format!("The language expression property array index must be an integer; it is of type '{}'.", type_name(&i)))?;
                    if n < 0 || n as usize >= a.len() {
                        return Err(format!("The language expression property array index '{n}' is out of bounds."));
                    }
                    Ok(a[n as usize].clone())
                }
                (Value::Object(_), Value::String(k)) => member(&b, k),
                _ => Err(format!("The language expression property '{}' can't be evaluated on a value of type '{}'.", to_text(&i), type_name(&b))),
            }
        }
        Expr::Call(name, args) => call(name, args, sc),
    }
}

fn member(b: &Value, name: &str) -> Result<Value, String> {
    match b {
        Value::Object(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                format!(
                    "The language expression property '{name}' doesn't exist, available properties are '{}'.",
                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }),
        other => Err(format!(
            "The language expression property '{name}' can't be evaluated, property name must be a string and the value must be an object; the value is of type '{}'.",
            type_name(other)
        )),
    }
}

fn lazy_args(args: &[Expr], sc: &Scope) -> Result<Vec<Value>, String> {
    args.iter().map(|a| eval(a, sc)).collect()
}

fn call(name: &str, raw: &[Expr], sc: &Scope) -> Result<Value, String> {
    let lname = name.to_ascii_lowercase();
    // Short-circuiting forms first.
    match lname.as_str() {
        "if" => {
            if raw.len() != 3 {
                return arity(name, &vec![Value::Null; raw.len()], 3, 3).map(|_| Value::Null);
            }
            let c = eval(&raw[0], sc)?;
            let c = c
                .as_bool()
                .ok_or_else(|| bad_type(name, 0, "Boolean", &c))?;
            return eval(if c { &raw[1] } else { &raw[2] }, sc);
        }
        "coalesce" => {
            for a in raw {
                let v = eval(a, sc)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        _ => {}
    }
    let args = lazy_args(raw, sc)?;
    if let Some(r) = sc.env.function(name, &args, sc.ctx) {
        return r;
    }
    let a = &args;
    match lname.as_str() {
        // --- deployment values ---
        "parameters" => {
            arity(name, a, 1, 1)?;
            let p = str_arg(name, a, 0)?;
            sc.params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(p))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("The template parameter '{p}' is not found. Please see https://aka.ms/arm-template/#parameters for usage details."))
        }
        "variables" => {
            arity(name, a, 1, 1)?;
            let v = str_arg(name, a, 0)?;
            match sc.vars {
                Some(vars) if !sc.in_default => vars.get(v, sc),
                _ => Err("The template function 'variables' is not expected at this location. Please see https://aka.ms/arm-functions for usage details.".to_string()),
            }
        }
        "copyindex" => {
            arity(name, a, 0, 2)?;
            let (loop_name, offset) = match a.len() {
                0 => (None, 0),
                1 => match &a[0] {
                    Value::String(s) => (Some(s.clone()), 0),
                    v => (
                        None,
                        as_int(v).ok_or_else(|| bad_type(name, 0, "Integer", v))?,
                    ),
                },
                _ => (Some(str_arg(name, a, 0)?.to_string()), int_arg(name, a, 1)?),
            };
            let found = match &loop_name {
                None => sc.copies.last(),
                Some(n) => sc
                    .copies
                    .iter()
                    .rev()
                    .find(|(c, _)| c.eq_ignore_ascii_case(n)),
            };
            match found {
                Some((_, i)) => Ok(json!(i + offset)),
                None => Err(format!("{DEFERRED}The template function 'copyIndex' is not expected at this location. The function can only be used in a resource with copy specified. Please see https://aka.ms/arm-copy for usage details.")),
            }
        }
        "subscription" => {
            arity(name, a, 0, 0)?;
            sc.ctx.subscription.clone().ok_or_else(|| "The template function 'subscription' is not expected at this location. Please see https://aka.ms/arm-functions for usage details.".into())
        }
        "resourcegroup" => {
            arity(name, a, 0, 0)?;
            sc.ctx.resource_group.clone().ok_or_else(|| "The template function 'RESOURCEGROUP' is not expected at this location. Please see https://aka.ms/arm-functions for usage details.".into())
        }
        "deployment" => {
            arity(name, a, 0, 0)?;
            Ok(sc.ctx.deployment.clone())
        }
        "tenant" => {
            arity(name, a, 0, 0)?;
            Ok(sc.ctx.tenant.clone())
        }
        "managementgroup" => {
            arity(name, a, 0, 0)?;
            sc.ctx.management_group.clone().ok_or_else(|| "The template function 'managementGroup' is not expected at this location. Please see https://aka.ms/arm-functions for usage details.".into())
        }
        "environment" => {
            arity(name, a, 0, 0)?;
            Ok(json!({
                "name": "AzureCloud",
                "gallery": "https://gallery.azure.com/",
                "graph": "https://graph.windows.net/",
                "portal": "https://portal.azure.com",
                "graphAudience": "https://graph.windows.net/",
                "activeDirectoryDataLake": "https://datalake.azure.net/",
                "batch": "https://batch.core.windows.net/",
                "media": "https://rest.media.azure.net",
                "sqlManagement": "https://management.core.windows.net:8443/",
                "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/aliases.json",
                "resourceManager": "https://management.azure.com/",
                "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"], "tenant": "common", "identityProvider": "AAD"},
                "suffixes": {"acrLoginServer": ".azurecr.io", "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net", "azureDatalakeStoreFileSystem": "azuredatalakestore.net", "azureFrontDoorEndpointSuffix": "azurefd.net", "keyvaultDns": ".vault.azure.net", "sqlServerHostname": ".database.windows.net", "storage": "core.windows.net"}
            }))
        }
        "reference" => {
            arity(name, a, 1, 3)?;
            if !sc.allow_reference || sc.in_default {
                return Err(format!("{DEFERRED}The template function 'reference' is not expected at this location. Please see https://aka.ms/arm-functions for usage details."));
            }
            let target = str_arg(name, a, 0)?;
            let api = if a.len() > 1 {
                Some(str_arg(name, a, 1)?)
            } else {
                None
            };
            let full = a.len() > 2 && str_arg(name, a, 2)?.eq_ignore_ascii_case("full");
            let id = if target.starts_with('/') {
                target.to_string()
            } else {
                sc.env.resolve_name(target).ok_or_else(|| format!("The template resource '{target}' is not found in the template; reference() needs a resource id or the name of a resource of this template."))?
            };
            sc.env.reference(&id, api, full)
        }
        n if n.starts_with("list") && n != "last" && n != "lastindexof" => Err(format!(
            "{DEFERRED}The template function '{name}' is not supported by the emulator."
        )),
        "utcnow" => {
            arity(name, a, 0, 1)?;
            if !sc.in_default {
                return Err("The template function 'utcNow' is not expected at this location. It can only be used with parameter default values. Please see https://aka.ms/arm-functions for usage details.".into());
            }
            let fmt = if a.is_empty() {
                "yyyyMMddTHHmmssZ"
            } else {
                str_arg(name, a, 0)?
            };
            Ok(Value::String(format_time(sc.ctx.utc_now, fmt)))
        }
        "newguid" => {
            arity(name, a, 0, 0)?;
            if !sc.in_default {
                return Err("The template function 'newGuid' is not expected at this location. It can only be used with parameter default values. Please see https://aka.ms/arm-functions for usage details.".into());
            }
            Ok(Value::String(sc.env.new_guid()))
        }
        // --- resource ids ---
        "resourceid" => resource_id(name, a, sc),
        "subscriptionresourceid" => {
            arity(name, a, 2, usize::MAX)?;
            let strs = all_strings(name, a)?;
            let (sub, rest) = match type_position(&strs) {
                Some(0) => (
                    sc.ctx.subscription_id.clone().unwrap_or_default(),
                    &strs[..],
                ),
                Some(1) => (strs[0].clone(), &strs[1..]),
                _ => return Err(bad_resource_type(name)),
            };
            Ok(Value::String(format!(
                "/subscriptions/{sub}{}",
                provider_path(name, rest)?
            )))
        }
        "tenantresourceid" => {
            arity(name, a, 2, usize::MAX)?;
            let strs = all_strings(name, a)?;
            Ok(Value::String(provider_path(name, &strs)?))
        }
        "extensionresourceid" => {
            arity(name, a, 3, usize::MAX)?;
            let strs = all_strings(name, a)?;
            Ok(Value::String(format!(
                "{}{}",
                strs[0].trim_end_matches('/'),
                provider_path(name, &strs[1..])?
            )))
        }
        "managementgroupresourceid" => {
            // managementGroupResourceId([groupId], type, names…): below the deployment's group, or
            // the one named first
            arity(name, a, 2, usize::MAX)?;
            let strs = all_strings(name, a)?;
            let (group, rest) = match type_position(&strs) {
                Some(0) => (
                    sc.ctx
                        .management_group
                        .as_ref()
                        .and_then(|g| g["name"].as_str().map(String::from))
                        .ok_or_else(|| format!("The template function '{name}' without a management group id is only valid in a management-group deployment. Please see https://aka.ms/arm-functions for usage details."))?,
                    &strs[..],
                ),
                Some(1) => (strs[0].clone(), &strs[1..]),
                _ => return Err(bad_resource_type(name)),
            };
            Ok(Value::String(format!(
                "/providers/Microsoft.Management/managementGroups/{group}{}",
                provider_path(name, rest)?
            )))
        }
        // --- strings ---
        "concat" => {
            if a.is_empty() {
                return Ok(Value::String(String::new()));
            }
            if a.iter().all(|v| v.is_array() || v.is_null()) {
                let mut out = Vec::new();
                for v in a {
                    if let Value::Array(x) = v {
                        out.extend(x.iter().cloned());
                    }
                }
                return Ok(Value::Array(out));
            }
            let mut s = String::new();
            for (i, v) in a.iter().enumerate() {
                match v {
                    Value::Array(_) | Value::Object(_) => {
                        return Err(bad_type(name, i, "String", v))
                    }
                    _ => s.push_str(&to_text(v)),
                }
            }
            Ok(Value::String(s))
        }
        "format" => {
            arity(name, a, 1, usize::MAX)?;
            let f = str_arg(name, a, 0)?;
            format_net(f, &a[1..]).map(Value::String)
        }
        "string" => {
            arity(name, a, 1, 1)?;
            Ok(Value::String(to_text(&a[0])))
        }
        "tolower" => {
            arity(name, a, 1, 1)?;
            Ok(Value::String(str_arg(name, a, 0)?.to_lowercase()))
        }
        "toupper" => {
            arity(name, a, 1, 1)?;
            Ok(Value::String(str_arg(name, a, 0)?.to_uppercase()))
        }
        "trim" => {
            arity(name, a, 1, 1)?;
            Ok(Value::String(str_arg(name, a, 0)?.trim().to_string()))
        }
        "replace" => {
            arity(name, a, 3, 3)?;
            let (s, old, new) = (
                str_arg(name, a, 0)?,
                str_arg(name, a, 1)?,
                str_arg(name, a, 2)?,
            );
            if old.is_empty() {
                return Err(format!("Unable to evaluate template language function '{name}': the string to replace must not be empty."));
            }
            Ok(Value::String(s.replace(old, new)))
        }
        "split" => {
            arity(name, a, 2, 2)?;
            let s = str_arg(name, a, 0)?;
            let delims: Vec<String> = match &a[1] {
                Value::String(d) => vec![d.clone()],
                Value::Array(ds) => ds.iter().map(to_text).collect(),
                other => return Err(bad_type(name, 1, "String", other)),
            };
            let mut parts = vec![s.to_string()];
            for d in delims.iter().filter(|d| !d.is_empty()) {
                parts = parts
                    .iter()
                    .flat_map(|p| p.split(d.as_str()).map(String::from).collect::<Vec<_>>())
                    .collect();
            }
            Ok(json!(parts))
        }
        "substring" => {
            arity(name, a, 1, 3)?;
            let s: Vec<char> = str_arg(name, a, 0)?.chars().collect();
            let start = if a.len() > 1 { int_arg(name, a, 1)? } else { 0 };
            let len = if a.len() > 2 {
                int_arg(name, a, 2)?
            } else {
                s.len() as i64 - start
            };
            if start < 0 || len < 0 || start as usize > s.len() || (start + len) as usize > s.len()
            {
                return Err(format!("The index and length parameters must refer to a location within the string. The index parameter: '{start}', the length parameter: '{len}', the length of the string parameter: '{}'. Please see https://aka.ms/arm-functions for usage details.", s.len()));
            }
            Ok(Value::String(
                s[start as usize..(start + len) as usize].iter().collect(),
            ))
        }
        "startswith" | "endswith" | "indexof" | "lastindexof"
            if a.len() == 2 && a[0].is_string() =>
        {
            let s = str_arg(name, a, 0)?.to_lowercase();
            let t = str_arg(name, a, 1)?.to_lowercase();
            Ok(match lname.as_str() {
                "startswith" => json!(s.starts_with(&t)),
                "endswith" => json!(s.ends_with(&t)),
                "indexof" => json!(s
                    .find(&t)
                    .map(|i| s[..i].chars().count() as i64)
                    .unwrap_or(-1)),
                _ => json!(s
                    .rfind(&t)
                    .map(|i| s[..i].chars().count() as i64)
                    .unwrap_or(-1)),
            })
        }
        "indexof" | "lastindexof" => {
            arity(name, a, 2, 2)?;
            let arr = a[0]
                .as_array()
                .ok_or_else(|| bad_type(name, 0, "Array", &a[0]))?;
            let pos = if lname == "indexof" {
                arr.iter().position(|x| x == &a[1])
            } else {
                arr.iter().rposition(|x| x == &a[1])
            };
            Ok(json!(pos.map(|p| p as i64).unwrap_or(-1)))
        }
        "startswith" | "endswith" => {
            arity(name, a, 2, 2)?;
            Err(bad_type(name, 0, "String", &a[0]))
        }
        "padleft" => {
            arity(name, a, 2, 3)?;
            let s = to_text(&a[0]);
            let total = int_arg(name, a, 1)?.max(0) as usize;
            let pad = if a.len() > 2 {
                str_arg(name, a, 2)?.chars().next().unwrap_or(' ')
            } else {
                ' '
            };
            let n = s.chars().count();
            Ok(Value::String(if n >= total {
                s
            } else {
                format!("{}{s}", pad.to_string().repeat(total - n))
            }))
        }
        "base64" => {
            arity(name, a, 1, 1)?;
            use base64::Engine;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(str_arg(name, a, 0)?),
            ))
        }
        "base64tostring" => {
            arity(name, a, 1, 1)?;
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD
                .decode(str_arg(name, a, 0)?)
                .map_err(|_| format!("The template language function '{name}' got a value that is not valid base64."))?;
            Ok(Value::String(String::from_utf8_lossy(&b).into_owned()))
        }
        "base64tojson" => {
            arity(name, a, 1, 1)?;
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD
                .decode(str_arg(name, a, 0)?)
                .map_err(|_| format!("The template language function '{name}' got a value that is not valid base64."))?;
            serde_json::from_slice(&b).map_err(|e| {
                format!(
                    "The template language function '{name}' got text that is not valid JSON: {e}."
                )
            })
        }
        "uri" => {
            arity(name, a, 2, 2)?;
            let base = str_arg(name, a, 0)?;
            let rel = str_arg(name, a, 1)?;
            Ok(Value::String(join_uri(base, rel)))
        }
        "uricomponent" => {
            arity(name, a, 1, 1)?;
            Ok(Value::String(
                percent_encoding::utf8_percent_encode(
                    str_arg(name, a, 0)?,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string(),
            ))
        }
        "uricomponenttostring" => {
            arity(name, a, 1, 1)?;
            Ok(Value::String(
                percent_encoding::percent_decode_str(str_arg(name, a, 0)?)
                    .decode_utf8_lossy()
                    .into_owned(),
            ))
        }
        "guid" => {
            arity(name, a, 1, usize::MAX)?;
            Ok(Value::String(hash::guid(&all_strings(name, a)?)))
        }
        "uniquestring" => {
            arity(name, a, 1, usize::MAX)?;
            Ok(Value::String(hash::unique_string(&all_strings(name, a)?)))
        }
        "json" => {
            arity(name, a, 1, 1)?;
            let s = str_arg(name, a, 0)?;
            serde_json::from_str(s).map_err(|e| format!("Unable to evaluate template language function '{name}': the argument is not valid JSON: {e}. Please see https://aka.ms/arm-functions for usage details."))
        }
        "join" => {
            arity(name, a, 2, 2)?;
            let arr = a[0]
                .as_array()
                .ok_or_else(|| bad_type(name, 0, "Array", &a[0]))?;
            let d = str_arg(name, a, 1)?;
            Ok(Value::String(
                arr.iter().map(to_text).collect::<Vec<_>>().join(d),
            ))
        }
        // --- arrays and objects ---
        "length" => {
            arity(name, a, 1, 1)?;
            match &a[0] {
                Value::String(s) => Ok(json!(s.chars().count())),
                Value::Array(x) => Ok(json!(x.len())),
                Value::Object(m) => Ok(json!(m.len())),
                other => Err(format!("The template language function 'length' expects its parameter to be an array, an object, or a string. The provided value is of type '{}'. Please see https://aka.ms/arm-functions for usage details.", type_name(other))),
            }
        }
        "empty" => {
            arity(name, a, 1, 1)?;
            Ok(json!(match &a[0] {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(x) => x.is_empty(),
                Value::Object(m) => m.is_empty(),
                _ => false,
            }))
        }
        "contains" => {
            arity(name, a, 2, 2)?;
            Ok(json!(match &a[0] {
                Value::String(s) => s.contains(&to_text(&a[1])),
                Value::Array(x) => x.contains(&a[1]),
                Value::Object(m) => {
                    let k = to_text(&a[1]);
                    m.keys().any(|x| x.eq_ignore_ascii_case(&k))
                }
                other => return Err(bad_type(name, 0, "Array", other)),
            }))
        }
        "first" | "last" => {
            arity(name, a, 1, 1)?;
            let first = lname == "first";
            match &a[0] {
                Value::String(s) => Ok(Value::String(
                    if first {
                        s.chars().next()
                    } else {
                        s.chars().last()
                    }
                    .map(String::from)
                    .unwrap_or_default(),
                )),
                Value::Array(x) => Ok(if first { x.first() } else { x.last() }
                    .cloned()
                    .unwrap_or(Value::Null)),
                other => Err(bad_type(name, 0, "Array", other)),
            }
        }
        "take" | "skip" => {
            arity(name, a, 2, 2)?;
            let n = int_arg(name, a, 1)?.max(0) as usize;
            let take = lname == "take";
            match &a[0] {
                Value::String(s) => Ok(Value::String(if take {
                    s.chars().take(n).collect()
                } else {
                    s.chars().skip(n).collect()
                })),
                Value::Array(x) => Ok(Value::Array(if take {
                    x.iter().take(n).cloned().collect()
                } else {
                    x.iter().skip(n).cloned().collect()
                })),
                other => Err(bad_type(name, 0, "Array", other)),
            }
        }
        "union" => {
            arity(name, a, 1, usize::MAX)?;
            if a.iter().all(Value::is_object) {
                let mut out = Map::new();
                for v in a {
                    merge_objects(&mut out, v.as_object().into_iter().flatten());
                }
                Ok(Value::Object(out))
            } else if a.iter().all(Value::is_array) {
                let mut out: Vec<Value> = Vec::new();
                for v in a.iter().filter_map(Value::as_array).flatten() {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Ok(Value::Array(out))
            } else {
                Err(format!("The template language function '{name}' expects all its parameters to be arrays or all to be objects. Please see https://aka.ms/arm-functions for usage details."))
            }
        }
        "intersection" => {
            arity(name, a, 2, usize::MAX)?;
            if a.iter().all(Value::is_object) {
                let first = a[0].as_object().cloned().unwrap_or_default();
                let out: Map<String, Value> = first
                    .into_iter()
                    .filter(|(k, v)| a[1..].iter().all(|o| o.get(k) == Some(v)))
                    .collect();
                Ok(Value::Object(out))
            } else if a.iter().all(Value::is_array) {
                let mut out: Vec<Value> = Vec::new();
                for v in a[0].as_array().into_iter().flatten() {
                    if a[1..]
                        .iter()
                        .all(|o| o.as_array().is_some_and(|x| x.contains(v)))
                        && !out.contains(v)
                    {
                        out.push(v.clone());
                    }
                }
                Ok(Value::Array(out))
            } else {
                Err(format!("The template language function '{name}' expects all its parameters to be arrays or all to be objects. Please see https://aka.ms/arm-functions for usage details."))
            }
        }
        "createarray" => Ok(Value::Array(a.clone())),
        "createobject" => {
            if a.len() % 2 != 0 {
                return Err(format!("The template language function '{name}' must have an even number of parameters. Please see https://aka.ms/arm-functions for usage details."));
            }
            let mut m = Map::new();
            for pair in a.chunks(2) {
                let k = pair[0]
                    .as_str()
                    .ok_or_else(|| bad_type(name, 0, "String", &pair[0]))?;
                m.insert(k.to_string(), pair[1].clone());
            }
            Ok(Value::Object(m))
        }
        "array" => {
            arity(name, a, 1, 1)?;
            Ok(match &a[0] {
                Value::Array(_) => a[0].clone(),
                v => Value::Array(vec![v.clone()]),
            })
        }
        "items" => {
            arity(name, a, 1, 1)?;
            let m = a[0]
                .as_object()
                .ok_or_else(|| bad_type(name, 0, "Object", &a[0]))?;
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| k.to_lowercase());
            Ok(Value::Array(
                keys.into_iter()
                    .map(|k| json!({"key": k, "value": m[k]}))
                    .collect(),
            ))
        }
        "objectkeys" => {
            arity(name, a, 1, 1)?;
            let m = a[0]
                .as_object()
                .ok_or_else(|| bad_type(name, 0, "Object", &a[0]))?;
            Ok(json!(m.keys().collect::<Vec<_>>()))
        }
        "range" => {
            arity(name, a, 2, 2)?;
            let (start, count) = (int_arg(name, a, 0)?, int_arg(name, a, 1)?);
            if !(0..=10000).contains(&count) {
                return Err(format!("The template language function '{name}' expects a count between 0 and 10000; it is '{count}'."));
            }
            Ok(Value::Array(
                (start..start + count).map(|i| json!(i)).collect(),
            ))
        }
        "min" | "max" => {
            arity(name, a, 1, usize::MAX)?;
            let items: Vec<Value> = if a.len() == 1 && a[0].is_array() {
                a[0].as_array().cloned().unwrap_or_default()
            } else {
                a.clone()
            };
            let mut ints = Vec::new();
            for (i, v) in items.iter().enumerate() {
                ints.push(as_int(v).ok_or_else(|| bad_type(name, i, "Integer", v))?);
            }
            let r = if lname == "min" {
                ints.iter().min()
            } else {
                ints.iter().max()
            };
            r.map(|x| json!(x)).ok_or_else(|| {
                format!("The template language function '{name}' needs at least one value.")
            })
        }
        // --- numbers ---
        "add" | "sub" | "mul" | "div" | "mod" => {
            arity(name, a, 2, 2)?;
            let (x, y) = (int_arg(name, a, 0)?, int_arg(name, a, 1)?);
            let r = match lname.as_str() {
                "add" => x.checked_add(y),
                "sub" => x.checked_sub(y),
                "mul" => x.checked_mul(y),
                "div" => {
                    if y == 0 {
                        return Err(format!("The template function '{name}' cannot divide by zero. Please see https://aka.ms/arm-functions for usage details."));
                    }
                    x.checked_div(y)
                }
                _ => {
                    if y == 0 {
                        return Err(format!("The template function '{name}' cannot divide by zero. Please see https://aka.ms/arm-functions for usage details."));
                    }
                    x.checked_rem(y)
                }
            };
            r.map(|v| json!(v))
                .ok_or_else(|| format!("The template language function '{name}' overflowed."))
        }
        "int" => {
            arity(name, a, 1, 1)?;
            match &a[0] {
                Value::String(s) => s.trim().parse::<i64>().map(|i| json!(i)).map_err(|_| format!("The template language function 'int' cannot convert the value '{s}' to an integer. Please see https://aka.ms/arm-functions for usage details.")),
                v => as_int(v).map(|i| json!(i)).ok_or_else(|| bad_type(name, 0, "Integer", v)),
            }
        }
        "float" => {
            arity(name, a, 1, 1)?;
            match &a[0] {
                Value::String(s) => s.trim().parse::<f64>().map(|f| json!(f)).map_err(|_| {
                    format!(
                        "The template language function 'float' cannot convert the value '{s}'."
                    )
                }),
                Value::Number(n) => Ok(json!(n.as_f64().unwrap_or(0.0))),
                v => Err(bad_type(name, 0, "Float", v)),
            }
        }
        "bool" => {
            arity(name, a, 1, 1)?;
            match &a[0] {
                Value::Bool(b) => Ok(json!(b)),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(json!(true)),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(json!(false)),
                v if as_int(v).is_some() => Ok(json!(as_int(v) != Some(0))),
                v => Err(format!("The template language function 'bool' cannot convert the value '{}' to a boolean. Please see https://aka.ms/arm-functions for usage details.", to_text(v))),
            }
        }
        // --- logic and comparison ---
        "true" => Ok(json!(true)),
        "false" => Ok(json!(false)),
        "null" => Ok(Value::Null),
        "equals" => {
            arity(name, a, 2, 2)?;
            Ok(json!(json_equal(&a[0], &a[1])))
        }
        "not" => {
            arity(name, a, 1, 1)?;
            Ok(json!(!bool_arg(name, a, 0)?))
        }
        "and" | "or" => {
            arity(name, a, 2, usize::MAX)?;
            let mut bs = Vec::new();
            for i in 0..a.len() {
                bs.push(bool_arg(name, a, i)?);
            }
            Ok(json!(if lname == "and" {
                bs.iter().all(|b| *b)
            } else {
                bs.iter().any(|b| *b)
            }))
        }
        "greater" | "greaterorequals" | "less" | "lessorequals" => {
            arity(name, a, 2, 2)?;
            let ord = match (&a[0], &a[1]) {
                (Value::String(x), Value::String(y)) => x.cmp(y),
                (x, y) => {
                    let xi = as_int(x).ok_or_else(|| bad_type(name, 0, "Integer", x))?;
                    let yi = as_int(y).ok_or_else(|| bad_type(name, 1, "Integer", y))?;
                    xi.cmp(&yi)
                }
            };
            use std::cmp::Ordering::*;
            Ok(json!(match lname.as_str() {
                "greater" => ord == Greater,
                "greaterorequals" => ord != Less,
                "less" => ord == Less,
                _ => ord != Greater,
            }))
        }
        _ => Err(not_found_fn(name)),
    }
}

/// JSON equality with integers and integral floats equal.
fn json_equal(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Number(_), Value::Number(_)) => match (as_int(x), as_int(y)) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => x == y,
    }
}

/// `union` of objects: later values win; nested objects merge.
fn merge_objects<'a>(
    out: &mut Map<String, Value>,
    from: impl Iterator<Item = (&'a String, &'a Value)>,
) {
    for (k, v) in from {
        match (out.get_mut(k), v) {
            (Some(Value::Object(existing)), Value::Object(new)) => {
                merge_objects(existing, new.iter())
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
}

fn all_strings(name: &str, a: &[Value]) -> Result<Vec<String>, String> {
    a.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(to_text(v)),
            other => Err(bad_type(name, i, "String", other)),
        })
        .collect()
}

fn bad_resource_type(name: &str) -> String {
    format!("Unable to evaluate template language function '{name}': the type argument must be a fully qualified resource type such as 'Microsoft.Storage/storageAccounts'. Please see https://aka.ms/arm-resource-functions/#resourceid for usage details.")
}

/// Where the fully qualified type sits among the leading arguments (it contains a '/').
fn type_position(strs: &[String]) -> Option<usize> {
    strs.iter()
        .take(3)
        .position(|s| s.trim_end_matches('/').contains('/'))
}

/// `type, name1, name2…` → `/providers/{ns}/{t1}/{n1}/{t2}/{n2}`.
fn provider_path(fname: &str, rest: &[String]) -> Result<String, String> {
    let Some(t) = rest.first() else {
        return Err(bad_resource_type(fname));
    };
    let segs: Vec<&str> = t
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if segs.len() < 2 {
        return Err(bad_resource_type(fname));
    }
    let names: Vec<&str> = rest[1..].iter().flat_map(|n| n.split('/')).collect();
    if names.len() != segs.len() - 1 {
        return Err(format!("Unable to evaluate template language function '{fname}': the type '{t}' requires {} resource name argument(s). Please see https://aka.ms/arm-resource-functions/#resourceid for usage details.", segs.len() - 1));
    }
    let mut out = format!("/providers/{}", segs[0]);
    for (ty, n) in segs[1..].iter().zip(names) {
        out.push_str(&format!("/{ty}/{n}"));
    }
    Ok(out)
}

fn resource_id(name: &str, a: &[Value], sc: &Scope) -> Result<Value, String> {
    arity(name, a, 2, usize::MAX)?;
    let strs = all_strings(name, a)?;
    let pos = type_position(&strs).ok_or_else(|| bad_resource_type(name))?;
    let (sub, rg) = match pos {
        0 => (
            sc.ctx.subscription_id.clone(),
            sc.ctx.resource_group_name.clone(),
        ),
        1 => (sc.ctx.subscription_id.clone(), Some(strs[0].clone())),
        _ => (Some(strs[0].clone()), Some(strs[1].clone())),
    };
    let tail = provider_path(name, &strs[pos..])?;
    // Resource groups and subscriptions have ids of their own shape.
    let t = strs[pos].trim_matches('/').to_ascii_lowercase();
    let names: Vec<&str> = strs[pos + 1..].iter().map(String::as_str).collect();
    if t == "microsoft.resources/resourcegroups" && names.len() == 1 {
        return Ok(Value::String(format!(
            "/subscriptions/{}/resourceGroups/{}",
            sub.unwrap_or_default(),
            names[0]
        )));
    }
    if t == "microsoft.resources/subscriptions" && names.len() == 1 {
        return Ok(Value::String(format!("/subscriptions/{}", names[0])));
    }
    let mut out = String::new();
    if let Some(s) = sub {
        out.push_str(&format!("/subscriptions/{s}"));
        if let Some(r) = rg {
            out.push_str(&format!("/resourceGroups/{r}"));
        }
    }
    out.push_str(&tail);
    Ok(Value::String(out))
}

fn join_uri(base: &str, rel: &str) -> String {
    if rel.contains("://") {
        return rel.to_string();
    }
    if let Some(r) = rel.strip_prefix('/') {
        let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
        let host_end = base[scheme_end..]
            .find('/')
            .map(|i| i + scheme_end)
            .unwrap_or(base.len());
        return format!("{}/{r}", &base[..host_end]);
    }
    match base.rfind('/') {
        Some(i) if i + 1 > base.find("://").map(|j| j + 2).unwrap_or(0) => {
            format!("{}{rel}", &base[..=i])
        }
        _ => format!("{base}/{rel}"),
    }
}

/// .NET composite formatting: `{0}`, `{1:N0}` (the format part is applied for a few cases), `{{`.
fn format_net(f: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '{' => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .map(|p| p + i)
                    .ok_or(
                        "The template language function 'format' got an invalid format string.",
                    )?;
                let spec: String = chars[i + 1..end].iter().collect();
                let (idx, fmt) = spec.split_once(':').unwrap_or((&spec, ""));
                let idx: usize = idx.trim().parse().map_err(|_| {
                    "The template language function 'format' got an invalid format string."
                        .to_string()
                })?;
                let v = args.get(idx).ok_or_else(|| format!("The template language function 'format' refers to argument {idx}, but only {} were provided.", args.len()))?;
                out.push_str(&format_one(v, fmt));
                i = end + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn format_one(v: &Value, fmt: &str) -> String {
    if let Some(n) = as_int(v) {
        let f = fmt.to_ascii_uppercase();
        if let Some(d) = f.strip_prefix('D') {
            let w: usize = d.parse().unwrap_or(0);
            return format!("{n:0w$}");
        }
        if let Some(d) = f.strip_prefix('N') {
            let decimals: usize = d.parse().unwrap_or(2);
            let s = n.abs().to_string();
            let mut grouped = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            let sign = if n < 0 { "-" } else { "" };
            return if decimals > 0 {
                format!("{sign}{grouped}.{}", "0".repeat(decimals))
            } else {
                format!("{sign}{grouped}")
            };
        }
        if f == "X" || f == "x" {
            return format!("{n:X}");
        }
    }
    to_text(v)
}

/// `utcNow(format)`: .NET standard (`u`, `s`, `o`, `d`) and custom (`yyyy MM dd HH mm ss fff`) formats.
pub fn format_time(t: OffsetDateTime, fmt: &str) -> String {
    let custom = match fmt {
        "u" => "yyyy-MM-dd HH:mm:ssZ",
        "s" => "yyyy-MM-ddTHH:mm:ss",
        "o" | "O" => "yyyy-MM-ddTHH:mm:ss.fffffffZ",
        "d" => "M/d/yyyy",
        "D" | "F" | "G" | "g" => "yyyy-MM-ddTHH:mm:ssZ",
        other => other,
    };
    let chars: Vec<char> = custom.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y', 4) => format!("{:04}", t.year()),
            ('y', 2) => format!("{:02}", t.year() % 100),
            ('M', 2) => format!("{:02}", t.month() as u8),
            ('M', 1) => format!("{}", t.month() as u8),
            ('d', 2) => format!("{:02}", t.day()),
            ('d', 1) => format!("{}", t.day()),
            ('H', 2) => format!("{:02}", t.hour()),
            ('H', 1) => format!("{}", t.hour()),
            ('h', 2) => format!("{:02}", (t.hour() + 11) % 12 + 1),
            ('m', 2) => format!("{:02}", t.minute()),
            ('m', 1) => format!("{}", t.minute()),
            ('s', 2) => format!("{:02}", t.second()),
            ('s', 1) => format!("{}", t.second()),
            ('f', k) => {
                let ns = format!("{:09}", t.nanosecond());
                ns[..k.min(9)].to_string()
            }
            _ => std::iter::repeat_n(c, n).collect(),
        };
        out.push_str(&piece);
        i += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoEnv;
    impl Env for NoEnv {
        fn reference(&self, id: &str, _: Option<&str>, _: bool) -> Result<Value, String> {
            Ok(json!({"id": id}))
        }
        fn new_guid(&self) -> String {
            "00000000-0000-0000-0000-00000000abcd".into()
        }
    }

    fn ctx() -> Context {
        Context {
            subscription: Some(
                json!({"id": "/subscriptions/s1", "subscriptionId": "s1", "tenantId": "t1"}),
            ),
            resource_group: Some(
                json!({"id": "/subscriptions/s1/resourceGroups/rg1", "name": "rg1", "location": "westeurope"}),
            ),
            deployment: json!({"name": "d1"}),
            tenant: json!({"tenantId": "t1"}),
            subscription_id: Some("s1".into()),
            resource_group_name: Some("rg1".into()),
            utc_now: time::macros::datetime!(2025-01-02 03:04:05 UTC),
            management_group: None,
        }
    }

    fn ev(s: &str) -> Result<Value, EvalError> {
        let c = ctx();
        let params =
            json!({"name": "Relecloud", "rgs": [{"rgName": "a"}, {"rgName": "b"}], "n": 3})
                .as_object()
                .cloned()
                .unwrap();
        let vars = Vars::new(json!({"v1": "[concat(variables('v2'), '!')]", "v2": "[parameters('name')]", "copy": [{"name": "list", "count": 2, "input": "[concat('x', copyIndex('list'))]"}]}).as_object().unwrap());
        let sc = Scope {
            ctx: &c,
            env: &NoEnv,
            params: &params,
            vars: Some(&vars),
            copies: vec![("loop".into(), 1)],
            in_default: false,
            allow_reference: true,
        };
        eval_str(s, &sc)
    }

    #[test]
    fn management_group_functions_need_a_group_deployment() {
        let mut c = ctx();
        c.subscription = None;
        c.subscription_id = None;
        c.resource_group = None;
        c.resource_group_name = None;
        c.management_group = Some(
            json!({"id": "/providers/Microsoft.Management/managementGroups/Apps", "name": "Apps"}),
        );
        let params = serde_json::Map::new();
        let sc = Scope {
            ctx: &c,
            env: &NoEnv,
            params: &params,
            vars: None,
            copies: vec![],
            in_default: false,
            allow_reference: true,
        };
        let cases = [
            ("[managementGroup().name]", json!("Apps")),
            ("[managementGroupResourceId('Microsoft.Authorization/policyDefinitions', 'p')]", json!("/providers/Microsoft.Management/managementGroups/Apps/providers/Microsoft.Authorization/policyDefinitions/p")),
            ("[managementGroupResourceId('Other', 'Microsoft.Authorization/roleAssignments', 'r')]", json!("/providers/Microsoft.Management/managementGroups/Other/providers/Microsoft.Authorization/roleAssignments/r")),
            ("[resourceId('Microsoft.Authorization/roleDefinitions', 'r')]", json!("/providers/Microsoft.Authorization/roleDefinitions/r")),
        ];
        for (e, want) in cases {
            assert_eq!(eval_str(e, &sc).unwrap(), want, "{e}");
        }
        // outside a management-group deployment both are refused
        assert!(ev("[managementGroup()]").is_err());
        assert!(ev(
            "[managementGroupResourceId('Microsoft.Authorization/policyDefinitions', 'p')]"
        )
        .is_err());
    }

    #[test]
    fn functions() {
        let cases = [
            ("[concat('Managed by', ' ', parameters('name'))]", json!("Managed by Relecloud")),
            ("[guid(parameters('name'))]", json!(hash::guid(&["Relecloud".into()]))),
            ("[parameters('rgs')[copyIndex()].rgName]", json!("b")),
            ("[parameters('RGS')[copyIndex(0)].RGNAME]", json!("b")),
            ("[variables('v1')]", json!("Relecloud!")),
            ("[variables('list')]", json!(["x0", "x1"])),
            ("[resourceId('Microsoft.ManagedServices/registrationDefinitions/', 'g')]", json!("/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ManagedServices/registrationDefinitions/g")),
            ("[resourceId('other', 'Microsoft.Network/virtualNetworks/subnets', 'v', 's')]", json!("/subscriptions/s1/resourceGroups/other/providers/Microsoft.Network/virtualNetworks/v/subnets/s")),
            ("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]", json!("/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/r")),
            ("[tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p')]", json!("/providers/Microsoft.Authorization/policyDefinitions/p")),
            ("[extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'l')]", json!("/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Authorization/locks/l")),
            ("[if(equals(parameters('n'), 3), 'yes', json('null'))]", json!("yes")),
            ("[json('{\"offer\": \"No\"}')]", json!({"offer": "No"})),
            ("[format('{0}-{1:D3}', 'a', 7)]", json!("a-007")),
            ("[length(union(createArray(1, 2), array(2), createArray(3)))]", json!(3)),
            ("[union(createObject('a', 1), createObject('b', 2))]", json!({"a": 1, "b": 2})),
            ("[intersection(createArray(1, 2, 3), createArray(2, 3, 4))]", json!([2, 3])),
            ("[and(not(empty('x')), or(false, true), greater(2, 1), less('a', 'b'))]", json!(true)),
            ("[add(mul(2, 3), sub(div(9, 2), mod(7, 4)))]", json!(7)),
            ("[min(3, 1, 2)]", json!(1)),
            ("[max(createArray(3, 1, 2))]", json!(3)),
            ("[range(5, 3)]", json!([5, 6, 7])),
            ("[take(skip('abcdef', 1), 3)]", json!("bcd")),
            ("[split('a,b;c', createArray(',', ';'))]", json!(["a", "b", "c"])),
            ("[substring(toUpper(trim('  hello ')), 1, 3)]", json!("ELL")),
            ("[replace('a-b-c', '-', '')]", json!("abc")),
            ("[string(true)]", json!("True")),
            ("[string(createObject('a', 1))]", json!("{\"a\":1}")),
            ("[int('42')]", json!(42)),
            ("[bool('TRUE')]", json!(true)),
            ("[coalesce(json('null'), 'x')]", json!("x")),
            ("[contains(createObject('Key', 1), 'key')]", json!(true)),
            ("[startsWith('Hello', 'he')]", json!(true)),
            ("[endsWith('Hello', 'LO')]", json!(true)),
            ("[indexOf('abcabc', 'C')]", json!(2)),
            ("[padLeft('7', 3, '0')]", json!("007")),
            ("[first(createArray('a', 'b'))]", json!("a")),
            ("[last('xyz')]", json!("z")),
            ("[base64('hi')]", json!("aGk=")),
            ("[uri('https://x.com/a/b.json', 'c.json')]", json!("https://x.com/a/c.json")),
            ("[subscription().subscriptionId]", json!("s1")),
            ("[resourceGroup().location]", json!("westeurope")),
            ("[deployment().name]", json!("d1")),
            ("[reference('/subscriptions/s1/x').id]", json!("/subscriptions/s1/x")),
            ("[uniqueString('a')]", json!(hash::unique_string(&["a".into()]))),
            ("[[notAnExpression]", json!("[notAnExpression]")),
            ("plain", json!("plain")),
        ];
        for (src, want) in cases {
            assert_eq!(
                ev(src).unwrap_or_else(|e| panic!("{src}: {}", e.message)),
                want,
                "{src}"
            );
        }
    }

    #[test]
    fn errors_name_the_function() {
        assert!(ev("[nope(1)]")
            .unwrap_err()
            .message
            .contains("'nope' is not found"));
        assert!(ev("[length(1)]").unwrap_err().message.contains("'length'"));
        assert!(ev("[parameters('missing')]")
            .unwrap_err()
            .message
            .contains("'missing' is not found"));
        assert!(ev("[utcNow()]")
            .unwrap_err()
            .message
            .contains("parameter default"));
        assert!(ev("[createArray(1)[5]]")
            .unwrap_err()
            .message
            .contains("out of bounds"));
        assert!(ev("[div(1, 0)]")
            .unwrap_err()
            .message
            .contains("divide by zero"));
    }

    #[test]
    fn time_formats() {
        let t = time::macros::datetime!(2025-01-02 03:04:05 UTC);
        assert_eq!(format_time(t, "yyyyMMddTHHmmssZ"), "20250102T030405Z");
        assert_eq!(format_time(t, "u"), "2025-01-02 03:04:05Z");
    }
}

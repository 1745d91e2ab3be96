//! The Azure Policy language, pure: a definition (`mode`, `parameters`, `policyRule`) parsed into a
//! checked form with Azure's error codes (`rule`), evaluated against a resource body and its context
//! with the template engine's evaluator (`eval`), effects as data and the pure changes they make
//! (`effects`), and the alias table (`aliases`). No store, no HTTP, no clock: the time, the request
//! and related resources come in from the caller. Docs: "Azure Policy definition structure".

pub mod aliases;
pub mod effects;
pub mod eval;
pub mod rule;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use effects::{
    apply_append, apply_modify, denies_action, related_exists, Conflict, Effect, Modified,
};
pub use eval::{evaluate, evaluate_prepared, EvalContext, Outcome};
pub use rule::Cond;

use crate::template::expr::{self, Expr};

/// A refusal with Azure's code (`InvalidPolicyRule`, `InvalidPolicyParameters`, …), its message and
/// the JSON path of the fault inside `properties` (`policyRule.if.allOf[0]`), empty when none.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyError {
    pub code: &'static str,
    pub message: String,
    pub path: String,
}

impl PolicyError {
    pub fn new(code: &'static str, message: impl Into<String>, path: &str) -> Self {
        PolicyError {
            code,
            message: message.into(),
            path: path.to_string(),
        }
    }
}

/// `properties.mode`: which resources a definition looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    All,
    Indexed,
    /// A resource provider mode (`Microsoft.KeyVault.Data`, `Microsoft.Kubernetes.Data`…): only that
    /// provider's data-plane types.
    Provider(String),
}

/// The resource provider modes the docs list.
const PROVIDER_MODES: &[&str] = &[
    "Microsoft.KeyVault.Data",
    "Microsoft.Kubernetes.Data",
    "Microsoft.ContainerService.Data",
    "Microsoft.Network.Data",
    "Microsoft.ManagedHSM.Data",
    "Microsoft.DataFactory.Data",
    "Microsoft.MachineLearningServices.v2.Data",
    "Microsoft.LoadTestService.Data",
];

/// Types that support neither tags nor location, which `Indexed` skips (resource groups and
/// subscriptions are evaluated in `All` mode only). A caller that knows better passes its own answer
/// to `Mode::applies_with`.
const NOT_INDEXED: &[&str] = &[
    "microsoft.resources/subscriptions",
    "microsoft.resources/subscriptions/resourcegroups",
    "microsoft.resources/resourcegroups",
    "microsoft.resources/deployments",
    "microsoft.authorization/",
    "microsoft.managedservices/",
    "microsoft.insights/diagnosticsettings",
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/virtualnetworks/virtualnetworkpeerings",
    "microsoft.network/networksecuritygroups/securityrules",
    "microsoft.network/routetables/routes",
    "microsoft.keyvault/vaults/secrets",
    "microsoft.keyvault/vaults/accesspolicies",
    "microsoft.storage/storageaccounts/",
    "microsoft.security/",
    "microsoft.policyinsights/",
];

impl Mode {
    pub fn parse(v: Option<&Value>) -> Result<Mode, PolicyError> {
        let s = match v {
            // "A null mode is the same as using `indexed` to support backwards compatibility."
            None | Some(Value::Null) => return Ok(Mode::Indexed),
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(bad_mode("(not a string)")),
        };
        if s.eq_ignore_ascii_case("all") {
            Ok(Mode::All)
        } else if s.eq_ignore_ascii_case("indexed") {
            Ok(Mode::Indexed)
        } else if let Some(m) = PROVIDER_MODES.iter().find(|m| m.eq_ignore_ascii_case(s)) {
            Ok(Mode::Provider(m.to_string()))
        } else {
            Err(bad_mode(s))
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Mode::All => "All",
            Mode::Indexed => "Indexed",
            Mode::Provider(p) => p,
        }
    }

    /// Whether a resource of `rtype` (`Microsoft.Storage/storageAccounts`) is evaluated, with the
    /// built-in table of types without tags and location.
    pub fn applies(&self, rtype: &str) -> bool {
        self.applies_with(rtype, indexed_type(rtype))
    }

    /// As `applies`, with the caller's answer to "does this type support tags and location".
    pub fn applies_with(&self, rtype: &str, tags_and_location: bool) -> bool {
        let ns = rtype.split('/').next().unwrap_or_default();
        let data = ns.to_ascii_lowercase().ends_with(".data");
        match self {
            Mode::All => !data,
            Mode::Indexed => !data && tags_and_location,
            Mode::Provider(p) => ns.eq_ignore_ascii_case(p),
        }
    }
}

/// Whether a type supports tags and location (the built-in table `Indexed` mode uses).
pub fn indexed_type(rtype: &str) -> bool {
    let l = rtype.to_ascii_lowercase();
    !NOT_INDEXED.iter().any(|t| {
        if t.ends_with('/') {
            l.starts_with(t)
        } else {
            l == *t
        }
    })
}

fn bad_mode(m: &str) -> PolicyError {
    // Code and text not found in Azure's public material; the emulator's wording.
    PolicyError::new(
        "InvalidPolicyMode",
        format!("The policy definition mode '{m}' is not supported. The supported modes are 'All', 'Indexed' and the resource provider modes ({}).", PROVIDER_MODES.join(", ")),
        "mode",
    )
}

/// One entry of `properties.parameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    pub name: String,
    /// `String`, `Array`, `Object`, `Boolean`, `Integer`, `Float`, `DateTime`.
    pub ptype: String,
    pub default: Option<Value>,
    pub allowed: Option<Vec<Value>>,
}

const PARAM_TYPES: &[&str] = &[
    "String", "Array", "Object", "Boolean", "Integer", "Float", "DateTime",
];

/// A definition in checked form.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The definition's name (its GUID for built-ins), as Azure's messages name it.
    pub name: String,
    pub mode: Mode,
    pub parameters: Vec<ParamDef>,
    /// `policyRule.if`.
    pub cond: Cond,
    /// `policyRule.then`, as written (`effect` possibly `[parameters('effect')]`).
    pub then: Value,
    /// `then.details.existenceCondition`, checked (auditIfNotExists, deployIfNotExists).
    pub existence: Option<Cond>,
    /// `externalEvaluationEnforcementSettings` as written (policy tokens; `policy_tokens`).
    pub external: Option<Value>,
}

impl Definition {
    /// Parse `properties` of a `Microsoft.Authorization/policyDefinitions` body.
    pub fn parse(name: &str, properties: &Value) -> Result<Definition, PolicyError> {
        let mode = Mode::parse(properties.get("mode"))?;
        let parameters = parse_parameters(name, properties.get("parameters"))?;
        let Some(rule) = properties.get("policyRule").filter(|r| !r.is_null()) else {
            return Err(PolicyError::new(
                "InvalidPolicyRule",
                "Failed to parse policy rule: 'The policy definition has no 'policyRule'. Path 'policyRule'.'.",
                "policyRule",
            ));
        };
        let Some(rm) = rule.as_object() else {
            return Err(PolicyError::new(
                "InvalidPolicyRule",
                "Failed to parse policy rule: 'Error converting value: the policy rule must be an object. Path ''.'.",
                "policyRule",
            ));
        };
        let mut cond_v = None;
        let mut then = None;
        for (k, v) in rm {
            if k.eq_ignore_ascii_case("if") {
                cond_v = Some((k, v));
            } else if k.eq_ignore_ascii_case("then") {
                then = Some(v);
            } else {
                return Err(PolicyError::new(
                    "InvalidPolicyRule",
                    format!("Failed to parse policy rule: 'Could not find member '{k}' on object of type 'PolicyRuleDefinition'. Path '{k}'.'."),
                    &format!("policyRule.{k}"),
                ));
            }
        }
        let (Some((if_key, cond_v)), Some(then)) = (cond_v, then) else {
            return Err(PolicyError::new(
                "InvalidPolicyRule",
                "Failed to parse policy rule: 'The policy rule must have an 'if' condition and a 'then' block. Path ''.'.",
                "policyRule",
            ));
        };
        let cond = rule::parse_cond(cond_v, if_key, 0, name).map_err(in_rule)?;
        let effect = then
            .as_object()
            .and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case("effect")))
            .map(|(_, v)| v);
        let Some(effect) = effect.and_then(Value::as_str) else {
            return Err(PolicyError::new(
                "InvalidPolicyRule",
                "Failed to parse policy rule: 'The 'then' block must name an 'effect'. Path 'then.effect'.'.",
                "policyRule.then.effect",
            ));
        };
        if !expr::is_expression(effect) && Effect::parse(effect).is_none() {
            return Err(effects::unknown_effect(effect));
        }
        if let Some(e) = Effect::parse(effect) {
            effects::check_details(name, e, then)?;
        }
        let existence = match details_member(then, "existenceCondition") {
            Some(ec) => Some(
                rule::parse_cond(ec, "then.details.existenceCondition", 0, name)
                    .map_err(in_rule)?,
            ),
            None => None,
        };
        let def = Definition {
            name: name.to_string(),
            mode,
            parameters,
            cond,
            then: then.clone(),
            existence,
            external: properties
                .get("externalEvaluationEnforcementSettings")
                .filter(|v| v.is_object())
                .cloned(),
        };
        def.check_parameter_references(rule)?;
        Ok(def)
    }

    /// Every `parameters('x')` of the rule (outside a `deployIfNotExists` template, which has its own
    /// parameters) names a parameter of the definition.
    fn check_parameter_references(&self, rule: &Value) -> Result<(), PolicyError> {
        let mut used = Vec::new();
        collect_parameter_refs(rule, &mut used, 0);
        for p in used {
            if !self
                .parameters
                .iter()
                .any(|d| d.name.eq_ignore_ascii_case(&p))
            {
                // Azure's text (Azure/Community-Policy issue #402).
                return Err(invalid_parameters(
                    &self.name,
                    &format!("The policy '{}' has undefined parameter '{p}' which is used in the policy rule. Please either define it in policy definition or remove the reference in policy rule.", self.name),
                ));
            }
        }
        Ok(())
    }

    /// The parameter values an assignment (`name`) gives (`{"p": {"value": …}}`), completed with
    /// the defaults and checked against the definition.
    pub fn resolve_parameters(
        &self,
        assignment: &str,
        supplied: Option<&Value>,
    ) -> Result<Map<String, Value>, PolicyError> {
        let empty = Map::new();
        let supplied = supplied.and_then(Value::as_object).unwrap_or(&empty);
        let undefined: Vec<&str> = supplied
            .keys()
            .filter(|k| {
                !self
                    .parameters
                    .iter()
                    .any(|d| d.name.eq_ignore_ascii_case(k))
            })
            .map(String::as_str)
            .collect();
        if !undefined.is_empty() {
            return Err(PolicyError::new(
                "UndefinedPolicyParameter",
                format!("The policy assignment '{assignment}' has the parameter(s) '{}' which are not defined in the policy definition '{}'.", undefined.join(", "), self.name),
                "parameters",
            ));
        }
        let mut out = Map::new();
        let mut missing = Vec::new();
        for d in &self.parameters {
            let given = supplied
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&d.name))
                .map(|(_, v)| v.get("value").cloned().unwrap_or(Value::Null));
            let Some(v) = given.or_else(|| d.default.clone()) else {
                missing.push(d.name.as_str());
                continue;
            };
            if let Some(allowed) = &d.allowed {
                if !allowed.contains(&v) {
                    // Azure's text (terraform-azurerm-caf-enterprise-scale issue #1313).
                    return Err(PolicyError::new(
                        "PolicyParameterValueNotAllowed",
                        format!("The value '{}' is not allowed for policy parameter '{}' in policy definition '{}'. The allowed values are '{}'.", text(&v), d.name, self.name, allowed.iter().map(text).collect::<Vec<_>>().join(", ")),
                        &format!("parameters.{}", d.name),
                    ));
                }
            }
            out.insert(d.name.clone(), v);
        }
        if !missing.is_empty() {
            return Err(PolicyError::new(
                "MissingPolicyParameter",
                format!("The policy assignment '{assignment}' has missing parameter(s) '{}' which are defined in the policy definition '{}'.", missing.join(", "), self.name),
                "parameters",
            ));
        }
        Ok(out)
    }

    /// The effect with these parameter values (`then.effect` may be `[parameters('effect')]`).
    pub fn effect(&self, params: &Map<String, Value>) -> Result<Effect, PolicyError> {
        effects::resolve_effect(self, params)
    }
}

/// `then.details.<key>` when details is an object.
fn details_member<'v>(then: &'v Value, key: &str) -> Option<&'v Value> {
    let t = then.as_object()?;
    let (_, d) = t.iter().find(|(k, _)| k.eq_ignore_ascii_case("details"))?;
    let d = d.as_object()?;
    d.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Errors inside the rule carry paths relative to `policyRule`.
fn in_rule(mut e: PolicyError) -> PolicyError {
    e.path = format!("policyRule.{}", e.path);
    e
}

/// InvalidPolicyParameters with Azure's wrapper text (Azure/azure-policy issue #396).
pub fn invalid_parameters(definition: &str, inner: &str) -> PolicyError {
    PolicyError::new(
        "InvalidPolicyParameters",
        format!("A function or parameter in policy '{definition}' could not be validated. If using template functions, try following the tips in: https://aka.ms/policy-avoiding-template-failures. The inner exception '{inner}'."),
        "",
    )
}

fn text(v: &Value) -> String {
    crate::template::eval::to_text(v)
}

fn parse_parameters(definition: &str, v: Option<&Value>) -> Result<Vec<ParamDef>, PolicyError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(m) = v.as_object() else {
        return Err(PolicyError::new(
            "InvalidPolicyParameters",
            "The policy definition parameters must be an object.",
            "parameters",
        ));
    };
    let mut out = Vec::new();
    for (name, d) in m {
        let path = format!("parameters.{name}");
        let t = d.get("type").and_then(Value::as_str).unwrap_or_default();
        let Some(ptype) = PARAM_TYPES.iter().find(|x| x.eq_ignore_ascii_case(t)) else {
            return Err(PolicyError::new(
                "InvalidPolicyParameters",
                format!("The policy definition '{definition}' parameter '{name}' has type '{t}'. The supported types are '{}'.", PARAM_TYPES.join(", ")),
                &format!("{path}.type"),
            ));
        };
        let default = d.get("defaultValue").cloned();
        let allowed = match d.get("allowedValues") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => {
                return Err(PolicyError::new(
                    "InvalidPolicyParameters",
                    format!("The policy definition '{definition}' parameter '{name}' has 'allowedValues' that are not an array."),
                    &format!("{path}.allowedValues"),
                ))
            }
        };
        if let (Some(dv), Some(a)) = (&default, &allowed) {
            if !a.contains(dv) {
                // Azure's text (Azure/azure-monitor-baseline-alerts issue #917).
                return Err(PolicyError::new(
                    "PolicyParameterAllowedAndDefaultValuesMismatch",
                    format!("The policy '{definition}' defines parameter '{name}' with a default value '{}' and allowed values '{}'. The 'allowedValues' property must include the value of the 'defaultValue' property if both are present.", text(dv), a.iter().map(text).collect::<Vec<_>>().join(",")),
                    &format!("{path}.defaultValue"),
                ));
            }
        }
        out.push(ParamDef {
            name: name.clone(),
            ptype: ptype.to_string(),
            default,
            allowed,
        });
    }
    Ok(out)
}

/// The names `parameters('…')` calls with a literal, in every expression string of `v` (skipping a
/// `deployment.properties.template`).
fn collect_parameter_refs(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::String(s) if expr::is_expression(s) => {
            if let Ok(e) = expr::parse(s) {
                calls_of(&e, out);
            }
        }
        Value::Array(a) => a
            .iter()
            .for_each(|x| collect_parameter_refs(x, out, depth + 1)),
        Value::Object(m) => {
            for (k, x) in m {
                if k.eq_ignore_ascii_case("deployment") {
                    if let Some(p) = x.get("properties").and_then(|p| p.get("parameters")) {
                        collect_parameter_refs(p, out, depth + 1);
                    }
                    continue;
                }
                collect_parameter_refs(x, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn calls_of(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Call(name, args) => {
            if name.eq_ignore_ascii_case("parameters") {
                if let Some(Expr::Str(p)) = args.first() {
                    out.push(p.clone());
                }
            }
            args.iter().for_each(|a| calls_of(a, out));
        }
        Expr::Member(b, _) => calls_of(b, out),
        Expr::Index(b, i) => {
            calls_of(b, out);
            calls_of(i, out);
        }
        _ => {}
    }
}

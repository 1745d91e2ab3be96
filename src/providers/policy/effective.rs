//! The policies in force: every stored assignment with its definition(s) parsed once (built-in or
//! custom; an initiative expanded into its members, their parameters evaluated from the assignment's),
//! every exemption, and the questions the request pipeline, compliance and remediation ask of them —
//! which assignments reach a target (scope, management groups above it, `notScopes`), which exemption
//! covers a member, the evaluation context of a target. Reads the store; never evaluates a rule (that
//! is `crate::policy`'s) and never answers HTTP. Docs: "Azure Policy assignment structure", "exemption
//! structure", "Understand scope in Azure Policy".

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{resolve_definition, Kind};
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_at_or_above, ResourceId};
use crate::facts::Snapshot;
use crate::policy::{Definition, Effect, EvalContext};
use crate::store::Store;

const ASSIGNMENT_L: &str = "microsoft.authorization/policyassignments";
const EXEMPTION_L: &str = "microsoft.authorization/policyexemptions";

/// One policy definition an assignment applies: the assigned definition itself, or one member of the
/// assigned initiative, with its parameter values resolved.
#[derive(Debug, Clone)]
pub struct Member {
    /// The definition's id as the assignment or the initiative's reference names it.
    pub definition_id: String,
    /// The initiative's id when the assignment assigns one.
    pub set_definition_id: Option<String>,
    /// `policyDefinitionReferenceId` inside the initiative.
    pub reference_id: Option<String>,
    pub def: Arc<Definition>,
    /// The parameter values the rule sees (`Definition::resolve_parameters`).
    pub params: Map<String, Value>,
    /// The initiative reference's `groupNames`.
    pub group_names: Vec<String>,
    /// The definition's `displayName` (its name when it has none) and `version`, as a refusal names it.
    pub display_name: String,
    pub version: String,
    /// The same of the initiative, when there is one.
    pub set_display_name: String,
    pub set_version: String,
    /// The rule calls `policy()`: its evaluation needs the assignment in the context.
    pub uses_policy_fn: bool,
    /// The rule calls `utcNow()`: its outcome may change with the clock alone.
    pub uses_now: bool,
    /// The effect with these parameters (`Definition::effect`), `None` when it does not resolve.
    pub effect: Option<Effect>,
}

/// One policy assignment, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The assignment's canonical id.
    pub id: String,
    pub name: String,
    /// The lower-cased scope it is made at.
    pub scope: String,
    /// `enforcementMode` is not `DoNotEnforce`.
    pub enforce: bool,
    /// The managed identity the assignment acts as (`modify`, `deployIfNotExists`): principal id and
    /// tenant id.
    pub identity: Option<(String, String)>,
    pub members: Vec<Member>,
    /// The assignment as stored.
    pub body: Value,
    /// Lower-cased `notScopes`.
    not_scopes: Vec<String>,
    /// `resourceSelectors`: the assignment evaluates a resource that matches every selector of one of
    /// them (none: every resource).
    resource_selectors: Vec<Vec<Selector>>,
    /// `overrides` of kind `policyEffect`, in order: the effect, and the selectors a member and
    /// resource must match for it (none: every member).
    overrides: Vec<(Effect, Vec<Selector>)>,
}

/// One selector of a resource selector or an override: its kind (lower-cased:
/// `resourcelocation`, `resourcetype`, `resourcewithoutlocation`, `policydefinitionreferenceid`)
/// and its lower-cased `in` or `notIn` list.
#[derive(Debug, Clone)]
struct Selector {
    kind: String,
    values: Vec<String>,
    negated: bool,
}

impl Selector {
    fn parse(v: &Value) -> Option<Selector> {
        let kind = v["kind"].as_str()?.to_ascii_lowercase();
        let list = |k: &str| -> Option<Vec<String>> {
            Some(
                v.get(k)?
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect(),
            )
        };
        let (values, negated) = match list("in") {
            Some(l) => (l, false),
            None => (list("notIn")?, true),
        };
        Some(Selector {
            kind,
            values,
            negated,
        })
    }

    /// Whether the selector holds for a resource of policy type `rtype` at `location` (`None` when
    /// the resource has none) and, in an initiative, the member `reference`.
    fn holds(&self, rtype: &str, location: Option<&str>, reference: Option<&str>) -> bool {
        let is_in = |x: &str| self.values.iter().any(|v| v.eq_ignore_ascii_case(x));
        let hit = match self.kind.as_str() {
            "resourcelocation" => location.is_some_and(is_in),
            "resourcetype" => is_in(rtype),
            // "subscriptionLevelResources": the resources without a location
            "resourcewithoutlocation" => location.is_none() && is_in("subscriptionLevelResources"),
            "policydefinitionreferenceid" => reference.is_some_and(is_in),
            _ => false,
        };
        hit != self.negated
    }
}

impl Applied {
    /// Whether the assignment's `resourceSelectors` select a resource of policy type `rtype` at
    /// `location` ("Azure Policy assignment structure": resource selectors).
    pub fn selects(&self, rtype: &str, location: Option<&str>) -> bool {
        self.resource_selectors.is_empty()
            || self
                .resource_selectors
                .iter()
                .any(|sel| sel.iter().all(|s| s.holds(rtype, location, None)))
    }

    /// The effect of member `m` on a resource of policy type `rtype` at `location`: the first
    /// `policyEffect` override whose selectors hold, else the definition's ("assignment structure":
    /// overrides).
    pub fn effect_for(&self, m: &Member, rtype: &str, location: Option<&str>) -> Option<Effect> {
        for (effect, selectors) in &self.overrides {
            if selectors
                .iter()
                .all(|s| s.holds(rtype, location, m.reference_id.as_deref()))
            {
                return Some(*effect);
            }
        }
        m.effect
    }
}

/// The location a selector compares: the body's `location`, `None` when it has none.
pub fn location_of(body: &Value) -> Option<&str> {
    body["location"].as_str().filter(|l| !l.is_empty())
}

/// Every assignment and exemption in the store, loaded once and shared.
#[derive(Debug, Default)]
pub struct PolicySet {
    pub assignments: Vec<Applied>,
    /// Exemptions as stored, with their lower-cased scope and assignment id.
    exemptions: Vec<(String, String, Value)>,
    /// Values derived from this set that its readers keep while it is the one in force (compliance
    /// keeps each subscription's states here): a new set, loaded after a policy write, starts empty.
    memos: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

/// The lower-cased ids of the management groups above a subscription, nearest first.
pub fn group_ancestors(snap: &Snapshot, subscription: &str) -> Vec<String> {
    snap.groups
        .ancestors_of_subscription(subscription)
        .iter()
        .map(|g| crate::hierarchy::group_key(&g.name))
        .collect()
}

/// Is `scope` (lower-cased) at or above `target` — by id, or as one of the groups above it?
fn covers(scope: &str, target: &str, ancestors: &[String]) -> bool {
    is_at_or_above(scope, target) || ancestors.iter().any(|a| a == scope)
}

impl PolicySet {
    /// Read every assignment and exemption; an assignment whose definition is missing or does not
    /// parse is skipped with a warning (the provider refuses such writes; a definition deleted or
    /// changed since is what leaves one).
    pub fn load(store: &Store) -> Result<PolicySet, ArmError> {
        let (rows, exemptions, subs) = store.read(|tx| {
            Ok::<_, crate::store::StoreError>((
                tx.by_type(ASSIGNMENT_L, None, None)?,
                tx.by_type(EXEMPTION_L, None, None)?,
                tx.directory("subscription")?,
            ))
        })?;
        let sub_tenant: HashMap<String, String> = subs
            .iter()
            .filter_map(|s| {
                Some((
                    s["subscriptionId"].as_str()?.to_lowercase(),
                    s["tenantId"].as_str()?.to_lowercase(),
                ))
            })
            .collect();
        let mut parsed: HashMap<String, Option<Parsed>> = HashMap::new();
        let mut set = PolicySet::default();
        for r in rows {
            match applied(store, &r.body, &r.parent, &sub_tenant, &mut parsed) {
                Ok(a) => set.assignments.push(a),
                Err(why) => {
                    tracing::warn!(assignment = %r.key, %why, "policy assignment skipped: not evaluable")
                }
            }
        }
        set.exemptions = exemptions
            .into_iter()
            .map(|r| {
                let a = r.body["properties"]["policyAssignmentId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                (r.parent, a, r.body)
            })
            .collect();
        Ok(set)
    }

    /// The value kept under `key` by `remember`, when it is a `T`.
    pub fn memo<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let m = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        m.get(key).cloned().and_then(|v| v.downcast::<T>().ok())
    }

    /// Keep `value` under `key` while this set is in force.
    pub fn remember<T: Any + Send + Sync>(&self, key: &str, value: Arc<T>) {
        let mut m = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(key.to_string(), value);
    }

    /// Whether an exemption has an `expiresOn` between `a` and `b` (either order): what a state
    /// computed at `a` may not be reused at `b` across.
    pub fn exemption_expires_between(&self, a: OffsetDateTime, b: OffsetDateTime) -> bool {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        self.exemptions.iter().any(|(_, _, body)| {
            body["properties"]["expiresOn"]
                .as_str()
                .and_then(|e| {
                    OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
                })
                .is_some_and(|e| e > lo && e <= hi)
        })
    }

    /// Whether `a` reaches `target`, as `in_force` decides.
    pub fn reaches(a: &Applied, target: &str, ancestors: &[String]) -> bool {
        covers(&a.scope, target, ancestors)
            && !a.not_scopes.iter().any(|n| covers(n, target, ancestors))
    }

    /// The assignments whose scope is `target` (a lower-cased id) or above it — by id, or one of the
    /// management groups `ancestors` lists — and none of whose `notScopes` covers it.
    pub fn in_force(&self, target: &str, ancestors: &[String]) -> Vec<&Applied> {
        self.assignments
            .iter()
            .filter(|a| Self::reaches(a, target, ancestors))
            .collect()
    }

    /// An unexpired exemption at or above `target` for this assignment (and member, when the
    /// exemption lists reference ids).
    pub fn exemption(
        &self,
        applied: &Applied,
        member: &Member,
        target: &str,
        now: OffsetDateTime,
    ) -> Option<&Value> {
        self.exemption_in(applied, member, target, &[], now)
    }

    /// As `exemption`, also counting exemptions made at the management groups `ancestors` lists.
    pub fn exemption_in(
        &self,
        applied: &Applied,
        member: &Member,
        target: &str,
        ancestors: &[String],
        now: OffsetDateTime,
    ) -> Option<&Value> {
        if self.exemptions.is_empty() {
            return None;
        }
        self.exemptions
            .iter()
            .filter(|(_, a, _)| a.eq_ignore_ascii_case(&applied.id))
            .filter(|(scope, _, _)| covers(scope, target, ancestors))
            .map(|(_, _, body)| body)
            .find(|body| {
                let p = &body["properties"];
                let live = p["expiresOn"]
                    .as_str()
                    .and_then(|e| {
                        OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .is_none_or(|e| e > now);
                let refs: Vec<&str> = p["policyDefinitionReferenceIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let member_ok = refs.is_empty()
                    || member
                        .reference_id
                        .as_deref()
                        .is_some_and(|r| refs.iter().any(|x| x.eq_ignore_ascii_case(r)));
                live && member_ok
            })
    }
}

/// The evaluation context of `target_id`: its subscription (`{id, subscriptionId, tenantId,
/// displayName}`), its resource group as stored, the request (`requestContext()`), the time.
pub fn context_for(
    store: &Store,
    snap: &Snapshot,
    target_id: &str,
    method: &str,
    api_version: &str,
    now: OffsetDateTime,
) -> EvalContext {
    let mut ctx = EvalContext::new(now);
    ctx.request = json!({"apiVersion": api_version, "method": method.to_ascii_uppercase()});
    let Ok(id) = ResourceId::parse(target_id) else {
        return ctx;
    };
    if let Some(s) = id
        .subscription
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| snap.dir.subscription(s))
    {
        ctx.subscription = Some(json!({
            "id": format!("/subscriptions/{}", s.subscription_id),
            "subscriptionId": s.subscription_id,
            "tenantId": s.tenant_id,
            "displayName": s.display_name,
        }));
        if let Some(rg) = id.resource_group.as_deref().filter(|r| !r.is_empty()) {
            let key = format!("/subscriptions/{}/resourcegroups/{}", s.subscription_id, rg)
                .to_lowercase();
            ctx.resource_group = match store.get(&key) {
                Ok(Some(row)) => {
                    let b = &row.body;
                    Some(
                        json!({"id": b["id"], "name": b["name"], "type": b["type"], "location": b["location"], "tags": b.get("tags").cloned().unwrap_or(json!({})), "properties": b.get("properties").cloned().unwrap_or(json!({}))}),
                    )
                }
                // a group being created: what its PUT will make
                _ => Some(json!({
                    "id": format!("/subscriptions/{}/resourceGroups/{rg}", s.subscription_id),
                    "name": rg,
                    "type": "Microsoft.Resources/resourceGroups",
                    "tags": {},
                    "properties": {},
                })),
            };
        }
    }
    ctx
}

/// A parsed definition with its display name and version, and whether its rule calls `policy()`
/// and `utcNow()`.
type Parsed = (Arc<Definition>, String, String, bool, bool);

/// `displayName` (else `name`) and `version` of a definition's body.
fn display(body: &Value) -> (String, String) {
    (
        body["properties"]["displayName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .or(body["name"].as_str())
            .unwrap_or_default()
            .to_string(),
        body["properties"]["version"]
            .as_str()
            .unwrap_or("1.0.0")
            .to_string(),
    )
}

fn def_of(
    store: &Store,
    id: &str,
    parsed: &mut HashMap<String, Option<Parsed>>,
) -> Result<Parsed, String> {
    let key = id.to_lowercase();
    if let Some(d) = parsed.get(&key) {
        return d
            .clone()
            .ok_or_else(|| format!("definition '{id}' not evaluable"));
    }
    let d = match resolve_definition(store, id) {
        Ok(Some((Kind::Definition, body))) => {
            let name = body["name"].as_str().unwrap_or_default();
            let (dn, v) = display(&body);
            let rule = body["properties"]["policyRule"]
                .to_string()
                .to_ascii_lowercase();
            let (uses_policy, uses_now) = (rule.contains("policy()"), rule.contains("utcnow("));
            Definition::parse(name, &body["properties"])
                .map(|d| (Arc::new(d), dn, v, uses_policy, uses_now))
                .map_err(|e| format!("definition '{id}': {}", e.message))
        }
        Ok(_) => Err(format!("definition '{id}' not found")),
        Err(e) => Err(e.message),
    };
    parsed.insert(key, d.as_ref().ok().cloned());
    d
}

fn applied(
    store: &Store,
    body: &Value,
    parent: &str,
    sub_tenant: &HashMap<String, String>,
    parsed: &mut HashMap<String, Option<Parsed>>,
) -> Result<Applied, String> {
    let p = &body["properties"];
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let def_id = p["policyDefinitionId"].as_str().unwrap_or_default();
    let supplied = p.get("parameters").filter(|v| v.is_object());
    let mut members = Vec::new();
    match resolve_definition(store, def_id).map_err(|e| e.message)? {
        Some((Kind::Definition, _)) => {
            let (def, display_name, version, uses_policy_fn, uses_now) =
                def_of(store, def_id, parsed)?;
            let params = def
                .resolve_parameters(&name, supplied)
                .map_err(|e| e.message)?;
            members.push(Member {
                definition_id: def_id.to_string(),
                set_definition_id: None,
                reference_id: None,
                def,
                params,
                group_names: Vec::new(),
                display_name,
                version,
                set_display_name: String::new(),
                set_version: String::new(),
                uses_policy_fn,
                uses_now,
                effect: None,
            });
        }
        Some((Kind::Set, set)) => {
            let set_params = set_parameters(&set, supplied);
            let (set_display_name, set_version) = display(&set);
            let ctx = EvalContext::new(OffsetDateTime::UNIX_EPOCH);
            let ev = crate::policy::eval::Ev::new(&Value::Null, &Value::Null, &ctx, &set_params);
            for r in set["properties"]["policyDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let mid = r["policyDefinitionId"].as_str().unwrap_or_default();
                let reference = r["policyDefinitionReferenceId"].as_str().map(String::from);
                let (def, display_name, version, uses_policy_fn, uses_now) =
                    def_of(store, mid, parsed)?;
                let mut given = Map::new();
                for (k, v) in r["parameters"].as_object().into_iter().flatten() {
                    let raw = v.get("value").cloned().unwrap_or(Value::Null);
                    let value = ev.value(&raw).map_err(|e| {
                        format!(
                            "initiative reference '{}' parameter '{k}': {e}",
                            reference.as_deref().unwrap_or(mid)
                        )
                    })?;
                    given.insert(k.clone(), json!({ "value": value }));
                }
                let params = def
                    .resolve_parameters(&name, Some(&Value::Object(given)))
                    .map_err(|e| e.message)?;
                members.push(Member {
                    definition_id: mid.to_string(),
                    set_definition_id: Some(def_id.to_string()),
                    reference_id: reference,
                    def,
                    params,
                    group_names: r["groupNames"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect(),
                    display_name,
                    version,
                    set_display_name: set_display_name.clone(),
                    set_version: set_version.clone(),
                    uses_policy_fn,
                    uses_now,
                    effect: None,
                });
            }
        }
        None => return Err(format!("definition '{def_id}' not found")),
    }
    let scope_tenant = || {
        ResourceId::parse(parent)
            .ok()
            .and_then(|s| s.subscription)
            .and_then(|s| sub_tenant.get(&s.to_lowercase()).cloned())
            .unwrap_or_default()
    };
    let ident = &body["identity"];
    let identity = match ident["principalId"].as_str() {
        Some(pid) => Some((
            pid.to_string(),
            ident["tenantId"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(scope_tenant),
        )),
        None => ident["userAssignedIdentities"]
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(|u| u["principalId"].as_str())
            .map(|pid| (pid.to_string(), scope_tenant())),
    };
    for m in &mut members {
        m.effect = m.def.effect(&m.params).ok();
    }
    Ok(Applied {
        id,
        name,
        scope: parent.to_lowercase(),
        enforce: !p["enforcementMode"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case("DoNotEnforce")),
        identity,
        members,
        body: body.clone(),
        not_scopes: p["notScopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|s| s.trim_end_matches('/').to_lowercase())
            .collect(),
        resource_selectors: p["resourceSelectors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                r["selectors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Selector::parse)
                    .collect()
            })
            .collect(),
        overrides: p["overrides"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| {
                o["kind"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case("policyEffect"))
            })
            .filter_map(|o| {
                let effect = Effect::parse(o["value"].as_str()?)?;
                let selectors = o["selectors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Selector::parse)
                    .collect();
                Some((effect, selectors))
            })
            .collect(),
    })
}

/// The initiative's parameter values: the assignment's, else the initiative's defaults.
fn set_parameters(set: &Value, supplied: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, d) in set["properties"]["parameters"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let given = supplied
            .and_then(Value::as_object)
            .and_then(|m| m.iter().find(|(g, _)| g.eq_ignore_ascii_case(k)))
            .and_then(|(_, v)| v.get("value").cloned());
        if let Some(v) = given.or_else(|| d.get("defaultValue").cloned()) {
            out.insert(k.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_cover_and_initiative_parameters() {
        let mg = "/providers/microsoft.management/managementgroups/fabrikam".to_string();
        let cases: &[(&str, &str, bool)] = &[
            (
                "/subscriptions/s1",
                "/subscriptions/s1/resourcegroups/rg",
                true,
            ),
            (
                "/subscriptions/s1/resourcegroups/rg",
                "/subscriptions/s1/resourcegroups/rg",
                true,
            ),
            (
                "/subscriptions/s1/resourcegroups/rg",
                "/subscriptions/s1/resourcegroups/rg2",
                false,
            ),
            (
                "/subscriptions/s1/resourcegroups/rg",
                "/subscriptions/s1",
                false,
            ),
            (mg.as_str(), "/subscriptions/s1/resourcegroups/rg", true),
            (
                "/providers/microsoft.management/managementgroups/other",
                "/subscriptions/s1",
                false,
            ),
        ];
        for (scope, target, want) in cases {
            assert_eq!(
                covers(scope, target, std::slice::from_ref(&mg)),
                *want,
                "{scope} {target}"
            );
        }
        let set = json!({"properties": {"parameters": {
            "effect": {"type": "String", "defaultValue": "Audit"},
            "tagName": {"type": "String"}}}});
        let p = set_parameters(&set, Some(&json!({"TagName": {"value": "env"}})));
        assert_eq!(
            Value::Object(p),
            json!({"effect": "Audit", "tagName": "env"})
        );
    }
}

//! Evaluating a checked policy rule against a resource body as ARM stores it and its context
//! (subscription, resource group, request, the assignment): `field` keywords and aliases with `[*]`
//! semantics, `value`, `count` (field and value count, `where`, `current()`), every condition with
//! Azure's case-insensitivity and type rules, and the policy functions (`field`, `current`,
//! `requestContext`, `policy`, `ipRangeContains`, `addDays`, `utcNow` anywhere) added to the template
//! evaluator through its `Env::function` hook. Pure: the time comes in the `EvalContext`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::aliases::{self, PSeg};
use super::effects::{self, Effect};
use super::rule::{self, Cond, Count, CountSource, Lhs, Op};
use super::{Definition, PolicyError};
use crate::template::eval::{self as teval, Context, Env, Scope};
use crate::template::expr;

/// Where the evaluated resource lives and who asks: what `subscription()`, `resourceGroup()`,
/// `requestContext()` and `policy()` return, and the time of `utcNow()`.
#[derive(Debug, Clone)]
pub struct EvalContext {
    /// `{id, subscriptionId, tenantId, displayName}`.
    pub subscription: Option<Value>,
    /// `{id, name, type, location, tags, properties}`; `None` outside a resource group.
    pub resource_group: Option<Value>,
    /// `requestContext()`: `{"apiVersion": "2023-01-01", "method": "PUT"}`.
    pub request: Value,
    /// `policy()`: `{assignmentId, definitionId, setDefinitionId, definitionReferenceId}`.
    pub policy: Value,
    pub utc_now: OffsetDateTime,
    /// The template evaluator's view of the above, built at the first evaluation (set the fields
    /// before evaluating with it).
    template: OnceLock<Context>,
}

impl EvalContext {
    pub fn new(utc_now: OffsetDateTime) -> Self {
        EvalContext {
            subscription: None,
            resource_group: None,
            request: json!({}),
            policy: json!({}),
            utc_now,
            template: OnceLock::new(),
        }
    }

    fn template(&self) -> &Context {
        self.template.get_or_init(|| Context {
            subscription: self.subscription.clone(),
            resource_group: self.resource_group.clone(),
            deployment: Value::Null,
            tenant: Value::Null,
            subscription_id: self
                .subscription
                .as_ref()
                .and_then(|s| s["subscriptionId"].as_str().map(String::from)),
            resource_group_name: self
                .resource_group
                .as_ref()
                .and_then(|g| g["name"].as_str().map(String::from)),
            utc_now: self.utc_now,
            management_group: None,
        })
    }
}

/// The result of evaluating one definition on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The definition's `mode` covers the resource's type.
    pub applicable: bool,
    /// The `if` condition held (never when not applicable or disabled).
    pub matched: bool,
    pub effect: Effect,
    /// `then.details` evaluated for this resource (`existenceCondition` and a `deployment`'s template
    /// left as written); `Null` when not matched.
    pub details: Value,
    /// When matched: the conditions evaluated, in order, as Azure reports them in a `PolicyViolation`'s and a policy
    /// state's `evaluationDetails.evaluatedExpressions` (`{result, expressionKind, expression, path,
    /// expressionValue, targetValue, operator}`; policyStates.json ExpressionEvaluationDetails).
    pub evaluated: Vec<Value>,
}

/// Evaluate `def` with these parameter values (from `Definition::resolve_parameters`) on `resource`.
pub fn evaluate(
    def: &Definition,
    params: &Map<String, Value>,
    resource: &Value,
    ctx: &EvalContext,
) -> Result<Outcome, PolicyError> {
    let effect = def.effect(params)?;
    let applicable = def.mode.applies(&policy_type(resource));
    evaluate_prepared(def, params, resource, ctx, effect, applicable, true)
}

/// As `evaluate`, with what a caller evaluating many resources works out once: the effect (from
/// `Definition::effect`), whether the mode covers the resource (`Mode::applies_with`), and whether
/// the evaluated expressions are recorded (`Outcome::evaluated`, a second pass over the rule).
pub fn evaluate_prepared(
    def: &Definition,
    params: &Map<String, Value>,
    resource: &Value,
    ctx: &EvalContext,
    effect: Effect,
    applicable: bool,
    trace: bool,
) -> Result<Outcome, PolicyError> {
    let mut out = Outcome {
        applicable,
        matched: false,
        effect,
        details: Value::Null,
        evaluated: Vec::new(),
    };
    if !applicable || effect == Effect::Disabled {
        return Ok(out);
    }
    let ev = Ev::new(resource, resource, ctx, params);
    out.matched = ev.cond(&def.cond).map_err(|e| fail(def, &e))?;
    if out.matched {
        // the evaluated expressions are what a refusal or a non-compliant state reports: recorded
        // in a second pass, so that the common case (the rule does not apply) builds none
        if trace {
            ev.tracing.set(true);
            ev.cond(&def.cond).map_err(|e| fail(def, &e))?;
            out.evaluated = ev.take_trace();
        }
        out.details = effects::eval_details(def, &ev).map_err(|e| fail(def, &e))?;
    }
    Ok(out)
}

/// A failure while evaluating: Azure's InvalidPolicyParameters wrapper with the inner message.
pub(crate) fn fail(def: &Definition, inner: &str) -> PolicyError {
    super::invalid_parameters(&def.name, inner)
}

/// The type policy sees: resource groups are `Microsoft.Resources/subscriptions/resourceGroups`.
pub fn policy_type(resource: &Value) -> String {
    let t = resource["type"].as_str().unwrap_or_default();
    if t.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups") {
        "Microsoft.Resources/subscriptions/resourceGroups".to_string()
    } else {
        t.to_string()
    }
}

/// A field's value: one value, or the members a `[*]` path reached (conditions hold for all).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldVal {
    One(Value),
    Many(Vec<Value>),
}

impl FieldVal {
    pub fn into_value(self) -> Value {
        match self {
            FieldVal::One(v) => v,
            FieldVal::Many(v) => Value::Array(v),
        }
    }
}

/// The members a `count` is iterating, innermost last.
enum Frame {
    Field { path: Vec<PSeg>, elem: Value },
    Value { name: Option<String>, elem: Value },
}

/// One evaluation: `field` conditions read `cond_res`, the `field()` function reads `fn_res` (the
/// same resource, except in an `existenceCondition`, whose conditions read the related resource).
pub(crate) struct Ev<'a> {
    cond_res: &'a Value,
    fn_res: &'a Value,
    ctx: &'a EvalContext,
    tctx: &'a Context,
    params: &'a Map<String, Value>,
    frames: RefCell<Vec<Frame>>,
    trace: RefCell<Vec<Value>>,
    tracing: std::cell::Cell<bool>,
}

static NULL: Value = Value::Null;

fn get_ci<'v>(v: &'v Value, k: &str) -> &'v Value {
    match v {
        Value::Object(m) => m.get(k).unwrap_or_else(|| {
            m.iter()
                .find(|(x, _)| x.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
                .unwrap_or(&NULL)
        }),
        _ => &NULL,
    }
}

fn walk(v: &Value, segs: &[PSeg], out: &mut Vec<Value>) {
    match segs.first() {
        None => out.push(v.clone()),
        Some(PSeg::Key(k)) => walk(get_ci(v, k), &segs[1..], out),
        Some(PSeg::All) => {
            if let Value::Array(a) = v {
                for e in a {
                    walk(e, &segs[1..], out);
                }
            }
        }
    }
}

fn starts_with(path: &[PSeg], prefix: &[PSeg]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a.same(b))
}

/// `fullName`: the names from the resource's provider on (`vault/secret` for a child).
fn full_name(res: &Value) -> Value {
    let id = res["id"].as_str().unwrap_or_default();
    match id.to_ascii_lowercase().rfind("/providers/") {
        Some(i) => {
            let parts: Vec<&str> = id[i + 11..].split('/').collect();
            let names: Vec<&str> = parts.iter().skip(2).step_by(2).copied().collect();
            if names.is_empty() {
                res["name"].clone()
            } else {
                Value::String(names.join("/"))
            }
        }
        None => res["name"].clone(),
    }
}

impl<'a> Ev<'a> {
    pub(crate) fn new(
        cond_res: &'a Value,
        fn_res: &'a Value,
        ctx: &'a EvalContext,
        params: &'a Map<String, Value>,
    ) -> Self {
        let tctx = ctx.template();
        Ev {
            cond_res,
            fn_res,
            ctx,
            tctx,
            params,
            frames: RefCell::new(Vec::new()),
            trace: RefCell::new(Vec::new()),
            tracing: std::cell::Cell::new(false),
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            ctx: self.tctx,
            env: self,
            params: self.params,
            vars: None,
            copies: Vec::new(),
            in_default: false,
            allow_reference: false,
        }
    }

    /// A rule value: literals as they are, expressions evaluated.
    pub(crate) fn value(&self, v: &Value) -> Result<Value, String> {
        teval::eval_value(v, &self.scope()).map_err(|e| e.message)
    }

    fn text_value(&self, s: &str) -> Result<String, String> {
        match teval::eval_str(s, &self.scope()).map_err(|e| e.message)? {
            Value::String(s) => Ok(s),
            other => Err(format!(
                "The field expression '{s}' must evaluate to a string; it is of type '{}'.",
                teval::type_name(&other)
            )),
        }
    }

    /// The path of an alias on `res`, `None` for a keyword or an alias of another type.
    fn alias_path(&self, res: &Value, name: &str) -> Result<Option<Vec<PSeg>>, String> {
        if rule::is_field_keyword(name) {
            return Ok(None);
        }
        let Some(r) = aliases::resolve(name) else {
            return Err(format!(
                "The field '{name}' is neither a resource property nor an alias."
            ));
        };
        if !r.rtype.eq_ignore_ascii_case(&policy_type(res)) {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(r.path))
    }

    /// A `field` (keyword or alias) of `res`; members of the arrays being counted stand for their
    /// `[*]` when `use_frames`.
    fn field(&self, res: &Value, name: &str, use_frames: bool) -> Result<FieldVal, String> {
        let lname = name.to_ascii_lowercase();
        let one = |v: &Value| Ok(FieldVal::One(v.clone()));
        match lname.as_str() {
            "name" | "kind" | "location" | "id" | "tags" => return one(get_ci(res, &lname)),
            "fullname" => return Ok(FieldVal::One(full_name(res))),
            "type" => return Ok(FieldVal::One(Value::String(policy_type(res)))),
            "identity.type" => return one(get_ci(get_ci(res, "identity"), "type")),
            "identity.userassignedidentities" => {
                return one(get_ci(get_ci(res, "identity"), "userAssignedIdentities"))
            }
            _ => {}
        }
        if let Some(tag) = rule::tag_name(name) {
            return one(get_ci(get_ci(res, "tags"), tag));
        }
        let path = match self.alias_path(res, name)? {
            Some(p) if !p.is_empty() => p,
            _ => {
                // an alias of another resource type: the field does not exist
                return Ok(if name.contains("[*]") {
                    FieldVal::Many(Vec::new())
                } else {
                    FieldVal::One(Value::Null)
                });
            }
        };
        Ok(self.read_path(res, &path, use_frames))
    }

    fn read_path(&self, res: &Value, path: &[PSeg], use_frames: bool) -> FieldVal {
        let many = path.contains(&PSeg::All);
        if use_frames {
            for f in self.frames.borrow().iter().rev() {
                if let Frame::Field { path: fp, elem } = f {
                    if starts_with(path, fp) {
                        let mut out = Vec::new();
                        walk(elem, &path[fp.len()..], &mut out);
                        return FieldVal::Many(out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(res, path, &mut out);
        if many {
            FieldVal::Many(out)
        } else {
            FieldVal::One(out.pop().unwrap_or(Value::Null))
        }
    }

    pub(crate) fn cond(&self, c: &Cond) -> Result<bool, String> {
        match c {
            Cond::AllOf(cs) => {
                for c in cs {
                    if !self.cond(c)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Cond::AnyOf(cs) => {
                for c in cs {
                    if self.cond(c)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Cond::Not(c) => Ok(!self.cond(c)?),
            Cond::Leaf {
                lhs,
                op,
                rhs,
                rhs_expr,
            } => {
                let r = if *rhs_expr {
                    Cow::Owned(self.value(rhs)?)
                } else {
                    Cow::Borrowed(rhs)
                };
                let r = r.as_ref();
                let (kind, expression, path, value, result) = match lhs {
                    Lhs::Field(f) => {
                        let name = if expr::is_expression(f) {
                            self.text_value(f)?
                        } else {
                            f.clone()
                        };
                        let v = self.field(self.cond_res, &name, true)?;
                        let result = match &v {
                            FieldVal::One(v) => test(*op, v, r)?,
                            FieldVal::Many(vs) => {
                                let mut all = true;
                                for v in vs {
                                    if !test(*op, v, r)? {
                                        all = false;
                                        break;
                                    }
                                }
                                all
                            }
                        };
                        let path = self.path_text(&name);
                        ("Field", name, path, v.into_value(), result)
                    }
                    Lhs::Value(v) => {
                        let x = self.value(v)?;
                        let result = test(*op, &x, r)?;
                        ("Value", teval::to_text(v), None, x, result)
                    }
                    Lhs::Count(c) => {
                        let n = json!(self.count(c)?);
                        let result = test(*op, &n, r)?;
                        let what = match &c.source {
                            CountSource::Field(f) => f.clone(),
                            CountSource::Value(v) => teval::to_text(v),
                        };
                        ("Count", what, None, n, result)
                    }
                };
                // what Azure reports as `evaluationDetails.evaluatedExpressions` (the conditions of
                // a count's `where` are summed up by the count's own entry)
                if self.tracing.get() && self.frames.borrow().is_empty() {
                    let mut e = json!({
                        "result": if result { "True" } else { "False" },
                        "expressionKind": kind,
                        "expression": expression,
                        "expressionValue": value,
                        "targetValue": r,
                        "operator": operator_name(*op),
                    });
                    if let Some(p) = path {
                        e["path"] = Value::String(p);
                    }
                    self.trace.borrow_mut().push(e);
                }
                Ok(result)
            }
        }
    }

    /// The property path a field reads (`properties.supportsHttpsTrafficOnly`, `tags.env`).
    fn path_text(&self, name: &str) -> Option<String> {
        if let Some(t) = rule::tag_name(name) {
            return Some(format!("tags.{t}"));
        }
        if rule::is_field_keyword(name) {
            return Some(name.to_string());
        }
        let r = aliases::resolve(name)?;
        Some(
            r.path
                .iter()
                .map(|s| match s {
                    PSeg::Key(k) => k.clone(),
                    PSeg::All => "[*]".to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
                .replace(".[*]", "[*]"),
        )
    }

    /// The evaluated expressions recorded so far.
    pub(crate) fn take_trace(&self) -> Vec<Value> {
        std::mem::take(&mut self.trace.borrow_mut())
    }

    fn count(&self, c: &Count) -> Result<usize, String> {
        let (items, frame_path) = match &c.source {
            CountSource::Field(f) => {
                let name = if expr::is_expression(f) {
                    self.text_value(f)?
                } else {
                    f.clone()
                };
                let path = match self.alias_path(self.cond_res, &name)? {
                    Some(p) if p.last() == Some(&PSeg::All) => p,
                    Some(p) if p.is_empty() => return Ok(0),
                    _ => {
                        return Err(format!(
                            "The field '{name}' of a 'count' expression must be an array alias ending in '[*]'."
                        ))
                    }
                };
                let items = match self.read_path(self.cond_res, &path, true) {
                    FieldVal::Many(v) => v,
                    FieldVal::One(v) => vec![v],
                };
                (items, Some(path))
            }
            CountSource::Value(v) => match self.value(v)? {
                Value::Array(a) => (a, None),
                Value::Null => (Vec::new(), None),
                other => {
                    return Err(format!(
                        "The 'value' of a 'count' expression must evaluate to an array; it is of type '{}'.",
                        teval::type_name(&other)
                    ))
                }
            },
        };
        let Some(w) = &c.where_ else {
            return Ok(items.len());
        };
        let mut n = 0;
        for elem in items {
            let frame = match &frame_path {
                Some(p) => Frame::Field {
                    path: p.clone(),
                    elem,
                },
                None => Frame::Value {
                    name: c.name.clone(),
                    elem,
                },
            };
            self.frames.borrow_mut().push(frame);
            let r = self.cond(w);
            self.frames.borrow_mut().pop();
            if r? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// `current()`, `current('name')`, `current('alias[*]…')`.
    fn current(&self, args: &[Value]) -> Result<Value, String> {
        let frames = self.frames.borrow();
        let not_here = |what: &str| {
            format!("The template function 'current' is not expected at this location: no 'count' iterates '{what}'.")
        };
        let Some(key) = args.first() else {
            return match frames.last() {
                Some(Frame::Field { elem, .. }) | Some(Frame::Value { elem, .. }) => {
                    Ok(elem.clone())
                }
                None => Err(not_here("")),
            };
        };
        let key = key
            .as_str()
            .ok_or_else(|| "The template function 'current' expects a string.".to_string())?;
        for f in frames.iter().rev() {
            if let Frame::Value {
                name: Some(n),
                elem,
            } = f
            {
                if n.eq_ignore_ascii_case(key) {
                    return Ok(elem.clone());
                }
            }
        }
        if let Some(r) = aliases::resolve(key) {
            for f in frames.iter().rev() {
                if let Frame::Field { path, elem } = f {
                    if starts_with(&r.path, path) {
                        let rest = &r.path[path.len()..];
                        let mut out = Vec::new();
                        walk(elem, rest, &mut out);
                        return Ok(if rest.contains(&PSeg::All) {
                            Value::Array(out)
                        } else {
                            out.pop().unwrap_or(Value::Null)
                        });
                    }
                }
            }
        }
        Err(not_here(key))
    }
}

/// The functions the docs list as unavailable in policy rules.
const NOT_IN_POLICY: &[&str] = &[
    "copyindex",
    "datetimeadd",
    "datetimefromepoch",
    "datetimetoepoch",
    "deployment",
    "environment",
    "extensionresourceid",
    "lambda",
    "managementgroup",
    "newguid",
    "pickzones",
    "providers",
    "reference",
    "resourceid",
    "subscriptionresourceid",
    "tenantresourceid",
    "tenant",
    "variables",
];

impl Env for Ev<'_> {
    fn reference(&self, _id: &str, _api: Option<&str>, _full: bool) -> Result<Value, String> {
        Err(not_in_policy("reference"))
    }

    fn new_guid(&self) -> String {
        String::new()
    }

    fn function(&self, name: &str, args: &[Value], ctx: &Context) -> Option<Result<Value, String>> {
        let l = name.to_ascii_lowercase();
        if NOT_IN_POLICY.contains(&l.as_str())
            || (l.starts_with("list") && l != "last" && l != "lastindexof")
        {
            return Some(Err(not_in_policy(name)));
        }
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("Unable to evaluate template language function '{name}': function requires {n} argument(s) while {} were provided.", args.len()))
            }
        };
        Some(match l.as_str() {
            "field" => arity(1).and_then(|_| {
                let f = args[0]
                    .as_str()
                    .ok_or_else(|| "The template function 'field' expects a string.".to_string())?;
                let same = std::ptr::eq(self.cond_res, self.fn_res);
                self.field(self.fn_res, f, same).map(FieldVal::into_value)
            }),
            "current" => {
                if args.len() > 1 {
                    Err("Unable to evaluate template language function 'current': function requires 0 to 1 argument(s).".to_string())
                } else {
                    self.current(args)
                }
            }
            "requestcontext" => arity(0).map(|_| self.ctx.request.clone()),
            "policy" => arity(0).map(|_| self.ctx.policy.clone()),
            "iprangecontains" => arity(2).and_then(|_| ip_range_contains(&args[0], &args[1])),
            "adddays" => arity(2).and_then(|_| add_days(&args[0], &args[1])),
            "utcnow" => {
                if args.len() > 1 {
                    Err("Unable to evaluate template language function 'utcNow': function requires 0 to 1 argument(s).".to_string())
                } else {
                    let fmt = args
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or("yyyyMMddTHHmmssZ");
                    Ok(Value::String(teval::format_time(ctx.utc_now, fmt)))
                }
            }
            _ => return None,
        })
    }
}

fn not_in_policy(name: &str) -> String {
    format!("The template function '{name}' is not available in policy rules. See https://aka.ms/policy-template-functions.")
}

/// `addDays(dateTime, n)`: ISO 8601 in and out.
fn add_days(t: &Value, n: &Value) -> Result<Value, String> {
    use time::format_description::well_known::Rfc3339;
    let s = t
        .as_str()
        .ok_or_else(|| "The template function 'addDays' expects a date-time string.".to_string())?;
    let n = teval::as_int(n).ok_or_else(|| {
        "The template function 'addDays' expects an integer number of days.".to_string()
    })?;
    let d = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        format!("The template function 'addDays' could not parse '{s}' as an ISO 8601 date-time.")
    })?;
    let out = d
        .checked_add(time::Duration::days(n))
        .ok_or_else(|| "The template function 'addDays' overflowed.".to_string())?;
    out.format(&Rfc3339)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

/// An address or CIDR range as (first, last, is IPv4).
fn ip_range(s: &str) -> Option<(u128, u128, bool)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a.trim(), Some(b.trim().parse::<u32>().ok()?)),
        None => (s.trim(), None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let (n, width, v4) = match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, 32, true),
        IpAddr::V6(a) => (u128::from(a), 128, false),
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return None;
    }
    let host = width - bits;
    let mask: u128 = if host == 0 {
        0
    } else if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    Some((n & !mask, n | mask, v4))
}

/// `ipRangeContains(range, target)`: the target address or range lies in the range.
fn ip_range_contains(range: &Value, target: &Value) -> Result<Value, String> {
    let parse = |v: &Value| {
        v.as_str().and_then(ip_range).ok_or_else(|| {
            format!(
                "The template function 'ipRangeContains' could not parse '{}' as an IP address or CIDR range.",
                teval::to_text(v)
            )
        })
    };
    let (a0, a1, av4) = parse(range)?;
    let (b0, b1, bv4) = parse(target)?;
    if av4 != bv4 {
        return Err("The template function 'ipRangeContains' expects both arguments to be of the same address family.".into());
    }
    Ok(Value::Bool(a0 <= b0 && b1 <= a1))
}

// --- conditions ---

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `equals`: strings, booleans and numbers compared as text, case-insensitively ("false" equals
/// `false`, "365" equals `365`); arrays and objects member by member.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    values_equal(v, get_ci(b, k)) && y.keys().any(|yk| yk.eq_ignore_ascii_case(k))
                })
        }
        _ => match (scalar_text(a), scalar_text(b)) {
            (Some(p), Some(q)) => p.eq_ignore_ascii_case(&q) || numbers_equal(a, b),
            _ => false,
        },
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// `like`: `*` stands for any run of characters; case-insensitive.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `match`: `#` a digit, `?` a letter, `.` any character, anything else itself; whole string.
pub fn matches(text: &str, pattern: &str, insensitive: bool) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(c, q)| match q {
            '#' => c.is_ascii_digit(),
            '?' => c.is_alphabetic(),
            '.' => true,
            _ if insensitive => c.to_lowercase().eq(q.to_lowercase()),
            _ => c == q,
        })
}

fn compare(op: Op, a: &Value, b: &Value) -> Result<bool, String> {
    use std::cmp::Ordering;
    if a.is_null() || b.is_null() {
        return Ok(false);
    }
    let ord = match (a, b) {
        (Value::Number(_), _) | (_, Value::Number(_)) => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(ord) = ord else {
        return Err(format!(
            "The '{}' condition cannot compare a value of type '{}' with a value of type '{}'.",
            op.name(),
            teval::type_name(a),
            teval::type_name(b)
        ));
    };
    Ok(match op {
        Op::Less => ord == Ordering::Less,
        Op::LessOrEquals => ord != Ordering::Greater,
        Op::Greater => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

/// `Equals`, `NotIn`… as `evaluatedExpressions` spell operators.
fn operator_name(op: Op) -> String {
    let n = op.name();
    let mut c = n.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// One condition on one value.
pub fn test(op: Op, v: &Value, rhs: &Value) -> Result<bool, String> {
    let pattern = || {
        scalar_text(rhs).ok_or_else(|| format!("The '{}' condition expects a string.", op.name()))
    };
    Ok(match op {
        Op::Equals => values_equal(v, rhs),
        Op::NotEquals => !values_equal(v, rhs),
        Op::Like | Op::NotLike => {
            let p = pattern()?;
            let hit = scalar_text(v).is_some_and(|t| like(&t, &p));
            hit == (op == Op::Like)
        }
        Op::Match | Op::NotMatch | Op::MatchInsensitively | Op::NotMatchInsensitively => {
            let p = pattern()?;
            let ci = matches!(op, Op::MatchInsensitively | Op::NotMatchInsensitively);
            let hit = scalar_text(v).is_some_and(|t| matches(&t, &p, ci));
            hit == matches!(op, Op::Match | Op::MatchInsensitively)
        }
        Op::Contains | Op::NotContains => {
            let hit = match v {
                Value::Array(a) => a.iter().any(|x| values_equal(x, rhs)),
                Value::Object(_) => false,
                _ => match (scalar_text(v), scalar_text(rhs)) {
                    (Some(t), Some(p)) => t.to_lowercase().contains(&p.to_lowercase()),
                    _ => false,
                },
            };
            hit == (op == Op::Contains)
        }
        Op::In | Op::NotIn => {
            let Value::Array(list) = rhs else {
                return Err(format!(
                    "The '{}' condition expects an array; the value is of type '{}'.",
                    op.name(),
                    teval::type_name(rhs)
                ));
            };
            let hit = list.iter().any(|x| values_equal(v, x));
            hit == (op == Op::In)
        }
        Op::ContainsKey | Op::NotContainsKey => {
            let key = pattern()?;
            let hit = v
                .as_object()
                .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(&key)));
            hit == (op == Op::ContainsKey)
        }
        Op::Less | Op::LessOrEquals | Op::Greater | Op::GreaterOrEquals => compare(op, v, rhs)?,
        Op::Exists => {
            let want = match rhs {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err("The 'exists' condition expects 'true' or 'false'.".into()),
            };
            v.is_null() != want
        }
    })
}

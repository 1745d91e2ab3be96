//! Fault injection rules (`/_emulator/faults`): what a rule matches (method, path glob, provider
//! namespace, principal, sandbox) and what it does (an ARM error, added latency, a dropped connection,
//! a long-running operation that stays InProgress for N polls and then fails or succeeds), with a
//! probability or a count; and the state of the operations a rule started. Plain values: the edge
//! (`ops`) applies the effects. Errors use ARM's envelope (ARM-FACTS §3.5).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An ARM error answer instead of the real one.
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// The real answer, this many milliseconds late.
    Latency { ms: u64 },
    /// The connection closes without an answer.
    Drop,
    /// A write answered as a long-running operation (201/202 + `Azure-AsyncOperation`) whose status
    /// stays `InProgress` for `polls` polls, then `Failed` with `code`/`message` (the request never
    /// runs) or `Succeeded` (the request ran when it arrived).
    Lro {
        polls: u32,
        fail: bool,
        code: String,
        message: String,
    },
}

impl Effect {
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::Error { .. } => "error",
            Effect::Latency { .. } => "latency",
            Effect::Drop => "drop",
            Effect::Lro { .. } => "lro",
        }
    }
}

/// What a request must be for a rule to fire; every given field must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    pub method: Option<String>,
    /// Case-insensitive glob over the path; `*` matches any run of characters, `/` included.
    pub path: Option<String>,
    /// The resource provider namespace of the path's last `providers/{ns}` (e.g. `Microsoft.Network`).
    pub provider: Option<String>,
    /// The caller's object id or application id.
    pub principal: Option<String>,
    /// The sandbox a request addresses: set when a sandbox's request is matched against the main
    /// world's rules (its own rules see `None`, as the main world's own requests do).
    pub sandbox: Option<String>,
}

/// What the edge knows of a request when it matches rules.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// (object id, application id) of a valid bearer token.
    pub principal: Option<(&'a str, &'a str)>,
    pub sandbox: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub matcher: Match,
    pub effect: Effect,
    /// Chance that a matching request gets the effect (1 = every one).
    pub probability: f64,
    /// How many more times it fires (`None`: no limit).
    pub remaining: Option<u64>,
    pub hits: u64,
}

/// Bad rule: the message says which field.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRule(pub String);

fn text(v: &Value, key: &str) -> Result<Option<String>, BadRule> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(BadRule(format!("'{key}' must be a non-empty string"))),
    }
}

fn number(v: &Value, key: &str) -> Result<Option<u64>, BadRule> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| BadRule(format!("'{key}' must be a whole number"))),
    }
}

/// The namespace of a path's last `providers/{namespace}` segment pair.
pub fn provider_of(path: &str) -> Option<&str> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segs.windows(2)
        .rev()
        .find(|w| w[0].eq_ignore_ascii_case("providers"))
        .map(|w| w[1])
}

impl Rule {
    /// A rule from its JSON: `{"match": {...}, "effect": {"kind": ...}, "probability"?, "count"?}`.
    pub fn parse(id: String, body: &Value) -> Result<Rule, BadRule> {
        if !body.is_object() {
            return Err(BadRule("the body must be a JSON object".into()));
        }
        let m = body.get("match").cloned().unwrap_or(json!({}));
        if !m.is_object() {
            return Err(BadRule("'match' must be an object".into()));
        }
        let matcher = Match {
            method: text(&m, "method")?.map(|s| s.to_ascii_uppercase()),
            path: text(&m, "path")?,
            provider: text(&m, "provider")?,
            principal: text(&m, "principal")?,
            sandbox: text(&m, "sandbox")?,
        };
        let e = body
            .get("effect")
            .filter(|e| e.is_object())
            .ok_or_else(|| BadRule("'effect' must be an object with a 'kind'".into()))?;
        let effect = match text(e, "kind")?.as_deref() {
            Some("error") => {
                let status = number(e, "status")?.unwrap_or(500);
                if !(400..=599).contains(&status) {
                    return Err(BadRule("'effect.status' must be 400–599".into()));
                }
                Effect::Error {
                    status: status as u16,
                    code: text(e, "code")?.unwrap_or_else(|| "InternalServerError".into()),
                    message: text(e, "message")?.unwrap_or_else(|| {
                        "Encountered internal server error. Diagnostic information: timestamp '', subscription id '', tracking id '', request correlation id ''.".into()
                    }),
                }
            }
            Some("latency") => Effect::Latency {
                ms: number(e, "ms")?
                    .filter(|ms| *ms <= 600_000)
                    .ok_or_else(|| BadRule("'effect.ms' must be 0–600000".into()))?,
            },
            Some("drop") => Effect::Drop,
            Some("lro") => {
                let result = text(e, "result")?.unwrap_or_else(|| "Failed".into());
                let fail = match result.as_str() {
                    "Failed" => true,
                    "Succeeded" => false,
                    _ => {
                        return Err(BadRule(
                            "'effect.result' must be 'Failed' or 'Succeeded'".into(),
                        ))
                    }
                };
                Effect::Lro {
                    polls: number(e, "polls")?.unwrap_or(1).min(10_000) as u32,
                    fail,
                    code: text(e, "code")?.unwrap_or_else(|| "InternalServerError".into()),
                    message: text(e, "message")?
                        .unwrap_or_else(|| "The operation failed (injected fault).".into()),
                }
            }
            _ => {
                return Err(BadRule(
                    "'effect.kind' must be 'error', 'latency', 'drop' or 'lro'".into(),
                ))
            }
        };
        let probability = match body.get("probability") {
            None | Some(Value::Null) => 1.0,
            Some(p) => p
                .as_f64()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| BadRule("'probability' must be a number from 0 to 1".into()))?,
        };
        Ok(Rule {
            id,
            matcher,
            effect,
            probability,
            remaining: number(body, "count")?,
            hits: 0,
        })
    }

    pub fn matches(&self, f: &Facts) -> bool {
        let m = &self.matcher;
        if self.remaining == Some(0) {
            return false;
        }
        if m.method.as_deref().is_some_and(|x| x != f.method) {
            return false;
        }
        if m.path
            .as_deref()
            .is_some_and(|g| !crate::authz::glob(g, f.path))
        {
            return false;
        }
        if m.provider
            .as_deref()
            .is_some_and(|p| !provider_of(f.path).is_some_and(|ns| ns.eq_ignore_ascii_case(p)))
        {
            return false;
        }
        if let Some(p) = m.principal.as_deref() {
            match f.principal {
                Some((oid, appid))
                    if p.eq_ignore_ascii_case(oid) || p.eq_ignore_ascii_case(appid) => {}
                _ => return false,
            }
        }
        match (m.sandbox.as_deref(), f.sandbox) {
            (Some(s), Some(x)) if s.eq_ignore_ascii_case(x) => {}
            // a rule of the main world reaches a sandbox's request only by naming that sandbox
            (None, None) => {}
            _ => return false,
        }
        true
    }

    pub fn to_json(&self) -> Value {
        let m = &self.matcher;
        let mut mm = Map::new();
        for (k, v) in [
            ("method", &m.method),
            ("path", &m.path),
            ("provider", &m.provider),
            ("principal", &m.principal),
            ("sandbox", &m.sandbox),
        ] {
            if let Some(v) = v {
                mm.insert(k.into(), json!(v));
            }
        }
        let effect = match &self.effect {
            Effect::Error {
                status,
                code,
                message,
            } => json!({"kind": "error", "status": status, "code": code, "message": message}),
            Effect::Latency { ms } => json!({"kind": "latency", "ms": ms}),
            Effect::Drop => json!({"kind": "drop"}),
            Effect::Lro {
                polls,
                fail,
                code,
                message,
            } => {
                let mut e = json!({"kind": "lro", "polls": polls, "result": if *fail { "Failed" } else { "Succeeded" }});
                if *fail {
                    e["code"] = json!(code);
                    e["message"] = json!(message);
                }
                e
            }
        };
        json!({
            "id": self.id,
            "match": mm,
            "effect": effect,
            "probability": self.probability,
            "count": self.remaining,
            "hits": self.hits,
        })
    }
}

/// An operation a `lro` rule started: how many more polls answer InProgress, and how it ends.
#[derive(Debug, Clone)]
pub struct Operation {
    pub rule: String,
    pub polls_left: u32,
    pub fail: Option<(String, String)>,
    pub started: String,
}

/// The rules in force and the operations they started.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    ops: Mutex<HashMap<String, Operation>>,
    /// Rules ever added (a fast "none" check without the lock).
    any: std::sync::atomic::AtomicBool,
}

impl Faults {
    pub fn add(&self, rule: Rule) -> Value {
        let j = rule.to_json();
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rule);
        self.any.store(true, std::sync::atomic::Ordering::Relaxed);
        j
    }

    pub fn list(&self) -> Value {
        let rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        json!({"value": rules.iter().map(Rule::to_json).collect::<Vec<_>>()})
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let before = rules.len();
        rules.retain(|r| !r.id.eq_ignore_ascii_case(id));
        rules.len() != before
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn is_empty(&self) -> bool {
        !self.any.load(std::sync::atomic::Ordering::Relaxed)
            || self
                .rules
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
    }

    /// The first rule that matches and whose roll (`roll` in [0, 1)) falls under its probability;
    /// it counts the hit. Returns (rule id, effect).
    pub fn fire(&self, f: &Facts, roll: impl Fn() -> f64) -> Option<(String, Effect)> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        for r in rules.iter_mut() {
            if !r.matches(f) {
                continue;
            }
            if r.probability < 1.0 && roll() >= r.probability {
                continue;
            }
            r.hits += 1;
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            return Some((r.id.clone(), r.effect.clone()));
        }
        None
    }

    pub fn start_operation(&self, id: String, op: Operation) {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        if ops.len() >= 10_000 {
            ops.clear();
        }
        ops.insert(id.to_ascii_lowercase(), op);
    }

    /// One poll of an operation: its status body (`None` when unknown).
    pub fn poll(&self, id: &str) -> Option<(Operation, Value)> {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let op = ops.get_mut(&id.to_ascii_lowercase())?;
        let mut body = json!({"name": id, "startTime": op.started});
        if op.polls_left > 0 {
            op.polls_left -= 1;
            body["status"] = json!("InProgress");
        } else if let Some((code, message)) = &op.fail {
            body["status"] = json!("Failed");
            body["error"] = json!({"code": code, "message": message});
        } else {
            body["status"] = json!("Succeeded");
        }
        Some((op.clone(), body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(method: &'a str, path: &'a str) -> Facts<'a> {
        Facts {
            method,
            path,
            principal: Some(("oid-1", "app-1")),
            sandbox: None,
        }
    }

    #[test]
    fn parse_table() {
        let ok = [
            json!({"effect": {"kind": "drop"}}),
            json!({"match": {"method": "put"}, "effect": {"kind": "error", "status": 503, "code": "ServiceUnavailable", "message": "m"}, "count": 2}),
            json!({"effect": {"kind": "latency", "ms": 250}, "probability": 0.5}),
            json!({"effect": {"kind": "lro", "polls": 3, "result": "Succeeded"}}),
        ];
        for b in ok {
            let r = Rule::parse("x".into(), &b).unwrap_or_else(|e| panic!("{b}: {e:?}"));
            assert_eq!(Rule::parse("x".into(), &r.to_json()).unwrap(), r, "{b}");
        }
        for (b, why) in [
            (json!([]), "object"),
            (json!({}), "'effect'"),
            (json!({"effect": {"kind": "boom"}}), "'effect.kind'"),
            (
                json!({"effect": {"kind": "error", "status": 200}}),
                "400–599",
            ),
            (json!({"effect": {"kind": "latency"}}), "'effect.ms'"),
            (
                json!({"effect": {"kind": "drop"}, "probability": 2}),
                "probability",
            ),
            (json!({"effect": {"kind": "drop"}, "count": -1}), "'count'"),
            (
                json!({"effect": {"kind": "lro", "result": "Maybe"}}),
                "'effect.result'",
            ),
            (
                json!({"match": {"path": 3}, "effect": {"kind": "drop"}}),
                "'path'",
            ),
        ] {
            let e = Rule::parse("x".into(), &b).unwrap_err();
            assert!(e.0.contains(why), "{b}: {e:?}");
        }
    }

    #[test]
    fn matching_table() {
        let path =
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
        for (m, method, principal, want) in [
            (json!({}), "GET", None, true),
            (json!({"method": "PUT"}), "PUT", None, true),
            (json!({"method": "put"}), "GET", None, false),
            (
                json!({"path": "/subscriptions/*/resourcegroups/rg/*"}),
                "GET",
                None,
                true,
            ),
            (
                json!({"path": "/subscriptions/*/resourceGroups/other*"}),
                "GET",
                None,
                false,
            ),
            (json!({"provider": "microsoft.network"}), "GET", None, true),
            (json!({"provider": "Microsoft.Storage"}), "GET", None, false),
            (
                json!({"principal": "OID-1"}),
                "GET",
                Some(("oid-1", "app-1")),
                true,
            ),
            (
                json!({"principal": "app-1"}),
                "GET",
                Some(("oid-1", "app-1")),
                true,
            ),
            (
                json!({"principal": "oid-2"}),
                "GET",
                Some(("oid-1", "app-1")),
                false,
            ),
            (json!({"principal": "oid-1"}), "GET", None, false),
            (json!({"sandbox": "s"}), "GET", None, false),
        ] {
            let r =
                Rule::parse("x".into(), &json!({"match": m, "effect": {"kind": "drop"}})).unwrap();
            let f = Facts {
                principal,
                ..facts(method, path)
            };
            assert_eq!(r.matches(&f), want, "{m} {method}");
        }
        assert_eq!(provider_of("/subscriptions/s/resourcegroups/rg"), None);
        assert_eq!(
            provider_of("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments"),
            Some("Microsoft.Authorization")
        );
    }

    #[test]
    fn count_probability_and_order() {
        let f = Faults::default();
        f.add(Rule::parse("a".into(), &json!({"effect": {"kind": "drop"}, "count": 2})).unwrap());
        f.add(
            Rule::parse(
                "b".into(),
                &json!({"effect": {"kind": "latency", "ms": 1}, "probability": 0.5}),
            )
            .unwrap(),
        );
        let req = facts("GET", "/subscriptions");
        assert_eq!(f.fire(&req, || 0.9).unwrap().0, "a");
        assert_eq!(f.fire(&req, || 0.9).unwrap().0, "a");
        assert_eq!(f.fire(&req, || 0.9), None, "a is spent, b's roll fails");
        assert_eq!(f.fire(&req, || 0.1).unwrap().0, "b");
        let list = f.list();
        assert_eq!(list["value"][0]["count"], 0);
        assert_eq!(list["value"][0]["hits"], 2);
        assert!(f.remove("A"));
        assert!(!f.remove("a"));
        f.clear();
        assert!(f.is_empty());
    }

    #[test]
    fn an_operation_stays_in_progress_then_ends() {
        let f = Faults::default();
        f.start_operation(
            "op".into(),
            Operation {
                rule: "r".into(),
                polls_left: 2,
                fail: Some(("Boom".into(), "it broke".into())),
                started: "t".into(),
            },
        );
        assert_eq!(f.poll("op").unwrap().1["status"], "InProgress");
        assert_eq!(f.poll("OP").unwrap().1["status"], "InProgress");
        let (_, done) = f.poll("op").unwrap();
        assert_eq!(done["status"], "Failed");
        assert_eq!(done["error"]["code"], "Boom");
        assert!(f.poll("other").is_none());
    }
}

//! Replays every `x-ms-examples` request of the ARM specs the emulator serves — subscriptions,
//! resources, deployments, locks and authorization, copied with their swaggers under
//! tests/spec-examples (see SOURCES.md there) — against the default world: the status must be one
//! the example lists and the response must have the example's shape (key paths). The per-example
//! plans (world ids, principal, prerequisites, justified exceptions, exclusions) live in
//! `spec_plans.rs`; this file also keeps the README's "Spec examples replayed" table true.

use crate::spec_plans::{Case, Plan, SPECS};
use crate::*;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

fn root() -> String {
    format!("{}/tests/spec-examples", env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One `x-ms-examples` entry of a swagger (or an unreferenced example file listed in EXTRA).
pub struct Op {
    pub method: String,
    pub template: String,
    /// Name of the operation's body parameter, if it has one.
    pub body: Option<String>,
    /// Example file stem (`RoleAssignments_Get`).
    pub example: String,
}

/// Example files in a spec folder that no operation references, with the operation they belong to.
const EXTRA: &[(&str, &str, &str, &str)] = &[
    // RoleDefinitions_GetById (`/{roleId}?disambiguation_dummy`) has no x-ms-examples in the
    // 2022-04-01 swagger, but upstream keeps its example next to the others.
    (
        "authorization/2022-04-01",
        "GetRoleDefinitionById",
        "GET",
        "/{roleId}",
    ),
    // A next-link page of PolicyStates_ListQueryResultsForManagementGroup that the swagger does not
    // reference; its parameters hold only the `$skiptoken`.
    (
        "policystates/2024-10-01",
        "PolicyStates_QueryManagementGroupScopeNextLinkSkipToken",
        "POST",
        "/providers/{managementGroupsNamespace}/managementGroups/{managementGroupName}/providers/Microsoft.PolicyInsights/policyStates/{policyStatesResource}/queryResults",
    ),
];

/// Every example of a spec folder: the x-ms-examples of its swaggers, then the EXTRA files.
pub fn ops(dir: &str, swaggers: &[&str]) -> Vec<Op> {
    let mut out = Vec::new();
    for file in swaggers {
        let s = read_json(&format!("{}/{dir}/{file}", root()));
        for (template, methods) in s["paths"].as_object().unwrap() {
            for (method, op) in methods.as_object().unwrap() {
                let Some(examples) = op.get("x-ms-examples").and_then(Value::as_object) else {
                    continue;
                };
                let body = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| match p["$ref"].as_str() {
                        Some(r) if r.starts_with("#/parameters/") => {
                            s["parameters"][&r["#/parameters/".len()..]].clone()
                        }
                        _ => p.clone(),
                    })
                    .find(|p| p["in"] == "body")
                    .and_then(|p| p["name"].as_str().map(str::to_string));
                for ex in examples.values() {
                    let r = ex["$ref"].as_str().unwrap();
                    let stem = r.rsplit('/').next().unwrap().trim_end_matches(".json");
                    out.push(Op {
                        method: method.to_uppercase(),
                        template: template.split('?').next().unwrap().to_string(),
                        body: body.clone(),
                        example: stem.to_string(),
                    });
                }
            }
        }
    }
    for (d, name, method, template) in EXTRA {
        if *d == dir {
            out.push(Op {
                method: method.to_string(),
                template: template.to_string(),
                body: None,
                example: name.to_string(),
            });
        }
    }
    out
}

/// Every key path of a JSON value (`a.b[].c`), arrays merged over their elements.
pub fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Replaces the example's made-up values inside string values (never keys).
fn substitute(v: &mut Value, subs: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (from, to) in subs {
                if s.contains(from.as_str()) {
                    *s = s.replace(from.as_str(), to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, subs)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, subs)),
        _ => {}
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The request of an example after the plan's mapping: method, path with query, body.
fn request(op: &Op, params: &Map<String, Value>) -> (String, Option<Value>) {
    let mut path = String::new();
    let mut used = BTreeSet::new();
    let mut rest = op.template.as_str();
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').unwrap();
        let name = &rest[open + 1..close];
        used.insert(name.to_string());
        let value = params.get(name).and_then(scalar).unwrap_or_default();
        path.push_str(value.trim_start_matches('/'));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    // An empty {parentResourcePath} (or a value that starts with '/') leaves a double slash.
    while path.contains("//") {
        path = path.replace("//", "/");
    }
    // The body parameter by the swagger's name, else (an example naming it otherwise, like
    // CheckResourceName's `body` for "Resource Name Definition") the one object-valued parameter.
    let body_name = op.body.as_ref().map(|b| {
        if params.contains_key(b) {
            b.clone()
        } else {
            params
                .iter()
                .find(|(k, v)| v.is_object() && !used.contains(*k))
                .map(|(k, _)| k.clone())
                .unwrap_or_default()
        }
    });
    let mut query = Vec::new();
    let mut body = None;
    for (k, v) in params {
        if used.contains(k) {
            continue;
        }
        if Some(k) == body_name.as_ref() {
            body = Some(v.clone());
        } else if let Some(s) = scalar(v) {
            query.push(format!("{k}={s}"));
        }
    }
    (format!("{path}?{}", query.join("&")), body)
}

async fn replay(
    e: &Emu,
    tokens: &mut BTreeMap<&'static str, String>,
    op: &Op,
    ex: &Value,
    case: &Case,
) -> Result<(), String> {
    let r = e.call("POST", "/_emulator/reset", None, None).await;
    assert_eq!(r.status, 200, "reset");
    if !tokens.contains_key(case.who) {
        tokens.insert(case.who, e.token(case.who).await);
    }
    let t = tokens[case.who].clone();
    for (m, p, b) in &case.setup {
        let r = e.call(m, p, Some(&t), b.clone()).await;
        if r.status >= 300 {
            return Err(format!("setup {m} {p}: {} {}", r.status, r.body));
        }
    }
    let mut params = ex["parameters"].clone();
    substitute(&mut params, &case.subs);
    let params = params.as_object_mut().unwrap();
    for (k, v) in &case.set {
        if v.is_null() {
            params.remove(*k);
        } else {
            params.insert(k.to_string(), v.clone());
        }
    }
    for (param, get, pointer) in &case.pick {
        let r = e.call("GET", get, Some(&t), None).await;
        let Some(v) = r.body.pointer(pointer).and_then(Value::as_str) else {
            return Err(format!(
                "pick {param} from GET {get}: {} {}",
                r.status, r.body
            ));
        };
        let last = v.rsplit('/').next().unwrap_or(v);
        params.insert(param.to_string(), Value::String(last.to_string()));
    }
    for (m, p, b) in &case.after {
        let mut path = p.clone();
        for (param, _, _) in &case.pick {
            let v = params[*param].as_str().unwrap_or_default();
            path = path.replace(&format!("{{{param}}}"), v);
        }
        let r = e.call(m, &path, Some(&t), b.clone()).await;
        if r.status >= 300 {
            return Err(format!("after {m} {path}: {} {}", r.status, r.body));
        }
    }
    let (path, body) = request(op, params);
    let r = e.call(&op.method, &path, Some(&t), body).await;
    let statuses: Vec<u16> = ex["responses"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|k| k.parse().ok())
        .collect();
    if !statuses.contains(&r.status) {
        return Err(format!(
            "{} {path}: status {} not in {statuses:?}: {}",
            op.method, r.status, r.body
        ));
    }
    let want = &ex["responses"][r.status.to_string()]["body"];
    let (mut expected, mut got) = (BTreeSet::new(), BTreeSet::new());
    paths(want, "", &mut expected);
    paths(&r.body, "", &mut got);
    // An exception is a key path, or a prefix ending in `*` (for keys the example makes up).
    let covers = |pat: &str, p: &str| match pat.strip_suffix('*') {
        Some(prefix) => p.starts_with(prefix),
        None => pat == p,
    };
    let missing_all: Vec<&String> = expected.difference(&got).collect();
    let missing: Vec<&&String> = missing_all
        .iter()
        .filter(|p| !case.missing_ok.iter().any(|(pat, _)| covers(pat, p)))
        .collect();
    let stale: Vec<&str> = case
        .missing_ok
        .iter()
        .map(|(pat, _)| *pat)
        .filter(|pat| !missing_all.iter().any(|p| covers(pat, p)))
        .collect();
    if !missing.is_empty() || !stale.is_empty() {
        return Err(format!(
            "{} {path} ({}): missing {missing:?}; exceptions no longer needed {stale:?}; got {}",
            op.method, r.status, r.body
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_arm_spec_example_replays_with_its_shape() {
    let e = emu().await;
    let mut tokens = BTreeMap::new();
    let mut problems = Vec::new();
    for spec in SPECS {
        for op in ops(spec.dir, spec.swaggers) {
            let name = format!("{}/{}", spec.dir, op.example);
            let file = format!("{}/{}/examples/{}.json", root(), spec.dir, op.example);
            match (spec.plan)(&op.example) {
                None => problems.push(format!("{name}: no plan (replay it or exclude it)")),
                Some(Plan::Excluded(_)) => {}
                Some(Plan::Replay(case)) => {
                    if !std::path::Path::new(&file).exists() {
                        problems.push(format!("{name}: example file missing"));
                        continue;
                    }
                    if let Err(p) = replay(&e, &mut tokens, &op, &read_json(&file), &case).await {
                        problems.push(format!("{name}: {p}"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n{} problems",
        problems.join("\n\n"),
        problems.len()
    );
}

/// The README's table, computed: per spec, the examples replayed (plans that are not exclusions;
/// the test above fails unless each of them replays) over all examples.
fn score_table() -> String {
    let mut t = String::from("| spec | api-version | replayed / total |\n|---|---|---|\n");
    let ms = crate::examples::ORDER.len();
    for v in ["2022-10-01", "2022-01-01-preview"] {
        let files = std::fs::read_dir(format!("{}/managedservices/{v}", root()))
            .unwrap()
            .count();
        t.push_str(&format!(
            "| Microsoft.ManagedServices | {v} | {ms} / {files} |\n"
        ));
    }
    for spec in SPECS {
        let all = ops(spec.dir, spec.swaggers);
        let replayed = all
            .iter()
            .filter(|op| matches!((spec.plan)(&op.example), Some(Plan::Replay(_))))
            .count();
        let version = spec.dir.rsplit('/').next().unwrap();
        t.push_str(&format!(
            "| {} | {version} | {replayed} / {} |\n",
            spec.title,
            all.len()
        ));
    }
    t
}

#[test]
fn readme_spec_example_score_is_true() {
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let table = score_table();
    assert!(
        readme.contains(&table),
        "README.md must carry this table under \"Spec examples replayed\":\n{table}"
    );
}

#[test]
fn every_example_file_is_referenced_or_listed() {
    for spec in SPECS {
        let known: BTreeSet<String> = ops(spec.dir, spec.swaggers)
            .into_iter()
            .map(|o| o.example)
            .collect();
        for f in std::fs::read_dir(format!("{}/{}/examples", root(), spec.dir)).unwrap() {
            let f = f.unwrap().file_name().into_string().unwrap();
            let stem = f.trim_end_matches(".json");
            assert!(
                known.contains(stem),
                "{}: {f} is neither referenced nor in EXTRA",
                spec.dir
            );
        }
    }
}

#[test]
fn every_exclusion_and_exception_gives_its_reason() {
    for spec in SPECS {
        for op in ops(spec.dir, spec.swaggers) {
            match (spec.plan)(&op.example) {
                Some(Plan::Excluded(why)) => {
                    assert!(why.len() > 20, "{}/{}: say why", spec.dir, op.example)
                }
                Some(Plan::Replay(case)) => {
                    for (path, why) in &case.missing_ok {
                        assert!(
                            why.len() > 20,
                            "{}/{}: say why {path} is missing",
                            spec.dir,
                            op.example
                        );
                    }
                }
                None => {}
            }
        }
    }
}

//! The harness around the pipeline (edge): every request the server reads passes through `serve`,
//! which applies fault rules (`faults`), ARM's throttling (`throttle`), answers the polls of the
//! operations a fault started, hands the rest to `dispatch::handle`, and counts the answer
//! (`metrics`). Also serves `/_emulator/faults`, `/_emulator/throttling` and `/_emulator/metrics`.
//! Never changes what the pipeline decides for a request no rule or bucket touches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::app::App;
use crate::arm::error::ArmError;
use crate::dispatch;
use crate::faults::{Effect, Facts, Faults, Operation, Rule};
use crate::metrics::{Gauges, Metrics};
use crate::throttle::{Kind, Mode, Remaining, Throttle};
use crate::wire::{Reply, Req};

const DECISION: &str = "x-ms-emulator-decision";
/// The path segment of the operations a fault started (polled by clients).
const FAULT_OPS: &str = "/providers/microsoft.resources/emulatorfaultoperations/";

/// Marks a response the server must not send: it closes the connection instead.
#[derive(Debug, Clone, Copy)]
pub struct Dropped;

/// The response `server` turns into a dropped connection.
pub fn dropped<B: Default>() -> hyper::Response<B> {
    let mut r = hyper::Response::new(B::default());
    r.extensions_mut().insert(Dropped);
    r
}

/// Throttling buckets, fault rules and metrics of one emulator (held by `App`).
#[derive(Debug)]
pub struct Ops {
    pub throttle: Throttle,
    pub faults: Arc<Faults>,
    /// In a sandbox: its id and the main world's rules, which reach its requests when they name it.
    pub upstream: std::sync::OnceLock<(String, Arc<Faults>)>,
    pub metrics: Metrics,
    epoch: Instant,
}

impl Default for Ops {
    fn default() -> Ops {
        Ops {
            throttle: Throttle::default(),
            faults: Arc::default(),
            upstream: Default::default(),
            metrics: Metrics::default(),
            epoch: Instant::now(),
        }
    }
}

impl Ops {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// What `POST /_emulator/reset` also clears: the fault rules and their operations, the buckets
    /// (and the command line's throttling mode). Metrics are counters and keep counting.
    pub fn reset(&self) {
        self.faults.clear();
        self.throttle.reset();
    }
}

/// Which surface a request addresses (the metrics' `surface` label).
pub fn surface(req: &Req) -> &'static str {
    match crate::hosts::hosted(&req.host) {
        Some(crate::hosts::Hosted::Local) | None => {}
        Some(_) => return "dataplane",
    }
    let p = req.path.as_str();
    let first = p.trim_start_matches('/').split('/').next().unwrap_or("");
    match first.to_ascii_lowercase().as_str() {
        "_emulator" => "admin",
        "metadata" => "metadata",
        "v1.0" | "beta" => "graph",
        "subscriptions" | "providers" | "tenants" | "" => "arm",
        _ if ["/oauth2/", "/.well-known/", "/discovery/", "/userrealm/"]
            .iter()
            .any(|m| p.to_ascii_lowercase().contains(m)) =>
        {
            "entra"
        }
        _ => "dataplane",
    }
}

/// The metrics' `decision` label of an answer.
fn decision_label(reply: &Reply) -> &'static str {
    match reply.get_header(DECISION) {
        Some(d) if d.starts_with("fault") => "fault",
        Some(d) if d.starts_with("throttled") => "throttled",
        Some(d) if d.starts_with("allowed") => "allowed",
        Some(d) if d.starts_with("denied") => "denied",
        _ if reply.status == 401 => "unauthenticated",
        _ => "none",
    }
}

fn bearer(req: &Req) -> Option<&str> {
    let h = req.header("authorization")?;
    let (scheme, tok) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim())
}

fn grant_label(req: &Req) -> &'static str {
    match req
        .form()
        .into_iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v)
        .as_deref()
    {
        Some("client_credentials") => "client_credentials",
        Some("password") => "password",
        Some("refresh_token") => "refresh_token",
        Some("authorization_code") => "authorization_code",
        Some("urn:ietf:params:oauth:grant-type:device_code") => "device_code",
        _ => "other",
    }
}

fn mark(reply: Reply, why: String) -> Reply {
    let mut reply = reply;
    reply.headers.retain(|(k, _)| k != DECISION);
    reply.header(DECISION, why)
}

fn request_ids(reply: Reply, req: &Req) -> Reply {
    let id = dispatch::fast_uuid();
    let correlation = req
        .header("x-ms-correlation-request-id")
        .map(str::to_string)
        .unwrap_or_else(|| id.clone());
    reply
        .header("x-ms-request-id", id)
        .header("x-ms-correlation-request-id", correlation)
}

/// Serve one request; `None` means: close the connection without an answer (an injected drop).
pub async fn serve(app: &App, req: &Req) -> Option<Reply> {
    let started = Instant::now();
    let ops = &app.ops;
    let surface = surface(req);
    let mut reply = if surface == "admin" {
        admin(app, req)
    } else {
        None
    };
    let mut injected: Option<(String, Effect)> = None;
    let mut remaining = None;
    let throttling = surface == "arm" && ops.throttle.on();
    if reply.is_none()
        && surface != "admin"
        && (throttling
            || !ops.faults.is_empty()
            || ops.upstream.get().is_some_and(|(_, f)| !f.is_empty()))
    {
        // The cache says whether the signature and times hold; the claims the rules match on (appid
        // too, which the cache does not keep) are then read from the token itself.
        let claims = bearer(req)
            .filter(|t| app.tokens.verify(&app.key, t, app.clock.unix()).is_ok())
            .and_then(crate::auth::token::decode_unverified::<crate::auth::token::AccessClaims>);
        let lower = req.path.to_ascii_lowercase();
        if let (Some(i), Some(_)) = (lower.find(FAULT_OPS), claims.as_ref()) {
            let id = &req.path[i + FAULT_OPS.len()..];
            if let Some((op, body)) = ops.faults.poll(id.trim_end_matches('/')) {
                let status = body["status"].as_str().unwrap_or_default().to_string();
                let mut r = Reply::json(200, &body);
                if status == "InProgress" {
                    r = r.header("retry-after", "1");
                }
                reply = Some(mark(
                    request_ids(r, req),
                    format!("fault injected; rule {} (lro): {status}", op.rule),
                ));
            }
        }
        if reply.is_none() {
            let facts = Facts {
                method: &req.method,
                path: &req.path,
                principal: claims.as_ref().map(|c| (c.oid.as_str(), c.appid.as_str())),
                sandbox: None,
            };
            injected = ops.faults.fire(&facts, rand::random::<f64>);
            if let (None, Some((sandbox, main))) = (&injected, ops.upstream.get()) {
                let facts = Facts {
                    sandbox: Some(sandbox),
                    ..facts
                };
                injected = main.fire(&facts, rand::random::<f64>);
            }
        }
        if let Some((rule, effect)) = &injected {
            ops.metrics.fault_injected(effect.kind());
            tracing::info!(
                method = req.method.as_str(),
                path = req.path.as_str(),
                rule = rule.as_str(),
                effect = effect.kind(),
                "fault injected"
            );
            match effect {
                Effect::Drop => {
                    ops.metrics.observe(
                        surface,
                        &req.method,
                        0,
                        "fault",
                        started.elapsed().as_secs_f64(),
                    );
                    return None;
                }
                Effect::Latency { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
                Effect::Error {
                    status,
                    code,
                    message,
                } => {
                    let e = ArmError::new(code, message.clone()).with_status(*status);
                    reply = Some(mark(
                        request_ids(dispatch::error_reply(&e), req),
                        format!("fault injected; rule {rule} (error {status} {code})"),
                    ));
                }
                Effect::Lro { .. } => {}
            }
        }
        if reply.is_none() && throttling {
            if let Some(c) = claims.as_ref() {
                let sub = {
                    let mut segs = req.path.split('/').filter(|s| !s.is_empty());
                    match (segs.next(), segs.next()) {
                        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => Some(id),
                        _ => None,
                    }
                };
                let kind = Kind::of(&req.method);
                match ops.throttle.take(kind, sub, &c.tid, &c.oid, ops.now()) {
                    Ok(r) => remaining = Some((kind, r)),
                    Err(t) => {
                        ops.metrics.throttled(t.code);
                        let e = ArmError::new(t.code, t.message.clone()).with_status(429);
                        let r = request_ids(dispatch::error_reply(&e), req)
                            .header("retry-after", t.retry_after.to_string());
                        let r = rate_headers(r, kind, &t.remaining);
                        tracing::info!(
                            method = req.method.as_str(),
                            path = req.path.as_str(),
                            caller = c.oid.as_str(),
                            code = t.code,
                            retry_after = t.retry_after,
                            "throttled"
                        );
                        reply = Some(mark(r, format!("throttled; {}", t.message)));
                    }
                }
            }
        }
    }
    let mut reply = match reply {
        Some(r) => r,
        None => {
            let lro = match &injected {
                Some((
                    rule,
                    Effect::Lro {
                        polls,
                        fail,
                        code,
                        message,
                    },
                )) if req.method != "GET" && req.method != "HEAD" => {
                    Some((rule.clone(), *polls, *fail, code.clone(), message.clone()))
                }
                _ => None,
            };
            match lro {
                Some((rule, polls, true, code, message)) => {
                    start_lro(app, req, &rule, polls, Some((code, message)), None)
                }
                Some((rule, polls, false, _, _)) => {
                    let real = dispatch::handle(app, req);
                    if (200..300).contains(&real.status) {
                        start_lro(app, req, &rule, polls, None, Some(real))
                    } else {
                        real
                    }
                }
                None => {
                    let r = dispatch::handle(app, req);
                    match &injected {
                        // not on an allowed data-plane answer: azure-storage-blob reads every header
                        // containing "or-" as an object-replication status (the log line says it)
                        Some((rule, Effect::Latency { ms })) if surface != "dataplane" => {
                            let why = r.get_header(DECISION).unwrap_or_default().to_string();
                            mark(
                                r,
                                format!("fault injected; rule {rule} (latency {ms} ms); {why}"),
                            )
                        }
                        _ => r,
                    }
                }
            }
        }
    };
    if let Some((kind, r)) = &remaining {
        reply = rate_headers(reply, *kind, r);
    }
    if surface == "admin"
        && req.method == "POST"
        && reply.status == 200
        && req
            .path
            .trim_end_matches('/')
            .eq_ignore_ascii_case("/_emulator/reset")
    {
        ops.reset();
    }
    if reply.status == 200 {
        let lower = req.path.to_ascii_lowercase();
        if surface == "entra" && lower.ends_with("/token") && req.method == "POST" {
            ops.metrics.token_issued(grant_label(req));
        } else if surface == "admin" && lower.trim_end_matches('/') == "/_emulator/token" {
            ops.metrics.token_issued("emulator");
        }
    }
    ops.metrics.observe(
        surface,
        &req.method,
        reply.status,
        decision_label(&reply),
        started.elapsed().as_secs_f64(),
    );
    Some(reply)
}

/// Replace the constant rate-limit headers with the buckets' counts.
fn rate_headers(mut r: Reply, kind: Kind, remaining: &Remaining) -> Reply {
    r.headers
        .retain(|(k, _)| !k.starts_with("x-ms-ratelimit-remaining-"));
    let k = kind.name();
    match remaining {
        Remaining::Subscription { principal, global } => r
            .header(
                format!("x-ms-ratelimit-remaining-subscription-{k}"),
                principal.to_string(),
            )
            .header(
                format!("x-ms-ratelimit-remaining-subscription-global-{k}"),
                global.to_string(),
            ),
        Remaining::Tenant(n) => r.header(
            format!("x-ms-ratelimit-remaining-tenant-{k}"),
            n.to_string(),
        ),
    }
}

/// Answer a write as a long-running operation that the fault's rule drives: 201 (PUT, with the
/// real body when the request ran) or 202, `Azure-AsyncOperation` (and `Location`) at an operation
/// the fault tracks, polled `polls` times InProgress before it ends.
fn start_lro(
    app: &App,
    req: &Req,
    rule: &str,
    polls: u32,
    fail: Option<(String, String)>,
    real: Option<Reply>,
) -> Reply {
    let id = dispatch::fast_uuid();
    let base = crate::wire::base_url(req);
    let sub = {
        let mut segs = req.path.split('/').filter(|s| !s.is_empty());
        match (segs.next(), segs.next()) {
            (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => {
                format!("/subscriptions/{id}")
            }
            _ => String::new(),
        }
    };
    let url = format!(
        "{base}{sub}/providers/Microsoft.Resources/emulatorFaultOperations/{id}?api-version=2020-01-01"
    );
    let failing = fail.is_some();
    app.ops.faults.start_operation(
        id,
        Operation {
            rule: rule.to_string(),
            polls_left: polls,
            fail,
            started: crate::clock::arm_time(app.clock.now()),
        },
    );
    let put = req.method == "PUT";
    let mut r = match real {
        Some(mut real) => {
            real.status = if put { 201 } else { 202 };
            real
        }
        None if put => {
            let name = req
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let mut body = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            body["id"] = json!(req.path);
            body["name"] = json!(name);
            if !body["properties"].is_object() {
                body["properties"] = json!({});
            }
            body["properties"]["provisioningState"] = json!("Accepted");
            request_ids(Reply::json(201, &body), req)
        }
        None => request_ids(Reply::empty(202), req),
    };
    r.headers.retain(|(k, _)| {
        !["azure-asyncoperation", "location", "retry-after"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
    });
    r = r
        .header("azure-asyncoperation", url.clone())
        .header("retry-after", "1");
    if !put {
        r = r.header("location", url);
    }
    mark(
        r,
        format!(
            "fault injected; rule {rule} (lro, {polls} polls InProgress, then {})",
            if failing { "Failed" } else { "Succeeded" }
        ),
    )
}

fn admin_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// `/_emulator/faults`, `/_emulator/throttling`, `/_emulator/metrics`; `None` for other paths.
fn admin(app: &App, req: &Req) -> Option<Reply> {
    let path = req.path.trim_end_matches('/').to_ascii_lowercase();
    let ours = path == "/_emulator/metrics"
        || path == "/_emulator/throttling"
        || path == "/_emulator/faults"
        || path.starts_with("/_emulator/faults/");
    if !ours {
        return None;
    }
    if let Some(key) = &app.config.admin_key {
        if req.header("x-emulator-admin-key") != Some(key.as_str()) {
            return Some(admin_error(
                401,
                "AdminKeyRequired",
                "This emulator listens beyond loopback: admin endpoints need the header 'x-emulator-admin-key' with the key given by --admin-key.",
            ));
        }
    }
    let ops = &app.ops;
    let body = || -> Result<Value, Reply> {
        if req.body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&req.body).map_err(|e| {
            admin_error(
                400,
                "InvalidRequestContent",
                &format!("The body is not JSON: {e}"),
            )
        })
    };
    Some(match (req.method.as_str(), path.as_str()) {
        ("GET", "/_emulator/metrics") => {
            let g = Gauges {
                store_resources: app.store.read(|tx| tx.count()).unwrap_or(-1),
                sandboxes: app.sandboxes.get().map_or(0, |s| s.len() as u64),
                resident_bytes: crate::metrics::resident_bytes(),
                fault_rules: ops.faults.list()["value"]
                    .as_array()
                    .map_or(0, |a| a.len() as u64),
                throttling: ops.throttle.on(),
            };
            Reply::text(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                ops.metrics.render(&g),
            )
        }
        ("GET", "/_emulator/faults") => Reply::json(200, &ops.faults.list()),
        ("POST", "/_emulator/faults") => match body() {
            Err(r) => r,
            Ok(b) => match Rule::parse(dispatch::fast_uuid(), &b) {
                Ok(rule) => Reply::json(201, &ops.faults.add(rule)),
                Err(e) => admin_error(400, "InvalidFaultRule", &e.0),
            },
        },
        ("DELETE", "/_emulator/faults") => {
            ops.faults.clear();
            Reply::empty(204)
        }
        ("DELETE", p) if p.starts_with("/_emulator/faults/") => {
            let id = &req.path.trim_end_matches('/')["/_emulator/faults/".len()..];
            if ops.faults.remove(id) {
                Reply::empty(204)
            } else {
                admin_error(404, "FaultRuleNotFound", &format!("No fault rule '{id}'."))
            }
        }
        ("GET", "/_emulator/throttling") => Reply::json(200, &throttling_state(ops)),
        ("POST", "/_emulator/throttling") => match body() {
            Err(r) => r,
            Ok(b) => {
                match b.get("mode").map(|m| m.as_str()) {
                    None => {}
                    Some(Some("arm")) => ops.throttle.set_mode(Mode::Arm),
                    Some(Some("off")) => ops.throttle.set_mode(Mode::Off),
                    Some(_) => {
                        return Some(admin_error(
                            400,
                            "InvalidRequestContent",
                            "'mode' must be 'arm' or 'off'.",
                        ))
                    }
                }
                match b.get("refill") {
                    None => {}
                    Some(Value::Bool(on)) => ops.throttle.set_refill(*on, ops.now()),
                    Some(_) => {
                        return Some(admin_error(
                            400,
                            "InvalidRequestContent",
                            "'refill' must be true or false.",
                        ))
                    }
                }
                Reply::json(200, &throttling_state(ops))
            }
        },
        _ => admin_error(
            405,
            "MethodNotAllowed",
            &format!("{} is not supported on {}.", req.method, req.path),
        ),
    })
}

fn throttling_state(ops: &Ops) -> Value {
    json!({
        "mode": if ops.throttle.mode() == Mode::Arm { "arm" } else { "off" },
        "refill": !ops.throttle.refill_paused(),
    })
}

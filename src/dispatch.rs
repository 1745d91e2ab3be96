//! The one request path: identity and admin surfaces first, then for ARM: parse the resource id and
//! route → authenticate the token (`authn`) → check the api-version and body → collect the caller's
//! standing and access facts → decide → run the provider's handler against the store → record the
//! activity log → respond with ARM's headers; `arm_as`, `run_as` and subrequests re-enter it. State
//! lives in `app`, the decision's description in `explain`. Never spawns tasks; never panics on input.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::app::{App, AuthzMode};
use crate::arm::api_version;
use crate::arm::error::ArmError;
use crate::arm::resource_id::{is_guid, ResourceId};
use crate::arm::route::Route;
use crate::authn::{arm_audiences, authenticate};
use crate::authz::{self, Decision, MethodKind, Path, Subject};
use crate::explain::{decision_scope, deny_scope, describe};
use crate::facts::{Snapshot, FACT_TYPES};
use crate::providers::subscriptions::{can_see, can_see_scope, standing, Standing};
use crate::providers::{self, Caller, Cx};
use crate::store::Store;
use crate::wire::{base_url, Reply, Req};

thread_local! {
    /// How many pipeline handlers are running on this thread (nested requests run inside their outer one).
    static GATE_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One level of `GATE_DEPTH`, left when dropped (also on an early return).
struct GateDepth;

impl GateDepth {
    fn enter() -> GateDepth {
        GATE_DEPTH.with(|d| d.set(d.get() + 1));
        GateDepth
    }
}

impl Drop for GateDepth {
    fn drop(&mut self) {
        GATE_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Which side of `App::write_gate` a request holds while its handler runs.
enum Gate<'a> {
    Exclusive(#[allow(dead_code)] std::sync::RwLockWriteGuard<'a, ()>),
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'a, ()>),
    None,
}

/// Handle one request from any surface. Never panics on input; adds ARM's standard headers.
pub fn handle(app: &App, req: &Req) -> Reply {
    if app.retired.load(std::sync::atomic::Ordering::Relaxed) {
        return crate::sandboxes::retired_reply();
    }
    let started = Instant::now();
    let request_id = fast_uuid();
    let correlation = req
        .header("x-ms-correlation-request-id")
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let base = base_url(req);
    let first = req
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut audit = Audit {
        correlation: correlation.clone(),
        ..Default::default()
    };
    if let Err(e) = app.delete_expired_subscriptions() {
        tracing::error!(error = %e.0, "deleting subscriptions after their retention failed");
    }
    // host-style data plane ({account}.blob.core.windows.net, {vault}.vault.azure.net, reached
    // through the CONNECT tunnel): the host names the resource, whatever the path
    if !req.host.starts_with("localhost") {
        if let Some(h) = crate::hosts::hosted(&req.host) {
            let snap = app.snapshot();
            let host_base = ["https://", &crate::hosts::host_only(&req.host)].concat();
            let login_base = format!("https://localhost:{}", req.port);
            let dcx = crate::dataplane::DataCx {
                store: &app.store,
                snap: &snap,
                key: &app.key,
                now: app.clock.now(),
                base_url: &host_base,
                login_base: &login_base,
                host_style: true,
                request_id: &request_id,
                authz: app.config.authz,
            };
            if let Some(r) = crate::dataplane::handle_hosted(&dcx, req, &h) {
                return finish(req, r, "_host", &request_id, &correlation, started, &audit);
            }
        }
    }
    let reply = match first.as_str() {
        "_emulator" => crate::admin::handle(app, req),
        "metadata"
            if req
                .path
                .trim_end_matches('/')
                .eq_ignore_ascii_case("/metadata/endpoints") =>
        {
            providers::metadata::metadata_endpoints(req, &base).unwrap_or_else(|e| error_reply(&e))
        }
        "v1.0" | "beta" => graph(app, req, &base, &request_id, &mut audit),
        "subscriptions" | "providers" | "tenants" | "" => arm(app, req, &base, &mut audit),
        _ => {
            let snap = app.snapshot();
            // the data plane: /{storage account}/… and /{vault}/secrets/… of accounts and vaults in the store
            let dcx = crate::dataplane::DataCx {
                store: &app.store,
                snap: &snap,
                key: &app.key,
                now: app.clock.now(),
                base_url: &base,
                login_base: &base,
                host_style: false,
                request_id: &request_id,
                authz: app.config.authz,
            };
            if let Some(r) = crate::dataplane::handle(&dcx, req) {
                return finish(req, r, &first, &request_id, &correlation, started, &audit);
            }
            let ts = crate::auth::endpoints::TokenService {
                dir: &snap.dir,
                key: &app.key,
                now: app.clock.unix(),
                lifetime_secs: app.config.token_lifetime,
                base_url: &base,
            };
            crate::auth::endpoints::handle(req, &ts).unwrap_or_else(|| {
                error_reply(&ArmError::not_found(format!(
                    "The requested path '{}' was not found.",
                    req.path
                )))
            })
        }
    };
    finish(
        req,
        reply,
        &first,
        &request_id,
        &correlation,
        started,
        &audit,
    )
}

/// Standard headers and the request log line.
fn finish(
    req: &Req,
    reply: Reply,
    first: &str,
    request_id: &str,
    correlation: &str,
    started: Instant,
    audit: &Audit,
) -> Reply {
    let reply = standard_headers(req, reply, first, request_id, correlation);
    let decision = if audit.decision.is_empty() {
        reply.get_header(DECISION).unwrap_or_default()
    } else {
        audit.decision.as_str()
    };
    tracing::info!(
        method = req.method.as_str(),
        path = req.path.as_str(),
        caller = audit.caller.as_str(),
        decision = decision,
        status = reply.status,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    reply
}

/// A random (v4) GUID from the thread's CSPRNG: `Uuid::new_v4` makes a getrandom system call per id.
pub fn fast_uuid() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

pub fn error_reply(e: &ArmError) -> Reply {
    let mut r = Reply::json(e.status, &e.body());
    for (k, v) in &e.headers {
        r = r.header(*k, v.clone());
    }
    if e.status == 401
        || e.code == "InvalidApiVersionParameter"
        || e.code == "MissingApiVersionParameter"
    {
        r = r.header("x-ms-failure-cause", "gateway");
    }
    r
}

fn standard_headers(
    req: &Req,
    mut r: Reply,
    first: &str,
    request_id: &str,
    correlation: &str,
) -> Reply {
    if !matches!(
        first,
        "subscriptions" | "providers" | "tenants" | "metadata" | ""
    ) {
        if r.get_header("x-ms-request-id").is_some() {
            return r; // the data plane sets its own
        }
        return r.header("x-ms-request-id", request_id.to_string());
    }
    let mut routing = String::with_capacity(60);
    routing.push_str("LOCAL:");
    crate::clock::push_compact_utc(&mut routing, time::OffsetDateTime::now_utc());
    routing.push(':');
    routing.push_str(request_id);
    // ARM's throttling headers: what remains of the subscription's hourly budget for this kind of call.
    let (kind, principal, remaining, global) = match req.method.as_str() {
        "GET" | "HEAD" => (
            "x-ms-ratelimit-remaining-subscription-reads",
            "249",
            "x-ms-ratelimit-remaining-subscription-global-reads",
            "3749",
        ),
        "DELETE" => (
            "x-ms-ratelimit-remaining-subscription-deletes",
            "199",
            "x-ms-ratelimit-remaining-subscription-global-deletes",
            "2999",
        ),
        _ => (
            "x-ms-ratelimit-remaining-subscription-writes",
            "199",
            "x-ms-ratelimit-remaining-subscription-global-writes",
            "2999",
        ),
    };
    // names known to be lower-case: pushed as they are (Reply::header would check each)
    r.headers.extend([
        ("x-ms-request-id".into(), request_id.to_string().into()),
        (
            "x-ms-correlation-request-id".into(),
            correlation.to_string().into(),
        ),
        ("x-ms-routing-request-id".into(), routing.into()),
        ("cache-control".into(), "no-cache".into()),
        ("pragma".into(), "no-cache".into()),
        ("expires".into(), "-1".into()),
        (
            "strict-transport-security".into(),
            "max-age=31536000; includeSubDomains".into(),
        ),
        ("x-content-type-options".into(), "nosniff".into()),
        (kind.into(), principal.into()),
        (remaining.into(), global.into()),
    ]);
    if let Some(c) = req.header("x-ms-client-request-id") {
        r = r.header("x-ms-client-request-id", c.to_string());
    }
    r
}

/// Microsoft Graph (`/v1.0`, `/beta`): a Graph token of the caller's tenant, then `graph::handle`.
fn graph(app: &App, req: &Req, base: &str, request_id: &str, audit: &mut Audit) -> Reply {
    let snap = app.snapshot();
    let mut audiences = vec![format!("{base}/")];
    audiences.extend(crate::graph::GRAPH_AUDIENCES.iter().map(|a| a.to_string()));
    let now = app.clock.now();
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let caller = match authenticate(
        &app.tokens,
        &app.key,
        app.clock.unix(),
        &snap,
        req,
        base,
        &audiences,
    ) {
        Ok(c) => c,
        Err(e) => {
            // Graph's wording for the same failures (its 401s carry no ARM codes)
            let message = match e.code.as_str() {
                "AuthenticationFailed" if req.header("authorization").is_none() => {
                    "Access token is empty."
                }
                "ExpiredAuthenticationToken" => "Lifetime validation failed, the token is expired.",
                "InvalidAuthenticationTokenAudience" => {
                    "Access token validation failure. Invalid audience."
                }
                _ => "Access token validation failure.",
            };
            return crate::graph::error(
                401,
                "InvalidAuthenticationToken",
                message,
                req,
                request_id,
                &date,
            );
        }
    };
    audit.caller = caller.client_name.clone();
    let cx = crate::graph::GraphCx {
        dir: &snap.dir,
        tenant: &caller.tenant_id,
        caller: &caller.object_id,
        base,
        request_id,
        date: &date,
    };
    crate::graph::handle(&cx, req)
}

/// What the pipeline learned about a request, for the request log and the activity log.
#[derive(Debug, Default)]
pub struct Audit {
    pub caller: String,
    pub decision: String,
    pub action: String,
    pub write: bool,
    pub grant: Option<authz::Grant>,
    pub correlation: String,
    /// For a PUT/DELETE of a registration assignment: its definition's managing tenant, read before
    /// the request ran (the activity log's tenant-level delegation event goes to that tenant).
    pub managed_by_tenant: Option<String>,
}

fn arm(app: &App, req: &Req, base: &str, audit: &mut Audit) -> Reply {
    let snap = app.snapshot();
    let id = match ResourceId::parse(&req.path) {
        Ok(id) => id,
        Err(e) => {
            return error_reply(&ArmError::new(
                "InvalidResourceId",
                format!("The resource id '{}' is not valid: {}.", req.path, e.0),
            ))
        }
    };
    // The tenant a challenge points clients at: the subscription's home tenant when we know it.
    let sub = id
        .subscription
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| snap.dir.subscription(s));
    let authority = match sub {
        Some(s) => [base, "/", &s.tenant_id].concat(),
        None => base.to_string(),
    };
    let caller = match authenticate(
        &app.tokens,
        &app.key,
        app.clock.unix(),
        &snap,
        req,
        &authority,
        &arm_audiences(base),
    ) {
        Ok(c) => c,
        Err(e) => return error_reply(&e),
    };
    audit.caller = caller.client_name.clone();
    // Read before the request runs: a DELETE of a registration assignment leaves nothing to read after.
    audit.managed_by_tenant =
        crate::activity::delegation_tenant(&app.store, &req.method, &id, &req.body);
    let reply = match arm_authenticated(app, &snap, req, base, &id, &caller, audit) {
        Ok(r) => r,
        Err(e) => {
            // a handler that refuses says why, and the log line says the same
            if let Some((_, why)) = e.headers.iter().find(|(k, _)| *k == DECISION) {
                audit.decision = why.clone();
            }
            error_reply(&e)
        }
    };
    record_activity(app, req, base, &id, &caller, audit, &reply);
    reply
}

/// Write the activity-log events of a finished write, delete or action on a subscription scope.
fn record_activity(
    app: &App,
    req: &Req,
    base: &str,
    id: &ResourceId,
    caller: &Caller,
    audit: &Audit,
    reply: &Reply,
) {
    // reads write no activity record (ARM logs writes, deletes and actions only)
    if caller.platform || !audit.write {
        return;
    }
    let snap = app.snapshot();
    let sub = id
        .subscription
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| snap.dir.subscription(s));
    // a write at or below a management group goes to its tenant's tenant-level log
    let group_tenant = id
        .management_group()
        .and_then(|g| snap.groups.group(g))
        .map(|g| g.tenant_id.clone())
        .or_else(|| id.management_group().map(|_| caller.tenant_id.clone()));
    if audit.write && reply.status != 401 && sub.is_none() {
        if let Some(tenant) = group_tenant {
            let error = (reply.status >= 400)
                .then(|| serde_json::from_slice::<Value>(&reply.body).ok())
                .flatten();
            let uri = format!("{base}{}", req.path);
            let canonical = id.canonical();
            let log = crate::activity::tenant_log_key(&tenant);
            let record = crate::activity::Record {
                caller,
                method: &req.method,
                action: &audit.action,
                resource_id: &canonical,
                subscription_id: &log,
                subscription_tenant: &tenant,
                resource_group: None,
                status: reply.status,
                error: error.as_ref(),
                correlation_id: &audit.correlation,
                client_request_id: req.header("x-ms-client-request-id"),
                grant: audit.grant.as_ref(),
                now: app.clock.now(),
                uri: &uri,
                managed_by_tenant: None,
            };
            if let Err(e) = crate::activity::record(&app.store, &record) {
                tracing::error!(error = %e, "activity log write failed");
            }
        }
    }
    if audit.write && reply.status != 401 {
        if let Some(sub) = sub {
            let error = (reply.status >= 400)
                .then(|| serde_json::from_slice::<Value>(&reply.body).ok())
                .flatten();
            let uri = if req.raw_query.is_empty() {
                format!("{base}{}", req.path)
            } else {
                format!("{base}{}?{}", req.path, req.raw_query)
            };
            let canonical = id.canonical();
            let record = crate::activity::Record {
                caller,
                method: &req.method,
                action: &audit.action,
                resource_id: &canonical,
                subscription_id: &sub.subscription_id.to_lowercase(),
                subscription_tenant: &sub.tenant_id,
                resource_group: id.resource_group.as_deref().filter(|r| !r.is_empty()),
                status: reply.status,
                error: error.as_ref(),
                correlation_id: &audit.correlation,
                client_request_id: req.header("x-ms-client-request-id"),
                grant: audit.grant.as_ref(),
                now: app.clock.now(),
                uri: &uri,
                managed_by_tenant: audit.managed_by_tenant.as_deref(),
            };
            if let Err(e) = crate::activity::record(&app.store, &record) {
                tracing::error!(error = %e, "activity log write failed");
            }
        }
    }
}

/// Run an ARM request as `caller` (the platform for world replay).
pub fn arm_as(app: &App, req: &Req, caller: &Caller, base: &str) -> Reply {
    let snap = app.snapshot();
    let id = match ResourceId::parse(&req.path) {
        Ok(id) => id,
        Err(e) => return error_reply(&ArmError::bad_request(e.0)),
    };
    let mut audit = Audit::default();
    match arm_authenticated(app, &snap, req, base, &id, caller, &mut audit) {
        Ok(r) => r,
        Err(e) => error_reply(&e),
    }
}

/// Run another ARM request through the whole pipeline as the same caller (template deployments put each
/// of their resources this way, so they get the same authorization, validation and activity log).
fn subrequest(
    app: &App,
    parent: &Req,
    base: &str,
    caller: &Caller,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> Reply {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers: Vec<(String, String)> =
        vec![("content-type".into(), "application/json".into())];
    if let Some(c) = parent.header("x-ms-correlation-request-id") {
        headers.push(("x-ms-correlation-request-id".into(), c.to_string()));
    }
    let req = Req {
        method: method.to_ascii_uppercase(),
        path: percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .into_owned(),
        raw_query: query.to_string(),
        query: Req::parse_query(query),
        headers,
        body: body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default(),
        host: parent.host.clone(),
        port: parent.port,
    };
    let snap = app.snapshot();
    let id = match ResourceId::parse(&req.path) {
        Ok(id) => id,
        Err(e) => {
            return error_reply(&ArmError::new(
                "InvalidResourceId",
                format!("The resource id '{}' is not valid: {}.", req.path, e.0),
            ))
        }
    };
    let mut audit = Audit {
        correlation: parent
            .header("x-ms-correlation-request-id")
            .unwrap_or_default()
            .to_string(),
        ..Default::default()
    };
    audit.managed_by_tenant =
        crate::activity::delegation_tenant(&app.store, &req.method, &id, &req.body);
    let reply = match arm_authenticated(app, &snap, &req, base, &id, caller, &mut audit) {
        Ok(r) => r,
        Err(e) => error_reply(&e),
    };
    record_activity(app, &req, base, &id, caller, &audit, &reply);
    reply
}

/// Run an ARM request through the whole pipeline as a managed identity (a service principal of
/// kind ManagedIdentity in `tenant_id`): a policy assignment's `deployIfNotExists` deployment and
/// remediation. Its own role assignments decide; it never bypasses the pipeline (ARM-FACTS: "Deployments,
/// policy remediation and alert actions re-enter that path as their principal").
pub fn run_as(
    app: &App,
    object_id: &str,
    tenant_id: &str,
    base: &str,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> Reply {
    let caller = Caller {
        object_id: object_id.to_lowercase(),
        tenant_id: tenant_id.to_lowercase(),
        groups: Vec::new(),
        client_name: object_id.to_lowercase(),
        identity_type: "ManagedIdentity",
        claims: crate::auth::token::Claims::Built(Arc::new(
            json!({"oid": object_id, "tid": tenant_id, "idtyp": "app", "appid": object_id}),
        )),
        platform: false,
    };
    let hostport = base.split("://").nth(1).unwrap_or(base);
    let port = hostport
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(443);
    let parent = Req {
        host: hostport.to_string(),
        port,
        ..Default::default()
    };
    subrequest(app, &parent, base, &caller, method, path_and_query, body)
}

fn arm_authenticated(
    app: &App,
    snap: &Snapshot,
    req: &Req,
    base: &str,
    id: &ResourceId,
    caller: &Caller,
    audit: &mut Audit,
) -> Result<Reply, ArmError> {
    let route = Route::parse(&req.method, id)?;
    audit.write = route.is_write();
    audit.action = route.action(&req.method, id);
    let api = api_version::check(route.family(id), req.query("api-version"))?;

    // Body: JSON object for writes; size limit; media type.
    let body: Option<Value> =
        if matches!(req.method.as_str(), "PUT" | "PATCH" | "POST") && !req.body.is_empty() {
            if req.body.len() > app.config.max_body {
                return Err(ArmError::request_entity_too_large(app.config.max_body));
            }
            if let Some(ct) = req.header("content-type") {
                let ct_l = ct.to_ascii_lowercase();
                if !ct_l.contains("json") && !ct_l.starts_with("text/plain") {
                    return Err(ArmError::unsupported_media_type(ct));
                }
            }
            // ARM reads bodies with Newtonsoft, which takes unquoted property names and comments.
            match crate::wire::read_json_body(&req.body) {
                Ok(v) => Some(v),
                Err(e) => return Err(ArmError::invalid_request_content(&e.to_string())),
            }
        } else {
            None
        };
    if let Some(b) = body.as_ref().filter(|_| route.is_write()) {
        crate::arm::tags::check(b)?;
    }

    // Subscription: well-formed, existing, and reachable from the caller's tenant.
    let mut path = Path::Customer;
    let mut the_sub = None;
    if let Some(s) = id.subscription.as_deref().filter(|s| !s.is_empty()) {
        if !is_guid(s) {
            return Err(ArmError::invalid_subscription_id(s));
        }
        let sub = snap
            .dir
            .subscription(s)
            .ok_or_else(|| ArmError::subscription_not_found(s))?;
        the_sub = Some(sub);
        // The caller that started a long-running operation may poll it even if it just removed its own
        // standing (a provider deleting its delegation); the handler checks who started it.
        let polling = matches!(
            route,
            Route::OperationStatusesGet | Route::OperationResultsGet
        );
        match standing(snap, caller, sub) {
            Standing::Home => {}
            Standing::Delegated => path = Path::Delegated,
            Standing::None if polling => {}
            Standing::None => {
                return Err(ArmError::invalid_authentication_token_tenant(
                    base,
                    &caller.tenant_id,
                    &sub.tenant_id,
                ))
            }
        }
        if route == Route::SubscriptionsGet
            && !caller.platform
            && app.config.authz == AuthzMode::Enforce
            && !can_see(snap, caller, sub)
        {
            return Err(ArmError::authorization_failed(
                &caller.client_name,
                &caller.object_id,
                "Microsoft.Resources/subscriptions/read",
                &format!("/subscriptions/{}", s.to_lowercase()),
            ));
        }
    }

    // Management groups: never through a delegation, never another tenant's.
    providers::managementgroups::reachable(snap, caller, id)?;

    // Decide.
    let action = route.action(&req.method, id);
    let scope_id = decision_scope(&route, id);
    let scope_display = scope_id.canonical();
    let scope_key = scope_display.to_lowercase();
    // (the policy catalogue's POST lists read too; a management group's reads are decided)
    let tenant_level_read = id.subscription.is_none()
        && id.management_group().is_none()
        && (req.method == "GET" || matches!(route, Route::Policy(op) if !op.is_write()));
    let needs_decision = !caller.platform
        && !route.is_self_scoped()
        && route != Route::SubscriptionsGet
        && !tenant_level_read
        && route != Route::PermissionsListForScope;
    let mut decision_header = String::new();
    let mut filtered = false;
    if needs_decision {
        let subject = Subject {
            object_id: &caller.object_id,
            groups: &caller.groups,
        };
        let decision = authz::decide(
            &subject,
            &action,
            false,
            &scope_key,
            path,
            &snap.access,
            app.clock.unix(),
        );
        decision_header = describe(&decision);
        audit.decision = decision_header.clone();
        if let Decision::Allowed(g) = &decision {
            audit.grant = Some(g.clone());
        }
        // A caller with a role somewhere in the subscription (a resource group, say) may read the
        // subscription's metadata, and its lists of groups and resources show what it may read.
        let partial = !decision.is_allowed()
            && app.config.authz == AuthzMode::Enforce
            && matches!(decision, Decision::NoGrant)
            && (route.is_subscription_metadata() || route.is_rbac_filtered_list())
            && the_sub.is_some_and(|sub| can_see_scope(snap, caller, sub, &scope_key));
        if partial {
            if route.is_rbac_filtered_list() {
                filtered = true;
                decision_header = "allowed; the list shows only what the caller may read".into();
            } else {
                decision_header =
                    "allowed; subscription metadata, readable with any role in the subscription"
                        .into();
            }
            audit.decision = decision_header.clone();
        } else if !decision.is_allowed() && app.config.authz != AuthzMode::Off {
            if app.config.authz == AuthzMode::Log {
                tracing::warn!(caller = %caller.client_name, action = %action, scope = %scope_display, "authz=log: enforce would refuse");
            } else {
                return Err(match decision {
                    Decision::Denied(d) => ArmError::deny_assignment_authorization_failed(
                        &caller.client_name,
                        &caller.object_id,
                        &action,
                        &scope_display,
                        &d.name,
                        d.id.rsplit('/').next().unwrap_or_default(),
                        deny_scope(&d),
                    ),
                    _ => ArmError::authorization_failed(
                        &caller.client_name,
                        &caller.object_id,
                        &action,
                        &scope_display,
                    ),
                }
                .with_header(DECISION, decision_header));
            }
        }
        // Locks stop the customer's own principals, never a delegated caller (ARM-FACTS §6.4).
        let kind = if route.is_write() {
            MethodKind::of_method(&req.method)
        } else {
            MethodKind::Read
        };
        if path == Path::Delegated {
            for l in authz::locks_in_the_way(&snap.locks, kind, &scope_key, &action) {
                decision_header.push_str(&format!(
                    "; lock '{}' on {} bypassed (delegated caller)",
                    l.name, l.scope_display
                ));
            }
        }
        authz::refuse_if_locked(&snap.locks, kind, &scope_key, &scope_display, path, &action)
            .map_err(|e| {
                let why = format!("denied; {}", e.message);
                e.with_header(DECISION, why)
            })?;
    }

    // A cancelled subscription is read-only until an Owner enables it again (its own cancel and
    // enable excepted).
    if let Some(sub) = the_sub {
        if route.is_write()
            && !matches!(route, Route::SubscriptionEnable | Route::SubscriptionCancel)
            && providers::lifecycle::refuses_writes(sub)
        {
            let e = providers::lifecycle::read_only_disabled(&sub.subscription_id);
            let why = format!("denied; {}", e.message);
            return Err(e.with_header(DECISION, why));
        }
    }

    // Azure Policy tokens: an assignment requiring an external evaluation needs one for this operation.
    if !caller.platform && route.is_write() {
        let token = req.header(crate::policy_tokens::HEADER);
        for n in
            crate::policy_tokens::check(app, snap, &req.method, id, &api, body.as_ref(), token)?
        {
            decision_header = if decision_header.is_empty() {
                format!("allowed; {n}")
            } else {
                format!("{decision_header}; {n}")
            };
        }
    }
    // Azure Policy: append/modify change the body, deny refuses, denyAction stops a delete.
    let gate = if caller.platform || !route.is_write() {
        None
    } else if req.method == "DELETE" {
        crate::policy_gate::before_delete(app, snap, id, &api)?;
        None
    } else {
        crate::policy_gate::before_write(app, snap, &req.method, id, &api, body.as_ref())
            .inspect_err(|e| {
                crate::policy_gate::record_deny(app, snap, caller, id, body.as_ref(), e)
            })?
    };
    let body = match gate.as_ref().and_then(|g| g.body.clone()) {
        Some(b) => Some(b),
        None => body,
    };
    if let Some(g) = gate.as_ref().filter(|g| !g.notes.is_empty()) {
        let notes = g.notes.join("; ");
        decision_header = if decision_header.is_empty() {
            format!("allowed; {notes}")
        } else {
            format!("{decision_header}; {notes}")
        };
    }

    let new_id = fast_uuid();
    let subject = Subject {
        object_id: &caller.object_id,
        groups: &caller.groups,
    };
    let now_unix = app.clock.unix();
    let may_read = |key: &str| -> bool {
        if !filtered {
            return true;
        }
        let Ok(item) = ResourceId::parse(key) else {
            return false;
        };
        let action = if item.providers.is_empty() {
            "Microsoft.Resources/subscriptions/resourceGroups/read".to_string()
        } else {
            item.action("GET")
        };
        authz::decide(&subject, &action, false, key, path, &snap.access, now_unix).is_allowed()
    };
    let policy_check = |target: &str, body: &Value| -> Option<ArmError> {
        let rid = ResourceId::parse(target).ok()?;
        crate::policy_gate::before_write(app, snap, "PUT", &rid, "", Some(body)).err()
    };
    let cx = Cx {
        req,
        id,
        route: &route,
        api_version: &api,
        caller,
        snap,
        now: app.clock.now(),
        base_url: base,
        body: body.as_ref(),
        new_id: &new_id,
        max_authorizations: app.config.max_authorizations,
        subrequest: &|method: &str, path_and_query: &str, body: Option<&Value>| {
            subrequest(app, req, base, caller, method, path_and_query, body)
        },
        may_read: &may_read,
        policy_check: &policy_check,
    };
    // Resource Graph counts each user's queries (ARM-FACTS §9.3): the headers on every answer, 429 when spent.
    let quota = if route == Route::ResourceGraphResources && !caller.platform {
        app.graph_quota.take(
            &caller.object_id,
            app.clock.now().unix_timestamp_nanos() as i64 / 1_000_000,
        )
    } else {
        None
    };
    if let Some(crate::quota::Verdict::Throttled { resets_after_ms }) = quota {
        return Err(ArmError::new(
            "RateLimiting",
            format!("Please provide below info when asking for support: timestamp = {}, correlationId = {}.", crate::clock::arm_time(app.clock.now()), new_id),
        )
        .with_status(429)
        .with_detail("RateLimiting", "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.")
        .with_header("x-ms-user-quota-remaining", "0".into())
        .with_header("x-ms-user-quota-resets-after", crate::quota::hms(resets_after_ms))
        .with_header("retry-after", ((resets_after_ms + 999) / 1000).max(1).to_string()));
    }
    // Conditional writes (If-Match / If-None-Match) check and write under the gate's exclusive side;
    // every other write holds it shared, so none slips between a check and its write.
    let reply = {
        let conditional = route.is_write()
            && (req.header("if-match").is_some() || req.header("if-none-match").is_some());
        // Nested requests (a deployment's resources, a remediation's) run on this thread inside
        // their outer request, which already holds the gate: taking it again could deadlock.
        let outermost = GATE_DEPTH.with(|d| d.get()) == 0;
        let _gate = if !outermost {
            Gate::None
        } else if conditional {
            Gate::Exclusive(app.write_gate.write().unwrap_or_else(|p| p.into_inner()))
        } else if route.is_write() {
            Gate::Shared(app.write_gate.read().unwrap_or_else(|p| p.into_inner()))
        } else {
            Gate::None
        };
        let _depth = GateDepth::enter();
        if conditional {
            providers::preconditions::check(&cx, &app.store)?;
        }
        match route {
            // PolicyInsights reads the policies in force and runs remediations as managed identities
            Route::Policy(crate::arm::policy_route::PolicyOp::PolicyTokensAcquire) => {
                crate::policy_tokens::policy_tokens_acquire(app, snap, id, body.as_ref())
                    .map(|v| Reply::json(200, &v))
            }
            Route::PolicyInsights(op) => {
                let as_identity = |oid: &str, tid: &str, m: &str, p: &str, b: Option<&Value>| {
                    run_as(app, oid, tid, base, m, p, b)
                };
                providers::policyinsights::run(op, &cx, &app.store, &app.policies(), &as_identity)
            }
            _ => run(&cx, &app.store),
        }
    };
    let reply = reply.map_err(|e| {
        let has_reason = e.headers.iter().any(|(k, _)| *k == DECISION);
        if has_reason || decision_header.is_empty() {
            e
        } else {
            e.with_header(DECISION, decision_header.clone())
        }
    })?;
    if route.is_write() && reply.status < 300 && touches_facts(&route, id) {
        app.refresh()?;
    }
    if route.is_write() && reply.status < 300 && touches_policies(&route, id) {
        app.refresh_policies()?;
    }
    if let Some(g) = gate {
        let as_identity = |oid: &str, tid: &str, m: &str, p: &str, b: Option<&Value>| {
            run_as(app, oid, tid, base, m, p, b)
        };
        crate::policy_gate::after_write(app, snap, &as_identity, caller, g, reply.status);
    }
    let reply = match quota {
        Some(crate::quota::Verdict::Allowed {
            remaining,
            resets_after_ms,
        }) => reply
            .header("x-ms-user-quota-remaining", remaining.to_string())
            .header(
                "x-ms-user-quota-resets-after",
                crate::quota::hms(resets_after_ms),
            ),
        _ => reply,
    };
    Ok(if decision_header.is_empty() {
        reply
    } else {
        reply.header(DECISION, decision_header)
    })
}

/// The header that says why a request was allowed or refused.
const DECISION: &str = "x-ms-emulator-decision";

/// A write after which the policies in force are read again: a policy type, the hierarchy, or a
/// deletion that may take assignments with it.
fn touches_policies(route: &Route, id: &ResourceId) -> bool {
    if matches!(
        route,
        Route::ResourceGroupsDelete | Route::ResourcesDelete | Route::Policy(_)
    ) {
        return true;
    }
    let t = id.full_type().unwrap_or_default().to_ascii_lowercase();
    // (the hierarchy's types are all Microsoft.Management's)
    t.starts_with("microsoft.authorization/policy") || t.starts_with("microsoft.management/")
}

fn touches_facts(route: &Route, id: &ResourceId) -> bool {
    if matches!(
        route,
        Route::ResourceGroupsDelete
            | Route::ResourcesDelete
            | Route::SubscriptionCancel
            | Route::SubscriptionEnable
            | Route::SubscriptionRename
    ) {
        return true;
    }
    if matches!(
        route,
        Route::RoleAssignmentScheduleRequestsCreate
            | Route::RoleAssignmentScheduleRequestsCancel
            | Route::RoleAssignmentApprovalStepsPut
    ) {
        return true;
    }
    let t = id.full_type().unwrap_or_default().to_ascii_lowercase();
    // managed applications create and remove deny assignments
    t == "microsoft.solutions/applications" || FACT_TYPES.iter().any(|f| *f == t)
}

/// The exhaustive route → handler match: the handler is the snake_case of the route.
fn run(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    use providers::resources;
    use providers::subscriptions;
    use providers::{
        authorization, compute, denyassignments, deployments, insights, locks, managedservices, pim,
    };
    match cx.route {
        Route::TenantsList => subscriptions::tenants_list(cx, store),

        Route::ManagementGroupsList => providers::managementgroups::management_groups_list(cx, store),
        Route::ManagementGroupsGet => providers::managementgroups::management_groups_get(cx, store),
        Route::ManagementGroupsCreateOrUpdate => providers::managementgroups::management_groups_create_or_update(cx, store),
        Route::ManagementGroupsUpdate => providers::managementgroups::management_groups_update(cx, store),
        Route::ManagementGroupsDelete => providers::managementgroups::management_groups_delete(cx, store),
        Route::ManagementGroupsGetDescendants => providers::managementgroups::management_groups_get_descendants(cx, store),
        Route::ManagementGroupSubscriptionsCreate => {
            providers::managementgroups::management_group_subscriptions_create(cx, store)
        }
        Route::ManagementGroupSubscriptionsDelete => {
            providers::managementgroups::management_group_subscriptions_delete(cx, store)
        }
        Route::ManagementGroupSubscriptionsGetSubscription => {
            providers::managementgroups::management_group_subscriptions_get_subscription(cx, store)
        }
        Route::ManagementGroupSubscriptionsGetSubscriptionsUnderManagementGroup => {
            providers::managementgroups::management_group_subscriptions_get_subscriptions_under_management_group(cx, store)
        }
        Route::HierarchySettingsList => providers::managementgroups::hierarchy_settings_list(cx, store),
        Route::HierarchySettingsGet => providers::managementgroups::hierarchy_settings_get(cx, store),
        Route::HierarchySettingsCreateOrUpdate => providers::managementgroups::hierarchy_settings_create_or_update(cx, store),
        Route::HierarchySettingsUpdate => providers::managementgroups::hierarchy_settings_update(cx, store),
        Route::HierarchySettingsDelete => providers::managementgroups::hierarchy_settings_delete(cx, store),
        Route::CheckNameAvailability => providers::managementgroups::check_name_availability(cx, store),
        Route::EntitiesList => providers::managementgroups::entities_list(cx, store),
        Route::ManagementOperationsList => providers::managementgroups::management_operations_list(cx, store),
        Route::StartTenantBackfill => providers::managementgroups::start_tenant_backfill(cx, store),
        Route::TenantBackfillStatus => providers::managementgroups::tenant_backfill_status(cx, store),
        Route::ResourceGraphResources => {
            providers::resourcegraph::resource_graph_resources(cx, store)
        }
        Route::ResourceGraphOperationsList => {
            providers::resourcegraph::resource_graph_operations_list(cx, store)
        }
        Route::SubscriptionsList => subscriptions::subscriptions_list(cx, store),
        Route::SubscriptionsGet => subscriptions::subscriptions_get(cx, store),
        Route::SubscriptionCancel => providers::lifecycle::subscription_cancel(cx, store),
        Route::SubscriptionEnable => providers::lifecycle::subscription_enable(cx, store),
        Route::SubscriptionRename => providers::lifecycle::subscription_rename(cx, store),
        Route::SubscriptionsListLocations => subscriptions::subscriptions_list_locations(cx, store),
        Route::SubscriptionsCheckZonePeers => {
            subscriptions::subscriptions_check_zone_peers(cx, store)
        }
        Route::CheckResourceName => subscriptions::check_resource_name(cx, store),
        Route::ProviderResourceTypesList => {
            providers::providertypes::provider_resource_types_list(cx, store)
        }
        Route::DeploymentsCalculateTemplateHash => {
            deployments::deployments_calculate_template_hash(cx, store)
        }
        Route::TagsList => resources::tags_list(cx, store),
        Route::TagsGetAtScope => resources::tags_get_at_scope(cx, store),
        Route::TagsCreateOrUpdateAtScope => resources::tags_create_or_update_at_scope(cx, store),
        Route::TagsUpdateAtScope => resources::tags_update_at_scope(cx, store),
        Route::TagsDeleteAtScope => resources::tags_delete_at_scope(cx, store),
        Route::ResourceGroupsExportTemplate => {
            resources::resource_groups_export_template(cx, store)
        }
        Route::ProvidersList => resources::providers_list(cx, store),
        Route::ProvidersGet => resources::providers_get(cx, store),
        Route::ProvidersRegister => resources::providers_register(cx, store),
        Route::ProvidersUnregister => resources::providers_unregister(cx, store),
        Route::ResourceGroupsList => resources::resource_groups_list(cx, store),
        Route::ResourceGroupsCreateOrUpdate => {
            resources::resource_groups_create_or_update(cx, store)
        }
        Route::ResourceGroupsGet => resources::resource_groups_get(cx, store),
        Route::ResourceGroupsCheckExistence => providers::check_existence(cx, store),
        Route::ResourceGroupsUpdate => resources::resource_groups_update(cx, store),
        Route::ResourceGroupsDelete => resources::resource_groups_delete(cx, store),
        Route::ResourcesList | Route::ResourcesListByResourceGroup => {
            resources::resources_list(cx, store)
        }
        Route::OperationResultsGet => resources::operation_results_get(cx, store),
        Route::OperationStatusesGet => resources::operation_statuses_get(cx, store),
        Route::RoleDefinitionsList => authorization::role_definitions_list(cx, store),
        Route::RoleDefinitionsGet => authorization::role_definitions_get(cx, store),
        Route::RoleDefinitionsCreateOrUpdate => {
            authorization::role_definitions_create_or_update(cx, store)
        }
        Route::RoleDefinitionsDelete => authorization::role_definitions_delete(cx, store),
        Route::RoleAssignmentsListForScope => {
            authorization::role_assignments_list_for_scope(cx, store)
        }
        Route::RoleAssignmentsCreate => authorization::role_assignments_create(cx, store),
        Route::RoleAssignmentsGet => authorization::role_assignments_get(cx, store),
        Route::RoleAssignmentsDelete => authorization::role_assignments_delete(cx, store),
        Route::PermissionsListForScope => authorization::permissions_list_for_scope(cx, store),
        Route::ProviderOperationsList => authorization::provider_operations_list(cx, store),
        Route::ResourcesCreateOrUpdate => resources::resources_create_or_update(cx, store),
        Route::ResourcesGet => resources::resources_get(cx, store),
        Route::ResourcesCheckExistence => providers::check_existence(cx, store),
        Route::ResourcesUpdate => resources::resources_update(cx, store),
        Route::ResourcesDelete => resources::resources_delete(cx, store),
        Route::ResourcesAction => resources::resources_action(cx, store),
        Route::ResourcesListChildren => resources::resources_list_children(cx, store),
        Route::ManagementLocksCreateOrUpdate => locks::management_locks_create_or_update(cx, store),
        Route::ManagementLocksGet => locks::management_locks_get(cx, store),
        Route::ManagementLocksDelete => locks::management_locks_delete(cx, store),
        Route::ManagementLocksList => locks::management_locks_list(cx, store),
        Route::DenyAssignmentsGet => denyassignments::deny_assignments_get(cx, store),
        Route::DenyAssignmentsList => denyassignments::deny_assignments_list(cx, store),
        Route::DenyAssignmentsCreate => denyassignments::deny_assignments_create(cx, store),
        Route::DenyAssignmentsDelete => denyassignments::deny_assignments_delete(cx, store),
        Route::RoleAssignmentScheduleRequestsCreate => {
            pim::role_assignment_schedule_requests_create(cx, store)
        }
        Route::RoleAssignmentScheduleRequestsGet => {
            pim::role_assignment_schedule_requests_get(cx, store)
        }
        Route::RoleAssignmentScheduleRequestsListForScope => {
            pim::role_assignment_schedule_requests_list_for_scope(cx, store)
        }
        Route::RoleAssignmentScheduleRequestsCancel => {
            pim::role_assignment_schedule_requests_cancel(cx, store)
        }
        Route::RoleAssignmentSchedulesListForScope => {
            pim::role_assignment_schedules_list_for_scope(cx, store)
        }
        Route::RoleAssignmentScheduleInstancesListForScope => {
            pim::role_assignment_schedule_instances_list_for_scope(cx, store)
        }
        Route::RoleEligibilitySchedulesListForScope => {
            pim::role_eligibility_schedules_list_for_scope(cx, store)
        }
        Route::RoleEligibilityScheduleInstancesListForScope => {
            pim::role_eligibility_schedule_instances_list_for_scope(cx, store)
        }
        Route::RoleAssignmentApprovalsList => pim::role_assignment_approvals_list(cx, store),
        Route::RoleAssignmentApprovalStepsPut => pim::role_assignment_approval_steps_put(cx, store),
        Route::RegistrationDefinitionsCreateOrUpdate => {
            managedservices::registration_definitions_create_or_update(cx, store)
        }
        Route::RegistrationDefinitionsGet => {
            managedservices::registration_definitions_get(cx, store)
        }
        Route::RegistrationDefinitionsDelete => {
            managedservices::registration_definitions_delete(cx, store)
        }
        Route::RegistrationDefinitionsList => {
            managedservices::registration_definitions_list(cx, store)
        }
        Route::RegistrationAssignmentsCreateOrUpdate => {
            managedservices::registration_assignments_create_or_update(cx, store)
        }
        Route::RegistrationAssignmentsGet => {
            managedservices::registration_assignments_get(cx, store)
        }
        Route::RegistrationAssignmentsDelete => {
            managedservices::registration_assignments_delete(cx, store)
        }
        Route::RegistrationAssignmentsList => {
            managedservices::registration_assignments_list(cx, store)
        }
        Route::MarketplaceRegistrationDefinitionsList => {
            managedservices::marketplace_registration_definitions_list(cx, store)
        }
        Route::MarketplaceRegistrationDefinitionsGet => {
            managedservices::marketplace_registration_definitions_get(cx, store)
        }
        Route::ManagedServicesOperationsList => {
            managedservices::managed_services_operations_list(cx, store)
        }
        Route::DeploymentsCreateOrUpdate => deployments::deployments_create_or_update(cx, store),
        Route::DeploymentsGet => deployments::deployments_get(cx, store),
        Route::DeploymentsCheckExistence => deployments::deployments_check_existence(cx, store),
        Route::DeploymentsDelete => deployments::deployments_delete(cx, store),
        Route::DeploymentsList => deployments::deployments_list(cx, store),
        Route::DeploymentsValidate => deployments::deployments_validate(cx, store),
        Route::DeploymentsWhatIf => deployments::deployments_what_if(cx, store),
        Route::DeploymentsCancel => deployments::deployments_cancel(cx, store),
        Route::DeploymentsExportTemplate => deployments::deployments_export_template(cx, store),
        Route::DeploymentOperationsList => deployments::deployment_operations_list(cx, store),
        Route::DeploymentOperationsGet => deployments::deployment_operations_get(cx, store),
        Route::DeploymentOperationStatusesGet => {
            deployments::deployment_operation_statuses_get(cx, store)
        }
        Route::VirtualMachineImagesListPublishers => {
            compute::virtual_machine_images_list_publishers(cx, store)
        }
        Route::VirtualMachineImagesListOffers => {
            compute::virtual_machine_images_list_offers(cx, store)
        }
        Route::VirtualMachineImagesListSkus => compute::virtual_machine_images_list_skus(cx, store),
        Route::VirtualMachineImagesList => compute::virtual_machine_images_list(cx, store),
        Route::VirtualMachineImagesGet => compute::virtual_machine_images_get(cx, store),
        Route::VirtualMachineExtensionImagesListTypes => {
            compute::virtual_machine_extension_images_list_types(cx, store)
        }
        Route::VirtualMachineExtensionImagesListVersions => {
            compute::virtual_machine_extension_images_list_versions(cx, store)
        }
        Route::VirtualMachineExtensionImagesGet => {
            compute::virtual_machine_extension_images_get(cx, store)
        }
        Route::VirtualMachinesGet => compute::virtual_machines_get(cx, store),
        Route::VirtualMachinesInstanceView => compute::virtual_machines_instance_view(cx, store),
        Route::VirtualMachinesStart => compute::virtual_machines_start(cx, store),
        Route::VirtualMachinesPowerOff => compute::virtual_machines_power_off(cx, store),
        Route::VirtualMachinesDeallocate => compute::virtual_machines_deallocate(cx, store),
        Route::VirtualMachinesRestart => compute::virtual_machines_restart(cx, store),
        Route::ActivityLogsList => insights::activity_logs_list(cx, store),
        Route::TenantActivityLogsList => insights::tenant_activity_logs_list(cx, store),
        Route::Alerts(op) => providers::alertsmanagement::run(*op, cx, store),
        Route::Policy(op) => providers::policy::run(*op, cx, store),
        // answered in arm_authenticated, which hands it the policies in force and `run_as`
        Route::PolicyInsights(_) => Err(ArmError::internal()),
    }
}

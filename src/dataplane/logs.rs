//! The Log Analytics query API (`api.loganalytics.io`, data-plane spec 2022-10-27, `basePath /v1`)
//! on the emulator's port: `Query_Get`/`Query_Execute` on `/workspaces/{workspaceId}/query`,
//! `Query_ResourceGet`/`Query_ResourceExecute` (a workspace's ARM id, or any resource's: resource
//! context), `Query_Batch`. Tokens of any tenant of the world (access is decided by `logs::query`,
//! on the delegated path for Lighthouse); the API's error envelope. Never writes.

use serde_json::{json, Value};

use crate::app::AuthzMode;
use crate::auth::token::{self, TokenError};
use crate::authz::Decision;
use crate::explain::describe;
use crate::kql;
use crate::logs::{self, Asker, Outcome, QueryError, Refusal};
use crate::wire::{Reply, Req};

use super::DataCx;

/// The audiences a query token may carry: the API's, its `azure.com` alias, and the emulator's own
/// URL (`LogsQueryClient` asks for `{endpoint}/.default` when the endpoint is not the public one).
pub const AUDIENCES: &[&str] = &[
    "https://api.loganalytics.io",
    "https://api.loganalytics.azure.com",
];

/// Serve `/v1/…`, or `None` when the path is not the query API's.
pub fn handle(cx: &DataCx, req: &Req) -> Option<Reply> {
    let rest = req.path.strip_prefix("/v1/")?;
    let rest = rest.trim_end_matches('/');
    let correlation = cx.request_id.to_string();
    let reply = match route(rest) {
        Some(r) => serve(cx, req, r, &correlation),
        None => error(
            404,
            "PathNotFoundError",
            &format!("The requested path does not exist: /v1/{rest}"),
            None,
            &correlation,
        ),
    };
    Some(reply)
}

enum Target<'a> {
    /// `/workspaces/{id}/query`
    Workspace(&'a str),
    /// `/{resourceId}/query`
    Resource(&'a str),
    Batch,
}

fn route(rest: &str) -> Option<Target<'_>> {
    if rest.eq_ignore_ascii_case("$batch") {
        return Some(Target::Batch);
    }
    let target = rest.strip_suffix("/query")?;
    if let Some(id) = target.strip_prefix("workspaces/") {
        return (!id.contains('/')).then_some(Target::Workspace(id));
    }
    target
        .to_ascii_lowercase()
        .starts_with("subscriptions/")
        .then_some(Target::Resource(target))
}

/// The API's error envelope.
pub fn error(
    status: u16,
    code: &str,
    message: &str,
    inner: Option<Value>,
    correlation: &str,
) -> Reply {
    let mut e = json!({"code": code, "message": message, "correlationId": correlation});
    if let Some(i) = inner {
        e["innererror"] = i;
    }
    Reply::json(status, &json!({"error": e}))
}

fn serve(cx: &DataCx, req: &Req, target: Target, correlation: &str) -> Reply {
    let caller = match authenticate(cx, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let asker = Asker::Principal {
        object_id: &caller.0,
        groups: &caller.1,
        tenant_id: &caller.2,
    };
    let (primary, resource) = match target {
        Target::Workspace(id) => (id.to_string(), false),
        // a workspace's ARM id names the workspace; any other resource is a resource-context query
        Target::Resource(id) => (
            format!("/{id}"),
            !id.to_ascii_lowercase()
                .contains("/providers/microsoft.operationalinsights/workspaces/"),
        ),
        Target::Batch if req.method == "POST" => return batch(cx, req, asker, correlation),
        Target::Batch => return method_not_allowed(correlation),
    };
    let (query, timespan, extra) = match req.method.as_str() {
        "GET" => (
            req.query("query").map(str::to_string),
            req.query("timespan").map(str::to_string),
            req.query("workspaces")
                .map(|w| {
                    w.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "POST" => {
            let body: Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    return bad_argument(
                        "BadRequest",
                        &format!("The request body is not valid JSON: {e}"),
                        correlation,
                    )
                }
            };
            let extra: Vec<String> = body["workspaces"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|w| w.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (
                body["query"].as_str().map(str::to_string),
                body["timespan"].as_str().map(str::to_string),
                extra,
            )
        }
        _ => return method_not_allowed(correlation),
    };
    let body = json!({"query": query, "timespan": timespan, "workspaces": extra});
    let (status, answer, decision) = run(cx, asker, &primary, resource, &body, correlation);
    let mut reply = Reply::json(status, &answer);
    if let Some(d) = decision {
        reply = reply.header("x-ms-emulator-decision", d);
    }
    reply
}

/// One query (`body`: `query`, `timespan`, `workspaces`) over `primary` and the extra workspaces:
/// (status, body, decision text).
fn run(
    cx: &DataCx,
    asker: Asker,
    primary: &str,
    resource: bool,
    body: &Value,
    correlation: &str,
) -> (u16, Value, Option<String>) {
    let body_of = |r: Reply| -> Value { serde_json::from_slice(&r.body).unwrap_or(Value::Null) };
    let Some(query) = body["query"].as_str().filter(|q| !q.trim().is_empty()) else {
        let r = bad_argument(
            "QueryValidationError",
            "The 'query' parameter is required.",
            correlation,
        );
        return (r.status, body_of(r), None);
    };
    let window = match body["timespan"].as_str().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match logs::parse_timespan(t, cx.now) {
            Some(w) => Some(w),
            None => {
                let r = bad_argument(
                    "InvalidTimespanError",
                    &format!("The timespan '{t}' is not a valid ISO 8601 duration or interval."),
                    correlation,
                );
                return (r.status, body_of(r), None);
            }
        },
    };
    let mut refs: Vec<&str> = vec![primary];
    if let Some(a) = body["workspaces"].as_array() {
        refs.extend(a.iter().filter_map(Value::as_str));
    }
    let enforce = cx.authz == AuthzMode::Enforce;
    let outcome = if resource {
        logs::query_resource(
            cx.store, cx.snap, asker, primary, query, window, cx.now, enforce,
        )
    } else {
        logs::query(
            cx.store, cx.snap, asker, &refs, query, window, cx.now, enforce,
        )
    };
    match outcome {
        Ok(Outcome { table, refused }) => {
            let mut answer = json!({"tables": [logs::result_table("PrimaryResult", &table)]});
            if !refused.is_empty() {
                let details: Vec<Value> = refused.iter().map(refusal_detail).collect();
                answer["error"] = json!({
                    "code": "PartialError",
                    "message": "There were some errors when processing your query.",
                    "details": details,
                });
            }
            let decision = (!refused.is_empty()).then(|| {
                refused
                    .iter()
                    .map(refusal_text)
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            (200, answer, decision)
        }
        Err(QueryError::Primary(r)) => {
            let (status, code, message) = refusal_parts(&r);
            let d = refusal_text(&r);
            let reply = error(status, code, message, None, correlation);
            (reply.status, body_of(reply), Some(d))
        }
        Err(QueryError::Kql(e)) => {
            let r = kql_error(&e, correlation);
            (r.status, body_of(r), None)
        }
        Err(QueryError::Store(e)) => {
            let r = error(500, "InternalServerError", &e.0, None, correlation);
            (r.status, body_of(r), None)
        }
    }
}

fn refusal_parts(r: &Refusal) -> (u16, &'static str, &'static str) {
    match r {
        // the service's words for both (Log Analytics API "Errors")
        Refusal::NotFound(_) => (
            404,
            "WorkspaceNotFoundError",
            "The workspace could not be found",
        ),
        Refusal::Denied(..) => (
            403,
            "InsufficientAccessError",
            "The provided credentials have insufficient access to perform the requested operation",
        ),
    }
}

fn refusal_detail(r: &Refusal) -> Value {
    let (_, code, message) = refusal_parts(r);
    let w = match r {
        Refusal::NotFound(w) | Refusal::Denied(w, _) => w,
    };
    json!({"code": code, "message": message, "target": "workspaces", "value": w, "resources": [w]})
}

fn refusal_text(r: &Refusal) -> String {
    match r {
        Refusal::NotFound(w) => format!("workspace '{w}' not found"),
        Refusal::Denied(w, d) if **d == Decision::NoGrant => format!(
            "denied; no role assignment or delegated authorization grants '{}' on workspace '{w}'",
            logs::QUERY_ACTION
        ),
        Refusal::Denied(w, d) => format!("workspace '{w}': {}", describe(d)),
    }
}

/// A query the engine refused, in the API's words: `BadArgumentError` with a `SyntaxError` or
/// `SemanticError` inner error and the position.
fn kql_error(e: &kql::KqlError, correlation: &str) -> Reply {
    let inner = if e.code == "ParserFailure" {
        json!({
            "code": "SyntaxError",
            "message": "A recognition error occurred in the query.",
            "innererror": {
                "code": "SYN0002",
                "message": format!("Query could not be parsed at '{}' on line [{},{}]", e.token, e.line, e.character_position_in_line),
                "line": e.line,
                "pos": e.character_position_in_line,
                "token": e.token,
            }
        })
    } else {
        json!({
            "code": "SemanticError",
            "message": "A semantic error occurred.",
            "innererror": {"code": "SEM0100", "message": e.message}
        })
    };
    error(
        400,
        "BadArgumentError",
        "The request had some invalid properties",
        Some(inner),
        correlation,
    )
}

fn bad_argument(code: &str, message: &str, correlation: &str) -> Reply {
    error(
        400,
        "BadArgumentError",
        "The request had some invalid properties",
        Some(json!({"code": code, "message": message})),
        correlation,
    )
}

fn method_not_allowed(correlation: &str) -> Reply {
    error(
        405,
        "MethodNotAllowed",
        "The requested HTTP method is not supported on this path.",
        None,
        correlation,
    )
}

/// `POST /v1/$batch`: `{"requests": [{"id", "body", "workspace" | "path", …}]}` →
/// `{"responses": [{"id", "status", "body"}]}`, each request answered as on its own.
fn batch(cx: &DataCx, req: &Req, asker: Asker, correlation: &str) -> Reply {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return bad_argument(
                "BadRequest",
                &format!("The request body is not valid JSON: {e}"),
                correlation,
            )
        }
    };
    let Some(requests) = body["requests"].as_array() else {
        return bad_argument(
            "BadRequest",
            "The batch body must have a 'requests' array.",
            correlation,
        );
    };
    let responses: Vec<Value> = requests
        .iter()
        .map(|r| {
            let primary = r["workspace"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    r["path"]
                        .as_str()
                        .and_then(|p| p.trim_start_matches('/').strip_suffix("/query"))
                        .and_then(|p| p.strip_prefix("workspaces/"))
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let (status, body, _) = run(cx, asker, &primary, false, &r["body"], correlation);
            json!({"id": r["id"], "status": status, "body": body})
        })
        .collect();
    Reply::json(200, &json!({"responses": responses}))
}

/// The caller of a token: (object id, groups, tenant), or the API's 401.
fn authenticate(cx: &DataCx, req: &Req) -> Result<(String, Vec<String>, String), Reply> {
    let corr = cx.request_id;
    let unauthenticated = |code: &str, message: &str, inner: Option<Value>| {
        error(401, code, message, inner, corr).header(
            "WWW-Authenticate",
            "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"",
        )
    };
    let Some(header) = req.header("authorization") else {
        return Err(unauthenticated(
            "AuthorizationRequiredError",
            "Valid authentication was not provided",
            None,
        ));
    };
    let (scheme, tok) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthenticated(
            "AuthorizationRequiredError",
            "Valid authentication was not provided",
            None,
        ));
    }
    let invalid = |inner: &str, message: String| {
        unauthenticated(
            "InvalidTokenError",
            "The provided authentication is not valid for this resource",
            Some(json!({"code": inner, "message": message})),
        )
    };
    let claims = token::verify_access_token(cx.key, tok.trim(), cx.now.unix_timestamp()).map_err(
        |e| match e {
            TokenError::Expired { .. } => invalid("TokenExpired", "The token has expired.".into()),
            other => invalid("SignatureVerificationFailed", format!("{other:?}")),
        },
    )?;
    let mut audiences: Vec<String> = AUDIENCES.iter().map(|a| a.to_string()).collect();
    audiences.push(format!("{}/", cx.login_base));
    audiences.push(format!("{}/", cx.base_url));
    if !token::audience_matches(&claims.aud, &audiences) {
        return Err(invalid(
            "InvalidAudience",
            format!(
                "The audience '{}' is not valid for this API; ask for a token for https://api.loganalytics.io.",
                claims.aud
            ),
        ));
    }
    let principal = cx
        .snap
        .dir
        .principal(&claims.oid)
        .filter(|p| p.tenant_id.eq_ignore_ascii_case(&claims.tid))
        .ok_or_else(|| {
            invalid(
                "UnknownPrincipal",
                "The token's principal is not in the emulator's directory.".into(),
            )
        })?;
    Ok((
        principal.object_id.to_lowercase(),
        cx.snap.dir.groups_of(&principal.object_id).to_vec(),
        principal.tenant_id.to_lowercase(),
    ))
}

//! The emulator's own endpoints under `/_emulator/`: health, reset to the loaded world, the movable
//! clock (a move runs the scheduled query rules that fell due), the CA certificate, explain, tokens for
//! `lighthouse-emulator token` and the alert outbox (e-mails, SMS and webhook calls of fired alerts). No token; when the server listens beyond loopback they need the admin
//! key. Never reachable through ARM routing.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::app::App;
use crate::clock::{arm_time, parse_duration};
use crate::wire::{Reply, Req};

fn json_body(req: &Req) -> Result<Value, Reply> {
    serde_json::from_slice(&req.body).map_err(|e| {
        admin_error(
            400,
            "InvalidRequestContent",
            &format!("The body is not JSON: {e}"),
        )
    })
}

fn admin_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

pub fn handle(app: &App, req: &Req) -> Reply {
    let path = req.path.trim_end_matches('/').to_ascii_lowercase();
    if path == "/_emulator/ca.pem" && req.method == "GET" {
        return Reply::text(200, "application/x-pem-file", app.config.ca_pem.clone());
    }
    // The Azure CLI fetches the image alias document (the metadata's `vmImageAliasDoc`) with a
    // plain GET and no credentials, as it fetches Azure's own copy: public like the CA.
    if path == "/_emulator/vm-image-aliases.json" && req.method == "GET" {
        return Reply::text(
            200,
            "application/json",
            crate::providers::compute::IMAGE_ALIASES_JSON,
        );
    }
    if let Some(key) = &app.config.admin_key {
        if req.header("x-emulator-admin-key") != Some(key.as_str()) {
            return admin_error(
                401,
                "AdminKeyRequired",
                "This emulator listens beyond loopback: admin endpoints need the header 'x-emulator-admin-key' with the key given by --admin-key.",
            );
        }
    }
    match (req.method.as_str(), path.as_str()) {
        ("GET", "/_emulator/health") => {
            let resources = app.store.read(|tx| tx.count()).unwrap_or(-1);
            Reply::json(
                200,
                &json!({"status": "healthy", "version": env!("CARGO_PKG_VERSION"), "resources": resources, "clock": arm_time(app.clock.now())}),
            )
        }
        ("POST", "/_emulator/reset") => {
            let started = std::time::Instant::now();
            app.clock.reset();
            app.graph_quota.clear();
            // a sandbox goes back to the copy it started from; the main world replays its file
            let done = match app.origin.get() {
                Some(o) => crate::snapshots::restore_store(app, &o.store, o.clock.offset_seconds()),
                None => app.load_world(),
            };
            match done {
                Ok(()) => Reply::json(
                    200,
                    &json!({"status": "reset", "elapsedMs": started.elapsed().as_secs_f64() * 1000.0}),
                ),
                Err(e) => {
                    tracing::error!(error = %e, "reset failed");
                    admin_error(500, "ResetFailed", &e.to_string())
                }
            }
        }
        ("POST", p) if p.starts_with("/_emulator/logs/") => ingest_logs(app, req),
        (_, p) if p == "/_emulator/snapshots" || p.starts_with("/_emulator/snapshots/") => {
            crate::snapshots::handle(app, req)
        }
        (_, p) if p == "/_emulator/sandboxes" || p.starts_with("/_emulator/sandboxes/") => {
            crate::sandboxes::handle(app, req)
        }
        ("POST", "/_emulator/explain") => {
            let body = match json_body(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            match crate::explain::explain(app, &body) {
                Ok(v) => Reply::json(200, &v),
                Err(m) => admin_error(400, "BadRequest", &m),
            }
        }
        // `lighthouse-emulator token` asks here, so its tokens carry this server's key and clock
        ("POST", "/_emulator/token") => {
            let body = match json_body(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let Some(who) = body["principal"].as_str() else {
                return admin_error(
                    400,
                    "BadRequest",
                    "'principal' (UPN, display name, object id or app id) is required",
                );
            };
            let audience = body["audience"]
                .as_str()
                .unwrap_or("https://management.azure.com/");
            let now = app.clock.unix();
            let lifetime = app.config.token_lifetime;
            let base = crate::wire::base_url(req);
            match crate::auth::endpoints::issue_for(
                &app.snapshot().dir,
                &app.key,
                who,
                audience,
                now,
                lifetime,
                &base,
            ) {
                Ok(t) => Reply::json(
                    200,
                    &json!({"accessToken": t, "tokenType": "Bearer", "expiresOn": now + lifetime}),
                ),
                Err(m) => admin_error(400, "BadRequest", &m),
            }
        }
        ("GET", "/_emulator/clock") => clock_reply(app),
        ("POST", "/_emulator/clock") => {
            let body = match json_body(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            if let Some(d) = body.get("advance").and_then(|v| v.as_str()) {
                match parse_duration(d) {
                    Some(d) => app.clock.advance(d),
                    None => {
                        return admin_error(
                            400,
                            "InvalidDuration",
                            &format!("'{d}' is not an ISO 8601 duration such as PT2H."),
                        )
                    }
                }
            } else if let Some(t) = body.get("set").and_then(|v| v.as_str()) {
                match OffsetDateTime::parse(t, &Rfc3339) {
                    Ok(t) => app.clock.set(t),
                    Err(_) => {
                        return admin_error(
                            400,
                            "InvalidTime",
                            &format!("'{t}' is not an RFC 3339 time such as 2027-01-01T00:00:00Z."),
                        )
                    }
                }
            } else if body.get("reset").is_some() {
                app.clock.reset();
            } else {
                return admin_error(
                    400,
                    "InvalidRequestContent",
                    "Send {\"advance\": \"PT2H\"} or {\"set\": \"2027-01-01T00:00:00Z\"}.",
                );
            }
            // scheduled query rules run the evaluations that fell due on the moved clock
            if let Err(e) = crate::monitor::run_due(&app.store, &app.snapshot(), app.clock.now()) {
                tracing::error!(error = %e, "scheduled query rules not evaluated");
            }
            clock_reply(app)
        }
        ("GET", "/_emulator/outbox") => outbox(app, req),
        _ => admin_error(
            404,
            "NotFound",
            &format!("No emulator endpoint {} {}.", req.method, req.path),
        ),
    }
}

fn clock_reply(app: &App) -> Reply {
    Reply::json(
        200,
        &json!({"now": arm_time(app.clock.now()), "offsetSeconds": app.clock.offset_seconds()}),
    )
}

/// `POST /_emulator/logs/{workspaceId}/{table}` with a JSON array of row objects: rows for any table of
/// a Log Analytics workspace (by its `customerId`), queryable at once (`crate::logs::ingest`).
fn ingest_logs(app: &App, req: &Req) -> Reply {
    let parts: Vec<&str> = req.path.trim_end_matches('/').split('/').collect();
    let [_, _, _, workspace, table] = parts.as_slice() else {
        return admin_error(
            404,
            "NotFound",
            "POST /_emulator/logs/{workspaceId}/{table} with a JSON array of rows",
        );
    };
    let body = match json_body(req) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::logs::ingest(&app.store, workspace, table, &body, app.clock.now()) {
        Ok(n) => Reply::json(
            200,
            &json!({"workspaceId": workspace.to_lowercase(), "table": table, "ingested": n}),
        ),
        Err(crate::logs::IngestError::NoWorkspace) => admin_error(
            404,
            "WorkspaceNotFound",
            &format!("No Log Analytics workspace has the workspace id (customerId) '{workspace}'."),
        ),
        Err(crate::logs::IngestError::BadBody(m)) => admin_error(400, "InvalidRows", &m),
        Err(crate::logs::IngestError::Store(e)) => admin_error(500, "InternalError", &e.0),
    }
}

/// `GET /_emulator/outbox[?kind=email|sms|webhook]`: what fired alerts sent, oldest first.
fn outbox(app: &App, req: &Req) -> Reply {
    match crate::monitor::outbox(&app.store) {
        Ok(items) => {
            let kind = req.query("kind");
            let value: Vec<Value> = items
                .into_iter()
                .filter(|e| {
                    kind.is_none_or(|k| {
                        e["kind"]
                            .as_str()
                            .is_some_and(|x| x.eq_ignore_ascii_case(k))
                    })
                })
                .collect();
            Reply::json(200, &json!({ "value": value }))
        }
        Err(e) => admin_error(500, "InternalError", &e.0),
    }
}

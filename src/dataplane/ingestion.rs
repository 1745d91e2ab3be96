//! The Logs Ingestion API (data-plane spec `IngestionClient` 2023-01-01, what `azure-monitor-ingestion`
//! sends): `POST /dataCollectionRules/{immutableId}/streams/{stream}` on the emulator's port, a JSON
//! array of rows, gzip or not; the rule's data flows for the stream run their `transformKql` and write
//! to the tables of their Log Analytics destinations (`logs::ingest`). Token audience
//! `https://monitor.azure.com`; the rule's data action `Microsoft.Insights/Telemetry/Write` decides.

use std::io::Read as _;

use serde_json::{json, Map, Value};

use crate::app::AuthzMode;
use crate::auth::token::{self, TokenError};
use crate::explain::describe;
use crate::kql::Type;
use crate::logs::{self, Asker, IngestError};
use crate::providers::datacollection::{output_table, RULE_TYPE};
use crate::store::Stored;
use crate::wire::{Reply, Req};

use super::DataCx;

/// The audiences an ingestion token may carry (`LogsIngestionClient` asks for
/// `https://monitor.azure.com//.default`, so the audience has a trailing slash at times).
pub const AUDIENCES: &[&str] = &["https://monitor.azure.com"];

/// What a rule grants callers (Monitoring Metrics Publisher's data action).
pub const TELEMETRY_WRITE: &str = "Microsoft.Insights/Telemetry/Write";

/// The Logs Ingestion API's error body: `{"error": {"code", "message"}}`, as the service answers
/// (the SDKs' troubleshooting guides quote its 403 `OperationFailed` — azure-sdk-for-net
/// Azure.Monitor.Ingestion TROUBLESHOOTING.md, with `IsDcrDceBindingValid` — and the .NET tests its
/// 413 `ContentLengthLimitExceeded`). Unconfirmed, our choice: 404 `NotFound` for an unknown rule,
/// 400 `InvalidStream` for a stream no data flow takes, 400 `InvalidRequestBody` for a body that is
/// not JSON rows (the .NET live tests saw a bare 500 for an empty body), 401 `InvalidToken` for a
/// missing or bad token (401 `InvalidAudience` for another API's token is the service's).
fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Serve `/dataCollectionRules/…`, or `None` when the path is not the ingestion API's.
pub fn handle(cx: &DataCx, req: &Req) -> Option<Reply> {
    let rest = strip_prefix_ci(&req.path, "/dataCollectionRules/")?;
    let mut segs = rest.trim_end_matches('/').split('/');
    let (Some(rule_id), Some(streams), Some(stream), None) =
        (segs.next(), segs.next(), segs.next(), segs.next())
    else {
        return Some(error(
            404,
            "NotFound",
            &format!("The requested path does not exist: {}", req.path),
        ));
    };
    if !streams.eq_ignore_ascii_case("streams") {
        return Some(error(
            404,
            "NotFound",
            &format!("The requested path does not exist: {}", req.path),
        ));
    }
    if req.method != "POST" {
        return Some(error(
            405,
            "MethodNotAllowed",
            &format!("The method {} is not allowed here; send POST.", req.method),
        ));
    }
    Some(upload(cx, req, rule_id, stream))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn upload(cx: &DataCx, req: &Req, rule_id: &str, stream: &str) -> Reply {
    let caller = match authenticate(cx, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rule = match find_rule(cx, rule_id) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error(
                404,
                "NotFound",
                &format!("Data collection rule with immutable Id '{rule_id}' not found."),
            )
        }
        Err(r) => return r,
    };
    let asker = Asker::Principal {
        object_id: &caller.0,
        groups: &caller.1,
        tenant_id: &caller.2,
    };
    let decision = logs::decide_as(
        cx.snap,
        asker,
        (TELEMETRY_WRITE, true),
        &rule.sub,
        &rule.key,
        cx.now,
    );
    if let Some(d) = decision.filter(|d| !d.is_allowed()) {
        if cx.authz == AuthzMode::Enforce {
            let arm_id = rule.body["id"].as_str().unwrap_or(&rule.key);
            return error(
                403,
                "OperationFailed",
                &format!(
                    "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '{rule_id}' PipelineAccessResult: AccessGranted: False, IsRbacPresent: False, IsDcrDceBindingValid: , DcrArmId: {arm_id}, Message: Required authorization action was not found for tenantId {} objectId {} on resourceId {arm_id} ({}).",
                    caller.2,
                    caller.0,
                    describe(&d)
                ),
            );
        }
    }
    let rows = match body_rows(req) {
        Ok(r) => r,
        Err(BodyError::TooLarge) => {
            return error(
                413,
                "ContentLengthLimitExceeded",
                &format!("Maximum allowed content length: {MAX_BODY} bytes (1 MB). Split the upload into smaller requests."),
            )
        }
        Err(BodyError::Invalid(m)) => return error(400, "InvalidRequestBody", &m),
    };
    match write(cx, &rule, stream, &rows) {
        Ok(()) => Reply::empty(204),
        Err(r) => r,
    }
}

/// The rule with this immutable id.
fn find_rule(cx: &DataCx, rule_id: &str) -> Result<Option<Stored>, Reply> {
    let rules = cx
        .store
        .read(|tx| tx.by_type(RULE_TYPE, None, None))
        .map_err(|e| error(500, "InternalServerError", &e.0))?;
    Ok(rules.into_iter().find(|r| {
        r.body["properties"]["immutableId"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(rule_id))
    }))
}

/// "Maximum size of API call: 1 MB — both compressed and uncompressed data" (Azure Monitor service
/// limits, Logs Ingestion API); over it the service answers 413 `ContentLengthLimitExceeded`
/// "Maximum allowed content length: 1048576 bytes (1 MB)." (azure-sdk-for-net, Azure.Monitor.Ingestion
/// tests `GreaterThan1MbData`). The SDKs split uploads into chunks under it.
pub const MAX_BODY: usize = 1 << 20;

enum BodyError {
    TooLarge,
    Invalid(String),
}

/// The request's rows: a JSON array of objects (one object is one row), gunzipped when
/// `Content-Encoding: gzip` (the Python and JS SDKs always compress).
fn body_rows(req: &Req) -> Result<Vec<Map<String, Value>>, BodyError> {
    let gz = req
        .header("content-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    if req.body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    let raw = if gz {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(req.body.as_slice())
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| BodyError::Invalid(format!("The body is not valid gzip: {e}")))?;
        if out.len() > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
        out
    } else {
        req.body.clone()
    };
    let invalid = BodyError::Invalid;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| invalid(format!("The body is not valid JSON: {e}")))?;
    let items = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => return Err(invalid("The body must be a JSON array of objects.".into())),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok(m),
            _ => Err(invalid(format!(
                "Item {i} of the body is not a JSON object."
            ))),
        })
        .collect()
}

/// A stream declaration's column type as the KQL engine types it.
fn column_type(t: &str) -> Type {
    match t.to_ascii_lowercase().as_str() {
        "int" => Type::Int,
        "long" => Type::Long,
        "real" => Type::Real,
        "boolean" | "bool" => Type::Bool,
        "datetime" => Type::DateTime,
        "dynamic" => Type::Dynamic,
        "guid" => Type::Guid,
        _ => Type::String,
    }
}

/// Run every data flow of `rule` that takes `stream`: its transformation over the rows, then into
/// each of its Log Analytics destinations' output table.
fn write(
    cx: &DataCx,
    rule: &Stored,
    stream: &str,
    rows: &[Map<String, Value>],
) -> Result<(), Reply> {
    let props = &rule.body["properties"];
    let flows: Vec<&Value> = props["dataFlows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            f["streams"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(stream)))
        })
        .collect();
    if flows.is_empty() {
        return Err(error(
            400,
            "InvalidStream",
            &format!("The data collection rule has no data flow for the stream '{stream}'."),
        ));
    }
    let declared = &props["streamDeclarations"][stream]["columns"];
    let columns: Vec<(String, Type)> = match declared.as_array() {
        Some(cols) => cols
            .iter()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_string(),
                    column_type(c["type"].as_str()?),
                ))
            })
            .collect(),
        // a Microsoft-… stream: the columns the rows bring
        None => {
            let mut seen: Vec<(String, Type)> = Vec::new();
            for r in rows {
                for k in r.keys() {
                    if !seen.iter().any(|(n, _)| n == k) {
                        let ty = if k == "TimeGenerated" {
                            Type::DateTime
                        } else {
                            Type::Dynamic
                        };
                        seen.push((k.clone(), ty));
                    }
                }
            }
            seen
        }
    };
    let cols: Vec<(&str, Type)> = columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let workspaces: Vec<(String, String)> = props["destinations"]["logAnalytics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some((
                d["name"].as_str()?.to_string(),
                d["workspaceResourceId"].as_str()?.to_string(),
            ))
        })
        .collect();
    let all = logs::workspaces(cx.store).map_err(|e| error(500, "InternalServerError", &e.0))?;
    for flow in flows {
        let Some(table) = output_table(flow, stream) else {
            continue;
        };
        let text = flow["transformKql"].as_str().unwrap_or("source");
        let out = logs::transform(text, &cols, rows, cx.now).map_err(|e| {
            error(
                400,
                "InvalidTransformOutput",
                &format!("The transformation of the data collection rule failed: {e}"),
            )
        })?;
        let (out_cols, out) = out;
        let out = Value::Array(out);
        for dest in flow["destinations"].as_array().into_iter().flatten() {
            let Some((_, ws_id)) = workspaces
                .iter()
                .find(|(n, _)| Some(n.as_str()) == dest.as_str())
            else {
                continue; // not a Log Analytics destination
            };
            let Some(ws) = logs::candidates(&all, ws_id).into_iter().next() else {
                continue; // the workspace is gone: Azure drops the data
            };
            logs::declare_columns(cx.store, &ws.customer_id, &table, &out_cols)
                .map_err(|e| error(500, "InternalServerError", &e.0))?;
            match logs::ingest(cx.store, &ws.customer_id, &table, &out, cx.now) {
                Ok(_) => {}
                Err(IngestError::BadBody(m)) => return Err(error(400, "InvalidRequestBody", &m)),
                Err(IngestError::NoWorkspace) => {}
                Err(IngestError::Store(e)) => return Err(error(500, "InternalServerError", &e.0)),
            }
        }
    }
    Ok(())
}

/// The caller of a token for `https://monitor.azure.com`: (object id, groups, tenant), or a 401.
fn authenticate(cx: &DataCx, req: &Req) -> Result<(String, Vec<String>, String), Reply> {
    let unauthenticated_as = |code: &str, message: String| {
        error(401, code, &message).header(
            "WWW-Authenticate",
            "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"",
        )
    };
    let unauthenticated = |message: String| unauthenticated_as("InvalidToken", message);
    let header = req.header("authorization").unwrap_or_default().trim();
    let tok = match header.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => {
            return Err(unauthenticated(
                "An access token for https://monitor.azure.com is required.".into(),
            ))
        }
    };
    let claims =
        token::verify_access_token(cx.key, tok, cx.now.unix_timestamp()).map_err(|e| match e {
            TokenError::Expired { .. } => unauthenticated("The access token has expired.".into()),
            other => unauthenticated(format!("The access token is not valid: {other:?}")),
        })?;
    let mut audiences: Vec<String> = AUDIENCES.iter().map(|a| a.to_string()).collect();
    audiences.push(format!("{}/", cx.login_base));
    audiences.push(format!("{}/", cx.base_url));
    if !token::audience_matches(&claims.aud, &audiences) {
        // a token for management.azure.com gets "InvalidAudience" (MicrosoftDocs/azure-docs PR #103840,
        // "Wrong audience", on the Logs Ingestion tutorial)
        return Err(unauthenticated_as("InvalidAudience", format!(
            "The audience '{}' is not valid for this API; ask for a token for https://monitor.azure.com.",
            claims.aud
        )));
    }
    let principal = cx
        .snap
        .dir
        .principal(&claims.oid)
        .filter(|p| p.tenant_id.eq_ignore_ascii_case(&claims.tid))
        .ok_or_else(|| {
            unauthenticated("The token's principal is not in the emulator's directory.".into())
        })?;
    Ok((
        principal.object_id.to_lowercase(),
        cx.snap.dir.groups_of(&principal.object_id).to_vec(),
        principal.tenant_id.to_lowercase(),
    ))
}

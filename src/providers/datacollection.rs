//! What Microsoft.Insights adds to data collection rules and endpoints (the DCR and DCE specs,
//! 2022-06-01 and later): each gets an `immutableId` (`dcr-…`, `dce-…`) kept for its life, a
//! provisioningState, the endpoints the Logs Ingestion API answers on (the emulator's own URL); a
//! rule's data flows are checked against its stream declarations and destinations. Never touches hyper;
//! get, list and delete are the generic resource path; ingestion is `dataplane::ingestion`.

use serde_json::{json, Map, Value};

use super::Cx;
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::store::Store;

pub const RULE_TYPE: &str = "microsoft.insights/datacollectionrules";
pub const ENDPOINT_TYPE: &str = "microsoft.insights/datacollectionendpoints";

/// `{prefix}-` and 32 hex digits, as Azure's immutable ids look (`dcr-00a1…`).
fn immutable_id(prefix: &str, new_id: &str) -> String {
    format!("{prefix}-{}", new_id.replace('-', "").to_ascii_lowercase())
}

fn props(body: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    body.entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

fn keep_immutable_id(
    props: &mut Map<String, Value>,
    existing: Option<&Value>,
    prefix: &str,
    new_id: &str,
) {
    let id = existing
        .and_then(|e| e["properties"]["immutableId"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| immutable_id(prefix, new_id));
    props.insert("immutableId".into(), json!(id));
    props.insert("provisioningState".into(), json!("Succeeded"));
}

/// A data collection endpoint: its immutable id and the endpoints clients are given.
pub fn complete_endpoint(cx: &Cx, body: &mut Map<String, Value>, existing: Option<&Value>) {
    let Some(p) = props(body) else { return };
    keep_immutable_id(p, existing, "dce", cx.new_id);
    p.insert("logsIngestion".into(), json!({"endpoint": cx.base_url}));
    p.insert(
        "configurationAccess".into(),
        json!({"endpoint": cx.base_url}),
    );
    p.entry("networkAcls")
        .or_insert_with(|| json!({"publicNetworkAccess": "Enabled"}));
}

/// The table a data flow writes: `outputStream` `Custom-X_CL` → `X_CL`, `Microsoft-X` → `X`; without
/// one, the input stream's own name (`Custom-X_CL` → `X_CL`).
pub fn output_table(flow: &Value, stream: &str) -> Option<String> {
    let out = flow["outputStream"].as_str().unwrap_or(stream);
    let (_, table) = out.split_once('-')?;
    (!table.is_empty()).then(|| table.to_string())
}

fn invalid(message: String) -> ArmError {
    // Azure answers a rule it cannot accept with 400 InvalidPayload and the reasons in details
    // ("Data collection rule is invalid"); the emulator names the first reason in the message.
    ArmError::new(
        "InvalidPayload",
        format!("Data collection rule is invalid: {message}"),
    )
}

/// A data collection rule: immutable id, provisioning state, the logs ingestion endpoint of a
/// `Direct` rule; every data flow's streams declared (`Custom-…` in `streamDeclarations`, or a
/// `Microsoft-…` stream), its destinations named in `destinations`, and its output a table name.
pub fn complete_rule(
    cx: &Cx,
    store: &Store,
    body: &mut Map<String, Value>,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    // the kind as Azure answers it, without surrounding blanks (DataCollectionRulesCreateEmbeddedDCE.json
    // sends " Direct" and gets "Direct" back)
    if let Some(k) = body.get("kind").and_then(Value::as_str).map(str::trim) {
        let k = k.to_string();
        body.insert("kind".into(), json!(k));
    }
    let direct = body
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.eq_ignore_ascii_case("Direct"));
    let Some(p) = props(body) else {
        return Ok(());
    };
    let declared = p
        .get("streamDeclarations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    if let Some(dest) = p.get("destinations").and_then(Value::as_object) {
        for list in dest.values() {
            for d in list.as_array().into_iter().flatten() {
                if let Some(n) = d["name"].as_str() {
                    names.push(n.to_string());
                }
            }
        }
    }
    for (i, flow) in p
        .get("dataFlows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let streams = flow["streams"].as_array().cloned().unwrap_or_default();
        if streams.is_empty() {
            return Err(invalid(format!(
                "dataFlows[{i}].streams must name at least one stream"
            )));
        }
        for s in &streams {
            let s = s.as_str().unwrap_or_default();
            let ok = s.starts_with("Microsoft-")
                || (s.starts_with("Custom-") && declared.keys().any(|k| k == s));
            if !ok {
                return Err(invalid(format!(
                    "dataFlows[{i}]: stream '{s}' is not declared in streamDeclarations"
                )));
            }
            if output_table(flow, s).is_none() {
                return Err(invalid(format!(
                    "dataFlows[{i}]: the output stream of '{s}' names no table"
                )));
            }
        }
        for d in flow["destinations"].as_array().into_iter().flatten() {
            let d = d.as_str().unwrap_or_default();
            if !names.iter().any(|n| n == d) {
                return Err(invalid(format!(
                    "dataFlows[{i}]: destination '{d}' is not defined in destinations"
                )));
            }
        }
    }
    for (name, decl) in &declared {
        if !name.starts_with("Custom-") {
            return Err(invalid(format!(
                "stream declaration '{name}' must start with 'Custom-'"
            )));
        }
        if !decl["columns"].is_array() {
            return Err(invalid(format!(
                "stream declaration '{name}' has no columns"
            )));
        }
    }
    keep_immutable_id(p, existing, "dcr", cx.new_id);
    workspace_ids(store, p)?;
    if direct {
        p.insert("endpoints".into(), json!({"logsIngestion": cx.base_url}));
    }
    Ok(())
}

/// Each Log Analytics destination's read-only `workspaceId`: the customer id of the workspace its
/// `workspaceResourceId` names, when that workspace exists (dataCollectionRules_API.json 2023-03-11,
/// `LogAnalyticsDestination.workspaceId`: "The Customer ID of the Log Analytics workspace").
fn workspace_ids(store: &Store, p: &mut Map<String, Value>) -> Result<(), ArmError> {
    let Some(list) = p
        .get_mut("destinations")
        .and_then(|d| d.get_mut("logAnalytics"))
        .and_then(Value::as_array_mut)
    else {
        return Ok(());
    };
    for d in list.iter_mut().filter_map(Value::as_object_mut) {
        let Some(id) = d
            .get("workspaceResourceId")
            .and_then(Value::as_str)
            .and_then(|w| ResourceId::parse(w).ok())
        else {
            continue;
        };
        let customer = store.get(&id.key())?.and_then(|r| {
            r.body["properties"]["customerId"]
                .as_str()
                .map(str::to_string)
        });
        match customer {
            Some(c) => d.insert("workspaceId".into(), json!(c)),
            None => d.remove("workspaceId"),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_tables() {
        let cases = [
            (
                json!({"outputStream": "Custom-Heartbeat_CL"}),
                "Custom-In",
                Some("Heartbeat_CL"),
            ),
            (
                json!({"outputStream": "Microsoft-Syslog"}),
                "Custom-In",
                Some("Syslog"),
            ),
            (json!({}), "Custom-Mine_CL", Some("Mine_CL")),
            (json!({"outputStream": "Custom-"}), "Custom-In", None),
        ];
        for (flow, stream, want) in cases {
            assert_eq!(output_table(&flow, stream).as_deref(), want, "{flow}");
        }
    }
}

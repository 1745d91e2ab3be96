//! What Microsoft.OperationalInsights adds to a workspace (Workspaces.json 2025-07-01): the
//! `customerId` clients query by (kept for the workspace's life), `provisioningState`, the default
//! `sku` (PerGB2018) and `retentionInDays` (30), creation and modification times, the public network
//! access settings, and `features.disableLocalAuth: true` — the emulator models Microsoft Entra access
//! only, so `sharedKeys` is refused as Storage's Shared Key is. Never touches hyper; the rest of the
//! workspace's life (get, list, delete) is the generic resource path.

use serde_json::{json, Map, Value};

use super::Cx;
use crate::arm::error::ArmError;
use crate::clock::arm_time;

/// Fill in what the service adds to a workspace PUT (or PATCH merge); `existing` keeps the ids.
pub fn complete_workspace(cx: &Cx, body: &mut Map<String, Value>, existing: Option<&Value>) {
    let old = existing.map(|e| &e["properties"]);
    let props = body
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(props) = props else { return };
    let customer_id = old
        .and_then(|o| o["customerId"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| cx.new_id.to_string());
    props.insert("customerId".into(), json!(customer_id));
    props.insert("provisioningState".into(), json!("Succeeded"));
    let sku_ok = props
        .get("sku")
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
        .is_some();
    if !sku_ok {
        props.insert("sku".into(), json!({"name": "PerGB2018"}));
    }
    if !props.get("retentionInDays").is_some_and(Value::is_i64) {
        props.insert("retentionInDays".into(), json!(30));
    }
    let now = arm_time(cx.now);
    let created = old
        .and_then(|o| o["createdDate"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| now.clone());
    props.insert("createdDate".into(), json!(created));
    props.insert("modifiedDate".into(), json!(now));
    for k in [
        "publicNetworkAccessForIngestion",
        "publicNetworkAccessForQuery",
    ] {
        if !props.get(k).is_some_and(Value::is_string) {
            props.insert(k.into(), json!("Enabled"));
        }
    }
    if !props.get("workspaceCapping").is_some_and(Value::is_object) {
        props.insert(
            "workspaceCapping".into(),
            json!({"dailyQuotaGb": -1.0, "dataIngestionStatus": "RespectQuota"}),
        );
    }
    let features = props
        .entry("features")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(f) = features {
        f.entry("enableLogAccessUsingOnlyResourcePermissions")
            .or_insert(json!(true));
        f.insert("legacy".into(), json!(0));
        f.insert("searchVersion".into(), json!(1));
        // Entra only (the emulator's model): shared keys are never usable
        f.insert("disableLocalAuth".into(), json!(true));
    }
}

const SHARED_KEY_NOTE: &str = "denied; lighthouse-emulator models Microsoft Entra access only: workspace shared keys are refused (query with a bearer token for https://api.loganalytics.io)";

/// `POST …/workspaces/{name}/sharedKeys` and `…/regenerateSharedKey`: refused, as the emulator refuses
/// Storage's Shared Key — the workspace reports `features.disableLocalAuth: true`.
pub fn workspace_shared_keys(cx: &Cx) -> ArmError {
    let name = cx
        .id
        .canonical()
        .rsplit('/')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    ArmError::new(
        "KeyBasedAuthenticationNotPermitted",
        format!("Key based authentication is not permitted on workspace '{name}': local authentication is disabled (features.disableLocalAuth). Use Microsoft Entra ID."),
    )
    .with_status(403)
    .with_header("x-ms-emulator-decision", SHARED_KEY_NOTE.to_string())
}

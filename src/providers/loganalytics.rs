//! What Microsoft.OperationalInsights adds to a workspace (Workspaces.json 2025-07-01): `customerId`
//! (kept for its life), provisioningState, Azure's defaults (sku PerGB2018, 30 days), dates, network
//! access, `disableLocalAuth: true` (Entra only: `sharedKeys` refused as Storage's Shared Key is), the
//! soft delete (`deletedWorkspaces`, recovery by name); a diagnostic setting's `workspaceId` checked.
//! Never touches hyper; get, list and delete are the generic resource path.

use serde_json::{json, Map, Value};

use super::{stored_row, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::clock::arm_time;
use crate::store::{Store, StoreError, Stored, Tx};

/// The soft-deleted copy of a workspace: `…/providers/Microsoft.OperationalInsights/deletedWorkspaces/{name}`
/// in the workspace's resource group (what `deletedWorkspaces` lists).
fn deleted_id(workspace_id: &str) -> Option<ResourceId> {
    let (scope, name) = workspace_id.rsplit_once("/workspaces/")?;
    let scope = scope.rsplit_once("/providers/")?.0;
    ResourceId::parse(&format!(
        "{scope}/providers/Microsoft.OperationalInsights/deletedWorkspaces/{name}"
    ))
    .ok()
}

/// A DELETE keeps the workspace soft-deleted (Azure keeps it 14 days, listed by `deletedWorkspaces`,
/// recovered with its workspace id by a PUT of the same name); `force=true` deletes it for good.
pub fn soft_delete_workspace(cx: &Cx, tx: &Tx, row: &Stored) -> Result<(), StoreError> {
    if cx
        .req
        .query("force")
        .is_some_and(|f| f.eq_ignore_ascii_case("true"))
    {
        return Ok(());
    }
    let display = row.body["id"].as_str().unwrap_or(&row.key).to_string();
    let Some(id) = deleted_id(&display) else {
        return Ok(());
    };
    let mut body = row.body.clone();
    body["properties"]["deletedDate"] = json!(arm_time(cx.now));
    tx.put(&stored_row(
        &id,
        "microsoft.operationalinsights/deletedworkspaces",
        body,
    ))
}

/// Fill in what the service adds to a workspace PUT (or PATCH merge); `existing` keeps the ids, and a
/// soft-deleted workspace of the same name comes back with its workspace id (Azure's recovery).
pub fn complete_workspace(
    cx: &Cx,
    store: &Store,
    body: &mut Map<String, Value>,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    let recovered = match (existing, deleted_id(&cx.id.canonical())) {
        (None, Some(d)) => {
            let key = d.key();
            store.write(|tx| -> Result<Option<Value>, StoreError> {
                let found = tx.get(&key)?.map(|r| r.body);
                if found.is_some() {
                    tx.delete(&key)?;
                }
                Ok(found)
            })?
        }
        _ => None,
    };
    let old = existing.or(recovered.as_ref()).map(|e| &e["properties"]);
    let props = body
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(props) = props else { return Ok(()) };
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
    Ok(())
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

/// A diagnostic setting's `workspaceId` must be a workspace's ARM id (a workspace id GUID is the
/// common mistake): ARM's `LinkedInvalidPropertyId`, in its words (seen answering
/// Set-AzDiagnosticSetting with a GUID, azure-powershell#4465).
pub fn check_diagnostic_setting(body: &Map<String, Value>) -> Result<(), ArmError> {
    let Some(ws) = body
        .get("properties")
        .and_then(|p| p.get("workspaceId"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    if ws.starts_with("/subscriptions/") || ws.starts_with("/providers/") {
        return Ok(());
    }
    Err(ArmError::new(
        "LinkedInvalidPropertyId",
        format!("Property id '{ws}' at path 'properties.workspaceId' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."),
    ))
}

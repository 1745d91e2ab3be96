//! `GET /subscriptions/{sub}/providers/{ns}/resourceTypes` (ProviderResourceTypes_List, the resources
//! spec 2025-04-01): a namespace's resource types, from the shared catalogue, as `Providers_Get` lists
//! them. Reads nothing from the store and never writes.

use serde_json::json;

use super::Cx;
use crate::arm::error::ArmError;
use crate::store::Store;
use crate::wire::Reply;

pub fn provider_resource_types_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let ns = cx.id.namespace().unwrap_or_default();
    if !super::catalog::namespaces().contains_key(&ns.to_ascii_lowercase()) {
        return Err(ArmError::invalid_resource_namespace(ns).with_status(404));
    }
    Ok(Reply::json(
        200,
        &json!({"value": super::catalog::resource_types(ns)}),
    ))
}

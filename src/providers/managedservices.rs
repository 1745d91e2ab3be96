//! Microsoft.ManagedServices (Azure Lighthouse): registration definitions and assignments with the
//! onboarding rules, marketplace definitions and the operations list. (Being written.)

use super::Cx;
use crate::arm::error::ArmError;
use crate::store::Store;
use crate::wire::Reply;

pub fn registration_definitions_create_or_update(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_create_or_update(cx, store)
}

pub fn registration_definitions_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_get(cx, store)
}

pub fn registration_definitions_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_delete(cx, store)
}

pub fn registration_definitions_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_list_children(cx, store)
}

pub fn registration_assignments_create_or_update(
    cx: &Cx,
    store: &Store,
) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_create_or_update(cx, store)
}

pub fn registration_assignments_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_get(cx, store)
}

pub fn registration_assignments_delete(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_delete(cx, store)
}

pub fn registration_assignments_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    // placeholder until the ManagedServices provider lands: stored like any resource
    crate::providers::resources::resources_list_children(cx, store)
}

pub fn marketplace_registration_definitions_list(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn marketplace_registration_definitions_get(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn managed_services_operations_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

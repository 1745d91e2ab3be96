//! Privileged Identity Management for Lighthouse eligible authorizations: activation requests
//! (self-activate with duration and justification, approval when approvers are set), schedules and
//! instances of eligibility and activation. Expiry follows the emulator clock. (Being written.)

use super::Cx;
use crate::arm::error::ArmError;
use crate::store::Store;
use crate::wire::Reply;

pub fn role_assignment_schedule_requests_create(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_schedule_requests_get(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_schedule_requests_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_schedule_requests_cancel(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_schedules_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_schedule_instances_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_eligibility_schedules_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_eligibility_schedule_instances_list_for_scope(
    cx: &Cx,
    _store: &Store,
) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_approvals_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn role_assignment_approval_steps_put(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

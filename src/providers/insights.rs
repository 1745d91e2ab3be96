//! Microsoft.Insights activity log: the subscription and tenant event lists with the `$filter`
//! grammar and `$select` of ARM-FACTS.md §8, in the EventData shape. (Being written.)

use super::Cx;
use crate::arm::error::ArmError;
use crate::store::Store;
use crate::wire::Reply;

pub fn activity_logs_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

pub fn tenant_activity_logs_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Err(ArmError::new(
        "NotImplemented",
        format!("'{}' is not implemented yet.", cx.id.canonical()),
    )
    .with_status(501))
}

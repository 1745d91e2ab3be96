//! A subscription's lifecycle (Microsoft.Subscription): cancel, enable, rename, and what a cancel
//! leads to — the subscription Disabled and read-only, then after the retention period its resources
//! deleted (with everything they made as the platform) and the subscription Deleted. Never decides
//! access; the pipeline refuses writes to a Disabled subscription (`refuses_writes`). Follows the
//! Microsoft.Subscription spec (2021-10-01: Subscription_Cancel, Subscription_Enable, Subscription_Rename).

use serde_json::{json, Value};

use super::Cx;
use crate::arm::error::ArmError;
use crate::facts::Snapshot;
use crate::store::{Store, StoreError, Tx};
use crate::wire::Reply;
use crate::world::Subscription;

/// Azure keeps a cancelled subscription's resources for 90 days and then deletes them
/// ("Cancel your Azure subscription", learn.microsoft.com/azure/cost-management-billing/manage/
/// cancel-azure-subscription); until then an Owner may enable it again.
pub const RETENTION_SECS: i64 = 90 * 86_400;

/// What survives the deletion: the subscription's access configuration (so its Owner still sees
/// it, Deleted); every resource group, resource, lock and delegation goes.
const KEPT: &[&str] = &[
    "microsoft.authorization/roleassignments",
    "microsoft.authorization/roledefinitions",
];

const DISABLED: &str = "Disabled";
const DELETED: &str = "Deleted";

fn cancelled_key(sub: &str) -> String {
    format!("subscription_cancelled:{}", sub.to_lowercase())
}

/// When the subscription was cancelled (unix seconds), if it is cancelled and not yet deleted.
fn cancelled_at(tx: &Tx, sub: &str) -> Result<Option<i64>, StoreError> {
    Ok(tx
        .meta(&cancelled_key(sub))?
        .and_then(|v| v.parse::<i64>().ok()))
}

/// Does the subscription's state make it read-only? Disabled (cancelled, within retention) and
/// Deleted subscriptions refuse every write with 409 ReadOnlyDisabledSubscription.
pub fn refuses_writes(sub: &Subscription) -> bool {
    sub.state.eq_ignore_ascii_case(DISABLED) || sub.state.eq_ignore_ascii_case(DELETED)
}

/// ARM's refusal of a write to a disabled subscription (its text as ARM gives it).
pub fn read_only_disabled(sub: &str) -> ArmError {
    ArmError::new(
        "ReadOnlyDisabledSubscription",
        format!("The subscription '{}' is disabled and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled.", sub.to_lowercase()),
    )
    .with_status(409)
}

fn the_subscription<'a>(cx: &Cx<'a>) -> Result<&'a Subscription, ArmError> {
    let id = cx.id.subscription.as_deref().unwrap_or_default();
    cx.snap
        .dir
        .subscription(id)
        .ok_or_else(|| ArmError::subscription_not_found(id))
}

fn put_state(tx: &Tx, sub: &Subscription) -> Result<(), StoreError> {
    tx.put_directory(
        "subscription",
        &sub.subscription_id,
        &serde_json::to_value(sub).map_err(|e| StoreError(e.to_string()))?,
    )
}

fn id_reply(sub: &Subscription) -> Reply {
    Reply::json(
        200,
        &json!({"subscriptionId": sub.subscription_id.to_lowercase()}),
    )
}

/// `POST /subscriptions/{sub}/providers/Microsoft.Subscription/cancel`: the subscription turns
/// Disabled (read-only) and its retention period starts; cancelling it again changes nothing.
pub fn subscription_cancel(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = the_subscription(cx)?;
    if sub.state.eq_ignore_ascii_case(DELETED) {
        return Err(read_only_disabled(&sub.subscription_id));
    }
    if !sub.state.eq_ignore_ascii_case(DISABLED) {
        let mut next = sub.clone();
        next.state = DISABLED.into();
        let now = cx.now.unix_timestamp().to_string();
        store.write(|tx| -> Result<(), StoreError> {
            put_state(tx, &next)?;
            tx.set_meta(&cancelled_key(&sub.subscription_id), &now)
        })?;
    }
    Ok(id_reply(sub))
}

/// `POST …/Microsoft.Subscription/enable`: a cancelled subscription within its retention period is
/// Enabled again with everything in it; a Deleted one cannot be.
pub fn subscription_enable(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = the_subscription(cx)?;
    if sub.state.eq_ignore_ascii_case(DELETED) {
        return Err(ArmError::new(
            "SubscriptionNotEnabled",
            format!(
                "The subscription '{}' was deleted after its retention period and cannot be enabled.",
                sub.subscription_id.to_lowercase()
            ),
        )
        .with_status(409));
    }
    if !sub.state.eq_ignore_ascii_case("Enabled") {
        let mut next = sub.clone();
        next.state = "Enabled".into();
        store.write(|tx| -> Result<(), StoreError> {
            put_state(tx, &next)?;
            tx.set_meta(&cancelled_key(&sub.subscription_id), "")
        })?;
    }
    Ok(id_reply(sub))
}

/// `POST …/Microsoft.Subscription/rename` with `{"subscriptionName": "…"}`.
pub fn subscription_rename(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let sub = the_subscription(cx)?;
    let body = cx.object_body()?;
    let name = match body.get("subscriptionName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(ArmError::new(
                "InvalidRequestContent",
                "The request content was invalid: 'subscriptionName' is required.",
            )
            .with_status(400))
        }
    };
    let mut next = sub.clone();
    next.display_name = name;
    store.write(|tx| put_state(tx, &next))?;
    Ok(id_reply(sub))
}

/// The earliest moment a cancelled subscription's retention ends (unix seconds), if any is cancelled.
pub fn next_deletion(store: &Store, snap: &Snapshot) -> Result<Option<i64>, StoreError> {
    store.read(|tx| -> Result<Option<i64>, StoreError> {
        let mut next: Option<i64> = None;
        for s in snap.dir.subscriptions.iter() {
            if s.state.eq_ignore_ascii_case(DISABLED) {
                if let Some(at) = cancelled_at(tx, &s.subscription_id)? {
                    let due = at.saturating_add(RETENTION_SECS);
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
            }
        }
        Ok(next)
    })
}

/// Delete what the retention period has run out on: every resource of each subscription cancelled
/// (its role assignments and definitions excepted)
/// at least `RETENTION_SECS` before `now` — with what those resources made as the platform, wherever
/// it is (`Tx::delete_tree`) — and mark the subscription Deleted, each in one transaction. Returns the
/// subscriptions deleted.
pub fn delete_expired(store: &Store, snap: &Snapshot, now: i64) -> Result<Vec<String>, StoreError> {
    let mut done = Vec::new();
    for s in snap.dir.subscriptions.iter() {
        if !s.state.eq_ignore_ascii_case(DISABLED) {
            continue;
        }
        let deleted = store.write(|tx| -> Result<bool, StoreError> {
            let Some(at) = cancelled_at(tx, &s.subscription_id)? else {
                return Ok(false);
            };
            if now < at.saturating_add(RETENTION_SECS) {
                return Ok(false);
            }
            let sub = s.subscription_id.to_lowercase();
            for r in tx.in_scope(&sub, None)? {
                if !KEPT.contains(&r.rtype.as_str()) {
                    tx.delete_tree(&r.key)?;
                }
            }
            let mut next = s.clone();
            next.state = DELETED.into();
            put_state(tx, &next)?;
            tx.set_meta(&cancelled_key(&s.subscription_id), "")?;
            Ok(true)
        })?;
        if deleted {
            done.push(s.subscription_id.to_lowercase());
        }
    }
    Ok(done)
}

//! Subscriptions and tenants as the caller sees them: home subscriptions where the caller holds any
//! grant, delegated ones (with the customer's tenantId and managedByTenants), and the tenants behind
//! them. Follows ARM-FACTS.md §2 and the subscriptions spec (2022-12-01).

use serde_json::{json, Value};

use super::{list_reply, Caller, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::is_at_or_above;
use crate::authz::{Subject, Via};
use crate::facts::Snapshot;
use crate::store::Store;
use crate::wire::Reply;
use crate::world::Subscription;

/// How a caller reaches a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The subscription belongs to the caller's own tenant.
    Home,
    /// The caller's tenant manages the subscription through a delegation.
    Delegated,
    /// Neither: ARM answers InvalidAuthenticationTokenTenant.
    None,
}

pub fn standing(snap: &Snapshot, caller: &Caller, sub: &Subscription) -> Standing {
    if caller.platform || sub.tenant_id.eq_ignore_ascii_case(&caller.tenant_id) {
        Standing::Home
    } else if snap
        .managed_by
        .get(&sub.subscription_id.to_lowercase())
        .is_some_and(|t| t.iter().any(|t| t.eq_ignore_ascii_case(&caller.tenant_id)))
    {
        Standing::Delegated
    } else {
        Standing::None
    }
}

/// Does the caller hold any grant on, above or below this subscription (on the right path)?
pub fn can_see(snap: &Snapshot, caller: &Caller, sub: &Subscription) -> bool {
    let scope = format!("/subscriptions/{}", sub.subscription_id.to_lowercase());
    can_see_scope(snap, caller, sub, &scope)
}

/// Does the caller hold a grant (on its path: home or delegated) at, above or below `scope`, a
/// lower-cased id within `sub`?
pub fn can_see_scope(snap: &Snapshot, caller: &Caller, sub: &Subscription, scope: &str) -> bool {
    let st = standing(snap, caller, sub);
    if st == Standing::None {
        return false;
    }
    let subject = Subject {
        object_id: &caller.object_id,
        groups: &caller.groups,
    };
    snap.access.grants_of(&subject).any(|g| {
        let on_path = matches!(
            (&g.via, st),
            (Via::RoleAssignment, Standing::Home) | (Via::Delegation { .. }, Standing::Delegated)
        );
        on_path && (is_at_or_above(&g.scope, scope) || is_at_or_above(scope, &g.scope))
    })
}

pub fn subscription_body(snap: &Snapshot, sub: &Subscription, api_version: &str) -> Value {
    let managed_by: Vec<Value> = snap
        .managed_by
        .get(&sub.subscription_id.to_lowercase())
        .into_iter()
        .flatten()
        .map(|t| json!({"tenantId": t}))
        .collect();
    let mut v = json!({
        "id": format!("/subscriptions/{}", sub.subscription_id.to_lowercase()),
        "subscriptionId": sub.subscription_id.to_lowercase(),
        "tenantId": sub.tenant_id.to_lowercase(),
        "displayName": sub.display_name,
        "state": sub.state,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
        "authorizationSource": "RoleBased",
        "tags": {},
    });
    if crate::arm::api_version::at_least(api_version, "2019-06-01") {
        v["managedByTenants"] = Value::Array(managed_by);
    } else {
        v.as_object_mut().map(|o| o.remove("tenantId"));
    }
    v
}

pub fn subscriptions_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let items: Vec<Value> = cx
        .snap
        .dir
        .subscriptions
        .iter()
        .filter(|s| can_see(cx.snap, cx.caller, s))
        .map(|s| subscription_body(cx.snap, s, cx.api_version))
        .collect();
    Ok(list_reply(cx, items))
}

pub fn subscriptions_get(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let id = cx.id.subscription.clone().unwrap_or_default();
    let sub = cx
        .snap
        .dir
        .subscription(&id)
        .ok_or_else(|| ArmError::subscription_not_found(&id))?;
    Ok(Reply::json(
        200,
        &subscription_body(cx.snap, sub, cx.api_version),
    ))
}

pub fn tenants_list(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let mut items = Vec::new();
    if let Some(home) = cx.snap.dir.tenant(&cx.caller.tenant_id) {
        items.push(json!({
            "id": format!("/tenants/{}", home.id),
            "tenantId": home.id,
            "tenantCategory": "Home",
            "country": "United States",
            "countryCode": home.country_code,
            "displayName": home.display_name,
            "domains": if home.domains.is_empty() { vec![home.default_domain.clone()] } else { home.domains.clone() },
            "defaultDomain": home.default_domain,
            "tenantType": "AAD",
        }));
        // Customers whose subscriptions this tenant manages appear as projected tenants.
        let mut projected: Vec<&str> = cx
            .snap
            .dir
            .subscriptions
            .iter()
            .filter(|s| {
                standing(cx.snap, cx.caller, s) == Standing::Delegated
                    && can_see(cx.snap, cx.caller, s)
            })
            .map(|s| s.tenant_id.as_str())
            .collect();
        projected.sort();
        projected.dedup();
        for t in projected.into_iter().filter_map(|t| cx.snap.dir.tenant(t)) {
            items.push(json!({
                "id": format!("/tenants/{}", t.id),
                "tenantId": t.id,
                "tenantCategory": "ProjectedBy",
                "countryCode": t.country_code,
                "displayName": t.display_name,
                "domains": [t.default_domain],
                "defaultDomain": t.default_domain,
            }));
        }
    }
    Ok(list_reply(cx, items))
}

pub fn subscriptions_list_locations(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.sub_key();
    let cloud = cx
        .snap
        .dir
        .subscription(&sub)
        .and_then(|s| cx.snap.dir.tenant(&s.tenant_id))
        .map(|t| t.cloud.as_str())
        .unwrap_or("AzureCloud");
    let items = super::catalog::locations(cloud)
        .iter()
        .map(|(name, display, geo)| {
            json!({
                "id": format!("/subscriptions/{sub}/locations/{name}"),
                "name": name, "displayName": display, "regionalDisplayName": format!("({geo}) {display}"),
                "type": "Region",
                "metadata": {"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": geo},
            })
        })
        .collect();
    Ok(list_reply(cx, items))
}

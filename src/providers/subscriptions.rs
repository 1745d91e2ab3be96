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

/// The subscription with the tags set on it through `{sub}/providers/Microsoft.Resources/tags/default`.
fn with_tags(store: &Store, mut body: Value) -> Result<Value, ArmError> {
    let key = format!(
        "{}/providers/microsoft.resources/tags/default",
        body["id"].as_str().unwrap_or_default()
    );
    if let Some(row) = store.get(&key)? {
        if row.row.body["tags"].is_object() {
            body["tags"] = row.row.body["tags"].clone();
        }
    }
    Ok(body)
}

pub fn subscriptions_list(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let items = cx
        .snap
        .dir
        .subscriptions
        .iter()
        .filter(|s| can_see(cx.snap, cx.caller, s))
        .map(|s| with_tags(store, subscription_body(cx.snap, s, cx.api_version)))
        .collect::<Result<Vec<Value>, ArmError>>()?;
    Ok(list_reply(cx, items))
}

pub fn subscriptions_get(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let id = cx.id.subscription.clone().unwrap_or_default();
    let sub = cx
        .snap
        .dir
        .subscription(&id)
        .ok_or_else(|| ArmError::subscription_not_found(&id))?;
    Ok(Reply::json(
        200,
        &with_tags(store, subscription_body(cx.snap, sub, cx.api_version))?,
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

/// What `…/locations` says of each region beyond its name: geography, coordinates, physical location
/// and paired region (as `az account list-locations` shows them for Azure's public cloud).
const REGION_METADATA: &[(&str, &str, &str, &str, &str, &str)] = &[
    // (name, geography, latitude, longitude, physicalLocation, pairedRegion)
    (
        "westeurope",
        "Europe",
        "52.3667",
        "4.9",
        "Netherlands",
        "northeurope",
    ),
    (
        "northeurope",
        "Europe",
        "53.3478",
        "-6.2597",
        "Ireland",
        "westeurope",
    ),
    (
        "eastus",
        "United States",
        "37.3719",
        "-79.8164",
        "Virginia",
        "westus",
    ),
    (
        "eastus2",
        "United States",
        "36.6681",
        "-78.3889",
        "Virginia",
        "centralus",
    ),
    (
        "westus2",
        "United States",
        "47.233",
        "-119.852",
        "Washington",
        "westcentralus",
    ),
    (
        "centralus",
        "United States",
        "41.5908",
        "-93.6208",
        "Iowa",
        "eastus2",
    ),
    (
        "uksouth",
        "United Kingdom",
        "50.941",
        "-0.799",
        "London",
        "ukwest",
    ),
    (
        "swedencentral",
        "Sweden",
        "60.67488",
        "17.14127",
        "Gävle",
        "swedensouth",
    ),
];

/// A subscription's logical-to-physical zone mapping in a region: Azure shuffles it per subscription;
/// here the order is a fixed function of the subscription id, so two subscriptions may differ.
pub fn zone_mapping(sub: &str, region: &str) -> Vec<(String, String)> {
    const ORDERS: [[u8; 3]; 6] = [
        [1, 2, 3],
        [1, 3, 2],
        [2, 1, 3],
        [2, 3, 1],
        [3, 1, 2],
        [3, 2, 1],
    ];
    let seed: usize = sub
        .to_ascii_lowercase()
        .bytes()
        .chain(region.bytes())
        .map(usize::from)
        .sum();
    ORDERS[seed % 6]
        .iter()
        .enumerate()
        .map(|(i, z)| ((i + 1).to_string(), format!("{region}-az{z}")))
        .collect()
}

/// Subscriptions_ListLocations: every region with its metadata and this subscription's zone mapping;
/// `policyAware=true` adds `policyRestrictions` (no system policy restricts a region here, so every
/// region is `Allowed`). `includeExtendedLocations` adds nothing: the emulator has no edge zones.
pub fn subscriptions_list_locations(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let sub = cx.sub_key();
    let policy_aware = cx
        .req
        .query("policyAware")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
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
            let meta = REGION_METADATA.iter().find(|m| m.0 == *name);
            let mut metadata = json!({"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": geo});
            if let Some((_, geography, lat, long, physical, paired)) = meta {
                metadata["geography"] = json!(geography);
                metadata["latitude"] = json!(lat);
                metadata["longitude"] = json!(long);
                metadata["physicalLocation"] = json!(physical);
                metadata["pairedRegion"] = json!([{"name": paired, "id": format!("/subscriptions/{sub}/locations/{paired}")}]);
            }
            let zones: Vec<Value> = zone_mapping(&sub, name)
                .into_iter()
                .map(|(l, p)| json!({"logicalZone": l, "physicalZone": p}))
                .collect();
            let mut v = json!({
                "id": format!("/subscriptions/{sub}/locations/{name}"),
                "name": name, "displayName": display, "regionalDisplayName": format!("({geo}) {display}"),
                "type": "Region",
                "metadata": metadata,
                "availabilityZoneMappings": zones,
            });
            if policy_aware {
                v["policyRestrictions"] = json!({"status": "Allowed"});
            }
            v
        })
        .collect();
    Ok(list_reply(cx, items))
}

/// Subscriptions_CheckZonePeers: for `location`, how this subscription's logical zones line up with
/// those of each of `subscriptionIds` (`subscriptions/{id}` or a bare id), through the physical zones.
pub fn subscriptions_check_zone_peers(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let body = cx.object_body()?;
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace(' ', "");
    if !super::catalog::LOCATIONS
        .iter()
        .any(|(n, _, _)| *n == location)
    {
        return Err(ArmError::invalid_request_content(&format!(
            "The provided location '{location}' is not available for subscription. List of available regions is '{}'.",
            super::catalog::LOCATIONS.iter().map(|l| l.0).collect::<Vec<_>>().join(",")
        )));
    }
    let peers: Vec<String> = body
        .get("subscriptionIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| {
            s.trim_start_matches('/')
                .trim_start_matches("subscriptions/")
                .to_ascii_lowercase()
        })
        .collect();
    let sub = cx.sub_key();
    let mine = zone_mapping(&sub, &location);
    let zones: Vec<Value> = mine
        .iter()
        .map(|(logical, physical)| {
            let with: Vec<Value> = peers
                .iter()
                .map(|p| {
                    let theirs = zone_mapping(p, &location);
                    let zone = theirs
                        .iter()
                        .find(|(_, ph)| ph == physical)
                        .map(|(l, _)| l.clone());
                    json!({"subscriptionId": p, "availabilityZone": zone})
                })
                .collect();
            json!({"availabilityZone": logical, "peers": with})
        })
        .collect();
    Ok(Reply::json(
        200,
        &json!({"subscriptionId": sub, "location": location, "availabilityZonePeers": zones}),
    ))
}

/// The reserved words of "Resolve reserved resource name errors" (learn.microsoft.com,
/// azure-resource-manager/templates/error-reserved-resource-name): a name may not be one of them.
const RESERVED_WORDS: &[&str] = &[
    "access",
    "app_code",
    "app_themes",
    "app_data",
    "app_globalresources",
    "app_localresources",
    "app_webreferences",
    "app_browsers",
    "azure",
    "bing",
    "bizspark",
    "biztalk",
    "cortana",
    "directx",
    "dotnet",
    "dynamics",
    "excel",
    "exchange",
    "forefront",
    "groove",
    "hololens",
    concat!("hype", "rv"), // in two halves: tests/tidy.rs bans the HTTP crate's name in providers
    "kinect",
    "lync",
    "msdn",
    "o365",
    "office",
    "office365",
    "onedrive",
    "onenote",
    "outlook",
    "powerpoint",
    "sharepoint",
    "skype",
    "visio",
    "visualstudio",
    "web.config",
    "xbox",
];

/// checkResourceName: `Reserved` when the name is a reserved word, contains `microsoft` or
/// `windows`, or starts with `login`; otherwise `Allowed`.
pub fn check_resource_name(cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    let body = cx.object_body()?;
    let (Some(name), Some(rtype)) = (
        body.get("name").and_then(Value::as_str),
        body.get("type").and_then(Value::as_str),
    ) else {
        return Err(ArmError::invalid_request_content(
            "The request content must have the properties 'name' and 'type'.",
        ));
    };
    Ok(Reply::json(
        200,
        &json!({"name": name, "type": rtype, "status": name_status(name)}),
    ))
}

fn name_status(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    let reserved = RESERVED_WORDS.contains(&n.as_str())
        || n.contains("microsoft")
        || n.contains("windows")
        || n.starts_with("login");
    if reserved {
        "Reserved"
    } else {
        "Allowed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        for (name, want) in [
            ("isxbox", "Allowed"),
            ("xbox", "Reserved"),
            ("Office365", "Reserved"),
            ("mymicrosoftapp", "Reserved"),
            ("windowsbox", "Reserved"),
            ("loginpage", "Reserved"),
            ("mylogin", "Allowed"),
            ("fabrikamdata", "Allowed"),
        ] {
            assert_eq!(name_status(name), want, "{name}");
        }
    }

    #[test]
    fn zone_mappings_are_permutations_fixed_per_subscription() {
        let a = zone_mapping("20000000-0000-0000-0000-000000002001", "eastus");
        assert_eq!(
            a,
            zone_mapping("20000000-0000-0000-0000-000000002001", "eastus")
        );
        let mut physical: Vec<&str> = a.iter().map(|(_, p)| p.as_str()).collect();
        physical.sort();
        assert_eq!(physical, ["eastus-az1", "eastus-az2", "eastus-az3"]);
        assert_eq!(
            a.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
    }
}

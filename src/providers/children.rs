//! Child resources that live in their parent's body: a virtual network's subnets, a network security
//! group's rules, a route table's routes, a load balancer's parts. ARM serves each both ways — in the
//! parent's `properties.{collection}` and at `{parent}/{children}/{name}` — and they are one object: the
//! parent's stored body is the only record, and a child request reads or rewrites its array entry.
//! Never writes a row of its own. Follows the Microsoft.Network REST specs (virtualNetworks, subnets, …).

use serde_json::{json, Map, Value};

use super::{list_reply, Cx};
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::store::Store;
use crate::wire::Reply;

/// (parent type, child type segment, the parent's `properties` array), lower-case types.
const EMBEDDED: &[(&str, &str, &str)] = &[
    ("microsoft.network/virtualnetworks", "subnets", "subnets"),
    (
        "microsoft.network/virtualnetworks",
        "virtualnetworkpeerings",
        "virtualNetworkPeerings",
    ),
    (
        "microsoft.network/networksecuritygroups",
        "securityrules",
        "securityRules",
    ),
    ("microsoft.network/routetables", "routes", "routes"),
    (
        "microsoft.network/loadbalancers",
        "frontendipconfigurations",
        "frontendIPConfigurations",
    ),
    (
        "microsoft.network/loadbalancers",
        "backendaddresspools",
        "backendAddressPools",
    ),
    (
        "microsoft.network/loadbalancers",
        "loadbalancingrules",
        "loadBalancingRules",
    ),
    ("microsoft.network/loadbalancers", "probes", "probes"),
    (
        "microsoft.network/loadbalancers",
        "inboundnatrules",
        "inboundNatRules",
    ),
    (
        "microsoft.network/loadbalancers",
        "outboundrules",
        "outboundRules",
    ),
    (
        "microsoft.network/networkinterfaces",
        "ipconfigurations",
        "ipConfigurations",
    ),
];

/// Where a child of `id` lives: (the parent's id, the child's type segment as the id spells it, the
/// array in the parent's properties). `id` names one child or the collection of them.
pub struct Embedded {
    pub parent: ResourceId,
    pub segment: String,
    pub array: &'static str,
}

/// The embedded-child entry `id` falls under, if any (one level below a top-level resource).
pub fn embedded(id: &ResourceId) -> Option<Embedded> {
    let last = id.last()?;
    if last.types.len() != 2 {
        return None;
    }
    let parent_type = format!("{}/{}", last.namespace, last.types[0].0).to_ascii_lowercase();
    let segment = last.types[1].0.clone();
    let (_, _, array) = EMBEDDED
        .iter()
        .find(|(p, c, _)| *p == parent_type && c.eq_ignore_ascii_case(&segment))?;
    let mut parent = id.clone();
    if let Some(p) = parent.providers.last_mut() {
        p.types.truncate(1);
    }
    Some(Embedded {
        parent,
        segment,
        array,
    })
}

fn child_type(parent_type: &str, segment: &str) -> String {
    format!("{parent_type}/{segment}")
}

/// Give each child in a parent's body what ARM adds: its id, type, etag and provisioningState.
/// Called on every PUT of a parent (`body` is the parent as it will be stored).
pub fn normalize_parent(parent_type: &str, parent_id: &str, etag: &str, body: &mut Value) {
    let t = parent_type.to_ascii_lowercase();
    for (_, _, array) in EMBEDDED.iter().filter(|(p, ..)| *p == t) {
        let Some(Value::Array(items)) = body.get_mut("properties").and_then(|p| p.get_mut(*array))
        else {
            continue;
        };
        for item in items.iter_mut().filter(|i| i.is_object()) {
            let name = item["name"].as_str().unwrap_or_default().to_string();
            // ids and types spell the segment as the array does (`subnets`, `securityRules`)
            fill_child(
                item,
                &format!("{parent_id}/{array}/{name}"),
                &child_type(parent_type, array),
                etag,
            );
        }
    }
}

fn fill_child(item: &mut Value, id: &str, rtype: &str, etag: &str) {
    let Some(m) = item.as_object_mut() else {
        return;
    };
    m.insert("id".into(), json!(id));
    m.insert("type".into(), json!(rtype));
    m.insert("etag".into(), json!(etag));
    let props = m.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(p) = props {
        p.insert("provisioningState".into(), json!("Succeeded"));
    }
}

/// The 404 of the network provider for a child that is not there.
fn child_not_found(id: &ResourceId) -> ArmError {
    ArmError::new(
        "NotFound",
        format!("Resource {} not found.", id.canonical()),
    )
    .with_status(404)
}

fn parent_not_found(parent: &ResourceId) -> ArmError {
    let last = parent.last();
    let what = last
        .map(|p| {
            format!(
                "{}/{}/{}",
                p.namespace,
                p.types[0].0,
                p.types[0].1.clone().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    ArmError::resource_not_found(&what, parent.resource_group.as_deref().unwrap_or_default())
}

fn items<'a>(parent: &'a Value, array: &str) -> &'a [Value] {
    parent["properties"][array]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn find<'a>(parent: &'a Value, array: &str, name: &str) -> Option<&'a Value> {
    items(parent, array).iter().find(|i| {
        i["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// Whether the parent holds a child of this name (HEAD).
pub fn exists(store: &Store, e: &Embedded, name: &str) -> Result<bool, ArmError> {
    Ok(store
        .get(&e.parent.key())?
        .is_some_and(|p| find(&p.body, e.array, name).is_some()))
}

/// GET of one embedded child.
pub fn get(cx: &Cx, store: &Store, e: &Embedded) -> Result<Reply, ArmError> {
    let parent = store
        .get(&e.parent.key())?
        .ok_or_else(|| parent_not_found(&e.parent))?;
    let name = cx.id.name().unwrap_or_default();
    match find(&parent.body, e.array, name) {
        Some(child) => Ok(Reply::json(200, child)),
        None => Err(child_not_found(cx.id)),
    }
}

/// GET of the collection: the parent's array.
pub fn list(cx: &Cx, store: &Store, e: &Embedded) -> Result<Reply, ArmError> {
    let parent = store
        .get(&e.parent.key())?
        .ok_or_else(|| parent_not_found(&e.parent))?;
    Ok(list_reply(cx, items(&parent.body, e.array).to_vec()))
}

/// PUT of one child: replaces or appends its entry in the parent's array, and the parent's etag
/// changes with it. Returns the child and whether it existed.
pub fn put(cx: &Cx, store: &Store, e: &Embedded, etag: &str) -> Result<(Value, bool), ArmError> {
    let body = cx.object_body()?;
    let name = cx.id.name().unwrap_or_default().to_string();
    store.write(|tx| -> Result<(Value, bool), ArmError> {
        let mut parent = tx
            .get(&e.parent.key())?
            .ok_or_else(|| parent_not_found(&e.parent))?;
        let parent_id = parent.body["id"].as_str().unwrap_or_default().to_string();
        let parent_type = parent.body["type"].as_str().unwrap_or_default().to_string();
        let mut child = Map::new();
        for (k, v) in body {
            if !matches!(k.as_str(), "id" | "type" | "etag" | "name") {
                child.insert(k.clone(), v.clone());
            }
        }
        let shown = find(&parent.body, e.array, &name)
            .and_then(|c| c["name"].as_str().map(String::from))
            .unwrap_or(name.clone());
        child.insert("name".into(), json!(shown));
        let mut child = Value::Object(child);
        fill_child(
            &mut child,
            &format!("{parent_id}/{}/{shown}", e.array),
            &child_type(&parent_type, e.array),
            etag,
        );
        let props = parent.body["properties"]
            .as_object_mut()
            .ok_or_else(ArmError::internal)?;
        let arr = props
            .entry(e.array)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .ok_or_else(ArmError::internal)?;
        let existed = match arr.iter().position(|i| {
            i["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
        }) {
            Some(i) => {
                arr[i] = child.clone();
                true
            }
            None => {
                arr.push(child.clone());
                false
            }
        };
        parent.body["etag"] = json!(etag);
        parent.body["systemData"] = cx.system_data(Some(&parent.body["systemData"].clone()));
        tx.put(&parent)?;
        Ok((child, existed))
    })
}

/// DELETE of one child: removes its entry from the parent's array. 200 when it was there, 204 when not.
pub fn delete(cx: &Cx, store: &Store, e: &Embedded, etag: &str) -> Result<Reply, ArmError> {
    let name = cx.id.name().unwrap_or_default().to_string();
    store.write(|tx| -> Result<Reply, ArmError> {
        let Some(mut parent) = tx.get(&e.parent.key())? else {
            return Err(parent_not_found(&e.parent));
        };
        let Some(arr) = parent
            .body
            .get_mut("properties")
            .and_then(|p| p.get_mut(e.array))
            .and_then(Value::as_array_mut)
        else {
            return Ok(Reply::empty(204));
        };
        let before = arr.len();
        arr.retain(|i| {
            !i["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
        });
        if arr.len() == before {
            return Ok(Reply::empty(204));
        }
        parent.body["etag"] = json!(etag);
        tx.put(&parent)?;
        Ok(Reply::empty(200))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_children_and_normalized_parents() {
        let id = ResourceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/default").unwrap();
        let e = embedded(&id).unwrap();
        assert_eq!(e.array, "subnets");
        assert_eq!(e.parent.name(), Some("v"));
        let coll = ResourceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n/securityRules").unwrap();
        assert_eq!(embedded(&coll).unwrap().array, "securityRules");
        for not in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default",
        ] {
            assert!(embedded(&ResourceId::parse(not).unwrap()).is_none(), "{not}");
        }
        let mut vnet = json!({"properties": {"subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}]}});
        normalize_parent(
            "Microsoft.Network/virtualNetworks",
            "/x/virtualNetworks/v",
            "W/\"1\"",
            &mut vnet,
        );
        assert_eq!(
            vnet["properties"]["subnets"][0],
            json!({"name": "a", "id": "/x/virtualNetworks/v/subnets/a", "etag": "W/\"1\"",
                   "type": "Microsoft.Network/virtualNetworks/subnets",
                   "properties": {"addressPrefix": "10.0.0.0/24", "provisioningState": "Succeeded"}})
        );
    }
}

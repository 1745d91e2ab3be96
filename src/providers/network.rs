//! What Microsoft.Network adds to the objects `az vm create` makes: subnet ids in a virtual network,
//! a private address from its subnet and a MAC address on a network interface, a public address on a
//! public IP. Addresses are derived from the ids (stable, no randomness); never touches hyper.
//! Follows the Network spec's NetworkInterfaces / PublicIPAddresses / VirtualNetworks answers.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::Cx;
use crate::arm::resource_id::ResourceId;
use crate::store::Store;

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.to_lowercase().as_bytes()).into()
}

/// Embedded subnets get their id, type and provisioning state, as the Network RP returns them.
pub fn complete_virtual_network(cx: &Cx, body: &mut Map<String, Value>) {
    let vnet = cx.id.canonical();
    let subnets = body
        .get_mut("properties")
        .and_then(|p| p.get_mut("subnets"))
        .and_then(Value::as_array_mut);
    for s in subnets.into_iter().flatten() {
        let Some(s) = s.as_object_mut() else { continue };
        let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
        s.insert("id".into(), json!(format!("{vnet}/subnets/{name}")));
        s.insert(
            "type".into(),
            json!("Microsoft.Network/virtualNetworks/subnets"),
        );
        if let Some(Value::Object(p)) = s.get_mut("properties") {
            p.insert("provisioningState".into(), json!("Succeeded"));
        }
    }
}

/// The first address of an IPv4 prefix (`10.0.0.0/24` → 10.0.0.0) as a number.
fn prefix_base(prefix: &str) -> Option<u32> {
    let addr = prefix.split('/').next()?;
    let octets: Vec<u32> = addr
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    (octets.len() == 4 && octets.iter().all(|o| *o < 256))
        .then(|| octets.iter().fold(0, |a, o| (a << 8) | o))
}

fn dotted(a: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

/// The address prefix of the subnet `subnet_id` names: embedded in its virtual network, or a
/// subnet resource of its own.
fn subnet_prefix(store: &Store, subnet_id: &str) -> Option<String> {
    let id = ResourceId::parse(subnet_id).ok()?;
    let subnet_name = id.name()?.to_string();
    let mut vnet = id.clone();
    vnet.providers.last_mut()?.types.truncate(1);
    let pick = |p: &Value| {
        p["addressPrefix"]
            .as_str()
            .or_else(|| p["addressPrefixes"][0].as_str())
            .map(String::from)
    };
    if let Ok(Some(own)) = store.get(&id.key()) {
        if let Some(p) = pick(&own.body["properties"]) {
            return Some(p);
        }
    }
    let row = store.get(&vnet.key()).ok()??;
    row.body["properties"]["subnets"]
        .as_array()?
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&subnet_name))
        })
        .and_then(|s| pick(&s["properties"]))
}

/// How many ip configurations of other network interfaces sit in the subnet.
fn used_in_subnet(store: &Store, cx: &Cx, subnet_id: &str) -> usize {
    let sub = cx.sub_key();
    let me = cx.id.key();
    store
        .read(|tx| tx.by_type("microsoft.network/networkinterfaces", Some(&sub), None))
        .unwrap_or_default()
        .iter()
        .filter(|n| n.key != me)
        .flat_map(|n| {
            n.body["properties"]["ipConfigurations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|c| {
            c["properties"]["subnet"]["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(subnet_id))
        })
        .count()
}

/// A network interface's ip configurations get ids and private addresses (Azure keeps the first
/// four of a subnet, so the first NIC gets `.4`), the interface a MAC address.
pub fn complete_network_interface(
    cx: &Cx,
    store: &Store,
    body: &mut Map<String, Value>,
    existing: Option<&Value>,
) {
    let nic = cx.id.canonical();
    let old_configs = existing
        .and_then(|e| e["properties"]["ipConfigurations"].as_array())
        .cloned()
        .unwrap_or_default();
    let old_mac = existing.and_then(|e| e["properties"]["macAddress"].as_str().map(String::from));
    let Some(Value::Object(p)) = body.get_mut("properties") else {
        return;
    };
    let mac = old_mac.unwrap_or_else(|| {
        let d = digest(&nic);
        format!("00-0D-3A-{:02X}-{:02X}-{:02X}", d[0], d[1], d[2])
    });
    p.insert("macAddress".into(), json!(mac));
    p.entry("enableAcceleratedNetworking")
        .or_insert_with(|| json!(false));
    p.entry("enableIPForwarding")
        .or_insert_with(|| json!(false));
    p.entry("nicType").or_insert_with(|| json!("Standard"));
    let mut taken = 0;
    let configs = p.get_mut("ipConfigurations").and_then(Value::as_array_mut);
    for (i, c) in configs.into_iter().flatten().enumerate() {
        let Some(c) = c.as_object_mut() else { continue };
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        c.insert("id".into(), json!(format!("{nic}/ipConfigurations/{name}")));
        c.insert(
            "type".into(),
            json!("Microsoft.Network/networkInterfaces/ipConfigurations"),
        );
        let Some(Value::Object(cp)) = c.get_mut("properties") else {
            continue;
        };
        cp.insert("provisioningState".into(), json!("Succeeded"));
        cp.entry("privateIPAllocationMethod")
            .or_insert_with(|| json!("Dynamic"));
        cp.entry("privateIPAddressVersion")
            .or_insert_with(|| json!("IPv4"));
        cp.entry("primary").or_insert_with(|| json!(i == 0));
        if cp.get("privateIPAddress").is_some_and(Value::is_string) {
            continue;
        }
        let kept = old_configs
            .iter()
            .find(|o| o["name"].as_str() == Some(name.as_str()))
            .and_then(|o| o["properties"]["privateIPAddress"].as_str())
            .map(String::from);
        let address = kept.unwrap_or_else(|| {
            let subnet = cp
                .get("subnet")
                .and_then(|s| s.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let base = subnet_prefix(store, &subnet)
                .and_then(|p| prefix_base(&p))
                .unwrap_or(0x0a00_0000);
            let n = used_in_subnet(store, cx, &subnet) + taken;
            taken += 1;
            dotted(base + 4 + n as u32)
        });
        cp.insert("privateIPAddress".into(), json!(address));
    }
}

/// A public IP gets its address (from Microsoft's 20.0.0.0/8, derived from the id) and, with a
/// domain name label, its `{label}.{location}.cloudapp.azure.com` name.
pub fn complete_public_ip_address(
    cx: &Cx,
    body: &mut Map<String, Value>,
    existing: Option<&Value>,
) {
    let standard = body
        .get("sku")
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("Standard"));
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kept = existing.and_then(|e| e["properties"]["ipAddress"].as_str().map(String::from));
    let Some(Value::Object(p)) = body.get_mut("properties") else {
        return;
    };
    let d = digest(&cx.id.canonical());
    let address = kept.unwrap_or_else(|| format!("20.{}.{}.{}", d[0], d[1], d[2].clamp(1, 254)));
    p.insert("ipAddress".into(), json!(address));
    p.entry("publicIPAllocationMethod")
        .or_insert_with(|| json!(if standard { "Static" } else { "Dynamic" }));
    p.entry("publicIPAddressVersion")
        .or_insert_with(|| json!("IPv4"));
    p.entry("idleTimeoutInMinutes").or_insert_with(|| json!(4));
    if let Some(Value::Object(dns)) = p.get_mut("dnsSettings") {
        if let Some(label) = dns.get("domainNameLabel").and_then(Value::as_str) {
            let fqdn = format!("{label}.{location}.cloudapp.azure.com");
            dns.insert("fqdn".into(), json!(fqdn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for (p, want) in [
            ("10.0.0.0/24", Some("10.0.0.0")),
            ("192.168.4.0/22", Some("192.168.4.0")),
            ("10.0.0/24", None),
            ("fd00::/64", None),
        ] {
            assert_eq!(prefix_base(p).map(dotted).as_deref(), want, "{p}");
        }
    }
}

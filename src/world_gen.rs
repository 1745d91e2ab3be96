//! `fixtures generate`: a larger world on demand — N customer tenants with M subscriptions between them,
//! most delegated to Contoso MSP, and K resources of common types spread over them with realistic
//! names, locations, tags and properties — as a world file that `--fixtures` loads. Contoso MSP and its
//! principals keep the default world's ids and credentials. Pure and deterministic: the same sizes and
//! seed give the same file (a splitmix64 sequence, no clock, no random source).

use serde_json::{json, Value};

use crate::world::DEFAULT_WORLD;

pub const CONTOSO: &str = "10000000-0000-0000-0000-000000000001";
const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";
const MSP_READERS: &str = "30000000-0000-0000-0000-000000001102";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const LOCATIONS: &[&str] = &[
    "westeurope",
    "northeurope",
    "eastus",
    "westus2",
    "uksouth",
    "swedencentral",
];
const ENVS: &[&str] = &["prod", "dev", "test"];
const GROUPS: &[&str] = &["rg-web", "rg-data", "rg-network"];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub tenants: usize,
    pub subscriptions: usize,
    pub resources: usize,
    pub seed: u64,
}

/// splitmix64: a small, well-known deterministic sequence.
struct Seq(u64);

impl Seq {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn tenant_id(i: usize) -> String {
    format!("10000000-0000-0000-0001-{i:012x}")
}
fn subscription_id(j: usize) -> String {
    format!("20000000-0000-0000-0001-{j:012x}")
}

fn put(id: String, api: &str, body: Value) -> Value {
    json!({"id": id, "apiVersion": api, "body": body})
}

/// The world file for `sizes`. Errors name a size that cannot work.
pub fn generate(sizes: Sizes) -> Result<Value, String> {
    if sizes.tenants == 0 || sizes.subscriptions < sizes.tenants {
        return Err(
            "give at least one tenant, and at least as many subscriptions as tenants".into(),
        );
    }
    if sizes.tenants > 9_999 || sizes.subscriptions > 99_999 || sizes.resources > 1_000_000 {
        return Err("at most 9,999 tenants, 99,999 subscriptions and 1,000,000 resources".into());
    }
    let default: Value = serde_json::from_str(DEFAULT_WORLD).map_err(|e| e.to_string())?;
    let mut seq = Seq(sizes.seed);
    let mut tenants = vec![default["tenants"][0].clone()];
    let mut principals: Vec<Value> = default["principals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["tenantId"] == CONTOSO)
        .cloned()
        .collect();
    // Contoso's own msp-tools, with msp-automation Contributor there (as in the default world)
    let mut subscriptions: Vec<Value> = default["subscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["tenantId"] == CONTOSO)
        .cloned()
        .collect();
    let mut requests: Vec<Value> = default["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            subscriptions.iter().any(|s| {
                id.starts_with(&format!(
                    "/subscriptions/{}/",
                    s["subscriptionId"].as_str().unwrap_or_default()
                ))
            })
        })
        .cloned()
        .collect();
    for i in 1..=sizes.tenants {
        let domain = format!("customer{i:04}.onmicrosoft.com");
        tenants.push(json!({"id": tenant_id(i), "displayName": format!("Customer {i:04}"),
            "defaultDomain": domain, "domains": [domain], "cloud": "AzureCloud", "countryCode": "US"}));
        principals.push(json!({"tenantId": tenant_id(i), "objectId": format!("30000000-0000-0000-0001-{i:012x}"),
            "type": "User", "displayName": format!("Customer {i:04} Admin"),
            "userPrincipalName": format!("admin@{domain}"), "password": format!("Customer{i:04}-Pa55!"), "memberOf": []}));
    }
    for j in 1..=sizes.subscriptions {
        let t = (j - 1) % sizes.tenants + 1;
        let sub = subscription_id(j);
        subscriptions.push(json!({"subscriptionId": sub, "tenantId": tenant_id(t),
            "displayName": format!("customer{t:04}-sub{j:05}")}));
        requests.push(put(
            format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/70000000-0000-0000-0001-{j:012x}"),
            "2022-04-01",
            json!({"properties": {"roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"),
                "principalId": format!("30000000-0000-0000-0001-{t:012x}"), "principalType": "User"}}),
        ));
        for g in GROUPS {
            requests.push(put(
                format!("/subscriptions/{sub}/resourceGroups/{g}"),
                "2024-11-01",
                json!({"location": seq.pick(LOCATIONS), "tags": {"env": seq.pick(ENVS)}}),
            ));
        }
        // four subscriptions in five of each customer are delegated to Contoso MSP
        if ((j - 1) / sizes.tenants) % 5 != 4 {
            let def = format!("/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationDefinitions/50000000-0000-0000-0001-{j:012x}");
            requests.push(put(def.clone(), "2022-10-01", json!({"properties": {
                "registrationDefinitionName": format!("Contoso MSP - customer{t:04}-sub{j:05}"),
                "description": "Contoso MSP manages this subscription", "managedByTenantId": CONTOSO,
                "authorizations": [
                    {"principalId": MSP_OPERATORS, "principalIdDisplayName": "MSP Operators", "roleDefinitionId": CONTRIBUTOR},
                    {"principalId": MSP_READERS, "principalIdDisplayName": "MSP Readers", "roleDefinitionId": READER}]}})));
            requests.push(put(
                format!("/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments/60000000-0000-0000-0001-{j:012x}"),
                "2022-10-01",
                json!({"properties": {"registrationDefinitionId": def}}),
            ));
        }
    }
    for k in 0..sizes.resources {
        let j = k % sizes.subscriptions + 1;
        let sub = subscription_id(j);
        let location = seq.pick(LOCATIONS);
        let tags = json!({"env": seq.pick(ENVS), "costCenter": format!("cc-{:03}", seq.next() % 40),
            "owner": format!("team{}", seq.next() % 12)});
        let (rg, path, api, body) = match k % 6 {
            0 => (
                "rg-data",
                format!("Microsoft.Storage/storageAccounts/st{j:05}x{k:07}"),
                "2023-05-01",
                json!({"location": location, "kind": "StorageV2", "sku": {"name": seq.pick(&["Standard_LRS", "Standard_GRS", "Standard_ZRS"])},
                    "tags": tags, "properties": {"supportsHttpsTrafficOnly": seq.chance(85), "allowBlobPublicAccess": seq.chance(20),
                    "minimumTlsVersion": seq.pick(&["TLS1_2", "TLS1_2", "TLS1_0"])}}),
            ),
            1 => (
                "rg-network",
                format!("Microsoft.Network/virtualNetworks/vnet-{k:07}"),
                "2023-09-01",
                json!({"location": location, "tags": tags, "properties": {"addressSpace": {"addressPrefixes": [format!("10.{}.0.0/16", k % 250)]}}}),
            ),
            2 => (
                "rg-network",
                format!("Microsoft.Network/networkSecurityGroups/nsg-{k:07}"),
                "2023-09-01",
                json!({"location": location, "tags": tags, "properties": {}}),
            ),
            3 => (
                "rg-network",
                format!("Microsoft.Network/publicIPAddresses/pip-{k:07}"),
                "2023-09-01",
                json!({"location": location, "tags": tags, "sku": {"name": "Standard"},
                    "properties": {"publicIPAllocationMethod": "Static"}}),
            ),
            4 => (
                "rg-data",
                format!("Microsoft.KeyVault/vaults/kv{j:05}x{k:07}"),
                "2023-07-01",
                json!({"location": location, "tags": tags, "properties": {"tenantId": tenant_id((j - 1) % sizes.tenants + 1),
                    "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": seq.chance(70)}}),
            ),
            _ => (
                "rg-web",
                format!("Microsoft.Web/sites/app-{j:05}-{k:07}"),
                "2023-12-01",
                json!({"location": location, "kind": "app", "tags": tags, "properties": {"httpsOnly": seq.chance(75)}}),
            ),
        };
        requests.push(put(
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{path}"),
            api,
            body,
        ));
    }
    Ok(json!({
        "$comment": format!("Generated by `lighthouse-emulator fixtures generate --tenants {} --subscriptions {} --resources {} --seed {}`: Contoso MSP as in the default world, customers delegating four subscriptions in five to it.", sizes.tenants, sizes.subscriptions, sizes.resources, sizes.seed),
        "tenants": tenants,
        "principals": principals,
        "subscriptions": subscriptions,
        "requests": requests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    #[test]
    fn a_generated_world_parses_and_is_deterministic() {
        let sizes = Sizes {
            tenants: 3,
            subscriptions: 7,
            resources: 40,
            seed: 1,
        };
        let w = generate(sizes).unwrap();
        let text = serde_json::to_string_pretty(&w).unwrap();
        let parsed = World::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(parsed.tenants.len(), 4);
        assert_eq!(parsed.subscriptions.len(), 8); // with Contoso's msp-tools
        assert_eq!(
            text,
            serde_json::to_string_pretty(&generate(sizes).unwrap()).unwrap()
        );
        // Contoso MSP keeps the default world's principals
        assert!(parsed
            .principals
            .iter()
            .any(|p| p.app_id.as_deref() == Some("40000000-0000-0000-0000-000000001121")));
    }

    #[test]
    fn sizes_that_cannot_work_are_refused() {
        for (t, s) in [(0, 1), (3, 2)] {
            assert!(generate(Sizes {
                tenants: t,
                subscriptions: s,
                resources: 1,
                seed: 0
            })
            .is_err());
        }
    }
}

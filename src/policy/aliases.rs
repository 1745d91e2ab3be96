//! Azure Policy aliases: the table of the aliases the emulator knows (the types the built-in
//! definitions in fixtures/policy and the Lighthouse policy samples use), each with its path in the
//! resource body and whether `modify` may change it, plus the documented convention
//! (`Microsoft.X/type/a.b` → `properties.a.b`, `[*]` for array members) for every other alias. Also
//! the `Alias` objects of `GET /providers?$expand=resourceTypes/aliases` (resources spec 2025-04-01).
//! Pure data; never reads the store.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// One step of an alias path: an object member (matched case-insensitively) or every array member.
#[derive(Debug, Clone, PartialEq)]
pub enum PSeg {
    Key(String),
    All,
}

impl PSeg {
    pub fn same(&self, other: &PSeg) -> bool {
        match (self, other) {
            (PSeg::Key(a), PSeg::Key(b)) => a.eq_ignore_ascii_case(b),
            (PSeg::All, PSeg::All) => true,
            _ => false,
        }
    }
}

/// `properties.networkAcls.ipRules[*].value` → its segments.
pub fn parse_path(p: &str) -> Vec<PSeg> {
    let mut out = Vec::new();
    for part in p.split('.').filter(|s| !s.is_empty()) {
        let mut rest = part;
        loop {
            match rest.find("[*]") {
                Some(i) => {
                    if i > 0 {
                        out.push(PSeg::Key(rest[..i].to_string()));
                    }
                    out.push(PSeg::All);
                    rest = &rest[i + 3..];
                }
                None => {
                    if !rest.is_empty() {
                        out.push(PSeg::Key(rest.to_string()));
                    }
                    break;
                }
            }
        }
    }
    out
}

/// (alias, path in the ARM body, token type, modifiable by `modify`).
type Row = (&'static str, &'static str, &'static str, bool);

/// Paths as ARM stores the bodies (what `az provider show --expand resourceTypes/aliases` shows in
/// Azure for these names; `defaultPath`). Modifiable as Azure marks them (`defaultMetadata.attributes`).
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // Microsoft.Storage
    ("Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly", "properties.supportsHttpsTrafficOnly", "Boolean", true),
    ("Microsoft.Storage/storageAccounts/minimumTlsVersion", "properties.minimumTlsVersion", "String", true),
    ("Microsoft.Storage/storageAccounts/allowBlobPublicAccess", "properties.allowBlobPublicAccess", "Boolean", true),
    ("Microsoft.Storage/storageAccounts/allowSharedKeyAccess", "properties.allowSharedKeyAccess", "Boolean", true),
    ("Microsoft.Storage/storageAccounts/allowCrossTenantReplication", "properties.allowCrossTenantReplication", "Boolean", true),
    ("Microsoft.Storage/storageAccounts/publicNetworkAccess", "properties.publicNetworkAccess", "String", true),
    ("Microsoft.Storage/storageAccounts/accessTier", "properties.accessTier", "String", true),
    ("Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "properties.networkAcls.defaultAction", "String", true),
    ("Microsoft.Storage/storageAccounts/networkAcls.bypass", "properties.networkAcls.bypass", "String", true),
    ("Microsoft.Storage/storageAccounts/networkAcls.ipRules", "properties.networkAcls.ipRules", "Array", false),
    ("Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]", "properties.networkAcls.ipRules[*]", "Object", false),
    ("Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value", "properties.networkAcls.ipRules[*].value", "String", false),
    ("Microsoft.Storage/storageAccounts/networkAcls.virtualNetworkRules[*].id", "properties.networkAcls.virtualNetworkRules[*].id", "String", false),
    ("Microsoft.Storage/storageAccounts/encryption.keySource", "properties.encryption.keySource", "String", false),
    ("Microsoft.Storage/storageAccounts/sku.name", "sku.name", "String", false),
    // Microsoft.KeyVault (the SKU of a vault is in its properties)
    ("Microsoft.KeyVault/vaults/createMode", "properties.createMode", "String", false),
    ("Microsoft.KeyVault/vaults/enableSoftDelete", "properties.enableSoftDelete", "Boolean", false),
    ("Microsoft.KeyVault/vaults/enablePurgeProtection", "properties.enablePurgeProtection", "Boolean", false),
    ("Microsoft.KeyVault/vaults/enableRbacAuthorization", "properties.enableRbacAuthorization", "Boolean", false),
    ("Microsoft.KeyVault/vaults/softDeleteRetentionInDays", "properties.softDeleteRetentionInDays", "Integer", false),
    ("Microsoft.KeyVault/vaults/publicNetworkAccess", "properties.publicNetworkAccess", "String", true),
    ("Microsoft.KeyVault/vaults/tenantId", "properties.tenantId", "String", false),
    ("Microsoft.KeyVault/vaults/sku.name", "properties.sku.name", "String", false),
    ("Microsoft.KeyVault/vaults/networkAcls.defaultAction", "properties.networkAcls.defaultAction", "String", false),
    ("Microsoft.KeyVault/vaults/networkAcls.ipRules", "properties.networkAcls.ipRules", "Array", false),
    ("Microsoft.KeyVault/vaults/networkAcls.ipRules[*]", "properties.networkAcls.ipRules[*]", "Object", false),
    ("Microsoft.KeyVault/vaults/networkAcls.ipRules[*].value", "properties.networkAcls.ipRules[*].value", "String", false),
    // Microsoft.ManagedServices
    ("Microsoft.ManagedServices/registrationDefinitions/managedByTenantId", "properties.managedByTenantId", "String", false),
    ("Microsoft.ManagedServices/registrationDefinitions/registrationDefinitionName", "properties.registrationDefinitionName", "String", false),
    ("Microsoft.ManagedServices/registrationDefinitions/description", "properties.description", "String", false),
    ("Microsoft.ManagedServices/registrationDefinitions/authorizations[*]", "properties.authorizations[*]", "Object", false),
    ("Microsoft.ManagedServices/registrationDefinitions/authorizations[*].principalId", "properties.authorizations[*].principalId", "String", false),
    ("Microsoft.ManagedServices/registrationDefinitions/authorizations[*].roleDefinitionId", "properties.authorizations[*].roleDefinitionId", "String", false),
    ("Microsoft.ManagedServices/registrationAssignments/registrationDefinitionId", "properties.registrationDefinitionId", "String", false),
    // Microsoft.Insights (`logs.enabled` is the older alias of every log's `enabled`)
    ("Microsoft.Insights/diagnosticSettings/workspaceId", "properties.workspaceId", "String", false),
    ("Microsoft.Insights/diagnosticSettings/storageAccountId", "properties.storageAccountId", "String", false),
    ("Microsoft.Insights/diagnosticSettings/eventHubAuthorizationRuleId", "properties.eventHubAuthorizationRuleId", "String", false),
    ("Microsoft.Insights/diagnosticSettings/logs", "properties.logs", "Array", false),
    ("Microsoft.Insights/diagnosticSettings/logs[*]", "properties.logs[*]", "Object", false),
    ("Microsoft.Insights/diagnosticSettings/logs[*].enabled", "properties.logs[*].enabled", "Boolean", false),
    ("Microsoft.Insights/diagnosticSettings/logs[*].category", "properties.logs[*].category", "String", false),
    ("Microsoft.Insights/diagnosticSettings/logs[*].retentionPolicy.enabled", "properties.logs[*].retentionPolicy.enabled", "Boolean", false),
    ("Microsoft.Insights/diagnosticSettings/logs[*].retentionPolicy.days", "properties.logs[*].retentionPolicy.days", "Integer", false),
    ("Microsoft.Insights/diagnosticSettings/logs.enabled", "properties.logs[*].enabled", "Boolean", false),
    ("Microsoft.Insights/diagnosticSettings/logs.category", "properties.logs[*].category", "String", false),
    ("Microsoft.Insights/diagnosticSettings/metrics", "properties.metrics", "Array", false),
    ("Microsoft.Insights/diagnosticSettings/metrics[*]", "properties.metrics[*]", "Object", false),
    ("Microsoft.Insights/diagnosticSettings/metrics[*].enabled", "properties.metrics[*].enabled", "Boolean", false),
    ("Microsoft.Insights/diagnosticSettings/metrics[*].category", "properties.metrics[*].category", "String", false),
    ("Microsoft.Insights/diagnosticSettings/metrics.enabled", "properties.metrics[*].enabled", "Boolean", false),
    ("Microsoft.Insights/logProfiles/retentionPolicy.enabled", "properties.retentionPolicy.enabled", "Boolean", false),
    ("Microsoft.Insights/logProfiles/retentionPolicy.days", "properties.retentionPolicy.days", "Integer", false),
    // Microsoft.Compute
    ("Microsoft.Compute/virtualMachines/sku.name", "properties.hardwareProfile.vmSize", "String", false),
    ("Microsoft.Compute/virtualMachines/osDisk.uri", "properties.storageProfile.osDisk.vhd.uri", "String", false),
    ("Microsoft.Compute/virtualMachines/imagePublisher", "properties.storageProfile.imageReference.publisher", "String", false),
    ("Microsoft.Compute/virtualMachines/imageOffer", "properties.storageProfile.imageReference.offer", "String", false),
    ("Microsoft.Compute/virtualMachines/imageSku", "properties.storageProfile.imageReference.sku", "String", false),
    ("Microsoft.Compute/virtualMachines/imageVersion", "properties.storageProfile.imageReference.version", "String", false),
    ("Microsoft.Compute/virtualMachines/licenseType", "properties.licenseType", "String", true),
    ("Microsoft.Compute/virtualMachines/storageProfile.osDisk.managedDisk.id", "properties.storageProfile.osDisk.managedDisk.id", "String", false),
    ("Microsoft.Compute/virtualMachines/osProfile.linuxConfiguration.disablePasswordAuthentication", "properties.osProfile.linuxConfiguration.disablePasswordAuthentication", "Boolean", false),
    ("Microsoft.Compute/virtualMachines/networkInterfaces[*].id", "properties.networkProfile.networkInterfaces[*].id", "String", false),
    ("Microsoft.Compute/VirtualMachineScaleSets/osDisk.vhdContainers", "properties.virtualMachineProfile.storageProfile.osDisk.vhdContainers", "Array", false),
    ("Microsoft.Compute/VirtualMachineScaleSets/osdisk.imageUrl", "properties.virtualMachineProfile.storageProfile.osDisk.image.uri", "String", false),
    ("Microsoft.Compute/VirtualMachineScaleSets/sku.name", "sku.name", "String", false),
    // Microsoft.Network (members of embedded children have their own `properties`)
    ("Microsoft.Network/networkInterfaces/ipconfigurations[*]", "properties.ipConfigurations[*]", "Object", false),
    ("Microsoft.Network/networkInterfaces/ipconfigurations[*].publicIpAddress.id", "properties.ipConfigurations[*].properties.publicIPAddress.id", "String", false),
    ("Microsoft.Network/networkInterfaces/ipconfigurations[*].subnet.id", "properties.ipConfigurations[*].properties.subnet.id", "String", false),
    ("Microsoft.Network/networkInterfaces/ipconfigurations[*].privateIPAllocationMethod", "properties.ipConfigurations[*].properties.privateIPAllocationMethod", "String", false),
    ("Microsoft.Network/networkInterfaces/enableIPForwarding", "properties.enableIPForwarding", "Boolean", false),
    ("Microsoft.Network/networkInterfaces/networkSecurityGroup.id", "properties.networkSecurityGroup.id", "String", false),
    ("Microsoft.Network/networkSecurityGroups/securityRules[*]", "properties.securityRules[*]", "Object", false),
    ("Microsoft.Network/networkSecurityGroups/securityRules[*].access", "properties.securityRules[*].properties.access", "String", false),
    ("Microsoft.Network/networkSecurityGroups/securityRules[*].direction", "properties.securityRules[*].properties.direction", "String", false),
    ("Microsoft.Network/networkSecurityGroups/securityRules[*].protocol", "properties.securityRules[*].properties.protocol", "String", false),
    ("Microsoft.Network/networkSecurityGroups/securityRules[*].sourceAddressPrefix", "properties.securityRules[*].properties.sourceAddressPrefix", "String", false),
    ("Microsoft.Network/networkSecurityGroups/securityRules[*].destinationPortRange", "properties.securityRules[*].properties.destinationPortRange", "String", false),
    ("Microsoft.Network/networkSecurityGroups/flowLogs[*]", "properties.flowLogs[*]", "Object", false),
    ("Microsoft.Network/networkSecurityGroups/flowLogs[*].id", "properties.flowLogs[*].id", "String", false),
    ("Microsoft.Network/virtualNetworks/subnets[*]", "properties.subnets[*]", "Object", false),
    ("Microsoft.Network/virtualNetworks/subnets[*].networkSecurityGroup.id", "properties.subnets[*].properties.networkSecurityGroup.id", "String", false),
    ("Microsoft.Network/virtualNetworks/addressSpace.addressPrefixes[*]", "properties.addressSpace.addressPrefixes[*]", "String", false),
    ("Microsoft.Network/virtualNetworks/subnets/networkSecurityGroup.id", "properties.networkSecurityGroup.id", "String", false),
    ("Microsoft.Network/networkWatchers/flowLogs/enabled", "properties.enabled", "Boolean", false),
    // Microsoft.Authorization
    ("Microsoft.Authorization/roleDefinitions/type", "properties.type", "String", false),
    ("Microsoft.Authorization/roleDefinitions/roleName", "properties.roleName", "String", false),
    ("Microsoft.Authorization/roleDefinitions/permissions[*].actions[*]", "properties.permissions[*].actions[*]", "String", false),
    ("Microsoft.Authorization/roleAssignments/roleDefinitionId", "properties.roleDefinitionId", "String", false),
    ("Microsoft.Authorization/roleAssignments/principalId", "properties.principalId", "String", false),
    ("Microsoft.Authorization/roleAssignments/principalType", "properties.principalType", "String", false),
    ("Microsoft.Authorization/roleAssignments/delegatedManagedIdentityResourceId", "properties.delegatedManagedIdentityResourceId", "String", false),
    // Microsoft.DocumentDB, Microsoft.Maps, Microsoft.Communication
    ("Microsoft.DocumentDB/databaseAccounts/Locations[*]", "properties.locations[*]", "Object", false),
    ("Microsoft.DocumentDB/databaseAccounts/Locations[*].locationName", "properties.locations[*].locationName", "String", false),
    ("Microsoft.DocumentDB/databaseAccounts/publicNetworkAccess", "properties.publicNetworkAccess", "String", true),
    ("Microsoft.Maps/accounts/locations[*]", "properties.locations[*]", "Object", false),
    ("Microsoft.Maps/accounts/locations[*].locationName", "properties.locations[*].locationName", "String", false),
    ("Microsoft.Communication/communicationServices/dataLocation", "properties.dataLocation", "String", false),
    // Microsoft.Security
    ("Microsoft.Security/assessments/status.code", "properties.status.code", "String", false),
];

/// Top-level members of an ARM body: an alias property starting with one of them is not under
/// `properties` (`Microsoft.Compute/virtualMachineScaleSets/sku.name` → `sku.name`).
const TOP_LEVEL: &[&str] = &[
    "sku",
    "identity",
    "plan",
    "zones",
    "kind",
    "extendedLocation",
    "managedBy",
];

/// What an alias names: the resource type it belongs to, its path and whether `modify` may set it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// `Microsoft.Storage/storageAccounts` (as written in the alias).
    pub rtype: String,
    pub path: Vec<PSeg>,
    pub modifiable: bool,
    /// A row of the table (not the convention).
    pub known: bool,
}

/// Split `Microsoft.X/type[/child]/property.path` into type and property (the property never has a
/// `/`). `None` when the text is not alias-shaped.
pub fn split(alias: &str) -> Option<(&str, &str)> {
    let (rtype, prop) = alias.rsplit_once('/')?;
    let ns = rtype.split('/').next()?;
    if !ns.contains('.') || !rtype.contains('/') || prop.is_empty() {
        return None;
    }
    Some((rtype, prop))
}

/// The table's rows, resolved once, by lower-cased alias (every field condition looks its alias up).
fn index() -> &'static HashMap<String, Resolved> {
    static INDEX: OnceLock<HashMap<String, Resolved>> = OnceLock::new();
    INDEX.get_or_init(|| {
        TABLE
            .iter()
            .filter_map(|(name, path, _, modifiable)| {
                let (rtype, _) = split(name)?;
                Some((
                    name.to_ascii_lowercase(),
                    Resolved {
                        rtype: rtype.to_string(),
                        path: parse_path(path),
                        modifiable: *modifiable,
                        known: true,
                    },
                ))
            })
            .collect()
    })
}

/// The alias's path: a table row, or the documented convention.
pub fn resolve(alias: &str) -> Option<Resolved> {
    if let Some(r) = index().get(&alias.to_ascii_lowercase()) {
        return Some(r.clone());
    }
    let (rtype, prop) = split(alias)?;
    let first = prop.split(['.', '[']).next().unwrap_or_default();
    let path = if TOP_LEVEL.iter().any(|t| t.eq_ignore_ascii_case(first)) {
        prop.to_string()
    } else {
        format!("properties.{prop}")
    };
    Some(Resolved {
        rtype: rtype.to_string(),
        path: parse_path(&path),
        modifiable: false,
        known: false,
    })
}

/// The `Alias` objects ARM lists for one resource type (`Microsoft.Storage`, `storageAccounts`).
pub fn for_type(namespace: &str, resource_type: &str) -> Vec<Value> {
    let want = format!("{namespace}/{resource_type}");
    TABLE
        .iter()
        .filter(|(n, ..)| split(n).is_some_and(|(t, _)| t.eq_ignore_ascii_case(&want)))
        .map(|(name, path, token, modifiable)| {
            json!({
                "name": name,
                "paths": [],
                "type": "NotSpecified",
                "defaultPath": path,
                "defaultMetadata": {
                    "type": token,
                    "attributes": if *modifiable { "Modifiable" } else { "None" },
                },
            })
        })
        .collect()
}

/// The resource types of `namespace` the table has aliases for (`storageAccounts`…).
pub fn types_in(namespace: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, ..) in TABLE {
        let Some((t, _)) = split(name) else { continue };
        let Some((ns, rt)) = t.split_once('/') else {
            continue;
        };
        if ns.eq_ignore_ascii_case(namespace) && !out.iter().any(|x| x.eq_ignore_ascii_case(rt)) {
            out.push(rt.to_string());
        }
    }
    out
}

/// `$expand=resourceTypes/aliases`: add `aliases` to each of a provider's `resourceTypes` entries.
pub fn expand(namespace: &str, resource_types: &mut [Value]) {
    for t in resource_types {
        let rt = t["resourceType"].as_str().unwrap_or_default().to_string();
        t["aliases"] = Value::Array(for_type(namespace, &rt));
    }
}

/// Whether a query's `$expand` asks for aliases (`resourceTypes/aliases`, any case, in a list).
pub fn wants_aliases(expand: Option<&str>) -> bool {
    expand.is_some_and(|e| {
        e.split(',')
            .any(|x| x.trim().eq_ignore_ascii_case("resourceTypes/aliases"))
    })
}

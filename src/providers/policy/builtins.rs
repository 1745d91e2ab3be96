//! The built-in policy catalogue: every definition and initiative under fixtures/policy/built-in-policies
//! (Azure/azure-policy, MIT), embedded at build time and parsed once; read-only. Azure serves these at
//! `/providers/Microsoft.Authorization/policy[Set]Definitions/{guid}`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{major_pin, Kind};

/// Every file under fixtures/policy/built-in-policies (a test checks none is left out).
const BUILT_IN_FILES: &[&str] = &[
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Communication/Communication_DataLocation_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Compute/RecoveryServices_DisasterRecovery_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Compute/VMRequireManagedDisk_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Compute/VMSkusAllowed_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Cosmos DB/Cosmos_Locations_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/AllowedLocations_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/AllowedResourceTypes_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/InvalidResourceTypes_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/ResourceGroupAllowedLocations_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/ResourceType_denyActionDelete.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/ResourcesInResourceGroupLocation_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/General/Subscription_AuditCustomRBACRoles_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Key Vault/AuditDiagnosticLog_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Key Vault/FirewallEnabled_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Key Vault/Recoverable_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Key Vault/Secrets_ExpirationSet.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Key Vault/Should_Use_RBAC.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Key Vault/SoftDeleteMustBeEnabled_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Lighthouse/AllowCertainManagingTenantIds_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Lighthouse/Delegations_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Maps/BlockGlobalDataProcessing_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Monitoring/ActivityLogRetention_365orGreater.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Monitoring/DataConnectorsAzureActivity.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Monitoring/DiagnosticSettingsForTypes_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Monitoring/KeyVault_DeployDiagnosticLog_Deploy_LogAnalytics.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Network/NetworkPublicIPNic_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Network/NetworkSecurityGroup_FlowLog_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Network/NetworkWatcherFlowLog_Enabled_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Network/NetworkWatcher_DINE.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Network/NetworkWatcher_Enabled_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Regulatory Compliance/CMA_C1143.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Security Center/ASC_NetworkSecurityGroupsOnSubnets_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/ASC_Storage_DisallowPublicBlobAccess_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/StorageAccountAllowCrossTenantReplication_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/StorageAccountAllowSharedKeyAccess_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/StorageAccountMinimumTLSVersion_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/StoragePublicNetworkAccess_Modify.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/Storage_AuditForHTTPSEnabled_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Storage/Storage_NetworkAcls_Audit.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/AddOrReplaceTag_Modify.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/AddOrReplaceTag_ResourceGroup_Modify.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/ApplyTag_Append.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/InheritTag_AddOrReplace_Modify.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/InheritTag_Add_Modify.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/InheritTag_Append.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/RequireTagAndValue_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/RequireTag_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/ResourceGroupRequireTagAndValue_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policyDefinitions/Tags/ResourceGroupRequireTag_Deny.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policySetDefinitions/Network/NetworkSecurityGroupFlowLog_Enabled.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policySetDefinitions/Regulatory Compliance/CIS_Azure_Foundations_v3.0.0.json"),
    include_str!("../../../fixtures/policy/built-in-policies/policySetDefinitions/Sovereignty/EnforceDataResidency.json"),
];

/// The built-in catalogue, parsed once.
pub struct BuiltIns {
    pub definitions: Vec<Value>,
    pub sets: Vec<Value>,
    by_name: HashMap<String, (Kind, usize)>,
}

pub fn built_ins() -> &'static BuiltIns {
    static B: OnceLock<BuiltIns> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = BuiltIns {
            definitions: Vec::new(),
            sets: Vec::new(),
            by_name: HashMap::new(),
        };
        for text in BUILT_IN_FILES {
            let mut v: Value = serde_json::from_str(text).expect("built-in policy fixture parses");
            let version = v["properties"]["version"]
                .as_str()
                .or(v["properties"]["metadata"]["version"].as_str())
                .unwrap_or("1.0.0")
                .to_string();
            v["properties"]["version"] = json!(version);
            v["properties"]["versions"] = json!([version]);
            let name = v["name"].as_str().unwrap_or_default().to_lowercase();
            // upstream files carry no `type`: their id says which kind they are
            let kind = if v["id"]
                .as_str()
                .is_some_and(|i| i.to_ascii_lowercase().contains("/policysetdefinitions/"))
            {
                Kind::Set
            } else {
                Kind::Definition
            };
            v["type"] = json!(kind.rtype());
            let list = match kind {
                Kind::Set => &mut b.sets,
                Kind::Definition => &mut b.definitions,
            };
            b.by_name.insert(name, (kind, list.len()));
            list.push(v);
        }
        // the initiatives' references pinned to their definitions' major versions, as Azure shows them
        let pins: Vec<Vec<Option<String>>> = b
            .sets
            .iter()
            .map(|s| {
                s["properties"]["policyDefinitions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let name = r["policyDefinitionId"].as_str()?.rsplit('/').next()?;
                        let (k, i) = b.by_name.get(&name.to_lowercase())?;
                        (*k == Kind::Definition).then(|| major_pin(&b.definitions[*i]))
                    })
                    .collect()
            })
            .collect();
        for (s, pins) in b.sets.iter_mut().zip(pins) {
            if let Some(refs) = s["properties"]["policyDefinitions"].as_array_mut() {
                for (r, pin) in refs.iter_mut().zip(pins) {
                    if let (Some(pin), None) = (pin, r.get("definitionVersion")) {
                        r["definitionVersion"] = json!(pin);
                    }
                }
            }
        }
        b
    })
}

impl BuiltIns {
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Value> {
        match self.by_name.get(&name.to_lowercase()) {
            Some((k, i)) if *k == kind => Some(match kind {
                Kind::Definition => &self.definitions[*i],
                Kind::Set => &self.sets[*i],
            }),
            _ => None,
        }
    }
    pub(super) fn all(&self, kind: Kind) -> &[Value] {
        match kind {
            Kind::Definition => &self.definitions,
            Kind::Set => &self.sets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_file_is_embedded_and_parses() {
        let mut files = Vec::new();
        fn walk(d: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/policy/built-in-policies"),
            &mut files,
        );
        assert_eq!(files.len(), BUILT_IN_FILES.len());
        for f in &files {
            assert!(
                BUILT_IN_FILES.contains(&f.as_str()),
                "a fixture is not embedded"
            );
        }
        let b = built_ins();
        assert_eq!(b.definitions.len() + b.sets.len(), files.len());
        // Allowed locations, by its well-known name
        let al = b
            .get(Kind::Definition, "e56962a6-4747-49cd-b67b-bf8b01975c4c")
            .unwrap();
        assert_eq!(al["properties"]["policyType"], "BuiltIn");
        assert!(b
            .get(Kind::Set, "e56962a6-4747-49cd-b67b-bf8b01975c4c")
            .is_none());
    }
}

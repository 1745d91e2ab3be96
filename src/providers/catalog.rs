//! The regions and the resource provider catalogue behind `GET /subscriptions/{sub}/locations` and
//! `GET /subscriptions/{sub}/providers[/{ns}]`: the world's regions, and every namespace and resource
//! type the built-in roles' actions name (`Microsoft.Network/virtualNetworks/read` → `virtualNetworks`),
//! with api-versions newest first — the modelled families' own lists, or a table of recent versions
//! per namespace. `az resource show --ids …` and `az resource create --resource-type …` pick the
//! api-version from here (the first one that is not a preview). Shared data for providers, like `mod`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::arm::api_version::Family;
use crate::facts::builtin_roles;

/// Azure's public regions, as ARM lists them for resource groups (its LocationNotAvailableForResourceGroup
/// message, 2024, without the canary regions): `(name, displayName, geography)`.
pub const LOCATIONS: &[(&str, &str, &str)] = &[
    ("northeurope", "North Europe", "Europe"),
    ("westeurope", "West Europe", "Europe"),
    ("eastasia", "East Asia", "Asia Pacific"),
    ("southeastasia", "Southeast Asia", "Asia Pacific"),
    ("australiaeast", "Australia East", "Asia Pacific"),
    ("australiasoutheast", "Australia Southeast", "Asia Pacific"),
    ("brazilsouth", "Brazil South", "South America"),
    ("canadacentral", "Canada Central", "Canada"),
    ("canadaeast", "Canada East", "Canada"),
    ("switzerlandnorth", "Switzerland North", "Europe"),
    ("germanywestcentral", "Germany West Central", "Europe"),
    ("eastus2", "East US 2", "US"),
    ("eastus", "East US", "US"),
    ("centralus", "Central US", "US"),
    ("northcentralus", "North Central US", "US"),
    ("francecentral", "France Central", "Europe"),
    ("uksouth", "UK South", "UK"),
    ("ukwest", "UK West", "UK"),
    ("centralindia", "Central India", "Asia Pacific"),
    ("southindia", "South India", "Asia Pacific"),
    ("jioindiawest", "Jio India West", "Asia Pacific"),
    ("italynorth", "Italy North", "Europe"),
    ("japaneast", "Japan East", "Asia Pacific"),
    ("japanwest", "Japan West", "Asia Pacific"),
    ("koreacentral", "Korea Central", "Asia Pacific"),
    ("koreasouth", "Korea South", "Asia Pacific"),
    ("mexicocentral", "Mexico Central", "Mexico"),
    ("norwayeast", "Norway East", "Europe"),
    ("polandcentral", "Poland Central", "Europe"),
    ("qatarcentral", "Qatar Central", "Middle East"),
    ("spaincentral", "Spain Central", "Europe"),
    ("swedencentral", "Sweden Central", "Europe"),
    ("uaenorth", "UAE North", "Middle East"),
    ("westcentralus", "West Central US", "US"),
    ("westus2", "West US 2", "US"),
    ("westus", "West US", "US"),
    ("southcentralus", "South Central US", "US"),
    ("westus3", "West US 3", "US"),
    ("southafricanorth", "South Africa North", "Africa"),
    ("australiacentral", "Australia Central", "Asia Pacific"),
    ("australiacentral2", "Australia Central 2", "Asia Pacific"),
    ("israelcentral", "Israel Central", "Middle East"),
    ("westindia", "West India", "Asia Pacific"),
];

/// The regions of Azure Government (AzureUSGovernment tenants' subscriptions).
pub const GOV_LOCATIONS: &[(&str, &str, &str)] = &[
    ("usgovvirginia", "USGov Virginia", "US"),
    ("usgovarizona", "USGov Arizona", "US"),
    ("usgovtexas", "USGov Texas", "US"),
    ("usdodeast", "USDoD East", "US"),
    ("usdodcentral", "USDoD Central", "US"),
];

/// The regions of a cloud (`AzureCloud`, `AzureUSGovernment`, ...; a tenant's `cloud`).
pub fn locations(cloud: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    if cloud.eq_ignore_ascii_case("AzureUSGovernment") {
        GOV_LOCATIONS
    } else {
        LOCATIONS
    }
}

/// The region `given` names in `cloud` — by name or display name, any case, spaces ignored, as ARM
/// accepts them (`West Europe`, `WestEurope`, `westeurope`) — or `None`.
pub fn region(cloud: &str, given: &str) -> Option<&'static str> {
    let norm: String = given
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    locations(cloud)
        .iter()
        .find(|(name, display, _)| {
            *name == norm || display.replace(' ', "").eq_ignore_ascii_case(&norm)
        })
        .map(|(name, ..)| *name)
}

/// The comma-separated region names of a cloud, as ARM's location errors list them.
pub fn location_list(cloud: &str) -> String {
    locations(cloud)
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// One namespace: its spelling in the roles and its resource types (spelling of first sight).
pub struct Namespace {
    pub name: String,
    pub types: Vec<String>,
}

/// Recent stable api-versions per namespace, newest first (from the providers' published specs), for
/// namespaces the emulator stores generically. Others get `GENERIC`.
const VERSIONS: &[(&str, &[&str])] = &[
    (
        "microsoft.network",
        &[
            "2024-05-01",
            "2024-03-01",
            "2024-01-01",
            "2023-11-01",
            "2023-09-01",
            "2023-06-01",
            "2023-05-01",
            "2023-04-01",
            "2023-02-01",
            "2022-11-01",
        ],
    ),
    (
        "microsoft.storage",
        &[
            "2023-05-01",
            "2023-04-01",
            "2023-01-01",
            "2022-09-01",
            "2022-05-01",
            "2021-09-01",
        ],
    ),
    (
        "microsoft.compute",
        &[
            "2024-07-01",
            "2024-03-01",
            "2023-09-01",
            "2023-07-01",
            "2023-03-01",
            "2022-11-01",
        ],
    ),
    (
        "microsoft.keyvault",
        &["2023-07-01", "2023-02-01", "2022-07-01", "2021-10-01"],
    ),
    ("microsoft.managedidentity", &["2023-01-31", "2018-11-30"]),
    (
        "microsoft.web",
        &["2023-12-01", "2023-01-01", "2022-09-01", "2022-03-01"],
    ),
    (
        "microsoft.operationalinsights",
        // Workspaces' stable versions (azure-rest-api-specs; azure-mgmt-loganalytics 14 sends
        // 2025-07-01, az monitor log-analytics 2025-02-01)
        &[
            "2025-07-01",
            "2025-02-01",
            "2023-09-01",
            "2022-10-01",
            "2021-06-01",
            "2020-10-01",
            "2020-08-01",
            "2015-03-20",
        ],
    ),
    (
        "microsoft.databricks",
        &["2024-05-01", "2023-02-01", "2018-04-01"],
    ),
    (
        "microsoft.solutions",
        &["2021-07-01", "2019-07-01", "2018-06-01"],
    ),
    ("microsoft.policyinsights", &["2022-09-01", "2019-10-01"]),
    (
        "microsoft.resourcegraph",
        &["2022-10-01", "2021-03-01", "2019-04-01"],
    ),
];

/// For namespaces without an entry above: any well-formed version is served for generic resources.
const GENERIC: &[&str] = &["2024-01-01", "2023-01-01", "2022-01-01", "2021-01-01"];

/// Every namespace the built-in roles name, keyed by its lower-cased name.
pub fn namespaces() -> &'static BTreeMap<String, Namespace> {
    static CATALOGUE: OnceLock<BTreeMap<String, Namespace>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut out: BTreeMap<String, Namespace> = BTreeMap::new();
        for role in builtin_roles().values() {
            for p in &role.permissions {
                for action in p.actions.iter().chain(&p.not_actions) {
                    let Some((ns, rtype)) = type_of_action(action) else {
                        continue;
                    };
                    let entry = out
                        .entry(ns.to_ascii_lowercase())
                        .or_insert_with(|| Namespace {
                            name: ns.to_string(),
                            types: Vec::new(),
                        });
                    if let Some(rtype) = rtype {
                        if !entry.types.iter().any(|t| t.eq_ignore_ascii_case(rtype)) {
                            entry.types.push(rtype.to_string());
                        }
                    }
                }
            }
        }
        for (ns, rtype) in UNNAMED_TYPES {
            if let Some(entry) = out.get_mut(&ns.to_ascii_lowercase()) {
                if !entry.types.iter().any(|t| t.eq_ignore_ascii_case(rtype)) {
                    entry.types.push(rtype.to_string());
                }
            }
        }
        for ns in out.values_mut() {
            ns.types.sort_by_key(|t| t.to_ascii_lowercase());
        }
        out
    })
}

/// Resource types ARM serves that no built-in role's actions name (so the roles cannot tell us):
/// template specs, which `az deployment group create --template-spec` resolves an api-version for.
const UNNAMED_TYPES: &[(&str, &str)] = &[
    ("Microsoft.Resources", "templateSpecs"),
    ("Microsoft.Resources", "templateSpecs/versions"),
];

/// Template specs' own api-versions (Microsoft.Resources/templateSpecs spec), newest first.
const TEMPLATE_SPECS: &[&str] = &[
    "2022-02-01",
    "2021-05-01",
    "2021-03-01-preview",
    "2019-06-01-preview",
];

/// `Microsoft.Network/virtualNetworks/subnets/read` → (`Microsoft.Network`, `virtualNetworks/subnets`);
/// a provider-level action gives the namespace alone; wildcards and `…/action` verbs name no type.
fn type_of_action(action: &str) -> Option<(&str, Option<&str>)> {
    if action.contains('*') {
        let ns = action.split('/').next()?;
        return (!ns.contains('*') && ns.contains('.')).then_some((ns, None));
    }
    let (ns, rest) = action.split_once('/')?;
    if !ns.contains('.') {
        return None;
    }
    let (rtype, verb) = rest.rsplit_once('/').unwrap_or(("", rest));
    if rtype.is_empty()
        || !matches!(
            verb.to_ascii_lowercase().as_str(),
            "read" | "write" | "delete"
        )
    {
        return Some((ns, None));
    }
    Some((ns, Some(rtype)))
}

/// The api-versions of a resource type, newest first.
pub fn api_versions(ns: &str, rtype: &str) -> Vec<&'static str> {
    let ns_l = ns.to_ascii_lowercase();
    let first = rtype
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ns_l == "microsoft.resources" && first == "templatespecs" {
        return TEMPLATE_SPECS.to_vec();
    }
    let family = match (ns_l.as_str(), first.as_str()) {
        ("microsoft.resources", _) => Some(Family::Resources),
        ("microsoft.managedservices", _) => Some(Family::ManagedServices),
        ("microsoft.authorization", "roledefinitions") => Some(Family::RoleDefinitions),
        ("microsoft.authorization", "permissions") => Some(Family::Permissions),
        ("microsoft.authorization", "locks") => Some(Family::Locks),
        ("microsoft.authorization", "denyassignments") => Some(Family::DenyAssignments),
        ("microsoft.authorization", t) if t.starts_with("role") && t.contains("schedule") => {
            Some(Family::Pim)
        }
        ("microsoft.authorization", t) if t.starts_with("roleeligibility") => Some(Family::Pim),
        ("microsoft.authorization", _) => Some(Family::RoleAssignments),
        ("microsoft.insights", "eventtypes") => Some(Family::ActivityLog),
        _ => None,
    };
    if let Some(f) = family {
        let mut v: Vec<&'static str> = f.supported().to_vec();
        v.reverse();
        return v;
    }
    VERSIONS
        .iter()
        .find(|(n, _)| *n == ns_l)
        .map(|(_, v)| v.to_vec())
        .unwrap_or_else(|| GENERIC.to_vec())
}

/// The `resourceTypes` array of a provider, each type offered in every region of `LOCATIONS`.
pub fn resource_types(ns: &str) -> Vec<Value> {
    let locations: Vec<&str> = LOCATIONS.iter().map(|(_, display, _)| *display).collect();
    let Some(n) = namespaces().get(&ns.to_ascii_lowercase()) else {
        return Vec::new();
    };
    n.types
        .iter()
        .map(|t| {
            let versions = api_versions(&n.name, t);
            // the newest stable version, as ARM's `defaultApiVersion`
            let default = versions
                .iter()
                .find(|v| !v.contains("preview"))
                .or(versions.first());
            json!({
                "resourceType": t,
                "locations": locations,
                "apiVersions": versions,
                "defaultApiVersion": default,
                "capabilities": "None",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_by_cloud_and_spelling() {
        for (cloud, given, want) in [
            ("AzureCloud", "westeurope", Some("westeurope")),
            ("AzureCloud", "West Europe", Some("westeurope")),
            ("AzureCloud", "WESTUS3", Some("westus3")),
            ("AzureCloud", "marsnorth", None),
            ("AzureCloud", "usgovvirginia", None),
            ("AzureUSGovernment", "USGov Virginia", Some("usgovvirginia")),
            ("AzureUSGovernment", "westeurope", None),
        ] {
            assert_eq!(region(cloud, given), want, "{cloud} {given}");
        }
        assert!(location_list("AzureCloud").starts_with("northeurope,westeurope,"));
    }

    #[test]
    fn types_come_from_role_actions() {
        assert_eq!(
            type_of_action("Microsoft.Network/virtualNetworks/subnets/read"),
            Some(("Microsoft.Network", Some("virtualNetworks/subnets")))
        );
        assert_eq!(
            type_of_action("Microsoft.Storage/storageAccounts/listKeys/action"),
            Some(("Microsoft.Storage", None))
        );
        assert_eq!(
            type_of_action("Microsoft.Compute/*"),
            Some(("Microsoft.Compute", None))
        );
        assert_eq!(type_of_action("*/read"), None);
        let net = &namespaces()["microsoft.network"];
        assert_eq!(net.name, "Microsoft.Network");
        assert!(net.types.iter().any(|t| t == "virtualNetworks"));
        assert!(net.types.iter().any(|t| t == "virtualNetworks/subnets"));
        assert!(namespaces()["microsoft.storage"]
            .types
            .iter()
            .any(|t| t == "storageAccounts"));
        assert!(namespaces().len() > 100, "{}", namespaces().len());
    }

    #[test]
    fn versions_are_newest_first_and_modelled_families_use_their_own_lists() {
        let v = api_versions("Microsoft.ManagedServices", "registrationDefinitions");
        assert_eq!(v.first(), Some(&"2022-10-01"));
        let v = api_versions("Microsoft.Authorization", "locks");
        assert_eq!(v.first(), Some(&"2020-05-01"));
        let v = api_versions("Microsoft.Network", "virtualNetworks");
        assert_eq!(v.first(), Some(&"2024-05-01"));
        let v = api_versions("Contoso.Unknown", "things");
        assert!(!v.is_empty());
        for w in api_versions("Microsoft.Resources", "resourceGroups").windows(2) {
            assert!(w[0] >= w[1], "{w:?}");
        }
    }
}

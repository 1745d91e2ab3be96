//! Resource names as the resource providers rule them, as pure tables: which types have globally unique
//! names (a DNS name: `{name}.blob.core.windows.net`, `{name}.vault.azure.net`, ...) and the provider's
//! own error when one is taken, and the per-type name rules with the provider's invalid-name error.
//! Never touches the store. Sources: learn.microsoft.com "Naming rules and restrictions for Azure
//! resources", and the errors as the providers answer them (quoted in issue threads, noted per entry).

use crate::arm::error::ArmError;

/// A type whose names are unique across all of Azure, and how its provider says a name is taken.
pub struct GlobalName {
    /// Lower-cased full type.
    pub rtype: &'static str,
    /// The `type` values a `checkNameAvailability` body may give for it (lower-cased).
    pub check_types: &'static [&'static str],
    pub status: u16,
    pub code: &'static str,
    /// The message, `{}` standing for the name.
    pub message: &'static str,
}

/// Globally named types. The texts are the providers' own (issue threads quoting them:
/// hashicorp/terraform#11485 storage, Esri/arcgis-gitops#174 Key Vault, dotnet/sign#392 App Service,
/// Azure-Samples/ansible-playbooks#25 SQL, OfficeDev/...-callrecord-insights#26 Cosmos DB,
/// Azure/azure-cli#13951 Container Registry, Azure/azure-sdk-for-python#18884 Service Bus/Event Hubs).
pub const GLOBAL_NAMES: &[GlobalName] = &[
    GlobalName {
        rtype: "microsoft.storage/storageaccounts",
        check_types: &["microsoft.storage/storageaccounts"],
        status: 409,
        code: "StorageAccountAlreadyTaken",
        message: "The storage account named {} is already taken.",
    },
    GlobalName {
        rtype: "microsoft.keyvault/vaults",
        check_types: &["microsoft.keyvault/vaults"],
        status: 409,
        code: "VaultAlreadyExists",
        message: "The vault name '{}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information about VaultAlreadyExists, soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.",
    },
    GlobalName {
        rtype: "microsoft.web/sites",
        check_types: &["site", "microsoft.web/sites"],
        status: 409,
        code: "Conflict",
        message: "Website with given name {} already exists.",
    },
    GlobalName {
        rtype: "microsoft.sql/servers",
        check_types: &["microsoft.sql/servers"],
        status: 409,
        code: "NameAlreadyExists",
        message: "The name '{}.database.windows.net' already exists. Choose a different name.",
    },
    GlobalName {
        rtype: "microsoft.documentdb/databaseaccounts",
        check_types: &["microsoft.documentdb/databaseaccounts"],
        status: 400,
        code: "BadRequest",
        message: "Dns record for {} under zone Document is already taken. Please use a different name for the account.",
    },
    GlobalName {
        rtype: "microsoft.containerregistry/registries",
        check_types: &["microsoft.containerregistry/registries"],
        status: 409,
        code: "AlreadyInUse",
        message: "The registry DNS name {}.azurecr.io is already in use. You can check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability",
    },
    GlobalName {
        rtype: "microsoft.servicebus/namespaces",
        check_types: &["microsoft.servicebus/namespaces"],
        status: 400,
        code: "BadRequest",
        message: "The specified name is not available. For more information visit https://aka.ms/eventhubsarmexceptions.",
    },
    GlobalName {
        rtype: "microsoft.eventhub/namespaces",
        check_types: &["microsoft.eventhub/namespaces"],
        status: 400,
        code: "BadRequest",
        message: "The specified name is not available. For more information visit https://aka.ms/eventhubsarmexceptions.",
    },
];

/// The global-name entry of a type (any case).
pub fn global(rtype: &str) -> Option<&'static GlobalName> {
    GLOBAL_NAMES
        .iter()
        .find(|g| g.rtype.eq_ignore_ascii_case(rtype))
}

/// The globally named type a `checkNameAvailability` of namespace `ns` asks about: the body's `type`
/// (`Microsoft.Storage/storageAccounts`, `Site`, ...) or the namespace's only global type.
pub fn global_for_check(ns: &str, given_type: &str) -> Option<&'static GlobalName> {
    let ns = ns.to_ascii_lowercase();
    let given = given_type.to_ascii_lowercase();
    let in_ns = || {
        GLOBAL_NAMES
            .iter()
            .filter(|g| g.rtype.starts_with(&format!("{ns}/")))
    };
    in_ns()
        .find(|g| g.check_types.contains(&given.as_str()))
        .or_else(|| {
            let mut all = in_ns();
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })
}

impl GlobalName {
    pub fn message_for(&self, name: &str) -> String {
        self.message.replace("{}", name)
    }

    /// The provider's error for a PUT whose name is taken elsewhere.
    pub fn taken(&self, name: &str) -> ArmError {
        ArmError::new(self.code, self.message_for(name))
            .with_status(self.status)
            .with_target(name)
    }
}

/// Cognitive Services accounts claim a global DNS name of their own choosing:
/// `properties.customSubDomainName` (`{sub}.cognitiveservices.azure.com`). The subdomain `body` claims,
/// lower-cased, if `rtype` is such an account.
pub fn custom_subdomain(rtype: &str, body: &serde_json::Value) -> Option<String> {
    if !rtype.eq_ignore_ascii_case("Microsoft.CognitiveServices/accounts") {
        return None;
    }
    body["properties"]["customSubDomainName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The 409 when another account holds the subdomain (the provider's text, as quoted in
/// microsoft/microsoft-foundry-for-vscode#107 and Azure-Samples/azuresandbox#164).
pub fn custom_domain_in_use(sub: &str) -> ArmError {
    ArmError::new(
        "CustomDomainInUse",
        format!("Please pick a different name. The subdomain name '{sub}' is not available as it's already used by a resource. If the resource using the name was deleted in the last 48 hours, you may need to purge the deleted resource. Learn more at \"https://go.microsoft.com/fwlink/?linkid=2215493\""),
    )
    .with_status(409)
}

/// A per-type name rule and the provider's error when a name breaks it.
struct NameRule {
    /// Lower-cased full type, or a namespace prefix ending in `/` (every type of it).
    rtype: &'static str,
    valid: fn(&str) -> bool,
    code: &'static str,
    /// `{}` stands for the name.
    message: &'static str,
}

fn storage_account(n: &str) -> bool {
    (3..=24).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// 3–24 alphanumerics and hyphens, starting with a letter, ending with a letter or digit, no `--`.
fn key_vault(n: &str) -> bool {
    (3..=24).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && n.as_bytes()[0].is_ascii_alphabetic()
        && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
        && !n.contains("--")
}

/// Microsoft.Network: 1–80 characters, word characters, `.`, `-`, `_`; starts with a word character,
/// ends with a word character or `_`.
fn network(n: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let count = n.chars().count();
    (1..=80).contains(&count)
        && n.chars().all(|c| word(c) || c == '.' || c == '-')
        && n.chars().next().is_some_and(word)
        && n.chars().last().is_some_and(word)
}

/// App Service sites: 2–60 alphanumerics and hyphens, not starting or ending with a hyphen.
fn web_site(n: &str) -> bool {
    (2..=60).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !n.starts_with('-')
        && !n.ends_with('-')
}

/// Container registries: 5–50 alphanumerics.
fn registry(n: &str) -> bool {
    (5..=50).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
}

const NAME_RULES: &[NameRule] = &[
    NameRule {
        rtype: "microsoft.storage/storageaccounts",
        valid: storage_account,
        code: "AccountNameInvalid",
        message: "{} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.",
    },
    NameRule {
        rtype: "microsoft.keyvault/vaults",
        valid: key_vault,
        code: "VaultNameNotValid",
        message: "The vault name '{}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742",
    },
    NameRule {
        rtype: "microsoft.network/",
        valid: network,
        code: "InvalidResourceName",
        message: "Resource name {} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.",
    },
    NameRule {
        rtype: "microsoft.web/sites",
        valid: web_site,
        code: "InvalidResourceName",
        message: "The site name '{}' is invalid. It can contain only letters, numbers and hyphens, must be between 2 and 60 characters and cannot start or end with a hyphen.",
    },
    NameRule {
        rtype: "microsoft.containerregistry/registries",
        valid: registry,
        code: "RegistryNameInvalid",
        message: "Registry name '{}' is invalid: it must be 5 to 50 alphanumeric characters.",
    },
];

fn rule_for(rtype: &str) -> Option<&'static NameRule> {
    let t = rtype.to_ascii_lowercase();
    NAME_RULES.iter().find(|r| {
        if r.rtype.ends_with('/') {
            t.starts_with(r.rtype)
        } else {
            t == r.rtype
        }
    })
}

/// The provider's 400 when `name` breaks the rule of `rtype` (the full type of the resource named),
/// with the provider's code and message.
pub fn check_name(rtype: &str, name: &str) -> Result<(), ArmError> {
    match rule_for(rtype) {
        Some(r) if !(r.valid)(name) => Err(ArmError::new(r.code, r.message.replace("{}", name))
            .with_status(400)
            .with_target(name)),
        _ => Ok(()),
    }
}

/// Why `checkNameAvailability` finds a name invalid: (reason, message), or `None` when it is valid.
pub fn invalid_reason(rtype: &str, name: &str) -> Option<(&'static str, String)> {
    let r = rule_for(rtype)?;
    if (r.valid)(name) {
        return None;
    }
    // Storage and Key Vault name this reason `AccountNameInvalid`; the others `Invalid`.
    let reason = match r.code {
        "AccountNameInvalid" | "VaultNameNotValid" => "AccountNameInvalid",
        _ => "Invalid",
    };
    Some((reason, r.message.replace("{}", name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rtype: &str, name: &str, ok: bool) {
        assert_eq!(check_name(rtype, name).is_ok(), ok, "{rtype} {name}");
    }

    #[test]
    fn name_rules() {
        let sa = "Microsoft.Storage/storageAccounts";
        let kv = "Microsoft.KeyVault/vaults";
        let vnet = "Microsoft.Network/virtualNetworks";
        let subnet = "Microsoft.Network/virtualNetworks/subnets";
        for (t, n, ok) in [
            (sa, "fabrikamdata", true),
            (sa, "Bad_Name", false),
            (sa, "ab", false),
            (sa, &"a".repeat(25), false),
            (kv, "fabrikam-kv", true),
            (kv, "1kv", false),
            (kv, "kv--x", false),
            (kv, "kv-", false),
            (vnet, "vnet-web", true),
            (vnet, "vnet.", false),
            (vnet, "-vnet", false),
            (subnet, "default_", true),
            (subnet, &"s".repeat(81), false),
            ("Microsoft.Web/sites", "-app", false),
            ("Microsoft.Compute/virtualMachines", "Any_Name", true),
        ] {
            check(t, n, ok);
        }
        assert_eq!(
            check_name(sa, "Bad_Name").unwrap_err().code,
            "AccountNameInvalid"
        );
    }

    #[test]
    fn global_names_and_name_checks() {
        let g = global("Microsoft.Storage/storageAccounts").unwrap();
        let e = g.taken("fabrikamdata");
        assert_eq!(
            (e.code.as_str(), e.status),
            ("StorageAccountAlreadyTaken", 409)
        );
        assert_eq!(
            e.message,
            "The storage account named fabrikamdata is already taken."
        );
        assert!(global("Microsoft.Network/virtualNetworks").is_none());
        for (ns, given, want) in [
            (
                "Microsoft.Storage",
                "Microsoft.Storage/storageAccounts",
                "microsoft.storage/storageaccounts",
            ),
            (
                "Microsoft.KeyVault",
                "Microsoft.KeyVault/vaults",
                "microsoft.keyvault/vaults",
            ),
            ("Microsoft.Web", "Site", "microsoft.web/sites"),
            (
                "microsoft.containerregistry",
                "",
                "microsoft.containerregistry/registries",
            ),
        ] {
            assert_eq!(
                global_for_check(ns, given).map(|g| g.rtype),
                Some(want),
                "{ns}"
            );
        }
        assert!(global_for_check("Microsoft.Network", "x").is_none());
        assert_eq!(
            invalid_reason("microsoft.storage/storageaccounts", "Bad_Name").map(|r| r.0),
            Some("AccountNameInvalid")
        );
    }
}

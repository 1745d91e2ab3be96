//! The world file: tenants, principals (with credentials and group membership), subscriptions, a
//! list of ARM requests replayed through the providers as the platform, and the data-plane contents
//! (blob containers and blobs, Key Vault secrets) put into the accounts and vaults those requests made. Parsing and validation only;
//! never writes to the store itself (the store replays `requests`). Format documented in README.
//! The default world (`fixtures/default-world.json`) is exactly what `fixtures/default-world.md` describes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const DEFAULT_WORLD: &str = include_str!("../fixtures/default-world.json");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    pub default_domain: String,
    #[serde(default)]
    pub domains: Vec<String>,
    /// AzureCloud | AzureUSGovernment | AzureChinaCloud
    #[serde(default = "azure_cloud")]
    pub cloud: String,
    #[serde(default = "us")]
    pub country_code: String,
}

fn azure_cloud() -> String {
    "AzureCloud".into()
}
fn us() -> String {
    "US".into()
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Group,
    ServicePrincipal,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "User",
            PrincipalKind::Group => "Group",
            PrincipalKind::ServicePrincipal => "ServicePrincipal",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Principal {
    pub tenant_id: String,
    pub object_id: String,
    #[serde(rename = "type")]
    pub kind: PrincipalKind,
    pub display_name: String,
    /// Users: the sign-in name (UPN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Users: the password for the ROPC grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Service principals: the application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Service principals: the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Object ids of the groups this principal is a direct member of.
    #[serde(default)]
    pub member_of: Vec<String>,
}

impl Principal {
    /// The name ARM's error messages use for the client: the UPN for users, the app id otherwise.
    pub fn client_name(&self) -> &str {
        self.user_principal_name
            .as_deref()
            .or(self.app_id.as_deref())
            .unwrap_or(&self.object_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscription {
    pub subscription_id: String,
    pub tenant_id: String,
    pub display_name: String,
    #[serde(default = "enabled")]
    pub state: String,
}

fn enabled() -> String {
    "Enabled".into()
}

/// One ARM request replayed as the platform when the world is loaded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldRequest {
    pub id: String,
    pub api_version: String,
    #[serde(default = "put")]
    pub method: String,
    #[serde(default)]
    pub body: Value,
}

fn put() -> String {
    "PUT".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct World {
    #[serde(default, rename = "$comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub tenants: Vec<Tenant>,
    pub principals: Vec<Principal>,
    pub subscriptions: Vec<Subscription>,
    #[serde(default)]
    pub requests: Vec<WorldRequest>,
    /// Data-plane contents, loaded after `requests` (the accounts and vaults must exist by then).
    #[serde(default, skip_serializing_if = "WorldData::is_empty")]
    pub data: WorldData,
    /// The store's rows as they are (an exported snapshot), loaded after `data` without a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::world_state::WorldState>,
}

/// Blob containers, blobs and Key Vault secrets of the world, addressed by account and vault name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldData {
    #[serde(default)]
    pub containers: Vec<WorldContainer>,
    #[serde(default)]
    pub blobs: Vec<WorldBlob>,
    #[serde(default)]
    pub secrets: Vec<WorldSecret>,
}

impl WorldData {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.blobs.is_empty() && self.secrets.is_empty()
    }
}

/// A blob container (`account` is a storage account name; a blob's container is made if not listed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldContainer {
    pub account: String,
    pub name: String,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// A block blob with text content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldBlob {
    pub account: String,
    pub container: String,
    pub name: String,
    #[serde(default = "octet_stream")]
    pub content_type: String,
    pub content: String,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

fn octet_stream() -> String {
    "application/octet-stream".into()
}

/// A Key Vault secret (one version).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldSecret {
    pub vault: String,
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Azure's storage account name rule: 3–24 lower-case letters and digits.
pub fn is_storage_account_name(n: &str) -> bool {
    (3..=24).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Azure's container name rule: 3–63 lower-case letters, digits and single hyphens, starting and
/// ending with a letter or digit (`$root` and `$web` too).
pub fn is_container_name(n: &str) -> bool {
    if n == "$root" || n == "$web" || n == "$logs" {
        return true;
    }
    (3..=63).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !n.starts_with('-')
        && !n.ends_with('-')
        && !n.contains("--")
}

/// Azure's key vault name rule: 3–24 letters, digits and hyphens, starting with a letter, ending
/// with a letter or digit, no consecutive hyphens.
pub fn is_vault_name(n: &str) -> bool {
    (3..=24).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && n.as_bytes()[0].is_ascii_alphabetic()
        && !n.ends_with('-')
        && !n.contains("--")
}

/// Key Vault object names: 1–127 letters, digits and hyphens.
pub fn is_secret_name(n: &str) -> bool {
    (1..=127).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A world-file error with its position (1-based line and column, 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct WorldError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for WorldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl World {
    /// The same tenants, principals and subscriptions without requests, data or state.
    pub fn directory_only(&self) -> World {
        World {
            comment: None,
            tenants: self.tenants.clone(),
            principals: self.principals.clone(),
            subscriptions: self.subscriptions.clone(),
            requests: Vec::new(),
            data: Default::default(),
            state: None,
        }
    }

    /// Parse and check a world file: JSON shape (serde's line and column), then references between
    /// entries (GUIDs, tenants of principals and subscriptions, group membership, unique ids).
    pub fn parse(text: &str) -> Result<World, Vec<WorldError>> {
        let world: World = serde_json::from_str(text).map_err(|e| {
            vec![WorldError {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }]
        })?;
        let errs = world.check(text);
        if errs.is_empty() {
            Ok(world)
        } else {
            Err(errs)
        }
    }

    fn check(&self, text: &str) -> Vec<WorldError> {
        use crate::arm::resource_id::is_guid;
        let mut errs = Vec::new();
        let mut err = |needle: &str, message: String| {
            let (line, column) = locate(text, needle);
            errs.push(WorldError {
                line,
                column,
                message,
            });
        };
        let mut seen = std::collections::HashSet::new();
        for t in &self.tenants {
            if !is_guid(&t.id) {
                err(&t.id, format!("tenant id '{}' is not a GUID", t.id));
            }
            if !seen.insert(t.id.to_lowercase()) {
                err(&t.id, format!("tenant id '{}' appears twice", t.id));
            }
        }
        let tenant_ids: std::collections::HashSet<String> =
            self.tenants.iter().map(|t| t.id.to_lowercase()).collect();
        let mut oids = std::collections::HashMap::new();
        for p in &self.principals {
            if !is_guid(&p.object_id) {
                err(
                    &p.object_id,
                    format!("object id '{}' is not a GUID", p.object_id),
                );
            }
            if oids.insert(p.object_id.to_lowercase(), p.kind).is_some() {
                err(
                    &p.object_id,
                    format!("object id '{}' appears twice", p.object_id),
                );
            }
            if !tenant_ids.contains(&p.tenant_id.to_lowercase()) {
                err(
                    &p.object_id,
                    format!(
                        "principal '{}' names unknown tenant '{}'",
                        p.display_name, p.tenant_id
                    ),
                );
            }
            match p.kind {
                PrincipalKind::ServicePrincipal
                    if p.app_id.as_deref().map(is_guid) != Some(true) =>
                {
                    err(
                        &p.object_id,
                        format!("service principal '{}' needs an appId GUID", p.display_name),
                    )
                }
                PrincipalKind::User if p.user_principal_name.is_none() => err(
                    &p.object_id,
                    format!("user '{}' needs a userPrincipalName", p.display_name),
                ),
                _ => {}
            }
        }
        for p in &self.principals {
            for g in &p.member_of {
                if oids.get(&g.to_lowercase()) != Some(&PrincipalKind::Group) {
                    err(
                        g,
                        format!(
                            "'{}' is a member of '{g}', which is not a group of this world",
                            p.display_name
                        ),
                    );
                }
            }
        }
        for s in &self.subscriptions {
            if !is_guid(&s.subscription_id) {
                err(
                    &s.subscription_id,
                    format!("subscription id '{}' is not a GUID", s.subscription_id),
                );
            }
            if !tenant_ids.contains(&s.tenant_id.to_lowercase()) {
                err(
                    &s.subscription_id,
                    format!(
                        "subscription '{}' names unknown tenant '{}'",
                        s.display_name, s.tenant_id
                    ),
                );
            }
        }
        for r in &self.requests {
            if let Err(e) = crate::arm::resource_id::ResourceId::parse(&r.id) {
                err(
                    &r.id,
                    format!("request id '{}' is not a resource id: {}", r.id, e.0),
                );
            }
        }
        for c in &self.data.containers {
            if !is_storage_account_name(&c.account) {
                err(
                    &c.account,
                    format!("'{}' is not a storage account name", c.account),
                );
            }
            if !is_container_name(&c.name) {
                err(
                    &c.name,
                    format!("'{}' is not a blob container name", c.name),
                );
            }
        }
        for b in &self.data.blobs {
            if !is_storage_account_name(&b.account) {
                err(
                    &b.account,
                    format!("'{}' is not a storage account name", b.account),
                );
            }
            if !is_container_name(&b.container) {
                err(
                    &b.container,
                    format!("'{}' is not a blob container name", b.container),
                );
            }
            if b.name.is_empty() || b.name.len() > 1024 {
                err(
                    &b.name,
                    format!("blob name '{}' must have 1 to 1024 characters", b.name),
                );
            }
        }
        for s in &self.data.secrets {
            if !is_vault_name(&s.vault) {
                err(&s.vault, format!("'{}' is not a key vault name", s.vault));
            }
            if !is_secret_name(&s.name) {
                err(
                    &s.name,
                    format!(
                        "'{}' is not a secret name (letters, digits, hyphens)",
                        s.name
                    ),
                );
            }
        }
        for (needle, message) in self.state.iter().flat_map(|s| s.problems()) {
            err(&needle, message);
        }
        errs
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text` (0,0 when absent).
fn locate(text: &str, needle: &str) -> (usize, usize) {
    let quoted = format!("\"{needle}\"");
    match text.find(&quoted).or_else(|| text.find(needle)) {
        Some(pos) => {
            let before = &text[..pos];
            let line = before.matches('\n').count() + 1;
            let column = pos - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            (line, column)
        }
        None => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_parses() {
        let w = World::parse(DEFAULT_WORLD).expect("default world");
        assert_eq!(w.tenants.len(), 5);
        assert_eq!(w.subscriptions.len(), 7);
        assert!(w
            .principals
            .iter()
            .any(|p| p.user_principal_name.as_deref() == Some("alice@contosomsp.onmicrosoft.com")));
    }

    #[test]
    fn the_default_world_has_its_data() {
        let w = World::parse(DEFAULT_WORLD).unwrap();
        assert!(w.data.blobs.iter().any(|b| b.account == "fabrikamdata"
            && b.container == "reports"
            && b.name == "q3.csv"));
        assert!(w
            .data
            .secrets
            .iter()
            .any(|s| s.vault == "fabrikam-kv" && s.name == "db-password"));
        let bad = r#"{"tenants":[],"principals":[],"subscriptions":[],"data":{"secrets":[{"vault":"kv","name":"a_b","value":"x"}]}}"#;
        let e = World::parse(bad).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(is_container_name("reports") && !is_container_name("Reports"));
        assert!(is_vault_name("fabrikam-kv") && !is_vault_name("1kv"));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = World::parse("{\n  \"tenants\": [\n  }").unwrap_err();
        assert_eq!(e[0].line, 3);
        let bad = r#"{"tenants":[{"id":"x","displayName":"X","defaultDomain":"x"}],"principals":[],"subscriptions":[]}"#;
        let e = World::parse(bad).unwrap_err();
        assert!(e[0].message.contains("not a GUID"), "{:?}", e);
        assert_eq!((e[0].line, e[0].column), (1, 19));
    }
}

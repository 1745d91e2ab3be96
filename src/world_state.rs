//! The `state` section of a world file: the store's rows as they are — resources with their owners,
//! meta entries, blob containers and blobs, Key Vault secret versions, Log Analytics rows — which is how
//! a snapshot is exported (`GET /_emulator/snapshots/{name}`) and loaded again without a replay.
//! Types and checks only; never reads or writes the store (`snapshots` does).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldState {
    #[serde(default)]
    pub resources: Vec<StateResource>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<StateContainer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<StateBlob>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<StateSecret>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_rows: Vec<StateLogRow>,
}

/// One stored resource: its lower-cased id, the indexing columns and the JSON ARM returns for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateResource {
    pub id: String,
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default)]
    pub subscription: String,
    #[serde(default)]
    pub resource_group: String,
    pub parent: String,
    /// The resource that made this one as the platform (it goes when that one goes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    pub body: Value,
}

/// A blob container by the lower-cased id of its storage account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateContainer {
    pub account: String,
    pub name: String,
    pub body: Value,
}

/// A committed blob: text content as it is, other bytes in base64 (`base64: true`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateBlob {
    pub account: String,
    pub container: String,
    pub name: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
    pub body: Value,
}

/// One version of a secret by the lower-cased id of its vault, oldest first within a name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateSecret {
    pub vault: String,
    pub name: String,
    pub version: String,
    pub body: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Value>,
}

/// One Log Analytics row of a workspace (its customerId) and table, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateLogRow {
    pub workspace: String,
    pub table: String,
    pub time_generated: String,
    pub body: Value,
}

impl WorldState {
    /// Problems with the rows, as (text to locate, message): ids that are not lower-cased resource ids
    /// and rows that name an account or vault the state lacks.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let ids: std::collections::HashSet<&str> =
            self.resources.iter().map(|r| r.id.as_str()).collect();
        for r in &self.resources {
            if let Err(e) = crate::arm::resource_id::ResourceId::parse(&r.id) {
                out.push((
                    r.id.clone(),
                    format!("state resource '{}' is not a resource id: {}", r.id, e.0),
                ));
            } else if r.id != r.id.to_lowercase() {
                out.push((
                    r.id.clone(),
                    format!("state resource id '{}' must be lower-case", r.id),
                ));
            }
        }
        let mut need = |what: &str, key: &str| {
            if !ids.contains(key) {
                out.push((
                    key.to_string(),
                    format!("state {what} '{key}' is not a resource of the state"),
                ));
            }
        };
        for c in &self.containers {
            need("account", &c.account);
        }
        for b in &self.blobs {
            need("account", &b.account);
        }
        for s in &self.secrets {
            need("vault", &s.vault);
        }
        out
    }
}

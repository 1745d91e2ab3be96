//! The access facts snapshot: the directory, role definitions, grants (role assignments and delegated
//! authorizations), deny assignments and locks, read from the store into one immutable value that every
//! request shares. Rebuilt after a write that touches one of those types, never on the read path.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;

use crate::authz::{AccessFacts, DenyRule, Grant, Permission, RoleDefinition, Via};
use crate::directory::Directory;
use crate::store::{StoreError, Tx};
use crate::world::{Principal, Subscription, Tenant};

pub const BUILTIN_ROLES_JSON: &str = include_str!("../fixtures/builtin-roles.json");

/// Resource types whose writes change the snapshot.
pub const FACT_TYPES: &[&str] = &[
    "microsoft.authorization/roleassignments",
    "microsoft.authorization/roledefinitions",
    "microsoft.authorization/denyassignments",
    "microsoft.authorization/locks",
    "microsoft.managedservices/registrationdefinitions",
    "microsoft.managedservices/registrationassignments",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPermission {
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    not_actions: Vec<String>,
    #[serde(default)]
    data_actions: Vec<String>,
    #[serde(default)]
    not_data_actions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRole {
    id: String,
    role_name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type", default)]
    role_type: String,
    #[serde(default)]
    permissions: Vec<RawPermission>,
    #[serde(default)]
    assignable_scopes: Vec<String>,
}

fn permission(p: RawPermission) -> Permission {
    Permission {
        actions: p.actions,
        not_actions: p.not_actions,
        data_actions: p.data_actions,
        not_data_actions: p.not_data_actions,
    }
}

pub fn permission_from_json(v: &Value) -> Permission {
    serde_json::from_value::<RawPermission>(v.clone())
        .map(permission)
        .unwrap_or_default()
}

/// The 928 built-in roles, by lower-case GUID, parsed once per process.
pub fn builtin_roles() -> &'static HashMap<String, Arc<RoleDefinition>> {
    static ROLES: OnceLock<HashMap<String, Arc<RoleDefinition>>> = OnceLock::new();
    ROLES.get_or_init(|| {
        let raw: Vec<RawRole> = serde_json::from_str(BUILTIN_ROLES_JSON).unwrap_or_default();
        raw.into_iter()
            .map(|r| {
                (
                    r.id.to_lowercase(),
                    Arc::new(RoleDefinition {
                        id: r.id.to_lowercase(),
                        role_name: r.role_name,
                        description: r.description,
                        role_type: if r.role_type.is_empty() {
                            "BuiltInRole".into()
                        } else {
                            r.role_type
                        },
                        permissions: r.permissions.into_iter().map(permission).collect(),
                        assignable_scopes: r.assignable_scopes,
                    }),
                )
            })
            .collect()
    })
}

/// The last path segment of a role definition id, or the bare GUID itself, lower-cased.
pub fn role_guid(role_definition_id: &str) -> String {
    role_definition_id
        .rsplit('/')
        .next()
        .unwrap_or(role_definition_id)
        .to_lowercase()
}

#[derive(Debug, Clone)]
pub struct LockFact {
    pub id: String,
    pub name: String,
    /// Lower-cased canonical scope the lock sits on.
    pub scope: String,
    /// The scope as written (for messages).
    pub scope_display: String,
    pub level: String,
}

/// Everything a decision needs, as one immutable value.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub dir: Directory,
    pub custom_roles: HashMap<String, Arc<RoleDefinition>>,
    pub access: AccessFacts,
    pub locks: Vec<LockFact>,
    /// Subscription (lower-case) → managing tenants with a delegation on it or one of its groups.
    pub managed_by: HashMap<String, Vec<String>>,
}

impl Snapshot {
    pub fn role(&self, guid: &str) -> Option<&Arc<RoleDefinition>> {
        let g = guid.to_lowercase();
        builtin_roles()
            .get(&g)
            .or_else(|| self.custom_roles.get(&g))
    }

    /// Read the snapshot from the store.
    pub fn load(tx: &Tx) -> Result<Snapshot, StoreError> {
        let tenants: Vec<Tenant> = parse_all(tx.directory("tenant")?)?;
        let principals: Vec<Principal> = parse_all(tx.directory("principal")?)?;
        let subscriptions: Vec<Subscription> = parse_all(tx.directory("subscription")?)?;
        let dir = Directory::new(tenants, principals, subscriptions);

        let mut snap = Snapshot {
            dir,
            ..Default::default()
        };
        for r in tx.by_type("microsoft.authorization/roledefinitions", None, None)? {
            let p = &r.body["properties"];
            let guid = r.body["name"].as_str().unwrap_or_default().to_lowercase();
            snap.custom_roles.insert(
                guid.clone(),
                Arc::new(RoleDefinition {
                    id: guid,
                    role_name: p["roleName"].as_str().unwrap_or_default().into(),
                    description: p["description"].as_str().unwrap_or_default().into(),
                    role_type: "CustomRole".into(),
                    permissions: p["permissions"]
                        .as_array()
                        .map(|a| a.iter().map(permission_from_json).collect())
                        .unwrap_or_default(),
                    assignable_scopes: p["assignableScopes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
            );
        }

        let mut grants = Vec::new();
        for r in tx.by_type("microsoft.authorization/roleassignments", None, None)? {
            let p = &r.body["properties"];
            let role = match snap.role(&role_guid(
                p["roleDefinitionId"].as_str().unwrap_or_default(),
            )) {
                Some(role) => role.clone(),
                None => continue,
            };
            grants.push(Grant {
                id: r.body["id"].as_str().unwrap_or_default().to_string(),
                scope: r.parent.clone(),
                principal_id: p["principalId"].as_str().unwrap_or_default().to_lowercase(),
                role,
                via: Via::RoleAssignment,
                expires_at: None,
            });
        }

        // Delegations: every registration assignment whose definition exists projects the
        // definition's (permanent) authorizations onto the assignment's scope.
        for a in tx.by_type(
            "microsoft.managedservices/registrationassignments",
            None,
            None,
        )? {
            let def_id = a.body["properties"]["registrationDefinitionId"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let Some(def) = tx.get(&def_id)? else {
                continue;
            };
            let dp = &def.body["properties"];
            let managed_by = dp["managedByTenantId"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            snap.managed_by
                .entry(a.sub.clone())
                .or_default()
                .push(managed_by.clone());
            for auth in dp["authorizations"].as_array().into_iter().flatten() {
                let Some(role) = snap
                    .role(&role_guid(
                        auth["roleDefinitionId"].as_str().unwrap_or_default(),
                    ))
                    .cloned()
                else {
                    continue;
                };
                grants.push(Grant {
                    id: a.body["id"].as_str().unwrap_or_default().to_string(),
                    scope: a.parent.clone(),
                    principal_id: auth["principalId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase(),
                    role,
                    via: Via::Delegation {
                        registration_assignment_id: a.body["id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        registration_definition_id: def.body["id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        managed_by_tenant_id: managed_by.clone(),
                        eligible: false,
                    },
                    expires_at: None,
                });
            }
        }
        for v in snap.managed_by.values_mut() {
            v.sort();
            v.dedup();
        }

        let mut denies = Vec::new();
        for r in tx.by_type("microsoft.authorization/denyassignments", None, None)? {
            let p = &r.body["properties"];
            let ids = |k: &str| -> Vec<String> {
                p[k].as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x["id"].as_str().map(|s| s.to_lowercase()))
                    .collect()
            };
            denies.push(DenyRule {
                id: r.body["id"].as_str().unwrap_or_default().into(),
                name: p["denyAssignmentName"].as_str().unwrap_or_default().into(),
                scope: r.parent.clone(),
                principals: ids("principals"),
                exclude_principals: ids("excludePrincipals"),
                permissions: p["permissions"]
                    .as_array()
                    .map(|a| a.iter().map(permission_from_json).collect())
                    .unwrap_or_default(),
                do_not_apply_to_child_scopes: p["doNotApplyToChildScopes"]
                    .as_bool()
                    .unwrap_or(false),
            });
        }
        snap.access = AccessFacts::new(grants, denies);

        for r in tx.by_type("microsoft.authorization/locks", None, None)? {
            snap.locks.push(LockFact {
                id: r.body["id"].as_str().unwrap_or_default().into(),
                name: r.body["name"].as_str().unwrap_or_default().into(),
                scope: r.parent.clone(),
                scope_display: r.body["id"]
                    .as_str()
                    .and_then(|id| id.rsplit_once("/providers/Microsoft.Authorization/locks/"))
                    .map(|(s, _)| s.to_string())
                    .unwrap_or_default(),
                level: r.body["properties"]["level"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            });
        }
        Ok(snap)
    }
}

fn parse_all<T: serde::de::DeserializeOwned>(v: Vec<Value>) -> Result<Vec<T>, StoreError> {
    v.into_iter()
        .map(|x| serde_json::from_value(x).map_err(StoreError::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_builtin_roles_load() {
        let roles = builtin_roles();
        assert_eq!(roles.len(), 928);
        let reader = &roles["acdd72a7-3385-48ef-bd42-f606fba81ae7"];
        assert_eq!(reader.role_name, "Reader");
        assert!(reader.allows("Microsoft.Compute/virtualMachines/read", false));
        let contributor = &roles["b24988ac-6180-42a0-ab88-20f7382dd24c"];
        assert!(!contributor.allows("Microsoft.Authorization/roleAssignments/write", false));
        assert!(roles["2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"].has_data_actions());
    }
}

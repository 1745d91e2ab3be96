//! The access facts snapshot: the directory, role definitions, grants (role assignments and delegated
//! authorizations), deny assignments and locks, read from the store into one immutable value that every
//! request shares. Rebuilt after a write that touches one of those types, never on the read path.
//! Eligible (just-in-time) authorizations grant nothing by themselves: they are listed as
//! `Eligibility` values, and only an active activation (a PIM role assignment schedule) becomes a
//! `Grant`, with `expires_at` at the activation's end (ARM-FACTS.md §7.1, §7.3).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::authz::{
    AccessFacts, DenyRule, Grant, LockLevel, LockRule, Permission, RoleDefinition, Via,
};
use crate::clock::parse_duration;
use crate::directory::Directory;
use crate::hierarchy::Hierarchy;
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
    crate::hierarchy::GROUP_TYPE,
    crate::hierarchy::GROUP_SUBSCRIPTION_TYPE,
    crate::hierarchy::SETTINGS_TYPE,
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

fn builtin_role_of(r: RawRole) -> RoleDefinition {
    RoleDefinition {
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
    }
}

/// One entry of the built-in catalogue: the role's own JSON text, parsed on first use.
struct BuiltinEntry {
    json: &'static str,
    role: OnceLock<Option<Arc<RoleDefinition>>>,
}

/// The catalogue cut into one JSON object per role, by lower-case GUID, without parsing it. Each role
/// of fixtures/builtin-roles.json is an object of the top-level array whose `"id"` key holds its GUID
/// (no other key of the file is `id`): a role's text runs from the `{` before its `"id"` to the `{` of
/// the next one. Parsing all 928 (1.1 MB) took about 3 ms of every start, which needs a handful;
/// `builtin_roles_parse_one_by_one_as_a_whole` checks each cut against a parse of the whole file.
fn builtin_index() -> &'static HashMap<String, BuiltinEntry> {
    static INDEX: OnceLock<HashMap<String, BuiltinEntry>> = OnceLock::new();
    INDEX.get_or_init(|| {
        const KEY: &str = "\"id\": \"";
        let text = BUILTIN_ROLES_JSON;
        let starts: Vec<(usize, &str)> = text
            .match_indices(KEY)
            .filter_map(|(at, _)| {
                let open = text[..at].rfind('{')?;
                let guid = text.get(at + KEY.len()..at + KEY.len() + 36)?;
                Some((open, guid))
            })
            .collect();
        let ends = starts
            .iter()
            .skip(1)
            .map(|(open, _)| *open)
            .chain([text.rfind(']').unwrap_or(text.len())]);
        starts
            .iter()
            .zip(ends)
            .map(|((open, guid), end)| {
                let json = text[*open..end].trim_end().trim_end_matches(',');
                (
                    guid.to_lowercase(),
                    BuiltinEntry {
                        json,
                        role: OnceLock::new(),
                    },
                )
            })
            .collect()
    })
}

/// One built-in role by lower-case GUID, parsed from its own text the first time it is asked for.
pub fn builtin_role(guid: &str) -> Option<&'static Arc<RoleDefinition>> {
    let entry = builtin_index().get(guid)?;
    entry
        .role
        .get_or_init(|| {
            serde_json::from_str::<RawRole>(entry.json)
                .ok()
                .map(|r| Arc::new(builtin_role_of(r)))
        })
        .as_ref()
}

/// The 928 built-in roles, by lower-case GUID (every one parsed: for listings; a lookup by GUID is
/// `builtin_role`).
pub fn builtin_roles() -> &'static HashMap<String, Arc<RoleDefinition>> {
    static ROLES: OnceLock<HashMap<String, Arc<RoleDefinition>>> = OnceLock::new();
    ROLES.get_or_init(|| {
        builtin_index()
            .keys()
            .filter_map(|g| Some((g.clone(), builtin_role(g)?.clone())))
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

/// `maximumActivationDuration` when a just-in-time policy does not say (ARM-FACTS §7.3).
pub const DEFAULT_MAX_ACTIVATION_SECS: i64 = 8 * 3600;

/// The store type of an activation: a PIM role assignment schedule (written by the PIM provider).
pub const ACTIVATION_TYPE: &str = "microsoft.authorization/roleassignmentschedules";

/// One eligible authorization of a registration definition, projected onto the scope of a
/// registration assignment that uses the definition. Grants nothing until activated.
#[derive(Debug, Clone, PartialEq)]
pub struct Eligibility {
    /// Lower-case GUID, stable for (assignment, principal, role): the role eligibility schedule name.
    pub id: String,
    /// The role eligibility schedule instance name (also stable).
    pub instance_id: String,
    /// Lower-cased canonical scope of the registration assignment.
    pub scope: String,
    /// The same scope as ARM writes it (`/subscriptions/{sub}[/resourceGroups/{rg}]`).
    pub scope_display: String,
    /// Lower-cased object id of the eligible user or group (managing tenant).
    pub principal_id: String,
    pub principal_display_name: String,
    /// Bare lower-case role GUID.
    pub role: String,
    pub max_activation_secs: i64,
    /// `maximumActivationDuration` as written in the definition (or `PT8H`).
    pub max_activation: String,
    /// `Azure` or `None`.
    pub multi_factor_auth_provider: String,
    /// Lower-cased object ids of `managedByTenantApprovers`; empty = no approval needed.
    pub approvers: Vec<String>,
    pub registration_assignment_id: String,
    pub registration_definition_id: String,
    pub managed_by_tenant_id: String,
    /// When the registration assignment was created (`systemData.createdAt`), if known.
    pub created_on: Option<String>,
}

/// A GUID derived from `seed` (SHA-256), so derived names are stable across reloads.
pub fn derived_guid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// Unix seconds of an RFC 3339 time, if it parses.
pub fn unix_of(t: &str) -> Option<i64> {
    OffsetDateTime::parse(t, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Everything a decision needs, as one immutable value.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub dir: Directory,
    pub custom_roles: HashMap<String, Arc<RoleDefinition>>,
    pub access: AccessFacts,
    pub locks: Vec<LockRule>,
    /// Subscription (lower-case) → managing tenants with a delegation on it or one of its groups.
    pub managed_by: HashMap<String, Vec<String>>,
    /// Eligible (just-in-time) authorizations of every delegation, in assignment order.
    pub eligible: Vec<Eligibility>,
    /// The management groups of every tenant and where each subscription sits.
    pub groups: Hierarchy,
}

impl Snapshot {
    pub fn role(&self, guid: &str) -> Option<&Arc<RoleDefinition>> {
        let g = guid.to_lowercase();
        builtin_role(&g).or_else(|| self.custom_roles.get(&g))
    }

    /// Read the snapshot from the store.
    pub fn load(tx: &Tx) -> Result<Snapshot, StoreError> {
        // parsed from the rows' text into the structs (half the time of going through a JSON tree)
        let tenants: Vec<Tenant> = tx.directory_as("tenant")?;
        let principals: Vec<Principal> = tx.directory_as("principal")?;
        let subscriptions: Vec<Subscription> = tx.directory_as("subscription")?;
        let dir = Directory::new(tenants, principals, subscriptions);

        let groups = load_hierarchy(tx, &dir)?;
        let mut snap = Snapshot {
            dir,
            groups,
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
                let assignable_roles = assignable_roles(&role, auth);
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
                        assignable_roles,
                    },
                    expires_at: None,
                });
            }
            let assignment_id = a.body["id"].as_str().unwrap_or_default().to_string();
            for e in dp["eligibleAuthorizations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let principal = e["principalId"].as_str().unwrap_or_default().to_lowercase();
                let role = role_guid(e["roleDefinitionId"].as_str().unwrap_or_default());
                let policy = &e["justInTimeAccessPolicy"];
                let max_activation = policy["maximumActivationDuration"]
                    .as_str()
                    .unwrap_or("PT8H")
                    .to_string();
                let seed = format!("{}|{principal}|{role}", a.key);
                snap.eligible.push(Eligibility {
                    id: derived_guid(&format!("eligibility|{seed}")),
                    instance_id: derived_guid(&format!("eligibility-instance|{seed}")),
                    scope: a.parent.clone(),
                    scope_display: assignment_id
                        .rsplit_once("/providers/")
                        .map(|(s, _)| s.to_string())
                        .unwrap_or_default(),
                    principal_id: principal,
                    principal_display_name: e["principalIdDisplayName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    role,
                    max_activation_secs: parse_duration(&max_activation)
                        .map(|d| d.whole_seconds())
                        .unwrap_or(DEFAULT_MAX_ACTIVATION_SECS),
                    max_activation,
                    multi_factor_auth_provider: policy["multiFactorAuthProvider"]
                        .as_str()
                        .unwrap_or("None")
                        .to_string(),
                    approvers: policy["managedByTenantApprovers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x["principalId"].as_str().map(|s| s.to_lowercase()))
                        .collect(),
                    registration_assignment_id: assignment_id.clone(),
                    registration_definition_id: def.body["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    managed_by_tenant_id: managed_by.clone(),
                    created_on: a.body["systemData"]["createdAt"].as_str().map(String::from),
                });
            }
        }
        for v in snap.managed_by.values_mut() {
            v.sort();
            v.dedup();
        }

        // Activations: each PIM role assignment schedule whose eligibility still exists (and still
        // covers the user, directly or through a group) is a delegated grant until its end.
        for r in tx.by_type(ACTIVATION_TYPE, None, None)? {
            if let Some(g) = activation_grant(&snap, &r.parent, &r.body) {
                grants.push(g);
            }
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
        // A grant or deny assignment at a management group applies to every group and subscription
        // below it: each is projected onto those scopes (after the direct ones, so a decision names a
        // direct grant first), so the decision stays a prefix match over the target's own id.
        expand_below_groups(&snap.groups, &mut grants, &mut denies);
        snap.access = AccessFacts::new(grants, denies);

        for r in tx.by_type("microsoft.authorization/locks", None, None)? {
            // the locks provider writes only the two levels ARM knows
            let Some(level) =
                LockLevel::parse(r.body["properties"]["level"].as_str().unwrap_or_default())
            else {
                continue;
            };
            snap.locks.push(LockRule {
                id: r.body["id"].as_str().unwrap_or_default().into(),
                name: r.body["name"].as_str().unwrap_or_default().into(),
                scope: r.parent.clone(),
                scope_display: r.body["id"]
                    .as_str()
                    .and_then(|id| id.rsplit_once("/providers/Microsoft.Authorization/locks/"))
                    .map(|(s, _)| s.to_string())
                    .unwrap_or_default(),
                level,
            });
        }
        Ok(snap)
    }
}

/// The hierarchy from the directory and the stored groups, placements and root settings.
fn load_hierarchy(tx: &Tx, dir: &Directory) -> Result<Hierarchy, StoreError> {
    let tenants: Vec<String> = dir.tenants.iter().map(|t| t.id.clone()).collect();
    let subs: Vec<(String, String)> = dir
        .subscriptions
        .iter()
        .map(|s| (s.subscription_id.clone(), s.tenant_id.clone()))
        .collect();
    let groups: Vec<Value> = tx
        .by_type(crate::hierarchy::GROUP_TYPE, None, None)?
        .into_iter()
        .map(|r| r.body)
        .collect();
    let placements: Vec<(String, String)> = tx
        .by_type(crate::hierarchy::GROUP_SUBSCRIPTION_TYPE, None, None)?
        .into_iter()
        .filter_map(|r| {
            let g = crate::hierarchy::group_of_scope(&r.key)?.to_string();
            Some((r.body["name"].as_str()?.to_string(), g))
        })
        .collect();
    let settings: Vec<(String, bool)> = tx
        .by_type(crate::hierarchy::SETTINGS_TYPE, None, None)?
        .into_iter()
        .filter_map(|r| {
            let p = &r.body["properties"];
            Some((
                p["tenantId"].as_str()?.to_string(),
                p["requireAuthorizationForGroupCreation"]
                    .as_bool()
                    .unwrap_or(false),
            ))
        })
        .collect();
    Ok(Hierarchy::new(
        &tenants,
        &subs,
        &groups,
        &placements,
        &settings,
    ))
}

/// Project grants and deny assignments at a management group onto every scope below it.
fn expand_below_groups(h: &Hierarchy, grants: &mut Vec<Grant>, denies: &mut Vec<DenyRule>) {
    let mut more = Vec::new();
    for g in grants.iter() {
        for s in h.scopes_below(&g.scope) {
            more.push(Grant {
                scope: s,
                ..g.clone()
            });
        }
    }
    grants.extend(more);
    let mut more = Vec::new();
    for d in denies.iter().filter(|d| !d.do_not_apply_to_child_scopes) {
        for s in h.scopes_below(&d.scope) {
            more.push(DenyRule {
                scope: s,
                ..d.clone()
            });
        }
    }
    denies.extend(more);
}

/// The grant an activation (a stored role assignment schedule at `scope`) gives, if its eligibility
/// still holds.
fn activation_grant(snap: &Snapshot, scope: &str, body: &Value) -> Option<Grant> {
    let p = &body["properties"];
    if !p["assignmentType"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("Activated"))
    {
        return None;
    }
    let user = p["principalId"].as_str()?.to_lowercase();
    let linked = role_guid(p["linkedRoleEligibilityScheduleId"].as_str()?);
    let end = unix_of(p["endDateTime"].as_str()?)?;
    let groups = snap.dir.groups_of(&user);
    let e = snap.eligible.iter().find(|e| {
        e.id == linked
            && e.scope == scope
            && (e.principal_id == user || groups.contains(&e.principal_id))
    })?;
    let role = snap.role(&e.role)?.clone();
    Some(Grant {
        id: e.registration_assignment_id.clone(),
        scope: scope.to_string(),
        principal_id: user,
        role,
        via: Via::Delegation {
            registration_assignment_id: e.registration_assignment_id.clone(),
            registration_definition_id: e.registration_definition_id.clone(),
            managed_by_tenant_id: e.managed_by_tenant_id.clone(),
            eligible: true,
            // User Access Administrator is never eligible (lighthouse::check)
            assignable_roles: None,
        },
        expires_at: Some(end),
    })
}

/// The `delegatedRoleDefinitionIds` of a User Access Administrator authorization (a delegated UAA
/// grants nothing else); `None` for any other role.
fn assignable_roles(role: &RoleDefinition, auth: &Value) -> Option<Arc<[String]>> {
    (role.id == crate::lighthouse::USER_ACCESS_ADMINISTRATOR).then(|| {
        auth["delegatedRoleDefinitionIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .map(role_guid)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_parse_one_by_one_as_a_whole() {
        let whole: Vec<RawRole> = serde_json::from_str(BUILTIN_ROLES_JSON).unwrap();
        assert_eq!(builtin_index().len(), whole.len(), "one cut per role");
        for r in whole {
            let guid = r.id.to_lowercase();
            let expected = builtin_role_of(r);
            assert_eq!(builtin_role(&guid).map(|r| r.as_ref()), Some(&expected));
        }
        assert_eq!(builtin_role("00000000-0000-0000-0000-000000000000"), None);
    }

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

    #[test]
    fn grants_and_denies_at_a_group_reach_every_scope_below_it() {
        let h = Hierarchy::new(
            &["t1".into()],
            &[("s1".into(), "t1".into()), ("s2".into(), "t1".into())],
            &[
                serde_json::json!({"name": "G", "properties": {"tenantId": "t1", "displayName": "G",
                "details": {"parent": {"id": "/providers/Microsoft.Management/managementGroups/t1"}}}}),
            ],
            &[("s2".into(), "g".into())],
            &[],
        );
        let reader = builtin_roles()["acdd72a7-3385-48ef-bd42-f606fba81ae7"].clone();
        let g = "/providers/microsoft.management/managementgroups/g";
        let mut grants = vec![Grant {
            id: format!("{g}/providers/microsoft.authorization/roleassignments/ra"),
            scope: g.into(),
            principal_id: "p".into(),
            role: reader,
            via: Via::RoleAssignment,
            expires_at: None,
        }];
        let deny = |scope: &str, child: bool| DenyRule {
            id: format!("{scope}/providers/microsoft.authorization/denyassignments/d"),
            name: "d".into(),
            scope: scope.into(),
            principals: vec![crate::authz::EVERYONE.into()],
            exclude_principals: vec![],
            permissions: vec![Permission {
                actions: vec!["*".into()],
                ..Default::default()
            }],
            do_not_apply_to_child_scopes: child,
        };
        let mut denies = vec![
            deny(g, false),
            deny("/providers/microsoft.management/managementgroups/t1", true),
        ];
        expand_below_groups(&h, &mut grants, &mut denies);
        let scopes: Vec<&str> = grants.iter().map(|g| g.scope.as_str()).collect();
        assert_eq!(
            scopes,
            [g, "/subscriptions/s2"],
            "s1 sits under the root, not G"
        );
        let scopes: Vec<&str> = denies.iter().map(|d| d.scope.as_str()).collect();
        assert_eq!(
            scopes,
            [
                g,
                "/providers/microsoft.management/managementgroups/t1",
                "/subscriptions/s2"
            ],
            "a deny that does not apply to child scopes stays where it is"
        );
    }

    #[test]
    fn derived_guids_are_stable_guids() {
        let a = derived_guid("x");
        assert_eq!(a, derived_guid("x"));
        assert_ne!(a, derived_guid("y"));
        assert!(crate::arm::resource_id::is_guid(&a), "{a}");
    }
}

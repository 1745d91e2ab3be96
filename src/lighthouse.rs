//! The Lighthouse onboarding rules as pure checks over a registration definition's JSON: built-in roles
//! only, never Owner, no DataActions, no restricted actions, User Access Administrator only with
//! `delegatedRoleDefinitionIds`, a different and same-cloud managing tenant, the authorization cap and
//! the just-in-time policy limits. No I/O. Follows ARM-FACTS.md §7.2–7.4 and §11.

use serde_json::Value;

use crate::arm::resource_id::is_guid;
use crate::authz::RoleDefinition;
use crate::clock::parse_duration;

pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
pub const REGISTRATION_ASSIGNMENT_DELETE_ROLE: &str = "91c1777a-f3dc-4fae-b103-61d183457e46";

/// Actions that make a role unsupported for delegation (tenants-users-roles.md), compared literally.
const RESTRICTED_ACTIONS: &[&str] = &[
    "*/write",
    "*/delete",
    "Microsoft.Authorization/*",
    "Microsoft.Authorization/*/write",
    "Microsoft.Authorization/*/delete",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Authorization/roleAssignments/delete",
    "Microsoft.Authorization/roleDefinitions/write",
    "Microsoft.Authorization/roleDefinitions/delete",
    "Microsoft.Authorization/classicAdministrators/write",
    "Microsoft.Authorization/classicAdministrators/delete",
    "Microsoft.Authorization/locks/write",
    "Microsoft.Authorization/locks/delete",
    "Microsoft.Authorization/denyAssignments/write",
    "Microsoft.Authorization/denyAssignments/delete",
];

/// What the checks need to know about the world.
pub struct Context<'a> {
    /// The registration definition's GUID (for messages).
    pub definition: &'a str,
    /// The customer (managee) tenant and its cloud.
    pub customer_tenant: &'a str,
    pub customer_cloud: &'a str,
    /// The managing tenant's cloud, when the emulator knows that tenant.
    pub managing_cloud: Option<&'a str>,
    /// Built-in role lookup by lower-case GUID.
    pub builtin: &'a dyn Fn(&str) -> Option<&'a RoleDefinition>,
    /// Principal kind by object id (`User`, `Group`, `ServicePrincipal`), when known.
    pub principal_kind: &'a dyn Fn(&str) -> Option<&'static str>,
    pub max_authorizations: usize,
}

fn restricted(role: &RoleDefinition) -> bool {
    role.permissions.iter().any(|p| {
        p.actions
            .iter()
            .any(|a| RESTRICTED_ACTIONS.iter().any(|r| r.eq_ignore_ascii_case(a)))
    })
}

/// Why a role cannot be delegated, if it cannot (UAA is judged by the caller).
fn role_problem(cx: &Context, role_id: &str) -> Option<String> {
    role_problem_with(cx, role_id, true)
}

/// As `role_problem`; `data_rule` false for `delegatedRoleDefinitionIds`: those roles are assigned to
/// managed identities of the customer's own tenant, and Microsoft's onboarding samples list Log Analytics
/// Contributor there although it now carries a data action (emulator choice, documented in the README).
fn role_problem_with(cx: &Context, role_id: &str, data_rule: bool) -> Option<String> {
    let g = role_id.to_lowercase();
    let def = cx.definition;
    if g == OWNER {
        return Some(format!(
            "The role definition '{g}' is restricted for registration definition '{def}'."
        ));
    }
    let Some(role) = (cx.builtin)(&g) else {
        return Some(format!(
            "The role definition '{role_id}' is not a built-in role definition. Only built-in role definitions are allowed for registration definition '{def}'."
        ));
    };
    if data_rule && role.has_data_actions() {
        return Some(format!("The role definition '{g}' with data actions not allowed for registration definition '{def}'. Only built in role definitions without any data and notData actions are allowed."));
    }
    if g != USER_ACCESS_ADMINISTRATOR && restricted(role) {
        return Some(format!("The role definition '{g}' is not allowed for registration definition '{def}' because of restricted actions."));
    }
    None
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Check a registration definition's `properties`; `Err` holds the message of
/// InvalidRegistrationDefinitionCreateRequest.
pub fn check_definition(cx: &Context, props: &Value, plan: Option<&Value>) -> Result<(), String> {
    let def = cx.definition;
    let managed_by = str_of(props, "managedByTenantId");
    if !is_guid(managed_by) {
        return Err(format!("The registration definition '{def}' must have a valid 'managedByTenantId' (a tenant GUID); got '{managed_by}'."));
    }
    if managed_by.eq_ignore_ascii_case(cx.customer_tenant) {
        return Err(format!("The registration definition '{def}' not allowed to use the '{managed_by}' as ManagedByTenantId."));
    }
    if let Some(cloud) = cx.managing_cloud {
        if !cloud.eq_ignore_ascii_case(cx.customer_cloud) {
            return Err(format!("The registration definition '{def}' cannot delegate a scope of a tenant in {} to the tenant '{managed_by}' in {cloud}: delegation across a national cloud and the public cloud, or between two national clouds, is not supported.", cx.customer_cloud));
        }
    }
    let auths = match props.get("authorizations") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(format!(
                "The registration definition '{def}' must have at least one authorization."
            ))
        }
    };
    if auths.len() > cx.max_authorizations {
        return Err(format!(
            "The registration definition '{def}' has {} authorizations; at most {} are allowed.",
            auths.len(),
            cx.max_authorizations
        ));
    }
    for a in auths {
        let pid = str_of(a, "principalId");
        let rid = str_of(a, "roleDefinitionId");
        if !is_guid(pid) {
            return Err(format!("The authorization principal id '{pid}' of registration definition '{def}' is not a valid GUID."));
        }
        if !is_guid(rid) {
            return Err(format!("The role definition id '{rid}' of registration definition '{def}' is not a valid GUID."));
        }
        if let Some(p) = role_problem(cx, rid) {
            return Err(p);
        }
        let delegated = a
            .get("delegatedRoleDefinitionIds")
            .and_then(Value::as_array);
        let is_uaa = rid.eq_ignore_ascii_case(USER_ACCESS_ADMINISTRATOR);
        match (is_uaa, delegated) {
            (true, None) => return Err(format!("The role definition '{USER_ACCESS_ADMINISTRATOR}' (User Access Administrator) is only allowed for registration definition '{def}' with 'delegatedRoleDefinitionIds', to assign those roles to managed identities.")),
            (true, Some(list)) if list.is_empty() => return Err(format!("The 'delegatedRoleDefinitionIds' of registration definition '{def}' must not be empty.")),
            (false, Some(_)) => return Err(format!("'delegatedRoleDefinitionIds' is only allowed with the User Access Administrator role ('{USER_ACCESS_ADMINISTRATOR}') in registration definition '{def}'.")),
            _ => {}
        }
        for d in delegated.into_iter().flatten() {
            let d = d.as_str().unwrap_or("");
            if !is_guid(d) || d.eq_ignore_ascii_case(USER_ACCESS_ADMINISTRATOR) {
                return Err(format!("The delegated role definition '{d}' is not allowed for registration definition '{def}'."));
            }
            if let Some(p) = role_problem_with(cx, d, false) {
                return Err(p);
            }
        }
    }
    if let Some(elig) = props.get("eligibleAuthorizations").filter(|v| !v.is_null()) {
        check_eligible(cx, elig)?;
    }
    if let Some(plan) = plan.filter(|p| !p.is_null()) {
        let missing: Vec<&str> = ["name", "publisher", "product", "version"]
            .into_iter()
            .filter(|k| str_of(plan, k).is_empty())
            .collect();
        if !missing.is_empty() {
            return Err(format!("The plan of registration definition '{def}' must have name, publisher, product and version; missing: {}.", missing.join(", ")));
        }
    }
    Ok(())
}

/// The just-in-time rules for `eligibleAuthorizations` (ARM-FACTS.md §7.3).
pub fn check_eligible(cx: &Context, elig: &Value) -> Result<(), String> {
    let def = cx.definition;
    let Some(list) = elig.as_array() else {
        return Err(format!(
            "'eligibleAuthorizations' of registration definition '{def}' must be an array."
        ));
    };
    if cx.customer_cloud.eq_ignore_ascii_case("AzureUSGovernment") {
        return Err(format!("Eligible authorizations are not available in Azure Government (registration definition '{def}')."));
    }
    let mut seen: Vec<(String, Value)> = Vec::new();
    for e in list {
        let pid = str_of(e, "principalId");
        let rid = str_of(e, "roleDefinitionId").to_lowercase();
        if !is_guid(pid) || !is_guid(&rid) {
            return Err(format!("An eligible authorization of registration definition '{def}' needs a principalId and a roleDefinitionId (GUIDs)."));
        }
        if rid == USER_ACCESS_ADMINISTRATOR {
            return Err(format!("The role definition '{rid}' (User Access Administrator) cannot be used in an eligible authorization of registration definition '{def}'."));
        }
        if e.get("delegatedRoleDefinitionIds")
            .is_some_and(|d| !d.is_null())
        {
            return Err(format!("'delegatedRoleDefinitionIds' cannot be used with eligible authorizations (registration definition '{def}')."));
        }
        if let Some(p) = role_problem(cx, &rid) {
            return Err(p);
        }
        if (cx.principal_kind)(pid) == Some("ServicePrincipal") {
            return Err(format!("The principal '{pid}' is a service principal; eligible authorizations are for users and groups only (registration definition '{def}')."));
        }
        let policy = e
            .get("justInTimeAccessPolicy")
            .cloned()
            .unwrap_or(Value::Null);
        let mfa = policy
            .get("multiFactorAuthProvider")
            .and_then(Value::as_str)
            .unwrap_or("None");
        if !["Azure", "None"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mfa))
        {
            return Err(format!(
                "The multiFactorAuthProvider '{mfa}' is not valid; use 'Azure' or 'None'."
            ));
        }
        let max = policy
            .get("maximumActivationDuration")
            .and_then(Value::as_str)
            .unwrap_or("PT8H");
        match parse_duration(max) {
            Some(d) if d >= time::Duration::minutes(30) && d <= time::Duration::hours(8) => {}
            _ => return Err(format!("The maximumActivationDuration '{max}' of registration definition '{def}' must be between PT30M and PT8H.")),
        }
        let approvers = policy
            .get("managedByTenantApprovers")
            .and_then(Value::as_array);
        if let Some(approvers) = approvers {
            if approvers.len() > 10 {
                return Err(format!("At most 10 managedByTenantApprovers are allowed (registration definition '{def}')."));
            }
            for a in approvers {
                let aid = str_of(a, "principalId");
                if !is_guid(aid) {
                    return Err(format!(
                        "The approver principal id '{aid}' is not a valid GUID."
                    ));
                }
                if (cx.principal_kind)(aid) == Some("ServicePrincipal") {
                    return Err(format!("The approver '{aid}' is a service principal; approvers are users and groups only."));
                }
            }
        }
        if let Some((_, other)) = seen.iter().find(|(r, p)| *r == rid && *p != policy) {
            let _ = other;
            return Err(format!("The role definition '{rid}' appears in several eligible authorizations of registration definition '{def}' with different just-in-time access policies."));
        }
        seen.push((rid, policy));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::builtin_roles;
    use serde_json::json;

    fn check(props: Value) -> Result<(), String> {
        let builtin = |g: &str| builtin_roles().get(g).map(|r| r.as_ref());
        let kind = |id: &str| {
            if id == "30000000-0000-0000-0000-000000001121" {
                Some("ServicePrincipal")
            } else {
                Some("User")
            }
        };
        let cx = Context {
            definition: "50000000-0000-0000-0000-000000009999",
            customer_tenant: "10000000-0000-0000-0000-000000000002",
            customer_cloud: "AzureCloud",
            managing_cloud: Some("AzureCloud"),
            builtin: &builtin,
            principal_kind: &kind,
            max_authorizations: 20,
        };
        check_definition(&cx, &props, None)
    }

    fn def(role: &str) -> Value {
        json!({"managedByTenantId": "10000000-0000-0000-0000-000000000001",
               "authorizations": [{"principalId": "30000000-0000-0000-0000-000000001101", "roleDefinitionId": role}]})
    }

    #[test]
    fn role_rules() {
        assert_eq!(
            check(def("b24988ac-6180-42a0-ab88-20f7382dd24c")),
            Ok(()),
            "Contributor"
        );
        assert_eq!(
            check(def("acdd72a7-3385-48ef-bd42-f606fba81ae7")),
            Ok(()),
            "Reader"
        );
        assert_eq!(check(def(REGISTRATION_ASSIGNMENT_DELETE_ROLE)), Ok(()));
        assert!(check(def(OWNER))
            .unwrap_err()
            .contains("restricted for registration"));
        assert!(check(def("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"))
            .unwrap_err()
            .contains("with data actions not allowed"));
        assert!(
            check(def("e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1"))
                .unwrap_err()
                .contains("restricted actions"),
            "Storage Account Backup Contributor"
        );
        assert!(check(def("11111111-1111-1111-1111-111111111111"))
            .unwrap_err()
            .contains("not a built-in role"));
        assert!(check(def(USER_ACCESS_ADMINISTRATOR))
            .unwrap_err()
            .contains("delegatedRoleDefinitionIds"));
        let mut uaa = def(USER_ACCESS_ADMINISTRATOR);
        uaa["authorizations"][0]["delegatedRoleDefinitionIds"] =
            json!(["b24988ac-6180-42a0-ab88-20f7382dd24c"]);
        assert_eq!(check(uaa.clone()), Ok(()));
        uaa["authorizations"][0]["delegatedRoleDefinitionIds"] = json!([OWNER]);
        assert!(check(uaa).is_err());
        let mut same = def("acdd72a7-3385-48ef-bd42-f606fba81ae7");
        same["managedByTenantId"] = json!("10000000-0000-0000-0000-000000000002");
        assert!(check(same).unwrap_err().contains("as ManagedByTenantId"));
        let many: Vec<Value> = (0..21).map(|_| json!({"principalId": "30000000-0000-0000-0000-000000001101", "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7"})).collect();
        assert!(check(json!({"managedByTenantId": "10000000-0000-0000-0000-000000000001", "authorizations": many})).unwrap_err().contains("at most 20"));
    }

    #[test]
    fn eligible_rules() {
        let with = |e: Value| {
            let mut d = def("acdd72a7-3385-48ef-bd42-f606fba81ae7");
            d["eligibleAuthorizations"] = e;
            check(d)
        };
        let ok = json!([{"principalId": "30000000-0000-0000-0000-000000001102", "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c",
                         "justInTimeAccessPolicy": {"multiFactorAuthProvider": "Azure", "maximumActivationDuration": "PT8H"}}]);
        assert_eq!(with(ok.clone()), Ok(()));
        let mut long = ok.clone();
        long[0]["justInTimeAccessPolicy"]["maximumActivationDuration"] = json!("PT9H");
        assert!(with(long).unwrap_err().contains("between PT30M and PT8H"));
        let mut short = ok.clone();
        short[0]["justInTimeAccessPolicy"]["maximumActivationDuration"] = json!("PT10M");
        assert!(with(short).is_err());
        let mut uaa = ok.clone();
        uaa[0]["roleDefinitionId"] = json!(USER_ACCESS_ADMINISTRATOR);
        assert!(with(uaa).unwrap_err().contains("User Access Administrator"));
        let mut sp = ok.clone();
        sp[0]["principalId"] = json!("30000000-0000-0000-0000-000000001121");
        assert!(with(sp).unwrap_err().contains("service principal"));
        let mut approvers = ok.clone();
        approvers[0]["justInTimeAccessPolicy"]["managedByTenantApprovers"] = json!((0..11)
            .map(|_| json!({"principalId": "30000000-0000-0000-0000-000000001111"}))
            .collect::<Vec<_>>());
        assert!(with(approvers).unwrap_err().contains("At most 10"));
        let mut twice = ok.clone();
        let mut second = ok[0].clone();
        second["justInTimeAccessPolicy"]["maximumActivationDuration"] = json!("PT1H");
        twice.as_array_mut().unwrap().push(second);
        assert!(with(twice).unwrap_err().contains("different just-in-time"));
    }
}

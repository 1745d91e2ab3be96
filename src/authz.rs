//! The authorization decision: a pure function from (subject, action, scope, access facts) to an
//! allow/deny with its reason. No I/O, no clock. Deny assignments are evaluated before grants; a grant
//! is a role assignment or a delegated (Lighthouse) authorization, both applying at their scope and
//! below. Follows ARM-FACTS.md §4.3 (matching) and §5.4 (deny evaluation).

use std::collections::HashMap;
use std::sync::Arc;

use crate::arm::resource_id::is_at_or_above;

/// The zero GUID that stands for "Everyone" in deny assignments.
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permission {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
}

impl Permission {
    /// Does this permission block grant `action` (control plane) or data action `action`?
    pub fn allows(&self, action: &str, data: bool) -> bool {
        let (yes, no) = if data {
            (&self.data_actions, &self.not_data_actions)
        } else {
            (&self.actions, &self.not_actions)
        };
        yes.iter().any(|p| glob(p, action)) && !no.iter().any(|p| glob(p, action))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleDefinition {
    /// Bare GUID, lower-case.
    pub id: String,
    pub role_name: String,
    pub description: String,
    /// `BuiltInRole` or `CustomRole`.
    pub role_type: String,
    pub permissions: Vec<Permission>,
    pub assignable_scopes: Vec<String>,
}

impl RoleDefinition {
    pub fn allows(&self, action: &str, data: bool) -> bool {
        self.permissions.iter().any(|p| p.allows(action, data))
    }

    pub fn has_data_actions(&self) -> bool {
        self.permissions
            .iter()
            .any(|p| !p.data_actions.is_empty() || !p.not_data_actions.is_empty())
    }
}

/// Where a grant comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    RoleAssignment,
    /// A Lighthouse authorization of a registration definition, applied through an assignment.
    Delegation {
        registration_assignment_id: String,
        registration_definition_id: String,
        managed_by_tenant_id: String,
        eligible: bool,
    },
}

/// A grant of a role to a principal at a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// Role assignment id, or the registration assignment id for a delegation.
    pub id: String,
    /// Lower-cased canonical scope.
    pub scope: String,
    /// Lower-cased object id of the principal (user, group or service principal).
    pub principal_id: String,
    pub role: Arc<RoleDefinition>,
    pub via: Via,
    /// Unix seconds after which the grant no longer applies (just-in-time activations).
    pub expires_at: Option<i64>,
}

impl Grant {
    pub fn active(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DenyRule {
    pub id: String,
    pub name: String,
    /// Lower-cased canonical scope.
    pub scope: String,
    /// Lower-cased principal ids; `EVERYONE` covers every caller.
    pub principals: Vec<String>,
    pub exclude_principals: Vec<String>,
    pub permissions: Vec<Permission>,
    pub do_not_apply_to_child_scopes: bool,
}

/// The caller as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub object_id: &'a str,
    /// Lower-cased object ids of the caller's groups (transitive).
    pub groups: &'a [String],
}

impl Subject<'_> {
    fn is(&self, principal: &str) -> bool {
        principal.eq_ignore_ascii_case(self.object_id)
            || self
                .groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(principal))
    }
}

/// Grants and deny rules indexed by principal, so a decision looks only at what names the caller.
#[derive(Debug, Clone, Default)]
pub struct AccessFacts {
    grants: HashMap<String, Vec<Grant>>,
    denies_by_principal: HashMap<String, Vec<Arc<DenyRule>>>,
    all_denies: Vec<Arc<DenyRule>>,
}

impl AccessFacts {
    pub fn new(grants: Vec<Grant>, denies: Vec<DenyRule>) -> AccessFacts {
        let mut f = AccessFacts::default();
        for g in grants {
            f.grants
                .entry(g.principal_id.to_lowercase())
                .or_default()
                .push(g);
        }
        for d in denies {
            let d = Arc::new(d);
            for p in &d.principals {
                f.denies_by_principal
                    .entry(p.to_lowercase())
                    .or_default()
                    .push(d.clone());
            }
            f.all_denies.push(d);
        }
        f
    }

    pub fn grants_of<'a>(&'a self, subject: &Subject<'a>) -> impl Iterator<Item = &'a Grant> + 'a {
        std::iter::once(subject.object_id.to_lowercase())
            .chain(subject.groups.iter().cloned())
            .filter_map(move |p| self.grants.get(&p))
            .flatten()
    }

    pub fn denies(&self) -> &[Arc<DenyRule>] {
        &self.all_denies
    }

    fn denies_of<'a>(
        &'a self,
        subject: &Subject<'a>,
    ) -> impl Iterator<Item = &'a Arc<DenyRule>> + 'a {
        std::iter::once(EVERYONE.to_string())
            .chain(std::iter::once(subject.object_id.to_lowercase()))
            .chain(subject.groups.iter().cloned())
            .filter_map(move |p| self.denies_by_principal.get(&p))
            .flatten()
    }
}

/// What the decision found: the grant that allowed, the deny that refused, or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Allowed(Grant),
    Denied(Arc<DenyRule>),
    NoGrant,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed(_))
    }
}

/// Which grants count for this request: direct role assignments, delegated authorizations, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A caller from the scope's own tenant: role assignments only.
    Customer,
    /// A caller from a managing tenant: delegated authorizations only.
    Delegated,
}

/// Decide whether `subject` may perform `action` at `scope` (lower-cased canonical id) at time `now`
/// (unix seconds; only just-in-time grants expire). Deny assignments first; then the first active grant
/// on the right path whose scope covers `scope`.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    subject: &Subject,
    action: &str,
    data: bool,
    scope: &str,
    path: Path,
    facts: &AccessFacts,
    now: i64,
) -> Decision {
    let granted = facts.grants_of(subject).find(|g| {
        let on_path = matches!(
            (&g.via, path),
            (Via::RoleAssignment, Path::Customer) | (Via::Delegation { .. }, Path::Delegated)
        );
        on_path && g.active(now) && is_at_or_above(&g.scope, scope) && g.role.allows(action, data)
    });
    if let Some(d) = deny_for(subject, action, data, scope, facts) {
        return Decision::Denied(d);
    }
    match granted {
        Some(g) => Decision::Allowed(g.clone()),
        None => Decision::NoGrant,
    }
}

/// The deny assignment, if any, that stops `subject` doing `action` at `scope`.
pub fn deny_for(
    subject: &Subject,
    action: &str,
    data: bool,
    scope: &str,
    facts: &AccessFacts,
) -> Option<Arc<DenyRule>> {
    facts
        .denies_of(subject)
        .find(|d| {
            let applies_here = if d.do_not_apply_to_child_scopes {
                d.scope.eq_ignore_ascii_case(scope)
            } else {
                is_at_or_above(&d.scope, scope)
            };
            applies_here
                && !d.exclude_principals.iter().any(|p| subject.is(p))
                && d.permissions.iter().any(|p| p.allows(action, data))
        })
        .cloned()
}

/// Case-insensitive glob where `*` matches any run of characters, `/` included (ARM-FACTS §4.3).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (usize::MAX, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi].eq_ignore_ascii_case(&t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = pi;
            mark = ti;
            pi += 1;
        } else if star != usize::MAX {
            pi = star + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(actions: &[&str], not_actions: &[&str]) -> Arc<RoleDefinition> {
        Arc::new(RoleDefinition {
            id: "r".into(),
            role_name: "R".into(),
            description: String::new(),
            role_type: "BuiltInRole".into(),
            permissions: vec![Permission {
                actions: actions.iter().map(|s| s.to_string()).collect(),
                not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }],
            assignable_scopes: vec!["/".into()],
        })
    }

    fn grant(principal: &str, scope: &str, role: Arc<RoleDefinition>) -> Grant {
        Grant {
            id: format!("{scope}/ra"),
            scope: scope.into(),
            principal_id: principal.into(),
            role,
            via: Via::RoleAssignment,
            expires_at: None,
        }
    }

    #[test]
    fn glob_table() {
        for (p, t, want) in [
            ("*", "Microsoft.Compute/virtualMachines/write", true),
            ("*/read", "Microsoft.Compute/virtualMachines/read", true),
            ("*/read", "Microsoft.Compute/virtualMachines/write", false),
            (
                "Microsoft.Authorization/*/Write",
                "microsoft.authorization/roleAssignments/write",
                true,
            ),
            (
                "Microsoft.Compute/*",
                "Microsoft.Compute/virtualMachines/start/action",
                true,
            ),
            (
                "Microsoft.Network/*/read",
                "Microsoft.Network/virtualNetworks/subnets/read",
                true,
            ),
            (
                "Microsoft.Network/*/read",
                "Microsoft.Compute/virtualMachines/read",
                false,
            ),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn decision_table() {
        let contributor = role(
            &["*"],
            &[
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/*/Delete",
            ],
        );
        let reader = role(&["*/read"], &[]);
        let groups = vec!["g1".to_string()];
        let facts = AccessFacts::new(
            vec![
                grant("u1", "/subscriptions/s1", reader.clone()),
                grant(
                    "g1",
                    "/subscriptions/s1/resourcegroups/rg1",
                    contributor.clone(),
                ),
            ],
            vec![DenyRule {
                id: "d".into(),
                name: "deny".into(),
                scope: "/subscriptions/s1/resourcegroups/locked".into(),
                principals: vec![EVERYONE.into()],
                exclude_principals: vec!["u2".into()],
                permissions: vec![Permission {
                    actions: vec!["*".into()],
                    not_actions: vec!["*/read".into()],
                    ..Default::default()
                }],
                do_not_apply_to_child_scopes: false,
            }],
        );
        let u1 = Subject {
            object_id: "u1",
            groups: &groups,
        };
        let u2 = Subject {
            object_id: "U2",
            groups: &[],
        };
        let check = |s: &Subject, action: &str, scope: &str| -> &'static str {
            match decide(s, action, false, scope, Path::Customer, &facts, 0) {
                Decision::Allowed(_) => "allow",
                Decision::Denied(_) => "deny",
                Decision::NoGrant => "none",
            }
        };
        assert_eq!(
            check(
                &u1,
                "Microsoft.Resources/subscriptions/read",
                "/subscriptions/s1"
            ),
            "allow"
        );
        assert_eq!(
            check(
                &u1,
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                "/subscriptions/s1/resourcegroups/rg2"
            ),
            "none"
        );
        assert_eq!(check(&u1, "Microsoft.Network/virtualNetworks/write", "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.network/virtualnetworks/v"), "allow");
        assert_eq!(
            check(
                &u1,
                "Microsoft.Authorization/roleAssignments/write",
                "/subscriptions/s1/resourcegroups/rg1"
            ),
            "none"
        );
        assert_eq!(
            check(
                &u1,
                "Microsoft.Compute/virtualMachines/write",
                "/subscriptions/s1/resourcegroups/locked/x"
            ),
            "deny"
        );
        assert_eq!(
            check(
                &u1,
                "Microsoft.Compute/virtualMachines/read",
                "/subscriptions/s1/resourcegroups/locked/x"
            ),
            "allow"
        );
        assert_eq!(
            check(
                &u2,
                "Microsoft.Compute/virtualMachines/write",
                "/subscriptions/s1/resourcegroups/locked/x"
            ),
            "none"
        );
        assert_eq!(
            check(
                &u1,
                "Microsoft.Resources/subscriptions/read",
                "/subscriptions/s10"
            ),
            "none"
        );
        // the delegated path sees no role assignments
        assert!(!decide(
            &u1,
            "x/read",
            false,
            "/subscriptions/s1",
            Path::Delegated,
            &facts,
            0
        )
        .is_allowed());
    }
}

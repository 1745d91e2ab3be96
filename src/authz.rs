//! The authorization decision: a pure function from (subject, action, scope, access facts) to an
//! allow/deny with its reason. No I/O, no clock. Deny assignments are evaluated before grants; a grant
//! is a role assignment or a delegated (Lighthouse) authorization, both applying at their scope and
//! below. Follows ARM-FACTS.md §4.3 (matching) and §5.4 (deny evaluation).

use foldhash::HashMap;
use std::borrow::Cow;
use std::sync::Arc;

use crate::arm::error::ArmError;
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
        /// For a User Access Administrator authorization: its `delegatedRoleDefinitionIds` (bare,
        /// lower-cased GUIDs). Such a grant only serves to assign those roles to managed identities in
        /// the customer's tenant: it covers `roleAssignments/write` and no other action of the role
        /// (ARM-FACTS §7.2; the provider checks the role and the principal of the body).
        assignable_roles: Option<Arc<[String]>>,
    },
}

/// The one action a delegated User Access Administrator authorization grants.
pub const ROLE_ASSIGNMENT_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

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

    /// The roles this grant may assign to managed identities, when it is a delegated User Access
    /// Administrator authorization (and then it covers nothing else).
    pub fn assignable_roles(&self) -> Option<&[String]> {
        match &self.via {
            Via::Delegation {
                assignable_roles: Some(r),
                ..
            } => Some(r),
            _ => None,
        }
    }

    /// Does the grant's role cover `action`? A delegated User Access Administrator covers only
    /// `roleAssignments/write`.
    pub fn covers(&self, action: &str, data: bool) -> bool {
        if self.assignable_roles().is_some() {
            return !data && action.eq_ignore_ascii_case(ROLE_ASSIGNMENT_WRITE);
        }
        self.role.allows(action, data)
    }
}

/// Why a delegated caller's role assignment is refused, or `None` when its delegated User Access
/// Administrator authorizations (`grants`, those covering the scope) allow assigning `role` (a bare
/// lower-cased GUID) to a principal of `principal_kind`, a managed identity when `managed_identity`.
pub fn delegated_assignment_refusal<'a>(
    grants: impl IntoIterator<Item = &'a Grant>,
    role: &str,
    role_name: &str,
    principal_id: &str,
    principal_kind: &str,
    managed_identity: bool,
) -> Option<String> {
    let mut listed: Vec<&str> = grants
        .into_iter()
        .filter_map(|g| g.assignable_roles())
        .flatten()
        .map(String::as_str)
        .collect();
    listed.sort_unstable();
    listed.dedup();
    let role_ok = listed.iter().any(|r| r.eq_ignore_ascii_case(role));
    if role_ok && managed_identity {
        return None;
    }
    let limit = format!(
        "a delegated User Access Administrator may only assign the roles its delegatedRoleDefinitionIds list ({}) to managed identities in the customer's tenant",
        listed.join(", ")
    );
    Some(match (role_ok, managed_identity) {
        (false, _) => format!("{limit}; role '{role_name}' ({role}) is not listed"),
        _ => format!(
            "{limit}; principal {principal_id} is a {principal_kind}, not a managed identity"
        ),
    })
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

/// Grants indexed by principal, so a decision looks only at what names the caller; deny rules indexed by
/// scope, so it looks only at those on the target and its ancestors (most deny assignments name
/// Everyone, so a principal index would not narrow them).
#[derive(Debug, Clone, Default)]
pub struct AccessFacts {
    grants: HashMap<String, Vec<Grant>>,
    /// By scope, ASCII-lower-cased and without a trailing `/` (the root is `""`).
    denies_by_scope: HashMap<String, Vec<Arc<DenyRule>>>,
    all_denies: Vec<Arc<DenyRule>>,
}

/// The index key of a scope: ASCII-lower-cased, without trailing `/`.
fn scope_key(scope: &str) -> String {
    scope.trim_end_matches('/').to_ascii_lowercase()
}

/// The keys of every scope at or above `target` (itself a key-cased id) in the sense of
/// `is_at_or_above`: the root, each prefix that ends before a `/`, and `target` itself.
fn keys_at_or_above(target: &str) -> impl Iterator<Item = &str> {
    std::iter::once("").chain(
        target
            .match_indices('/')
            .map(|(i, _)| &target[..i])
            .chain(std::iter::once(target))
            .map(|k| k.trim_end_matches('/'))
            .filter(|k| !k.is_empty()),
    )
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
            f.denies_by_scope
                .entry(scope_key(&d.scope))
                .or_default()
                .push(d.clone());
            f.all_denies.push(d);
        }
        f
    }

    /// The caller's grants, then its groups' (`groups` are lower-cased already).
    pub fn grants_of<'a>(&'a self, subject: &Subject<'a>) -> impl Iterator<Item = &'a Grant> + 'a {
        let mine = self.grants.get(&subject.object_id.to_lowercase());
        let groups = subject.groups;
        mine.into_iter()
            .chain(
                groups
                    .iter()
                    .filter_map(move |g| self.grants.get(g.as_str())),
            )
            .flatten()
    }

    pub fn denies(&self) -> &[Arc<DenyRule>] {
        &self.all_denies
    }

    /// The deny rules sitting at `target` (a key-cased id) or above it, the outermost first.
    fn denies_over<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Arc<DenyRule>> + 'a {
        keys_at_or_above(target)
            .filter_map(move |k| self.denies_by_scope.get(k))
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
    if let Some(d) = deny_for(subject, action, data, scope, facts) {
        return Decision::Denied(d);
    }
    let granted = facts.grants_of(subject).find(|g| {
        let on_path = matches!(
            (&g.via, path),
            (Via::RoleAssignment, Path::Customer) | (Via::Delegation { .. }, Path::Delegated)
        );
        on_path && g.active(now) && is_at_or_above(&g.scope, scope) && g.covers(action, data)
    });
    match granted {
        Some(g) => Decision::Allowed(g.clone()),
        None => Decision::NoGrant,
    }
}

/// The deny assignment, if any, that stops `subject` doing `action` at `scope`: the outermost of those
/// at or above `scope` that name Everyone or the caller or one of its groups, do not exclude it, and
/// cover the action.
pub fn deny_for(
    subject: &Subject,
    action: &str,
    data: bool,
    scope: &str,
    facts: &AccessFacts,
) -> Option<Arc<DenyRule>> {
    let target: Cow<str> = if scope.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(scope.to_ascii_lowercase())
    } else {
        Cow::Borrowed(scope)
    };
    let found = facts.denies_over(&target).find(|d| {
        // the index found every deny at or above `scope`; this keeps the exact rule
        let applies_here = if d.do_not_apply_to_child_scopes {
            d.scope.eq_ignore_ascii_case(scope)
        } else {
            is_at_or_above(&d.scope, scope)
        };
        applies_here
            && d.principals.iter().any(|p| p == EVERYONE || subject.is(p))
            && !d.exclude_principals.iter().any(|p| subject.is(p))
            && d.permissions.iter().any(|p| p.allows(action, data))
    });
    found.cloned()
}

/// A management lock's level (ARM-FACTS §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockLevel {
    /// Deletes are refused; reads and writes go through.
    CanNotDelete,
    /// Writes, POST actions and deletes are refused.
    ReadOnly,
}

impl LockLevel {
    /// The level as ARM spells it, from any case; `None` for anything else.
    pub fn parse(s: &str) -> Option<LockLevel> {
        if s.eq_ignore_ascii_case("CanNotDelete") {
            Some(LockLevel::CanNotDelete)
        } else if s.eq_ignore_ascii_case("ReadOnly") {
            Some(LockLevel::ReadOnly)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LockLevel::CanNotDelete => "CanNotDelete",
            LockLevel::ReadOnly => "ReadOnly",
        }
    }
}

impl std::fmt::Display for LockLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A management lock on a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct LockRule {
    pub id: String,
    pub name: String,
    /// Lower-cased canonical scope the lock sits on.
    pub scope: String,
    /// The scope as written (for messages).
    pub scope_display: String,
    pub level: LockLevel,
}

/// What a request does, as far as locks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// GET, HEAD, and POSTs that change nothing (listing keys and the like).
    Read,
    /// PUT, PATCH, and POSTs that change state.
    Write,
    Delete,
}

impl MethodKind {
    /// From the HTTP method alone: GET/HEAD read, DELETE deletes, anything else writes.
    pub fn of_method(method: &str) -> MethodKind {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            MethodKind::Read
        } else if method.eq_ignore_ascii_case("DELETE") {
            MethodKind::Delete
        } else {
            MethodKind::Write
        }
    }
}

/// Is `action` one on locks themselves (`Microsoft.Authorization/locks/*`), which no lock stops?
pub fn is_lock_action(action: &str) -> bool {
    const PREFIX: &str = "microsoft.authorization/locks/";
    action.len() >= PREFIX.len()
        && action.as_bytes()[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes())
}

/// The locks in the way of a `kind` request for `action` at `scope` (lower-cased canonical id),
/// whoever makes it: for a write, ReadOnly locks at or above `scope`; for a delete, locks of either
/// level at or above it and also below it (deleting a group with a locked child fails entirely).
/// Reads and lock actions meet none. In the order of `locks`.
pub fn locks_in_the_way<'a>(
    locks: &'a [LockRule],
    kind: MethodKind,
    scope: &str,
    action: &str,
) -> Vec<&'a LockRule> {
    if kind == MethodKind::Read || is_lock_action(action) {
        return Vec::new();
    }
    let deleting = kind == MethodKind::Delete;
    locks
        .iter()
        .filter(|l| {
            let covers =
                is_at_or_above(&l.scope, scope) || (deleting && is_at_or_above(scope, &l.scope));
            covers && (deleting || l.level == LockLevel::ReadOnly)
        })
        .collect()
}

/// The locks that refuse this request: those in the way, for a caller on the customer path. A
/// delegated (Lighthouse) caller is never stopped by a lock (ARM-FACTS §6.4). Locks are weighed after
/// `decide`: a request it refuses is refused for that reason whatever the locks say.
pub fn lock_blocks<'a>(
    locks: &'a [LockRule],
    kind: MethodKind,
    scope: &str,
    path: Path,
    action: &str,
) -> Vec<&'a LockRule> {
    match path {
        Path::Customer => locks_in_the_way(locks, kind, scope, action),
        Path::Delegated => Vec::new(),
    }
}

/// Refuses the request with ScopeLocked when a lock stops it (`lock_blocks`), naming each
/// locked scope once.
pub fn refuse_if_locked(
    locks: &[LockRule],
    kind: MethodKind,
    scope_key: &str,
    scope_display: &str,
    path: Path,
    action: &str,
) -> Result<(), ArmError> {
    let mut locked: Vec<String> = lock_blocks(locks, kind, scope_key, path, action)
        .into_iter()
        .map(|l| l.scope_display.clone())
        .collect();
    locked.sort();
    locked.dedup();
    if locked.is_empty() {
        Ok(())
    } else {
        Err(ArmError::scope_locked(
            scope_display,
            if kind == MethodKind::Delete {
                "delete"
            } else {
                "write"
            },
            &locked,
        ))
    }
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
    fn a_delegated_user_access_administrator_only_assigns_its_listed_roles_to_managed_identities() {
        let uaa = role(&["*/read", "Microsoft.Authorization/*"], &[]);
        let mut g = grant("p", "/subscriptions/s1", uaa);
        g.via = Via::Delegation {
            registration_assignment_id: "ra".into(),
            registration_definition_id: "rd".into(),
            managed_by_tenant_id: "t".into(),
            eligible: false,
            assignable_roles: Some(Arc::from(vec!["c0".to_string()])),
        };
        // covers: the role assignment write and nothing else of the role
        for (action, data, want) in [
            ("Microsoft.Authorization/roleAssignments/write", false, true),
            ("microsoft.authorization/ROLEASSIGNMENTS/write", false, true),
            ("Microsoft.Authorization/roleAssignments/write", true, false),
            (
                "Microsoft.Authorization/roleAssignments/delete",
                false,
                false,
            ),
            ("Microsoft.Authorization/locks/write", false, false),
            ("Microsoft.Compute/virtualMachines/read", false, false),
        ] {
            assert_eq!(g.covers(action, data), want, "{action} data={data}");
        }
        // the body's role and principal: (role, kind, managed identity) -> refusal contains
        for (role, kind, mi, want) in [
            ("c0", "managed identity", true, None),
            ("C0", "managed identity", true, None),
            (
                "r1",
                "managed identity",
                true,
                Some("role 'Reader' (r1) is not listed"),
            ),
            (
                "c0",
                "User",
                false,
                Some("is a User, not a managed identity"),
            ),
            (
                "c0",
                "ServicePrincipal",
                false,
                Some("is a ServicePrincipal, not a managed identity"),
            ),
        ] {
            let got = delegated_assignment_refusal([&g], role, "Reader", "x", kind, mi);
            match want {
                None => assert_eq!(got, None, "{role} {kind}"),
                Some(w) => assert!(
                    got.as_deref()
                        .is_some_and(|m| m.contains(w) && m.contains("(c0)")),
                    "{got:?}"
                ),
            }
        }
        // no UAA grant at all: nothing is listed
        let plain = grant("p", "/subscriptions/s1", role(&["*"], &[]));
        assert!(
            delegated_assignment_refusal([&plain], "c0", "C", "x", "managed identity", true)
                .is_some()
        );
        assert!(plain.covers("Microsoft.Authorization/locks/write", false));
    }

    #[test]
    fn lock_table() {
        let lock = |scope: &str, level| LockRule {
            id: format!("{scope}/providers/microsoft.authorization/locks/l"),
            name: "l".into(),
            scope: scope.into(),
            scope_display: scope.into(),
            level,
        };
        let rg = "/subscriptions/s1/resourcegroups/rg1";
        let vm =
            "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/vm1";
        let locks = [
            lock(rg, LockLevel::CanNotDelete),
            lock(vm, LockLevel::ReadOnly),
        ];
        let write = "Microsoft.Compute/virtualMachines/write";
        let n = |kind, scope: &str, path, action: &str| {
            lock_blocks(&locks, kind, scope, path, action).len()
        };
        use MethodKind::*;
        use Path::*;
        assert_eq!(n(Read, vm, Customer, write), 0);
        assert_eq!(n(Write, vm, Customer, write), 1); // ReadOnly on the vm
        assert_eq!(n(Delete, vm, Customer, write), 2); // both
        assert_eq!(n(Write, rg, Customer, write), 0); // CanNotDelete lets writes through
        assert_eq!(n(Delete, rg, Customer, write), 2); // its own lock and the locked child
        assert_eq!(n(Delete, "/subscriptions/s1", Customer, write), 2);
        assert_eq!(
            n(
                Delete,
                "/subscriptions/s1/resourcegroups/rg10",
                Customer,
                write
            ),
            0
        );
        assert_eq!(n(Delete, vm, Delegated, write), 0); // Lighthouse bypasses locks
        assert_eq!(locks_in_the_way(&locks, Delete, vm, write).len(), 2);
        assert_eq!(
            n(Delete, vm, Customer, "Microsoft.Authorization/locks/delete"),
            0
        );
        assert_eq!(
            n(Write, vm, Customer, "microsoft.authorization/LOCKS/write"),
            0
        );
        assert_eq!(MethodKind::of_method("head"), Read);
        assert_eq!(MethodKind::of_method("POST"), Write);
        assert_eq!(LockLevel::parse("readonly"), Some(LockLevel::ReadOnly));
        assert_eq!(LockLevel::parse("Frozen"), None);
    }

    #[test]
    fn deny_index_keys() {
        fn keys(t: &str) -> Vec<&str> {
            keys_at_or_above(t).collect()
        }
        assert_eq!(keys("/"), [""]);
        assert_eq!(
            keys("/subscriptions/s1/resourcegroups/rg1"),
            [
                "",
                "/subscriptions",
                "/subscriptions/s1",
                "/subscriptions/s1/resourcegroups",
                "/subscriptions/s1/resourcegroups/rg1"
            ]
        );
        assert_eq!(
            keys("/subscriptions/s1/"),
            [
                "",
                "/subscriptions",
                "/subscriptions/s1",
                "/subscriptions/s1"
            ]
        );
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

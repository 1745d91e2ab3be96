//! Property test of the authorization decision: `authz::decide` and `authz::lock_blocks` against a slow,
//! obvious reference model of ARM-FACTS §4.3 (action globs, scope inheritance, union of grants), §5.4
//! (deny assignments first), §6 (locks: ReadOnly stops writes and deletes at and below its scope,
//! CanNotDelete deletes, a delete of a scope holding a locked child is stopped, lock actions never are)
//! with §6.4 (locks stop the customer path only) and §7.1 (customer callers see role assignments,
//! managing-tenant callers only delegations; §7.2 a delegated User Access Administrator grants only
//! `roleAssignments/write`), over random worlds of tenants, scopes, nested groups,
//! roles, grants, denies and locks, and management groups (nested below each tenant's root group, with
//! subscriptions moved into them) holding role and deny assignments that apply to every group and
//! subscription below: the decision is given them projected through `hierarchy::Hierarchy` as
//! `facts` does, the model walks each scope's ancestry itself; Lighthouse delegations never sit on a
//! group. The full outcome is checked: denied by a deny assignment, no grant,
//! blocked by a lock, or allowed. Also unit properties of the glob and of scope coverage. The model
//! shares no code with `src/authz.rs` or `is_at_or_above`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Arc;

use lighthouse_emulator::arm::resource_id::is_at_or_above;
use lighthouse_emulator::authz::{
    self, glob, AccessFacts, Decision, DenyRule, Grant, LockLevel, LockRule, MethodKind, Path,
    Permission, RoleDefinition, Subject, Via, EVERYONE,
};
use lighthouse_emulator::directory::Directory;
use lighthouse_emulator::hierarchy::Hierarchy;
use lighthouse_emulator::world::{Principal, PrincipalKind, Subscription, Tenant};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::{FileFailurePersistence, TestRunner};

// ---------------------------------------------------------------------------------------------------
// Vocabulary

/// Control-plane operations a request may ask for. `Microsoft.ComputeSchedule` is a trap for a pattern
/// like `Microsoft.Compute*`; the blob action checks that a data action in `actions` grants nothing.
const ACTIONS: &[&str] = &[
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/virtualMachines/extensions/write",
    "Microsoft.ComputeSchedule/scheduledActions/write",
    "Microsoft.Network/virtualNetworks/read",
    "Microsoft.Network/virtualNetworks/subnets/join/action",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Resources/subscriptions/resourceGroups/delete",
    "Microsoft.Authorization/roleAssignments/read",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Authorization/locks/delete",
    "Microsoft.Authorization/locks/write",
    "Microsoft.Storage/storageAccounts/read",
];

const DATA_ACTIONS: &[&str] = &[
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
];

/// Wildcard patterns for `actions`/`notActions` (the exact ACTIONS are added to these).
const PATTERNS: &[&str] = &[
    "*",
    "*/read",
    "*/write",
    "*/delete",
    "*/action",
    "*/start/action",
    "Microsoft.Compute/*",
    "Microsoft.Compute*",
    "microsoft.compute/virtualmachines/*",
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Authorization/*",
    "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/*/Delete",
    "Microsoft.Network/*/read",
    "Microsoft.*/*/read",
    "Microsoft.Storage/*",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
];

/// Wildcard patterns for `dataActions`/`notDataActions` (the exact DATA_ACTIONS are added to these).
const DATA_PATTERNS: &[&str] = &[
    "*",
    "*/read",
    "*/write",
    "Microsoft.Storage/*",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*",
    "*/blobs/write",
    "Microsoft.KeyVault/vaults/secrets/*",
];

/// Names chosen so that a string prefix is not a segment prefix (`s1`/`s10`, `rg1`/`rg10`, `vm1`/`vm10`).
const SUB_NAMES: &[&str] = &["s1", "s10", "s2"];
/// Management groups below the tenants' roots (again `g1`/`g10`).
const GROUP_NAMES: &[&str] = &["g1", "g10", "g2"];
const GROUP_PREFIX: &str = "/providers/microsoft.management/managementgroups/";
const RG_NAMES: &[&str] = &["rg1", "rg10", "rg2"];
const RESOURCES: &[&str] = &[
    "providers/microsoft.compute/virtualmachines/vm1",
    "providers/microsoft.compute/virtualmachines/vm1/extensions/ext1",
    "providers/microsoft.compute/virtualmachines/vm10",
    "providers/microsoft.network/virtualnetworks/vnet1/subnets/sn1",
    "providers/microsoft.storage/storageaccounts/st1",
];

const USERS: usize = 3;
const GROUPS: usize = 3;
const SERVICE_PRINCIPALS: usize = 1;
const PRINCIPALS: usize = USERS + GROUPS + SERVICE_PRINCIPALS;
const NOW: i64 = 1_700_000_000;
const EXPIRY_OFFSETS: &[i64] = &[-100, -1, 0, 1, 100];

// ---------------------------------------------------------------------------------------------------
// The world and the request

/// Everything the decision may depend on.
#[derive(Debug, Clone)]
struct World {
    tenants: Vec<String>,
    /// (subscription id, owning tenant id)
    subscriptions: Vec<(String, String)>,
    /// Management groups below the roots: (name, tenant, parent name; the tenant id for the root).
    groups: Vec<(String, String, String)>,
    /// (subscription, group) for each subscription moved out of its tenant's root group.
    placed: Vec<(String, String)>,
    /// Users, groups and service principals with their direct `member_of`.
    principals: Vec<Principal>,
    grants: Vec<Grant>,
    denies: Vec<DenyRule>,
    locks: Vec<LockRule>,
}

#[derive(Debug, Clone)]
struct Request {
    /// The caller's object id as the token spells it (random case).
    object_id: String,
    action: String,
    data: bool,
    scope: String,
    path: Path,
    /// Read, write or delete, as locks see it (always Read for a data action: locks govern the
    /// control plane only).
    kind: MethodKind,
    now: i64,
}

impl World {
    /// The directory the pipeline builds the token's `groups` claim from.
    fn directory(&self) -> Directory {
        Directory::new(
            self.tenants
                .iter()
                .map(|t| Tenant {
                    id: t.clone(),
                    display_name: t.clone(),
                    default_domain: format!("{t}.example"),
                    domains: vec![],
                    cloud: "AzureCloud".into(),
                    country_code: "US".into(),
                })
                .collect(),
            self.principals.clone(),
            self.subscriptions
                .iter()
                .map(|(s, t)| Subscription {
                    subscription_id: s.clone(),
                    tenant_id: t.clone(),
                    display_name: s.clone(),
                    state: "Enabled".into(),
                })
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------------------
// The reference model: plain, slow, obvious

/// What the model finds: every applicable deny, every grant that would allow, every lock in the way of
/// the operation whoever asks, and those of them that stop this caller.
#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    denied_by: Vec<String>,
    granted_by: Vec<String>,
    in_the_way: Vec<String>,
    locked_by: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Denied,
    NoGrant,
    Locked,
}

impl Verdict {
    /// Deny assignments first, then grants; locks only for a request the decision allows.
    fn outcome(&self) -> Outcome {
        if !self.denied_by.is_empty() {
            Outcome::Denied
        } else if self.granted_by.is_empty() {
            Outcome::NoGrant
        } else if !self.locked_by.is_empty() {
            Outcome::Locked
        } else {
            Outcome::Allowed
        }
    }
}

/// Anchored, case-insensitive glob by its recursive definition: `*` is "any run of characters".
fn model_glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|k| go(rest, &t[k..])),
            Some((c, rest)) => match t.split_first() {
                Some((d, more)) => c == d && go(rest, more),
                None => false,
            },
        }
    }
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    go(&p, &t)
}

fn segments(id: &str) -> Vec<String> {
    id.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect()
}

/// A scope covers a target when its segments are the first segments of the target's.
fn model_covers(scope: &str, target: &str) -> bool {
    let (s, t) = (segments(scope), segments(target));
    s.len() <= t.len() && s.iter().zip(&t).all(|(a, b)| a == b)
}

/// The management groups above a scope, as lower-cased group scopes, nearest first: for a subscription
/// or anything in it, the group it was moved into (else its tenant's root) and that group's ancestors;
/// for a group, its parent and the parent's ancestors. The root group is named after the tenant.
fn model_groups_above(world: &World, scope: &str) -> Vec<String> {
    let segs = segments(scope);
    let parent_of = |g: &str| -> Option<String> {
        world
            .groups
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(g))
            .map(|(_, _, p)| p.to_ascii_lowercase())
    };
    let mut cur = match segs.as_slice() {
        [s, sub, ..] if s == "subscriptions" => world
            .subscriptions
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(sub))
            .map(|(id, tenant)| {
                world
                    .placed
                    .iter()
                    .find(|(s, _)| s.eq_ignore_ascii_case(id))
                    .map(|(_, g)| g.to_ascii_lowercase())
                    .unwrap_or_else(|| tenant.to_ascii_lowercase())
            }),
        [p, m, g, name]
            if p == "providers" && m == "microsoft.management" && g == "managementgroups" =>
        {
            parent_of(name)
        }
        _ => None,
    };
    let mut out = Vec::new();
    while let Some(g) = cur {
        out.push(format!("{GROUP_PREFIX}{g}"));
        cur = parent_of(&g);
    }
    out
}

/// Does an assignment at `rule` reach `target`: by id prefix, or as a group above it?
fn model_reaches(world: &World, rule: &str, target: &str) -> bool {
    model_covers(rule, target)
        || model_groups_above(world, target)
            .iter()
            .any(|g| model_same_scope(g, rule))
}

fn model_same_scope(a: &str, b: &str) -> bool {
    segments(a) == segments(b)
}

/// One permission block: some action matches and no notAction of the same block does.
fn model_block_allows(p: &Permission, action: &str, data: bool) -> bool {
    let (yes, no) = if data {
        (&p.data_actions, &p.not_data_actions)
    } else {
        (&p.actions, &p.not_actions)
    };
    yes.iter().any(|x| model_glob(x, action)) && !no.iter().any(|x| model_glob(x, action))
}

/// The caller and every group it is in, directly or through other groups: grow the set until it stops.
fn model_identities(principals: &[Principal], object_id: &str) -> BTreeSet<String> {
    let mut me = BTreeSet::from([object_id.to_ascii_lowercase()]);
    loop {
        let before = me.len();
        for p in principals {
            if me.contains(&p.object_id.to_ascii_lowercase()) {
                for g in &p.member_of {
                    me.insert(g.to_ascii_lowercase());
                }
            }
        }
        if me.len() == before {
            return me;
        }
    }
}

fn model_decide(world: &World, req: &Request) -> Verdict {
    let me = model_identities(&world.principals, &req.object_id);
    let names_me = |p: &String| me.contains(&p.to_ascii_lowercase());

    let mut denied_by = Vec::new();
    for d in &world.denies {
        let covered = d.principals.iter().any(|p| p == EVERYONE || names_me(p));
        let excluded = d.exclude_principals.iter().any(names_me);
        let here = if d.do_not_apply_to_child_scopes {
            model_same_scope(&d.scope, &req.scope)
        } else {
            model_reaches(world, &d.scope, &req.scope)
        };
        let op = d
            .permissions
            .iter()
            .any(|p| model_block_allows(p, &req.action, req.data));
        if covered && !excluded && here && op {
            denied_by.push(d.id.clone());
        }
    }

    let mut granted_by = Vec::new();
    for g in &world.grants {
        let on_path = match (&g.via, req.path) {
            (Via::RoleAssignment, Path::Customer) => true,
            (Via::Delegation { .. }, Path::Delegated) => true,
            (Via::RoleAssignment, Path::Delegated) => false,
            (Via::Delegation { .. }, Path::Customer) => false,
        };
        let active = match g.expires_at {
            None => true,
            Some(end) => req.now < end,
        };
        // A delegated User Access Administrator serves only to assign roles (§7.2): nothing else of
        // its role applies.
        let limited_uaa = matches!(
            &g.via,
            Via::Delegation {
                assignable_roles: Some(_),
                ..
            }
        );
        let op = if limited_uaa {
            !req.data
                && req.action.to_lowercase() == "microsoft.authorization/roleassignments/write"
        } else {
            g.role
                .permissions
                .iter()
                .any(|p| model_block_allows(p, &req.action, req.data))
        };
        if names_me(&g.principal_id)
            && on_path
            && active
            && model_reaches(world, &g.scope, &req.scope)
            && op
        {
            granted_by.push(g.id.clone());
        }
    }
    let in_the_way: Vec<String> = world
        .locks
        .iter()
        .filter(|l| model_lock_stops(l, req))
        .map(|l| l.id.clone())
        .collect();
    let locked_by = if req.path == Path::Customer {
        in_the_way.clone()
    } else {
        vec![]
    };
    Verdict {
        denied_by,
        granted_by,
        in_the_way,
        locked_by,
    }
}

/// Does lock `l` stand in the way of the request (before asking who makes it)? Operations on locks
/// themselves pass; reads pass; a write meets ReadOnly locks on the target or an ancestor; a delete meets
/// locks of either level on the target, an ancestor or a descendant.
fn model_lock_stops(l: &LockRule, req: &Request) -> bool {
    let on_locks = req
        .action
        .to_ascii_lowercase()
        .starts_with("microsoft.authorization/locks/");
    let above = model_covers(&l.scope_display, &req.scope);
    let below = model_covers(&req.scope, &l.scope_display);
    !on_locks
        && match req.kind {
            MethodKind::Read => false,
            MethodKind::Write => above && l.level == LockLevel::ReadOnly,
            MethodKind::Delete => above || below,
        }
}

// ---------------------------------------------------------------------------------------------------
// Generators

/// 0: as written, 1: lower, 2: upper, 3: flip the case of the characters `mask` selects.
fn recase(s: &str, mode: u8, mask: u64) -> String {
    match mode % 4 {
        0 => s.to_string(),
        1 => s.to_ascii_lowercase(),
        2 => s.to_ascii_uppercase(),
        _ => s
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if (mask >> (i % 64)) & 1 == 1 {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                } else {
                    c
                }
            })
            .collect(),
    }
}

fn recased(list: Vec<&'static str>) -> impl Strategy<Value = String> {
    (select(list), any::<u8>(), any::<u64>()).prop_map(|(s, m, k)| recase(s, m, k))
}

/// Wildcards as often as exact actions, so that grants match often enough to matter.
fn pattern(data: bool) -> impl Strategy<Value = String> {
    let (wild, exact) = if data {
        (DATA_PATTERNS, DATA_ACTIONS)
    } else {
        (PATTERNS, ACTIONS)
    };
    prop_oneof![recased(wild.to_vec()), recased(exact.to_vec())]
}

fn permission(min_actions: usize) -> impl Strategy<Value = Permission> {
    (
        vec(pattern(false), min_actions..=3),
        vec(pattern(false), 0..=2),
        vec(pattern(true), 0..=2),
        vec(pattern(true), 0..=1),
    )
        .prop_map(
            |(actions, not_actions, data_actions, not_data_actions)| Permission {
                actions,
                not_actions,
                data_actions,
                not_data_actions,
            },
        )
}

fn expiry() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        2 => Just(None),
        1 => select(EXPIRY_OFFSETS).prop_map(|o| Some(NOW + o)),
    ]
}

/// (principal, scope, role, delegated?, expires_at)
/// (principal, scope, role, delegated, expiry, a delegated User Access Administrator limited to assigning roles)
type GrantSpec = (Index, Index, Index, bool, Option<i64>, bool);
/// (principals: None = Everyone, excludes, permissions, scope, doNotApplyToChildScopes)
type DenySpec = (Vec<Option<Index>>, Vec<Index>, Vec<Permission>, Index, bool);
/// Per subscription name, if present: (owning tenant, resource groups, resources in each group).
type SubSpec = Option<(Index, Vec<&'static str>, Vec<&'static str>)>;
/// (scope, ReadOnly?, case mode, case mask) of a lock.
type LockSpec = (Index, bool, u8, u64);
/// The locks, a lock aimed at the request (ReadOnly?, at an ancestor-or-self or a descendant, which),
/// and the method kind: None = the one the action implies, else a random one.
type LocksSpec = (Vec<LockSpec>, Option<(bool, bool, Index)>, Option<Index>);
/// (subject, case mode, case mask, data?, action, scope, delegated path?, focus). A focus picks one grant
/// and aims the request at it (its principal or a member, a scope at or below it, its path), so that
/// allows and denies are common rather than rare.
type RequestSpec = (Index, u8, u64, bool, Index, Index, bool, Option<Index>);
/// Management groups (tenant, parent among the tenant's earlier groups and its root) and, per
/// subscription, the group it is moved into (None: it stays under its tenant's root).
type GroupsSpec = (Vec<(Index, Index)>, Vec<Option<Index>>);

fn sub_spec() -> impl Strategy<Value = SubSpec> {
    prop::option::weighted(
        0.8,
        (
            any::<Index>(),
            subsequence(RG_NAMES.to_vec(), 0..=2),
            subsequence(RESOURCES.to_vec(), 0..=3),
        ),
    )
}

fn deny_spec() -> impl Strategy<Value = DenySpec> {
    (
        vec(
            prop_oneof![Just(None), any::<Index>().prop_map(Some)],
            1..=2,
        ),
        vec(any::<Index>(), 0..=2),
        vec(permission(1), 1..=2),
        any::<Index>(),
        any::<bool>(),
    )
}

fn lock_spec() -> impl Strategy<Value = LockSpec> {
    (any::<Index>(), any::<bool>(), any::<u8>(), any::<u64>())
}

fn locks_spec() -> impl Strategy<Value = LocksSpec> {
    (
        vec(lock_spec(), 0..=3),
        prop::option::weighted(0.5, (any::<bool>(), any::<bool>(), any::<Index>())),
        prop::option::weighted(0.4, any::<Index>()),
    )
}

fn case() -> impl Strategy<Value = (World, Request)> {
    (
        1..=3usize,
        [sub_spec(), sub_spec(), sub_spec()],
        vec(any::<Index>(), PRINCIPALS),
        vec((any::<Index>(), any::<Index>()), 0..=5),
        vec(vec(permission(0), 1..=2), 1..=4),
        vec(
            (
                any::<Index>(),
                any::<Index>(),
                any::<Index>(),
                any::<bool>(),
                expiry(),
                prop::bool::weighted(0.2),
            ),
            0..=8,
        ),
        vec(deny_spec(), 0..=3),
        (
            any::<Index>(),
            any::<u8>(),
            any::<u64>(),
            prop::bool::weighted(0.25),
            any::<Index>(),
            any::<Index>(),
            any::<bool>(),
            prop::option::weighted(0.75, any::<Index>()),
        ),
        locks_spec(),
        (
            vec((any::<Index>(), any::<Index>()), 0..=3),
            vec(prop::option::weighted(0.6, any::<Index>()), 3),
        ),
    )
        .prop_map(
            |(n_tenants, subs, homes, edges, roles, grants, denies, request, locks, groups)| {
                build(
                    n_tenants, subs, homes, edges, roles, grants, denies, request, locks, groups,
                )
            },
        )
}

fn principal_id(i: usize) -> String {
    let (tag, n) = if i < USERS {
        ("aa", i)
    } else if i < USERS + GROUPS {
        ("bb", i - USERS)
    } else {
        ("cc", i - USERS - GROUPS)
    };
    format!("{tag}{n:06x}-dead-4bee-8fee-{n:012x}")
}

#[allow(clippy::too_many_arguments)]
fn build(
    n_tenants: usize,
    subs: [SubSpec; 3],
    homes: Vec<Index>,
    edges: Vec<(Index, Index)>,
    roles: Vec<Vec<Permission>>,
    grants: Vec<GrantSpec>,
    denies: Vec<DenySpec>,
    request: RequestSpec,
    locks: LocksSpec,
    (group_specs, places): GroupsSpec,
) -> (World, Request) {
    let tenants: Vec<String> = (0..n_tenants)
        .map(|i| format!("{i:08x}-7e7e-4a7e-8a7e-000000000000"))
        .collect();

    // each tenant's root group, then groups nested below it
    let mut group_list: Vec<(String, String, String)> = Vec::new();
    for (name, (tenant, parent)) in GROUP_NAMES.iter().zip(group_specs) {
        let tenant = tenant.get(&tenants).clone();
        let mut parents: Vec<String> = vec![tenant.clone()];
        parents.extend(
            group_list
                .iter()
                .filter(|(_, t, _)| *t == tenant)
                .map(|(n, _, _)| n.clone()),
        );
        let parent = parent.get(&parents).clone();
        group_list.push((name.to_string(), tenant, parent));
    }
    let mut scopes_of_groups: Vec<String> = tenants
        .iter()
        .map(|t| format!("{GROUP_PREFIX}{t}"))
        .collect();
    scopes_of_groups.extend(
        group_list
            .iter()
            .map(|(n, _, _)| format!("{GROUP_PREFIX}{n}")),
    );

    let mut subscriptions = Vec::new();
    let mut placed = Vec::new();
    let mut scopes = vec!["/".to_string()];
    scopes.extend(scopes_of_groups.iter().cloned());
    let mut delegable = Vec::new();
    for (name, spec) in SUB_NAMES.iter().zip(subs) {
        let Some((tenant, rgs, resources)) = spec else {
            continue;
        };
        let sub = format!("/subscriptions/{name}");
        let tenant = tenant.get(&tenants).clone();
        let mine: Vec<&String> = group_list
            .iter()
            .filter(|(_, t, _)| *t == tenant)
            .map(|(n, _, _)| n)
            .collect();
        if let Some(g) = places[subscriptions.len()].filter(|_| !mine.is_empty()) {
            placed.push((name.to_string(), g.get(&mine).to_string()));
        }
        subscriptions.push((name.to_string(), tenant));
        scopes.push(sub.clone());
        delegable.push(sub.clone());
        for rg in rgs {
            let rg = format!("{sub}/resourcegroups/{rg}");
            scopes.push(rg.clone());
            delegable.push(rg.clone());
            for r in &resources {
                scopes.push(format!("{rg}/{r}"));
            }
        }
    }
    if subscriptions.is_empty() {
        subscriptions.push(("s1".into(), tenants[0].clone()));
        scopes.push("/subscriptions/s1".into());
        delegable.push("/subscriptions/s1".into());
    }

    let groups: Vec<String> = (USERS..USERS + GROUPS).map(principal_id).collect();
    let mut principals: Vec<Principal> = (0..PRINCIPALS)
        .map(|i| Principal {
            tenant_id: homes[i].get(&tenants).clone(),
            object_id: principal_id(i),
            kind: if i < USERS {
                PrincipalKind::User
            } else if i < USERS + GROUPS {
                PrincipalKind::Group
            } else {
                PrincipalKind::ServicePrincipal
            },
            display_name: format!("principal {i}"),
            user_principal_name: None,
            password: None,
            app_id: None,
            secret: None,
            member_of: vec![],
        })
        .collect();
    for (member, group) in edges {
        let g = group.get(&groups).clone();
        let m = member.index(PRINCIPALS);
        if !principals[m].member_of.contains(&g) {
            principals[m].member_of.push(g);
        }
    }

    let roles: Vec<Arc<RoleDefinition>> = roles
        .into_iter()
        .enumerate()
        .map(|(i, permissions)| {
            Arc::new(RoleDefinition {
                id: format!("{i:08x}-0000-4000-8000-0000000001e0"),
                role_name: format!("Role {i}"),
                description: String::new(),
                role_type: "CustomRole".into(),
                permissions,
                assignable_scopes: vec!["/".into()],
            })
        })
        .collect();

    let grants: Vec<Grant> = grants
        .into_iter()
        .enumerate()
        .map(|(i, (who, at, role, delegated, expires_at, uaa))| {
            let who = who.get(&principals);
            let principal_id = who.object_id.clone();
            if delegated {
                // Lighthouse delegations sit on subscriptions and resource groups only.
                let scope = at.get(&delegable).clone();
                let id = format!("{scope}/providers/microsoft.managedservices/registrationassignments/ra{i}");
                Grant {
                    id: id.clone(),
                    scope: scope.clone(),
                    principal_id,
                    role: role.get(&roles).clone(),
                    via: Via::Delegation {
                        registration_assignment_id: id,
                        registration_definition_id: format!(
                            "{scope}/providers/microsoft.managedservices/registrationdefinitions/rd{i}"
                        ),
                        managed_by_tenant_id: who.tenant_id.clone(),
                        // a just-in-time activation of an eligible authorization carries an end
                        eligible: expires_at.is_some(),
                        // UAA is never eligible: a limited grant is permanent
                        assignable_roles: (uaa && expires_at.is_none())
                            .then(|| Arc::from(vec!["b24988ac-6180-42a0-ab88-20f7382dd24c".to_string()])),
                    },
                    expires_at,
                }
            } else {
                let scope = at.get(&scopes).clone();
                Grant {
                    id: format!(
                        "{}/providers/microsoft.authorization/roleassignments/ra{i}",
                        scope.trim_end_matches('/')
                    ),
                    scope,
                    principal_id,
                    role: role.get(&roles).clone(),
                    via: Via::RoleAssignment,
                    expires_at,
                }
            }
        })
        .collect();

    let denies: Vec<DenyRule> = denies
        .into_iter()
        .enumerate()
        .map(|(i, (who, excludes, permissions, at, only_here))| {
            let scope = at.get(&scopes).clone();
            DenyRule {
                id: format!(
                    "{}/providers/microsoft.authorization/denyassignments/da{i}",
                    scope.trim_end_matches('/')
                ),
                name: format!("deny {i}"),
                scope,
                principals: who
                    .into_iter()
                    .map(|p| match p {
                        None => EVERYONE.to_string(),
                        Some(p) => p.get(&principals).object_id.clone(),
                    })
                    .collect(),
                exclude_principals: excludes
                    .into_iter()
                    .map(|p| p.get(&principals).object_id.clone())
                    .collect(),
                permissions,
                do_not_apply_to_child_scopes: only_here,
            }
        })
        .collect();

    let (subject, mode, mask, data, what, at, delegated, focus) = request;
    // callers are users and service principals, never groups
    let callers: Vec<&Principal> = principals
        .iter()
        .filter(|p| p.kind != PrincipalKind::Group)
        .collect();
    let mut caller = subject.get(&callers);
    let mut scope = at.get(&scopes).clone();
    let mut path = if delegated {
        Path::Delegated
    } else {
        Path::Customer
    };
    if let Some(g) = focus.filter(|_| !grants.is_empty()).map(|i| i.get(&grants)) {
        if let Some(c) = callers
            .iter()
            .find(|c| model_identities(&principals, &c.object_id).contains(&g.principal_id))
        {
            caller = c;
        }
        let shape = World {
            tenants: tenants.clone(),
            subscriptions: subscriptions.clone(),
            groups: group_list.clone(),
            placed: placed.clone(),
            principals: vec![],
            grants: vec![],
            denies: vec![],
            locks: vec![],
        };
        let below: Vec<&String> = scopes
            .iter()
            .filter(|s| {
                s.starts_with(g.scope.trim_end_matches('/'))
                    || model_groups_above(&shape, s).contains(&g.scope)
            })
            .collect();
        // string prefixes on purpose: `/subscriptions/s1` also picks `/subscriptions/s10`
        scope = at.get(&below).to_string();
        path = match g.via {
            Via::RoleAssignment => Path::Customer,
            Via::Delegation { .. } => Path::Delegated,
        };
    }
    let vocabulary = if data { DATA_ACTIONS } else { ACTIONS };
    let mut action = what.get(vocabulary).to_string();
    if let Some(g) = focus
        .filter(|_| !grants.is_empty() && (delegated || mode % 3 != 0))
        .map(|i| i.get(&grants))
    {
        // most focused requests ask for something the grant's role names (its notActions aside)
        let named: Vec<&&str> = vocabulary
            .iter()
            .filter(|a| {
                g.role.permissions.iter().any(|p| {
                    let yes = if data { &p.data_actions } else { &p.actions };
                    yes.iter().any(|x| model_glob(x, a))
                })
            })
            .collect();
        if !named.is_empty() {
            action = what.get(&named).to_string();
        }
    }

    // Locks sit on subscriptions, resource groups and resources, never on the root.
    let (lock_specs, aimed, kind_spec) = locks;
    // (nor on management groups: ARM has no locks there)
    let lockable: Vec<&String> = scopes
        .iter()
        .filter(|s| *s != "/" && !s.starts_with(GROUP_PREFIX))
        .collect();
    let mut lock_at: Vec<(String, bool, u8, u64)> = lock_specs
        .into_iter()
        .map(|(at, read_only, m, k)| (at.get(&lockable).to_string(), read_only, m, k))
        .collect();
    if let Some((read_only, below, which)) = aimed {
        let near: Vec<&&String> = lockable
            .iter()
            .filter(|s| {
                if below {
                    model_covers(&scope, s) && !model_covers(s, &scope)
                } else {
                    model_covers(s, &scope)
                }
            })
            .collect();
        if !near.is_empty() {
            lock_at.push((which.get(&near).to_string(), read_only, mode, mask));
        }
    }
    let locks: Vec<LockRule> = lock_at
        .into_iter()
        .enumerate()
        .map(|(i, (at, read_only, m, k))| {
            let display = recase(&at, m, k);
            LockRule {
                id: format!("{display}/providers/Microsoft.Authorization/locks/lock{i}"),
                name: format!("lock{i}"),
                scope: at,
                scope_display: display,
                level: if read_only {
                    LockLevel::ReadOnly
                } else {
                    LockLevel::CanNotDelete
                },
            }
        })
        .collect();
    let a = action.to_ascii_lowercase();
    let kind = match kind_spec {
        _ if data => MethodKind::Read,
        Some(k) => *k.get(&[
            MethodKind::Read,
            MethodKind::Write,
            MethodKind::Delete,
            MethodKind::Delete,
        ]),
        None if a.ends_with("/read") => MethodKind::Read,
        None if a.ends_with("/delete") => MethodKind::Delete,
        None => MethodKind::Write,
    };

    let request = Request {
        object_id: recase(&caller.object_id, mode, mask),
        action,
        data,
        scope,
        path,
        kind,
        now: NOW,
    };
    let world = World {
        tenants,
        subscriptions,
        groups: group_list,
        placed,
        principals,
        grants,
        denies,
        locks,
    };
    (world, request)
}

// ---------------------------------------------------------------------------------------------------
// The property

/// The grants and deny assignments as the decision is given them: those at a management group also
/// projected onto every group and subscription below it through `Hierarchy::scopes_below`, after the
/// direct ones, as `facts::Snapshot::load` does (a deny that does not apply to child scopes stays put).
fn projected(world: &World) -> (Vec<Grant>, Vec<DenyRule>) {
    let bodies: Vec<serde_json::Value> = world
        .groups
        .iter()
        .map(|(name, tenant, parent)| {
            serde_json::json!({"name": name, "properties": {"tenantId": tenant, "displayName": name,
                "details": {"parent": {"id": format!("/providers/Microsoft.Management/managementGroups/{parent}")}}}})
        })
        .collect();
    let h = Hierarchy::new(
        &world.tenants,
        &world.subscriptions,
        &bodies,
        &world.placed,
        &[],
    );
    let mut grants = world.grants.clone();
    for g in &world.grants {
        for s in h.scopes_below(&g.scope) {
            grants.push(Grant {
                scope: s,
                ..g.clone()
            });
        }
    }
    let mut denies = world.denies.clone();
    for d in world
        .denies
        .iter()
        .filter(|d| !d.do_not_apply_to_child_scopes)
    {
        for s in h.scopes_below(&d.scope) {
            denies.push(DenyRule {
                scope: s,
                ..d.clone()
            });
        }
    }
    (grants, denies)
}

/// Run `decide` and `lock_blocks` on the world and compare with the model; returns the model's outcome,
/// whether the request came on the delegated path, and whether locks were in its way, for the tally.
fn check(world: &World, req: &Request) -> Result<(Outcome, bool, bool), TestCaseError> {
    let directory = world.directory();
    let groups = directory.groups_of(&req.object_id).to_vec();

    // the groups claim (Directory's closure) is the model's closure, less the caller itself
    let mut mine = model_identities(&world.principals, &req.object_id);
    mine.remove(&req.object_id.to_ascii_lowercase());
    let claimed: BTreeSet<String> = groups.iter().cloned().collect();
    prop_assert_eq!(&claimed, &mine, "transitive groups of {}", req.object_id);

    let model = model_decide(world, req);
    let subject = Subject {
        object_id: &req.object_id,
        groups: &groups,
    };
    let (grants, denies) = projected(world);
    prop_assert!(
        grants
            .iter()
            .all(|g| matches!(g.via, Via::RoleAssignment) || !g.scope.starts_with(GROUP_PREFIX)),
        "a delegation reached a management group"
    );
    let facts = AccessFacts::new(grants, denies);
    let got = authz::decide(
        &subject,
        &req.action,
        req.data,
        &req.scope,
        req.path,
        &facts,
        req.now,
    );
    // which locks: exactly the model's, on either path
    let ids = |ls: Vec<&LockRule>| ls.into_iter().map(|l| l.id.clone()).collect::<Vec<_>>();
    let blocking = ids(authz::lock_blocks(
        &world.locks,
        req.kind,
        &req.scope,
        req.path,
        &req.action,
    ));
    prop_assert_eq!(&blocking, &model.locked_by, "locks blocking");
    let in_the_way = ids(authz::locks_in_the_way(
        &world.locks,
        req.kind,
        &req.scope,
        &req.action,
    ));
    prop_assert_eq!(&in_the_way, &model.in_the_way, "locks in the way");
    // the full outcome, as dispatch composes it: the decision, then locks for what it allows
    let outcome = match &got {
        Decision::Denied(_) => Outcome::Denied,
        Decision::NoGrant => Outcome::NoGrant,
        Decision::Allowed(_) if !blocking.is_empty() => Outcome::Locked,
        Decision::Allowed(_) => Outcome::Allowed,
    };
    prop_assert_eq!(outcome, model.outcome(), "outcome; model {:?}", model);
    match &got {
        Decision::Allowed(g) => {
            prop_assert!(
                model.denied_by.is_empty() && model.granted_by.contains(&g.id),
                "decide allowed through {}; model {:?}",
                g.id,
                model
            );
            // the very grant, or its projection below a management group
            prop_assert!(world
                .grants
                .iter()
                .any(|w| w == g || (w.id == g.id && w.scope.starts_with(GROUP_PREFIX))));
        }
        Decision::Denied(d) => prop_assert!(
            model.denied_by.contains(&d.id),
            "decide denied by {}; model {:?}",
            d.id,
            model
        ),
        Decision::NoGrant => prop_assert!(
            model.denied_by.is_empty() && model.granted_by.is_empty(),
            "decide found no grant; model {:?}",
            model
        ),
    }
    Ok((
        model.outcome(),
        req.path == Path::Delegated,
        !model.in_the_way.is_empty(),
    ))
}

#[test]
fn decide_agrees_with_the_model() {
    // 2 000 in `cargo test`; `scripts/property-scale` runs a million (AUTHZ_MODEL_CASES) off CI
    let cases: u32 = std::env::var("AUTHZ_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    });
    // allowed (customer path), allowed (delegated path), denied, no grant, blocked by a lock, allowed
    // past a lock (delegated), and (any outcome) a delete met only by locks below its target
    // and (index 7) an allow or deny through an assignment at a management group above the target
    let tally = Cell::new([0usize; 8]);
    let result = runner.run(&case(), |(world, req)| {
        let (outcome, delegated, locked) = check(&world, &req)?;
        let mut t = tally.get();
        t[match (outcome, delegated) {
            (Outcome::Allowed, false) => 0,
            (Outcome::Allowed, true) => 1,
            (Outcome::Denied, _) => 2,
            (Outcome::NoGrant, _) => 3,
            (Outcome::Locked, _) => 4,
        }] += 1;
        if outcome == Outcome::Allowed && delegated && locked {
            t[5] += 1;
        }
        if locked
            && world
                .locks
                .iter()
                .filter(|l| model_lock_stops(l, &req))
                .all(|l| !model_covers(&l.scope_display, &req.scope))
        {
            t[6] += 1;
        }
        let via_group =
            |scope: &str| scope.starts_with(GROUP_PREFIX) && !model_covers(scope, &req.scope);
        let verdict = model_decide(&world, &req);
        let through_group = match outcome {
            Outcome::Allowed => world
                .grants
                .iter()
                .any(|g| via_group(&g.scope) && verdict.granted_by.contains(&g.id)),
            Outcome::Denied => world
                .denies
                .iter()
                .any(|d| via_group(&d.scope) && verdict.denied_by.contains(&d.id)),
            _ => false,
        };
        if through_group {
            t[7] += 1;
        }
        tally.set(t);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.get();
    eprintln!(
        "{cases} cases: allowed {} (customer) + {} (delegated, {} of them past a lock), denied {}, \
         no grant {}, blocked by a lock {}; {} deletes met only locks below; {} allowed or denied \
         through a management group above ({:.1} s)",
        t[0], t[1], t[5], t[2], t[3], t[4], t[6], t[7], started.elapsed().as_secs_f64()
    );
    // the generator must keep exercising every outcome, or the agreement above means little
    for (n, what) in t.iter().zip([
        "customer allow",
        "delegated allow",
        "deny",
        "no grant",
        "lock",
        "delegated past a lock",
        "delete below a lock only",
        "through a management group",
    ]) {
        let least = if what.contains("lock") || what.contains("group") {
            100
        } else {
            50
        };
        assert!(*n >= cases as usize / least, "too few {what} cases: {t:?}");
    }
}

// ---------------------------------------------------------------------------------------------------
// Unit properties: glob and scope coverage

/// Ids built from segments that are string prefixes of one another, in random case.
fn scope_id() -> impl Strategy<Value = String> {
    (
        vec(
            select(vec![
                "subscriptions",
                "a",
                "ab",
                "resourcegroups",
                "rg",
                "rg1",
                "providers",
                "microsoft.compute",
            ]),
            0..=5,
        ),
        any::<u8>(),
        any::<u64>(),
    )
        .prop_map(|(segs, m, k)| recase(&format!("/{}", segs.join("/")), m, k))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn glob_agrees_with_the_model_on_small_strings(p in "[aB/*.]{0,8}", t in "[aAbB/.]{0,10}") {
        prop_assert_eq!(glob(&p, &t), model_glob(&p, &t));
    }

    #[test]
    fn glob_agrees_with_the_model_on_the_vocabulary(
        p in pattern(false),
        q in pattern(true),
        a in recased(ACTIONS.to_vec()),
        d in recased(DATA_ACTIONS.to_vec()),
    ) {
        prop_assert_eq!(glob(&p, &a), model_glob(&p, &a), "{} ~ {}", p, a);
        prop_assert_eq!(glob(&q, &d), model_glob(&q, &d), "{} ~ {}", q, d);
    }

    #[test]
    fn glob_is_case_insensitive(
        p in select(PATTERNS.iter().chain(ACTIONS).copied().collect::<Vec<_>>()),
        a in select(ACTIONS.to_vec()),
        (m1, k1, m2, k2) in (any::<u8>(), any::<u64>(), any::<u8>(), any::<u64>()),
    ) {
        prop_assert_eq!(glob(&recase(p, m1, k1), &recase(a, m2, k2)), glob(p, a));
    }

    #[test]
    fn star_alone_matches_every_action(a in any::<String>(), b in recased(ACTIONS.to_vec())) {
        prop_assert!(glob("*", &a));
        prop_assert!(glob("*", &b));
    }

    #[test]
    fn scope_coverage_is_a_segment_prefix(scope in scope_id(), target in scope_id()) {
        prop_assert_eq!(is_at_or_above(&scope, &target), model_covers(&scope, &target));
    }

    #[test]
    fn scope_coverage_respects_segment_boundaries(target in scope_id(), cut in any::<Index>()) {
        prop_assert!(is_at_or_above(&target, &target));
        let cut = cut.index(target.len() + 1);
        let scope = &target[..cut];
        // cut inside a segment: `/subscriptions/a` does not cover `/subscriptions/ab`
        if cut < target.len() && !target[cut..].starts_with('/') && !scope.ends_with('/') {
            prop_assert!(!is_at_or_above(scope, &target), "{} over {}", scope, target);
        } else {
            prop_assert!(is_at_or_above(scope, &target), "{} over {}", scope, target);
        }
    }
}

#[test]
fn scope_coverage_examples() {
    assert!(!is_at_or_above("/subscriptions/a", "/subscriptions/ab"));
    assert!(!model_covers("/subscriptions/a", "/subscriptions/ab"));
    assert!(is_at_or_above(
        "/subscriptions/A",
        "/subscriptions/a/resourcegroups/x"
    ));
    assert!(is_at_or_above("/", "/subscriptions/ab"));
    assert!(!is_at_or_above(
        "/subscriptions/s1/resourcegroups/rg1",
        "/subscriptions/s1/resourcegroups/rg10"
    ));
}

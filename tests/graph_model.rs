//! Property test of Resource Graph's row authorization (issue 10): over random worlds of tenants,
//! subscriptions, resource groups, resources, role assignments (subscription, group and resource scope,
//! built-in and custom roles), Lighthouse delegations (registration definitions with assignments at
//! subscription and resource-group scope) and deny assignments, `Resources | project id` run through the
//! real pipeline (`dispatch::handle` with a token, over an in-memory store loaded from the world's ARM
//! requests) returns exactly the resources a slow, obvious reference model says a GET (`{type}/read`) is
//! allowed on — and the real GET of each resource agrees. Worlds also hold management groups (nested
//! below each tenant's root, subscriptions moved into them) with role assignments at group scope, which
//! apply to every subscription below. The model shares no code with `src/`. `GRAPH_MODEL_WORLDS` sets
//! the number of worlds (64 in `cargo test`; `scripts/property-scale` runs more).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

#[path = "support/inproc.rs"]
mod inproc;
use inproc::{app, call};
use lighthouse_emulator::world::{
    Principal, PrincipalKind, Subscription, Tenant, World, WorldRequest,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------------
// Vocabulary

const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

/// Resource types a world holds: (provider type, api-version, name prefix).
const TYPES: &[(&str, &str, &str)] = &[
    ("Microsoft.Storage/storageAccounts", "2023-05-01", "st"),
    ("Microsoft.Network/virtualNetworks", "2023-09-01", "vnet"),
    (
        "Microsoft.Network/networkSecurityGroups",
        "2023-09-01",
        "nsg",
    ),
    ("Microsoft.KeyVault/vaults", "2023-07-01", "kv"),
];

/// Built-in roles without data actions, all allowed in a delegation: Reader, Contributor, Storage
/// Account Contributor, Network Contributor, Key Vault Contributor, Monitoring Reader.
const BUILTINS: &[&str] = &[
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "f25e0fa2-a7c8-4377-a976-54943a77a395",
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
];

/// Patterns for custom roles and deny assignments, around the read actions of TYPES (with traps:
/// `Microsoft.Storage*` also names `Microsoft.StorageSync`, write patterns grant no read).
const PATTERNS: &[&str] = &[
    "*",
    "*/read",
    "*/write",
    "Microsoft.Storage/*",
    "Microsoft.Storage*",
    "microsoft.storage/storageaccounts/read",
    "Microsoft.Network/*",
    "Microsoft.Network/*/read",
    "Microsoft.Network/virtualNetworks/read",
    "Microsoft.Network/networkSecurityGroups/*",
    "Microsoft.KeyVault/vaults/read",
    "MICROSOFT.KEYVAULT/*",
    "Microsoft.*/*/read",
    "Microsoft.Compute/*",
];

const RG_NAMES: &[&str] = &["rg1", "rg10", "rg2"];
const USERS_PER_TENANT: usize = 2;
const GROUPS_PER_TENANT: usize = 2;

// ---------------------------------------------------------------------------------------------------
// The world as the model sees it

#[derive(Debug, Clone)]
struct Perm {
    actions: Vec<String>,
    not_actions: Vec<String>,
}

#[derive(Debug, Clone)]
struct Person {
    object_id: String,
    tenant: usize,
    upn: Option<String>,
    member_of: Vec<String>,
}

#[derive(Debug, Clone)]
struct Delegation {
    sub: usize,
    /// The assignment's scope: the subscription or one of its groups.
    scope: String,
    managed_by: usize,
    /// (principal object id, built-in role guid)
    authorizations: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Deny {
    scope: String,
    /// Object ids, or EVERYONE.
    principals: Vec<String>,
    excludes: Vec<String>,
    permissions: Vec<Perm>,
    only_here: bool,
}

/// A management group below its tenant's root (`parent`: another group of the model, else the root).
#[derive(Debug, Clone)]
struct Mg {
    name: String,
    tenant: usize,
    parent: Option<usize>,
}

#[derive(Debug, Clone)]
struct Model {
    tenants: Vec<String>,
    mgs: Vec<Mg>,
    /// Per subscription: the group it was moved into (an index of `mgs`), else its tenant's root.
    placed: Vec<Option<usize>>,
    people: Vec<Person>,
    /// (subscription id, owning tenant)
    subs: Vec<(String, usize)>,
    /// (subscription index, group id)
    groups: Vec<(usize, String)>,
    /// (subscription index, id, provider type, api-version, body)
    resources: Vec<(usize, String, &'static str, &'static str, Value)>,
    /// guid → permissions of the custom roles
    custom_roles: BTreeMap<String, Vec<Perm>>,
    /// (principal, scope, role guid)
    role_assignments: Vec<(String, String, String)>,
    delegations: Vec<Delegation>,
    denies: Vec<Deny>,
}

fn guid(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

/// The built-in roles' permissions, read from the fixture as data (not through `facts`).
fn builtin_permissions() -> &'static BTreeMap<String, Vec<Perm>> {
    static ROLES: OnceLock<BTreeMap<String, Vec<Perm>>> = OnceLock::new();
    ROLES.get_or_init(|| {
        let raw: Value = serde_json::from_str(include_str!("../fixtures/builtin-roles.json"))
            .expect("builtin-roles.json");
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        };
        raw.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_ascii_lowercase(),
                    r["permissions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| Perm {
                            actions: strings(&p["actions"]),
                            not_actions: strings(&p["notActions"]),
                        })
                        .collect(),
                )
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------------
// The reference model: plain, slow, obvious

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

fn covers(scope: &str, target: &str) -> bool {
    let (s, t) = (segments(scope), segments(target));
    s.len() <= t.len() && s.iter().zip(&t).all(|(a, b)| a == b)
}

fn permits(perms: &[Perm], action: &str) -> bool {
    perms.iter().any(|p| {
        p.actions.iter().any(|a| model_glob(a, action))
            && !p.not_actions.iter().any(|a| model_glob(a, action))
    })
}

/// Why the model shows or hides a resource to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    /// No standing on its subscription: neither the owner's tenant nor delegated to the caller's.
    NoStanding,
    /// Standing on the subscription as its own tenant, no grant covers the resource.
    NoGrant,
    /// A delegation on the subscription, none of it (for this caller) covers the resource: another
    /// resource group's delegation, another principal's authorization, a role without the read.
    NoGrantDelegated,
    /// A grant, but a deny assignment wins.
    Denied,
    AllowedCustomer,
    /// Allowed on the customer path only by a role assignment at a management group above the
    /// subscription.
    AllowedViaGroup,
    AllowedDelegated,
}

impl Model {
    fn role(&self, guid: &str) -> Vec<Perm> {
        self.custom_roles
            .get(guid)
            .or_else(|| builtin_permissions().get(guid))
            .cloned()
            .unwrap_or_default()
    }

    /// The lower-cased ids of the management groups a subscription sits in: its group, that group's
    /// ancestors, and its tenant's root.
    fn groups_above(&self, sub: usize) -> Vec<String> {
        let key = |n: &str| format!("/providers/microsoft.management/managementgroups/{n}");
        let mut out = Vec::new();
        let mut at = self.placed[sub];
        while let Some(g) = at {
            out.push(key(&self.mgs[g].name.to_ascii_lowercase()));
            at = self.mgs[g].parent;
        }
        out.push(key(&self.tenants[self.subs[sub].1]));
        out
    }

    /// Does a role assignment at `scope` reach resource `id` of subscription `sub`: a prefix of its id,
    /// or a management group the subscription sits in.
    fn reaches(&self, scope: &str, sub: usize, id: &str) -> bool {
        covers(scope, id) || self.groups_above(sub).contains(&scope.to_ascii_lowercase())
    }

    /// The caller and every group it is in, directly or through others.
    fn identities(&self, object_id: &str) -> BTreeSet<String> {
        let mut me = BTreeSet::from([object_id.to_string()]);
        loop {
            let before = me.len();
            for p in &self.people {
                if me.contains(&p.object_id) {
                    me.extend(p.member_of.iter().cloned());
                }
            }
            if me.len() == before {
                return me;
            }
        }
    }

    fn why(&self, caller: &Person, resource: usize) -> Why {
        let (sub, id, rtype, _, _) = &self.resources[resource];
        let action = format!("{rtype}/read");
        let me = self.identities(&caller.object_id);
        let customer = self.subs[*sub].1 == caller.tenant;
        let delegated = !customer
            && self
                .delegations
                .iter()
                .any(|d| d.sub == *sub && d.managed_by == caller.tenant);
        if !customer && !delegated {
            return Why::NoStanding;
        }
        let granted = if customer {
            self.role_assignments.iter().any(|(p, scope, role)| {
                me.contains(p)
                    && self.reaches(scope, *sub, id)
                    && permits(&self.role(role), &action)
            })
        } else {
            self.delegations.iter().any(|d| {
                covers(&d.scope, id)
                    && d.authorizations
                        .iter()
                        .any(|(p, role)| me.contains(p) && permits(&self.role(role), &action))
            })
        };
        if !granted {
            return if customer {
                Why::NoGrant
            } else {
                Why::NoGrantDelegated
            };
        }
        let denied = self.denies.iter().any(|d| {
            let here = if d.only_here {
                segments(&d.scope) == segments(id)
            } else {
                covers(&d.scope, id)
            };
            here && d.principals.iter().any(|p| p == EVERYONE || me.contains(p))
                && !d.excludes.iter().any(|p| me.contains(p))
                && permits(&d.permissions, &action)
        });
        // allowed only through a management group: no grant at or below the subscription reads it
        let only_via_group = customer
            && !self.role_assignments.iter().any(|(p, scope, role)| {
                me.contains(p) && covers(scope, id) && permits(&self.role(role), &action)
            });
        match (denied, customer) {
            (true, _) => Why::Denied,
            (false, true) if only_via_group => Why::AllowedViaGroup,
            (false, true) => Why::AllowedCustomer,
            (false, false) => Why::AllowedDelegated,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Generators

fn perm() -> impl Strategy<Value = Perm> {
    (
        vec(select(PATTERNS.to_vec()), 1..=3),
        vec(select(PATTERNS.to_vec()), 0..=1),
    )
        .prop_map(|(a, n)| Perm {
            actions: a.into_iter().map(String::from).collect(),
            not_actions: n.into_iter().map(String::from).collect(),
        })
}

/// A deny assignment's block: mostly patterns that name a read of TYPES, rarely a notAction, so that
/// denies hide rows often enough to matter.
fn deny_perm() -> impl Strategy<Value = Perm> {
    let reads: Vec<&str> = PATTERNS
        .iter()
        .copied()
        .filter(|p| !p.contains("write") && !p.contains("Compute"))
        .collect();
    (
        vec(select(reads), 1..=2),
        prop::option::weighted(0.2, select(PATTERNS.to_vec())),
    )
        .prop_map(|(a, n)| Perm {
            actions: a.into_iter().map(String::from).collect(),
            not_actions: n.into_iter().map(String::from).collect(),
        })
}

/// (owner tenant, groups, (group, type) pairs of resources)
type SubSpec = (Index, Vec<&'static str>, Vec<(Index, Index)>);
/// (principal, scope, role: built-in or custom, custom?)
type AssignmentSpec = (Index, Index, Index, bool);
/// (subscription, managing tenant, at a group?, group, authorizations (principal, role))
type DelegationSpec = (Index, Index, bool, Index, Vec<(Index, Index)>);
/// (scope, principals (None = Everyone), excludes, permissions, doNotApplyToChildScopes)
type DenySpec = (Index, Vec<Option<Index>>, Vec<Index>, Vec<Perm>, bool);
/// Management groups: per group (tenant, parent among the earlier groups of its tenant or the root);
/// per subscription, where it is moved (an index among root + its tenant's groups); role assignments at
/// group scope (principal, group among root + its tenant's groups, tenant, built-in role).
type MgSpec = (
    Vec<(Index, Index)>,
    Vec<Index>,
    Vec<(Index, Index, Index, Index)>,
);

fn world() -> impl Strategy<Value = Model> {
    (
        2..=3usize,
        vec(
            (
                any::<Index>(),
                subsequence(RG_NAMES.to_vec(), 1..=3),
                vec((any::<Index>(), any::<Index>()), 0..=5),
            ),
            1..=3,
        ),
        vec((any::<Index>(), any::<Index>()), 0..=6),
        vec(vec(perm(), 1..=2), 0..=2),
        vec(
            (
                any::<Index>(),
                any::<Index>(),
                any::<Index>(),
                any::<bool>(),
            ),
            1..=8,
        ),
        vec(
            (
                any::<Index>(),
                any::<Index>(),
                any::<bool>(),
                any::<Index>(),
                vec((any::<Index>(), any::<Index>()), 1..=3),
            ),
            1..=3,
        ),
        vec(
            (
                any::<Index>(),
                vec(prop::option::weighted(0.4, any::<Index>()), 1..=2),
                vec(any::<Index>(), 0..=1),
                vec(deny_perm(), 1..=2),
                prop::bool::weighted(0.25),
            ),
            0..=3,
        ),
        (
            vec((any::<Index>(), any::<Index>()), 0..=4),
            vec(any::<Index>(), 3),
            vec(
                (
                    any::<Index>(),
                    any::<Index>(),
                    any::<Index>(),
                    any::<Index>(),
                ),
                0..=3,
            ),
        ),
    )
        .prop_map(
            |(n, subs, edges, customs, assignments, delegations, denies, mgs)| {
                build(
                    n,
                    subs,
                    edges,
                    customs,
                    assignments,
                    delegations,
                    denies,
                    mgs,
                )
            },
        )
}

#[allow(clippy::too_many_arguments)]
fn build(
    n_tenants: usize,
    subs: Vec<SubSpec>,
    edges: Vec<(Index, Index)>,
    customs: Vec<Vec<Perm>>,
    assignments: Vec<AssignmentSpec>,
    delegations: Vec<DelegationSpec>,
    denies: Vec<DenySpec>,
    (mg_specs, placements, mg_assignments): MgSpec,
) -> Model {
    let tenants: Vec<String> = (0..n_tenants).map(|t| guid(0x7e000000, t)).collect();
    let mut people = Vec::new();
    for t in 0..n_tenants {
        for u in 0..USERS_PER_TENANT + GROUPS_PER_TENANT {
            let user = u < USERS_PER_TENANT;
            people.push(Person {
                object_id: guid(0xa0000000 + t as u32, u),
                tenant: t,
                upn: user.then(|| format!("u{u}@t{t}.example")),
                member_of: vec![],
            });
        }
    }
    // memberships inside a tenant, groups may nest
    for (member, group) in edges {
        let m = member.index(people.len());
        let t = people[m].tenant;
        let g = guid(
            0xa0000000 + t as u32,
            USERS_PER_TENANT + group.index(GROUPS_PER_TENANT),
        );
        if people[m].object_id != g && !people[m].member_of.contains(&g) {
            people[m].member_of.push(g);
        }
    }
    // a user nobody names anywhere
    people.push(Person {
        object_id: guid(0xa0ffffff, 0),
        tenant: 0,
        upn: Some("nobody@t0.example".into()),
        member_of: vec![],
    });

    let mut model = Model {
        tenants,
        mgs: vec![],
        placed: vec![],
        people,
        subs: vec![],
        groups: vec![],
        resources: vec![],
        custom_roles: BTreeMap::new(),
        role_assignments: vec![],
        delegations: vec![],
        denies: vec![],
    };
    for (s, (owner, rgs, resources)) in subs.into_iter().enumerate() {
        let sub = guid(0x5b000000, s);
        model.subs.push((sub.clone(), owner.index(n_tenants)));
        let first = model.groups.len();
        for rg in &rgs {
            model
                .groups
                .push((s, format!("/subscriptions/{sub}/resourceGroups/{rg}")));
        }
        for (k, (g, t)) in resources.into_iter().enumerate() {
            let rg = model.groups[first + g.index(rgs.len())].1.clone();
            let (rtype, api, prefix) = *t.get(TYPES);
            // globally unique names (storage accounts and vaults)
            let name = format!("{prefix}{s}x{k}");
            let mut body = json!({"location": "westeurope"});
            match prefix {
                "st" => {
                    body["kind"] = json!("StorageV2");
                    body["sku"] = json!({"name": "Standard_LRS"});
                }
                "vnet" => {
                    body["properties"] =
                        json!({"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}})
                }
                "kv" => {
                    body["properties"] = json!({"tenantId": model.tenants[model.subs[s].1],
                        "sku": {"family": "A", "name": "standard"}})
                }
                _ => {}
            }
            model.resources.push((
                s,
                format!("{rg}/providers/{rtype}/{name}"),
                rtype,
                api,
                body,
            ));
        }
    }
    for (i, perms) in customs.into_iter().enumerate() {
        model.custom_roles.insert(guid(0xc0000000, i), perms);
    }

    // management groups: each below its tenant's root or an earlier group of its tenant
    for (i, (tenant, parent)) in mg_specs.into_iter().enumerate() {
        let tenant = tenant.index(n_tenants);
        let earlier: Vec<Option<usize>> = std::iter::once(None)
            .chain((0..i).filter(|g| model.mgs[*g].tenant == tenant).map(Some))
            .collect();
        model.mgs.push(Mg {
            name: format!("Mg{i}"),
            tenant,
            parent: *parent.get(&earlier),
        });
    }
    let in_tenant = |model: &Model, t: usize| -> Vec<Option<usize>> {
        std::iter::once(None)
            .chain(
                (0..model.mgs.len())
                    .filter(|g| model.mgs[*g].tenant == t)
                    .map(Some),
            )
            .collect()
    };
    for (s, at) in placements.iter().enumerate().take(model.subs.len()) {
        let choices = in_tenant(&model, model.subs[s].1);
        model.placed.push(*at.get(&choices));
    }
    for (who, at, tenant, role) in mg_assignments {
        let t = tenant.index(n_tenants);
        let scope = match *at.get(&in_tenant(&model, t)) {
            Some(g) => format!(
                "/providers/Microsoft.Management/managementGroups/{}",
                model.mgs[g].name
            ),
            None => format!(
                "/providers/Microsoft.Management/managementGroups/{}",
                model.tenants[t]
            ),
        };
        let locals: Vec<&Person> = model.people.iter().filter(|p| p.tenant == t).collect();
        let ra = (
            who.get(&locals).object_id.clone(),
            scope,
            role.get(BUILTINS).to_string(),
        );
        if !model.role_assignments.contains(&ra) {
            model.role_assignments.push(ra);
        }
    }

    // scopes: subscriptions, groups, resources
    let mut scopes: Vec<(usize, String)> = model
        .subs
        .iter()
        .enumerate()
        .map(|(s, (id, _))| (s, format!("/subscriptions/{id}")))
        .collect();
    scopes.extend(model.groups.iter().cloned());
    scopes.extend(model.resources.iter().map(|(s, id, ..)| (*s, id.clone())));
    let customs: Vec<String> = model.custom_roles.keys().cloned().collect();

    for (who, at, role, custom) in assignments {
        let (s, scope) = at.get(&scopes).clone();
        // a role assignment names a principal of the tenant that owns the scope
        let locals: Vec<&Person> = model
            .people
            .iter()
            .filter(|p| p.tenant == model.subs[s].1)
            .collect();
        let role = if custom && !customs.is_empty() {
            role.get(&customs).clone()
        } else {
            role.get(BUILTINS).to_string()
        };
        let ra = (who.get(&locals).object_id.clone(), scope, role);
        // ARM refuses a second assignment of a role to a principal at one scope
        if !model.role_assignments.contains(&ra) {
            model.role_assignments.push(ra);
        }
    }

    for (sub, by, at_group, group, auths) in delegations {
        let s = sub.index(model.subs.len());
        let owner = model.subs[s].1;
        let others: Vec<usize> = (0..n_tenants).filter(|t| *t != owner).collect();
        let managed_by = *by.get(&others);
        let groups: Vec<&String> = model
            .groups
            .iter()
            .filter(|(gs, _)| *gs == s)
            .map(|(_, g)| g)
            .collect();
        let scope = if at_group {
            group.get(&groups).to_string()
        } else {
            format!("/subscriptions/{}", model.subs[s].0)
        };
        let managers: Vec<&Person> = model
            .people
            .iter()
            .filter(|p| p.tenant == managed_by && p.upn.as_deref() != Some("nobody@t0.example"))
            .collect();
        let mut authorizations: Vec<(String, String)> = auths
            .into_iter()
            .map(|(p, r)| {
                (
                    p.get(&managers).object_id.clone(),
                    r.get(BUILTINS).to_string(),
                )
            })
            .collect();
        authorizations.sort();
        authorizations.dedup();
        model.delegations.push(Delegation {
            sub: s,
            scope,
            managed_by,
            authorizations,
        });
    }

    // denies mostly on subscriptions and groups (one on a resource hides one row at most)
    let broad = model.subs.len() + model.groups.len();
    for (at, who, excludes, permissions, only_here) in denies {
        let (_, scope) = if only_here {
            at.get(&scopes).clone()
        } else {
            at.get(&scopes[..broad]).clone()
        };
        let everyone: Vec<&Person> = model.people.iter().collect();
        model.denies.push(Deny {
            scope,
            principals: who
                .into_iter()
                .map(|p| match p {
                    None => EVERYONE.to_string(),
                    Some(p) => p.get(&everyone).object_id.clone(),
                })
                .collect(),
            excludes: excludes
                .into_iter()
                .map(|p| p.get(&everyone).object_id.clone())
                .collect(),
            permissions,
            only_here,
        });
    }
    model
}

// ---------------------------------------------------------------------------------------------------
// The world as ARM requests

fn perm_json(p: &Perm) -> Value {
    json!({"actions": p.actions, "notActions": p.not_actions, "dataActions": [], "notDataActions": []})
}

fn request(id: String, api: &str, body: Value) -> WorldRequest {
    WorldRequest {
        id,
        api_version: api.into(),
        method: "PUT".into(),
        body,
    }
}

fn to_world(m: &Model) -> World {
    let tenants = m
        .tenants
        .iter()
        .enumerate()
        .map(|(i, id)| Tenant {
            id: id.clone(),
            display_name: format!("Tenant {i}"),
            default_domain: format!("t{i}.example"),
            domains: vec![],
            cloud: "AzureCloud".into(),
            country_code: "US".into(),
        })
        .collect();
    let principals = m
        .people
        .iter()
        .map(|p| Principal {
            tenant_id: m.tenants[p.tenant].clone(),
            object_id: p.object_id.clone(),
            kind: if p.upn.is_some() {
                PrincipalKind::User
            } else {
                PrincipalKind::Group
            },
            display_name: p.upn.clone().unwrap_or_else(|| p.object_id.clone()),
            user_principal_name: p.upn.clone(),
            password: p.upn.as_ref().map(|_| "Pa55-word!".into()),
            app_id: None,
            secret: None,
            member_of: p.member_of.clone(),
        })
        .collect();
    let subscriptions = m
        .subs
        .iter()
        .enumerate()
        .map(|(i, (id, t))| Subscription {
            subscription_id: id.clone(),
            tenant_id: m.tenants[*t].clone(),
            display_name: format!("sub {i}"),
            state: "Enabled".into(),
        })
        .collect();
    let mut requests = Vec::new();
    for g in &m.mgs {
        let parent = match g.parent {
            Some(p) => m.mgs[p].name.clone(),
            None => m.tenants[g.tenant].clone(),
        };
        requests.push(request(
            format!(
                "/providers/Microsoft.Management/managementGroups/{}",
                g.name
            ),
            "2023-04-01",
            json!({"properties": {"displayName": g.name, "details": {"parent":
                {"id": format!("/providers/Microsoft.Management/managementGroups/{parent}")}}}}),
        ));
    }
    for (s, g) in m.placed.iter().enumerate() {
        if let Some(g) = g {
            requests.push(request(
                format!(
                    "/providers/Microsoft.Management/managementGroups/{}/subscriptions/{}",
                    m.mgs[*g].name, m.subs[s].0
                ),
                "2023-04-01",
                json!({}),
            ));
        }
    }
    for (_, g) in &m.groups {
        requests.push(request(
            g.clone(),
            "2024-11-01",
            json!({"location": "westeurope"}),
        ));
    }
    for (_, id, _, api, body) in &m.resources {
        requests.push(request(id.clone(), api, body.clone()));
    }
    let everywhere: Vec<String> = m
        .subs
        .iter()
        .map(|(s, _)| format!("/subscriptions/{s}"))
        .collect();
    for (i, (g, perms)) in m.custom_roles.iter().enumerate() {
        requests.push(request(
            format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions/{g}",
                everywhere[0]
            ),
            "2022-04-01",
            json!({"properties": {"roleName": format!("Custom {i}"), "type": "CustomRole",
                "permissions": perms.iter().map(perm_json).collect::<Vec<_>>(),
                "assignableScopes": everywhere}}),
        ));
    }
    for (i, (p, scope, role)) in m.role_assignments.iter().enumerate() {
        requests.push(request(
            format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
                guid(0x7a000000, i)
            ),
            "2022-04-01",
            json!({"properties": {"principalId": p,
                "roleDefinitionId": if scope.starts_with("/providers/") {
                    format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")
                } else {
                    format!("{}/providers/Microsoft.Authorization/roleDefinitions/{role}", everywhere[0])
                }}}),
        ));
    }
    for (i, d) in m.delegations.iter().enumerate() {
        let def = format!(
            "/subscriptions/{}/providers/Microsoft.ManagedServices/registrationDefinitions/{}",
            m.subs[d.sub].0,
            guid(0xde000000, i)
        );
        requests.push(request(
            def.clone(),
            "2022-10-01",
            json!({"properties": {"registrationDefinitionName": format!("delegation {i}"),
                "managedByTenantId": m.tenants[d.managed_by],
                "authorizations": d.authorizations.iter().map(|(p, r)| json!({"principalId": p, "roleDefinitionId": r})).collect::<Vec<_>>()}}),
        ));
        requests.push(request(
            format!(
                "{}/providers/Microsoft.ManagedServices/registrationAssignments/{}",
                d.scope,
                guid(0xda000000, i)
            ),
            "2022-10-01",
            json!({"properties": {"registrationDefinitionId": def}}),
        ));
    }
    for (i, d) in m.denies.iter().enumerate() {
        let who = |ids: &[String]| -> Vec<Value> {
            ids.iter()
                .map(|p| {
                    if p == EVERYONE {
                        json!({"id": p, "type": "SystemDefined"})
                    } else {
                        json!({"id": p, "type": "User"})
                    }
                })
                .collect()
        };
        requests.push(request(
            format!(
                "{}/providers/Microsoft.Authorization/denyAssignments/{}",
                d.scope,
                guid(0xd0000000, i)
            ),
            "2022-04-01",
            json!({"properties": {"denyAssignmentName": format!("deny {i}"),
                "permissions": d.permissions.iter().map(perm_json).collect::<Vec<_>>(),
                "principals": who(&d.principals), "excludePrincipals": who(&d.excludes),
                "doNotApplyToChildScopes": d.only_here}}),
        ));
    }
    World {
        comment: None,
        tenants,
        principals,
        subscriptions,
        requests,
        data: Default::default(),
        state: None,
    }
}

// ---------------------------------------------------------------------------------------------------
// The real thing

/// Check one world as each of its users; returns the model's reason for each (caller, resource) pair
/// in the query's scope, for the tally.
fn check(model: &Model, named: &[Index]) -> Result<Vec<Why>, TestCaseError> {
    let app = app(to_world(model)).map_err(|e| TestCaseError::fail(format!("world: {e}")))?;
    let mut whys = Vec::new();
    for (k, caller) in model.people.iter().filter(|p| p.upn.is_some()).enumerate() {
        let upn = caller.upn.as_deref().unwrap_or_default();
        let token = inproc::token(&app, upn).map_err(TestCaseError::fail)?;

        // half the callers name some subscriptions (any, reachable or not); the others name none
        let subset: Option<Vec<usize>> = named.get(k).filter(|i| i.index(2) == 0).map(|i| {
            (0..model.subs.len())
                .filter(|s| (i.index(1 << model.subs.len()) >> s) & 1 == 1)
                .collect()
        });
        let mut body = json!({"query": "Resources | project id", "options": {"$top": 1000}});
        if let Some(s) = &subset {
            body["subscriptions"] = json!(s.iter().map(|s| &model.subs[*s].0).collect::<Vec<_>>());
        }
        let (status, out) = call(
            &app,
            "POST",
            "/providers/Microsoft.ResourceGraph/resources",
            "2022-10-01",
            Some(&token),
            &body,
        );
        prop_assert_eq!(status, 200, "graph as {:?}: {}", caller.upn, out);
        let got: BTreeSet<String> = out["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_ascii_lowercase())
            .collect();
        let mut want = BTreeSet::new();
        for (r, (s, id, _, api, _)) in model.resources.iter().enumerate() {
            let why = model.why(caller, r);
            let allowed = matches!(
                why,
                Why::AllowedCustomer | Why::AllowedViaGroup | Why::AllowedDelegated
            );
            // the real GET agrees with the model
            let (status, _) = call(&app, "GET", id, api, Some(&token), &Value::Null);
            prop_assert_eq!(
                status == 200,
                allowed,
                "GET {} as {:?}: {}, model {:?}",
                id,
                caller.upn,
                status,
                why
            );
            if subset.as_ref().is_none_or(|n| n.contains(s)) {
                whys.push(why);
                if allowed {
                    want.insert(id.to_ascii_lowercase());
                }
            }
        }
        prop_assert_eq!(
            &got,
            &want,
            "Resources as {:?} (subscriptions {:?})",
            caller.upn,
            subset
        );
    }
    Ok(whys)
}

#[test]
fn resource_graph_returns_exactly_what_a_get_may_read() {
    let cases: u32 = std::env::var("GRAPH_MODEL_WORLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    });
    let tally = std::cell::RefCell::new(BTreeMap::<Why, usize>::new());
    let result = runner.run(&(world(), vec(any::<Index>(), 8)), |(model, named)| {
        for w in check(&model, &named)? {
            *tally.borrow_mut().entry(w).or_default() += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.into_inner();
    eprintln!(
        "{cases} worlds, (caller, resource) pairs by the model's reason: {t:?} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    // the generator must keep exercising every reason, or the agreement above means little
    for why in [
        Why::NoStanding,
        Why::NoGrant,
        Why::NoGrantDelegated,
        Why::Denied,
        Why::AllowedCustomer,
        Why::AllowedViaGroup,
        Why::AllowedDelegated,
    ] {
        let n = t.get(&why).copied().unwrap_or(0);
        // (a typical run has 50–450 of each; a random run may dip well below its mean)
        assert!(n >= 5, "too few {why:?} pairs: {t:?}");
    }
}

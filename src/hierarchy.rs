//! The management-group hierarchy as a plain value: each tenant's root group (named after the tenant id,
//! "Tenant Root Group"), the groups made below it, and which group each subscription sits in (the root
//! unless moved). Pure: built from stored rows by `facts`, never touches the store or the clock.
//! Follows the Microsoft.Management 2023-04-01 spec and learn.microsoft.com's management-group overview.

use foldhash::HashMap;
use serde_json::Value;

/// The display name Azure gives every tenant's root group.
pub const ROOT_DISPLAY_NAME: &str = "Tenant Root Group";
/// The canonical prefix of a management group's id.
pub const GROUP_PREFIX: &str = "/providers/Microsoft.Management/managementGroups/";
/// The store types the hierarchy is read from.
pub const GROUP_TYPE: &str = "microsoft.management/managementgroups";
pub const GROUP_SUBSCRIPTION_TYPE: &str = "microsoft.management/managementgroups/subscriptions";
pub const SETTINGS_TYPE: &str = "microsoft.management/managementgroups/settings";

/// One management group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group id as created (its casing kept).
    pub name: String,
    pub display_name: String,
    /// Lower-cased tenant id.
    pub tenant_id: String,
    /// Lower-cased name of the parent group; `None` for a tenant's root.
    pub parent: Option<String>,
    /// The stored body (properties.details…), when the group has a row.
    pub body: Option<Value>,
}

impl Group {
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }
}

/// Every tenant's tree.
#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    groups: HashMap<String, Group>,
    /// Lower-cased subscription id → lower-cased group name (only explicit placements).
    placed: HashMap<String, String>,
    /// Lower-cased subscription id → lower-cased tenant id (every subscription of the world).
    sub_tenant: HashMap<String, String>,
    /// Tenants whose root demands `managementGroups/write` on it to create groups under it.
    require_auth: HashMap<String, bool>,
    /// Child groups by name: group → child group names (lower-cased).
    children: HashMap<String, Vec<String>>,
}

/// The lower-cased scope key of group `name`.
pub fn group_key(name: &str) -> String {
    format!("{GROUP_PREFIX}{name}").to_ascii_lowercase()
}

/// The canonical id of group `name`.
pub fn group_id(name: &str) -> String {
    format!("{GROUP_PREFIX}{name}")
}

/// The group a lower-cased scope key names, when it is (or is below) a management group.
pub fn group_of_scope(scope: &str) -> Option<&str> {
    let prefix = "/providers/microsoft.management/managementgroups/";
    if scope.len() <= prefix.len() || !scope[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &scope[prefix.len()..];
    Some(rest.split('/').next().unwrap_or(rest))
}

impl Hierarchy {
    /// Build from the tenants, the subscriptions (with their tenants) and the stored rows: groups
    /// (`GROUP_TYPE` bodies), placements (`(subscription, group)`) and root settings
    /// (`(tenant, requireAuthorizationForGroupCreation)`).
    pub fn new(
        tenants: &[String],
        subscriptions: &[(String, String)],
        groups: &[Value],
        placements: &[(String, String)],
        settings: &[(String, bool)],
    ) -> Hierarchy {
        let mut h = Hierarchy::default();
        for t in tenants {
            let t = t.to_ascii_lowercase();
            h.groups.insert(
                t.clone(),
                Group {
                    name: t.clone(),
                    display_name: ROOT_DISPLAY_NAME.into(),
                    tenant_id: t,
                    parent: None,
                    body: None,
                },
            );
        }
        for (s, t) in subscriptions {
            h.sub_tenant
                .insert(s.to_ascii_lowercase(), t.to_ascii_lowercase());
        }
        for b in groups {
            let name = b["name"].as_str().unwrap_or_default().to_string();
            let p = &b["properties"];
            let tenant = p["tenantId"].as_str().unwrap_or_default().to_lowercase();
            let lname = name.to_ascii_lowercase();
            let is_root = lname == tenant;
            let parent = (!is_root).then(|| {
                p["details"]["parent"]["id"]
                    .as_str()
                    .and_then(group_of_scope)
                    .unwrap_or(tenant.as_str())
                    .to_ascii_lowercase()
            });
            h.groups.insert(
                lname,
                Group {
                    name,
                    display_name: p["displayName"].as_str().unwrap_or_default().to_string(),
                    tenant_id: tenant,
                    parent,
                    body: Some(b.clone()),
                },
            );
        }
        for (s, g) in placements {
            if h.groups.contains_key(&g.to_ascii_lowercase()) {
                h.placed
                    .insert(s.to_ascii_lowercase(), g.to_ascii_lowercase());
            }
        }
        for (t, r) in settings {
            h.require_auth.insert(t.to_ascii_lowercase(), *r);
        }
        let mut names: Vec<&Group> = h.groups.values().collect();
        names.sort_by(|a, b| a.name.cmp(&b.name));
        let mut children: HashMap<String, Vec<String>> = HashMap::default();
        for g in names {
            if let Some(p) = &g.parent {
                children
                    .entry(p.clone())
                    .or_default()
                    .push(g.name.to_ascii_lowercase());
            }
        }
        h.children = children;
        h
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(&name.to_ascii_lowercase())
    }

    /// Every group of a tenant, roots first, then by name.
    pub fn groups_of_tenant(&self, tenant: &str) -> Vec<&Group> {
        let mut v: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| g.tenant_id.eq_ignore_ascii_case(tenant))
            .collect();
        v.sort_by(|a, b| (!a.is_root(), &a.name).cmp(&(!b.is_root(), &b.name)));
        v
    }

    /// The group a subscription sits in (its tenant's root unless moved).
    pub fn parent_of_subscription(&self, sub: &str) -> Option<&Group> {
        let s = sub.to_ascii_lowercase();
        match self.placed.get(&s) {
            Some(g) => self.groups.get(g),
            None => self.groups.get(self.sub_tenant.get(&s)?),
        }
    }

    /// The child groups of a group, by name.
    pub fn child_groups(&self, name: &str) -> Vec<&Group> {
        self.children
            .get(&name.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .filter_map(|c| self.groups.get(c))
            .collect()
    }

    /// The subscriptions directly in a group (lower-cased ids, sorted).
    pub fn subscriptions_in(&self, name: &str) -> Vec<String> {
        let n = name.to_ascii_lowercase();
        let mut v: Vec<String> = self
            .sub_tenant
            .keys()
            .filter(|s| {
                self.parent_of_subscription(s)
                    .is_some_and(|g| g.name.eq_ignore_ascii_case(&n))
            })
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The ancestors of a group, nearest first (the root last); empty for a root.
    pub fn ancestors(&self, name: &str) -> Vec<&Group> {
        let mut out = Vec::new();
        let mut cur = self.group(name).and_then(|g| g.parent.clone());
        while let Some(p) = cur {
            let Some(g) = self.groups.get(&p) else { break };
            if out
                .iter()
                .any(|x: &&Group| x.name.eq_ignore_ascii_case(&g.name))
            {
                break; // never loop, whatever the rows say
            }
            out.push(g);
            cur = g.parent.clone();
        }
        out
    }

    /// The groups above a subscription, nearest first.
    pub fn ancestors_of_subscription(&self, sub: &str) -> Vec<&Group> {
        let Some(p) = self.parent_of_subscription(sub) else {
            return Vec::new();
        };
        let mut v = vec![p];
        v.extend(self.ancestors(&p.name));
        v
    }

    /// Is `maybe_descendant` the group `name` itself or below it?
    pub fn is_at_or_below(&self, maybe_descendant: &str, name: &str) -> bool {
        maybe_descendant.eq_ignore_ascii_case(name)
            || self
                .ancestors(maybe_descendant)
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Every group below `name` (depth first, parents before children) and every subscription below it.
    pub fn descendants(&self, name: &str) -> (Vec<&Group>, Vec<String>) {
        let mut groups = Vec::new();
        let mut subs = self.subscriptions_in(name);
        let mut stack: Vec<&Group> = self.child_groups(name).into_iter().rev().collect();
        while let Some(g) = stack.pop() {
            if groups.iter().any(|x: &&Group| x.name == g.name) {
                continue;
            }
            groups.push(g);
            subs.extend(self.subscriptions_in(&g.name));
            stack.extend(self.child_groups(&g.name).into_iter().rev());
        }
        (groups, subs)
    }

    /// The lower-cased scopes that a grant at `scope` (a lower-cased key) also covers: for a
    /// management-group scope, each descendant group's and each subscription's below it. Empty for any
    /// other scope (ids below a subscription are prefixes already).
    pub fn scopes_below(&self, scope: &str) -> Vec<String> {
        let Some(name) = group_of_scope(scope) else {
            return Vec::new();
        };
        if scope.trim_end_matches('/') != group_key(name) {
            return Vec::new(); // a resource below a group (a deployment, an assignment) has no children
        }
        let (groups, subs) = self.descendants(name);
        groups
            .iter()
            .map(|g| group_key(&g.name))
            .chain(subs.iter().map(|s| format!("/subscriptions/{s}")))
            .collect()
    }

    /// Must a caller hold `managementGroups/write` on the tenant's root to create a group under it?
    pub fn requires_authorization(&self, tenant: &str) -> bool {
        self.require_auth
            .get(&tenant.to_ascii_lowercase())
            .copied()
            .unwrap_or(false)
    }

    /// The tenant of a subscription.
    pub fn tenant_of_subscription(&self, sub: &str) -> Option<&str> {
        self.sub_tenant
            .get(&sub.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn world() -> Hierarchy {
        let g = |name: &str, parent: &str| {
            json!({"name": name, "properties": {"tenantId": "T1", "displayName": name,
                "details": {"parent": {"id": format!("/providers/Microsoft.Management/managementGroups/{parent}")}}}})
        };
        Hierarchy::new(
            &["t1".into(), "t2".into()],
            &[
                ("s1".into(), "t1".into()),
                ("s2".into(), "t1".into()),
                ("s3".into(), "t2".into()),
            ],
            &[g("Platform", "t1"), g("Prod", "platform")],
            &[("S2".into(), "prod".into())],
            &[],
        )
    }

    #[test]
    fn subscriptions_sit_under_their_tenant_root_unless_moved() {
        let h = world();
        assert_eq!(h.parent_of_subscription("s1").unwrap().name, "t1");
        assert_eq!(h.parent_of_subscription("s2").unwrap().name, "Prod");
        assert_eq!(h.parent_of_subscription("s3").unwrap().name, "t2");
        assert_eq!(h.group("t1").unwrap().display_name, ROOT_DISPLAY_NAME);
        let chain: Vec<&str> = h
            .ancestors_of_subscription("s2")
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(chain, ["Prod", "Platform", "t1"]);
    }

    #[test]
    fn a_group_scope_covers_its_descendant_groups_and_subscriptions() {
        let h = world();
        let mut below = h.scopes_below("/providers/microsoft.management/managementgroups/platform");
        below.sort();
        assert_eq!(
            below,
            [
                "/providers/microsoft.management/managementgroups/prod",
                "/subscriptions/s2"
            ]
        );
        assert_eq!(
            h.scopes_below("/providers/microsoft.management/managementgroups/t1")
                .len(),
            4
        );
        assert!(h.scopes_below("/subscriptions/s1").is_empty());
        assert!(h
            .scopes_below("/providers/microsoft.management/managementgroups/t1/providers/microsoft.resources/deployments/d")
            .is_empty());
        assert!(h.is_at_or_below("prod", "T1"));
        assert!(!h.is_at_or_below("platform", "prod"));
    }

    #[test]
    fn group_of_scope_reads_only_group_ids() {
        assert_eq!(
            group_of_scope("/providers/microsoft.management/managementgroups/g/subscriptions/s"),
            Some("g")
        );
        assert_eq!(group_of_scope("/subscriptions/s"), None);
        assert_eq!(
            group_of_scope("/providers/microsoft.management/managementgroups/"),
            None
        );
    }
}

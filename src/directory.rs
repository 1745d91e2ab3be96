//! The directory: tenants, principals, group membership and subscriptions, indexed for lookups by id,
//! domain, app id and sign-in name. A plain value built from world data; no I/O, no clock.
//! Group membership is transitive, as Entra's `groups` claim and ARM's evaluation treat it.

use std::collections::HashSet;

// foldhash: SipHash over ids was ~5% of a request (callgrind); these maps hold world ids, not input.
use foldhash::HashMap;

use crate::world::{Principal, PrincipalKind, Subscription, Tenant};

#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub tenants: Vec<Tenant>,
    pub principals: Vec<Principal>,
    pub subscriptions: Vec<Subscription>,
    tenant_ix: HashMap<String, usize>,
    principal_ix: HashMap<String, usize>,
    app_ix: HashMap<String, usize>,
    upn_ix: HashMap<String, usize>,
    sub_ix: HashMap<String, usize>,
    groups: HashMap<String, Vec<String>>,
}

impl Directory {
    pub fn new(
        tenants: Vec<Tenant>,
        principals: Vec<Principal>,
        subscriptions: Vec<Subscription>,
    ) -> Directory {
        let mut d = Directory {
            tenants,
            principals,
            subscriptions,
            ..Default::default()
        };
        for (i, t) in d.tenants.iter().enumerate() {
            d.tenant_ix.insert(t.id.to_lowercase(), i);
            d.tenant_ix.insert(t.default_domain.to_lowercase(), i);
            for dom in &t.domains {
                d.tenant_ix.insert(dom.to_lowercase(), i);
            }
        }
        for (i, p) in d.principals.iter().enumerate() {
            d.principal_ix.insert(p.object_id.to_lowercase(), i);
            if let Some(a) = &p.app_id {
                d.app_ix.insert(a.to_lowercase(), i);
            }
            if let Some(u) = &p.user_principal_name {
                d.upn_ix.insert(u.to_lowercase(), i);
            }
        }
        for (i, s) in d.subscriptions.iter().enumerate() {
            d.sub_ix.insert(s.subscription_id.to_lowercase(), i);
        }
        // transitive group closure
        let direct: HashMap<String, Vec<String>> = d
            .principals
            .iter()
            .map(|p| {
                (
                    p.object_id.to_lowercase(),
                    p.member_of.iter().map(|g| g.to_lowercase()).collect(),
                )
            })
            .collect();
        for p in &d.principals {
            let mut seen = HashSet::new();
            let mut stack: Vec<String> = direct
                .get(&p.object_id.to_lowercase())
                .cloned()
                .unwrap_or_default();
            while let Some(g) = stack.pop() {
                if seen.insert(g.clone()) {
                    if let Some(more) = direct.get(&g) {
                        stack.extend(more.iter().cloned());
                    }
                }
            }
            let mut v: Vec<String> = seen.into_iter().collect();
            v.sort();
            d.groups.insert(p.object_id.to_lowercase(), v);
        }
        d
    }

    /// A tenant by GUID or by any of its domains (case-insensitive).
    pub fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenant_ix
            .get(&id_or_domain.to_lowercase())
            .map(|&i| &self.tenants[i])
    }

    pub fn principal(&self, object_id: &str) -> Option<&Principal> {
        self.principal_ix
            .get(lower(object_id).as_ref())
            .map(|&i| &self.principals[i])
    }

    /// A service principal by application (client) id.
    pub fn application(&self, app_id: &str) -> Option<&Principal> {
        self.app_ix
            .get(&app_id.to_lowercase())
            .map(|&i| &self.principals[i])
            .filter(|p| p.kind == PrincipalKind::ServicePrincipal)
    }

    /// A user by sign-in name (UPN), case-insensitive.
    pub fn user(&self, upn: &str) -> Option<&Principal> {
        self.upn_ix
            .get(&upn.to_lowercase())
            .map(|&i| &self.principals[i])
    }

    /// A principal by object id or sign-in name.
    pub fn principal_by_name(&self, oid_or_upn: &str) -> Option<&Principal> {
        self.principal(oid_or_upn)
            .or_else(|| self.user(oid_or_upn))
            .or_else(|| self.application(oid_or_upn))
            .or_else(|| {
                self.principals
                    .iter()
                    .find(|p| p.display_name.eq_ignore_ascii_case(oid_or_upn))
            })
    }

    /// Lower-cased object ids of every group the principal belongs to, directly or through groups.
    pub fn groups_of(&self, object_id: &str) -> &[String] {
        self.groups
            .get(lower(object_id).as_ref())
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.sub_ix
            .get(lower(id).as_ref())
            .map(|&i| &self.subscriptions[i])
    }
}

/// The lower-cased key, copied only when it has capitals (ids in tokens and paths rarely do). A byte
/// scan: ASCII capitals, or any non-ASCII byte (which may be a capital) sends it to `to_lowercase`.
fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        std::borrow::Cow::Owned(s.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{World, DEFAULT_WORLD};

    #[test]
    fn lookups_by_every_key() {
        let w = World::parse(DEFAULT_WORLD).unwrap();
        let d = Directory::new(w.tenants, w.principals, w.subscriptions);
        assert_eq!(
            d.tenant("FABRIKAM.onmicrosoft.com").unwrap().display_name,
            "Fabrikam"
        );
        assert_eq!(
            d.application("40000000-0000-0000-0000-000000001121")
                .unwrap()
                .display_name,
            "msp-automation"
        );
        assert_eq!(
            d.user("Alice@contosomsp.onmicrosoft.com")
                .unwrap()
                .object_id,
            "30000000-0000-0000-0000-000000001111"
        );
        assert_eq!(
            d.groups_of("30000000-0000-0000-0000-000000001111"),
            ["30000000-0000-0000-0000-000000001101"]
        );
        assert!(d
            .subscription("20000000-0000-0000-0000-000000002001")
            .is_some());
    }
}

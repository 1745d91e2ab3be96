//! Resource ids: parsed once, case-insensitively, into subscription, resource group and a chain of
//! provider parts (any depth of nested types and extension resources). Pure: no I/O.
//! Follows ARM's id grammar (ARM-FACTS.md §3.2, §3.3): canonical segment casing on output.

use std::fmt;

/// One `providers/{namespace}/{type}/{name}/{type}/{name}…` part of an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPart {
    pub namespace: String,
    /// (type, name) pairs; only the last may lack a name (a collection, or a POST action verb).
    pub types: Vec<(String, Option<String>)>,
}

/// A parsed ARM path. `segments` keeps the client's casing of names; comparisons go through `key()`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceId {
    /// `Some` once `/subscriptions` appears; `Some("")` for the collection `/subscriptions`.
    pub subscription: Option<String>,
    /// `Some("")` for the collection `/subscriptions/{s}/resourceGroups`.
    pub resource_group: Option<String>,
    pub providers: Vec<ProviderPart>,
    /// `/tenants` collection.
    pub tenants: bool,
    /// A trailing `/providers` with nothing after it (provider list), or `/providers/{ns}` alone.
    pub provider_namespace_only: Option<String>,
    pub providers_collection: bool,
    /// A trailing `resources` segment after a subscription or resource group (generic list).
    pub resources_collection: bool,
    /// Segments after the subscription that are neither resourceGroups nor providers
    /// (`locations`, `operationresults/{id}` …), kept verbatim.
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl ResourceId {
    /// Parse a URL path (percent-decoded by the caller). Accepts any casing of fixed segments.
    pub fn parse(path: &str) -> Result<ResourceId, ParseError> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut id = ResourceId::default();
        let mut i = 0;
        if segs.is_empty() {
            return Ok(id);
        }
        if segs[0].eq_ignore_ascii_case("tenants") && segs.len() == 1 {
            id.tenants = true;
            return Ok(id);
        }
        if segs[0].eq_ignore_ascii_case("subscriptions") {
            i = 1;
            match segs.get(i) {
                None => {
                    id.subscription = Some(String::new());
                    return Ok(id);
                }
                Some(s) => {
                    id.subscription = Some((*s).to_string());
                    i += 1;
                }
            }
            if let Some(s) = segs.get(i) {
                if s.eq_ignore_ascii_case("resourcegroups") {
                    i += 1;
                    match segs.get(i) {
                        None => {
                            id.resource_group = Some(String::new());
                            return Ok(id);
                        }
                        Some(rg) => {
                            id.resource_group = Some((*rg).to_string());
                            i += 1;
                        }
                    }
                }
            }
            if let Some(s) = segs.get(i) {
                if s.eq_ignore_ascii_case("resources") && segs.len() == i + 1 {
                    id.resources_collection = true;
                    return Ok(id);
                }
                if !s.eq_ignore_ascii_case("providers") {
                    // `…/resourcegroups/{rg}/deployments/{name}/operations` (the deployment operations
                    // path of the spec) names `…/providers/Microsoft.Resources/deployments/…`.
                    if id.resource_group.is_some() && s.eq_ignore_ascii_case("deployments") {
                        let types = segs[i..]
                            .chunks(2)
                            .map(|c| (c[0].to_string(), c.get(1).map(|n| n.to_string())))
                            .collect();
                        id.providers.push(ProviderPart {
                            namespace: "Microsoft.Resources".into(),
                            types,
                        });
                        return Ok(id);
                    }
                    if id.resource_group.is_some() {
                        // `…/resourcegroups/{rg}/exportTemplate`, the one action on a group
                        let rg_named = id.resource_group.as_deref().is_some_and(|r| !r.is_empty());
                        if rg_named
                            && s.eq_ignore_ascii_case("exportTemplate")
                            && segs.len() == i + 1
                        {
                            id.extra = vec!["exportTemplate".into()];
                            return Ok(id);
                        }
                        return Err(ParseError(format!("unexpected segment '{s}'")));
                    }
                    id.extra = segs[i..].iter().map(|s| s.to_string()).collect();
                    return Ok(id);
                }
            }
        }
        // provider chain
        while i < segs.len() {
            if !segs[i].eq_ignore_ascii_case("providers") {
                return Err(ParseError(format!("expected 'providers' at '{}'", segs[i])));
            }
            i += 1;
            let Some(ns) = segs.get(i) else {
                if id.providers.is_empty() {
                    id.providers_collection = true;
                    return Ok(id);
                }
                return Err(ParseError("'providers' without a namespace".into()));
            };
            i += 1;
            let mut types = Vec::new();
            while i < segs.len() && !segs[i].eq_ignore_ascii_case("providers") {
                let t = segs[i].to_string();
                let n = segs.get(i + 1).map(|s| s.to_string());
                // a name that is literally "providers" starts an extension part
                let n = match n {
                    Some(n) if n.eq_ignore_ascii_case("providers") => None,
                    other => other,
                };
                i += if n.is_some() { 2 } else { 1 };
                types.push((t, n));
            }
            if types.is_empty() {
                if id.providers.is_empty() && i >= segs.len() {
                    id.provider_namespace_only = Some(ns.to_string());
                    return Ok(id);
                }
                return Err(ParseError(format!("namespace '{ns}' without a type")));
            }
            if types[..types.len() - 1].iter().any(|(_, n)| n.is_none()) {
                return Err(ParseError("a type without a name inside the id".into()));
            }
            id.providers.push(ProviderPart {
                namespace: ns.to_string(),
                types,
            });
        }
        id.canonical_management_group();
        Ok(id)
    }

    /// A management-group id (`/providers/Microsoft.Management/managementGroups/{g}…`) keeps Azure's
    /// casing of the namespace and fixed types, whatever the client sent, so it round-trips canonically.
    fn canonical_management_group(&mut self) {
        if self.subscription.is_some() {
            return;
        }
        let Some(p) = self.providers.first_mut() else {
            return;
        };
        if !p.namespace.eq_ignore_ascii_case("Microsoft.Management") {
            return;
        }
        p.namespace = "Microsoft.Management".into();
        const FIXED: &[&str] = &[
            "managementGroups",
            "subscriptions",
            "descendants",
            "settings",
            "checkNameAvailability",
            "getEntities",
            "operations",
            "operationStatuses",
        ];
        for (t, _) in p.types.iter_mut() {
            if let Some(f) = FIXED.iter().find(|f| f.eq_ignore_ascii_case(t)) {
                *t = (*f).to_string();
            }
        }
    }

    /// The management group a tenant-level id names or sits below
    /// (`/providers/Microsoft.Management/managementGroups/{g}[/…]`), as written.
    pub fn management_group(&self) -> Option<&str> {
        if self.subscription.is_some() {
            return None;
        }
        let p = self.providers.first()?;
        if !p.namespace.eq_ignore_ascii_case("Microsoft.Management") {
            return None;
        }
        let (t, n) = p.types.first()?;
        if !t.eq_ignore_ascii_case("managementGroups") {
            return None;
        }
        n.as_deref()
    }

    /// The last provider part, if any.
    pub fn last(&self) -> Option<&ProviderPart> {
        self.providers.last()
    }

    /// Does the path end with a name (an instance) rather than a type (a collection or action)?
    pub fn is_instance(&self) -> bool {
        match self.last() {
            Some(p) => p.types.last().map(|(_, n)| n.is_some()).unwrap_or(false),
            None => true,
        }
    }

    /// `Microsoft.Compute/virtualMachines/extensions` for the last part (all its types, names dropped).
    pub fn full_type(&self) -> Option<String> {
        self.last().map(|p| {
            let mut s = p.namespace.clone();
            for (t, _) in &p.types {
                s.push('/');
                s.push_str(t);
            }
            s
        })
    }

    /// Like `full_type` but without the trailing name-less type (the collection's item type is kept).
    pub fn instance_type(&self) -> Option<String> {
        self.full_type()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.last().map(|p| p.namespace.as_str())
    }

    pub fn name(&self) -> Option<&str> {
        self.last()
            .and_then(|p| p.types.last())
            .and_then(|(_, n)| n.as_deref())
    }

    /// The canonical string: `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{t}/{n}…`.
    pub fn canonical(&self) -> String {
        if self.tenants {
            return "/tenants".into();
        }
        let mut s = String::with_capacity(128);
        if let Some(sub) = &self.subscription {
            s.push_str("/subscriptions");
            if !sub.is_empty() {
                s.push('/');
                let from = s.len();
                s.push_str(sub);
                s[from..].make_ascii_lowercase();
            }
        }
        if let Some(rg) = &self.resource_group {
            s.push_str("/resourceGroups");
            if !rg.is_empty() {
                s.push('/');
                s.push_str(rg);
            }
        }
        if self.resources_collection {
            s.push_str("/resources");
        }
        for e in &self.extra {
            s.push('/');
            s.push_str(e);
        }
        if self.providers_collection {
            s.push_str("/providers");
        }
        if let Some(ns) = &self.provider_namespace_only {
            s.push_str("/providers/");
            s.push_str(ns);
        }
        for p in &self.providers {
            s.push_str("/providers/");
            s.push_str(&p.namespace);
            for (t, n) in &p.types {
                s.push('/');
                s.push_str(t);
                if let Some(n) = n {
                    s.push('/');
                    s.push_str(n);
                }
            }
        }
        if s.is_empty() {
            s.push('/');
        }
        s
    }

    /// The case-insensitive identity of the id (what the store keys on).
    pub fn key(&self) -> String {
        let mut k = self.canonical();
        if k.is_ascii() {
            k.make_ascii_lowercase();
            k
        } else {
            k.to_lowercase()
        }
    }

    /// The id without its last type/name pair (or last provider part): the parent scope.
    pub fn parent(&self) -> Option<ResourceId> {
        let mut p = self.clone();
        if let Some(last) = p.providers.last_mut() {
            last.types.pop();
            if last.types.is_empty() {
                p.providers.pop();
            }
            return Some(p);
        }
        if p.resource_group.is_some() {
            p.resource_group = None;
            return Some(p);
        }
        if p.subscription.is_some() {
            p.subscription = None;
            return Some(p);
        }
        None
    }

    /// The id of the scope an extension resource is attached to (everything before the last
    /// `providers/` part), or the parent for a tracked resource's last pair.
    pub fn scope_of_last_part(&self) -> ResourceId {
        let mut p = self.clone();
        p.providers.pop();
        p
    }

    /// The RBAC action of a request with this method on this id (ARM-FACTS.md §3.7).
    /// `verb` is the POST action name when the last segment is one.
    pub fn action(&self, method: &str) -> String {
        let suffix = match method {
            "GET" | "HEAD" => "read",
            "PUT" | "PATCH" => "write",
            "DELETE" => "delete",
            _ => "action",
        };
        if let Some(t) = self.full_type() {
            return format!("{t}/{suffix}");
        }
        if self.resource_group.is_some() {
            if self.resources_collection {
                return "Microsoft.Resources/subscriptions/resourceGroups/resources/read".into();
            }
            return format!("Microsoft.Resources/subscriptions/resourceGroups/{suffix}");
        }
        if self.subscription.is_some() {
            if self.resources_collection {
                return "Microsoft.Resources/subscriptions/resources/read".into();
            }
            return format!("Microsoft.Resources/subscriptions/{suffix}");
        }
        format!("Microsoft.Resources/{suffix}")
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Is `scope` (a lower-cased canonical id) equal to `target` or an ancestor of it?
pub fn is_at_or_above(scope: &str, target: &str) -> bool {
    let scope = scope.trim_end_matches('/');
    if scope.is_empty() {
        return true;
    }
    target.len() >= scope.len()
        && target.as_bytes()[..scope.len()].eq_ignore_ascii_case(scope.as_bytes())
        && (target.len() == scope.len() || target.as_bytes()[scope.len()] == b'/')
}

/// Is `s` a GUID in 8-4-4-4-12 form?
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, canonical: &str, action_get: &str) {
        let id = ResourceId::parse(path).unwrap();
        assert_eq!(id.canonical(), canonical, "canonical of {path}");
        assert_eq!(id.action("GET"), action_get, "action of {path}");
    }

    #[test]
    fn parses_the_shapes_arm_serves() {
        check(
            "/subscriptions",
            "/subscriptions",
            "Microsoft.Resources/subscriptions/read",
        );
        check(
            "/SUBSCRIPTIONS/20000000-0000-0000-0000-000000002001/resourcegroups/rg-Web",
            "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-Web",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        );
        check(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
            "Microsoft.Network/virtualNetworks/subnets/read",
        );
        check(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Authorization/locks/l",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Authorization/locks/l",
            "Microsoft.Authorization/locks/read",
        );
        check(
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments",
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments",
            "Microsoft.Authorization/roleAssignments/read",
        );
        check(
            "/subscriptions/s/resources",
            "/subscriptions/s/resources",
            "Microsoft.Resources/subscriptions/resources/read",
        );
        check("/tenants", "/tenants", "Microsoft.Resources/read");
        check(
            "/providers/Microsoft.Authorization/roleDefinitions/abc",
            "/providers/Microsoft.Authorization/roleDefinitions/abc",
            "Microsoft.Authorization/roleDefinitions/read",
        );
    }

    #[test]
    fn post_actions_and_parents() {
        let id = ResourceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/listKeys").unwrap();
        assert!(!id.is_instance());
        assert_eq!(
            id.action("POST"),
            "Microsoft.Storage/storageAccounts/listKeys/action"
        );
        let vm = ResourceId::parse(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
        )
        .unwrap();
        assert_eq!(
            vm.parent().unwrap().canonical(),
            "/subscriptions/s/resourceGroups/rg"
        );
        assert_eq!(vm.name(), Some("vm"));
    }

    #[test]
    fn scope_prefixes_respect_segment_boundaries() {
        assert!(is_at_or_above(
            "/subscriptions/a",
            "/subscriptions/a/resourcegroups/x"
        ));
        assert!(is_at_or_above("/subscriptions/A", "/subscriptions/a"));
        assert!(!is_at_or_above("/subscriptions/a", "/subscriptions/ab"));
        assert!(is_at_or_above("/", "/subscriptions/ab"));
        assert!(is_guid("20000000-0000-0000-0000-000000002001"));
        assert!(!is_guid("20000000-0000-0000-0000-00000000200g"));
    }

    #[test]
    fn management_group_ids_and_what_hangs_below_them_round_trip() {
        let g = "/providers/Microsoft.Management/managementGroups/Contoso-Platform";
        let cases = [
            (
                "/PROVIDERS/microsoft.management/MANAGEMENTGROUPS/Contoso-Platform".to_string(),
                g.to_string(),
                "Microsoft.Management/managementGroups/read",
            ),
            (
                format!("{g}/providers/Microsoft.Authorization/roleAssignments/x"),
                format!("{g}/providers/Microsoft.Authorization/roleAssignments/x"),
                "Microsoft.Authorization/roleAssignments/read",
            ),
            (
                format!("{g}/providers/Microsoft.Authorization/policyDefinitions/x"),
                format!("{g}/providers/Microsoft.Authorization/policyDefinitions/x"),
                "Microsoft.Authorization/policyDefinitions/read",
            ),
            (
                format!("{g}/providers/Microsoft.Authorization/policyAssignments/x"),
                format!("{g}/providers/Microsoft.Authorization/policyAssignments/x"),
                "Microsoft.Authorization/policyAssignments/read",
            ),
            (
                format!("{g}/providers/Microsoft.Resources/deployments/d"),
                format!("{g}/providers/Microsoft.Resources/deployments/d"),
                "Microsoft.Resources/deployments/read",
            ),
            (
                format!("{g}/SUBSCRIPTIONS/20000000-0000-0000-0000-000000002001"),
                format!("{g}/subscriptions/20000000-0000-0000-0000-000000002001"),
                "Microsoft.Management/managementGroups/subscriptions/read",
            ),
        ];
        for (path, canonical, action) in cases {
            let id = ResourceId::parse(&path).unwrap();
            assert_eq!(id.canonical(), canonical, "{path}");
            assert_eq!(id.action("GET"), action, "{path}");
            assert_eq!(id.management_group(), Some("Contoso-Platform"), "{path}");
            let again = ResourceId::parse(&id.canonical()).unwrap();
            assert_eq!(again, id, "{path} round-trips");
        }
        let ext = ResourceId::parse(&format!(
            "{g}/providers/Microsoft.Authorization/roleAssignments/x"
        ))
        .unwrap();
        assert_eq!(ext.scope_of_last_part().canonical(), g);
        assert_eq!(
            ResourceId::parse("/subscriptions/s/providers/Microsoft.Management/managementGroups/g")
                .unwrap()
                .management_group(),
            None
        );
    }

    #[test]
    fn rejects_malformed_chains() {
        assert!(ResourceId::parse("/subscriptions/s/resourceGroups/rg/bogus").is_err());
        assert!(ResourceId::parse("/subscriptions/s/providers/Microsoft.X/a/b/providers").is_err());
    }
}

//! Resource Graph's `authorizationScopeFilter` and the rows of `AuthorizationResources` above the
//! subscriptions (the built-in role definitions at the tenant root), for `resourcegraph.rs`. Pure: no
//! store, no HTTP. Follows "Understanding the Azure Resource Graph query language" (query scope:
//! AtScopeAndBelow, AtScopeAndAbove, AtScopeAboveAndBelow, AtScopeExact, from 2021-06-01-preview).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::{json, Map, Value};

use crate::facts::builtin_roles;
use crate::kql::Row;

/// Which `AuthorizationResources` rows a query returns relative to the scopes it names. From the
/// query-language article: "AtScopeAndBelow (default if not specified): Returns assignments for the
/// given scope and all child scopes; AtScopeAndAbove: … the given scope and all parent scopes, but not
/// child scopes; AtScopeAboveAndBelow: … the given scope, all parent scopes, and all child scopes;
/// AtScopeExact: … only for the given scope; no parent or child scopes are included." It applies to
/// `AuthorizationResources` (and `PolicyResources`) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeFilter {
    #[default]
    AtScopeAndBelow,
    AtScopeAndAbove,
    AtScopeExact,
    AtScopeAboveAndBelow,
}

impl ScopeFilter {
    /// `options.authorizationScopeFilter` as sent (the enum is matched case-insensitively, as the
    /// service's JSON binding does); `Err` carries the value that is none of the four.
    pub fn parse(v: &Value) -> Result<ScopeFilter, String> {
        let s = match v {
            Value::Null => return Ok(ScopeFilter::default()),
            Value::String(s) => s,
            other => return Err(other.to_string()),
        };
        [
            ("AtScopeAndBelow", ScopeFilter::AtScopeAndBelow),
            ("AtScopeAndAbove", ScopeFilter::AtScopeAndAbove),
            ("AtScopeExact", ScopeFilter::AtScopeExact),
            ("AtScopeAboveAndBelow", ScopeFilter::AtScopeAboveAndBelow),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, f)| f)
        .ok_or_else(|| s.clone())
    }

    /// Is a row whose authorization scope is `at` returned for a query over `scopes`? Scopes are
    /// lower-cased ids (`/` the tenant root, `/subscriptions/{id}`, …); a tenant-level query names `/`.
    pub fn keeps(self, scopes: &[String], at: &str) -> bool {
        scopes.iter().any(|q| {
            let below = covers(q, at);
            let above = covers(at, q);
            match self {
                ScopeFilter::AtScopeAndBelow => below,
                ScopeFilter::AtScopeAndAbove => above,
                ScopeFilter::AtScopeExact => below && above,
                ScopeFilter::AtScopeAboveAndBelow => below || above,
            }
        })
    }
}

/// Does `scope` hold `target` (segment-wise, lower-cased ids)?
fn covers(scope: &str, target: &str) -> bool {
    let mut t = target.split('/').filter(|s| !s.is_empty());
    scope
        .split('/')
        .filter(|s| !s.is_empty())
        .all(|s| t.next() == Some(s))
}

/// The authorization scope of the built-in role definitions: the tenant root.
pub const ROOT: &str = "/";

/// The built-in role definitions as `AuthorizationResources` rows (`to_row` makes an engine row of the
/// standard columns from a JSON object), ordered by id, for a caller of `tenant`: `id` `/providers/Microsoft.Authorization/
/// roleDefinitions/{guid}`, `type` lower-cased, `properties` as ARM returns the role definition
/// (`roleName`, `type: BuiltInRole`, `permissions`, `assignableScopes: ["/"]` …). Built once per
/// tenant and kept: the 928 roles never change while the process runs.
pub fn builtin_role_rows(tenant: &str, to_row: fn(Map<String, Value>) -> Row) -> Arc<Vec<Row>> {
    static BUILT: OnceLock<RwLock<HashMap<String, Arc<Vec<Row>>>>> = OnceLock::new();
    let tenant = tenant.to_ascii_lowercase();
    let cache = BUILT.get_or_init(Default::default);
    if let Some(v) = cache.read().unwrap_or_else(|p| p.into_inner()).get(&tenant) {
        return v.clone();
    }
    let mut roles: Vec<_> = builtin_roles().values().collect();
    roles.sort_by(|a, b| a.id.cmp(&b.id));
    let rows: Arc<Vec<Row>> = Arc::new(
        roles
            .into_iter()
            .map(|r| {
                let perms: Vec<Value> = r
                    .permissions
                    .iter()
                    .map(|p| json!({"actions": p.actions, "notActions": p.not_actions,
                        "dataActions": p.data_actions, "notDataActions": p.not_data_actions}))
                    .collect();
                let mut row = Map::new();
                row.insert(
                    "id".into(),
                    json!(format!(
                        "/providers/Microsoft.Authorization/roleDefinitions/{}",
                        r.id
                    )),
                );
                row.insert("name".into(), json!(r.id));
                row.insert(
                    "type".into(),
                    json!("microsoft.authorization/roledefinitions"),
                );
                row.insert("tenantId".into(), json!(tenant));
                row.insert(
                    "properties".into(),
                    json!({"roleName": r.role_name, "type": r.role_type, "description": r.description,
                        "assignableScopes": r.assignable_scopes, "permissions": perms,
                        "createdOn": "2015-02-02T21:55:09.8806423Z", "updatedOn": "2025-01-01T00:00:00.0000000Z",
                        "createdBy": Value::Null, "updatedBy": Value::Null}),
                );
                to_row(row)
            })
            .collect(),
    );
    let mut w = cache.write().unwrap_or_else(|p| p.into_inner());
    if w.len() >= 1024 {
        w.clear();
    }
    w.insert(tenant, rows.clone());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_the_query_language_article_defines_them() {
        let sub = vec!["/subscriptions/s1".to_string()];
        let root = vec![ROOT.to_string()];
        // (filter, scopes, row scope, kept)
        let cases: &[(ScopeFilter, &Vec<String>, &str, bool)] = &[
            (
                ScopeFilter::AtScopeAndBelow,
                &sub,
                "/subscriptions/s1",
                true,
            ),
            (
                ScopeFilter::AtScopeAndBelow,
                &sub,
                "/subscriptions/s1/resourcegroups/rg",
                true,
            ),
            (ScopeFilter::AtScopeAndBelow, &sub, "/", false),
            (
                ScopeFilter::AtScopeAndBelow,
                &sub,
                "/subscriptions/s10",
                false,
            ),
            (
                ScopeFilter::AtScopeAndAbove,
                &sub,
                "/subscriptions/s1",
                true,
            ),
            (ScopeFilter::AtScopeAndAbove, &sub, "/", true),
            (
                ScopeFilter::AtScopeAndAbove,
                &sub,
                "/subscriptions/s1/resourcegroups/rg",
                false,
            ),
            (ScopeFilter::AtScopeExact, &sub, "/subscriptions/s1", true),
            (ScopeFilter::AtScopeExact, &sub, "/", false),
            (
                ScopeFilter::AtScopeExact,
                &sub,
                "/subscriptions/s1/resourcegroups/rg",
                false,
            ),
            (ScopeFilter::AtScopeAboveAndBelow, &sub, "/", true),
            (
                ScopeFilter::AtScopeAboveAndBelow,
                &sub,
                "/subscriptions/s1/resourcegroups/rg",
                true,
            ),
            (
                ScopeFilter::AtScopeAboveAndBelow,
                &sub,
                "/subscriptions/s2",
                false,
            ),
            (ScopeFilter::AtScopeAndBelow, &root, "/", true),
            (
                ScopeFilter::AtScopeAndBelow,
                &root,
                "/subscriptions/s2",
                true,
            ),
            (ScopeFilter::AtScopeExact, &root, "/subscriptions/s2", false),
            (ScopeFilter::AtScopeAndAbove, &root, "/", true),
        ];
        for (f, scopes, at, kept) in cases {
            assert_eq!(f.keeps(scopes, at), *kept, "{f:?} {scopes:?} {at}");
        }
    }

    #[test]
    fn parses_the_four_values_and_refuses_others() {
        assert_eq!(
            ScopeFilter::parse(&Value::Null),
            Ok(ScopeFilter::AtScopeAndBelow)
        );
        assert_eq!(
            ScopeFilter::parse(&json!("atscopeexact")),
            Ok(ScopeFilter::AtScopeExact)
        );
        assert_eq!(
            ScopeFilter::parse(&json!("AtScopeAboveAndBelow")),
            Ok(ScopeFilter::AtScopeAboveAndBelow)
        );
        assert_eq!(
            ScopeFilter::parse(&json!("Everywhere")),
            Err("Everywhere".into())
        );
        assert_eq!(ScopeFilter::parse(&json!(3)), Err("3".into()));
    }
}

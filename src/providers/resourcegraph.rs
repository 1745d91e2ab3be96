//! Azure Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`): one KQL query over the
//! rows of the store the caller may read — its home subscriptions and the customers' delegated ones —
//! each with the `tenantId` of the tenant that owns it. Tables are built from the store at the moment of
//! the query (no indexing lag); every row passes the same pure decision a GET would. Follows ARM-FACTS
//! §9 and the Resource Graph spec (2024-04-01 and earlier versions).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::resourcegraph_scope::{self as scope, ScopeFilter};
use super::Cx;
use crate::arm::error::ArmError;
use crate::arm::resource_id::ResourceId;
use crate::authz::{self, Path, Subject};
use crate::facts::Snapshot;
use crate::hierarchy::Group;
use crate::kql::{self, Column, Ctx, KqlError, Row, Table, Tables, Type, Value as KqlValue};
use crate::store::{Store, Stored};
use crate::wire::Reply;
use crate::world::Subscription;

/// The tables a query may name (ARM-FACTS §9.4), lower-cased.
pub const TABLES: &[&str] = &[
    "resources",
    "resourcecontainers",
    "authorizationresources",
    "managedservicesresources",
];

/// The request body, checked.
#[derive(Debug)]
pub struct GraphRequest {
    pub query: String,
    pub subscriptions: Option<Vec<String>>,
    pub management_groups: Option<Vec<String>>,
    pub top: Option<usize>,
    pub skip: usize,
    pub skip_token: Option<String>,
    pub object_array: bool,
    pub facets: Vec<Value>,
    /// `options.authorizationScopeFilter` (from 2021-06-01-preview; earlier versions have no such
    /// option and get the default). `Err` holds a value that is none of the four.
    pub scope_filter: Result<ScopeFilter, String>,
}

fn bad_request(message: &str) -> ArmError {
    ArmError::new("BadRequest", message)
}

/// Parse and check the body of a query; `api_version` picks the default result format.
pub fn parse_request(body: &Value, api_version: &str) -> Result<GraphRequest, ArmError> {
    let query = body["query"]
        .as_str()
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| bad_request("The 'query' property is required."))?
        .to_string();
    let strings = |v: &Value, what: &str| -> Result<Option<Vec<String>>, ArmError> {
        match v {
            Value::Null => Ok(None),
            Value::Array(a) => a
                .iter()
                .map(|s| {
                    s.as_str().map(|s| s.to_lowercase()).ok_or_else(|| {
                        bad_request(&format!("'{what}' must be an array of strings."))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            _ => Err(bad_request(&format!(
                "'{what}' must be an array of strings."
            ))),
        }
    };
    let subscriptions = strings(&body["subscriptions"], "subscriptions")?;
    let management_groups = strings(&body["managementGroups"], "managementGroups")?;
    if subscriptions.is_some() && management_groups.is_some() {
        return Err(bad_request(
            "Only one of 'subscriptions' and 'managementGroups' may be given.",
        ));
    }
    let o = &body["options"];
    let top = match &o["$top"] {
        Value::Null => None,
        v => match v.as_u64() {
            Some(n @ 1..=1000) => Some(n as usize),
            _ => return Err(bad_request("'$top' must be an integer between 1 and 1000.")),
        },
    };
    let skip = match &o["$skip"] {
        Value::Null => 0,
        v => v
            .as_u64()
            .ok_or_else(|| bad_request("'$skip' must be a non-negative integer."))?
            as usize,
    };
    let skip_token = o["$skipToken"].as_str().map(String::from);
    // table for the early versions, objectArray from 2021-03-01 (ARM-FACTS §9.3)
    let object_array = match o["resultFormat"].as_str() {
        Some(f) if f.eq_ignore_ascii_case("objectArray") => true,
        Some(f) if f.eq_ignore_ascii_case("table") => false,
        Some(f) => {
            return Err(bad_request(&format!(
                "'{f}' is not a result format: use 'table' or 'objectArray'."
            )))
        }
        None => crate::arm::api_version::at_least(api_version, "2021-03-01"),
    };
    let facets = body["facets"].as_array().cloned().unwrap_or_default();
    let scope_filter = if crate::arm::api_version::at_least(api_version, "2021-06-01-preview") {
        ScopeFilter::parse(&o["authorizationScopeFilter"])
    } else {
        Ok(ScopeFilter::default())
    };
    Ok(GraphRequest {
        query,
        subscriptions,
        management_groups,
        top,
        skip,
        skip_token,
        object_array,
        facets,
        scope_filter,
    })
}

/// How the caller reaches a subscription, as the decision needs it (None: no standing at all).
fn path_to(snap: &Snapshot, caller_tenant: &str, sub: &Subscription) -> Option<Path> {
    if sub.tenant_id.eq_ignore_ascii_case(caller_tenant) {
        Some(Path::Customer)
    } else if snap
        .managed_by
        .get(&sub.subscription_id.to_lowercase())
        .is_some_and(|t| t.iter().any(|t| t.eq_ignore_ascii_case(caller_tenant)))
    {
        Some(Path::Delegated)
    } else {
        None
    }
}

/// Rows of one table, each with the subscription it belongs to, before authorization.
struct Candidate {
    /// The id the read is decided on, and the action.
    scope: String,
    action: String,
    at: String,
    row: Map<String, Value>,
}

/// A row ready for the engine, with what its read is decided on.
struct GraphRow {
    scope: String,
    action: String,
    /// The scope the row sits at (an assignment's or a role definition's scope), lower-cased: what
    /// `authorizationScopeFilter` compares with the query's scopes.
    at: String,
    row: Row,
}

fn lower(v: &Value) -> Value {
    match v.as_str() {
        Some(s) => Value::String(s.to_lowercase()),
        None => v.clone(),
    }
}

/// A stored resource as a `Resources` row (ARM-FACTS §9.4): `type` and `resourceGroup` lower-cased.
fn resource_row(r: &Stored, tenant: &str) -> Map<String, Value> {
    let b = &r.body;
    let mut row = Map::new();
    row.insert("id".into(), b["id"].clone());
    row.insert("name".into(), b["name"].clone());
    row.insert("type".into(), Value::String(r.rtype.clone()));
    row.insert("tenantId".into(), Value::String(tenant.to_string()));
    row.insert("kind".into(), b.get("kind").cloned().unwrap_or(json!("")));
    row.insert("location".into(), lower(&b["location"]));
    row.insert("resourceGroup".into(), Value::String(r.rg.clone()));
    row.insert("subscriptionId".into(), Value::String(r.sub.clone()));
    row.insert(
        "managedBy".into(),
        b.get("managedBy").cloned().unwrap_or(json!("")),
    );
    for k in [
        "sku",
        "plan",
        "properties",
        "tags",
        "identity",
        "zones",
        "extendedLocation",
    ] {
        row.insert(k.into(), b.get(k).cloned().unwrap_or(Value::Null));
    }
    row
}

/// Does a stored row belong to the `Resources` table? Tracked resources and their tracked children
/// (a runbook of an automation account), not resource groups, extension resources (role assignments,
/// locks: other tables), deployments or the parts that live in a parent's body (subnets).
fn is_graph_resource(r: &Stored) -> bool {
    // extension resources and what ARM keeps about resources live in other tables, or in none
    const NOT_RESOURCES: &[&str] = &[
        "microsoft.resources/",
        "microsoft.authorization/",
        "microsoft.managedservices/",
        "microsoft.insights/diagnosticsettings",
        "microsoft.operationalinsights/deletedworkspaces",
    ];
    if r.rg.is_empty() || NOT_RESOURCES.iter().any(|p| r.rtype.starts_with(p)) {
        return false;
    }
    let Ok(id) = ResourceId::parse(&r.key) else {
        return false;
    };
    id.providers.len() == 1
        && (id.providers[0].types.len() == 1 || r.body.get("location").is_some())
}

/// One subscription's rows of `table`, before authorization, ordered by id: built from the store once
/// and kept until the next write (`Store::memo`), so repeated queries pay only for the decisions.
fn subscription_rows(
    snap: &Snapshot,
    store: &Store,
    table: &str,
    s: &Subscription,
) -> Result<Arc<Vec<GraphRow>>, ArmError> {
    let sub = s.subscription_id.to_lowercase();
    let tenant = s.tenant_id.to_lowercase();
    let name = format!("resourcegraph/{table}/{sub}");
    Ok(store.memo(&name, |tx| {
        let mut cands: Vec<Candidate> = Vec::new();
        match table {
            "resources" => {
                for r in tx.in_scope(&sub, None)? {
                    if is_graph_resource(&r) {
                        let action = ResourceId::parse(&r.key)
                            .map(|id| id.action("GET"))
                            .unwrap_or_default();
                        cands.push(Candidate {
                            scope: r.key.clone(),
                            action,
                            at: r.parent.clone(),
                            row: resource_row(&r, &tenant),
                        });
                    }
                }
            }
            "resourcecontainers" => {
                let managed_by: Vec<Value> = snap
                    .managed_by
                    .get(&sub)
                    .into_iter()
                    .flatten()
                    .map(|t| json!({"tenantId": t}))
                    .collect();
                let mut row = Map::new();
                row.insert("id".into(), json!(format!("/subscriptions/{sub}")));
                row.insert("name".into(), json!(s.display_name));
                row.insert("type".into(), json!("microsoft.resources/subscriptions"));
                row.insert("tenantId".into(), json!(tenant));
                row.insert("subscriptionId".into(), json!(sub));
                row.insert(
                    "properties".into(),
                    json!({"state": s.state, "managedByTenants": managed_by,
                        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
                        "managementGroupAncestorsChain": ancestors_chain(snap.groups.ancestors_of_subscription(&sub))}),
                );
                row.insert("tags".into(), json!({}));
                cands.push(Candidate {
                    scope: format!("/subscriptions/{sub}"),
                    action: "Microsoft.Resources/subscriptions/read".into(),
                    at: "/".into(),
                    row,
                });
                for g in tx.by_type("microsoft.resources/resourcegroups", Some(&sub), None)? {
                    let mut row = resource_row(&g, &tenant);
                    row.insert(
                        "type".into(),
                        json!("microsoft.resources/subscriptions/resourcegroups"),
                    );
                    cands.push(Candidate {
                        scope: g.key.clone(),
                        action: "Microsoft.Resources/subscriptions/resourceGroups/read".into(),
                        at: g.parent.clone(),
                        row,
                    });
                }
            }
            "authorizationresources" | "managedservicesresources" => {
                let types: &[&str] = if table == "authorizationresources" {
                    &[
                        "microsoft.authorization/roleassignments",
                        "microsoft.authorization/roledefinitions",
                    ]
                } else {
                    &[
                        "microsoft.managedservices/registrationdefinitions",
                        "microsoft.managedservices/registrationassignments",
                    ]
                };
                for t in types {
                    for r in tx.by_type(t, Some(&sub), None)? {
                        let action = format!("{}/read", r.body["type"].as_str().unwrap_or(t));
                        cands.push(Candidate {
                            scope: r.key.clone(),
                            action,
                            at: r.parent.clone(),
                            row: resource_row(&r, &tenant),
                        });
                    }
                }
            }
            _ => {}
        }
        cands.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(cands
            .into_iter()
            .map(|c| GraphRow {
                row: to_row(c.row),
                scope: c.scope,
                action: c.action,
                at: c.at,
            })
            .collect())
    })?)
}

/// `properties.managementGroupAncestorsChain` as ARG gives it: the groups above, nearest first.
fn ancestors_chain(groups: Vec<&Group>) -> Value {
    groups
        .iter()
        .map(|g| json!({"name": g.name, "displayName": g.display_name}))
        .collect()
}

/// The caller's tenant's management groups as `ResourceContainers` rows (ARG lists them beside
/// subscriptions and groups), those the caller may read: every member of a tenant reads its root; other
/// groups need `Microsoft.Management/managementGroups/read` there (a role at or above the group).
/// `under`: only the named groups and those below them.
fn management_group_rows(cx: &Cx, under: Option<&[String]>) -> Vec<Row> {
    let h = &cx.snap.groups;
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    let now = cx.now.unix_timestamp();
    let tenant = cx.caller.tenant_id.to_lowercase();
    let mut rows: Vec<(String, Row)> = Vec::new();
    for g in h.groups_of_tenant(&tenant) {
        if under.is_some_and(|n| !n.iter().any(|x| h.is_at_or_below(&g.name, x))) {
            continue;
        }
        let key = crate::hierarchy::group_key(&g.name);
        let readable = g.is_root()
            || authz::decide(
                &subject,
                "Microsoft.Management/managementGroups/read",
                false,
                &key,
                Path::Customer,
                &cx.snap.access,
                now,
            )
            .is_allowed();
        if !readable {
            continue;
        }
        let parent = g.parent.as_deref().and_then(|p| h.group(p));
        let mut row = Map::new();
        row.insert("id".into(), json!(crate::hierarchy::group_id(&g.name)));
        row.insert("name".into(), json!(g.name));
        row.insert(
            "type".into(),
            json!("microsoft.management/managementgroups"),
        );
        row.insert("tenantId".into(), json!(tenant));
        row.insert(
            "properties".into(),
            json!({"displayName": g.display_name, "details": {
                "parent": parent.map(|p| json!({"name": p.name, "displayName": p.display_name,
                    "id": crate::hierarchy::group_id(&p.name)})),
                "managementGroupAncestorsChain": ancestors_chain(h.ancestors(&g.name)),
            }}),
        );
        row.insert("tags".into(), json!({}));
        rows.push((key, to_row(row)));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Every row of `table` in the subscriptions in scope that the caller may read, ordered by id (so
/// pages are stable while nothing is written).
fn table_rows(
    cx: &Cx,
    store: &Store,
    table: &str,
    subs: &[(&Subscription, Path)],
    within: &Within,
) -> Result<Table, ArmError> {
    let subject = Subject {
        object_id: &cx.caller.object_id,
        groups: &cx.caller.groups,
    };
    let now = cx.now.unix_timestamp();
    let mut rows: Vec<(Arc<Vec<GraphRow>>, usize)> = Vec::new();
    for (s, path) in subs {
        let all = subscription_rows(cx.snap, store, table, s)?;
        for i in 0..all.len() {
            let g = &all[i];
            if (table != "authorizationresources" || within.filter.keeps(&within.scopes, &g.at))
                && authz::decide(
                    &subject,
                    &g.action,
                    false,
                    &g.scope,
                    *path,
                    &cx.snap.access,
                    now,
                )
                .is_allowed()
            {
                rows.push((all.clone(), i));
            }
        }
    }
    rows.sort_by(|(a, i), (b, j)| a[*i].scope.cmp(&b[*j].scope));
    // the built-in role definitions sit at the tenant root, readable by every caller; their ids
    // (`/providers/…`) sort before every subscription's
    let builtins =
        if table == "authorizationresources" && within.filter.keeps(&within.scopes, scope::ROOT) {
            scope::builtin_role_rows(&cx.caller.tenant_id, to_row)
        } else {
            Arc::new(Vec::new())
        };
    // management groups' ids (`/providers/…`) sort before every subscription's too
    let groups = match (&within.groups, table) {
        (Some(under), "resourcecontainers") => management_group_rows(cx, under.as_deref()),
        _ => Vec::new(),
    };
    Ok(Table {
        columns: columns(),
        rows: builtins
            .iter()
            .cloned()
            .chain(groups)
            .chain(rows.into_iter().map(|(all, i)| all[i].row.clone()))
            .collect(),
    })
}

/// The scopes a query names, as `authorizationScopeFilter` reads them: the tenant root for a
/// tenant-level query, else each subscription in scope.
struct Within {
    scopes: Vec<String>,
    filter: ScopeFilter,
    /// Which management groups `ResourceContainers` lists: all of the caller's tenant (a tenant-level
    /// query), those named and below (`managementGroups`), none (`subscriptions`).
    groups: Option<Option<Vec<String>>>,
}

/// The subscriptions a query covers: those named (silently dropping any the caller cannot reach, as ARG
/// does) or every one the caller has standing on, home or delegated.
pub fn subscriptions_in_scope<'a>(
    snap: &'a Snapshot,
    caller_tenant: &str,
    named: Option<&[String]>,
) -> Vec<(&'a Subscription, Path)> {
    snap.dir
        .subscriptions
        .iter()
        .filter(|s| {
            named.is_none_or(|n| n.iter().any(|x| x.eq_ignore_ascii_case(&s.subscription_id)))
        })
        .filter_map(|s| path_to(snap, caller_tenant, s).map(|p| (s, p)))
        .collect()
}

/// The subscriptions below the named management groups of the caller's own tenant (`managementGroups`
/// of the request): a service provider's query never reaches a customer's groups.
fn subscriptions_below_groups(
    snap: &Snapshot,
    caller_tenant: &str,
    groups: &[String],
) -> Vec<String> {
    groups
        .iter()
        .filter_map(|g| snap.groups.group(g))
        .filter(|g| g.tenant_id.eq_ignore_ascii_case(caller_tenant))
        .flat_map(|g| snap.groups.descendants(&g.name).1)
        .collect()
}

/// A column name as ARG writes a projected dynamic path: `properties.a.b` → `properties_a_b`.
pub fn column_name(expr: &str) -> String {
    expr.replace(['.', '[', ']', '\''], "_")
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The page of `result` (after `skip`, or where the `$skipToken` left off), its `$skipToken` when more
/// remain, in either result format.
pub fn page(result: &Table, req: &GraphRequest, truncatable: bool) -> Result<Value, ArmError> {
    let total = result.rows.len();
    let start = match &req.skip_token {
        Some(t) => decode_token(t).ok_or_else(|| bad_request("The '$skipToken' is not valid."))?,
        None => req.skip,
    };
    let size = req.top.unwrap_or(1000);
    let end = (start + size).min(total);
    let page = Table {
        columns: result.columns.clone(),
        rows: result
            .rows
            .get(start.min(total)..end)
            .unwrap_or_default()
            .to_vec(),
    };
    let count = page.rows.len();
    let data = if req.object_array {
        Value::Array(page.to_objects())
    } else {
        page.to_columns_and_rows()
    };
    let mut out = json!({"totalRecords": total, "count": count, "data": data, "facets": [],
        "resultTruncated": "false"});
    if end < total && truncatable {
        out["$skipToken"] = json!(encode_token(end));
    }
    Ok(out)
}

fn encode_token(next: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(json!({"$skip": next}).to_string())
}

fn decode_token(t: &str) -> Option<usize> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(t).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v["$skip"].as_u64().map(|n| n as usize)
}

pub fn reply(body: &Value) -> Reply {
    Reply::json(200, body)
}

/// The columns of every table (ARM-FACTS §9.4): strings, then the dynamic ones.
pub const COLUMNS: &[(&str, Type)] = &[
    ("id", Type::String),
    ("name", Type::String),
    ("type", Type::String),
    ("tenantId", Type::String),
    ("kind", Type::String),
    ("location", Type::String),
    ("resourceGroup", Type::String),
    ("subscriptionId", Type::String),
    ("managedBy", Type::String),
    ("sku", Type::Dynamic),
    ("plan", Type::Dynamic),
    ("properties", Type::Dynamic),
    ("tags", Type::Dynamic),
    ("identity", Type::Dynamic),
    ("zones", Type::Dynamic),
    ("extendedLocation", Type::Dynamic),
];

/// The standard columns as the engine sees them.
fn columns() -> Vec<Column> {
    COLUMNS
        .iter()
        .map(|(n, t)| Column {
            name: n.to_string(),
            ty: *t,
        })
        .collect()
}

/// A JSON row as an engine row of the standard columns.
fn to_row(mut r: Map<String, Value>) -> Row {
    COLUMNS
        .iter()
        .map(|(c, t)| {
            let v = r.remove(*c).unwrap_or(Value::Null);
            match (t, v) {
                (Type::String, Value::String(s)) => KqlValue::Str(s.into()),
                (Type::String, Value::Null) => KqlValue::Str("".into()),
                (Type::String, other) => KqlValue::Str(other.to_string().into()),
                (_, Value::Null) => KqlValue::Null,
                (_, v) => KqlValue::Dynamic(Arc::new(v)),
            }
        })
        .collect::<Vec<_>>()
        .into()
}

/// The caller's tables, built when a query names them.
struct CallerTables<'a, 'c> {
    cx: &'a Cx<'c>,
    store: &'a Store,
    subs: Vec<(&'a Subscription, Path)>,
    within: Within,
    /// A store error met while building a table (reported after the query).
    failed: std::cell::RefCell<Option<ArmError>>,
    /// Tables already built for this request (facets read them again).
    built: std::cell::RefCell<Vec<(String, Table)>>,
}

impl Tables for CallerTables<'_, '_> {
    fn table(&self, name: &str) -> Option<Table> {
        let name = name.to_ascii_lowercase();
        if !TABLES.contains(&name.as_str()) {
            return None;
        }
        if let Some((_, t)) = self.built.borrow().iter().find(|(n, _)| *n == name) {
            return Some(t.clone());
        }
        match table_rows(self.cx, self.store, &name, &self.subs, &self.within) {
            Ok(t) => {
                self.built.borrow_mut().push((name, t.clone()));
                Some(t)
            }
            Err(e) => {
                *self.failed.borrow_mut() = Some(e);
                Some(Table {
                    columns: columns(),
                    rows: Vec::new(),
                })
            }
        }
    }
}

/// A query error in Resource Graph's envelope: BadRequest with InvalidQuery and the parser's position.
fn query_error(cx: &Cx, e: &KqlError) -> ArmError {
    // The service's words, as users have pasted them from real answers ("fix the error before
    // retrying", scautomation/AzureResourceGraph-Examples#2 (2022), microsoft/ARI#250 (2025)).
    let invalid = graph_error(cx).with_detail("InvalidQuery", "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.");
    // ARG reports what its parser refuses — syntax, and names it does not know (a table: "Query is
    // invalid. ParserFailure", a column) — as ParserFailure, whose message is the code itself
    // ("ParserFailure (Code:ParserFailure)" in the same pastes); the engine's own explanation stays
    // out of the answer. Limits keep their own code.
    let (code, message) = match e.code {
        "ParserFailure" | "SemanticError" => ("ParserFailure", "ParserFailure".to_string()),
        other => (other, e.message.clone()),
    };
    invalid.with_detail_value(json!({"code": code, "message": message, "line": e.line,
        "characterPositionInLine": e.character_position_in_line, "token": e.token}))
}

/// Resource Graph's 400: BadRequest asking to quote the time and correlation id.
fn graph_error(cx: &Cx) -> ArmError {
    ArmError::new(
        "BadRequest",
        format!(
            "Please provide below info when asking for support: timestamp = {}, correlationId = {}.",
            cx.now_str(),
            cx.new_id
        ),
    )
}

/// `POST /providers/Microsoft.ResourceGraph/resources` (the spec's `Resources` operation).
pub fn resource_graph_resources(cx: &Cx, store: &Store) -> Result<Reply, ArmError> {
    let body = cx.body.cloned().unwrap_or(Value::Null);
    let req = parse_request(&body, cx.api_version)?;
    let filter = req.scope_filter.clone().map_err(|v| {
        // The value is checked when the body is read; the service's wording for a value outside the
        // enum is not published, so this names the property and the values the spec allows.
        graph_error(cx).with_detail(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: Error converting value {v} to type 'AuthorizationScopeFilter'. Path 'options.authorizationScopeFilter'. Allowed values: AtScopeAndBelow, AtScopeAndAbove, AtScopeExact, AtScopeAboveAndBelow."),
        )
    })?;
    let query = kql::parse(&req.query).map_err(|e| query_error(cx, &e))?;
    let below = req
        .management_groups
        .as_deref()
        .map(|g| subscriptions_below_groups(cx.snap, &cx.caller.tenant_id, g));
    let named = below.as_deref().or(req.subscriptions.as_deref());
    let subs = subscriptions_in_scope(cx.snap, &cx.caller.tenant_id, named);
    let within =
        Within {
            // a query over management groups: the groups themselves and the subscriptions below them
            scopes: if let Some(groups) = req.management_groups.as_deref() {
                groups
                    .iter()
                    .map(|g| {
                        format!(
                            "/providers/microsoft.management/managementgroups/{}",
                            g.to_lowercase()
                        )
                    })
                    .chain(subs.iter().map(|(s, _)| {
                        format!("/subscriptions/{}", s.subscription_id.to_lowercase())
                    }))
                    .collect()
            } else if req.subscriptions.is_some() {
                subs.iter()
                    .map(|(s, _)| format!("/subscriptions/{}", s.subscription_id.to_lowercase()))
                    .collect()
            } else {
                vec![scope::ROOT.to_string()]
            },
            filter,
            groups: match (&req.management_groups, &req.subscriptions) {
                (Some(g), _) => Some(Some(g.clone())),
                (None, Some(_)) => None,
                (None, None) => Some(None),
            },
        };
    let tables = CallerTables {
        cx,
        store,
        subs,
        within,
        failed: Default::default(),
        built: Default::default(),
    };
    let ctx = Ctx {
        now: cx.now,
        default_table: Some("Resources".into()),
        seed: 0,
    };
    let result = kql::run(&query, &tables, &ctx).map_err(|e| query_error(cx, &e))?;
    if let Some(e) = tables.failed.borrow_mut().take() {
        return Err(e);
    }
    // A query that limits itself gets no $skipToken (ARM-FACTS §9.3).
    let q = req.query.to_ascii_lowercase();
    let limited = ["limit ", "take ", "sample "]
        .iter()
        .any(|w| q.contains(&format!("| {w}")) || q.contains(&format!("|{w}")));
    let mut out = page(&result, &req, !limited)?;
    out["facets"] = Value::Array(
        req.facets
            .iter()
            .map(|f| facet(&req.query, &result, f, &tables, &ctx))
            .collect(),
    );
    Ok(reply(&out))
}

/// One facet: `{query} | summarize count() by {expression} | top N by count …` as ARG computes it.
/// (A facet's column is `count`, as in ARM-FACTS §9.3; a query's own `summarize count()` is `count_` as in
/// Kusto — ARG's published samples sort by it, e.g. "Key vaults by location": `… | summarize count() by
/// location | order by count_ desc` — although the spec's examples show `count`.)
fn facet(query: &str, result: &Table, f: &Value, tables: &dyn Tables, ctx: &Ctx) -> Value {
    let expression = f["expression"].as_str().unwrap_or_default();
    let o = &f["options"];
    let top = o["$top"].as_u64().unwrap_or(10).clamp(1, 1000);
    let order = match o["sortOrder"].as_str() {
        Some(s) if s.eq_ignore_ascii_case("asc") => "asc",
        _ => "desc",
    };
    let sort_by = o["sortBy"].as_str().unwrap_or("count");
    let filter = o["filter"]
        .as_str()
        .map(|f| format!(" | where {f}"))
        .unwrap_or_default();
    let column = column_name(expression);
    // a facet reads the query's output: a projected path is already its column (`properties_a_b`)
    let by = if result.columns.iter().any(|c| c.name == column) {
        column.clone()
    } else {
        format!("{column} = {expression}")
    };
    let text = format!(
        "{query}{filter} | summarize count = count() by {by} | top {top} by {sort_by} {order}"
    );
    let run = kql::parse(&text).and_then(|q| kql::run(&q, tables, ctx));
    match run {
        Ok(t) => {
            let data = t.to_objects();
            json!({"expression": expression, "resultType": "FacetResult",
                "totalRecords": data.len(), "count": data.len(), "data": data})
        }
        Err(e) => json!({"expression": expression, "resultType": "FacetError",
            "errors": [{"code": e.code, "message": e.message}]}),
    }
}

/// `GET /providers/Microsoft.ResourceGraph/operations`.
pub fn resource_graph_operations_list(_cx: &Cx, _store: &Store) -> Result<Reply, ArmError> {
    Ok(reply(&json!({"value": [
        {"name": "Microsoft.ResourceGraph/operations/read",
         "display": {"provider": "Microsoft Resource Graph", "resource": "Operation", "operation": "Get Operations", "description": "Gets the list of supported operations"}},
        {"name": "Microsoft.ResourceGraph/resources/read",
         "display": {"provider": "Microsoft Resource Graph", "resource": "Resources", "operation": "Query resources", "description": "Submits a query on resources within specified subscriptions, management groups or tenant scope"}}
    ]})))
}

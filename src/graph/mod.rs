//! A minimal, read-only Microsoft Graph (`/v1.0`, `/beta`) over the world's directory: `/me`, users,
//! service principals, groups (members, memberOf, transitive forms), `directoryObjects` (get,
//! `getByIds`, `checkMemberGroups`, `getMemberGroups`) and `/organization`, with OData `$filter`,
//! `$select`, `$top` (+ `@odata.nextLink`), `$orderby` and `$count` (`ConsistencyLevel: eventual`).
//! A caller sees its own tenant's directory only; writes are refused as for a caller without
//! directory write permissions. Graph's own error envelope (`error.code/message/innerError`), never
//! ARM's. Pure `Req` → `Reply` over a `Directory`. Follows https://learn.microsoft.com/graph/api/overview.

pub mod filter;

use serde_json::{json, Map, Value};

use crate::directory::Directory;
use crate::wire::{Reply, Req};
use crate::world::{Principal, PrincipalKind, Tenant};

/// Audiences a Graph token may carry besides the emulator's own URL: the public Graph resource and
/// its application id (v2 tokens for `https://graph.microsoft.com/.default` carry the latter).
pub const GRAPH_AUDIENCES: &[&str] = &[
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
    "https://graph.windows.net/",
];

/// What a Graph handler gets from the edge: the directory and who is asking.
pub struct GraphCx<'a> {
    pub dir: &'a Directory,
    /// The caller's (token's) tenant id.
    pub tenant: &'a str,
    /// The caller's object id.
    pub caller: &'a str,
    /// `https://localhost:8443` as the client addressed us (for `@odata.context` and next links).
    pub base: &'a str,
    pub request_id: &'a str,
    /// `2026-12-06T02:50:11`: what Graph puts in `innerError.date`.
    pub date: &'a str,
}

/// Graph's error envelope with its `innerError` (date, request ids) and headers.
pub fn error(
    status: u16,
    code: &str,
    message: &str,
    req: &Req,
    request_id: &str,
    date: &str,
) -> Reply {
    let client = req.header("client-request-id").unwrap_or(request_id);
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "date": date, "request-id": request_id, "client-request-id": client}}});
    headers(Reply::json(status, &body), req, request_id)
}

fn headers(r: Reply, req: &Req, request_id: &str) -> Reply {
    let client = req
        .header("client-request-id")
        .unwrap_or(request_id)
        .to_string();
    r.header("request-id", request_id.to_string())
        .header("client-request-id", client)
        .header("odata-version", "4.0")
}

const NOT_FOUND: &str =
    "does not exist or one of its queried reference-property objects are not present.";

/// The object kinds Graph serves here, with their entity set and type names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    User,
    ServicePrincipal,
    Group,
}

impl Kind {
    fn of(p: &Principal) -> Kind {
        match p.kind {
            PrincipalKind::User => Kind::User,
            PrincipalKind::ServicePrincipal => Kind::ServicePrincipal,
            PrincipalKind::Group => Kind::Group,
        }
    }
    fn set(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::ServicePrincipal => "servicePrincipals",
            Kind::Group => "groups",
        }
    }
    fn type_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::ServicePrincipal => "servicePrincipal",
            Kind::Group => "group",
        }
    }
    fn resource(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::ServicePrincipal => "ServicePrincipal",
            Kind::Group => "Group",
        }
    }
    /// The properties Graph returns without `$select` (users have a short default set; service
    /// principals and groups return every property).
    fn default_select(self) -> Option<&'static [&'static str]> {
        match self {
            Kind::User => Some(&[
                "businessPhones",
                "displayName",
                "givenName",
                "jobTitle",
                "mail",
                "mobilePhone",
                "officeLocation",
                "preferredLanguage",
                "surname",
                "userPrincipalName",
                "id",
            ]),
            _ => None,
        }
    }
}

/// The full Graph object of a principal (every property this emulator knows).
fn object(p: &Principal) -> Value {
    match Kind::of(p) {
        Kind::User => {
            let upn = p.user_principal_name.clone().unwrap_or_default();
            let (given, surname) = match p.display_name.split_once(' ') {
                Some((g, s)) => (json!(g), json!(s)),
                None => (json!(p.display_name), Value::Null),
            };
            json!({
                "id": p.object_id, "businessPhones": [], "displayName": p.display_name,
                "givenName": given, "surname": surname, "jobTitle": null, "mail": upn,
                "mobilePhone": null, "officeLocation": null, "preferredLanguage": null,
                "userPrincipalName": upn, "accountEnabled": true, "userType": "Member",
                "mailNickname": upn.split('@').next().unwrap_or_default(), "otherMails": [],
                "proxyAddresses": [], "identities": [], "deletedDateTime": null,
            })
        }
        Kind::ServicePrincipal => {
            let app = p.app_id.clone().unwrap_or_default();
            json!({
                "id": p.object_id, "deletedDateTime": null, "accountEnabled": true,
                "alternativeNames": [], "appDisplayName": p.display_name, "appDescription": null,
                "appId": app, "appOwnerOrganizationId": p.tenant_id, "appRoleAssignmentRequired": false,
                "description": null, "displayName": p.display_name, "homepage": null, "notes": null,
                "servicePrincipalNames": [app], "servicePrincipalType": "Application",
                "signInAudience": "AzureADMyOrg", "tags": [], "appRoles": [], "keyCredentials": [],
                "passwordCredentials": [], "oauth2PermissionScopes": [], "replyUrls": [],
            })
        }
        Kind::Group => {
            let nick: String = p
                .display_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            json!({
                "id": p.object_id, "deletedDateTime": null, "classification": null, "description": null,
                "displayName": p.display_name, "groupTypes": [], "mail": null, "mailEnabled": false,
                "mailNickname": nick, "proxyAddresses": [], "securityEnabled": true, "visibility": null,
            })
        }
    }
}

/// A directory object in a mixed collection: the object with its `@odata.type` first.
fn typed(p: &Principal, select: Option<&[String]>) -> Value {
    let kind = Kind::of(p);
    let mut m = Map::new();
    m.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.{}", kind.type_name())),
    );
    if let Value::Object(o) = project(kind, object(p), select) {
        m.extend(o);
    }
    Value::Object(m)
}

/// Keep the selected properties (`id` always), or the type's default set.
fn project(kind: Kind, obj: Value, select: Option<&[String]>) -> Value {
    let keep: Vec<String> = match select {
        Some(s) => s.to_vec(),
        None => match kind.default_select() {
            Some(d) => d.iter().map(|s| s.to_string()).collect(),
            None => return obj,
        },
    };
    let Value::Object(o) = obj else { return obj };
    let mut out = Map::new();
    for k in &keep {
        if let Some((name, v)) = o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
            out.insert(name.clone(), v.clone());
        }
    }
    if select.is_some() && !out.contains_key("id") {
        // Graph returns id with every $select on directory objects
        if let Some(id) = o.get("id") {
            out.insert("id".into(), id.clone());
        }
    }
    Value::Object(out)
}

/// Serve one Graph request.
pub fn handle(cx: &GraphCx, req: &Req) -> Reply {
    let r = route(cx, req).unwrap_or_else(|e| e);
    if r.get_header("request-id").is_some() {
        r
    } else {
        headers(r, req, cx.request_id)
    }
}

type Res = Result<Reply, Reply>;

impl GraphCx<'_> {
    fn err(&self, req: &Req, status: u16, code: &str, message: &str) -> Reply {
        error(status, code, message, req, self.request_id, self.date)
    }
    fn not_found(&self, req: &Req, what: &str) -> Reply {
        self.err(
            req,
            404,
            "Request_ResourceNotFound",
            &format!("Resource '{what}' {NOT_FOUND}"),
        )
    }
    fn segment_not_found(&self, req: &Req, seg: &str) -> Reply {
        self.err(
            req,
            400,
            "BadRequest",
            &format!("Resource not found for the segment '{seg}'."),
        )
    }
    /// The caller's tenant's principals.
    fn visible(&self) -> impl Iterator<Item = &Principal> {
        self.dir
            .principals
            .iter()
            .filter(|p| p.tenant_id.eq_ignore_ascii_case(self.tenant))
    }
    fn find(&self, id: &str) -> Option<&Principal> {
        self.dir
            .principal(id)
            .filter(|p| p.tenant_id.eq_ignore_ascii_case(self.tenant))
    }
    /// An object of `kind` by id, or a user by UPN, or a service principal by `appId='…'` key.
    fn entity(&self, kind: Kind, key: &str) -> Option<&Principal> {
        let p = match (kind, key.split_once('=')) {
            (Kind::ServicePrincipal, Some((k, v))) if k.trim().eq_ignore_ascii_case("appId") => {
                self.dir.application(unquote(v))
            }
            (_, _) => {
                let key = unquote(key);
                self.dir
                    .principal(key)
                    .or_else(|| (kind == Kind::User).then(|| self.dir.user(key)).flatten())
            }
        }?;
        (Kind::of(p) == kind && p.tenant_id.eq_ignore_ascii_case(self.tenant)).then_some(p)
    }
    fn context(&self, version: &str, what: &str) -> String {
        format!("{}/{version}/$metadata#{what}", self.base)
    }
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('\'')
}

/// `users('x')` → ("users", Some("x")); `users` → ("users", None).
fn split_key(seg: &str) -> (&str, Option<&str>) {
    match seg.split_once('(') {
        Some((name, rest)) if rest.ends_with(')') => (name, Some(&rest[..rest.len() - 1])),
        _ => (seg, None),
    }
}

fn route(cx: &GraphCx, req: &Req) -> Res {
    let mut segs: Vec<&str> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let version = segs.remove(0).to_string();
    // `users('id')` and `servicePrincipals(appId='…')` are the same as `users/id`
    let mut path: Vec<String> = Vec::new();
    for s in &segs {
        let (name, key) = split_key(s);
        path.push(name.to_string());
        if let Some(k) = key {
            path.push(k.to_string());
        }
    }
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let lower: Vec<String> = p.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let get = req.method == "GET" || req.method == "HEAD";
    let post = req.method == "POST";
    let v = version.as_str();
    match (l.as_slice(), get, post) {
        (_, false, false) => Err(read_only(cx, req)),
        (["me"], true, _) => me(cx, req, v).map(|u| entity_reply(cx, req, v, u)),
        (["me", rel], true, _) => {
            let u = me(cx, req, v)?;
            relation(cx, req, v, u, rel, p[1])
        }
        (["me", action], _, true) => {
            let u = me(cx, req, v)?;
            member_action(cx, req, u, action, p[1])
        }
        (["organization"], true, _) => Ok(organization(cx, req, v)),
        (["directoryobjects", "getbyids"], _, true) => get_by_ids(cx, req, v),
        (["directoryobjects", _], true, _) => {
            let o = cx.find(p[1]).ok_or_else(|| cx.not_found(req, p[1]))?;
            let sel = select(cx, req, None)?;
            let mut b = typed(o, sel.as_deref());
            b["@odata.context"] = json!(cx.context(v, "directoryObjects/$entity"));
            Ok(Reply::json(200, &b))
        }
        (["directoryobjects", _, action], _, true) => {
            let o = cx.find(p[1]).ok_or_else(|| cx.not_found(req, p[1]))?;
            member_action(cx, req, o, action, p[2])
        }
        ([set], _, _) | ([set, _], _, _) | ([set, _, _], _, _) if kind_of_set(set).is_none() => {
            Err(cx.segment_not_found(req, p[0]))
        }
        ([set], true, _) => list(cx, req, v, kind_of_set(set).unwrap_or(Kind::User)),
        ([set, count], true, _) if *count == "$count" => {
            raw_count(cx, req, kind_of_set(set).unwrap_or(Kind::User))
        }
        ([set, _], true, _) => {
            let kind = kind_of_set(set).unwrap_or(Kind::User);
            let o = cx
                .entity(kind, p[1])
                .ok_or_else(|| cx.not_found(req, p[1]))?;
            Ok(entity_reply(cx, req, v, o))
        }
        ([set, _, rel], true, _) => {
            let kind = kind_of_set(set).unwrap_or(Kind::User);
            let o = cx
                .entity(kind, p[1])
                .ok_or_else(|| cx.not_found(req, p[1]))?;
            relation(cx, req, v, o, rel, p[2])
        }
        ([set, _, action], _, true) => {
            let kind = kind_of_set(set).unwrap_or(Kind::User);
            let o = cx
                .entity(kind, p[1])
                .ok_or_else(|| cx.not_found(req, p[1]))?;
            member_action(cx, req, o, action, p[2])
        }
        ([] | [_, ..], _, _) if !get => Err(read_only(cx, req)),
        ([first, ..], _, _) => Err(cx.segment_not_found(req, first)),
        ([], _, _) => Err(cx.segment_not_found(req, &version)),
    }
}

fn kind_of_set(set: &str) -> Option<Kind> {
    match set {
        "users" => Some(Kind::User),
        "serviceprincipals" => Some(Kind::ServicePrincipal),
        "groups" => Some(Kind::Group),
        _ => None,
    }
}

/// The directory is the world's: changing it through Graph is refused as Entra refuses a caller
/// without directory write permissions.
fn read_only(cx: &GraphCx, req: &Req) -> Reply {
    cx.err(
        req,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    .header(
        "x-ms-emulator-decision",
        "denied; the emulator's Microsoft Graph is read-only: the directory is the world file's",
    )
}

fn me<'a>(cx: &'a GraphCx, req: &Req, _v: &str) -> Result<&'a Principal, Reply> {
    match cx.find(cx.caller) {
        Some(p) if p.kind == PrincipalKind::User => Ok(p),
        Some(_) => Err(cx.err(
            req,
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )),
        None => Err(cx.not_found(req, cx.caller)),
    }
}

fn entity_reply(cx: &GraphCx, req: &Req, v: &str, o: &Principal) -> Reply {
    let kind = Kind::of(o);
    let sel = match select(cx, req, Some(kind)) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let ctx = match &sel {
        Some(s) => format!("{}({})/$entity", kind.set(), s.join(",")),
        None => format!("{}/$entity", kind.set()),
    };
    let mut m = Map::new();
    m.insert("@odata.context".into(), json!(cx.context(v, &ctx)));
    if let Value::Object(o) = project(kind, object(o), sel.as_deref()) {
        m.extend(o);
    }
    Reply::json(200, &Value::Object(m))
}

/// `$select`, checked against the type's properties when the type is known.
fn select(cx: &GraphCx, req: &Req, kind: Option<Kind>) -> Result<Option<Vec<String>>, Reply> {
    let Some(s) = req.query("$select") else {
        return Ok(None);
    };
    let names: Vec<String> = s
        .split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    if let Some(kind) = kind {
        check_properties(cx, req, kind, names.iter().map(String::as_str))?;
    }
    Ok(Some(names))
}

fn check_properties<'a>(
    cx: &GraphCx,
    req: &Req,
    kind: Kind,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), Reply> {
    let sample = sample_object(kind);
    for n in names {
        let known = sample
            .as_object()
            .is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case(n)));
        if !known {
            return Err(cx.err(
                req,
                400,
                "BadRequest",
                &format!(
                    "Could not find a property named '{n}' on type 'microsoft.graph.{}'.",
                    kind.type_name()
                ),
            ));
        }
    }
    Ok(())
}

/// An object of the kind with every property (for property-name checks).
fn sample_object(kind: Kind) -> Value {
    let p = Principal {
        tenant_id: String::new(),
        object_id: String::new(),
        kind: match kind {
            Kind::User => PrincipalKind::User,
            Kind::ServicePrincipal => PrincipalKind::ServicePrincipal,
            Kind::Group => PrincipalKind::Group,
        },
        display_name: String::new(),
        user_principal_name: None,
        password: None,
        app_id: None,
        secret: None,
        member_of: Vec::new(),
    };
    object(&p)
}

fn advanced(req: &Req) -> bool {
    req.header("consistencylevel")
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
}

fn count_requested(req: &Req) -> bool {
    req.query("$count")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Apply `$filter` to the candidates of one kind.
fn filtered<'a>(
    cx: &GraphCx,
    req: &Req,
    kind: Kind,
    candidates: Vec<&'a Principal>,
) -> Result<Vec<(&'a Principal, Value)>, Reply> {
    let mut objs: Vec<(&Principal, Value)> =
        candidates.into_iter().map(|p| (p, object(p))).collect();
    if let Some(f) = req.query("$filter") {
        let f = filter::parse(f).map_err(|filter::FilterError::Syntax(m)| {
            cx.err(
                req,
                400,
                "BadRequest",
                &format!("Invalid filter clause: {m}"),
            )
        })?;
        check_properties(cx, req, kind, f.properties().into_iter())?;
        if f.is_advanced() && !(advanced(req) && count_requested(req)) {
            let prop = f
                .properties()
                .first()
                .copied()
                .unwrap_or_default()
                .to_string();
            return Err(cx.err(
                req,
                400,
                "Request_UnsupportedQuery",
                &format!(
                    "Unsupported or invalid query filter clause specified for property '{prop}' of resource '{}'.",
                    kind.resource()
                ),
            ));
        }
        objs.retain(|(_, o)| f.matches(o));
    }
    if let Some(ob) = req.query("$orderby") {
        let mut it = ob.split_whitespace();
        let prop = it.next().unwrap_or_default().to_string();
        let desc = it.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        check_properties(cx, req, kind, std::iter::once(prop.as_str()))?;
        let key = |o: &Value| {
            o.as_object()
                .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(&prop)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_lowercase()
        };
        objs.sort_by_key(|(_, o)| key(o));
        if desc {
            objs.reverse();
        }
    }
    Ok(objs)
}

/// `GET /{set}`: the caller's tenant's objects of one kind.
fn list(cx: &GraphCx, req: &Req, v: &str, kind: Kind) -> Res {
    let sel = select(cx, req, Some(kind))?;
    let candidates: Vec<&Principal> = cx.visible().filter(|p| Kind::of(p) == kind).collect();
    let objs = filtered(cx, req, kind, candidates)?;
    let ctx = match &sel {
        Some(s) => format!("{}({})", kind.set(), s.join(",")),
        None => kind.set().to_string(),
    };
    let values: Vec<Value> = objs
        .into_iter()
        .map(|(_, o)| project(kind, o, sel.as_deref()))
        .collect();
    page(cx, req, v, &ctx, values)
}

/// One page of a collection: `$top` (1–999, default 100) and `$skiptoken`, `@odata.count` on
/// advanced queries, `@odata.nextLink` when more remain.
fn page(cx: &GraphCx, req: &Req, v: &str, ctx: &str, values: Vec<Value>) -> Res {
    let top = match req.query("$top") {
        None => 100,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => n,
            _ => {
                return Err(cx.err(
                    req,
                    400,
                    "Request_BadRequest",
                    &format!(
                        "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                    ),
                ))
            }
        },
    };
    let skip = req
        .query("$skiptoken")
        .and_then(|s| s.strip_prefix("X'"))
        .and_then(|s| s.strip_suffix('\''))
        .and_then(|s| usize::from_str_radix(s, 16).ok())
        .unwrap_or(0);
    let total = values.len();
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(cx.context(v, ctx)));
    if advanced(req) && count_requested(req) {
        body.insert("@odata.count".into(), json!(total));
    }
    if skip + top < total {
        let kept: Vec<String> = req
            .raw_query
            .split('&')
            .filter(|kv| {
                !kv.is_empty()
                    && !kv.to_ascii_lowercase().starts_with("%24skiptoken")
                    && !kv.to_ascii_lowercase().starts_with("$skiptoken")
            })
            .map(str::to_string)
            .collect();
        let mut q = kept.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&format!("$skiptoken=X'{:x}'", skip + top));
        body.insert(
            "@odata.nextLink".into(),
            json!(format!("{}{}?{q}", cx.base, req.path)),
        );
    }
    let page: Vec<Value> = values.into_iter().skip(skip).take(top).collect();
    body.insert("value".into(), Value::Array(page));
    Ok(Reply::json(200, &Value::Object(body)))
}

/// `GET /{set}/$count`: only as an advanced query.
fn raw_count(cx: &GraphCx, req: &Req, kind: Kind) -> Res {
    if !advanced(req) {
        return Err(cx.err(req, 400, "Request_UnsupportedQuery", "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information"));
    }
    let candidates: Vec<&Principal> = cx.visible().filter(|p| Kind::of(p) == kind).collect();
    let n = filtered(cx, req, kind, candidates)?.len();
    Ok(Reply {
        status: 200,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: n.to_string().into_bytes(),
    })
}

/// Navigation properties: `members`, `transitiveMembers` (groups), `memberOf`,
/// `transitiveMemberOf` (any object).
fn relation(cx: &GraphCx, req: &Req, v: &str, o: &Principal, rel: &str, raw: &str) -> Res {
    let oid = o.object_id.to_lowercase();
    let related: Vec<&Principal> = match rel {
        "memberof" => o.member_of.iter().filter_map(|g| cx.find(g)).collect(),
        "transitivememberof" => cx
            .dir
            .groups_of(&o.object_id)
            .iter()
            .filter_map(|g| cx.find(g))
            .collect(),
        "members" if o.kind == PrincipalKind::Group => cx
            .visible()
            .filter(|p| p.member_of.iter().any(|g| g.eq_ignore_ascii_case(&oid)))
            .collect(),
        "transitivemembers" if o.kind == PrincipalKind::Group => cx
            .visible()
            .filter(|p| cx.dir.groups_of(&p.object_id).contains(&oid))
            .collect(),
        "owners" | "ownedobjects" | "registeredowners" => Vec::new(),
        _ => return Err(cx.segment_not_found(req, raw)),
    };
    let sel = select(cx, req, None)?;
    let values: Vec<Value> = related
        .into_iter()
        .map(|p| typed(p, sel.as_deref()))
        .collect();
    page(cx, req, v, "directoryObjects", values)
}

/// `POST …/getMemberGroups` and `…/checkMemberGroups` (transitive, as Graph evaluates them).
fn member_action(cx: &GraphCx, req: &Req, o: &Principal, action: &str, raw: &str) -> Res {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let groups: Vec<&Principal> = cx
        .dir
        .groups_of(&o.object_id)
        .iter()
        .filter_map(|g| cx.find(g))
        .collect();
    let ids: Vec<Value> = match action {
        "getmembergroups" | "getmemberobjects" => {
            groups.iter().map(|g| json!(g.object_id)).collect()
        }
        "checkmembergroups" | "checkmemberobjects" => {
            let asked = body["groupIds"]
                .as_array()
                .or_else(|| body["ids"].as_array())
                .cloned()
                .unwrap_or_default();
            asked
                .into_iter()
                .filter(|a| {
                    a.as_str()
                        .is_some_and(|a| groups.iter().any(|g| g.object_id.eq_ignore_ascii_case(a)))
                })
                .collect()
        }
        _ if req.method != "GET" => return Err(read_only(cx, req)),
        _ => return Err(cx.segment_not_found(req, raw)),
    };
    Ok(Reply::json(
        200,
        &json!({"@odata.context": cx.context("v1.0", "Collection(Edm.String)"), "value": ids}),
    ))
}

/// `POST /directoryObjects/getByIds` (`ids`, optional `types`): the caller's tenant's objects.
fn get_by_ids(cx: &GraphCx, req: &Req, v: &str) -> Res {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let Some(ids) = body["ids"].as_array() else {
        return Err(cx.err(
            req,
            400,
            "Request_BadRequest",
            "Invalid request: the 'ids' parameter is required.",
        ));
    };
    let types: Vec<String> = body["types"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str())
                .map(|t| {
                    t.trim_start_matches("microsoft.graph.")
                        .to_ascii_lowercase()
                })
                .collect()
        })
        .unwrap_or_default();
    let value: Vec<Value> = ids
        .iter()
        .filter_map(|id| id.as_str())
        .filter_map(|id| cx.find(id))
        .filter(|p| {
            types.is_empty() || types.contains(&Kind::of(p).type_name().to_ascii_lowercase())
        })
        .map(|p| typed(p, None))
        .collect();
    Ok(Reply::json(
        200,
        &json!({"@odata.context": cx.context(v, "directoryObjects"), "value": value}),
    ))
}

fn organization(cx: &GraphCx, _req: &Req, v: &str) -> Reply {
    let value: Vec<Value> = cx
        .dir
        .tenants
        .iter()
        .filter(|t| t.id.eq_ignore_ascii_case(cx.tenant))
        .map(org)
        .collect();
    Reply::json(
        200,
        &json!({"@odata.context": cx.context(v, "organization"), "value": value}),
    )
}

fn org(t: &Tenant) -> Value {
    let mut domains: Vec<&String> = vec![&t.default_domain];
    domains.extend(t.domains.iter().filter(|d| **d != t.default_domain));
    json!({
        "id": t.id, "displayName": t.display_name, "countryLetterCode": t.country_code,
        "tenantType": "AAD", "verifiedDomains": domains.iter().map(|d| json!({
            "capabilities": "Email, OfficeCommunicationsOnline", "isDefault": *d == &t.default_domain,
            "isInitial": d.ends_with(".onmicrosoft.com") || d.ends_with(".onmicrosoft.us"),
            "name": d, "type": "Managed"})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{World, DEFAULT_WORLD};

    const FABRIKAM: &str = "10000000-0000-0000-0000-000000000002";
    const ADMIN: &str = "30000000-0000-0000-0000-000000002111";

    fn dir() -> Directory {
        let w = World::parse(DEFAULT_WORLD).unwrap();
        Directory::new(w.tenants, w.principals, w.subscriptions)
    }

    fn call(
        d: &Directory,
        tenant: &str,
        caller: &str,
        method: &str,
        path_query: &str,
    ) -> (u16, Value) {
        let (path, q) = path_query.split_once('?').unwrap_or((path_query, ""));
        let req = Req {
            method: method.into(),
            path: path.into(),
            raw_query: q.into(),
            query: Req::parse_query(q),
            ..Default::default()
        };
        let cx = GraphCx {
            dir: d,
            tenant,
            caller,
            base: "https://localhost:8443",
            request_id: "rid",
            date: "2026-01-01T00:00:00",
        };
        let r = handle(&cx, &req);
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn routes_answer_as_graph() {
        let d = dir();
        let upns = |v: &Value| -> Vec<String> {
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userPrincipalName"].as_str().unwrap_or("").to_string())
                .collect()
        };
        let cases: &[(&str, &str, u16, &str)] = &[
            // (method, path, status, error code or "")
            ("GET", "/v1.0/me", 200, ""),
            ("GET", "/v1.0/users", 200, ""),
            (
                "GET",
                "/v1.0/users/reader@fabrikam.onmicrosoft.com",
                200,
                "",
            ),
            (
                "GET",
                "/v1.0/users('reader@fabrikam.onmicrosoft.com')",
                200,
                "",
            ),
            (
                "GET",
                "/v1.0/users/alice@contosomsp.onmicrosoft.com",
                404,
                "Request_ResourceNotFound",
            ),
            (
                "GET",
                "/v1.0/servicePrincipals(appId='40000000-0000-0000-0000-000000002121')",
                200,
                "",
            ),
            (
                "GET",
                "/v1.0/servicePrincipals(appId='40000000-0000-0000-0000-000000001121')",
                404,
                "Request_ResourceNotFound",
            ),
            ("GET", "/v1.0/groups", 200, ""),
            ("GET", "/v1.0/applications", 400, "BadRequest"),
            ("GET", "/v1.0/users?$filter=nope eq 'x'", 400, "BadRequest"),
            (
                "GET",
                "/v1.0/users?$filter=userPrincipalName eqq 'x'",
                400,
                "BadRequest",
            ),
            (
                "GET",
                "/v1.0/users?$filter=displayName ne 'x'",
                400,
                "Request_UnsupportedQuery",
            ),
            ("GET", "/v1.0/users?$top=0", 400, "Request_BadRequest"),
            ("GET", "/v1.0/users/$count", 400, "Request_UnsupportedQuery"),
            ("POST", "/v1.0/users", 403, "Authorization_RequestDenied"),
            (
                "DELETE",
                "/v1.0/users/reader@fabrikam.onmicrosoft.com",
                403,
                "Authorization_RequestDenied",
            ),
            ("GET", "/v1.0/organization", 200, ""),
        ];
        for (m, p, status, code) in cases {
            let (s, b) = call(&d, FABRIKAM, ADMIN, m, p);
            assert_eq!(s, *status, "{m} {p}: {b}");
            assert_eq!(
                b["error"]["code"].as_str().unwrap_or(""),
                *code,
                "{m} {p}: {b}"
            );
            if !code.is_empty() {
                assert_eq!(b["error"]["innerError"]["request-id"], "rid", "{p}");
            }
        }
        let (_, b) = call(&d, FABRIKAM, ADMIN, "GET", "/v1.0/users");
        assert_eq!(
            upns(&b),
            [
                "admin@fabrikam.onmicrosoft.com",
                "reader@fabrikam.onmicrosoft.com"
            ]
        );
        assert!(
            b["value"][0].get("accountEnabled").is_none(),
            "not in the default set"
        );
        let (_, b) = call(&d, FABRIKAM, ADMIN, "GET", "/v1.0/users?$filter=userPrincipalName eq 'READER@fabrikam.onmicrosoft.com'&$select=id,accountEnabled");
        assert_eq!(
            b["value"],
            json!([{"id": "30000000-0000-0000-0000-000000002112", "accountEnabled": true}])
        );
        assert_eq!(
            b["@odata.context"],
            "https://localhost:8443/v1.0/$metadata#users(id,accountEnabled)"
        );
        let (_, b) = call(&d, FABRIKAM, ADMIN, "GET", "/v1.0/users?$top=1");
        assert_eq!(upns(&b), ["admin@fabrikam.onmicrosoft.com"]);
        let next = b["@odata.nextLink"].as_str().unwrap();
        let (_, b2) = call(
            &d,
            FABRIKAM,
            ADMIN,
            "GET",
            next.trim_start_matches("https://localhost:8443"),
        );
        assert_eq!(upns(&b2), ["reader@fabrikam.onmicrosoft.com"]);
        assert!(b2.get("@odata.nextLink").is_none());
        let (_, b) = call(&d, FABRIKAM, ADMIN, "GET", "/v1.0/me");
        assert_eq!(b["userPrincipalName"], "admin@fabrikam.onmicrosoft.com");
        assert_eq!(
            (b["givenName"].as_str(), b["surname"].as_str()),
            (Some("Fabrikam"), Some("Admin"))
        );
    }

    #[test]
    fn groups_members_and_me_for_applications() {
        let d = dir();
        let contoso = "10000000-0000-0000-0000-000000000001";
        let alice = "30000000-0000-0000-0000-000000001111";
        let ops = "30000000-0000-0000-0000-000000001101";
        let (_, b) = call(
            &d,
            contoso,
            alice,
            "GET",
            &format!("/v1.0/groups/{ops}/members"),
        );
        let ids: Vec<&str> = b["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [alice, "30000000-0000-0000-0000-000000001121"]);
        assert_eq!(b["value"][0]["@odata.type"], "#microsoft.graph.user");
        assert_eq!(
            b["value"][1]["@odata.type"],
            "#microsoft.graph.servicePrincipal"
        );
        let (_, b) = call(&d, contoso, alice, "GET", "/v1.0/me/memberOf");
        assert_eq!(b["value"][0]["displayName"], "MSP Operators");
        let (_, b) = call(
            &d,
            contoso,
            alice,
            "GET",
            "/v1.0/groups?$filter=startswith(displayName,'MSP R')",
        );
        assert_eq!(b["value"][0]["id"], "30000000-0000-0000-0000-000000001102");
        let (s, b) = call(
            &d,
            contoso,
            "30000000-0000-0000-0000-000000001121",
            "GET",
            "/v1.0/me",
        );
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some("BadRequest")));
        // another tenant's group is not there for Fabrikam
        let (s, _) = call(&d, FABRIKAM, ADMIN, "GET", &format!("/v1.0/groups/{ops}"));
        assert_eq!(s, 404);
    }
}

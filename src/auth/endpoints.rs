//! Entra ID's HTTP surface as MSAL Python, azure-identity, msal-node and az call it: OpenID
//! discovery (v1 and v2), JWKS, the token endpoint (client_credentials, password, refresh_token;
//! v2 `scope=` and v1 `resource=`), user realm and instance discovery. Takes a `Req`, returns a
//! `Reply` with Entra's OAuth error envelope; never touches hyper, the store or the clock (`now` is
//! in `TokenService`). Follows the Microsoft identity platform protocol docs and ../shared/CLIENTS.md.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::auth::keys::SigningKey;
use crate::auth::token::{self, AZURE_CLI_CLIENT_ID};
use crate::directory::Directory;
use crate::wire::{Reply, Req};
use crate::world::{Principal, PrincipalKind, Tenant};

/// What the token service needs for one request.
pub struct TokenService<'a> {
    pub dir: &'a Directory,
    pub key: &'a SigningKey,
    /// Unix seconds on the emulator clock.
    pub now: i64,
    pub lifetime_secs: i64,
    /// Scheme, host and port clients reach the emulator at, e.g. `https://localhost:8443`.
    pub base_url: &'a str,
}

/// The tenant segment of an identity path.
#[derive(Clone, Copy)]
enum Authority<'d> {
    Tenant(&'d Tenant),
    Common,
    Organizations,
    Consumers,
}

impl Authority<'_> {
    fn is_tenant(&self) -> bool {
        matches!(self, Authority::Tenant(_))
    }
}

fn authority<'d>(dir: &'d Directory, segment: &str) -> Option<Authority<'d>> {
    match segment.to_ascii_lowercase().as_str() {
        "common" => Some(Authority::Common),
        "organizations" => Some(Authority::Organizations),
        "consumers" => Some(Authority::Consumers),
        _ => dir.tenant(segment).map(Authority::Tenant),
    }
}

enum Route<'p> {
    OpenIdConfig {
        v2: bool,
    },
    Keys,
    Token {
        v2: bool,
    },
    /// authorize, devicecode, logout: interactive flows no tested client uses.
    NotImplemented,
    UserRealm {
        upn: &'p str,
    },
    InstanceDiscovery,
}

/// Serve an identity request, or `None` when `req.path` is not an identity path (ARM routing
/// continues). Path segments match case-insensitively; the query string is ignored except where
/// named (msal-node adds `?client-request-id=` to the token URL).
pub fn handle(req: &Req, ts: &TokenService) -> Option<Reply> {
    let path = req.path.trim_matches('/');
    let segs: Vec<&str> = path.split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let route = match l.as_slice() {
        ["common", "discovery", "instance"] => Route::InstanceDiscovery,
        [_, "v2.0", ".well-known", "openid-configuration"] => Route::OpenIdConfig { v2: true },
        [_, ".well-known", "openid-configuration"] => Route::OpenIdConfig { v2: false },
        [_, "discovery", "v2.0", "keys"] | [_, "discovery", "keys"] => Route::Keys,
        [_, "oauth2", "v2.0", "token"] => Route::Token { v2: true },
        [_, "oauth2", "token"] => Route::Token { v2: false },
        [_, "oauth2", "v2.0", "authorize" | "devicecode" | "logout"]
        | [_, "oauth2", "authorize" | "devicecode" | "logout"] => Route::NotImplemented,
        [_, "userrealm", _] => Route::UserRealm { upn: segs[2] },
        _ => return None,
    };
    let segment = segs[0];
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    let reply = match route {
        Route::Token { v2 } if req.method == "POST" => token_endpoint(req, ts, segment, v2),
        Route::Token { .. } => oauth_error(
            req,
            ts,
            400,
            "invalid_request",
            900561,
            format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                req.method
            ),
        ),
        _ if !get => Reply::empty(405).header("allow", "GET, HEAD"),
        Route::OpenIdConfig { v2 } => match authority(ts.dir, segment) {
            Some(a) => discovery_reply(openid_configuration(ts, segment, a, v2)),
            None => unknown_tenant(req, ts, segment, "invalid_tenant"),
        },
        Route::Keys => match authority(ts.dir, segment) {
            Some(_) => discovery_reply(ts.key.jwks()),
            None => unknown_tenant(req, ts, segment, "invalid_tenant"),
        },
        Route::UserRealm { upn } => discovery_reply(user_realm(ts.dir, upn)),
        Route::InstanceDiscovery => discovery_reply(instance_discovery(req, ts)),
        Route::NotImplemented => Reply::json(
            404,
            &json!({
                "error": "not_supported",
                "error_description": format!(
                    "lighthouse-emulator does not implement {}: use the token endpoint \
                     (client_credentials, password or refresh_token).",
                    req.path
                ),
            }),
        ),
    };
    Some(reply)
}

/// An access token for any user or service principal of the world, as if it had signed in (the
/// CLI's `token` subcommand). `who`: UPN, display name, object id or app id. Users sign in
/// through the Azure CLI's client id; service principals through their own app id. `audience`
/// may be a resource or a `…/.default` scope.
pub fn issue_for(
    dir: &Directory,
    key: &SigningKey,
    who: &str,
    audience: &str,
    now: i64,
    lifetime_secs: i64,
    _base_url: &str,
) -> Result<String, String> {
    let p = dir.principal_by_name(who).ok_or_else(|| {
        format!("no user or service principal '{who}' in the world (give a UPN, display name, object id or app id)")
    })?;
    if p.kind == PrincipalKind::Group {
        return Err(format!(
            "'{who}' is a group; tokens are issued to users and service principals"
        ));
    }
    let tenant = dir.tenant(&p.tenant_id).ok_or_else(|| {
        format!(
            "the tenant '{}' of '{who}' is not in the world",
            p.tenant_id
        )
    })?;
    let audience = token::audience_from_scope(audience).unwrap_or_else(|| audience.to_string());
    if audience.trim().is_empty() {
        return Err("the audience is empty".into());
    }
    let client_id = match p.kind {
        PrincipalKind::User => AZURE_CLI_CLIENT_ID,
        _ => p.app_id.as_deref().unwrap_or(AZURE_CLI_CLIENT_ID),
    };
    Ok(token::issue_access_token(
        key,
        tenant,
        p,
        dir.groups_of(&p.object_id),
        &audience,
        client_id,
        now,
        lifetime_secs,
    ))
}

// ---------------------------------------------------------------------------------------------
// discovery

fn base(ts: &TokenService) -> String {
    ts.base_url.trim_end_matches('/').to_string()
}

/// `(cloud_instance_name, cloud_graph_host_name, msgraph_host, tenant_region_scope)` of a cloud.
fn cloud_hosts(cloud: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    match cloud {
        "AzureUSGovernment" => (
            "microsoftonline.us",
            "graph.windows.net",
            "graph.microsoft.us",
            "USGov",
        ),
        "AzureChinaCloud" => (
            "partner.microsoftonline.cn",
            "graph.chinacloudapi.cn",
            "microsoftgraph.chinacloudapi.cn",
            "AS",
        ),
        _ => (
            "microsoftonline.com",
            "graph.windows.net",
            "graph.microsoft.com",
            "NA",
        ),
    }
}

/// The OpenID configuration (CLIENTS.md §2.1). The tenant segment stays as the client gave it in
/// every endpoint, because MSAL Python takes its cache realm from `token_endpoint`; `issuer`
/// names the tenant id, or Entra's literal `{tenantid}` for the multi-tenant authorities.
fn openid_configuration(ts: &TokenService, segment: &str, a: Authority, v2: bool) -> Value {
    let base = base(ts);
    let tid = match a {
        Authority::Tenant(t) => t.id.clone(),
        _ => "{tenantid}".to_string(),
    };
    let (cloud, graph, msgraph, region) = match a {
        Authority::Tenant(t) => cloud_hosts(&t.cloud),
        _ => cloud_hosts("AzureCloud"),
    };
    let region = if a.is_tenant() {
        Value::from(region)
    } else {
        Value::Null
    };
    let (issuer, oauth, keys) = if v2 {
        (
            token::v2_issuer(&base, &tid),
            format!("{base}/{segment}/oauth2/v2.0"),
            format!("{base}/{segment}/discovery/v2.0/keys"),
        )
    } else {
        (
            token::v1_issuer(&tid),
            format!("{base}/{segment}/oauth2"),
            format!("{base}/{segment}/discovery/keys"),
        )
    };
    let mut doc = json!({
        "token_endpoint": format!("{oauth}/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": keys,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("https://{msgraph}/oidc/userinfo"),
        "authorization_endpoint": format!("{oauth}/authorize"),
        "device_authorization_endpoint": format!("{oauth}/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{oauth}/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
            "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
            "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email",
        ],
        "tenant_region_scope": region,
        "cloud_instance_name": cloud,
        "cloud_graph_host_name": graph,
        "msgraph_host": msgraph,
        "rbac_url": "https://pas.windows.net",
    });
    if !v2 {
        doc["microsoft_multi_refresh_token"] = Value::Bool(true);
    }
    doc
}

/// `GET /{any}/userrealm/{upn}`: Entra answers by the domain of the name, not the user.
fn user_realm(dir: &Directory, upn: &str) -> Value {
    let domain = upn.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    match dir.tenant(domain).filter(|_| !domain.is_empty()) {
        Some(t) => {
            let domain_name = std::iter::once(&t.default_domain)
                .chain(&t.domains)
                .find(|d| d.eq_ignore_ascii_case(domain))
                .cloned()
                .unwrap_or_else(|| domain.to_string());
            json!({
                "ver": "1.0",
                "account_type": "Managed",
                "domain_name": domain_name,
                "federation_brand_name": t.display_name,
                "cloud_instance_name": cloud_hosts(&t.cloud).0,
                "cloud_audience_urn": "urn:federation:MicrosoftOnline",
            })
        }
        None => json!({
            "ver": "1.0",
            "account_type": "Unknown",
            "cloud_instance_name": "microsoftonline.com",
        }),
    }
}

/// `GET /common/discovery/instance?authorization_endpoint=…`: this host is its own only alias.
fn instance_discovery(req: &Req, ts: &TokenService) -> Value {
    let base = base(ts);
    let host = base
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&base)
        .to_string();
    // The tenant is the first path segment of the authorization endpoint the client asks about.
    let tenant = req
        .query("authorization_endpoint")
        .and_then(|u| u.split_once("://").map(|(_, rest)| rest.to_string()))
        .and_then(|rest| rest.split('/').nth(1).map(str::to_string))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "common".to_string());
    json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    })
}

fn discovery_reply(body: Value) -> Reply {
    Reply::json(200, &body)
        .header("cache-control", "max-age=86400, private")
        .header("access-control-allow-origin", "*")
}

// ---------------------------------------------------------------------------------------------
// the token endpoint

/// The form of a token request, with HTTP Basic client credentials folded in.
struct Form {
    fields: Vec<(String, String)>,
    basic: Option<(String, String)>,
}

impl Form {
    fn parse(req: &Req) -> Form {
        let basic = req
            .header("authorization")
            .and_then(|h| {
                let (scheme, value) = h.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("basic")
                    .then(|| value.trim().to_string())
            })
            .and_then(|b64| STANDARD.decode(b64).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
                let (id, secret) = pair.split_once(':')?;
                let dec = |s: &str| {
                    form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                Some((dec(id), dec(secret)))
            });
        Form {
            fields: req.form(),
            basic,
        }
    }

    /// A non-empty field.
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn client_id(&self) -> Option<&str> {
        self.get("client_id")
            .or(self.basic.as_ref().map(|(id, _)| id.as_str()))
    }

    fn client_secret(&self) -> Option<&str> {
        self.get("client_secret")
            .or(self.basic.as_ref().map(|(_, s)| s.as_str()))
            .filter(|s| !s.is_empty())
    }
}

/// What a token request asked for: the audience, and how to echo the grant back.
struct Target {
    audience: String,
    /// v2: the `…/.default` scope as requested; v1: `None` (the reply carries `resource`).
    scope: Option<String>,
}

type Outcome = Result<Reply, Reply>;

fn token_endpoint(req: &Req, ts: &TokenService, segment: &str, v2: bool) -> Reply {
    let form = Form::parse(req);
    let Some(a) = authority(ts.dir, segment) else {
        return unknown_tenant(req, ts, segment, "invalid_request");
    };
    let result = match form.get("grant_type") {
        None => Err(missing(req, ts, "grant_type")),
        Some("client_credentials") => client_credentials(req, ts, &form, a, v2),
        Some("password") => password(req, ts, &form, a, v2),
        Some("refresh_token") => refresh(req, ts, &form, a, v2),
        Some(other) => Err(oauth_error(
            req,
            ts,
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    };
    result.unwrap_or_else(|e| e)
}

fn target(
    req: &Req,
    ts: &TokenService,
    form: &Form,
    v2: bool,
    app_flow: bool,
) -> Result<Target, Reply> {
    if !v2 {
        let resource = form
            .get("resource")
            .ok_or_else(|| missing(req, ts, "resource"))?;
        return Ok(Target {
            audience: resource.to_string(),
            scope: None,
        });
    }
    let Some(scope) = form.get("scope") else {
        return Err(oauth_error(
            req,
            ts,
            400,
            "invalid_request",
            90014,
            "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request.".into(),
        ));
    };
    match token::audience_from_scope(scope) {
        Some(audience) => Ok(Target {
            scope: Some(format!("{audience}/.default")),
            audience,
        }),
        None if app_flow => Err(oauth_error(
            req,
            ts,
            400,
            "invalid_scope",
            1002012,
            format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        )),
        None => Err(oauth_error(
            req,
            ts,
            400,
            "invalid_scope",
            70011,
            format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope '{scope}' does not name a resource: this emulator issues tokens for '<resource>/.default' scopes."),
        )),
    }
}

fn client_credentials(
    req: &Req,
    ts: &TokenService,
    form: &Form,
    a: Authority,
    v2: bool,
) -> Outcome {
    let Authority::Tenant(tenant) = a else {
        return Err(oauth_error(
            req,
            ts,
            400,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.".into(),
        ));
    };
    let client_id = form
        .client_id()
        .ok_or_else(|| missing(req, ts, "client_id"))?;
    let target = target(req, ts, form, v2, true)?;
    let Some(secret) = form.client_secret() else {
        return Err(if form.get("client_assertion").is_some() {
            oauth_error(
                req,
                ts,
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. (The emulator's world has no certificate credentials: use the client secret.)".into(),
            )
        } else {
            oauth_error(
                req,
                ts,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
            )
        });
    };
    let app = ts
        .dir
        .application(client_id)
        .filter(|p| p.tenant_id.eq_ignore_ascii_case(&tenant.id))
        .ok_or_else(|| {
            oauth_error(
                req,
                ts,
                400,
                "unauthorized_client",
                700016,
                format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.display_name),
            )
        })?;
    if app.secret.as_deref() != Some(secret) {
        return Err(oauth_error(
            req,
            ts,
            401,
            "invalid_client",
            7000215,
            format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
        ));
    }
    let app_id = app.app_id.as_deref().unwrap_or(client_id);
    let access = token::issue_access_token(
        ts.key,
        tenant,
        app,
        ts.dir.groups_of(&app.object_id),
        &target.audience,
        app_id,
        ts.now,
        ts.lifetime_secs,
    );
    let mut body = expiry(ts, v2);
    body["access_token"] = access.into();
    if !v2 {
        body["resource"] = target.audience.into();
    }
    Ok(token_reply(req, &body))
}

fn password(req: &Req, ts: &TokenService, form: &Form, a: Authority, v2: bool) -> Outcome {
    let client_id = form
        .client_id()
        .ok_or_else(|| missing(req, ts, "client_id"))?;
    let username = form
        .get("username")
        .ok_or_else(|| missing(req, ts, "username"))?;
    let pw = form
        .get("password")
        .ok_or_else(|| missing(req, ts, "password"))?;
    let target = target(req, ts, form, v2, false)?;
    let user = ts
        .dir
        .user(username)
        .filter(|u| u.kind == PrincipalKind::User && u.password.as_deref() == Some(pw))
        .ok_or_else(|| {
            oauth_error(
                req,
                ts,
                400,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.".into(),
            )
        })?;
    let home = home_tenant(req, ts, user, a, client_id)?;
    Ok(user_reply(
        req, ts, form, home, user, client_id, &target, v2,
    ))
}

fn refresh(req: &Req, ts: &TokenService, form: &Form, a: Authority, v2: bool) -> Outcome {
    let client_id = form
        .client_id()
        .ok_or_else(|| missing(req, ts, "client_id"))?;
    let rt = form
        .get("refresh_token")
        .ok_or_else(|| missing(req, ts, "refresh_token"))?;
    let target = target(req, ts, form, v2, false)?;
    let claims = match token::verify_refresh_token(ts.key, rt, ts.now) {
        Ok(c) => c,
        Err(token::TokenError::Expired { .. }) => {
            return Err(oauth_error(
                req,
                ts,
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued more than 90 days ago.".into(),
            ))
        }
        Err(_) => {
            return Err(oauth_error(
                req,
                ts,
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.".into(),
            ))
        }
    };
    if !claims.client_id.eq_ignore_ascii_case(client_id) {
        return Err(oauth_error(
            req,
            ts,
            400,
            "invalid_grant",
            70000,
            format!(
                "Provided grant is invalid or malformed. The refresh token was issued to client '{}', not '{client_id}'.",
                claims.client_id
            ),
        ));
    }
    let user = ts
        .dir
        .principal(&claims.oid)
        .filter(|p| p.kind == PrincipalKind::User)
        .ok_or_else(|| {
            oauth_error(
                req,
                ts,
                400,
                "invalid_grant",
                50034,
                format!(
                    "The user account {} does not exist in the '{}' directory. To sign into this application, the account must be added to the directory.",
                    claims.oid, claims.tid
                ),
            )
        })?;
    let home = home_tenant(req, ts, user, a, client_id)?;
    Ok(user_reply(
        req, ts, form, home, user, client_id, &target, v2,
    ))
}

/// The tenant a user flow signs in to: the user's home tenant, which a tenant segment must name
/// (no guest accounts in the world); `organizations` and `common` resolve to it.
fn home_tenant<'d>(
    req: &Req,
    ts: &TokenService<'d>,
    user: &Principal,
    a: Authority,
    client_id: &str,
) -> Result<&'d Tenant, Reply> {
    let home = ts.dir.tenant(&user.tenant_id);
    let asked = match a {
        Authority::Tenant(t) => Some(t.display_name.as_str()),
        Authority::Consumers => Some("Microsoft Services"),
        Authority::Common | Authority::Organizations => None,
    };
    match (home, a) {
        (Some(h), Authority::Tenant(t)) if h.id == t.id => Ok(h),
        (Some(h), Authority::Common | Authority::Organizations) => Ok(h),
        _ => {
            let upn = user
                .user_principal_name
                .as_deref()
                .unwrap_or(&user.object_id);
            let app = app_name(ts.dir, client_id);
            Err(oauth_error(
                req,
                ts,
                400,
                "invalid_grant",
                50020,
                format!(
                    "User account '{upn}' from identity provider '{}' does not exist in tenant '{}' and cannot access the application '{client_id}'({app}) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.",
                    token::v1_issuer(&user.tenant_id),
                    asked.unwrap_or("unknown"),
                ),
            ))
        }
    }
}

fn app_name(dir: &Directory, client_id: &str) -> String {
    let well_known = match client_id.to_ascii_lowercase().as_str() {
        AZURE_CLI_CLIENT_ID => Some("Microsoft Azure CLI"),
        "1950a258-227b-4e31-a9cf-717495945fc2" => Some("Microsoft Azure PowerShell"),
        "872cd9fa-d31f-45e0-9eab-6e460a02d1f1" => Some("Visual Studio"),
        "aebc6443-996d-45c2-90f0-388ff96faa56" => Some("Visual Studio Code"),
        _ => None,
    };
    well_known
        .map(str::to_string)
        .or_else(|| dir.application(client_id).map(|p| p.display_name.clone()))
        .unwrap_or_else(|| client_id.to_string())
}

/// A user-flow token response (CLIENTS.md §2.4): access, refresh and id tokens plus client_info.
#[allow(clippy::too_many_arguments)]
fn user_reply(
    req: &Req,
    ts: &TokenService,
    form: &Form,
    tenant: &Tenant,
    user: &Principal,
    client_id: &str,
    target: &Target,
    v2: bool,
) -> Reply {
    let access = token::issue_access_token(
        ts.key,
        tenant,
        user,
        ts.dir.groups_of(&user.object_id),
        &target.audience,
        client_id,
        ts.now,
        ts.lifetime_secs,
    );
    let id = token::issue_id_token(
        ts.key,
        ts.base_url,
        tenant,
        user,
        client_id,
        ts.now,
        ts.lifetime_secs,
    );
    let refresh =
        token::issue_refresh_token(ts.key, &tenant.id, &user.object_id, client_id, ts.now);
    let mut body = json!({"token_type": "Bearer"});
    match &target.scope {
        Some(scope) => body["scope"] = scope.clone().into(),
        None => body["scope"] = "user_impersonation".into(),
    }
    for (k, v) in expiry(ts, v2).as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    if !v2 {
        body["resource"] = target.audience.clone().into();
    }
    body["access_token"] = access.into();
    body["refresh_token"] = refresh.into();
    body["id_token"] = id.into();
    if v2 || form.get("client_info") == Some("1") {
        body["client_info"] = token::client_info(&user.object_id, &tenant.id).into();
    }
    token_reply(req, &body)
}

/// `token_type` and lifetimes. v2 sends integers (azure-identity requires `expires_in`); v1 sends
/// strings plus `expires_on`/`not_before`, as Entra's v1 endpoint does.
fn expiry(ts: &TokenService, v2: bool) -> Value {
    let l = ts.lifetime_secs;
    if v2 {
        json!({"token_type": "Bearer", "expires_in": l, "ext_expires_in": l})
    } else {
        json!({
            "token_type": "Bearer",
            "expires_in": l.to_string(),
            "ext_expires_in": l.to_string(),
            "expires_on": (ts.now + l).to_string(),
            "not_before": ts.now.to_string(),
        })
    }
}

fn token_reply(req: &Req, body: &Value) -> Reply {
    let r = Reply::json(200, body)
        .header("cache-control", "no-store, no-cache")
        .header("pragma", "no-cache")
        .header("x-ms-request-id", uuid::Uuid::new_v4().to_string());
    match client_request_id(req) {
        Some(id) => r.header("client-request-id", id),
        None => r,
    }
}

// ---------------------------------------------------------------------------------------------
// errors

/// The id the client sent (MSAL Python: header; msal-node: query and body), which Entra echoes as
/// `correlation_id`.
fn client_request_id(req: &Req) -> Option<String> {
    req.header("client-request-id")
        .or_else(|| req.query("client-request-id"))
        .map(str::to_string)
        .or_else(|| {
            req.form()
                .into_iter()
                .find(|(k, _)| k == "client-request-id")
                .map(|(_, v)| v)
        })
        .filter(|s| !s.is_empty())
}

/// Entra's OAuth error envelope: `error`, `error_description` (`AADSTS{code}: …` plus trace,
/// correlation id and timestamp lines), `error_codes`, `timestamp`, `trace_id`, `correlation_id`,
/// `error_uri`.
fn oauth_error(
    req: &Req,
    ts: &TokenService,
    status: u16,
    error: &str,
    code: u32,
    message: String,
) -> Reply {
    let trace = uuid::Uuid::new_v4().to_string();
    let echoed = client_request_id(req);
    let correlation = echoed
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let stamp = entra_timestamp(ts.now);
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
        ),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    let r = Reply::json(status, &body)
        .header("cache-control", "no-store, no-cache")
        .header("pragma", "no-cache")
        .header("x-ms-request-id", trace);
    match echoed {
        Some(id) => r.header("client-request-id", id),
        None => r,
    }
}

fn missing(req: &Req, ts: &TokenService, name: &str) -> Reply {
    oauth_error(
        req,
        ts,
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// AADSTS90002. Discovery documents answer `invalid_tenant`, the token endpoint `invalid_request`.
fn unknown_tenant(req: &Req, ts: &TokenService, segment: &str, error: &str) -> Reply {
    oauth_error(
        req,
        ts,
        400,
        error,
        90002,
        format!("Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
    )
}

/// `2024-05-01 10:00:00Z`, Entra's error timestamp form.
fn entra_timestamp(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::tests::test_key;
    use crate::auth::token::{verify_access_token, verify_id_token};
    use crate::world::{World, DEFAULT_WORLD};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use std::sync::OnceLock;

    const NOW: i64 = 1_780_000_000;
    const BASE: &str = "https://localhost:8443";
    const CONTOSO: &str = "10000000-0000-0000-0000-000000000001";
    const FABRIKAM: &str = "10000000-0000-0000-0000-000000000002";
    const AUTOMATION_APP: &str = "40000000-0000-0000-0000-000000001121";
    const AUTOMATION_OID: &str = "30000000-0000-0000-0000-000000001121";
    const ALICE_OID: &str = "30000000-0000-0000-0000-000000001111";
    const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";

    fn dir() -> &'static Directory {
        static DIR: OnceLock<Directory> = OnceLock::new();
        DIR.get_or_init(|| {
            let w = World::parse(DEFAULT_WORLD).expect("default world");
            Directory::new(w.tenants, w.principals, w.subscriptions)
        })
    }

    fn ts() -> TokenService<'static> {
        TokenService {
            dir: dir(),
            key: test_key(),
            now: NOW,
            lifetime_secs: 3599,
            base_url: BASE,
        }
    }

    fn get(path: &str) -> Req {
        let (path, raw_query) = path.split_once('?').unwrap_or((path, ""));
        Req {
            method: "GET".into(),
            path: path.into(),
            raw_query: raw_query.into(),
            query: Req::parse_query(raw_query),
            host: "localhost:8443".into(),
            port: 8443,
            ..Default::default()
        }
    }

    fn post(path: &str, form: &[(&str, &str)]) -> Req {
        let mut r = get(path);
        r.method = "POST".into();
        r.headers = vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )];
        r.body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        r
    }

    fn call(req: &Req) -> (u16, Value, Reply) {
        let reply = handle(req, &ts()).expect("an identity path");
        let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        (reply.status, body, reply)
    }

    /// Status, OAuth `error`, and the AADSTS number both in `error_codes` and the description.
    fn check_error(req: &Req, status: u16, error: &str, code: u32) -> Value {
        let (s, body, reply) = call(req);
        assert_eq!((s, body["error"].as_str()), (status, Some(error)), "{body}");
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        let desc = body["error_description"].as_str().unwrap();
        assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
        assert!(
            desc.contains("Trace ID: ") && desc.contains("Timestamp: 2026-"),
            "{desc}"
        );
        assert_eq!(
            reply.get_header("cache-control"),
            Some("no-store, no-cache")
        );
        body
    }

    fn sp_form<'a>(secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("client_id", AUTOMATION_APP),
            ("grant_type", "client_credentials"),
            ("client_info", "1"),
            ("client_secret", secret),
            ("scope", scope),
        ]
    }

    fn alice_form(scope: &str) -> Vec<(&str, &str)> {
        vec![
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("grant_type", "password"),
            ("client_info", "1"),
            (
                "claims",
                r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#,
            ),
            ("username", "alice@contosomsp.onmicrosoft.com"),
            ("password", "Alice-Pa55!"),
            ("scope", scope),
        ]
    }

    const ARM_SCOPE: &str = "https://management.azure.com/.default";
    const AZ_SCOPE: &str =
        "https://management.core.windows.net//.default offline_access openid profile";

    #[test]
    fn client_credentials_by_tenant_guid_and_domain() {
        for tenant in [
            CONTOSO,
            "contosomsp.onmicrosoft.com",
            "ContosoMSP.onmicrosoft.COM",
        ] {
            let path = format!("/{tenant}/oauth2/v2.0/token");
            let (status, body, reply) =
                call(&post(&path, &sp_form("msp-automation-secret", ARM_SCOPE)));
            assert_eq!(status, 200, "{tenant}: {body}");
            assert_eq!(body["token_type"], "Bearer");
            assert_eq!(body["expires_in"], json!(3599));
            assert_eq!(body["ext_expires_in"], json!(3599));
            assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
            assert_eq!(
                reply.get_header("cache-control"),
                Some("no-store, no-cache")
            );
            assert!(reply
                .get_header("content-type")
                .unwrap()
                .starts_with("application/json"));
            let c = verify_access_token(test_key(), body["access_token"].as_str().unwrap(), NOW)
                .unwrap();
            assert_eq!(c.aud, "https://management.azure.com");
            assert_eq!(
                (c.tid.as_str(), c.oid.as_str(), c.sub.as_str()),
                (CONTOSO, AUTOMATION_OID, AUTOMATION_OID)
            );
            assert_eq!(
                (c.appid.as_str(), c.idtyp.as_str()),
                (AUTOMATION_APP, "app")
            );
            assert_eq!(c.groups, [MSP_OPERATORS]);
        }
    }

    #[test]
    fn az_service_principal_login_with_cp1_claims() {
        let mut form = sp_form(
            "msp-automation-secret",
            "https://management.core.windows.net//.default",
        );
        form.push((
            "claims",
            r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#,
        ));
        let (status, body, _) = call(&post(&format!("/{CONTOSO}/oauth2/v2.0/token"), &form));
        assert_eq!(status, 200, "{body}");
        let c =
            verify_access_token(test_key(), body["access_token"].as_str().unwrap(), NOW).unwrap();
        assert_eq!(c.aud, "https://management.core.windows.net/");
    }

    #[test]
    fn msal_node_basic_auth_and_query_string() {
        let mut req = post(
            &format!("/{CONTOSO}/oauth2/v2.0/token?client-request-id=abc-123"),
            &[
                ("scope", "https://localhost:8443/.default"),
                ("grant_type", "client_credentials"),
                ("x-client-SKU", "msal.js.node"),
                ("client-request-id", "abc-123"),
            ],
        );
        let basic = STANDARD.encode(format!("{AUTOMATION_APP}:msp-automation-secret"));
        req.headers
            .push(("authorization".into(), format!("Basic {basic}")));
        let (status, body, reply) = call(&req);
        assert_eq!(status, 200, "{body}");
        assert_eq!(reply.get_header("client-request-id"), Some("abc-123"));
        let c =
            verify_access_token(test_key(), body["access_token"].as_str().unwrap(), NOW).unwrap();
        assert_eq!(c.aud, "https://localhost:8443");
    }

    #[test]
    fn client_credential_refusals() {
        let path = format!("/{CONTOSO}/oauth2/v2.0/token");
        let body = check_error(
            &post(&path, &sp_form("wrong", ARM_SCOPE)),
            401,
            "invalid_client",
            7000215,
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains(AUTOMATION_APP));
        // msp-automation is registered in Contoso MSP only
        let body = check_error(
            &post(
                &format!("/{FABRIKAM}/oauth2/v2.0/token"),
                &sp_form("msp-automation-secret", ARM_SCOPE),
            ),
            400,
            "unauthorized_client",
            700016,
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("directory 'Fabrikam'"));
        check_error(
            &post(
                "/organizations/oauth2/v2.0/token",
                &sp_form("msp-automation-secret", ARM_SCOPE),
            ),
            400,
            "invalid_request",
            50059,
        );
        check_error(
            &post(&path, &sp_form("", ARM_SCOPE)),
            401,
            "invalid_client",
            7000218,
        );
        check_error(
            &post(&path, &sp_form("msp-automation-secret", "openid profile")),
            400,
            "invalid_scope",
            1002012,
        );
        let no_scope: Vec<_> = sp_form("msp-automation-secret", "")
            .into_iter()
            .filter(|(k, _)| *k != "scope")
            .collect();
        check_error(&post(&path, &no_scope), 400, "invalid_request", 90014);
        let no_client: Vec<_> = sp_form("msp-automation-secret", ARM_SCOPE)
            .into_iter()
            .filter(|(k, _)| *k != "client_id")
            .collect();
        let body = check_error(&post(&path, &no_client), 400, "invalid_request", 900144);
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("'client_id'"));
        check_error(
            &post(
                &path,
                &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")],
            ),
            400,
            "unsupported_grant_type",
            70003,
        );
        check_error(
            &post(&path, &[("scope", ARM_SCOPE)]),
            400,
            "invalid_request",
            900144,
        );
        check_error(&get(&path), 400, "invalid_request", 900561);
    }

    #[test]
    fn unknown_tenant_is_aadsts90002() {
        let t = "99999999-0000-0000-0000-000000000000";
        let body = check_error(
            &post(
                &format!("/{t}/oauth2/v2.0/token"),
                &sp_form("msp-automation-secret", ARM_SCOPE),
            ),
            400,
            "invalid_request",
            90002,
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("Tenant '{t}' not found.")));
        let (status, body, _) = call(&get(&format!("/{t}/v2.0/.well-known/openid-configuration")));
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_tenant"))
        );
        assert_eq!(body["error_codes"], json!([90002]));
        check_error(
            &get("/nowhere.example/discovery/v2.0/keys"),
            400,
            "invalid_tenant",
            90002,
        );
    }

    #[test]
    fn alice_password_grant_via_organizations() {
        let (status, body, reply) = call(&post(
            "/organizations/oauth2/v2.0/token",
            &alice_form(AZ_SCOPE),
        ));
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            reply.get_header("cache-control"),
            Some("no-store, no-cache")
        );
        assert_eq!(
            body["scope"],
            "https://management.core.windows.net//.default"
        );
        assert_eq!(body["expires_in"], json!(3599));
        let c =
            verify_access_token(test_key(), body["access_token"].as_str().unwrap(), NOW).unwrap();
        assert_eq!(c.tid, CONTOSO);
        assert_eq!(c.aud, "https://management.core.windows.net/");
        assert_eq!(c.upn.as_deref(), Some("alice@contosomsp.onmicrosoft.com"));
        assert_eq!((c.idtyp.as_str(), c.oid.as_str()), ("user", ALICE_OID));
        assert_eq!(c.appid, AZURE_CLI_CLIENT_ID);
        assert!(
            c.groups.iter().any(|g| g == MSP_OPERATORS),
            "{:?}",
            c.groups
        );
        let id = verify_id_token(test_key(), body["id_token"].as_str().unwrap(), NOW).unwrap();
        assert_eq!(id.iss, format!("{BASE}/{CONTOSO}/v2.0"));
        assert_eq!(
            (id.aud.as_str(), id.tid.as_str(), id.oid.as_str()),
            (AZURE_CLI_CLIENT_ID, CONTOSO, ALICE_OID)
        );
        assert_eq!(
            id.preferred_username.as_deref(),
            Some("alice@contosomsp.onmicrosoft.com")
        );
        let ci: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(body["client_info"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(ci, json!({"uid": ALICE_OID, "utid": CONTOSO}));
        assert!(body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty()));
    }

    #[test]
    fn refresh_token_for_a_second_audience() {
        let (_, first, _) = call(&post(
            "/organizations/oauth2/v2.0/token",
            &alice_form(AZ_SCOPE),
        ));
        let rt = first["refresh_token"].as_str().unwrap();
        let form = [
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("client_info", "1"),
            ("refresh_token", rt),
            (
                "scope",
                "https://storage.azure.com/.default offline_access openid profile",
            ),
        ];
        // az's second step: per tenant, by GUID
        let (status, body, _) = call(&post(&format!("/{CONTOSO}/oauth2/v2.0/token"), &form));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "https://storage.azure.com/.default");
        let c =
            verify_access_token(test_key(), body["access_token"].as_str().unwrap(), NOW).unwrap();
        assert_eq!(
            (c.aud.as_str(), c.tid.as_str(), c.oid.as_str()),
            ("https://storage.azure.com", CONTOSO, ALICE_OID)
        );
        assert!(
            body["refresh_token"].is_string()
                && body["id_token"].is_string()
                && body["client_info"].is_string()
        );
        // alice has no account in Fabrikam: refreshing there is refused
        check_error(
            &post(&format!("/{FABRIKAM}/oauth2/v2.0/token"), &form),
            400,
            "invalid_grant",
            50020,
        );
        // bound to the client it was issued to
        let mut other = form;
        other[0].1 = "1950a258-227b-4e31-a9cf-717495945fc2";
        check_error(
            &post(&format!("/{CONTOSO}/oauth2/v2.0/token"), &other),
            400,
            "invalid_grant",
            70000,
        );
        let mut garbage = form;
        garbage[3].1 = "not-a-token";
        check_error(
            &post(&format!("/{CONTOSO}/oauth2/v2.0/token"), &garbage),
            400,
            "invalid_grant",
            9002313,
        );
        // an access token is not a refresh token
        let mut swapped = form;
        swapped[3].1 = first["access_token"].as_str().unwrap();
        check_error(
            &post(&format!("/{CONTOSO}/oauth2/v2.0/token"), &swapped),
            400,
            "invalid_grant",
            9002313,
        );
    }

    #[test]
    fn password_refusals() {
        let mut bad = alice_form(ARM_SCOPE);
        bad[5].1 = "wrong";
        check_error(
            &post("/organizations/oauth2/v2.0/token", &bad),
            400,
            "invalid_grant",
            50126,
        );
        let mut unknown = alice_form(ARM_SCOPE);
        unknown[4].1 = "carol@contosomsp.onmicrosoft.com";
        check_error(
            &post("/organizations/oauth2/v2.0/token", &unknown),
            400,
            "invalid_grant",
            50126,
        );
        let body = check_error(
            &post(
                "/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
                &alice_form(ARM_SCOPE),
            ),
            400,
            "invalid_grant",
            50020,
        );
        let desc = body["error_description"].as_str().unwrap();
        assert!(
            desc.contains("'alice@contosomsp.onmicrosoft.com'")
                && desc.contains("tenant 'Fabrikam'")
                && desc.contains("(Microsoft Azure CLI)"),
            "{desc}"
        );
        let no_user: Vec<_> = alice_form(ARM_SCOPE)
            .into_iter()
            .filter(|(k, _)| *k != "username")
            .collect();
        let body = check_error(
            &post("/organizations/oauth2/v2.0/token", &no_user),
            400,
            "invalid_request",
            900144,
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("'username'"));
        check_error(
            &post(
                "/organizations/oauth2/v2.0/token",
                &alice_form("openid profile offline_access"),
            ),
            400,
            "invalid_scope",
            70011,
        );
    }

    #[test]
    fn v1_token_endpoint_takes_resource() {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", AUTOMATION_APP),
            ("client_secret", "msp-automation-secret"),
            ("resource", "https://management.core.windows.net/"),
        ];
        let (status, body, _) = call(&post(&format!("/{CONTOSO}/oauth2/token"), &form));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["resource"], "https://management.core.windows.net/");
        assert_eq!(body["expires_in"], "3599");
        assert_eq!(body["expires_on"], (NOW + 3599).to_string());
        let c =
            verify_access_token(test_key(), body["access_token"].as_str().unwrap(), NOW).unwrap();
        assert_eq!(c.aud, "https://management.core.windows.net/");
        let no_resource = &form[..3];
        let body = check_error(
            &post(&format!("/{CONTOSO}/oauth2/token"), no_resource),
            400,
            "invalid_request",
            900144,
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("'resource'"));
    }

    #[test]
    fn openid_configuration_v2() {
        for (segment, issuer) in [
            (CONTOSO, format!("{BASE}/{CONTOSO}/v2.0")),
            (
                "contosomsp.onmicrosoft.com",
                format!("{BASE}/{CONTOSO}/v2.0"),
            ),
            ("organizations", format!("{BASE}/{{tenantid}}/v2.0")),
            ("common", format!("{BASE}/{{tenantid}}/v2.0")),
        ] {
            let (status, body, _) = call(&get(&format!(
                "/{segment}/v2.0/.well-known/openid-configuration"
            )));
            assert_eq!(status, 200);
            assert_eq!(body["issuer"], issuer.as_str());
            assert_eq!(
                body["token_endpoint"],
                format!("{BASE}/{segment}/oauth2/v2.0/token")
            );
            assert_eq!(
                body["authorization_endpoint"],
                format!("{BASE}/{segment}/oauth2/v2.0/authorize")
            );
            assert_eq!(
                body["jwks_uri"],
                format!("{BASE}/{segment}/discovery/v2.0/keys")
            );
            assert_eq!(
                body["id_token_signing_alg_values_supported"],
                json!(["RS256"])
            );
        }
        let (_, gov, _) = call(&get(
            "/woodgrove.onmicrosoft.us/v2.0/.well-known/openid-configuration",
        ));
        assert_eq!(gov["cloud_instance_name"], "microsoftonline.us");
    }

    #[test]
    fn openid_configuration_v1() {
        let (status, body, _) = call(&get(&format!(
            "/{CONTOSO}/.well-known/openid-configuration"
        )));
        assert_eq!(status, 200);
        assert_eq!(
            body["issuer"],
            format!("https://sts.windows.net/{CONTOSO}/")
        );
        assert_eq!(
            body["token_endpoint"],
            format!("{BASE}/{CONTOSO}/oauth2/token")
        );
        assert_eq!(body["jwks_uri"], format!("{BASE}/{CONTOSO}/discovery/keys"));
        let (_, common, _) = call(&get("/common/.well-known/openid-configuration"));
        assert_eq!(common["issuer"], "https://sts.windows.net/{tenantid}/");
    }

    #[test]
    fn keys_are_published() {
        for path in [
            format!("/{CONTOSO}/discovery/v2.0/keys"),
            format!("/{CONTOSO}/discovery/keys"),
            "/common/discovery/keys".to_string(),
            "/organizations/discovery/v2.0/keys/".to_string(),
        ] {
            let (status, body, _) = call(&get(&path));
            assert_eq!(status, 200, "{path}");
            assert_eq!(body["keys"][0]["kid"], test_key().kid.as_str(), "{path}");
            assert_eq!(body["keys"][0]["n"], test_key().n.as_str());
        }
    }

    #[test]
    fn user_realm() {
        let (status, body, _) = call(&get(
            "/common/userrealm/Alice@ContosoMSP.onmicrosoft.com?api-version=1.0",
        ));
        assert_eq!(status, 200);
        assert_eq!(body["account_type"], "Managed");
        assert_eq!(body["domain_name"], "contosomsp.onmicrosoft.com");
        assert_eq!(body["cloud_instance_name"], "microsoftonline.com");
        assert_eq!(body["cloud_audience_urn"], "urn:federation:MicrosoftOnline");
        assert_eq!(body["ver"], "1.0");
        let (_, unknown, _) = call(&get(
            "/common/userrealm/someone@example.com?api-version=1.0",
        ));
        assert_eq!(
            unknown,
            json!({"ver":"1.0","account_type":"Unknown","cloud_instance_name":"microsoftonline.com"})
        );
    }

    #[test]
    fn instance_discovery() {
        let q = "authorization_endpoint=https%3A%2F%2Flocalhost%3A8443%2Forganizations%2Foauth2%2Fv2.0%2Fauthorize&api-version=1.1";
        let (status, body, _) = call(&get(&format!("/common/discovery/instance?{q}")));
        assert_eq!(status, 200);
        assert_eq!(
            body["tenant_discovery_endpoint"],
            format!("{BASE}/organizations/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(body["metadata"][0]["aliases"], json!(["localhost:8443"]));
    }

    #[test]
    fn other_paths_are_not_identity_paths() {
        for path in [
            "/",
            "/subscriptions",
            "/tenants",
            "/metadata/endpoints",
            "/devstoreaccount1/c1/dir/hello.txt",
            "/secrets/s1/",
            "/subscriptions/x/resourcegroups/rg",
        ] {
            assert!(handle(&get(path), &ts()).is_none(), "{path}");
        }
        let (status, _, _) = call(&get(&format!("/{CONTOSO}/oauth2/v2.0/authorize")));
        assert_eq!(status, 404);
    }

    #[test]
    fn issue_for_any_principal() {
        let check = |who: &str, oid: &str, idtyp: &str| {
            let t = issue_for(
                dir(),
                test_key(),
                who,
                "https://management.azure.com/.default",
                NOW,
                600,
                BASE,
            )
            .unwrap();
            let c = verify_access_token(test_key(), &t, NOW).unwrap();
            assert_eq!(
                (c.oid.as_str(), c.idtyp.as_str(), c.aud.as_str()),
                (oid, idtyp, "https://management.azure.com"),
                "{who}"
            );
        };
        check("alice@contosomsp.onmicrosoft.com", ALICE_OID, "user");
        check("Alice", ALICE_OID, "user");
        check(ALICE_OID, ALICE_OID, "user");
        check(AUTOMATION_APP, AUTOMATION_OID, "app");
        check("msp-automation", AUTOMATION_OID, "app");
        check(
            "admin@fabrikam.onmicrosoft.com",
            "30000000-0000-0000-0000-000000002111",
            "user",
        );
        assert!(issue_for(
            dir(),
            test_key(),
            "MSP Operators",
            "https://management.azure.com",
            NOW,
            600,
            BASE
        )
        .unwrap_err()
        .contains("group"));
        assert!(issue_for(
            dir(),
            test_key(),
            "nobody",
            "https://management.azure.com",
            NOW,
            600,
            BASE
        )
        .is_err());
        let t = issue_for(
            dir(),
            test_key(),
            "bob@contosomsp.onmicrosoft.com",
            "https://vault.azure.net",
            NOW,
            600,
            BASE,
        )
        .unwrap();
        let c = verify_access_token(test_key(), &t, NOW).unwrap();
        assert_eq!(
            (c.tid.as_str(), c.aud.as_str()),
            (CONTOSO, "https://vault.azure.net")
        );
    }
}

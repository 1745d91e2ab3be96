//! Entra ID tokens as values: v1.0 access tokens (the claims ARM reads), v2.0 id tokens, stateless
//! refresh tokens, and their verification. Pure: no I/O, no clock, no randomness — `now` is passed
//! in and token ids (`uti`, `rh`, `puid`, pairwise `sub`) are derived from the claims by hashing.
//! Follows Microsoft's "access token claims reference" and "ID token claims reference" and the
//! claims measured in ../shared/CLIENTS.md §2.5.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::keys::SigningKey;
use crate::world::{Principal, PrincipalKind, Tenant};

/// The Azure CLI's public client id; azure-identity uses it too for user sign-ins.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// The directory role template id Entra puts in `wids` for every member user.
pub const DEFAULT_USER_WID: &str = "b79fbf4d-3ef9-4689-8143-76b194e85509";
/// Refresh tokens live 90 days, as Entra's do.
pub const REFRESH_TOKEN_LIFETIME_SECS: i64 = 90 * 24 * 3600;
/// Clock skew tolerated on `nbf` (not on `exp`).
pub const NBF_LEEWAY_SECS: i64 = 300;

/// The claims of a v1.0 access token, in Entra's order (registered claims first, then alphabetical).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    #[serde(default)]
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default)]
    pub appid: String,
    /// "0" public client, "1" client secret, "2" certificate.
    #[serde(default)]
    pub appidacr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Object ids of every group the principal belongs to (transitively). Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// "app" or "user".
    #[serde(default)]
    pub idtyp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipaddr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Empty only in a token this emulator did not issue; `verify_access_token` rejects it.
    #[serde(default)]
    pub oid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub puid: Option<String>,
    #[serde(default)]
    pub rh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub tid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default)]
    pub uti: String,
    pub ver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wids: Vec<String>,
}

impl AccessClaims {
    pub fn is_user(&self) -> bool {
        self.idtyp == "user"
    }

    /// The name ARM's messages use for the caller: the UPN for users, the app id otherwise.
    pub fn client_name(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.appid)
    }
}

/// A caller's token claims as the activity log shows them, decoded only when a record is written
/// (most requests write none): the payload of the request's verified token, claims built in place (a
/// managed identity's), or none (the platform, explain).
#[derive(Debug, Clone, Default)]
pub enum Claims {
    #[default]
    None,
    /// The token's payload segment (base64url JSON), copied from the request.
    Payload(std::sync::Arc<str>),
    Built(std::sync::Arc<Value>),
}

impl Claims {
    /// The payload of `token` (`header.payload.signature`), kept undecoded.
    pub fn of_token(token: &str) -> Claims {
        token
            .split('.')
            .nth(1)
            .map(|p| Claims::Payload(p.into()))
            .unwrap_or_default()
    }

    /// The claims as JSON (`null` when there are none).
    pub fn to_value(&self) -> Value {
        match self {
            Claims::None => Value::Null,
            Claims::Payload(p) => URL_SAFE_NO_PAD
                .decode(p.as_bytes())
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null),
            Claims::Built(v) => (**v).clone(),
        }
    }
}

/// The claims of a v2.0 id token (what MSAL, azure-identity and az read: CLIENTS.md §2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub oid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    pub rh: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
}

/// A refresh token's claims. Stateless: everything needed to redeem it travels inside, signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// Always 1: what tells a refresh token from an access or id token signed by the same key.
    pub lhe_rt: u8,
    pub iat: i64,
    pub exp: i64,
    pub oid: String,
    pub tid: String,
    pub client_id: String,
    pub uti: String,
}

/// Why a token was refused. Callers map these to their own envelopes (ARM 401 codes, OAuth errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url JSON parts, or not one of our token kinds.
    Malformed,
    /// Any `alg` other than RS256 (`none`, HS256, …): never accepted.
    UnsupportedAlgorithm,
    /// Unknown `kid`, or the signature does not verify.
    BadSignature,
    Expired {
        exp: i64,
        now: i64,
    },
    NotYetValid,
    MissingOid,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Malformed => write!(f, "the token is malformed"),
            TokenError::UnsupportedAlgorithm => {
                write!(f, "the token is not signed with RS256")
            }
            TokenError::BadSignature => write!(f, "the token signature is invalid"),
            TokenError::Expired { exp, now } => {
                write!(f, "the token expired at {exp} (now {now})")
            }
            TokenError::NotYetValid => write!(f, "the token is not valid yet"),
            TokenError::MissingOid => write!(f, "the token has no 'oid' claim"),
        }
    }
}

impl std::error::Error for TokenError {}

/// The v1.0 issuer ARM, Storage and Key Vault expect: `https://sts.windows.net/{tid}/`.
pub fn v1_issuer(tid: &str) -> String {
    format!("https://sts.windows.net/{tid}/")
}

/// The v2.0 issuer: `{base_url}/{tid}/v2.0` (azure-identity takes its authority from this host).
pub fn v2_issuer(base_url: &str, tid: &str) -> String {
    format!("{}/{tid}/v2.0", base_url.trim_end_matches('/'))
}

/// The access-token claims for `principal` signing in to `client_id`, for `audience`.
#[allow(clippy::too_many_arguments)]
pub fn access_claims(
    tenant: &Tenant,
    principal: &Principal,
    groups: &[String],
    audience: &str,
    client_id: &str,
    now: i64,
    lifetime_secs: i64,
) -> AccessClaims {
    let tid = tenant.id.clone();
    let oid = principal.object_id.clone();
    let mut c = AccessClaims {
        aud: audience.to_string(),
        iss: v1_issuer(&tid),
        iat: now,
        nbf: now,
        exp: now + lifetime_secs,
        groups: groups.to_vec(),
        rh: derived_rh(&tid, client_id),
        uti: derived_uti(&[audience, &oid, client_id, &tid], now),
        ver: "1.0".into(),
        ..Default::default()
    };
    if principal.kind == PrincipalKind::User {
        let (given, family) = split_name(&principal.display_name);
        c.acr = Some("1".into());
        c.amr = Some(vec!["pwd".into()]);
        c.appid = client_id.to_string();
        c.appidacr = "0".into();
        c.auth_time = Some(now);
        c.given_name = given;
        c.family_name = family;
        c.idtyp = "user".into();
        c.name = Some(principal.display_name.clone());
        c.puid = Some(derived_puid(&oid));
        c.scp = Some("user_impersonation".into());
        c.sub = pairwise_sub(&oid, client_id);
        c.unique_name = principal.user_principal_name.clone();
        c.upn = principal.user_principal_name.clone();
        c.wids = vec![DEFAULT_USER_WID.into()];
    } else {
        c.appid = principal
            .app_id
            .clone()
            .unwrap_or_else(|| client_id.to_string());
        c.appidacr = "1".into();
        c.idp = Some(v1_issuer(&tid));
        c.idtyp = "app".into();
        c.sub = oid.clone();
    }
    c.tid = tid;
    c.oid = oid;
    c
}

/// A signed v1.0 access token (RS256; header `typ`, `kid`, `x5t`).
#[allow(clippy::too_many_arguments)]
pub fn issue_access_token(
    key: &SigningKey,
    tenant: &Tenant,
    principal: &Principal,
    groups: &[String],
    audience: &str,
    client_id: &str,
    now: i64,
    lifetime_secs: i64,
) -> String {
    let claims = access_claims(
        tenant,
        principal,
        groups,
        audience,
        client_id,
        now,
        lifetime_secs,
    );
    sign(key, &claims)
}

/// A signed v2.0 id token for `principal` signing in to `client_id` (the token's `aud`).
pub fn issue_id_token(
    key: &SigningKey,
    base_url: &str,
    tenant: &Tenant,
    principal: &Principal,
    client_id: &str,
    now: i64,
    lifetime_secs: i64,
) -> String {
    let oid = &principal.object_id;
    let claims = IdClaims {
        aud: client_id.to_string(),
        iss: v2_issuer(base_url, &tenant.id),
        iat: now,
        nbf: now,
        exp: now + lifetime_secs,
        name: Some(principal.display_name.clone()),
        oid: oid.clone(),
        preferred_username: principal.user_principal_name.clone(),
        rh: derived_rh(&tenant.id, client_id),
        sub: pairwise_sub(oid, client_id),
        tid: tenant.id.clone(),
        uti: derived_uti(&["id", oid, client_id, &tenant.id], now),
        ver: "2.0".into(),
    };
    sign(key, &claims)
}

/// A refresh token for `oid` of tenant `tid`, valid 90 days. Needs no storage: it is signed.
pub fn issue_refresh_token(
    key: &SigningKey,
    tid: &str,
    oid: &str,
    client_id: &str,
    now: i64,
) -> String {
    let claims = RefreshClaims {
        lhe_rt: 1,
        iat: now,
        exp: now + REFRESH_TOKEN_LIFETIME_SECS,
        oid: oid.to_string(),
        tid: tid.to_string(),
        client_id: client_id.to_string(),
        uti: derived_uti(&["rt", oid, client_id, tid], now),
    };
    sign(key, &claims)
}

/// Sign any claims with the emulator's key (RS256, header `typ`, `kid`, `x5t`).
pub fn sign<T: Serialize>(key: &SigningKey, claims: &T) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    header.x5t = Some(key.x5t.clone());
    // The key was test-signed when it was loaded (`SigningKey::from_private`), and the claims
    // types serialize infallibly, so this cannot fail.
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("signing with a checked key")
}

/// MSAL's `client_info`: base64url (no padding) of `{"uid":oid,"utid":tid}`.
pub fn client_info(oid: &str, tid: &str) -> String {
    let v = serde_json::json!({"uid": oid, "utid": tid});
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The resource a v2 `scope` asks for: the first space-separated entry ending in `/.default`,
/// without that suffix (`openid`, `profile`, `offline_access` are ignored). az's
/// `https://management.core.windows.net//.default` gives `https://management.core.windows.net/`.
pub fn audience_from_scope(scope: &str) -> Option<String> {
    const SUFFIX: &str = "/.default";
    scope.split_whitespace().find_map(|s| {
        let cut = s.len().checked_sub(SUFFIX.len())?;
        let (resource, suffix) = (s.get(..cut)?, s.get(cut..)?);
        (suffix.eq_ignore_ascii_case(SUFFIX) && !resource.is_empty()).then(|| resource.to_string())
    })
}

/// Whether a token's `aud` is one of `accepted`, ignoring one trailing slash and ASCII case.
pub fn audience_matches(aud: &str, accepted: &[String]) -> bool {
    fn norm(s: &str) -> &str {
        s.strip_suffix('/').unwrap_or(s)
    }
    let aud = norm(aud);
    accepted.iter().any(|a| norm(a).eq_ignore_ascii_case(aud))
}

/// Check an access token issued by `key`: RS256 only, signature, `exp` (no leeway) and `nbf`
/// (5 minutes leeway) against `now`, and an `oid`. The audience is the caller's business
/// (`audience_matches`): ARM, Storage and Key Vault accept different ones.
pub fn verify_access_token(
    key: &SigningKey,
    token: &str,
    now: i64,
) -> Result<AccessClaims, TokenError> {
    let raw = verify_signed(key, token)?;
    // An id token or refresh token signed by the same key is not an access token.
    if raw.get("lhe_rt").is_some() || raw.get("ver").and_then(Value::as_str) != Some("1.0") {
        return Err(TokenError::Malformed);
    }
    let claims: AccessClaims = serde_json::from_value(raw).map_err(|_| TokenError::Malformed)?;
    check_times(claims.exp, claims.nbf, now)?;
    if claims.oid.is_empty() {
        return Err(TokenError::MissingOid);
    }
    Ok(claims)
}

/// Check an id token issued by `key` (same rules as access tokens).
pub fn verify_id_token(key: &SigningKey, token: &str, now: i64) -> Result<IdClaims, TokenError> {
    let raw = verify_signed(key, token)?;
    if raw.get("ver").and_then(Value::as_str) != Some("2.0") {
        return Err(TokenError::Malformed);
    }
    let claims: IdClaims = serde_json::from_value(raw).map_err(|_| TokenError::Malformed)?;
    check_times(claims.exp, claims.nbf, now)?;
    Ok(claims)
}

/// Check a refresh token issued by `key`.
pub fn verify_refresh_token(
    key: &SigningKey,
    token: &str,
    now: i64,
) -> Result<RefreshClaims, TokenError> {
    let raw = verify_signed(key, token)?;
    let claims: RefreshClaims = serde_json::from_value(raw).map_err(|_| TokenError::Malformed)?;
    if claims.lhe_rt != 1 {
        return Err(TokenError::Malformed);
    }
    check_times(claims.exp, claims.iat, now)?;
    if claims.oid.is_empty() {
        return Err(TokenError::MissingOid);
    }
    Ok(claims)
}

/// The header is read by hand first, so that `alg: none` and HMAC tokens are reported as such and
/// never reach a verifier; then jsonwebtoken checks the RS256 signature. No time or audience
/// checks here (jsonwebtoken would read the real clock).
pub fn verify_signed(key: &SigningKey, token: &str) -> Result<Value, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    // The signature part may be empty (`alg: none`); header and payload may not.
    if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
        return Err(TokenError::Malformed);
    }
    let header: Value = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        Some(_) => return Err(TokenError::UnsupportedAlgorithm),
        None => return Err(TokenError::Malformed),
    }
    if let Some(kid) = header.get("kid") {
        if kid.as_str() != Some(key.kid.as_str()) {
            return Err(TokenError::BadSignature);
        }
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::UnsupportedAlgorithm
                }
                _ => TokenError::Malformed,
            }
        })
}

/// The time checks of every token kind: expired at `exp`, not valid before `nbf` (with leeway).
pub fn check_times(exp: i64, nbf: i64, now: i64) -> Result<(), TokenError> {
    if now >= exp {
        return Err(TokenError::Expired { exp, now });
    }
    if nbf > now + NBF_LEEWAY_SECS {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// Decode a JWT's payload without any check. Only for tests and diagnostics, never for decisions.
pub fn decode_unverified<T: DeserializeOwned>(token: &str) -> Option<T> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn hash(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

/// Entra's `uti` is a 22-character token id; ours is derived from what makes the token unique.
fn derived_uti(parts: &[&str], now: i64) -> String {
    let now = now.to_string();
    let mut all = vec!["uti", now.as_str()];
    all.extend_from_slice(parts);
    URL_SAFE_NO_PAD.encode(&hash(&all)[..16])
}

/// Entra's `rh` is an opaque internal claim; stable per tenant and client here.
fn derived_rh(tid: &str, client_id: &str) -> String {
    format!(
        "0.A{}.",
        URL_SAFE_NO_PAD.encode(&hash(&["rh", tid, client_id])[..24])
    )
}

/// Entra's `puid` is 16 upper-case hex digits, stable per user.
fn derived_puid(oid: &str) -> String {
    hash(&["puid", &oid.to_ascii_lowercase()])[..8]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// For users Entra's `sub` is pairwise: unique per user and application (43 characters).
fn pairwise_sub(oid: &str, client_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(hash(&[
        "sub",
        &oid.to_ascii_lowercase(),
        &client_id.to_ascii_lowercase(),
    ]))
}

/// `given_name` and `family_name` from a display name: first word, then the rest.
fn split_name(display: &str) -> (Option<String>, Option<String>) {
    let mut it = display.trim().splitn(2, char::is_whitespace);
    let given = it.next().filter(|s| !s.is_empty()).map(str::to_string);
    let family = it
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    (given, family)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::tests::{other_key, test_key};

    const NOW: i64 = 1_780_000_000;
    const TID: &str = "10000000-0000-0000-0000-000000000001";

    fn tenant() -> Tenant {
        Tenant {
            id: TID.into(),
            display_name: "Contoso MSP".into(),
            default_domain: "contosomsp.onmicrosoft.com".into(),
            domains: vec!["contosomsp.onmicrosoft.com".into()],
            cloud: "AzureCloud".into(),
            country_code: "US".into(),
        }
    }

    fn alice() -> Principal {
        Principal {
            tenant_id: TID.into(),
            object_id: "30000000-0000-0000-0000-000000001111".into(),
            kind: PrincipalKind::User,
            display_name: "Alice Smith".into(),
            user_principal_name: Some("alice@contosomsp.onmicrosoft.com".into()),
            password: Some("Alice-Pa55!".into()),
            app_id: None,
            secret: None,
            member_of: vec![],
        }
    }

    fn automation() -> Principal {
        Principal {
            tenant_id: TID.into(),
            object_id: "30000000-0000-0000-0000-000000001121".into(),
            kind: PrincipalKind::ServicePrincipal,
            display_name: "msp-automation".into(),
            user_principal_name: None,
            password: None,
            app_id: Some("40000000-0000-0000-0000-000000001121".into()),
            secret: Some("msp-automation-secret".into()),
            member_of: vec![],
        }
    }

    const ARM: &str = "https://management.azure.com";

    fn user_token(now: i64, lifetime: i64) -> String {
        let groups = vec!["30000000-0000-0000-0000-000000001101".to_string()];
        issue_access_token(
            test_key(),
            &tenant(),
            &alice(),
            &groups,
            ARM,
            AZURE_CLI_CLIENT_ID,
            now,
            lifetime,
        )
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn user_round_trip() {
        let c = verify_access_token(test_key(), &user_token(NOW, 3600), NOW + 10).unwrap();
        assert_eq!(c.aud, ARM);
        assert_eq!(c.iss, format!("https://sts.windows.net/{TID}/"));
        assert_eq!((c.iat, c.nbf, c.exp), (NOW, NOW, NOW + 3600));
        assert_eq!(c.tid, TID);
        assert_eq!(c.oid, "30000000-0000-0000-0000-000000001111");
        assert_eq!(c.appid, AZURE_CLI_CLIENT_ID);
        assert_eq!(c.appidacr, "0");
        assert_eq!(c.idtyp, "user");
        assert!(c.is_user());
        assert_eq!(c.upn.as_deref(), Some("alice@contosomsp.onmicrosoft.com"));
        assert_eq!(c.unique_name, c.upn);
        assert_eq!(c.client_name(), "alice@contosomsp.onmicrosoft.com");
        assert_eq!(c.scp.as_deref(), Some("user_impersonation"));
        assert_eq!(c.given_name.as_deref(), Some("Alice"));
        assert_eq!(c.family_name.as_deref(), Some("Smith"));
        assert_eq!(c.groups, ["30000000-0000-0000-0000-000000001101"]);
        assert_eq!(c.wids, [DEFAULT_USER_WID]);
        assert_eq!(c.ver, "1.0");
        assert_eq!(c.sub.len(), 43);
        assert_ne!(c.sub, c.oid);
        assert_eq!(c.uti.len(), 22);
        assert_eq!(c.puid.as_ref().map(String::len), Some(16));
    }

    #[test]
    fn app_round_trip_and_header() {
        let t = issue_access_token(
            test_key(),
            &tenant(),
            &automation(),
            &[],
            "https://vault.azure.net",
            "40000000-0000-0000-0000-000000001121",
            NOW,
            3599,
        );
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some(test_key().kid.as_str()));
        assert_eq!(header.x5t.as_deref(), Some(test_key().x5t.as_str()));
        let c = verify_access_token(test_key(), &t, NOW).unwrap();
        assert_eq!(c.idtyp, "app");
        assert_eq!(c.appid, "40000000-0000-0000-0000-000000001121");
        assert_eq!(c.appidacr, "1");
        assert_eq!(c.sub, c.oid);
        assert_eq!(c.client_name(), "40000000-0000-0000-0000-000000001121");
        assert_eq!(
            c.idp.as_deref(),
            Some("https://sts.windows.net/10000000-0000-0000-0000-000000000001/")
        );
        let raw: Value = decode_unverified(&t).unwrap();
        for absent in ["upn", "scp", "groups", "name", "wids", "amr"] {
            assert!(raw.get(absent).is_none(), "{absent} in an app token");
        }
    }

    /// One row per way a token can be refused.
    #[test]
    fn refusals() {
        let good = user_token(NOW, 3600);
        let parts: Vec<&str> = good.split('.').collect();
        let mut payload: Value = decode_unverified(&good).unwrap();
        payload["oid"] = "30000000-0000-0000-0000-000000001112".into();
        let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
        let alg_none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg":"none","typ":"JWT"})),
            parts[1]
        );
        let hs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &decode_unverified::<Value>(&good).unwrap(),
            &jsonwebtoken::EncodingKey::from_secret(test_key().n.as_bytes()),
        )
        .unwrap();
        let forged = issue_access_token(
            other_key(),
            &tenant(),
            &alice(),
            &[],
            ARM,
            AZURE_CLI_CLIENT_ID,
            NOW,
            3600,
        );
        let forged_no_kid = {
            let p: Vec<&str> = forged.split('.').collect();
            let h = b64(&serde_json::json!({"alg":"RS256","typ":"JWT"}));
            format!("{h}.{}.{}", p[1], p[2])
        };
        let mut no_oid = decode_unverified::<Value>(&good).unwrap();
        no_oid.as_object_mut().unwrap().remove("oid");
        let no_oid = sign(test_key(), &no_oid);
        let future = user_token(NOW + NBF_LEEWAY_SECS + 1, 3600);
        let rt = issue_refresh_token(test_key(), TID, "x", AZURE_CLI_CLIENT_ID, NOW);
        let id = issue_id_token(
            test_key(),
            "https://localhost:8443",
            &tenant(),
            &alice(),
            AZURE_CLI_CLIENT_ID,
            NOW,
            3600,
        );

        let cases: Vec<(&str, String, i64, TokenError)> = vec![
            (
                "expired at exp",
                good.clone(),
                NOW + 3600,
                TokenError::Expired {
                    exp: NOW + 3600,
                    now: NOW + 3600,
                },
            ),
            (
                "expired later",
                good.clone(),
                NOW + 9999,
                TokenError::Expired {
                    exp: NOW + 3600,
                    now: NOW + 9999,
                },
            ),
            (
                "not yet valid",
                future.clone(),
                NOW,
                TokenError::NotYetValid,
            ),
            ("forged, other kid", forged, NOW, TokenError::BadSignature),
            (
                "forged, no kid",
                forged_no_kid,
                NOW,
                TokenError::BadSignature,
            ),
            ("tampered payload", tampered, NOW, TokenError::BadSignature),
            ("alg none", alg_none, NOW, TokenError::UnsupportedAlgorithm),
            (
                "hs256 keyed with the public key",
                hs256,
                NOW,
                TokenError::UnsupportedAlgorithm,
            ),
            ("empty", String::new(), NOW, TokenError::Malformed),
            ("garbage", "not a token".into(), NOW, TokenError::Malformed),
            (
                "three garbage parts",
                "a.b.c".into(),
                NOW,
                TokenError::Malformed,
            ),
            (
                "four parts",
                format!("{good}.x"),
                NOW,
                TokenError::Malformed,
            ),
            ("refresh token", rt, NOW, TokenError::Malformed),
            ("id token", id, NOW, TokenError::Malformed),
            ("no oid", no_oid, NOW, TokenError::MissingOid),
        ];
        for (name, token, now, want) in cases {
            assert_eq!(
                verify_access_token(test_key(), &token, now),
                Err(want),
                "{name}"
            );
        }
        // within the nbf leeway is fine
        assert!(verify_access_token(test_key(), &future, NOW + 1).is_ok());
    }

    #[test]
    fn id_token_claims() {
        let t = issue_id_token(
            test_key(),
            "https://localhost:8443/",
            &tenant(),
            &alice(),
            AZURE_CLI_CLIENT_ID,
            NOW,
            3600,
        );
        let c = verify_id_token(test_key(), &t, NOW).unwrap();
        assert_eq!(c.aud, AZURE_CLI_CLIENT_ID);
        assert_eq!(c.iss, format!("https://localhost:8443/{TID}/v2.0"));
        assert_eq!(
            c.preferred_username.as_deref(),
            Some("alice@contosomsp.onmicrosoft.com")
        );
        assert_eq!(c.oid, "30000000-0000-0000-0000-000000001111");
        assert_eq!(c.tid, TID);
        assert_eq!(c.ver, "2.0");
        assert_eq!(c.name.as_deref(), Some("Alice Smith"));
        // the same pairwise subject as the access token for the same client
        let a = verify_access_token(test_key(), &user_token(NOW, 60), NOW).unwrap();
        assert_eq!(c.sub, a.sub);
    }

    #[test]
    fn refresh_tokens() {
        let rt = issue_refresh_token(test_key(), TID, "oid-1", AZURE_CLI_CLIENT_ID, NOW);
        let c = verify_refresh_token(test_key(), &rt, NOW + 86_400).unwrap();
        assert_eq!(
            (c.lhe_rt, c.oid.as_str(), c.tid.as_str()),
            (1, "oid-1", TID)
        );
        assert_eq!(c.client_id, AZURE_CLI_CLIENT_ID);
        assert_eq!(c.exp, NOW + REFRESH_TOKEN_LIFETIME_SECS);
        let exp = NOW + REFRESH_TOKEN_LIFETIME_SECS;
        assert_eq!(
            verify_refresh_token(test_key(), &rt, exp),
            Err(TokenError::Expired { exp, now: exp })
        );
        assert_eq!(
            verify_refresh_token(test_key(), &user_token(NOW, 60), NOW),
            Err(TokenError::Malformed)
        );
        let forged = issue_refresh_token(other_key(), TID, "oid-1", AZURE_CLI_CLIENT_ID, NOW);
        assert_eq!(
            verify_refresh_token(test_key(), &forged, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn scopes_to_audiences() {
        let check = |scope: &str, want: Option<&str>| {
            assert_eq!(audience_from_scope(scope).as_deref(), want, "{scope:?}");
        };
        check(
            "https://management.azure.com/.default",
            Some("https://management.azure.com"),
        );
        check(
            "https://management.core.windows.net//.default",
            Some("https://management.core.windows.net/"),
        );
        check(
            "https://management.core.windows.net//.default offline_access openid profile",
            Some("https://management.core.windows.net/"),
        );
        check(
            "openid profile offline_access https://storage.azure.com/.default",
            Some("https://storage.azure.com"),
        );
        check(
            "https://localhost:8443/.default",
            Some("https://localhost:8443"),
        );
        check(
            "https://vault.azure.net/.DEFAULT",
            Some("https://vault.azure.net"),
        );
        check(
            "40000000-0000-0000-0000-000000001121/.default",
            Some("40000000-0000-0000-0000-000000001121"),
        );
        check("https://a/.default https://b/.default", Some("https://a"));
        check("openid profile offline_access", None);
        check("https://management.azure.com/user_impersonation", None);
        check("/.default", None);
        check("", None);
    }

    #[test]
    fn audiences_match_loosely() {
        let accepted: Vec<String> = [
            "https://management.azure.com/",
            "https://management.core.windows.net/",
        ]
        .map(String::from)
        .to_vec();
        let check =
            |aud: &str, want: bool| assert_eq!(audience_matches(aud, &accepted), want, "{aud}");
        check("https://management.azure.com", true);
        check("https://management.azure.com/", true);
        check("HTTPS://Management.Azure.com", true);
        check("https://management.core.windows.net/", true);
        check("https://management.core.windows.net", true);
        check("https://management.core.windows.net//", false);
        check("https://vault.azure.net", false);
        check("", false);
    }

    #[test]
    fn client_info_is_base64url_json() {
        let ci = client_info("oid-1", TID);
        let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&ci).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"uid":"oid-1","utid":TID}));
        assert!(!ci.contains('='));
    }

    #[test]
    fn names_split() {
        assert_eq!(split_name("Alice"), (Some("Alice".into()), None));
        assert_eq!(
            split_name("Ann Marie Lee"),
            (Some("Ann".into()), Some("Marie Lee".into()))
        );
        assert_eq!(split_name(""), (None, None));
    }
}

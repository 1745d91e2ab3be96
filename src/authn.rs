//! Authentication of bearer tokens for ARM and Graph: the accepted audiences, the token's checks with
//! ARM's 401 codes and messages (AuthenticationFailed, InvalidAuthenticationToken*, ExpiredAuthenticationToken),
//! the token's principal in the directory, and the cache of tokens whose signature checked out. Never
//! decides what a caller may do. Error texts: ARM-FACTS §2.4 (challenge) and §3.5 (codes and messages).

use foldhash::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::arm::error::ArmError;
use crate::auth::keys::SigningKey;
use crate::auth::token::{self, TokenError};
use crate::clock::arm_us_time;
use crate::facts::Snapshot;
use crate::providers::Caller;
use crate::wire::Req;

/// A token whose signature checked out: its claims, typed and as JSON (for the activity log).
#[derive(Clone)]
pub struct Verified {
    pub claims: Arc<token::AccessClaims>,
    pub json: Arc<Value>,
}

/// The verified-token cache's key: the tail of the token (its signature's last 256 bits).
fn cache_key(tok: &str) -> &str {
    let cut = tok.len().saturating_sub(43);
    tok.get(cut..).unwrap_or(tok)
}

/// Tokens whose signature has been verified, with their claims: the signature check is the most
/// expensive step of a request and a token is reused for an hour. Times are checked on every use.
#[derive(Default)]
pub struct TokenCache {
    verified: RwLock<HashMap<String, (String, Verified)>>,
}

impl TokenCache {
    /// Verify an access token, remembering tokens whose signature checked out. The map is keyed by
    /// the token's last 43 characters (256 bits of its signature: hashing a 1.5 KB token was 2% of a
    /// request) and a hit counts only when the whole token is the one remembered.
    pub fn verify(&self, key: &SigningKey, tok: &str, now: i64) -> Result<Verified, TokenError> {
        let slot = cache_key(tok);
        let hit = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(slot)
            .filter(|(t, _)| t.as_str() == tok)
            .map(|(_, v)| v.clone());
        if let Some(v) = hit {
            token::check_times(v.claims.exp, v.claims.nbf, now)?;
            return Ok(v);
        }
        let claims = token::verify_access_token(key, tok, now)?;
        let json = Arc::new(serde_json::to_value(&claims).unwrap_or(Value::Null));
        let v = Verified {
            claims: Arc::new(claims),
            json,
        };
        let mut m = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if m.len() >= 50_000 {
            m.clear();
        }
        m.insert(slot.to_string(), (tok.to_string(), v.clone()));
        Ok(v)
    }
}

/// Accepted ARM audiences: the public management endpoints and this emulator's own URL.
pub fn arm_audiences(base: &str) -> Vec<String> {
    vec![
        "https://management.core.windows.net/".into(),
        "https://management.azure.com/".into(),
        [base, "/"].concat(),
    ]
}

/// Authenticate a bearer token for ARM. `authority` is the tenant authority for the challenge.
pub fn authenticate(
    tokens: &TokenCache,
    key: &SigningKey,
    now: i64,
    snap: &Snapshot,
    req: &Req,
    authority: &str,
    audiences: &[String],
) -> Result<Caller, ArmError> {
    let header = req
        .header("authorization")
        .ok_or_else(|| ArmError::authentication_failed_missing(authority))?;
    let (scheme, tok) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || tok.trim().is_empty() {
        return Err(ArmError::authentication_failed_format(authority));
    }
    let verified = tokens.verify(key, tok.trim(), now).map_err(|e| match e {
        TokenError::Expired { exp, now } => {
            ArmError::expired_authentication_token(authority, &arm_us_time(exp), &arm_us_time(now))
        }
        TokenError::MissingOid => ArmError::invalid_authentication_token_no_oid(authority),
        TokenError::NotYetValid => {
            ArmError::invalid_authentication_token(authority, "The token is not valid yet.")
        }
        TokenError::UnsupportedAlgorithm => ArmError::invalid_authentication_token(
            authority,
            "The token is not signed with a supported algorithm.",
        ),
        TokenError::BadSignature => ArmError::invalid_authentication_token(
            authority,
            "The signature of the token could not be validated.",
        ),
        TokenError::Malformed => ArmError::invalid_authentication_token(authority, ""),
    })?;
    let claims = &verified.claims;
    if !token::audience_matches(&claims.aud, audiences) {
        return Err(ArmError::invalid_authentication_token_audience(
            authority,
            &claims.aud,
            audiences,
        ));
    }
    let principal = snap
        .dir
        .principal(&claims.oid)
        .filter(|p| p.tenant_id.eq_ignore_ascii_case(&claims.tid));
    let Some(principal) = principal else {
        return Err(ArmError::invalid_authentication_token(
            authority,
            "The principal of the token does not exist in its tenant.",
        ));
    };
    let claims_json = verified.json.clone();
    Ok(Caller {
        object_id: principal.object_id.to_lowercase(),
        tenant_id: principal.tenant_id.to_lowercase(),
        groups: snap.dir.groups_of(&principal.object_id).to_vec(),
        client_name: principal.client_name().to_string(),
        identity_type: if principal.kind == crate::world::PrincipalKind::User {
            "User"
        } else {
            "Application"
        },
        claims: claims_json,
        platform: false,
    })
}

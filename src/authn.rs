//! Authentication of bearer tokens for ARM and Graph: the accepted audiences, the token's checks with
//! ARM's 401 codes and messages (AuthenticationFailed, InvalidAuthenticationToken*, ExpiredAuthenticationToken),
//! the token's principal in the directory, and the cache of tokens whose signature checked out. Never
//! decides what a caller may do. Error texts: ARM-FACTS §2.4 (challenge) and §3.5 (codes and messages).

use foldhash::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::arm::error::ArmError;
use crate::auth::keys::SigningKey;
use crate::auth::token::{self, TokenError};
use crate::clock::arm_us_time;
use crate::facts::Snapshot;
use crate::providers::Caller;
use crate::wire::Req;

/// What the pipeline keeps of a token whose signature checked out: its principal and tenant (GUIDs as
/// 16 bytes each), audience and validity window — about 120 bytes with the map's share (issue 13
/// measured 5.5 KB per entry when the token and its claims, typed and as JSON, were kept;
/// `scripts/token-cache-size`). The activity log's claims come from the request's own token
/// (`token::Claims`), groups and names from the directory.
#[derive(Clone)]
pub struct Verified {
    /// The token's `oid` and `tid`; `None` when either is not a GUID (then it names no principal:
    /// every id of the world is one).
    pub ids: Option<(Uuid, Uuid)>,
    pub aud: Arc<str>,
    pub exp: i64,
    pub nbf: i64,
}

/// The cache's key: SHA-256 of the whole token. A hit skips the signature check, so the key binds
/// every byte the signature covers (a key of the signature alone would let a forged payload ride on
/// a real token's signature); with SHA-NI it costs about as much as hashing the token string did.
fn cache_key(tok: &str) -> [u8; 32] {
    Sha256::digest(tok.as_bytes()).into()
}

/// Tokens whose signature has been verified: the signature check is the most expensive step of a
/// request and a token is reused for an hour. Times are checked on every use.
#[derive(Default)]
pub struct TokenCache {
    verified: RwLock<Verifieds>,
}

#[derive(Default)]
struct Verifieds {
    by_key: HashMap<[u8; 32], Verified>,
    /// The token verified or found last, whole: a client sends one token for an hour, and comparing
    /// its bytes costs a small part of hashing them (SHA-256 of a token was 6% of the CPU of an
    /// authorized GET under load, `scripts/bench`). Equal bytes are the same token, so this binds
    /// every byte the signature covers, as the key does.
    last: Option<(Box<str>, Verified)>,
}

/// At most this many tokens are remembered; the map is emptied when full (about 6 MB then).
const CAPACITY: usize = 50_000;

/// A GUID in its hyphenated form (the only one the directory's ids have).
fn guid(s: &str) -> Option<Uuid> {
    (s.len() == 36).then(|| Uuid::try_parse(s).ok()).flatten()
}

impl TokenCache {
    /// Verify an access token, remembering tokens whose signature checked out.
    pub fn verify(&self, key: &SigningKey, tok: &str, now: i64) -> Result<Verified, TokenError> {
        let last = {
            let m = self.verified.read().unwrap_or_else(|p| p.into_inner());
            m.last
                .as_ref()
                .filter(|(t, _)| **t == *tok)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = last {
            token::check_times(v.exp, v.nbf, now)?;
            return Ok(v);
        }
        let slot = cache_key(tok);
        let hit = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
            .get(&slot)
            .cloned();
        if let Some(v) = hit {
            // Never waits: another thread holding the lock keeps its own `last`.
            if let Ok(mut m) = self.verified.try_write() {
                m.last = Some((tok.into(), v.clone()));
            }
            token::check_times(v.exp, v.nbf, now)?;
            return Ok(v);
        }
        let claims = token::verify_access_token(key, tok, now)?;
        let ids = guid(&claims.oid).zip(guid(&claims.tid));
        let v = Verified {
            ids,
            aud: claims.aud.into(),
            exp: claims.exp,
            nbf: claims.nbf,
        };
        let mut m = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if m.by_key.len() >= CAPACITY {
            m.by_key.clear();
            m.by_key.shrink_to_fit();
        }
        m.by_key.insert(slot, v.clone());
        m.last = Some((tok.into(), v.clone()));
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
    if !token::audience_matches(&verified.aud, audiences) {
        return Err(ArmError::invalid_authentication_token_audience(
            authority,
            &verified.aud,
            audiences,
        ));
    }
    // the directory's keys are lower-case GUIDs: written on the stack, no allocation per request
    let (mut oid_buf, mut tid_buf) = ([0u8; 36], [0u8; 36]);
    let principal = verified.ids.and_then(|(oid, tid)| {
        let tid = tid.hyphenated().encode_lower(&mut tid_buf);
        snap.dir
            .principal(oid.hyphenated().encode_lower(&mut oid_buf))
            .filter(|p| p.tenant_id.eq_ignore_ascii_case(tid))
    });
    let Some(principal) = principal else {
        return Err(ArmError::invalid_authentication_token(
            authority,
            "The principal of the token does not exist in its tenant.",
        ));
    };
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
        claims: token::Claims::of_token(tok.trim()),
        platform: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_remembered_token_is_matched_on_every_byte_and_its_times_checked_each_use() {
        let key = SigningKey::generate().unwrap();
        let claims = |oid: &str| token::AccessClaims {
            aud: "https://management.azure.com/".into(),
            oid: oid.into(),
            tid: "10000000-0000-0000-0000-000000000002".into(),
            ver: "1.0".into(),
            nbf: 1000,
            exp: 2000,
            ..Default::default()
        };
        let real = token::sign(&key, &claims("30000000-0000-0000-0000-000000002111"));
        // the real token's signature on another payload
        let mut parts: Vec<String> = real.split('.').map(str::to_string).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims("30000000-0000-0000-0000-000000002112")).unwrap());
        let forged = parts.join(".");
        let cache = TokenCache::default();
        let oid = |v: Verified| v.ids.unwrap().0.to_string();
        let other = token::sign(&key, &claims("30000000-0000-0000-0000-000000002112"));
        // verified; found as the last token; a forgery refused; another token made last; the first
        // found in the map, then as the last again
        let (a, b) = (
            Some("30000000-0000-0000-0000-000000002111"),
            Some("30000000-0000-0000-0000-000000002112"),
        );
        for (tok, want) in [
            (&real, a),
            (&real, a),
            (&forged, None),
            (&other, b),
            (&real, a),
            (&real, a),
            (&forged, None),
        ] {
            match (cache.verify(&key, tok, 1500), want) {
                (Ok(v), Some(w)) => assert_eq!(oid(v), w),
                (Err(TokenError::BadSignature), None) => {}
                (r, _) => panic!("{want:?}: {:?}", r.err()),
            }
        }
        assert!(matches!(
            cache.verify(&key, &real, 2500),
            Err(TokenError::Expired { .. })
        ));
        assert!(matches!(
            cache.verify(&key, &real, 100),
            Err(TokenError::NotYetValid)
        ));
    }
}

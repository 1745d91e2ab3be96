//! The token-signing key: one RSA-2048 key kept as `signing-key.pem` (PKCS#8) in the state directory
//! — for a fresh one the well-known development key shipped in `fixtures/` (like Azurite's well-known
//! account key; README "Cold start"), or a private key generated on request —, its key id and
//! thumbprint, and the JWKS document that publishes it. Never issues or checks tokens (`token` does).
//! JWK shape per RFC 7517 and Entra's `/discovery/v2.0/keys`.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// File name of the key inside the state directory.
pub const KEY_FILE: &str = "signing-key.pem";

/// The well-known development signing key (PKCS#8 PEM): every fresh state directory on loopback starts
/// with it, so start-up never waits for RSA key generation (120–460 ms). Anyone can sign tokens this
/// emulator accepts with it; nothing but this emulator trusts them (README "Cold start").
pub const WELL_KNOWN_PEM: &str = include_str!("../../fixtures/well-known-signing-key.pem");

/// Which key a state directory without one gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyChoice {
    /// The shipped development key (instant; fine on loopback).
    WellKnown,
    /// A private key generated now (and replacing the well-known key if the directory has it).
    Private,
}

/// An RS256 signing key with the identifiers Entra puts in token headers and in its JWKS.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id (`kid` header). Derived from the modulus, so it is stable for as long as the file is.
    pub kid: String,
    /// Thumbprint (`x5t` header). Entra uses the same value for `kid` and `x5t`; so do we.
    pub x5t: String,
    /// JWK modulus, base64url without padding.
    pub n: String,
    /// JWK public exponent, base64url without padding.
    pub e: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
}

impl fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Read `dir/signing-key.pem` if there is one; never creates it.
    pub fn load(dir: &Path) -> io::Result<Option<SigningKey>> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => SigningKey::from_pem(&pem)
                .map(Some)
                .map_err(|e| bad_file(&path, &e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Read `dir/signing-key.pem`, or generate a new key and write it there (mode 0600 on unix).
    pub fn load_or_create(dir: &Path) -> io::Result<SigningKey> {
        SigningKey::load_or_choose(dir, KeyChoice::Private)
    }

    /// Read `dir/signing-key.pem`; a directory without one gets the key `choice` names, written there
    /// (mode 0600 on unix) so the directory keeps it. `Private` also replaces the well-known key.
    pub fn load_or_choose(dir: &Path, choice: KeyChoice) -> io::Result<SigningKey> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) if choice == KeyChoice::Private && pem.trim() == WELL_KNOWN_PEM.trim() => {
                std::fs::remove_file(&path)?;
            }
            Ok(pem) => return SigningKey::from_pem(&pem).map_err(|e| bad_file(&path, &e)),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        std::fs::create_dir_all(dir)?;
        let (pem, key) = match choice {
            KeyChoice::WellKnown => (WELL_KNOWN_PEM.to_string(), SigningKey::well_known()?),
            KeyChoice::Private => {
                let private = new_private_key()?;
                let pem = private
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| io::Error::other(format!("cannot encode the signing key: {e}")))?;
                (pem.to_string(), SigningKey::from_private(&private)?)
            }
        };
        match create_private_file(&path) {
            Ok(mut f) => {
                f.write_all(pem.as_bytes())?;
                if choice == KeyChoice::Private {
                    f.sync_all()?;
                }
                Ok(key)
            }
            // Another process wrote the key first: use that one, so both sign with the same key.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pem = std::fs::read_to_string(&path)?;
                SigningKey::from_pem(&pem).map_err(|e| bad_file(&path, &e))
            }
            Err(e) => Err(e),
        }
    }

    /// The well-known development key.
    pub fn well_known() -> io::Result<SigningKey> {
        SigningKey::from_pem(WELL_KNOWN_PEM).map_err(io::Error::other)
    }

    /// Whether this is the well-known development key.
    pub fn is_well_known(&self) -> bool {
        static KID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        KID.get_or_init(|| SigningKey::well_known().ok().map(|k| k.kid))
            .as_deref()
            == Some(self.kid.as_str())
    }

    /// A fresh key that lives only in memory (tests).
    pub fn generate() -> io::Result<SigningKey> {
        SigningKey::from_private(&new_private_key()?)
    }

    /// A key from PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        SigningKey::from_private(&private).map_err(|e| e.to_string())
    }

    fn from_private(private: &RsaPrivateKey) -> io::Result<SigningKey> {
        // ring (inside jsonwebtoken) signs with a PKCS#1 DER private key.
        let der = private
            .to_pkcs1_der()
            .map_err(|e| io::Error::other(format!("cannot encode the signing key: {e}")))?;
        let n = private.n().to_bytes_be();
        let e = private.e().to_bytes_be();
        let digest = Sha256::digest(&n);
        // 20 bytes, like the SHA-1 thumbprints Entra publishes: 27 base64url characters.
        let kid = URL_SAFE_NO_PAD.encode(&digest[..20]);
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        // Sign once now, so that signing a token later cannot fail (`token::sign` relies on it).
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &json!({}), &encoding)
            .map_err(|e| io::Error::other(format!("the signing key cannot sign: {e}")))?;
        Ok(SigningKey {
            x5t: kid.clone(),
            kid,
            n: URL_SAFE_NO_PAD.encode(&n),
            e: URL_SAFE_NO_PAD.encode(&e),
            encoding,
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
        })
    }

    /// The JWKS document served at `/{tenant}/discovery/v2.0/keys`.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.x5t,
            "n": self.n,
            "e": self.e,
            "alg": "RS256",
        }]})
    }
}

fn new_private_key() -> io::Result<RsaPrivateKey> {
    RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| io::Error::other(format!("cannot generate an RSA key: {e}")))
}

fn bad_file(path: &Path, e: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is not a PKCS#8 RSA private key ({e}); delete it to get a new key",
            path.display()
        ),
    )
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One generated key per test binary: RSA generation is slow.
    pub(crate) fn test_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate().expect("generate key"))
    }

    /// A second, unrelated key, for forged-token tests.
    pub(crate) fn other_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate().expect("generate key"))
    }

    #[test]
    fn jwks_publishes_the_public_parts() {
        let k = test_key();
        let j = k.jwks();
        let jwk = &j["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], k.kid.as_str());
        assert_eq!(jwk["x5t"], k.x5t.as_str());
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(k.kid.len(), 27);
        // 2048-bit modulus = 256 bytes = 342 base64url characters.
        assert_eq!(k.n.len(), 342);
        assert!(!format!("{k:?}").contains(&k.n));
    }

    #[test]
    fn a_fresh_dir_gets_the_well_known_key_and_private_replaces_it() {
        let dir = std::env::temp_dir().join(format!("lhe-keys-{}", uuid::Uuid::new_v4()));
        let a = SigningKey::load_or_choose(&dir, KeyChoice::WellKnown).expect("well-known");
        assert!(a.is_well_known());
        assert_eq!(
            std::fs::read_to_string(dir.join(KEY_FILE)).unwrap(),
            WELL_KNOWN_PEM,
            "the directory keeps it"
        );
        let b = SigningKey::load_or_choose(&dir, KeyChoice::Private).expect("private");
        assert!(!b.is_well_known());
        // a directory with its own key keeps it, whatever the choice
        let c = SigningKey::load_or_choose(&dir, KeyChoice::WellKnown).expect("kept");
        assert_eq!(c.kid, b.kid);
        assert!(!test_key().is_well_known());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_file_is_written_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("lhe-keys-{}", uuid::Uuid::new_v4()));
        let a = SigningKey::load_or_create(&dir).expect("create");
        let b = SigningKey::load_or_create(&dir).expect("load");
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.n, b.n);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.join(KEY_FILE), "not a key").unwrap();
        let err = SigningKey::load_or_create(&dir).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

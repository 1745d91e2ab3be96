//! TLS material: a local CA and a server certificate made with rcgen on first start and kept in the
//! state dir (the CA key is reused so a trusted ca.pem stays valid when the server certificate is
//! re-issued for new names), or the user's own `--cert/--key`. For CONNECT tunnels (`server`), a
//! resolver mints a certificate per host-style data-plane name (`crate::hosts`) with the same CA, on
//! demand, cached. rustls only.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

pub struct TlsMaterial {
    pub config: Arc<rustls::ServerConfig>,
    /// For TLS inside a CONNECT tunnel: certificates minted per SNI name by the local CA (None with
    /// `--cert/--key`, when there is no CA key to sign with).
    pub tunnel: Option<Arc<rustls::ServerConfig>>,
    /// The CA certificate clients should trust (PEM).
    pub ca_pem: String,
    pub ca_path: std::path::PathBuf,
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn ca_params() -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err("CA parameters"))?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "lighthouse-emulator local CA");
    p.distinguished_name
        .push(DnType::OrganizationName, "lighthouse-emulator");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// Load or create the CA key in the state dir: (key, certificate, the PEM clients trust).
fn load_ca(state_dir: &Path) -> Result<(KeyPair, rcgen::Certificate, String), String> {
    fs::create_dir_all(state_dir).map_err(err("creating the state dir"))?;
    let ca_key_path = state_dir.join("ca-key.pem");
    let ca_path = state_dir.join("ca.pem");
    let ca_key = match fs::read_to_string(&ca_key_path) {
        Ok(pem) => KeyPair::from_pem(&pem).map_err(err("reading ca-key.pem"))?,
        Err(_) => {
            let k = KeyPair::generate().map_err(err("generating the CA key"))?;
            write_private(&ca_key_path, &k.serialize_pem())?;
            k
        }
    };
    // Re-signing the same CA name with the same key keeps chains valid for an existing ca.pem.
    let ca_cert = ca_params()?
        .self_signed(&ca_key)
        .map_err(err("signing the CA"))?;
    let ca_pem = match fs::read_to_string(&ca_path) {
        Ok(p) => p,
        Err(_) => {
            let p = ca_cert.pem();
            fs::write(&ca_path, &p).map_err(err("writing ca.pem"))?;
            p
        }
    };
    Ok((ca_key, ca_cert, ca_pem))
}

/// Load or create the CA and a server certificate for `names` (localhost, 127.0.0.1, ::1 plus extras).
pub fn local_ca(
    state_dir: &Path,
    extra_names: &[String],
) -> Result<(String, String, String), String> {
    let (ca_key, ca_cert, ca_pem) = load_ca(state_dir)?;
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for n in extra_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let names_path = state_dir.join("server-names.txt");
    let cert_path = state_dir.join("server.pem");
    let key_path = state_dir.join("server-key.pem");
    let wanted = names.join("\n");
    if fs::read_to_string(&names_path).ok().as_deref() == Some(wanted.as_str()) {
        if let (Ok(c), Ok(k)) = (
            fs::read_to_string(&cert_path),
            fs::read_to_string(&key_path),
        ) {
            return Ok((c, k, ca_pem));
        }
    }
    let key = KeyPair::generate().map_err(err("generating the server key"))?;
    let mut p = CertificateParams::new(names.clone()).map_err(err("server certificate names"))?;
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let cert = p
        .signed_by(&key, &ca_cert, &ca_key)
        .map_err(err("signing the server certificate"))?;
    let (c, k) = (cert.pem(), key.serialize_pem());
    fs::write(&cert_path, &c).map_err(err("writing server.pem"))?;
    write_private(&key_path, &k)?;
    fs::write(&names_path, wanted).map_err(err("writing server-names.txt"))?;
    Ok((c, k, ca_pem))
}

fn write_private(path: &Path, pem: &str) -> Result<(), String> {
    fs::write(path, pem).map_err(err("writing a private key"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// Build the rustls server configuration (HTTP/2 and HTTP/1.1 by ALPN).
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(err("reading the certificate"))?;
    if certs.is_empty() {
        return Err("the certificate file holds no certificate".into());
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(err("reading the private key"))?
        .ok_or("the key file holds no private key")?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(err("TLS versions"))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(err("the certificate and key"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The TLS material for a run: own files when given, else the local CA in the state dir.
pub fn material(
    state_dir: &Path,
    extra_names: &[String],
    own: Option<(&Path, &Path)>,
) -> Result<TlsMaterial, String> {
    let ca_path = state_dir.join("ca.pem");
    let tunnel = match own {
        Some(_) => None,
        None => {
            let (ca_key, ca_cert, _) = load_ca(state_dir)?;
            Some(tunnel_config(Minter {
                ca_key,
                ca_cert,
                cache: Default::default(),
            })?)
        }
    };
    let (cert, key, ca_pem) = match own {
        Some((c, k)) => {
            let cert =
                fs::read_to_string(c).map_err(|e| format!("reading {}: {e}", c.display()))?;
            let key = fs::read_to_string(k).map_err(|e| format!("reading {}: {e}", k.display()))?;
            (cert.clone(), key, cert)
        }
        None => local_ca(state_dir, extra_names)?,
    };
    Ok(TlsMaterial {
        config: server_config(&cert, &key)?,
        tunnel,
        ca_pem,
        ca_path: if own.is_some() {
            own.map(|(c, _)| c.to_path_buf()).unwrap_or_default()
        } else {
            ca_path
        },
    })
}

/// Certificates for host-style names, signed by the local CA when a tunnel's TLS handshake names
/// them (SNI); only names `crate::hosts::hosted` recognises. Cached per name (a few per world).
struct Minter {
    ca_key: KeyPair,
    ca_cert: rcgen::Certificate,
    cache: std::sync::Mutex<std::collections::HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minter")
    }
}

impl Minter {
    fn mint(&self, name: &str) -> Result<Arc<CertifiedKey>, String> {
        let key = KeyPair::generate().map_err(err("generating a key"))?;
        // the emulator itself: every loopback name (a client sends no SNI for an IP address)
        let names: Vec<String> = if name == "localhost" {
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
        } else {
            vec![name.to_string()]
        };
        let mut p = CertificateParams::new(names).map_err(err("certificate names"))?;
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = p
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .map_err(err("signing a certificate"))?;
        let der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let signer = rustls::crypto::ring::sign::any_supported_type(&der)
            .map_err(err("loading a minted key"))?;
        Ok(Arc::new(CertifiedKey::new(
            vec![cert.der().clone()],
            signer,
        )))
    }
}

impl ResolvesServerCert for Minter {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello
            .server_name()
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        let name = match crate::hosts::hosted(&name)? {
            crate::hosts::Hosted::Local => "localhost".to_string(),
            _ => name,
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(&name) {
            return Some(c.clone());
        }
        match self.mint(&name) {
            Ok(c) => {
                if cache.len() >= 1024 {
                    cache.clear();
                }
                cache.insert(name, c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, name = %name, "could not mint a tunnel certificate");
                None
            }
        }
    }
}

fn tunnel_config(m: Minter) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(err("TLS versions"))?
    .with_no_client_auth()
    .with_cert_resolver(Arc::new(m));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

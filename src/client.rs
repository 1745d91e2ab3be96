//! The emulator's outgoing HTTPS client: one request to a local emulator over rustls, trusting only
//! the CA it is given, with a timeout. Used by the `token` subcommand to ask the running server; an
//! edge module (it does network I/O), never used by the behaviour layer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing listens there (connection refused, or no answer in time).
    Unreachable(String),
    /// Something answers, but its certificate is not signed by the CA we trust.
    UntrustedCertificate(String),
    /// Anything else (bad CA file, protocol error).
    Other(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(m)
            | ClientError::UntrustedCertificate(m)
            | ClientError::Other(m) => f.write_str(m),
        }
    }
}

/// `method https://{host}:{port}{path}` with a JSON body, trusting only `ca_pem`; the status and body.
pub async fn request(
    host: &str,
    port: u16,
    ca_pem: &[u8],
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
        let cert = cert.map_err(|e| ClientError::Other(format!("reading the CA: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| ClientError::Other(format!("reading the CA: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ClientError::Other(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| ClientError::Other(format!("'{host}': {e}")))?;
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| ClientError::Unreachable(format!("https://{host}:{port}: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| {
                let bad_cert = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
                if bad_cert {
                    ClientError::UntrustedCertificate(format!("https://{host}:{port}: {e}"))
                } else {
                    ClientError::Other(format!("https://{host}:{port}: {e}"))
                }
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("{host}:{port}"))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let exchange = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| ClientError::Other(e.to_string()))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Other(e.to_string()))?
                .to_bytes();
            Ok((status, bytes.to_vec()))
        };
        // the connection is driven here, beside the exchange, rather than by a spawned task
        tokio::select! {
            r = exchange => r,
            c = conn => Err(ClientError::Other(match c {
                Ok(()) => "the connection closed before the answer".to_string(),
                Err(e) => e.to_string(),
            })),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| {
            ClientError::Unreachable(format!("https://{host}:{port}: no answer in 10 s"))
        })?
}

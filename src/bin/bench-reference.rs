//! `bench-reference`: a plain hyper + tokio-rustls HTTPS hello-world with the emulator's TLS setup
//! (rustls ring provider, ALPN h2 + http/1.1, hyper-util auto builder, rcgen certificates made at
//! start). It answers every request 200 with a ~250-byte JSON body; `scripts/bench` measures the
//! emulator against it.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// About the size and shape of the emulator's answer to a resource group GET.
const BODY: &str = r#"{"id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-reference","name":"rg-reference","type":"Microsoft.Resources/resourceGroups","location":"westeurope","tags":{"purpose":"benchmark"},"properties":{"provisioningState":"Succeeded"}}"#;

#[derive(Debug, Parser)]
#[command(
    name = "bench-reference",
    about = "HTTPS hello-world reference for scripts/bench"
)]
struct Args {
    /// The port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the CA certificate (PEM) that signed the server certificate here.
    #[arg(long)]
    ca_out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        match run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// A CA and a server certificate for localhost, 127.0.0.1 and ::1 signed by it (as the emulator does).
fn tls_config() -> Result<(Arc<rustls::ServerConfig>, String), String> {
    let e = |what: &'static str| move |err: rcgen::Error| format!("{what}: {err}");
    let ca_key = KeyPair::generate().map_err(e("CA key"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e("CA parameters"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "bench-reference CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(e("CA certificate"))?;
    let key = KeyPair::generate().map_err(e("server key"))?;
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let mut p = CertificateParams::new(names).map_err(e("server parameters"))?;
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = p
        .signed_by(&key, &ca_cert, &ca_key)
        .map_err(e("server certificate"))?;
    let certs = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS versions: {e}"))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("the certificate and key: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), ca_cert.pem()))
}

async fn run(args: Args) -> Result<(), String> {
    let (tls, ca_pem) = tls_config()?;
    if let Some(path) = &args.ca_out {
        std::fs::write(path, &ca_pem).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    // Like the emulator with `--bind localhost`: 127.0.0.1 picks the port, ::1 follows if it can.
    let v4 = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{}: {e}", args.port))?;
    let port = v4.local_addr().map_err(|e| e.to_string())?.port();
    let mut listeners = vec![v4];
    if let Ok(v6) = TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)).await
    {
        listeners.push(v6);
    }
    for l in listeners {
        tokio::spawn(serve(l, tls.clone()));
    }
    println!("listening on https://localhost:{port}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                let mut r = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
                );
                Ok::<_, Infallible>(r)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

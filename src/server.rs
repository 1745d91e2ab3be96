//! The network edge: TCP listeners, TLS handshakes and hyper connections (HTTP/1.1 and HTTP/2), turning
//! hyper requests into `Req` values for `dispatch` and `Reply` values back; plain-HTTP connections go
//! to the CONNECT proxy (`proxy`). The only module that spawns tasks. Bodies are capped before they are buffered.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::arm::error::ArmError;
use crate::dispatch::{self, App};
use crate::wire::{Reply, Req};

/// Accept connections forever on `listener`: TLS (the first byte is a handshake record, 0x16), or
/// plain HTTP for the CONNECT proxy (`proxy`), whose tunnels get TLS with minted certificates.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    tunnel: Option<Arc<rustls::ServerConfig>>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let tunnel = tunnel.map(TlsAcceptor::from);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    loop {
        let (tcp, _peer): (tokio::net::TcpStream, SocketAddr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tunnel = tunnel.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            if !matches!(tcp.peek(&mut first).await, Ok(1)) {
                return;
            }
            if first[0] == 0x16 {
                return serve_tls(app, tcp, acceptor, port).await;
            }
            let Some(tcp) = crate::proxy::accept(&app, tcp, port, tunnel.is_some()).await else {
                return;
            };
            if let Some(t) = tunnel {
                serve_tls(app, tcp, t, port).await;
            }
        });
    }
}

/// TLS, then HTTP/1.1 or HTTP/2 (by ALPN) on one connection.
async fn serve_tls(app: Arc<App>, tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, port: u16) {
    let stream = match acceptor.accept(tcp).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
    };
    let svc = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(respond(&app, req, port).await) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

async fn respond(app: &App, req: Request<Incoming>, port: u16) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Blob uploads are larger than ARM bodies; ARM's own limit is applied in dispatch.
    let cap = app.config.max_body.max(64 * 1024 * 1024);
    let body = match Limited::new(body, cap).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            let e = ArmError::request_entity_too_large(cap);
            return to_response(dispatch::error_reply(&e), false);
        }
    };
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| format!("localhost:{port}"));
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let raw_path = parts.uri.path();
    let path = if raw_path.contains('%') {
        percent_encoding::percent_decode_str(raw_path)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        raw_path.to_string()
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let r = Req {
        method: parts.method.as_str().to_string(),
        path,
        query: Req::parse_query(&raw_query),
        raw_query,
        headers,
        body,
        host,
        port,
    };
    let head = r.method == "HEAD";
    to_response(dispatch::handle(app, &r), head)
}

/// Header lines every ARM answer carries with the same value, parsed once: validating them byte by
/// byte for each response was most of `to_response`'s cost (callgrind).
const CONSTANT_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("pragma", "no-cache"),
    ("expires", "-1"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-ms-ratelimit-remaining-subscription-reads", "249"),
    ("x-ms-ratelimit-remaining-subscription-global-reads", "3749"),
    ("x-ms-ratelimit-remaining-subscription-writes", "199"),
    (
        "x-ms-ratelimit-remaining-subscription-global-writes",
        "2999",
    ),
    ("x-ms-ratelimit-remaining-subscription-deletes", "199"),
    (
        "x-ms-ratelimit-remaining-subscription-global-deletes",
        "2999",
    ),
];

type Parsed = (hyper::header::HeaderName, hyper::header::HeaderValue);

fn constant_header(name: &str, value: &str) -> Option<Parsed> {
    static PARSED: std::sync::LazyLock<Vec<Option<Parsed>>> = std::sync::LazyLock::new(|| {
        CONSTANT_HEADERS
            .iter()
            .map(|(n, v)| {
                Some((
                    hyper::header::HeaderName::from_bytes(n.as_bytes()).ok()?,
                    hyper::header::HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect()
    });
    let i = CONSTANT_HEADERS
        .iter()
        .position(|(n, v)| n.len() == name.len() && *v == value && *n == name)?;
    PARSED.get(i).cloned().flatten()
}

fn to_response(reply: Reply, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(reply.body)
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.reserve(reply.headers.len());
    for (k, v) in reply.headers {
        if let Some((name, value)) = constant_header(&k, &v) {
            headers.append(name, value);
            continue;
        }
        let name = hyper::header::HeaderName::from_bytes(k.as_bytes());
        let value = match v {
            std::borrow::Cow::Borrowed(s) => {
                hyper::header::HeaderValue::from_maybe_shared(Bytes::from_static(s.as_bytes()))
            }
            std::borrow::Cow::Owned(s) => {
                hyper::header::HeaderValue::from_maybe_shared(Bytes::from(s))
            }
        };
        let (Ok(name), Ok(value)) = (name, value) else {
            tracing::warn!(header = %k, "a response header that HTTP cannot carry was dropped");
            continue;
        };
        headers.append(name, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_header_parses_and_others_pass_through() {
        for (n, v) in CONSTANT_HEADERS {
            let (name, value) = constant_header(n, v).expect(n);
            assert_eq!(name.as_str(), *n);
            assert_eq!(value.to_str().unwrap(), *v);
        }
        assert!(constant_header("cache-control", "no-store").is_none());
        let reply = Reply::json_bytes(200, b"{}".to_vec())
            .header("cache-control", "no-cache")
            .header("x-ms-request-id", "abc".to_string())
            .header("bad header", "x")
            .header("x-bad-value", "a\nb");
        let resp = to_response(reply, false);
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/json; charset=utf-8");
        assert_eq!(h["cache-control"], "no-cache");
        assert_eq!(h["x-ms-request-id"], "abc");
        assert_eq!(h.len(), 3, "{h:?}");
    }
}

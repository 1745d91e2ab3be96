//! The network edge: TCP listeners, TLS handshakes and hyper connections (HTTP/1.1 and HTTP/2), turning
//! hyper requests into `Req` values for `dispatch` and `Reply` values back; plain-HTTP connections go
//! to the CONNECT proxy (`proxy`). The only module that spawns tasks. Bodies are capped before they are buffered.
//! Nobody holds a connection for free: a connection limit (accepting waits for a free slot), a deadline for
//! the first byte and the TLS handshake, hyper's header-read timeout, and an idle timeout; accept errors
//! (the open-file limit) back off and are logged once per interval with a count.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::arm::error::ArmError;
use crate::dispatch;
use crate::wire::{Reply, Req};

/// Connections served at once by default: well under the usual open-file limit (1 024), so the
/// process keeps descriptors for its store and logs.
pub const DEFAULT_MAX_CONNECTIONS: usize = 768;
/// The default of `--client-timeout`: a request's headers must arrive within it (hyper's header-read
/// timeout, which also bounds a keep-alive wait); the first byte and the TLS handshake get at most 10 s of
/// it; a connection with no bytes either way for four times it (HTTP/2 included) is closed.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What every listener shares: the connection slots and the client timeouts.
#[derive(Clone)]
pub struct Limits {
    slots: Arc<Semaphore>,
    handshake: Duration,
    header_read: Duration,
    idle: Duration,
}

impl Limits {
    pub fn new(max_connections: usize, client_timeout: Duration) -> Limits {
        let t = client_timeout.max(Duration::from_secs(1));
        Limits {
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            handshake: t.min(Duration::from_secs(10)),
            header_read: t,
            idle: t * 4,
        }
    }
}

/// Accept connections forever on `listener`: TLS (the first byte is a handshake record, 0x16), or
/// plain HTTP for the CONNECT proxy (`proxy`), whose tunnels get TLS with minted certificates.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    tunnel: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
) {
    let acceptor = TlsAcceptor::from(tls);
    let tunnel = tunnel.map(TlsAcceptor::from);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    // the web console answers on this listener? (loopback only unless --console-bind says otherwise)
    let console = listener
        .local_addr()
        .is_ok_and(|a| app.console.serves_on(a.ip()));
    let mut errors = AcceptErrors::default();
    loop {
        // A slot first: at the limit, clients wait in the kernel's backlog instead of taking descriptors.
        let Ok(slot) = limits.slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, _peer): (tokio::net::TcpStream, SocketAddr) = match listener.accept().await {
            Ok(x) => {
                errors.recovered();
                x
            }
            Err(e) => {
                drop(slot);
                tokio::time::sleep(errors.failed(&e)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tunnel = tunnel.clone();
        let app = app.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut first = [0u8; 1];
            match tokio::time::timeout(limits.handshake, tcp.peek(&mut first)).await {
                Ok(Ok(1)) => {}
                _ => return,
            }
            if first[0] == 0x16 {
                return serve_tls(app, tcp, acceptor, port, console, &limits).await;
            }
            let proxied = tokio::time::timeout(
                limits.handshake,
                crate::proxy::accept(&app, tcp, port, tunnel.is_some()),
            )
            .await;
            let Ok(Some((tcp, sandbox))) = proxied else {
                return;
            };
            if let Some(t) = tunnel {
                // a tunnel to one of this emulator's sandboxes is served as that sandbox
                match sandbox {
                    Some((app, port)) => serve_tls(app, tcp, t, port, false, &limits).await,
                    None => serve_tls(app, tcp, t, port, false, &limits).await,
                }
            }
        });
    }
}

/// Accept failures (the open-file limit, above all): a growing pause before the next try, and one log
/// line per interval with the count, instead of a busy loop writing the same warning.
#[derive(Default)]
struct AcceptErrors {
    in_a_row: u32,
    unlogged: u64,
    last_log: Option<Instant>,
}

impl AcceptErrors {
    const LOG_EVERY: Duration = Duration::from_secs(10);

    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.in_a_row = self.in_a_row.saturating_add(1);
        self.unlogged += 1;
        if self.last_log.is_none_or(|t| t.elapsed() >= Self::LOG_EVERY) {
            tracing::warn!(error = %e, failures = self.unlogged, "accept failed; backing off");
            self.unlogged = 0;
            self.last_log = Some(Instant::now());
        }
        // 10 ms, doubling, at most 1 s
        Duration::from_millis(10u64 << self.in_a_row.min(7)).min(Duration::from_secs(1))
    }

    fn recovered(&mut self) {
        if self.in_a_row > 0 && self.unlogged > 0 {
            tracing::warn!(failures = self.unlogged, "accept failed; recovered");
        }
        self.in_a_row = 0;
        self.unlogged = 0;
    }
}

/// Milliseconds since the process started: the clock of the idle timeout.
fn ticks() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_millis() as u64
}

/// An I/O stream that notes when bytes last moved, for the idle timeout.
struct Activity<T> {
    inner: T,
    last: Arc<AtomicU64>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last.store(ticks(), Ordering::Relaxed);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.last.store(ticks(), Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.last.store(ticks(), Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// TLS, then HTTP/1.1 or HTTP/2 (by ALPN) on one connection, until the client leaves or goes idle.
async fn serve_tls(
    app: Arc<App>,
    tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    port: u16,
    console: bool,
    limits: &Limits,
) {
    let stream = match tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let svc = service_fn(move |req| {
        let app = app.clone();
        async move {
            let resp = respond(&app, req, port, console).await;
            // an injected fault: no answer, the connection (or HTTP/2 stream) is reset
            match resp.extensions().get::<crate::ops::Dropped>() {
                Some(_) => Err(std::io::Error::other("fault injected: connection dropped")),
                None => Ok(resp),
            }
        }
    });
    let last = Arc::new(AtomicU64::new(ticks()));
    let io = TokioIo::new(Activity {
        inner: stream,
        last: last.clone(),
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let idle_ms = limits.idle.as_millis() as u64;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep(limits.idle / 8) => {
                if ticks().saturating_sub(last.load(Ordering::Relaxed)) >= idle_ms {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}

async fn respond(
    app: &App,
    req: Request<Incoming>,
    port: u16,
    console: bool,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Blob uploads are larger than ARM bodies: ARM's paths get ARM's limit, the rest the data plane's.
    let arm_path = ["/subscriptions", "/providers", "/tenants"]
        .iter()
        .any(|p| {
            parts.uri.path().len() >= p.len() && parts.uri.path()[..p.len()].eq_ignore_ascii_case(p)
        });
    let cap = if arm_path {
        app.config.max_body
    } else {
        app.config.max_body.max(64 * 1024 * 1024)
    };
    // A declared length beyond the limit is refused before a byte of the body is read.
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        let e = ArmError::request_entity_too_large(cap);
        return to_response(dispatch::error_reply(&e), false);
    }
    let body = match Limited::new(body, cap).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(err) => {
            // over the limit → 413; a body that breaks off or whose chunking is malformed → 400
            let e = if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ArmError::request_entity_too_large(cap)
            } else {
                ArmError::invalid_request_content(
                    "the request body could not be read (malformed or incomplete chunked encoding)",
                )
                .with_status(400)
            };
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
    if console && crate::console::is_console(&r) {
        return to_response(crate::console::handle(app, &r), head);
    }
    match crate::ops::serve(app, &r).await {
        Some(reply) => {
            app.console.record(app, &r, &reply);
            to_response(reply, head)
        }
        None => crate::ops::dropped(),
    }
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

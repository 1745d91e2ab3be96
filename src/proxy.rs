//! The emulator's port as an HTTP CONNECT proxy (`HTTPS_PROXY=http://localhost:PORT`), so that az
//! and the SDKs reach host-style data-plane names (`{account}.blob.core.windows.net`,
//! `{vault}.vault.azure.net`) with no DNS or hosts-file change: a connection whose first byte is not
//! a TLS handshake is read as a plain HTTP request head; `CONNECT host:443` to a name `crate::hosts`
//! recognises (and the world has) gets `200` and the tunnel is handed back to `server` for TLS with
//! a minted certificate; so is a tunnel to one of the emulator's sandboxes (`localhost:{its port}`),
//! served as that sandbox. Anything else is refused with a status line that says why; nothing is ever
//! forwarded to another host (RFC 9110 §9.3.6 for CONNECT).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::App;
use crate::dataplane::{find_by_name, STORAGE_ACCOUNT_TYPE, VAULT_TYPE};
use crate::hosts::{hosted, Hosted, KEY_VAULT_DNS, STORAGE_SUFFIX};

/// The longest request head read from a would-be proxy client.
const MAX_HEAD: usize = 8 * 1024;

/// Read the request head of a plain-HTTP connection (byte by byte: nothing after it may be
/// consumed, the TLS handshake follows a `200`). `None` on EOF, timeout or an over-long head.
async fn read_head(tcp: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(256);
    let read = async {
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
            if head.len() >= MAX_HEAD || tcp.read(&mut b).await.ok()? == 0 {
                return None;
            }
            head.push(b[0]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .ok()??;
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Where an open tunnel goes: this world (`None`), or one of its sandboxes with its port.
type Tunnel = Option<(Arc<App>, u16)>;

/// The answer to a plain-HTTP request: `Ok(where)` when a tunnel is open (200 sent), else the status,
/// reason and body sent (the reason names the problem: Python prints it in its ProxyError).
fn decide(app: &App, head: &str, port: u16) -> Result<Tunnel, (u16, String, String)> {
    let first = head.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !method.eq_ignore_ascii_case("CONNECT") {
        let reason = "Bad Request".to_string();
        let body = format!(
            "lighthouse-emulator speaks HTTPS on this port: use https://localhost:{port}/. As a proxy \
             (HTTPS_PROXY=http://localhost:{port}) it serves only CONNECT to *.blob.{STORAGE_SUFFIX} \
             and *.{KEY_VAULT_DNS} names of its world, and api.loganalytics.io.\n"
        );
        return Err((400, reason, body));
    }
    let target_port = target.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
    let refuse = |status: u16, reason: String| {
        let body = format!("{reason}\n");
        Err((status, reason, body))
    };
    let local = hosted(target) == Some(Hosted::Local);
    if local {
        let sandbox = target_port
            .parse::<u16>()
            .ok()
            .zip(app.sandboxes.get())
            .and_then(|(p, boxes)| boxes.by_port(p).map(|a| (a, p)));
        if sandbox.is_some() {
            return Ok(sandbox);
        }
    }
    // localhost: this emulator's own port, and 443 where MSAL Python looks up the user realm
    // whatever port the authority names (so a password sign-in needs no bind of :443)
    if target_port != "443" && !(local && target_port == port.to_string()) {
        return refuse(
            403,
            format!("lighthouse-emulator tunnels only to port 443 or its own port, not {target}"),
        );
    }
    let (rtype, name, what) = match hosted(target) {
        Some(Hosted::Local | Hosted::LogAnalytics) => return Ok(None),
        Some(Hosted::Blob(a)) => (STORAGE_ACCOUNT_TYPE, a, "storage account"),
        Some(Hosted::Vault(v)) => (VAULT_TYPE, v, "key vault"),
        None => {
            return refuse(403, format!(
                "lighthouse-emulator does not serve {target}: it proxies only *.blob.{STORAGE_SUFFIX}, *.{KEY_VAULT_DNS} and api.loganalytics.io (add other hosts to NO_PROXY)"
            ))
        }
    };
    match find_by_name(&app.store, rtype, &name) {
        Ok(Some(_)) => Ok(None),
        Ok(None) => refuse(
            404,
            format!("lighthouse-emulator's world has no {what} named '{name}'"),
        ),
        Err(e) => refuse(502, format!("lighthouse-emulator store error: {}", e.0)),
    }
}

/// Serve a plain-HTTP connection: `Some((tcp, where))` when a CONNECT tunnel is open for TLS, `None` when
/// the connection was answered and closed.
pub async fn accept(
    app: &App,
    mut tcp: TcpStream,
    port: u16,
    can_mint: bool,
) -> Option<(TcpStream, Tunnel)> {
    let started = Instant::now();
    let head = read_head(&mut tcp).await?;
    let target = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let verdict = if can_mint {
        decide(app, &head, port)
    } else {
        let reason =
            "lighthouse-emulator cannot tunnel with --cert/--key (no CA key to mint certificates)"
                .to_string();
        Err((502, reason.clone(), format!("{reason}\n")))
    };
    let status = verdict.as_ref().map(|_| 200).unwrap_or_else(|e| e.0);
    tracing::info!(
        method = "CONNECT",
        path = target.as_str(),
        caller = "",
        decision = verdict
            .as_ref()
            .err()
            .map(|e| e.1.as_str())
            .unwrap_or("tunnel"),
        status = status,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    match verdict {
        Ok(to) => {
            tcp.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .ok()?;
            Some((tcp, to))
        }
        Err((status, reason, body)) => {
            let msg = format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(msg.as_bytes()).await;
            let _ = tcp.shutdown().await;
            None
        }
    }
}

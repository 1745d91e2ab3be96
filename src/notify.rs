//! Delivery of fired alerts (edge): a task started with the server reads the outbox `monitor` fills,
//! prints e-mails and SMS in the log, and POSTs each webhook, Logic App, Function and runbook
//! payload, off the request path. Retries follow "Action groups" (Microsoft Learn): a call that times
//! out (10 s), cannot connect, or answers 408, 429, 503 or 504 is retried up to 5 times after 5, 20,
//! 5, 40 and 5 seconds; any other answer ends it. http:// is plain HTTP; https:// trusts the
//! emulator's CA only (the emulator never reaches beyond what it minted).

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Seconds to wait before each retry (Azure's documented webhook schedule).
pub const RETRY_DELAYS: [u64; 5] = [5, 20, 5, 40, 5];
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Statuses Azure retries.
pub fn retriable(status: u16) -> bool {
    matches!(status, 408 | 429 | 503 | 504)
}

/// Read the outbox forever, from what is new when it starts: every 100 ms for 2 s after an entry was
/// queued (the entry's transaction commits right after it is queued), never while nothing is.
pub async fn run(app: Arc<App>) {
    use std::sync::atomic::Ordering;
    let mut cursor = app.store.read(|tx| tx.activity_seq()).unwrap_or(0);
    let mut seen = crate::monitor::OUTBOX_APPENDS.load(Ordering::Acquire);
    let mut last_change: Option<std::time::Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let appends = crate::monitor::OUTBOX_APPENDS.load(Ordering::Acquire);
        if appends != seen {
            seen = appends;
            last_change = Some(std::time::Instant::now());
        }
        if last_change.is_none_or(|t| t.elapsed() >= Duration::from_secs(2)) {
            continue;
        }
        let items = match crate::monitor::outbox_since(&app.store, cursor) {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(error = %e, "alert outbox not readable");
                continue;
            }
        };
        for (seq, entry) in items {
            cursor = seq;
            let s = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
            match entry["kind"].as_str().unwrap_or_default() {
                "email" => tracing::info!(
                    to = %s("to"), subject = %s("subject"), rule = %s("alertRule"), alert = %s("alertId"),
                    "alert e-mail (outbox; GET /_emulator/outbox)"
                ),
                "sms" => tracing::info!(
                    to = %s("to"), text = %s("text"), rule = %s("alertRule"),
                    "alert SMS (outbox; GET /_emulator/outbox)"
                ),
                "webhook" => {
                    let url = s("url");
                    let body = serde_json::to_vec(&entry["payload"]).unwrap_or_default();
                    let ca = app.config.ca_pem.clone();
                    tokio::spawn(deliver(url, body, ca, s("alertRule")));
                }
                _ => {}
            }
        }
    }
}

/// One webhook call with Azure's retries.
async fn deliver(url: String, body: Vec<u8>, ca_pem: String, rule: String) {
    let mut attempt = 0;
    loop {
        let outcome = post(&url, body.clone(), ca_pem.as_bytes()).await;
        let again = match &outcome {
            Ok(status) if (200..300).contains(status) => {
                tracing::info!(url = %url, status, rule = %rule, attempt = attempt + 1, "alert webhook delivered");
                return;
            }
            Ok(status) => {
                tracing::warn!(url = %url, status, rule = %rule, attempt = attempt + 1, "alert webhook answered an error");
                retriable(*status)
            }
            Err(e) => {
                tracing::warn!(url = %url, error = %e, rule = %rule, attempt = attempt + 1, "alert webhook not reached");
                true
            }
        };
        if !again || attempt >= RETRY_DELAYS.len() {
            tracing::warn!(url = %url, rule = %rule, "alert webhook given up");
            return;
        }
        tokio::time::sleep(Duration::from_secs(RETRY_DELAYS[attempt])).await;
        attempt += 1;
    }
}

/// `(scheme, host, port, path-and-query)` of an absolute http(s) URL.
pub fn split_url(url: &str) -> Option<(&str, String, u16, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        },
    };
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, p) = h.split_once(']')?;
        let port = match p.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default),
        }
    };
    (!host.is_empty()).then_some((scheme, host, port, path))
}

async fn post(url: &str, body: Vec<u8>, ca_pem: &[u8]) -> Result<u16, String> {
    let (scheme, host, port, path) =
        split_url(url).ok_or_else(|| format!("'{url}' is not an http(s) URL"))?;
    if scheme == "https" {
        return crate::client::request(&host, port, ca_pem, "POST", &path, &[], body)
            .await
            .map(|(status, _)| status)
            .map_err(|e| e.to_string());
    }
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        let req = hyper::Request::builder()
            .method("POST")
            .uri(path.as_str())
            .header("host", format!("{host}:{port}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        // the connection is driven by its own task: a server that answers and closes at once
        // (`connection: close`) must not race the answer into a failure and a duplicate retry
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        // read the answer to its end so the server sees a complete exchange
        let _ = resp.into_body().collect().await;
        Ok::<u16, String>(status)
    };
    tokio::time::timeout(CALL_TIMEOUT, work)
        .await
        .map_err(|_| format!("{url}: no answer in 10 s"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        type Parts<'a> = Option<(&'a str, &'a str, u16, &'a str)>;
        let cases: &[(&str, Parts)] = &[
            (
                "http://127.0.0.1:8080/hook?x=1",
                Some(("http", "127.0.0.1", 8080, "/hook?x=1")),
            ),
            (
                "https://example.com",
                Some(("https", "example.com", 443, "/")),
            ),
            ("http://[::1]:9/a", Some(("http", "::1", 9, "/a"))),
            ("http://h?x", Some(("http", "h", 80, "/?x"))),
            ("ftp://h/x", None),
            ("<serviceUri>", None),
        ];
        for (url, want) in cases {
            let got = split_url(url);
            let got = got
                .as_ref()
                .map(|(s, h, p, q)| (*s, h.as_str(), *p, q.as_str()));
            assert_eq!(got, *want, "{url}");
        }
        assert!(retriable(503) && retriable(429) && !retriable(500) && !retriable(404));
    }
}

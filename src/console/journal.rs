//! The console's request journal: the last few thousand requests the server answered (ARM, Graph,
//! tokens, data plane, admin), each with its caller, the caller's home tenant, status, error code and
//! the pipeline's decision — what the console's live Activity log shows. Recorded by the HTTP edge after
//! `dispatch::handle` and by the console for the requests it makes as a principal. In memory only; never
//! parses a token beyond its payload (the pipeline already judged it) and never touches the store.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use crate::directory::Directory;
use crate::wire::{Reply, Req};

/// How many requests the journal keeps.
pub const CAPACITY: usize = 5000;

/// One answered request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub seq: u64,
    /// On the emulator's clock (ARM's format).
    pub time: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// The caller's sign-in name (UPN or app id), or "" without a readable token.
    pub caller: String,
    pub caller_object_id: String,
    pub home_tenant_id: String,
    pub home_tenant_name: String,
    /// The subscription the path names, lower-cased, or "".
    pub subscription: String,
    /// ARM's error code for a refused request.
    pub code: String,
    /// The pipeline's `x-ms-emulator-decision`.
    pub decision: String,
    /// Made by the console itself, as the principal signed in there.
    pub console: bool,
    pub request_id: String,
}

impl Entry {
    fn blank() -> Entry {
        Entry {
            seq: 0,
            time: String::new(),
            method: String::new(),
            path: String::new(),
            query: String::new(),
            status: 0,
            caller: String::new(),
            caller_object_id: String::new(),
            home_tenant_id: String::new(),
            home_tenant_name: String::new(),
            subscription: String::new(),
            code: String::new(),
            decision: String::new(),
            console: false,
            request_id: String::new(),
        }
    }
}

/// Overwrite `to` with `s`, keeping its buffer.
fn set(to: &mut String, s: &str) {
    to.clear();
    to.push_str(s);
}

/// The caller a token names, resolved once per token.
#[derive(Debug, Clone, Default)]
struct Who {
    name: String,
    object_id: String,
    tenant_id: String,
    tenant_name: String,
}

#[derive(Default)]
struct Inner {
    entries: VecDeque<Arc<Entry>>,
    next: u64,
    /// Callers by the last 43 characters of their token.
    callers: foldhash::HashMap<String, Arc<Who>>,
}

/// The ring of recent requests, shared by every connection.
#[derive(Default)]
pub struct Journal {
    inner: Mutex<Inner>,
}

impl Journal {
    /// Note a request and its answer. `now` is the emulator clock in ARM's format.
    pub fn record(&self, dir: &Directory, req: &Req, reply: &Reply, now: String, console: bool) {
        let token = req
            .header("authorization")
            .and_then(|h| h.split_once(' '))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        let code = if reply.status >= 400 {
            error_code(&reply.body)
        } else {
            String::new()
        };
        let sub = subscription_in(&req.path);
        let decision = reply
            .get_header("x-ms-emulator-decision")
            .unwrap_or_default();
        let request_id = reply.get_header("x-ms-request-id").unwrap_or_default();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let who = token.map(|t| {
            let key = &t[t.len().saturating_sub(43)..];
            if let Some(w) = inner.callers.get(key) {
                w.clone()
            } else {
                let w = Arc::new(who_of(dir, t));
                if inner.callers.len() > 10_000 {
                    inner.callers.clear();
                }
                inner.callers.insert(key.to_string(), w.clone());
                w
            }
        });
        // A full ring gives up its oldest entry, and the new one is written into that one's strings:
        // no allocation per field under load (a few short copies under the lock).
        let oldest = if inner.entries.len() >= CAPACITY {
            inner.entries.pop_front()
        } else {
            None
        };
        let mut e = oldest
            .and_then(|o| Arc::try_unwrap(o).ok())
            .unwrap_or_else(Entry::blank);
        e.seq = inner.next;
        inner.next += 1;
        e.time = now;
        set(&mut e.method, &req.method);
        set(&mut e.path, &req.path);
        set(&mut e.query, &req.raw_query);
        e.status = reply.status;
        let who = who.as_deref();
        set(&mut e.caller, who.map_or("", |w| &w.name));
        set(&mut e.caller_object_id, who.map_or("", |w| &w.object_id));
        set(&mut e.home_tenant_id, who.map_or("", |w| &w.tenant_id));
        set(&mut e.home_tenant_name, who.map_or("", |w| &w.tenant_name));
        if sub.is_ascii() {
            set(&mut e.subscription, sub);
            e.subscription.make_ascii_lowercase();
        } else {
            e.subscription = sub.to_lowercase();
        }
        e.code = code;
        set(&mut e.decision, decision);
        e.console = console;
        set(&mut e.request_id, request_id);
        inner.entries.push_back(Arc::new(e));
    }

    /// Entries from `from` (a `seq`) on, newest first, that `keep` accepts; at most `limit`.
    pub fn newest(
        &self,
        from: Option<u64>,
        limit: usize,
        keep: impl Fn(&Entry) -> bool,
    ) -> Vec<Arc<Entry>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .entries
            .iter()
            .rev()
            .take_while(|e| from.is_none_or(|f| e.seq >= f))
            .filter(|e| keep(e))
            .take(limit)
            .cloned()
            .collect()
    }

    /// One entry by its sequence number.
    pub fn get(&self, seq: u64) -> Option<Arc<Entry>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.entries.iter().rev().find(|e| e.seq == seq).cloned()
    }

    /// The sequence number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).next
    }
}

/// `error.code` of a JSON error body (ARM's and Graph's envelope, AADSTS's `error`).
fn error_code(body: &[u8]) -> String {
    if body.first() != Some(&b'{') {
        return String::new();
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    match &v["error"] {
        Value::Object(o) => o.get("code").and_then(Value::as_str).unwrap_or(""),
        Value::String(s) => s.as_str(),
        _ => "",
    }
    .to_string()
}

/// The subscription id in `/subscriptions/{id}/…`, lower-cased.
pub fn subscription_of(path: &str) -> String {
    subscription_in(path).to_lowercase()
}

/// The subscription id in `/subscriptions/{id}/…` as written, or "".
fn subscription_in(path: &str) -> &str {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => id,
        _ => "",
    }
}

/// The caller a token's payload names, resolved against the directory (for its home tenant).
fn who_of(dir: &Directory, token: &str) -> Who {
    let Some(claims) = token_claims(token) else {
        return Who::default();
    };
    let oid = claims["oid"].as_str().unwrap_or_default();
    match dir.principal(oid) {
        Some(p) => Who {
            name: p.client_name().to_string(),
            object_id: p.object_id.clone(),
            tenant_id: p.tenant_id.clone(),
            tenant_name: dir
                .tenant(&p.tenant_id)
                .map(|t| t.display_name.clone())
                .unwrap_or_default(),
        },
        None => Who {
            name: claims["upn"]
                .as_str()
                .or(claims["appid"].as_str())
                .unwrap_or(oid)
                .to_string(),
            object_id: oid.to_string(),
            tenant_id: claims["tid"].as_str().unwrap_or_default().to_string(),
            tenant_name: String::new(),
        },
    }
}

/// A JWT's payload, unchecked (display only: the pipeline verifies tokens).
pub fn token_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_and_error_code_are_read_from_the_request_and_answer() {
        for (path, want) in [
            ("/subscriptions/ABC/resourceGroups/x", "abc"),
            ("/subscriptions", ""),
            ("/providers/Microsoft.Resources", ""),
            ("/", ""),
        ] {
            assert_eq!(subscription_of(path), want, "{path}");
        }
        for (body, want) in [
            (
                &br#"{"error":{"code":"ScopeLocked","message":"x"}}"#[..],
                "ScopeLocked",
            ),
            (br#"{"error":"invalid_grant"}"#, "invalid_grant"),
            (b"<Error><Code>X</Code></Error>", ""),
            (b"", ""),
        ] {
            assert_eq!(error_code(body), want);
        }
    }

    #[test]
    fn a_reused_entry_keeps_nothing_of_the_one_it_replaced() {
        let j = Journal::default();
        let dir = Directory::default();
        // the first entry: a caller from its token (not in the directory), an error code, a query
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"oid":"o1","tid":"t1","upn":"a@b"}"#);
        let first = Req {
            method: "PUT".into(),
            path: "/subscriptions/AB/resourceGroups/x".into(),
            raw_query: "api-version=1".into(),
            headers: vec![(
                "authorization".into(),
                format!("Bearer h.{payload}.{}", "s".repeat(43)),
            )],
            ..Default::default()
        };
        let refused = Reply::json(
            403,
            &serde_json::json!({"error": {"code": "AuthorizationFailed"}}),
        )
        .header("x-ms-emulator-decision", "denied")
        .header("x-ms-request-id", "r1");
        j.record(&dir, &first, &refused, "t1".into(), true);
        {
            // (the entry is let go before the ring fills, so it can be rewritten)
            let e = &j.newest(None, 1, |_| true)[0];
            assert_eq!(
                (
                    e.caller.as_str(),
                    e.caller_object_id.as_str(),
                    e.home_tenant_id.as_str()
                ),
                ("a@b", "o1", "t1")
            );
            assert_eq!(
                (e.code.as_str(), e.subscription.as_str()),
                ("AuthorizationFailed", "ab")
            );
        }
        // fill the ring: the first entry is rewritten for the last request
        for _ in 0..CAPACITY {
            let req = Req {
                method: "GET".into(),
                path: "/".into(),
                ..Default::default()
            };
            j.record(&dir, &req, &Reply::empty(200), String::new(), false);
        }
        let e = &j.newest(None, 1, |_| true)[0];
        assert_eq!(e.seq, CAPACITY as u64);
        assert_eq!(
            (e.method.as_str(), e.path.as_str(), e.status),
            ("GET", "/", 200)
        );
        for f in [
            &e.time,
            &e.query,
            &e.caller,
            &e.caller_object_id,
            &e.home_tenant_id,
            &e.home_tenant_name,
            &e.subscription,
            &e.code,
            &e.decision,
            &e.request_id,
        ] {
            assert_eq!(f, "");
        }
        assert!(!e.console);
    }

    #[test]
    fn the_ring_keeps_the_newest_and_filters() {
        let j = Journal::default();
        let dir = Directory::default();
        for i in 0..(CAPACITY + 3) {
            let req = Req {
                method: "GET".into(),
                path: format!("/subscriptions/s{}", i % 2),
                ..Default::default()
            };
            j.record(&dir, &req, &Reply::empty(200), String::new(), false);
        }
        let all = j.newest(None, usize::MAX, |_| true);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].seq, (CAPACITY + 2) as u64);
        let after = j.newest(Some(CAPACITY as u64 + 1), 10, |_| true);
        assert_eq!(after.len(), 2);
        let s1 = j.newest(None, 5, |e| e.subscription == "s1");
        assert!(s1.iter().all(|e| e.path.ends_with("s1")) && s1.len() == 5);
    }
}

//! ARM's request throttling (`--throttling arm`): token buckets per subscription and principal, per
//! subscription for all principals (15× the size and rate), and per tenant and principal, for reads,
//! writes and deletes (learn.microsoft.com "Understand how Azure Resource Manager throttles requests",
//! 2024+ revision; ARM-FACTS §15). Plain arithmetic over times handed in; knows no HTTP.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

/// `--throttling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Off,
    /// ARM's subscription and tenant token buckets.
    Arm,
}

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Reads,
    Writes,
    Deletes,
}

impl Kind {
    /// GET and HEAD read, DELETE deletes, everything else (PUT, PATCH, POST) writes.
    pub fn of(method: &str) -> Kind {
        match method {
            "GET" | "HEAD" => Kind::Reads,
            "DELETE" => Kind::Deletes,
            _ => Kind::Writes,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reads => "reads",
            Kind::Writes => "writes",
            Kind::Deletes => "deletes",
        }
    }
    /// The word of ARM's throttling message ("Number of 'read' requests …").
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Reads => "read",
            Kind::Writes => "write",
            Kind::Deletes => "delete",
        }
    }
    /// (bucket size, refill per second) of one principal's subscription or tenant bucket: reads
    /// 250 / 25, writes and deletes 200 / 10 (the documented table).
    pub fn limits(self) -> (f64, f64) {
        match self {
            Kind::Reads => (250.0, 25.0),
            Kind::Writes | Kind::Deletes => (200.0, 10.0),
        }
    }
}

/// The subscription's global bucket is 15 times a principal's ("a global subscription limit that is
/// equivalent to 15 times the individual service principal limit").
pub const GLOBAL_FACTOR: f64 = 15.0;

/// Where a request is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    /// (subscription, principal)
    Subscription(String, String),
    /// the subscription, every principal
    Global(String),
    /// (tenant, principal)
    Tenant(String, String),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: f64,
}

/// The outcome of a request that may go on: the headers' counts after it took its token.
#[derive(Debug, Clone, PartialEq)]
pub enum Remaining {
    /// `x-ms-ratelimit-remaining-subscription-{kind}` and `…-subscription-global-{kind}`.
    Subscription { principal: u64, global: u64 },
    /// `x-ms-ratelimit-remaining-tenant-{kind}`.
    Tenant(u64),
}

/// A refused request: 429 with `Retry-After: retry_after` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttled {
    pub code: &'static str,
    pub message: String,
    pub retry_after: u64,
    pub remaining: Remaining,
}

/// The buckets of one emulator (or sandbox).
#[derive(Debug, Default)]
pub struct Throttle {
    /// 0 off, 1 arm: the mode in force (switched at run time by `POST /_emulator/throttling`).
    mode: AtomicU8,
    /// The mode given on the command line, which reset restores.
    default_mode: AtomicU8,
    /// Refill paused (tests that observe the bucket size exactly).
    paused: AtomicBool,
    buckets: Mutex<HashMap<(Scope, Kind), Bucket>>,
}

fn code(m: Mode) -> u8 {
    match m {
        Mode::Off => 0,
        Mode::Arm => 1,
    }
}

impl Throttle {
    pub fn set_default(&self, m: Mode) {
        self.default_mode.store(code(m), Ordering::Relaxed);
        self.mode.store(code(m), Ordering::Relaxed);
    }

    pub fn set_mode(&self, m: Mode) {
        self.mode.store(code(m), Ordering::Relaxed);
    }

    pub fn mode(&self) -> Mode {
        if self.mode.load(Ordering::Relaxed) == 1 {
            Mode::Arm
        } else {
            Mode::Off
        }
    }

    pub fn on(&self) -> bool {
        self.mode.load(Ordering::Relaxed) == 1
    }

    /// Pause or resume the refill; resuming refills from now on, never for the paused time.
    pub fn set_refill(&self, on: bool, now: f64) {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        for v in b.values_mut() {
            v.at = now;
        }
        self.paused.store(!on, Ordering::Relaxed);
    }

    pub fn refill_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Full buckets, the command line's mode and refill on (reset).
    pub fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.paused.store(false, Ordering::Relaxed);
        self.mode
            .store(self.default_mode.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Count one request of `principal` (object id) from `tenant` against `subscription` (None for a
    /// tenant-level request) at `now` (seconds). Every bucket must hold a token; only then is one
    /// taken from each.
    pub fn take(
        &self,
        kind: Kind,
        subscription: Option<&str>,
        tenant: &str,
        principal: &str,
        now: f64,
    ) -> Result<Remaining, Throttled> {
        let (size, rate) = kind.limits();
        let paused = self.refill_paused();
        let mut all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut level = |scope: Scope, size: f64, rate: f64| -> (Scope, f64, f64) {
            let b = all.entry((scope.clone(), kind)).or_insert(Bucket {
                tokens: size,
                at: now,
            });
            if !paused && now > b.at {
                b.tokens = (b.tokens + (now - b.at) * rate).min(size);
            }
            b.at = b.at.max(now);
            (scope, b.tokens, rate)
        };
        let levels: Vec<(Scope, f64, f64)> = match subscription {
            Some(s) => {
                let s = s.to_ascii_lowercase();
                vec![
                    level(Scope::Subscription(s.clone(), principal.into()), size, rate),
                    level(Scope::Global(s), size * GLOBAL_FACTOR, rate * GLOBAL_FACTOR),
                ]
            }
            None => vec![level(
                Scope::Tenant(tenant.to_ascii_lowercase(), principal.into()),
                size,
                rate,
            )],
        };
        let empty = levels.iter().find(|(_, t, _)| *t < 1.0).cloned();
        if empty.is_none() {
            for (scope, _, _) in &levels {
                if let Some(b) = all.get_mut(&(scope.clone(), kind)) {
                    b.tokens -= 1.0;
                }
            }
        }
        let left = |i: usize| -> u64 {
            levels
                .get(i)
                .and_then(|(scope, _, _)| all.get(&(scope.clone(), kind)))
                .map(|b| b.tokens.max(0.0).floor() as u64)
                .unwrap_or(0)
        };
        let remaining = match subscription {
            Some(_) => Remaining::Subscription {
                principal: left(0),
                global: left(1),
            },
            None => Remaining::Tenant(left(0)),
        };
        let Some((scope, tokens, rate)) = empty else {
            return Ok(remaining);
        };
        // Seconds until the empty bucket holds a whole token again (at least one).
        let retry_after = ((1.0 - tokens) / rate).ceil().max(1.0) as u64;
        let (code, message) = match &scope {
            Scope::Tenant(t, p) => (
                "TenantRequestsThrottled",
                format!(
                    "Number of '{}' requests for tenant '{t}' actor '{p}' exceeded. Please try again after '{retry_after}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                    kind.singular()
                ),
            ),
            Scope::Subscription(s, p) => (
                "SubscriptionRequestsThrottled",
                format!(
                    "Number of '{}' requests for subscription '{s}' actor '{p}' exceeded. Please try again after '{retry_after}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                    kind.singular()
                ),
            ),
            Scope::Global(s) => (
                "SubscriptionRequestsThrottled",
                format!(
                    "Number of '{}' requests for subscription '{s}' exceeded. Please try again after '{retry_after}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                    kind.singular()
                ),
            ),
        };
        Err(Throttled {
            code,
            message,
            retry_after,
            remaining,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "20000000-0000-0000-0000-000000002001";

    fn on() -> Throttle {
        let t = Throttle::default();
        t.set_default(Mode::Arm);
        t
    }

    #[test]
    fn kinds_and_their_documented_buckets() {
        for (method, kind, size, rate) in [
            ("GET", Kind::Reads, 250.0, 25.0),
            ("HEAD", Kind::Reads, 250.0, 25.0),
            ("PUT", Kind::Writes, 200.0, 10.0),
            ("PATCH", Kind::Writes, 200.0, 10.0),
            ("POST", Kind::Writes, 200.0, 10.0),
            ("DELETE", Kind::Deletes, 200.0, 10.0),
        ] {
            assert_eq!(Kind::of(method), kind, "{method}");
            assert_eq!(kind.limits(), (size, rate), "{method}");
        }
    }

    #[test]
    fn a_principal_bucket_empties_at_its_size_and_refills_at_its_rate() {
        for kind in [Kind::Reads, Kind::Writes, Kind::Deletes] {
            let t = on();
            let (size, rate) = kind.limits();
            for i in 1..=size as u64 {
                match t.take(kind, Some(SUB), "t", "alice", 0.0) {
                    Ok(Remaining::Subscription { principal, global }) => {
                        assert_eq!(principal, size as u64 - i);
                        assert_eq!(global, (size * GLOBAL_FACTOR) as u64 - i);
                    }
                    other => panic!("{kind:?} request {i}: {other:?}"),
                }
            }
            let e = t.take(kind, Some(SUB), "t", "alice", 0.0).unwrap_err();
            assert_eq!(e.code, "SubscriptionRequestsThrottled");
            assert_eq!(e.retry_after, 1);
            assert!(e.message.starts_with(&format!(
                "Number of '{}' requests for subscription '{SUB}' actor 'alice' exceeded.",
                kind.singular()
            )));
            // another principal, another subscription: unaffected
            assert!(t.take(kind, Some(SUB), "t", "bob", 0.0).is_ok());
            assert!(t
                .take(
                    kind,
                    Some("20000000-0000-0000-0000-000000002002"),
                    "t",
                    "alice",
                    0.0
                )
                .is_ok());
            // one second later: `rate` tokens
            for _ in 0..rate as u64 {
                assert!(t.take(kind, Some(SUB), "t", "alice", 1.0).is_ok());
            }
            assert!(t.take(kind, Some(SUB), "t", "alice", 1.0).is_err());
        }
    }

    #[test]
    fn the_global_bucket_is_shared_by_principals() {
        let t = on();
        let mut refused = 0;
        for p in 0..16 {
            for _ in 0..250 {
                if t.take(Kind::Reads, Some(SUB), "t", &format!("p{p}"), 0.0)
                    .is_err()
                {
                    refused += 1;
                }
            }
        }
        // 16 principals × 250 = 4000 asked, 3750 allowed
        assert_eq!(refused, 250);
    }

    #[test]
    fn tenant_requests_have_their_own_bucket_and_code() {
        let t = on();
        for i in 1..=200u64 {
            assert_eq!(
                t.take(Kind::Writes, None, "tenant-a", "alice", 5.0),
                Ok(Remaining::Tenant(200 - i))
            );
        }
        let e = t
            .take(Kind::Writes, None, "tenant-a", "alice", 5.0)
            .unwrap_err();
        assert_eq!(e.code, "TenantRequestsThrottled");
        assert!(t.take(Kind::Writes, None, "tenant-b", "alice", 5.0).is_ok());
        assert!(t
            .take(Kind::Writes, Some(SUB), "tenant-a", "alice", 5.0)
            .is_ok());
    }

    #[test]
    fn paused_refill_and_reset() {
        let t = on();
        t.set_refill(false, 0.0);
        for _ in 0..250 {
            t.take(Kind::Reads, Some(SUB), "t", "a", 0.0).unwrap();
        }
        assert!(t.take(Kind::Reads, Some(SUB), "t", "a", 100.0).is_err());
        t.set_refill(true, 100.0);
        assert!(t.take(Kind::Reads, Some(SUB), "t", "a", 100.0).is_err());
        assert!(t.take(Kind::Reads, Some(SUB), "t", "a", 100.1).is_ok());
        t.set_mode(Mode::Off);
        assert!(!t.on());
        t.reset();
        assert!(t.on(), "reset restores the command line's mode");
        assert_eq!(
            t.take(Kind::Reads, Some(SUB), "t", "a", 100.1),
            Ok(Remaining::Subscription {
                principal: 249,
                global: 3749
            })
        );
    }
}

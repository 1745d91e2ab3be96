//! Counters behind `GET /_emulator/metrics`, rendered in the Prometheus text exposition format
//! (version 0.0.4: `# HELP`, `# TYPE`, `name{label="value"} number`, histograms as cumulative `_bucket`
//! with `le`, `_sum` and `_count`). Requests by surface, method, status and decision; latency
//! histograms by surface; tokens issued; injected faults and throttled requests. No HTTP here.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (surface, method, status, decision) → requests
    requests: BTreeMap<(&'static str, &'static str, u16, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    tokens: BTreeMap<&'static str, u64>,
    faults: BTreeMap<&'static str, u64>,
    throttled: BTreeMap<&'static str, u64>,
}

/// Gauges read when the metrics are rendered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub store_resources: i64,
    /// Live sandboxes of this world (0 inside a sandbox).
    pub sandboxes: u64,
    pub resident_bytes: u64,
    pub fault_rules: u64,
    pub throttling: bool,
}

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// A method as a label: the HTTP methods clients use, anything else `OTHER`.
pub fn method_label(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

impl Metrics {
    pub fn observe(
        &self,
        surface: &'static str,
        method: &str,
        status: u16,
        decision: &'static str,
        seconds: f64,
    ) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *i.requests
            .entry((surface, method_label(method), status, decision))
            .or_default() += 1;
        let h = i.latency.entry(surface).or_default();
        if let Some(b) = BUCKETS.iter().position(|le| seconds <= *le) {
            h.counts[b] += 1;
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// A token issued by the token endpoints (`grant`: the grant type) or `/_emulator/token`.
    pub fn token_issued(&self, grant: &'static str) {
        *self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tokens
            .entry(grant)
            .or_default() += 1;
    }

    pub fn fault_injected(&self, kind: &'static str) {
        *self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .faults
            .entry(kind)
            .or_default() += 1;
    }

    pub fn throttled(&self, code: &'static str) {
        *self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .throttled
            .entry(code)
            .or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self, g: &Gauges) -> String {
        let i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut o = String::with_capacity(4096);
        let p = "lighthouse_emulator";
        let _ = writeln!(
            o,
            "# HELP {p}_requests_total Requests answered, by surface, method, status and decision."
        );
        let _ = writeln!(o, "# TYPE {p}_requests_total counter");
        for ((surface, method, status, decision), n) in &i.requests {
            let _ = writeln!(
                o,
                "{p}_requests_total{{surface=\"{surface}\",method=\"{method}\",status=\"{status}\",decision=\"{decision}\"}} {n}"
            );
        }
        let _ = writeln!(o, "# HELP {p}_request_duration_seconds Time from a request's arrival (body read) to its answer, by surface.");
        let _ = writeln!(o, "# TYPE {p}_request_duration_seconds histogram");
        for (surface, h) in &i.latency {
            let mut cumulative = 0;
            for (le, c) in BUCKETS.iter().zip(h.counts.iter()) {
                cumulative += c;
                let _ = writeln!(
                    o,
                    "{p}_request_duration_seconds_bucket{{surface=\"{surface}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                o,
                "{p}_request_duration_seconds_bucket{{surface=\"{surface}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "{p}_request_duration_seconds_sum{{surface=\"{surface}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "{p}_request_duration_seconds_count{{surface=\"{surface}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            o,
            "# HELP {p}_tokens_issued_total Access tokens issued, by grant type."
        );
        let _ = writeln!(o, "# TYPE {p}_tokens_issued_total counter");
        for (grant, n) in &i.tokens {
            let _ = writeln!(o, "{p}_tokens_issued_total{{grant=\"{grant}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "# HELP {p}_faults_injected_total Requests that got an injected fault, by effect."
        );
        let _ = writeln!(o, "# TYPE {p}_faults_injected_total counter");
        for (kind, n) in &i.faults {
            let _ = writeln!(o, "{p}_faults_injected_total{{effect=\"{kind}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "# HELP {p}_throttled_total Requests refused with 429 by ARM throttling, by error code."
        );
        let _ = writeln!(o, "# TYPE {p}_throttled_total counter");
        for (code, n) in &i.throttled {
            let _ = writeln!(o, "{p}_throttled_total{{code=\"{code}\"}} {n}");
        }
        for (name, kind, help, v) in [
            (
                "store_resources",
                "gauge",
                "Rows in the store (resources, groups and the other ARM objects).",
                g.store_resources.to_string(),
            ),
            (
                "sandboxes",
                "gauge",
                "Sandboxes alive.",
                g.sandboxes.to_string(),
            ),
            (
                "fault_rules",
                "gauge",
                "Fault injection rules in force.",
                g.fault_rules.to_string(),
            ),
            (
                "throttling_enabled",
                "gauge",
                "1 when ARM throttling is on.",
                u8::from(g.throttling).to_string(),
            ),
        ] {
            let _ = writeln!(o, "# HELP {p}_{name} {help}");
            let _ = writeln!(o, "# TYPE {p}_{name} {kind}");
            let _ = writeln!(o, "{p}_{name} {v}");
        }
        let _ = writeln!(
            o,
            "# HELP process_resident_memory_bytes Resident memory size in bytes."
        );
        let _ = writeln!(o, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(o, "process_resident_memory_bytes {}", g.resident_bytes);
        o
    }
}

/// Resident memory of this process (Linux `/proc/self/statm`; 0 elsewhere).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.observe("arm", "GET", 200, "allowed", 0.0003);
        m.observe("arm", "GET", 200, "allowed", 0.003);
        m.observe("arm", "BREW", 403, "denied", 9.0);
        m.token_issued("client_credentials");
        m.fault_injected("drop");
        m.throttled("SubscriptionRequestsThrottled");
        let t = m.render(&Gauges {
            store_resources: 42,
            ..Default::default()
        });
        for line in [
            "lighthouse_emulator_requests_total{surface=\"arm\",method=\"GET\",status=\"200\",decision=\"allowed\"} 2",
            "lighthouse_emulator_requests_total{surface=\"arm\",method=\"OTHER\",status=\"403\",decision=\"denied\"} 1",
            "lighthouse_emulator_request_duration_seconds_bucket{surface=\"arm\",le=\"0.00025\"} 0",
            "lighthouse_emulator_request_duration_seconds_bucket{surface=\"arm\",le=\"0.0005\"} 1",
            "lighthouse_emulator_request_duration_seconds_bucket{surface=\"arm\",le=\"0.005\"} 2",
            "lighthouse_emulator_request_duration_seconds_bucket{surface=\"arm\",le=\"2.5\"} 2",
            "lighthouse_emulator_request_duration_seconds_bucket{surface=\"arm\",le=\"+Inf\"} 3",
            "lighthouse_emulator_request_duration_seconds_count{surface=\"arm\"} 3",
            "lighthouse_emulator_tokens_issued_total{grant=\"client_credentials\"} 1",
            "lighthouse_emulator_faults_injected_total{effect=\"drop\"} 1",
            "lighthouse_emulator_throttled_total{code=\"SubscriptionRequestsThrottled\"} 1",
            "lighthouse_emulator_store_resources 42",
            "lighthouse_emulator_sandboxes 0",
            "# TYPE lighthouse_emulator_request_duration_seconds histogram",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line}\n{t}");
        }
        // every sample line is `name{labels} value` or `name value`
        for l in t.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = l.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok(), "{l}");
        }
    }
}

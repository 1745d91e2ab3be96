//! Resource Graph's per-user quota (ARM-FACTS §9.3): 15 queries per 5-second window per user,
//! counted down in `x-ms-user-quota-remaining`, with `x-ms-user-quota-resets-after` (`hh:mm:ss`) and a
//! 429 when the window is spent. The window arithmetic is pure (`Window::take`); `UserQuota` keeps the
//! windows of the users seen, on the emulator clock. State of the edge, read by `dispatch` only.

use std::collections::HashMap;
use std::sync::Mutex;

/// Queries per window and the window's length (milliseconds).
pub const QUERIES: u32 = 15;
pub const WINDOW_MS: i64 = 5_000;

/// One user's current window: when it started (none before the first query) and how many queries
/// it has taken.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub start_ms: Option<i64>,
    pub used: u32,
}

/// What a query gets: allowed with the remaining count, or refused; either way the time until the
/// window resets (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Allowed {
        remaining: u32,
        resets_after_ms: i64,
    },
    Throttled {
        resets_after_ms: i64,
    },
}

impl Window {
    /// Take one query at `now_ms`: a new window when the old one has passed (or the clock went back).
    pub fn take(&mut self, now_ms: i64) -> Verdict {
        let start = match self.start_ms {
            Some(s) if now_ms >= s && now_ms - s < WINDOW_MS => s,
            _ => {
                *self = Window {
                    start_ms: Some(now_ms),
                    used: 0,
                };
                now_ms
            }
        };
        let resets_after_ms = start + WINDOW_MS - now_ms;
        if self.used >= QUERIES {
            return Verdict::Throttled { resets_after_ms };
        }
        self.used += 1;
        Verdict::Allowed {
            remaining: QUERIES - self.used,
            resets_after_ms,
        }
    }
}

/// `hh:mm:ss` as the header spells it, rounded up to whole seconds.
pub fn hms(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// The windows of every user seen (by object id); off when `enabled` is false (load tests).
#[derive(Debug, Default)]
pub struct UserQuota {
    pub enabled: bool,
    windows: Mutex<HashMap<String, Window>>,
}

impl UserQuota {
    pub fn new(enabled: bool) -> UserQuota {
        UserQuota {
            enabled,
            windows: Mutex::default(),
        }
    }

    /// One query by `user` at `now_ms`; `None` when the quota is off.
    pub fn take(&self, user: &str, now_ms: i64) -> Option<Verdict> {
        if !self.enabled {
            return None;
        }
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // forget users whose window has long passed, so the map stays small
        if w.len() > 10_000 {
            w.retain(|_, v| v.start_ms.is_some_and(|s| now_ms - s < WINDOW_MS));
        }
        Some(w.entry(user.to_ascii_lowercase()).or_default().take(now_ms))
    }

    /// Forget every window (reset).
    pub fn clear(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_per_window_then_throttled_until_it_resets() {
        let mut w = Window::default();
        for i in 0..QUERIES {
            assert_eq!(
                w.take(1_000 + i as i64),
                Verdict::Allowed {
                    remaining: QUERIES - 1 - i,
                    resets_after_ms: WINDOW_MS - i as i64
                }
            );
        }
        assert_eq!(
            w.take(3_000),
            Verdict::Throttled {
                resets_after_ms: 3_000
            }
        );
        // the next window
        assert_eq!(
            w.take(6_000),
            Verdict::Allowed {
                remaining: QUERIES - 1,
                resets_after_ms: WINDOW_MS
            }
        );
        // a clock moved back starts a window too
        assert!(matches!(w.take(10), Verdict::Allowed { .. }));
    }

    #[test]
    fn headers_spell_hours_minutes_seconds() {
        for (ms, want) in [
            (0, "00:00:00"),
            (1, "00:00:01"),
            (5_000, "00:00:05"),
            (3_723_000, "01:02:03"),
        ] {
            assert_eq!(hms(ms), want);
        }
    }

    #[test]
    fn users_are_counted_apart_and_off_means_off() {
        let q = UserQuota::new(true);
        for _ in 0..QUERIES {
            q.take("A", 0);
        }
        assert!(matches!(q.take("a", 1), Some(Verdict::Throttled { .. })));
        assert!(matches!(q.take("b", 1), Some(Verdict::Allowed { .. })));
        assert_eq!(UserQuota::new(false).take("a", 0), None);
    }
}

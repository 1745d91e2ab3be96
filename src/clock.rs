//! The emulator's clock: real time plus an offset that tests move with `POST /_emulator/clock`.
//! Token issuing, token checks, activity timestamps and expiry all read this one clock; pure modules
//! never read it themselves, they receive `now`.

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

#[derive(Debug, Default)]
pub struct Clock {
    /// Offset from real time in milliseconds.
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Unix seconds on the emulator clock.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    pub fn advance(&self, by: time::Duration) {
        self.offset_ms
            .fetch_add(by.whole_milliseconds() as i64, Ordering::Relaxed);
    }

    pub fn set(&self, to: OffsetDateTime) {
        let off = to - OffsetDateTime::now_utc();
        self.offset_ms
            .store(off.whole_milliseconds() as i64, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }

    pub fn offset_seconds(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed) / 1000
    }
}

/// RFC 3339 with 7 fractional digits, as ARM writes timestamps (`2024-05-01T10:00:00.1234567Z`).
pub fn arm_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    if (0..=9999).contains(&t.year()) {
        // digits written directly: `format!` was 2% of the CPU of a GET under load (`scripts/bench`)
        let mut s = String::with_capacity(28);
        push_digits(&mut s, t.year() as u32, 4);
        s.push('-');
        push_digits(&mut s, t.month() as u32, 2);
        s.push('-');
        push_digits(&mut s, t.day().into(), 2);
        s.push('T');
        push_digits(&mut s, t.hour().into(), 2);
        s.push(':');
        push_digits(&mut s, t.minute().into(), 2);
        s.push(':');
        push_digits(&mut s, t.second().into(), 2);
        s.push('.');
        push_digits(&mut s, t.nanosecond() / 100, 7);
        s.push('Z');
        return s;
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// ARM's `M/d/yyyy h:mm:ss tt` form used in ExpiredAuthenticationToken messages.
pub fn arm_us_time(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (h, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        t.month() as u8,
        t.day(),
        t.year(),
        h,
        t.minute(),
        t.second(),
        ampm
    )
}

/// Parse an ISO 8601 duration such as `PT2H`, `P1D`, `PT30M`, `P1DT2H3M4.5S` (no years or months).
pub fn parse_duration(s: &str) -> Option<time::Duration> {
    let s = s.trim();
    let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    let (date, time_part) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut any = false;
    let mut eat = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let mult = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&c))?.1;
                total += num.parse::<f64>().ok()? * mult;
                num.clear();
                any = true;
            }
        }
        if num.is_empty() {
            Some(())
        } else {
            None
        }
    };
    eat(date, &[('W', 604800.0), ('D', 86400.0)])?;
    if let Some(t) = time_part {
        if t.is_empty() {
            return None;
        }
        eat(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any {
        return None;
    }
    Some(time::Duration::milliseconds((total * 1000.0) as i64))
}

/// Append `v` as exactly `width` decimal digits (zero-padded, high digits dropped).
pub fn push_digits(out: &mut String, v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = v;
    for i in (0..width.min(10)).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[..width.min(10)]).unwrap_or("?"));
}

/// `20261123T142321Z`: the UTC time stamp inside ARM's `x-ms-routing-request-id`.
pub fn push_compact_utc(out: &mut String, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    push_digits(out, t.year().max(0) as u32, 4);
    push_digits(out, t.month() as u32, 2);
    push_digits(out, t.day() as u32, 2);
    out.push('T');
    push_digits(out, t.hour() as u32, 2);
    push_digits(out, t.minute() as u32, 2);
    push_digits(out, t.second() as u32, 2);
    out.push('Z');
}

#[cfg(test)]
mod tests {

    #[test]
    fn compact_stamps_are_zero_padded_utc() {
        let mut s = String::new();
        super::push_compact_utc(&mut s, time::macros::datetime!(2026-01-02 03:04:05 +01:00));
        assert_eq!(s, "20260102T020405Z");
        let mut d = String::new();
        super::push_digits(&mut d, 7, 3);
        assert_eq!(d, "007");
    }

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT2H"), Some(time::Duration::hours(2)));
        assert_eq!(parse_duration("PT30M"), Some(time::Duration::minutes(30)));
        assert_eq!(
            parse_duration("P1DT1S"),
            Some(time::Duration::seconds(86401))
        );
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("2H"), None);
        assert_eq!(parse_duration("PT2X"), None);
    }

    #[test]
    fn arm_time_writes_what_format_wrote() {
        for (t, want) in [
            (
                time::macros::datetime!(2026-01-02 03:04:05.123_456_789 +01:00),
                "2026-01-02T02:04:05.1234567Z",
            ),
            (
                time::macros::datetime!(1970-01-01 00:00:00 UTC),
                "1970-01-01T00:00:00.0000000Z",
            ),
            (
                time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC),
                "9999-12-31T23:59:59.9999999Z",
            ),
            (
                time::macros::datetime!(0042-07-08 09:10:11.000_000_100 UTC),
                "0042-07-08T09:10:11.0000001Z",
            ),
        ] {
            assert_eq!(arm_time(t), want);
        }
    }

    #[test]
    fn us_time() {
        assert_eq!(arm_us_time(0), "1/1/1970 12:00:00 AM");
        assert_eq!(arm_us_time(13 * 3600 + 5), "1/1/1970 1:00:05 PM");
    }

    #[test]
    fn clock_moves() {
        let c = Clock::default();
        let a = c.unix();
        c.advance(time::Duration::hours(2));
        assert!(c.unix() - a >= 7199);
        c.reset();
        assert!(c.unix() - a < 5);
    }
}

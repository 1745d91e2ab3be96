//! The request log's line format and writer. `LineFormat` writes an event as one line — UTC time,
//! level, target, message, then `name=value` fields, a value quoted when it holds spaces — without
//! going through `fmt` machinery for strings (the stock compact format was 12% of a request's
//! instructions, callgrind). The writer: lines are appended to a shared buffer that one background thread writes
//! out every few milliseconds, so a request pays a short lock and a copy instead of a write system call
//! and a thread wake-up (with a per-line channel these were a `write`, a `futex` and a `sched_yield`
//! per request; scripts/bench, strace -c). Lines reach the output within `FLUSH_EVERY`; the guard
//! writes what is left when it is dropped.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// A buffer this large is written by the logging thread itself (the flusher fell behind).
const HIGH_WATER: usize = 1 << 20;

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    buf: Vec<u8>,
    closed: bool,
}

/// A `MakeWriter` for tracing-subscriber (and a plain `Write` through `writer()`).
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

/// Flushes and stops the background thread when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogSink {
    /// A sink writing to `out` from a background thread named `log-flush`.
    pub fn new(out: impl Write + Send + 'static) -> (LogSink, FlushGuard) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: Vec::with_capacity(64 * 1024),
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let sink = LogSink {
            shared: shared.clone(),
            out: Arc::new(Mutex::new(Box::new(out))),
        };
        let flusher = sink.clone();
        let thread = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || flusher.run())
            .ok();
        if thread.is_none() {
            sink.lock().closed = true; // no thread: every line is written straight through
        }
        (sink, FlushGuard { shared, thread })
    }

    pub fn writer(&self) -> LogWriter {
        LogWriter { sink: self.clone() }
    }

    /// Sleep until a line arrives, let lines gather for `FLUSH_EVERY`, write them, repeat: no wake-ups
    /// while the log is quiet, at most one per interval while it is busy.
    fn run(&self) {
        let mut spare = Vec::with_capacity(64 * 1024);
        loop {
            {
                let mut st = self.lock();
                while st.buf.is_empty() && !st.closed {
                    st = self.shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if !st.closed {
                    drop(st);
                    std::thread::sleep(FLUSH_EVERY);
                }
            }
            let closed = {
                let mut st = self.lock();
                std::mem::swap(&mut st.buf, &mut spare);
                st.closed
            };
            self.write_out(&spare);
            spare.clear();
            if closed {
                return;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_out(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    fn append(&self, bytes: &[u8]) {
        let mut st = self.lock();
        if st.closed {
            drop(st);
            self.write_out(bytes);
            return;
        }
        let was_empty = st.buf.is_empty();
        st.buf.extend_from_slice(bytes);
        if was_empty {
            self.shared.wake.notify_one();
        }
        if st.buf.len() >= HIGH_WATER {
            let full = std::mem::take(&mut st.buf);
            drop(st);
            self.write_out(&full);
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .closed = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One event's writer: tracing-subscriber formats a whole line, then writes it here once.
pub struct LogWriter {
    sink: LogSink,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.writer()
    }
}

/// The text log format (`--log-format text`).
pub struct LineFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LineFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::with_capacity(256);
        timestamp(&mut line, time::OffsetDateTime::now_utc());
        let meta = event.metadata();
        line.push_str(match *meta.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        });
        line.push_str(meta.target());
        line.push(':');
        let mut fields = Fields {
            line: &mut line,
            scratch: String::new(),
        };
        event.record(&mut fields);
        line.push('\n');
        writer.write_str(&line)
    }
}

/// `2026-11-23T14:23:21.175669Z`
fn timestamp(out: &mut String, t: time::OffsetDateTime) {
    use crate::clock::push_digits;
    push_digits(out, t.year().max(0) as u32, 4);
    out.push('-');
    push_digits(out, t.month() as u32, 2);
    out.push('-');
    push_digits(out, t.day() as u32, 2);
    out.push('T');
    push_digits(out, t.hour() as u32, 2);
    out.push(':');
    push_digits(out, t.minute() as u32, 2);
    out.push(':');
    push_digits(out, t.second() as u32, 2);
    out.push('.');
    push_digits(out, t.microsecond(), 6);
    out.push('Z');
}

struct Fields<'a> {
    line: &'a mut String,
    scratch: String,
}

impl Fields<'_> {
    fn field(&mut self, name: &str, value: &str) {
        self.line.push(' ');
        if name == "message" {
            self.line.push_str(value);
            return;
        }
        self.line.push_str(name);
        self.line.push('=');
        push_value(self.line, value);
    }
}

/// Bytes that make a value quoted (1) and, inside quotes, escaped (2): a table keeps the scans cheap.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = if b < 0x20 || b == 0x7f || b == b'"' as usize || b == b'\\' as usize {
            2
        } else if b == b' ' as usize || b == b'=' as usize {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// A value as is, or quoted with `"` and `\` escaped when it is empty or holds a space, `=` or `"`.
fn push_value(out: &mut String, v: &str) {
    if !v.is_empty() && v.bytes().all(|b| CLASS[b as usize] == 0) {
        out.push_str(v);
        return;
    }
    out.push('"');
    let mut rest = v;
    while let Some(i) = rest.bytes().position(|b| CLASS[b as usize] == 2) {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b => out.push_str(&format!("\\u{{{b:04x}}}")),
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.field(field.name(), value);
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.line.push(' ');
        self.line.push_str(field.name());
        self.line.push('=');
        self.line.push_str(itoa(value, &mut [0u8; 20]));
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        if value < 0 {
            self.field(field.name(), &value.to_string());
        } else {
            self.record_u64(field, value as u64);
        }
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.field(field.name(), if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        let _ = write!(s, "{value:?}");
        self.field(field.name(), &s);
        self.scratch = s;
    }
}

fn itoa(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order_within_the_flush_interval_and_at_drop() {
        let out = Shared::default();
        let (sink, guard) = LogSink::new(out.clone());
        for i in 0..1000 {
            writeln!(sink.writer(), "line {i}").unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.0.lock().unwrap().len() < 1000 * 6 && std::time::Instant::now() < deadline {
            std::thread::sleep(FLUSH_EVERY);
        }
        writeln!(sink.writer(), "last").unwrap();
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[999], "line 999");
        assert_eq!(lines[1000], "last");
        // after the guard, lines are written straight through
        writeln!(sink.writer(), "after").unwrap();
        assert!(String::from_utf8(out.0.lock().unwrap().clone())
            .unwrap()
            .ends_with("after\n"));
    }

    #[test]
    fn a_line_has_time_level_target_message_and_quoted_fields() {
        let out = Shared::default();
        let (sink, guard) = LogSink::new(out.clone());
        let subscriber = tracing_subscriber::fmt()
            .event_format(LineFormat)
            .with_writer(sink)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                method = "GET",
                decision = "allowed; role \"x\" at /s",
                empty = "",
                status = 200u16,
                latency_us = 17u64,
                neg = -3i64,
                ok = true,
                dbg = ?vec![1, 2],
                ctl = "a\tb\u{1}",
                "request"
            );
        });
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line = text.lines().next().unwrap();
        let (ts, rest) = line.split_once(' ').unwrap();
        assert!(
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).is_ok(),
            "{ts}"
        );
        assert_eq!(ts.len(), 27);
        assert_eq!(
            rest,
            r#" INFO lighthouse_emulator::logsink::tests: request method=GET decision="allowed; role \"x\" at /s" empty="" status=200 latency_us=17 neg=-3 ok=true dbg="[1, 2]" ctl="a\tb\u{0001}""#
        );
    }

    #[test]
    fn timestamps_pad_every_part() {
        let mut s = String::new();
        timestamp(
            &mut s,
            time::macros::datetime!(2026-01-02 03:04:05.000007 UTC),
        );
        assert_eq!(s, "2026-01-02T03:04:05.000007Z");
        assert_eq!(itoa(0, &mut [0; 20]), "0");
        assert_eq!(itoa(u64::MAX, &mut [0; 20]), "18446744073709551615");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_caller() {
        let out = Shared::default();
        let (sink, _guard) = LogSink::new(out.clone());
        let big = vec![b'x'; HIGH_WATER + 1];
        sink.writer().write_all(&big).unwrap();
        assert!(out.0.lock().unwrap().len() > HIGH_WATER);
    }
}

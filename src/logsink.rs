//! The request log's writer: lines are appended to a shared buffer that one background thread writes
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
    fn a_full_buffer_is_written_by_the_caller() {
        let out = Shared::default();
        let (sink, _guard) = LogSink::new(out.clone());
        let big = vec![b'x'; HIGH_WATER + 1];
        sink.writer().write_all(&big).unwrap();
        assert!(out.0.lock().unwrap().len() > HIGH_WATER);
    }
}

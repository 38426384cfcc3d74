//! The log writer: lines are appended to a shared buffer, and a background thread writes the
//! buffer out in batches.
//!
//! Every request logs a line, so the cost of handing a line over is paid on every request.
//! A channel to a writer thread that blocks on it (tracing-appender's design) makes the
//! request wake that thread for nearly every line: a system call and a context switch each,
//! on a machine whose cores are busy serving requests. Here a request only appends to a
//! buffer under a lock. The writer thread wakes on its own every few milliseconds while lines
//! keep coming and writes everything gathered with one system call; it is woken explicitly only
//! when it was idle (the first line after a quiet spell) or when the buffer fills up.
//!
//! No line is dropped: when the buffer holds its maximum, a request waits for the writer to
//! drain it. Dropping the [`LogGuard`] writes everything still buffered.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How the buffer is drained.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long the writer gathers lines before it writes them, while lines keep coming.
    pub gather: Duration,
    /// Buffered bytes at which the writer is woken before `gather` has passed.
    pub high_water: usize,
    /// Buffered bytes at which a request waits for the writer instead of appending.
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            gather: Duration::from_millis(5),
            high_water: 256 * 1024,
            max_pending: 8 * 1024 * 1024,
        }
    }
}

/// What the writer thread is doing, which decides whether a request must wake it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// Writing a batch, or about to look at the buffer again: no wake-up needed.
    Busy,
    /// Waiting for the first line after the buffer ran empty: the next line wakes it.
    Idle,
    /// Gathering lines for at most `gather`: only a buffer past `high_water` wakes it.
    Gathering,
}

#[derive(Debug)]
struct State {
    pending: Vec<u8>,
    writer: Writer,
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The writer waits on this.
    wake_writer: Condvar,
    /// Requests wait on this while the buffer is full.
    drained: Condvar,
    limits: Limits,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only bytes behind; keep logging.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn append(&self, bytes: &[u8]) {
        let mut state = self.lock();
        while state.pending.len() >= self.limits.max_pending && !state.closed {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.pending.extend_from_slice(bytes);
        let wake = match state.writer {
            Writer::Idle => true,
            Writer::Gathering => state.pending.len() >= self.limits.high_water,
            Writer::Busy => false,
        };
        if wake {
            state.writer = Writer::Busy;
            self.wake_writer.notify_one();
        }
    }
}

/// Hands out writers for the tracing subscriber; cheap to clone.
#[derive(Debug, Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// One event's writer: appends what the subscriber formatted to the shared buffer.
#[derive(Debug)]
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

/// Keeps the writer thread running; dropping it writes out what is still buffered.
#[derive(Debug)]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.closed = true;
            state.writer = Writer::Busy;
        }
        self.shared.wake_writer.notify_all();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the writer thread over `out`.
pub fn spawn(
    out: impl Write + Send + 'static,
    limits: Limits,
) -> io::Result<(BatchedWriter, LogGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pending: Vec::with_capacity(limits.high_water),
            writer: Writer::Busy,
            closed: false,
        }),
        wake_writer: Condvar::new(),
        drained: Condvar::new(),
        limits,
    });
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || run(&thread_shared, out))?;
    Ok((
        BatchedWriter {
            shared: shared.clone(),
        },
        LogGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn run(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::with_capacity(shared.limits.high_water);
    let mut reported_error = false;
    loop {
        {
            let mut state = shared.lock();
            if state.pending.is_empty() {
                if state.closed {
                    break;
                }
                state.writer = Writer::Idle;
                state = shared
                    .wake_writer
                    .wait_while(state, |s| s.pending.is_empty() && !s.closed)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            state.writer = Writer::Busy;
            std::mem::swap(&mut batch, &mut state.pending);
        }
        shared.drained.notify_all();
        if !batch.is_empty() {
            if let Err(error) = out.write_all(&batch).and_then(|()| out.flush())
                && !reported_error
            {
                // Nowhere else to say it; later failures are not repeated.
                let _ = writeln!(io::stderr(), "log writer: cannot write logs: {error}");
                reported_error = true;
            }
            batch.clear();
        }
        // Let lines gather before the next write, unless the buffer fills up first.
        let mut state = shared.lock();
        if !state.closed && state.pending.len() < shared.limits.high_water {
            state.writer = Writer::Gathering;
            let (mut state, _) = shared
                .wake_writer
                .wait_timeout_while(state, shared.limits.gather, |s| {
                    s.pending.len() < shared.limits.high_water && !s.closed
                })
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state.writer = Writer::Busy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read while the writer owns a handle to it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn line(thread: usize, n: usize) -> String {
        format!(
            "{{\"thread\":{thread},\"n\":{n},\"pad\":\"{}\"}}\n",
            "x".repeat(n % 50)
        )
    }

    /// Writes `lines` lines from each of `threads` threads through a writer with `limits`,
    /// closes it, and checks that every line arrived whole, once, in its thread's order.
    fn every_line_arrives(limits: Limits, threads: usize, lines: usize) {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone(), limits).expect("spawn");
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let writer = &writer;
                scope.spawn(move || {
                    for n in 0..lines {
                        let mut handle = writer.make_writer();
                        handle.write_all(line(thread, n).as_bytes()).expect("write");
                    }
                });
            }
        });
        drop(guard);

        let bytes = sink.0.lock().expect("sink").clone();
        let text = String::from_utf8(bytes).expect("utf-8");
        let mut next = vec![0; threads];
        for written in text.lines() {
            let value: serde_json::Value = serde_json::from_str(written).expect("a whole line");
            let thread = usize::try_from(value["thread"].as_u64().expect("thread")).expect("small");
            assert_eq!(written, line(thread, next[thread]).trim_end());
            next[thread] += 1;
        }
        assert_eq!(
            next,
            vec![lines; threads],
            "every line arrives exactly once"
        );
    }

    #[test]
    fn every_line_from_every_thread_arrives_whole_and_in_order() {
        every_line_arrives(Limits::default(), 4, 5_000);
    }

    #[test]
    fn a_full_buffer_makes_writers_wait_rather_than_drop_lines() {
        let limits = Limits {
            gather: Duration::from_millis(50),
            high_water: 512,
            max_pending: 1024,
        };
        every_line_arrives(limits, 3, 2_000);
    }

    #[test]
    fn a_line_after_a_quiet_spell_is_written_without_waiting_for_more() {
        let sink = Sink::default();
        let limits = Limits {
            gather: Duration::from_millis(1),
            ..Limits::default()
        };
        let (writer, _guard) = spawn(sink.clone(), limits).expect("spawn");
        std::thread::sleep(Duration::from_millis(20));
        writer
            .make_writer()
            .write_all(b"after quiet\n")
            .expect("write");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().expect("sink").is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "an idle writer was not woken by a new line"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.0.lock().expect("sink").as_slice(), b"after quiet\n");
    }
}

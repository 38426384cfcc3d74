//! Logs: JSON lines or pretty text on stdout, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber and returns the guard of its writer thread: keep it until
/// exit, since dropping it writes out the lines still queued.
///
/// Lines go through `tracing-appender`'s background writer, so that a request does not wait
/// for a write to stdout; it is lossless, so a request waits rather than drop a line when the
/// queue is full.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::stdout());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(session_api::startup::DEFAULT_LOG_FILTER));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = if json {
        // Flattened: every field of an event is a top-level key beside `timestamp`, `level`
        // and `target`. Spans stay out of the line, so only the fields an event names are
        // logged.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // Only fails when a subscriber is already installed, which is harmless.
    let _ = installed;
    guard
}

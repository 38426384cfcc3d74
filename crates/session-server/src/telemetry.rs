//! Logs: JSON lines or pretty text on stdout, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;
use crate::json_lines::JsonLines;

/// Keeps the log writer running; dropping it flushes what is still queued.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// Installs the global subscriber. `RUST_LOG` picks the level (default `info`; the AWS SDK's
/// own chatter is kept at `warn` unless asked for).
///
/// Lines are written by a background thread through a buffer that it flushes whenever its
/// queue is empty: a request does not wait for a system call to log, and a busy server
/// writes many lines per call. The queue never drops a line (a full queue makes the writer
/// wait instead). Keep the returned guard until exit: dropping it flushes the rest.
pub fn init(format: LogFormat) -> LogGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,aws_sdk_dynamodb=warn")
    });
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = if json {
        builder.event_format(JsonLines).try_init()
    } else {
        builder.try_init()
    };
    // Only fails when a subscriber is already installed, which is harmless.
    let _ = installed;
    guard
}

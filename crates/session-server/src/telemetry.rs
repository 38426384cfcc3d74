//! Logs: JSON lines or pretty text on stdout, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;
use crate::json_lines::JsonLines;
use crate::log_writer::{self, LogGuard};

/// Installs the global subscriber. `RUST_LOG` picks the level (default `info`; the AWS SDK's
/// own chatter is kept at `warn` unless asked for).
///
/// Lines are written in batches by a background thread (see `log_writer`): a request does
/// not wait for a system call to log, and a busy server writes many lines per call. No line
/// is dropped. Keep the returned guard until exit: dropping it writes the rest. Should the
/// thread not start, lines go straight to stdout.
pub fn init(format: LogFormat) -> Option<LogGuard> {
    match log_writer::spawn(std::io::stdout(), log_writer::Limits::default()) {
        Ok((writer, guard)) => {
            install(format, writer);
            Some(guard)
        }
        Err(error) => {
            install(format, std::io::stdout);
            tracing::warn!(error = %error, "cannot start the log writer thread; logging directly");
            None
        }
    }
}

/// Installs the subscriber.
fn install<W>(format: LogFormat, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
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
}

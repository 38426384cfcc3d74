//! Logs in the Lambda conventions (the "advanced logging controls" of a function), on stdout,
//! which Lambda sends to CloudWatch Logs.
//!
//! - Format: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (any case), plain text otherwise.
//! - Level: `AWS_LAMBDA_LOG_LEVEL` (`TRACE` … `ERROR`, and `FATAL`, read as `ERROR`); else
//!   `RUST_LOG` (full `tracing` filter syntax); else `info`.
//!
//! `lambda_runtime`'s `init_default_subscriber` reads the same variables, but `RUST_LOG` still
//! overrides `AWS_LAMBDA_LOG_LEVEL` there, `FATAL` falls back to `INFO`, and its JSON lines
//! carry no `timestamp` (which Lambda's own filtering by level needs) and nest the fields.

use session_api::startup::DEFAULT_LOG_FILTER;
use tracing_subscriber::EnvFilter;

/// How the function logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// JSON lines rather than text.
    pub json: bool,
    /// A `tracing` filter directive.
    pub filter: String,
}

/// The log configuration that the variables `env` looks up ask for.
pub fn log_config(env: &dyn Fn(&str) -> Option<String>) -> LogConfig {
    let json =
        env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("json"));
    let lambda_level = env("AWS_LAMBDA_LOG_LEVEL").and_then(|level| lambda_level(&level));
    let filter = match lambda_level {
        // At info and above, the SDK is held at warn (its info lines are not the function's).
        Some("info") => DEFAULT_LOG_FILTER.to_owned(),
        Some(level) => level.to_owned(),
        None => env("RUST_LOG")
            .filter(|directives| {
                !directives.trim().is_empty() && EnvFilter::try_new(directives).is_ok()
            })
            .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
    };
    LogConfig { json, filter }
}

/// A Lambda log level as a `tracing` level.
fn lambda_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" | "WARNING" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        _ => None,
    }
}

/// The target under which the Lambda runtime logs each raw event at `trace`: the event holds
/// the request's headers, with the caller's bearer token and the session token.
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

/// The filter `config` asks for, except that raw events are never logged, whatever the level:
/// no credential may reach the logs.
fn env_filter(config: &LogConfig) -> EnvFilter {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    match format!("{RAW_EVENT_TARGET}=debug").parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    }
}

/// Installs the global subscriber for the process environment.
pub fn init() {
    let config = log_config(&|name| std::env::var(name).ok());
    let filter = env_filter(&config);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stdout);
    let installed = if config.json {
        // Flattened, so that `level`, `timestamp` and `message` are top-level keys as Lambda's
        // JSON log filtering expects; the current span carries the invocation's requestId.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        // CloudWatch stamps every text line itself.
        builder.without_time().try_init()
    };
    // Only fails when a subscriber is already installed, which is harmless.
    let _ = installed;
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> LogConfig {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        log_config(&|name| map.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn text_at_info_by_default() {
        assert_eq!(
            config(&[]),
            LogConfig {
                json: false,
                filter: DEFAULT_LOG_FILTER.to_owned()
            }
        );
    }

    #[test]
    fn json_when_lambda_asks_for_it() {
        assert!(config(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        assert!(config(&[("AWS_LAMBDA_LOG_FORMAT", "json")]).json);
        assert!(!config(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
    }

    #[test]
    fn the_lambda_level_wins_over_rust_log() {
        let both = config(&[("AWS_LAMBDA_LOG_LEVEL", "ERROR"), ("RUST_LOG", "debug")]);
        assert_eq!(both.filter, "error");
        assert_eq!(config(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter, "error");
        assert_eq!(config(&[("AWS_LAMBDA_LOG_LEVEL", "debug")]).filter, "debug");
        assert_eq!(
            config(&[("AWS_LAMBDA_LOG_LEVEL", "INFO")]).filter,
            DEFAULT_LOG_FILTER
        );
    }

    /// The runtime's raw-event line carries every header of the request; at `trace` it must
    /// still not be written, while other `trace` lines are.
    #[test]
    fn raw_events_are_never_logged() {
        use std::io::Write;
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        for level in ["TRACE", "DEBUG"] {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(env_filter(&config(&[("AWS_LAMBDA_LOG_LEVEL", level)])))
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::trace!(target: "lambda_runtime::layers::api_response", body = "x-session-token: abc.secret", "raw JSON event received from Lambda");
                tracing::debug!(target: "session_api", "a line that is kept");
            });
            let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
            assert!(text.contains("a line that is kept"), "{level}: {text}");
            assert!(!text.contains("abc.secret"), "{level}: {text}");
        }
    }

    #[test]
    fn rust_log_applies_when_lambda_sets_no_level() {
        assert_eq!(
            config(&[("RUST_LOG", "warn,session_api=debug")]).filter,
            "warn,session_api=debug"
        );
        // An unknown Lambda level is ignored rather than fatal.
        assert_eq!(
            config(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD"), ("RUST_LOG", "warn")]).filter,
            "warn"
        );
        assert_eq!(config(&[("RUST_LOG", "")]).filter, DEFAULT_LOG_FILTER);
    }
}

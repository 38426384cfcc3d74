//! Settings, read from the environment (and mirrored as command-line flags by the binaries).
//!
//! Every flag is named after its variable (`--session-ttl-hours` ↔ `SESSION_TTL_HOURS`) and its
//! value placeholder is the variable itself. A value that does not parse is reported under the
//! name the user wrote (see [`crate::setting_values::refused_value`]).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use secrecy::{ExposeSecret, SecretString};
use session_core::data::DEFAULT_MAX_DATA_BYTES;
use session_core::limit::MAX_SESSIONS_PER_USER;
use session_core::service::DEFAULT_MAX_PAGE_BYTES;
use session_core::{ExpiryPolicy, LimitPolicy, UserLimit};

use crate::setting_values::{boolean, cookie_name, decimal, whole};

/// Largest request body accepted, in bytes (the contract's 1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest `SESSION_MAX_DATA_BYTES` allowed: the data must fit in a request body with room to
/// spare for the rest of the JSON.
pub const MAX_DATA_BYTES_CEILING: usize = MAX_BODY_BYTES - 4096;

/// Largest `SESSION_MAX_DATA_BYTES` allowed on DynamoDB, whose items are at most 400 KB; the
/// rest of the item (ids, timestamps, numbers) takes well under 16 KB.
pub const DYNAMODB_MAX_DATA_BYTES: usize = 384 * 1024;

/// Where sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A local redb file: no AWS, no Java; one process at a time.
    Embedded,
    /// A DynamoDB table: the production store.
    Dynamodb,
}

/// The headings that group the settings in `--help`.
pub mod heading {
    /// Which store, and the embedded one's settings.
    pub const STORE: &str = "Store";
    /// The DynamoDB store's settings.
    pub const DYNAMODB: &str = "DynamoDB store";
    /// Expiry, size limits, listings.
    pub const SESSIONS: &str = "Sessions";
    /// Bearer tokens, rate limits, the request timeout.
    pub const AUTH: &str = "Authentication and limits";
}

/// Settings of the session API (docs/configuration.md has the whole table). The tokens and the
/// cursor secret are [`SecretString`]s, which `Debug` shows redacted.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Where sessions live: `embedded` (a local file) or `dynamodb`.
    #[arg(
        long = "session-store",
        env = "SESSION_STORE",
        value_name = "SESSION_STORE",
        value_enum,
        default_value = "embedded",
        help_heading = heading::STORE
    )]
    pub store: StoreKind,

    /// Embedded store: its file (created with its directory if missing).
    #[arg(
        long = "embedded-db-path",
        env = "EMBEDDED_DB_PATH",
        value_name = "EMBEDDED_DB_PATH",
        default_value = "./data/sessions.redb",
        help_heading = heading::STORE
    )]
    pub embedded_db_path: PathBuf,

    /// Embedded store: memory for its page cache, in MiB.
    #[arg(long = "embedded-cache-mb", env = "EMBEDDED_CACHE_MB", value_name = "EMBEDDED_CACHE_MB", default_value_t = 32, value_parser = whole::<u64>("a whole number of MiB", 1, Some(65536)), help_heading = heading::STORE)]
    pub embedded_cache_mb: u64,

    /// Embedded store: memory for recently read sessions, served to the next read by id or per-user listing without a lookup or a decode, in MiB (0 turns it off).
    #[arg(long = "embedded-read-cache-mb", env = "EMBEDDED_READ_CACHE_MB", value_name = "EMBEDDED_READ_CACHE_MB", default_value_t = 16, value_parser = whole::<u64>("a whole number of MiB", 0, Some(65536)), help_heading = heading::STORE)]
    pub embedded_read_cache_mb: u64,

    /// Embedded store: purge a session no sooner than this many seconds after it expired.
    #[arg(long = "session-purge-after-seconds", env = "SESSION_PURGE_AFTER_SECONDS", value_name = "SESSION_PURGE_AFTER_SECONDS", default_value_t = 3600, value_parser = whole::<u64>("a whole number of seconds", 0, None), help_heading = heading::STORE)]
    pub purge_after_seconds: u64,

    /// Embedded store: how often the sweeper looks for sessions to purge, in seconds.
    #[arg(long = "session-sweep-interval-seconds", env = "SESSION_SWEEP_INTERVAL_SECONDS", value_name = "SESSION_SWEEP_INTERVAL_SECONDS", default_value_t = 60, value_parser = whole::<u64>("a whole number of seconds", 1, None), help_heading = heading::STORE)]
    pub sweep_interval_seconds: u64,

    /// DynamoDB table name.
    #[arg(long = "dynamodb-table-name", env = "DYNAMODB_TABLE_NAME", value_name = "DYNAMODB_TABLE_NAME", default_value = session_core::schema::DEFAULT_TABLE_NAME, help_heading = heading::DYNAMODB)]
    pub table_name: String,

    /// AWS region of the table.
    #[arg(
        long = "aws-region",
        env = "AWS_REGION",
        value_name = "AWS_REGION",
        default_value = "us-west-2",
        help_heading = heading::DYNAMODB
    )]
    pub region: String,

    /// Limit on opening a connection to DynamoDB, in milliseconds.
    #[arg(long = "dynamodb-connect-timeout-ms", env = "DYNAMODB_CONNECT_TIMEOUT_MS", value_name = "DYNAMODB_CONNECT_TIMEOUT_MS", default_value_t = 1000, value_parser = whole::<u64>("a whole number of milliseconds", 1, None), help_heading = heading::DYNAMODB)]
    pub dynamodb_connect_timeout_ms: u64,

    /// Limit on one attempt of a DynamoDB request, in milliseconds.
    #[arg(long = "dynamodb-attempt-timeout-ms", env = "DYNAMODB_ATTEMPT_TIMEOUT_MS", value_name = "DYNAMODB_ATTEMPT_TIMEOUT_MS", default_value_t = 2000, value_parser = whole::<u64>("a whole number of milliseconds", 1, None), help_heading = heading::DYNAMODB)]
    pub dynamodb_attempt_timeout_ms: u64,

    /// Limit on a whole DynamoDB request, retries included, in milliseconds.
    #[arg(long = "dynamodb-operation-timeout-ms", env = "DYNAMODB_OPERATION_TIMEOUT_MS", value_name = "DYNAMODB_OPERATION_TIMEOUT_MS", default_value_t = 5000, value_parser = whole::<u64>("a whole number of milliseconds", 1, None), help_heading = heading::DYNAMODB)]
    pub dynamodb_operation_timeout_ms: u64,

    /// Attempts per DynamoDB request (1 = no retry; standard jittered backoff between them).
    #[arg(long = "dynamodb-max-attempts", env = "DYNAMODB_MAX_ATTEMPTS", value_name = "DYNAMODB_MAX_ATTEMPTS", default_value_t = 3, value_parser = whole::<u32>("a whole number of attempts", 1, Some(10)), help_heading = heading::DYNAMODB)]
    pub dynamodb_max_attempts: u32,

    /// Default idle timeout of a session, in hours (used when SESSION_TTL_SECONDS is not set).
    #[arg(long = "session-ttl-hours", env = "SESSION_TTL_HOURS", value_name = "SESSION_TTL_HOURS", default_value_t = 24, value_parser = whole::<u64>("a whole number of hours", 1, None), help_heading = heading::SESSIONS)]
    pub ttl_hours: u64,

    /// Default idle timeout of a session, in seconds (overrides SESSION_TTL_HOURS).
    #[arg(long = "session-ttl-seconds", env = "SESSION_TTL_SECONDS", value_name = "SESSION_TTL_SECONDS", value_parser = whole::<u64>("a whole number of seconds", 1, None), help_heading = heading::SESSIONS)]
    pub ttl_seconds: Option<u64>,

    /// Largest `ttlSeconds` a client may ask for.
    #[arg(long = "session-max-ttl-seconds", env = "SESSION_MAX_TTL_SECONDS", value_name = "SESSION_MAX_TTL_SECONDS", default_value_t = 30 * 24 * 3600, value_parser = whole::<u64>("a whole number of seconds", 1, None), help_heading = heading::SESSIONS)]
    pub max_ttl_seconds: u64,

    /// Absolute cap: no extension moves a session's expiry past createdAt + this many seconds.
    #[arg(long = "session-max-lifetime-seconds", env = "SESSION_MAX_LIFETIME_SECONDS", value_name = "SESSION_MAX_LIFETIME_SECONDS", value_parser = whole::<u64>("a whole number of seconds", 1, None), help_heading = heading::SESSIONS)]
    pub max_lifetime_seconds: Option<u64>,

    /// Sliding expiration: a successful GET extends the session (lazily, see below).
    #[arg(long = "session-sliding", env = "SESSION_SLIDING", value_name = "SESSION_SLIDING", default_value = "false", value_parser = boolean(), ignore_case = true, action = clap::ArgAction::Set, help_heading = heading::SESSIONS)]
    pub sliding: bool,

    /// A GET extends a session only if at least this many seconds passed since its last extension.
    #[arg(long = "session-touch-after-seconds", env = "SESSION_TOUCH_AFTER_SECONDS", value_name = "SESSION_TOUCH_AFTER_SECONDS", default_value_t = 60, value_parser = whole::<u64>("a whole number of seconds", 0, None), help_heading = heading::SESSIONS)]
    pub touch_after_seconds: u64,

    /// Largest encoded size of a session's `data`, in bytes.
    #[arg(long = "session-max-data-bytes", env = "SESSION_MAX_DATA_BYTES", value_name = "SESSION_MAX_DATA_BYTES", default_value_t = DEFAULT_MAX_DATA_BYTES, value_parser = whole::<usize>("a whole number of bytes", 0, None), help_heading = heading::SESSIONS)]
    pub max_data_bytes: usize,

    /// Refuse PUT and PATCH without If-Match (428), so that no client overwrites blindly.
    #[arg(long = "session-require-if-match", env = "SESSION_REQUIRE_IF_MATCH", value_name = "SESSION_REQUIRE_IF_MATCH", default_value = "false", value_parser = boolean(), ignore_case = true, action = clap::ArgAction::Set, help_heading = heading::SESSIONS)]
    pub require_if_match: bool,

    /// Most live sessions one user may have (1 to 1000); unset, no limit. Expired and deleted
    /// sessions never count.
    #[arg(long = "session-max-per-user", env = "SESSION_MAX_PER_USER", value_name = "SESSION_MAX_PER_USER", value_parser = whole::<usize>("a whole number of sessions", 1, Some(MAX_SESSIONS_PER_USER as u64)), help_heading = heading::SESSIONS)]
    pub max_per_user: Option<usize>,

    /// What a create does for a user at SESSION_MAX_PER_USER: `evict-oldest` deletes their
    /// oldest live session(s) in the same atomic step; `reject` answers 409 too_many_sessions.
    #[arg(long = "session-limit-policy", env = "SESSION_LIMIT_POLICY", value_name = "SESSION_LIMIT_POLICY", default_value = "evict-oldest", value_parser = PossibleValuesParser::new(["evict-oldest", "reject"]).try_map(|text| LimitPolicy::from_str(&text)), help_heading = heading::SESSIONS)]
    pub limit_policy: LimitPolicy,

    /// Largest JSON size of one listing page, in bytes; a page holds fewer than
    /// `limit` sessions when they would pass it (and always at least one). Lambda responses are
    /// at most 6 MB; behind an ALB (1 MB), lower it to 400000.
    #[arg(long = "listing-max-page-bytes", env = "LISTING_MAX_PAGE_BYTES", value_name = "LISTING_MAX_PAGE_BYTES", default_value_t = DEFAULT_MAX_PAGE_BYTES, value_parser = whole::<usize>("a whole number of bytes", 4096, Some(4_194_304)), help_heading = heading::SESSIONS)]
    pub max_page_bytes: usize,

    /// Secret that seals listing cursors, the same on every instance: base64 of at least 32
    /// random bytes (`openssl rand -base64 32`). Unset: with the embedded store, a random key
    /// kept in `<EMBEDDED_DB_PATH>.cursor-key`; with DynamoDB, the service refuses to start.
    #[arg(
        long = "session-cursor-secret",
        env = "SESSION_CURSOR_SECRET",
        value_name = "SESSION_CURSOR_SECRET",
        hide_env_values = true,
        value_parser = secret,
        help_heading = heading::SESSIONS
    )]
    pub cursor_secret: Option<SecretString>,

    /// File holding SESSION_CURSOR_SECRET (for a Kubernetes secret); trailing whitespace is ignored.
    #[arg(
        long = "session-cursor-secret-file",
        env = "SESSION_CURSOR_SECRET_FILE",
        value_name = "SESSION_CURSOR_SECRET_FILE",
        help_heading = heading::SESSIONS
    )]
    pub cursor_secret_file: Option<PathBuf>,

    /// Client bearer tokens, comma-separated (all session routes but the two admin ones).
    #[arg(
        long = "api-tokens",
        env = "API_TOKENS",
        value_name = "API_TOKENS",
        hide_env_values = true,
        value_parser = secret,
        help_heading = heading::AUTH
    )]
    pub api_tokens: Option<SecretString>,

    /// File of client tokens (comma- or newline-separated; re-read every 30 s).
    #[arg(
        long = "api-tokens-file",
        env = "API_TOKENS_FILE",
        value_name = "API_TOKENS_FILE",
        help_heading = heading::AUTH
    )]
    pub api_tokens_file: Option<PathBuf>,

    /// Admin bearer tokens, comma-separated (every route).
    #[arg(
        long = "admin-tokens",
        env = "ADMIN_TOKENS",
        value_name = "ADMIN_TOKENS",
        hide_env_values = true,
        value_parser = secret,
        help_heading = heading::AUTH
    )]
    pub admin_tokens: Option<SecretString>,

    /// File of admin tokens (comma- or newline-separated; re-read every 30 s).
    #[arg(
        long = "admin-tokens-file",
        env = "ADMIN_TOKENS_FILE",
        value_name = "ADMIN_TOKENS_FILE",
        help_heading = heading::AUTH
    )]
    pub admin_tokens_file: Option<PathBuf>,

    /// Turn authentication off (only behind a gateway that authenticates every request).
    #[arg(long = "auth-disabled", env = "AUTH_DISABLED", value_name = "AUTH_DISABLED", default_value = "false", value_parser = boolean(), ignore_case = true, action = clap::ArgAction::Set, help_heading = heading::AUTH)]
    pub auth_disabled: bool,

    /// Name of the cookie `/auth/forward` reads the session token from when no X-Session-Token
    /// header is sent.
    #[arg(long = "session-cookie-name", env = "SESSION_COOKIE_NAME", value_name = "SESSION_COOKIE_NAME", default_value = crate::routes::forward::DEFAULT_COOKIE_NAME, value_parser = cookie_name(), help_heading = heading::AUTH)]
    pub cookie_name: String,

    /// `/auth/forward` also sends the session's data: `X-Session-Data` (base64url JSON) and
    /// `extra.data` in its body.
    #[arg(long = "forward-auth-data", env = "FORWARD_AUTH_DATA", value_name = "FORWARD_AUTH_DATA", default_value = "false", value_parser = boolean(), ignore_case = true, action = clap::ArgAction::Set, help_heading = heading::AUTH)]
    pub forward_auth_data: bool,

    /// Longest `X-Session-Data` header, in bytes; for larger data the header is left out (and
    /// `extra.data` in the body still has it).
    #[arg(long = "forward-auth-data-max-bytes", env = "FORWARD_AUTH_DATA_MAX_BYTES", value_name = "FORWARD_AUTH_DATA_MAX_BYTES", default_value_t = crate::routes::forward::DEFAULT_DATA_MAX_BYTES, value_parser = whole::<usize>("a whole number of bytes", 0, Some(65_536)), help_heading = heading::AUTH)]
    pub forward_auth_data_max_bytes: usize,

    /// Average requests per second allowed per token (or per client address without one), at
    /// least 0.001; unset: no limit.
    #[arg(
        long = "rate-limit-per-second",
        env = "RATE_LIMIT_PER_SECOND",
        value_name = "RATE_LIMIT_PER_SECOND",
        value_parser = decimal("a number of requests per second"),
        help_heading = heading::AUTH
    )]
    pub rate_limit_per_second: Option<f64>,

    /// Requests a caller may send at once above the average rate, 1 to 1000000 (default: one
    /// second's worth).
    #[arg(long = "rate-limit-burst", env = "RATE_LIMIT_BURST", value_name = "RATE_LIMIT_BURST", value_parser = whole::<u32>("a whole number of requests", 1, Some(u64::from(MAX_RATE_LIMIT_BURST))), help_heading = heading::AUTH)]
    pub rate_limit_burst: Option<u32>,

    /// A request that takes longer than this many seconds is answered 503.
    #[arg(long = "request-timeout-seconds", env = "REQUEST_TIMEOUT_SECONDS", value_name = "REQUEST_TIMEOUT_SECONDS", default_value_t = 10, value_parser = whole::<u64>("a whole number of seconds", 1, Some(900)), help_heading = heading::AUTH)]
    pub request_timeout_seconds: u64,
}

/// A setting that cannot work, naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct SettingsError {
    /// The environment variable to fix.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// The lowest average rate a limit may have, and the largest burst. The limiter keeps time in
/// 64-bit nanoseconds: a full burst at the lowest rate (about 31 years) stays far within them.
pub const MIN_RATE_LIMIT_PER_SECOND: f64 = 0.001;
/// See [`MIN_RATE_LIMIT_PER_SECOND`].
pub const MAX_RATE_LIMIT_BURST: u32 = 1_000_000;

/// Parses a secret setting: any text, kept where `Debug` cannot show it.
fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(text.into())
}

fn settings_error(variable: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        variable,
        problem: problem.into(),
    }
}

/// Parses the settings from the environment alone (no flags), as the Lambda adapter does.
#[derive(Debug, clap::Parser)]
#[command(name = "session-api")]
struct FromEnvironment {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// The settings in the process environment; an error names the variable at fault.
    pub fn from_env() -> Result<Self, clap::Error> {
        use clap::Parser;
        FromEnvironment::try_parse_from(["session-api"]).map(|parsed| parsed.settings)
    }

    /// The expiry policy, checked for consistency.
    pub fn policy(&self) -> Result<ExpiryPolicy, SettingsError> {
        let (default_ttl, variable) = match self.ttl_seconds {
            Some(seconds) => (seconds, "SESSION_TTL_SECONDS"),
            None => (
                self.ttl_hours
                    .checked_mul(3600)
                    .ok_or_else(|| settings_error("SESSION_TTL_HOURS", "is too large"))?,
                "SESSION_TTL_HOURS",
            ),
        };
        if default_ttl > self.max_ttl_seconds {
            return Err(settings_error(
                variable,
                format!(
                    "the default idle timeout ({default_ttl}s) exceeds SESSION_MAX_TTL_SECONDS ({}s)",
                    self.max_ttl_seconds
                ),
            ));
        }
        Ok(ExpiryPolicy {
            default_ttl_seconds: default_ttl,
            max_ttl_seconds: self.max_ttl_seconds,
            max_lifetime_seconds: self.max_lifetime_seconds,
            sliding: self.sliding,
            touch_after_seconds: self.touch_after_seconds,
        })
    }

    /// The data size limit, checked against the body limit and the store's own limit.
    pub fn data_limit(&self) -> Result<usize, SettingsError> {
        const VARIABLE: &str = "SESSION_MAX_DATA_BYTES";
        let ceiling = match self.store {
            StoreKind::Embedded => MAX_DATA_BYTES_CEILING,
            StoreKind::Dynamodb => DYNAMODB_MAX_DATA_BYTES,
        };
        if self.max_data_bytes < 2 {
            return Err(settings_error(
                VARIABLE,
                "must be at least 2 (the size of {})",
            ));
        }
        if self.max_data_bytes > ceiling {
            return Err(settings_error(
                VARIABLE,
                format!(
                    "{} is more than the {:?} store can hold ({ceiling})",
                    self.max_data_bytes, self.store
                ),
            ));
        }
        Ok(self.max_data_bytes)
    }

    /// The cap on live sessions per user, if `SESSION_MAX_PER_USER` is set.
    pub fn user_limit(&self) -> Result<Option<UserLimit>, SettingsError> {
        self.max_per_user
            .map(|max| {
                UserLimit::new(max, self.limit_policy)
                    .map_err(|problem| settings_error("SESSION_MAX_PER_USER", problem))
            })
            .transpose()
    }

    /// Checks every setting at once; the service refuses to start on the first problem.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.policy()?;
        self.data_limit()?;
        self.user_limit()?;
        if self.table_name.len() < 3
            || self.table_name.len() > 255
            || !self
                .table_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(settings_error(
                "DYNAMODB_TABLE_NAME",
                "must be 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'",
            ));
        }
        if let Some(rate) = self.rate_limit_per_second
            && !(rate.is_finite() && rate >= MIN_RATE_LIMIT_PER_SECOND)
        {
            return Err(settings_error(
                "RATE_LIMIT_PER_SECOND",
                format!(
                    "must be a number of at least {MIN_RATE_LIMIT_PER_SECOND} (one request per 1000 seconds)"
                ),
            ));
        }
        if self.rate_limit_burst.is_some() && self.rate_limit_per_second.is_none() {
            return Err(settings_error(
                "RATE_LIMIT_BURST",
                "needs RATE_LIMIT_PER_SECOND",
            ));
        }
        if self
            .cursor_secret
            .as_ref()
            .is_some_and(|secret| secret.expose_secret().is_empty())
        {
            return Err(settings_error("SESSION_CURSOR_SECRET", "is set but empty"));
        }
        if self.cursor_secret.is_some() && self.cursor_secret_file.is_some() {
            return Err(settings_error(
                "SESSION_CURSOR_SECRET_FILE",
                "is set together with SESSION_CURSOR_SECRET; set one of them",
            ));
        }
        if let Some(secret) = self.cursor_secret_value()? {
            crate::cursor_key::check_secret(secret.expose_secret()).map_err(
                |problem| match &self.cursor_secret_file {
                    Some(path) => settings_error(
                        "SESSION_CURSOR_SECRET_FILE",
                        format!("the secret in {} {problem}", path.display()),
                    ),
                    None => settings_error("SESSION_CURSOR_SECRET", problem),
                },
            )?;
        }
        Ok(())
    }

    /// The cursor secret, from `SESSION_CURSOR_SECRET` or the file `SESSION_CURSOR_SECRET_FILE`.
    pub fn cursor_secret_value(&self) -> Result<Option<SecretString>, SettingsError> {
        if let Some(secret) = &self.cursor_secret {
            return Ok(Some(secret.clone()));
        }
        let Some(path) = &self.cursor_secret_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            settings_error(
                "SESSION_CURSOR_SECRET_FILE",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let secret = text.trim_end();
        if secret.is_empty() {
            return Err(settings_error(
                "SESSION_CURSOR_SECRET_FILE",
                format!("{} is empty", path.display()),
            ));
        }
        Ok(Some(secret.into()))
    }

    /// Where tokens come from.
    pub fn token_sources(&self) -> crate::auth::TokenSources {
        crate::auth::TokenSources {
            client: self.api_tokens.clone(),
            admin: self.admin_tokens.clone(),
            client_file: self.api_tokens_file.clone(),
            admin_file: self.admin_tokens_file.clone(),
        }
    }

    /// The rate limiter, when a rate is set.
    pub fn rate_limiter(&self) -> Option<crate::rate_limit::RateLimiter> {
        self.rate_limit_per_second.map(|rate| {
            // Default burst: one second's worth of requests, at least one.
            let burst = self
                .rate_limit_burst
                .unwrap_or(rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32);
            crate::rate_limit::RateLimiter::new(rate, burst)
        })
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }

    /// What `/auth/forward` reads and sends.
    pub fn forward_options(&self) -> crate::routes::forward::ForwardOptions {
        crate::routes::forward::ForwardOptions {
            cookie_name: self.cookie_name.clone(),
            data: self.forward_auth_data,
            data_max_bytes: self.forward_auth_data_max_bytes,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        settings: Settings,
    }

    /// The settings that these command-line flags give.
    pub(crate) fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Flags::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .map(|f| f.settings)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = parse(&[]).expect("defaults parse");
        assert_eq!(settings.store, StoreKind::Embedded);
        assert_eq!(
            settings.embedded_db_path,
            PathBuf::from("./data/sessions.redb")
        );
        assert_eq!(settings.table_name, "user-sessions");
        assert_eq!(settings.embedded_cache_mb, 32);
        assert_eq!(settings.embedded_read_cache_mb, 16);
        let policy = settings.policy().expect("valid");
        assert_eq!(policy.default_ttl_seconds, 24 * 3600);
        assert_eq!(policy.max_ttl_seconds, 30 * 24 * 3600);
        assert!(!policy.sliding);
        assert_eq!(settings.data_limit(), Ok(65_536));
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn rate_limits_out_of_range_are_refused_and_the_extremes_work() {
        for bad in ["0", "-1", "0.0009", "1e-20", "NaN", "inf"] {
            let flag = format!("--rate-limit-per-second={bad}");
            let settings = parse(&[&flag]).expect("a number");
            let error = settings.validate().expect_err(bad);
            assert_eq!(error.variable, "RATE_LIMIT_PER_SECOND", "{bad}");
        }
        for bad in ["0", "1000001"] {
            let error =
                parse(&["--rate-limit-per-second", "1", "--rate-limit-burst", bad]).expect_err(bad);
            assert!(
                error.to_string().contains("RATE_LIMIT_BURST"),
                "{bad}: {error}"
            );
        }
        for (rate, burst) in [("0.001", "1000000"), ("1e9", "1"), ("1e9", "1000000")] {
            let settings = parse(&["--rate-limit-per-second", rate, "--rate-limit-burst", burst])
                .expect("in range");
            assert_eq!(settings.validate(), Ok(()));
            let limiter = settings.rate_limiter().expect("a limiter");
            let key = crate::rate_limit::RateKey::Address([127, 0, 0, 1].into());
            assert_eq!(limiter.check(key), Ok(()), "{rate}/s, burst {burst}");
        }
    }

    #[test]
    fn ttl_seconds_overrides_hours() {
        let settings =
            parse(&["--session-ttl-hours", "2", "--session-ttl-seconds", "90"]).expect("parse");
        assert_eq!(settings.policy().expect("valid").default_ttl_seconds, 90);
        let hours = parse(&["--session-ttl-hours", "2"]).expect("parse");
        assert_eq!(hours.policy().expect("valid").default_ttl_seconds, 7200);
    }

    #[test]
    fn parse_errors_name_the_variable() {
        let error = parse(&["--session-ttl-hours", "soon"]).expect_err("not a number");
        assert!(error.to_string().contains("SESSION_TTL_HOURS"), "{error}");
        let error = parse(&["--session-ttl-hours", "0"]).expect_err("zero");
        assert!(error.to_string().contains("SESSION_TTL_HOURS"), "{error}");
        let error = parse(&["--session-store", "postgres"]).expect_err("unknown store");
        assert!(error.to_string().contains("SESSION_STORE"), "{error}");
        for (flag, variable, bad) in [
            ("--embedded-cache-mb", "EMBEDDED_CACHE_MB", "0"),
            ("--embedded-cache-mb", "EMBEDDED_CACHE_MB", "65537"),
            ("--embedded-cache-mb", "EMBEDDED_CACHE_MB", "lots"),
            (
                "--embedded-read-cache-mb",
                "EMBEDDED_READ_CACHE_MB",
                "65537",
            ),
            ("--embedded-read-cache-mb", "EMBEDDED_READ_CACHE_MB", "some"),
            ("--embedded-read-cache-mb", "EMBEDDED_READ_CACHE_MB", "1.5"),
        ] {
            let error = parse(&[flag, bad]).expect_err("out of range");
            assert!(error.to_string().contains(variable), "{bad}: {error}");
        }
        let cache = parse(&["--embedded-cache-mb", "256"]).expect("parse");
        assert_eq!(cache.embedded_cache_mb, 256);
        let off = parse(&["--embedded-read-cache-mb", "0"]).expect("parse");
        assert_eq!(off.embedded_read_cache_mb, 0);
    }

    #[test]
    fn forward_auth_settings_default_to_the_session_cookie_and_no_data() {
        let defaults = parse(&[]).expect("parse");
        assert_eq!(
            defaults.forward_options(),
            crate::routes::forward::ForwardOptions {
                cookie_name: "session".to_owned(),
                data: false,
                data_max_bytes: 2048,
            }
        );
        let set = parse(&[
            "--session-cookie-name",
            "__Host-sid",
            "--forward-auth-data",
            "TRUE",
            "--forward-auth-data-max-bytes",
            "8192",
        ])
        .expect("parse");
        assert_eq!(
            set.forward_options(),
            crate::routes::forward::ForwardOptions {
                cookie_name: "__Host-sid".to_owned(),
                data: true,
                data_max_bytes: 8192,
            }
        );
        for (flag, variable, bad) in [
            ("--session-cookie-name", "SESSION_COOKIE_NAME", ""),
            ("--session-cookie-name", "SESSION_COOKIE_NAME", "my session"),
            ("--session-cookie-name", "SESSION_COOKIE_NAME", "a=b"),
            ("--session-cookie-name", "SESSION_COOKIE_NAME", "sé"),
            ("--forward-auth-data", "FORWARD_AUTH_DATA", "maybe"),
            (
                "--forward-auth-data-max-bytes",
                "FORWARD_AUTH_DATA_MAX_BYTES",
                "65537",
            ),
        ] {
            let error = parse(&[flag, bad]).expect_err(bad);
            assert!(error.to_string().contains(variable), "{bad:?}: {error}");
        }
    }

    #[test]
    fn the_session_limit_is_off_by_default_and_checked_naming_its_variable() {
        let defaults = parse(&[]).expect("parse");
        assert_eq!(defaults.user_limit(), Ok(None));
        for (flag, variable, bad) in [
            ("--session-max-per-user", "SESSION_MAX_PER_USER", "0"),
            ("--session-max-per-user", "SESSION_MAX_PER_USER", "1001"),
            ("--session-max-per-user", "SESSION_MAX_PER_USER", "five"),
            ("--session-limit-policy", "SESSION_LIMIT_POLICY", "oldest"),
        ] {
            let error = parse(&[flag, bad]).expect_err("out of range");
            assert!(error.to_string().contains(variable), "{bad}: {error}");
        }
        let evict = parse(&["--session-max-per-user", "5"]).expect("parse");
        assert_eq!(
            evict.user_limit(),
            Ok(Some(UserLimit {
                max: 5,
                policy: LimitPolicy::EvictOldest
            }))
        );
        let reject = parse(&[
            "--session-max-per-user",
            "1000",
            "--session-limit-policy",
            "reject",
        ])
        .expect("parse");
        assert_eq!(
            reject.user_limit(),
            Ok(Some(UserLimit {
                max: 1000,
                policy: LimitPolicy::Reject
            }))
        );
    }

    #[test]
    fn inconsistent_settings_name_the_variable() {
        let long_default = parse(&["--session-ttl-hours", "1000"]).expect("parse");
        assert_eq!(
            long_default.validate().map_err(|e| e.variable),
            Err("SESSION_TTL_HOURS")
        );
        let huge = parse(&["--session-max-data-bytes", "2000000"]).expect("parse");
        assert_eq!(
            huge.validate().map_err(|e| e.variable),
            Err("SESSION_MAX_DATA_BYTES")
        );
        let dynamo = parse(&[
            "--session-store",
            "dynamodb",
            "--session-max-data-bytes",
            "500000",
        ])
        .expect("parse");
        assert_eq!(
            dynamo.validate().map_err(|e| e.variable),
            Err("SESSION_MAX_DATA_BYTES")
        );
        let table = parse(&["--dynamodb-table-name", "no spaces allowed"]).expect("parse");
        assert_eq!(
            table.validate().map_err(|e| e.variable),
            Err("DYNAMODB_TABLE_NAME")
        );
    }

    #[test]
    fn the_cursor_secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cursor");
        std::fs::write(&path, format!("{SECRET}\n")).expect("write");
        let settings = parse(&[
            "--session-cursor-secret-file",
            path.to_str().expect("utf-8"),
        ])
        .expect("parse");
        assert_eq!(settings.validate(), Ok(()));
        let secret = settings.cursor_secret_value().expect("readable");
        assert_eq!(secret.as_ref().map(|s| s.expose_secret()), Some(SECRET));
    }

    const SECRET: &str = "qh8kF+sX82OD7eAGypHcmgtFwjv+QyFfhgh92sO9WXg=";

    #[test]
    fn a_weak_cursor_secret_is_refused_naming_its_variable() {
        let weak = parse(&["--session-cursor-secret", "s3cret"]).expect("parse");
        let error = weak.validate().expect_err("too weak");
        assert_eq!(error.variable, "SESSION_CURSOR_SECRET");
        assert!(error.problem.contains("openssl rand -base64 32"), "{error}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cursor");
        std::fs::write(&path, "A".repeat(44)).expect("write");
        let from_file = parse(&[
            "--session-cursor-secret-file",
            path.to_str().expect("utf-8"),
        ])
        .expect("parse");
        let error = from_file.validate().expect_err("a placeholder");
        assert_eq!(error.variable, "SESSION_CURSOR_SECRET_FILE");
        assert!(error.problem.contains("repeats one byte"), "{error}");
        let strong = parse(&["--session-cursor-secret", SECRET]).expect("parse");
        assert_eq!(strong.validate(), Ok(()));
    }

    #[test]
    fn booleans_accept_the_usual_spellings_in_any_case() {
        for (yes, no) in crate::setting_values::BOOLEAN_SPELLINGS {
            for (text, value) in [(yes, true), (no, false)] {
                for text in [text.to_owned(), text.to_ascii_uppercase()] {
                    let settings = parse(&["--session-sliding", &text]).expect("parse");
                    assert_eq!(settings.sliding, value, "{text}");
                }
            }
        }
        assert!(parse(&["--session-sliding", "maybe"]).is_err());
    }
}

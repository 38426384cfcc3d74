//! The command line. Every setting is also an environment variable (shown in `--help`).

use std::net::IpAddr;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use session_api::Settings;
use session_api::setting_values::{ip_address, refused_value, whole};

/// Headings of the server's own options in `--help`; the service settings bring theirs.
const SERVER: &str = "Server";
/// See [`SERVER`].
const SHUTDOWN: &str = "Shutdown";
/// See [`SERVER`].
const LOGGING: &str = "Logging";

/// The session API server: create, read, update and delete user sessions over HTTP, stored
/// in a local file (default) or in DynamoDB.
#[derive(Debug, Parser)]
#[command(
    name = "session-server",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings of `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(ServeArgs),
    /// Create the DynamoDB table (key, userId-index, on-demand billing) and enable TTL on
    /// `ttl`. Safe to run again: an existing table with the right schema is left alone.
    CreateTable(CreateTableArgs),
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TCP port to listen on (0 picks a free one).
    #[arg(
        long = "port",
        env = "PORT",
        value_name = "PORT",
        default_value_t = 8080,
        value_parser = whole::<u16>("a port number", 0, Some(65535)),
        help_heading = SERVER
    )]
    pub port: u16,

    /// Address to listen on. Loopback by default, as Redis does: without tokens (protected
    /// mode) the server refuses to listen anywhere else. In a container, set 0.0.0.0 together
    /// with API_TOKENS/ADMIN_TOKENS or AUTH_DISABLED=true.
    #[arg(
        long = "bind-address",
        env = "BIND_ADDRESS",
        value_name = "BIND_ADDRESS",
        default_value = "127.0.0.1",
        value_parser = ip_address(),
        help_heading = SERVER
    )]
    pub bind_address: IpAddr,

    /// The service settings.
    #[command(flatten)]
    pub settings: Settings,

    /// After SIGTERM/SIGINT, keep serving this many seconds with /ready answering 503 and
    /// `Connection: close` on every response, so that load balancers move traffic away first.
    #[arg(
        long = "shutdown-drain-seconds",
        env = "SHUTDOWN_DRAIN_SECONDS",
        value_name = "SHUTDOWN_DRAIN_SECONDS",
        default_value_t = 0,
        value_parser = whole::<u64>("a whole number of seconds", 0, None),
        help_heading = SHUTDOWN
    )]
    pub shutdown_drain_seconds: u64,

    /// After the drain, how long in-flight requests may take before the server exits anyway.
    #[arg(
        long = "shutdown-grace-seconds",
        env = "SHUTDOWN_GRACE_SECONDS",
        value_name = "SHUTDOWN_GRACE_SECONDS",
        default_value_t = 25,
        value_parser = whole::<u64>("a whole number of seconds", 0, None),
        help_heading = SHUTDOWN
    )]
    pub shutdown_grace_seconds: u64,

    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Settings of `create-table`.
#[derive(Debug, Clone, Args)]
pub struct CreateTableArgs {
    /// Wait until the table and its index are ACTIVE.
    #[arg(long)]
    pub wait: bool,

    /// Give up waiting after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = whole::<u64>("a whole number of seconds", 0, None))]
    pub wait_timeout_seconds: u64,

    /// The service settings (only the DynamoDB ones matter here).
    #[command(flatten)]
    pub settings: Settings,

    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// How logs are written (to stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// JSON lines when stdout is not a terminal, pretty text when it is.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Pretty,
}

/// Logging settings.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format. The level comes from RUST_LOG (default `info`).
    #[arg(
        long = "log-format",
        env = "LOG_FORMAT",
        value_name = "LOG_FORMAT",
        value_enum,
        default_value = "auto",
        help_heading = LOGGING
    )]
    pub log_format: LogFormat,
}

/// Why the command line was refused.
#[derive(Debug)]
pub enum Refused {
    /// Help, version, or a usage error: clap prints it and picks the exit status.
    Clap(clap::Error),
    /// A setting's value, worded in the user's own terms (see [`refused_value`]).
    Value(String),
}

impl Cli {
    /// Parses `args` and the environment. A refused value is named as the user gave it: by its
    /// variable when it came from the environment, by its flag when it came from `args`.
    pub fn parse_from_env_and<I, T>(args: I) -> Result<Self, Refused>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let error = match Self::command().try_get_matches_from(&args) {
            Ok(matches) => return Self::from_arg_matches(&matches).map_err(Refused::Clap),
            Err(error) => error,
        };
        // Parsed again, past the error, only to learn where each value came from: clap
        // records the source of the refused value before it parses it.
        let partial = Self::command()
            .ignore_errors(true)
            .try_get_matches_from(&args)
            .ok();
        let matches: Option<&ArgMatches> = partial
            .as_ref()
            .map(|top| top.subcommand().map_or(top, |(_, sub)| sub));
        let source = |arg: &clap::Arg| -> Option<ValueSource> {
            let matches = matches?;
            matches
                .ids()
                .any(|id| id == arg.get_id())
                .then(|| matches.value_source(arg.get_id().as_str()))
                .flatten()
        };
        match refused_value(&error, &mut Self::command(), &source) {
            Some(message) => Err(Refused::Value(message)),
            None => Err(Refused::Clap(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_listens_on_loopback_unless_told_otherwise() {
        let cli = Cli::try_parse_from(["session-server"]).expect("defaults parse");
        assert_eq!(cli.serve.bind_address, IpAddr::from([127, 0, 0, 1]));
        let cli = Cli::try_parse_from(["session-server", "serve", "--bind-address", "0.0.0.0"])
            .expect("parse");
        let Some(Command::Serve(serve)) = cli.command else {
            panic!("serve");
        };
        assert_eq!(serve.bind_address, IpAddr::from([0, 0, 0, 0]));
    }
}

//! The command line. Every setting is also an environment variable (shown in `--help`).

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use session_api::Settings;

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
        default_value_t = 8080
    )]
    pub port: u16,

    /// Address to listen on. Loopback by default, as Redis does: without tokens (protected
    /// mode) the server refuses to listen anywhere else. In a container, set 0.0.0.0 together
    /// with API_TOKENS/ADMIN_TOKENS or AUTH_DISABLED=true.
    #[arg(
        long = "bind-address",
        env = "BIND_ADDRESS",
        value_name = "BIND_ADDRESS",
        default_value = "127.0.0.1"
    )]
    pub bind_address: IpAddr,

    /// After SIGTERM/SIGINT, keep serving this many seconds with /ready answering 503 and
    /// `Connection: close` on every response, so that load balancers move traffic away first.
    #[arg(
        long = "shutdown-drain-seconds",
        env = "SHUTDOWN_DRAIN_SECONDS",
        value_name = "SHUTDOWN_DRAIN_SECONDS",
        default_value_t = 0
    )]
    pub shutdown_drain_seconds: u64,

    /// After the drain, how long in-flight requests may take before the server exits anyway.
    #[arg(
        long = "shutdown-grace-seconds",
        env = "SHUTDOWN_GRACE_SECONDS",
        value_name = "SHUTDOWN_GRACE_SECONDS",
        default_value_t = 25
    )]
    pub shutdown_grace_seconds: u64,

    /// The service settings.
    #[command(flatten)]
    pub settings: Settings,

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
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
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
        default_value = "auto"
    )]
    pub log_format: LogFormat,
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

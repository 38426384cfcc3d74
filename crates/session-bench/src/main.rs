//! `session-bench`: measures the session API against its ceilings (see `scripts/bench`).

mod ceiling;
mod load;
mod stats;
mod store;
mod suite;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Load generator and ceilings for the session API.
#[derive(Debug, Parser)]
#[command(name = "session-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP ceiling (a bare axum server of the same shape) on 127.0.0.1.
    Ceiling {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
    },
    /// Measure one store: the service, its HTTP ceiling and the store alone; print markdown.
    Suite {
        /// The session-server binary to measure.
        #[arg(long)]
        server_bin: PathBuf,
        /// Measure the DynamoDB store against DynamoDB Local at this endpoint (else: embedded).
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
        /// Seconds per workload.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Seconds of warm-up before each workload.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Fail unless every request succeeded (for the smoke run).
        #[arg(long)]
        require_clean: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ceiling { port } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(_) => return ExitCode::FAILURE,
            };
            let served = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
                axum::serve(listener, ceiling::router()).await
            });
            if served.is_err() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Suite {
            server_bin,
            dynamodb_endpoint,
            duration,
            warmup,
            connections,
            require_clean,
        } => {
            let plan = suite::Plan {
                server_bin,
                dynamodb_endpoint,
                duration: Duration::from_secs_f64(duration),
                warmup: Duration::from_secs_f64(warmup),
                connections,
            };
            match suite::run(&plan) {
                Ok(report) => {
                    let _ = write!(std::io::stdout(), "{}", report.markdown());
                    if require_clean && !report.clean() {
                        let _ = writeln!(std::io::stderr(), "session-bench: some requests failed");
                        return ExitCode::FAILURE;
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "session-bench: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

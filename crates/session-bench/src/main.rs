//! `session-bench`: measures the session API against its ceilings (see `scripts/bench`).

mod ceiling;
mod load;
mod scale;
mod stats;
mod store;
mod suite;
mod verify;

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
    /// Drive one workload at a running service (for profiling); print its figures.
    Load {
        /// The service's address, e.g. 127.0.0.1:8080.
        #[arg(long)]
        address: std::net::SocketAddr,
        /// Bearer token to send.
        #[arg(long, default_value = "")]
        token: String,
        /// The workload.
        #[arg(long, value_enum)]
        workload: load::Workload,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// Drive a store alone, in process, as the suite's store ceiling does (for profiling);
    /// print its figures.
    Store {
        /// DynamoDB Local's endpoint (else: the embedded store in a temporary directory).
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
        /// Reads by id (else: creates).
        #[arg(long)]
        read: bool,
        /// With --read: reads by session token (the token read and hashed, then the read
        /// with the hash check).
        #[arg(long, requires = "read")]
        by_token: bool,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Concurrent callers.
        #[arg(long, default_value_t = 32)]
        connections: usize,
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
        /// The workloads to measure, comma-separated, in the order given (default: all).
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = suite::WORKLOADS)]
        workloads: Vec<load::Workload>,
        /// Fail unless every request succeeded (for the smoke run).
        #[arg(long)]
        require_clean: bool,
        /// A setting for the server, as KEY=VALUE (repeatable), on top of the suite's own:
        /// e.g. `SESSION_MAX_PER_USER=5`. The suite seeds 20 users with 20 sessions each.
        #[arg(long = "server-env", value_name = "KEY=VALUE", value_parser = suite::parse_setting)]
        server_env: Vec<(String, String)>,
    },
    /// Measure the embedded store at scale: for each size, a store file filled in process,
    /// then the server on it (open, memory, workloads, a sweep, a revoke-all); print markdown.
    Scale {
        /// The session-server binary to measure.
        #[arg(long)]
        server_bin: PathBuf,
        /// Sessions per file, comma-separated: one point of the curve each.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000, 1_000_000])]
        sizes: Vec<usize>,
        /// Seconds per workload.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Seconds of warm-up before each workload.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Concurrent connections of the workloads.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Directory for the store files (a temporary directory is made in it).
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
        /// Fail unless every request succeeded (for the smoke run).
        #[arg(long)]
        require_clean: bool,
    },
    /// Time the steps of verifying a session token in process (SHA-256 of the secret, the
    /// whole read of a presented token, the comparison of hashes); print them.
    VerifyCost,
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
        Command::Load {
            address,
            token,
            workload,
            duration,
            connections,
        } => {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return ExitCode::FAILURE;
            };
            let users: Vec<String> = (0..20).map(|u| format!("bench-list-{u}")).collect();
            let outcome = runtime.block_on(async {
                let seeded = load::seed(address, &token, &users, 20).await?;
                let target = load::Target {
                    address,
                    token,
                    ids: seeded.ids,
                    tokens: seeded.tokens,
                    users,
                };
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                    load::run(
                        workload,
                        &target,
                        connections,
                        Duration::from_secs_f64(duration),
                    )
                    .await,
                )
            });
            match outcome {
                Ok(stats) => {
                    let _ = writeln!(
                        std::io::stdout(),
                        "{}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, {} errors",
                        workload.name(),
                        stats.throughput(),
                        stats.quantile_ms(0.5),
                        stats.quantile_ms(0.99),
                        stats.quantile_ms(0.999),
                        stats.errors
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "session-bench: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Store {
            dynamodb_endpoint,
            read,
            by_token,
            duration,
            connections,
        } => {
            let operation = match (read, by_token) {
                (true, true) => store::Operation::GetByToken,
                (true, false) => store::Operation::Get,
                (false, _) => store::Operation::Create,
            };
            let duration = Duration::from_secs_f64(duration);
            match suite::store_alone(dynamodb_endpoint, operation, connections, duration) {
                Ok(stats) => {
                    let _ = writeln!(
                        std::io::stdout(),
                        "store alone, {operation:?}: {:.0} op/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                        stats.throughput(),
                        stats.quantile_ms(0.5),
                        stats.quantile_ms(0.99),
                        stats.errors
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "session-bench: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Suite {
            server_bin,
            dynamodb_endpoint,
            duration,
            warmup,
            connections,
            workloads,
            require_clean,
            server_env,
        } => {
            let plan = suite::Plan {
                server_bin,
                dynamodb_endpoint,
                duration: Duration::from_secs_f64(duration),
                warmup: Duration::from_secs_f64(warmup),
                connections,
                workloads,
                server_env,
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
        Command::Scale {
            server_bin,
            sizes,
            duration,
            warmup,
            connections,
            dir,
            require_clean,
        } => {
            let plan = scale::Plan {
                server_bin,
                sizes,
                duration: Duration::from_secs_f64(duration),
                warmup: Duration::from_secs_f64(warmup),
                connections,
            };
            match scale::run(&plan, &dir) {
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
        Command::VerifyCost => {
            let _ = writeln!(std::io::stdout(), "{}", verify::measure().sentence());
            ExitCode::SUCCESS
        }
    }
}

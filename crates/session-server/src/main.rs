//! `session-server`: the session API as an HTTP server, and the `create-table` command.

mod cli;
mod telemetry;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use session_api::{build_store, router, state_from_settings};
use session_core::store::dynamodb::{DynamoDbConfig, connect, create_table};
use session_core::{Clock, SystemClock};
use tokio::net::TcpListener;

use cli::{Cli, Command, CreateTableArgs, Refused, ServeArgs};

/// mimalloc rather than the system allocator: a request makes many small, short-lived
/// allocations on several threads, and mimalloc serves them from per-thread pages where
/// glibc's allocator spends a large share of a request's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for settings that cannot work.
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::parse_from_env_and(std::env::args_os()) {
        Ok(cli) => cli,
        Err(Refused::Clap(error)) => error.exit(),
        // Logging is not set up yet: its format is one of the settings.
        Err(Refused::Value(message)) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command {
        Some(Command::CreateTable(args)) => create_table_command(args).await,
        Some(Command::Serve(args)) => serve(args).await,
        None => serve(cli.serve).await,
    }
}

fn config_error(error: impl std::fmt::Display) -> ExitCode {
    tracing::error!(error = %error, "invalid settings");
    let _ = writeln!(std::io::stderr(), "error: {error}");
    ExitCode::from(EXIT_CONFIG)
}

async fn serve(args: ServeArgs) -> ExitCode {
    let _log = telemetry::init(args.log.log_format);
    let settings = &args.settings;
    if let Err(error) = settings.validate() {
        return config_error(error);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = match build_store(settings, clock.clone()).await {
        Ok(store) => store,
        Err(error) => {
            tracing::error!(error = %session_api::problem::chain(&error), "cannot open the session store");
            return ExitCode::FAILURE;
        }
    };
    let state = match state_from_settings(settings, store, clock) {
        Ok(state) => state,
        Err(error) => return config_error(error),
    };
    if let Err(error) = state.options.auth.check_listen_address(args.bind_address) {
        return config_error(error);
    }
    session_api::startup::announce(settings, &state);
    // Readiness is checked now and every few seconds, whether or not anyone asks /ready.
    tokio::spawn(state.readiness.clone().run());
    let address = SocketAddr::new(args.bind_address, args.port);
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%address, error = %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener
        .local_addr()
        .map_or_else(|_| address.to_string(), |a| a.to_string());
    tracing::info!(address = %bound, "listening");

    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let drain = Duration::from_secs(args.shutdown_drain_seconds);
    let draining = state.options.draining.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // While draining, the router's layers close each connection after its response.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        draining.store(true, Ordering::Relaxed);
        if !drain.is_zero() {
            tracing::info!(
                drain_seconds = drain.as_secs(),
                "shutting down: draining (/ready is 503, connections close after each response)"
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let outcome = tokio::select! {
        result = server => result,
        () = grace_expired(stop_rx, grace) => {
            tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time; exiting");
            Ok(())
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(error = %error, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes `grace` after the shutdown began (never, if it does not).
async fn grace_expired(mut stopping: tokio::sync::watch::Receiver<bool>, grace: Duration) {
    if stopping.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(grace).await;
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

async fn create_table_command(args: CreateTableArgs) -> ExitCode {
    let _log = telemetry::init(args.log.log_format);
    let settings = &args.settings;
    if let Err(error) = settings.validate() {
        return config_error(error);
    }
    let config = DynamoDbConfig {
        region: Some(settings.region.clone()),
        ..DynamoDbConfig::new(settings.table_name.clone())
    };
    let store = connect(&config).await;
    let wait = args
        .wait
        .then(|| Duration::from_secs(args.wait_timeout_seconds));
    match create_table(store.client(), &settings.table_name, wait).await {
        Ok(outcome) => {
            let what = if outcome.created {
                "created"
            } else {
                "already exists"
            };
            let ttl = if outcome.ttl_enabled {
                "TTL enabled on ttl"
            } else {
                "TTL already enabled on ttl"
            };
            let _ = writeln!(
                std::io::stdout(),
                "table {}: {what}; {ttl}",
                settings.table_name
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            let cause = session_api::problem::chain(&error);
            tracing::error!(table = %settings.table_name, error = %cause, "create-table failed");
            let _ = writeln!(
                std::io::stderr(),
                "error: create-table {}: {cause}",
                settings.table_name
            );
            ExitCode::FAILURE
        }
    }
}

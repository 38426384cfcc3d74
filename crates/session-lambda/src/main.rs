//! `session-lambda`: the `bootstrap` of the session API's Lambda function.

use std::io::Write;
use std::process::ExitCode;

use session_lambda::emf::EmfRecorder;
use session_lambda::init_error;
use session_lambda::startup::{self, StartupError};
use session_lambda::{EventGuard, LambdaApp, telemetry};

/// Exit status for settings that cannot work (the server's too).
const EXIT_CONFIG: u8 = 2;

// One thread: Lambda sends a function instance one event at a time, and a cold start need not
// pay for a pool of workers that would sit idle.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init();
    let env = |name: &str| std::env::var(name).ok();
    let settings = match startup::settings(&env) {
        Ok(settings) => settings,
        Err(error) => return fail_init(&error).await,
    };
    if let Err(error) = startup::check_runtime_environment(&env) {
        return fail_init(&StartupError::from(error)).await;
    }
    // The figures of /metrics also go to the log as EMF, which CloudWatch makes metrics of.
    let metrics = EmfRecorder::default();
    session_api::metrics::install(Some(Box::new(metrics.clone())));
    let router = match startup::build_router(&settings).await {
        Ok(router) => router,
        Err(error) => return fail_init(&error).await,
    };
    // Built once, above; every invocation is served by this one value. This is what
    // `lambda_http::run` does, with the guard in front of its adapter.
    let app = LambdaApp::new(router).with_metrics(metrics);
    let handler = EventGuard::new(lambda_http::Adapter::from(app));
    match lambda_http::lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "the Lambda runtime stopped");
            let _ = writeln!(
                std::io::stderr(),
                "error: the Lambda runtime stopped: {error}"
            );
            ExitCode::FAILURE
        }
    }
}

/// Logs the reason, writes it to stderr, reports it to the Runtime API when there is one, and
/// gives the exit status: Lambda then shows the reason instead of a bare exit code.
async fn fail_init(error: &StartupError) -> ExitCode {
    let message = error.to_string();
    tracing::error!(error = %message, error_type = error.error_type(), "cannot start");
    let _ = writeln!(std::io::stderr(), "error: {message}");
    let runtime_api = std::env::var("AWS_LAMBDA_RUNTIME_API").ok();
    if let Some(api) = runtime_api.filter(|api| !api.trim().is_empty())
        && let Err(report_error) = init_error::report(&api, error.error_type(), &message).await
    {
        tracing::warn!(error = %report_error, "could not report the error to the Runtime API");
    }
    ExitCode::from(EXIT_CONFIG)
}

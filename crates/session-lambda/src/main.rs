//! `session-lambda`: the `bootstrap` of the session API's Lambda function.

use std::process::ExitCode;

use session_lambda::emf::EmfRecorder;
use session_lambda::init_error::{fail_init, runtime_stopped};
use session_lambda::startup::{self, StartupError};
use session_lambda::{EventGuard, LambdaApp, telemetry};

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
    runtime_stopped(lambda_http::lambda_runtime::run(handler).await)
}

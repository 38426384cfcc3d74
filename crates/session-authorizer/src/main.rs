//! `session-authorizer`: the `bootstrap` of the API Gateway Lambda authorizer.

use std::process::ExitCode;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use session_authorizer::Authorizer;
use session_lambda::init_error::{fail_init, runtime_stopped};
use session_lambda::startup::{self, StartupError};
use session_lambda::telemetry;

// One thread: Lambda sends a function instance one event at a time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init();
    let env = |name: &str| std::env::var(name).ok();
    let settings = match startup::authorizer_settings(&env) {
        Ok(settings) => settings,
        Err(error) => return fail_init(&error).await,
    };
    if let Err(error) = startup::check_runtime_environment(&env) {
        return fail_init(&StartupError::from(error)).await;
    }
    let service = match startup::build_service(&settings).await {
        Ok(service) => service,
        Err(error) => return fail_init(&error).await,
    };
    let authorizer = Authorizer::new(service, &settings.cookie_name);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let authorizer = authorizer.clone();
        async move { authorizer.handle(event.payload).await }
    });
    runtime_stopped(lambda_runtime::run(handler).await)
}

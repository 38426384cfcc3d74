//! The session API on AWS Lambda: the very router the server serves (`session_api::router`),
//! over a DynamoDB store, behind API Gateway (REST or HTTP API), a Function URL or an ALB.
//!
//! The binary (`src/main.rs`) is a thin shell around this library, so that tests can drive the
//! same [`LambdaApp`] with event payloads in process:
//!
//! 1. [`telemetry::init`]: logs in the Lambda conventions;
//! 2. [`startup::settings`] and [`startup::check_runtime_environment`]: every setting checked
//!    before the Lambda runtime starts, errors naming the variable (and reported with
//!    [`init_error::report`]);
//! 3. [`startup::build_router`]: the SDK client and the router, once per cold start;
//! 4. `lambda_runtime::run(EventGuard::new(Adapter::from(LambdaApp::new(router))))`: one
//!    invocation after another, as `lambda_http::run` would, except that an event `lambda_http`
//!    cannot convert gets a 400 (see [`event_guard`]).

pub mod adapter;
pub mod emf;
pub mod event_guard;
pub mod init_error;
pub mod startup;
pub mod telemetry;

pub use adapter::{LambdaApp, UNKNOWN_CLIENT};
pub use event_guard::EventGuard;
pub use startup::StartupError;

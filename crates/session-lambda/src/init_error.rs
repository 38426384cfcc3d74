//! Reporting a failed initialisation to the Lambda Runtime API.
//!
//! `lambda_runtime` reports errors of invocations, not of the code that runs before it starts.
//! Without this report Lambda only sees the process exit ("Runtime exited with error"); with
//! it, the caller of the failed invocation and the function's logs get the reason itself
//! (`Runtime.InvalidSettings: DYNAMODB_TABLE_NAME: is not set …`). The request goes through
//! the Runtime API client that `lambda_runtime` itself uses.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use http::StatusCode;
use http::header::CONTENT_TYPE;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, Client};

use crate::StartupError;

/// Exit status for settings that cannot work (the server's too).
pub const EXIT_CONFIG: u8 = 2;

/// The exit status once the runtime's loop has ended. It ends only on an error the runtime
/// cannot carry on after; the error goes to the log and to stderr, which Lambda keeps even
/// when the log is filtered.
pub fn runtime_stopped(result: Result<(), BoxError>) -> ExitCode {
    match result {
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
pub async fn fail_init(error: &StartupError) -> ExitCode {
    let message = error.to_string();
    tracing::error!(error = %message, error_type = error.error_type(), "cannot start");
    let _ = writeln!(std::io::stderr(), "error: {message}");
    let runtime_api = std::env::var("AWS_LAMBDA_RUNTIME_API").ok();
    if let Some(api) = runtime_api.filter(|api| !api.trim().is_empty())
        && let Err(report_error) = report(&api, error.error_type(), &message).await
    {
        tracing::warn!(error = %report_error, "could not report the error to the Runtime API");
    }
    ExitCode::from(EXIT_CONFIG)
}

/// The path of the init error endpoint.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// How long the report may take: initialisation is failing anyway, and the process must exit.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// The JSON body of an error report, as the Runtime API documents it.
pub fn error_body(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}

/// Posts the error to `http://{runtime_api}/2018-06-01/runtime/init/error` and returns the
/// HTTP status of the answer.
pub async fn report(
    runtime_api: &str,
    error_type: &str,
    message: &str,
) -> Result<StatusCode, BoxError> {
    let client = Client::builder()
        .with_endpoint(format!("http://{runtime_api}").parse()?)
        .build()?;
    let request = http::Request::post(INIT_ERROR_PATH)
        .header(CONTENT_TYPE, "application/json")
        .header("Lambda-Runtime-Function-Error-Type", error_type)
        .body(Body::from(error_body(error_type, message)))?;
    let answer = tokio::time::timeout(REPORT_TIMEOUT, client.call(request)).await??;
    Ok(answer.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_documented_json() {
        let body: serde_json::Value =
            serde_json::from_str(&error_body("Runtime.InvalidSettings", "X: \"bad\""))
                .expect("json");
        assert_eq!(body["errorType"], "Runtime.InvalidSettings");
        assert_eq!(body["errorMessage"], "X: \"bad\"");
    }
}

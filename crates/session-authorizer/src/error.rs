//! What the authorizer reports to the Lambda runtime instead of an answer.

use lambda_runtime::Diagnostic;
use session_core::SessionError;

/// The message API Gateway turns into a 401: a REST API authorizer denies a request by
/// failing with exactly this message.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// Why an invocation has no answer. API Gateway answers 401 for [`Self::Unauthorized`] and
/// 500 for the others.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// The token opens no live session (REST API events only; an HTTP API gets
    /// `isAuthorized: false` instead).
    #[error("{UNAUTHORIZED}")]
    Unauthorized,
    /// The store failed: not the client's fault, so not a 401.
    #[error("the session store failed")]
    Store(#[source] SessionError),
    /// The event is not an authorizer event this function answers.
    #[error("not an API Gateway REQUEST authorizer event: {0}")]
    InvalidEvent(String),
}

impl From<AuthorizerError> for Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        let error_type = match &error {
            AuthorizerError::Unauthorized => UNAUTHORIZED,
            AuthorizerError::Store(_) => "StoreUnavailable",
            AuthorizerError::InvalidEvent(_) => "InvalidEvent",
        };
        Self {
            error_type: error_type.to_owned(),
            // The cause of a store fault stays in the log: API Gateway shows none of it.
            error_message: error.to_string(),
        }
    }
}

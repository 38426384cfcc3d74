//! Errors as RFC 9457 problem details: one status and one `code` per meaning.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use session_core::SessionError;
use utoipa::ToSchema;

/// Media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `code` of a problem: what went wrong, for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// Malformed or invalid request (400).
    InvalidRequest,
    /// Missing or wrong credentials (401).
    Unauthorized,
    /// Credentials without the right to this route (403).
    Forbidden,
    /// No such session: an unknown or malformed id, or a token that opens none (404).
    SessionNotFound,
    /// No route serves this path (404), so that a mistyped URL does not read as a missing
    /// session.
    RouteNotFound,
    /// The session expired (410).
    SessionExpired,
    /// The user already has the most live sessions `SESSION_MAX_PER_USER` allows and
    /// `SESSION_LIMIT_POLICY` is `reject` (409): nothing was created.
    TooManySessions,
    /// `If-Match` does not name the current version (412).
    VersionMismatch,
    /// `If-Match` is required and missing (428).
    PreconditionRequired,
    /// Body or data too large (413).
    PayloadTooLarge,
    /// Wrong or missing `Content-Type` (415).
    UnsupportedMediaType,
    /// Wrong method for the route (405).
    MethodNotAllowed,
    /// Too many requests (429).
    RateLimited,
    /// The store cannot serve now (503).
    StoreUnavailable,
    /// A fault of the service (500).
    Internal,
}

impl ProblemCode {
    /// The code that goes with an error status when nothing more specific is known.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::SessionNotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::TooManySessions,
            410 => Self::SessionExpired,
            412 => Self::VersionMismatch,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            428 => Self::PreconditionRequired,
            429 => Self::RateLimited,
            503 => Self::StoreUnavailable,
            500..=599 => Self::Internal,
            _ => Self::InvalidRequest,
        }
    }
}

/// RFC 9457 problem details, with the contract's `code`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody<'a> {
    /// Always `about:blank`: the status and `code` say it all.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: &'static str,
    /// The status's reason phrase.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for people.
    detail: &'a str,
    /// What went wrong, for programs.
    code: ProblemCode,
}

/// The cause of a 5xx, attached to the response for the request log; never sent to clients.
#[derive(Debug, Clone)]
pub struct ErrorReport(pub Arc<str>);

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ProblemCode,
    detail: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    report: Option<String>,
}

impl ApiError {
    /// An error with `status`, `code` and a `detail` for the client.
    pub fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            headers: Vec::new(),
            report: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidRequest, detail)
    }

    /// 404 `session_not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ProblemCode::SessionNotFound, detail)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::UnsupportedMediaType,
            detail,
        )
    }

    /// 413 `payload_too_large`.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PayloadTooLarge,
            detail,
        )
    }

    /// 503 `store_unavailable` with `Retry-After`; `cause` goes to the log only.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::StoreUnavailable,
            "the session store is unavailable; retry shortly",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        .with_report(cause)
    }

    /// 500 `internal`; `cause` goes to the log only.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::Internal,
            "an internal error occurred",
        )
        .with_report(cause)
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Attaches the cause to log with the request.
    pub fn with_report(mut self, cause: impl Into<String>) -> Self {
        self.report = Some(cause.into());
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> ProblemCode {
        self.code
    }
}

/// The full cause chain of an error, for logs.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match &error {
            SessionError::NotFound => Self::not_found("no session with this id"),
            SessionError::Expired => Self::new(
                StatusCode::GONE,
                ProblemCode::SessionExpired,
                "the session has expired",
            ),
            SessionError::VersionMismatch { current } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                ProblemCode::VersionMismatch,
                format!("If-Match does not name the session's current version ({current})"),
            )
            .with_header(header::ETAG, crate::body::etag(*current)),
            SessionError::Invalid { message, .. } => Self::invalid(message.clone()),
            SessionError::DataTooLarge { .. } | SessionError::ItemTooLarge => {
                Self::too_large(error.to_string())
            }
            SessionError::TooManySessions { .. } => Self::new(
                StatusCode::CONFLICT,
                ProblemCode::TooManySessions,
                error.to_string(),
            ),
            SessionError::InvalidCursor => Self::invalid(
                "cursor is not a nextCursor this listing issued (malformed, altered, or from another listing)",
            ),
            SessionError::Throttled { .. } | SessionError::Unavailable { .. } => {
                Self::unavailable(chain(&error))
            }
            SessionError::Internal { .. } => Self::internal(chain(&error)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = ProblemBody {
            kind: "about:blank",
            title,
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        if let Some(report) = self.report {
            response.extensions_mut().insert(ErrorReport(report.into()));
        }
        response
    }
}

/// Rewrites an error response that is not yet problem+json (axum's own 404 and 405, and the
/// timeout layer's bare 503) into one, keeping its status and headers (`Allow` on a 405).
pub fn for_every_error(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, _) = response.into_parts();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            ProblemCode::MethodNotAllowed,
            "this method is not allowed on this route",
        ),
        StatusCode::NOT_FOUND => ApiError::not_found("no such route"),
        // Only the timeout layer answers 503 without a problem.
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::unavailable("no answer within REQUEST_TIMEOUT_SECONDS")
        }
        _ => ApiError::new(
            status,
            ProblemCode::for_status(status),
            status.canonical_reason().unwrap_or("error"),
        ),
    };
    let mut rewritten = error.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten.extensions_mut().extend(parts.extensions);
    rewritten
}

/// The answer to a panicking handler: 500, with the panic's message for the log only.
pub fn for_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_code_of_the_contract() {
        assert_eq!(
            ProblemCode::for_status(StatusCode::METHOD_NOT_ALLOWED),
            ProblemCode::MethodNotAllowed
        );
        assert_eq!(
            ProblemCode::for_status(StatusCode::REQUEST_TIMEOUT),
            ProblemCode::InvalidRequest
        );
        assert_eq!(
            ProblemCode::for_status(StatusCode::BAD_GATEWAY),
            ProblemCode::Internal
        );
        let names = serde_json::to_value(ProblemCode::StoreUnavailable).expect("serialize");
        assert_eq!(names, "store_unavailable");
    }

    #[test]
    fn store_faults_do_not_leak_their_cause() {
        let error = ApiError::from(SessionError::unavailable(
            "connection refused to 10.0.0.7:8000",
        ));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.detail.contains("10.0.0.7"));
        assert!(
            error
                .report
                .as_deref()
                .is_some_and(|r| r.contains("10.0.0.7"))
        );
    }
}

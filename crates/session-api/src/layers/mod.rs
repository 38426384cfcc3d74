//! Cross-cutting concerns: request ids, request logs, problem+json for every error, panics,
//! caching headers, timeouts. They run as one middleware, [`envelope`], rather than one layer
//! each: every layer boxes a future per request, and this is the hot path of every call.

pub mod access_log;
mod envelope;
pub mod request_id;

pub use envelope::{Envelope, envelope};

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderValue, Response, header};
use axum::response::IntoResponse;

use crate::problem::{ApiError, PROBLEM_JSON, ProblemCode};

/// Rewrites an error response that is not yet problem+json (axum's own 404, 405, body-limit
/// and extractor rejections) into one, keeping its status and headers (`Allow` on a 405).
pub fn problem_for_every_error(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return response;
    }
    let (parts, _) = response.into_parts();
    let detail = match status.as_u16() {
        405 => "this method is not allowed on this route".to_owned(),
        404 => "no such route".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut rewritten =
        ApiError::new(status, ProblemCode::for_status(status), detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten.extensions_mut().extend(parts.extensions);
    rewritten
}

/// Turns a panic in a handler into a 500 problem (the panic itself is logged as an error).
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// Session data must not be cached by browsers or proxies: every response gets
/// `Cache-Control: no-store` unless a handler chose otherwise.
pub fn no_store(response: &mut Response<Body>) {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

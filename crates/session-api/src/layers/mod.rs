//! Cross-cutting layers: request ids, request logs, problem+json for every error, panics,
//! caching headers, timeouts.

pub mod access_log;
pub mod request_id;

use std::any::Any;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, header};
use axum::middleware::Next;
use axum::response::IntoResponse;

use crate::problem::{ApiError, PROBLEM_JSON, ProblemCode};

/// Middleware: rewrites any error response that is not yet problem+json (axum's own 404,
/// 405, body-limit and extractor rejections) into one, keeping its status and headers
/// (`Allow` on a 405).
pub async fn problem_for_every_error(request: Request, next: Next) -> Response<Body> {
    let response = next.run(request).await;
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

/// Response mapper: session data must not be cached by browsers or proxies. Every response
/// gets `Cache-Control: no-store` unless a handler chose otherwise.
pub async fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Middleware: a request that takes longer than the limit is answered 503 (and its work is
/// dropped; a store write already sent may still land, as with any timeout).
pub async fn timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response<Body> {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::unavailable(format!("request timed out after {limit:?}")).into_response()
        }
    }
}

//! One log event per request (target `session_api::request`, filtered by `RUST_LOG`): request
//! id, method, route template (never the raw path, whose ids would make every line unique),
//! status, latency, the client, the caller's role, a short hash of the session concerned, and the
//! cause of a 5xx, which the client never sees.
//!
//! A layer of its own rather than tower-http's `TraceLayer`: the fields must be on the event
//! itself, and the caller, the session and the cause are only known from the response.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::request_id::X_REQUEST_ID;
use crate::auth::Caller;
use crate::body::SessionTag;
use crate::problem::ErrorReport;
use crate::{client, routes};

/// Middleware: runs the request, then logs it.
pub async fn layer(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request.headers().get(&X_REQUEST_ID).cloned();
    let method = request.method().clone();
    let route = routes::template_of(&request);
    let client = client::resolve(&request);
    let response = next.run(request).await;

    // Whole microseconds: finer digits are noise, and long to read.
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let request_id = request_id
        .as_ref()
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    let method = method.as_str();
    let status = response.status().as_u16();
    let extensions = response.extensions();
    let session = extensions
        .get::<SessionTag>()
        .map_or("", |tag| tag.0.as_str());
    let caller = extensions
        .get::<Caller>()
        .copied()
        .unwrap_or(Caller::Anonymous)
        .as_str();
    let client = client
        .map(|client| client.0.to_string())
        .unwrap_or_default();
    match extensions.get::<ErrorReport>().filter(|_| status >= 500) {
        Some(ErrorReport(error)) => tracing::error!(
            target: "session_api::request",
            request_id, method, route, status, latency_ms, session, client, caller,
            error = &**error,
            "request failed"
        ),
        None => tracing::info!(
            target: "session_api::request",
            request_id, method, route, status, latency_ms, session, client, caller,
            "request"
        ),
    }
    response
}

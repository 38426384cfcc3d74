//! One structured line per request: request id, method, route template (never the raw path,
//! which may carry a session id), status, latency, and a short hash of the session concerned.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use super::request_id::RequestId;
use crate::ClientAddr;
use crate::auth::Caller;
use crate::body::SessionTag;
use crate::problem::ErrorReport;

/// Middleware: logs the request once it is answered; 5xx causes are logged here, with the
/// request id, and never sent to the client.
pub async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.0.to_str().ok().map(str::to_owned))
        .unwrap_or_default();
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map_or_else(String::new, |client| client.0.to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let session = response
        .extensions()
        .get::<SessionTag>()
        .map(|tag| tag.0.as_str())
        .unwrap_or("");
    let caller = response
        .extensions()
        .get::<Caller>()
        .map_or("", |caller| caller.as_str());
    match response.extensions().get::<ErrorReport>() {
        Some(report) if status >= 500 => tracing::error!(
            target: "session_api::request",
            request_id, %method, route, status, latency_ms, session, client, caller, error = &*report.0,
            "request failed"
        ),
        _ => tracing::info!(
            target: "session_api::request",
            request_id, %method, route, status, latency_ms, session, client, caller,
            "request"
        ),
    }
    response
}

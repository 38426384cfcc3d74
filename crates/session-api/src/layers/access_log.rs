//! One structured line per request: request id, method, route template (never the raw path,
//! which may carry a session id), status, latency, the client, the caller's role, and a short
//! hash of the session concerned.

use std::time::Duration;

use axum::http::{HeaderValue, Method};
use axum::response::Response;

use crate::ClientAddr;
use crate::auth::Caller;
use crate::body::SessionTag;
use crate::problem::ErrorReport;

/// What the line says about a request.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The request id.
    pub request_id: &'a HeaderValue,
    /// The method.
    pub method: &'a Method,
    /// The route template, or `unmatched`.
    pub route: &'static str,
    /// The client, when known.
    pub client: Option<ClientAddr>,
    /// Who the caller was.
    pub caller: Caller,
    /// How long the answer took.
    pub elapsed: Duration,
}

/// Writes the line for `entry` answered with `response`. A 5xx line also carries its cause,
/// which the client never sees.
pub fn write(entry: &Entry<'_>, response: &Response) {
    let status = response.status().as_u16();
    // Whole microseconds: finer digits are noise, and long to read.
    let latency_ms = entry.elapsed.as_micros() as f64 / 1000.0;
    let request_id = entry.request_id.to_str().unwrap_or_default();
    let method = entry.method.as_str();
    let route = entry.route;
    let caller = entry.caller.as_str();
    let session = response
        .extensions()
        .get::<SessionTag>()
        .map_or("", |tag| tag.0.as_str());
    let client = Peer(entry.client);
    match response.extensions().get::<ErrorReport>() {
        Some(report) if status >= 500 => tracing::error!(
            target: "session_api::request",
            request_id, method, route, status, latency_ms, session, client = %client, caller, error = &*report.0,
            "request failed"
        ),
        _ => tracing::info!(
            target: "session_api::request",
            request_id, method, route, status, latency_ms, session, client = %client, caller,
            "request"
        ),
    }
}

/// The client's address, or nothing when unknown.
struct Peer(Option<ClientAddr>);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(client) => write!(f, "{}", client.0),
            None => Ok(()),
        }
    }
}

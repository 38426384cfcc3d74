//! One structured line per request: request id, method, route template (never the raw path,
//! which may carry a session id), status, latency, the client, the caller's role, and a short
//! hash of the session concerned.
//!
//! The line is a `tracing` event (target `session_api::request`), so `RUST_LOG` decides
//! whether it is written. An adapter that formats its own lines may install a [`LineWriter`]:
//! enabled lines then go to it directly, skipping `tracing`'s field visitors, which cost more
//! than the rest of the line's work on every request (see docs/benchmarks.md).

use std::sync::OnceLock;
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

/// One request line, ready to be written.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The request id.
    pub request_id: &'a str,
    /// The method.
    pub method: &'a str,
    /// The route template, or `unmatched`.
    pub route: &'static str,
    /// The response status.
    pub status: u16,
    /// How long the answer took.
    pub elapsed: Duration,
    /// The short hash of the session concerned, or empty.
    pub session: &'a str,
    /// The client, when known.
    pub client: Option<ClientAddr>,
    /// Who the caller was (`admin`, `client`, `anonymous`).
    pub caller: &'static str,
    /// The cause of a 5xx, for the log only; `None` otherwise. A line with a cause is logged
    /// at `ERROR` with the message `request failed`, the others at `INFO` with `request`.
    pub error: Option<&'a str>,
}

/// Writes request lines in an adapter's own format, in place of the `tracing` event.
pub trait LineWriter: Send + Sync + 'static {
    /// Writes `line`. Called only for lines that `RUST_LOG` lets through.
    fn write(&self, line: &Line<'_>);
}

static LINE_WRITER: OnceLock<Box<dyn LineWriter>> = OnceLock::new();

/// Sends every later request line to `writer`, for the rest of the process. Returns `false`
/// (and changes nothing) when a writer was installed already.
pub fn install(writer: Box<dyn LineWriter>) -> bool {
    LINE_WRITER.set(writer).is_ok()
}

impl<'a> Line<'a> {
    /// The line for `entry` answered with `response`. A 5xx line also carries its cause,
    /// which the client never sees.
    pub fn of(entry: &'a Entry<'_>, response: &'a Response) -> Self {
        let status = response.status().as_u16();
        let extensions = response.extensions();
        Self {
            request_id: entry.request_id.to_str().unwrap_or_default(),
            method: entry.method.as_str(),
            route: entry.route,
            status,
            elapsed: entry.elapsed,
            session: extensions
                .get::<SessionTag>()
                .map_or("", |tag| tag.0.as_str()),
            client: entry.client,
            caller: entry.caller.as_str(),
            error: extensions
                .get::<ErrorReport>()
                .filter(|_| status >= 500)
                .map(|report| &*report.0),
        }
    }
}

/// Writes the line for `entry` answered with `response` (see [`Line::of`]).
pub fn write(entry: &Entry<'_>, response: &Response) {
    let line = Line::of(entry, response);
    match LINE_WRITER.get() {
        Some(writer) => {
            // The same decision `tracing` makes for the event below, so that `RUST_LOG`
            // filters either way alike.
            let enabled = if line.error.is_some() {
                tracing::enabled!(target: "session_api::request", tracing::Level::ERROR)
            } else {
                tracing::enabled!(target: "session_api::request", tracing::Level::INFO)
            };
            if enabled {
                writer.write(&line);
            }
        }
        None => event(&line),
    }
}

/// The line as a `tracing` event.
fn event(line: &Line<'_>) {
    // Whole microseconds: finer digits are noise, and long to read.
    let latency_ms = line.elapsed.as_micros() as f64 / 1000.0;
    let Line {
        request_id,
        method,
        route,
        status,
        session,
        caller,
        ..
    } = *line;
    let client = Peer(line.client);
    match line.error {
        Some(error) => tracing::error!(
            target: "session_api::request",
            request_id, method, route, status, latency_ms, session, client = %client, caller, error,
            "request failed"
        ),
        None => tracing::info!(
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

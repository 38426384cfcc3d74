//! The one middleware around every route: request id, client address, authentication and
//! rate limit, request timeout, panics, problem+json for every error, `Cache-Control`,
//! `Connection: close` while draining, metrics and the request log, in that order.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::access_log::{self, Entry};
use super::request_id::{self, X_REQUEST_ID};
use crate::auth::{self, Auth};
use crate::extract::BodyDeadline;
use crate::problem::ApiError;
use crate::routes::{UNMATCHED, template};
use crate::{client, metrics};

/// How long before the request's deadline its body must have arrived.
const BODY_MARGIN: Duration = Duration::from_millis(20);

/// What the envelope needs.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Authentication and rate limiting.
    pub auth: Arc<Auth>,
    /// Longest time a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Set while the process drains before shutting down: every response then closes its
    /// connection, so that clients reconnect to another instance.
    pub draining: Arc<AtomicBool>,
}

/// Middleware: everything every request goes through.
pub async fn envelope(
    State(envelope): State<Arc<Envelope>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request_id::assign(&mut request);
    let client = client::resolve(&request);
    let method = request.method().clone();
    let route = template(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let matched = (route != UNMATCHED).then_some(route);

    // Before any body is read: a stranger's request costs no parsing.
    let (caller, refusal) = auth::check(&envelope.auth, &request, matched, client);
    // The body must arrive a little before the request's deadline, so that the extractors
    // answer first and tell a slow client (408) from a slow store (503). Timers firing at the
    // same instant could wake the request for the outer one first. A request known to have
    // no body cannot be late with it, and is spared the extension.
    let deadline = tokio::time::Instant::now() + envelope.request_timeout;
    if request.body().size_hint().exact() != Some(0) {
        let body_deadline = deadline.checked_sub(BODY_MARGIN).unwrap_or(deadline);
        request.extensions_mut().insert(BodyDeadline(body_deadline));
    }
    let response = match refusal {
        Some(refusal) => refusal,
        // A panicking handler is answered 500 here, inside the envelope, so that it is counted
        // and logged like any other failure. (tower-http's catch-panic layer did this as a
        // layer of its own, which cost every request a boxed service and future.)
        None => match tokio::time::timeout_at(
            deadline,
            AssertUnwindSafe(next.run(request)).catch_unwind(),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(panic)) => super::panic_response(panic),
            // The handler's work is dropped; a store write already sent may still land, as
            // with any timeout.
            Err(_) => ApiError::unavailable(format!(
                "request timed out after {:?}",
                envelope.request_timeout
            ))
            .into_response(),
        },
    };
    let mut response = super::problem_for_every_error(response);
    super::no_store(&mut response);
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id.clone());
    if envelope.draining.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }

    let elapsed = started.elapsed();
    metrics::record_request(route, &method, response.status(), elapsed);
    access_log::write(
        &Entry {
            request_id: &request_id,
            method: &method,
            route,
            client,
            caller,
            elapsed,
        },
        &response,
    );
    response
}

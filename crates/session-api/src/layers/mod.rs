//! The layers around every route, assembled in one place ([`apply`]). tower-http and axum
//! provide request ids, caching headers, panic catching, timeouts and the body limit; the
//! crate's own layers are authentication with rate limiting, the problem+json mapping of
//! axum's own errors, `Connection: close` while draining, metrics and the request log.

pub mod access_log;
pub mod request_id;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};

use crate::settings::MAX_BODY_BYTES;
use crate::{ApiOptions, auth, metrics, problem};

/// How long before the request's deadline its body must have arrived, so that the body
/// extractors answer first and tell a slow client (408) from a slow store (503).
const BODY_MARGIN: Duration = Duration::from_millis(20);

/// Wraps every route of `routes` (and its fallback) in the layers, outermost first.
pub fn apply<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    options: &ApiOptions,
) -> Router<S> {
    let draining = options.draining.clone();
    let timeout = options.request_timeout;
    let layers = ServiceBuilder::new()
        .map_request(request_id::drop_insane)
        .layer(SetRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
            MakeRequestUuid,
        ))
        .layer(PropagateRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .map_response(move |response| close_while_draining(&draining, response))
        .layer(from_fn(access_log::layer))
        .layer(from_fn(metrics::layer))
        .map_response(problem::for_every_error)
        // Before any body is read: a stranger's request costs no parsing.
        .layer(from_fn_with_state(options.auth.clone(), auth::layer))
        .layer(CatchPanicLayer::custom(problem::for_panic))
        // The handler's work is dropped at the deadline; a store write already sent may still
        // land, as with any timeout.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(RequestBodyDeadlineLayer::new(
            timeout.checked_sub(BODY_MARGIN).unwrap_or(timeout),
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    routes.layer(layers)
}

/// While the process drains before shutting down, every response closes its connection, so
/// that clients reconnect to another instance.
fn close_while_draining(draining: &Arc<AtomicBool>, mut response: Response) -> Response {
    if draining.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

//! The routes of the contract.

pub mod current;
pub mod forward;
pub mod listing;
pub mod probes;
pub mod sessions;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{Method, Request};
use axum::routing::{any, get, post};

use crate::AppState;
use crate::problem::ApiError;

/// The route templates, for metric labels and route classes (`&'static` so that a label
/// costs nothing per request).
pub const TEMPLATES: [&str; 14] = [
    "/health",
    "/ready",
    "/openapi.json",
    "/metrics",
    "/sessions",
    "/sessions/current",
    "/sessions/current/refresh",
    "/sessions/current/rotate",
    "/sessions/{id}",
    "/sessions/{id}/refresh",
    "/sessions/{id}/rotate",
    "/sessions/user/{userId}",
    forward::PATH,
    UNMATCHED,
];

/// The label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The route template `request` matched (`UNMATCHED` for none). The paths below
/// `/auth/forward` count as `/auth/forward`: they are one route, whatever a gateway appends.
pub fn template_of<B>(request: &Request<B>) -> &'static str {
    let matched = request.extensions().get::<MatchedPath>();
    matched
        .and_then(|path| {
            if path.as_str() == forward::SUBPATHS {
                return Some(&forward::PATH);
            }
            TEMPLATES
                .iter()
                .find(|template| **template == path.as_str())
        })
        .copied()
        .unwrap_or(UNMATCHED)
}

/// Every route, without the cross-cutting layers (see `crate::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .route("/metrics", get(crate::metrics::render))
        .route("/sessions", post(sessions::create).get(listing::list_all))
        // Static segments win over `{id}` (and `current` is no session id anyway).
        .route(
            "/sessions/current",
            get(current::get)
                .put(current::replace)
                .patch(current::patch)
                .delete(current::delete),
        )
        .route("/sessions/current/refresh", post(current::refresh))
        .route("/sessions/current/rotate", post(current::rotate))
        .route(
            "/sessions/{id}",
            get(sessions::get)
                .put(sessions::replace)
                .patch(sessions::patch)
                .delete(sessions::delete),
        )
        .route("/sessions/{id}/refresh", post(sessions::refresh))
        .route("/sessions/{id}/rotate", post(sessions::rotate))
        .route(
            "/sessions/user/{userId}",
            get(listing::list_user).delete(listing::revoke_user),
        )
        .route(forward::PATH, any(forward::check))
        .route(forward::SUBPATHS, any(forward::check))
        .fallback(unknown_route)
}

/// Whether the route `template` has a handler for `method` (HEAD wherever GET is, as axum
/// serves it). Authentication uses it to leave 404 and 405 to the router; a test holds it to
/// the routes above.
pub fn serves(method: &Method, template: &str) -> bool {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    match template {
        "/health" | "/ready" | "/openapi.json" | "/metrics" => method == Method::GET,
        "/sessions" => method == Method::GET || method == Method::POST,
        "/sessions/{id}" | "/sessions/current" => {
            method == Method::GET
                || method == Method::PUT
                || method == Method::PATCH
                || method == Method::DELETE
        }
        "/sessions/{id}/refresh"
        | "/sessions/{id}/rotate"
        | "/sessions/current/refresh"
        | "/sessions/current/rotate" => method == Method::POST,
        "/sessions/user/{userId}" => method == Method::GET || method == Method::DELETE,
        forward::PATH => true,
        _ => false,
    }
}

/// The path is not echoed: a mistyped one may hold something the caller would not want in a
/// response that proxies or logs keep.
async fn unknown_route(method: Method) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        crate::problem::ProblemCode::RouteNotFound,
        format!("no route for {method} on this path; /openapi.json lists every route"),
    )
}

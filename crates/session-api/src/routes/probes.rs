//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
#[allow(unused_imports)] // used by the OpenAPI examples
use serde_json::json;

use crate::AppState;
use crate::body::StatusBody;
use crate::problem::ApiError;

/// `GET /health`: the process is up. No I/O.
#[utoipa::path(
    get,
    path = "/health",
    tag = "probes",
    responses((status = 200, description = "The process is up", body = StatusBody, example = json!({"status": "ok"}))),
)]
pub async fn health() -> Json<StatusBody> {
    Json(StatusBody { status: "ok" })
}

/// `GET /ready`: the store can serve (for DynamoDB: table and index ACTIVE, TTL enabled on
/// `ttl`), as last checked in the background (see [`crate::readiness`]); never asks the store
/// itself. Answers within the readiness timeout either way.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "probes",
    responses((status = 200, description = "The store can serve", body = StatusBody, example = json!({"status": "ready"}))),
    description = "The outcome of the last readiness check, which runs at most every 5 seconds and soon after a request meets a store fault; the first request waits for the first check. 503 `store_unavailable` when the store cannot serve (unreachable, table not ACTIVE, TTL off), before the first check has succeeded, or while the process is shutting down.",
)]
pub async fn ready(State(app): State<AppState>) -> Result<Json<StatusBody>, ApiError> {
    if app
        .options
        .draining
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Err(ApiError::unavailable("not ready: shutting down"));
    }
    match app.readiness.current().await {
        Ok(()) => Ok(Json(StatusBody { status: "ready" })),
        Err(cause) => Err(ApiError::unavailable(format!("not ready: {cause}"))),
    }
}

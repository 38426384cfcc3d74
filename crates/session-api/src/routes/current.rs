//! The session a token names: `/sessions/current` with `X-Session-Token`. The application's
//! hot path: one consistent read by id and a constant-time comparison of the secret's hash;
//! every write carries the hash in its own condition, so a token that was rotated away or
//! whose session was deleted can never write.

use axum::extract::State;
use axum::response::Response;
use session_core::Address;

use crate::AppState;
use crate::body::{
    DataPatchRequest, RefreshRequest, ReplaceSessionRequest, SessionBody, SessionResponse,
    SessionWithToken, TokenResponse,
};
use crate::extract::{IfMatch, Json, MergePatch, SessionTokenHeader};
use crate::problem::{ApiError, ProblemBody};
use crate::routes::sessions::{deleted, patched, read, refreshed, replaced, rotated};

/// `GET /sessions/current`: the session the token names (sliding expiry applies).
#[utoipa::path(
    get,
    path = "/sessions/current",
    tag = "current",
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 400, description = "X-Session-Token is missing or is not a token", body = ProblemBody, content_type = "application/problem+json"), (status = 404, description = "The token opens no session (unknown id, wrong or rotated-away secret)", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn get(
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
) -> Result<SessionResponse, ApiError> {
    read(&app, Address::Token(&token)).await
}

/// `PUT /sessions/current`: `{"data"}` replaces the data.
#[utoipa::path(
    put,
    path = "/sessions/current",
    tag = "current",
    params(("If-Match" = Option<String>, Header, description = "`\"<version>\"` (or a list, or `*`): write only if the session is at that version", pattern = r#"^\s*(\*|(W/)?"[^",]*"(\s*,\s*(W/)?"[^",]*")*|[0-9]+)\s*$"#)),
    request_body(content = ReplaceSessionRequest, content_type = "application/json"),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 400, description = "X-Session-Token is missing or is not a token; or malformed JSON, wrong field types, unknown fields or invalid values", body = ProblemBody, content_type = "application/problem+json"), (status = 404, description = "The token opens no session", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json"), (status = 412, description = "If-Match does not name the current version", body = ProblemBody, content_type = "application/problem+json", headers(("ETag" = String, description = "The current version"))), (status = 428, description = "If-Match is required by this service and missing", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn replace(
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
    IfMatch(if_match): IfMatch,
    Json(body): Json<ReplaceSessionRequest>,
) -> Result<SessionResponse, ApiError> {
    replaced(&app, Address::Token(&token), if_match, body).await
}

/// `PATCH /sessions/current`: a shallow merge patch of the data.
#[utoipa::path(
    patch,
    path = "/sessions/current",
    tag = "current",
    params(("If-Match" = Option<String>, Header, description = "`\"<version>\"` (or a list, or `*`): write only if the session is at that version", pattern = r#"^\s*(\*|(W/)?"[^",]*"(\s*,\s*(W/)?"[^",]*")*|[0-9]+)\s*$"#)),
    request_body(content = DataPatchRequest, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 400, description = "X-Session-Token is missing or is not a token; or malformed JSON, wrong field types, unknown fields or invalid values", body = ProblemBody, content_type = "application/problem+json"), (status = 404, description = "The token opens no session", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json"), (status = 412, description = "If-Match does not name the current version", body = ProblemBody, content_type = "application/problem+json", headers(("ETag" = String, description = "The current version"))), (status = 428, description = "If-Match is required by this service and missing", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn patch(
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
    IfMatch(if_match): IfMatch,
    MergePatch(DataPatchRequest(patch)): MergePatch<DataPatchRequest>,
) -> Result<SessionResponse, ApiError> {
    patched(&app, Address::Token(&token), if_match, patch).await
}

/// `POST /sessions/current/refresh`: optional `{"ttlSeconds"}`.
#[utoipa::path(
    post,
    path = "/sessions/current/refresh",
    tag = "current",
    request_body(content = Option<RefreshRequest>, content_type = "application/json", description = "Optional; an empty body needs no Content-Type"),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 400, description = "X-Session-Token is missing or is not a token; or malformed JSON, wrong field types, unknown fields or invalid values", body = ProblemBody, content_type = "application/problem+json"), (status = 404, description = "The token opens no session", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn refresh(
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
    body: Option<Json<RefreshRequest>>,
) -> Result<SessionResponse, ApiError> {
    refreshed(&app, Address::Token(&token), body).await
}

/// `POST /sessions/current/rotate`: a new secret for the session the token names; the answer
/// carries the new token, and the one sent opens nothing from then on.
#[utoipa::path(
    post,
    path = "/sessions/current/rotate",
    tag = "current",
    responses((status = 200, description = "The session and its new token", body = SessionWithToken, headers(("ETag" = String, description = "\"<version>\""))), (status = 400, description = "X-Session-Token is missing or is not a token", body = ProblemBody, content_type = "application/problem+json"), (status = 404, description = "The token opens no session", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn rotate(
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
) -> Result<TokenResponse, ApiError> {
    rotated(&app, Address::Token(&token)).await
}

/// `DELETE /sessions/current` → 204: sign out.
#[utoipa::path(
    delete,
    path = "/sessions/current",
    tag = "current",
    responses((status = 204, description = "Deleted (expired sessions included)"), (status = 400, description = "X-Session-Token is missing or is not a token", body = ProblemBody, content_type = "application/problem+json"), (status = 404, description = "The token opens no session", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn delete(
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
) -> Result<Response, ApiError> {
    deleted(&app, Address::Token(&token)).await
}

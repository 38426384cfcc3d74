//! One session by its public id: create, read, replace, patch, refresh, rotate, delete. The
//! same operations by session token are in `current`; both go through the functions here.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use session_core::{Address, DataPatch, VersionCheck};

use crate::AppState;
use crate::body::{
    CreateSessionRequest, DataPatchRequest, RefreshRequest, ReplaceSessionRequest, SessionBody,
    SessionResponse, SessionTag, SessionWithToken, TokenResponse,
};
use crate::extract::{IfMatch, Json, MergePatch, SessionIdParam};
use crate::problem::{ApiError, ProblemBody, ProblemCode};
use crate::strict_json::Data;

/// `POST /sessions`: `{"userId", "data"?, "ttlSeconds"?}` → 201 with `Location`.
#[utoipa::path(
    post,
    path = "/sessions",
    tag = "sessions",
    request_body(content = CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created: the session and its token, which no other answer but a rotation ever shows", body = SessionWithToken, headers(("Location" = String, description = "/sessions/{id}"), ("ETag" = String, description = "\"1\""))),
        (status = 409, description = "too_many_sessions: the user already has SESSION_MAX_PER_USER live sessions and SESSION_LIMIT_POLICY is reject; nothing was created. Under evict-oldest (the default) a create at the limit succeeds and deletes the user's oldest live session in the same atomic step", body = ProblemBody, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<CreateSessionRequest>,
) -> Result<Response, ApiError> {
    let data = body.data.unwrap_or_default().0;
    let ttl_seconds = body.ttl_seconds.map(|ttl| ttl.0);
    let (session, token) = app.service.create(&body.user_id, data, ttl_seconds).await?;
    let location = HeaderValue::from_str(&format!("/sessions/{}", session.id))
        .map_err(|e| ApiError::internal(format!("unencodable Location: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        TokenResponse(session, token),
    )
        .into_response())
}

/// `GET /sessions/{id}`.
#[utoipa::path(
    get,
    path = "/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 404, description = "No session with this id (or a malformed id)", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn get(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
) -> Result<SessionResponse, ApiError> {
    read(&app, Address::Id(&id)).await
}

/// Reads the session `at` names.
pub(crate) async fn read(app: &AppState, at: Address<'_>) -> Result<SessionResponse, ApiError> {
    Ok(SessionResponse(app.service.get(at).await?))
}

/// The precondition of a write, enforcing `SESSION_REQUIRE_IF_MATCH`.
pub(crate) fn precondition(
    app: &AppState,
    if_match: Option<VersionCheck>,
) -> Result<VersionCheck, ApiError> {
    match if_match {
        Some(check) => Ok(check),
        None if app.options.require_if_match => Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            ProblemCode::PreconditionRequired,
            "this service requires If-Match with the session's ETag on PUT and PATCH",
        )),
        None => Ok(VersionCheck::Any),
    }
}

/// `PUT /sessions/{id}`: `{"data"}` replaces the data.
#[utoipa::path(
    put,
    path = "/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"), ("If-Match" = Option<String>, Header, description = "`\"<version>\"` (or a list, or `*`): write only if the session is at that version", pattern = r#"^\s*(\*|(W/)?"[^",]*"(\s*,\s*(W/)?"[^",]*")*|[0-9]+)\s*$"#)),
    request_body(content = ReplaceSessionRequest, content_type = "application/json"),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 404, description = "No session with this id (or a malformed id)", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json"), (status = 412, description = "If-Match does not name the current version", body = ProblemBody, content_type = "application/problem+json", headers(("ETag" = String, description = "The current version"))), (status = 428, description = "If-Match is required by this service and missing", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn replace(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
    IfMatch(if_match): IfMatch,
    Json(body): Json<ReplaceSessionRequest>,
) -> Result<SessionResponse, ApiError> {
    replaced(&app, Address::Id(&id), if_match, body).await
}

/// Replaces the data of the session `at` names.
pub(crate) async fn replaced(
    app: &AppState,
    at: Address<'_>,
    if_match: Option<VersionCheck>,
    body: ReplaceSessionRequest,
) -> Result<SessionResponse, ApiError> {
    let check = precondition(app, if_match)?;
    let session = app.service.replace(at, body.data.0, &check).await?;
    Ok(SessionResponse(session.into()))
}

/// `PATCH /sessions/{id}`: a shallow merge patch of the data.
#[utoipa::path(
    patch,
    path = "/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"), ("If-Match" = Option<String>, Header, description = "`\"<version>\"` (or a list, or `*`): write only if the session is at that version", pattern = r#"^\s*(\*|(W/)?"[^",]*"(\s*,\s*(W/)?"[^",]*")*|[0-9]+)\s*$"#)),
    request_body(content = DataPatchRequest, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 404, description = "No session with this id (or a malformed id)", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json"), (status = 412, description = "If-Match does not name the current version", body = ProblemBody, content_type = "application/problem+json", headers(("ETag" = String, description = "The current version"))), (status = 428, description = "If-Match is required by this service and missing", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn patch(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
    IfMatch(if_match): IfMatch,
    MergePatch(DataPatchRequest(patch)): MergePatch<DataPatchRequest>,
) -> Result<SessionResponse, ApiError> {
    patched(&app, Address::Id(&id), if_match, patch).await
}

/// Merge-patches the data of the session `at` names.
pub(crate) async fn patched(
    app: &AppState,
    at: Address<'_>,
    if_match: Option<VersionCheck>,
    patch: Data,
) -> Result<SessionResponse, ApiError> {
    let check = precondition(app, if_match)?;
    let session = app
        .service
        .patch(at, DataPatch::new(patch.0), &check)
        .await?;
    Ok(SessionResponse(session.into()))
}

/// `POST /sessions/{id}/refresh`: optional `{"ttlSeconds"}`.
#[utoipa::path(
    post,
    path = "/sessions/{id}/refresh",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")),
    request_body(content = Option<RefreshRequest>, content_type = "application/json", description = "Optional; an empty body needs no Content-Type"),
    responses((status = 200, description = "The session", body = SessionBody, headers(("ETag" = String, description = "\"<version>\""))), (status = 404, description = "No session with this id (or a malformed id)", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn refresh(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
    body: Option<Json<RefreshRequest>>,
) -> Result<SessionResponse, ApiError> {
    refreshed(&app, Address::Id(&id), body).await
}

/// Extends the session `at` names; a `ttlSeconds` in the body also becomes its idle timeout.
pub(crate) async fn refreshed(
    app: &AppState,
    at: Address<'_>,
    body: Option<Json<RefreshRequest>>,
) -> Result<SessionResponse, ApiError> {
    let ttl_seconds = body
        .and_then(|Json(body)| body.ttl_seconds)
        .map(|ttl| ttl.0);
    Ok(SessionResponse(
        app.service.refresh(at, ttl_seconds).await?.into(),
    ))
}

/// `POST /sessions/{id}/rotate`: a new secret for the session; the answer carries the new
/// token, and the old one opens nothing from then on.
#[utoipa::path(
    post,
    path = "/sessions/{id}/rotate",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")),
    responses((status = 200, description = "The session and its new token", body = SessionWithToken, headers(("ETag" = String, description = "\"<version>\""))), (status = 404, description = "No session with this id (or a malformed id)", body = ProblemBody, content_type = "application/problem+json"), (status = 410, description = "The session expired", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn rotate(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
) -> Result<TokenResponse, ApiError> {
    rotated(&app, Address::Id(&id)).await
}

/// Rotates the secret of the session `at` names.
pub(crate) async fn rotated(app: &AppState, at: Address<'_>) -> Result<TokenResponse, ApiError> {
    let (session, token) = app.service.rotate(at).await?;
    Ok(TokenResponse(session, token))
}

/// `DELETE /sessions/{id}` → 204.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")),
    responses((status = 204, description = "Deleted (expired sessions included)"), (status = 404, description = "No session with this id (or a malformed id)", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn delete(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
) -> Result<Response, ApiError> {
    deleted(&app, Address::Id(&id)).await
}

/// Deletes the session `at` names: 204.
pub(crate) async fn deleted(app: &AppState, at: Address<'_>) -> Result<Response, ApiError> {
    let id = app.service.delete(at).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .extensions_mut()
        .insert(SessionTag(id.fingerprint()));
    Ok(response)
}

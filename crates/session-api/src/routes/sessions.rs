//! One session: create, read, replace, patch, refresh, delete.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use session_core::{DataPatch, SessionId, VersionCheck};

use crate::AppState;
use crate::body::{
    CreateSessionRequest, DataPatchRequest, RefreshRequest, ReplaceSessionRequest, SessionBody,
    SessionResponse, SessionTag,
};
use crate::extract::{IfMatch, Json, MergePatch, SessionIdParam};
use crate::problem::{ApiError, ProblemBody, ProblemCode};

/// `POST /sessions`: `{"userId", "data"?, "ttlSeconds"?}` → 201 with `Location`.
#[utoipa::path(
    post,
    path = "/sessions",
    tag = "sessions",
    request_body(content = CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = SessionBody, headers(("Location" = String, description = "/sessions/{id}"), ("ETag" = String, description = "\"1\""))),
    ),
)]
pub async fn create(
    State(app): State<AppState>,
    Json(body): Json<CreateSessionRequest>,
) -> Result<Response, ApiError> {
    let data = body.data.unwrap_or_default().0;
    let ttl_seconds = body.ttl_seconds.map(|ttl| ttl.0);
    let session = app.service.create(&body.user_id, data, ttl_seconds).await?;
    let location = HeaderValue::from_str(&format!("/sessions/{}", session.id))
        .map_err(|e| ApiError::internal(format!("unencodable Location: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        SessionResponse(session.into()),
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
    Ok(SessionResponse(app.service.get(&id).await?))
}

/// The precondition of a write, enforcing `SESSION_REQUIRE_IF_MATCH`.
fn precondition(app: &AppState, if_match: Option<VersionCheck>) -> Result<VersionCheck, ApiError> {
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
    let check = precondition(&app, if_match)?;
    Ok(SessionResponse(
        app.service.replace(&id, body.data.0, &check).await?.into(),
    ))
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
    let check = precondition(&app, if_match)?;
    Ok(SessionResponse(
        app.service
            .patch(&id, DataPatch::new(patch.0), &check)
            .await?
            .into(),
    ))
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
    let ttl_seconds = body
        .and_then(|Json(body)| body.ttl_seconds)
        .map(|ttl| ttl.0);
    Ok(SessionResponse(
        app.service.refresh(&id, ttl_seconds).await?.into(),
    ))
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
    app.service.delete(&id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(id) = SessionId::parse(&id) {
        response
            .extensions_mut()
            .insert(SessionTag(id.fingerprint()));
    }
    Ok(response)
}

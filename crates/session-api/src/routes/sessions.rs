//! One session: create, read, replace, patch, refresh, delete.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use session_core::{DataPatch, SessionId, VersionCheck};

use crate::AppState;
use crate::body::{SessionResponse, SessionTag};
use crate::extract::{IfMatch, JsonObject, MergePatch, OptionalJsonObject, SessionIdParam};
use crate::problem::{ApiError, ProblemCode};

/// `POST /sessions`: `{"userId", "data"?, "ttlSeconds"?}` → 201 with `Location`.
pub async fn create(
    State(app): State<AppState>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    body.only(&["userId", "data", "ttlSeconds"])?;
    let user_id = body.string("userId")?;
    let data = body.object("data")?.unwrap_or_default();
    let ttl_seconds = body.integer("ttlSeconds")?;
    let session = app.service.create(&user_id, data, ttl_seconds).await?;
    let location = HeaderValue::from_str(&format!("/sessions/{}", session.id.as_str()))
        .map_err(|e| ApiError::internal(format!("unencodable Location: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        SessionResponse(session),
    )
        .into_response())
}

/// `GET /sessions/{id}`.
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
pub async fn replace(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
    IfMatch(if_match): IfMatch,
    JsonObject(mut body): JsonObject,
) -> Result<SessionResponse, ApiError> {
    body.only(&["data"])?;
    let data = body
        .object("data")?
        .ok_or_else(|| ApiError::invalid("data is required and must be a JSON object"))?;
    let check = precondition(&app, if_match)?;
    Ok(SessionResponse(
        app.service.replace(&id, data, &check).await?,
    ))
}

/// `PATCH /sessions/{id}`: a shallow merge patch of the data.
pub async fn patch(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
    IfMatch(if_match): IfMatch,
    MergePatch(patch): MergePatch,
) -> Result<SessionResponse, ApiError> {
    let check = precondition(&app, if_match)?;
    Ok(SessionResponse(
        app.service
            .patch(&id, DataPatch::new(patch), &check)
            .await?,
    ))
}

/// `POST /sessions/{id}/refresh`: optional `{"ttlSeconds"}`.
pub async fn refresh(
    State(app): State<AppState>,
    SessionIdParam(id): SessionIdParam,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<SessionResponse, ApiError> {
    let ttl_seconds = match body {
        Some(mut body) => {
            body.only(&["ttlSeconds"])?;
            body.integer("ttlSeconds")?
        }
        None => None,
    };
    Ok(SessionResponse(
        app.service.refresh(&id, ttl_seconds).await?,
    ))
}

/// `DELETE /sessions/{id}` → 204.
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

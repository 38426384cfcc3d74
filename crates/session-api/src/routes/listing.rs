//! Listings and revoke-all.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::body::{DeletedBody, PageBody};
use crate::extract::{ListQuery, UserIdParam};
use crate::problem::ApiError;

/// `GET /sessions/user/{userId}`: the user's live sessions, newest first.
pub async fn list_user(
    State(app): State<AppState>,
    UserIdParam(user_id): UserIdParam,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = app
        .service
        .list_user(&user_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(Json(PageBody::from(&page)).into_response())
}

/// `DELETE /sessions/user/{userId}`: log the user out everywhere.
pub async fn revoke_user(
    State(app): State<AppState>,
    UserIdParam(user_id): UserIdParam,
) -> Result<Json<DeletedBody>, ApiError> {
    let deleted = app.service.revoke_user(&user_id).await?;
    Ok(Json(DeletedBody { deleted }))
}

/// `GET /sessions`: every live session (admin).
pub async fn list_all(State(app): State<AppState>, query: ListQuery) -> Result<Response, ApiError> {
    let page = app
        .service
        .list_all(query.limit, query.cursor.as_deref())
        .await?;
    Ok(Json(PageBody::from(&page)).into_response())
}

//! Listings and revoke-all.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::body::{DeletedBody, PageBody};
use crate::extract::{ListQuery, UserIdParam};
use crate::problem::{ApiError, ProblemBody};

/// `GET /sessions/user/{userId}`: the user's live sessions, newest first.
#[utoipa::path(
    get,
    path = "/sessions/user/{userId}",
    tag = "sessions",
    params(("userId" = String, Path, description = "The user id (percent-encoded)", min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]+$"), ("limit" = Option<i64>, Query, description = "Most sessions per page, 1 to 100 (default 50). A page holds fewer when its JSON would pass LISTING_MAX_PAGE_BYTES (default 1 MiB), and always at least one; follow nextCursor", minimum = 1, maximum = 100), ("cursor" = Option<String>, Query, description = "The previous page's nextCursor", max_length = 512)),
    responses((status = 200, description = "A page of the user's live sessions, newest first", body = PageBody), (status = 400, description = "Invalid userId, limit or cursor", body = ProblemBody, content_type = "application/problem+json")),
)]
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
#[utoipa::path(
    delete,
    path = "/sessions/user/{userId}",
    tag = "admin",
    params(("userId" = String, Path, description = "The user id (percent-encoded)", min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]+$")),
    responses((status = 200, description = "How many live sessions were deleted", body = DeletedBody), (status = 400, description = "Invalid userId", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn revoke_user(
    State(app): State<AppState>,
    UserIdParam(user_id): UserIdParam,
) -> Result<Json<DeletedBody>, ApiError> {
    let deleted = app.service.revoke_user(&user_id).await?;
    Ok(Json(DeletedBody { deleted }))
}

/// `GET /sessions`: every live session (admin).
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "admin",
    params(("limit" = Option<i64>, Query, description = "Most sessions per page, 1 to 100 (default 50). A page holds fewer when its JSON would pass LISTING_MAX_PAGE_BYTES (default 1 MiB), and always at least one; follow nextCursor", minimum = 1, maximum = 100), ("cursor" = Option<String>, Query, description = "The previous page's nextCursor", max_length = 512)),
    responses((status = 200, description = "A page of all live sessions", body = PageBody), (status = 400, description = "Invalid limit or cursor", body = ProblemBody, content_type = "application/problem+json")),
)]
pub async fn list_all(State(app): State<AppState>, query: ListQuery) -> Result<Response, ApiError> {
    let page = app
        .service
        .list_all(query.limit, query.cursor.as_deref())
        .await?;
    Ok(Json(PageBody::from(&page)).into_response())
}

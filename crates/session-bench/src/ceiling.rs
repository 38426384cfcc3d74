//! The HTTP ceiling: a bare axum server with handlers of the same shape as the service's
//! (same routes, same request parsing, same response sizes) and nothing else: no store, no
//! middleware. What the service achieves is reported as a share of what this achieves.

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

fn session(id: &str, user: &str) -> Value {
    json!({
        "id": id,
        "userId": user,
        "data": {"theme": "dark", "lang": "en", "cart": [1, 2, 3], "n": 1},
        "createdAt": "2026-11-23T10:00:00.000Z",
        "updatedAt": "2026-11-23T10:00:00.000Z",
        "expiresAt": "2026-11-24T10:00:00.000Z",
        "ttl": 1_795_514_400,
        "version": 1
    })
}

const ID: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
/// A token of the service's shape (the id, a dot, 43 characters of base64url), so that the
/// create answer has the service's size.
const TOKEN: &str =
    "6ba7b810-9dad-41d1-80b4-00c04fd430c8.q2hRFSsMKx7XcYhkOrj7mKOb4BfxHJYkmMXE6CeQWvI";

async fn create(Json(body): Json<Value>) -> impl IntoResponse {
    let user = body["userId"].as_str().unwrap_or("user").to_owned();
    let mut answer = session(ID, &user);
    answer["token"] = Value::from(TOKEN);
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/sessions/{ID}")),
            (header::ETAG, "\"1\"".to_owned()),
        ],
        Json(answer),
    )
}

async fn read(Path(id): Path<String>) -> impl IntoResponse {
    ([(header::ETAG, "\"1\"")], Json(session(&id, "user")))
}

/// `GET /sessions/current`: the session the token's id part names, as the service answers it;
/// a request without a token of that form gets 400, as from the service.
async fn read_current(headers: HeaderMap) -> Result<impl IntoResponse, StatusCode> {
    let id = headers
        .get("x-session-token")
        .and_then(|value| value.to_str().ok())
        .and_then(|token| token.split_once('.'))
        .map(|(id, _secret)| id.to_owned())
        .ok_or(StatusCode::BAD_REQUEST)?;
    Ok(([(header::ETAG, "\"1\"")], Json(session(&id, "user"))))
}

async fn patch(Path(id): Path<String>, Json(_patch): Json<Value>) -> impl IntoResponse {
    ([(header::ETAG, "\"2\"")], Json(session(&id, "user")))
}

async fn list(Path(user): Path<String>) -> Json<Value> {
    let sessions: Vec<Value> = (0..20).map(|_| session(ID, &user)).collect();
    Json(json!({"sessions": sessions, "count": 20, "nextCursor": null}))
}

/// The ceiling's routes.
pub fn router() -> Router {
    Router::new()
        .route("/sessions", post(create))
        .route("/sessions/current", get(read_current))
        .route("/sessions/{id}", get(read).patch(patch))
        .route("/sessions/user/{userId}", get(list))
}

//! Request and response bodies of the contract: each type both parses (or writes) its body
//! and documents it in the OpenAPI document, so the two cannot drift apart.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use session_core::{Page, Session, SessionId, SessionToken, Timestamp};
use utoipa::ToSchema;

use crate::strict_json::{Data, WholeNumber};

/// Body of `POST /sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct CreateSessionRequest {
    /// Whom the session belongs to: 1 to 256 characters, no control or invisible format
    /// characters (bidirectional controls, zero-width characters). The pattern names those of
    /// the Basic Multilingual Plane; the service refuses the ones beyond it too (tags, U+E0001
    /// and U+E0020–U+E007F, among others), which a pattern without the `u` flag cannot name.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]+$"
    )]
    pub user_id: String,
    /// The session's data (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Data>,
    /// Idle timeout in seconds (default: the service's default).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2_592_000)]
    pub ttl_seconds: Option<WholeNumber>,
}

/// Body of `PUT /sessions/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct ReplaceSessionRequest {
    /// The new data, replacing the old whole.
    #[schema(value_type = Object)]
    pub data: Data,
}

/// Body of `POST /sessions/{id}/refresh` (optional).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct RefreshRequest {
    /// New idle timeout in seconds, used now and from then on.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2_592_000)]
    pub ttl_seconds: Option<WholeNumber>,
}

/// Body of `PATCH /sessions/{id}`: a shallow merge patch of the data. Each key is set to its
/// value; a `null` value removes the key; other keys are left alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct DataPatchRequest(pub Data);

/// The fingerprint of the session a response is about, for the request log (see
/// `SessionId::fingerprint` for why not the id).
#[derive(Debug, Clone)]
pub struct SessionTag(pub String);

/// The session object of the contract.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionBody<'a> {
    /// The session's public id (a random UUID): a name, not a credential.
    #[schema(value_type = String, format = "uuid")]
    id: &'a SessionId,
    /// Whom the session belongs to.
    user_id: &'a str,
    /// The application's data.
    #[schema(value_type = Object)]
    data: &'a session_core::SessionData,
    /// Creation time (RFC 3339, UTC, milliseconds).
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// Last change of `data`.
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
    /// `ttl` as a timestamp.
    #[schema(value_type = String, format = DateTime)]
    expires_at: Timestamp,
    /// Expiry in whole epoch seconds; the session is expired when `ttl <= now`.
    ttl: i64,
    /// 1 at creation, +1 on every PUT and PATCH; the `ETag` is `"<version>"`.
    #[schema(minimum = 1)]
    version: u64,
}

impl<'a> From<&'a Session> for SessionBody<'a> {
    fn from(session: &'a Session) -> Self {
        Self {
            id: &session.id,
            user_id: session.user_id.as_str(),
            data: &session.data,
            created_at: session.created_at,
            updated_at: session.updated_at,
            expires_at: session.expires_at(),
            ttl: session.ttl,
            version: session.version,
        }
    }
}

/// A session response: the session object with its `ETag`.
#[derive(Debug)]
pub struct SessionResponse(pub Arc<Session>);

/// The `ETag` of a session at `version`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// `body`, an answer about `session`, with the session's `ETag` and its tag for the log.
fn session_answer(body: impl Serialize, session: &Session) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(session.version));
    response
        .extensions_mut()
        .insert(SessionTag(session.id.fingerprint()));
    response
}

impl IntoResponse for SessionResponse {
    fn into_response(self) -> Response {
        session_answer(SessionBody::from(&*self.0), &self.0)
    }
}

/// The answer of a create and of a rotation: the session object and its token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SessionWithToken)]
pub struct SessionWithToken<'a> {
    #[serde(flatten)]
    session: SessionBody<'a>,
    /// The session token, `<id>.<secret>` (80 characters, cookie-safe): the credential the
    /// application hands to its user and sends back as `X-Session-Token`. Only a hash of the
    /// secret is stored, so this answer is the only place it is shown; keep it.
    #[schema(
        min_length = 80,
        max_length = 80,
        pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\.[A-Za-z0-9_-]{43}$"
    )]
    token: String,
}

/// A session answer that carries the token (create, rotate), with the session's `ETag`.
#[derive(Debug)]
pub struct TokenResponse(pub Session, pub SessionToken);

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let TokenResponse(session, token) = self;
        let body = SessionWithToken {
            session: SessionBody::from(&session),
            token: token.to_string(),
        };
        session_answer(body, &session)
    }
}

/// A page of a listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Page)]
pub struct PageBody<'a> {
    /// Live sessions.
    sessions: Vec<SessionBody<'a>>,
    /// How many sessions this page holds.
    count: usize,
    /// Pass as `cursor` to get the next page; `null` on the last page. Always present.
    #[schema(required = true)]
    next_cursor: Option<&'a str>,
}

impl<'a> From<&'a Page> for PageBody<'a> {
    fn from(page: &'a Page) -> Self {
        Self {
            sessions: page.sessions.iter().map(SessionBody::from).collect(),
            count: page.sessions.len(),
            next_cursor: page.next_cursor.as_deref(),
        }
    }
}

/// `{"status": "..."}` of the probes.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Status)]
pub struct StatusBody {
    /// `ok` or `ready`.
    #[schema(value_type = String)]
    pub status: &'static str,
}

/// `{"deleted": n}` of revoke-all.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Deleted)]
pub struct DeletedBody {
    /// How many live sessions were deleted.
    pub deleted: u64,
}

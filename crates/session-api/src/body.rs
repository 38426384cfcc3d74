//! Response bodies.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use session_core::{Page, Session, SessionId, Timestamp};

use crate::problem::ApiError;
use utoipa::ToSchema;

/// The fingerprint of the session a response is about, for the request log (never the id).
#[derive(Debug, Clone)]
pub struct SessionTag(pub String);

/// The session object of the contract.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionBody<'a> {
    /// The session id (a random UUID; a secret).
    #[schema(value_type = String, format = "uuid")]
    id: &'a SessionId,
    /// Whom the session belongs to.
    user_id: &'a str,
    /// The application's data.
    #[schema(value_type = Object)]
    data: &'a Map<String, Value>,
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
    // Written backwards into a stack buffer: every session response carries one, and
    // `format!` would allocate a string only to copy it into the header.
    let mut text = [b'"'; 22];
    let mut at = text.len() - 1;
    let mut rest = version;
    loop {
        at -= 1;
        text[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    HeaderValue::from_bytes(&text[at - 1..]).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The session object of `session`, as JSON.
pub fn encode_session(session: &Session) -> Result<Bytes, serde_json::Error> {
    // Into a buffer sized for a typical session at once: serde_json's writer would start
    // small and grow it twice on the way to an ordinary session's 300 bytes.
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, &SessionBody::from(session))?;
    Ok(Bytes::from(body))
}

impl IntoResponse for SessionResponse {
    fn into_response(self) -> Response {
        let session = self.0;
        let body = match encode_session(&session) {
            Ok(body) => body,
            Err(error) => {
                return ApiError::internal(format!("unencodable session: {error}")).into_response();
            }
        };
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::ETAG, etag(session.version));
        response
            .extensions_mut()
            .insert(SessionTag(session.id.fingerprint()));
        response
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_quote_the_version() {
        for version in [0, 1, 9, 10, 1234, u64::MAX] {
            assert_eq!(etag(version), format!("\"{version}\"").as_str());
        }
    }
}

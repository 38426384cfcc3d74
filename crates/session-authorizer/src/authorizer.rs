//! The decision: which session, if any, the request's token opens.

use std::sync::Arc;

use http::HeaderMap;
use serde::Serialize;
use serde_json::Value;
use session_api::routes::forward::presented_token;
use session_core::{Address, Session, SessionError, SessionService};

use crate::error::AuthorizerError;
use crate::{http_api, rest};

/// The identity handed to the backend: the authorizer context of either event kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    /// The user id, as stored.
    pub user_id: String,
    /// The session's public id.
    pub session_id: String,
    /// When the session expires (RFC 3339, UTC, milliseconds), after this read's extension.
    pub expires_at: String,
}

impl From<&Session> for SessionContext {
    fn from(session: &Session) -> Self {
        Self {
            user_id: session.user_id.as_str().to_owned(),
            session_id: session.id.to_string(),
            expires_at: session.expires_at().to_rfc3339(),
        }
    }
}

/// The authorizer: the session service and where the token is read. Cheap to clone (one per
/// invocation).
#[derive(Debug, Clone)]
pub struct Authorizer {
    service: SessionService,
    cookie_name: Arc<str>,
}

impl Authorizer {
    /// An authorizer reading sessions with `service` and the token from `X-Session-Token` or
    /// the cookie `cookie_name`.
    pub fn new(service: SessionService, cookie_name: &str) -> Self {
        Self {
            service,
            cookie_name: cookie_name.into(),
        }
    }

    /// Answers one event: an HTTP API payload 2.0 event gets a simple response, any other
    /// REQUEST event (REST API, HTTP API payload 1.0) a policy or `Unauthorized`.
    pub async fn handle(&self, event: Value) -> Result<Value, AuthorizerError> {
        if event.get("version").and_then(Value::as_str) == Some("2.0") {
            http_api::answer(self, event).await
        } else {
            rest::answer(self, event).await
        }
    }

    /// The live session the token in `headers` opens, or `None` for a request to deny: no
    /// token, or one that is malformed, unknown, rotated away, revoked or expired. Sliding
    /// expiry applies, as on `GET /sessions/current`.
    pub async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Arc<Session>>, AuthorizerError> {
        let Some(token) = presented_token(headers, &self.cookie_name) else {
            tracing::debug!("denied: no session token");
            return Ok(None);
        };
        match self.service.get(Address::Token(&token)).await {
            Ok(session) => {
                tracing::debug!(session = %session.id.fingerprint(), "allowed");
                Ok(Some(session))
            }
            Err(SessionError::Invalid { .. } | SessionError::NotFound | SessionError::Expired) => {
                tracing::debug!("denied: the session token opens no live session");
                Ok(None)
            }
            Err(error) => {
                tracing::error!(error = %session_api::problem::chain(&error), "the session store failed");
                Err(AuthorizerError::Store(error))
            }
        }
    }
}

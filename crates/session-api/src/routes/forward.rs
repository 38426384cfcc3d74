//! `/auth/forward`: the forward-auth check a gateway (nginx `auth_request`, Traefik
//! ForwardAuth, Envoy `ext_authz`, Istio CUSTOM, Oathkeeper) makes before it lets a request
//! through. It reads the session token from `X-Session-Token` or from the session cookie and
//! answers 200 with the session's identity in headers and body, or 401.
//!
//! The statuses are the gateways' language, not the rest of the contract's: Envoy counts a 204
//! as a denial, and nginx treats anything but 2xx, 401 and 403 as an error of its own (500 to
//! the client), so every way a token can fail (missing, malformed, unknown, rotated away,
//! revoked, expired) is one 401, and only a store fault is a 5xx.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use session_core::{Address, Session, SessionError};
use utoipa::ToSchema;

use crate::AppState;
use crate::body::SessionTag;
use crate::extract::{SESSION_TOKEN_HEADER, plausible_token};
use crate::problem::{ApiError, ProblemBody, ProblemCode};

/// The route, and the template of every path below it.
pub const PATH: &str = "/auth/forward";
/// The route that serves the paths below [`PATH`], which Envoy and Istio append to it.
pub const SUBPATHS: &str = "/auth/forward/{*rest}";

/// Default of `SESSION_COOKIE_NAME`.
pub const DEFAULT_COOKIE_NAME: &str = "session";
/// Default of `FORWARD_AUTH_DATA_MAX_BYTES`: with the other headers, the answer stays within
/// the 4 KiB a gateway's default response-header buffer may be (nginx's `proxy_buffer_size`
/// on systems with 4 KiB pages).
pub const DEFAULT_DATA_MAX_BYTES: usize = 2048;

/// `X-Session-Id`: the session's public id.
pub static X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
/// `X-Session-User-Id`: the user id, percent-encoded where it is not plain visible ASCII.
pub static X_SESSION_USER_ID: HeaderName = HeaderName::from_static("x-session-user-id");
/// `X-Session-Expires-At`: the expiry (RFC 3339, UTC, milliseconds).
pub static X_SESSION_EXPIRES_AT: HeaderName = HeaderName::from_static("x-session-expires-at");
/// `X-Session-Data`: base64url (no padding) of the data as compact JSON, when enabled.
pub static X_SESSION_DATA: HeaderName = HeaderName::from_static("x-session-data");

/// The challenge of every 401 this route answers for a session token.
const CHALLENGE: &str = r#"Session realm="session-api""#;

/// Bytes of a user id that `X-Session-User-Id` percent-encodes: controls, space (a proxy trims
/// it at the ends, so `" admin"` would arrive as `admin`), `%` (so that decoding is exact),
/// `,` (a proxy may join repeated headers with it), and every non-ASCII byte.
const USER_ID_ENCODED: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b',');

/// What the forward-auth route answers beyond the three identity headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardOptions {
    /// Name of the cookie that carries the session token (`SESSION_COOKIE_NAME`).
    pub cookie_name: String,
    /// Whether to send the session's data (`FORWARD_AUTH_DATA`): `X-Session-Data` and
    /// `extra.data`.
    pub data: bool,
    /// Longest `X-Session-Data` value, in bytes (`FORWARD_AUTH_DATA_MAX_BYTES`); longer, the
    /// header is left out (the body still has `extra.data`).
    pub data_max_bytes: usize,
}

/// Cookie `session`, no data.
impl Default for ForwardOptions {
    fn default() -> Self {
        Self {
            cookie_name: DEFAULT_COOKIE_NAME.to_owned(),
            data: false,
            data_max_bytes: DEFAULT_DATA_MAX_BYTES,
        }
    }
}

/// The body of a 200: Oathkeeper's `subject_from` reads `subject`, `extra_from` reads `extra`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ForwardAuth)]
pub struct ForwardAuthBody<'a> {
    /// The user id, as stored (not encoded).
    subject: &'a str,
    /// The session.
    extra: ForwardExtra<'a>,
}

/// `extra` of [`ForwardAuthBody`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ForwardAuthExtra)]
pub struct ForwardExtra<'a> {
    /// The session's public id.
    #[schema(value_type = String, format = "uuid")]
    session_id: String,
    /// The user id, as in `subject`.
    user_id: &'a str,
    /// When the session expires (after the sliding extension this request made, if any).
    #[schema(value_type = String, format = DateTime)]
    expires_at: String,
    /// The session's data; only with `FORWARD_AUTH_DATA=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    data: Option<&'a session_core::SessionData>,
}

/// `/auth/forward` and every path below it, any method: 200 with the session's identity when
/// the session token opens a live session (sliding expiry applies), else 401.
#[utoipa::path(
    get,
    path = "/auth/forward",
    tag = "forward-auth",
    description = "Forward authentication for gateways (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz, Istio CUSTOM, Oathkeeper). Served for every method, and on every path below /auth/forward (Envoy and Istio append the original path); only GET is listed here. The session token comes from X-Session-Token, or else from the cookie SESSION_COOKIE_NAME (default `session`); the header wins when both are sent. Sliding expiry applies, as on GET /sessions/current.",
    params(
        ("X-Session-Token" = Option<String>, Header, description = "The session token; wins over the cookie"),
        ("session" = Option<String>, Cookie, description = "The session token, in the cookie named by SESSION_COOKIE_NAME (default `session`)"),
    ),
    responses(
        (status = 200, description = "The token opens a live session. Never 204, which Envoy counts as a denial", body = ForwardAuthBody, headers(
            ("X-Session-Id" = String, description = "The session id"),
            ("X-Session-User-Id" = String, description = "The user id; controls, space, `%`, `,` and non-ASCII characters percent-encoded as UTF-8"),
            ("X-Session-Expires-At" = String, description = "The expiry, RFC 3339 UTC with milliseconds"),
            ("X-Session-Data" = Option<String>, description = "base64url (no padding) of the data as compact JSON; only with FORWARD_AUTH_DATA=true, and left out when longer than FORWARD_AUTH_DATA_MAX_BYTES"),
        )),
        (status = 401, description = "No session token, or one that opens no live session (malformed, unknown, rotated away, revoked or expired): `WWW-Authenticate: Session`. Also a missing or invalid bearer token of the gateway: `WWW-Authenticate: Bearer`", body = ProblemBody, content_type = "application/problem+json", headers(("WWW-Authenticate" = String, description = "`Session realm=\"session-api\"` or a Bearer challenge"))),
    ),
)]
pub async fn check(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let options = &app.options.forward;
    let token = presented_token(&headers, &options.cookie_name)
        .ok_or_else(|| denied("no session token: send X-Session-Token or the session cookie"))?;
    let session = app
        .service
        .get(Address::Token(&token))
        .await
        .map_err(|error| match error {
            SessionError::Invalid { .. } | SessionError::NotFound => {
                denied("the session token opens no session")
            }
            SessionError::Expired => denied("the session has expired"),
            other => ApiError::from(other),
        })?;
    Ok(answer(&session, options))
}

/// The session token the request carries: the `X-Session-Token` header when there is one
/// (whatever it holds), else the cookie `cookie_name`. `None` when neither holds a plausible
/// token. The one rule of every gateway check: `/auth/forward` and the Lambda authorizer.
pub fn presented_token(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    let mut values = headers.get_all(SESSION_TOKEN_HEADER).iter();
    if let Some(value) = values.next() {
        // Two headers are refused rather than one of them picked: which one a proxy keeps
        // differs from proxy to proxy.
        return match values.next() {
            None => plausible_token(value.as_bytes()).map(str::to_owned),
            Some(_) => None,
        };
    }
    // The cookie header may come as several headers (HTTP/2 splits it); a cookie named twice
    // is refused for the same reason as two token headers.
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == cookie_name);
    match (found.next(), found.next()) {
        (Some(cookie), None) => plausible_token(cookie.value().as_bytes()).map(str::to_owned),
        _ => None,
    }
}

/// 401 for a session token that opens nothing, with the `Session` challenge.
fn denied(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ProblemCode::Unauthorized, detail).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(CHALLENGE),
    )
}

/// The 200: the identity headers, the data header when enabled and small enough, and the body.
fn answer(session: &Session, options: &ForwardOptions) -> Response {
    let expires_at = session.expires_at().to_rfc3339();
    let data = options.data.then_some(&session.data);
    let body = ForwardAuthBody {
        subject: session.user_id.as_str(),
        extra: ForwardExtra {
            session_id: session.id.to_string(),
            user_id: session.user_id.as_str(),
            expires_at: expires_at.clone(),
            data,
        },
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    let user_id = utf8_percent_encode(session.user_id.as_str(), USER_ID_ENCODED).to_string();
    for (name, value) in [
        (&X_SESSION_ID, session.id.to_string()),
        (&X_SESSION_USER_ID, user_id),
        (&X_SESSION_EXPIRES_AT, expires_at),
    ] {
        // Each value is visible ASCII by construction (a UUID, an encoded id, a timestamp).
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name.clone(), value);
        }
    }
    if let Some(data) = data {
        let json = serde_json::to_vec(data).unwrap_or_default();
        let encoded = URL_SAFE_NO_PAD.encode(json);
        if encoded.len() <= options.data_max_bytes {
            if let Ok(value) = HeaderValue::try_from(encoded) {
                headers.insert(X_SESSION_DATA.clone(), value);
            }
        } else {
            tracing::debug!(
                bytes = encoded.len(),
                limit = options.data_max_bytes,
                "X-Session-Data left out: longer than FORWARD_AUTH_DATA_MAX_BYTES"
            );
        }
    }
    response
        .extensions_mut()
        .insert(SessionTag(session.id.fingerprint()));
    response
}

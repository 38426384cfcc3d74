//! Request extractors whose every rejection is a problem+json `ApiError`, never axum's plain
//! text: typed JSON bodies, path parameters, the listing query and `If-Match`.

use std::error::Error as _;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use session_core::{SessionId, VersionCheck};
use tower_http::timeout::TimeoutError;

use crate::problem::{ApiError, ProblemCode};
use crate::settings::MAX_BODY_BYTES;

/// Media type of POST and PUT bodies.
pub const JSON: &str = "application/json";
/// Media type of PATCH bodies.
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// The media type of a request (`type/subtype`, lowercased, parameters dropped), if any.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

fn require_media_type(headers: &HeaderMap, expected: &'static str) -> Result<(), ApiError> {
    match media_type(headers) {
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(ApiError::unsupported_media_type(format!(
            "Content-Type must be {expected}, not {found}"
        ))),
        None => Err(ApiError::unsupported_media_type(format!(
            "Content-Type must be {expected}"
        ))),
    }
}

fn too_large() -> ApiError {
    ApiError::too_large(format!(
        "the request body is larger than {MAX_BODY_BYTES} bytes"
    ))
}

/// Reads the body under the size limit (axum's `DefaultBodyLimit`; 413 beyond it) and before
/// its deadline (tower-http's `RequestBodyDeadlineLayer`; 408 after it).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    // A declared length over the limit is refused before anything is read: the client learns
    // at once, and one that sent `Expect: 100-continue` is not invited to send it.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                too_large()
            }
            rejection if timed_out(&rejection) => body_timed_out(),
            rejection => ApiError::invalid(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            )),
        })
}

/// Whether reading the body failed because its deadline passed.
fn timed_out(rejection: &BytesRejection) -> bool {
    std::iter::successors(rejection.source(), |error| (*error).source())
        .any(|error| error.is::<TimeoutError>())
}

/// The client did not send its whole body in time. That is the client's fault (408), not the
/// store's: answering 503 `store_unavailable` would page the wrong people. The connection is
/// closed, since the rest of the body may still be on its way.
fn body_timed_out() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ProblemCode::InvalidRequest,
        "the request body did not arrive in time",
    )
    .with_header(header::CONNECTION, HeaderValue::from_static("close"))
}

/// Parses `bytes` as one JSON `T` and nothing after it. A refusal names the field at fault.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derive also reads a struct from an array of its fields in order (`["alice"]`
    // as a create body); every body of the contract is an object, so an array is refused.
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let error = error.into_inner();
        if error.is_data() && path != "." {
            ApiError::invalid(format!("{path}: {error}"))
        } else if error.is_data() {
            ApiError::invalid(format!("invalid request body: {error}"))
        } else {
            ApiError::invalid(format!("the request body is not valid JSON: {error}"))
        }
    })?;
    deserializer.end().map_err(|error| {
        ApiError::invalid(format!("the request body is not valid JSON: {error}"))
    })?;
    Ok(parsed)
}

/// A JSON body sent as `application/json`, parsed as `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_media_type(request.headers(), JSON)?;
        let bytes = read_body(request, state).await?;
        parse(&bytes).map(Self)
    }
}

/// An optional body (as on refresh): absent when empty or `null`. Only a non-empty body needs
/// `Content-Type: application/json`.
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = request.headers().clone();
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        require_media_type(&headers, JSON)?;
        parse::<Option<T>>(&bytes).map(|body| body.map(Self))
    }
}

/// A merge-patch body (`application/merge-patch+json`), parsed as `T`.
#[derive(Debug)]
pub struct MergePatch<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MergePatch<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_media_type(request.headers(), MERGE_PATCH_JSON).map_err(|error| {
            error.with_header(
                HeaderName::from_static("accept-patch"),
                HeaderValue::from_static(MERGE_PATCH_JSON),
            )
        })?;
        let bytes = read_body(request, state).await?;
        parse(&bytes).map(Self)
    }
}

/// The `{id}` of a session route. Anything undecodable names no session: 404.
#[derive(Debug)]
pub struct SessionIdParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SessionIdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Checked here, before the body or any precondition: an id that no session can have
        // is a 404 whatever else is wrong with the request.
        Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .filter(|Path(id)| SessionId::parse(id).is_some())
            .map(|Path(id)| Self(id))
            .ok_or_else(|| ApiError::not_found("no session with this id"))
    }
}

/// Name of the header that carries a session token on the `/sessions/current` routes (the
/// header Ory Kratos uses).
pub const SESSION_TOKEN_HEADER: &str = "x-session-token";
/// Longest `X-Session-Token` read: a token is 80 characters; anything far longer is refused
/// before it is hashed.
const MAX_SESSION_TOKEN_CHARS: usize = 256;

/// The `X-Session-Token` of a `/sessions/current` route, as sent. Missing, empty, not
/// visible ASCII, or overlong: 400, since the caller (authenticated by its own bearer token)
/// sent a request that cannot name a session. Its shape is checked by the service, which
/// computes the hash whatever the text is.
pub struct SessionTokenHeader(pub String);

impl std::fmt::Debug for SessionTokenHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionTokenHeader([REDACTED])")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionTokenHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(SESSION_TOKEN_HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::invalid(
                "this route needs exactly one X-Session-Token header with the session token",
            ));
        };
        plausible_token(value.as_bytes())
            .map(|token| Self(token.to_owned()))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "X-Session-Token must be one session token of visible ASCII characters, at most {MAX_SESSION_TOKEN_CHARS}"
                ))
            })
    }
}

/// `text`, trimmed, if it may be a session token: 1 to 256 visible ASCII characters and no
/// comma. A token never holds a comma, and some gateways join repeated headers with commas,
/// which must read as repeated, not as a wrong token. Its shape is checked by the service.
pub fn plausible_token(text: &[u8]) -> Option<&str> {
    let token = std::str::from_utf8(text).ok()?.trim();
    let plausible = !token.is_empty()
        && token.len() <= MAX_SESSION_TOKEN_CHARS
        && token.bytes().all(|b| b.is_ascii_graphic() && b != b',');
    plausible.then_some(token)
}

/// The `{userId}` of a per-user route.
#[derive(Debug)]
pub struct UserIdParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserIdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|rejection| {
                ApiError::invalid(format!(
                    "userId in the path is invalid: {}",
                    rejection.body_text()
                ))
            })
    }
}

#[derive(Debug, Deserialize)]
struct RawListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `?limit=&cursor=` of a listing.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// Requested page size, unchecked (the service checks the range).
    pub limit: Option<i64>,
    /// The previous page's `nextCursor`.
    pub cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawListQuery>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                ApiError::invalid(format!("invalid query string: {}", rejection.body_text()))
            })?;
        let limit = raw
            .limit
            .map(|text| {
                text.trim().parse::<i64>().map_err(|_| {
                    ApiError::invalid(format!(
                        "limit must be a whole number between 1 and {}, not {text:?}",
                        session_core::service::MAX_PAGE_LIMIT
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            limit,
            cursor: raw.cursor,
        })
    }
}

/// The `If-Match` precondition of a write (`None` when absent).
#[derive(Debug)]
pub struct IfMatch(pub Option<VersionCheck>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_if_match(&parts.headers).map(Self)
    }
}

/// Most entity tags one `If-Match` may list.
pub const MAX_IF_MATCH_TAGS: usize = 100;

/// Parses `If-Match`: `*`, or a list of entity tags. Our tags are strong, `"<version>"`; a weak
/// tag or a foreign one can never match (RFC 9110 uses strong comparison for If-Match), so it
/// is kept as a check that fails (412) rather than ignored. A bare number is accepted as the
/// tag it obviously means.
pub fn parse_if_match(headers: &HeaderMap) -> Result<Option<VersionCheck>, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter().peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let malformed = || ApiError::invalid(r#"If-Match must be * or entity tags such as "3""#);
    let mut versions = Vec::new();
    let mut tags = 0usize;
    for value in values {
        let text = value.to_str().map_err(|_| malformed())?;
        for tag in text.split(',').map(str::trim) {
            tags += 1;
            if tags > MAX_IF_MATCH_TAGS {
                // DynamoDB's condition takes at most 100 operands in one IN list.
                return Err(ApiError::invalid(format!(
                    "If-Match lists more than {MAX_IF_MATCH_TAGS} entity tags"
                )));
            }
            if tag == "*" {
                return Ok(Some(VersionCheck::Any));
            }
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let opaque = match quoted.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(inner) => inner,
                None if !weak
                    && !quoted.is_empty()
                    && quoted.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    quoted
                }
                None => return Err(malformed()),
            };
            if opaque.contains('"') {
                return Err(malformed());
            }
            if let (false, Some(version)) = (weak, canonical_version(opaque)) {
                versions.push(version);
            }
        }
    }
    Ok(Some(VersionCheck::OneOf(versions)))
}

/// The version an entity tag's opaque part names, if it is written exactly as this service
/// writes versions: decimal digits without a sign or leading zeros. Entity tags compare as
/// text, so `"01"` or `"+1"` is another tag than `"1"` and matches nothing.
fn canonical_version(opaque: &str) -> Option<u64> {
    let canonical = !opaque.is_empty()
        && opaque.bytes().all(|b| b.is_ascii_digit())
        && (opaque == "0" || !opaque.starts_with('0'));
    canonical.then(|| opaque.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(value: &str) -> Result<Option<VersionCheck>, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_str(value).expect("header"),
        );
        parse_if_match(&headers)
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match(&HeaderMap::new()).ok(), Some(None));
        assert_eq!(if_match("*").ok(), Some(Some(VersionCheck::Any)));
        assert_eq!(
            if_match("\"3\"").ok(),
            Some(Some(VersionCheck::OneOf(vec![3])))
        );
        assert_eq!(
            if_match("\"3\", \"5\"").ok(),
            Some(Some(VersionCheck::OneOf(vec![3, 5])))
        );
        assert_eq!(if_match("7").ok(), Some(Some(VersionCheck::OneOf(vec![7]))));
        assert_eq!(
            if_match("W/\"3\"").ok(),
            Some(Some(VersionCheck::OneOf(vec![]))),
            "weak never matches"
        );
        assert_eq!(
            if_match("\"abc\"").ok(),
            Some(Some(VersionCheck::OneOf(vec![]))),
            "foreign never matches"
        );
        for other in [
            "\"01\"",
            "\"+1\"",
            "\" 1\"",
            "01",
            "\"99999999999999999999\"",
        ] {
            assert_eq!(
                if_match(other).ok(),
                Some(Some(VersionCheck::OneOf(vec![]))),
                "{other} is another tag than any version"
            );
        }
        let hundred: Vec<String> = (1..=100).map(|v| format!("\"{v}\"")).collect();
        assert!(if_match(&hundred.join(", ")).is_ok(), "100 tags are fine");
        let many = format!("{}, \"101\"", hundred.join(", "));
        assert!(if_match(&many).is_err(), "101 tags are refused");
        for bad in ["\"3", "abc", "\"a\"b\"", ""] {
            assert!(if_match(bad).is_err(), "{bad:?} is malformed");
        }
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(media_type(&headers).as_deref(), Some("application/json"));
        assert!(require_media_type(&headers, JSON).is_ok());
        assert!(require_media_type(&headers, MERGE_PATCH_JSON).is_err());
    }
}

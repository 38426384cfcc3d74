//! `X-Request-Id`: the caller's when it is sane, a new UUID otherwise; on every response.
//! tower-http sets and echoes the header; this module only decides which caller ids to keep.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied request id kept.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// A caller's id is kept if it is 1 to 128 visible ASCII characters (it is echoed in a header
/// and written to logs, so nothing else is trusted).
pub fn sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_CHARS
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// A new request id: a random UUID, as tower-http's `MakeRequestUuid` makes them.
pub fn fresh() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text))
        .unwrap_or(HeaderValue::from_static("unknown"))
}

/// Removes a caller's id that is not [`sane`], so that `SetRequestIdLayer` (which keeps any
/// id already present) gives the request a new one.
pub fn drop_insane(mut request: Request) -> Request {
    if request
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(|value| !sane(value))
    {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

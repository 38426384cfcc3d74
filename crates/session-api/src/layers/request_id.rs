//! `X-Request-Id`: the caller's when it is sane, a new one otherwise; on every response.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A new request id, shaped as a UUID: a random per-process prefix and a counter. Request ids
/// must be unique, not secret, so this spares a system call per request (session ids, which
/// are secrets, still come from the OS).
pub fn fresh() -> HeaderValue {
    static PREFIX: OnceLock<[u8; 8]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut prefix = [0u8; 8];
        if getrandom::fill(&mut prefix).is_err() {
            // Without the OS's randomness, the time still tells processes apart.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            prefix = (nanos as u64).to_le_bytes();
        }
        prefix
    });
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(prefix);
    bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text))
        .unwrap_or(HeaderValue::from_static("unknown"))
}

/// Gives `request` its id (the caller's if sane, else a fresh one), in its headers, and
/// returns it for the response and the request log.
pub fn assign(request: &mut Request) -> HeaderValue {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|value| sane(value))
        .cloned()
        .unwrap_or_else(fresh);
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), id.clone());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_distinct_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| fresh().to_str().expect("ascii").to_owned())
            .collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
    }
}

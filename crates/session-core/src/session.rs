//! The session record, exactly as both stores keep it.

use std::borrow::Borrow;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::policy::is_expired;
use crate::{SessionData, SessionId, Timestamp, UserId};

/// A session as stored. The serde form (camelCase attributes, `data` a map, `ttl` epoch
/// seconds) is both the DynamoDB item, keyed as [`crate::schema`] says, and the embedded
/// store's record; `docs/api.md` ("The session object") shows what clients see of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session's id (a secret).
    pub id: SessionId,
    /// Whom the session belongs to.
    pub user_id: UserId,
    /// The application's data.
    pub data: SessionData,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When `data` last changed (creation, PUT, PATCH).
    pub updated_at: Timestamp,
    /// When `ttl` was last set (creation, refresh, sliding touch).
    pub touched_at: Timestamp,
    /// Expiry, in whole epoch seconds (the DynamoDB TTL attribute).
    pub ttl: i64,
    /// Idle timeout: how far an extension moves `ttl` past now.
    pub ttl_seconds: u64,
    /// Starts at 1; grows by one on every data change.
    pub version: u64,
}

impl Session {
    /// Whether the session is expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        is_expired(self.ttl, now)
    }

    /// `ttl` as an instant.
    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_epoch_seconds(self.ttl)
    }
}

/// A session as a read returns it: shared, read-only, and cheap to pass on.
///
/// Cloning one is a reference count, so a store that keeps sessions in memory (the embedded
/// store's read cache) hands out the session it holds rather than a deep copy. It also has
/// room for the session's body as clients receive it, encoded at most once: a session read
/// many times between two writes is encoded once, and a write always yields a new
/// `SharedSession`, so a body is never served for a version it was not made from.
#[derive(Debug, Clone)]
pub struct SharedSession(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    session: Session,
    body: OnceLock<Bytes>,
}

impl SharedSession {
    /// Shares `session`.
    pub fn new(session: Session) -> Self {
        Self(Arc::new(Shared {
            session,
            body: OnceLock::new(),
        }))
    }

    /// The session itself, copied only if it is shared.
    pub fn into_session(self) -> Session {
        Arc::try_unwrap(self.0).map_or_else(|shared| shared.session.clone(), |own| own.session)
    }

    /// The session's body for clients: made by `encode` on first use, then kept. There is one
    /// body per session (the HTTP layer's JSON), so every caller passes the same encoder.
    pub fn body<E>(&self, encode: impl FnOnce(&Session) -> Result<Bytes, E>) -> Result<Bytes, E> {
        if let Some(body) = self.0.body.get() {
            return Ok(body.clone());
        }
        let body = encode(&self.0.session)?;
        // Two first readers may both encode; either result is the same bytes.
        Ok(self.0.body.get_or_init(|| body).clone())
    }
}

impl From<Session> for SharedSession {
    fn from(session: Session) -> Self {
        Self::new(session)
    }
}

impl Deref for SharedSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0.session
    }
}

impl Borrow<Session> for SharedSession {
    fn borrow(&self) -> &Session {
        &self.0.session
    }
}

impl PartialEq for SharedSession {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl PartialEq<Session> for SharedSession {
    fn eq(&self, other: &Session) -> bool {
        **self == *other
    }
}

impl PartialEq<SharedSession> for Session {
    fn eq(&self, other: &SharedSession) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let now = Timestamp::from_epoch_seconds(1_800_000_000);
        Session {
            id: SessionId::generate(),
            user_id: UserId::parse("u").expect("user"),
            data: SessionData::new(),
            created_at: now,
            updated_at: now,
            touched_at: now,
            ttl: 1_800_000_600,
            ttl_seconds: 600,
            version: 1,
        }
    }

    #[test]
    fn the_body_is_encoded_once_and_shared_by_clones() {
        let shared = SharedSession::new(session());
        let copy = shared.clone();
        let mut calls = 0;
        let first = shared
            .body(|s| {
                calls += 1;
                Ok::<_, ()>(Bytes::from(format!("v{}", s.version)))
            })
            .expect("encoded");
        let second = copy
            .body(|_| {
                calls += 1;
                Ok::<_, ()>(Bytes::from_static(b"other"))
            })
            .expect("kept");
        assert_eq!(
            (first.as_ref(), second.as_ref(), calls),
            (&b"v1"[..], &b"v1"[..], 1)
        );
    }

    #[test]
    fn a_failed_encoding_keeps_nothing() {
        let shared = SharedSession::new(session());
        assert_eq!(shared.body(|_| Err::<Bytes, _>("no")), Err("no"));
        let body = shared.body(|_| Ok::<_, ()>(Bytes::from_static(b"ok")));
        assert_eq!(body.expect("encoded").as_ref(), b"ok");
    }

    #[test]
    fn into_session_moves_when_alone_and_copies_when_shared() {
        let original = session();
        let shared = SharedSession::new(original.clone());
        let other = shared.clone();
        assert_eq!(shared.into_session(), original);
        assert_eq!(other.into_session(), original);
    }
}

//! The storage contract every backend fulfils, atomically: expiry, version checks and "never
//! bring a deleted session back" are conditions of the write itself, never a read followed by an
//! unconditional write.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::cursor::Position;
use crate::{
    Created, DataPatch, ExpiryPolicy, SecretHash, Session, SessionData, SessionError, SessionId,
    Timestamp, UserId, UserLimit,
};

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;

/// The precondition a data write carries (from `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VersionCheck {
    /// Write whatever the current version is.
    #[default]
    Any,
    /// Write only when the current version is one of these. An empty list never matches (an
    /// `If-Match` made only of tags that cannot be ours).
    OneOf(Vec<u64>),
}

impl VersionCheck {
    /// Whether a session at `version` passes the check.
    pub fn admits(&self, version: u64) -> bool {
        match self {
            VersionCheck::Any => true,
            VersionCheck::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// How an operation on one session is addressed: by its public id alone (trusted services with
/// an API token), or by a session token, whose secret must hash to the stored `secretHash`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretCheck {
    /// The id is enough.
    #[default]
    Any,
    /// The stored hash must be this one; any other reads as `NotFound`, before expiry or
    /// version are looked at, so a wrong secret learns nothing about the session.
    Matches(SecretHash),
}

impl SecretCheck {
    /// Whether a session whose secret hashes to `stored` passes the check (in constant time).
    pub fn admits(&self, stored: &SecretHash) -> bool {
        match self {
            SecretCheck::Any => true,
            SecretCheck::Matches(expected) => expected.matches(stored),
        }
    }
}

/// One page of a listing as asked of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Most sessions to return (1 to 100).
    pub limit: usize,
    /// Start after this position (from the previous page), or at the beginning.
    pub after: Option<Position>,
}

/// One page of a listing as a store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StorePage {
    /// Live sessions, in listing order.
    pub sessions: Vec<Session>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Position>,
}

impl StorePage {
    /// The page of up to `limit + 1` sessions `found`, in listing order: the extra one only
    /// proves that a next page exists, so that the last page never carries a cursor to an
    /// empty one.
    pub fn from_found(mut found: Vec<Session>, limit: usize) -> Self {
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(Position::after)
        } else {
            None
        };
        Self {
            sessions: found,
            next,
        }
    }
}

/// A place sessions live. Every method is one atomic step with respect to the others.
///
/// Methods that address one session answer `NotFound` when there is none, or when their
/// [`SecretCheck`] does not admit its `secretHash`, and `Expired` when it exists with
/// `ttl <= now` (DynamoDB purges expired items only eventually, the embedded sweeper only after
/// a grace period). A write checks the secret in the same atomic step as it writes, so a token
/// that was rotated away or whose session was deleted can never write. Listings never return
/// expired sessions.
#[async_trait]
pub trait SessionStore: Send + Sync + Debug {
    /// Short name of the backend, for logs and metrics (`dynamodb`, `embedded`).
    fn backend(&self) -> &'static str;

    /// Stores a new session. Fails if a session with its id exists.
    ///
    /// With a `limit`, the user's live sessions (at `session.created_at`, the create's now)
    /// are counted in the same atomic step as the write, whatever other creates, deletes and
    /// refreshes run concurrently: at the limit, `reject` refuses with `TooManySessions`,
    /// writing nothing, and `evict-oldest` deletes the oldest (see [`UserLimit::admit`]).
    /// Without one, a create costs exactly what it did before limits existed.
    async fn create(
        &self,
        session: &Session,
        limit: Option<&UserLimit>,
    ) -> Result<Created, SessionError>;

    /// Reads a session (strongly consistent). What a store keeps in memory it shares rather
    /// than copies.
    async fn get(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Arc<Session>, SessionError>;

    /// Replaces the data of a live session, bumps `version` and sets `updatedAt` to `now`.
    async fn replace(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError>;

    /// Applies a shallow merge patch to the data of a live session, bumps `version` and sets
    /// `updatedAt`. Keys the patch does not name keep the value they have at the moment of the
    /// write, whatever other patches run concurrently. Refuses with `DataTooLarge` when the
    /// merged data would exceed `max_data_bytes`.
    async fn patch(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        patch: &DataPatch,
        check: &VersionCheck,
        max_data_bytes: usize,
        now: Timestamp,
    ) -> Result<Session, SessionError>;

    /// Extends a live session to `policy.ttl_at(createdAt, idle, now)` where `idle` is
    /// `ttl_seconds` if given (which also becomes the session's idle timeout) or its own
    /// `ttlSeconds`. Sets `touchedAt`; leaves `version`, `updatedAt` and `data` alone.
    async fn refresh(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError>;

    /// The lazy sliding extension: sets `ttl` to `new_ttl` and `touchedAt` to `now`, but only if
    /// the session is live and still has `touchedAt == last_touched` (nobody extended it since it
    /// was read). Returns the extended session, or `None` when the condition did not hold.
    async fn touch(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        last_touched: Timestamp,
        new_ttl: i64,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError>;

    /// Deletes a session, expired or not. `NotFound` when there was none.
    async fn delete(&self, id: &SessionId, secret: &SecretCheck) -> Result<(), SessionError>;

    /// Gives a live session the secret hashing to `new_hash`, leaving everything else as it
    /// is (data, version, expiry, `updatedAt`): from this write on, only the new secret opens
    /// it.
    async fn rotate(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        new_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Session, SessionError>;

    /// A page of one user's live sessions, newest first (by `createdAt`, then id).
    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError>;

    /// A page of all live sessions, in the store's own stable order.
    async fn list_all(&self, page: &PageRequest, now: Timestamp)
    -> Result<StorePage, SessionError>;

    /// Deletes every session of a user; returns how many of them were live.
    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError>;

    /// Whether the store can serve requests (reachable, table ready); `Unavailable` otherwise.
    async fn check_ready(&self) -> Result<(), SessionError>;
}

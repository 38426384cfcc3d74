//! The session record, exactly as both stores keep it.

use serde::{Deserialize, Serialize};

use crate::policy::is_expired;
use crate::{SecretHash, SessionData, SessionId, Timestamp, UserId};

/// A session as stored. The serde form (camelCase attributes, `data` a map, `ttl` epoch
/// seconds) is both the DynamoDB item, keyed as [`crate::schema`] says, and the embedded
/// store's record; `docs/api.md` ("The session object") shows what clients see of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session's public id: a name, not a credential.
    pub id: SessionId,
    /// SHA-256 of the session's secret (see [`crate::token`]): all that is kept of it.
    pub secret_hash: SecretHash,
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

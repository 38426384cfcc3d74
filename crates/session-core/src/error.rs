//! Errors by meaning. The API maps each variant to one HTTP status and problem `code`.

use std::error::Error as StdError;

/// A boxed cause, kept so that logs can show the whole chain.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong with a session operation.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No session has this id (or it was purged after expiring).
    #[error("session not found")]
    NotFound,
    /// The session exists but its `ttl` has passed; it is no longer usable.
    #[error("session expired")]
    Expired,
    /// `If-Match` named a version other than the session's current one.
    #[error("the session is at version {current}, not the version named by If-Match")]
    VersionMismatch {
        /// The session's current version.
        current: u64,
    },
    /// A field of the request is invalid.
    #[error("{message}")]
    Invalid {
        /// The request field at fault (`userId`, `data`, `ttlSeconds`, `limit`, …).
        field: &'static str,
        /// What is wrong, addressed to the caller.
        message: String,
    },
    /// Session data encodes to more bytes than allowed.
    #[error("session data is {size} bytes; the limit is {limit} bytes")]
    DataTooLarge {
        /// Encoded size of the data that was refused.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The store refused the session as larger than it can hold (DynamoDB's 400 KB item),
    /// although its data was within `SESSION_MAX_DATA_BYTES` as JSON.
    #[error(
        "the session is larger than the store can hold (DynamoDB items are at most 400 KB, counted otherwise than JSON); send less data"
    )]
    ItemTooLarge,
    /// The user already has the most live sessions `SESSION_MAX_PER_USER` allows, and
    /// `SESSION_LIMIT_POLICY` is `reject`: nothing was written.
    #[error(
        "the user already has {limit} live sessions, the most allowed; delete one (or all) of them first"
    )]
    TooManySessions {
        /// The configured limit.
        limit: usize,
    },
    /// A listing cursor that this service did not issue for this listing.
    #[error("the cursor is malformed, forged, or belongs to another listing")]
    InvalidCursor,
    /// The store refused for lack of capacity (throttling); worth retrying shortly.
    #[error("the session store is throttling requests")]
    Throttled {
        /// The store's own error.
        #[source]
        source: BoxError,
    },
    /// The store cannot be reached or did not answer in time; worth retrying.
    #[error("the session store is unavailable")]
    Unavailable {
        /// The store's own error.
        #[source]
        source: BoxError,
    },
    /// A fault that retrying will not fix: a bug, corrupt data, a misconfigured table.
    #[error("internal error")]
    Internal {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl SessionError {
    /// An `Invalid` error for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// An `Internal` error from anything that can be an error.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal {
            source: source.into(),
        }
    }

    /// An `Unavailable` error from anything that can be an error.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            source: source.into(),
        }
    }
}

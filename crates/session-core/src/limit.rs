//! The cap on live sessions per user (`SESSION_MAX_PER_USER`, `SESSION_LIMIT_POLICY`).
//!
//! A count followed by a write lets concurrent creates all pass the count, so each store
//! decides in the same atomic step as the write: the embedded store inside the writer's
//! transaction, DynamoDB through a per-user item written in the create's own transaction. Both
//! decide with [`UserLimit::admit`], so that they agree on which sessions go.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::SessionError;

/// The largest `SESSION_MAX_PER_USER` accepted. It bounds the per-user state (the DynamoDB
/// per-user item holds one entry per live session, and must stay far below 400 KB) and the
/// work of a create at the limit.
pub const MAX_SESSIONS_PER_USER: usize = 1000;

/// What a create does when the user already has the maximum of live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitPolicy {
    /// Delete the user's oldest live sessions, in the same atomic step as the create
    /// (`evict-oldest`).
    #[default]
    EvictOldest,
    /// Refuse the create with `TooManySessions` (409 `too_many_sessions`), writing nothing
    /// (`reject`).
    Reject,
}

impl LimitPolicy {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitPolicy::EvictOldest => "evict-oldest",
            LimitPolicy::Reject => "reject",
        }
    }
}

impl fmt::Display for LimitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LimitPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "evict-oldest" => Ok(LimitPolicy::EvictOldest),
            "reject" => Ok(LimitPolicy::Reject),
            other => Err(format!(
                "must be `evict-oldest` or `reject` (got `{other}`)"
            )),
        }
    }
}

/// At most `max` live sessions per user, enforced by `policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserLimit {
    /// Most live sessions a user may have (1 to [`MAX_SESSIONS_PER_USER`]).
    pub max: usize,
    /// What a create at the limit does.
    pub policy: LimitPolicy,
}

impl UserLimit {
    /// A limit of `max` sessions, checked against `1..=MAX_SESSIONS_PER_USER`.
    pub fn new(max: usize, policy: LimitPolicy) -> Result<Self, String> {
        if (1..=MAX_SESSIONS_PER_USER).contains(&max) {
            Ok(Self { max, policy })
        } else {
            Err(format!(
                "must be a whole number between 1 and {MAX_SESSIONS_PER_USER} (got {max})"
            ))
        }
    }

    /// Decides a create for a user whose live sessions are `live`, as (createdAt millis, id)
    /// in any order: the sessions to delete with it (oldest first by creation time, then id),
    /// or `TooManySessions` under `reject`.
    pub fn admit(&self, mut live: Vec<(i64, Uuid)>) -> Result<Vec<(i64, Uuid)>, SessionError> {
        if live.len() < self.max {
            return Ok(Vec::new());
        }
        match self.policy {
            LimitPolicy::Reject => Err(SessionError::TooManySessions { limit: self.max }),
            LimitPolicy::EvictOldest => {
                live.sort_unstable();
                live.truncate(live.len() - self.max + 1);
                Ok(live)
            }
        }
    }
}

/// What a create did besides storing the new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Created {
    /// How many of the user's live sessions the limit evicted to make room.
    pub evicted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(n: i64) -> Vec<(i64, Uuid)> {
        (0..n)
            .rev()
            .map(|i| (i, Uuid::from_u128(i as u128)))
            .collect()
    }

    #[test]
    fn below_the_limit_nothing_goes() {
        let limit = UserLimit::new(3, LimitPolicy::Reject).expect("valid");
        assert_eq!(limit.admit(sessions(2)).expect("admitted"), vec![]);
    }

    #[test]
    fn at_the_limit_reject_refuses_and_evict_takes_the_oldest() {
        let reject = UserLimit::new(3, LimitPolicy::Reject).expect("valid");
        assert!(matches!(
            reject.admit(sessions(3)),
            Err(SessionError::TooManySessions { limit: 3 })
        ));
        let evict = UserLimit::new(3, LimitPolicy::EvictOldest).expect("valid");
        assert_eq!(
            evict.admit(sessions(3)).expect("admitted"),
            vec![(0, Uuid::from_u128(0))]
        );
        // Over the limit (sessions from before it was lowered): back to max - 1, then the new.
        assert_eq!(
            evict.admit(sessions(5)).expect("admitted"),
            sessions(3).into_iter().rev().collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_limit_and_policy_parse_as_the_settings_spell_them() {
        assert!(UserLimit::new(0, LimitPolicy::Reject).is_err());
        assert!(UserLimit::new(MAX_SESSIONS_PER_USER + 1, LimitPolicy::Reject).is_err());
        assert!(UserLimit::new(MAX_SESSIONS_PER_USER, LimitPolicy::Reject).is_ok());
        assert_eq!("reject".parse(), Ok(LimitPolicy::Reject));
        assert_eq!("evict-oldest".parse(), Ok(LimitPolicy::EvictOldest));
        assert!("oldest".parse::<LimitPolicy>().is_err());
        assert_eq!(LimitPolicy::default().to_string(), "evict-oldest");
    }
}

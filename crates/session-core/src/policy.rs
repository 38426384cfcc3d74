//! The expiry policy: idle timeout, absolute cap, lazy sliding. Pure arithmetic on instants,
//! shared by both stores so that they agree to the second.

use crate::{Session, SessionError, Timestamp};

/// How long sessions live and when reads extend them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Idle timeout of a session created without `ttlSeconds`.
    pub default_ttl_seconds: u64,
    /// The largest `ttlSeconds` a client may ask for.
    pub max_ttl_seconds: u64,
    /// When set, no extension moves `ttl` past `createdAt` + this many seconds.
    pub max_lifetime_seconds: Option<u64>,
    /// Whether a successful read extends the session (sliding expiration).
    pub sliding: bool,
    /// A read extends the session only when at least this many seconds passed since the last
    /// extension, so that reads do not all become writes.
    pub touch_after_seconds: u64,
}

/// Defaults: 24 h idle timeout, at most 30 days, no absolute cap, no sliding, touch after 60 s.
impl Default for ExpiryPolicy {
    fn default() -> Self {
        Self {
            default_ttl_seconds: 24 * 3600,
            max_ttl_seconds: 30 * 24 * 3600,
            max_lifetime_seconds: None,
            sliding: false,
            touch_after_seconds: 60,
        }
    }
}

impl ExpiryPolicy {
    /// Checks a client's `ttlSeconds` against `1..=max_ttl_seconds`.
    pub fn check_ttl_seconds(&self, ttl_seconds: i64) -> Result<u64, SessionError> {
        match u64::try_from(ttl_seconds) {
            Ok(value) if (1..=self.max_ttl_seconds).contains(&value) => Ok(value),
            _ => Err(SessionError::invalid(
                "ttlSeconds",
                format!(
                    "ttlSeconds must be a whole number of seconds between 1 and {} (got {ttl_seconds})",
                    self.max_ttl_seconds
                ),
            )),
        }
    }

    /// The latest `ttl` a session created at `created_at` may ever have, if capped.
    pub fn cap(&self, created_at: Timestamp) -> Option<i64> {
        self.max_lifetime_seconds
            .map(|max| created_at.epoch_seconds().saturating_add(seconds(max)))
    }

    /// The `ttl` (epoch seconds) of a session extended at `now` with idle timeout
    /// `ttl_seconds`: `now + ttl_seconds`, capped by the absolute lifetime.
    pub fn ttl_at(&self, created_at: Timestamp, ttl_seconds: u64, now: Timestamp) -> i64 {
        let idle = now.epoch_seconds().saturating_add(seconds(ttl_seconds));
        self.cap(created_at).map_or(idle, |cap| idle.min(cap))
    }

    /// Whether a read at `now` should extend `session`: sliding is on, the last extension is
    /// at least `touch_after_seconds` old, and the extension would move `ttl` at all.
    pub fn touch_due(&self, session: &Session, now: Timestamp) -> bool {
        self.sliding
            && now.millis().saturating_sub(session.touched_at.millis())
                >= seconds(self.touch_after_seconds).saturating_mul(1000)
            && self.ttl_at(session.created_at, session.ttl_seconds, now) > session.ttl
    }
}

/// A session is expired when `ttl <= now` (both in epoch seconds).
pub fn is_expired(ttl: i64, now: Timestamp) -> bool {
    ttl <= now.epoch_seconds()
}

fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SessionId, UserId};

    const T0: i64 = 1_795_428_000_000; // 2026-11-23T10:00:00.000Z

    fn session(created: i64, touched: i64, ttl: i64, ttl_seconds: u64) -> Session {
        Session {
            id: SessionId::generate(),
            secret_hash: crate::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
            user_id: UserId::parse("u").expect("valid"),
            data: Default::default(),
            created_at: Timestamp::from_millis(created),
            updated_at: Timestamp::from_millis(created),
            touched_at: Timestamp::from_millis(touched),
            ttl,
            ttl_seconds,
            version: 1,
        }
    }

    #[test]
    fn ttl_is_now_plus_idle_timeout_in_whole_seconds() {
        let policy = ExpiryPolicy::default();
        let now = Timestamp::from_millis(T0 + 999);
        assert_eq!(policy.ttl_at(now, 3600, now), T0 / 1000 + 3600);
    }

    #[test]
    fn absolute_cap_bounds_every_extension() {
        let policy = ExpiryPolicy {
            max_lifetime_seconds: Some(7200),
            ..ExpiryPolicy::default()
        };
        let created = Timestamp::from_millis(T0);
        assert_eq!(policy.ttl_at(created, 3600, created), T0 / 1000 + 3600);
        let later = created.plus_seconds(5000);
        assert_eq!(policy.ttl_at(created, 3600, later), T0 / 1000 + 7200);
    }

    #[test]
    fn ttl_seconds_outside_the_range_are_refused() {
        let policy = ExpiryPolicy::default();
        assert_eq!(policy.check_ttl_seconds(1).ok(), Some(1));
        assert_eq!(
            policy.check_ttl_seconds(30 * 24 * 3600).ok(),
            Some(2_592_000)
        );
        for bad in [0, -5, 30 * 24 * 3600 + 1, 86_400_000] {
            assert!(
                policy.check_ttl_seconds(bad).is_err(),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn touch_is_due_only_when_sliding_and_old_enough() {
        let sliding = ExpiryPolicy {
            sliding: true,
            ..ExpiryPolicy::default()
        };
        let s = session(T0, T0, T0 / 1000 + 3600, 3600);
        assert!(!sliding.touch_due(&s, Timestamp::from_millis(T0 + 59_999)));
        assert!(sliding.touch_due(&s, Timestamp::from_millis(T0 + 60_000)));
        assert!(!ExpiryPolicy::default().touch_due(&s, Timestamp::from_millis(T0 + 600_000)));
    }

    #[test]
    fn touch_is_not_due_when_the_cap_leaves_nothing_to_extend() {
        let capped = ExpiryPolicy {
            sliding: true,
            max_lifetime_seconds: Some(3600),
            ..ExpiryPolicy::default()
        };
        let s = session(T0, T0, T0 / 1000 + 3600, 3600);
        assert!(!capped.touch_due(&s, Timestamp::from_millis(T0 + 120_000)));
    }

    #[test]
    fn expired_means_ttl_not_after_now() {
        let now = Timestamp::from_millis(T0 + 500);
        assert!(is_expired(T0 / 1000, now));
        assert!(!is_expired(T0 / 1000 + 1, now));
    }
}

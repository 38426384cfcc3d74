//! Rate limiting: `governor`'s keyed limiter, per caller (per token, or per client address
//! without one).
//!
//! Each instance limits on its own; behind N instances a caller gets up to N times the rate.
//! The limiter keeps a state per key in memory; keys back at full budget are dropped when the
//! map grows, so a flood of distinct keys cannot exhaust memory.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

/// Keys above this count trigger dropping the ones at full budget.
const PRUNE_ABOVE: usize = 50_000;

/// Whose requests a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A bearer token, by its SHA-256 digest (never the token itself).
    Token([u8; 32]),
    /// A client address, when there is no valid token.
    Address(IpAddr),
}

/// Requests per second with a burst allowance, per key.
#[derive(Debug)]
pub struct RateLimiter(DefaultKeyedRateLimiter<RateKey>);

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second on average and bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        // The period is at least a nanosecond, governor's resolution.
        let period = Duration::from_secs_f64(1.0 / per_second.max(f64::MIN_POSITIVE))
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self(DefaultKeyedRateLimiter::keyed(quota))
    }

    /// Counts one request of `key`, or says how long until one is allowed.
    pub fn check(&self, key: RateKey) -> Result<(), Duration> {
        if self.0.len() > PRUNE_ABOVE {
            self.0.retain_recent();
        }
        self.0
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.0.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> RateKey {
        RateKey::Address(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn keys_at_full_budget_are_dropped_when_the_map_grows() {
        let limiter = RateLimiter::new(1_000_000.0, 1);
        for i in 0..=PRUNE_ABOVE {
            let ip = IpAddr::from(u32::try_from(i).expect("small").to_be_bytes());
            let _ = limiter.check(RateKey::Address(ip));
        }
        // At a million per second, every earlier key is back at full budget by now.
        std::thread::sleep(Duration::from_millis(10));
        let _ = limiter.check(address(1));
        let size = limiter.0.len();
        assert!(size < 10, "keys at full budget were dropped, {size} left");
    }
}

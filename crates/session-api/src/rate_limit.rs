//! Rate limiting: a token bucket per caller (per token, or per client address without one).
//!
//! Each instance limits on its own; behind N instances a caller gets up to N times the rate.
//! Buckets live in memory and are pruned when the map grows, so a flood of distinct keys
//! cannot exhaust memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys above this count trigger pruning of full (idle) buckets.
const PRUNE_ABOVE: usize = 50_000;

/// Whose requests a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A bearer token, by its SHA-256 digest (never the token itself).
    Token([u8; 32]),
    /// A client address, when there is no valid token.
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Requests per second with a burst allowance, per key.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<RateKey, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second on average and bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn check(&self, key: RateKey) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: RateKey, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second
                    < burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refilled = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> RateKey {
        RateKey::Address(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(address(1), start).is_ok());
        }
        let wait = limiter
            .check_at(address(1), start)
            .expect_err("burst spent");
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(
            limiter
                .check_at(address(1), start + Duration::from_millis(500))
                .is_ok(),
            "refilled at 2/s"
        );
        assert!(
            limiter
                .check_at(address(1), start + Duration::from_millis(500))
                .is_err()
        );
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let limiter = RateLimiter::new(1.0, 1);
        let now = Instant::now();
        assert!(limiter.check_at(address(1), now).is_ok());
        assert!(limiter.check_at(address(1), now).is_err());
        assert!(limiter.check_at(address(2), now).is_ok());
        assert!(limiter.check_at(RateKey::Token([7; 32]), now).is_ok());
    }

    #[test]
    fn idle_buckets_are_pruned_when_the_map_grows() {
        let limiter = RateLimiter::new(1000.0, 1);
        let start = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            let ip = IpAddr::from((u32::try_from(i).expect("small")).to_be_bytes());
            let _ = limiter.check_at(RateKey::Address(ip), start);
        }
        let _ = limiter.check_at(address(1), start + Duration::from_secs(1));
        let size = limiter.buckets.lock().expect("lock").len();
        assert!(size < 10, "idle buckets were pruned, {size} left");
    }
}

//! Rate limiting: `governor`'s keyed limiter, per caller (per token, or per client address
//! without one).
//!
//! Each instance limits on its own; behind N instances a caller gets up to N times the rate.
//! The limiter keeps a state per key in memory; keys back at full budget are dropped when the
//! map grows, so the map holds only the keys seen within one refill period (burst ÷ rate): a
//! flood of distinct keys costs memory only while each of them is spending its budget.
//!
//! A client address is keyed by what one client controls: an IPv4 address, or the /64 network
//! of an IPv6 one, since a single host is commonly given a whole /64 and can pick any address
//! in it.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

/// Keys above this count trigger dropping the ones at full budget.
const PRUNE_ABOVE: usize = 50_000;
/// How many checks pass between two looks at the number of keys: counting them locks every
/// shard of the map, and dropping keys walks all of it, so neither is done on every request.
const PRUNE_EVERY: u64 = 1024;

/// Whose requests a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A bearer token, by its SHA-256 digest (never the token itself).
    Token([u8; 32]),
    /// A client address, when there is no valid token: made by [`RateKey::address`], which
    /// keys an IPv6 client by its /64.
    Address(IpAddr),
}

impl RateKey {
    /// The key of a client at `ip`: an IPv4 address as is (an IPv4-mapped IPv6 address counts
    /// as the IPv4 address it maps), an IPv6 address by its /64 network.
    pub fn address(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::Address(IpAddr::V4(v4)),
            IpAddr::V6(v6) => Self::Address(IpAddr::V6(Ipv6Addr::from_bits(
                v6.to_bits() & (u128::MAX << 64),
            ))),
        }
    }
}

/// Requests per second with a burst allowance, per key.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<RateKey>,
    checks: AtomicU64,
}

/// The key map holds token digests: `Debug` shows only how many keys there are.
impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("keys", &self.limiter.len())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second on average and bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        // The period is at least a nanosecond, governor's resolution; settings keep the rate
        // high enough for it to fit (`MIN_RATE_LIMIT_PER_SECOND`), and anything slower is
        // held to the slowest rate they allow rather than overflow.
        let slowest = Duration::from_secs_f64(1.0 / crate::settings::MIN_RATE_LIMIT_PER_SECOND);
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .unwrap_or(slowest)
            .clamp(Duration::from_nanos(1), slowest);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request of `key`, or says how long until one is allowed.
    pub fn check(&self, key: RateKey) -> Result<(), Duration> {
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
            && self.limiter.len() > PRUNE_ABOVE
        {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> RateKey {
        RateKey::address(IpAddr::from([10, 0, 0, last]))
    }

    fn key(ip: &str) -> RateKey {
        RateKey::address(ip.parse().expect("an address"))
    }

    #[test]
    fn an_ipv6_client_is_keyed_by_its_64_and_a_mapped_ipv4_one_by_its_ipv4_address() {
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(
            key("2001:db8:1:2:abcd::9"),
            RateKey::Address("2001:db8:1:2::".parse().expect("an address"))
        );
    }

    #[test]
    fn the_debug_form_shows_no_key() {
        let limiter = RateLimiter::new(1.0, 1);
        let _ = limiter.check(RateKey::Token([0xab; 32]));
        let shown = format!("{limiter:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("keys: 1"), "{shown}");
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
        for _ in 0..PRUNE_EVERY {
            let _ = limiter.check(address(1));
        }
        let size = limiter.limiter.len();
        assert!(size < 10, "keys at full budget were dropped, {size} left");
    }

    /// A caller past its burst is refused with the wait until its next request, and is
    /// served again once that wait has passed; another caller has a budget of its own.
    #[test]
    fn a_spent_budget_refills_at_the_rate() {
        let limiter = RateLimiter::new(20.0, 2);
        assert_eq!(limiter.check(address(1)), Ok(()));
        assert_eq!(limiter.check(address(1)), Ok(()));
        let wait = limiter.check(address(1)).expect_err("burst spent");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(50),
            "{wait:?}"
        );
        assert_eq!(limiter.check(address(2)), Ok(()), "a budget per key");
        std::thread::sleep(wait + Duration::from_millis(5));
        assert_eq!(limiter.check(address(1)), Ok(()), "refilled");
    }
}

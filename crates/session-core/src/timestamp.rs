//! Millisecond-precision UTC instants and the one text form the contract uses for them.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with millisecond precision, written as `2026-11-23T10:00:00.000Z`.
///
/// The fixed-width text form sorts in time order, which is what lets `createdAt` serve as the
/// sort key of the per-user index (DynamoDB compares strings byte by byte).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: i64,
}

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self { millis }
    }

    /// The instant at whole epoch second `seconds`.
    pub const fn from_epoch_seconds(seconds: i64) -> Self {
        Self {
            millis: seconds.saturating_mul(1000),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.millis
    }

    /// Whole seconds since the Unix epoch, rounded down (the DynamoDB TTL unit).
    pub const fn epoch_seconds(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// This instant moved forward by `seconds` (saturating).
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self {
            millis: self.millis.saturating_add(seconds.saturating_mul(1000)),
        }
    }

    /// Parses an RFC 3339 instant (any offset) and keeps millisecond precision.
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Self::from_millis(t.timestamp_millis()))
    }

    /// The contract's text form: RFC 3339 in UTC with milliseconds (`2026-11-23T10:00:00.000Z`).
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    fn to_datetime(self) -> DateTime<Utc> {
        // Out-of-range instants cannot be produced by the clock or by `parse`; saturate anyway.
        DateTime::from_timestamp_millis(self.millis).unwrap_or(if self.millis < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As a whole string: every response carries three, and `collect_str` would escape the
        // text piece by piece as `Display` writes it.
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 instant: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        let t = Timestamp::from_millis(1_795_428_000_123);
        assert_eq!(t.to_string(), "2026-11-23T10:00:00.123Z");
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_what_it_formats_and_other_offsets() {
        let t = Timestamp::from_millis(1_795_428_000_123);
        assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        assert_eq!(
            Timestamp::parse("2026-11-23T12:00:00.123+02:00"),
            Some(t),
            "an offset is converted to UTC"
        );
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn epoch_seconds_round_down_even_before_1970() {
        assert_eq!(Timestamp::from_millis(1_999).epoch_seconds(), 1);
        assert_eq!(Timestamp::from_millis(-1).epoch_seconds(), -1);
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "2026-02-29T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T00:60:00.000Z",
            "+026-01-01T00:00:00.000Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        assert!(
            Timestamp::parse("2024-02-29T23:59:59.999Z").is_some(),
            "a leap day"
        );
    }

    #[test]
    fn years_outside_four_digits_still_format() {
        let far = Timestamp::from_epoch_seconds(300_000_000_000);
        assert!(far.to_string().starts_with("+"), "{far}");
    }

    #[test]
    fn text_order_is_time_order() {
        let a = Timestamp::from_millis(999);
        let b = Timestamp::from_millis(1_000);
        assert!(a.to_string() < b.to_string());
    }
}

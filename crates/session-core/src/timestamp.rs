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
        Self::parse_canonical(text).or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| Self::from_millis(t.timestamp_millis()))
        })
    }

    /// The fast path of [`Timestamp::parse`]: exactly the form [`Timestamp::write`] makes.
    /// Every stored timestamp is in that form, and reads parse three per session.
    fn parse_canonical(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != CANONICAL_LEN
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[23] != b'Z'
        {
            return None;
        }
        let digits = |from: usize, to: usize| -> Option<i64> {
            b[from..to].iter().try_fold(0i64, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
            })
        };
        let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
        let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
        let millis = digits(20, 23)?;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(Self::from_millis(seconds * 1000 + millis))
    }

    /// Writes the canonical form (`2026-11-23T10:00:00.000Z`) into `buffer` and returns it,
    /// for years 0 to 9999 (`None` outside them). No allocation: responses and records carry
    /// three timestamps each.
    pub fn write(self, buffer: &mut [u8; CANONICAL_LEN]) -> Option<&str> {
        let seconds = self.millis.div_euclid(1000);
        let millis = self.millis.rem_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        if !(0..=9999).contains(&year) {
            return None;
        }
        let of_day = seconds.rem_euclid(86_400);
        let put = |buffer: &mut [u8; CANONICAL_LEN], at: usize, width: usize, mut value: i64| {
            for i in (at..at + width).rev() {
                buffer[i] = b'0' + u8::try_from(value % 10).unwrap_or(0);
                value /= 10;
            }
        };
        put(buffer, 0, 4, year);
        buffer[4] = b'-';
        put(buffer, 5, 2, month);
        buffer[7] = b'-';
        put(buffer, 8, 2, day);
        buffer[10] = b'T';
        put(buffer, 11, 2, of_day / 3600);
        buffer[13] = b':';
        put(buffer, 14, 2, of_day % 3600 / 60);
        buffer[16] = b':';
        put(buffer, 17, 2, of_day % 60);
        buffer[19] = b'.';
        put(buffer, 20, 3, millis);
        buffer[23] = b'Z';
        std::str::from_utf8(buffer).ok()
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

/// Length of the canonical text form.
pub const CANONICAL_LEN: usize = 24;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of the above).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buffer = [0u8; CANONICAL_LEN];
        match self.write(&mut buffer) {
            Some(text) => f.write_str(text),
            None => f.write_str(
                &self
                    .to_datetime()
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0u8; CANONICAL_LEN];
        match self.write(&mut buffer) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
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
    fn the_fast_paths_agree_with_chrono_everywhere() {
        // Every day from 1900 to 2400 at a few times of day, leap years and centuries included.
        let start = Timestamp::parse("1900-01-01T00:00:00.000+00:00")
            .expect("start")
            .millis();
        let mut millis = start;
        while millis < 13_569_465_600_000 {
            for offset in [0, 1, 43_199_999, 86_399_999] {
                let t = Timestamp::from_millis(millis + offset);
                let expected = t.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true);
                assert_eq!(t.to_string(), expected);
                assert_eq!(Timestamp::parse_canonical(&expected), Some(t), "{expected}");
            }
            millis += 86_400_000;
        }
    }

    #[test]
    fn the_fast_parser_refuses_what_is_not_a_date() {
        for bad in [
            "2026-02-29T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T00:60:00.000Z",
            "2026-01-01T00:00:60.000Z",
            "2026-01-01 00:00:00.000Z",
            "2026-01-01T00:00:00.00Z",
            "+026-01-01T00:00:00.000Z",
        ] {
            assert_eq!(Timestamp::parse_canonical(bad), None, "{bad}");
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

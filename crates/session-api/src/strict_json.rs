//! JSON request bodies parsed strictly: an object that names the same key twice is refused.
//!
//! `serde_json` keeps the last of two equal keys and drops the first without a word, so
//! `{"userId": "a", "userId": "b"}` would create a session for `b`, and a client whose JSON
//! is built by string concatenation would never learn that half of what it sent was ignored.
//! RFC 8259 leaves the meaning of such an object to the receiver; this service refuses it
//! (400), at every depth, in request bodies. Stored data never holds duplicates, so responses
//! are unaffected.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON value, refusing any object with a repeated key.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|strict| strict.0)
}

/// A number written with a fraction or an exponent whose value is a whole number that fits 64
/// bits (`1.0`, `1E2`, `-0`), as that integer.
///
/// DynamoDB keeps numbers as decimal text and normalises it, so `100.0` reads back as `100`:
/// whether a number was written as a float does not survive it. Normalising on the way in makes
/// every backend, and the answer to the write itself, give the same number back.
fn whole_as_integer(value: f64) -> Option<Number> {
    // 2^63 and 2^64 are exact as doubles; the ranges below are exactly the i64 and u64 ones.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    if !value.is_finite() || value.fract() != 0.0 {
        return None;
    }
    if (-TWO_63..TWO_63).contains(&value) {
        Some(Number::from(value as i64))
    } else if (0.0..TWO_64).contains(&value) {
        Some(Number::from(value as u64))
    } else {
        None
    }
}

/// A `Value` whose deserialisation refuses repeated keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // The JSON parser never yields a non-finite number; `Null` is what `Value` does too.
        Ok(whole_as_integer(value)
            .or_else(|| Number::from_f64(value))
            .map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Strict::deserialize(deserializer).map(|strict| strict.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {key:?} in an object"
                )));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a": [1, -2, 3.5, 1e-2, true, null, "x\u00e9"], "b": {"c": {}}, "d": 18446744073709551615}"#;
        assert_eq!(
            from_slice(text.as_bytes()).expect("valid"),
            serde_json::from_str::<Value>(text).expect("valid")
        );
        assert_eq!(from_slice(b"[]").expect("valid"), json!([]));
        assert_eq!(from_slice(b"\"s\"").expect("valid"), json!("s"));
    }

    #[test]
    fn whole_numbers_written_as_floats_become_integers() {
        assert_eq!(
            from_slice(
                br#"[1.0, 1E2, -0, -0.0, 3.0e10, 1e19, 1.5, 1e20, -9.223372036854775808e18]"#
            )
            .expect("valid")
            .to_string(),
            "[1,100,0,0,30000000000,10000000000000000000,1.5,1e+20,-9223372036854775808]"
        );
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            r#"{"userId": "a", "userId": "b"}"#,
            r#"{"data": {"k": 1, "k": 1}}"#,
            r#"{"data": {"list": [{"x": 1, "y": 2, "x": 3}]}}"#,
        ] {
            let error = from_slice(text.as_bytes()).expect_err(text);
            assert!(error.to_string().contains("duplicate key"), "{error}");
        }
    }

    #[test]
    fn malformed_json_stays_an_error() {
        for text in ["{", r#"{"a" 1}"#, "[1,]", "", "nul"] {
            assert!(from_slice(text.as_bytes()).is_err(), "{text:?}");
        }
    }
}

//! The JSON values of request bodies that serde's own types would accept too loosely.
//!
//! `serde_json` keeps the last of two equal keys and drops the first without a word, so
//! `{"data": {"k": 1, "k": 2}}` would store `2`, and a client whose JSON is built by string
//! concatenation would never learn that half of what it sent was ignored. RFC 8259 leaves the
//! meaning of such an object to the receiver; this service refuses it (400), at every depth.
//! (The body structs refuse a repeated field themselves: serde's derive does.)

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use session_core::SessionData;

/// Session data as a request sends it: a JSON object that names no key twice at any depth,
/// with whole numbers written as floats read as integers (see [`whole_as_integer`]).
#[derive(Debug, Default)]
pub struct Data(pub SessionData);

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(StrictVisitor)? {
            Value::Object(map) => Ok(Self(map)),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
        }
    }
}

/// A whole number: an integer, or a number with a zero fraction (`3600.0`), as JSON Schema
/// counts integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeNumber(pub i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expected = &"a whole number within 64 bits";
        match deserializer.deserialize_any(StrictVisitor)? {
            Value::Number(number) => number
                .as_i64()
                .map(Self)
                .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Other("number"), expected)),
            other => Err(de::Error::invalid_type(unexpected(&other), expected)),
        }
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
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

/// Builds a `Value`, refusing any object with a repeated key.
struct StrictVisitor;

/// A `Value` read by [`StrictVisitor`], for the elements and members inside one.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

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

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
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
    use super::*;

    fn data(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<Data>(text).map(|Data(map)| Value::Object(map))
    }

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a": [1, -2, 3.5, 1e-2, true, null, "x\u00e9"], "b": {"c": {}}, "d": 18446744073709551615}"#;
        assert_eq!(
            data(text).expect("valid"),
            serde_json::from_str::<Value>(text).expect("valid")
        );
    }

    #[test]
    fn whole_numbers_written_as_floats_become_integers() {
        assert_eq!(
            data(
                r#"{"n": [1.0, 1E2, -0, -0.0, 3.0e10, 1e19, 1.5, 1e20, -9.223372036854775808e18]}"#
            )
            .expect("valid")
            .to_string(),
            r#"{"n":[1,100,0,0,30000000000,10000000000000000000,1.5,1e+20,-9223372036854775808]}"#
        );
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            r#"{"k": 1, "k": 1}"#,
            r#"{"list": [{"x": 1, "y": 2, "x": 3}]}"#,
        ] {
            let error = data(text).expect_err(text);
            assert!(error.to_string().contains("duplicate key"), "{error}");
        }
    }

    #[test]
    fn data_is_an_object_and_whole_numbers_fit_64_bits() {
        for text in ["[]", "\"s\"", "null", "1"] {
            assert!(data(text).is_err(), "{text}");
        }
        let whole = |text: &str| serde_json::from_str::<WholeNumber>(text).ok();
        assert_eq!(whole("3600"), Some(WholeNumber(3600)));
        assert_eq!(whole("3600.0"), Some(WholeNumber(3600)));
        assert_eq!(whole("-1"), Some(WholeNumber(-1)));
        for text in ["1.5", "1e20", "\"3600\"", "true", "18446744073709551615"] {
            assert_eq!(whole(text), None, "{text}");
        }
    }
}

//! Session data: a JSON object, its limits, and shallow merge patches.
//!
//! The limits are those of DynamoDB, checked up front for both stores so that the embedded
//! store refuses exactly what DynamoDB would refuse, and every refusal is a clear 400 or 413
//! instead of an opaque store error.

use serde_json::{Map, Value};

use crate::SessionError;

/// The data of a session: any JSON object.
pub type SessionData = Map<String, Value>;

/// Default bound on the encoded size of a session's data, in bytes.
pub const DEFAULT_MAX_DATA_BYTES: usize = 65_536;

/// Deepest nesting of objects and arrays, counting `data` itself as 1. DynamoDB refuses items
/// nested deeper than 32 levels, and the item is one of them.
pub const MAX_DATA_DEPTH: usize = 31;

/// DynamoDB numbers must be zero or of magnitude in `[1e-130, 1e126)`.
const MIN_NUMBER_MAGNITUDE: f64 = 1e-130;
const MAX_NUMBER_MAGNITUDE: f64 = 1e126;

/// Checks `data` against the store limits and returns its encoded size in bytes.
///
/// Refuses with `DataTooLarge` past `max_bytes`, and with `Invalid` for an empty object key,
/// nesting deeper than [`MAX_DATA_DEPTH`], or a number DynamoDB cannot hold.
pub fn validate_data(data: &SessionData, max_bytes: usize) -> Result<usize, SessionError> {
    let size = encoded_size(data);
    if size > max_bytes {
        return Err(SessionError::DataTooLarge {
            size,
            limit: max_bytes,
        });
    }
    for (key, value) in data {
        check_key(key, &Path::Data)?;
        check_value(value, 2, &Path::Key(&Path::Data, key))?;
    }
    Ok(size)
}

/// Where a value sits in the data, for error messages. Written out only when a check fails:
/// building the text of every path up front cost more than the checks themselves.
#[derive(Clone, Copy)]
enum Path<'a> {
    /// `data` itself.
    Data,
    /// A key of an object.
    Key(&'a Path<'a>, &'a str),
    /// An element of an array.
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Data => f.write_str("data"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of `data` as compact JSON, the measure `SESSION_MAX_DATA_BYTES` bounds.
pub fn encoded_size(data: &SessionData) -> usize {
    // Counted as it is written, without a buffer; serialising a `Map` of `Value`s cannot
    // fail.
    let mut count = ByteCount(0);
    serde_json::to_writer(&mut count, data).map_or(usize::MAX, |()| count.0)
}

/// An upper bound on the size of `data` as compact JSON, found without writing it: every
/// string counted with the longest escapes it may need, every number as the longest a number
/// can be written. For budgets (a listing page's size) where an exact figure would cost a
/// serialisation per session.
pub fn encoded_size_bound(data: &SessionData) -> usize {
    object_bound(data)
}

/// The longest a JSON number is written (`-1.7976931348623157e308` and the like).
const NUMBER_BOUND: usize = 24;

fn object_bound(map: &SessionData) -> usize {
    2 + map.len().saturating_sub(1)
        + map
            .iter()
            .map(|(key, value)| string_bound(key) + 1 + value_bound(value))
            .sum::<usize>()
}

fn value_bound(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => NUMBER_BOUND,
        Value::String(text) => string_bound(text),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(value_bound).sum::<usize>()
        }
        Value::Object(map) => object_bound(map),
    }
}

/// Quotes, plus each byte as JSON writes it: a control character with a short escape
/// (`\n`), a quote or a backslash takes two, another control character six (`\u001f`),
/// anything else itself.
pub fn string_bound(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|byte| match byte {
            b'\x08' | b'\t' | b'\n' | b'\x0c' | b'\r' | b'"' | b'\\' => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn check_key(key: &str, at: &Path<'_>) -> Result<(), SessionError> {
    if key.is_empty() {
        return Err(SessionError::invalid(
            "data",
            format!("{at} has an empty key; object keys must not be empty"),
        ));
    }
    Ok(())
}

fn check_value(value: &Value, depth: usize, at: &Path<'_>) -> Result<(), SessionError> {
    match value {
        Value::Object(map) => {
            check_depth(depth, at)?;
            for (key, inner) in map {
                check_key(key, at)?;
                check_value(inner, depth + 1, &Path::Key(at, key))?;
            }
        }
        Value::Array(items) => {
            check_depth(depth, at)?;
            for (index, inner) in items.iter().enumerate() {
                check_value(inner, depth + 1, &Path::Index(at, index))?;
            }
        }
        Value::Number(number) => {
            // Integers always fit; only floats can leave DynamoDB's range.
            if number.is_f64() {
                let magnitude = number.as_f64().unwrap_or(0.0).abs();
                if magnitude != 0.0
                    && !(MIN_NUMBER_MAGNITUDE..MAX_NUMBER_MAGNITUDE).contains(&magnitude)
                {
                    return Err(SessionError::invalid(
                        "data",
                        format!(
                            "{at} is {number}; numbers must be 0 or have a magnitude between 1e-130 and 1e126"
                        ),
                    ));
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
    Ok(())
}

fn check_depth(depth: usize, at: &Path<'_>) -> Result<(), SessionError> {
    if depth > MAX_DATA_DEPTH {
        return Err(SessionError::invalid(
            "data",
            format!(
                "{at} is nested too deeply; at most {MAX_DATA_DEPTH} levels of objects and arrays are allowed"
            ),
        ));
    }
    Ok(())
}

/// A shallow merge patch of session data (RFC 7396 applied one level deep): each top-level key
/// is set to its value, and a `null` value removes the key. Keys it does not name are left alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataPatch {
    entries: SessionData,
}

impl DataPatch {
    /// The patch described by a merge-patch document.
    pub fn new(entries: SessionData) -> Self {
        Self { entries }
    }

    /// The keys and values of the patch (`null` meaning "remove").
    pub fn entries(&self) -> &SessionData {
        &self.entries
    }

    /// Applies the patch to `data` in place.
    pub fn apply_to(&self, data: &mut SessionData) {
        for (key, value) in &self.entries {
            if value.is_null() {
                data.remove(key);
            } else {
                data.insert(key.clone(), value.clone());
            }
        }
    }

    /// Validates what the patch would write: the same rules as [`validate_data`], except size,
    /// which only the merged result can tell.
    pub fn validate(&self) -> Result<(), SessionError> {
        for (key, value) in &self.entries {
            // An empty key is never valid, even to remove.
            check_key(key, &Path::Data)?;
            if !value.is_null() {
                check_value(value, 2, &Path::Key(&Path::Data, key))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> SessionData {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn nested(levels: usize) -> SessionData {
        // `levels` counts `data` itself, as MAX_DATA_DEPTH does.
        let mut value = json!("leaf");
        for _ in 1..levels {
            value = json!({ "k": value });
        }
        object(json!({ "k": value }))
    }

    #[test]
    fn accepts_ordinary_data_and_reports_its_size() {
        let data = object(json!({"theme": "dark", "n": [1, 2.5, null, true], "deep": {"a": {}}}));
        assert_eq!(validate_data(&data, 1024).ok(), Some(encoded_size(&data)));
    }

    #[test]
    fn refuses_data_over_the_byte_limit() {
        let data = object(json!({ "blob": "x".repeat(100) }));
        let size = encoded_size(&data);
        assert!(
            validate_data(&data, size).is_ok(),
            "exactly at the limit is allowed"
        );
        assert!(matches!(
            validate_data(&data, size - 1),
            Err(SessionError::DataTooLarge { size: s, limit }) if s == size && limit == size - 1
        ));
    }

    #[test]
    fn refuses_what_dynamodb_would_refuse() {
        assert!(validate_data(&object(json!({"": 1})), 1024).is_err());
        assert!(validate_data(&object(json!({"a": {"": 1}})), 1024).is_err());
        assert!(validate_data(&object(json!({"a": 1e200})), 1024).is_err());
        assert!(validate_data(&object(json!({"a": -1e-200})), 1024).is_err());
        assert!(validate_data(&object(json!({"a": 0.0, "b": 1e125, "c": 1e-130})), 1024).is_ok());
        assert!(validate_data(&nested(MAX_DATA_DEPTH), 4096).is_ok());
        assert!(validate_data(&nested(MAX_DATA_DEPTH + 1), 4096).is_err());
    }

    /// A refusal names where the offending value sits, as a path from `data`.
    #[test]
    fn refusals_name_the_path_of_what_they_refuse() {
        let message = |data: Value| match validate_data(&object(data), 4096) {
            Err(SessionError::Invalid { message, .. }) => message,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(message(json!({"a": {"b": [0, 1e200]}})).starts_with("data.a.b[1] is "));
        assert!(message(json!({"a": [{"": 1}]})).starts_with("data.a[0] has an empty key"));
        assert!(message(json!({"": 1})).starts_with("data has an empty key"));
        let deep = message(Value::Object(nested(MAX_DATA_DEPTH + 1)));
        assert!(deep.starts_with("data.k.k."), "{deep}");
        assert!(deep.contains("is nested too deeply"), "{deep}");
    }

    #[test]
    fn the_encoded_size_is_the_length_of_the_compact_json() {
        let data = object(json!({"text": "q\"\n\u{1f}é", "n": [1, 2.5, null], "o": {"x": true}}));
        let written = serde_json::to_vec(&data).expect("json");
        assert_eq!(encoded_size(&data), written.len());
    }

    #[test]
    fn boundary_numbers_parse_exactly_and_are_accepted() {
        // Needs serde_json's correctly rounded float parsing: the default parser reads 1e-130
        // as 9.999999999999999e-131 and would refuse a number DynamoDB accepts.
        let data: SessionData =
            serde_json::from_str(r#"{"low": 1e-130, "high": -9.99e125}"#).expect("json");
        assert_eq!(data["low"].as_f64(), Some(1e-130));
        assert!(validate_data(&data, 1024).is_ok());
    }

    #[test]
    fn patch_sets_removes_and_leaves_the_rest() {
        let mut data = object(json!({"keep": 1, "change": 2, "drop": 3}));
        DataPatch::new(object(
            json!({"change": {"x": 1}, "drop": null, "add": "new", "absent": null}),
        ))
        .apply_to(&mut data);
        assert_eq!(
            Value::Object(data),
            json!({"keep": 1, "change": {"x": 1}, "add": "new"})
        );
    }

    #[test]
    fn patch_validation_checks_values_and_keys() {
        assert!(
            DataPatch::new(object(json!({"a": null, "b": [1]})))
                .validate()
                .is_ok()
        );
        assert!(
            DataPatch::new(object(json!({"": null})))
                .validate()
                .is_err()
        );
        assert!(
            DataPatch::new(object(json!({"a": 1e300})))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn the_size_bound_is_never_below_the_encoded_size() {
        for data in [
            json!({}),
            json!({"a": 1}),
            json!({"quote\"key": "back\\slash \u{1f}\n\t é 😀", "n": [-1.7976931348623157e308, 5e-324, -9223372036854775808_i64, 18446744073709551615_u64]}),
            json!({"nested": {"a": [null, true, false, {"b": []}]}, "s": "\u{0}\u{7f}\u{8}\u{c}\r"}),
        ] {
            let data = data.as_object().cloned().expect("object");
            let bound = encoded_size_bound(&data);
            let exact = encoded_size(&data);
            assert!(bound >= exact, "{bound} < {exact} for {data:?}");
            assert!(bound <= exact * 4 + 64, "{bound} is far above {exact}");
        }
    }
}

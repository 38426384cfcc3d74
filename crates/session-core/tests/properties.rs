//! Property tests: ids, cursors, TTL arithmetic and merge patches hold their promises for any
//! input, not just the examples the unit tests pick.

use proptest::prelude::*;
use serde_json::{Map, Value};
use session_core::cursor::{CursorCodec, Listing, MAX_CURSOR_CHARS, Position};
use session_core::data::{DataPatch, validate_data};
use session_core::policy::is_expired;
use session_core::{ExpiryPolicy, SessionError, SessionId, Timestamp, UserId};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-e]{1,2}", json_value(), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Parsing never panics, and accepts a string only if it is exactly what `generate` makes.
    #[test]
    fn id_parsing_accepts_only_canonical_v4_uuids(text in "\\PC{0,40}") {
        if let Some(id) = SessionId::parse(&text) {
            prop_assert_eq!(id.to_string(), text.clone());
            prop_assert_eq!(text.len(), 36);
            prop_assert_eq!(text.as_bytes()[14], b'4');
            prop_assert!(text.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        }
    }

    /// Any UUID bit pattern: accepted exactly when it is version 4, RFC 4122 variant, lowercase.
    #[test]
    fn id_parsing_agrees_with_the_uuid_fields(bits in any::<u128>(), upper in any::<bool>()) {
        let uuid = uuid::Uuid::from_u128(bits);
        let text = if upper { uuid.hyphenated().to_string().to_uppercase() } else { uuid.hyphenated().to_string() };
        let canonical = uuid.get_version_num() == 4 && uuid.get_variant() == uuid::Variant::RFC4122;
        let lowercase = !upper || text == text.to_lowercase();
        prop_assert_eq!(SessionId::parse(&text).is_some(), canonical && lowercase);
    }

    /// A sealed cursor opens to the same position for its listing, and only for it.
    #[test]
    fn cursors_round_trip_for_their_own_listing_only(
        id in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        created_ms in 0i64..32_503_680_000_000,
        user in "[a-z0-9@.]{1,40}",
        other in "[A-Z]{1,10}",
    ) {
        let codec = CursorCodec::from_secret(b"property");
        let user = UserId::parse(&user).expect("valid");
        let other = UserId::parse(&other).expect("valid");
        let created = Timestamp::from_millis(created_ms).to_string();
        let position = Position { id, created_at: created };
        let cursor = codec.seal(Listing::User(&user), &position).expect("seal");
        prop_assert!(cursor.len() <= MAX_CURSOR_CHARS);
        prop_assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(codec.open(Listing::User(&user), &cursor).ok(), Some(position));
        prop_assert!(matches!(codec.open(Listing::User(&other), &cursor), Err(SessionError::InvalidCursor)));
        prop_assert!(matches!(codec.open(Listing::All, &cursor), Err(SessionError::InvalidCursor)));
    }

    /// Decoding garbage never panics and never yields a position.
    #[test]
    fn arbitrary_cursors_are_refused(text in "\\PC{0,600}") {
        let codec = CursorCodec::from_secret(b"property");
        prop_assert!(matches!(codec.open(Listing::All, &text), Err(SessionError::InvalidCursor)));
    }

    /// Flipping any one character of a real cursor makes it invalid.
    #[test]
    fn altered_cursors_are_refused(index in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_-]") {
        let codec = CursorCodec::from_secret(b"property");
        let position = Position { id: "6ba7b810-9dad-41d1-80b4-00c04fd430c8".into(), created_at: "2026-11-23T10:00:00.000Z".into() };
        let cursor = codec.seal(Listing::All, &position).expect("seal");
        prop_assert!(codec.open(Listing::All, &cursor).is_ok(), "the unaltered cursor opens");
        let at = index.index(cursor.len());
        let mut altered = cursor.clone().into_bytes();
        altered[at] = replacement.as_bytes()[0];
        let altered = String::from_utf8(altered).expect("ascii");
        prop_assume!(altered != cursor);
        prop_assert!(codec.open(Listing::All, &altered).is_err());
    }

    /// The TTL is now + idle timeout in whole seconds, never past the cap, never in milliseconds.
    #[test]
    fn ttl_arithmetic_respects_idle_timeout_and_cap(
        created_ms in 0i64..4_000_000_000_000,
        elapsed_ms in 0i64..1_000_000_000,
        idle in 1u64..=2_592_000,
        cap in proptest::option::of(1u64..=100_000_000),
    ) {
        let policy = ExpiryPolicy { max_lifetime_seconds: cap, ..ExpiryPolicy::default() };
        let created = Timestamp::from_millis(created_ms);
        let now = Timestamp::from_millis(created_ms + elapsed_ms);
        let ttl = policy.ttl_at(created, idle, now);
        let idle_i = i64::try_from(idle).expect("small");
        prop_assert!(ttl <= now.epoch_seconds() + idle_i);
        if let Some(cap) = cap {
            prop_assert!(ttl <= created.epoch_seconds() + i64::try_from(cap).expect("small"));
            prop_assert_eq!(ttl, (now.epoch_seconds() + idle_i).min(created.epoch_seconds() + i64::try_from(cap).expect("small")));
        } else {
            prop_assert_eq!(ttl, now.epoch_seconds() + idle_i);
            prop_assert!(!is_expired(ttl, now), "a fresh extension is live");
        }
        prop_assert!(ttl < 100_000_000_000, "seconds, not milliseconds");
    }

    /// `ttlSeconds` is accepted exactly in 1..=max.
    #[test]
    fn ttl_seconds_validation_is_exactly_the_range(requested in any::<i64>(), max in 1u64..=100_000_000) {
        let policy = ExpiryPolicy { max_ttl_seconds: max, ..ExpiryPolicy::default() };
        let in_range = requested >= 1 && u64::try_from(requested).is_ok_and(|r| r <= max);
        prop_assert_eq!(policy.check_ttl_seconds(requested).is_ok(), in_range);
    }

    /// A merge patch sets what it names, removes what it nulls, and leaves everything else.
    #[test]
    fn merge_patches_touch_only_named_keys(data in object(), patch in object()) {
        let mut merged = data.clone();
        DataPatch::new(patch.clone()).apply_to(&mut merged);
        for (key, value) in &patch {
            if value.is_null() {
                prop_assert!(!merged.contains_key(key));
            } else {
                prop_assert_eq!(merged.get(key), Some(value));
            }
        }
        for (key, value) in &data {
            if !patch.contains_key(key) {
                prop_assert_eq!(merged.get(key), Some(value));
            }
        }
        for key in merged.keys() {
            prop_assert!(data.contains_key(key) || patch.contains_key(key));
        }
    }

    /// Two patches to disjoint keys commute: the order concurrent patches land in cannot matter.
    #[test]
    fn patches_to_disjoint_keys_commute(data in object(), a in object(), b in object()) {
        let b: Map<String, Value> = b.into_iter().filter(|(k, _)| !a.contains_key(k)).collect();
        let mut ab = data.clone();
        DataPatch::new(a.clone()).apply_to(&mut ab);
        DataPatch::new(b.clone()).apply_to(&mut ab);
        let mut ba = data;
        DataPatch::new(b).apply_to(&mut ba);
        DataPatch::new(a).apply_to(&mut ba);
        prop_assert_eq!(ab, ba);
    }

    /// The size check is exactly "encoded size <= limit".
    #[test]
    fn the_size_limit_is_exact(data in object(), slack in -5i64..5) {
        let size = serde_json::to_vec(&data).expect("json").len();
        let limit = usize::try_from((i64::try_from(size).expect("small") + slack).max(0)).expect("non-negative");
        let result = validate_data(&data, limit);
        prop_assert_eq!(result.is_ok(), size <= limit);
    }
}

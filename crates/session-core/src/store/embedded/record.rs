//! The embedded store's record of a session.
//!
//! A tag byte, the six numbers in fixed little-endian slots, the secret's hash, the two ids
//! with their lengths, then the data as JSON:
//!
//! ```text
//! [0xB2][createdAt i64][updatedAt i64][touchedAt i64][ttl i64][ttlSeconds u64][version u64]
//! [secretHash 32 bytes][id length u16][id][userId length u16][userId][data JSON…]
//! ```
//!
//! Reading a session is the hot path of the service; this layout decodes without matching
//! field names or parsing timestamps.

use crate::{SecretHash, Session, SessionError, SessionId, Timestamp, UserId};

/// First byte of a record in this layout.
const TAG: u8 = 0xB2;
const NUMBERS: usize = 6 * 8;
const HASH: usize = 32;
/// Where the ids start.
const IDS_AT: usize = 1 + NUMBERS + HASH;

/// The record of `session`.
pub(super) fn encode(session: &Session) -> Result<Vec<u8>, SessionError> {
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = session
        .id
        .as_uuid()
        .hyphenated()
        .encode_lower(&mut id)
        .as_bytes();
    let user = session.user_id.as_str().as_bytes();
    let id_len = u16::try_from(id.len())
        .map_err(|_| SessionError::internal("session id too long for a record"))?;
    let user_len = u16::try_from(user.len())
        .map_err(|_| SessionError::internal("user id too long for a record"))?;
    let mut record = Vec::with_capacity(IDS_AT + 4 + id.len() + user.len() + 128);
    record.push(TAG);
    for number in [
        session.created_at.millis(),
        session.updated_at.millis(),
        session.touched_at.millis(),
        session.ttl,
    ] {
        record.extend_from_slice(&number.to_le_bytes());
    }
    record.extend_from_slice(&session.ttl_seconds.to_le_bytes());
    record.extend_from_slice(&session.version.to_le_bytes());
    record.extend_from_slice(session.secret_hash.as_bytes());
    record.extend_from_slice(&id_len.to_le_bytes());
    record.extend_from_slice(id);
    record.extend_from_slice(&user_len.to_le_bytes());
    record.extend_from_slice(user);
    serde_json::to_writer(&mut record, &session.data).map_err(SessionError::internal)?;
    Ok(record)
}

/// An error for a damaged record. `what` never holds the stored text: the error reaches logs.
fn corrupt(what: &str) -> SessionError {
    SessionError::internal(format!("undecodable session record: {what}"))
}

/// Reads the bytes at `at..at + len`, advancing `at`.
fn take<'a>(bytes: &'a [u8], at: &mut usize, len: usize) -> Result<&'a [u8], SessionError> {
    let end = at
        .checked_add(len)
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| corrupt("truncated"))?;
    let slice = &bytes[*at..end];
    *at = end;
    Ok(slice)
}

fn eight(bytes: &[u8], at: &mut usize) -> Result<[u8; 8], SessionError> {
    take(bytes, at, 8)?
        .try_into()
        .map_err(|_| corrupt("truncated"))
}

fn text<'a>(bytes: &'a [u8], at: &mut usize) -> Result<&'a str, SessionError> {
    let len: [u8; 2] = take(bytes, at, 2)?
        .try_into()
        .map_err(|_| corrupt("truncated"))?;
    let raw = take(bytes, at, usize::from(u16::from_le_bytes(len)))?;
    std::str::from_utf8(raw).map_err(|_| corrupt("an id is not UTF-8"))
}

fn tag(bytes: &[u8]) -> Result<(), SessionError> {
    match bytes.first() {
        Some(&TAG) => Ok(()),
        _ => Err(corrupt("unknown layout")),
    }
}

/// Reads the two ids that follow the numbers, from `at`.
fn ids(bytes: &[u8], at: &mut usize) -> Result<(SessionId, UserId), SessionError> {
    let id = SessionId::parse(text(bytes, at)?).ok_or_else(|| corrupt("invalid session id"))?;
    let user = UserId::stored(text(bytes, at)?).ok_or_else(|| corrupt("invalid user id"))?;
    Ok((id, user))
}

/// The session a record holds.
pub(super) fn decode(bytes: &[u8]) -> Result<Session, SessionError> {
    tag(bytes)?;
    let mut at = 1;
    let created_at = i64::from_le_bytes(eight(bytes, &mut at)?);
    let updated_at = i64::from_le_bytes(eight(bytes, &mut at)?);
    let touched_at = i64::from_le_bytes(eight(bytes, &mut at)?);
    let ttl = i64::from_le_bytes(eight(bytes, &mut at)?);
    let ttl_seconds = u64::from_le_bytes(eight(bytes, &mut at)?);
    let version = u64::from_le_bytes(eight(bytes, &mut at)?);
    let secret_hash =
        SecretHash::from_slice(take(bytes, &mut at, HASH)?).ok_or_else(|| corrupt("truncated"))?;
    let (id, user_id) = ids(bytes, &mut at)?;
    // serde's message can quote the stored text, which may hold ids or secrets of the session;
    // the error keeps only the kind of fault and where it is.
    let data = serde_json::from_slice(&bytes[at..]).map_err(|e| {
        corrupt(&format!(
            "the data of session #{} is not a JSON object ({:?} error at column {})",
            id.fingerprint(),
            e.classify(),
            e.column()
        ))
    })?;
    Ok(Session {
        id,
        secret_hash,
        user_id,
        data,
        created_at: Timestamp::from_millis(created_at),
        updated_at: Timestamp::from_millis(updated_at),
        touched_at: Timestamp::from_millis(touched_at),
        ttl,
        ttl_seconds,
        version,
    })
}

/// What the index and removals need of a record, read without decoding its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    /// The session's user.
    pub(super) user: UserId,
    /// The session's `ttl`.
    pub(super) ttl: i64,
}

/// The head of the session a record holds.
pub(super) fn head(bytes: &[u8]) -> Result<Head, SessionError> {
    let ttl = ttl(bytes)?;
    let mut at = IDS_AT;
    let (_, user) = ids(bytes, &mut at)?;
    Ok(Head { user, ttl })
}

/// The `ttl` of the session a record holds, read from its fixed slot without decoding the
/// rest (the sweeper reads every record).
pub(super) fn ttl(bytes: &[u8]) -> Result<i64, SessionError> {
    tag(bytes)?;
    // After the tag and three timestamps.
    let mut at = 1 + 3 * 8;
    Ok(i64::from_le_bytes(eight(bytes, &mut at)?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn session() -> Session {
        let id = SessionId::generate();
        Session {
            secret_hash: crate::SessionToken::generate(id.clone())
                .expect("random")
                .secret_hash(),
            id,
            user_id: UserId::parse("ユーザー").expect("valid"),
            data: json!({"a": [1, 2.5, null], "b": {"c": "d"}})
                .as_object()
                .cloned()
                .expect("object"),
            created_at: Timestamp::from_millis(1_795_428_000_123),
            updated_at: Timestamp::from_millis(1_795_428_001_000),
            touched_at: Timestamp::from_millis(1_795_428_002_000),
            ttl: 1_795_514_400,
            ttl_seconds: 86_400,
            version: 7,
        }
    }

    #[test]
    fn a_record_reads_back_as_the_session_it_was_made_from() {
        let original = session();
        assert_eq!(
            decode(&encode(&original).expect("encode")).expect("decode"),
            original
        );
    }

    #[test]
    fn the_head_reads_without_the_data() {
        let original = session();
        let expected = Head {
            user: original.user_id.clone(),
            ttl: original.ttl,
        };
        let record = encode(&original).expect("encode");
        assert_eq!(head(&record).expect("head"), expected);
        assert!(head(&record[..IDS_AT + 4]).is_err(), "truncated");
        assert_eq!(ttl(&record).expect("ttl"), original.ttl);
        assert!(ttl(&record[..30]).is_err(), "truncated");
        let json = serde_json::to_vec(&original).expect("json");
        assert!(decode(&json).is_err(), "not a record");
        assert!(ttl(&json).is_err(), "not a record");
    }

    #[test]
    fn a_stored_id_that_is_not_an_id_is_a_fault() {
        let mut record = encode(&session()).expect("encode");
        // The session id's first character, after the numbers and the id's length.
        record[IDS_AT + 2] = b'X';
        assert!(matches!(
            decode(&record),
            Err(SessionError::Internal { .. })
        ));
    }

    /// Data that is not an object, here a string holding the session's own id: serde's
    /// message would quote it, and the error reaches the log.
    #[test]
    fn a_damaged_record_is_reported_without_its_contents() {
        let original = session();
        let id = original.id.to_string();
        let mut record = encode(&original).expect("encode");
        let data = serde_json::to_vec(&original.data).expect("data");
        record.truncate(record.len() - data.len());
        record.extend_from_slice(format!("\"{id}\"").as_bytes());
        let error = decode(&record).expect_err("data is not an object");
        let chain: Vec<String> =
            std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect();
        let text = format!("{error:?} {}", chain.join(": "));
        assert!(!text.contains(&id), "{text}");
        assert!(text.contains(&original.id.fingerprint()), "{text}");
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let record = encode(&session()).expect("encode");
        for cut in [0, 1, 20, 49, 60, IDS_AT + 4, record.len() - 1] {
            assert!(decode(&record[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = record.clone();
        wrong[0] = 0x00;
        assert!(decode(&wrong).is_err());
        let mut long_id = record;
        long_id[IDS_AT] = 0xff;
        long_id[IDS_AT + 1] = 0xff;
        assert!(decode(&long_id).is_err(), "a length past the end");
    }
}

//! Session ids: secrets that name a session.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The id of a session: a random (version 4) UUID in its canonical lowercase hyphenated form.
///
/// 122 of its 128 bits come from the operating system's CSPRNG, so an id cannot be guessed.
/// Whoever holds an id holds the session, so `Debug` prints only a short fingerprint and logs
/// must use [`SessionId::fingerprint`] too.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh, unguessable id.
    pub fn generate() -> Self {
        let uuid = match random_bytes() {
            Some(bytes) => uuid::Builder::from_random_bytes(bytes).into_uuid(),
            // The operating system refused randomness; uuid asks it again, and reports why.
            None => Uuid::new_v4(),
        };
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        Self(uuid.hyphenated().encode_lower(&mut text).to_owned())
    }

    /// Accepts exactly the form [`SessionId::generate`] makes and nothing else, so that a
    /// malformed id is turned away before it reaches any store.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 36 {
            return None;
        }
        let uuid = Uuid::try_parse(text).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (uuid.get_version_num() == 4
            && uuid.get_variant() == uuid::Variant::RFC4122
            && canonical == text)
            .then_some(Self(canonical))
    }

    /// An id as a store kept it (not checked: the strict form is enforced where ids come in
    /// from clients, and a store must read what an older version wrote).
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The id itself. Treat it as a secret.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short, stable, non-reversible tag of the id for logs (the first 8 bytes of its
    /// SHA-256, in hex).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// Ids' worth of randomness fetched from the operating system at once.
const RANDOM_BATCH: usize = 32;

thread_local! {
    /// Randomness from the operating system's CSPRNG not handed out yet, and how much of it
    /// is left (at the end of the buffer).
    static RANDOM: std::cell::RefCell<([u8; 16 * RANDOM_BATCH], usize)> =
        const { std::cell::RefCell::new(([0; 16 * RANDOM_BATCH], 0)) };
}

/// 16 bytes straight from the operating system's CSPRNG, fetched 32 ids at a time: one
/// `getrandom` call per id was about 2% of a create's CPU. Bytes handed out are wiped from
/// the buffer, so that memory read later cannot reveal an id made earlier.
fn random_bytes() -> Option<[u8; 16]> {
    RANDOM.with(|random| {
        let (buffer, left) = &mut *random.borrow_mut();
        if *left == 0 {
            getrandom::fill(buffer).ok()?;
            *left = buffer.len();
        }
        let start = buffer.len() - *left;
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&buffer[start..start + 16]);
        buffer[start..start + 16].fill(0);
        *left -= 16;
        Some(bytes)
    })
}

/// The log-safe tag of any secret string: the first 8 bytes of its SHA-256, in hex.
pub fn fingerprint(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut text = String::with_capacity(16);
    for byte in &digest[..8] {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(#{})", self.fingerprint())
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    /// Stored ids are taken as they are: the strict form is enforced where ids come in from
    /// clients, and a store must still be able to read what an older version wrote.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 36);
    }

    /// Across several refills of the buffer, every id is a well-formed version 4 UUID, none
    /// repeats, and what was handed out is wiped.
    #[test]
    fn ids_from_the_buffer_are_distinct_valid_and_wiped_after_use() {
        let count = RANDOM_BATCH * 3 + 5;
        // Where the buffer will stand after `count` ids, from wherever this thread's starts.
        let mut left = RANDOM.with(|random| random.borrow().1);
        for _ in 0..count {
            if left == 0 {
                left = 16 * RANDOM_BATCH;
            }
            left -= 16;
        }
        let ids: std::collections::HashSet<String> = (0..count)
            .map(|_| SessionId::generate())
            .inspect(|id| assert!(SessionId::parse(id.as_str()).is_some(), "{id:?}"))
            .map(|id| id.as_str().to_owned())
            .collect();
        assert_eq!(ids.len(), count);
        RANDOM.with(|random| {
            let (buffer, now_left) = &*random.borrow();
            assert_eq!(*now_left, left);
            let used = buffer.len() - left;
            assert!(buffer[..used].iter().all(|&byte| byte == 0), "wiped");
            assert!(
                left == 0 || buffer[used..].iter().any(|&byte| byte != 0),
                "not yet used"
            );
        });
    }

    #[test]
    fn rejects_every_other_form() {
        let id = SessionId::generate();
        let upper = id.as_str().to_uppercase();
        let simple = id.as_str().replace('-', "");
        for bad in [
            "",
            "abc",
            upper.as_str(),
            simple.as_str(),
            "00000000-0000-1000-8000-000000000000", // version 1 (time-based)
            "6ba7b810-9dad-41d1-c0b4-00c04fd430c8", // wrong variant
            "{6ba7b810-9dad-41d1-80b4-00c04fd430c8}",
            "../../etc/passwd",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn fingerprints_are_the_hex_of_the_hash_prefix() {
        // SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(fingerprint("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn debug_output_does_not_reveal_the_id() {
        let id = SessionId::generate();
        let shown = format!("{id:?}");
        assert!(!shown.contains(id.as_str()));
        assert!(shown.contains(&id.fingerprint()));
        assert_eq!(id.fingerprint().len(), 16);
    }
}

//! Session ids: the public names of sessions (the credential is the token, see
//! [`crate::token`]).

use std::fmt::{self, Write as _};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The id of a session: a random (version 4) UUID, written in its canonical lowercase
/// hyphenated form.
///
/// 122 of its 128 bits come from the operating system's CSPRNG, so an id cannot be guessed.
/// An id is not a credential: a session is opened by its token. It still reaches the session
/// through the by-id routes for any caller with an API token, so `Debug` prints only a short
/// fingerprint and logs name sessions by [`SessionId::fingerprint`]: a log shipped to a wider
/// audience than the API tokens gives nobody a handle on a session.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh, unguessable id.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts exactly the form [`SessionId::generate`] makes (a version 4 UUID, lowercase,
    /// hyphenated) and nothing else, so that a malformed id is turned away before it reaches
    /// any store.
    pub fn parse(text: &str) -> Option<Self> {
        let uuid = Uuid::try_parse(text).ok()?;
        let mut canonical = [0u8; uuid::fmt::Hyphenated::LENGTH];
        (uuid.get_version_num() == 4
            && uuid.get_variant() == uuid::Variant::RFC4122
            && uuid.hyphenated().encode_lower(&mut canonical) == text)
            .then_some(Self(uuid))
    }

    /// The UUID itself.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// A short, stable, non-reversible tag of the id for logs (the first 8 bytes of the
    /// SHA-256 of its text, in hex).
    pub fn fingerprint(&self) -> String {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let digest = Sha256::digest(self.0.hyphenated().encode_lower(&mut text).as_bytes());
        digest[..8]
            .iter()
            .fold(String::with_capacity(16), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

impl fmt::Display for SessionId {
    /// The canonical form, as clients send and receive it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(#{})", self.fingerprint())
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        serializer.serialize_str(self.0.hyphenated().encode_lower(&mut text))
    }
}

impl<'de> Deserialize<'de> for SessionId {
    /// Only the canonical form: a stored id in any other form is corruption, not a session.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| D::Error::custom("not a session id"))
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
        let text = a.to_string();
        assert_eq!(SessionId::parse(&text), Some(a.clone()));
        assert_eq!(text.len(), 36);
    }

    #[test]
    fn ids_are_written_in_the_canonical_form() {
        let text = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
        let id = SessionId::parse(text).expect("canonical");
        assert_eq!(id.to_string(), text);
        assert_eq!(
            serde_json::to_string(&id).expect("serialize"),
            format!("\"{text}\"")
        );
        let read: SessionId = serde_json::from_str(&format!("\"{text}\"")).expect("read");
        assert_eq!(read, id);
        let upper = format!("\"{}\"", text.to_uppercase());
        assert!(serde_json::from_str::<SessionId>(&upper).is_err());
    }

    #[test]
    fn rejects_every_other_form() {
        let id = SessionId::generate().to_string();
        let upper = id.to_uppercase();
        let simple = id.replace('-', "");
        for bad in [
            "",
            "abc",
            upper.as_str(),
            simple.as_str(),
            "00000000-0000-1000-8000-000000000000", // version 1 (time-based)
            "6ba7b810-9dad-41d1-c0b4-00c04fd430c8", // wrong variant
            "{6ba7b810-9dad-41d1-80b4-00c04fd430c8}",
            "urn:uuid:6ba7b810-9dad-41d1-80b4-00c04fd430c8",
            "../../etc/passwd",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn fingerprints_are_the_hex_of_the_hash_prefix() {
        // SHA-256("6ba7b810-9dad-41d1-80b4-00c04fd430c8") starts 2a64f8555ae94463.
        let id = SessionId::parse("6ba7b810-9dad-41d1-80b4-00c04fd430c8").expect("valid");
        assert_eq!(id.fingerprint(), "2a64f8555ae94463");
    }

    #[test]
    fn debug_output_does_not_reveal_the_id() {
        let id = SessionId::generate();
        let shown = format!("{id:?}");
        assert!(!shown.contains(&id.to_string()));
        assert!(shown.contains(&id.fingerprint()));
        assert_eq!(id.fingerprint().len(), 16);
    }
}

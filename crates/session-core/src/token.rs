//! Session tokens: the credential handed to an application, `<id>.<secret>`.
//!
//! The id names the session and may be shown anywhere; the secret proves possession of it.
//! Stores keep only [`SecretHash`], the SHA-256 of the secret's bytes: a table export, a backup
//! or a log of the store's traffic hands out no login. A fast hash is right here, since the
//! secret holds 256 bits from the operating system's CSPRNG and there is nothing to stretch.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{SessionError, SessionId};

/// Bytes of a secret.
const SECRET_BYTES: usize = 32;
/// Characters of a secret in base64url without padding.
pub const SECRET_CHARS: usize = 43;
/// Characters of a whole token: the id, the dot and the secret.
pub const TOKEN_CHARS: usize = uuid::fmt::Hyphenated::LENGTH + 1 + SECRET_CHARS;

/// SHA-256 of a session's secret: all a store keeps of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// The hash of the secret bytes `secret`.
    fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// The 32 bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A hash from its 32 bytes (as stored); `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Whether the two hashes are equal, in time that does not depend on where they differ.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    /// A hash of a 256-bit secret reveals nothing usable, but it names a credential, so it is
    /// not printed either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl Serialize for SecretHash {
    /// Bytes: a binary attribute (`B`) on DynamoDB.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HashBytes;
        impl<'de> Visitor<'de> for HashBytes {
            type Value = SecretHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("32 bytes")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<SecretHash, E> {
                SecretHash::from_slice(bytes).ok_or_else(|| E::invalid_length(bytes.len(), &self))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<SecretHash, A::Error> {
                let mut bytes = [0u8; 32];
                for (i, byte) in bytes.iter_mut().enumerate() {
                    *byte = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(de::Error::invalid_length(33, &self));
                }
                Ok(SecretHash(bytes))
            }
        }
        deserializer.deserialize_bytes(HashBytes)
    }
}

/// A session token: the session's id and its secret. Shown to the application twice (at
/// creation and at rotation) and never kept.
#[derive(Clone)]
pub struct SessionToken {
    id: SessionId,
    secret: [u8; SECRET_BYTES],
}

impl SessionToken {
    /// A fresh secret for the session `id`.
    pub fn generate(id: SessionId) -> Result<Self, SessionError> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret)
            .map_err(|e| SessionError::internal(format!("no randomness for a secret: {e}")))?;
        Ok(Self { id, secret })
    }

    /// The session the token names.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// What a store keeps of the secret.
    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }
}

impl fmt::Display for SessionToken {
    /// `<id>.<secret in base64url without padding>`: the credential itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, URL_SAFE_NO_PAD.encode(self.secret))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionToken({:?}, secret: [REDACTED])", self.id)
    }
}

/// A token as presented by a caller, checked for shape only: the id it names and the hash of
/// the secret it carries. Whether it opens the session is for the store to say.
#[derive(Clone, Debug)]
pub struct PresentedToken {
    /// The session it names; `None` when the id part is not a session id, which then matches
    /// nothing.
    pub id: Option<SessionId>,
    /// The hash of the secret part, computed whatever its shape, so that an unknown id and a
    /// wrong secret cost the same work.
    pub hash: SecretHash,
}

impl PresentedToken {
    /// Reads `text` (the `X-Session-Token` header). A text with no `.` is not a token at all
    /// (`Invalid`, 400); anything of the form `<id>.<secret>` is read, and a part of the wrong
    /// shape (a forged or truncated token) just matches no session (404).
    pub fn parse(text: &str) -> Result<Self, SessionError> {
        let (id, secret) = text.split_once('.').ok_or_else(|| {
            SessionError::invalid(
                "X-Session-Token",
                "X-Session-Token must be a session token, `<id>.<secret>`, as the create or rotate answer gave it",
            )
        })?;
        let decoded = (secret.len() == SECRET_CHARS)
            .then(|| URL_SAFE_NO_PAD.decode(secret).ok())
            .flatten()
            .filter(|bytes| bytes.len() == SECRET_BYTES);
        let hash = match &decoded {
            Some(bytes) => SecretHash::of(bytes),
            None => SecretHash::of(secret.as_bytes()),
        };
        let id = decoded.and_then(|_| SessionId::parse(id));
        Ok(Self { id, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_the_id_a_dot_and_43_characters_of_base64url() {
        let id = SessionId::generate();
        let token = SessionToken::generate(id.clone()).expect("random");
        let text = token.to_string();
        assert_eq!(text.len(), TOKEN_CHARS);
        assert_eq!(text.len(), 80);
        let (head, secret) = text.split_once('.').expect("dot");
        assert_eq!(head, id.to_string());
        assert_eq!(secret.len(), SECRET_CHARS);
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn a_presented_token_hashes_to_what_the_store_keeps() {
        let token = SessionToken::generate(SessionId::generate()).expect("random");
        let presented = PresentedToken::parse(&token.to_string()).expect("shape");
        assert_eq!(presented.id.as_ref(), Some(token.id()));
        assert!(presented.hash.matches(&token.secret_hash()));
        let other = SessionToken::generate(token.id().clone()).expect("random");
        assert!(!presented.hash.matches(&other.secret_hash()));
    }

    #[test]
    fn forged_and_truncated_tokens_name_no_session() {
        let text = SessionToken::generate(SessionId::generate())
            .expect("random")
            .to_string();
        for bad in [
            &text[..text.len() - 1],
            &text[..38],
            &format!("{text}A"),
            &format!("{}.{}", &text[..36], "!".repeat(43)),
            &format!("not-an-id.{}", &text[37..]),
        ] {
            let presented = PresentedToken::parse(bad).expect("has a dot");
            assert!(presented.id.is_none(), "{bad:?} names a session");
        }
    }

    #[test]
    fn a_text_without_a_dot_is_not_a_token() {
        for bad in ["", "abc", "6ba7b810-9dad-41d1-80b4-00c04fd430c8"] {
            assert!(matches!(
                PresentedToken::parse(bad),
                Err(SessionError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let token = SessionToken::generate(SessionId::generate()).expect("random");
        let text = token.to_string();
        let secret = &text[37..];
        let shown = format!(
            "{token:?} {:?} {:?} {:?}",
            token.secret_hash(),
            PresentedToken::parse(&text).expect("shape"),
            crate::Address::Token(&text)
        );
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains(&text), "{shown}");
    }

    #[test]
    fn the_hash_round_trips_as_bytes() {
        let hash = SessionToken::generate(SessionId::generate())
            .expect("random")
            .secret_hash();
        let json = serde_json::to_string(&hash).expect("serialize");
        let back: SecretHash = serde_json::from_str(&json).expect("read");
        assert_eq!(back, hash);
        assert!(serde_json::from_str::<SecretHash>("[1,2,3]").is_err());
    }
}

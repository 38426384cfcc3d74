//! Listing cursors: opaque to clients, sealed so that they can neither be read nor forged, and
//! bound to the listing that issued them.
//!
//! A cursor carries the key of the last session of a page: its creation time and public id,
//! no credential. It is sealed (XChaCha20-Poly1305 with a random nonce) so that clients cannot
//! forge a position or depend on the cursor's layout, and so that a cursor that travels in a
//! URL tells a proxy log nothing about the sessions listed. The listing (all sessions, or one
//! user's) is the associated data, so a cursor opened for another listing fails authentication.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Session, SessionError, Timestamp, UserId};

/// Longest cursor accepted, in characters. Real ones are about 150; anything much longer is
/// not ours and is refused before any decoding work.
pub const MAX_CURSOR_CHARS: usize = 512;

const NONCE_BYTES: usize = 24;

/// Where a listing stopped: the key of the last session returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The last session's id.
    #[serde(rename = "i")]
    pub id: String,
    /// The last session's `createdAt`: the per-user listing is ordered by it, and so is the
    /// embedded store's admin listing (DynamoDB's scan resumes from the id alone).
    #[serde(rename = "c")]
    pub created_at: String,
}

impl Position {
    /// Where a listing resumes after `session`. Every listing's positions have this form.
    pub fn after(session: &Session) -> Self {
        Self {
            id: session.id.to_string(),
            created_at: session.created_at.to_string(),
        }
    }

    /// The creation time the position holds; `InvalidCursor` when it is not a timestamp.
    pub fn created(&self) -> Result<Timestamp, SessionError> {
        Timestamp::parse(&self.created_at).ok_or(SessionError::InvalidCursor)
    }
}

/// Which listing a cursor belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Listing<'a> {
    /// The admin listing of every session.
    All,
    /// One user's sessions.
    User(&'a UserId),
}

impl Listing<'_> {
    fn binding(&self) -> Vec<u8> {
        match self {
            Listing::All => b"all".to_vec(),
            Listing::User(user) => {
                let mut binding = b"user:".to_vec();
                binding.extend_from_slice(user.as_str().as_bytes());
                binding
            }
        }
    }
}

/// Seals and opens cursors with one key.
#[derive(Clone)]
pub struct CursorCodec {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    /// A codec whose key is derived from `secret`. Every instance of the service must use the
    /// same secret, or a cursor issued by one is refused by another.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"session-api cursor key v1\0");
        hasher.update(secret);
        let key = hasher.finalize();
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// Seals `position` for `listing`.
    pub fn seal(&self, listing: Listing<'_>, position: &Position) -> Result<String, SessionError> {
        let plaintext = serde_json::to_vec(position).map_err(SessionError::internal)?;
        self.seal_bytes(listing, &plaintext)
    }

    fn seal_bytes(&self, listing: Listing<'_>, plaintext: &[u8]) -> Result<String, SessionError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SessionError::internal(e.to_string()))?;
        let binding = listing.binding();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &binding,
                },
            )
            .map_err(|_| SessionError::internal("cursor encryption failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens a cursor sealed by [`CursorCodec::seal`] for the same `listing`; anything else is
    /// `InvalidCursor`.
    pub fn open(&self, listing: Listing<'_>, cursor: &str) -> Result<Position, SessionError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(SessionError::InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| SessionError::InvalidCursor)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(SessionError::InvalidCursor);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let binding = listing.binding();
        let plaintext = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &binding,
                },
            )
            .map_err(|_| SessionError::InvalidCursor)?;
        let position: Position =
            serde_json::from_slice(&plaintext).map_err(|_| SessionError::InvalidCursor)?;
        // Whoever holds the key could seal anything: a position must still name a possible
        // session, in the form its listing uses, before any store sees it as a start key.
        if crate::SessionId::parse(&position.id).is_some() && position.created().is_ok() {
            Ok(position)
        } else {
            Err(SessionError::InvalidCursor)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn position() -> Position {
        Position {
            id: "6ba7b810-9dad-41d1-80b4-00c04fd430c8".into(),
            created_at: "2026-11-23T10:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_position_gives_back_its_creation_time() {
        let at = Timestamp::parse("2026-11-23T10:00:00.000Z").expect("timestamp");
        assert_eq!(position().created().expect("valid"), at);
        let garbled = Position {
            created_at: "yesterday".into(),
            ..position()
        };
        assert!(matches!(
            garbled.created(),
            Err(SessionError::InvalidCursor)
        ));
    }

    #[test]
    fn a_sealed_position_that_names_no_possible_session_is_refused() {
        let codec = CursorCodec::from_secret(b"k");
        let alice = UserId::parse("alice").expect("valid");
        let user = Listing::User(&alice);
        let id = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
        let at = "2026-11-23T10:00:00.000Z";
        for (listing, forged) in [
            (user, json!({"i": "", "c": ""})),
            (user, json!({"i": id, "c": "yesterday"})),
            (user, json!({"i": id})),
            (user, json!({"i": "zzzz", "c": at})),
            (Listing::All, json!({"i": "", "c": at})),
            (Listing::All, json!({"i": "zzzz", "c": at})),
            (Listing::All, json!({"i": id, "c": "yesterday"})),
            // The creation time is required in the admin listing's cursors too.
            (Listing::All, json!({"i": id})),
        ] {
            let plaintext = serde_json::to_vec(&forged).expect("json");
            let cursor = codec.seal_bytes(listing, &plaintext).expect("seal");
            assert!(
                matches!(
                    codec.open(listing, &cursor),
                    Err(SessionError::InvalidCursor)
                ),
                "{forged}"
            );
        }
        let all = Position {
            id: id.into(),
            created_at: at.into(),
        };
        let cursor = codec.seal(Listing::All, &all).expect("seal");
        assert_eq!(codec.open(Listing::All, &cursor).ok(), Some(all));
    }

    #[test]
    fn opens_what_it_sealed_for_the_same_listing() {
        let codec = CursorCodec::from_secret(b"k");
        let alice = UserId::parse("alice").expect("valid");
        let cursor = codec
            .seal(Listing::User(&alice), &position())
            .expect("seal");
        assert_eq!(
            codec.open(Listing::User(&alice), &cursor).ok(),
            Some(position())
        );
        assert!(!cursor.contains("6ba7b810"), "the position is not readable");
    }

    #[test]
    fn refuses_a_cursor_from_another_listing_or_key() {
        let codec = CursorCodec::from_secret(b"k");
        let alice = UserId::parse("alice").expect("valid");
        let bob = UserId::parse("bob").expect("valid");
        let cursor = codec
            .seal(Listing::User(&alice), &position())
            .expect("seal");
        assert!(matches!(
            codec.open(Listing::User(&bob), &cursor),
            Err(SessionError::InvalidCursor)
        ));
        assert!(matches!(
            codec.open(Listing::All, &cursor),
            Err(SessionError::InvalidCursor)
        ));
        let other = CursorCodec::from_secret(b"other");
        assert!(matches!(
            other.open(Listing::User(&alice), &cursor),
            Err(SessionError::InvalidCursor)
        ));
    }

    #[test]
    fn refuses_tampered_and_malformed_cursors() {
        let codec = CursorCodec::from_secret(b"k");
        let cursor = codec.seal(Listing::All, &position()).expect("seal");
        let mut tampered = cursor.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        for bad in [
            tampered.as_str(),
            "",
            "not base64!",
            "AAAA",
            &"A".repeat(MAX_CURSOR_CHARS + 1),
        ] {
            assert!(
                matches!(
                    codec.open(Listing::All, bad),
                    Err(SessionError::InvalidCursor)
                ),
                "{bad:?}"
            );
        }
    }
}

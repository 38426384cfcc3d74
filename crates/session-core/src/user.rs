//! User ids: who a session belongs to.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::SessionError;

/// The longest user id accepted, in characters.
pub const MAX_USER_ID_CHARS: usize = 256;

/// The id of the user a session belongs to: 1 to 256 characters, none of them a control
/// character.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Validates `text` as a user id.
    pub fn parse(text: &str) -> Result<Self, SessionError> {
        let chars = text.chars().count();
        if chars == 0 {
            return Err(SessionError::invalid("userId", "userId must not be empty"));
        }
        if chars > MAX_USER_ID_CHARS {
            return Err(SessionError::invalid(
                "userId",
                format!(
                    "userId is {chars} characters long; at most {MAX_USER_ID_CHARS} are allowed"
                ),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(SessionError::invalid(
                "userId",
                "userId must not contain control characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The id itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_ids() {
        assert_eq!(
            UserId::parse("user123").ok().map(|u| u.0),
            Some("user123".into())
        );
        assert!(UserId::parse("ユーザー@example.com").is_ok());
        assert!(
            UserId::parse(&"é".repeat(MAX_USER_ID_CHARS)).is_ok(),
            "the limit counts characters, not bytes"
        );
    }

    #[test]
    fn rejects_empty_long_and_control_characters() {
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"a".repeat(MAX_USER_ID_CHARS + 1)).is_err());
        assert!(UserId::parse("bad\nid").is_err());
        assert!(UserId::parse("bad\u{0}id").is_err());
        assert!(UserId::parse("bad\u{7f}id").is_err());
    }
}

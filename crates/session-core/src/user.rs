//! User ids: who a session belongs to.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::SessionError;

/// The longest user id accepted, in characters.
pub const MAX_USER_ID_CHARS: usize = 256;

/// The id of the user a session belongs to: 1 to 256 characters, none of them a control
/// character (category Cc) or a format character (category Cf).
///
/// Format characters are invisible: bidirectional controls (U+202A–U+202E, U+2066–U+2069,
/// U+200E, U+200F, U+061C) reorder what is shown, zero-width ones (U+200B–U+200D, U+2060,
/// U+FEFF) and tags (U+E0001, U+E0020–U+E007F) show nothing. With them, two ids that an admin
/// tool shows alike could name different users.
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
        if let Some(hidden) = text
            .chars()
            .find(|c| c.general_category() == GeneralCategory::Format)
        {
            return Err(SessionError::invalid(
                "userId",
                format!(
                    "userId must not contain invisible format characters (such as bidirectional \
                     controls and zero-width characters); found U+{:04X}",
                    u32::from(hidden)
                ),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// A user id as a store holds it, checked only for what the store's own encoding needs (not
    /// empty): what a store holds was valid when written, and a rule added to [`UserId::parse`]
    /// must not make a session already stored unreadable.
    pub fn stored(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Self(text.to_owned()))
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

    #[test]
    fn rejects_bidi_controls_and_invisible_characters_naming_the_one_found() {
        for hidden in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0001}',
            '\u{E0061}',
        ] {
            let id = format!("ad{hidden}min");
            let error = UserId::parse(&id).expect_err(&format!("{:04X}", u32::from(hidden)));
            let shown = error.to_string();
            assert!(
                shown.contains(&format!("U+{:04X}", u32::from(hidden))),
                "{shown}"
            );
        }
        // Visible characters of every script stay valid.
        for visible in [
            "ユーザー",
            "مستخدم",
            "אליס",
            "\u{1F469}\u{1F4BB}",
            "ﬁ@example.com",
        ] {
            assert!(UserId::parse(visible).is_ok(), "{visible}");
        }
    }

    #[test]
    fn a_stored_id_is_read_back_whatever_rules_came_since() {
        assert_eq!(
            UserId::stored("ad\u{200B}min").map(|u| u.0),
            Some("ad\u{200B}min".to_owned())
        );
        assert!(UserId::stored("").is_none());
    }
}

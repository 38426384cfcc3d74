//! The key that seals listing cursors, and where it comes from.
//!
//! In this order:
//! 1. `SESSION_CURSOR_SECRET` (or `SESSION_CURSOR_SECRET_FILE`), which must hold at least 32
//!    random bytes ([`check_secret`]);
//! 2. with the embedded store, a random key kept beside the database file, in
//!    `<EMBEDDED_DB_PATH>.cursor-key` (mode 0600), made at the first start and reused after, so
//!    that cursors survive a restart;
//! 3. with DynamoDB, none: the service refuses to start. Every instance over a table must seal
//!    with the same key, and no instance can make one up that the others would know, except
//!    from something public.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use secrecy::ExposeSecret;
use session_core::CursorCodec;

use crate::{Settings, SettingsError, StoreKind};

/// Fewest bytes a cursor secret must decode to: the key of XChaCha20-Poly1305.
pub const MIN_SECRET_BYTES: usize = 32;

/// How to make a secret, as the errors and the docs say.
pub const MAKE_SECRET: &str = "openssl rand -base64 32";

/// Base64 as people write it down: padding optional, and the unused low bits of the last
/// character ignored, since only how many bytes it holds matters here.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Checks that `secret` can be a cursor secret: base64 (standard or URL-safe alphabet, padding
/// optional) of at least [`MIN_SECRET_BYTES`] bytes, not all of them the same. Hex is base64
/// too, so 64 hex digits (`openssl rand -hex 32`) pass as 48 bytes. The error says what is
/// wrong, worded to follow the variable's name.
///
/// No check can tell random bytes from chosen ones; this one refuses what is certainly too
/// short, or a placeholder such as `AAAA…`, and the error says how to make a good one.
pub fn check_secret(secret: &str) -> Result<(), String> {
    let Some(bytes) = [STANDARD, URL_SAFE]
        .iter()
        .find_map(|engine| engine.decode(secret).ok())
    else {
        return Err(format!(
            "is not base64; it must be at least {MIN_SECRET_BYTES} random bytes in base64: `{MAKE_SECRET}`"
        ));
    };
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "holds {} bytes; it must be at least {MIN_SECRET_BYTES} random bytes in base64: `{MAKE_SECRET}`",
            bytes.len()
        ));
    }
    if bytes.windows(2).all(|pair| pair[0] == pair[1]) {
        return Err(format!(
            "repeats one byte, which is no secret; make a random one: `{MAKE_SECRET}`"
        ));
    }
    Ok(())
}

/// The file that holds the embedded store's cursor key: the database's path with
/// `.cursor-key` added.
pub fn key_file_path(database: &std::path::Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".cursor-key");
    name.into()
}

/// The codec that seals cursors with the key the settings call for (see the module's
/// documentation for the order).
pub fn codec(settings: &Settings) -> Result<CursorCodec, SettingsError> {
    if let Some(secret) = settings.cursor_secret_value()? {
        return Ok(CursorCodec::from_secret(secret.expose_secret().as_bytes()));
    }
    match settings.store {
        StoreKind::Embedded => embedded_key(settings),
        StoreKind::Dynamodb => Err(SettingsError {
            variable: "SESSION_CURSOR_SECRET",
            problem: format!(
                "is not set (nor SESSION_CURSOR_SECRET_FILE), which the DynamoDB store needs: \
                 every instance over a table must seal listing cursors with the same key. Set \
                 it to at least {MIN_SECRET_BYTES} random bytes in base64 (`{MAKE_SECRET}`), \
                 the same on every instance"
            ),
        }),
    }
}

#[cfg(feature = "embedded")]
fn embedded_key(settings: &Settings) -> Result<CursorCodec, SettingsError> {
    let key = key_file::load_or_create(&key_file_path(&settings.embedded_db_path))?;
    Ok(CursorCodec::from_secret(key.expose_secret().as_bytes()))
}

#[cfg(not(feature = "embedded"))]
fn embedded_key(_: &Settings) -> Result<CursorCodec, SettingsError> {
    Err(SettingsError {
        variable: "SESSION_STORE",
        problem: "embedded is not available in this build".to_owned(),
    })
}

/// The key file of the embedded store.
#[cfg(feature = "embedded")]
mod key_file {
    use std::io::{ErrorKind, Write};
    use std::path::Path;

    use base64::Engine;
    use secrecy::SecretString;

    use super::{MIN_SECRET_BYTES, check_secret};
    use crate::SettingsError;

    fn error(path: &Path, problem: impl std::fmt::Display) -> SettingsError {
        SettingsError {
            variable: "EMBEDDED_DB_PATH",
            problem: format!("the cursor key file {}: {problem}", path.display()),
        }
    }

    /// The key in the file at `path`; made first when there is no such file.
    pub(super) fn load_or_create(path: &Path) -> Result<SecretString, SettingsError> {
        match load(path)? {
            Some(key) => Ok(key),
            None => create(path),
        }
    }

    fn load(path: &Path) -> Result<Option<SecretString>, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(error(path, format!("cannot be read: {e}"))),
        };
        let key = text.trim_end();
        check_secret(key).map_err(|problem| {
            error(
                path,
                format!(
                    "{problem}. Delete it to have a new one made (listing cursors given out \
                     before stop working), or set SESSION_CURSOR_SECRET"
                ),
            )
        })?;
        Ok(Some(key.into()))
    }

    /// Writes a new random key. The file is written under a temporary name, which `tempfile`
    /// creates with mode 0600 (no other user may read it), and then moved to `path` unless a
    /// file is there already: no reader ever sees a partial key, and of two processes starting
    /// at once, both end up with the one key that got there first.
    fn create(path: &Path) -> Result<SecretString, SettingsError> {
        let mut bytes = [0u8; MIN_SECRET_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| error(path, format!("cannot make random bytes: {e}")))?;
        let key = base64::engine::general_purpose::STANDARD.encode(bytes);
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let cannot_write = |e: std::io::Error| error(path, format!("cannot be written: {e}"));
        let mut file = tempfile::Builder::new()
            .prefix(".cursor-key")
            .tempfile_in(directory)
            .map_err(cannot_write)?;
        file.write_all(format!("{key}\n").as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .map_err(cannot_write)?;
        match file.persist_noclobber(path) {
            Ok(_) => {
                tracing::info!(path = %path.display(), "made a new key for listing cursors");
                Ok(key.into())
            }
            Err(e) if e.error.kind() == ErrorKind::AlreadyExists => {
                load(path)?.ok_or_else(|| error(path, "vanished while it was being made"))
            }
            Err(e) => Err(cannot_write(e.error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl rand -base64 32`, and the same bytes in the other spellings people use.
    const GOOD: [&str; 4] = [
        "ilh0JpSJMUfOkWTZSEaKw4h8PsSqhrR6n847O7JZBK0=",
        "ilh0JpSJMUfOkWTZSEaKw4h8PsSqhrR6n847O7JZBK0",
        "O6EySiDBIOyy_S6mPWnjI1E_INs4lB9m2BoWKWvDg6s",
        "c0d584a0f6672b64adcc64029f99c30654d9450f960ac8298a75e7ea9eb3829b",
    ];

    #[test]
    fn a_secret_needs_32_bytes_in_base64_not_all_alike() {
        for good in GOOD {
            assert_eq!(check_secret(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("", "holds 0 bytes"),
            ("s3cret", "holds 4 bytes"),
            (
                "correct horse battery staple correct horse battery",
                "is not base64",
            ),
            // 31 random bytes.
            (
                "T5HiMSv/5WOgmJb7yp96c5/TxG6kHiuBTzWBZeDJ8Q==",
                "holds 31 bytes",
            ),
            (&"A".repeat(44), "repeats one byte"),
            (&"/".repeat(64), "repeats one byte"),
        ] {
            let problem = check_secret(bad).expect_err(bad);
            assert!(problem.contains(says), "{bad}: {problem}");
            assert!(problem.contains(MAKE_SECRET), "{problem}");
        }
    }

    fn settings(args: &[&str]) -> Settings {
        crate::settings::tests::parse(args).expect("parse")
    }

    /// Whether `opener` opens a cursor that `sealer` sealed.
    fn shares_a_key(sealer: &CursorCodec, opener: &CursorCodec) -> bool {
        use session_core::cursor::{Listing, Position};
        let position = Position {
            id: "6ba7b810-9dad-41d1-80b4-00c04fd430c8".into(),
            created_at: "2026-11-23T10:00:00.000Z".into(),
        };
        let cursor = sealer.seal(Listing::All, &position).expect("seal");
        opener.open(Listing::All, &cursor).is_ok()
    }

    #[cfg(feature = "embedded")]
    #[test]
    fn the_embedded_store_keeps_a_random_key_beside_its_file_for_the_next_start() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().expect("tempdir");
        let database = dir.path().join("sessions.redb");
        let at = |path: &std::path::Path| {
            settings(&["--embedded-db-path", path.to_str().expect("utf-8")])
        };
        let first = codec(&at(&database)).expect("made");
        let key_file = key_file_path(&database);
        let mode = std::fs::metadata(&key_file)
            .expect("made")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let key = std::fs::read_to_string(&key_file).expect("readable");
        assert_eq!(check_secret(key.trim_end()), Ok(()));

        let restarted = codec(&at(&database)).expect("read back");
        assert!(
            shares_a_key(&first, &restarted),
            "cursors survive a restart"
        );
        let elsewhere = codec(&at(&dir.path().join("other.redb"))).expect("made");
        assert!(
            !shares_a_key(&first, &elsewhere),
            "the key is random, not derived from anything public"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");

        std::fs::write(&key_file, "short\n").expect("damage");
        let error = codec(&at(&database)).expect_err("damaged");
        assert_eq!(error.variable, "EMBEDDED_DB_PATH");
        assert!(error.problem.contains("Delete it"), "{error}");
    }

    #[test]
    fn a_secret_wins_and_dynamodb_needs_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = dir.path().join("sessions.redb");
        let with_secret = settings(&[
            "--embedded-db-path",
            database.to_str().expect("utf-8"),
            "--session-cursor-secret",
            GOOD[0],
        ]);
        let one = codec(&with_secret).expect("a secret");
        assert!(
            !key_file_path(&database).exists(),
            "no key file with a secret"
        );
        let dynamodb = settings(&[
            "--session-store",
            "dynamodb",
            "--session-cursor-secret",
            GOOD[0],
        ]);
        let other = codec(&dynamodb).expect("a secret");
        assert!(shares_a_key(&one, &other), "one secret, one key");

        let error = codec(&settings(&["--session-store", "dynamodb"])).expect_err("no secret");
        assert_eq!(error.variable, "SESSION_CURSOR_SECRET");
        assert!(error.problem.contains(MAKE_SECRET), "{error}");
    }

    #[test]
    fn the_key_file_is_the_database_path_with_a_suffix() {
        assert_eq!(
            key_file_path(std::path::Path::new("./data/sessions.redb")),
            std::path::PathBuf::from("./data/sessions.redb.cursor-key")
        );
    }
}

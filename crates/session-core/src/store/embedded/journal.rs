//! The embedded store's write-ahead journal.
//!
//! A durable redb commit rewrites every B-tree page the commit touched and syncs them; with
//! sessions keyed by random ids that is a few pages per write, and it was what bounded the
//! store's write rate. So the writer commits batches to redb *without* syncing, and makes each
//! batch durable by appending what it changed to this journal and syncing the journal alone:
//! one short sequential append per batch. Every few seconds (and when the file is closed) a
//! checkpoint makes redb's state durable and empties the journal. After a crash, opening the
//! store replays the journal onto redb's last durable state.
//!
//! The file holds frames, one per batch:
//!
//! ```text
//! [payload length u32][CRC-32 of payload u32][payload]
//! payload = [change]…
//! change  = [1][id length u16][id][record length u32][record]   the session's record is now this
//!         | [2][id length u16][id]                              the session is gone
//! ```
//!
//! A frame is appended and synced before the batch it describes is acknowledged, so only the
//! last frame can be torn by a crash, and a torn frame was never acknowledged: replay stops at
//! the first frame that is short or fails its checksum. Changes carry whole records rather than
//! operations, so replaying a frame twice (after a crash between a checkpoint and emptying the
//! journal) leaves the same state.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest time a change stays only in the journal before a checkpoint, by default
/// (`EmbeddedOptions::checkpoint_interval`).
pub(super) const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);
/// Journal size that triggers a checkpoint sooner, which bounds replay time after a crash.
pub(super) const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

const PUT: u8 = 1;
const REMOVE: u8 = 2;
const FRAME_HEADER: usize = 8;

/// What a committed write did to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// The session's record is now `record` (created or updated).
    Put {
        /// The session id.
        id: String,
        /// The record, as `record::encode` wrote it.
        record: Vec<u8>,
    },
    /// The session and its index entries are gone.
    Remove {
        /// The session id.
        id: String,
    },
}

/// The journal file, open for appending.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    oldest_unchecked: Option<Instant>,
    interval: Duration,
}

/// The journal of the database at `db_path`: the same path with `.journal` appended.
pub(super) fn path_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

impl Journal {
    /// Opens (or creates) the journal at `path`, to be checkpointed at most `interval` after
    /// its oldest change, and returns it with the changes of every intact frame, oldest first,
    /// for replay. A torn tail is reported and cut off.
    pub(super) fn open(path: &Path, interval: Duration) -> io::Result<(Self, Vec<Change>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (changes, intact) = parse(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("journal {}: {e}", path.display()),
            )
        })?;
        if intact < bytes.len() {
            tracing::warn!(
                journal = %path.display(),
                ignored_bytes = bytes.len() - intact,
                "the journal ends in a torn frame (a write that was never acknowledged); dropping it"
            );
        }
        let mut journal = Self {
            file,
            path: path.to_owned(),
            len: bytes.len() as u64,
            oldest_unchecked: (intact > 0).then(Instant::now),
            interval,
        };
        // Appends must follow the last intact frame, or replay would stop at the torn one.
        if intact < bytes.len() {
            journal.truncate_to(intact as u64)?;
        }
        Ok((journal, changes))
    }

    /// Appends one frame holding `changes` and syncs it to disk.
    pub(super) fn append(&mut self, changes: &[Change]) -> io::Result<()> {
        let frame = frame(changes)?;
        self.file.write_all(&frame)?;
        self.file.sync_data()?;
        self.len += frame.len() as u64;
        self.oldest_unchecked.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Cuts the file back to `len` bytes, undoing a frame whose batch was not committed.
    pub(super) fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        if let Err(error) = self.file.set_len(len).and_then(|()| self.file.sync_all()) {
            self.postpone_checkpoint();
            return Err(error);
        }
        self.len = len;
        if len == 0 {
            self.oldest_unchecked = None;
        }
        Ok(())
    }

    /// Empties the journal: everything in it is durable in the database.
    pub(super) fn reset(&mut self) -> io::Result<()> {
        self.truncate_to(0)
    }

    /// Puts the next checkpoint a full interval away, after one failed: retrying at once
    /// would spin the writer on a failing disk.
    pub(super) fn postpone_checkpoint(&mut self) {
        if self.len > 0 {
            self.oldest_unchecked = Some(Instant::now());
        }
    }

    /// Current length in bytes.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// When the next checkpoint is due, if the journal holds anything.
    pub(super) fn checkpoint_due(&self) -> Option<Instant> {
        let oldest = self.oldest_unchecked?;
        if self.len >= CHECKPOINT_BYTES {
            Some(Instant::now())
        } else {
            Some(oldest + self.interval)
        }
    }

    /// The file's path, for messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

/// One frame holding `changes`.
fn frame(changes: &[Change]) -> io::Result<Vec<u8>> {
    let too_long = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} too long for the journal"),
        )
    };
    let mut frame = vec![0; FRAME_HEADER];
    for change in changes {
        let (kind, id, record) = match change {
            Change::Put { id, record } => (PUT, id, Some(record)),
            Change::Remove { id } => (REMOVE, id, None),
        };
        frame.push(kind);
        let id_len = u16::try_from(id.len()).map_err(|_| too_long("a session id"))?;
        frame.extend_from_slice(&id_len.to_le_bytes());
        frame.extend_from_slice(id.as_bytes());
        if let Some(record) = record {
            let record_len = u32::try_from(record.len()).map_err(|_| too_long("a record"))?;
            frame.extend_from_slice(&record_len.to_le_bytes());
            frame.extend_from_slice(record);
        }
    }
    let payload_len = u32::try_from(frame.len() - FRAME_HEADER).map_err(|_| too_long("a batch"))?;
    let checksum = crc32fast::hash(&frame[FRAME_HEADER..]);
    frame[..4].copy_from_slice(&payload_len.to_le_bytes());
    frame[4..FRAME_HEADER].copy_from_slice(&checksum.to_le_bytes());
    Ok(frame)
}

/// The changes of every intact frame at the start of `bytes`, and how many bytes they span.
/// A frame whose checksum matches but whose content does not parse is an error: it was
/// written whole, so it is not a torn write but a bug or foreign data.
fn parse(bytes: &[u8]) -> Result<(Vec<Change>, usize), String> {
    let mut changes = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + FRAME_HEADER) {
        let payload_len = u32_at(header, 0) as usize;
        let checksum = u32_at(header, 4);
        let Some(payload) = bytes.get(at + FRAME_HEADER..at + FRAME_HEADER + payload_len) else {
            break;
        };
        if crc32fast::hash(payload) != checksum {
            break;
        }
        parse_payload(payload, &mut changes)
            .map_err(|e| format!("frame at byte {at} is intact but unreadable: {e}"))?;
        at += FRAME_HEADER + payload_len;
    }
    Ok((changes, at))
}

fn parse_payload(mut payload: &[u8], changes: &mut Vec<Change>) -> Result<(), String> {
    while let Some((&kind, rest)) = payload.split_first() {
        payload = rest;
        let id_len = take(&mut payload, 2)?;
        let id_len = usize::from(u16::from_le_bytes([id_len[0], id_len[1]]));
        let id = String::from_utf8(take(&mut payload, id_len)?.to_vec())
            .map_err(|_| "a session id is not UTF-8".to_owned())?;
        match kind {
            PUT => {
                let record_len = u32_at(take(&mut payload, 4)?, 0) as usize;
                let record = take(&mut payload, record_len)?.to_vec();
                changes.push(Change::Put { id, record });
            }
            REMOVE => changes.push(Change::Remove { id }),
            other => return Err(format!("unknown change kind {other}")),
        }
    }
    Ok(())
}

fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Result<&'a [u8], String> {
    if bytes.len() < len {
        return Err("truncated change".to_owned());
    }
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Ok(head)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path) -> (Journal, Vec<Change>) {
        Journal::open(path, DEFAULT_CHECKPOINT_INTERVAL).expect("open")
    }

    /// A new, empty journal in its own directory (kept alive by the returned guard).
    fn fresh() -> (tempfile::TempDir, PathBuf, Journal) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let (journal, replay) = open(&path);
        assert!(replay.is_empty());
        (dir, path, journal)
    }

    fn sample() -> Vec<Change> {
        vec![
            Change::Put {
                id: "a".repeat(36),
                record: vec![0xB1, 1, 2, 3],
            },
            Change::Remove { id: "b".repeat(36) },
            Change::Put {
                id: "c".to_owned(),
                record: Vec::new(),
            },
        ]
    }

    #[test]
    fn frames_round_trip_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_for(&dir.path().join("s.redb"));
        assert!(path.ends_with("s.redb.journal"));
        let (mut journal, replay) = open(&path);
        assert!(replay.is_empty());
        assert_eq!(journal.checkpoint_due(), None);
        journal.append(&sample()).expect("append");
        journal.append(&sample()[1..]).expect("append");
        assert!(journal.checkpoint_due().is_some());
        drop(journal);

        let (journal, replay) = open(&path);
        let mut expected = sample();
        expected.extend_from_slice(&sample()[1..]);
        assert_eq!(replay, expected);
        assert_eq!(journal.len(), std::fs::metadata(&path).expect("meta").len());
    }

    #[test]
    fn a_torn_last_frame_is_ignored_and_later_appends_replace_it() {
        let (_dir, path, mut journal) = fresh();
        journal.append(&sample()).expect("append");
        let whole = journal.len();
        journal.append(&sample()).expect("append");
        // A crash in the middle of the second append.
        journal.truncate_to(whole + 11).expect("tear");
        drop(journal);

        let (mut journal, replay) = open(&path);
        assert_eq!(replay, sample());
        assert_eq!(journal.len(), whole, "the torn bytes are cut off");
        journal.append(&sample()[..1]).expect("append");
        drop(journal);
        let (_, replay) = open(&path);
        let mut expected = sample();
        expected.push(sample()[0].clone());
        assert_eq!(replay, expected);
    }

    #[test]
    fn a_frame_failing_its_checksum_ends_the_replay() {
        let (_dir, path, mut journal) = fresh();
        journal.append(&sample()).expect("append");
        let whole = usize::try_from(journal.len()).expect("small");
        journal.append(&sample()).expect("append");
        drop(journal);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[whole + FRAME_HEADER + 3] ^= 0xFF;
        std::fs::write(&path, &bytes).expect("write");
        let (_, replay) = open(&path);
        assert_eq!(replay, sample());
    }

    #[test]
    fn a_postponed_checkpoint_is_a_full_interval_away() {
        let (_dir, _, mut journal) = fresh();
        journal.postpone_checkpoint();
        assert_eq!(journal.checkpoint_due(), None, "nothing to checkpoint");
        journal.append(&sample()).expect("append");
        journal.oldest_unchecked = Some(Instant::now() - 2 * DEFAULT_CHECKPOINT_INTERVAL);
        assert!(journal.checkpoint_due().expect("due") <= Instant::now());
        journal.postpone_checkpoint();
        let due = journal.checkpoint_due().expect("due");
        assert!(
            due > Instant::now() + DEFAULT_CHECKPOINT_INTERVAL / 2,
            "{due:?}"
        );
    }

    #[test]
    fn reset_empties_the_file() {
        let (_dir, path, mut journal) = fresh();
        journal.append(&sample()).expect("append");
        journal.reset().expect("reset");
        assert_eq!(journal.len(), 0);
        assert_eq!(journal.checkpoint_due(), None);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), 0);
        journal.append(&sample()[..1]).expect("append");
        drop(journal);
        let (_, replay) = open(&path);
        assert_eq!(replay, sample()[..1].to_vec());
    }

    #[test]
    fn an_intact_frame_with_unreadable_content_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let payload = [9u8, 1, 0, b'x'];
        let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        std::fs::write(&path, &bytes).expect("write");
        let error =
            Journal::open(&path, DEFAULT_CHECKPOINT_INTERVAL).expect_err("unknown change kind");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("unknown change kind 9"),
            "{error}"
        );
    }
}

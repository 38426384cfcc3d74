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
//! The file starts with a header, then holds frames, one per batch:
//!
//! ```text
//! header  = ["SESSJNL2"][epoch u64]
//! frame   = [payload length u32][CRC-32 of (epoch, payload) u32][payload]
//! payload = [change]…
//! change  = [1][id length u16][id][record length u32][record]   the session's record is now this
//!         | [2][id length u16][id]                              the session is gone
//! ```
//!
//! The file is written in place, never appended to: it is filled with zeros ahead of use, in
//! steps of [`GROWTH`] bytes, and frames overwrite those zeros. Syncing an append must also
//! write the file's new size to the filesystem's own journal; syncing an overwrite writes the
//! data alone. On this project's machines that made a sync 3 to 10 times faster, and the sync
//! is what every create waits for (see docs/benchmarks.md).
//!
//! Emptying the journal does not truncate it either: it raises the epoch in the header. Each
//! frame's checksum covers the epoch, so frames left over from earlier epochs fail it.
//!
//! A frame is written and synced before the batch it describes is acknowledged, so only the
//! last frame can be torn by a crash, and a torn frame was never acknowledged: replay stops at
//! the first frame that is empty, short, or fails its checksum. Changes carry whole records
//! rather than operations, so replaying a frame twice (after a crash between a checkpoint and
//! emptying the journal) leaves the same state.
//!
//! A journal written by an earlier version (plain frames from the first byte, checksums of the
//! payload alone, appended) is still replayed, and rewritten in this layout when emptied.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest time a change stays only in the journal before a checkpoint, by default
/// (`EmbeddedOptions::checkpoint_interval`).
pub(super) const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);
/// Journal size that triggers a checkpoint sooner, which bounds replay time after a crash.
pub(super) const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;
/// How far ahead of the frames the file is filled with zeros, at least.
pub(super) const GROWTH: u64 = 4 * 1024 * 1024;

const MAGIC: &[u8; 8] = b"SESSJNL2";
const HEADER: u64 = 16;
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

impl Change {
    /// The session changed.
    pub(super) fn id(&self) -> &str {
        match self {
            Change::Put { id, .. } | Change::Remove { id } => id,
        }
    }
}

/// The journal file, open for writing frames.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    /// The epoch in the header; only frames checksummed with it count.
    epoch: u64,
    /// Where the next frame goes: the end of the current epoch's frames.
    end: u64,
    /// Bytes of the file known to exist (zeros, or frames), so that writing below this
    /// offset does not change the file's size.
    filled: u64,
    oldest_unchecked: Option<Instant>,
    interval: Duration,
}

/// The journal of the database at `db_path`: the same path with `.journal` appended.
pub(super) fn path_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// The changes the journal at `path` would replay, without changing the file.
#[cfg(test)]
pub(super) fn pending_changes(path: &Path) -> io::Result<Vec<Change>> {
    let bytes = std::fs::read(path)?;
    let (changes, _, _) = parse_file(&bytes).map_err(|e| invalid(path, &e))?;
    Ok(changes)
}

fn invalid(path: &Path, message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("journal {}: {message}", path.display()),
    )
}

impl Journal {
    /// Opens (or creates) the journal at `path`, to be checkpointed at most `interval` after
    /// its oldest change, and returns it with the changes of every intact frame, oldest first,
    /// for replay.
    pub(super) fn open(path: &Path, interval: Duration) -> io::Result<(Self, Vec<Change>)> {
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (changes, epoch, end) = parse_file(&bytes).map_err(|e| invalid(path, &e))?;
        let mut journal = Self {
            file,
            path: path.to_owned(),
            epoch,
            end,
            filled: bytes.len() as u64,
            oldest_unchecked: (!changes.is_empty()).then(Instant::now),
            interval,
        };
        // A new (or empty) file, or one in the earlier layout with nothing to replay: give it
        // a header. An earlier layout's frames stay readable until replay has applied them
        // and `reset` moves to a new epoch.
        if epoch == 0 && changes.is_empty() {
            journal.reset()?;
            journal.fill_to(GROWTH)?;
            if created {
                sync_parent(path)?;
            }
        }
        Ok((journal, changes))
    }

    /// Writes one frame holding `changes` after the last one and syncs it to disk.
    pub(super) fn append(&mut self, changes: &[Change]) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        if self.epoch == 0 {
            // Frames of this layout cannot follow those of the earlier one.
            self.reset()?;
        }
        let frame = frame(self.epoch, changes)?;
        let end = self.end + frame.len() as u64;
        if end > self.filled {
            // Rare: fill well past the frame, so that the syncs after it stay overwrites.
            self.fill_to(end + GROWTH)?;
        }
        self.file.write_all_at(&frame, self.end)?;
        self.file.sync_data()?;
        self.end = end;
        self.oldest_unchecked.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Fills the file with zeros up to `size` bytes and syncs it, size included.
    fn fill_to(&mut self, size: u64) -> io::Result<()> {
        if size <= self.filled {
            return Ok(());
        }
        const CHUNK: usize = 1 << 20;
        let zeros = vec![0u8; CHUNK];
        let mut at = self.filled;
        while at < size {
            let len = usize::try_from((size - at).min(CHUNK as u64)).unwrap_or(CHUNK);
            self.file.write_all_at(&zeros[..len], at)?;
            at += len as u64;
        }
        self.file.sync_all()?;
        self.filled = size;
        Ok(())
    }

    /// Drops the frames from `len` on (undoing a frame whose batch was not committed):
    /// overwrites them with zeros, so that no replay can find them.
    pub(super) fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        let len = len.max(HEADER);
        if len < self.end {
            let zeros = vec![0u8; usize::try_from(self.end - len).unwrap_or(usize::MAX)];
            if let Err(error) = self
                .file
                .write_all_at(&zeros, len)
                .and_then(|()| self.file.sync_data())
            {
                self.postpone_checkpoint();
                return Err(error);
            }
        }
        self.end = len;
        if len == HEADER {
            self.oldest_unchecked = None;
        }
        Ok(())
    }

    /// Empties the journal (everything in it is durable in the database): starts a new epoch,
    /// which every frame written so far fails to match.
    pub(super) fn reset(&mut self) -> io::Result<()> {
        let epoch = self.epoch + 1;
        let mut header = [0u8; HEADER as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&epoch.to_le_bytes());
        let written = self.file.write_all_at(&header, 0).and_then(|()| {
            if self.filled < HEADER {
                self.filled = HEADER;
                self.file.sync_all()
            } else {
                self.file.sync_data()
            }
        });
        if let Err(error) = written {
            self.postpone_checkpoint();
            return Err(error);
        }
        self.epoch = epoch;
        self.end = HEADER;
        self.oldest_unchecked = None;
        Ok(())
    }

    /// Puts the next checkpoint a full interval away, after one failed: retrying at once
    /// would spin the writer on a failing disk.
    pub(super) fn postpone_checkpoint(&mut self) {
        if self.oldest_unchecked.is_some() {
            self.oldest_unchecked = Some(Instant::now());
        }
    }

    /// Where the next frame goes; [`Journal::truncate_to`] this to undo later frames.
    pub(super) fn len(&self) -> u64 {
        self.end
    }

    /// When the next checkpoint is due, if the journal holds anything.
    pub(super) fn checkpoint_due(&self) -> Option<Instant> {
        let oldest = self.oldest_unchecked?;
        if self.end >= CHECKPOINT_BYTES {
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

/// Makes a new file's directory entry durable, so that the file survives a crash.
fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// One frame holding `changes`.
fn frame(epoch: u64, changes: &[Change]) -> io::Result<Vec<u8>> {
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
    let checksum = checksum(Some(epoch), &frame[FRAME_HEADER..]);
    frame[..4].copy_from_slice(&payload_len.to_le_bytes());
    frame[4..FRAME_HEADER].copy_from_slice(&checksum.to_le_bytes());
    Ok(frame)
}

/// The checksum of a frame's payload: with the epoch in this layout, without in the earlier.
fn checksum(epoch: Option<u64>, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    if let Some(epoch) = epoch {
        hasher.update(&epoch.to_le_bytes());
    }
    hasher.update(payload);
    hasher.finalize()
}

/// The changes of every intact frame of a journal file, its epoch (0 for an empty file or one
/// in the earlier layout) and where its intact frames end.
fn parse_file(bytes: &[u8]) -> Result<(Vec<Change>, u64, u64), String> {
    if bytes.is_empty() {
        return Ok((Vec::new(), 0, 0));
    }
    if bytes.len() >= HEADER as usize && bytes[..8] == MAGIC[..] {
        let epoch = u64::from_le_bytes(bytes[8..16].try_into().map_err(|_| "short header")?);
        let (changes, end) = parse(bytes, HEADER as usize, Some(epoch))?;
        return Ok((changes, epoch, end as u64));
    }
    // The earlier layout; what follows its intact frames is a torn write, never acknowledged.
    let (changes, end) = parse(bytes, 0, None)?;
    Ok((changes, 0, end as u64))
}

/// The changes of every intact frame of `bytes` from `at` on, and where they end. A frame
/// whose checksum matches but whose content does not parse is an error: it was written whole,
/// so it is not a torn write but a bug or foreign data.
fn parse(bytes: &[u8], mut at: usize, epoch: Option<u64>) -> Result<(Vec<Change>, usize), String> {
    let mut changes = Vec::new();
    while let Some(header) = bytes.get(at..at + FRAME_HEADER) {
        let payload_len = u32_at(header, 0) as usize;
        let sum = u32_at(header, 4);
        if payload_len == 0 {
            break;
        }
        let Some(payload) = bytes.get(at + FRAME_HEADER..at + FRAME_HEADER + payload_len) else {
            break;
        };
        if checksum(epoch, payload) != sum {
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
        let size = || std::fs::metadata(&path).expect("meta").len();
        let filled = size();
        assert!(filled >= GROWTH, "the file is filled ahead: {filled}");
        journal.append(&sample()).expect("append");
        journal.append(&sample()[1..]).expect("append");
        assert!(journal.checkpoint_due().is_some());
        assert_eq!(size(), filled, "frames overwrite, never append");
        drop(journal);

        let (journal, replay) = open(&path);
        let mut expected = sample();
        expected.extend_from_slice(&sample()[1..]);
        assert_eq!(replay, expected);
        assert_eq!(pending_changes(&path).expect("read"), expected);
        assert!(journal.len() > HEADER && journal.len() < filled);
    }

    #[test]
    fn a_frame_beyond_the_filled_part_grows_the_file() {
        let (_dir, path, mut journal) = fresh();
        let big = vec![Change::Put {
            id: "big".to_owned(),
            record: vec![7; usize::try_from(GROWTH).expect("small") + 10],
        }];
        journal.append(&sample()).expect("append");
        journal.append(&big).expect("append");
        journal.append(&sample()).expect("append");
        assert!(std::fs::metadata(&path).expect("meta").len() > GROWTH + 10);
        drop(journal);
        let (_, replay) = open(&path);
        let mut expected = sample();
        expected.extend(big);
        expected.extend(sample());
        assert_eq!(replay, expected);
    }

    #[test]
    fn a_journal_in_the_earlier_layout_is_replayed_then_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        // The earlier layout: frames from the first byte, checksums without an epoch, and a
        // torn frame at the end.
        let mut bytes = Vec::new();
        for changes in [&sample()[..], &sample()[1..]] {
            let mut legacy = frame(0, changes).expect("frame");
            let sum = checksum(None, &legacy[FRAME_HEADER..]);
            legacy[4..FRAME_HEADER].copy_from_slice(&sum.to_le_bytes());
            bytes.extend(legacy);
        }
        bytes.extend([200, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).expect("write");

        let (mut journal, replay) = open(&path);
        let mut expected = sample();
        expected.extend_from_slice(&sample()[1..]);
        assert_eq!(replay, expected);
        // What the store does after replaying: empty it, then go on writing.
        journal.reset().expect("reset");
        journal.append(&sample()[..1]).expect("append");
        drop(journal);
        let (_, replay) = open(&path);
        assert_eq!(replay, sample()[..1].to_vec());
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
    fn reset_empties_the_journal_and_earlier_frames_stay_dead() {
        let (_dir, path, mut journal) = fresh();
        journal.append(&sample()).expect("append");
        journal.append(&sample()).expect("append");
        journal.reset().expect("reset");
        assert_eq!(journal.len(), HEADER);
        assert_eq!(journal.checkpoint_due(), None);
        assert!(pending_changes(&path).expect("read").is_empty());
        // A frame of the same size where the first one was: the second, still on disk right
        // after it, is of an earlier epoch and must not be replayed.
        journal.append(&sample()).expect("append");
        drop(journal);
        let (_, replay) = open(&path);
        assert_eq!(replay, sample());
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

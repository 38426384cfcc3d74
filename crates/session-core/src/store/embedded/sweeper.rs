//! Purges sessions some time after they expired. The purges are writes like any other, so
//! they go through the writer and never race other writes.
//!
//! There is no index by expiry: a sweep reads the `ttl` of every record, from its fixed slot
//! (see `record::ttl`), in chunks of [`SCAN_CHUNK`] sessions in key order (or fewer: a chunk
//! purges at most [`PURGE_CHUNK`]), one chunk between two write batches. An index would make every create and every extension write one more
//! B-tree; reading every record once a sweep interval (a minute by default) costs far less,
//! and only a chunk at a time holds up writes.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableDatabase};

use super::writer::{ClosureOp, Tx, WriteOp};
use super::{SESSIONS, index, record};
use crate::{Clock, Timestamp};

/// Sessions read per chunk of a sweep: a few milliseconds of the writer's time.
const SCAN_CHUNK: usize = 10_000;
/// Most sessions one chunk purges: its removals are spread over the whole table, each in a
/// page of its own that the commit copies and syncs, so a chunk ends early once it found this
/// many, to keep the writes waiting behind it to a few milliseconds.
const PURGE_CHUNK: usize = 256;

/// The latest `ttl` that may be purged at `now`.
pub(super) fn cutoff(now: Timestamp, purge_after_seconds: u64) -> i64 {
    now.epoch_seconds()
        .saturating_sub(i64::try_from(purge_after_seconds).unwrap_or(i64::MAX))
}

/// What one chunk of a scan found.
pub(super) struct Scanned {
    /// The keys of sessions with `ttl <= cutoff`.
    pub(super) due: Vec<Vec<u8>>,
    /// The last key read, when the chunk was full: the next chunk starts after it.
    resume: Option<Vec<u8>>,
}

/// Reads up to `max` sessions after the key `after` (from the first when `None`), in key
/// order, from a snapshot of `db`, stopping early once `max_due` of them are due.
pub(super) fn scan(
    db: &Database,
    after: Option<&[u8]>,
    max: usize,
    max_due: usize,
    cutoff: i64,
) -> Result<Scanned, redb::Error> {
    let txn = db.begin_read()?;
    let table = txn.open_table(SESSIONS)?;
    let range = match after {
        Some(after) => table.range::<&[u8]>((Bound::Excluded(after), Bound::Unbounded))?,
        None => table.range::<&[u8]>(..)?,
    };
    let mut scanned = Scanned {
        due: Vec::new(),
        resume: None,
    };
    for (read, entry) in range.enumerate() {
        let (key, record) = entry?;
        match record::ttl(record.value()) {
            Ok(ttl) if ttl <= cutoff => scanned.due.push(key.value().to_owned()),
            Ok(_) => {}
            // Never purge what cannot be read; reads of it answer 500 with the cause logged.
            Err(error) => tracing::warn!(
                session = %index::parts(key.value()).map_or_else(String::new, |(_, id)| id.fingerprint()),
                error = %error,
                "the sweeper skipped an unreadable session record"
            ),
        }
        if read + 1 == max || scanned.due.len() == max_due {
            scanned.resume = Some(key.value().to_owned());
            break;
        }
    }
    Ok(scanned)
}

/// Removes the sessions under the keys `due` that still have `ttl <= cutoff` (a refresh may
/// have come since the scan); returns how many.
pub(super) fn purge(tx: &Tx<'_>, due: Vec<Vec<u8>>, cutoff: i64) -> Result<u64, redb::Error> {
    let mut purged = 0;
    for key in due {
        if tx.ttl(&key)?.is_some_and(|ttl| ttl <= cutoff) && tx.remove(&key)?.is_ok() {
            purged += 1;
        }
    }
    Ok(purged)
}

/// The periodic sweep: where it stands, and what it needs to go on.
pub(super) struct Sweeper {
    clock: Arc<dyn Clock>,
    purge_after_seconds: u64,
    interval: Duration,
    /// Sessions read per chunk.
    chunk: usize,
    /// Most sessions purged per chunk.
    max_due: usize,
    /// The key after which the sweep in progress goes on; `None` between sweeps.
    resume: Option<Vec<u8>>,
}

impl Sweeper {
    pub(super) fn new(clock: Arc<dyn Clock>, purge_after_seconds: u64, interval: Duration) -> Self {
        Self {
            clock,
            purge_after_seconds,
            interval,
            chunk: SCAN_CHUNK,
            max_due: PURGE_CHUNK,
            resume: None,
        }
    }

    /// Time between two sweeps.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// Reads the next chunk of the sweep; gives back the write that purges what it found due,
    /// if anything, and whether the sweep goes on (run again after the next batch rather than
    /// after the interval).
    pub(super) fn next_chunk(&mut self, db: &Database) -> (Option<Box<dyn WriteOp>>, bool) {
        let cutoff = cutoff(self.clock.now(), self.purge_after_seconds);
        let scanned = scan(db, self.resume.as_deref(), self.chunk, self.max_due, cutoff);
        let Scanned { due, resume } = match scanned {
            Ok(scanned) => scanned,
            Err(error) => {
                tracing::warn!(error = %error, "embedded store sweep failed; will retry");
                self.resume = None;
                return (None, false);
            }
        };
        self.resume = resume;
        let purge = (!due.is_empty()).then(|| {
            // Nobody waits for the outcome: a failed batch is logged by the writer, and the
            // next sweep finds the same sessions.
            let op = ClosureOp::unattended(move |tx| {
                let purged = purge(tx, due, cutoff)?;
                tracing::debug!(purged, "purged expired sessions");
                Ok(Ok(purged))
            });
            Box::new(op) as Box<dyn WriteOp>
        });
        (purge, self.resume.is_some())
    }
}

#[cfg(test)]
mod tests {
    use redb::backends::InMemoryBackend;

    use super::*;
    use crate::{ManualClock, Session, SessionId, UserId};

    fn session(ttl: i64) -> Session {
        let at = Timestamp::from_epoch_seconds(ttl - 60);
        Session {
            id: SessionId::generate(),
            secret_hash: crate::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
            user_id: UserId::parse("sweep").expect("valid"),
            data: crate::SessionData::new(),
            created_at: at,
            updated_at: at,
            touched_at: at,
            ttl,
            ttl_seconds: 60,
            version: 1,
        }
    }

    /// A sweep goes through the table a chunk per run, asking to run again until it has read
    /// every record, and finds exactly the sessions past the cutoff.
    #[test]
    fn a_sweep_reads_the_table_in_chunks_and_finds_what_is_due() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .expect("db");
        let base = 1_800_000_000;
        let due: Vec<Session> = (0..7).map(|n| session(base - n)).collect();
        let kept: Vec<Session> = (0..6).map(|n| session(base + 1 + n)).collect();
        {
            let txn = db.begin_write().expect("write");
            {
                let mut table = txn.open_table(SESSIONS).expect("table");
                for s in due.iter().chain(&kept) {
                    let key = index::key(s.created_at.millis(), s.id.as_uuid());
                    let record = record::encode(s).expect("record");
                    table
                        .insert(key.as_slice(), record.as_slice())
                        .expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        let clock = Arc::new(ManualClock::new(Timestamp::from_epoch_seconds(base)));
        let mut sweeper = Sweeper::new(clock, 0, Duration::from_secs(60));
        sweeper.chunk = 3;
        let mut runs = 0;
        let mut purges = 0;
        loop {
            runs += 1;
            let (purge, again_soon) = sweeper.next_chunk(&db);
            purges += usize::from(purge.is_some());
            if !again_soon {
                break;
            }
            assert!(runs < 10, "the sweep never ended");
        }
        // 13 records, 3 per run: 5 runs, the last one reading the final record.
        assert_eq!(runs, 5);
        assert!(purges >= 3, "7 due sessions need at least 3 chunks");
        assert!(sweeper.resume.is_none(), "the next sweep starts over");

        let cutoff = cutoff(Timestamp::from_epoch_seconds(base), 0);
        let mut found = scan(&db, None, usize::MAX, usize::MAX, cutoff)
            .expect("scan")
            .due;
        let mut expected: Vec<_> = due
            .iter()
            .map(|s| index::key(s.created_at.millis(), s.id.as_uuid()))
            .collect();
        found.sort();
        expected.sort();
        assert_eq!(found, expected);

        // However many are due, a chunk purges at most `max_due`, and the next chunk resumes
        // after the last one it read.
        let mut chunks = Vec::new();
        let mut after = None;
        loop {
            let chunk = scan(&db, after.as_deref(), usize::MAX, 2, cutoff).expect("scan");
            assert!(chunk.due.len() <= 2, "a chunk purges {}", chunk.due.len());
            chunks.push(chunk.due);
            match chunk.resume {
                Some(resume) => after = Some(resume),
                None => break,
            }
        }
        let mut capped: Vec<_> = chunks.concat();
        capped.sort();
        assert_eq!(capped, expected, "every due session, once");
    }
}

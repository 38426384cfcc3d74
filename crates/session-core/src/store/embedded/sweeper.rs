//! Purges sessions some time after they expired. Runs on the writer thread between batches,
//! so purges never race other writes.
//!
//! There is no index by expiry: a sweep reads the `ttl` of every record, from its fixed slot
//! (see `record::ttl`), in chunks of [`SCAN_CHUNK`] sessions in key order, one chunk between
//! two write batches. An index would make every create and every extension insert into one
//! more B-tree, which cost about 9% of the server's CPU per create; reading every record once
//! a sweep interval (a minute by default) costs far less, and only a chunk at a time holds
//! up writes.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::derived::Derived;
use super::writer::{Chore, Housekeeping, Tx};
use super::{SESSIONS, locator, ops, record};
use crate::{Clock, Timestamp};

/// Sessions read per chunk of a sweep: a few milliseconds of the writer's time.
const SCAN_CHUNK: usize = 10_000;

/// The latest `ttl` that may be purged at `now`.
pub(super) fn cutoff(now: Timestamp, purge_after_seconds: u64) -> i64 {
    now.epoch_seconds()
        .saturating_sub(i64::try_from(purge_after_seconds).unwrap_or(i64::MAX))
}

/// What one chunk of a scan found.
struct Scanned {
    /// The keys of sessions with `ttl <= cutoff`.
    due: Vec<Vec<u8>>,
    /// The last key read, when the chunk was full: the next chunk starts after it.
    resume: Option<Vec<u8>>,
}

/// Reads up to `max` sessions after the key `after` (from the first when `None`), in key
/// order.
fn scan(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    after: Option<&[u8]>,
    max: usize,
    cutoff: i64,
) -> Result<Scanned, redb::Error> {
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
                session = %locator::parts(key.value()).map_or_else(String::new, |(_, id)| crate::id::fingerprint(id)),
                error = %error,
                "the sweeper skipped an unreadable session record"
            ),
        }
        if read + 1 == max {
            scanned.resume = Some(key.value().to_owned());
            break;
        }
    }
    Ok(scanned)
}

/// Removes the sessions under the keys `due` that still have `ttl <= cutoff`; returns how
/// many.
fn purge(tx: &Tx<'_>, due: Vec<Vec<u8>>, cutoff: i64) -> Result<u64, redb::Error> {
    let mut purged = 0;
    for key in due {
        let current = ops::load(&*tx.sessions(), &key);
        if current.is_ok_and(|session| session.ttl <= cutoff) && ops::remove_at(tx, &key)?.is_ok() {
            purged += 1;
        }
    }
    Ok(purged)
}

/// Purges every session with `ttl <= cutoff`, reading the whole table; returns how many.
pub(super) fn purge_until(tx: &Tx<'_>, cutoff: i64) -> Result<u64, redb::Error> {
    let scanned = scan(&*tx.sessions(), None, usize::MAX, cutoff)?;
    purge(tx, scanned.due, cutoff)
}

pub(super) struct Sweeper {
    clock: Arc<dyn Clock>,
    purge_after_seconds: u64,
    interval: Duration,
    /// Sessions read per run.
    chunk: usize,
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
            resume: None,
        }
    }

    /// One durable transaction (its changes need no journal); the user index and the read
    /// cache follow once it has committed.
    fn purge_durably(
        db: &Database,
        derived: &Derived,
        due: Vec<Vec<u8>>,
        cutoff: i64,
    ) -> Result<u64, redb::Error> {
        let txn = db.begin_write()?;
        let (purged, (changes, index_changes)) = {
            let tx = Tx::new(&txn, &derived.locator)?;
            let purged = purge(&tx, due, cutoff)?;
            (purged, tx.into_changes())
        };
        let commit = derived.committing(&changes, index_changes);
        txn.commit()?;
        commit.committed();
        Ok(purged)
    }
}

impl Housekeeping for Sweeper {
    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&mut self, db: &Database, derived: &Derived) -> Chore {
        let cutoff = cutoff(self.clock.now(), self.purge_after_seconds);
        let scanned = db.begin_read().map_err(redb::Error::from).and_then(|txn| {
            let table = txn.open_table(SESSIONS)?;
            scan(&table, self.resume.as_deref(), self.chunk, cutoff)
        });
        let Scanned { due, resume } = match scanned {
            Ok(scanned) => scanned,
            Err(error) => {
                tracing::warn!(error = %error, "embedded store sweep failed; will retry");
                self.resume = None;
                return Chore::default();
            }
        };
        self.resume = resume;
        let committed = !due.is_empty()
            && match Self::purge_durably(db, derived, due, cutoff) {
                Ok(purged) => {
                    tracing::debug!(purged, "purged expired sessions");
                    true
                }
                Err(error) => {
                    tracing::warn!(error = %error, "embedded store sweep failed; will retry");
                    false
                }
            };
        Chore {
            committed,
            again_soon: self.resume.is_some(),
        }
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
    /// every record, and purges exactly the sessions past the cutoff.
    #[test]
    fn a_sweep_reads_the_table_in_chunks_and_purges_what_is_due() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .expect("db");
        let base = 1_800_000_000;
        let due: Vec<Session> = (0..7).map(|n| session(base - n)).collect();
        let kept: Vec<Session> = (0..6).map(|n| session(base + 1 + n)).collect();
        {
            let txn = db.begin_write().expect("write");
            txn.open_table(SESSIONS).expect("table");
            txn.commit().expect("commit");
        }
        let derived = Derived::build(&db.begin_read().expect("read"), 1 << 20).expect("derived");
        {
            let txn = db.begin_write().expect("write");
            let (_, index_changes) = {
                let tx = Tx::new(&txn, &derived.locator).expect("tables");
                for s in due.iter().chain(&kept) {
                    let new = ops::NewSession::prepare(s).expect("record");
                    ops::create(&tx, new).expect("insert").expect("created");
                }
                tx.into_changes()
            };
            let commit = derived.committing(&[], index_changes);
            txn.commit().expect("commit");
            commit.committed();
        }
        let clock = Arc::new(ManualClock::new(Timestamp::from_epoch_seconds(base)));
        let mut sweeper = Sweeper::new(clock, 0, Duration::from_secs(60));
        sweeper.chunk = 3;
        let mut runs = 0;
        loop {
            runs += 1;
            let chore = sweeper.run(&db, &derived);
            if !chore.again_soon {
                break;
            }
            assert!(runs < 10, "the sweep never ended");
        }
        // 13 records, 3 per run: 5 runs, the last one reading the final record.
        assert_eq!(runs, 5);
        let txn = db.begin_read().expect("read");
        let table = txn.open_table(SESSIONS).expect("table");
        let stored = |s: &Session| {
            let key = locator::key(s.created_at.millis(), s.id.as_str());
            table.get(key.as_slice()).expect("get").is_some()
        };
        for s in &due {
            assert!(!stored(s), "purged");
            assert_eq!(derived.locator.key(s.id.as_str()), None, "unlocated");
        }
        for s in &kept {
            assert!(stored(s), "kept");
        }
        // The next sweep starts over from the first record.
        assert!(sweeper.resume.is_none());
        assert!(
            !sweeper.run(&db, &derived).committed,
            "nothing left to purge"
        );
    }
}

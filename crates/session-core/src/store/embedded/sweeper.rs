//! Purges sessions some time after they expired. Runs on the writer thread between batches,
//! so purges never race other writes.

use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableTable};

use super::derived::Derived;
use super::ops;
use super::writer::{Housekeeping, Tx};
use crate::{Clock, Timestamp};

/// Sessions purged per transaction, so one sweep never holds the writer for long.
const PURGE_BATCH: usize = 1000;

/// The latest `ttl` that may be purged at `now`.
pub(super) fn cutoff(now: Timestamp, purge_after_seconds: u64) -> i64 {
    now.epoch_seconds()
        .saturating_sub(i64::try_from(purge_after_seconds).unwrap_or(i64::MAX))
}

/// Purges up to `max` sessions with `ttl <= cutoff`; returns how many.
pub(super) fn purge_until(tx: &Tx<'_>, cutoff: i64, max: usize) -> Result<u64, redb::Error> {
    let due: Vec<(i64, String)> = {
        let expiry = tx.by_expiry();
        expiry
            .range((i64::MIN, "")..(cutoff.saturating_add(1), ""))?
            .take(max)
            .map(|entry| {
                entry.map(|(key, _)| {
                    let (ttl, id) = key.value();
                    (ttl, id.to_owned())
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut purged = 0;
    for (ttl, id) in due {
        let current = ops::load(&*tx.sessions(), &id);
        match current {
            Ok(session) if session.ttl <= cutoff => {
                if ops::remove(tx, &id)?.is_ok() {
                    purged += 1;
                }
            }
            // A stale index entry (the session moved on or is gone): drop just the entry.
            _ => {
                tx.by_expiry().remove((ttl, id.as_str()))?;
            }
        }
    }
    Ok(purged)
}

pub(super) struct Sweeper {
    clock: Arc<dyn Clock>,
    purge_after_seconds: u64,
    interval: Duration,
}

impl Sweeper {
    pub(super) fn new(clock: Arc<dyn Clock>, purge_after_seconds: u64, interval: Duration) -> Self {
        Self {
            clock,
            purge_after_seconds,
            interval,
        }
    }

    /// One durable transaction (its changes need no journal); the user index and the read
    /// cache follow once it has committed.
    fn sweep_once(
        &self,
        db: &Database,
        derived: &Derived,
        cutoff: i64,
    ) -> Result<u64, redb::Error> {
        let txn = db.begin_write()?;
        let (purged, (changes, index_changes)) = {
            let tx = Tx::new(&txn)?;
            let purged = purge_until(&tx, cutoff, PURGE_BATCH)?;
            (purged, tx.into_changes())
        };
        let commit = derived.committing(&changes);
        txn.commit()?;
        commit.committed(index_changes);
        Ok(purged)
    }
}

impl Housekeeping for Sweeper {
    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&mut self, db: &Database, derived: &Derived) -> bool {
        let cutoff = cutoff(self.clock.now(), self.purge_after_seconds);
        let mut total = 0;
        let mut committed = false;
        loop {
            match self.sweep_once(db, derived, cutoff) {
                Ok(purged) => {
                    committed = true;
                    total += purged;
                    if purged < PURGE_BATCH as u64 {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "embedded store sweep failed; will retry");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::debug!(purged = total, "purged expired sessions");
        }
        committed
    }
}

//! The single writer thread of the embedded store, with group commit.
//!
//! redb allows one write transaction at a time, and a durable commit waits for the disk. One
//! commit per request would cap writes at the disk's sync rate, so the writer drains the
//! writes queued while the previous commit ran (up to [`MAX_BATCH`]) and applies them all in
//! one transaction with one durable commit: one sync acknowledges many writes, and no write
//! is acknowledged before its commit returned.
//!
//! The queue is bounded (see `EmbeddedOptions::write_queue`): when the disk cannot keep up, a
//! write fails at once as unavailable rather than waiting in memory without limit. A write
//! whose caller stopped waiting (its request timed out or was cancelled) while it was queued is
//! dropped when the writer gets to it, so that nothing lands after its client was told it
//! failed.

use std::cell::{RefCell, RefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use redb::{Durability, ReadableTable, Table, WriteTransaction};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::index::Entry;
use super::sweeper::Sweeper;
use super::{SESSIONS, Shared, record};
use crate::{Session, SessionError};

/// Most writes applied in one transaction; bounds how long a batch holds the writer.
const MAX_BATCH: usize = 256;

/// A result inside a write transaction: the outer error aborts the whole batch; the inner one
/// is the op's own refusal (not found, version mismatch…), which changes nothing.
pub(super) type TxnResult<T> = Result<Result<T, SessionError>, redb::Error>;

/// What a batch changed, for the index and the read cache to follow once it commits.
#[derive(Default)]
struct Log {
    /// Sessions whose records changed or went.
    written: Vec<Uuid>,
    /// Sessions added to the index, taken back if the batch fails.
    added: Vec<Entry>,
    /// Sessions removed, taken out of the index once the batch commits.
    removed: Vec<Entry>,
}

/// A batch's write transaction: its `sessions` table, open for the whole batch (each opening
/// and closing of a table costs more than the inserts of a create), the index, and the log of
/// what the batch changed. Every change to the table goes through here, so that the log is
/// complete.
pub(super) struct Tx<'a> {
    sessions: RefCell<Table<'a, &'static [u8], &'static [u8]>>,
    shared: &'a Shared,
    log: RefCell<Log>,
}

impl<'a> Tx<'a> {
    fn new(txn: &'a WriteTransaction, shared: &'a Shared) -> Result<Self, redb::Error> {
        Ok(Self {
            sessions: RefCell::new(txn.open_table(SESSIONS)?),
            shared,
            log: RefCell::default(),
        })
    }

    /// The log, once every op of the batch ran; closes the table.
    fn into_log(self) -> Log {
        self.log.into_inner()
    }

    /// The table, borrowed for one step at a time: a second borrow while one is held panics
    /// (and fails the batch, see `commit`).
    fn table(&self) -> RefMut<'_, Table<'a, &'static [u8], &'static [u8]>> {
        self.sessions.borrow_mut()
    }

    /// The key of session `id`, if it exists (committed, or created in this batch).
    pub(super) fn key_of(&self, id: &Uuid) -> Option<Vec<u8>> {
        self.shared.index.key_of(id)
    }

    /// `user`'s sessions, committed or created in this batch, as (created, id).
    pub(super) fn sessions_of(&self, user: &crate::UserId) -> Vec<(i64, Uuid)> {
        self.shared.index.sessions_of(user)
    }

    /// The session stored under `key`; `NotFound` when there is none.
    pub(super) fn load(&self, key: &[u8]) -> TxnResult<Session> {
        Ok(match self.table().get(key)? {
            Some(record) => record::decode(record.value()),
            None => Err(SessionError::NotFound),
        })
    }

    /// The `ttl` of the session stored under `key`, if there is one that can be read.
    pub(super) fn ttl(&self, key: &[u8]) -> Result<Option<i64>, redb::Error> {
        Ok(self
            .table()
            .get(key)?
            .and_then(|record| record::ttl(record.value()).ok()))
    }

    /// Inserts a new session; false, changing nothing, when its id is taken.
    pub(super) fn create(&self, entry: Entry, record: &[u8]) -> Result<bool, redb::Error> {
        if !self.shared.index.add(&entry) {
            return Ok(false);
        }
        let key = entry.key();
        // Logged before the insert: if the insert fails, the batch takes the addition back.
        let mut log = self.log.borrow_mut();
        log.written.push(entry.id);
        log.added.push(entry);
        self.table().insert(key.as_slice(), record)?;
        Ok(true)
    }

    /// Stores `record` as the new state of the existing session `id` under `key`.
    pub(super) fn update(&self, key: &[u8], id: &Uuid, record: &[u8]) -> Result<(), redb::Error> {
        self.log.borrow_mut().written.push(*id);
        self.table().insert(key, record)?;
        Ok(())
    }

    /// Removes the session stored under `key`; gives back its `ttl`, or `NotFound`.
    pub(super) fn remove(&self, key: &[u8]) -> TxnResult<i64> {
        let Some((created, id)) = super::index::parts(key) else {
            return Ok(Err(SessionError::NotFound));
        };
        let head = {
            let mut table = self.table();
            let head = match table.get(key)? {
                Some(record) => record::head(record.value()),
                None => return Ok(Err(SessionError::NotFound)),
            };
            match head {
                Ok(head) => {
                    table.remove(key)?;
                    head
                }
                Err(fault) => return Ok(Err(fault)),
            }
        };
        let id = *id.as_uuid();
        let mut log = self.log.borrow_mut();
        log.written.push(id);
        log.removed.push(Entry {
            user: head.user,
            created,
            id,
        });
        Ok(Ok(head.ttl))
    }
}

/// A write queued for the writer thread.
pub(super) trait WriteOp: Send {
    /// Runs the write inside `tx`. An `Err` means the transaction may hold a partial write
    /// and must be aborted; refusals that change nothing are part of the op's own outcome.
    fn apply(&mut self, tx: &Tx<'_>) -> Result<(), redb::Error>;

    /// Reports the op's outcome once the batch is committed, or `failure` when it was not.
    fn finish(self: Box<Self>, failure: Option<&str>);
}

/// An op built from a closure, answering through a oneshot channel if someone waits for it.
pub(super) struct ClosureOp<T, F> {
    run: Option<F>,
    outcome: Option<Result<T, SessionError>>,
    /// `None` for work nobody waits for (the sweeper's purges), which always runs.
    reply: Option<oneshot::Sender<Result<T, SessionError>>>,
}

impl<T, F> ClosureOp<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> TxnResult<T> + Send + 'static,
{
    /// Wraps `run`; the result arrives on the returned receiver after commit. Dropping the
    /// receiver before the writer gets to the op cancels it.
    pub(super) fn new(run: F) -> (Self, oneshot::Receiver<Result<T, SessionError>>) {
        let (reply, receiver) = oneshot::channel();
        let op = Self {
            run: Some(run),
            outcome: None,
            reply: Some(reply),
        };
        (op, receiver)
    }

    /// Wraps `run` for nobody to wait for: it runs whenever the writer gets to it.
    pub(super) fn unattended(run: F) -> Self {
        Self {
            run: Some(run),
            outcome: None,
            reply: None,
        }
    }
}

impl<T, F> WriteOp for ClosureOp<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> TxnResult<T> + Send + 'static,
{
    fn apply(&mut self, tx: &Tx<'_>) -> Result<(), redb::Error> {
        // Its caller has given up and was answered 503 (or nothing): applying it now would
        // change a session behind the back of a client told that its write failed.
        if self.reply.as_ref().is_some_and(oneshot::Sender::is_closed) {
            self.run = None;
            return Ok(());
        }
        if let Some(run) = self.run.take() {
            self.outcome = Some(run(tx)?);
        }
        Ok(())
    }

    fn finish(self: Box<Self>, failure: Option<&str>) {
        let Some(reply) = self.reply else {
            return;
        };
        let result = match (failure, self.outcome) {
            (None, Some(outcome)) => outcome,
            (Some(reason), _) => Err(SessionError::unavailable(format!(
                "embedded store write was not committed: {reason}"
            ))),
            (None, None) => Err(SessionError::internal(
                "embedded store write was never applied",
            )),
        };
        // The caller may have gone away since the op was applied; the write stands.
        let _ = reply.send(result);
    }
}

/// Runs the writer loop until every sender is dropped, sweeping between batches.
pub(super) fn run(shared: Arc<Shared>, queue: Receiver<Box<dyn WriteOp>>, mut sweeper: Sweeper) {
    let mut next_sweep = Instant::now() + sweeper.interval();
    loop {
        let wait = next_sweep.saturating_duration_since(Instant::now());
        let first = match queue.recv_timeout(wait) {
            Ok(op) => Some(op),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if Instant::now() >= next_sweep {
            let (purge, again_soon) = sweeper.next_chunk(&shared.db);
            if let Some(purge) = purge {
                commit(&shared, vec![purge]);
            }
            next_sweep = Instant::now();
            if !again_soon {
                next_sweep += sweeper.interval();
            }
        }
        let Some(first) = first else { continue };
        let mut batch = Vec::with_capacity(8);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        commit(&shared, batch);
    }
}

/// Applies `batch` in one transaction and commits it durably; the index and the read cache
/// follow before any of its writes is acknowledged.
fn commit(shared: &Shared, mut batch: Vec<Box<dyn WriteOp>>) {
    let mut txn = match shared.db.begin_write() {
        Ok(txn) => txn,
        Err(error) => return fail_all(batch, &error.to_string()),
    };
    if let Err(error) = txn.set_durability(Durability::Immediate) {
        return fail_all(batch, &error.to_string());
    }
    let tx = match Tx::new(&txn, shared) {
        Ok(tx) => tx,
        // Dropping the transaction aborts it.
        Err(error) => return fail_all(batch, &error.to_string()),
    };
    for op in &mut batch {
        // A panic in one op must not take the writer thread (and every later write) with it.
        let failure = match catch_unwind(AssertUnwindSafe(|| op.apply(&tx))) {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error.to_string(),
            Err(_) => "a write panicked".to_owned(),
        };
        tracing::error!(error = %failure, batch = batch.len(), "embedded store batch aborted");
        shared.index.remove(&tx.into_log().added);
        let _ = txn.abort();
        return fail_all(batch, &failure);
    }
    let log = tx.into_log();
    if log.written.is_empty() {
        // Every op was refused: nothing to commit, nor to wait for the disk for.
        let _ = txn.abort();
        return batch.into_iter().for_each(|op| op.finish(None));
    }
    let writing = shared.cache.writing(&log.written);
    match txn.commit() {
        Ok(()) => {
            shared.gauges.committed();
            shared.index.remove(&log.removed);
            drop(writing);
            batch.into_iter().for_each(|op| op.finish(None));
        }
        Err(error) => {
            tracing::error!(error = %error, "embedded store commit failed");
            shared.index.remove(&log.added);
            drop(writing);
            fail_all(batch, &error.to_string());
        }
    }
}

fn fail_all(batch: Vec<Box<dyn WriteOp>>, reason: &str) {
    batch.into_iter().for_each(|op| op.finish(Some(reason)));
}

//! The single writer thread of the embedded store, with group commit.
//!
//! redb allows one write transaction at a time. One commit per request would cap writes at
//! the disk's sync rate, so the writer drains every write queued while the previous commit
//! ran and applies them all in one transaction: one sync acknowledges many writes, and no
//! write is acknowledged before it is on disk. On a file, that sync is the journal's (see
//! `journal`): the batch's changes are written to it and synced, then redb commits without
//! syncing, and a periodic checkpoint makes redb durable and empties the journal.

use std::cell::{RefCell, RefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use redb::{Database, Durability, Table, WriteTransaction};
use tokio::sync::oneshot;

use super::SESSIONS;
use super::derived::Derived;
use super::journal::{Change, Journal};
use super::locator::Locator;
use super::user_index::IndexChange;
use crate::SessionError;

/// A write transaction's `sessions` table, open for the whole batch, the log of what it changed,
/// which the journal records, and the changes it makes to the in-memory user index, applied
/// once it has committed.
///
/// The tables are opened once per batch rather than once per write: each opening looks the
/// table up and each closing writes its root back, which cost more than the inserts of a
/// create.
pub(super) struct Tx<'a> {
    sessions: RefCell<Table<'a, &'static [u8], &'static [u8]>>,
    locator: &'a Locator,
    changes: RefCell<Vec<Change>>,
    index_changes: RefCell<Vec<IndexChange>>,
}

impl<'a> Tx<'a> {
    /// Opens the tables of `txn`, with an empty log; new sessions are noted in `locator` as
    /// they are inserted (see `locator`).
    pub(super) fn new(
        txn: &'a WriteTransaction,
        locator: &'a Locator,
    ) -> Result<Self, redb::Error> {
        Ok(Self {
            sessions: RefCell::new(txn.open_table(SESSIONS)?),
            locator,
            changes: RefCell::new(Vec::new()),
            index_changes: RefCell::new(Vec::new()),
        })
    }

    /// The `sessions` table. Like the logs, borrowed for one step at a time: a second
    /// borrow while one is held panics (and fails the batch, see `commit_batch`).
    pub(super) fn sessions(&self) -> RefMut<'_, Table<'a, &'static [u8], &'static [u8]>> {
        self.sessions.borrow_mut()
    }

    /// The key of session `id`, if it exists (committed, or created in this transaction).
    pub(super) fn locate(&self, id: &str) -> Option<Vec<u8>> {
        self.locator.key(id)
    }

    /// Notes a new session `id` created at `created`; false when the id is taken.
    pub(super) fn claim(&self, id: &str, created: i64) -> bool {
        self.locator.claim(id, created)
    }

    /// Notes session `id` created at `created`, known or not (journal replay).
    pub(super) fn place(&self, id: &str, created: i64) {
        self.locator.place(id, created);
    }

    /// Logs that session `id` now has `record`.
    pub(super) fn put(&self, id: String, record: Vec<u8>) {
        self.changes.borrow_mut().push(Change::Put { id, record });
    }

    /// Logs that session `id` is gone.
    pub(super) fn removed(&self, id: &str) {
        self.changes
            .borrow_mut()
            .push(Change::Remove { id: id.to_owned() });
    }

    /// Records a change to the user index, made once this transaction commits.
    pub(super) fn index(&self, change: IndexChange) {
        self.index_changes.borrow_mut().push(change);
    }

    /// `user`'s sessions added to the user index by this transaction so far, as (created, id).
    pub(super) fn indexed_here(&self, user: &str) -> Vec<(i64, String)> {
        self.index_changes
            .borrow()
            .iter()
            .filter_map(|change| match change {
                IndexChange::Add {
                    user: of,
                    created,
                    id,
                } if of == user => Some((*created, id.clone())),
                _ => None,
            })
            .collect()
    }

    /// The journal's changes and the user index's.
    pub(super) fn into_changes(self) -> (Vec<Change>, Vec<IndexChange>) {
        (self.changes.into_inner(), self.index_changes.into_inner())
    }
}

/// Most writes applied in one transaction; bounds how long a batch holds the writer.
const MAX_BATCH: usize = 256;

/// A write queued for the writer thread.
pub(super) trait WriteOp: Send {
    /// Runs the write inside `txn`. An `Err` means the transaction may hold a partial write
    /// and must be aborted; refusals that change nothing (not found, version mismatch…) are
    /// part of the op's own outcome, not an `Err`.
    fn apply(&mut self, tx: &Tx<'_>) -> Result<(), redb::Error>;

    /// Reports the op's outcome once the batch is committed, or `failure` when it was not.
    fn finish(self: Box<Self>, failure: Option<&str>);
}

/// An op built from a closure, answering through a oneshot channel.
pub(super) struct ClosureOp<T, F> {
    run: Option<F>,
    outcome: Option<Result<T, SessionError>>,
    reply: oneshot::Sender<Result<T, SessionError>>,
}

impl<T, F> ClosureOp<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> Result<Result<T, SessionError>, redb::Error> + Send + 'static,
{
    /// Wraps `run`; the result arrives on the returned receiver after commit.
    pub(super) fn new(run: F) -> (Self, oneshot::Receiver<Result<T, SessionError>>) {
        let (reply, receiver) = oneshot::channel();
        let op = Self {
            run: Some(run),
            outcome: None,
            reply,
        };
        (op, receiver)
    }
}

impl<T, F> WriteOp for ClosureOp<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> Result<Result<T, SessionError>, redb::Error> + Send + 'static,
{
    fn apply(&mut self, tx: &Tx<'_>) -> Result<(), redb::Error> {
        if let Some(run) = self.run.take() {
            self.outcome = Some(run(tx)?);
        }
        Ok(())
    }

    fn finish(self: Box<Self>, failure: Option<&str>) {
        let result = match (failure, self.outcome) {
            (None, Some(outcome)) => outcome,
            (Some(reason), _) => Err(SessionError::unavailable(format!(
                "embedded store write was not committed: {reason}"
            ))),
            (None, None) => Err(SessionError::internal(
                "embedded store write was never applied",
            )),
        };
        // The caller may have gone away (request cancelled); the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// Periodic work the writer does between batches.
pub(super) trait Housekeeping: Send {
    /// How often to run.
    fn interval(&self) -> Duration;
    /// Runs once, in durable transactions of its own.
    fn run(&mut self, db: &Database, derived: &Derived) -> Chore;
}

/// What one run of the housekeeping did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chore {
    /// A durable transaction committed, which made every earlier commit durable too.
    pub(super) committed: bool,
    /// The work is not done: run again after the next batch rather than after the interval.
    pub(super) again_soon: bool,
}

/// The writer's state.
struct Writer {
    db: Arc<Database>,
    derived: Arc<Derived>,
    /// The journal, for a database in a file.
    journal: Option<Journal>,
    /// False after the journal failed to undo a partial append or to empty itself: until it
    /// can be emptied, commits are made durable by redb itself, and the journal is not used.
    journal_usable: bool,
}

/// Runs the writer loop until every sender is dropped, then returns (after a last checkpoint).
pub(super) fn run(
    db: Arc<Database>,
    derived: Arc<Derived>,
    journal: Option<Journal>,
    queue: Receiver<Box<dyn WriteOp>>,
    mut chores: Box<dyn Housekeeping>,
) {
    let mut writer = Writer {
        db,
        derived,
        journal,
        journal_usable: true,
    };
    let mut next_chore = Instant::now() + chores.interval();
    loop {
        let deadline = writer
            .checkpoint_due()
            .map_or(next_chore, |due| due.min(next_chore));
        let first = match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(op) => Some(op),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if Instant::now() >= next_chore {
            let chore = chores.run(&writer.db, &writer.derived);
            if chore.committed {
                writer.durable_commit_made();
            }
            next_chore = Instant::now();
            if !chore.again_soon {
                next_chore += chores.interval();
            }
        }
        if writer
            .checkpoint_due()
            .is_some_and(|due| Instant::now() >= due)
        {
            writer.checkpoint();
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
        writer.commit_batch(batch);
    }
    if writer.checkpoint_due().is_some() {
        writer.checkpoint();
    }
}

impl Writer {
    fn checkpoint_due(&self) -> Option<Instant> {
        self.journal.as_ref().and_then(Journal::checkpoint_due)
    }

    /// Makes redb's state durable, then empties the journal.
    fn checkpoint(&mut self) {
        let committed = self
            .db
            .begin_write()
            .map_err(redb::Error::from)
            .and_then(|txn| txn.commit().map_err(redb::Error::from));
        match committed {
            Ok(()) => self.durable_commit_made(),
            // The journal still holds every change; a later checkpoint tries again.
            Err(error) => {
                tracing::error!(error = %error, "embedded store checkpoint failed");
                if let Some(journal) = self.journal.as_mut() {
                    journal.postpone_checkpoint();
                }
            }
        }
    }

    /// A durable commit succeeded: nothing in the journal is needed any more.
    fn durable_commit_made(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        match journal.reset() {
            Ok(()) => self.journal_usable = true,
            Err(error) => {
                tracing::error!(error = %error, journal = %journal.path().display(), "cannot empty the embedded store journal; committing durably until it can be");
                self.journal_usable = false;
            }
        }
    }

    fn commit_batch(&mut self, mut batch: Vec<Box<dyn WriteOp>>) {
        let mut txn = match self.db.begin_write() {
            Ok(txn) => txn,
            Err(error) => return fail_all(batch, &error.to_string()),
        };
        let derived = self.derived.clone();
        let tx = match Tx::new(&txn, &derived.locator) {
            Ok(tx) => tx,
            // Dropping the transaction aborts it.
            Err(error) => return fail_all(batch, &error.to_string()),
        };
        for op in &mut batch {
            // A panic in one op must not take the writer thread (and every later write) with it.
            let applied = catch_unwind(AssertUnwindSafe(|| op.apply(&tx)));
            let failure = match applied {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => error.to_string(),
                Err(_) => "a write panicked".to_owned(),
            };
            tracing::error!(error = %failure, batch = batch.len(), "embedded store batch aborted");
            let (_, index_changes) = tx.into_changes();
            derived.abandon(&index_changes);
            let _ = txn.abort();
            return fail_all(batch, &failure);
        }
        let (changes, index_changes) = tx.into_changes();
        // From here, a failure drops `commit`, which takes back the batch's new sessions.
        let commit = derived.committing(&changes, index_changes);
        let journalled = if changes.is_empty() {
            // Every op was refused: nothing to make durable.
            None
        } else {
            self.journal(&changes)
        };
        // Durable already (journalled), or nothing to make durable; else redb must sync.
        let redb_syncs = journalled.is_none() && !changes.is_empty();
        let durability = if redb_syncs {
            Durability::Immediate
        } else {
            Durability::None
        };
        if let Err(error) = txn.set_durability(durability) {
            tracing::error!(error = %error, "embedded store cannot set commit durability");
            let _ = txn.abort();
            self.undo_journal(journalled);
            return fail_all(batch, &error.to_string());
        }
        match txn.commit() {
            Ok(()) => {
                if redb_syncs {
                    self.durable_commit_made();
                }
                // Before the writes are acknowledged: a listing right after sees them, and
                // no read by id returns what they replaced.
                commit.committed();
                batch.into_iter().for_each(|op| op.finish(None));
            }
            Err(error) => {
                tracing::error!(error = %error, "embedded store commit failed");
                // The journal must not replay a batch that was reported as failed.
                self.undo_journal(journalled);
                drop(commit);
                fail_all(batch, &error.to_string());
            }
        }
    }

    /// Appends `changes` to the journal and syncs it; returns the journal's length before the
    /// append, or `None` when the batch must instead be committed durably by redb.
    fn journal(&mut self, changes: &[Change]) -> Option<u64> {
        if !self.journal_usable {
            return None;
        }
        let journal = self.journal.as_mut()?;
        let before = journal.len();
        match journal.append(changes) {
            Ok(()) => Some(before),
            Err(error) => {
                tracing::warn!(error = %error, journal = %journal.path().display(), "cannot append to the embedded store journal; committing this batch durably instead");
                self.undo_journal(Some(before));
                None
            }
        }
    }

    /// Cuts the journal back to `before` (its length before a batch that did not commit).
    fn undo_journal(&mut self, before: Option<u64>) {
        let (Some(before), Some(journal)) = (before, self.journal.as_mut()) else {
            return;
        };
        if let Err(error) = journal.truncate_to(before) {
            tracing::error!(error = %error, journal = %journal.path().display(), "cannot undo a journal append; committing durably until the journal can be emptied");
            self.journal_usable = false;
        }
    }
}

fn fail_all(batch: Vec<Box<dyn WriteOp>>, reason: &str) {
    batch.into_iter().for_each(|op| op.finish(Some(reason)));
}

//! The single writer thread of the embedded store, with group commit.
//!
//! redb allows one write transaction at a time and makes each commit durable with an fsync.
//! One commit per request would cap writes at the disk's fsync rate, so the writer drains
//! every write queued while the previous commit ran and applies them all in one transaction:
//! one fsync acknowledges many writes, and no write is acknowledged before it is on disk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use crate::SessionError;

/// Most writes applied in one transaction; bounds how long a batch holds the writer.
const MAX_BATCH: usize = 256;

/// A write queued for the writer thread.
pub(super) trait WriteOp: Send {
    /// Runs the write inside `txn`. An `Err` means the transaction may hold a partial write
    /// and must be aborted; refusals that change nothing (not found, version mismatch…) are
    /// part of the op's own outcome, not an `Err`.
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), redb::Error>;

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
    F: FnOnce(&WriteTransaction) -> Result<Result<T, SessionError>, redb::Error> + Send + 'static,
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
    F: FnOnce(&WriteTransaction) -> Result<Result<T, SessionError>, redb::Error> + Send + 'static,
{
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), redb::Error> {
        if let Some(run) = self.run.take() {
            self.outcome = Some(run(txn)?);
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
    /// Runs once, in its own transaction.
    fn run(&mut self, db: &Database);
}

/// Runs the writer loop until every sender is dropped, then returns (after the last commit).
pub(super) fn run(
    db: Arc<Database>,
    queue: Receiver<Box<dyn WriteOp>>,
    mut chores: Box<dyn Housekeeping>,
) {
    let mut next_chore = Instant::now() + chores.interval();
    loop {
        let wait = next_chore.saturating_duration_since(Instant::now());
        let first = match queue.recv_timeout(wait) {
            Ok(op) => Some(op),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if Instant::now() >= next_chore {
            chores.run(&db);
            next_chore = Instant::now() + chores.interval();
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
        commit_batch(&db, batch);
    }
}

fn commit_batch(db: &Database, mut batch: Vec<Box<dyn WriteOp>>) {
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(error) => return fail_all(batch, &error.to_string()),
    };
    for op in &mut batch {
        // A panic in one op must not take the writer thread (and every later write) with it.
        let applied = catch_unwind(AssertUnwindSafe(|| op.apply(&txn)));
        let failure = match applied {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error.to_string(),
            Err(_) => "a write panicked".to_owned(),
        };
        tracing::error!(error = %failure, batch = batch.len(), "embedded store batch aborted");
        let _ = txn.abort();
        return fail_all(batch, &failure);
    }
    match txn.commit() {
        Ok(()) => batch.into_iter().for_each(|op| op.finish(None)),
        Err(error) => {
            tracing::error!(error = %error, "embedded store commit failed");
            fail_all(batch, &error.to_string());
        }
    }
}

fn fail_all(batch: Vec<Box<dyn WriteOp>>, reason: &str) {
    batch.into_iter().for_each(|op| op.finish(Some(reason)));
}

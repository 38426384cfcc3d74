//! What the store keeps in memory beside redb, derived from its sessions: where each session
//! lives (see `locator`), the per-user index (see `user_index`) and the read cache (see
//! `read_cache`). All follow every commit before its writes are acknowledged.

use redb::{ReadTransaction, ReadableTable};

use super::journal::Change;
use super::locator::{self, Locator};
use super::read_cache::{ReadCache, Writing};
use super::user_index::{IndexChange, UserIndex};
use super::{SESSIONS, map_redb, record};
use crate::SessionError;

/// The locator, the per-user index and the read cache.
pub(super) struct Derived {
    /// Each session's key, by id.
    pub(super) locator: Locator,
    /// Sessions by user, for listings and revoke-all.
    pub(super) index: UserIndex,
    /// Recently read sessions, for reads by id and listings.
    pub(super) cache: ReadCache,
}

impl Derived {
    /// The locator and the user index of every session in `txn`'s `sessions` table, read in
    /// one pass, and an empty read cache of `read_cache_bytes`.
    pub(super) fn build(
        txn: &ReadTransaction,
        read_cache_bytes: usize,
    ) -> Result<Self, SessionError> {
        let sessions = txn.open_table(SESSIONS).map_err(map_redb)?;
        let mut locator = Locator::default();
        let mut index = UserIndex::default();
        for entry in sessions.iter().map_err(map_redb)? {
            let (key, stored) = entry.map_err(map_redb)?;
            let Some((created, id)) = locator::parts(key.value()) else {
                tracing::warn!(
                    "a malformed key in the embedded store's sessions table was skipped"
                );
                continue;
            };
            locator.add_built(id, created);
            // The creation time is the key's: a listing finds the record by it.
            match record::user_and_creation(stored.value()) {
                Ok((user, _)) => index.add_built(user, created, id),
                // Reads report an undecodable record; listings skip it, as they did.
                Err(error) => {
                    tracing::warn!(error = %error, "a session record left out of the user index");
                }
            }
        }
        index.finish_build();
        Ok(Self {
            locator,
            index,
            cache: ReadCache::new(read_cache_bytes),
        })
    }

    /// Call before committing a transaction that made `changes` and `index_changes`; keep the
    /// guard until the commit is over, and call [`Commit::committed`] if it succeeded.
    pub(super) fn committing<'a>(
        &'a self,
        changes: &'a [Change],
        index_changes: Vec<IndexChange>,
    ) -> Commit<'a> {
        Commit {
            derived: self,
            index_changes,
            _writing: self.cache.writing(changes.iter().map(Change::id).collect()),
        }
    }

    /// Takes back what a transaction that will not commit noted in the locator.
    pub(super) fn abandon(&self, index_changes: &[IndexChange]) {
        self.locator.abandon(index_changes);
    }
}

/// A commit in flight; see [`Derived::committing`]. Dropped without [`Commit::committed`], it
/// takes back the transaction's additions to the locator and leaves the user index as it was.
pub(super) struct Commit<'a> {
    derived: &'a Derived,
    index_changes: Vec<IndexChange>,
    _writing: Writing<'a>,
}

impl Commit<'_> {
    /// The transaction committed: the locator and the user index follow it, and the read
    /// cache is released.
    pub(super) fn committed(mut self) {
        let changes = std::mem::take(&mut self.index_changes);
        self.derived.locator.apply(&changes);
        self.derived.index.apply(changes);
    }
}

impl Drop for Commit<'_> {
    fn drop(&mut self) {
        if !self.index_changes.is_empty() {
            self.derived.abandon(&self.index_changes);
        }
    }
}

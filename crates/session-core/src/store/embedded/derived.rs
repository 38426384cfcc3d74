//! What the store keeps in memory beside redb, derived from its sessions: the per-user index
//! (see `user_index`) and the read cache (see `read_cache`). Both follow every commit before
//! its writes are acknowledged.

use super::journal::Change;
use super::read_cache::{ReadCache, Writing};
use super::user_index::{IndexChange, UserIndex};

/// The per-user index and the read cache.
pub(super) struct Derived {
    /// Sessions by user, for listings and revoke-all.
    pub(super) index: UserIndex,
    /// Recently read sessions, for reads by id and listings.
    pub(super) cache: ReadCache,
}

impl Derived {
    /// Call before committing a transaction that made `changes`; keep the guard until the
    /// commit is over, and call [`Commit::committed`] if it succeeded.
    pub(super) fn committing<'a>(&'a self, changes: &'a [Change]) -> Commit<'a> {
        Commit {
            index: &self.index,
            _writing: self.cache.writing(changes.iter().map(Change::id).collect()),
        }
    }
}

/// A commit in flight; see [`Derived::committing`]. Dropped without
/// [`Commit::committed`], it leaves the user index as it was.
pub(super) struct Commit<'a> {
    index: &'a UserIndex,
    _writing: Writing<'a>,
}

impl Commit<'_> {
    /// The transaction committed: the user index takes `index_changes`, and the read cache
    /// is released.
    pub(super) fn committed(self, index_changes: Vec<IndexChange>) {
        self.index.apply(index_changes);
    }
}

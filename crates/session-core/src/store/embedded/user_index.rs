//! The per-user index of the embedded store, kept in memory.
//!
//! Per-user listings and revoke-all need a user's sessions newest first. Kept in redb, that
//! index cost a create as much as the session itself: users are spread at random over the
//! index, so each create copied and checksummed another page of it in every commit (about a
//! quarter of the server's CPU per create, measured; see docs/benchmarks.md). The sessions
//! table says everything the index holds, so the index lives in memory instead and is
//! rebuilt from the table when the store opens (see `Derived::build`): about 100 bytes per
//! session, and a scan of the table at start.
//!
//! The writer changes the index only after the commit that made its changes visible, so a
//! reader that finds an entry finds the committed session too (or nothing, when a removal
//! is on its way, which readers skip).

use std::collections::HashMap;
use std::sync::RwLock;

/// One session's place in the index: its creation time in milliseconds, then its id.
type Entry = (i64, Box<str>);

/// A change to the index, made once the transaction that made it has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IndexChange {
    /// Session `id` of `user`, created at `created` (milliseconds), exists.
    Add {
        user: String,
        created: i64,
        id: String,
    },
    /// It is gone.
    Remove {
        user: String,
        created: i64,
        id: String,
    },
}

/// Every user's sessions, oldest first. A sorted `Vec` rather than a `BTreeSet`: most users
/// hold a few sessions, and a B-tree node is allocated for eleven.
#[derive(Debug, Default)]
pub(super) struct UserIndex {
    users: RwLock<HashMap<Box<str>, Vec<Entry>>>,
}

/// Adds `entry` to `entries`, keeping them sorted.
fn insert(entries: &mut Vec<Entry>, entry: Entry) {
    // Creates come in time order: most entries go at the end, with no search.
    if entries.last().is_none_or(|last| *last < entry) {
        entries.push(entry);
    } else if let Err(at) = entries.binary_search(&entry) {
        entries.insert(at, entry);
    }
}

impl UserIndex {
    /// Adds a session while the index is built (see `Derived::build`), before anyone shares
    /// it.
    pub(super) fn add_built(&mut self, user: String, created: i64, id: &str) {
        let users = self
            .users
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        insert(
            users.entry(user.into_boxed_str()).or_default(),
            (created, id.into()),
        );
    }

    /// Ends the build: gives back the room that growing the lists left over.
    pub(super) fn finish_build(&mut self) {
        let users = self
            .users
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for entries in users.values_mut() {
            entries.shrink_to_fit();
        }
    }

    /// Applies `changes`, in order.
    pub(super) fn apply(&self, changes: Vec<IndexChange>) {
        if changes.is_empty() {
            return;
        }
        // A panic elsewhere while the lock was held cannot leave the maps half-changed in a
        // way that matters here: each change is one insert or one removal.
        let mut users = self
            .users
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for change in changes {
            match change {
                IndexChange::Add { user, created, id } => {
                    let entry = (created, id.into_boxed_str());
                    // Most users have sessions already: look up before making a key.
                    match users.get_mut(user.as_str()) {
                        Some(entries) => insert(entries, entry),
                        None => {
                            users.insert(user.into_boxed_str(), vec![entry]);
                        }
                    }
                }
                IndexChange::Remove { user, created, id } => {
                    if let Some(entries) = users.get_mut(user.as_str()) {
                        if let Ok(at) = entries.binary_search(&(created, id.into_boxed_str())) {
                            entries.remove(at);
                        }
                        if entries.is_empty() {
                            users.remove(user.as_str());
                        }
                    }
                }
            }
        }
    }

    /// Up to `max` of `user`'s sessions that come after `after` in the listing's order
    /// (newest first; `None`: from the newest), as (created, id).
    pub(super) fn page(&self, user: &str, after: Option<(i64, &str)>, max: usize) -> Vec<Entry> {
        let users = self
            .users
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(entries) = users.get(user) else {
            return Vec::new();
        };
        // Everything before `after`: the entries that sort below it.
        let end = after.map_or(entries.len(), |(created, id)| {
            entries.partition_point(|(at, of)| (*at, &**of) < (created, id))
        });
        entries[..end].iter().rev().take(max).cloned().collect()
    }

    /// All of `user`'s sessions, as (created, id).
    pub(super) fn entries(&self, user: &str) -> Vec<(i64, String)> {
        let users = self
            .users
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        users.get(user).map_or_else(Vec::new, |entries| {
            entries
                .iter()
                .map(|(created, id)| (*created, id.to_string()))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(user: &str, created: i64, id: &str) -> IndexChange {
        IndexChange::Add {
            user: user.to_owned(),
            created,
            id: id.to_owned(),
        }
    }

    #[test]
    fn pages_run_newest_first_and_resume_strictly_after_their_position() {
        let index = UserIndex::default();
        index.apply(vec![
            add("u", 10, "b"),
            add("u", 20, "a"),
            add("u", 10, "c"),
            add("v", 30, "z"),
        ]);
        let ids = |entries: Vec<Entry>| -> Vec<String> {
            entries
                .into_iter()
                .map(|(_, id)| id.into_string())
                .collect()
        };
        assert_eq!(ids(index.page("u", None, 10)), ["a", "c", "b"]);
        assert_eq!(ids(index.page("u", None, 2)), ["a", "c"]);
        assert_eq!(ids(index.page("u", Some((10, "c")), 10)), ["b"]);
        assert_eq!(ids(index.page("u", Some((20, "a")), 10)), ["c", "b"]);
        assert!(index.page("nobody", None, 10).is_empty());
        index.apply(vec![IndexChange::Remove {
            user: "u".to_owned(),
            created: 10,
            id: "c".to_owned(),
        }]);
        assert_eq!(ids(index.page("u", None, 10)), ["a", "b"]);
        let mut all = index.entries("u");
        all.sort();
        assert_eq!(all, [(10, "b".to_owned()), (20, "a".to_owned())]);
        index.apply(vec![IndexChange::Remove {
            user: "v".to_owned(),
            created: 30,
            id: "z".to_owned(),
        }]);
        assert!(index.entries("v").is_empty());
    }
}

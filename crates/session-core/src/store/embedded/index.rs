//! What the store keeps in memory about where its sessions are: each session's creation time
//! by id, and each user's sessions in creation order.
//!
//! **Keys.** A session's key in the `sessions` table is its creation time, then its id, so new
//! sessions go to the end of the table, into the few pages the previous commits already
//! copied; keyed by their random ids alone, every create would copy a page somewhere in the
//! middle of the B-tree. A read by id therefore needs the creation time: the id map gives it.
//!
//! **Users.** Listings and revoke-all need a user's sessions newest first. The table says
//! everything this index holds, so it lives in memory (rebuilt from the table when the store
//! opens) rather than as a second B-tree that every create would also write.
//!
//! **Keeping up with the writer.** The writer adds a session as soon as it inserts it, so that
//! later writes of the same batch find it; a batch that fails takes its additions back.
//! Removals wait for their commit, so no committed session is ever unreachable. An entry whose
//! session is not (yet, or any more) in a reader's snapshot is harmless: the reader finds no
//! record and skips it. So a listing, which reads the index before it opens its snapshot,
//! sees every write acknowledged before it began.

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use redb::ReadableTable;
use uuid::Uuid;

use super::{map_redb, record};
use crate::{SessionError, SessionId, UserId};

/// Bytes of the creation time at the start of every key.
const CREATED_BYTES: usize = 8;

/// The key of the session `id` created at `created` (milliseconds since the epoch): the
/// creation time, big-endian with its sign bit flipped so that keys sort by time (earlier
/// times included), then the id's canonical text.
pub(super) fn key(created: i64, id: &Uuid) -> Vec<u8> {
    let mut key = Vec::with_capacity(CREATED_BYTES + uuid::fmt::Hyphenated::LENGTH);
    key.extend_from_slice(&(created.cast_unsigned() ^ (1 << 63)).to_be_bytes());
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    key.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    key
}

/// The creation time and the id a key holds; `None` for bytes that are not a key.
pub(super) fn parts(key: &[u8]) -> Option<(i64, SessionId)> {
    let (created, id) = key.split_first_chunk::<CREATED_BYTES>()?;
    let created = (u64::from_be_bytes(*created) ^ (1 << 63)).cast_signed();
    Some((created, SessionId::parse(std::str::from_utf8(id).ok()?)?))
}

/// One session in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// Whom it belongs to.
    pub(super) user: UserId,
    /// Its creation time, in milliseconds.
    pub(super) created: i64,
    /// Its id.
    pub(super) id: Uuid,
}

impl Entry {
    /// Its key in the `sessions` table.
    pub(super) fn key(&self) -> Vec<u8> {
        key(self.created, &self.id)
    }
}

#[derive(Debug, Default)]
struct Maps {
    /// Each session's creation time, by id.
    created: HashMap<Uuid, i64>,
    /// Each user's sessions, as (created, id): oldest first.
    users: HashMap<UserId, BTreeSet<(i64, Uuid)>>,
}

/// The index, shared by readers and the writer.
#[derive(Debug, Default)]
pub(super) struct Index {
    maps: RwLock<Maps>,
}

impl Index {
    /// The index of every session in `table`, read in one pass over the keys and the head of
    /// each record.
    pub(super) fn build(
        table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    ) -> Result<Self, SessionError> {
        let mut maps = Maps::default();
        for stored in table.iter().map_err(map_redb)? {
            let (key, record) = stored.map_err(map_redb)?;
            let Some((created, id)) = parts(key.value()) else {
                tracing::warn!(
                    "a malformed key in the embedded store's sessions table was skipped"
                );
                continue;
            };
            // A record that cannot be read stays reachable by id, so that reads of it report
            // the fault; listings leave it out.
            maps.created.insert(*id.as_uuid(), created);
            match record::head(record.value()) {
                Ok(head) => {
                    let sessions = maps.users.entry(head.user).or_default();
                    sessions.insert((created, *id.as_uuid()));
                }
                Err(error) => {
                    tracing::warn!(session = %id.fingerprint(), error = %error, "a session record left out of the user index");
                }
            }
        }
        Ok(Self {
            maps: RwLock::new(maps),
        })
    }

    /// The key of session `id`, if it exists (or is being created).
    pub(super) fn key_of(&self, id: &Uuid) -> Option<Vec<u8>> {
        let created = *self.read().created.get(id)?;
        Some(key(created, id))
    }

    /// Adds a new session; false, changing nothing, when its id is known already.
    pub(super) fn add(&self, entry: &Entry) -> bool {
        let mut maps = self.write();
        if maps.created.contains_key(&entry.id) {
            return false;
        }
        maps.created.insert(entry.id, entry.created);
        // Most users have sessions already: look up before making a key.
        match maps.users.get_mut(&entry.user) {
            Some(sessions) => {
                sessions.insert((entry.created, entry.id));
            }
            None => {
                let sessions = BTreeSet::from([(entry.created, entry.id)]);
                maps.users.insert(entry.user.clone(), sessions);
            }
        }
        true
    }

    /// Removes `entries`: sessions whose removal committed, or additions of a batch that did
    /// not. Each costs a hash removal and a B-tree removal.
    pub(super) fn remove(&self, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        let mut maps = self.write();
        for entry in entries {
            maps.created.remove(&entry.id);
            if let Some(sessions) = maps.users.get_mut(&entry.user) {
                sessions.remove(&(entry.created, entry.id));
                if sessions.is_empty() {
                    maps.users.remove(&entry.user);
                }
            }
        }
    }

    /// Up to `max` of `user`'s sessions that come after `after` in the listing's order
    /// (newest first; `None`: from the newest), as (created, id).
    pub(super) fn page(
        &self,
        user: &UserId,
        after: Option<(i64, Uuid)>,
        max: usize,
    ) -> Vec<(i64, Uuid)> {
        let maps = self.read();
        let Some(sessions) = maps.users.get(user) else {
            return Vec::new();
        };
        match after {
            Some(after) => sessions.range(..after).rev().take(max).copied().collect(),
            None => sessions.iter().rev().take(max).copied().collect(),
        }
    }

    /// All of `user`'s sessions, as (created, id).
    pub(super) fn sessions_of(&self, user: &UserId) -> Vec<(i64, Uuid)> {
        self.read()
            .users
            .get(user)
            .map_or_else(Vec::new, |sessions| sessions.iter().copied().collect())
    }

    // Each change under the lock is one insert or one removal: a panic elsewhere cannot leave
    // the maps half-changed, so a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &str, created: i64) -> Entry {
        Entry {
            user: UserId::parse(user).expect("valid"),
            created,
            id: Uuid::new_v4(),
        }
    }

    #[test]
    fn keys_sort_by_creation_time_then_id_and_give_both_back() {
        let id = SessionId::generate();
        let times = [i64::MIN, -1, 0, 1, 1_764_000_000_000, i64::MAX];
        let keys: Vec<_> = times.iter().map(|&at| key(at, id.as_uuid())).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "time order");
        for (&at, key) in times.iter().zip(&keys) {
            assert_eq!(parts(key), Some((at, id.clone())));
        }
        let (low, high) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(key(5, &low) < key(5, &high), "then id order");
        assert_eq!(parts(b"short"), None);
        assert_eq!(parts(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]), None, "not UTF-8");
        assert_eq!(parts(b"\0\0\0\0\0\0\0\0not-an-id"), None, "not an id");
    }

    #[test]
    fn pages_run_newest_first_and_resume_strictly_after_their_position() {
        let index = Index::default();
        let (b, a, c, z) = (
            entry("u", 10),
            entry("u", 20),
            entry("u", 10),
            entry("v", 30),
        );
        for e in [&b, &a, &c, &z] {
            assert!(index.add(e));
        }
        let (first, second) = if b.id < c.id { (&b, &c) } else { (&c, &b) };
        let ids =
            |page: Vec<(i64, Uuid)>| -> Vec<Uuid> { page.into_iter().map(|(_, id)| id).collect() };
        let user = UserId::parse("u").expect("valid");
        assert_eq!(
            ids(index.page(&user, None, 10)),
            [a.id, second.id, first.id]
        );
        assert_eq!(ids(index.page(&user, None, 2)), [a.id, second.id]);
        assert_eq!(
            ids(index.page(&user, Some((10, second.id)), 10)),
            [first.id]
        );
        assert_eq!(
            ids(index.page(&user, Some((20, a.id)), 10)),
            [second.id, first.id]
        );
        assert!(
            index
                .page(&UserId::parse("nobody").expect("valid"), None, 10)
                .is_empty()
        );
    }

    #[test]
    fn the_index_adds_once_and_removes_by_id_and_user() {
        let index = Index::default();
        let (one, two) = (entry("u", 7), entry("u", 8));
        assert!(index.add(&one));
        assert!(index.add(&two));
        let again = Entry {
            created: 9,
            ..one.clone()
        };
        assert!(!index.add(&again), "a known id changes nothing");
        assert_eq!(index.key_of(&one.id), Some(one.key()));
        assert_eq!(index.sessions_of(&one.user), [(7, one.id), (8, two.id)]);

        index.remove(std::slice::from_ref(&one));
        assert_eq!(index.key_of(&one.id), None);
        assert_eq!(index.sessions_of(&one.user), [(8, two.id)]);
        index.remove(std::slice::from_ref(&two));
        assert!(index.sessions_of(&two.user).is_empty());
        assert!(index.read().users.is_empty(), "an empty user goes");
    }
}

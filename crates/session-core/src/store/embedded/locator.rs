//! Where each session lives in the `sessions` table: its key, and the in-memory map from a
//! session's id to that key.
//!
//! **Why not the id as the key.** Ids are random, so each create inserted into a random leaf
//! of the B-tree, and each commit copied and checksummed one page per create: most of what
//! the writer thread spent on a create (see docs/benchmarks.md). A session's key is instead its
//! creation time, then its id, so new sessions go to the end of the table, into the few pages
//! that the previous commits already copied. Ids stay random (122 bits, as promised).
//!
//! **The map.** A read by id needs the creation time to find the key. Like the user index,
//! the map is rebuilt from the table when the store opens (from the keys alone) and follows
//! every commit before its writes are acknowledged. The writer adds a new session to it as
//! soon as the session is inserted, so that later writes of the same batch find it; a batch
//! that fails takes its additions back. An entry whose session is not (yet, or any more) in a
//! reader's snapshot is harmless: the read finds no record and answers not found. Removals
//! wait for their commit, so no committed session is ever unreachable.
//!
//! A canonical UUID id is held as a `u128`: about 40 bytes a session, against about 80 as a
//! string. Anything else (ids are taken as stored) keeps its text.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use super::user_index::IndexChange;

/// Bytes of the creation time at the start of every key.
const CREATED_BYTES: usize = 8;

/// The key of the session `id` created at `created` (milliseconds since the epoch): the
/// creation time, big-endian with its sign bit flipped so that keys sort by time (earlier
/// times included), then the id.
pub(super) fn key(created: i64, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(CREATED_BYTES + id.len());
    key.extend_from_slice(&(created.cast_unsigned() ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The creation time and the id a key holds; `None` for bytes that are not a key.
pub(super) fn parts(key: &[u8]) -> Option<(i64, &str)> {
    let (created, id) = key.split_first_chunk::<CREATED_BYTES>()?;
    let created = (u64::from_be_bytes(*created) ^ (1 << 63)).cast_signed();
    Some((created, std::str::from_utf8(id).ok()?))
}

/// A canonical (lowercase, hyphenated) UUID as its 128 bits; `None` for any other text, so
/// that two different ids never share a number.
fn compact(id: &str) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value = 0u128;
    for (at, &byte) in bytes.iter().enumerate() {
        let digit = match (at, byte) {
            (8 | 13 | 18 | 23, b'-') => continue,
            (8 | 13 | 18 | 23, _) => return None,
            (_, b'0'..=b'9') => byte - b'0',
            (_, b'a'..=b'f') => byte - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// Hashes a UUID by folding its halves together: 122 of its bits are random already.
///
/// SipHash, the default, exists to stop clients from filling a map with keys that collide.
/// Clients cannot add to this map (the server makes every id, from the operating system's
/// CSPRNG), and looking up ids of their choosing can only probe what is there.
#[derive(Default)]
struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, value: u128) {
        // The version and variant bits are fixed, but each lies across from random bits.
        self.0 ^= (value as u64) ^ ((value >> 64) as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for a `u128` key; kept correct for any other use.
        for &byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[derive(Debug, Default)]
struct Ids {
    uuids: HashMap<u128, i64, std::hash::BuildHasherDefault<FoldHasher>>,
    others: HashMap<Box<str>, i64>,
}

impl Ids {
    fn get(&self, id: &str) -> Option<i64> {
        match compact(id) {
            Some(uuid) => self.uuids.get(&uuid).copied(),
            None => self.others.get(id).copied(),
        }
    }

    /// Sets the creation time of `id`; returns false (and changes nothing) when `only_new`
    /// and `id` is there already.
    fn set(&mut self, id: &str, created: i64, only_new: bool) -> bool {
        match compact(id) {
            Some(uuid) => match self.uuids.entry(uuid) {
                std::collections::hash_map::Entry::Occupied(_) if only_new => false,
                entry => {
                    entry.insert_entry(created);
                    true
                }
            },
            None => match self.others.entry(id.into()) {
                std::collections::hash_map::Entry::Occupied(_) if only_new => false,
                entry => {
                    entry.insert_entry(created);
                    true
                }
            },
        }
    }

    fn remove(&mut self, id: &str) {
        match compact(id) {
            Some(uuid) => self.uuids.remove(&uuid),
            None => self.others.remove(id),
        };
    }
}

/// The map from id to creation time, shared by readers and the writer.
#[derive(Debug, Default)]
pub(super) struct Locator {
    ids: RwLock<Ids>,
}

impl Locator {
    /// Adds a session while the map is built, before anyone shares it.
    pub(super) fn add_built(&mut self, id: &str, created: i64) {
        self.ids
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .set(id, created, false);
    }

    /// The key of session `id`, if it exists (or is being created).
    pub(super) fn key(&self, id: &str) -> Option<Vec<u8>> {
        let created = self.read().get(id)?;
        Some(key(created, id))
    }

    /// Notes a new session `id` created at `created`, for the writer; false when an id like
    /// it exists already (122 random bits collided), in which case nothing changes.
    pub(super) fn claim(&self, id: &str, created: i64) -> bool {
        self.write().set(id, created, true)
    }

    /// Notes session `id` created at `created`, whether it was known or not (journal replay).
    pub(super) fn place(&self, id: &str, created: i64) {
        self.write().set(id, created, false);
    }

    /// Follows a committed transaction's changes, in order: a replayed session may be
    /// removed and put back in one transaction.
    pub(super) fn apply(&self, changes: &[IndexChange]) {
        let removals = changes
            .iter()
            .any(|change| matches!(change, IndexChange::Remove { .. }));
        // Additions were made when the sessions were inserted; only a removal followed by a
        // new addition needs the additions again.
        if !removals {
            return;
        }
        let mut ids = self.write();
        for change in changes {
            match change {
                IndexChange::Add { created, id, .. } => {
                    ids.set(id, *created, false);
                }
                IndexChange::Remove { id, .. } => ids.remove(id),
            }
        }
    }

    /// Takes back the additions of a transaction that did not commit.
    pub(super) fn abandon(&self, changes: &[IndexChange]) {
        let mut ids = self.write();
        for change in changes {
            if let IndexChange::Add { id, .. } = change {
                ids.remove(id);
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ids> {
        // Each change is one insert or one removal: a panic elsewhere cannot leave the map
        // half-changed.
        self.ids.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ids> {
        self.ids.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_creation_time_then_id_and_give_both_back() {
        let id = "0b6f2c1e-8d4a-4c3b-9a7e-5f1d2c3b4a59";
        let times = [i64::MIN, -1, 0, 1, 1_764_000_000_000, i64::MAX];
        let keys: Vec<_> = times.iter().map(|&at| key(at, id)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "time order");
        for (&at, key) in times.iter().zip(&keys) {
            assert_eq!(parts(key), Some((at, id)));
        }
        assert!(key(5, "a") < key(5, "b"), "then id order");
        assert_eq!(parts(b"short"), None);
        assert_eq!(parts(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]), None, "not UTF-8");
    }

    #[test]
    fn only_canonical_uuids_are_compacted() {
        let id = "0b6f2c1e-8d4a-4c3b-9a7e-5f1d2c3b4a59";
        assert_eq!(compact(id), Some(0x0b6f_2c1e_8d4a_4c3b_9a7e_5f1d_2c3b_4a59));
        assert_eq!(compact(&id.to_uppercase()), None);
        assert_eq!(compact(&id.replace('-', "")), None);
        assert_eq!(compact("0b6f2c1e-8d4a-4c3b-9a7e-5f1d2c3b4a5g"), None);
        assert_eq!(compact("0b6f2c1e-8d4a-4c3b-9a7e+5f1d2c3b4a59"), None);
    }

    #[test]
    fn the_map_claims_once_follows_commits_and_takes_back_abandoned_additions() {
        let locator = Locator::default();
        let (uuid, other) = ("0b6f2c1e-8d4a-4c3b-9a7e-5f1d2c3b4a59", "legacy-id");
        assert!(locator.claim(uuid, 7));
        assert!(locator.claim(other, 8));
        assert!(!locator.claim(uuid, 9), "a collision changes nothing");
        assert_eq!(locator.key(uuid), Some(key(7, uuid)));
        assert_eq!(locator.key(other), Some(key(8, other)));

        let change = |add: bool, id: &str, created| {
            let (user, id) = ("u".to_owned(), id.to_owned());
            if add {
                IndexChange::Add { user, created, id }
            } else {
                IndexChange::Remove { user, created, id }
            }
        };
        // Removed and put back in one transaction, as a journal replay does.
        locator.apply(&[change(false, uuid, 7), change(true, uuid, 7)]);
        assert_eq!(locator.key(uuid), Some(key(7, uuid)));
        locator.apply(&[change(false, uuid, 7), change(false, other, 8)]);
        assert_eq!(locator.key(uuid), None);
        assert_eq!(locator.key(other), None);

        assert!(locator.claim(uuid, 10));
        locator.abandon(&[change(true, uuid, 10)]);
        assert_eq!(locator.key(uuid), None);
    }
}

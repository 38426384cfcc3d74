//! Decoded sessions kept in memory for reads by id and listings.
//!
//! A read by id otherwise opens a redb read transaction, looks the id up in the B-tree and
//! decodes the record, the data's JSON included: about a third of what the server spends on a
//! read of its own, beyond HTTP. Sessions are read far more often than they change (every
//! request of a logged-in user reads its session), so the store keeps the sessions it read
//! recently and serves the next read of each from here.
//!
//! **Coherence.** Only the writer thread and the sweeper change sessions. Around each commit
//! they mark the shards of the sessions it changes as being written: before the commit they
//! drop those sessions from the cache, and after it (or after it failed) they drop them again
//! and lift the mark. A read that misses fills the cache from its own redb snapshot, which may
//! predate a commit; to keep such a stale copy out, each shard counts the marks it has seen,
//! a reader notes the count before it opens its snapshot, and its copy goes in only if the
//! count has not moved and no write is in flight on the shard. So once a write is committed
//! no read by id returns what it replaced, from redb or from here, and reads of a session
//! never go back to an older version.
//!
//! **Size.** Bounded by an estimate of the memory each entry holds (its record's length
//! three times, for the decoded data and for the body encoded for clients once the session is
//! served, plus a fixed overhead). A full shard drops entries in its
//! hash order, which is unrelated to age: random replacement, cheap and good enough for a
//! working set of logged-in users.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::SharedSession;

/// Independent parts, each with its own lock, so that two workers rarely wait for each other.
const SHARDS: usize = 16;
// `Writing` notes the shards it marked in the bits of a `u32`.
const _: () = assert!(SHARDS <= 32);
/// What an entry costs beyond three times its record: the key, the map slot, the session's fixed
/// fields, the allocator's rounding, and the data map's first B-tree node (about 630 bytes
/// however small the data).
const ENTRY_OVERHEAD: usize = 1024;

/// A session as cached, with what it counts against the budget.
struct Entry {
    session: SharedSession,
    cost: usize,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<Box<str>, Entry>,
    /// Bytes held by `entries`, as estimated.
    held: usize,
    /// How many times this shard was marked as being written.
    generation: u64,
    /// Commits in flight that change sessions of this shard.
    writing: u32,
}

/// The cache; all of it behind `&self`, shared by readers and the writer.
pub(super) struct ReadCache {
    shards: Box<[Mutex<Shard>]>,
    /// Budget of each shard, in bytes; 0 disables the cache.
    shard_budget: usize,
}

impl Shard {
    /// Drops `id` and moves the count, so that reads begun before now cache nothing here.
    fn forget(&mut self, id: &str) {
        self.generation += 1;
        if let Some(gone) = self.entries.remove(id) {
            self.held -= gone.cost;
        }
    }
}

/// Sessions being written by a commit in flight; see [`ReadCache::writing`]. Dropping it
/// forgets them once more and lets reads fill the cache again.
pub(super) struct Writing<'a> {
    cache: &'a ReadCache,
    ids: Vec<&'a str>,
    /// Bit `i` set: shard `i` holds one of `ids` and counts this commit in `writing`.
    shards: u32,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            if let Some(mut shard) = self.cache.lock(ReadCache::shard_of(id)) {
                shard.forget(id);
            }
        }
        for index in (0..SHARDS).filter(|index| self.shards & (1 << index) != 0) {
            if let Some(mut shard) = self.cache.lock(index) {
                shard.writing -= 1;
            }
        }
    }
}

/// What a reader noted before it opened its snapshot; see [`ReadCache::lookup`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    shard: usize,
    generation: u64,
}

impl ReadCache {
    /// A cache holding about `budget` bytes of sessions.
    pub(super) fn new(budget: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_budget: budget / SHARDS,
        }
    }

    fn shard_of(id: &str) -> usize {
        // Session ids are random UUIDs: the value of their last hex digit spreads evenly over
        // the 16 shards (the digit's byte would not: '0'..'9' and 'a'..'f' leave 6 of 16
        // remainders unused).
        id.chars()
            .next_back()
            .and_then(|digit| digit.to_digit(16))
            .map_or(0, |value| value as usize % SHARDS)
    }

    fn lock(&self, shard: usize) -> Option<std::sync::MutexGuard<'_, Shard>> {
        if self.shard_budget == 0 {
            return None;
        }
        // A poisoned shard only means a panic elsewhere while it was held; its contents are
        // a map that was never left half-changed by our code, but rather than reason about
        // it, a poisoned cache simply stops serving.
        self.shards.get(shard)?.lock().ok()
    }

    /// The cached session `id`, or, when it is not cached, a ticket noting the state of its
    /// shard: take it before opening the snapshot whose result will be offered to
    /// [`ReadCache::offer`]. `Err(None)` when the cache is off.
    pub(super) fn lookup(&self, id: &str) -> Result<SharedSession, Option<Ticket>> {
        let shard_index = Self::shard_of(id);
        let shard = self.lock(shard_index).ok_or(None)?;
        match shard.entries.get(id) {
            Some(entry) => Ok(entry.session.clone()),
            None => Err(Some(Ticket {
                shard: shard_index,
                generation: shard.generation,
            })),
        }
    }

    /// Caches `session`, read from a snapshot opened after `ticket` was taken, unless a
    /// write may have changed it since. `record_len` is the length of its stored record.
    pub(super) fn offer(&self, ticket: Ticket, session: &SharedSession, record_len: usize) {
        let cost = record_len.saturating_mul(3).saturating_add(ENTRY_OVERHEAD);
        if cost > self.shard_budget {
            return;
        }
        let Some(mut shard) = self.lock(ticket.shard) else {
            return;
        };
        if shard.generation != ticket.generation || shard.writing > 0 {
            return;
        }
        while shard.held + cost > self.shard_budget {
            let Some(victim) = shard.entries.keys().next().cloned() else {
                break;
            };
            if let Some(gone) = shard.entries.remove(&victim) {
                shard.held -= gone.cost;
            }
        }
        let entry = Entry {
            session: session.clone(),
            cost,
        };
        if let Some(replaced) = shard.entries.insert(session.id.as_str().into(), entry) {
            shard.held -= replaced.cost;
        }
        shard.held += cost;
    }

    /// Marks the sessions `ids` as being written by a transaction about to commit, until the
    /// returned guard is dropped (after the commit, or after it failed).
    pub(super) fn writing<'a>(&'a self, ids: Vec<&'a str>) -> Writing<'a> {
        let mut shards = 0u32;
        for id in &ids {
            let index = Self::shard_of(id);
            let Some(mut shard) = self.lock(index) else {
                continue;
            };
            if shards & (1 << index) == 0 {
                shards |= 1 << index;
                shard.writing += 1;
            }
            shard.forget(id);
        }
        Writing {
            cache: self,
            ids,
            shards,
        }
    }

    /// Sessions cached now (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        (0..SHARDS)
            .filter_map(|shard| self.lock(shard))
            .map(|shard| shard.entries.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Session, SessionData, SessionId, Timestamp, UserId};

    fn session(n: u64) -> SharedSession {
        let at = Timestamp::from_epoch_seconds(1_800_000_000);
        SharedSession::new(Session {
            id: SessionId::generate(),
            user_id: UserId::parse("alice").expect("valid user"),
            data: SessionData::new(),
            created_at: at,
            updated_at: at,
            touched_at: at,
            ttl: 1_800_003_600,
            ttl_seconds: 3600,
            version: n,
        })
    }

    fn ticket(cache: &ReadCache, s: &SharedSession) -> Ticket {
        cache
            .lookup(s.id.as_str())
            .expect_err("not cached")
            .expect("enabled")
    }

    #[test]
    fn a_read_fills_the_cache_and_the_next_one_hits() {
        let cache = ReadCache::new(1 << 20);
        let s = session(1);
        let ticket = cache
            .lookup(s.id.as_str())
            .expect_err("not cached yet")
            .expect("enabled");
        cache.offer(ticket, &s, 100);
        assert_eq!(cache.lookup(s.id.as_str()).expect("cached"), s);
    }

    #[test]
    fn a_copy_read_before_an_invalidation_stays_out() {
        let cache = ReadCache::new(1 << 20);
        let s = session(1);
        let noted = ticket(&cache, &s);
        // A write commits between the reader's ticket and its offer.
        drop(cache.writing(vec![s.id.as_str()]));
        cache.offer(noted, &s, 100);
        assert!(cache.lookup(s.id.as_str()).is_err());
        // A later read, with a fresh ticket, caches again.
        cache.offer(ticket(&cache, &s), &s, 100);
        assert!(cache.lookup(s.id.as_str()).is_ok());
    }

    #[test]
    fn a_write_removes_the_cached_copy_and_nothing_is_cached_while_it_is_in_flight() {
        let cache = ReadCache::new(1 << 20);
        let s = session(1);
        let other = session(2);
        cache.offer(ticket(&cache, &s), &s, 100);
        let writing = cache.writing(vec![s.id.as_str(), other.id.as_str()]);
        assert!(cache.lookup(s.id.as_str()).is_err());
        // A read that starts while the commit is in flight may see either version: it
        // must not cache what it saw.
        let during = ticket(&cache, &s);
        cache.offer(during, &s, 100);
        assert!(cache.lookup(s.id.as_str()).is_err());
        drop(writing);
        assert!(cache.lookup(s.id.as_str()).is_err());
        // Once the write is over, reads cache again, in every shard it touched.
        cache.offer(ticket(&cache, &s), &s, 100);
        cache.offer(ticket(&cache, &other), &other, 100);
        assert!(cache.lookup(s.id.as_str()).is_ok());
        assert!(cache.lookup(other.id.as_str()).is_ok());
    }

    #[test]
    fn the_budget_bounds_what_is_held() {
        // Room for about 4 entries of cost 3 * 100 + ENTRY_OVERHEAD per shard.
        let cache = ReadCache::new(SHARDS * 4 * (300 + ENTRY_OVERHEAD));
        for n in 0..2_000 {
            let s = session(n);
            cache.offer(ticket(&cache, &s), &s, 100);
        }
        assert!(cache.len() <= SHARDS * 4, "{} entries", cache.len());
        assert!(cache.len() >= SHARDS * 2, "{} entries", cache.len());
        for (index, shard) in cache.shards.iter().enumerate() {
            let held = shard.lock().expect("not poisoned").entries.len();
            assert!(held > 0, "shard {index} holds nothing: ids do not spread");
        }
        for shard in cache.shards.iter() {
            let shard = shard.lock().expect("not poisoned");
            let sum: usize = shard.entries.values().map(|entry| entry.cost).sum();
            assert_eq!(shard.held, sum);
        }
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = ReadCache::new(0);
        let s = session(1);
        assert!(matches!(cache.lookup(s.id.as_str()), Err(None)));
    }

    #[test]
    fn an_entry_larger_than_a_shard_is_not_cached() {
        let cache = ReadCache::new(SHARDS * 2048);
        let s = session(1);
        cache.offer(ticket(&cache, &s), &s, 4096);
        assert!(cache.lookup(s.id.as_str()).is_err());
    }
}

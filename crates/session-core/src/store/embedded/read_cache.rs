//! Decoded sessions kept in memory for reads by id and listings (`quick_cache`, weighted by an
//! estimate of each session's memory).
//!
//! Sessions are read far more often than they change (every request of a logged-in user reads
//! its session), and a read from here skips redb's read transaction, its B-tree lookup and the
//! decoding of the data's JSON.
//!
//! **Coherence.** A reader that misses fills the cache from its own redb snapshot, which may
//! predate a commit running at the same time; such a stale copy must stay out. The ids are
//! spread over [`STRIPES`] stripes, each with a generation count and a count of commits in
//! flight, under a small mutex. The writer marks the stripes of the sessions a commit changes
//! before it commits, and after the commit (or its failure) drops those sessions from the
//! cache, moves the generations on and lifts its marks, all before it acknowledges the
//! writes. A reader notes its stripe's generation before it opens its snapshot, and its copy
//! goes in (under the stripe's lock) only if the generation has not moved and no commit is in
//! flight on the stripe. So once a write is acknowledged, no read returns what it replaced.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use uuid::Uuid;

use crate::Session;

/// Independent locks for the coherence check, so that readers and the writer rarely wait for
/// each other.
const STRIPES: usize = 64;
/// What an entry costs beyond twice its record (the decoded data is larger than its JSON):
/// the key, the cache's slot, the session's fixed fields, the allocator's rounding, and the
/// data map's first node.
const ENTRY_OVERHEAD: u64 = 1024;
/// A typical entry's cost, to size the cache's tables up front.
const TYPICAL_COST: u64 = 2 * 256 + ENTRY_OVERHEAD;

/// A cached session with its estimated cost.
#[derive(Clone)]
struct Entry {
    session: Arc<Session>,
    cost: u64,
}

#[derive(Clone)]
struct ByCost;

impl Weighter<Uuid, Entry> for ByCost {
    fn weight(&self, _: &Uuid, entry: &Entry) -> u64 {
        entry.cost
    }
}

#[derive(Debug, Default)]
struct Stripe {
    /// Moves on each time a commit changed a session of this stripe.
    generation: u64,
    /// Commits in flight that change sessions of this stripe.
    writing: u32,
}

/// The cache and its coherence check, shared by readers and the writer.
pub(super) struct ReadCache {
    /// `None` when the cache is off.
    cache: Option<Cache<Uuid, Entry, ByCost>>,
    stripes: [Mutex<Stripe>; STRIPES],
}

/// What a reader noted before it opened its snapshot; see [`ReadCache::lookup`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    /// The generation of the session's stripe; `None` when the cache is off.
    generation: Option<u64>,
}

/// The marks of a commit in flight; see [`ReadCache::writing`].
pub(super) struct Writing<'a> {
    cache: &'a ReadCache,
    ids: &'a [Uuid],
}

impl ReadCache {
    /// A cache holding about `budget` bytes of sessions; 0 turns it off.
    pub(super) fn new(budget: usize) -> Self {
        let budget = u64::try_from(budget).unwrap_or(u64::MAX);
        let items = usize::try_from(budget / TYPICAL_COST).unwrap_or(usize::MAX);
        Self {
            cache: (budget > 0).then(|| Cache::with_weighter(items.max(1), budget, ByCost)),
            stripes: std::array::from_fn(|_| Mutex::default()),
        }
    }

    fn stripe(&self, id: &Uuid) -> MutexGuard<'_, Stripe> {
        // The low bits of a version 4 UUID are random. A stripe holds two counters, never
        // left half-changed, so a poisoned lock is used as it is.
        self.stripes[id.as_u128() as usize % STRIPES]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached session `id`, or, when it is not cached, a ticket to take before opening
    /// the snapshot whose copy will be offered to [`ReadCache::offer`].
    pub(super) fn lookup(&self, id: &Uuid) -> Result<Arc<Session>, Ticket> {
        let Some(cache) = &self.cache else {
            return Err(Ticket { generation: None });
        };
        if let Some(entry) = cache.get(id) {
            return Ok(entry.session);
        }
        Err(Ticket {
            generation: Some(self.stripe(id).generation),
        })
    }

    /// Caches `session`, read from a snapshot opened after `ticket` was taken, unless a commit
    /// may have changed it since. `record_len` is the length of its stored record.
    pub(super) fn offer(&self, ticket: Ticket, session: &Arc<Session>, record_len: usize) {
        let (Some(cache), Some(generation)) = (&self.cache, ticket.generation) else {
            return;
        };
        let id = session.id.as_uuid();
        let stripe = self.stripe(id);
        if stripe.generation == generation && stripe.writing == 0 {
            let cost = u64::try_from(record_len)
                .unwrap_or(u64::MAX)
                .saturating_mul(2)
                .saturating_add(ENTRY_OVERHEAD);
            let entry = Entry {
                session: session.clone(),
                cost,
            };
            // Under the stripe's lock: the writer cannot drop the id in between.
            cache.insert(*id, entry);
        }
    }

    /// Marks the sessions `ids` as being written by a transaction about to commit, until the
    /// returned guard is dropped (after the commit, or after it failed), which drops them from
    /// the cache.
    pub(super) fn writing<'a>(&'a self, ids: &'a [Uuid]) -> Writing<'a> {
        if self.cache.is_some() {
            for id in ids {
                self.stripe(id).writing += 1;
            }
        }
        Writing { cache: self, ids }
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let Some(cache) = &self.cache.cache else {
            return;
        };
        for id in self.ids {
            let mut stripe = self.cache.stripe(id);
            cache.remove(id);
            stripe.generation += 1;
            stripe.writing -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SessionData, SessionId, Timestamp, UserId};

    fn session(n: u64) -> Arc<Session> {
        let at = Timestamp::from_epoch_seconds(1_800_000_000);
        Arc::new(Session {
            id: SessionId::generate(),
            secret_hash: crate::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
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

    fn ticket(cache: &ReadCache, s: &Session) -> Ticket {
        cache.lookup(s.id.as_uuid()).expect_err("not cached")
    }

    #[test]
    fn a_read_fills_the_cache_and_the_next_one_hits() {
        let cache = ReadCache::new(1 << 20);
        let s = session(1);
        cache.offer(ticket(&cache, &s), &s, 100);
        assert_eq!(cache.lookup(s.id.as_uuid()).expect("cached"), s);
    }

    #[test]
    fn a_copy_read_before_a_commit_stays_out() {
        let cache = ReadCache::new(1 << 20);
        let s = session(1);
        let noted = ticket(&cache, &s);
        // A write commits between the reader's ticket and its offer.
        let ids = [*s.id.as_uuid()];
        drop(cache.writing(&ids));
        cache.offer(noted, &s, 100);
        assert!(cache.lookup(s.id.as_uuid()).is_err());
        // A later read, with a fresh ticket, caches again.
        cache.offer(ticket(&cache, &s), &s, 100);
        assert!(cache.lookup(s.id.as_uuid()).is_ok());
    }

    #[test]
    fn a_commit_drops_the_cached_copy_and_nothing_is_cached_while_it_is_in_flight() {
        let cache = ReadCache::new(1 << 20);
        let (s, other) = (session(1), session(2));
        cache.offer(ticket(&cache, &s), &s, 100);
        let ids = [*s.id.as_uuid(), *other.id.as_uuid()];
        let writing = cache.writing(&ids);
        // A read that starts while the commit is in flight may see either version: it must
        // not cache what it saw.
        let during = ticket(&cache, &other);
        cache.offer(during, &other, 100);
        assert!(cache.lookup(other.id.as_uuid()).is_err());
        drop(writing);
        assert!(
            cache.lookup(s.id.as_uuid()).is_err(),
            "dropped by the commit"
        );
        // Once the commit is over, reads cache again.
        cache.offer(ticket(&cache, &s), &s, 100);
        cache.offer(ticket(&cache, &other), &other, 100);
        assert!(cache.lookup(s.id.as_uuid()).is_ok());
        assert!(cache.lookup(other.id.as_uuid()).is_ok());
    }

    #[test]
    fn the_budget_bounds_what_is_held() {
        let budget = 50 * (200 + ENTRY_OVERHEAD);
        let cache = ReadCache::new(usize::try_from(budget).expect("small"));
        for n in 0..2_000 {
            let s = session(n);
            cache.offer(ticket(&cache, &s), &s, 100);
        }
        let held = cache.cache.as_ref().expect("on");
        assert!(held.weight() <= budget, "{} bytes", held.weight());
        assert!(held.len() <= 50, "{} entries", held.len());
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = ReadCache::new(0);
        let s = session(1);
        cache.offer(ticket(&cache, &s), &s, 100);
        assert!(cache.lookup(s.id.as_uuid()).is_err());
    }
}

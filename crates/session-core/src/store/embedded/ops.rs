//! The bodies of the embedded store's operations. Writes run inside the writer's batch
//! transaction and check everything before they change anything, so a refusal leaves the
//! batch untouched; reads run on the caller's thread.

use std::ops::Bound;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable};
use uuid::Uuid;

use super::index::{self, Entry};
use super::read_cache::Ticket;
use super::record::{decode, encode};
use super::writer::{Tx, TxnResult};
use super::{SESSIONS, Shared, map_redb};
use crate::store::{PageRequest, SecretCheck, StorePage, VersionCheck};
use crate::{Created, Session, SessionError, SessionId, Timestamp, UserId, UserLimit};

/// `session` unless it is expired at `now`.
pub(super) fn live<S: std::borrow::Borrow<Session>>(
    session: S,
    now: Timestamp,
) -> Result<S, SessionError> {
    if session.borrow().is_expired(now) {
        Err(SessionError::Expired)
    } else {
        Ok(session)
    }
}

pub(super) fn check_version(session: &Session, check: &VersionCheck) -> Result<(), SessionError> {
    if check.admits(session.version) {
        Ok(())
    } else {
        Err(SessionError::VersionMismatch {
            current: session.version,
        })
    }
}

/// `session` if `secret` admits it, else `NotFound`: checked before expiry, so a wrong secret
/// learns nothing about the session.
pub(super) fn admitted<S: std::borrow::Borrow<Session>>(
    session: S,
    secret: &SecretCheck,
) -> Result<S, SessionError> {
    if secret.admits(&session.borrow().secret_hash) {
        Ok(session)
    } else {
        Err(SessionError::NotFound)
    }
}

/// Reads session `id` from the read cache, or from a snapshot that then fills the cache.
pub(super) fn get(shared: &Shared, id: &SessionId) -> Result<Arc<Session>, SessionError> {
    let ticket = match shared.cache.lookup(id.as_uuid()) {
        Ok(cached) => return Ok(cached),
        // Taken before the snapshot opens; see `read_cache`.
        Err(ticket) => ticket,
    };
    let key = shared
        .index
        .key_of(id.as_uuid())
        .ok_or(SessionError::NotFound)?;
    let txn = shared.db.begin_read().map_err(map_redb)?;
    let table = txn.open_table(SESSIONS).map_err(map_redb)?;
    load_caching(shared, &table, &key, ticket)
}

/// Loads the session stored under `key` from a snapshot opened after `ticket` was taken, and
/// offers it to the read cache.
fn load_caching(
    shared: &Shared,
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
    ticket: Ticket,
) -> Result<Arc<Session>, SessionError> {
    let record = table
        .get(key)
        .map_err(map_redb)?
        .ok_or(SessionError::NotFound)?;
    let record = record.value();
    let session = Arc::new(decode(record)?);
    shared.cache.offer(ticket, &session, record.len());
    Ok(session)
}

/// A session to create, made ready on the caller's thread, so that the writer thread, which
/// every write goes through one at a time, only has to insert it: the record is encoded where
/// requests run in parallel.
pub(super) struct NewSession {
    entry: Entry,
    record: Vec<u8>,
    /// The creation instant: the create's now, at which the user's sessions are counted.
    now: Timestamp,
}

impl NewSession {
    /// `session`, ready to insert.
    pub(super) fn prepare(session: &Session) -> Result<Self, SessionError> {
        Ok(Self {
            entry: Entry {
                user: session.user_id.clone(),
                created: session.created_at.millis(),
                id: *session.id.as_uuid(),
            },
            record: encode(session)?,
            now: session.created_at,
        })
    }
}

/// Inserts `new`; refuses, changing nothing, an id that is taken. Under `limit`, counts the
/// user's live sessions first, in this transaction (which every write goes through), and
/// refuses or evicts as the limit says.
pub(super) fn create(tx: &Tx<'_>, new: NewSession, limit: Option<UserLimit>) -> TxnResult<Created> {
    if tx.key_of(&new.entry.id).is_some() {
        // 122 random bits collided.
        return Ok(Err(SessionError::internal("session id collision")));
    }
    let mut created = Created::default();
    if let Some(limit) = limit {
        let victims = match limit.admit(live_sessions_of(tx, &new.entry.user, new.now, limit.max)?)
        {
            Ok(victims) => victims,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for (at, id) in victims {
            if tx.remove(&index::key(at, &id))?.is_ok() {
                created.evicted += 1;
            }
        }
    }
    if tx.create(new.entry, &new.record)? {
        Ok(Ok(created))
    } else {
        Ok(Err(SessionError::internal("session id collision")))
    }
}

/// `user`'s sessions live at `now`, as (created, id), when there may be `max` of them; fewer
/// than `max` sessions in the index cannot reach the limit, so they are not looked at.
fn live_sessions_of(
    tx: &Tx<'_>,
    user: &UserId,
    now: Timestamp,
    max: usize,
) -> Result<Vec<(i64, Uuid)>, redb::Error> {
    let indexed = tx.sessions_of(user);
    if indexed.len() < max {
        return Ok(indexed);
    }
    let mut live = Vec::with_capacity(indexed.len());
    for (at, id) in indexed {
        // Removed earlier in this batch (absent from the table already), or expired and not
        // purged yet: neither counts.
        if let Some(ttl) = tx.ttl(&index::key(at, &id))?
            && !crate::policy::is_expired(ttl, now)
        {
            live.push((at, id));
        }
    }
    Ok(live)
}

/// Loads the live session `id`, if `secret` admits it, lets `change` edit a copy (or refuse),
/// and stores the copy.
pub(super) fn update(
    tx: &Tx<'_>,
    id: &SessionId,
    secret: &SecretCheck,
    now: Timestamp,
    change: impl FnOnce(&mut Session) -> Result<(), SessionError>,
) -> TxnResult<Session> {
    let Some(key) = tx.key_of(id.as_uuid()) else {
        return Ok(Err(SessionError::NotFound));
    };
    let loaded = tx.load(&key)?;
    let mut session = match loaded.and_then(|found| live(admitted(found, secret)?, now)) {
        Ok(current) => current,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Err(refusal) = change(&mut session) {
        return Ok(Err(refusal));
    }
    let record = match encode(&session) {
        Ok(record) => record,
        Err(error) => return Ok(Err(error)),
    };
    tx.update(&key, id.as_uuid(), &record)?;
    Ok(Ok(session))
}

/// Removes session `id`, if `secret` admits it; `NotFound` when there is none.
pub(super) fn delete(tx: &Tx<'_>, id: &SessionId, secret: &SecretCheck) -> TxnResult<()> {
    let Some(key) = tx.key_of(id.as_uuid()) else {
        return Ok(Err(SessionError::NotFound));
    };
    if let SecretCheck::Matches(_) = secret
        && let Err(refusal) = tx.load(&key)?.and_then(|found| admitted(found, secret))
    {
        return Ok(Err(refusal));
    }
    Ok(tx.remove(&key)?.map(|_| ()))
}

/// Removes the sessions `sessions` (as (created, id)); returns how many of them were live at
/// `now`.
pub(super) fn delete_sessions(
    tx: &Tx<'_>,
    sessions: &[(i64, Uuid)],
    now: Timestamp,
) -> TxnResult<u64> {
    let mut live = 0;
    for &(created, id) in sessions {
        // A session removed earlier in the batch is `NotFound` here.
        if let Ok(ttl) = tx.remove(&index::key(created, &id))?
            && !crate::policy::is_expired(ttl, now)
        {
            live += 1;
        }
    }
    Ok(Ok(live))
}

/// A page of `user`'s live sessions, newest first, from the index and snapshots opened after
/// each chunk of it was read (see `index`).
pub(super) fn list_user(
    shared: &Shared,
    user: &UserId,
    page: &PageRequest,
    now: Timestamp,
) -> Result<StorePage, SessionError> {
    let mut after = match &page.after {
        None => None,
        Some(at) => {
            let id = SessionId::parse(&at.id).ok_or(SessionError::InvalidCursor)?;
            Some((at.created()?.millis(), *id.as_uuid()))
        }
    };
    let mut found = Vec::with_capacity(page.limit + 1);
    // Candidates come in chunks of a page: expired or removed ones are skipped, and a user
    // with many sessions is not copied whole for every page.
    let chunk = page.limit + 1;
    while found.len() <= page.limit {
        let candidates = shared.index.page(user, after, chunk);
        let Some(&last) = candidates.last() else {
            break;
        };
        after = Some(last);
        // Cached sessions first; the tickets of the others are taken before the snapshot
        // opens, so that what it reads may fill the cache (see `read_cache`).
        let looked: Vec<_> = candidates
            .iter()
            .map(|(_, id)| shared.cache.lookup(id))
            .collect();
        let txn = shared.db.begin_read().map_err(map_redb)?;
        let table = txn.open_table(SESSIONS).map_err(map_redb)?;
        for (&(created, id), looked) in candidates.iter().zip(looked) {
            let loaded = looked.or_else(|ticket: Ticket| {
                load_caching(shared, &table, &index::key(created, &id), ticket)
            });
            match loaded {
                Ok(session) if !session.is_expired(now) => {
                    found.push(Arc::unwrap_or_clone(session));
                }
                Ok(_) | Err(SessionError::NotFound) => continue,
                Err(error) => return Err(error),
            }
            if found.len() > page.limit {
                break;
            }
        }
        if candidates.len() < chunk {
            break;
        }
    }
    Ok(StorePage::from_found(found, page.limit))
}

/// A page of every live session, oldest first (the table's order).
pub(super) fn list_all(
    shared: &Shared,
    page: &PageRequest,
    now: Timestamp,
) -> Result<StorePage, SessionError> {
    let after = match &page.after {
        None => None,
        Some(at) => {
            let id = SessionId::parse(&at.id).ok_or(SessionError::InvalidCursor)?;
            Some(index::key(at.created()?.millis(), id.as_uuid()))
        }
    };
    let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let txn = shared.db.begin_read().map_err(map_redb)?;
    let table = txn.open_table(SESSIONS).map_err(map_redb)?;
    let mut found = Vec::with_capacity(page.limit + 1);
    for stored in table
        .range::<&[u8]>((start, Bound::Unbounded))
        .map_err(map_redb)?
    {
        let (_, record) = stored.map_err(map_redb)?;
        let session = decode(record.value())?;
        if session.is_expired(now) {
            continue;
        }
        found.push(session);
        if found.len() > page.limit {
            break;
        }
    }
    Ok(StorePage::from_found(found, page.limit))
}

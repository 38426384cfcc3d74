//! The bodies of the embedded store's transactions. Each checks everything before it changes
//! anything, so a refusal leaves the shared batch transaction untouched.

use std::borrow::Borrow;
use std::ops::Bound;

use redb::{ReadTransaction, ReadableDatabase, ReadableTable};

use super::journal::Change;
use super::locator::{self, Locator};
use super::read_cache::{ReadCache, Ticket};
use super::record::{decode, encode};
use super::user_index::{IndexChange, UserIndex};
use super::writer::Tx;
use super::{SESSIONS, map_redb};
use crate::store::{PageRequest, StorePage, VersionCheck};
use crate::{Session, SessionError, SessionId, SharedSession, Timestamp, UserId};

type TxnResult<T> = Result<Result<T, SessionError>, redb::Error>;

/// Loads the session stored under `key`.
pub(super) fn load(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Session, SessionError> {
    load_sized(table, key).map(|(session, _)| session)
}

/// Loads the session stored under `key` from a snapshot opened after `ticket` was taken, and
/// offers it to the read cache (see `read_cache`); `ticket` is `None` when the cache is off.
pub(super) fn load_caching(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
    cache: &ReadCache,
    ticket: Option<Ticket>,
) -> Result<SharedSession, SessionError> {
    let (session, record_len) = load_sized(table, key)?;
    let session = SharedSession::new(session);
    if let Some(ticket) = ticket {
        cache.offer(ticket, &session, record_len);
    }
    Ok(session)
}

/// Loads the session stored under `key` with the length of its record.
fn load_sized(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<(Session, usize), SessionError> {
    let record = table
        .get(key)
        .map_err(map_redb)?
        .ok_or(SessionError::NotFound)?;
    let record = record.value();
    Ok((decode(record)?, record.len()))
}

pub(super) fn live<S: Borrow<Session>>(session: S, now: Timestamp) -> Result<S, SessionError> {
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

/// A session to create, made ready on the caller's thread, so that the writer thread, which
/// every write goes through one at a time, only has to insert it: the record is encoded and
/// the strings are allocated where requests run in parallel, and no copy of the session is
/// freed on the writer thread.
pub(super) struct NewSession {
    id: String,
    user: String,
    created: i64,
    record: Vec<u8>,
}

impl NewSession {
    /// `session`, ready to insert.
    pub(super) fn prepare(session: &Session) -> Result<Self, SessionError> {
        Ok(Self {
            id: session.id.as_str().to_owned(),
            user: session.user_id.as_str().to_owned(),
            created: session.created_at.millis(),
            record: encode(session)?,
        })
    }
}

/// Inserts `new`; refuses, changing nothing, an id that is taken.
pub(super) fn create(tx: &Tx<'_>, new: NewSession) -> TxnResult<()> {
    let NewSession {
        id,
        user,
        created,
        record,
    } = new;
    if !tx.claim(&id, created) {
        // 122 random bits collided.
        return Ok(Err(SessionError::internal("session id collision")));
    }
    let key = locator::key(created, &id);
    // Noted before the insert: if the insert fails, the batch takes back what it noted.
    tx.index(IndexChange::Add {
        user,
        created,
        id: id.clone(),
    });
    tx.sessions().insert(key.as_slice(), record.as_slice())?;
    tx.put(id, record);
    Ok(Ok(()))
}

/// Adds `session` to the user index once the transaction commits.
fn index(tx: &Tx<'_>, session: &Session) {
    tx.index(IndexChange::Add {
        user: session.user_id.as_str().to_owned(),
        created: session.created_at.millis(),
        id: session.id.as_str().to_owned(),
    });
}

/// Applies one journalled change on replay: the session ends up exactly as the change says,
/// whatever state it was in, so replaying a change twice is harmless.
pub(super) fn replay(tx: &Tx<'_>, change: Change) -> TxnResult<()> {
    match change {
        Change::Remove { id } => {
            remove(tx, &id)?.ok();
        }
        Change::Put { id, record } => {
            let session = match decode(&record) {
                Ok(session) if session.id.as_str() == id => session,
                Ok(_) => {
                    return Ok(Err(SessionError::internal(format!(
                        "journalled record for {id} names another session"
                    ))));
                }
                Err(error) => return Ok(Err(error)),
            };
            remove(tx, &id)?.ok();
            let created = session.created_at.millis();
            tx.place(&id, created);
            index(tx, &session);
            tx.sessions()
                .insert(locator::key(created, &id).as_slice(), record.as_slice())?;
        }
    }
    Ok(Ok(()))
}

/// Loads the live session `id`, lets `change` edit a copy (or refuse), and stores the copy.
pub(super) fn update(
    tx: &Tx<'_>,
    id: &SessionId,
    now: Timestamp,
    change: impl FnOnce(&mut Session) -> Result<(), SessionError>,
) -> TxnResult<Session> {
    let Some(key) = tx.locate(id.as_str()) else {
        return Ok(Err(SessionError::NotFound));
    };
    let current = match load(&*tx.sessions(), &key).and_then(|found| live(found, now)) {
        Ok(current) => current,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let mut next = current.clone();
    if let Err(refusal) = change(&mut next) {
        return Ok(Err(refusal));
    }
    let record = match encode(&next) {
        Ok(record) => record,
        Err(error) => return Ok(Err(error)),
    };
    tx.sessions().insert(key.as_slice(), record.as_slice())?;
    tx.put(id.as_str().to_owned(), record);
    Ok(Ok(next))
}

/// Removes session `id` and its index entries; `NotFound` when there is none.
pub(super) fn remove(tx: &Tx<'_>, id: &str) -> TxnResult<Session> {
    match tx.locate(id) {
        Some(key) => remove_at(tx, &key),
        None => Ok(Err(SessionError::NotFound)),
    }
}

/// Removes the session stored under `key` and its index entries; `NotFound` when there is
/// none.
pub(super) fn remove_at(tx: &Tx<'_>, key: &[u8]) -> TxnResult<Session> {
    let session = {
        let mut sessions = tx.sessions();
        let session = match load(&*sessions, key) {
            Ok(session) => session,
            Err(refusal) => return Ok(Err(refusal)),
        };
        sessions.remove(key)?;
        session
    };
    // The key's own creation time and id: they are what the index and the locator hold.
    let (created, id) =
        locator::parts(key).unwrap_or((session.created_at.millis(), session.id.as_str()));
    tx.index(IndexChange::Remove {
        user: session.user_id.as_str().to_owned(),
        created,
        id: id.to_owned(),
    });
    tx.removed(id);
    Ok(Ok(session))
}

pub(super) fn delete_user(
    tx: &Tx<'_>,
    index: &UserIndex,
    user_id: &UserId,
    now: Timestamp,
) -> TxnResult<u64> {
    // The index holds what earlier batches committed; this batch's own creates are not in it
    // yet. A session listed twice, or already removed, is `NotFound` the second time.
    let mut entries = index.entries(user_id.as_str());
    entries.extend(tx.indexed_here(user_id.as_str()));
    let mut live = 0;
    for (created, id) in entries {
        if let Ok(session) = remove_at(tx, &locator::key(created, &id))?
            && !session.is_expired(now)
        {
            live += 1;
        }
    }
    Ok(Ok(live))
}

/// A page of `user_id`'s live sessions, newest first, from the in-memory index and the
/// `sessions` table of `txn`, a read transaction begun after the index was read (see
/// `user_index`).
pub(super) fn list_user(
    index: &UserIndex,
    cache: &ReadCache,
    db: &redb::Database,
    user_id: &UserId,
    page: &PageRequest,
    now: Timestamp,
) -> TxnResult<StorePage> {
    let mut after = match page.after.as_ref().map(|at| (at, at.created())) {
        None => None,
        Some((at, Ok(Some(created)))) => Some((created.millis(), at.id.clone())),
        Some(_) => return Ok(Err(SessionError::InvalidCursor)),
    };
    let mut found = Vec::with_capacity(page.limit + 1);
    // Candidates come in chunks of a page: expired or removed ones are skipped, and a user
    // with many sessions is not copied whole for every page.
    let chunk = page.limit + 1;
    while found.len() <= page.limit {
        let candidates = index.page(
            user_id.as_str(),
            after.as_ref().map(|(created, id)| (*created, id.as_str())),
            chunk,
        );
        let Some((created, id)) = candidates.last() else {
            break;
        };
        after = Some((*created, id.to_string()));
        let exhausted = candidates.len() < chunk;
        // Cached sessions first; the tickets of the others are taken before the snapshot
        // opens, so that what it reads may fill the cache (see `read_cache`).
        let looked: Vec<_> = candidates.iter().map(|(_, id)| cache.lookup(id)).collect();
        let txn = db.begin_read()?;
        let sessions = txn.open_table(SESSIONS)?;
        for ((created, id), looked) in candidates.iter().zip(looked) {
            let loaded = looked.or_else(|ticket| {
                load_caching(&sessions, &locator::key(*created, id), cache, ticket)
            });
            match loaded {
                Ok(session) if !session.is_expired(now) => found.push(session.into_session()),
                Ok(_) | Err(SessionError::NotFound) => continue,
                Err(error) => return Ok(Err(error)),
            }
            if found.len() > page.limit {
                break;
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(Ok(StorePage::from_found(found, page.limit)))
}

/// A page of every live session, oldest first (the table's order). A cursor made by an
/// earlier version holds only an id; it resumes after that session if it still exists.
pub(super) fn list_all(
    txn: &ReadTransaction,
    locator: &Locator,
    page: &PageRequest,
    now: Timestamp,
) -> TxnResult<StorePage> {
    let sessions = txn.open_table(SESSIONS)?;
    let after = match page.after.as_ref().map(|at| (at, at.created())) {
        None => None,
        Some((at, Ok(Some(created)))) => Some(locator::key(created.millis(), &at.id)),
        Some((at, Ok(None))) => match locator.key(&at.id) {
            Some(key) => Some(key),
            None => return Ok(Err(SessionError::InvalidCursor)),
        },
        Some((_, Err(error))) => return Ok(Err(error)),
    };
    let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut found = Vec::with_capacity(page.limit + 1);
    for entry in sessions.range::<&[u8]>((start, Bound::Unbounded))? {
        let (_, record) = entry?;
        match decode(record.value()) {
            Ok(session) if !session.is_expired(now) => found.push(session),
            Ok(_) => continue,
            Err(error) => return Ok(Err(error)),
        }
        if found.len() > page.limit {
            break;
        }
    }
    Ok(Ok(StorePage::from_found(found, page.limit)))
}

//! `EmbeddedStore`: sessions in a local `redb` file, for a laptop, a single container, or tests.
//!
//! One table: `sessions_by_creation` (creation time and id → record; see `locator` for why
//! not the id alone); the sweeper reads every record's `ttl` (see `sweeper`). The map from id
//! to key (see `locator`) and the per-user index, for listings newest first (see
//! `user_index`), live in memory, and so do recently read sessions (see `read_cache`). All
//! writes go through one writer thread that commits in batches (see `writer`); reads run on
//! the caller's thread, from the read cache or against a consistent snapshot.

mod derived;
mod journal;
mod locator;
mod ops;
mod read_cache;
mod record;
mod sweeper;
mod user_index;
mod writer;

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use redb::backends::InMemoryBackend;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::store::{PageRequest, SessionStore, StorePage, VersionCheck};
use crate::{
    Clock, DataPatch, ExpiryPolicy, Session, SessionData, SessionError, SessionId, SharedSession,
    SystemClock, Timestamp, UserId,
};

use derived::Derived;
use journal::Journal;
use writer::{ClosureOp, Tx, WriteOp};

pub(crate) const SESSIONS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("sessions_by_creation");
/// The sessions table of earlier versions, keyed by id; moved into `SESSIONS` on open.
const LEGACY_SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// The per-user index of earlier versions, kept in the file; dropped on open now that the
/// index lives in memory.
const LEGACY_BY_USER: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("sessions_by_user");
/// The expiry index of earlier versions, dropped on open now that the sweeper reads the
/// records themselves.
const LEGACY_BY_EXPIRY: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("sessions_by_expiry");

/// Default grace period between expiry and purge (`SESSION_PURGE_AFTER_SECONDS`).
pub const DEFAULT_PURGE_AFTER_SECONDS: u64 = 3600;
/// Default size of redb's page cache (`EMBEDDED_CACHE_MB`), in MiB.
///
/// Small on purpose. Half of the cache may hold pages that commits changed but did not sync
/// (see `journal`), and the checkpoint writes all of them out at once, holding up every write
/// meanwhile: with redb's default of 1 GiB, creates stalled for tens of milliseconds at each
/// checkpoint. With 32 MiB, such pages trickle out as the buffer fills, creates were 20%
/// faster, their p99 latency 2 to 7 times lower, and reads as fast (the operating system's
/// page cache serves what redb's does not hold); see docs/benchmarks.md.
pub const DEFAULT_CACHE_MB: usize = 32;
/// Default size of the cache of decoded sessions for reads and listings (`EMBEDDED_READ_CACHE_MB`),
/// in MiB: room for about 9,000 sessions with 200 bytes of data each. See `read_cache`.
pub const DEFAULT_READ_CACHE_MB: usize = 16;

/// Settings of the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// A session is purged no sooner than this many seconds after it expired, so that clients
    /// see 410 for a while, as they do on DynamoDB.
    pub purge_after_seconds: u64,
    /// How often the sweeper looks for sessions to purge.
    pub sweep_interval: Duration,
    /// The sweeper's clock.
    pub clock: Arc<dyn Clock>,
    /// Bytes of memory for redb's page cache (a database file only).
    pub cache_bytes: usize,
    /// Bytes of memory for decoded sessions kept for reads by id and listings; 0 turns that
    /// cache off.
    pub read_cache_bytes: usize,
    /// Longest time a write is durable only in the journal before redb's file is made
    /// durable and the journal emptied (a database file only). Longer means fewer
    /// checkpoints and a longer replay after a crash.
    pub checkpoint_interval: Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            purge_after_seconds: DEFAULT_PURGE_AFTER_SECONDS,
            sweep_interval: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            cache_bytes: DEFAULT_CACHE_MB << 20,
            read_cache_bytes: DEFAULT_READ_CACHE_MB << 20,
            checkpoint_interval: journal::DEFAULT_CHECKPOINT_INTERVAL,
        }
    }
}

/// Sessions in a `redb` database file (or in memory, for tests).
pub struct EmbeddedStore {
    db: Arc<Database>,
    derived: Arc<Derived>,
    queue: Mutex<Option<Sender<Box<dyn WriteOp>>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    options: EmbeddedOptions,
    location: String,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path`, creating its directory if needed.
    /// Fails if another process has the file open.
    pub fn open(path: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self, SessionError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                SessionError::internal(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(path)
            .map_err(|e| {
                SessionError::internal(format!(
                    "cannot open embedded store {}: {e}",
                    path.display()
                ))
            })?;
        let location = path.display().to_string();
        let journal_path = journal::path_for(path);
        let (journal, replay) =
            Journal::open(&journal_path, options.checkpoint_interval).map_err(|e| {
                SessionError::internal(format!(
                    "cannot open the embedded store journal {}: {e}",
                    journal_path.display()
                ))
            })?;
        Self::start(db, Some((journal, replay)), options, location)
    }

    /// A store that lives in memory and vanishes when dropped.
    pub fn in_memory(options: EmbeddedOptions) -> Result<Self, SessionError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(|e| SessionError::internal(format!("cannot create in-memory store: {e}")))?;
        // Nothing in memory survives the process, so a journal would buy nothing.
        Self::start(db, None, options, "memory".to_owned())
    }

    /// Brings the file up to this version's layout, builds what lives in memory, replays what
    /// `journal` holds, and starts the writer.
    fn start(
        db: Database,
        journal: Option<(Journal, Vec<journal::Change>)>,
        options: EmbeddedOptions,
        location: String,
    ) -> Result<Self, SessionError> {
        let db = Arc::new(db);
        upgrade_layout(&db, &location)?;
        let derived = Arc::new(Derived::build(
            &db.begin_read().map_err(map_redb)?,
            options.read_cache_bytes,
        )?);
        let journal = match journal {
            Some((mut journal, replay)) => {
                if !replay.is_empty() {
                    replay_journal(&db, &derived, &mut journal, replay, &location)?;
                }
                Some(journal)
            }
            None => None,
        };

        let (queue, receiver) = mpsc::channel();
        let chores = Box::new(sweeper::Sweeper::new(
            options.clock.clone(),
            options.purge_after_seconds,
            options.sweep_interval,
        ));
        let (writer_db, writer_derived) = (db.clone(), derived.clone());
        let writer = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || writer::run(writer_db, writer_derived, journal, receiver, chores))
            .map_err(|e| SessionError::internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            db,
            derived,
            queue: Mutex::new(Some(queue)),
            writer: Mutex::new(Some(writer)),
            options,
            location,
        })
    }

    /// Purges now every session that expired at least `purge_after_seconds` ago by the store's
    /// clock; returns how many were purged. The sweeper calls the same code periodically.
    pub async fn purge_expired(&self) -> Result<u64, SessionError> {
        let cutoff = sweeper::cutoff(self.options.clock.now(), self.options.purge_after_seconds);
        self.write(move |tx| Ok(Ok(sweeper::purge_until(tx, cutoff)?)))
            .await
    }

    /// Stops the writer after it has committed everything queued, and waits for it. Later
    /// writes fail with `Unavailable`. Dropping the store does the same.
    pub fn close(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::error!("the embedded store writer thread panicked");
        }
    }

    async fn write<T, F>(&self, run: F) -> Result<T, SessionError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<Result<T, SessionError>, redb::Error> + Send + 'static,
    {
        let (op, reply) = ClosureOp::new(run);
        {
            let queue = self
                .queue
                .lock()
                .map_err(|_| SessionError::internal("embedded store queue lock poisoned"))?;
            let queue = queue
                .as_ref()
                .ok_or_else(|| SessionError::unavailable("the embedded store is closed"))?;
            queue
                .send(Box::new(op))
                .map_err(|_| SessionError::unavailable("the embedded store writer has stopped"))?;
        }
        reply
            .await
            .map_err(|_| SessionError::unavailable("the embedded store writer has stopped"))?
    }

    /// Reads run inline: a redb read is a few page lookups in its cache, cheaper than a hop to
    /// a blocking thread.
    fn read<T>(
        &self,
        run: impl FnOnce(&redb::ReadTransaction) -> Result<Result<T, SessionError>, redb::Error>,
    ) -> Result<T, SessionError> {
        let txn = self.db.begin_read().map_err(map_redb)?;
        run(&txn).map_err(map_redb)?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl SessionStore for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn create(&self, session: &Session) -> Result<(), SessionError> {
        let new = ops::NewSession::prepare(session)?;
        self.write(move |tx| ops::create(tx, new)).await
    }

    async fn get(&self, id: &SessionId, now: Timestamp) -> Result<SharedSession, SessionError> {
        let cache = &self.derived.cache;
        let ticket = match cache.lookup(id.as_str()) {
            Ok(cached) => return ops::live(cached, now),
            // Taken before the snapshot opens; see `read_cache`.
            Err(ticket) => ticket,
        };
        let key = self
            .derived
            .locator
            .key(id.as_str())
            .ok_or(SessionError::NotFound)?;
        let session = self.read(|txn| {
            let table = txn.open_table(SESSIONS)?;
            Ok(ops::load_caching(&table, &key, cache, ticket))
        })?;
        ops::live(session, now)
    }

    async fn replace(
        &self,
        id: &SessionId,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, data, check) = (id.clone(), data.clone(), check.clone());
        self.write(move |tx| {
            ops::update(tx, &id, now, |session| {
                ops::check_version(session, &check)?;
                session.data = data;
                session.updated_at = now;
                session.version += 1;
                Ok(())
            })
        })
        .await
    }

    async fn patch(
        &self,
        id: &SessionId,
        patch: &DataPatch,
        check: &VersionCheck,
        max_data_bytes: usize,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, patch, check) = (id.clone(), patch.clone(), check.clone());
        self.write(move |tx| {
            ops::update(tx, &id, now, |session| {
                ops::check_version(session, &check)?;
                let mut data = session.data.clone();
                patch.apply_to(&mut data);
                let size = crate::data::encoded_size(&data);
                if size > max_data_bytes {
                    return Err(SessionError::DataTooLarge {
                        size,
                        limit: max_data_bytes,
                    });
                }
                session.data = data;
                session.updated_at = now;
                session.version += 1;
                Ok(())
            })
        })
        .await
    }

    async fn refresh(
        &self,
        id: &SessionId,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, policy) = (id.clone(), *policy);
        self.write(move |tx| {
            ops::update(tx, &id, now, |session| {
                let idle = ttl_seconds.unwrap_or(session.ttl_seconds);
                session.ttl_seconds = idle;
                session.ttl = policy.ttl_at(session.created_at, idle, now);
                session.touched_at = now;
                Ok(())
            })
        })
        .await
    }

    async fn touch(
        &self,
        id: &SessionId,
        last_touched: Timestamp,
        new_ttl: i64,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError> {
        let id = id.clone();
        self.write(move |tx| {
            let outcome = ops::update(tx, &id, now, |session| {
                if session.touched_at != last_touched {
                    return Err(SessionError::VersionMismatch {
                        current: session.version,
                    });
                }
                session.ttl = new_ttl;
                session.touched_at = now;
                Ok(())
            })?;
            // Any refusal (gone, expired, touched by someone else) just means "not extended".
            Ok(Ok(outcome.ok()))
        })
        .await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), SessionError> {
        let id = id.clone();
        self.write(move |tx| ops::remove(tx, id.as_str()).map(|removed| removed.map(|_| ())))
            .await
    }

    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        // Not through `read`: the listing reads the index before it begins its snapshot.
        ops::list_user(
            &self.derived.index,
            &self.derived.cache,
            &self.db,
            user_id,
            page,
            now,
        )
        .map_err(map_redb)?
    }

    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.read(|txn| ops::list_all(txn, &self.derived.locator, page, now))
    }

    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        let user_id = user_id.clone();
        let derived = self.derived.clone();
        self.write(move |tx| ops::delete_user(tx, &derived.index, &user_id, now))
            .await
    }

    async fn check_ready(&self) -> Result<(), SessionError> {
        let writer_alive = self
            .queue
            .lock()
            .map(|queue| queue.is_some())
            .unwrap_or(false);
        if !writer_alive {
            return Err(SessionError::unavailable("the embedded store is closed"));
        }
        self.read(|txn| {
            txn.open_table(SESSIONS)?;
            Ok(Ok(()))
        })
    }
}

/// Creates the sessions table, moves the sessions of a file written by an earlier version
/// (keyed by id) into it, and drops the tables this version no longer keeps; one durable
/// transaction, so a crash leaves either the old layout or the new one.
fn upgrade_layout(db: &Database, location: &str) -> Result<(), SessionError> {
    let txn = db.begin_write().map_err(map_redb)?;
    let mut moved = 0_u64;
    {
        // Opening a table in a write transaction creates it.
        let mut sessions = txn.open_table(SESSIONS).map_err(map_redb)?;
        let legacy = txn.open_table(LEGACY_SESSIONS).map_err(map_redb)?;
        for entry in legacy.iter().map_err(map_redb)? {
            let (id, record) = entry.map_err(map_redb)?;
            let (id, record) = (id.value(), record.value());
            // A record that cannot be read moves too (first in the table), so that nothing
            // is lost; reads of it answer 500 with the cause logged, as they did.
            let created = record::user_and_creation(record).map_or(i64::MIN, |(_, at)| at);
            sessions
                .insert(locator::key(created, id).as_slice(), record)
                .map_err(map_redb)?;
            moved += 1;
        }
    }
    txn.delete_table(LEGACY_SESSIONS).map_err(map_redb)?;
    txn.delete_table(LEGACY_BY_EXPIRY).map_err(map_redb)?;
    txn.delete_table(LEGACY_BY_USER).map_err(map_redb)?;
    txn.commit().map_err(map_redb)?;
    if moved > 0 {
        tracing::info!(
            store = location,
            sessions = moved,
            "moved the embedded store's sessions to the table keyed by creation time"
        );
    }
    Ok(())
}

/// Brings redb up to date with the journal after a crash: applies its changes in order in one
/// durable transaction, then empties it.
fn replay_journal(
    db: &Database,
    derived: &Derived,
    journal: &mut Journal,
    changes: Vec<journal::Change>,
    location: &str,
) -> Result<(), SessionError> {
    let count = changes.len();
    let txn = db.begin_write().map_err(map_redb)?;
    let (journalled, index_changes) = {
        let tx = Tx::new(&txn, &derived.locator).map_err(map_redb)?;
        for change in changes {
            ops::replay(&tx, change).map_err(map_redb)?.map_err(|e| {
                SessionError::internal(format!(
                    "cannot replay the journal {}: {e}",
                    journal.path().display()
                ))
            })?;
        }
        tx.into_changes()
    };
    let commit = derived.committing(&journalled, index_changes);
    txn.commit().map_err(map_redb)?;
    commit.committed();
    journal.reset().map_err(|e| {
        SessionError::internal(format!(
            "cannot empty the journal {}: {e}",
            journal.path().display()
        ))
    })?;
    tracing::info!(
        store = location,
        changes = count,
        "replayed the embedded store journal"
    );
    Ok(())
}

/// Storage faults: I/O trouble may pass (503); anything else is a bug or corruption (500).
pub(crate) fn map_redb(error: impl Into<redb::Error>) -> SessionError {
    let error: redb::Error = error.into();
    match error {
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed => {
            SessionError::unavailable(error)
        }
        other => SessionError::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::journal::{Change, Journal, path_for};
    use super::*;
    use crate::store::SessionStore;
    use redb::ReadableTableMetadata;

    fn session(user: &str, version: u64) -> Session {
        let at = SystemClock.now();
        Session {
            id: SessionId::generate(),
            user_id: UserId::parse(user).expect("valid"),
            data: serde_json::json!({"v": version})
                .as_object()
                .cloned()
                .expect("object"),
            created_at: at,
            updated_at: at,
            touched_at: at,
            ttl: at.epoch_seconds() + 3600,
            ttl_seconds: 3600,
            version,
        }
    }

    /// Writes sit in the journal until the checkpoint, which empties it while the store runs.
    #[tokio::test]
    async fn the_checkpoint_empties_the_journal_while_the_store_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        let journal_len = || {
            journal::pending_changes(&path_for(&path))
                .expect("journal")
                .len()
        };
        let first = session("u1", 1);
        {
            let options = EmbeddedOptions {
                checkpoint_interval: Duration::from_secs(3600),
                ..EmbeddedOptions::default()
            };
            let store = EmbeddedStore::open(&path, options).expect("open");
            store.create(&first).await.expect("create");
            assert!(journal_len() > 0, "an acknowledged write is in the journal");
        }
        assert_eq!(journal_len(), 0, "closing checkpoints");

        let options = EmbeddedOptions {
            checkpoint_interval: Duration::from_millis(50),
            ..EmbeddedOptions::default()
        };
        let store = EmbeddedStore::open(&path, options).expect("reopen");
        let second = session("u1", 1);
        store.create(&second).await.expect("create");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while journal_len() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint emptied the journal"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let now = SystemClock.now();
        assert_eq!(store.get(&first.id, now).await.expect("first"), first);
        assert_eq!(store.get(&second.id, now).await.expect("second"), second);
        // Writes after a checkpoint go to the emptied journal.
        store.delete(&first.id).await.expect("delete");
        assert!(matches!(
            store.get(&first.id, now).await,
            Err(SessionError::NotFound)
        ));
    }

    /// Earlier versions kept the sessions by id, the per-user index and an expiry index in
    /// the file: such a file opens, its sessions (records of both layouts, and one that cannot
    /// be read) move to the table keyed by creation time, read by id and list from the index
    /// rebuilt in memory, expired ones are purged without the expiry index, and all three old
    /// tables are dropped.
    #[tokio::test]
    async fn a_file_of_an_earlier_layout_opens_reads_and_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        let (older, newer) = (session("u1", 1), session("u1", 1));
        let unreadable = SessionId::generate();
        {
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("write");
            {
                let mut sessions = txn.open_table(LEGACY_SESSIONS).expect("sessions");
                let mut legacy = txn.open_table(LEGACY_BY_USER).expect("legacy");
                let mut expiry = txn.open_table(LEGACY_BY_EXPIRY).expect("expiry");
                sessions
                    .insert(unreadable.as_str(), b"\xb1 torn".as_slice())
                    .expect("insert");
                for (s, created) in [(&older, "2026-01-01T00:00:00.000Z"), (&newer, "x")] {
                    let record = if s.id == older.id {
                        record::encode(s).expect("encode")
                    } else {
                        serde_json::to_vec(s).expect("the JSON records of older versions")
                    };
                    let id = s.id.as_str();
                    sessions.insert(id, record.as_slice()).expect("insert");
                    legacy
                        .insert((s.user_id.as_str(), created, id), ())
                        .expect("insert");
                    expiry.insert((s.ttl, id), ()).expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        let store = EmbeddedStore::open(&path, EmbeddedOptions::default()).expect("open");
        let page = PageRequest {
            limit: 10,
            after: None,
        };
        let now = SystemClock.now();
        let listed = store
            .list_user(&UserId::parse("u1").expect("valid"), &page, now)
            .await
            .expect("list");
        let mut ids: Vec<_> = listed.sessions.iter().map(|s| s.id.clone()).collect();
        let mut expected = vec![older.id.clone(), newer.id.clone()];
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        assert_eq!(ids, expected);
        assert_eq!(store.get(&older.id, now).await.expect("older"), older);
        assert_eq!(store.get(&newer.id, now).await.expect("newer"), newer);
        assert!(
            matches!(
                store.get(&unreadable, now).await,
                Err(SessionError::Internal { .. })
            ),
            "the unreadable record moved too, and still reads as a fault"
        );
        drop(store);
        {
            let db = Database::open(&path).expect("reopen");
            let txn = db.begin_read().expect("read");
            assert!(
                txn.open_table(LEGACY_SESSIONS).is_err(),
                "the table keyed by id is gone"
            );
            assert_eq!(
                txn.open_table(SESSIONS)
                    .expect("sessions")
                    .len()
                    .expect("len"),
                3,
                "every session moved"
            );
            assert!(
                txn.open_table(LEGACY_BY_USER).is_err(),
                "the old user index is gone"
            );
            assert!(
                txn.open_table(LEGACY_BY_EXPIRY).is_err(),
                "the old expiry index is gone"
            );
        }
        let clock = Arc::new(crate::ManualClock::new(now));
        let store = EmbeddedStore::open(
            &path,
            EmbeddedOptions {
                purge_after_seconds: 0,
                clock: clock.clone(),
                ..EmbeddedOptions::default()
            },
        )
        .expect("open again");
        clock.set(Timestamp::from_epoch_seconds(older.ttl.max(newer.ttl)));
        assert_eq!(store.purge_expired().await.expect("purge"), 2);
        assert!(matches!(
            store.get(&older.id, now).await,
            Err(SessionError::NotFound)
        ));
    }

    /// What a crash leaves behind: changes in the journal that redb never made durable.
    #[tokio::test]
    async fn opening_replays_the_journal_onto_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        let (kept, replaced, deleted) = (session("u1", 1), session("u1", 1), session("u2", 1));
        {
            let store = EmbeddedStore::open(&path, EmbeddedOptions::default()).expect("open");
            for s in [&kept, &replaced, &deleted] {
                store.create(s).await.expect("create");
            }
        }
        assert!(
            journal::pending_changes(&path_for(&path))
                .expect("journal")
                .is_empty(),
            "a clean close leaves an empty journal"
        );

        let created = session("u3", 1);
        let mut newer = replaced.clone();
        newer.version = 2;
        newer.data = serde_json::json!({"v": 2})
            .as_object()
            .cloned()
            .expect("object");
        newer.ttl += 60;
        {
            let (mut journal, _) =
                Journal::open(&path_for(&path), journal::DEFAULT_CHECKPOINT_INTERVAL)
                    .expect("journal");
            let put = |s: &Session| Change::Put {
                id: s.id.as_str().to_owned(),
                record: record::encode(s).expect("encode"),
            };
            journal
                .append(&[put(&created), put(&newer)])
                .expect("append");
            journal
                .append(&[Change::Remove {
                    id: deleted.id.as_str().to_owned(),
                }])
                .expect("append");
            // Replaying twice is what a crash between a checkpoint and emptying the journal does.
            journal.append(&[put(&created)]).expect("append");
        }

        let clock = Arc::new(crate::ManualClock::new(SystemClock.now()));
        let options = EmbeddedOptions {
            purge_after_seconds: 0,
            clock: clock.clone(),
            ..EmbeddedOptions::default()
        };
        let store = EmbeddedStore::open(&path, options).expect("reopen");
        assert!(
            journal::pending_changes(&path_for(&path))
                .expect("journal")
                .is_empty(),
            "replay empties the journal"
        );
        let now = SystemClock.now();
        assert_eq!(store.get(&kept.id, now).await.expect("kept"), kept);
        assert_eq!(store.get(&created.id, now).await.expect("created"), created);
        assert_eq!(store.get(&replaced.id, now).await.expect("replaced"), newer);
        assert!(matches!(
            store.get(&deleted.id, now).await,
            Err(SessionError::NotFound)
        ));
        // The indexes follow the records: u1 lists both of its sessions once, u2 none.
        let page = PageRequest {
            limit: 10,
            after: None,
        };
        let u1 = store
            .list_user(&UserId::parse("u1").expect("valid"), &page, now)
            .await
            .expect("list");
        assert_eq!(u1.sessions.len(), 2);
        let u2 = store
            .list_user(&UserId::parse("u2").expect("valid"), &page, now)
            .await
            .expect("list");
        assert!(u2.sessions.is_empty());
        // Purges follow the records: the replaced session's old ttl purges nothing.
        clock.advance_seconds(3601);
        assert_eq!(store.purge_expired().await.expect("purge"), 2);
        assert_eq!(store.get(&replaced.id, now).await.expect("replaced"), newer);
        clock.advance_seconds(60);
        assert_eq!(store.purge_expired().await.expect("purge"), 1);
    }
}

//! `EmbeddedStore`: sessions in a local `redb` file, for a laptop, a single container, or tests.
//!
//! One table, `sessions_by_creation`: each session's record (see `record`) under its creation
//! time and id (see `index` for why). In memory beside it: the index of sessions by id and by
//! user (see `index`) and recently read sessions (see `read_cache`). All writes go through one
//! writer thread that commits them in batches, durably (see `writer`); the sweeper purges
//! expired sessions through the same thread (see `sweeper`). Reads run on the caller's
//! thread, from the read cache or against a consistent snapshot.

mod index;
mod ops;
mod read_cache;
mod record;
mod sweeper;
mod writer;

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use redb::backends::InMemoryBackend;
use redb::{Database, ReadableDatabase, TableDefinition};

use crate::store::{PageRequest, SessionStore, StorePage, VersionCheck};
use crate::{
    Clock, DataPatch, ExpiryPolicy, Session, SessionData, SessionError, SessionId, SystemClock,
    Timestamp, UserId,
};

use index::Index;
use read_cache::ReadCache;
use writer::{ClosureOp, Tx, TxnResult, WriteOp};

const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions_by_creation");

/// Default grace period between expiry and purge (`SESSION_PURGE_AFTER_SECONDS`).
pub const DEFAULT_PURGE_AFTER_SECONDS: u64 = 3600;
/// Default size of redb's page cache (`EMBEDDED_CACHE_MB`), in MiB.
///
/// Small, because little is served from it: hot sessions are served decoded from the read
/// cache (`EMBEDDED_READ_CACHE_MB`), new sessions go to the last pages of the table, and the
/// operating system's page cache holds the file as well. Every page redb caches is memory the
/// process keeps.
pub const DEFAULT_CACHE_MB: usize = 32;
/// Default size of the cache of decoded sessions for reads and listings (`EMBEDDED_READ_CACHE_MB`),
/// in MiB: room for about 10,000 sessions with 200 bytes of data each. See `read_cache`.
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
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            purge_after_seconds: DEFAULT_PURGE_AFTER_SECONDS,
            sweep_interval: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            cache_bytes: DEFAULT_CACHE_MB << 20,
            read_cache_bytes: DEFAULT_READ_CACHE_MB << 20,
        }
    }
}

/// What readers and the writer thread share.
struct Shared {
    db: Database,
    index: Index,
    cache: ReadCache,
}

/// Sessions in a `redb` database file (or in memory, for tests).
pub struct EmbeddedStore {
    shared: Arc<Shared>,
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
        Self::start(db, options, path.display().to_string())
    }

    /// A store that lives in memory and vanishes when dropped.
    pub fn in_memory(options: EmbeddedOptions) -> Result<Self, SessionError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(|e| SessionError::internal(format!("cannot create in-memory store: {e}")))?;
        Self::start(db, options, "memory".to_owned())
    }

    /// Creates the sessions table if needed, builds the index, and starts the writer.
    fn start(
        db: Database,
        options: EmbeddedOptions,
        location: String,
    ) -> Result<Self, SessionError> {
        let txn = db.begin_write().map_err(map_redb)?;
        // Opening a table in a write transaction creates it.
        txn.open_table(SESSIONS).map_err(map_redb)?;
        txn.commit().map_err(map_redb)?;
        let index = {
            let txn = db.begin_read().map_err(map_redb)?;
            Index::build(&txn.open_table(SESSIONS).map_err(map_redb)?)?
        };
        let shared = Arc::new(Shared {
            db,
            index,
            cache: ReadCache::new(options.read_cache_bytes),
        });
        let (queue, receiver) = mpsc::channel();
        let sweeper = sweeper::Sweeper::new(
            options.clock.clone(),
            options.purge_after_seconds,
            options.sweep_interval,
        );
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || writer::run(writer_shared, receiver, sweeper))
            .map_err(|e| SessionError::internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            shared,
            queue: Mutex::new(Some(queue)),
            writer: Mutex::new(Some(writer)),
            options,
            location,
        })
    }

    /// Purges now every session that expired at least `purge_after_seconds` ago by the store's
    /// clock; returns how many were purged. The sweeper does the same a chunk at a time.
    pub async fn purge_expired(&self) -> Result<u64, SessionError> {
        let cutoff = sweeper::cutoff(self.options.clock.now(), self.options.purge_after_seconds);
        let due = sweeper::scan(&self.shared.db, None, usize::MAX, cutoff)
            .map_err(map_redb)?
            .due;
        self.write(move |tx| Ok(Ok(sweeper::purge(tx, due, cutoff)?)))
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

    /// Queues `run` for the writer and waits until its batch has committed.
    async fn write<T, F>(&self, run: F) -> Result<T, SessionError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> TxnResult<T> + Send + 'static,
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

    async fn get(&self, id: &SessionId, now: Timestamp) -> Result<Arc<Session>, SessionError> {
        ops::live(ops::get(&self.shared, id)?, now)
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
        self.write(move |tx| ops::delete(tx, &id)).await
    }

    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        ops::list_user(&self.shared, user_id, page, now)
    }

    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        ops::list_all(&self.shared, page, now)
    }

    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        let user_id = user_id.clone();
        self.write(move |tx| ops::delete_user(tx, &user_id, now))
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
        let txn = self.shared.db.begin_read().map_err(map_redb)?;
        txn.open_table(SESSIONS).map_err(map_redb)?;
        Ok(())
    }
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
    use super::*;
    use crate::ManualClock;
    use crate::store::conformance::new_session;

    fn session(user: &str, at: Timestamp, ttl_seconds: u64) -> Session {
        let user = UserId::parse(user).expect("valid");
        new_session(&user, at, ttl_seconds, serde_json::json!({}))
    }

    /// A batch that fails after inserting a session takes it back from the index: the id reads
    /// as unknown, the user lists nothing, and the id can be created afterwards (by a writer
    /// that survived the failure).
    #[tokio::test]
    async fn a_failed_batch_takes_back_the_sessions_it_added() {
        let store = EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store");
        let now = SystemClock.now();
        let lost = session("u", now, 3600);
        let new = ops::NewSession::prepare(&lost).expect("record");
        let failed = store
            .write(move |tx| {
                ops::create(tx, new)?.expect("inserted");
                panic!("a write that fails after its insert");
            })
            .await;
        assert!(
            matches!(failed, Err::<(), _>(SessionError::Unavailable { .. })),
            "{failed:?}"
        );
        assert_eq!(store.shared.index.key_of(lost.id.as_uuid()), None);
        assert!(store.shared.index.sessions_of(&lost.user_id).is_empty());
        assert!(matches!(
            store.get(&lost.id, now).await,
            Err(SessionError::NotFound)
        ));
        store
            .create(&lost)
            .await
            .expect("the id is free, the writer runs");
        assert_eq!(*store.get(&lost.id, now).await.expect("created"), lost);
    }

    /// A purge removes what it purges from the index, and spares a session that was extended
    /// between the sweep's scan and its purge.
    #[tokio::test]
    async fn a_purge_updates_the_index_and_spares_what_was_extended_since_the_scan() {
        let t0 = Timestamp::from_epoch_seconds(1_800_000_000);
        let clock = Arc::new(ManualClock::new(t0));
        let options = EmbeddedOptions {
            purge_after_seconds: 0,
            clock: clock.clone(),
            ..EmbeddedOptions::default()
        };
        let store = EmbeddedStore::in_memory(options).expect("store");
        let (gone, extended) = (session("u", t0, 60), session("u", t0, 60));
        for s in [&gone, &extended] {
            store.create(s).await.expect("create");
        }
        let cutoff = sweeper::cutoff(t0.plus_seconds(61), 0);
        let due = sweeper::scan(&store.shared.db, None, usize::MAX, cutoff)
            .expect("scan")
            .due;
        assert_eq!(due.len(), 2, "both are due at the cutoff");
        clock.advance_seconds(59);
        let touched = store
            .touch(
                &extended.id,
                extended.touched_at,
                t0.epoch_seconds() + 3600,
                clock.now(),
            )
            .await
            .expect("touch");
        assert!(touched.is_some(), "extended while still live");
        let purged = store
            .write(move |tx| Ok(Ok(sweeper::purge(tx, due, cutoff)?)))
            .await
            .expect("purge");
        assert_eq!(purged, 1);
        assert_eq!(store.shared.index.key_of(gone.id.as_uuid()), None);
        let left: Vec<_> = store
            .shared
            .index
            .sessions_of(&gone.user_id)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        assert_eq!(left, [*extended.id.as_uuid()]);
        assert!(matches!(
            store.get(&gone.id, clock.now()).await,
            Err(SessionError::NotFound)
        ));
        assert!(store.get(&extended.id, clock.now()).await.is_ok());
    }
}

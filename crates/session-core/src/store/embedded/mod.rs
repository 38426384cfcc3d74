//! `EmbeddedStore`: sessions in a local `redb` file, for a laptop, a single container, or tests.
//!
//! One table, `sessions_by_creation`: each session's record (see `record`) under its creation
//! time and id (see `index` for why). In memory beside it: the index of sessions by id and by
//! user (see `index`) and recently read sessions (see `read_cache`). All writes go through one
//! writer thread that commits them in batches, durably (see `writer`); the sweeper purges
//! expired sessions through the same thread (see `sweeper`). Reads run on the caller's
//! thread, from the read cache or against a consistent snapshot.

mod gauges;
mod index;
mod ops;
mod read_cache;
mod record;
mod sweeper;
mod writer;

use std::fs::{DirBuilder, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use redb::backends::{FileBackend, InMemoryBackend};
use redb::{Database, ReadableDatabase, TableDefinition};

use crate::store::{PageRequest, SecretCheck, SessionStore, StorePage, VersionCheck};
use crate::{
    Clock, Created, DataPatch, ExpiryPolicy, SecretHash, Session, SessionData, SessionError,
    SessionId, SystemClock, Timestamp, UserId, UserLimit,
};

use gauges::Gauges;
pub use gauges::{DISK_AVAILABLE, DISK_SIZE, LAST_COMMIT};
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
/// Default bound of the writer's queue: writes waiting for the writer thread. Past it, a write
/// fails at once with `Unavailable` (503 `store_unavailable`) instead of holding memory until
/// the disk catches up. The writer commits about this many writes in well under a second on a
/// healthy disk, so a full queue means the disk is stalled or far too slow for the load.
pub const DEFAULT_WRITE_QUEUE: usize = 10_000;
/// Default size of the cache of decoded sessions for reads and listings (`EMBEDDED_READ_CACHE_MB`),
/// in MiB: room for about 10,000 sessions with 200 bytes of data each. See `read_cache`.
pub const DEFAULT_READ_CACHE_MB: usize = 16;

/// Sessions a revoke-all removes per write: a few milliseconds of the writer's time.
const REVOKE_CHUNK: usize = 256;

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
    /// Most writes that may wait for the writer thread; past it a write fails at once with
    /// `Unavailable`.
    pub write_queue: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            purge_after_seconds: DEFAULT_PURGE_AFTER_SECONDS,
            sweep_interval: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            cache_bytes: DEFAULT_CACHE_MB << 20,
            read_cache_bytes: DEFAULT_READ_CACHE_MB << 20,
            write_queue: DEFAULT_WRITE_QUEUE,
        }
    }
}

/// What readers and the writer thread share.
struct Shared {
    db: Database,
    index: Index,
    cache: ReadCache,
    gauges: Gauges,
}

/// Sessions in a `redb` database file (or in memory, for tests).
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    queue: Mutex<Option<SyncSender<Box<dyn WriteOp>>>>,
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
    ///
    /// The file holds every session's data, so on Unix it is created readable by its owner
    /// only (mode 0600), and directories the store creates for it with mode 0700. An existing
    /// file keeps its mode; a warning says when others may read it.
    pub fn open(path: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self, SessionError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            private_dir_builder().create(dir).map_err(|e| {
                SessionError::internal(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let cannot_open = |e: &dyn std::fmt::Display| {
            SessionError::internal(format!(
                "cannot open embedded store {}: {e}",
                path.display()
            ))
        };
        let file = open_private(path).map_err(|e| cannot_open(&e))?;
        warn_if_shared(path, &file);
        let backend = FileBackend::new(file).map_err(|e| cannot_open(&e))?;
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| cannot_open(&e))?;
        Self::start(
            db,
            options,
            path.display().to_string(),
            Some(path.to_owned()),
        )
    }

    /// A store that lives in memory and vanishes when dropped.
    pub fn in_memory(options: EmbeddedOptions) -> Result<Self, SessionError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(|e| SessionError::internal(format!("cannot create in-memory store: {e}")))?;
        Self::start(db, options, "memory".to_owned(), None)
    }

    /// Creates the sessions table if needed, builds the index, and starts the writer.
    fn start(
        db: Database,
        options: EmbeddedOptions,
        location: String,
        file: Option<PathBuf>,
    ) -> Result<Self, SessionError> {
        let txn = db.begin_write().map_err(map_redb)?;
        // Opening a table in a write transaction creates it.
        txn.open_table(SESSIONS).map_err(map_redb)?;
        txn.commit().map_err(map_redb)?;
        let gauges = Gauges::new(file);
        gauges.committed();
        let index = {
            let txn = db.begin_read().map_err(map_redb)?;
            Index::build(&txn.open_table(SESSIONS).map_err(map_redb)?)?
        };
        let shared = Arc::new(Shared {
            db,
            index,
            cache: ReadCache::new(options.read_cache_bytes),
            gauges,
        });
        let (queue, receiver) = mpsc::sync_channel(options.write_queue.max(1));
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
        let due = sweeper::scan(&self.shared.db, None, usize::MAX, usize::MAX, cutoff)
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
            queue.try_send(Box::new(op)).map_err(|error| match error {
                TrySendError::Full(_) => SessionError::unavailable(format!(
                    "the embedded store's write queue is full ({} writes wait for the disk)",
                    self.options.write_queue
                )),
                TrySendError::Disconnected(_) => {
                    SessionError::unavailable("the embedded store writer has stopped")
                }
            })?;
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

    async fn create(
        &self,
        session: &Session,
        limit: Option<&UserLimit>,
    ) -> Result<Created, SessionError> {
        let new = ops::NewSession::prepare(session)?;
        let limit = limit.copied();
        self.write(move |tx| ops::create(tx, new, limit)).await
    }

    async fn get(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Arc<Session>, SessionError> {
        ops::live(ops::admitted(ops::get(&self.shared, id)?, secret)?, now)
    }

    async fn replace(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, secret, data, check) = (id.clone(), secret.clone(), data.clone(), check.clone());
        self.write(move |tx| {
            ops::update(tx, &id, &secret, now, |session| {
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
        secret: &SecretCheck,
        patch: &DataPatch,
        check: &VersionCheck,
        max_data_bytes: usize,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, secret, patch, check) = (id.clone(), secret.clone(), patch.clone(), check.clone());
        self.write(move |tx| {
            ops::update(tx, &id, &secret, now, |session| {
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
        secret: &SecretCheck,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, secret, policy) = (id.clone(), secret.clone(), *policy);
        self.write(move |tx| {
            ops::update(tx, &id, &secret, now, |session| {
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
        secret: &SecretCheck,
        last_touched: Timestamp,
        new_ttl: i64,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError> {
        let (id, secret) = (id.clone(), secret.clone());
        self.write(move |tx| {
            let outcome = ops::update(tx, &id, &secret, now, |session| {
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

    async fn delete(&self, id: &SessionId, secret: &SecretCheck) -> Result<(), SessionError> {
        let (id, secret) = (id.clone(), secret.clone());
        self.write(move |tx| ops::delete(tx, &id, &secret)).await
    }

    async fn rotate(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        new_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let (id, secret, new_hash) = (id.clone(), secret.clone(), *new_hash);
        self.write(move |tx| {
            ops::update(tx, &id, &secret, now, |session| {
                session.secret_hash = new_hash;
                Ok(())
            })
        })
        .await
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
        // A chunk at a time, newest first, each chunk a write of its own: the writes queued
        // meanwhile commit between two chunks instead of waiting for one transaction that
        // removes thousands of sessions.
        let mut live = 0;
        let mut after = None;
        loop {
            let chunk = self.shared.index.page(user_id, after, REVOKE_CHUNK);
            let Some(&last) = chunk.last() else {
                return Ok(live);
            };
            after = Some(last);
            live += self
                .write(move |tx| ops::delete_sessions(tx, &chunk, now))
                .await?;
        }
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

/// Builds directories that only their owner may enter (mode 0700 on Unix), parents included.
fn private_dir_builder() -> DirBuilder {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Opens the database file for reading and writing, creating it readable and writable by its
/// owner only (mode 0600 on Unix) if it does not exist.
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Warns when a database file made before the store created files private (or by hand) may be
/// read by other users.
fn warn_if_shared(path: &Path, file: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = file.metadata()
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", metadata.permissions().mode() & 0o777),
                "the embedded store's file may be read by other users; it holds every live session id: chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file);
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
                ops::create(tx, new, None)?.expect("inserted");
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
            store.get(&lost.id, &SecretCheck::Any, now).await,
            Err(SessionError::NotFound)
        ));
        store
            .create(&lost, None)
            .await
            .expect("the id is free, the writer runs");
        assert_eq!(
            *store
                .get(&lost.id, &SecretCheck::Any, now)
                .await
                .expect("created"),
            lost
        );
    }

    /// Holds the writer thread inside a write until the returned sender is dropped or sent to;
    /// returns once the writer is held, with the task of the holding write.
    async fn hold_writer(
        store: &Arc<EmbeddedStore>,
    ) -> (
        mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), SessionError>>,
    ) {
        let (release, released) = mpsc::channel::<()>();
        let (held, holding) = tokio::sync::oneshot::channel();
        let writer = store.clone();
        let task = tokio::spawn(async move {
            writer
                .write(move |_| {
                    let _ = held.send(());
                    let _ = released.recv();
                    Ok(Ok(()))
                })
                .await
        });
        holding.await.expect("the writer runs the holding write");
        (release, task)
    }

    /// Past the bound of the queue a write fails at once as unavailable, and the queued writes
    /// still land once the writer moves again.
    #[tokio::test]
    async fn a_full_write_queue_refuses_at_once() {
        let options = EmbeddedOptions {
            write_queue: 4,
            ..EmbeddedOptions::default()
        };
        let store = Arc::new(EmbeddedStore::in_memory(options).expect("store"));
        let (release, holder) = hold_writer(&store).await;
        let now = SystemClock.now();
        let queued: Vec<Session> = (0..4).map(|_| session("queued", now, 3600)).collect();
        let mut waiting = Vec::new();
        for s in &queued {
            let (store, s) = (store.clone(), s.clone());
            waiting.push(tokio::spawn(async move { store.create(&s, None).await }));
        }
        // Every spawned create has queued its write before this one runs out of room.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let refused = loop {
            tokio::task::yield_now().await;
            let extra = session("extra", now, 3600);
            match tokio::time::timeout(Duration::from_millis(100), store.create(&extra, None)).await
            {
                Ok(refused) => break (refused, extra),
                Err(_) => assert!(
                    std::time::Instant::now() < deadline,
                    "the queue never filled"
                ),
            }
        };
        assert!(
            matches!(refused.0, Err(SessionError::Unavailable { .. })),
            "{:?}",
            refused.0
        );
        drop(release);
        holder.await.expect("join").expect("the holding write");
        for task in waiting {
            task.await.expect("join").expect("a queued write lands");
        }
        for s in &queued {
            assert!(store.get(&s.id, &SecretCheck::Any, now).await.is_ok());
        }
        assert!(matches!(
            store.get(&refused.1.id, &SecretCheck::Any, now).await,
            Err(SessionError::NotFound)
        ));
    }

    /// A write whose caller stopped waiting while it was queued is never applied, and writes
    /// queued behind it are.
    #[tokio::test]
    async fn a_write_abandoned_in_the_queue_is_never_applied() {
        let store = Arc::new(EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store"));
        let now = SystemClock.now();
        let kept = session("kept", now, 3600);
        store.create(&kept, None).await.expect("create");
        let (release, holder) = hold_writer(&store).await;

        let abandoned = session("abandoned", now, 3600);
        let gave_up =
            tokio::time::timeout(Duration::from_millis(50), store.create(&abandoned, None)).await;
        assert!(gave_up.is_err(), "the create waits behind the held writer");
        let refresh = tokio::time::timeout(
            Duration::from_millis(50),
            store.refresh(
                &kept.id,
                &SecretCheck::Any,
                Some(60),
                &ExpiryPolicy::default(),
                now,
            ),
        )
        .await;
        assert!(refresh.is_err(), "the refresh waits behind the held writer");
        let later = session("later", now, 3600);
        let after = {
            let (store, later) = (store.clone(), later.clone());
            tokio::spawn(async move { store.create(&later, None).await })
        };

        drop(release);
        holder.await.expect("join").expect("the holding write");
        after
            .await
            .expect("join")
            .expect("a write still waited for lands");
        assert!(matches!(
            store.get(&abandoned.id, &SecretCheck::Any, now).await,
            Err(SessionError::NotFound)
        ));
        assert_eq!(
            store
                .get(&kept.id, &SecretCheck::Any, now)
                .await
                .expect("kept")
                .ttl_seconds,
            3600,
            "the abandoned refresh changed nothing"
        );
        assert!(store.get(&later.id, &SecretCheck::Any, now).await.is_ok());
    }

    /// The database file is readable by its owner only, and so are the directories the store
    /// creates for it.
    #[cfg(unix)]
    #[test]
    fn the_file_and_its_new_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("state").join("sessions").join("db.redb");
        let store = EmbeddedStore::open(&path, EmbeddedOptions::default()).expect("open");
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&path), 0o600, "the database file");
        assert_eq!(mode(&root.path().join("state")), 0o700);
        assert_eq!(mode(&root.path().join("state").join("sessions")), 0o700);
        drop(store);
        let beside: Vec<_> = std::fs::read_dir(root.path().join("state").join("sessions"))
            .expect("list")
            .map(|entry| entry.expect("entry").path())
            .collect();
        for file in &beside {
            assert_eq!(mode(file) & 0o077, 0, "{} is private", file.display());
        }
    }

    /// A log writer that keeps what it is given, for tests that read the log.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A record that cannot be read is named by the session's fingerprint, never its id, both
    /// in the warning when the store opens and in the error a read of it gets.
    #[tokio::test]
    async fn a_corrupt_record_is_named_by_fingerprint_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sessions.redb");
        let now = SystemClock.now();
        let damaged = session("damaged", now, 3600);
        let id = damaged.id.to_string();
        {
            let store = EmbeddedStore::open(&path, EmbeddedOptions::default()).expect("open");
            store.create(&damaged, None).await.expect("create");
            let mut record = record::encode(&damaged).expect("record");
            // The user id's length, after the tag, the numbers and the session id: an empty
            // user id is not a user id.
            record[1 + 6 * 8 + 2 + id.len()..][..2].copy_from_slice(&0u16.to_le_bytes());
            let key = index::key(damaged.created_at.millis(), damaged.id.as_uuid());
            let uuid = *damaged.id.as_uuid();
            store
                .write(move |tx| Ok(Ok(tx.update(&key, &uuid, &record)?)))
                .await
                .expect("damage the record");
        }
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let store = tracing::subscriber::with_default(subscriber, || {
            EmbeddedStore::open(&path, EmbeddedOptions::default())
        })
        .expect("reopen");
        let logged = String::from_utf8(log.0.lock().expect("log").clone()).expect("utf-8");
        assert!(logged.contains(&damaged.id.fingerprint()), "{logged}");
        assert!(!logged.contains(&id), "{logged}");

        let error = store
            .get(&damaged.id, &SecretCheck::Any, now)
            .await
            .expect_err("unreadable");
        let chain: Vec<String> =
            std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect();
        let text = format!("{error:?} {}", chain.join(": "));
        assert!(matches!(error, SessionError::Internal { .. }), "{text}");
        assert!(!text.contains(&id), "{text}");
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
            store.create(s, None).await.expect("create");
        }
        let cutoff = sweeper::cutoff(t0.plus_seconds(61), 0);
        let due = sweeper::scan(&store.shared.db, None, usize::MAX, usize::MAX, cutoff)
            .expect("scan")
            .due;
        assert_eq!(due.len(), 2, "both are due at the cutoff");
        clock.advance_seconds(59);
        let touched = store
            .touch(
                &extended.id,
                &SecretCheck::Any,
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
            store.get(&gone.id, &SecretCheck::Any, clock.now()).await,
            Err(SessionError::NotFound)
        ));
        assert!(
            store
                .get(&extended.id, &SecretCheck::Any, clock.now())
                .await
                .is_ok()
        );
    }
}

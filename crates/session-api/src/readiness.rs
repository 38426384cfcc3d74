//! Readiness, checked in the background: `/ready` answers from the last check and never asks
//! the store itself.
//!
//! On DynamoDB a check is two control-plane calls (DescribeTable, DescribeTimeToLive), whose
//! quotas are low and shared by the whole account. Were every hit on the open `/ready` a
//! check, a flood of them could throttle those calls and get every instance taken out of
//! service. So a check runs at most once per [`READY_INTERVAL`]: on the server, a task runs
//! one every interval from the start ([`Readiness::run`]); anywhere, a `/ready` that finds
//! the last check older than the interval starts one and answers from the last result
//! without waiting (a Lambda function, whose background tasks run only during invocations,
//! checks this way). Only the first `/ready` waits, for the first check. A store error that
//! says the store cannot serve (throttled, unavailable), met by any request, starts a check
//! at once, at most one per [`ERROR_CHECK_SPACING`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use session_core::store::{PageRequest, SecretCheck, SessionStore, StorePage, VersionCheck};
use session_core::{
    Created, DataPatch, ExpiryPolicy, SecretHash, Session, SessionData, SessionError, SessionId,
    Timestamp, UserId, UserLimit,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::problem::chain;

/// How often readiness is checked, at most (and, on the server, at least).
pub const READY_INTERVAL: Duration = Duration::from_secs(5);

/// Least time between the start of a check and one started by a store error: a store that
/// fails every request is checked once a second, not once a request.
pub const ERROR_CHECK_SPACING: Duration = Duration::from_secs(1);

/// The outcome of a check: `Err` holds the cause, for the log.
pub type Outcome = Result<(), Arc<str>>;

/// When checks ran, and whether one runs now.
#[derive(Debug, Default)]
struct Schedule {
    /// When the last check began.
    started: Option<Instant>,
    /// A check is in flight.
    running: bool,
}

/// The readiness of one store, as last checked.
#[derive(Debug)]
pub struct Readiness {
    store: Arc<dyn SessionStore>,
    /// How long a check may take before it counts as a failure.
    timeout: Duration,
    /// The last outcome; `None` until a check finished.
    last: watch::Sender<Option<Outcome>>,
    schedule: Mutex<Schedule>,
}

impl Readiness {
    /// Readiness of `store`, not checked yet; a check taking longer than `timeout` fails.
    pub fn new(store: Arc<dyn SessionStore>, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            store,
            timeout,
            last: watch::Sender::new(None),
            schedule: Mutex::default(),
        })
    }

    /// `store`, reporting to this readiness every error that says the store cannot serve.
    pub fn watch(self: &Arc<Self>, store: Arc<dyn SessionStore>) -> Arc<dyn SessionStore> {
        Arc::new(Watched {
            inner: store,
            readiness: self.clone(),
        })
    }

    /// The answer for `/ready`: the last outcome, after starting a check if it is older than
    /// [`READY_INTERVAL`]. Waits (at most the check timeout) only when no check has finished.
    pub async fn current(self: &Arc<Self>) -> Outcome {
        self.check_if_older_than(READY_INTERVAL);
        let mut last = self.last.subscribe();
        let first = tokio::time::timeout(self.timeout, last.wait_for(Option::is_some)).await;
        match first {
            Ok(Ok(outcome)) => outcome.clone().unwrap_or_else(|| Err(NOT_CHECKED.into())),
            _ => Err(NOT_CHECKED.into()),
        }
    }

    /// Checks now, then every [`READY_INTERVAL`], for as long as the process runs: the
    /// server's background check.
    pub async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(READY_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.check_if_older_than(READY_INTERVAL);
        }
    }

    /// Starts a check in the background unless one is running or the last began less than
    /// `age` ago.
    fn check_if_older_than(self: &Arc<Self>, age: Duration) {
        let now = Instant::now();
        {
            let mut schedule = self.schedule.lock().unwrap_or_else(PoisonError::into_inner);
            let recent = schedule
                .started
                .is_some_and(|started| now.duration_since(started) < age);
            if schedule.running || recent {
                return;
            }
            schedule.running = true;
            schedule.started = Some(now);
        }
        let readiness = self.clone();
        tokio::spawn(async move { readiness.check(now).await });
    }

    /// Runs one check begun at `started` and records its outcome.
    async fn check(&self, started: Instant) {
        let outcome = match tokio::time::timeout(self.timeout, self.store.check_ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Arc::from(chain(&error))),
            Err(_) => Err(Arc::from(format!(
                "the store did not answer within {:?}",
                self.timeout
            ))),
        };
        let took = started.elapsed();
        {
            let mut schedule = self.schedule.lock().unwrap_or_else(PoisonError::into_inner);
            schedule.running = false;
            // Far past its own timeout: the process was frozen while the check was in flight
            // (a Lambda environment between invocations), so a timeout says nothing about the
            // store. The outcome is dropped, and the next `/ready` checks again.
            if took > self.timeout * 2 {
                schedule.started = None;
                tracing::debug!(
                    ?took,
                    "a readiness check outlived its timeout; checking again"
                );
                return;
            }
        }
        // Changes are logged, not every check. The first outcome is no change.
        let changed = match (&*self.last.borrow(), &outcome) {
            (Some(Err(_)), Err(_)) | (Some(Ok(())), Ok(())) => false,
            (last, Err(cause)) => {
                tracing::warn!(cause = %cause, "the store is not ready");
                last.is_some()
            }
            (last, Ok(())) => {
                tracing::info!("the store is ready");
                last.is_some()
            }
        };
        crate::metrics::record_readiness(outcome.is_ok(), changed);
        self.last.send_replace(Some(outcome));
    }

    /// A request met `error`: when it says the store cannot serve, check again soon.
    fn saw(self: &Arc<Self>, error: &SessionError) {
        if matches!(
            error,
            SessionError::Unavailable { .. } | SessionError::Throttled { .. }
        ) {
            self.check_if_older_than(ERROR_CHECK_SPACING);
        }
    }
}

const NOT_CHECKED: &str = "no readiness check has finished yet";

/// A store whose faults start readiness checks.
#[derive(Debug)]
struct Watched {
    inner: Arc<dyn SessionStore>,
    readiness: Arc<Readiness>,
}

impl Watched {
    fn seen<T>(&self, result: Result<T, SessionError>) -> Result<T, SessionError> {
        if let Err(error) = &result {
            self.readiness.saw(error);
        }
        result
    }
}

#[async_trait]
impl SessionStore for Watched {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<&UserLimit>,
    ) -> Result<Created, SessionError> {
        self.seen(self.inner.create(session, limit).await)
    }

    async fn get(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Arc<Session>, SessionError> {
        self.seen(self.inner.get(id, secret, now).await)
    }

    async fn replace(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.seen(self.inner.replace(id, secret, data, check, now).await)
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
        self.seen(
            self.inner
                .patch(id, secret, patch, check, max_data_bytes, now)
                .await,
        )
    }

    async fn refresh(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.seen(
            self.inner
                .refresh(id, secret, ttl_seconds, policy, now)
                .await,
        )
    }

    async fn touch(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        last_touched: Timestamp,
        new_ttl: i64,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError> {
        self.seen(
            self.inner
                .touch(id, secret, last_touched, new_ttl, now)
                .await,
        )
    }

    async fn delete(&self, id: &SessionId, secret: &SecretCheck) -> Result<(), SessionError> {
        self.seen(self.inner.delete(id, secret).await)
    }

    async fn rotate(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        new_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.seen(self.inner.rotate(id, secret, new_hash, now).await)
    }

    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.seen(self.inner.list_user(user_id, page, now).await)
    }

    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.seen(self.inner.list_all(page, now).await)
    }

    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        self.seen(self.inner.delete_user(user_id, now).await)
    }

    async fn check_ready(&self) -> Result<(), SessionError> {
        self.inner.check_ready().await
    }
}

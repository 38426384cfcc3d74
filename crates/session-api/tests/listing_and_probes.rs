//! Listings, revoke-all, the probes, and the headers every response carries.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::{Method, Request};
use common::TestApp;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use session_api::readiness::{ERROR_CHECK_SPACING, READY_INTERVAL};
use session_api::{ApiOptions, AppState, router};
use session_core::store::dynamodb::DynamoDbStore;
use session_core::store::dynamodb::testing::local_client;
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::store::{PageRequest, SecretCheck, SessionStore, StorePage, VersionCheck};
use session_core::{
    CursorCodec, DataPatch, ExpiryPolicy, SecretHash, ServiceConfig, Session, SessionData,
    SessionError, SessionId, SessionService, SystemClock, Timestamp, UserId,
};

async fn walk(app: &TestApp, base: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut uri = format!("{base}?limit={limit}");
    loop {
        let reply = app.get(&uri).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let page = reply.json();
        let sessions = page["sessions"].as_array().expect("sessions").clone();
        assert_eq!(page["count"], sessions.len());
        assert!(sessions.len() <= limit);
        pages.push(sessions);
        match page["nextCursor"].as_str() {
            Some(cursor) => uri = format!("{base}?limit={limit}&cursor={cursor}"),
            None => {
                assert!(
                    page["nextCursor"].is_null(),
                    "nextCursor is null on the last page"
                );
                return pages;
            }
        }
        assert!(pages.len() < 100, "runaway pagination");
    }
}

#[tokio::test]
async fn pages_are_bounded_in_bytes_as_well_as_in_count_and_still_walk_everything() {
    const BUDGET: usize = 16_384;
    let app = TestApp::builder().max_page_bytes(BUDGET).build();
    let mut ids = Vec::new();
    for i in 0..9 {
        app.clock.advance_seconds(1);
        // Quotes and control characters take more room escaped than they do in memory.
        let blob = format!("{i}\"\n").repeat(1_200);
        ids.push(
            app.create(json!({"userId": "big", "data": {"blob": blob}}))
                .await["id"]
                .clone(),
        );
    }
    // One session larger than the whole budget still makes a page, alone.
    app.clock.advance_seconds(1);
    let huge = json!({"blob": "x".repeat(3 * BUDGET)});
    ids.push(app.create(json!({"userId": "big", "data": huge})).await["id"].clone());
    ids.reverse();
    for base in ["/sessions/user/big", "/sessions"] {
        let mut seen = Vec::new();
        let mut largest = 0;
        let mut uri = format!("{base}?limit=100");
        for _ in 0..20 {
            let reply = app.get(&uri).await;
            assert_eq!(reply.status, 200);
            let page = reply.json();
            let sessions = page["sessions"].as_array().expect("sessions");
            assert!(!sessions.is_empty(), "a page is never empty: {base}");
            assert!(
                sessions.len() == 1 || reply.body.len() <= BUDGET,
                "{base}: {} sessions in {} bytes",
                sessions.len(),
                reply.body.len()
            );
            largest = largest.max(sessions.len());
            seen.extend(sessions.iter().map(|session| session["id"].clone()));
            match page["nextCursor"].as_str() {
                Some(cursor) => uri = format!("{base}?limit=100&cursor={cursor}"),
                None => break,
            }
        }
        if base == "/sessions/user/big" {
            assert_eq!(seen, ids, "every session once, newest first");
        } else {
            let mut sorted_seen = seen.clone();
            sorted_seen.sort_by_key(|id| id.to_string());
            let mut sorted_ids = ids.clone();
            sorted_ids.sort_by_key(|id| id.to_string());
            assert_eq!(sorted_seen, sorted_ids, "every session once");
        }
        assert!(
            (2..ids.len()).contains(&largest),
            "{base}: pages were cut by size, not to one session each ({largest})"
        );
    }
    // The default budget leaves small pages alone.
    let default_app = TestApp::new();
    for _ in 0..60 {
        default_app.create(json!({"userId": "small"})).await;
    }
    let page = default_app
        .get("/sessions/user/small?limit=60")
        .await
        .json();
    assert_eq!(page["count"], 60);
}

#[tokio::test]
async fn user_listing_is_newest_first_in_full_pages() {
    let app = TestApp::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        app.clock.advance_seconds(1);
        ids.push(
            app.create(json!({"userId": "alice", "data": {"i": i}}))
                .await["id"]
                .clone(),
        );
    }
    app.create(json!({"userId": "bob"})).await;
    let pages = walk(&app, "/sessions/user/alice", 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let listed: Vec<Value> = pages
        .into_iter()
        .flatten()
        .map(|s| s["id"].clone())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn listing_defaults_to_50_and_omits_expired_sessions() {
    let app = TestApp::new();
    for _ in 0..52 {
        app.create(json!({"userId": "carol"})).await;
    }
    let short = app
        .create(json!({"userId": "carol", "ttlSeconds": 1}))
        .await;
    app.clock.advance_seconds(2);
    let page = app.get("/sessions/user/carol").await.json();
    assert_eq!(page["count"], 50);
    assert!(page["nextCursor"].is_string());
    let all: Vec<Value> = walk(&app, "/sessions/user/carol", 100)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(all.len(), 52);
    assert!(
        all.iter().all(|s| s["id"] != short["id"]),
        "expired sessions are never listed"
    );
}

#[tokio::test]
async fn a_user_without_sessions_gets_an_empty_page() {
    let app = TestApp::new();
    let page = app.get("/sessions/user/nobody").await.json();
    assert_eq!(
        page,
        json!({"sessions": [], "count": 0, "nextCursor": null})
    );
}

#[tokio::test]
async fn admin_listing_walks_every_live_session_once() {
    let app = TestApp::new();
    let mut created = HashSet::new();
    for i in 0..23 {
        let user = format!("user{}", i % 4);
        created.insert(
            app.create(json!({"userId": user})).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let listed: Vec<String> = walk(&app, "/sessions", 5)
        .await
        .into_iter()
        .flatten()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed.len(), 23, "no repeats");
    assert_eq!(
        listed.into_iter().collect::<HashSet<_>>(),
        created,
        "no gaps"
    );
}

#[tokio::test]
async fn revoke_all_deletes_every_session_of_the_user_only() {
    let app = TestApp::new();
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(
            app.create(json!({"userId": "dave"})).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let other = app.create(json!({"userId": "erin"})).await;
    let reply = app.delete("/sessions/user/dave").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"deleted": 3}));
    for id in mine {
        app.get(&format!("/sessions/{id}"))
            .await
            .assert_problem(404, "session_not_found");
    }
    assert_eq!(
        app.get(&format!("/sessions/{}", other["id"].as_str().expect("id")))
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete("/sessions/user/dave").await.json(),
        json!({"deleted": 0})
    );
}

#[tokio::test]
async fn user_ids_with_reserved_characters_work_in_paths() {
    let app = TestApp::new();
    let user = "alice@example.com/team 1";
    app.create(json!({"userId": user})).await;
    let page = app
        .get("/sessions/user/alice%40example.com%2Fteam%201")
        .await
        .json();
    assert_eq!(page["count"], 1);
    assert_eq!(page["sessions"][0]["userId"], user);
}

#[tokio::test]
async fn health_is_ok_without_io() {
    let app = TestApp::new();
    let reply = app.get("/health").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn ready_is_200_when_the_store_serves_and_503_when_it_does_not() {
    let app = TestApp::new();
    let reply = app.get("/ready").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ready"}));

    // Closing the embedded store stops its writer: it can no longer serve, as the next check
    // finds.
    app.store.close();
    let reply = next_ready_answer(|| app.get("/ready"), 503).await;
    let problem = reply.assert_problem(503, "store_unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        !problem["detail"]
            .as_str()
            .expect("detail")
            .contains("closed"),
        "no internals leak: {problem}"
    );
}

/// Lets the readiness interval pass (on the paused clock) and asks `/ready` until the check
/// that the first ask starts has answered `status`: the answer after the next check.
async fn next_ready_answer<F: Future<Output = common::Reply>>(
    mut ask: impl FnMut() -> F,
    status: u16,
) -> common::Reply {
    tokio::time::pause();
    tokio::time::advance(READY_INTERVAL).await;
    for _ in 0..100 {
        let reply = ask().await;
        if reply.status == status {
            return reply;
        }
        tokio::task::yield_now().await;
    }
    panic!("/ready never answered {status}");
}

/// A store whose readiness checks are counted, and which can be made to fail as an
/// unreachable store does.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn SessionStore>,
    checks: AtomicUsize,
    down: AtomicBool,
    /// Readiness checks never answer.
    hanging: AtomicBool,
}

impl Flaky {
    fn new() -> Arc<Self> {
        let inner = EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store");
        Arc::new(Self {
            inner: Arc::new(inner),
            checks: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            hanging: AtomicBool::new(false),
        })
    }

    fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn set_hanging(&self, hanging: bool) {
        self.hanging.store(hanging, Ordering::SeqCst);
    }

    fn up(&self) -> Result<(), SessionError> {
        if self.down.load(Ordering::SeqCst) {
            Err(SessionError::unavailable("connection refused"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for Flaky {
    fn backend(&self) -> &'static str {
        "flaky"
    }
    async fn create(
        &self,
        session: &Session,
        limit: Option<&session_core::UserLimit>,
    ) -> Result<session_core::Created, SessionError> {
        self.up()?;
        self.inner.create(session, limit).await
    }
    async fn get(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Arc<Session>, SessionError> {
        self.up()?;
        self.inner.get(id, secret, now).await
    }
    async fn replace(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.up()?;
        self.inner.replace(id, secret, data, check, now).await
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
        self.up()?;
        self.inner
            .patch(id, secret, patch, check, max_data_bytes, now)
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
        self.up()?;
        self.inner
            .refresh(id, secret, ttl_seconds, policy, now)
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
        self.up()?;
        self.inner
            .touch(id, secret, last_touched, new_ttl, now)
            .await
    }
    async fn delete(&self, id: &SessionId, secret: &SecretCheck) -> Result<(), SessionError> {
        self.up()?;
        self.inner.delete(id, secret).await
    }
    async fn rotate(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        new_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.up()?;
        self.inner.rotate(id, secret, new_hash, now).await
    }
    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.up()?;
        self.inner.list_user(user_id, page, now).await
    }
    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.up()?;
        self.inner.list_all(page, now).await
    }
    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        self.up()?;
        self.inner.delete_user(user_id, now).await
    }
    async fn check_ready(&self) -> Result<(), SessionError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.up()?;
        self.inner.check_ready().await
    }
}

fn flaky_app(store: Arc<Flaky>) -> axum::Router {
    let config = ServiceConfig {
        policy: ExpiryPolicy::default(),
        max_data_bytes: 65_536,
        cursors: CursorCodec::from_secret(b"t"),
        max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
        user_limit: None,
    };
    router(AppState::new(
        SessionService::new(store, Arc::new(SystemClock), config),
        ApiOptions::default(),
    ))
}

/// Lets the tasks the last requests started (readiness checks) run.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

async fn ready_status(app: &axum::Router) -> u16 {
    common::send_to(app, Method::GET, "/ready")
        .await
        .status
        .as_u16()
}

/// `/ready` answers from the last check: a flood of probes costs one store check per
/// interval, a store fault met by a request flips it to 503 soon after, and it comes back
/// with the store.
#[tokio::test(start_paused = true)]
async fn ready_checks_the_store_at_most_once_per_interval_and_follows_its_faults() {
    let store = Flaky::new();
    let app = flaky_app(store.clone());
    for _ in 0..50 {
        assert_eq!(ready_status(&app).await, 200);
    }
    settle().await;
    assert_eq!(
        store.checks(),
        1,
        "the first probe checks; the others use its outcome"
    );

    tokio::time::advance(READY_INTERVAL - Duration::from_millis(10)).await;
    for _ in 0..50 {
        assert_eq!(ready_status(&app).await, 200);
    }
    settle().await;
    assert_eq!(store.checks(), 1, "no second check within the interval");
    tokio::time::advance(Duration::from_millis(10)).await;
    for _ in 0..50 {
        assert_eq!(ready_status(&app).await, 200);
    }
    settle().await;
    assert_eq!(
        store.checks(),
        2,
        "one check per interval, however many probes"
    );

    // The store goes down; a request meets the fault, and readiness is checked at once.
    let changes_before = readiness_changes(&app).await;
    store.set_down(true);
    tokio::time::advance(ERROR_CHECK_SPACING).await;
    let path = format!("/sessions/{}", SessionId::generate());
    let reply = common::send_to(&app, Method::GET, &path).await;
    reply.assert_problem(503, "store_unavailable");
    settle().await;
    assert_eq!(store.checks(), 3, "the fault started a check");
    for _ in 0..50 {
        let reply = common::send_to(&app, Method::GET, "/ready").await;
        reply.assert_problem(503, "store_unavailable");
    }
    // More faults within a second start no more checks.
    for _ in 0..20 {
        common::send_to(&app, Method::GET, &path).await;
    }
    settle().await;
    assert_eq!(
        store.checks(),
        3,
        "faults are checked once a second at most"
    );

    // The store comes back; the next check finds it.
    store.set_down(false);
    tokio::time::advance(READY_INTERVAL).await;
    let stale = ready_status(&app).await;
    assert_eq!(
        stale, 503,
        "answered from the last check, which starts the next"
    );
    settle().await;
    assert_eq!(ready_status(&app).await, 200);
    assert_eq!(store.checks(), 4);
    // Down and back up: two changes, counted for the readiness-flapping alert (the counter is
    // process-wide, so other tests may add to it, never take from it).
    assert!(
        readiness_changes(&app).await - changes_before >= 2.0,
        "both changes are counted"
    );
}

/// `session_api_readiness_changes_total`, as `/metrics` shows it.
async fn readiness_changes(app: &axum::Router) -> f64 {
    let reply = common::send_to(app, Method::GET, "/metrics").await;
    let text = String::from_utf8(reply.body).expect("utf-8");
    common::sample(&text, "session_api_readiness_changes_total", &[]).unwrap_or(0.0)
}

/// A check that outlives its timeout fails readiness; one cut short because the process was
/// frozen (a Lambda environment between invocations) says nothing, and the next probe checks
/// again.
#[tokio::test(start_paused = true)]
async fn a_check_frozen_with_its_process_is_not_an_outcome() {
    let store = Flaky::new();
    let app = flaky_app(store.clone());
    assert_eq!(ready_status(&app).await, 200);

    store.set_hanging(true);
    tokio::time::advance(READY_INTERVAL).await;
    assert_eq!(ready_status(&app).await, 200, "from the last check");
    settle().await;
    // Frozen for ten minutes with the check in flight: its timeout passed, by far.
    tokio::time::advance(Duration::from_secs(600)).await;
    settle().await;
    store.set_hanging(false);
    assert_eq!(
        ready_status(&app).await,
        200,
        "the frozen check reported nothing"
    );
    settle().await;
    assert_eq!(store.checks(), 3, "and the probe started another");

    store.set_hanging(true);
    tokio::time::advance(READY_INTERVAL).await;
    assert_eq!(ready_status(&app).await, 200, "from the last check");
    settle().await;
    tokio::time::advance(session_api::READY_TIMEOUT).await;
    settle().await;
    assert_eq!(
        ready_status(&app).await,
        503,
        "a store that does not answer in time is not ready"
    );
}

/// The server checks readiness in the background from the start: the first probe finds the
/// outcome ready, and later ones see the store's faults without starting checks themselves.
#[tokio::test(start_paused = true)]
async fn the_background_check_runs_every_interval_without_probes() {
    let store = Flaky::new();
    let state = AppState::new(
        SessionService::new(
            store.clone(),
            Arc::new(SystemClock),
            ServiceConfig {
                policy: ExpiryPolicy::default(),
                max_data_bytes: 65_536,
                cursors: CursorCodec::from_secret(b"t"),
                max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
                user_limit: None,
            },
        ),
        ApiOptions::default(),
    );
    tokio::spawn(state.readiness.clone().run());
    settle().await;
    assert_eq!(store.checks(), 1, "checked at start");
    for _ in 0..3 {
        tokio::time::advance(READY_INTERVAL).await;
        settle().await;
    }
    assert_eq!(store.checks(), 4, "and every interval");
    store.set_down(true);
    tokio::time::advance(READY_INTERVAL).await;
    settle().await;
    let app = router(state);
    assert_eq!(
        ready_status(&app).await,
        503,
        "the last check found the store down"
    );
    assert_eq!(store.checks(), 5);
}

/// A loopback listener that accepts connections and never answers: a store that hangs.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

async fn hanging_app(options: ApiOptions) -> axum::Router {
    let endpoint = black_hole().await;
    let store = Arc::new(DynamoDbStore::new(local_client(&endpoint), "hangs"));
    let config = ServiceConfig {
        policy: ExpiryPolicy::default(),
        max_data_bytes: 65_536,
        cursors: CursorCodec::from_secret(b"t"),
        max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
        user_limit: None,
    };
    router(AppState::new(
        SessionService::new(store, Arc::new(SystemClock), config),
        options,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_answers_503_within_two_seconds_when_the_store_hangs() {
    let app = hanging_app(ApiOptions::default()).await;
    let started = Instant::now();
    let reply = common::send_to(&app, Method::GET, "/ready").await;
    let elapsed = started.elapsed();
    reply.assert_problem(503, "store_unavailable");
    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlives_the_timeout_is_503() {
    let app = hanging_app(ApiOptions {
        request_timeout: Duration::from_millis(300),
        ..ApiOptions::default()
    })
    .await;
    let started = Instant::now();
    let reply = common::send_to(
        &app,
        Method::GET,
        &format!("/sessions/{}", SessionId::generate()),
    )
    .await;
    reply.assert_problem(503, "store_unavailable");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(reply.header("x-request-id").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_408_not_a_store_outage() {
    let app = TestApp::builder()
        .options(ApiOptions {
            request_timeout: Duration::from_millis(300),
            ..ApiOptions::default()
        })
        .build();
    // Half a JSON object, then nothing: the client stalls.
    let stalled = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{\"userId\":"))
    })
    .chain(futures_util::stream::pending());
    let started = Instant::now();
    let reply = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/sessions")
                .header("content-type", "application/json")
                .body(axum::body::Body::from_stream(stalled))
                .expect("request"),
        )
        .await;
    let problem = reply.assert_problem(408, "invalid_request");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("body")),
        "{problem}"
    );
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(reply.header("x-request-id").is_some());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_no_store() {
    let app = TestApp::new();
    for (method, uri) in [
        (Method::GET, "/health"),
        (Method::GET, "/nope"),
        (Method::DELETE, "/sessions"),
        (Method::GET, "/sessions/x"),
    ] {
        let reply = app.call(method, uri, None, "").await;
        let id = reply.header("x-request-id").expect("x-request-id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "a generated id: {id}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{uri}");
    }
}

#[tokio::test]
async fn a_sane_caller_request_id_is_echoed_and_an_insane_one_replaced() {
    let app = TestApp::new();
    let echoed = app
        .call_with(
            Method::GET,
            "/health",
            &[("x-request-id", "trace-abc.123")],
            "",
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-abc.123"));
    let long = "x".repeat(129);
    for insane in [long.as_str(), "has space", ""] {
        let reply = app
            .call_with(Method::GET, "/health", &[("x-request-id", insane)], "")
            .await;
        let id = reply.header("x-request-id").expect("x-request-id");
        assert_ne!(id, insane);
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }
}

//! The store conformance suite: every backend must pass every case.
//!
//! Cases are plain `pub async fn(Arc<dyn SessionStore>)`, stamped out as tests per backend by
//! [`conformance_tests!`](crate::conformance_tests). They pass `now` explicitly, so expiry is
//! tested by choosing instants, never by sleeping. Instants are years ahead of the wall clock
//! so that no real TTL process (DynamoDB Local's included) ever removes a test's items.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::cursor::Position;

mod limits;
mod tokens;
use crate::store::{PageRequest, SecretCheck, SessionStore, VersionCheck};
use crate::{
    Address, Clock, CursorCodec, DataPatch, ExpiryPolicy, ManualClock, ServiceConfig, Session,
    SessionData, SessionError, SessionId, SessionService, SystemClock, Timestamp, UserId,
};
pub use limits::*;
pub use tokens::*;

/// Stamps out one `#[tokio::test]` per conformance case. `$store` is an expression of type
/// `impl Future<Output = Option<Arc<dyn SessionStore>>>` that makes a fresh, empty store for
/// each case (`None` skips the case, which a fixture may do only outside CI).
#[macro_export]
macro_rules! conformance_tests {
    ($store:expr) => {
        $crate::conformance_cases!(
            $store;
            create_then_get_returns_the_same_session,
            create_refuses_an_existing_id,
            data_round_trips_exactly,
            unknown_session_is_not_found_everywhere,
            replace_sets_data_and_bumps_version,
            replace_with_stale_version_changes_nothing,
            patch_sets_and_removes_only_named_keys,
            patch_with_stale_version_changes_nothing,
            patch_refuses_merged_data_over_the_limit,
            expired_session_is_gone_for_every_route_but_delete,
            refresh_extends_without_touching_data_or_version,
            refresh_may_change_the_idle_timeout,
            refresh_never_passes_the_absolute_cap,
            touch_extends_only_when_nobody_touched_since,
            touch_never_resurrects_a_session,
            sliding_read_extends_lazily,
            sliding_read_respects_the_absolute_cap,
            delete_removes_the_session_once,
            user_listing_is_newest_first_without_repeats_or_gaps,
            user_listing_pages_through_identical_creation_times,
            user_listing_skips_expired_and_other_users,
            full_page_at_the_end_has_no_next_cursor,
            admin_listing_covers_every_live_session_once,
            delete_user_removes_all_and_counts_the_live_ones,
            concurrent_patches_to_different_keys_lose_nothing,
            concurrent_replaces_with_the_same_version_have_one_winner,
            concurrent_refreshes_never_undo_a_new_idle_timeout,
            readiness_is_ok,
            a_token_reads_and_writes_its_session,
            a_token_works_only_until_rotation,
            wrong_tokens_read_as_not_found_and_write_nothing,
            concurrent_rotations_leave_exactly_one_working_token,
            a_delete_racing_a_rotation_never_brings_the_session_back,
            an_expired_session_is_gone_by_token,
            concurrent_creates_under_reject_admit_exactly_the_limit,
            concurrent_creates_under_evict_oldest_keep_the_newest,
            the_limit_holds_with_deletes_refreshes_and_expiries_interleaved,
            deletes_and_revoke_all_free_the_users_slots,
            listings_never_show_the_limits_state,
        );
    };
}

/// Implementation detail of [`conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! conformance_cases {
    ($store:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(store) = $store.await {
                    $crate::store::conformance::$case(store).await;
                }
            }
        )+
    };
}

/// A fixed instant about ten years ahead of the wall clock, on a whole second.
pub fn base_time() -> Timestamp {
    let ten_years = 10 * 365 * 24 * 3600;
    Timestamp::from_epoch_seconds(SystemClock.now().epoch_seconds() + ten_years)
}

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("valid user id")
}

fn object(value: Value) -> SessionData {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A unique user id, so cases never see each other's sessions even on a shared table.
fn fresh_user(label: &str) -> UserId {
    user(&format!("{label}-{}", SessionId::generate()))
}

/// A session as the service would create it at `at` with idle timeout `ttl_seconds`.
pub fn new_session(user_id: &UserId, at: Timestamp, ttl_seconds: u64, data: Value) -> Session {
    Session {
        id: SessionId::generate(),
        secret_hash: crate::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
        user_id: user_id.clone(),
        data: object(data),
        created_at: at,
        updated_at: at,
        touched_at: at,
        ttl: at.epoch_seconds() + i64::try_from(ttl_seconds).expect("small"),
        ttl_seconds,
        version: 1,
    }
}

async fn stored(store: &dyn SessionStore, session: &Session) {
    store.create(session, None).await.expect("create");
}

fn page(limit: usize, after: Option<Position>) -> PageRequest {
    PageRequest { limit, after }
}

fn service(
    store: Arc<dyn SessionStore>,
    clock: Arc<ManualClock>,
    policy: ExpiryPolicy,
) -> SessionService {
    SessionService::new(
        store,
        clock,
        ServiceConfig {
            policy,
            max_data_bytes: crate::data::DEFAULT_MAX_DATA_BYTES,
            cursors: CursorCodec::from_secret(b"conformance"),
            max_page_bytes: crate::service::DEFAULT_MAX_PAGE_BYTES,
            user_limit: None,
        },
    )
}

/// A created session reads back identical, attribute for attribute.
pub async fn create_then_get_returns_the_same_session(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("get"), t0, 3600, json!({"theme": "dark"}));
    stored(&*store, &session).await;
    let read = store
        .get(&session.id, &SecretCheck::Any, t0.plus_seconds(1))
        .await
        .expect("get");
    assert_eq!(*read, session);
}

/// Creating a session whose id exists fails and leaves the existing one as it was.
pub async fn create_refuses_an_existing_id(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let first = new_session(&fresh_user("dup"), t0, 3600, json!({"n": 1}));
    stored(&*store, &first).await;
    let mut second = new_session(&fresh_user("dup"), t0, 3600, json!({"n": 2}));
    second.id = first.id.clone();
    assert!(
        store.create(&second, None).await.is_err(),
        "an existing id must not be overwritten"
    );
    assert_eq!(
        *store
            .get(&first.id, &SecretCheck::Any, t0)
            .await
            .expect("get"),
        first
    );
}

/// Nested objects, arrays, unicode, numbers, booleans and nulls come back as they went in.
pub async fn data_round_trips_exactly(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let data = json!({
        "nested": {"a": {"b": [1, -2, 3.25, 1e100, 0.1, null, true, "x"]}},
        "empty_object": {},
        "empty_array": [],
        "empty_string": "",
        "unicode": "żółć 🚀 \u{0}",
        "big": 9_007_199_254_740_993u64,
        "negative": -42,
        "null": null,
        "key with spaces.and.dots": "fine",
    });
    let session = new_session(&fresh_user("data"), t0, 3600, data.clone());
    stored(&*store, &session).await;
    let read = store
        .get(&session.id, &SecretCheck::Any, t0)
        .await
        .expect("get");
    assert_eq!(Value::Object(read.data.clone()), data);
}

/// Every operation on an id that names no session answers `NotFound` and creates nothing.
pub async fn unknown_session_is_not_found_everywhere(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let id = SessionId::generate();
    let policy = ExpiryPolicy::default();
    assert!(matches!(
        store.get(&id, &SecretCheck::Any, t0).await,
        Err(SessionError::NotFound)
    ));
    assert!(matches!(
        store
            .replace(
                &id,
                &SecretCheck::Any,
                &object(json!({"a": 1})),
                &VersionCheck::Any,
                t0
            )
            .await,
        Err(SessionError::NotFound)
    ));
    let patch = DataPatch::new(object(json!({"a": 1})));
    assert!(matches!(
        store
            .patch(&id, &SecretCheck::Any, &patch, &VersionCheck::Any, 1024, t0)
            .await,
        Err(SessionError::NotFound)
    ));
    assert!(matches!(
        store
            .refresh(&id, &SecretCheck::Any, None, &policy, t0)
            .await,
        Err(SessionError::NotFound)
    ));
    assert!(matches!(
        store
            .touch(&id, &SecretCheck::Any, t0, t0.epoch_seconds() + 10, t0)
            .await,
        Ok(None)
    ));
    assert!(matches!(
        store.delete(&id, &SecretCheck::Any).await,
        Err(SessionError::NotFound)
    ));
    assert!(
        matches!(
            store.get(&id, &SecretCheck::Any, t0).await,
            Err(SessionError::NotFound)
        ),
        "no write may have created the session"
    );
}

/// PUT replaces the whole data, bumps the version by one and sets `updatedAt`, nothing else.
pub async fn replace_sets_data_and_bumps_version(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("put"), t0, 3600, json!({"old": 1, "keep?": 2}));
    stored(&*store, &session).await;
    let t1 = t0.plus_seconds(5);
    let replaced = store
        .replace(
            &session.id,
            &SecretCheck::Any,
            &object(json!({"new": true})),
            &VersionCheck::Any,
            t1,
        )
        .await
        .expect("replace");
    assert_eq!(Value::Object(replaced.data.clone()), json!({"new": true}));
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.updated_at, t1);
    assert_eq!(
        (
            replaced.created_at,
            replaced.touched_at,
            replaced.ttl,
            replaced.ttl_seconds
        ),
        (
            session.created_at,
            session.touched_at,
            session.ttl,
            session.ttl_seconds
        ),
        "a data write does not move expiry"
    );
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t1)
            .await
            .expect("get"),
        replaced
    );
    let again = store
        .replace(
            &session.id,
            &SecretCheck::Any,
            &object(json!({})),
            &VersionCheck::OneOf(vec![2]),
            t1,
        )
        .await
        .expect("replace with the current version");
    assert_eq!(again.version, 3);
}

/// A PUT naming a stale version fails with the current version and writes nothing.
pub async fn replace_with_stale_version_changes_nothing(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("put412"), t0, 3600, json!({"v": 1}));
    stored(&*store, &session).await;
    let result = store
        .replace(
            &session.id,
            &SecretCheck::Any,
            &object(json!({"v": 2})),
            &VersionCheck::OneOf(vec![7]),
            t0,
        )
        .await;
    assert!(
        matches!(result, Err(SessionError::VersionMismatch { current: 1 })),
        "{result:?}"
    );
    let never = store
        .replace(
            &session.id,
            &SecretCheck::Any,
            &object(json!({"v": 3})),
            &VersionCheck::OneOf(vec![]),
            t0,
        )
        .await;
    assert!(
        matches!(never, Err(SessionError::VersionMismatch { current: 1 })),
        "{never:?}"
    );
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t0)
            .await
            .expect("get"),
        session
    );
}

/// PATCH sets the keys it names, removes those set to null, and leaves every other key alone.
pub async fn patch_sets_and_removes_only_named_keys(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(
        &fresh_user("patch"),
        t0,
        3600,
        json!({"keep": {"x": 1}, "change": 1, "drop": 2}),
    );
    stored(&*store, &session).await;
    let t1 = t0.plus_seconds(3);
    let patch = DataPatch::new(object(
        json!({"change": [2], "drop": null, "add": "new", "never": null}),
    ));
    let patched = store
        .patch(
            &session.id,
            &SecretCheck::Any,
            &patch,
            &VersionCheck::OneOf(vec![1]),
            1024,
            t1,
        )
        .await
        .expect("patch");
    assert_eq!(
        Value::Object(patched.data.clone()),
        json!({"keep": {"x": 1}, "change": [2], "add": "new"})
    );
    assert_eq!(
        (patched.version, patched.updated_at, patched.ttl),
        (2, t1, session.ttl)
    );
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t1)
            .await
            .expect("get"),
        patched
    );
}

/// A PATCH naming a stale version fails and writes nothing.
pub async fn patch_with_stale_version_changes_nothing(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("patch412"), t0, 3600, json!({"a": 1}));
    stored(&*store, &session).await;
    let patch = DataPatch::new(object(json!({"a": 2})));
    let result = store
        .patch(
            &session.id,
            &SecretCheck::Any,
            &patch,
            &VersionCheck::OneOf(vec![2, 3]),
            1024,
            t0,
        )
        .await;
    assert!(
        matches!(result, Err(SessionError::VersionMismatch { current: 1 })),
        "{result:?}"
    );
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t0)
            .await
            .expect("get"),
        session
    );
}

/// A PATCH whose merged result would exceed the data limit is refused and writes nothing.
pub async fn patch_refuses_merged_data_over_the_limit(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(
        &fresh_user("patch413"),
        t0,
        3600,
        json!({"a": "x".repeat(60)}),
    );
    stored(&*store, &session).await;
    let limit = 100;
    let patch = DataPatch::new(object(json!({"b": "y".repeat(60)})));
    let result = store
        .patch(
            &session.id,
            &SecretCheck::Any,
            &patch,
            &VersionCheck::Any,
            limit,
            t0,
        )
        .await;
    assert!(
        matches!(result, Err(SessionError::DataTooLarge { limit: 100, size }) if size > 100),
        "{result:?}"
    );
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t0)
            .await
            .expect("get"),
        session
    );
    let shrink = DataPatch::new(object(json!({"a": null, "b": "y".repeat(60)})));
    let patched = store
        .patch(
            &session.id,
            &SecretCheck::Any,
            &shrink,
            &VersionCheck::Any,
            limit,
            t0,
        )
        .await
        .expect("a patch that fits is applied");
    assert_eq!(patched.data.keys().collect::<Vec<_>>(), ["b"]);
}

/// Once `ttl <= now`, reads and writes answer `Expired` (not `NotFound`) until the session is
/// purged, nothing brings it back, and DELETE still removes it.
pub async fn expired_session_is_gone_for_every_route_but_delete(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("expired"), t0, 60, json!({"a": 1}));
    stored(&*store, &session).await;
    let at_expiry = Timestamp::from_epoch_seconds(session.ttl);
    assert!(
        store
            .get(&session.id, &SecretCheck::Any, at_expiry.plus_seconds(-1))
            .await
            .is_ok(),
        "live one second before"
    );
    let policy = ExpiryPolicy::default();
    let patch = DataPatch::new(object(json!({"a": 2})));
    assert!(matches!(
        store.get(&session.id, &SecretCheck::Any, at_expiry).await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        store
            .replace(
                &session.id,
                &SecretCheck::Any,
                &object(json!({})),
                &VersionCheck::Any,
                at_expiry
            )
            .await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        store
            .patch(
                &session.id,
                &SecretCheck::Any,
                &patch,
                &VersionCheck::Any,
                1024,
                at_expiry
            )
            .await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        store
            .refresh(
                &session.id,
                &SecretCheck::Any,
                Some(3600),
                &policy,
                at_expiry
            )
            .await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        store
            .touch(
                &session.id,
                &SecretCheck::Any,
                session.touched_at,
                at_expiry.epoch_seconds() + 3600,
                at_expiry
            )
            .await,
        Ok(None)
    ));
    let still = store
        .get(&session.id, &SecretCheck::Any, at_expiry.plus_seconds(-1))
        .await
        .expect("get before expiry");
    assert_eq!(*still, session, "no refused write changed the stored item");
    store
        .delete(&session.id, &SecretCheck::Any)
        .await
        .expect("delete removes an expired session");
    assert!(matches!(
        store.get(&session.id, &SecretCheck::Any, t0).await,
        Err(SessionError::NotFound)
    ));
}

/// Refresh moves `ttl` to `now + ttlSeconds` and `touchedAt` to now; data, version and
/// `updatedAt` stay.
pub async fn refresh_extends_without_touching_data_or_version(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("refresh"), t0, 600, json!({"a": 1}));
    stored(&*store, &session).await;
    let t1 = t0.plus_seconds(500);
    let refreshed = store
        .refresh(
            &session.id,
            &SecretCheck::Any,
            None,
            &ExpiryPolicy::default(),
            t1,
        )
        .await
        .expect("refresh");
    assert_eq!(refreshed.ttl, t1.epoch_seconds() + 600);
    assert_eq!(refreshed.touched_at, t1);
    assert_eq!(
        (
            &refreshed.data,
            refreshed.version,
            refreshed.updated_at,
            refreshed.ttl_seconds
        ),
        (&session.data, 1, t0, 600)
    );
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t1)
            .await
            .expect("get"),
        refreshed
    );
}

/// A refresh with `ttlSeconds` uses it now and keeps it as the idle timeout, even shorter.
pub async fn refresh_may_change_the_idle_timeout(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("refresh-ttl"), t0, 3600, json!({}));
    stored(&*store, &session).await;
    let policy = ExpiryPolicy::default();
    let t1 = t0.plus_seconds(10);
    let shorter = store
        .refresh(&session.id, &SecretCheck::Any, Some(30), &policy, t1)
        .await
        .expect("refresh");
    assert_eq!(
        (shorter.ttl, shorter.ttl_seconds),
        (t1.epoch_seconds() + 30, 30)
    );
    let t2 = t1.plus_seconds(20);
    let again = store
        .refresh(&session.id, &SecretCheck::Any, None, &policy, t2)
        .await
        .expect("refresh");
    assert_eq!(
        again.ttl,
        t2.epoch_seconds() + 30,
        "the new idle timeout stays"
    );
}

/// No refresh moves `ttl` past `createdAt + max lifetime`.
pub async fn refresh_never_passes_the_absolute_cap(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("cap"), t0, 3600, json!({}));
    stored(&*store, &session).await;
    let policy = ExpiryPolicy {
        max_lifetime_seconds: Some(5000),
        ..ExpiryPolicy::default()
    };
    let t1 = t0.plus_seconds(3000);
    let refreshed = store
        .refresh(&session.id, &SecretCheck::Any, None, &policy, t1)
        .await
        .expect("refresh");
    assert_eq!(refreshed.ttl, t0.epoch_seconds() + 5000);
    let end = Timestamp::from_epoch_seconds(refreshed.ttl);
    assert!(matches!(
        store
            .refresh(&session.id, &SecretCheck::Any, None, &policy, end)
            .await,
        Err(SessionError::Expired)
    ));
}

/// The lazy extension writes only if `touchedAt` is still what the reader saw.
pub async fn touch_extends_only_when_nobody_touched_since(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("touch"), t0, 600, json!({"a": 1}));
    stored(&*store, &session).await;
    let t1 = t0.plus_seconds(100);
    let touched = store
        .touch(
            &session.id,
            &SecretCheck::Any,
            t0,
            t1.epoch_seconds() + 600,
            t1,
        )
        .await
        .expect("touch")
        .expect("nobody touched it since t0");
    assert_eq!(
        (touched.ttl, touched.touched_at, touched.version),
        (t1.epoch_seconds() + 600, t1, 1)
    );
    assert_eq!(touched.data, session.data);
    let stale = store
        .touch(
            &session.id,
            &SecretCheck::Any,
            t0,
            t1.epoch_seconds() + 900,
            t1.plus_seconds(1),
        )
        .await
        .expect("touch");
    assert_eq!(stale, None, "a reader that saw t0 must not extend again");
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t1)
            .await
            .expect("get"),
        touched
    );
}

/// Touching a deleted or expired session changes nothing and creates nothing.
pub async fn touch_never_resurrects_a_session(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("resurrect"), t0, 60, json!({}));
    stored(&*store, &session).await;
    let late = t0.plus_seconds(61);
    assert_eq!(
        store
            .touch(
                &session.id,
                &SecretCheck::Any,
                t0,
                late.epoch_seconds() + 60,
                late
            )
            .await
            .expect("touch"),
        None
    );
    assert!(matches!(
        store.get(&session.id, &SecretCheck::Any, late).await,
        Err(SessionError::Expired)
    ));
    store
        .delete(&session.id, &SecretCheck::Any)
        .await
        .expect("delete");
    assert_eq!(
        store
            .touch(
                &session.id,
                &SecretCheck::Any,
                t0,
                t0.epoch_seconds() + 600,
                t0
            )
            .await
            .expect("touch"),
        None
    );
    assert!(matches!(
        store.get(&session.id, &SecretCheck::Any, t0).await,
        Err(SessionError::NotFound)
    ));
}

/// With sliding on, a read extends the session only once `touchAfter` has passed since the
/// last extension; a read before that writes nothing.
pub async fn sliding_read_extends_lazily(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let clock = Arc::new(ManualClock::new(t0));
    let policy = ExpiryPolicy {
        sliding: true,
        touch_after_seconds: 60,
        ..ExpiryPolicy::default()
    };
    let sessions = service(store.clone(), clock.clone(), policy);
    let (created, _) = sessions
        .create(
            fresh_user("sliding").as_str(),
            object(json!({"a": 1})),
            Some(600),
        )
        .await
        .expect("create");
    clock.advance_seconds(59);
    let early = sessions
        .get(Address::Id(&created.id.to_string()))
        .await
        .expect("get");
    assert_eq!(
        (early.ttl, early.touched_at),
        (created.ttl, created.touched_at),
        "not due yet"
    );
    let raw = store
        .get(&created.id, &SecretCheck::Any, clock.now())
        .await
        .expect("raw get");
    assert_eq!(*raw, created, "a read before touchAfter writes nothing");
    clock.advance_seconds(1);
    let due = sessions
        .get(Address::Id(&created.id.to_string()))
        .await
        .expect("get");
    assert_eq!(due.ttl, clock.now().epoch_seconds() + 600);
    assert_eq!(
        (due.touched_at, due.version, due.updated_at),
        (clock.now(), 1, created.updated_at)
    );
    assert_eq!(
        store
            .get(&created.id, &SecretCheck::Any, clock.now())
            .await
            .expect("raw get"),
        due
    );
}

/// Sliding extensions stop at the absolute cap.
pub async fn sliding_read_respects_the_absolute_cap(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let clock = Arc::new(ManualClock::new(t0));
    let policy = ExpiryPolicy {
        sliding: true,
        touch_after_seconds: 0,
        max_lifetime_seconds: Some(1000),
        ..ExpiryPolicy::default()
    };
    let sessions = service(store, clock.clone(), policy);
    let (created, _) = sessions
        .create(
            fresh_user("sliding-cap").as_str(),
            SessionData::new(),
            Some(600),
        )
        .await
        .expect("create");
    clock.advance_seconds(500);
    let read = sessions
        .get(Address::Id(&created.id.to_string()))
        .await
        .expect("get");
    assert_eq!(read.ttl, t0.epoch_seconds() + 1000);
    clock.advance_seconds(500);
    assert!(matches!(
        sessions.get(Address::Id(&created.id.to_string())).await,
        Err(SessionError::Expired)
    ));
}

/// DELETE removes a session; a second DELETE finds nothing.
pub async fn delete_removes_the_session_once(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("delete");
    let session = new_session(&owner, t0, 3600, json!({}));
    stored(&*store, &session).await;
    store
        .delete(&session.id, &SecretCheck::Any)
        .await
        .expect("delete");
    assert!(matches!(
        store.get(&session.id, &SecretCheck::Any, t0).await,
        Err(SessionError::NotFound)
    ));
    assert!(matches!(
        store.delete(&session.id, &SecretCheck::Any).await,
        Err(SessionError::NotFound)
    ));
    let listed = store
        .list_user(&owner, &page(10, None), t0)
        .await
        .expect("list");
    assert!(
        listed.sessions.is_empty(),
        "the index entry went with the session"
    );
}

async fn walk_user(
    store: &dyn SessionStore,
    owner: &UserId,
    limit: usize,
    now: Timestamp,
) -> Vec<Vec<SessionId>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let got = store
            .list_user(owner, &page(limit, after), now)
            .await
            .expect("list");
        assert!(got.sessions.len() <= limit);
        pages.push(got.sessions.iter().map(|s| s.id.clone()).collect());
        match got.next {
            Some(next) => after = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 1000, "runaway pagination");
    }
}

/// Per-user pages are newest first, never repeat or skip a session, and end without a cursor.
pub async fn user_listing_is_newest_first_without_repeats_or_gaps(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("list");
    let mut created = Vec::new();
    for i in 0..7 {
        let session = new_session(&owner, t0.plus_seconds(i), 3600, json!({"i": i}));
        stored(&*store, &session).await;
        created.push(session.id);
    }
    let now = t0.plus_seconds(10);
    let pages = walk_user(&*store, &owner, 3, now).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    let walked: Vec<SessionId> = pages.into_iter().flatten().collect();
    created.reverse();
    assert_eq!(walked, created, "newest first, each exactly once");
}

/// Sessions created in the same millisecond are still each listed exactly once.
pub async fn user_listing_pages_through_identical_creation_times(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("ties");
    let mut created = HashSet::new();
    for _ in 0..5 {
        let session = new_session(&owner, t0, 3600, json!({}));
        stored(&*store, &session).await;
        created.insert(session.id);
    }
    let pages = walk_user(&*store, &owner, 2, t0).await;
    let walked: Vec<SessionId> = pages.into_iter().flatten().collect();
    assert_eq!(walked.len(), 5, "no repeats");
    assert_eq!(
        walked.into_iter().collect::<HashSet<_>>(),
        created,
        "no gaps"
    );
}

/// A user's listing leaves out expired sessions and other users' sessions.
pub async fn user_listing_skips_expired_and_other_users(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("mine");
    let live = new_session(&owner, t0, 3600, json!({}));
    let expired = new_session(&owner, t0.plus_seconds(1), 10, json!({}));
    let other = new_session(&fresh_user("theirs"), t0, 3600, json!({}));
    for s in [&live, &expired, &other] {
        stored(&*store, s).await;
    }
    let listed = store
        .list_user(&owner, &page(10, None), t0.plus_seconds(20))
        .await
        .expect("list");
    assert_eq!(listed.sessions, vec![live]);
    assert_eq!(listed.next, None);
}

/// A last page that is exactly full carries no cursor to an empty page.
pub async fn full_page_at_the_end_has_no_next_cursor(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("exact");
    for i in 0..4 {
        stored(
            &*store,
            &new_session(&owner, t0.plus_seconds(i), 3600, json!({})),
        )
        .await;
    }
    let pages = walk_user(&*store, &owner, 2, t0.plus_seconds(5)).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
}

/// The admin listing visits every live session exactly once across pages, and no expired one.
pub async fn admin_listing_covers_every_live_session_once(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let now = t0.plus_seconds(100);
    let owner = fresh_user("admin");
    let mut live = HashSet::new();
    for i in 0..9 {
        let session = new_session(&owner, t0.plus_seconds(i), 3600, json!({"i": i}));
        stored(&*store, &session).await;
        live.insert(session.id);
    }
    let expired = new_session(&owner, t0, 50, json!({}));
    stored(&*store, &expired).await;
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let got = store
            .list_all(&page(4, after.take()), now)
            .await
            .expect("list all");
        assert!(got.sessions.len() <= 4);
        assert!(
            got.sessions.iter().all(|s| !s.is_expired(now)),
            "no expired session is listed"
        );
        seen.extend(got.sessions.into_iter().map(|s| s.id));
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let unique: HashSet<SessionId> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no session is listed twice");
    assert!(live.is_subset(&unique), "every live session is listed");
    assert!(!unique.contains(&expired.id));
}

/// Revoking a user deletes every one of their sessions (expired too) and counts the live ones;
/// other users keep theirs.
pub async fn delete_user_removes_all_and_counts_the_live_ones(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("revoke");
    let bystander = new_session(&fresh_user("bystander"), t0, 3600, json!({}));
    stored(&*store, &bystander).await;
    let mut mine = Vec::new();
    for i in 0..30 {
        let session = new_session(
            &owner,
            t0.plus_seconds(i),
            if i < 3 { 5 } else { 3600 },
            json!({}),
        );
        stored(&*store, &session).await;
        mine.push(session);
    }
    let now = t0.plus_seconds(100);
    assert_eq!(store.delete_user(&owner, now).await.expect("revoke"), 27);
    for session in &mine {
        assert!(matches!(
            store.get(&session.id, &SecretCheck::Any, now).await,
            Err(SessionError::NotFound)
        ));
    }
    assert!(
        store
            .get(&bystander.id, &SecretCheck::Any, now)
            .await
            .is_ok()
    );
    assert_eq!(
        store.delete_user(&owner, now).await.expect("revoke again"),
        0
    );
}

/// Many concurrent patches, each setting its own key, all land.
pub async fn concurrent_patches_to_different_keys_lose_nothing(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let session = new_session(&fresh_user("race"), t0, 3600, json!({"base": true}));
    stored(&*store, &session).await;
    let writers = 16;
    let mut tasks = Vec::new();
    for i in 0..writers {
        let (store, id) = (store.clone(), session.id.clone());
        tasks.push(tokio::spawn(async move {
            let patch = DataPatch::new(object(json!({ format!("k{i}"): i })));
            store
                .patch(&id, &SecretCheck::Any, &patch, &VersionCheck::Any, 4096, t0)
                .await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("every patch succeeds");
    }
    let read = store
        .get(&session.id, &SecretCheck::Any, t0)
        .await
        .expect("get");
    assert_eq!(read.version, 1 + writers);
    assert_eq!(read.data.get("base"), Some(&json!(true)));
    for i in 0..writers {
        assert_eq!(
            read.data.get(&format!("k{i}")),
            Some(&json!(i)),
            "k{i} was lost"
        );
    }
}

/// Concurrent PUTs naming the same version: exactly one wins, the others get a mismatch.
pub async fn concurrent_replaces_with_the_same_version_have_one_winner(
    store: Arc<dyn SessionStore>,
) {
    let t0 = base_time();
    let session = new_session(&fresh_user("cas"), t0, 3600, json!({}));
    stored(&*store, &session).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (store, id) = (store.clone(), session.id.clone());
        tasks.push(tokio::spawn(async move {
            store
                .replace(
                    &id,
                    &SecretCheck::Any,
                    &object(json!({"winner": i})),
                    &VersionCheck::OneOf(vec![1]),
                    t0,
                )
                .await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("join") {
            Ok(s) => winners.push(s),
            Err(SessionError::VersionMismatch { current: 2 }) => {}
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(
        *store
            .get(&session.id, &SecretCheck::Any, t0)
            .await
            .expect("get"),
        winners[0]
    );
}

/// Refreshes without `ttlSeconds` racing one that sets it: whatever the order, the new idle
/// timeout stays, and `ttl` follows from it. A refresh that computed `ttl` from the idle timeout
/// it read must not write over one that changed it in between.
pub async fn concurrent_refreshes_never_undo_a_new_idle_timeout(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let now = t0.plus_seconds(1);
    let policy = ExpiryPolicy::default();
    for _ in 0..4 {
        let session = new_session(&fresh_user("refresh-race"), t0, 60, json!({}));
        stored(&*store, &session).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (store, id) = (store.clone(), session.id.clone());
            let ttl_seconds = (i == 6).then_some(7200);
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    store
                        .refresh(&id, &SecretCheck::Any, ttl_seconds, &policy, now)
                        .await?;
                }
                Ok::<_, SessionError>(())
            }));
        }
        for task in tasks {
            task.await.expect("join").expect("every refresh succeeds");
        }
        let read = store
            .get(&session.id, &SecretCheck::Any, now)
            .await
            .expect("get");
        assert_eq!(
            read.ttl_seconds, 7200,
            "a refresh without ttlSeconds wrote back the idle timeout it had read"
        );
        assert_eq!(read.ttl, policy.ttl_at(read.created_at, 7200, now));
        assert_eq!(read.version, 1, "a refresh changes no version");
    }
}

/// A freshly made store is ready.
pub async fn readiness_is_ok(store: Arc<dyn SessionStore>) {
    store.check_ready().await.expect("ready");
}

//! The embedded store: the conformance suite, plus what only a file-backed store has
//! (restarts, the purge after expiry, the file lock).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use session_core::store::conformance::base_time;
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::store::{PageRequest, SecretCheck};
use session_core::{
    Clock, ManualClock, Session, SessionData, SessionError, SessionId, SessionStore, Timestamp,
    UserId, VersionCheck,
};

session_core::conformance_tests!(async {
    let store = EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("in-memory store");
    Some(Arc::new(store) as Arc<dyn SessionStore>)
});

/// The JSON object `value` as session data.
fn object(value: serde_json::Value) -> SessionData {
    value.as_object().cloned().expect("object")
}

fn session(user: &str, at: Timestamp, ttl_seconds: u64) -> Session {
    Session {
        id: SessionId::generate(),
        secret_hash: session_core::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
        user_id: UserId::parse(user).expect("valid"),
        data: object(json!({"k": "v"})),
        created_at: at,
        updated_at: at,
        touched_at: at,
        ttl: at.epoch_seconds() + i64::try_from(ttl_seconds).expect("small"),
        ttl_seconds,
        version: 1,
    }
}

fn options(clock: Arc<ManualClock>, purge_after_seconds: u64) -> EmbeddedOptions {
    EmbeddedOptions {
        purge_after_seconds,
        sweep_interval: Duration::from_secs(3600),
        clock,
        ..EmbeddedOptions::default()
    }
}

#[tokio::test]
async fn sessions_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/sessions.redb");
    let t0 = base_time();
    let clock = Arc::new(ManualClock::new(t0));
    let written = {
        let store = EmbeddedStore::open(&path, options(clock.clone(), 3600)).expect("open");
        let s = session("restart", t0, 3600);
        store.create(&s, None).await.expect("create");
        s
    };
    let store = EmbeddedStore::open(&path, options(clock, 3600)).expect("reopen");
    assert_eq!(
        *store
            .get(&written.id, &SecretCheck::Any, t0)
            .await
            .expect("get after reopen"),
        written
    );
}

#[tokio::test]
async fn a_second_store_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let _first = EmbeddedStore::open(&path, EmbeddedOptions::default()).expect("open");
    let second = EmbeddedStore::open(&path, EmbeddedOptions::default());
    assert!(
        matches!(&second, Err(SessionError::Internal { .. })),
        "a second writer must be refused, got {second:?}"
    );
}

#[tokio::test]
async fn expired_sessions_read_as_expired_until_purged_then_not_found() {
    let t0 = base_time();
    let clock = Arc::new(ManualClock::new(t0));
    let store = EmbeddedStore::in_memory(options(clock.clone(), 600)).expect("store");
    let short = session("purge", t0, 60);
    let long = session("purge", t0, 7200);
    store.create(&short, None).await.expect("create");
    store.create(&long, None).await.expect("create");

    clock.set(t0.plus_seconds(60 + 599));
    assert_eq!(
        store.purge_expired().await.expect("purge"),
        0,
        "too early to purge"
    );
    assert!(matches!(
        store.get(&short.id, &SecretCheck::Any, clock.now()).await,
        Err(SessionError::Expired)
    ));

    clock.set(t0.plus_seconds(60 + 600));
    assert_eq!(store.purge_expired().await.expect("purge"), 1);
    assert!(matches!(
        store.get(&short.id, &SecretCheck::Any, clock.now()).await,
        Err(SessionError::NotFound)
    ));
    assert!(
        store
            .get(&long.id, &SecretCheck::Any, clock.now())
            .await
            .is_ok(),
        "live sessions are never purged"
    );
}

#[tokio::test]
async fn the_sweeper_purges_on_its_own() {
    let t0 = base_time();
    let clock = Arc::new(ManualClock::new(t0));
    let store = EmbeddedStore::in_memory(EmbeddedOptions {
        purge_after_seconds: 0,
        sweep_interval: Duration::from_millis(20),
        clock: clock.clone(),
        ..EmbeddedOptions::default()
    })
    .expect("store");
    let s = session("sweeper", t0, 1);
    store.create(&s, None).await.expect("create");
    clock.advance_seconds(5);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.get(&s.id, &SecretCheck::Any, clock.now()).await {
            Err(SessionError::NotFound) => break,
            Err(SessionError::Expired) => {}
            other => panic!("unexpected: {other:?}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never purged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn writes_after_close_are_unavailable_not_lost_silently() {
    let store = EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store");
    store.close();
    let result = store
        .create(&session("closed", base_time(), 60), None)
        .await;
    assert!(
        matches!(result, Err(SessionError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(matches!(
        store.check_ready().await,
        Err(SessionError::Unavailable { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits_and_all_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        EmbeddedStore::open(dir.path().join("s.redb"), EmbeddedOptions::default()).expect("open"),
    );
    let t0 = base_time();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let s = session(&format!("bulk{}", i % 7), t0, 3600);
            store.create(&s, None).await.map(|_| s)
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.expect("join").expect("create"));
    }
    for s in created {
        assert_eq!(
            *store.get(&s.id, &SecretCheck::Any, t0).await.expect("get"),
            s
        );
    }
}

/// Reads by id are served from a cache of decoded sessions. While other tasks read the same
/// sessions as fast as they can (filling that cache from snapshots that race the commits),
/// the read after each acknowledged write returns that write, no reader ever sees a session
/// go back to an older version, and a deleted session (one by one or by revoking its user)
/// never comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_racing_writes_never_see_a_replaced_or_deleted_session() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let t0 = base_time();
    let store = Arc::new(EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store"));
    let sessions: Vec<Session> = (0..4).map(|_| session("race", t0, 3600)).collect();
    for s in &sessions {
        store.create(s, None).await.expect("create");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, stop, ids) = (
                store.clone(),
                stop.clone(),
                sessions.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            );
            tokio::spawn(async move {
                let mut seen = vec![0u64; ids.len()];
                let mut gone = vec![false; ids.len()];
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for (i, id) in ids.iter().enumerate() {
                        match store.get(id, &SecretCheck::Any, t0).await {
                            Ok(found) => {
                                assert!(!gone[i], "session {i} came back after it was deleted");
                                assert!(
                                    found.version >= seen[i],
                                    "session {i} went back from version {} to {}",
                                    seen[i],
                                    found.version
                                );
                                seen[i] = found.version;
                            }
                            Err(SessionError::NotFound) => gone[i] = true,
                            Err(other) => panic!("read failed: {other:?}"),
                        }
                        reads += 1;
                    }
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();

    for round in 0..1000u64 {
        let target = &sessions[usize::try_from(round % 4).expect("small")];
        let data = object(json!({"round": round}));
        let written = store
            .replace(&target.id, &SecretCheck::Any, &data, &VersionCheck::Any, t0)
            .await
            .expect("replace");
        let read = store
            .get(&target.id, &SecretCheck::Any, t0)
            .await
            .expect("read after write");
        assert_eq!(*read, written, "round {round}: the read after a write");
    }
    store
        .delete(&sessions[0].id, &SecretCheck::Any)
        .await
        .expect("delete");
    assert!(matches!(
        store.get(&sessions[0].id, &SecretCheck::Any, t0).await,
        Err(SessionError::NotFound)
    ));
    let revoked = store
        .delete_user(&sessions[1].user_id, t0)
        .await
        .expect("revoke");
    assert_eq!(revoked, 3);
    for s in &sessions {
        assert!(
            matches!(
                store.get(&s.id, &SecretCheck::Any, t0).await,
                Err(SessionError::NotFound)
            ),
            "every session of the user is gone"
        );
    }
    // Let the readers observe the deletions before they stop.
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let reads = reader.await.expect("a reader failed");
        assert!(reads > 100, "the reader raced the writes ({reads} reads)");
    }
}

/// With the read cache off, reads go to redb every time and still see every write.
#[tokio::test]
async fn a_store_without_a_read_cache_reads_its_writes() {
    let t0 = base_time();
    let store = EmbeddedStore::in_memory(EmbeddedOptions {
        read_cache_bytes: 0,
        ..EmbeddedOptions::default()
    })
    .expect("store");
    let s = session("uncached", t0, 3600);
    store.create(&s, None).await.expect("create");
    assert_eq!(
        *store.get(&s.id, &SecretCheck::Any, t0).await.expect("read"),
        s
    );
    let data = object(json!({"k": "w"}));
    let written = store
        .replace(&s.id, &SecretCheck::Any, &data, &VersionCheck::Any, t0)
        .await
        .expect("replace");
    assert_eq!(
        *store
            .get(&s.id, &SecretCheck::Any, t0)
            .await
            .expect("read again"),
        written
    );
}

/// Listings take the sessions they list from the read cache when it has them, and fill it
/// with the others: a listing after a replace, a delete or an expiry shows the session as it
/// now is, and a read by id after a listing returns what the listing showed.
#[tokio::test]
async fn listings_through_the_read_cache_show_every_write() {
    let t0 = base_time();
    let store = EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store");
    let user = UserId::parse("lister").expect("valid");
    let page = PageRequest {
        limit: 10,
        after: None,
    };
    let short = session("lister", t0, 60);
    let kept = session("lister", t0, 3600);
    let gone = session("lister", t0, 3600);
    for s in [&short, &kept, &gone] {
        store.create(s, None).await.expect("create");
    }
    // The first listing reads redb and fills the cache; the read by id then hits it.
    assert_eq!(
        store
            .list_user(&user, &page, t0)
            .await
            .expect("list")
            .sessions
            .len(),
        3
    );
    assert_eq!(
        *store
            .get(&kept.id, &SecretCheck::Any, t0)
            .await
            .expect("read"),
        kept
    );

    let data = object(json!({"k": "new"}));
    let replaced = store
        .replace(&kept.id, &SecretCheck::Any, &data, &VersionCheck::Any, t0)
        .await
        .expect("replace");
    store
        .delete(&gone.id, &SecretCheck::Any)
        .await
        .expect("delete");
    let listed = store.list_user(&user, &page, t0).await.expect("list");
    assert_eq!(listed.sessions.len(), 2);
    assert!(
        listed.sessions.contains(&replaced),
        "the replaced version is listed"
    );
    assert!(
        !listed.sessions.iter().any(|s| s.id == gone.id),
        "the deleted one is not"
    );

    // Cached or not, an expired session is not listed.
    let later = t0.plus_seconds(61);
    let listed = store.list_user(&user, &page, later).await.expect("list");
    assert_eq!(listed.sessions, vec![replaced]);
}

/// The admin listing runs oldest first; its cursors hold the creation time, so a walk goes on
/// when the session a cursor points after is deleted.
#[tokio::test]
async fn the_admin_listing_runs_oldest_first_and_resumes_after_a_deleted_session() {
    let store = EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store");
    let t0 = base_time();
    let sessions: Vec<Session> = (0..5_i64)
        .map(|n| {
            session(
                "order",
                Timestamp::from_millis(t0.millis() + (4 - n) * 1000),
                3600,
            )
        })
        .collect();
    for s in &sessions {
        store.create(s, None).await.expect("create");
    }
    let mut oldest_first = sessions.clone();
    oldest_first.sort_by_key(|s| s.created_at.millis());
    let ids = |page: &session_core::store::StorePage| -> Vec<SessionId> {
        page.sessions.iter().map(|s| s.id.clone()).collect()
    };
    let expected: Vec<SessionId> = oldest_first.iter().map(|s| s.id.clone()).collect();
    let all = store
        .list_all(
            &PageRequest {
                limit: 10,
                after: None,
            },
            t0,
        )
        .await
        .expect("list");
    assert_eq!(ids(&all), expected);
    // The session a cursor points after may go away between pages; the walk goes on.
    let first = store
        .list_all(
            &PageRequest {
                limit: 2,
                after: None,
            },
            t0,
        )
        .await
        .expect("list");
    assert_eq!(ids(&first), expected[..2]);
    let next = first.next.clone().expect("a next page");
    assert_eq!(
        next.created().expect("a creation time"),
        oldest_first[1].created_at,
        "the cursor holds the creation time"
    );
    store
        .delete(&oldest_first[1].id, &SecretCheck::Any)
        .await
        .expect("delete");
    let rest = store
        .list_all(
            &PageRequest {
                limit: 10,
                after: Some(next),
            },
            t0,
        )
        .await
        .expect("list");
    assert_eq!(ids(&rest), expected[2..]);
}

/// Revoking every session of a user with many sessions removes them all, and leaves the
/// user with nothing to list, while other users keep theirs.
#[tokio::test]
async fn revoking_a_user_with_many_sessions_leaves_none() {
    const MANY: usize = 20_000;
    let t0 = base_time();
    let store = Arc::new(EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store"));
    let many = UserId::parse("many").expect("valid");
    let other = session("other", t0, 3600);
    store.create(&other, None).await.expect("create");
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..100 {
        let store = store.clone();
        tasks.spawn(async move {
            for _ in 0..MANY / 100 {
                let s = session("many", t0.plus_seconds(chunk), 3600);
                store.create(&s, None).await.expect("create");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("creates");
    }
    let page = PageRequest {
        limit: 10,
        after: None,
    };
    assert_eq!(
        store
            .list_user(&many, &page, t0)
            .await
            .expect("list")
            .sessions
            .len(),
        10
    );

    let revoked = store.delete_user(&many, t0).await.expect("revoke");
    assert_eq!(revoked, u64::try_from(MANY).expect("small"));
    let listed = store.list_user(&many, &page, t0).await.expect("list");
    assert!(listed.sessions.is_empty() && listed.next.is_none());
    assert_eq!(store.delete_user(&many, t0).await.expect("again"), 0);
    assert_eq!(
        *store
            .get(&other.id, &SecretCheck::Any, t0)
            .await
            .expect("other"),
        other
    );
}

/// A revoke-all of thousands of sessions does not hold the writer for one transaction: a
/// write queued while it runs commits before the revoke-all has finished.
#[tokio::test]
async fn writes_queued_during_a_large_revoke_all_go_through_before_it_ends() {
    const MANY: i64 = 10_000;
    let t0 = base_time();
    let store = Arc::new(EmbeddedStore::in_memory(EmbeddedOptions::default()).expect("store"));
    let mut tasks = tokio::task::JoinSet::new();
    let mut oldest = None;
    for n in 0..MANY {
        // Created a millisecond apart, so that the first one is the oldest.
        let s = session("many", Timestamp::from_millis(t0.millis() + n), 3600);
        oldest.get_or_insert_with(|| s.id.clone());
        let store = store.clone();
        tasks.spawn(async move { store.create(&s, None).await.expect("create") });
    }
    tasks.join_all().await;
    let oldest = oldest.expect("sessions");

    let revoke = {
        let store = store.clone();
        tokio::spawn(async move { store.delete_user(&UserId::parse("many")?, t0).await })
    };
    // The revoke-all queues its first write before this task runs again.
    tokio::task::yield_now().await;
    let other = session("other", t0, 3600);
    store.create(&other, None).await.expect("create meanwhile");
    assert!(
        store.get(&oldest, &SecretCheck::Any, t0).await.is_ok(),
        "the create waited for the whole revoke-all"
    );
    assert_eq!(
        revoke.await.expect("revoke task").expect("revoke"),
        u64::try_from(MANY).expect("small")
    );
    assert!(matches!(
        store.get(&oldest, &SecretCheck::Any, t0).await,
        Err(SessionError::NotFound)
    ));
}

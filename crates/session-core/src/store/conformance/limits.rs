//! Conformance cases for the per-user session limit: it holds under any interleaving of
//! concurrent creates, deletes, refreshes and expiries; expired and deleted sessions never
//! count; revoke-all leaves nothing behind that blocks the next creates; and listings never show
//! the state a store keeps to count.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use super::{base_time, fresh_user, new_session, page};
use crate::store::{SecretCheck, SessionStore};
use crate::{
    Created, ExpiryPolicy, LimitPolicy, Session, SessionError, SessionId, Timestamp, UserId,
    UserLimit,
};

const MAX: usize = 5;
const BURST: usize = 50;

fn limit(policy: LimitPolicy) -> UserLimit {
    UserLimit::new(MAX, policy).expect("valid limit")
}

/// The ids of `user`'s live sessions at `now`, through the user listing.
async fn live_ids(store: &dyn SessionStore, user: &UserId, now: Timestamp) -> HashSet<SessionId> {
    let mut ids = HashSet::new();
    let mut after = None;
    loop {
        let got = store
            .list_user(user, &page(100, after.take()), now)
            .await
            .expect("list user");
        ids.extend(got.sessions.into_iter().map(|s| s.id));
        match got.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
}

/// Runs `creates` concurrently under `limit`; each answer with its session.
async fn burst(
    store: &Arc<dyn SessionStore>,
    creates: Vec<Session>,
    limit: UserLimit,
) -> Vec<(Session, Result<Created, SessionError>)> {
    let tasks: Vec<_> = creates
        .into_iter()
        .map(|session| {
            let store = store.clone();
            tokio::spawn(async move {
                let outcome = store.create(&session, Some(&limit)).await;
                (session, outcome)
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("create task"));
    }
    outcomes
}

/// 50 concurrent creates for one user under `reject` with a limit of 5: exactly 5 are created,
/// 45 are refused with `TooManySessions`, and the 5 created are the user's live sessions.
pub async fn concurrent_creates_under_reject_admit_exactly_the_limit(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("reject");
    let creates = (0..BURST)
        .map(|_| new_session(&owner, t0, 3600, json!({})))
        .collect();
    let outcomes = burst(&store, creates, limit(LimitPolicy::Reject)).await;
    let mut created = HashSet::new();
    for (session, outcome) in outcomes {
        match outcome {
            Ok(done) => {
                assert_eq!(done.evicted, 0, "reject never evicts");
                created.insert(session.id);
            }
            Err(SessionError::TooManySessions { limit }) => assert_eq!(limit, MAX),
            Err(other) => panic!("a create failed otherwise than at the limit: {other:?}"),
        }
    }
    assert_eq!(created.len(), MAX, "exactly the limit is created");
    assert_eq!(live_ids(&*store, &owner, t0).await, created);
}

/// 50 concurrent creates for one user under `evict-oldest` with a limit of 5: every one
/// succeeds, 45 sessions are evicted in all, and 5 are live; 5 later creates then leave exactly
/// those 5, the newest, live.
pub async fn concurrent_creates_under_evict_oldest_keep_the_newest(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("evict");
    let evict = limit(LimitPolicy::EvictOldest);
    let creates = (0..BURST)
        .map(|i| new_session(&owner, millis_after(t0, i as i64), 3600, json!({})))
        .collect();
    let outcomes = burst(&store, creates, evict).await;
    let mut evicted = 0;
    let mut created = HashSet::new();
    for (session, outcome) in outcomes {
        evicted += outcome.expect("every create succeeds").evicted;
        created.insert(session.id);
    }
    assert_eq!(
        evicted,
        (BURST - MAX) as u64,
        "each eviction is counted once"
    );
    let live = live_ids(&*store, &owner, t0.plus_seconds(1)).await;
    assert_eq!(live.len(), MAX, "exactly the limit is live");
    assert!(live.is_subset(&created));
    let mut newest = HashSet::new();
    for i in 0..MAX {
        let session = new_session(&owner, t0.plus_seconds(10 + i as i64), 3600, json!({}));
        let done = store
            .create(&session, Some(&evict))
            .await
            .expect("create at the limit");
        assert_eq!(done.evicted, 1, "one out, one in");
        newest.insert(session.id);
    }
    assert_eq!(
        live_ids(&*store, &owner, t0.plus_seconds(20)).await,
        newest,
        "the oldest go first"
    );
}

/// Deletes, refreshes and expiries interleaved with concurrent creates, round after round,
/// under both policies: the user never has more than the limit live, and under `reject` a slot
/// freed by a delete or an expiry is usable at once (even when no TTL process removed the
/// expired session yet).
pub async fn the_limit_holds_with_deletes_refreshes_and_expiries_interleaved(
    store: Arc<dyn SessionStore>,
) {
    let policy = ExpiryPolicy::default();
    for which in [LimitPolicy::Reject, LimitPolicy::EvictOldest] {
        let rule = limit(which);
        let owner = fresh_user("interleave");
        let mut now = base_time();
        for round in 0..4_i64 {
            now = now.plus_seconds(100);
            let mut live: Vec<Session> = store
                .list_user(&owner, &page(100, None), now)
                .await
                .expect("list user")
                .sessions;
            // Some go by delete, some are refreshed, and creates race with both; sessions
            // with a short idle timeout expire before the next round.
            let mut tasks = Vec::new();
            for (i, session) in live.drain(..).enumerate() {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    if i % 2 == 0 {
                        let _ = store.delete(&session.id, &SecretCheck::Any).await;
                    } else {
                        let _ = store
                            .refresh(&session.id, &SecretCheck::Any, Some(3600), &policy, now)
                            .await;
                    }
                }));
            }
            for i in 0..12 {
                let ttl = if i % 3 == 0 { 50 } else { 3600 };
                let session =
                    new_session(&owner, millis_after(now, i), ttl, json!({"round": round}));
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    match store.create(&session, Some(&rule)).await {
                        Ok(_) | Err(SessionError::TooManySessions { .. }) => {}
                        Err(other) => panic!("create failed: {other:?}"),
                    }
                }));
            }
            for task in tasks {
                task.await.expect("task");
            }
            for at in [now.plus_seconds(1), now.plus_seconds(60)] {
                let count = live_ids(&*store, &owner, at).await.len();
                assert!(count <= MAX, "{which}: {count} live in round {round}");
            }
        }
        // Expire everything the rounds left: the expired sessions are still stored, and must
        // not count.
        now = now.plus_seconds(100_000);
        for i in 0..MAX {
            let session = new_session(&owner, millis_after(now, i as i64), 3600, json!({}));
            let done = store
                .create(&session, Some(&rule))
                .await
                .expect("expired sessions leave room");
            assert_eq!(
                done.evicted, 0,
                "{which}: an expired session is not evicted"
            );
        }
        assert_eq!(live_ids(&*store, &owner, now).await.len(), MAX);
        if which == LimitPolicy::Reject {
            let extra = new_session(&owner, now.plus_seconds(1), 3600, json!({}));
            assert!(matches!(
                store.create(&extra, Some(&rule)).await,
                Err(SessionError::TooManySessions { limit: MAX })
            ));
            assert!(matches!(
                store.get(&extra.id, &SecretCheck::Any, now).await,
                Err(SessionError::NotFound)
            ));
        }
    }
}

/// Under `reject`, a delete frees a slot at once, and revoke-all leaves nothing that blocks or
/// miscounts the user's next sessions.
pub async fn deletes_and_revoke_all_free_the_users_slots(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let owner = fresh_user("slots");
    let reject = limit(LimitPolicy::Reject);
    let mut mine = Vec::new();
    for i in 0..MAX {
        let session = new_session(&owner, millis_after(t0, i as i64), 3600, json!({}));
        store.create(&session, Some(&reject)).await.expect("create");
        mine.push(session);
    }
    let over = new_session(&owner, t0.plus_seconds(1), 3600, json!({}));
    assert!(matches!(
        store.create(&over, Some(&reject)).await,
        Err(SessionError::TooManySessions { .. })
    ));
    store
        .delete(&mine[2].id, &SecretCheck::Any)
        .await
        .expect("delete");
    store
        .create(&over, Some(&reject))
        .await
        .expect("a deleted session leaves room");
    let revoked = store
        .delete_user(&owner, t0.plus_seconds(2))
        .await
        .expect("revoke all");
    assert_eq!(revoked, MAX as u64);
    assert!(
        live_ids(&*store, &owner, t0.plus_seconds(2))
            .await
            .is_empty()
    );
    for i in 0..MAX {
        let session = new_session(&owner, t0.plus_seconds(3 + i as i64), 3600, json!({}));
        let done = store
            .create(&session, Some(&reject))
            .await
            .expect("revoke-all leaves room for the limit");
        assert_eq!(done.evicted, 0);
    }
    let extra = new_session(&owner, t0.plus_seconds(10), 3600, json!({}));
    assert!(matches!(
        store.create(&extra, Some(&reject)).await,
        Err(SessionError::TooManySessions { .. })
    ));
}

/// With the limit on, the admin listing, page after page of one session, shows sessions only,
/// each live one once: whatever a store keeps to count sessions is not one of them.
pub async fn listings_never_show_the_limits_state(store: Arc<dyn SessionStore>) {
    let t0 = base_time();
    let evict = limit(LimitPolicy::EvictOldest);
    let mut live = HashSet::new();
    for user in ["state-a", "state-b", "state-c"] {
        let owner = fresh_user(user);
        for i in 0..3 {
            let session = new_session(&owner, millis_after(t0, i), 3600, json!({}));
            store.create(&session, Some(&evict)).await.expect("create");
            live.insert(session.id);
        }
        let listed = live_ids(&*store, &owner, t0).await;
        assert_eq!(listed.len(), 3, "the user listing holds sessions only");
    }
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let got = store
            .list_all(&page(1, after.take()), t0)
            .await
            .expect("list all");
        seen.extend(got.sessions.into_iter().map(|s| s.id));
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let unique: HashSet<SessionId> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no session is listed twice");
    assert!(live.is_subset(&unique), "every live session is listed");
}

/// `at` plus `millis` milliseconds.
fn millis_after(at: Timestamp, millis: i64) -> Timestamp {
    Timestamp::from_millis(at.millis() + millis)
}

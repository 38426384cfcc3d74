//! Conformance cases for sessions addressed by token: a token opens its session until it is
//! rotated away, a wrong one reads as no session at all and writes nothing, and rotation races
//! leave exactly one working token.

use std::sync::Arc;

use serde_json::json;

use super::{base_time, fresh_user, object, service};
use crate::store::{SecretCheck, SessionStore, VersionCheck};
use crate::{
    Address, Clock, DataPatch, ExpiryPolicy, ManualClock, Session, SessionError, SessionService,
    SessionToken, Timestamp,
};

/// A service over `store` with a clock at the base time, and one session created through it.
async fn one_session(
    store: &Arc<dyn SessionStore>,
    label: &str,
    ttl_seconds: i64,
) -> (SessionService, Arc<ManualClock>, Session, SessionToken) {
    let clock = Arc::new(ManualClock::new(base_time()));
    let sessions = service(store.clone(), clock.clone(), ExpiryPolicy::default());
    let (session, token) = sessions
        .create(
            fresh_user(label).as_str(),
            object(json!({"theme": "dark"})),
            Some(ttl_seconds),
        )
        .await
        .expect("create");
    (sessions, clock, session, token)
}

/// The session as stored, read by id at `at`.
async fn stored_at(store: &Arc<dyn SessionStore>, session: &Session, at: Timestamp) -> Session {
    (*store
        .get(&session.id, &SecretCheck::Any, at)
        .await
        .expect("read by id"))
    .clone()
}

/// Every operation by `token` answers `NotFound`, and the stored session is unchanged.
async fn opens_nothing(
    sessions: &SessionService,
    store: &Arc<dyn SessionStore>,
    clock: &ManualClock,
    token: &str,
    before: &Session,
) {
    let at = Address::Token(token);
    let results = [
        ("get", sessions.get(at).await.map(|_| ())),
        (
            "replace",
            sessions
                .replace(at, object(json!({"x": 1})), &VersionCheck::Any)
                .await
                .map(|_| ()),
        ),
        (
            "patch",
            sessions
                .patch(
                    at,
                    DataPatch::new(object(json!({"y": 2}))),
                    &VersionCheck::Any,
                )
                .await
                .map(|_| ()),
        ),
        ("refresh", sessions.refresh(at, Some(60)).await.map(|_| ())),
        ("rotate", sessions.rotate(at).await.map(|_| ())),
        ("delete", sessions.delete(at).await.map(|_| ())),
    ];
    for (operation, result) in results {
        assert!(
            matches!(result, Err(SessionError::NotFound)),
            "{operation} by a token that does not open the session: {result:?}"
        );
    }
    assert_eq!(
        &stored_at(store, before, clock.now()).await,
        before,
        "a wrong token changed the session"
    );
}

/// Every operation by the right token works, and the token keeps working after each.
pub async fn a_token_reads_and_writes_its_session(store: Arc<dyn SessionStore>) {
    let (sessions, _clock, created, token) = one_session(&store, "token-ops", 600).await;
    let token = token.to_string();
    let at = Address::Token(&token);
    assert_eq!(*sessions.get(at).await.expect("get"), created);
    let replaced = sessions
        .replace(at, object(json!({"a": 1})), &VersionCheck::OneOf(vec![1]))
        .await
        .expect("replace");
    assert_eq!((replaced.version, replaced.data.len()), (2, 1));
    let patched = sessions
        .patch(
            at,
            DataPatch::new(object(json!({"b": 2}))),
            &VersionCheck::Any,
        )
        .await
        .expect("patch");
    assert_eq!(patched.data, object(json!({"a": 1, "b": 2})));
    let refreshed = sessions.refresh(at, Some(1200)).await.expect("refresh");
    assert_eq!(refreshed.ttl_seconds, 1200);
    assert_eq!(refreshed.secret_hash, created.secret_hash);
    sessions.delete(at).await.expect("delete");
    assert!(matches!(
        store.get(&created.id, &SecretCheck::Any, base_time()).await,
        Err(SessionError::NotFound)
    ));
}

/// After a rotation the old token opens nothing, the new one opens the very same session
/// (same id, user, data, creation, version and expiry), and a rotation by id does the same.
pub async fn a_token_works_only_until_rotation(store: Arc<dyn SessionStore>) {
    let (sessions, clock, created, first) = one_session(&store, "rotate", 600).await;
    let first = first.to_string();
    clock.advance_seconds(5);
    let (rotated, second) = sessions
        .rotate(Address::Token(&first))
        .await
        .expect("rotate by token");
    assert_eq!(second.id(), &created.id);
    assert_ne!(second.to_string(), first);
    assert_eq!(rotated.secret_hash, second.secret_hash());
    assert_eq!(
        Session {
            secret_hash: created.secret_hash,
            ..rotated.clone()
        },
        created,
        "a rotation changes the secret and nothing else"
    );
    assert_eq!(stored_at(&store, &created, clock.now()).await, rotated);
    opens_nothing(&sessions, &store, &clock, &first, &rotated).await;
    let second = second.to_string();
    assert_eq!(
        *sessions
            .get(Address::Token(&second))
            .await
            .expect("new token"),
        rotated
    );

    let id = created.id.to_string();
    let (by_id, third) = sessions
        .rotate(Address::Id(&id))
        .await
        .expect("rotate by id");
    assert_eq!(by_id.secret_hash, third.secret_hash());
    opens_nothing(&sessions, &store, &clock, &second, &by_id).await;
    let third = third.to_string();
    assert!(sessions.get(Address::Token(&third)).await.is_ok());
}

/// A forged secret, a truncated token, the token of another session, a token whose id part is
/// not an id: each reads as no session, and none writes anything.
pub async fn wrong_tokens_read_as_not_found_and_write_nothing(store: Arc<dyn SessionStore>) {
    let (sessions, clock, created, token) = one_session(&store, "wrong-token", 600).await;
    let (_, _, _, other) = one_session(&store, "other-token", 600).await;
    let token = token.to_string();
    let forged = SessionToken::generate(created.id.clone())
        .expect("random")
        .to_string();
    let other = other.to_string();
    let truncated = &token[..token.len() - 1];
    let swapped = format!("{}.{}", &other[..36], &token[37..]);
    for wrong in [forged.as_str(), truncated, swapped.as_str()] {
        opens_nothing(&sessions, &store, &clock, wrong, &created).await;
    }
    // The other session's token opens the other session, never this one.
    let opened = sessions.get(Address::Token(&other)).await.expect("its own");
    assert_ne!(opened.id, created.id);
    assert!(sessions.get(Address::Token(&token)).await.is_ok());
}

/// Rotations racing on one token: exactly one wins, and of every token handed out, exactly
/// one opens the session afterwards. Rotations by id race too, with the same outcome.
pub async fn concurrent_rotations_leave_exactly_one_working_token(store: Arc<dyn SessionStore>) {
    let (sessions, _clock, _created, token) = one_session(&store, "rotate-race", 600).await;
    let token = token.to_string();
    let id = token[..36].to_owned();
    for by_token in [true, false] {
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let sessions = sessions.clone();
                let token = token.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let at = if by_token {
                        Address::Token(&token)
                    } else {
                        Address::Id(&id)
                    };
                    sessions.rotate(at).await.map(|(_, new)| new.to_string())
                })
            })
            .collect();
        let mut issued = Vec::new();
        for racer in racers {
            match racer.await.expect("no panic") {
                Ok(new) => issued.push(new),
                Err(SessionError::NotFound) if by_token => {}
                Err(other) => panic!("a rotation failed: {other:?}"),
            }
        }
        if by_token {
            assert_eq!(issued.len(), 1, "one rotation by the same token wins");
        } else {
            assert_eq!(issued.len(), 8, "rotations by id all succeed, in turn");
        }
        let mut working = 0;
        for candidate in issued.iter().chain(std::iter::once(&token)) {
            match sessions.get(Address::Token(candidate)).await {
                Ok(_) => working += 1,
                Err(SessionError::NotFound) => {}
                Err(other) => panic!("a read failed: {other:?}"),
            }
        }
        assert_eq!(working, 1, "exactly one token opens the session");
    }
}

/// A delete racing a rotation: whichever lands first, the session is gone afterwards and no
/// token opens it.
pub async fn a_delete_racing_a_rotation_never_brings_the_session_back(
    store: Arc<dyn SessionStore>,
) {
    for round in 0..10 {
        let (sessions, clock, created, token) =
            one_session(&store, &format!("rotate-delete-{round}"), 600).await;
        let token = token.to_string();
        let rotation = {
            let sessions = sessions.clone();
            let token = token.clone();
            tokio::spawn(async move { sessions.rotate(Address::Token(&token)).await })
        };
        let deletion = {
            let sessions = sessions.clone();
            let token = token.clone();
            tokio::spawn(async move { sessions.delete(Address::Token(&token)).await })
        };
        let rotated = rotation.await.expect("no panic");
        let deleted = deletion.await.expect("no panic");
        match (&rotated, &deleted) {
            // The delete came first, or the rotation did and the delete's old token failed.
            (Err(SessionError::NotFound), Ok(_)) => {}
            (Ok(_), Err(SessionError::NotFound)) => {
                // The rotation won; delete with the new token, as its holder would.
                let (_, new) = rotated.as_ref().expect("rotated");
                let new = new.to_string();
                sessions.delete(Address::Token(&new)).await.expect("delete");
            }
            other => panic!("unexpected outcome {other:?}"),
        }
        assert!(matches!(
            store.get(&created.id, &SecretCheck::Any, clock.now()).await,
            Err(SessionError::NotFound)
        ));
        if let Ok((_, new)) = &rotated {
            let new = new.to_string();
            assert!(matches!(
                sessions.get(Address::Token(&new)).await,
                Err(SessionError::NotFound)
            ));
        }
    }
}

/// An expired session answers `Expired` to its own token, and `NotFound` to a wrong one:
/// a wrong secret learns nothing, not even that the session expired.
pub async fn an_expired_session_is_gone_by_token(store: Arc<dyn SessionStore>) {
    let (sessions, clock, created, token) = one_session(&store, "token-expired", 60).await;
    clock.advance_seconds(60);
    let token = token.to_string();
    let at = Address::Token(&token);
    assert!(matches!(sessions.get(at).await, Err(SessionError::Expired)));
    assert!(matches!(
        sessions
            .replace(at, object(json!({})), &VersionCheck::Any)
            .await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        sessions.refresh(at, None).await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        sessions.rotate(at).await,
        Err(SessionError::Expired)
    ));
    let forged = SessionToken::generate(created.id.clone())
        .expect("random")
        .to_string();
    assert!(matches!(
        sessions.get(Address::Token(&forged)).await,
        Err(SessionError::NotFound)
    ));
    // Read at creation: the session is expired now.
    assert_eq!(
        stored_at(&store, &created, created.created_at).await,
        created
    );
    sessions
        .delete(at)
        .await
        .expect("an expired session is deleted by its token");
}

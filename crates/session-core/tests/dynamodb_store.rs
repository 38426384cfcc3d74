//! The DynamoDB store against DynamoDB Local: the conformance suite, plus the table itself
//! (creation, readiness) and the exact item layout.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::scan::ScanInput;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use aws_smithy_types::body::SdkBody;
use serde_json::json;
use session_core::schema::{TTL_ATTRIBUTE, USER_INDEX};
use session_core::store::conformance::{base_time, new_session};
use session_core::store::dynamodb::testing::{
    fresh_store, local_client, local_endpoint, unique_table_name,
};
use session_core::store::dynamodb::{DynamoDbStore, create_table};
use session_core::store::{PageRequest, SecretCheck};
use session_core::{
    LimitPolicy, Session, SessionError, SessionId, SessionStore, SessionToken, UserId, UserLimit,
};

session_core::conformance_tests!(async {
    fresh_store()
        .await
        .map(|store| Arc::new(store) as Arc<dyn SessionStore>)
});

#[tokio::test]
async fn items_have_the_documented_attributes_and_types() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let session = Session {
        id: SessionId::generate(),
        secret_hash: session_core::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
        user_id: UserId::parse("layout").expect("valid"),
        data: json!({"theme": "dark", "n": 2})
            .as_object()
            .cloned()
            .expect("object"),
        created_at: t0,
        updated_at: t0,
        touched_at: t0,
        ttl: t0.epoch_seconds() + 3600,
        ttl_seconds: 3600,
        version: 1,
    };
    store.create(&session, None).await.expect("create");
    let item = store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("id", AttributeValue::S(session.id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get")
        .item
        .expect("item exists");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "createdAt",
            "data",
            "id",
            "secretHash",
            "touchedAt",
            "ttl",
            "ttlSeconds",
            "updatedAt",
            "userId",
            "version"
        ]
    );
    assert_eq!(item["id"], AttributeValue::S(session.id.to_string()));
    assert_eq!(item["userId"], AttributeValue::S("layout".into()));
    assert_eq!(item["createdAt"], AttributeValue::S(t0.to_string()));
    assert!(
        t0.to_string().ends_with(".000Z"),
        "RFC 3339 UTC with milliseconds"
    );
    assert_eq!(
        item["ttl"],
        AttributeValue::N((t0.epoch_seconds() + 3600).to_string()),
        "epoch seconds"
    );
    assert_eq!(item["ttlSeconds"], AttributeValue::N("3600".into()));
    assert_eq!(item["version"], AttributeValue::N("1".into()));
    assert_eq!(
        item["secretHash"],
        AttributeValue::B(vec![7; 32].into()),
        "the secret's hash, as binary"
    );
    let AttributeValue::M(data) = &item["data"] else {
        panic!("data must be a native map: {:?}", item["data"])
    };
    assert_eq!(data["theme"], AttributeValue::S("dark".into()));
    assert_eq!(data["n"], AttributeValue::N("2".into()));
}

/// Creates for one user from several processes (here: stores that do not share their turns)
/// race for the user's item; its version condition lets exactly the limit through, and the
/// losers of each round count again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_racing_from_several_processes_keep_the_limit() {
    let Some(first) = fresh_store().await else {
        return;
    };
    let stores: Vec<Arc<DynamoDbStore>> = (0..4)
        .map(|_| {
            Arc::new(DynamoDbStore::new(
                first.client().clone(),
                first.table_name(),
            ))
        })
        .collect();
    let user = UserId::parse("racing").expect("valid");
    for (policy, expected_created) in [(LimitPolicy::Reject, 3), (LimitPolicy::EvictOldest, 12)] {
        let limit = UserLimit::new(3, policy).expect("limit");
        let t0 = base_time();
        let creates: Vec<_> = (0..12)
            .map(|n| {
                let store = stores[n % stores.len()].clone();
                let session = new_session(&user, t0, 3600, json!({}));
                tokio::spawn(async move { store.create(&session, Some(&limit)).await })
            })
            .collect();
        let mut created = 0;
        for create in creates {
            match create.await.expect("no panic") {
                Ok(_) => created += 1,
                Err(SessionError::TooManySessions { .. }) if policy == LimitPolicy::Reject => {}
                Err(other) => panic!("a create failed: {other:?}"),
            }
        }
        assert_eq!(created, expected_created, "{policy:?}");
        let page = first
            .list_user(
                &user,
                &PageRequest {
                    limit: 100,
                    after: None,
                },
                t0,
            )
            .await
            .expect("list");
        assert_eq!(
            page.sessions.len(),
            3,
            "{policy:?}: exactly the limit is live"
        );
        first.delete_user(&user, t0).await.expect("revoke");
    }
}

/// The SDK retries a request whose answer was lost; a rotation that already landed then meets
/// its own new hash, and is done rather than refused (which would leave the session with a
/// secret nobody received).
#[tokio::test]
async fn a_rotation_sent_again_after_it_landed_succeeds() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let old = SessionToken::generate(SessionId::generate()).expect("random");
    let mut session = new_session(&UserId::parse("retry").expect("valid"), t0, 3600, json!({}));
    session.id = old.id().clone();
    session.secret_hash = old.secret_hash();
    store.create(&session, None).await.expect("create");
    let new = SessionToken::generate(session.id.clone()).expect("random");
    let by_old = SecretCheck::Matches(old.secret_hash());
    let first = store
        .rotate(&session.id, &by_old, &new.secret_hash(), t0)
        .await
        .expect("rotate");
    let again = store
        .rotate(&session.id, &by_old, &new.secret_hash(), t0)
        .await
        .expect("the same rotation again");
    assert_eq!(again, first);
    assert_eq!(again.secret_hash, new.secret_hash());
    let other = SessionToken::generate(session.id.clone()).expect("random");
    assert!(matches!(
        store
            .rotate(&session.id, &by_old, &other.secret_hash(), t0)
            .await,
        Err(SessionError::NotFound)
    ));
}

#[tokio::test]
async fn create_table_is_idempotent_and_enables_ttl() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let name = unique_table_name("create-table");
    let first = create_table(&client, &name, Some(Duration::from_secs(30)))
        .await
        .expect("create");
    assert!(first.created && first.ttl_enabled);
    let second = create_table(&client, &name, Some(Duration::from_secs(30)))
        .await
        .expect("again");
    assert!(
        !second.created && !second.ttl_enabled,
        "the second run changes nothing: {second:?}"
    );

    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .expect("describe");
    let table = described.table.expect("table");
    let index = &table.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(USER_INDEX));
    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .expect("ttl");
    let ttl = ttl.time_to_live_description.expect("ttl description");
    assert_eq!(ttl.attribute_name.as_deref(), Some(TTL_ATTRIBUTE));
}

#[tokio::test]
async fn create_table_refuses_an_existing_table_with_another_schema() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let name = unique_table_name("wrong-schema");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .expect("definition"),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .expect("key"),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create a foreign table");
    let result = create_table(&client, &name, None).await;
    let message = format!(
        "{:?}",
        result.expect_err("a foreign schema must be refused")
    );
    assert!(
        message.contains("another schema") && message.contains(USER_INDEX),
        "{message}"
    );
}

/// Tables made before `userId-index` held keys only project ALL: they still serve, listings
/// included (the sessions are read by key either way).
#[tokio::test]
async fn a_table_whose_index_projects_all_still_serves() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let name = unique_table_name("projects-all");
    let key = |attribute: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(kind)
            .build()
            .expect("key")
    };
    let mut request = client
        .create_table()
        .table_name(&name)
        .key_schema(key("id", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(USER_INDEX)
                .key_schema(key("userId", KeyType::Hash))
                .key_schema(key("createdAt", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("index"),
        )
        .billing_mode(BillingMode::PayPerRequest);
    for attribute in ["id", "userId", "createdAt"] {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("definition"),
        );
    }
    request.send().await.expect("create a table projecting ALL");
    let outcome = create_table(&client, &name, None)
        .await
        .expect("accepted as it is");
    assert!(!outcome.created && outcome.ttl_enabled);
    let store = DynamoDbStore::new(client, name);
    store.check_ready().await.expect("ready");

    let owner = UserId::parse("projects-all").expect("valid");
    let session = new_session(&owner, base_time(), 3600, json!({"a": 1}));
    store.create(&session, None).await.expect("create");
    let page = store
        .list_user(
            &owner,
            &PageRequest {
                limit: 10,
                after: None,
            },
            base_time(),
        )
        .await
        .expect("list");
    assert_eq!(page.sessions, [session]);
}

#[tokio::test]
async fn readiness_fails_without_the_table_or_without_ttl() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let missing = DynamoDbStore::new(client.clone(), unique_table_name("missing"));
    assert!(matches!(
        missing.check_ready().await,
        Err(SessionError::Unavailable { .. })
    ));

    let name = unique_table_name("no-ttl");
    create_table(&client, &name, None).await.expect("create");
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(false)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("disable ttl");
    let store = DynamoDbStore::new(client, name);
    let result = store.check_ready().await;
    assert!(
        matches!(&result, Err(SessionError::Unavailable { source }) if source.to_string().contains("TTL")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_not_internal() {
    // Port 9 on loopback: nothing listens there, so the connection is refused at once.
    let store = DynamoDbStore::new(local_client("http://127.0.0.1:9"), "nowhere");
    let result = store
        .get(&SessionId::generate(), &SecretCheck::Any, base_time())
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

/// Records the operations a client sends, in order, and can answer BatchWriteItem calls as if
/// DynamoDB had processed none of their items.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<(&'static str, Instant)>>,
    /// BatchWriteItem calls still to answer "all unprocessed".
    refuse_batches: AtomicUsize,
    /// The answer to give the BatchWriteItem in flight, if it is refused.
    refusal: Mutex<Option<serde_json::Value>>,
}

#[derive(Debug, Clone)]
struct Recording(Arc<Recorder>);

impl Recorder {
    fn calls(&self) -> Vec<(&'static str, Instant)> {
        self.calls.lock().expect("calls").clone()
    }

    fn operations(&self) -> Vec<&'static str> {
        self.calls().into_iter().map(|(name, _)| name).collect()
    }

    fn clear(&self) {
        self.calls.lock().expect("calls").clear();
    }
}

impl Intercept for Recording {
    fn name(&self) -> &'static str {
        "Recording"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let name = if input.downcast_ref::<QueryInput>().is_some() {
            "Query"
        } else if input.downcast_ref::<ScanInput>().is_some() {
            "Scan"
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            let refuse = self
                .0
                .refuse_batches
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if refuse {
                let unprocessed: serde_json::Map<String, serde_json::Value> = batch
                    .request_items()
                    .into_iter()
                    .flatten()
                    .map(|(table, requests)| {
                        let deletes = requests
                            .iter()
                            .filter_map(|request| request.delete_request())
                            .filter_map(|delete| match delete.key().get("id") {
                                Some(AttributeValue::S(id)) => {
                                    Some(json!({"DeleteRequest": {"Key": {"id": {"S": id}}}}))
                                }
                                _ => None,
                            })
                            .collect();
                        (table.clone(), serde_json::Value::Array(deletes))
                    })
                    .collect();
                *self.0.refusal.lock().expect("refusal") =
                    Some(json!({ "UnprocessedItems": unprocessed }));
            }
            "BatchWriteItem"
        } else {
            "other"
        };
        self.0
            .calls
            .lock()
            .expect("calls")
            .push((name, Instant::now()));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(answer) = self.0.refusal.lock().expect("refusal").take() {
            *context.response_mut().body_mut() = SdkBody::from(answer.to_string());
        }
        Ok(())
    }
}

/// A store over the same table as `store`, whose requests `recorder` sees.
fn recorded(store: &DynamoDbStore, recorder: &Arc<Recorder>) -> DynamoDbStore {
    let config = store
        .client()
        .config()
        .to_builder()
        .interceptor(Recording(recorder.clone()))
        .build();
    DynamoDbStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        store.table_name(),
    )
}

/// Creates `sessions`, many at a time.
async fn create_all(store: &DynamoDbStore, sessions: &[Session]) {
    for chunk in sessions.chunks(32) {
        let mut tasks = Vec::new();
        for session in chunk {
            let (store, session) = (store.clone(), session.clone());
            tasks.push(tokio::spawn(
                async move { store.create(&session, None).await },
            ));
        }
        for task in tasks {
            task.await.expect("join").expect("create");
        }
    }
}

/// Most requests one listing call may make (see the store's `LISTING_MAX_PAGES`).
const LISTING_MAX_PAGES: usize = 10;

/// A user with a thousand expired sessions that TTL has not removed yet: each listing call
/// reads a bounded number of pages, answers with what it found (here nothing) and a cursor
/// after the last item it read, and the walk still finds every live session once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_read_a_bounded_number_of_pages_past_expired_sessions() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let owner = UserId::parse("many-expired").expect("valid");
    let live: Vec<Session> = (0..2)
        .map(|i| new_session(&owner, t0.plus_seconds(i), 86_400, json!({})))
        .collect();
    let expired: Vec<Session> = (0..1000)
        .map(|i| new_session(&owner, t0.plus_seconds(10 + i), 60, json!({})))
        .collect();
    create_all(&store, &live).await;
    create_all(&store, &expired).await;
    let now = t0.plus_seconds(2000);
    let recorder = Arc::new(Recorder::default());
    let watched = recorded(&store, &recorder);

    let mut walked = Vec::new();
    let mut after = None;
    let mut calls = 0;
    loop {
        recorder.clear();
        let page = PageRequest { limit: 10, after };
        let got = watched.list_user(&owner, &page, now).await.expect("list");
        let operations = recorder.operations();
        let queries = operations.iter().filter(|name| **name == "Query").count();
        assert!(
            queries <= LISTING_MAX_PAGES,
            "one call made {queries} queries"
        );
        // Each page of the index (keys only) is followed by one read of its sessions by key.
        assert!(
            operations.len() <= 2 * LISTING_MAX_PAGES,
            "one call made {operations:?}"
        );
        if calls == 0 {
            assert!(
                got.sessions.is_empty(),
                "the first call stops in the expired ones"
            );
            assert!(got.next.is_some(), "and says where to go on");
        }
        calls += 1;
        walked.extend(got.sessions.into_iter().map(|s| s.id));
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(calls < 100, "runaway pagination");
    }
    let newest_first: Vec<SessionId> = live.iter().rev().map(|s| s.id.clone()).collect();
    assert_eq!(walked, newest_first);

    let mut walked = HashSet::new();
    let mut after = None;
    let mut calls = 0;
    loop {
        recorder.clear();
        let page = PageRequest { limit: 10, after };
        let got = watched.list_all(&page, now).await.expect("list all");
        let scans = recorder.operations().len();
        assert!(scans <= LISTING_MAX_PAGES, "one call made {scans} scans");
        calls += 1;
        for session in got.sessions {
            assert!(walked.insert(session.id), "listed twice");
        }
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(calls < 100, "runaway pagination");
    }
    assert!(calls > 1, "1002 items take more than one call");
    assert_eq!(walked, live.iter().map(|s| s.id.clone()).collect());
}

/// Revoking a user reads a page of their sessions and deletes it before reading the next,
/// rather than collecting every id first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_user_deletes_each_page_before_reading_the_next() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let owner = UserId::parse("many-sessions").expect("valid");
    let sessions: Vec<Session> = (0..250)
        .map(|i| new_session(&owner, t0.plus_seconds(i), 3600, json!({})))
        .collect();
    create_all(&store, &sessions).await;
    let recorder = Arc::new(Recorder::default());
    let watched = recorded(&store, &recorder);

    assert_eq!(watched.delete_user(&owner, t0).await.expect("revoke"), 250);
    let operations = recorder.operations();
    let first_delete = operations
        .iter()
        .position(|name| *name == "BatchWriteItem")
        .expect("deletes");
    let last_query = operations
        .iter()
        .rposition(|name| *name == "Query")
        .expect("queries");
    assert!(
        first_delete < last_query,
        "the first page was deleted before the last was read: {operations:?}"
    );
    let listed = store
        .list_user(
            &owner,
            &PageRequest {
                limit: 10,
                after: None,
            },
            t0,
        )
        .await
        .expect("list");
    assert!(listed.sessions.is_empty());
}

/// What BatchWriteItem leaves unprocessed is sent again after pauses that grow (with jitter)
/// well past 50 ms, until DynamoDB takes it.
#[tokio::test]
async fn unprocessed_deletes_are_retried_with_growing_pauses() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let owner = UserId::parse("unprocessed").expect("valid");
    let sessions: Vec<Session> = (0..3)
        .map(|i| new_session(&owner, t0.plus_seconds(i), 3600, json!({})))
        .collect();
    create_all(&store, &sessions).await;
    let recorder = Arc::new(Recorder::default());
    recorder.refuse_batches.store(4, Ordering::SeqCst);
    let watched = recorded(&store, &recorder);

    assert_eq!(watched.delete_user(&owner, t0).await.expect("revoke"), 3);
    let sends: Vec<Instant> = recorder
        .calls()
        .into_iter()
        .filter(|(name, _)| *name == "BatchWriteItem")
        .map(|(_, at)| at)
        .collect();
    assert_eq!(sends.len(), 5, "four refusals, then success");
    let pauses: Vec<Duration> = sends.windows(2).map(|pair| pair[1] - pair[0]).collect();
    for (k, pause) in pauses.iter().enumerate() {
        let least = Duration::from_millis(50 << k);
        assert!(
            *pause >= least,
            "pause {k} was {pause:?}, less than {least:?}"
        );
    }
    assert!(
        pauses[3] < Duration::from_secs(2),
        "pauses stay capped: {pauses:?}"
    );
    for session in &sessions {
        assert!(matches!(
            store.get(&session.id, &SecretCheck::Any, t0).await,
            Err(SessionError::NotFound)
        ));
    }
}

/// The per-user item of the session limit is keyed `user#<userId>`, holds the user's session ids
/// and a version but neither `userId` nor `createdAt` nor `ttl` (so the user index never holds
/// it and TTL never removes it), and revoke-all deletes it.
#[tokio::test]
async fn the_per_user_item_stays_out_of_the_index_and_goes_with_revoke_all() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let owner = UserId::parse("per-user-item").expect("valid");
    let limit = UserLimit::new(3, LimitPolicy::EvictOldest).expect("valid limit");
    let mut ids = HashSet::new();
    for i in 0..4 {
        let session = new_session(&owner, t0.plus_seconds(i), 3600, json!({}));
        store.create(&session, Some(&limit)).await.expect("create");
        ids.insert(session.id.to_string());
    }
    let read = || async {
        store
            .client()
            .get_item()
            .table_name(store.table_name())
            .key("id", AttributeValue::S("user#per-user-item".to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
    };
    let item = read().await.expect("the per-user item exists");
    assert_eq!(
        item.get("owner"),
        Some(&AttributeValue::S("per-user-item".to_owned()))
    );
    assert_eq!(
        item.get("version"),
        Some(&AttributeValue::N("4".to_owned()))
    );
    for absent in ["userId", "createdAt", TTL_ATTRIBUTE] {
        assert!(
            !item.contains_key(absent),
            "{absent} must not be on the per-user item"
        );
    }
    let Some(AttributeValue::M(entries)) = item.get("sessions") else {
        panic!("no sessions map: {item:?}");
    };
    assert_eq!(entries.len(), 3, "bounded by the limit");
    assert!(entries.keys().all(|id| ids.contains(id)));
    store
        .delete_user(&owner, t0.plus_seconds(10))
        .await
        .expect("revoke all");
    assert!(
        read().await.is_none(),
        "revoke-all deletes the per-user item"
    );
}

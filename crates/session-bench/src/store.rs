//! Store ceilings: the stores called directly, without HTTP, with the same concurrency as the
//! load generator's connections.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::{Clock, SecretCheck, Session, SessionId, SessionStore, SystemClock, UserId};

use crate::stats::Stats;

/// Which store operation to measure.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    /// Durable create of a new session.
    Create,
    /// Strongly consistent read by id.
    Get,
}

fn new_session(n: u64) -> Session {
    let now = SystemClock.now();
    Session {
        id: SessionId::generate(),
        secret_hash: session_core::SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
        user_id: UserId::parse(&format!("bench-{}", n % 64))
            .unwrap_or_else(|_| unreachable!("valid user id")),
        data: json!({"theme": "dark", "lang": "en", "cart": [1, 2, 3], "n": n})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        created_at: now,
        updated_at: now,
        touched_at: now,
        ttl: now.epoch_seconds() + 86_400,
        ttl_seconds: 86_400,
        version: 1,
    }
}

async fn drive<F, Fut>(tasks: usize, duration: Duration, operation: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let operation = Arc::new(operation);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let operation = operation.clone();
            tokio::spawn(async move {
                let mut stats = Stats::new();
                let mut n = task as u64 * 1_000_000;
                while Instant::now() < deadline {
                    n += 1;
                    let began = Instant::now();
                    if operation(n).await {
                        stats.record(began.elapsed());
                    } else {
                        stats.errors += 1;
                    }
                }
                stats
            })
        })
        .collect();
    let mut total = Stats::new();
    for handle in handles {
        if let Ok(stats) = handle.await {
            total.merge(&stats);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// The embedded store in a file under `dir`, called in process.
pub async fn embedded(
    dir: &std::path::Path,
    operation: Operation,
    tasks: usize,
    duration: Duration,
) -> Stats {
    let path = dir.join(format!("ceiling-{operation:?}.redb"));
    let Ok(store) = EmbeddedStore::open(&path, EmbeddedOptions::default()) else {
        return Stats::new();
    };
    let store = Arc::new(store);
    match operation {
        Operation::Create => {
            drive(tasks, duration, move |n| {
                let store = store.clone();
                async move { store.create(&new_session(n), None).await.is_ok() }
            })
            .await
        }
        Operation::Get => reads(store, tasks, duration).await,
    }
}

/// Reads by id through `store`, over 1000 sessions it creates first.
async fn reads(store: Arc<EmbeddedStore>, tasks: usize, duration: Duration) -> Stats {
    let mut ids = Vec::new();
    for n in 0..1000 {
        let session = new_session(n);
        if store.create(&session, None).await.is_ok() {
            ids.push(session.id);
        }
    }
    let ids = Arc::new(ids);
    drive(tasks, duration, move |n| {
        let (store, ids) = (store.clone(), ids.clone());
        async move {
            let id = &ids[usize::try_from(n.wrapping_mul(2_654_435_761) % ids.len().max(1) as u64)
                .unwrap_or(0)];
            store
                .get(id, &SecretCheck::Any, SystemClock.now())
                .await
                .is_ok()
        }
    })
    .await
}

/// An item shaped like the service's (same attributes and sizes).
fn item(session: &Session) -> HashMap<String, AttributeValue> {
    let s = |text: String| AttributeValue::S(text);
    let n = |number: String| AttributeValue::N(number);
    let data = HashMap::from([
        ("theme".to_owned(), s("dark".into())),
        ("lang".to_owned(), s("en".into())),
        (
            "cart".to_owned(),
            AttributeValue::L(vec![n("1".into()), n("2".into()), n("3".into())]),
        ),
        ("n".to_owned(), n("1".into())),
    ]);
    HashMap::from([
        ("id".to_owned(), s(session.id.to_string())),
        ("userId".to_owned(), s(session.user_id.as_str().to_owned())),
        ("data".to_owned(), AttributeValue::M(data)),
        ("createdAt".to_owned(), s(session.created_at.to_string())),
        ("updatedAt".to_owned(), s(session.updated_at.to_string())),
        ("touchedAt".to_owned(), s(session.touched_at.to_string())),
        ("ttl".to_owned(), n(session.ttl.to_string())),
        ("ttlSeconds".to_owned(), n(session.ttl_seconds.to_string())),
        ("version".to_owned(), n("1".into())),
    ])
}

/// DynamoDB (Local) called straight through the SDK: PutItem with the service's condition, or
/// a consistent GetItem, on table `table`.
pub async fn dynamodb(
    client: Client,
    table: String,
    operation: Operation,
    tasks: usize,
    duration: Duration,
) -> Stats {
    let mut ids = Vec::new();
    if let Operation::Get = operation {
        for n in 0..1000 {
            let session = new_session(n);
            let put = client
                .put_item()
                .table_name(&table)
                .set_item(Some(item(&session)))
                .send()
                .await;
            if put.is_ok() {
                ids.push(session.id.to_string());
            }
        }
    }
    let ids = Arc::new(ids);
    drive(tasks, duration, move |n| {
        let (client, table, ids) = (client.clone(), table.clone(), ids.clone());
        async move {
            match operation {
                Operation::Create => client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(item(&new_session(n))))
                    .condition_expression("attribute_not_exists(id)")
                    .send()
                    .await
                    .is_ok(),
                Operation::Get => {
                    let id = &ids[usize::try_from(
                        n.wrapping_mul(2_654_435_761) % ids.len().max(1) as u64,
                    )
                    .unwrap_or(0)];
                    client
                        .get_item()
                        .table_name(&table)
                        .key("id", AttributeValue::S(id.clone()))
                        .consistent_read(true)
                        .send()
                        .await
                        .is_ok_and(|output| output.item.is_some())
                }
            }
        }
    })
    .await
}

//! Store ceilings: the stores called directly, without HTTP, with the same concurrency as the
//! load generator's connections.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::{
    Clock, PresentedToken, SecretCheck, SecretHash, Session, SessionId, SessionStore, SessionToken,
    SystemClock, UserId,
};

use crate::stats::Stats;

/// Which store operation to measure.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    /// Durable create of a new session.
    Create,
    /// Strongly consistent read by id.
    Get,
    /// Strongly consistent read by session token: the token read as the service reads it
    /// (its secret hashed), then the read by id, admitted only if the stored hash matches.
    GetByToken,
}

impl Operation {
    /// Whether it reads sessions created before the run.
    fn reads(self) -> bool {
        matches!(self, Operation::Get | Operation::GetByToken)
    }
}

pub(crate) fn new_session(n: u64) -> Session {
    let now = SystemClock.now();
    Session {
        id: SessionId::generate(),
        secret_hash: SecretHash::from_slice(&[7; 32]).expect("32 bytes"),
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

/// A session to read, with its token: the id and the hash come from a token generated as
/// the service generates one.
fn readable_session(n: u64) -> Result<(Session, String), session_core::SessionError> {
    let token = SessionToken::generate(SessionId::generate())?;
    let session = Session {
        id: token.id().clone(),
        secret_hash: token.secret_hash(),
        ..new_session(n)
    };
    Ok((session, token.to_string()))
}

/// The `n`th pick among `count` sessions, spread over all of them.
fn pick(n: u64, count: usize) -> usize {
    usize::try_from(n.wrapping_mul(2_654_435_761) % count.max(1) as u64).unwrap_or(0)
}

/// What a read by token asks of a store: the id the token names and the check of its secret;
/// `None` for a token that names no session.
fn presented(token: &str) -> Option<(SessionId, SecretCheck)> {
    let presented = PresentedToken::parse(token).ok()?;
    Some((presented.id?, SecretCheck::Matches(presented.hash)))
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
        Operation::Get | Operation::GetByToken => reads(store, operation, tasks, duration).await,
    }
}

/// Reads by id or by token through `store`, over 1000 sessions it creates first.
async fn reads(
    store: Arc<EmbeddedStore>,
    operation: Operation,
    tasks: usize,
    duration: Duration,
) -> Stats {
    let mut sessions = Vec::new();
    for n in 0..1000 {
        let Ok((session, token)) = readable_session(n) else {
            continue;
        };
        if store.create(&session, None).await.is_ok() {
            sessions.push((session.id, token));
        }
    }
    let sessions = Arc::new(sessions);
    drive(tasks, duration, move |n| {
        let (store, sessions) = (store.clone(), sessions.clone());
        async move {
            let Some((id, token)) = sessions.get(pick(n, sessions.len())) else {
                return false;
            };
            let by_token;
            let (id, check) = match operation {
                Operation::GetByToken => match presented(token) {
                    Some(address) => {
                        by_token = address;
                        (&by_token.0, &by_token.1)
                    }
                    None => return false,
                },
                _ => (id, &SecretCheck::Any),
            };
            store.get(id, check, SystemClock.now()).await.is_ok()
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
        (
            "secretHash".to_owned(),
            AttributeValue::B(Blob::new(session.secret_hash.as_bytes().to_vec())),
        ),
    ])
}

/// Whether `item` holds a secret hash that `check` admits.
fn admitted(item: &HashMap<String, AttributeValue>, check: &SecretCheck) -> bool {
    item.get("secretHash")
        .and_then(|value| value.as_b().ok())
        .and_then(|bytes| SecretHash::from_slice(bytes.as_ref()))
        .is_some_and(|stored| check.admits(&stored))
}

/// DynamoDB (Local) called straight through the SDK: PutItem with the service's condition, or
/// a consistent GetItem (by token: of the id the token names, then the hash compared in
/// process, as the service does), on table `table`.
pub async fn dynamodb(
    client: Client,
    table: String,
    operation: Operation,
    tasks: usize,
    duration: Duration,
) -> Stats {
    let mut sessions = Vec::new();
    if operation.reads() {
        for n in 0..1000 {
            let Ok((session, token)) = readable_session(n) else {
                continue;
            };
            let put = client
                .put_item()
                .table_name(&table)
                .set_item(Some(item(&session)))
                .send()
                .await;
            if put.is_ok() {
                sessions.push((session.id, token));
            }
        }
    }
    let sessions = Arc::new(sessions);
    drive(tasks, duration, move |n| {
        let (client, table, sessions) = (client.clone(), table.clone(), sessions.clone());
        async move {
            if let Operation::Create = operation {
                return client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(item(&new_session(n))))
                    .condition_expression("attribute_not_exists(id)")
                    .send()
                    .await
                    .is_ok();
            }
            let Some((id, token)) = sessions.get(pick(n, sessions.len())) else {
                return false;
            };
            let by_token;
            let (id, check) = match operation {
                Operation::GetByToken => match presented(token) {
                    Some(address) => {
                        by_token = address;
                        (&by_token.0, &by_token.1)
                    }
                    None => return false,
                },
                _ => (id, &SecretCheck::Any),
            };
            client
                .get_item()
                .table_name(&table)
                .key("id", AttributeValue::S(id.to_string()))
                .consistent_read(true)
                .send()
                .await
                .is_ok_and(|output| output.item.is_some_and(|item| admitted(&item, check)))
        }
    })
    .await
}

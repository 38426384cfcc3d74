//! The per-user limit on DynamoDB: a per-user item beside the sessions, written in the same
//! `TransactWriteItems` as every create under a limit, on the condition of its version.
//!
//! The item's key is `user#<userId>`, which no session id can be; it has no `userId` and no
//! `createdAt`, so the sparse user index never holds it, and the admin Scan skips it. It holds
//! `owner` (the user id), `sessions` (session id → `createdAt` in epoch milliseconds) and
//! `version`. It has no `ttl`: TTL removing it while the user's sessions live on would lose
//! their count.
//!
//! The entries may name sessions that were deleted or expired since (no other route writes the
//! item), so they over-count and never under-count: while there are fewer than the limit,
//! nothing else is read; at the limit, a consistent BatchGetItem of the sessions themselves
//! (never a stored copy of their `ttl`, which a refresh moves) keeps only the live ones, and the
//! rest are pruned by the write. The version condition makes concurrent creates for one user
//! take turns: each one that lost starts over from the read. Within one process they take
//! turns before they start ([`UserTurns`]), so that a burst of one user's logins is served one
//! after another instead of racing for the item.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use uuid::Uuid;

use super::capacity::{self, Kind};
use super::errors::classify;
use super::item::{Item, n, names, s, to_item};
use backon::{BackoffBuilder, ExponentialBuilder};

use super::{DynamoDbStore, race_backoff};
use crate::policy::is_expired;
use crate::schema::PARTITION_KEY;
use crate::{Created, Session, SessionError, SessionId, Timestamp, UserId, UserLimit};

/// The prefix of per-user items' keys. Session ids are UUIDs, so no session id starts with it.
pub(super) const USER_ITEM_PREFIX: &str = "user#";
/// How long a create under the limit keeps counting again after losing the race for its
/// user's item to another process (creates in this process take turns first). n racing
/// processes need up to n rounds, so the bound is a time, not a number of attempts.
const COUNT_RACE_BUDGET: Duration = Duration::from_secs(3);

/// What a create under a limit read of the per-user item.
struct Counted {
    /// Session id → `createdAt` in epoch milliseconds.
    entries: Vec<(i64, Uuid)>,
    /// 0 when there is no item yet.
    version: u64,
}

/// The key of `user`'s per-user item.
fn user_key(user: &UserId) -> Item {
    HashMap::from([(
        PARTITION_KEY.to_owned(),
        s(format!("{USER_ITEM_PREFIX}{}", user.as_str())),
    )])
}

/// Whether an item (whole, or a scan's key) is a session rather than per-user state.
pub(super) fn is_session(item: &Item) -> bool {
    !matches!(item.get(PARTITION_KEY), Some(AttributeValue::S(id)) if id.starts_with(USER_ITEM_PREFIX))
}

fn entries_of(item: &Item) -> Result<Counted, SessionError> {
    let version = match item.get("version") {
        Some(AttributeValue::N(version)) => version
            .parse()
            .map_err(|_| SessionError::internal("per-user item with a bad version"))?,
        _ => return Err(SessionError::internal("per-user item without a version")),
    };
    let entries = match item.get("sessions") {
        Some(AttributeValue::M(sessions)) => sessions
            .iter()
            .filter_map(|(id, created)| {
                let id = SessionId::parse(id)?;
                let AttributeValue::N(created) = created else {
                    return None;
                };
                Some((created.parse().ok()?, *id.as_uuid()))
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Counted { entries, version })
}

/// Stripes of turns for the creates under a limit in this process, by user: creates for one
/// user wait for each other here, so they never race each other for the user's item (creates
/// from other processes still may, and the version condition settles those). Striped, so that
/// memory stays fixed whatever the number of users; two users on one stripe only take turns.
pub(super) struct UserTurns([tokio::sync::Mutex<()>; USER_TURN_STRIPES]);

/// Stripes of [`UserTurns`]: creates under a limit for this many users at once, per process.
const USER_TURN_STRIPES: usize = 256;

impl Default for UserTurns {
    fn default() -> Self {
        Self(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl std::fmt::Debug for UserTurns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserTurns({USER_TURN_STRIPES} stripes)")
    }
}

impl UserTurns {
    /// The stripe of `user`.
    fn of(&self, user: &UserId) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(user.as_str());
        &self.0[(hash % USER_TURN_STRIPES as u64) as usize]
    }
}

impl DynamoDbStore {
    /// The per-user item of `user`, read consistently.
    async fn counted(
        &self,
        operation: &'static str,
        user: &UserId,
    ) -> Result<Counted, SessionError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(user_key(user)))
            .consistent_read(true)
            .return_consumed_capacity(capacity::RETURN)
            .send()
            .await
            .map_err(classify)?;
        capacity::record(operation, Kind::Read, output.consumed_capacity());
        match output.item {
            Some(item) => entries_of(&item),
            None => Ok(Counted {
                entries: Vec::new(),
                version: 0,
            }),
        }
    }

    /// Of the sessions `entries`, those stored and live at `now`, read consistently from the
    /// sessions themselves.
    async fn still_live(
        &self,
        operation: &'static str,
        entries: Vec<(i64, Uuid)>,
        now: Timestamp,
    ) -> Result<Vec<(i64, Uuid)>, SessionError> {
        let ids: Vec<String> = entries.iter().map(|(_, id)| id.to_string()).collect();
        let found = self.items_by_id(operation, &ids, &["id", "ttl"]).await?;
        let live_ids: HashSet<&String> = found
            .iter()
            .filter(|(_, item)| {
                matches!(item.get("ttl"), Some(AttributeValue::N(ttl))
                    if ttl.parse().is_ok_and(|ttl| !is_expired(ttl, now)))
            })
            .map(|(id, _)| id)
            .collect();
        Ok(entries
            .into_iter()
            .filter(|(_, id)| live_ids.contains(&id.to_string()))
            .collect())
    }

    /// Creates `session` under `limit` (see the module's documentation).
    pub(super) async fn create_limited(
        &self,
        session: &Session,
        limit: &UserLimit,
    ) -> Result<Created, SessionError> {
        let now = session.created_at;
        let new_id = session.id.to_string();
        let put_session = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(session)?))
            .condition_expression("attribute_not_exists(#id)")
            .set_expression_attribute_names(Some(names(&["id"])))
            .build()
            .map_err(SessionError::internal)?;
        let _turn = self.user_turns.of(&session.user_id).lock().await;
        let deadline = Instant::now() + COUNT_RACE_BUDGET;
        let mut pauses = ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(50))
            .without_max_times()
            .build();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let counted = self.counted("create", &session.user_id).await?;
            let live = if counted.entries.len() < limit.max {
                counted.entries
            } else {
                self.still_live("create", counted.entries, now).await?
            };
            let victims = limit.admit(live.clone())?;
            let mut kept: HashMap<String, AttributeValue> = live
                .iter()
                .filter(|entry| !victims.contains(entry))
                .map(|(created, id)| (id.to_string(), n(created)))
                .collect();
            kept.insert(new_id.clone(), n(now.millis()));
            let mut user_item = user_key(&session.user_id);
            user_item.insert("owner".to_owned(), s(session.user_id.as_str()));
            user_item.insert("sessions".to_owned(), AttributeValue::M(kept));
            user_item.insert("version".to_owned(), n(counted.version + 1));
            let put_user = Put::builder()
                .table_name(&self.table)
                .set_item(Some(user_item));
            let put_user = if counted.version == 0 {
                put_user
                    .condition_expression("attribute_not_exists(#id)")
                    .set_expression_attribute_names(Some(names(&["id"])))
            } else {
                put_user
                    .condition_expression("#version = :version")
                    .set_expression_attribute_names(Some(names(&["version"])))
                    .expression_attribute_values(":version", n(counted.version))
            }
            .build()
            .map_err(SessionError::internal)?;
            let mut items = vec![
                TransactWriteItem::builder()
                    .put(put_session.clone())
                    .build(),
                TransactWriteItem::builder().put(put_user).build(),
            ];
            for (_, id) in &victims {
                // Already gone is fine: the point is that it is not live.
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key(PARTITION_KEY, s(id.to_string()))
                    .build()
                    .map_err(SessionError::internal)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .return_consumed_capacity(capacity::RETURN)
                .send()
                .await;
            let error = match result {
                Ok(output) => {
                    capacity::record("create", Kind::Write, output.consumed_capacity());
                    return Ok(Created {
                        evicted: victims.len() as u64,
                    });
                }
                Err(error) => error,
            };
            let reasons: Vec<Option<String>> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().map(str::to_owned))
                    .collect(),
                _ => return Err(classify(error)),
            };
            let code = |at: usize| reasons.get(at).cloned().flatten();
            if code(0).as_deref() == Some("ConditionalCheckFailed") {
                // 122 random bits collided.
                return Err(SessionError::internal("session id collision"));
            }
            let lost_race = reasons.iter().flatten().all(|code| {
                matches!(
                    code.as_str(),
                    "None" | "ConditionalCheckFailed" | "TransactionConflict"
                )
            });
            if !lost_race {
                return Err(classify(error));
            }
            // Another create (or a revoke-all) for this user wrote in between: count again.
            match pauses.next() {
                Some(pause) if Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                }
                _ => {
                    return Err(SessionError::unavailable(format!(
                        "lost the race for this user's session count {rounds} times in {} s; retry",
                        COUNT_RACE_BUDGET.as_secs()
                    )));
                }
            }
        }
    }

    /// Removes `user`'s per-user item after deleting every session it names, on the condition
    /// that no create wrote it in between (else starts over): a session created concurrently is
    /// either deleted here or counted by the item its own create writes afterwards. Returns how
    /// many of the named sessions not in `deleted` were live at `now`.
    pub(super) async fn forget_user(
        &self,
        user: &UserId,
        deleted: &HashSet<String>,
        now: Timestamp,
    ) -> Result<u64, SessionError> {
        let mut live = 0;
        let mut pauses = race_backoff();
        loop {
            let counted = self.counted("delete_user", user).await?;
            if counted.version == 0 {
                return Ok(live);
            }
            let others: Vec<_> = counted
                .entries
                .into_iter()
                .filter(|(_, id)| !deleted.contains(&id.to_string()))
                .collect();
            let others = self.still_live("delete_user", others, now).await?;
            self.batch_delete(
                "delete_user",
                others.iter().map(|(_, id)| id.to_string()).collect(),
            )
            .await?;
            live += others.len() as u64;
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(user_key(user)))
                .condition_expression("#version = :version")
                .set_expression_attribute_names(Some(names(&["version"])))
                .expression_attribute_values(":version", n(counted.version))
                .return_consumed_capacity(capacity::RETURN)
                .send()
                .await;
            match result {
                Ok(output) => {
                    capacity::record("delete_user", Kind::Write, output.consumed_capacity());
                    return Ok(live);
                }
                Err(error) => match error.as_service_error() {
                    Some(DeleteItemError::ConditionalCheckFailedException(_)) => {}
                    _ => return Err(classify(error)),
                },
            }
            match pauses.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => {
                    return Err(SessionError::unavailable(
                        "sessions kept being created while revoking them all; retry",
                    ));
                }
            }
        }
    }
}

//! `DynamoDbStore`: sessions as items of one DynamoDB table (see `crate::schema` and the
//! storage layout in the API reference).
//!
//! Every write carries its own condition: creation `attribute_not_exists(id)`; every other
//! write requires the item to exist and be live (`ttl > :now`), plus the version for
//! `If-Match`, plus `secretHash = :secret` when it is made by session token. A failed condition returns the old item (`ALL_OLD`), which tells 404 from 410
//! from 412 without a second request. Reads by id are strongly consistent.
//!
//! A write that needs the stored session to compute its new state (a PATCH's merged data, a
//! refresh's new `ttl` from the session's own `ttlSeconds`) reads it, then writes on the
//! condition that what it read is still there, and starts over if a concurrent write got in
//! between.

mod by_key;
mod capacity;
mod connect;
mod errors;
mod item;
mod limit;
mod table;
#[cfg(feature = "conformance")]
pub mod testing;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use backon::{BackoffBuilder, ExponentialBuilder};

pub use connect::{DynamoDbConfig, connect};
pub use table::{CreateTableOutcome, create_table};

use capacity::Kind;
use errors::classify;
use item::{Item, Seen, b, data_value, from_item, key, n, names, s, seen, to_item, ts};

use crate::schema::{PARTITION_KEY, USER_INDEX};
use crate::store::{PageRequest, SecretCheck, SessionStore, StorePage, VersionCheck};
use crate::{
    Created, DataPatch, ExpiryPolicy, SecretHash, Session, SessionData, SessionError, SessionId,
    Timestamp, UserId, UserLimit,
};

/// How many times a read-then-write (PATCH, refresh) starts over when another write changed
/// the session between its read and its conditional write.
const RACE_RETRIES: usize = 23;
/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of retrying the unprocessed part of a batch before giving up.
const UNPROCESSED_RETRIES: usize = 6;
/// Most DynamoDB pages one listing request reads (each at most 1 MB, the first of
/// `limit + 1` items, later ones of [`LISTING_LATER_PAGE_ITEMS`]): a user with many expired
/// sessions that TTL has not removed yet costs a bounded read, and the page returned resumes
/// after the last item read.
const LISTING_MAX_PAGES: usize = 10;
/// Items asked for per page once a listing's first page came up short of live sessions.
const LISTING_LATER_PAGE_ITEMS: i32 = 100;
/// Items a revoke-all reads and deletes per round (four BatchWriteItem calls).
const DELETE_USER_PAGE_ITEMS: i32 = 100;

/// A conditional UpdateItem: what it sets, on what condition, with the attribute names and
/// values the expressions use.
struct Write {
    update: &'static str,
    condition: Cow<'static, str>,
    names: &'static [&'static str],
    values: HashMap<String, AttributeValue>,
}

/// Sessions in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    user_turns: Arc<limit::UserTurns>,
}

impl DynamoDbStore {
    /// A store over `table`, every request through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            user_turns: Arc::default(),
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    async fn read(
        &self,
        operation: &'static str,
        id: &SessionId,
    ) -> Result<Option<Item>, SessionError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .return_consumed_capacity(capacity::RETURN)
            .send()
            .await
            .map_err(classify)?;
        capacity::record(operation, Kind::Read, output.consumed_capacity());
        Ok(output.item)
    }

    async fn read_live(
        &self,
        operation: &'static str,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let session = from_item(
            self.read(operation, id)
                .await?
                .ok_or(SessionError::NotFound)?,
        )?;
        if !secret.admits(&session.secret_hash) {
            return Err(SessionError::NotFound);
        }
        if session.is_expired(now) {
            return Err(SessionError::Expired);
        }
        Ok(session)
    }

    /// One conditional UpdateItem returning the new item; a failed condition comes back as
    /// `Ok(Err(old item))`. `secret` adds its own term to `condition`.
    async fn update(
        &self,
        operation: &'static str,
        id: &SessionId,
        secret: &SecretCheck,
        write: Write,
    ) -> Result<Result<Session, Option<Seen>>, SessionError> {
        let Write {
            update,
            condition,
            names: attribute_names,
            mut values,
        } = write;
        let mut attribute_names = names(attribute_names);
        let condition = match secret {
            SecretCheck::Any => condition.into_owned(),
            SecretCheck::Matches(hash) => {
                attribute_names.insert("#secretHash".to_owned(), "secretHash".to_owned());
                values.insert(":secret".to_owned(), b(hash));
                format!("{condition} AND #secretHash = :secret")
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(attribute_names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(capacity::RETURN)
            .send()
            .await;
        match result {
            Ok(output) => {
                capacity::record(operation, Kind::Write, output.consumed_capacity());
                let attributes = output
                    .attributes
                    .ok_or_else(|| SessionError::internal("UpdateItem returned no attributes"))?;
                Ok(Ok(from_item(attributes)?))
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(seen(failed.item())))
                }
                _ => Err(classify(error)),
            },
        }
    }

    /// Reads the live session `id`, lets `plan` turn it into a conditional write (or refuse),
    /// and writes. When the condition fails on a session still live, a concurrent write
    /// changed what `plan` relied on: start over, after a short pause.
    async fn read_then_write(
        &self,
        operation: &'static str,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
        plan: impl Fn(&Session) -> Result<Write, SessionError>,
    ) -> Result<Session, SessionError> {
        let mut pauses = race_backoff();
        loop {
            let current = self.read_live(operation, id, secret, now).await?;
            let write = plan(&current)?;
            let written = self.update(operation, id, secret, write).await?;
            match written {
                Ok(session) => return Ok(session),
                Err(None) => return Err(SessionError::NotFound),
                // Rotated away (or deleted and created anew) since the read.
                Err(Some(seen)) if !seen.admitted_by(secret) => {
                    return Err(SessionError::NotFound);
                }
                Err(Some(seen)) if crate::policy::is_expired(seen.ttl, now) => {
                    return Err(SessionError::Expired);
                }
                Err(Some(_)) => match pauses.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        return Err(SessionError::unavailable(format!(
                            "lost the race for this session {} times; retry",
                            RACE_RETRIES + 1
                        )));
                    }
                },
            }
        }
    }

    /// Deletes the sessions `ids` in batches of 25, retrying what DynamoDB leaves unprocessed.
    async fn batch_delete(
        &self,
        operation: &'static str,
        ids: Vec<String>,
    ) -> Result<(), SessionError> {
        for chunk in ids.chunks(BATCH_WRITE_MAX) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|id| {
                    DeleteRequest::builder()
                        .key(PARTITION_KEY, s(id))
                        .build()
                        .map(|delete| WriteRequest::builder().delete_request(delete).build())
                        .map_err(SessionError::internal)
                })
                .collect::<Result<_, _>>()?;
            let mut pauses = unprocessed_backoff();
            loop {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .return_consumed_capacity(capacity::RETURN)
                    .send()
                    .await
                    .map_err(classify)?;
                capacity::record(operation, Kind::Write, output.consumed_capacity());
                requests = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                match pauses.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        return Err(SessionError::unavailable(format!(
                            "{} deletes stayed unprocessed after {} attempts",
                            requests.len(),
                            UNPROCESSED_RETRIES + 1
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One page of a query or scan: its items, and the key to continue after, if there is more.
type Fetched = (Vec<Item>, Option<Item>);

/// Reads the pages of a listing through `fetch` (given the key to start after and the items
/// to read) until `limit + 1` live sessions are found, the listing ends, or
/// [`LISTING_MAX_PAGES`] pages were read. In the last case the page holds what was found,
/// maybe fewer than `limit` sessions or none, and resumes where DynamoDB stopped reading: the
/// last key it evaluated may name no item `fetch` returned (an index entry of a session
/// deleted since), and resuming before it would read those entries again.
///
/// The expiry filter is applied here, not as a `FilterExpression`: a filter saves no read
/// capacity (DynamoDB charges for every item it reads), and resuming after an expired item
/// needs its `createdAt`, which a scan's `LastEvaluatedKey` does not hold.
async fn collect_page<F>(
    page: &PageRequest,
    now: Timestamp,
    start: Option<Item>,
    mut fetch: impl FnMut(Option<Item>, i32) -> F,
) -> Result<StorePage, SessionError>
where
    F: Future<Output = Result<Fetched, SessionError>>,
{
    let mut found = Vec::with_capacity(page.limit + 1);
    let mut start = start;
    // DynamoDB applies `Limit` to the items it reads; most listings need one page.
    let mut size = i32::try_from(page.limit + 1).unwrap_or(i32::MAX).max(10);
    for _ in 0..LISTING_MAX_PAGES {
        let (items, next) = fetch(start.take(), size).await?;
        for item in items {
            if !limit::is_session(&item) {
                continue;
            }
            let session = from_item(item)?;
            if session.is_expired(now) {
                continue;
            }
            found.push(session);
            if found.len() > page.limit {
                return Ok(StorePage::from_found(found, page.limit));
            }
        }
        if next.is_none() {
            return Ok(StorePage::from_found(found, page.limit));
        }
        start = next;
        size = size.max(LISTING_LATER_PAGE_ITEMS);
    }
    // Every item up to the last key evaluated is in `found` or was skipped.
    let next = start
        .as_ref()
        .and_then(item::key_position)
        .ok_or_else(|| SessionError::internal("DynamoDB's LastEvaluatedKey has no id"))?;
    Ok(StorePage {
        sessions: found,
        next: Some(next),
    })
}

/// Why a conditional write on a session failed.
fn refusal(
    seen: Option<Seen>,
    now: Timestamp,
    secret: &SecretCheck,
    check: &VersionCheck,
) -> SessionError {
    match seen {
        None => SessionError::NotFound,
        Some(seen) if !seen.admitted_by(secret) => SessionError::NotFound,
        Some(seen) if crate::policy::is_expired(seen.ttl, now) => SessionError::Expired,
        Some(seen) if !check.admits(seen.version) => SessionError::VersionMismatch {
            current: seen.version,
        },
        // The condition failed for a reason the old item does not show: it changed in between.
        Some(_) => SessionError::unavailable("the session changed during the write; retry"),
    }
}

/// Pauses between the attempts of a read-then-write that lost a race: short (1 ms doubling
/// to 50 ms, jittered so that the racers spread out), since the winner's write is done by
/// the time the loser learns of it.
fn race_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_jitter()
        .with_min_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(50))
        .with_max_times(RACE_RETRIES)
        .build()
}

/// Pauses before resending what a BatchWriteItem left unprocessed. DynamoDB leaves items
/// unprocessed when their partitions are throttled, and the SDK, which retries throttled
/// requests, does not retry these; so the pause grows (50 ms doubling to 1 s, jittered so
/// that instances do not retry in step) to give capacity time to come back. At most about 5 s
/// in all.
fn unprocessed_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_jitter()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_max_times(UNPROCESSED_RETRIES)
        .build()
}

/// `IN (...)` over the versions `If-Match` names; version 0 never exists, so an empty list
/// becomes a check that cannot pass.
fn version_condition(check: &VersionCheck, values: &mut HashMap<String, AttributeValue>) -> String {
    match check {
        VersionCheck::Any => String::new(),
        VersionCheck::OneOf(versions) => {
            let versions: &[u64] = if versions.is_empty() { &[0] } else { versions };
            let placeholders: Vec<String> = versions
                .iter()
                .enumerate()
                .map(|(i, version)| {
                    let name = format!(":expected{i}");
                    values.insert(name.clone(), n(version));
                    name
                })
                .collect();
            format!(" AND #version IN ({})", placeholders.join(", "))
        }
    }
}

#[async_trait]
impl SessionStore for DynamoDbStore {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<&UserLimit>,
    ) -> Result<Created, SessionError> {
        if let Some(limit) = limit {
            return self.create_limited(session, limit).await;
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(session)?))
            .condition_expression("attribute_not_exists(#id)")
            .set_expression_attribute_names(Some(names(&["id"])))
            .return_consumed_capacity(capacity::RETURN)
            .send()
            .await;
        match result {
            Ok(output) => {
                capacity::record("create", Kind::Write, output.consumed_capacity());
                Ok(Created::default())
            }
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Err(SessionError::internal("session id collision"))
                }
                _ => Err(classify(error)),
            },
        }
    }

    async fn get(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Arc<Session>, SessionError> {
        self.read_live("get", id, secret, now).await.map(Arc::new)
    }

    async fn replace(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let mut values = HashMap::from([
            (":data".to_owned(), data_value(data)?),
            (":updatedAt".to_owned(), ts(now)),
            (":one".to_owned(), n(1)),
            (":now".to_owned(), n(now.epoch_seconds())),
        ]);
        let condition = format!(
            "attribute_exists(#id) AND #ttl > :now{}",
            version_condition(check, &mut values)
        );
        self.update(
            "replace",
            id,
            secret,
            Write {
                update: "SET #data = :data, #updatedAt = :updatedAt, #version = #version + :one",
                condition: condition.into(),
                names: &["id", "ttl", "data", "updatedAt", "version"],
                values,
            },
        )
        .await?
        .map_err(|old| refusal(old, now, secret, check))
    }

    /// Read, merge, and write back conditioned on the version that was read, retrying when a
    /// concurrent write got there first. The merged size must be known before writing (to
    /// enforce the data limit exactly), which a single UpdateItem cannot compute.
    async fn patch(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        patch: &DataPatch,
        check: &VersionCheck,
        max_data_bytes: usize,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.read_then_write("patch", id, secret, now, |current| {
            if !check.admits(current.version) {
                return Err(SessionError::VersionMismatch {
                    current: current.version,
                });
            }
            let mut data = current.data.clone();
            patch.apply_to(&mut data);
            let size = crate::data::encoded_size(&data);
            if size > max_data_bytes {
                return Err(SessionError::DataTooLarge {
                    size,
                    limit: max_data_bytes,
                });
            }
            Ok(Write {
                update: "SET #data = :data, #updatedAt = :updatedAt, #version = :next",
                condition: "#version = :seen AND #ttl > :now".into(),
                names: &["ttl", "data", "updatedAt", "version"],
                values: HashMap::from([
                    (":data".to_owned(), data_value(&data)?),
                    (":updatedAt".to_owned(), ts(now)),
                    (":seen".to_owned(), n(current.version)),
                    (":next".to_owned(), n(current.version + 1)),
                    (":now".to_owned(), n(now.epoch_seconds())),
                ]),
            })
        })
        .await
    }

    /// Read, compute the new `ttl` (capped from the immutable `createdAt`, from the session's
    /// own `ttlSeconds` when none is given), and write. Without `ttl_seconds`, the write is
    /// conditioned on the `ttlSeconds` that was read, so that a concurrent refresh that changed
    /// it is never undone by a `ttl` computed from the old value.
    async fn refresh(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.read_then_write("refresh", id, secret, now, |current| {
            let idle = ttl_seconds.unwrap_or(current.ttl_seconds);
            let values = HashMap::from([
                (
                    ":ttl".to_owned(),
                    n(policy.ttl_at(current.created_at, idle, now)),
                ),
                (":idle".to_owned(), n(idle)),
                (":touchedAt".to_owned(), ts(now)),
                (":now".to_owned(), n(now.epoch_seconds())),
            ]);
            Ok(match ttl_seconds {
                Some(_) => Write {
                    update: "SET #ttl = :ttl, #ttlSeconds = :idle, #touchedAt = :touchedAt",
                    condition: "attribute_exists(#id) AND #ttl > :now".into(),
                    names: &["id", "ttl", "ttlSeconds", "touchedAt"],
                    values,
                },
                None => Write {
                    update: "SET #ttl = :ttl, #touchedAt = :touchedAt",
                    condition: "#ttlSeconds = :idle AND #ttl > :now".into(),
                    names: &["ttl", "ttlSeconds", "touchedAt"],
                    values,
                },
            })
        })
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
        let values = HashMap::from([
            (":ttl".to_owned(), n(new_ttl)),
            (":touchedAt".to_owned(), ts(now)),
            (":last".to_owned(), ts(last_touched)),
            (":now".to_owned(), n(now.epoch_seconds())),
        ]);
        // On a missing item `#touchedAt = :last` is false, so this can never create one.
        let written = self
            .update(
                "touch",
                id,
                secret,
                Write {
                    update: "SET #ttl = :ttl, #touchedAt = :touchedAt",
                    condition: "#touchedAt = :last AND #ttl > :now".into(),
                    names: &["ttl", "touchedAt"],
                    values,
                },
            )
            .await?;
        Ok(written.ok())
    }

    async fn delete(&self, id: &SessionId, secret: &SecretCheck) -> Result<(), SessionError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .return_consumed_capacity(capacity::RETURN);
        let request = match secret {
            SecretCheck::Any => request
                .condition_expression("attribute_exists(#id)")
                .set_expression_attribute_names(Some(names(&["id"]))),
            SecretCheck::Matches(hash) => request
                .condition_expression("attribute_exists(#id) AND #secretHash = :secret")
                .set_expression_attribute_names(Some(names(&["id", "secretHash"])))
                .expression_attribute_values(":secret", b(hash)),
        };
        let result = request.send().await;
        match result {
            Ok(output) => {
                capacity::record("delete", Kind::Write, output.consumed_capacity());
                Ok(())
            }
            Err(error) => match error.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => {
                    Err(SessionError::NotFound)
                }
                _ => Err(classify(error)),
            },
        }
    }

    async fn rotate(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        new_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let values = HashMap::from([
            (":newSecret".to_owned(), b(new_hash)),
            (":now".to_owned(), n(now.epoch_seconds())),
        ]);
        let written = self
            .update(
                "rotate",
                id,
                secret,
                Write {
                    update: "SET #secretHash = :newSecret",
                    condition: "attribute_exists(#id) AND #ttl > :now".into(),
                    names: &["id", "ttl", "secretHash"],
                    values,
                },
            )
            .await?;
        match written {
            Ok(session) => Ok(session),
            // The SDK retried a rotation whose first attempt landed but whose answer was lost:
            // the item already holds this rotation's hash, so the rotation is done.
            Err(Some(seen)) if seen.secret_hash.as_ref() == Some(new_hash) => {
                self.read_live("rotate", id, &SecretCheck::Matches(*new_hash), now)
                    .await
            }
            Err(old) => Err(refusal(old, now, secret, &VersionCheck::Any)),
        }
    }

    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        let start = page
            .after
            .as_ref()
            .map(|after| item::user_index_key(user_id, after));
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USER_INDEX)
            .key_condition_expression("#userId = :user")
            .set_expression_attribute_names(Some(names(&["userId"])))
            .expression_attribute_values(":user", s(user_id.as_str()))
            .scan_index_forward(false)
            .return_consumed_capacity(capacity::RETURN);
        collect_page(page, now, start, |start, size| {
            let request = query.clone().set_exclusive_start_key(start).limit(size);
            async move {
                let output = request.send().await.map_err(classify)?;
                capacity::record("list_user", Kind::Read, output.consumed_capacity());
                let ids = by_key::ids_of(output.items());
                // In the index's order; an entry whose session is gone (the index lags the
                // table) has no item and drops out.
                let mut found = self.items_by_id("list_user", &ids, &[]).await?;
                let items = ids.iter().filter_map(|id| found.remove(id)).collect();
                Ok((items, output.last_evaluated_key))
            }
        })
        .await
    }

    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        // The scan resumes from the id alone; the cursor's `createdAt` is for the embedded
        // store's admin listing, which is ordered by it (see `Position`).
        let start = page.after.as_ref().map(item::table_key);
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .return_consumed_capacity(capacity::RETURN);
        collect_page(page, now, start, |start, size| {
            let request = scan.clone().set_exclusive_start_key(start).limit(size);
            async move {
                let output = request.send().await.map_err(classify)?;
                capacity::record("list_all", Kind::Read, output.consumed_capacity());
                Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
            }
        })
        .await
    }

    /// Finds the user's sessions through the index (eventually consistent: one created a
    /// moment ago may be missed) a page at a time, reads which of them are live (the index
    /// holds keys only), and deletes each page in batches of 25 before reading the next, so
    /// that memory stays bounded whatever the user has.
    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USER_INDEX)
            .key_condition_expression("#userId = :user")
            .projection_expression("#id")
            .set_expression_attribute_names(Some(names(&["userId", "id"])))
            .expression_attribute_values(":user", s(user_id.as_str()))
            .return_consumed_capacity(capacity::RETURN)
            .into_paginator()
            .page_size(DELETE_USER_PAGE_ITEMS)
            .send();
        let mut live = 0;
        let mut deleted = HashSet::new();
        while let Some(page) = pages.try_next().await.map_err(classify)? {
            capacity::record("delete_user", Kind::Read, page.consumed_capacity());
            let ids = by_key::ids_of(page.items());
            let stored = self
                .items_by_id("delete_user", &ids, &["id", "ttl"])
                .await?;
            live += stored
                .values()
                .filter(|item| {
                    seen(Some(item)).is_some_and(|seen| !crate::policy::is_expired(seen.ttl, now))
                })
                .count() as u64;
            self.batch_delete("delete_user", ids.clone()).await?;
            deleted.extend(ids);
        }
        // Sessions created a moment ago, which the index may not show yet, are named by the
        // per-user item (when a limit is on); it goes last, so that nothing of the user's is
        // left to miscount their next sessions.
        live += self.forget_user(user_id, &deleted, now).await?;
        Ok(live)
    }

    async fn check_ready(&self) -> Result<(), SessionError> {
        table::check_ready(&self.client, &self.table).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Position;

    /// A `userId-index` key, as a query's `LastEvaluatedKey` holds it.
    fn index_key(n: usize) -> Item {
        HashMap::from([
            (PARTITION_KEY.to_owned(), s(format!("id-{n}"))),
            ("userId".to_owned(), s("alice")),
            (
                "createdAt".to_owned(),
                s(format!("2026-12-07T08:00:{n:02}.000Z")),
            ),
        ])
    }

    /// Index entries whose sessions were all deleted a moment ago (the index lags the
    /// table): every page reads keys but no session. The listing answers an empty page that
    /// resumes after the last entry read, not an error, so that the client gets past them.
    #[tokio::test]
    async fn pages_of_vanished_sessions_resume_after_the_last_key_read() {
        let page = PageRequest {
            limit: 10,
            after: None,
        };
        let mut pages = 0;
        let listed = collect_page(
            &page,
            Timestamp::from_epoch_seconds(1_800_000_000),
            None,
            |_, _| {
                pages += 1;
                let key = index_key(pages);
                async move { Ok((Vec::new(), Some(key))) }
            },
        )
        .await
        .expect("a page, not an error");
        assert_eq!(pages, LISTING_MAX_PAGES);
        assert!(listed.sessions.is_empty());
        assert_eq!(
            listed.next,
            Some(Position {
                id: format!("id-{LISTING_MAX_PAGES}"),
                created_at: format!("2026-12-07T08:00:{LISTING_MAX_PAGES:02}.000Z"),
            })
        );
    }
}

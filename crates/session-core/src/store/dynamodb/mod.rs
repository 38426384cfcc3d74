//! `DynamoDbStore`: sessions as items of one DynamoDB table (see `crate::schema` and the
//! storage layout in the API reference).
//!
//! Every write carries its own condition: creation `attribute_not_exists(id)`; every other
//! write requires the item to exist and be live (`ttl > :now`), plus the version for
//! `If-Match`. A failed condition returns the old item (`ALL_OLD`), which tells 404 from 410
//! from 412 without a second request. Reads by id are strongly consistent.

mod connect;
mod errors;
mod item;
mod table;
#[cfg(feature = "conformance")]
pub mod testing;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_smithy_async::future::pagination_stream::PaginationStream;

pub use connect::{DynamoDbConfig, connect};
pub use table::{CreateTableOutcome, create_table};

use errors::classify;
use item::{Item, Seen, data_value, from_item, key, n, names, s, seen, to_item, ts};

use crate::schema::{PARTITION_KEY, USER_INDEX};
use crate::store::{PageRequest, SessionStore, StorePage, VersionCheck};
use crate::{
    DataPatch, ExpiryPolicy, Session, SessionData, SessionError, SessionId, Timestamp, UserId,
};

/// How many times a PATCH re-reads and retries when another write changed the session between
/// its read and its conditional write.
const PATCH_ATTEMPTS: u32 = 24;
/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of retrying the unprocessed part of a batch before giving up.
const BATCH_WRITE_ATTEMPTS: u32 = 8;

/// Sessions in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store over `table`, every request through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
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

    async fn read(&self, id: &SessionId) -> Result<Option<Item>, SessionError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(output.item)
    }

    async fn read_live(&self, id: &SessionId, now: Timestamp) -> Result<Session, SessionError> {
        let session = from_item(self.read(id).await?.ok_or(SessionError::NotFound)?)?;
        if session.is_expired(now) {
            return Err(SessionError::Expired);
        }
        Ok(session)
    }

    /// One conditional UpdateItem returning the new item; a failed condition comes back as
    /// `Ok(Err(old item))`.
    async fn update(
        &self,
        id: &SessionId,
        update: &str,
        condition: &str,
        attribute_names: &[&'static str],
        values: HashMap<String, AttributeValue>,
    ) -> Result<Result<Session, Option<Seen>>, SessionError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names(attribute_names)))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
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

    async fn batch_delete(&self, ids: Vec<String>) -> Result<(), SessionError> {
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
            for attempt in 0..BATCH_WRITE_ATTEMPTS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(classify)?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                backoff(attempt).await;
            }
            if !requests.is_empty() {
                return Err(SessionError::unavailable(format!(
                    "{} deletes stayed unprocessed after {BATCH_WRITE_ATTEMPTS} attempts",
                    requests.len()
                )));
            }
        }
        Ok(())
    }
}

/// Takes the items of a query or scan until `limit + 1` live sessions are found or the
/// listing ends; the paginator asks for the next page only when its items are needed.
async fn collect_page<E>(
    page: &PageRequest,
    mut items: PaginationStream<Result<Item, SdkError<E, HttpResponse>>>,
) -> Result<StorePage, SessionError>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let mut found = Vec::with_capacity(page.limit + 1);
    while found.len() <= page.limit
        && let Some(item) = items.try_next().await.map_err(classify)?
    {
        found.push(from_item(item)?);
    }
    Ok(StorePage::from_found(found, page.limit))
}

/// Why a conditional write on a session failed.
fn refusal(seen: Option<Seen>, now: Timestamp, check: &VersionCheck) -> SessionError {
    match seen {
        None => SessionError::NotFound,
        Some(seen) if crate::policy::is_expired(seen.ttl, now) => SessionError::Expired,
        Some(seen) if !check.admits(seen.version) => SessionError::VersionMismatch {
            current: seen.version,
        },
        // The condition failed for a reason the old item does not show: it changed in between.
        Some(_) => SessionError::unavailable("the session changed during the write; retry"),
    }
}

/// Items a listing asks DynamoDB to evaluate per request. DynamoDB applies `Limit` before the
/// expiry filter, so a page asks for at least 10, to spare round trips when a few items are
/// filtered out.
fn page_size(page: &PageRequest) -> i32 {
    i32::try_from((page.limit + 1).max(10)).unwrap_or(i32::MAX)
}

/// A short, jittered, exponential pause before retrying contended work.
async fn backoff(attempt: u32) {
    let ceiling_ms = (1u64 << attempt.min(6)).min(50);
    let mut random = [0u8; 2];
    let jitter = if getrandom::fill(&mut random).is_ok() {
        u64::from(u16::from_le_bytes(random)) % (ceiling_ms + 1)
    } else {
        ceiling_ms
    };
    tokio::time::sleep(Duration::from_millis(jitter)).await;
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

    async fn create(&self, session: &Session) -> Result<(), SessionError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(session)?))
            .condition_expression("attribute_not_exists(#id)")
            .set_expression_attribute_names(Some(names(&["id"])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Err(SessionError::internal("session id collision"))
                }
                _ => Err(classify(error)),
            },
        }
    }

    async fn get(&self, id: &SessionId, now: Timestamp) -> Result<Arc<Session>, SessionError> {
        self.read_live(id, now).await.map(Arc::new)
    }

    async fn replace(
        &self,
        id: &SessionId,
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
            id,
            "SET #data = :data, #updatedAt = :updatedAt, #version = #version + :one",
            &condition,
            &["id", "ttl", "data", "updatedAt", "version"],
            values,
        )
        .await?
        .map_err(|old| refusal(old, now, check))
    }

    /// Read, merge, and write back conditioned on the version that was read, retrying when a
    /// concurrent write got there first. The merged size must be known before writing (to
    /// enforce the data limit exactly), which a single UpdateItem cannot compute.
    async fn patch(
        &self,
        id: &SessionId,
        patch: &DataPatch,
        check: &VersionCheck,
        max_data_bytes: usize,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        for attempt in 0..PATCH_ATTEMPTS {
            let current = self.read_live(id, now).await?;
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
            let values = HashMap::from([
                (":data".to_owned(), data_value(&data)?),
                (":updatedAt".to_owned(), ts(now)),
                (":seen".to_owned(), n(current.version)),
                (":next".to_owned(), n(current.version + 1)),
                (":now".to_owned(), n(now.epoch_seconds())),
            ]);
            let written = self
                .update(
                    id,
                    "SET #data = :data, #updatedAt = :updatedAt, #version = :next",
                    "#version = :seen AND #ttl > :now",
                    &["ttl", "data", "updatedAt", "version"],
                    values,
                )
                .await?;
            match written {
                Ok(session) => return Ok(session),
                Err(None) => return Err(SessionError::NotFound),
                Err(Some(seen)) if crate::policy::is_expired(seen.ttl, now) => {
                    return Err(SessionError::Expired);
                }
                Err(Some(_)) => backoff(attempt).await,
            }
        }
        Err(SessionError::unavailable(format!(
            "PATCH lost the race for this session {PATCH_ATTEMPTS} times; retry"
        )))
    }

    async fn refresh(
        &self,
        id: &SessionId,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let current = self.read_live(id, now).await?;
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
        self.update(
            id,
            "SET #ttl = :ttl, #ttlSeconds = :idle, #touchedAt = :touchedAt",
            "attribute_exists(#id) AND #ttl > :now",
            &["id", "ttl", "ttlSeconds", "touchedAt"],
            values,
        )
        .await?
        .map_err(|old| refusal(old, now, &VersionCheck::Any))
    }

    async fn touch(
        &self,
        id: &SessionId,
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
                id,
                "SET #ttl = :ttl, #touchedAt = :touchedAt",
                "#touchedAt = :last AND #ttl > :now",
                &["ttl", "touchedAt"],
                values,
            )
            .await?;
        Ok(written.ok())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), SessionError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .condition_expression("attribute_exists(#id)")
            .set_expression_attribute_names(Some(names(&["id"])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => {
                    Err(SessionError::NotFound)
                }
                _ => Err(classify(error)),
            },
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
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USER_INDEX)
            .key_condition_expression("#userId = :user")
            .filter_expression("#ttl > :now")
            .set_expression_attribute_names(Some(names(&["userId", "ttl"])))
            .expression_attribute_values(":user", s(user_id.as_str()))
            .expression_attribute_values(":now", n(now.epoch_seconds()))
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .into_paginator()
            .page_size(page_size(page))
            .items()
            .send();
        collect_page(page, items).await
    }

    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        let start = page.after.as_ref().map(item::table_key);
        // The scan resumes from the id alone; the cursor's `createdAt` is for the embedded
        // store's admin listing, which is ordered by it (see `Position`).
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#ttl > :now")
            .set_expression_attribute_names(Some(names(&["ttl"])))
            .expression_attribute_values(":now", n(now.epoch_seconds()))
            .set_exclusive_start_key(start)
            .into_paginator()
            .page_size(page_size(page))
            .items()
            .send();
        collect_page(page, items).await
    }

    /// Finds the user's sessions through the index (eventually consistent: one created a
    /// moment ago may be missed) and deletes them in batches of 25.
    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USER_INDEX)
            .key_condition_expression("#userId = :user")
            .projection_expression("#id, #ttl")
            .set_expression_attribute_names(Some(names(&["userId", "id", "ttl"])))
            .expression_attribute_values(":user", s(user_id.as_str()))
            .into_paginator()
            .items()
            .send();
        let (mut ids, mut live) = (Vec::new(), 0);
        while let Some(found) = items.try_next().await.map_err(classify)? {
            let Some(AttributeValue::S(id)) = found.get(PARTITION_KEY) else {
                continue;
            };
            if seen(Some(&found)).is_some_and(|seen| !crate::policy::is_expired(seen.ttl, now)) {
                live += 1;
            }
            ids.push(id.clone());
        }
        self.batch_delete(ids).await?;
        Ok(live)
    }

    async fn check_ready(&self) -> Result<(), SessionError> {
        table::check_ready(&self.client, &self.table).await
    }
}

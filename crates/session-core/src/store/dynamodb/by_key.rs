//! Reading sessions by key, many at a time: the listings find ids through `userId-index`,
//! which projects keys only, and read the sessions themselves consistently (which also drops
//! index entries of sessions deleted since); the per-user limit checks which sessions an item
//! names are still live.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::capacity::{self, Kind};
use super::errors::classify;
use super::item::{Item, names, s};
use super::{DynamoDbStore, unprocessed_backoff};
use crate::SessionError;
use crate::schema::PARTITION_KEY;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;

/// The session ids of `items` (index entries, or items read with their key), in order.
pub(super) fn ids_of(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match item.get(PARTITION_KEY) {
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        })
        .collect()
}

impl DynamoDbStore {
    /// The items of `ids` that exist, read consistently, by id: only `attributes` of each
    /// (every attribute when empty). Retries what DynamoDB leaves unprocessed.
    pub(super) async fn items_by_id(
        &self,
        operation: &'static str,
        ids: &[String],
        attributes: &[&'static str],
    ) -> Result<HashMap<String, Item>, SessionError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_GET_MAX) {
            let keys = chunk
                .iter()
                .map(|id| HashMap::from([(PARTITION_KEY.to_owned(), s(id))]))
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true);
            let request = if attributes.is_empty() {
                request
            } else {
                let expression: Vec<String> =
                    attributes.iter().map(|name| format!("#{name}")).collect();
                request
                    .projection_expression(expression.join(", "))
                    .set_expression_attribute_names(Some(names(attributes)))
            };
            let mut request = request.build().map_err(SessionError::internal)?;
            let mut pauses = unprocessed_backoff();
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(capacity::RETURN)
                    .send()
                    .await
                    .map_err(classify)?;
                capacity::record(operation, Kind::Read, output.consumed_capacity());
                for item in output
                    .responses
                    .and_then(|mut responses| responses.remove(&self.table))
                    .unwrap_or_default()
                {
                    if let Some(AttributeValue::S(id)) = item.get(PARTITION_KEY) {
                        found.insert(id.clone(), item);
                    }
                }
                match output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                {
                    Some(rest) if !rest.keys().is_empty() => request = rest,
                    _ => break,
                }
                match pauses.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        return Err(SessionError::unavailable(
                            "session reads stayed unprocessed; retry",
                        ));
                    }
                }
            }
        }
        Ok(found)
    }
}

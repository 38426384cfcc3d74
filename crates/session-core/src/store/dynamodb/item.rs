//! Sessions as DynamoDB items, and the expression vocabulary shared by the operations.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo;

use crate::cursor::Position;
use crate::schema::{PARTITION_KEY, USER_INDEX_PARTITION_KEY, USER_INDEX_SORT_KEY};
use crate::store::SecretCheck;
use crate::{SecretHash, Session, SessionData, SessionError, SessionId, Timestamp, UserId};

/// A DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// Expression attribute names for every attribute the store's expressions mention. Several are
/// DynamoDB reserved words (`ttl`, `data`, `version`), so expressions always go through names.
pub(super) fn names(used: &[&'static str]) -> HashMap<String, String> {
    used.iter()
        .map(|name| (format!("#{name}"), (*name).to_owned()))
        .collect()
}

pub(super) fn to_item(session: &Session) -> Result<Item, SessionError> {
    dynamo::to_item(session).map_err(SessionError::internal)
}

pub(super) fn from_item(item: Item) -> Result<Session, SessionError> {
    dynamo::from_item(item)
        .map_err(|e| SessionError::internal(format!("undecodable session item: {e}")))
}

pub(super) fn data_value(data: &SessionData) -> Result<AttributeValue, SessionError> {
    dynamo::to_attribute_value(data).map_err(SessionError::internal)
}

pub(super) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(super) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(super) fn b(hash: &SecretHash) -> AttributeValue {
    AttributeValue::B(hash.as_bytes().to_vec().into())
}

pub(super) fn ts(instant: Timestamp) -> AttributeValue {
    AttributeValue::S(instant.to_string())
}

pub(super) fn key(id: &SessionId) -> Item {
    HashMap::from([(PARTITION_KEY.to_owned(), s(id.to_string()))])
}

/// The exclusive start key of the per-user index that resumes after `position`.
pub(super) fn user_index_key(user_id: &UserId, position: &Position) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), s(&position.id)),
        (USER_INDEX_PARTITION_KEY.to_owned(), s(user_id.as_str())),
        (USER_INDEX_SORT_KEY.to_owned(), s(&position.created_at)),
    ])
}

/// The exclusive start key of a table scan that resumes after `position`.
pub(super) fn table_key(position: &Position) -> Item {
    HashMap::from([(PARTITION_KEY.to_owned(), s(&position.id))])
}

/// Where a listing resumes after the key a query or scan stopped at (its
/// `LastEvaluatedKey`): the inverse of [`user_index_key`] and [`table_key`]. A table key holds
/// no `createdAt`, which the scan does not need.
pub(super) fn key_position(key: &Item) -> Option<Position> {
    let text = |name: &str| match key.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    Some(Position {
        id: text(PARTITION_KEY)?,
        created_at: text(USER_INDEX_SORT_KEY).unwrap_or_default(),
    })
}

/// The version and expiry of an item returned by a failed condition, enough to tell why it
/// failed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Seen {
    /// Absent when only `id` and `ttl` were asked for.
    #[serde(default)]
    pub(super) version: u64,
    pub(super) ttl: i64,
    /// Absent when not asked for.
    #[serde(default)]
    pub(super) secret_hash: Option<SecretHash>,
}

impl Seen {
    /// Whether the item's secret passes `secret` (a token write on an item whose hash was not
    /// returned does not).
    pub(super) fn admitted_by(&self, secret: &SecretCheck) -> bool {
        match (&self.secret_hash, secret) {
            (_, SecretCheck::Any) => true,
            (Some(stored), check) => check.admits(stored),
            (None, SecretCheck::Matches(_)) => false,
        }
    }
}

pub(super) fn seen(item: Option<&Item>) -> Option<Seen> {
    dynamo::from_item(item?.clone()).ok()
}

//! The table itself: creating it exactly as `crate::schema` describes, and checking that it is
//! ready to serve.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use super::errors::classify;
use crate::SessionError;
use crate::schema::{
    KEY_ATTRIBUTES, PARTITION_KEY, TTL_ATTRIBUTE, USER_INDEX, USER_INDEX_PARTITION_KEY,
    USER_INDEX_SORT_KEY,
};

/// What `create_table` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateTableOutcome {
    /// The table was created now (`false`: it existed, with the expected schema).
    pub created: bool,
    /// TTL on `ttl` was switched on now (`false`: it was on already).
    pub ttl_enabled: bool,
}

fn element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, SessionError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(SessionError::internal)
}

fn attribute_definitions() -> Result<Vec<AttributeDefinition>, SessionError> {
    KEY_ATTRIBUTES
        .iter()
        .map(|(name, kind)| {
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::from(*kind))
                .build()
                .map_err(SessionError::internal)
        })
        .collect()
}

fn user_index() -> Result<GlobalSecondaryIndex, SessionError> {
    GlobalSecondaryIndex::builder()
        .index_name(USER_INDEX)
        .key_schema(element(USER_INDEX_PARTITION_KEY, KeyType::Hash)?)
        .key_schema(element(USER_INDEX_SORT_KEY, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .map_err(SessionError::internal)
}

/// Creates the sessions table `name` (key, index, on-demand billing) and turns TTL on for
/// `ttl`. Idempotent: an existing table with the expected schema is left as it is (TTL is
/// switched on if it was off); one with another schema is an error that says what differs.
/// With `wait`, returns only once the table and its index are ACTIVE (or fails after `wait`).
pub async fn create_table(
    client: &Client,
    name: &str,
    wait: Option<Duration>,
) -> Result<CreateTableOutcome, SessionError> {
    let created = match client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attribute_definitions()?))
        .key_schema(element(PARTITION_KEY, KeyType::Hash)?)
        .global_secondary_indexes(user_index()?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
    {
        Ok(_) => true,
        Err(error) if error.code() == Some("ResourceInUseException") => {
            let description = describe(client, name).await?;
            let differences = schema_differences(&description);
            if !differences.is_empty() {
                return Err(SessionError::internal(format!(
                    "table {name} exists with another schema: {}",
                    differences.join("; ")
                )));
            }
            false
        }
        Err(error) => return Err(classify(error)),
    };
    if let Some(wait) = wait {
        wait_until_active(client, name, wait).await?;
    }
    let ttl_enabled = if ttl_status(client, name).await? == Some(TimeToLiveStatus::Enabled) {
        false
    } else {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(SessionError::internal)?,
            )
            .send()
            .await
            .map_err(classify)?;
        true
    };
    Ok(CreateTableOutcome {
        created,
        ttl_enabled,
    })
}

async fn describe(client: &Client, name: &str) -> Result<TableDescription, SessionError> {
    client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(classify)?
        .table
        .ok_or_else(|| SessionError::internal(format!("DescribeTable returned nothing for {name}")))
}

/// The TTL status, if TTL is set on the `ttl` attribute (another attribute counts as off).
async fn ttl_status(client: &Client, name: &str) -> Result<Option<TimeToLiveStatus>, SessionError> {
    let output = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(classify)?;
    Ok(output.time_to_live_description.and_then(|ttl| {
        let on_our_attribute = ttl
            .attribute_name
            .as_deref()
            .is_none_or(|a| a == TTL_ATTRIBUTE);
        ttl.time_to_live_status.filter(|_| on_our_attribute)
    }))
}

async fn wait_until_active(
    client: &Client,
    name: &str,
    wait: Duration,
) -> Result<(), SessionError> {
    let deadline = Instant::now() + wait;
    loop {
        let description = describe(client, name).await?;
        if not_ready_reason(&description).is_none() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(SessionError::unavailable(format!(
                "table {name} is not ACTIVE after {}s",
                wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Why the table cannot serve yet, if it cannot.
fn not_ready_reason(table: &TableDescription) -> Option<String> {
    if table.table_status != Some(TableStatus::Active) {
        return Some(format!("table status is {:?}", table.table_status));
    }
    let index = table
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some(USER_INDEX));
    match index.and_then(|index| index.index_status.clone()) {
        Some(IndexStatus::Active) => None,
        Some(status) => Some(format!("index {USER_INDEX} status is {status:?}")),
        None => Some(format!("index {USER_INDEX} is missing")),
    }
}

/// How an existing table differs from the expected schema (empty when it does not).
fn schema_differences(table: &TableDescription) -> Vec<String> {
    let mut differences = Vec::new();
    let keys: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    if keys != [(PARTITION_KEY, &KeyType::Hash)] {
        differences.push(format!(
            "key schema is {keys:?}, expected {PARTITION_KEY} (HASH) only"
        ));
    }
    let index = table
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some(USER_INDEX));
    match index {
        None => differences.push(format!("index {USER_INDEX} is missing")),
        Some(index) => {
            let keys: Vec<(&str, &KeyType)> = index
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name(), k.key_type()))
                .collect();
            if keys
                != [
                    (USER_INDEX_PARTITION_KEY, &KeyType::Hash),
                    (USER_INDEX_SORT_KEY, &KeyType::Range),
                ]
            {
                differences.push(format!("index {USER_INDEX} keys are {keys:?}"));
            }
            let projection = index.projection().and_then(|p| p.projection_type());
            // ALL, the layout of tables made before the index held keys only, serves as
            // well: listings read the sessions by key either way; it only costs more.
            if !matches!(
                projection,
                Some(ProjectionType::KeysOnly | ProjectionType::All)
            ) {
                differences.push(format!(
                    "index {USER_INDEX} projection is {projection:?}, expected KEYS_ONLY"
                ));
            }
        }
    }
    differences
}

/// Ready means: the table and its index are ACTIVE, with the expected schema, and TTL is
/// enabled on `ttl` (without it, expired sessions would pile up forever).
pub(super) async fn check_ready(client: &Client, name: &str) -> Result<(), SessionError> {
    let description = describe(client, name).await?;
    if let Some(reason) = not_ready_reason(&description) {
        return Err(SessionError::unavailable(format!("table {name}: {reason}")));
    }
    let differences = schema_differences(&description);
    if !differences.is_empty() {
        return Err(SessionError::unavailable(format!(
            "table {name} has another schema: {}",
            differences.join("; ")
        )));
    }
    match ttl_status(client, name).await? {
        Some(TimeToLiveStatus::Enabled) => Ok(()),
        other => Err(SessionError::unavailable(format!(
            "table {name}: TTL on {TTL_ATTRIBUTE} is {other:?}, expected ENABLED"
        ))),
    }
}

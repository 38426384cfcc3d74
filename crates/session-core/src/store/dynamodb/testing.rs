//! DynamoDB Local for tests: one fresh table per test, and no silent skips in CI.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

use super::{DynamoDbStore, create_table};

/// The variable `scripts/test` sets to DynamoDB Local's endpoint.
pub const ENDPOINT_VAR: &str = "DYNAMODB_LOCAL_ENDPOINT";

/// DynamoDB Local's endpoint. When it is not set, a test that needs it fails under `CI=true`
/// and is skipped, loudly, elsewhere.
pub fn local_endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1") => panic!(
            "{ENDPOINT_VAR} is not set but CI=true: DynamoDB tests must run in CI (scripts/test starts DynamoDB Local)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: {ENDPOINT_VAR} is not set; run scripts/test to start DynamoDB Local"
            );
            None
        }
    }
}

/// A client for DynamoDB Local at `endpoint`, with fake credentials (it checks none).
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "dynamodb-local",
        ))
        .build();
    Client::from_conf(config)
}

/// A unique table name for one test.
pub fn unique_table_name(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

/// A store over a new table made by `create_table`, or `None` outside CI without DynamoDB
/// Local.
pub async fn fresh_store() -> Option<DynamoDbStore> {
    let endpoint = local_endpoint()?;
    let client = local_client(&endpoint);
    let table = unique_table_name("sessions-test");
    create_table(&client, &table, Some(Duration::from_secs(30)))
        .await
        .unwrap_or_else(|e| {
            panic!("cannot create table {table} in DynamoDB Local at {endpoint}: {e:?}")
        });
    Some(DynamoDbStore::new(client, table))
}

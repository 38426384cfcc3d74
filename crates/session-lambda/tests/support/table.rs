//! A fresh DynamoDB Local table per test. Shared by the tests of every Lambda function of
//! the workspace (the authorizer's include it by path).
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use session_core::store::dynamodb::create_table;
use session_core::store::dynamodb::testing::{local_client, local_endpoint, unique_table_name};

/// A fresh DynamoDB Local table, made by the same `create_table` the server's command runs.
pub struct Table {
    /// DynamoDB Local's endpoint.
    pub endpoint: String,
    /// A client for it.
    pub client: Client,
    /// The table's name.
    pub name: String,
}

impl Table {
    /// A new table, or `None` (skipped loudly) outside CI when DynamoDB Local is not running;
    /// under `CI=true` a missing DynamoDB Local fails the test instead.
    pub async fn fresh(label: &str) -> Option<Self> {
        let endpoint = local_endpoint()?;
        let client = local_client(&endpoint);
        let name = unique_table_name(label);
        create_table(&client, &name, Some(Duration::from_secs(30)))
            .await
            .unwrap_or_else(|e| {
                panic!("create table {name} in DynamoDB Local at {endpoint}: {e:?}")
            });
        Some(Self {
            endpoint,
            client,
            name,
        })
    }

    /// A table that no DynamoDB serves (nothing listens on port 9): for requests that never
    /// reach the store, so that they run without DynamoDB Local.
    pub fn unreachable() -> Self {
        let endpoint = "http://127.0.0.1:9".to_owned();
        Self {
            client: local_client(&endpoint),
            endpoint,
            name: "unreachable".to_owned(),
        }
    }

    /// The item stored under `id`, read strongly consistently.
    pub async fn item(&self, id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.client
            .get_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem on DynamoDB Local")
            .item
    }
}

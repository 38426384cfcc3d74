//! The DynamoDB store against DynamoDB Local: the conformance suite, plus the table itself
//! (creation, readiness) and the exact item layout.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use serde_json::json;
use session_core::schema::{TTL_ATTRIBUTE, USER_INDEX};
use session_core::store::conformance::base_time;
use session_core::store::dynamodb::testing::{
    fresh_store, local_client, local_endpoint, unique_table_name,
};
use session_core::store::dynamodb::{DynamoDbStore, create_table};
use session_core::{Session, SessionError, SessionId, SessionStore, UserId};

session_core::conformance_tests!(async {
    fresh_store()
        .await
        .map(|store| Arc::new(store) as Arc<dyn SessionStore>)
});

#[tokio::test]
async fn items_have_the_documented_attributes_and_types() {
    let Some(store) = fresh_store().await else {
        return;
    };
    let t0 = base_time();
    let session = Session {
        id: SessionId::generate(),
        user_id: UserId::parse("layout").expect("valid"),
        data: json!({"theme": "dark", "n": 2})
            .as_object()
            .cloned()
            .expect("object"),
        created_at: t0,
        updated_at: t0,
        touched_at: t0,
        ttl: t0.epoch_seconds() + 3600,
        ttl_seconds: 3600,
        version: 1,
    };
    store.create(&session).await.expect("create");
    let item = store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("id", AttributeValue::S(session.id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get")
        .item
        .expect("item exists");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "createdAt",
            "data",
            "id",
            "touchedAt",
            "ttl",
            "ttlSeconds",
            "updatedAt",
            "userId",
            "version"
        ]
    );
    assert_eq!(item["id"], AttributeValue::S(session.id.to_string()));
    assert_eq!(item["userId"], AttributeValue::S("layout".into()));
    assert_eq!(item["createdAt"], AttributeValue::S(t0.to_string()));
    assert!(
        t0.to_string().ends_with(".000Z"),
        "RFC 3339 UTC with milliseconds"
    );
    assert_eq!(
        item["ttl"],
        AttributeValue::N((t0.epoch_seconds() + 3600).to_string()),
        "epoch seconds"
    );
    assert_eq!(item["ttlSeconds"], AttributeValue::N("3600".into()));
    assert_eq!(item["version"], AttributeValue::N("1".into()));
    let AttributeValue::M(data) = &item["data"] else {
        panic!("data must be a native map: {:?}", item["data"])
    };
    assert_eq!(data["theme"], AttributeValue::S("dark".into()));
    assert_eq!(data["n"], AttributeValue::N("2".into()));
}

#[tokio::test]
async fn create_table_is_idempotent_and_enables_ttl() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let name = unique_table_name("create-table");
    let first = create_table(&client, &name, Some(Duration::from_secs(30)))
        .await
        .expect("create");
    assert!(first.created && first.ttl_enabled);
    let second = create_table(&client, &name, Some(Duration::from_secs(30)))
        .await
        .expect("again");
    assert!(
        !second.created && !second.ttl_enabled,
        "the second run changes nothing: {second:?}"
    );

    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .expect("describe");
    let table = described.table.expect("table");
    let index = &table.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(USER_INDEX));
    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .expect("ttl");
    let ttl = ttl.time_to_live_description.expect("ttl description");
    assert_eq!(ttl.attribute_name.as_deref(), Some(TTL_ATTRIBUTE));
}

#[tokio::test]
async fn create_table_refuses_an_existing_table_with_another_schema() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let name = unique_table_name("wrong-schema");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .expect("definition"),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .expect("key"),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create a foreign table");
    let result = create_table(&client, &name, None).await;
    let message = format!(
        "{:?}",
        result.expect_err("a foreign schema must be refused")
    );
    assert!(
        message.contains("another schema") && message.contains(USER_INDEX),
        "{message}"
    );
}

#[tokio::test]
async fn readiness_fails_without_the_table_or_without_ttl() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let client = local_client(&endpoint);
    let missing = DynamoDbStore::new(client.clone(), unique_table_name("missing"));
    assert!(matches!(
        missing.check_ready().await,
        Err(SessionError::Unavailable { .. })
    ));

    let name = unique_table_name("no-ttl");
    create_table(&client, &name, None).await.expect("create");
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(false)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("disable ttl");
    let store = DynamoDbStore::new(client, name);
    let result = store.check_ready().await;
    assert!(
        matches!(&result, Err(SessionError::Unavailable { source }) if source.to_string().contains("TTL")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_not_internal() {
    // Port 9 on loopback: nothing listens there, so the connection is refused at once.
    let store = DynamoDbStore::new(local_client("http://127.0.0.1:9"), "nowhere");
    let result = store.get(&SessionId::generate(), base_time()).await;
    assert!(
        matches!(result, Err(SessionError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(matches!(
        store.check_ready().await,
        Err(SessionError::Unavailable { .. })
    ));
}

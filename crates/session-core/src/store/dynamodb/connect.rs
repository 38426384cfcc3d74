//! Building the SDK client with deliberate timeouts and retries.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Region;

use super::DynamoDbStore;

/// How to reach the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbConfig {
    /// Table name (`DYNAMODB_TABLE_NAME`).
    pub table_name: String,
    /// Region (`AWS_REGION`); `None` lets the SDK's provider chain decide.
    pub region: Option<String>,
    /// Endpoint override; `None` honours the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`.
    pub endpoint_url: Option<String>,
    /// Limit on opening a connection.
    pub connect_timeout: Duration,
    /// Limit on one attempt of a request.
    pub attempt_timeout: Duration,
    /// Limit on a whole request, retries included.
    pub operation_timeout: Duration,
    /// Attempts per request (1 = no retries), with the SDK's standard jittered backoff.
    pub max_attempts: u32,
}

impl DynamoDbConfig {
    /// Defaults for `table_name`: 1 s to connect, 2 s per attempt, 5 s per operation, 3
    /// attempts. DynamoDB answers in milliseconds; anything slower is a fault to report (503)
    /// rather than wait out.
    pub fn new(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            region: None,
            endpoint_url: None,
            connect_timeout: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(5),
            max_attempts: 3,
        }
    }
}

/// Loads credentials and region the standard SDK way (environment, profile, IRSA web
/// identity, container or instance role) and builds the store over one client. Makes no
/// request.
pub async fn connect(config: &DynamoDbConfig) -> DynamoDbStore {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.connect_timeout)
                .operation_attempt_timeout(config.attempt_timeout)
                .operation_timeout(config.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)))
        // The attempt timeout already bounds a stalled request or response, more tightly
        // (2 s by default) than the stall detector, which polls a throughput monitor on
        // every request.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &config.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let client = Client::new(&loader.load().await);
    DynamoDbStore::new(client, config.table_name.clone())
}

//! Reads by id as one signed GetItem sent straight to the table's endpoint, without the SDK's
//! per-request machinery.
//!
//! A read by id is the service's hottest call, and the SDK spends about 180 µs of CPU on each
//! GetItem on the benchmark machine: runtime plugins merged per call, a dozen interceptors,
//! the orchestrator's timeouts and retry bookkeeping, on top of the signing and the HTTP
//! exchange themselves (see docs/benchmarks.md). This module does only the last two, with the
//! SDK's own parts where it matters:
//!
//! - the endpoint is the one the SDK resolved for its own last request (an interceptor on the
//!   client records it), so every endpoint setting the SDK honours (`AWS_ENDPOINT_URL*`,
//!   FIPS, dual-stack, the region) applies unchanged; until the SDK has sent a request, reads
//!   go through the SDK;
//! - credentials come from the client's own provider, cached until a minute before they
//!   expire;
//! - the region signed for is the one the SDK signed its last request for (the endpoint rules
//!   may set it apart from the configured region);
//! - requests are signed by `aws-sigv4`, the SDK's signer, and sent by a connector built as
//!   the SDK builds its default HTTPS client (rustls with aws-lc, the proxy variables, the
//!   client's connect timeout), the whole read within the client's attempt timeout. A client
//!   given an HTTP client of its own (custom TLS, a resolver) is not mirrored: build such a
//!   store with `DynamoDbStore::new`.
//!
//! Anything but a clean `200` with an item this module can decode (an error answer, a
//! timeout, a refused connection, an attribute type the service never writes) is not
//! interpreted here: the read is made again through the SDK, which retries, classifies the
//! error and decodes everything, and the next reads take the SDK's path for
//! [`PAUSE_AFTER_FAILURE`]. While DynamoDB misbehaves, the store behaves exactly as it does
//! without this module.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{
    ConfigBag, Credentials, Intercept, ProvideCredentials, RuntimeComponents,
    SharedCredentialsProvider,
};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use http_body_util::{BodyExt, Limited};
use serde::Serialize;
use serde_json::Value;

use super::item::Item;
use crate::SessionId;
use crate::schema::PARTITION_KEY;

/// How long reads go through the SDK after a direct read could not be used.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(10);
/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);
/// Credentials that say nothing of their expiry are fetched again after this long, as the
/// SDK's own identity cache does.
const REFRESH_UNDATED_AFTER: Duration = Duration::from_secs(15 * 60);
/// Limit on one attempt when the client sets none.
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Limit on opening a connection when the client sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// An item is at most 400 KB; its JSON is larger, but not this much.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The operation, as DynamoDB's JSON protocol names it.
const GET_ITEM_TARGET: &str = "DynamoDB_20120810.GetItem";
/// The JSON protocol's content type.
const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// Where the SDK sends its requests (every DynamoDB operation is a POST to the same URI): the
/// URI without its query, its authority, and the region the SDK signs for there (which the
/// endpoint rules may set apart from the configured one: `local` signs as `us-east-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    uri: String,
    host: String,
    region: String,
}

impl Endpoint {
    /// The endpoint of a signed SDK request: its URI, if `http` or `https` with an
    /// authority, and the region of its SigV4 `Authorization` header.
    fn of_request(uri: &str, authorization: &str) -> Option<Self> {
        Some(Self {
            region: signing_region(authorization)?.to_owned(),
            ..Self::of(uri, "")?
        })
    }

    /// The endpoint of a request URI signed for `region`, if it is `http` or `https` with an
    /// authority. An empty path is `/`; a path of an endpoint override (a proxy's prefix) is
    /// kept.
    fn of(uri: &str, region: &str) -> Option<Self> {
        let (scheme, rest) = uri.split_once("://")?;
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if host.is_empty() || !(scheme == "https" || scheme == "http") {
            return None;
        }
        let path = if path.is_empty() { "/" } else { path };
        Some(Self {
            uri: format!("{scheme}://{host}{path}"),
            host: host.to_owned(),
            region: region.to_owned(),
        })
    }
}

/// The region of a SigV4 `Authorization` header:
/// `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …`.
fn signing_region(authorization: &str) -> Option<&str> {
    let credential = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")?
        .split(',')
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut scope = credential.rsplitn(4, '/');
    let (_terminator, _service, region) = (scope.next()?, scope.next()?, scope.next()?);
    (!region.is_empty()).then_some(region)
}

/// Shared between the interceptor (which writes) and the reader (which reads).
type SeenEndpoint = Arc<RwLock<Option<Endpoint>>>;

/// Records the endpoint of every request the SDK is about to send.
#[derive(Debug)]
struct EndpointSpy(SeenEndpoint);

impl Intercept for EndpointSpy {
    fn name(&self) -> &'static str {
        "session-core direct reads: endpoint"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let seen = request
            .headers()
            .get("authorization")
            .and_then(|authorization| Endpoint::of_request(request.uri(), authorization));
        let changed = {
            let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
            *known != seen
        };
        if changed {
            *self.0.write().unwrap_or_else(PoisonError::into_inner) = seen;
        }
        Ok(())
    }
}

/// Why a read was not answered directly (logged, then made through the SDK).
#[derive(Debug, thiserror::Error)]
pub(super) enum Fallback {
    /// The SDK has not sent a request yet, so the endpoint is unknown.
    #[error("the endpoint is not known yet")]
    NoEndpoint,
    /// The credentials provider failed.
    #[error("cannot get credentials: {0}")]
    Credentials(String),
    /// The request could not be built or signed.
    #[error("cannot sign the request: {0}")]
    Signing(String),
    /// No answer within the attempt timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed.
    #[error("cannot send the request: {0}")]
    Transport(String),
    /// DynamoDB answered with an error.
    #[error("DynamoDB answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The answer was not a GetItem result this module decodes.
    #[error("unexpected answer: {0}")]
    Answer(&'static str),
}

/// The HTTP connector, built at the first direct read rather than at start: loading the TLS
/// roots takes milliseconds, which a Lambda cold start would pay before its first answer.
struct LazyConnector {
    build: Box<dyn Fn() -> Connector + Send + Sync>,
    built: OnceLock<Connector>,
}

impl LazyConnector {
    fn get(&self) -> &Connector {
        self.built.get_or_init(|| (self.build)())
    }
}

impl std::fmt::Debug for LazyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyConnector")
            .field("built", &self.built.get().is_some())
            .finish()
    }
}

/// The direct reader of one store.
#[derive(Debug)]
pub(super) struct DirectRead {
    connector: LazyConnector,
    credentials: SharedCredentialsProvider,
    /// The credentials, and until when they may sign.
    cached: RwLock<Option<(Credentials, SystemTime)>>,
    refresh: tokio::sync::Mutex<()>,
    endpoint: SeenEndpoint,
    attempt_timeout: Duration,
    /// Reads go through the SDK until this many milliseconds after `started`.
    paused_until_ms: AtomicU64,
    started: Instant,
}

impl DirectRead {
    /// A direct reader for `client`, signing with `credentials` (the provider the client was
    /// built with), and the client to use from now on: the same, with the interceptor that
    /// tells the reader the endpoint and the signing region.
    pub(super) fn attach(client: Client, credentials: SharedCredentialsProvider) -> (Client, Self) {
        let config = client.config();
        let timeouts = config.timeout_config();
        let attempt_timeout = timeouts
            .and_then(|t| t.operation_attempt_timeout())
            .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT);
        let connect_timeout = timeouts
            .and_then(|t| t.connect_timeout())
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .connector_settings(
                HttpConnectorSettings::builder()
                    .connect_timeout(connect_timeout)
                    .build(),
            )
            // The SDK's default client (behaviour version 2025-08-07 and later) honours the
            // proxy variables too.
            .proxy_config(ProxyConfig::from_env());
        if let Some(sleep) = config.sleep_impl() {
            connector = connector.sleep_impl(sleep);
        }
        let endpoint = SeenEndpoint::default();
        let reader = Self {
            connector: LazyConnector {
                build: Box::new(move || connector.clone().build()),
                built: OnceLock::new(),
            },
            credentials,
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            endpoint: endpoint.clone(),
            attempt_timeout,
            paused_until_ms: AtomicU64::new(0),
            started: Instant::now(),
        };
        let client = Client::from_conf(
            config
                .to_builder()
                .interceptor(EndpointSpy(endpoint))
                .build(),
        );
        (client, reader)
    }

    /// Whether reads should try the direct path now.
    pub(super) fn active(&self) -> bool {
        self.elapsed_ms() >= self.paused_until_ms.load(Ordering::Relaxed)
    }

    /// Records that a read of `id` was not answered directly because of `why`: says so in the
    /// log, and pauses direct reads.
    pub(super) fn fell_back(&self, id: &SessionId, why: &Fallback) {
        self.pause();
        tracing::warn!(
            session = %id.fingerprint(),
            reason = %why,
            pause_seconds = PAUSE_AFTER_FAILURE.as_secs(),
            "direct read not answered; reading through the SDK, and so for the pause"
        );
    }

    /// Sends reads through the SDK for [`PAUSE_AFTER_FAILURE`].
    fn pause(&self) {
        let until = self.elapsed_ms() + PAUSE_AFTER_FAILURE.as_millis() as u64;
        self.paused_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A strongly consistent GetItem of `id` in `table`: the item, or `None` when there is
    /// none.
    pub(super) async fn get(&self, table: &str, id: &SessionId) -> Result<Option<Item>, Fallback> {
        let endpoint = self
            .endpoint
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(Fallback::NoEndpoint)?;
        // Everything, the credentials included, within one attempt's time.
        let answer = tokio::time::timeout(self.attempt_timeout, async {
            let credentials = self.credentials().await?;
            let body = get_item_body(table, id)?;
            let request = sign_get_item(&endpoint, credentials, body, SystemTime::now())?;
            let response = self
                .connector
                .get()
                .call(request)
                .await
                .map_err(|e| Fallback::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(Fallback::Status { status });
            }
            Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .map_err(|e| Fallback::Transport(e.to_string()))
        })
        .await
        .map_err(|_| Fallback::Timeout(self.attempt_timeout))??;
        decode_get_item(&answer)
    }

    /// The cached credentials, fetched again when they are about to expire. One caller
    /// fetches; the others wait for it.
    async fn credentials(&self) -> Result<Credentials, Fallback> {
        if let Some(fresh) = self.fresh_cached() {
            return Ok(fresh);
        }
        let _only_one = self.refresh.lock().await;
        if let Some(fresh) = self.fresh_cached() {
            return Ok(fresh);
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| Fallback::Credentials(e.to_string()))?;
        let usable_until = usable_until(&credentials, SystemTime::now());
        *self.cached.write().unwrap_or_else(PoisonError::into_inner) =
            Some((credentials.clone(), usable_until));
        Ok(credentials)
    }

    fn fresh_cached(&self) -> Option<Credentials> {
        let cached = self.cached.read().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|(_, until)| SystemTime::now() < *until)
            .map(|(credentials, _)| credentials.clone())
    }
}

/// Until when `credentials`, fetched at `now`, are used: a minute before they expire, or
/// [`REFRESH_UNDATED_AFTER`] when they do not say.
fn usable_until(credentials: &Credentials, now: SystemTime) -> SystemTime {
    match credentials.expiry() {
        Some(expiry) => expiry
            .checked_sub(REFRESH_BEFORE_EXPIRY)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        None => now + REFRESH_UNDATED_AFTER,
    }
}

/// A GetItem request for `endpoint`, its body `body`, signed at `at` for the endpoint's region.
fn sign_get_item(
    endpoint: &Endpoint,
    credentials: Credentials,
    body: Vec<u8>,
    at: SystemTime,
) -> Result<HttpRequest, Fallback> {
    let signing = |e: &dyn std::fmt::Display| Fallback::Signing(e.to_string());
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&endpoint.uri)
        .header(http::header::HOST, &endpoint.host)
        .header(http::header::CONTENT_TYPE, AMZ_JSON)
        .header("x-amz-target", GET_ITEM_TARGET)
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(())
        .map_err(|e| signing(&e))?;
    let identity = Identity::from(credentials);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&endpoint.region)
        .name("dynamodb")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| signing(&e))?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        endpoint.uri.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| signing(&e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing(&e))?
        .into_parts();
    instructions.apply_to_request_http1x(&mut request);
    HttpRequest::try_from(request.map(|()| SdkBody::from(body))).map_err(|e| signing(&e))
}

/// The body of a strongly consistent GetItem of `id` in `table`.
fn get_item_body(table: &str, id: &SessionId) -> Result<Vec<u8>, Fallback> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct GetItem<'a> {
        table_name: &'a str,
        key: HashMap<&'static str, StringValue<'a>>,
        consistent_read: bool,
    }
    #[derive(Serialize)]
    struct StringValue<'a> {
        #[serde(rename = "S")]
        s: &'a str,
    }
    serde_json::to_vec(&GetItem {
        table_name: table,
        key: HashMap::from([(PARTITION_KEY, StringValue { s: &id.to_string() })]),
        consistent_read: true,
    })
    .map_err(|e| Fallback::Signing(e.to_string()))
}

/// The item of a GetItem answer: `{}` when there is none, else `{"Item": {…}}`.
fn decode_get_item(body: &[u8]) -> Result<Option<Item>, Fallback> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
        return Err(Fallback::Answer("not a JSON object"));
    };
    match answer.remove("Item") {
        None => Ok(None),
        Some(Value::Object(item)) => attributes(item).map(Some).ok_or(Fallback::Answer(
            "an attribute of a type this module leaves to the SDK",
        )),
        Some(_) => Err(Fallback::Answer("Item is not an object")),
    }
}

/// The attributes of an item or of an `M` value; `None` if any is of a type left to the SDK.
fn attributes(map: serde_json::Map<String, Value>) -> Option<Item> {
    map.into_iter()
        .map(|(name, value)| Some((name, attribute(value)?)))
        .collect()
}

/// One attribute value in DynamoDB's JSON: the types the service writes (`S`, `N`, `BOOL`,
/// `NULL`, `M`, `L`). Others (binary and sets) are `None`, and the SDK reads that item.
fn attribute(value: Value) -> Option<AttributeValue> {
    let Value::Object(typed) = value else {
        return None;
    };
    if typed.len() != 1 {
        return None;
    }
    let (kind, inner) = typed.into_iter().next()?;
    Some(match (kind.as_str(), inner) {
        ("S", Value::String(text)) => AttributeValue::S(text),
        ("N", Value::String(number)) => AttributeValue::N(number),
        ("BOOL", Value::Bool(flag)) => AttributeValue::Bool(flag),
        ("NULL", Value::Bool(true)) => AttributeValue::Null(true),
        ("M", Value::Object(map)) => AttributeValue::M(attributes(map)?),
        ("L", Value::Array(list)) => AttributeValue::L(
            list.into_iter()
                .map(attribute)
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use aws_sdk_dynamodb::config::{Credentials, ProvideCredentials};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::store::SessionStore;
    use crate::store::dynamodb::testing::{
        local_client, local_credentials, local_endpoint, unique_table_name,
    };
    use crate::store::dynamodb::{DynamoDbStore, create_table};
    use crate::{SessionError, Timestamp};

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn n(number: &str) -> AttributeValue {
        AttributeValue::N(number.to_owned())
    }

    /// A reader over DynamoDB Local with a fresh table; the SDK has sent its first request.
    async fn reader_and_table() -> Option<(Client, DirectRead, String)> {
        let endpoint = local_endpoint()?;
        let (client, reader) = DirectRead::attach(local_client(&endpoint), local_credentials());
        let table = unique_table_name("direct-read");
        create_table(&client, &table, Some(Duration::from_secs(30)))
            .await
            .expect("create the table");
        Some((client, reader, table))
    }

    #[tokio::test]
    async fn a_direct_read_gives_the_item_the_sdk_reads() {
        let Some((client, reader, table)) = reader_and_table().await else {
            return;
        };
        let id = SessionId::generate();
        let data = HashMap::from([
            ("text".to_owned(), s("é \"quoted\"\n\\ 😀")),
            ("number".to_owned(), n("-1.5E3")),
            ("yes".to_owned(), AttributeValue::Bool(true)),
            ("nothing".to_owned(), AttributeValue::Null(true)),
            (
                "list".to_owned(),
                AttributeValue::L(vec![n("1"), AttributeValue::M(HashMap::new())]),
            ),
            (
                "map".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "nested".to_owned(),
                    AttributeValue::L(vec![]),
                )])),
            ),
        ]);
        let item = HashMap::from([
            ("id".to_owned(), s(&id.to_string())),
            ("userId".to_owned(), s("direct-user")),
            ("data".to_owned(), AttributeValue::M(data)),
            ("ttl".to_owned(), n("1796559447")),
        ]);
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item.clone()))
            .send()
            .await
            .expect("put");

        let direct = reader.get(&table, &id).await.expect("answered directly");
        let through_sdk = client
            .get_item()
            .table_name(&table)
            .key("id", s(&id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .expect("get")
            .item;
        assert_eq!(direct, through_sdk);
        assert_eq!(direct, Some(item));

        let missing = reader
            .get(&table, &SessionId::generate())
            .await
            .expect("answered directly");
        assert_eq!(missing, None, "no item: {{}} is an answer, not a failure");
    }

    #[tokio::test]
    async fn an_item_with_a_type_the_service_never_writes_is_left_to_the_sdk() {
        let Some((client, reader, table)) = reader_and_table().await else {
            return;
        };
        let id = SessionId::generate();
        client
            .put_item()
            .table_name(&table)
            .item("id", s(&id.to_string()))
            .item("tags", AttributeValue::Ss(vec!["a".into(), "b".into()]))
            .send()
            .await
            .expect("put");
        assert!(matches!(
            reader.get(&table, &id).await,
            Err(Fallback::Answer(_))
        ));
    }

    #[tokio::test]
    async fn an_error_answer_is_left_to_the_sdk_and_pauses_direct_reads() {
        let Some(endpoint) = local_endpoint() else {
            return;
        };
        let store = DynamoDbStore::with_direct_reads(
            local_client(&endpoint),
            unique_table_name("no-such-table"),
            local_credentials(),
        );
        let direct = store.direct.clone().expect("direct reads");
        // The SDK's first request tells the reader the endpoint.
        assert!(store.check_ready().await.is_err(), "the table is missing");
        assert!(direct.active());

        let error = store
            .get(&SessionId::generate(), Timestamp::from_millis(0))
            .await
            .expect_err("the table is missing");
        assert!(
            matches!(error, SessionError::Unavailable { .. }),
            "the SDK's answer, classified as before: {error:?}"
        );
        assert!(!direct.active(), "reads go through the SDK for a while");
        assert!(matches!(
            direct.get(store.table_name(), &SessionId::generate()).await,
            Err(Fallback::Status { status: 400 })
        ));
    }

    #[tokio::test]
    async fn the_store_reads_directly_once_the_sdk_has_sent_a_request() {
        let Some(endpoint) = local_endpoint() else {
            return;
        };
        let client = local_client(&endpoint);
        let table = unique_table_name("direct-store");
        create_table(&client, &table, Some(Duration::from_secs(30)))
            .await
            .expect("create the table");
        let store = DynamoDbStore::with_direct_reads(client, table, local_credentials());
        let direct = store.direct.clone().expect("direct reads");
        let session = crate::store::conformance::new_session(
            &crate::UserId::parse("direct-user").expect("valid"),
            crate::store::conformance::base_time(),
            3600,
            serde_json::json!({"cart": [1, 2], "theme": "dark"}),
        );
        assert!(direct.endpoint.read().expect("lock").is_none());
        // Through the SDK: it has not sent a request yet.
        let missing = store
            .get(&session.id, session.created_at)
            .await
            .expect_err("nothing yet");
        assert!(matches!(missing, SessionError::NotFound), "{missing:?}");
        assert!(direct.active(), "an unknown endpoint is no failure");
        assert!(
            direct.endpoint.read().expect("lock").is_some(),
            "the SDK's request showed the endpoint"
        );

        store.create(&session).await.expect("create");
        let read = store
            .get(&session.id, session.created_at)
            .await
            .expect("read");
        assert_eq!(&*read, &session);
        // Any failure of the direct read would have paused direct reads.
        assert!(direct.active(), "the direct read answered");
    }

    /// Accepts connections and never answers.
    async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        (format!("http://{address}"), held)
    }

    #[tokio::test]
    async fn a_read_that_fell_back_stays_within_the_operation_timeout() {
        let (endpoint, held) = black_hole().await;
        let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(500))
            .operation_attempt_timeout(Duration::from_millis(1000))
            .operation_timeout(Duration::from_millis(1500))
            .build();
        let config = local_client(&endpoint)
            .config()
            .to_builder()
            .timeout_config(timeouts)
            .build();
        let store = DynamoDbStore::with_direct_reads(
            Client::from_conf(config),
            "sessions",
            local_credentials(),
        );
        // The SDK's request shows the endpoint as it goes out, then times out.
        assert!(store.check_ready().await.is_err());
        let direct = store.direct.clone().expect("direct reads");
        assert!(direct.endpoint.read().expect("lock").is_some());

        let started = Instant::now();
        let error = store
            .get(&SessionId::generate(), Timestamp::from_millis(0))
            .await
            .expect_err("nothing answers");
        let took = started.elapsed();
        assert!(
            matches!(error, SessionError::Unavailable { .. }),
            "a timeout is unavailability: {error:?}"
        );
        assert!(!direct.active(), "the timeout paused direct reads");
        // The direct attempt (1 s) and a full operation through the SDK (1.5 s) would take
        // 2.5 s; the SDK gets what is left of the 1.5 s instead.
        assert!(
            took < Duration::from_millis(2200),
            "the read took {took:?}, past its operation timeout"
        );
        held.abort();
    }

    #[tokio::test]
    async fn reads_go_through_the_sdk_until_it_has_sent_a_request() {
        let (_client, reader) =
            DirectRead::attach(local_client("http://127.0.0.1:9"), local_credentials());
        assert!(matches!(
            reader.get("table", &SessionId::generate()).await,
            Err(Fallback::NoEndpoint)
        ));
    }

    #[test]
    fn endpoints_keep_scheme_authority_and_path() {
        let endpoint =
            Endpoint::of("https://dynamodb.eu-west-1.amazonaws.com/", "r").expect("https");
        assert_eq!(endpoint.uri, "https://dynamodb.eu-west-1.amazonaws.com/");
        assert_eq!(endpoint.host, "dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(endpoint.region, "r");
        let local = Endpoint::of("http://127.0.0.1:8000", "r").expect("http");
        assert_eq!(local.uri, "http://127.0.0.1:8000/");
        assert_eq!(local.host, "127.0.0.1:8000");
        let with_query = Endpoint::of("http://[::1]:8000?x=1", "r").expect("ipv6");
        assert_eq!(with_query.host, "[::1]:8000");
        assert_eq!(with_query.uri, "http://[::1]:8000/");
        let behind_a_proxy = Endpoint::of("https://proxy.internal/ddb/eu?x=1", "r").expect("path");
        assert_eq!(behind_a_proxy.uri, "https://proxy.internal/ddb/eu");
        assert_eq!(behind_a_proxy.host, "proxy.internal");
        assert_eq!(Endpoint::of("ftp://example.com/", "r"), None);
        assert_eq!(Endpoint::of("https:///path", "r"), None);
        assert_eq!(Endpoint::of("no scheme", "r"), None);
    }

    #[test]
    fn the_signing_region_is_read_from_the_sdks_signature() {
        let signed = "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(signing_region(signed), Some("us-east-1"));
        let endpoint =
            Endpoint::of_request("http://127.0.0.1:8000/", signed).expect("a signed request");
        assert_eq!(endpoint.region, "us-east-1");
        for unsigned in [
            "",
            "Bearer token",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AKID, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20261205//dynamodb/aws4_request",
        ] {
            assert_eq!(signing_region(unsigned), None, "{unsigned}");
            assert_eq!(
                Endpoint::of_request("http://127.0.0.1:8000/", unsigned),
                None
            );
        }
    }

    #[tokio::test]
    async fn reads_are_signed_for_the_region_the_sdk_signs_for() {
        let Some(endpoint) = local_endpoint() else {
            return;
        };
        // The region is taken from the SDK's own signature, since the endpoint rules may sign
        // for another region than the configured one (they sign `local` as `us-east-1`).
        // That the signature then uses it is checked by the SigV4 test below.
        let config = local_client(&endpoint)
            .config()
            .to_builder()
            .region(aws_sdk_dynamodb::config::Region::new("eu-central-1"))
            .build();
        let (client, reader) = DirectRead::attach(Client::from_conf(config), local_credentials());
        let table = unique_table_name("direct-region");
        create_table(&client, &table, Some(Duration::from_secs(30)))
            .await
            .expect("create the table");
        let known = reader.endpoint.read().expect("lock").clone().expect("seen");
        assert_eq!(known.region, "eu-central-1");
        let id = SessionId::generate();
        client
            .put_item()
            .table_name(&table)
            .item("id", s(&id.to_string()))
            .send()
            .await
            .expect("put");
        let item = reader.get(&table, &id).await.expect("answered directly");
        assert_eq!(
            item.map(|item| item["id"].clone()),
            Some(s(&id.to_string()))
        );
    }

    #[test]
    fn answers_decode_to_items_or_are_left_to_the_sdk() {
        assert_eq!(decode_get_item(b"{}").expect("no item"), None);
        let item = decode_get_item(
            br#"{"Item":{"id":{"S":"x"},"data":{"M":{"l":{"L":[{"N":"1"},{"NULL":true},{"BOOL":false}]}}}}}"#,
        )
        .expect("an item")
        .expect("some");
        assert_eq!(item["id"], s("x"));
        assert_eq!(
            item["data"],
            AttributeValue::M(HashMap::from([(
                "l".to_owned(),
                AttributeValue::L(vec![
                    n("1"),
                    AttributeValue::Null(true),
                    AttributeValue::Bool(false)
                ]),
            )]))
        );
        for refused in [
            &b"not json"[..],
            br#"[]"#,
            br#"{"Item":[]}"#,
            br#"{"Item":{"a":{"B":"AAEC"}}}"#,
            br#"{"Item":{"a":{"NS":["1"]}}}"#,
            br#"{"Item":{"a":{"S":"x","N":"1"}}}"#,
            br#"{"Item":{"a":{"S":1}}}"#,
            br#"{"Item":{"a":{"NULL":false}}}"#,
            br#"{"Item":{"a":"bare"}}"#,
        ] {
            assert!(
                matches!(decode_get_item(refused), Err(Fallback::Answer(_))),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
    }

    #[test]
    fn the_body_names_the_table_the_key_and_a_consistent_read() {
        let id = SessionId::generate();
        let body = get_item_body("my \"table\"", &id).expect("body");
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({
                "TableName": "my \"table\"",
                "Key": {"id": {"S": id.to_string()}},
                "ConsistentRead": true
            })
        );
    }

    /// HMAC-SHA256, written out here so that the check below does not share code with the
    /// signer it checks.
    fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .to_vec()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn requests_carry_a_sigv4_signature_for_dynamodb_in_the_region() {
        let endpoint = Endpoint::of("https://dynamodb.eu-west-1.amazonaws.com", "eu-west-1")
            .expect("endpoint");
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "secret/key",
            Some("token".into()),
            None,
            "test",
        );
        let body = get_item_body("sessions", &SessionId::generate()).expect("body");
        // 2026-12-05T12:11:12Z
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_472_672);
        let request = sign_get_item(&endpoint, credentials, body.clone(), at).expect("signed");

        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("header {name}"))
                .to_owned()
        };
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://dynamodb.eu-west-1.amazonaws.com/");
        assert_eq!(header("x-amz-target"), "DynamoDB_20120810.GetItem");
        assert_eq!(header("content-type"), "application/x-amz-json-1.0");
        assert_eq!(header("x-amz-date"), "20261205T121112Z");
        assert_eq!(header("x-amz-security-token"), "token");
        assert_eq!(request.body().bytes(), Some(&body[..]));

        // Check the signature from scratch (the SigV4 specification's steps).
        let authorization = header("authorization");
        let (scheme, fields) = authorization.split_once(' ').expect("scheme");
        assert_eq!(scheme, "AWS4-HMAC-SHA256");
        let field = |name: &str| {
            fields
                .split(", ")
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {authorization}"))
                .to_owned()
        };
        let scope = "20261205/eu-west-1/dynamodb/aws4_request";
        assert_eq!(field("Credential"), format!("AKIDEXAMPLE/{scope}"));
        let signed_headers = field("SignedHeaders");
        for required in [
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-target",
        ] {
            assert!(
                signed_headers.split(';').any(|h| h == required),
                "{required} is signed: {signed_headers}"
            );
        }
        let canonical_headers: String = signed_headers
            .split(';')
            .map(|name| {
                let value = if name == "host" {
                    endpoint.host.clone()
                } else {
                    header(name)
                };
                format!("{name}:{}\n", value.trim())
            })
            .collect();
        let canonical_request = format!(
            "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
            hex(&Sha256::digest(&body))
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n20261205T121112Z\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let key = ["20261205", "eu-west-1", "dynamodb", "aws4_request"]
            .iter()
            .fold(b"AWS4secret/key".to_vec(), |key, part| {
                hmac(&key, part.as_bytes())
            });
        assert_eq!(
            field("Signature"),
            hex(&hmac(&key, string_to_sign.as_bytes()))
        );
    }

    /// Counts how often it is asked for credentials.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        valid_for: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.valid_for.map(|valid| SystemTime::now() + valid);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "a", "b", None, expiry, "counting",
            )))
        }
    }

    fn counting_reader(valid_for: Option<Duration>) -> (DirectRead, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            valid_for,
        });
        let (_client, reader) = DirectRead::attach(local_client("http://127.0.0.1:9"), provider);
        (reader, calls)
    }

    #[test]
    fn undated_credentials_are_used_for_fifteen_minutes() {
        let now = SystemTime::now();
        let undated = Credentials::new("a", "b", None, None, "test");
        assert_eq!(usable_until(&undated, now), now + REFRESH_UNDATED_AFTER);
        let dated = Credentials::new("a", "b", None, Some(now + Duration::from_secs(600)), "test");
        assert_eq!(usable_until(&dated, now), now + Duration::from_secs(540));
    }

    #[tokio::test]
    async fn credentials_are_cached_until_a_minute_before_they_expire() {
        let (lasting, calls) = counting_reader(Some(Duration::from_secs(3600)));
        for _ in 0..3 {
            lasting.credentials().await.expect("credentials");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let (never_expiring, calls) = counting_reader(None);
        for _ in 0..3 {
            never_expiring.credentials().await.expect("credentials");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let (expiring, calls) = counting_reader(Some(Duration::from_secs(30)));
        for _ in 0..3 {
            expiring.credentials().await.expect("credentials");
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "too close to expiry to reuse"
        );
    }

    #[test]
    fn a_pause_holds_direct_reads_back_for_its_length() {
        let (reader, _) = counting_reader(None);
        assert!(reader.active());
        reader.pause();
        assert!(!reader.active());
        // As if the pause had started long ago.
        reader.paused_until_ms.store(0, Ordering::Relaxed);
        assert!(reader.active());
    }
}

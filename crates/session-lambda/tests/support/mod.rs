//! Shared test support: the Runtime API emulator, event builders, fixtures, the in-process
//! Lambda path, and DynamoDB Local tables.
#![allow(dead_code, unreachable_pub)]

pub mod events;
pub mod runtime_api;
pub mod table;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use serde_json::Value;
use session_api::{ApiOptions, AppState};
use session_core::store::dynamodb::DynamoDbStore;
use session_core::{
    CursorCodec, ExpiryPolicy, ServiceConfig, SessionService, SessionStore, SystemClock,
};
use session_lambda::LambdaApp;
use tower::ServiceExt;

use events::Shape;
pub use table::Table;

/// The session-lambda binary cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_session-lambda");

impl Table {
    /// The shared router over this table, with authentication off (as behind an API Gateway
    /// route that requires IAM).
    pub fn router(&self) -> Router {
        self.router_with(session_api::auth::Auth::disabled())
    }

    /// The shared router over this table with `auth`.
    pub fn router_with(&self, auth: session_api::auth::Auth) -> Router {
        let store: Arc<dyn SessionStore> =
            Arc::new(DynamoDbStore::new(self.client.clone(), self.name.clone()));
        let config = ServiceConfig {
            policy: ExpiryPolicy::default(),
            max_data_bytes: session_core::data::DEFAULT_MAX_DATA_BYTES,
            cursors: CursorCodec::from_secret(b"session-lambda-tests"),
            max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
            user_limit: None,
        };
        let service = SessionService::new(store, Arc::new(SystemClock), config);
        let options = ApiOptions {
            auth: Arc::new(auth),
            ..ApiOptions::default()
        };
        session_api::router(AppState::new(service, options))
    }
}

/// The directory of the event fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture `source/name.json`, with each `{{PLACEHOLDER}}` replaced.
pub fn fixture(source: &str, name: &str, substitutions: &[(&str, &str)]) -> String {
    let path = fixtures_dir().join(source).join(format!("{name}.json"));
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    for (placeholder, value) in substitutions {
        text = text.replace(&format!("{{{{{placeholder}}}}}"), value);
    }
    assert!(
        !text.contains("{{"),
        "fixture {source}/{name} still has a placeholder after substitution"
    );
    text
}

/// Sends one event through `app` exactly as the binary does for each invocation (deserialise
/// the event, adapt it to a request behind the `EventGuard`, call the service, convert the
/// response to the source's shape) and returns the JSON the runtime would post back.
///
/// `lambda_http::Adapter` is the (doc-hidden) service `run` wraps a handler in; its response
/// conversion (`LambdaResponse::from_response`) is crate-private, so calling the adapter is
/// the way to exercise the real conversion in process.
pub async fn invoke(app: &LambdaApp, event: &str) -> Value {
    let request: LambdaRequest = serde_json::from_str(event).expect("a Lambda HTTP event");
    let adapter = session_lambda::EventGuard::new(lambda_http::Adapter::from(app.clone()));
    let response = adapter
        .oneshot(LambdaEvent::new(request, Context::default()))
        .await
        .expect("the router is infallible");
    serde_json::to_value(&response).expect("the response serialises")
}

/// A response payload, checked against the shape its source expects and decoded.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The payload as posted.
    pub raw: Value,
    /// `statusCode`.
    pub status: u16,
    /// Headers (names lower-case), one entry per value.
    pub headers: Vec<(String, String)>,
    /// `cookies` (HTTP API shape only).
    pub cookies: Vec<String>,
    /// The body, base64-decoded when `isBase64Encoded`.
    pub body: Vec<u8>,
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

impl Reply {
    /// Decodes `raw`, asserting the fields `shape` requires (and none it forbids).
    #[track_caller]
    pub fn decode(shape: Shape, raw: Value) -> Self {
        let status = raw["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("statusCode is a number: {raw}"));
        let base64 = raw["isBase64Encoded"]
            .as_bool()
            .unwrap_or_else(|| panic!("isBase64Encoded is a boolean: {raw}"));
        let single = |field: &str| -> Vec<(String, String)> {
            raw[field]
                .as_object()
                .unwrap_or_else(|| panic!("{field} is an object: {raw}"))
                .iter()
                .map(|(k, v)| {
                    let value = v
                        .as_str()
                        .unwrap_or_else(|| panic!("{field}.{k} is a string: {raw}"));
                    (k.to_ascii_lowercase(), value.to_owned())
                })
                .collect()
        };
        let multi = |field: &str| -> Vec<(String, String)> {
            let mut out = Vec::new();
            for (k, values) in raw[field]
                .as_object()
                .unwrap_or_else(|| panic!("{field} is an object: {raw}"))
            {
                for value in values
                    .as_array()
                    .unwrap_or_else(|| panic!("{field}.{k} is an array: {raw}"))
                {
                    let value = value
                        .as_str()
                        .unwrap_or_else(|| panic!("{field}.{k}[] are strings: {raw}"));
                    out.push((k.to_ascii_lowercase(), value.to_owned()));
                }
            }
            out
        };
        let (headers, cookies) = match shape {
            Shape::Rest => {
                // API Gateway merges `headers` into `multiValueHeaders`; the adapter leaves
                // `headers` empty so that nothing is sent twice.
                assert_eq!(raw["headers"], serde_json::json!({}), "{raw}");
                assert!(raw.get("cookies").is_none(), "{raw}");
                assert!(raw.get("statusDescription").is_none(), "{raw}");
                (multi("multiValueHeaders"), Vec::new())
            }
            Shape::Http => {
                let cookies = raw["cookies"]
                    .as_array()
                    .unwrap_or_else(|| panic!("cookies is an array: {raw}"))
                    .iter()
                    .map(|c| c.as_str().expect("cookie strings").to_owned())
                    .collect();
                assert!(raw.get("statusDescription").is_none(), "{raw}");
                let multi_empty = raw
                    .get("multiValueHeaders")
                    .is_none_or(|m| m == &serde_json::json!({}));
                assert!(
                    multi_empty,
                    "an HTTP API response has single-value headers: {raw}"
                );
                (single("headers"), cookies)
            }
            Shape::Alb => {
                assert_eq!(
                    raw["statusDescription"],
                    format!("{status} {}", reason(status)),
                    "{raw}"
                );
                assert!(raw.get("cookies").is_none(), "{raw}");
                // Both header fields, so that either target group setting works.
                let headers = single("headers");
                let mut multi_headers = multi("multiValueHeaders");
                let mut sorted = headers.clone();
                sorted.sort();
                multi_headers.sort();
                assert_eq!(
                    sorted, multi_headers,
                    "headers and multiValueHeaders agree: {raw}"
                );
                (headers, Vec::new())
            }
        };
        let body = match raw.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) if base64 => STANDARD
                .decode(text)
                .unwrap_or_else(|e| panic!("body is base64 ({e}): {raw}")),
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(other) => panic!("body is a string: {other}"),
        };
        Self {
            raw,
            status,
            headers,
            cookies,
            body,
        }
    }

    /// The (first) value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a problem+json answer with `status` and `code`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.raw);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.raw
        );
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
    }
}

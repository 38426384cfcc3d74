//! A test app: the real router over a real (in-memory) embedded store, a clock the test moves,
//! and requests sent in process with `oneshot`.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use session_api::{ApiOptions, AppState, ClientAddr, router};
use session_core::store::conformance::base_time;
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::{
    CursorCodec, ExpiryPolicy, ManualClock, ServiceConfig, SessionService, SessionStore,
};
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub clock: Arc<ManualClock>,
    pub store: Arc<EmbeddedStore>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json error with `status` and `code`, and returns its body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["type"], "about:blank");
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        body
    }
}

/// Sends `request` through `router` in process, as a client on this machine (loopback) unless
/// the request already says where it comes from.
pub async fn send(router: &Router, mut request: Request<Body>) -> Reply {
    if request.extensions().get::<ClientAddr>().is_none() {
        request
            .extensions_mut()
            .insert(ClientAddr(std::net::Ipv4Addr::LOCALHOST.into()));
    }
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends a bodiless request through `router`.
pub async fn send_to(router: &Router, method: Method, uri: &str) -> Reply {
    send(
        router,
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

pub struct Builder {
    policy: ExpiryPolicy,
    options: ApiOptions,
    max_data_bytes: usize,
    max_page_bytes: usize,
    purge_after_seconds: u64,
    user_limit: Option<session_core::UserLimit>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            policy: ExpiryPolicy::default(),
            options: ApiOptions::default(),
            max_data_bytes: session_core::data::DEFAULT_MAX_DATA_BYTES,
            max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
            purge_after_seconds: 3600,
            user_limit: None,
        }
    }
}

impl Builder {
    pub fn policy(mut self, policy: ExpiryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn options(mut self, options: ApiOptions) -> Self {
        self.options = options;
        self
    }

    pub fn max_page_bytes(mut self, bytes: usize) -> Self {
        self.max_page_bytes = bytes;
        self
    }

    #[allow(dead_code)]
    pub fn user_limit(mut self, limit: session_core::UserLimit) -> Self {
        self.user_limit = Some(limit);
        self
    }

    pub fn max_data_bytes(mut self, bytes: usize) -> Self {
        self.max_data_bytes = bytes;
        self
    }

    pub fn build(self) -> TestApp {
        let clock = Arc::new(ManualClock::new(base_time()));
        let store = Arc::new(
            EmbeddedStore::in_memory(EmbeddedOptions {
                purge_after_seconds: self.purge_after_seconds,
                clock: clock.clone(),
                ..EmbeddedOptions::default()
            })
            .expect("in-memory store"),
        );
        let config = ServiceConfig {
            policy: self.policy,
            max_data_bytes: self.max_data_bytes,
            cursors: CursorCodec::from_secret(b"test"),
            max_page_bytes: self.max_page_bytes,
            user_limit: self.user_limit,
        };
        // Metered like the real service, so that /metrics shows the store families.
        let metered =
            session_api::metrics::MeteredStore::wrap(store.clone() as Arc<dyn SessionStore>);
        let service = SessionService::new(metered, clock.clone(), config);
        TestApp {
            router: router(AppState::new(service, self.options)),
            clock,
            store,
        }
    }
}

impl TestApp {
    pub fn new() -> Self {
        Builder::default().build()
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(Body::from(body.to_owned())).expect("request"))
            .await
    }

    /// A request with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body.to_owned())).expect("request"))
            .await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None, "").await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.call(Method::DELETE, uri, None, "").await
    }

    pub async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        self.call(
            Method::POST,
            uri,
            Some("application/json"),
            &body.to_string(),
        )
        .await
    }

    pub async fn put_json(&self, uri: &str, body: &Value) -> Reply {
        self.call(
            Method::PUT,
            uri,
            Some("application/json"),
            &body.to_string(),
        )
        .await
    }

    pub async fn patch(&self, uri: &str, body: &Value) -> Reply {
        self.call(
            Method::PATCH,
            uri,
            Some("application/merge-patch+json"),
            &body.to_string(),
        )
        .await
    }

    /// Creates a session and returns its body.
    pub async fn create(&self, body: Value) -> Value {
        let reply = self.post_json("/sessions", &body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }
}

/// A created session's body without its `token`, which only the create (and rotate) answers
/// carry: what every later read of the session shows. Fails when the token is missing.
pub fn without_token(mut created: Value) -> Value {
    let token = created
        .as_object_mut()
        .and_then(|body| body.remove("token"))
        .unwrap_or_else(|| panic!("a created session carries its token: {created}"));
    let id = created["id"].as_str().unwrap_or_default();
    assert!(
        token
            .as_str()
            .is_some_and(|t| t.len() == 80 && t.starts_with(&format!("{id}."))),
        "the token is `<id>.<secret>`: {token}"
    );
    created
}

/// The value of the sample `name{labels}` in a Prometheus text exposition whose labels include
/// every `wanted` pair.
pub fn sample(text: &str, name: &str, wanted: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, labels) = series.split_once('{').unwrap_or((series, ""));
            if series_name != name {
                return None;
            }
            let matches = wanted
                .iter()
                .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse().ok()).flatten()
        })
}

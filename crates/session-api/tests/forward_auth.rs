//! `/auth/forward`, the check a gateway makes before it forwards a request: every case on the
//! embedded store and on DynamoDB Local, through the real router.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Reply;
use serde_json::{Value, json};
use session_api::auth::{Auth, TokenSources};
use session_api::routes::forward::ForwardOptions;
use session_api::{ApiOptions, AppState, router};
use session_core::store::conformance::base_time;
use session_core::store::dynamodb::DynamoDbStore;
use session_core::store::dynamodb::testing::{fresh_store, local_client};
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::{
    Clock, CursorCodec, ExpiryPolicy, ManualClock, ServiceConfig, SessionService, SessionStore,
    Timestamp,
};

const CHALLENGE: &str = r#"Session realm="session-api""#;

/// The stores every case runs on, over `clock`: the embedded one, and DynamoDB Local when it
/// runs (required under CI=true).
async fn stores(clock: &Arc<ManualClock>) -> Vec<(&'static str, Arc<dyn SessionStore>)> {
    let embedded = EmbeddedStore::in_memory(EmbeddedOptions {
        clock: clock.clone(),
        ..EmbeddedOptions::default()
    })
    .expect("in-memory store");
    let mut stores: Vec<(&'static str, Arc<dyn SessionStore>)> =
        vec![("embedded", Arc::new(embedded))];
    if let Some(dynamodb) = fresh_store().await {
        stores.push(("dynamodb", Arc::new(dynamodb)));
    }
    stores
}

/// The router over `store`, with `policy` and the forward-auth `options`.
/// The router over `store` with the default policy and options.
fn default_app(store: &Arc<dyn SessionStore>, clock: &Arc<ManualClock>) -> Router {
    app(store, clock, ExpiryPolicy::default(), ApiOptions::default())
}

fn app(
    store: &Arc<dyn SessionStore>,
    clock: &Arc<ManualClock>,
    policy: ExpiryPolicy,
    options: ApiOptions,
) -> Router {
    let config = ServiceConfig {
        policy,
        max_data_bytes: session_core::data::DEFAULT_MAX_DATA_BYTES,
        cursors: CursorCodec::from_secret(b"test"),
        max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
        user_limit: None,
    };
    let service = SessionService::new(store.clone(), clock.clone(), config);
    router(AppState::new(service, options))
}

fn with_forward(forward: ForwardOptions) -> ApiOptions {
    ApiOptions {
        forward,
        ..ApiOptions::default()
    }
}

/// `method uri` with `headers`, from loopback (an admin in protected mode).
async fn call(router: &Router, method: Method, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    common::send(router, request.body(Body::empty()).expect("request")).await
}

/// Creates a session for `user` with `data`; returns its body (with `token`).
/// `GET /auth/forward` with the session token in `X-Session-Token`, as a gateway sends it.
async fn forward(router: &Router, token: &str) -> Reply {
    call(
        router,
        Method::GET,
        "/auth/forward",
        &[("x-session-token", token)],
    )
    .await
}

async fn create(router: &Router, user: &str, data: Value) -> Value {
    let request = Request::post("/sessions")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"userId": user, "data": data}).to_string(),
        ))
        .expect("request");
    let reply = common::send(router, request).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

fn token_of(created: &Value) -> String {
    created["token"].as_str().expect("token").to_owned()
}

/// Asserts the 200 of a valid token for `created`, and returns it.
#[track_caller]
fn assert_allowed(reply: &Reply, created: &Value, what: &str) {
    assert_eq!(
        reply.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("x-session-id"),
        created["id"].as_str(),
        "{what}"
    );
    assert_eq!(
        reply.header("x-session-user-id"),
        created["userId"].as_str(),
        "{what}"
    );
    assert!(reply.header("x-session-expires-at").is_some(), "{what}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
}

/// Asserts the 401 of a token that opens nothing.
#[track_caller]
fn assert_denied(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        401,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("www-authenticate"), Some(CHALLENGE), "{what}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
    assert!(reply.header("x-session-user-id").is_none(), "{what}");
    if !reply.body.is_empty() {
        reply.assert_problem(401, "unauthorized");
    }
}

#[tokio::test]
async fn a_live_token_answers_200_with_the_identity_in_headers_and_body() {
    let clock = Arc::new(ManualClock::new(base_time()));
    for (name, store) in stores(&clock).await {
        let router = default_app(&store, &clock);
        let created = create(&router, "alice", json!({"role": "admin"})).await;
        let token = token_of(&created);
        let reply = forward(&router, &token).await;
        assert_allowed(&reply, &created, name);
        assert_eq!(
            reply.header("x-session-expires-at"),
            created["expiresAt"].as_str(),
            "{name}"
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(
            reply.header("x-session-data").is_none(),
            "{name}: no data by default"
        );
        assert_eq!(
            reply.json(),
            json!({
                "subject": "alice",
                "extra": {
                    "sessionId": created["id"],
                    "userId": "alice",
                    "expiresAt": created["expiresAt"],
                }
            }),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_token_comes_from_the_header_or_else_from_the_cookie() {
    let clock = Arc::new(ManualClock::new(base_time()));
    for (name, store) in stores(&clock).await {
        let router = default_app(&store, &clock);
        let alice = create(&router, "alice", json!({})).await;
        let bob = create(&router, "bob", json!({})).await;
        let (alice_token, bob_token) = (token_of(&alice), token_of(&bob));

        let cookie = format!("theme=dark; session={alice_token}; lang=en");
        let reply = call(
            &router,
            Method::GET,
            "/auth/forward",
            &[("cookie", &cookie)],
        )
        .await;
        assert_allowed(&reply, &alice, &format!("{name}: cookie"));

        // Both: the header wins, whether the cookie is good or bad.
        let both = [
            ("x-session-token", bob_token.as_str()),
            ("cookie", cookie.as_str()),
        ];
        let reply = call(&router, Method::GET, "/auth/forward", &both).await;
        assert_allowed(&reply, &bob, &format!("{name}: header over cookie"));
        let wrong_header = [
            ("x-session-token", "not-a-token"),
            ("cookie", cookie.as_str()),
        ];
        let reply = call(&router, Method::GET, "/auth/forward", &wrong_header).await;
        assert_denied(
            &reply,
            &format!("{name}: a bad header is not saved by the cookie"),
        );

        // Another cookie name: only that cookie is read.
        let named = app(
            &store,
            &clock,
            ExpiryPolicy::default(),
            with_forward(ForwardOptions {
                cookie_name: "sid".to_owned(),
                ..ForwardOptions::default()
            }),
        );
        let reply = call(&named, Method::GET, "/auth/forward", &[("cookie", &cookie)]).await;
        assert_denied(&reply, &format!("{name}: cookie `session` is not `sid`"));
        let sid = format!("sid={bob_token}");
        let reply = call(&named, Method::GET, "/auth/forward", &[("cookie", &sid)]).await;
        assert_allowed(&reply, &bob, &format!("{name}: cookie sid"));

        // Two cookies of that name: refused, not one of them picked.
        let twice = format!("session={alice_token}; session={bob_token}");
        let reply = call(&router, Method::GET, "/auth/forward", &[("cookie", &twice)]).await;
        assert_denied(&reply, &format!("{name}: the cookie twice"));
    }
}

#[tokio::test]
async fn every_method_and_every_path_below_the_route_is_served() {
    let clock = Arc::new(ManualClock::new(base_time()));
    for (name, store) in stores(&clock).await {
        let router = default_app(&store, &clock);
        let created = create(&router, "alice", json!({})).await;
        let token = token_of(&created);
        for uri in [
            "/auth/forward",
            "/auth/forward?from=nginx",
            "/auth/forward/app",
            "/auth/forward/app/orders/7?page=2",
        ] {
            for method in [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ] {
                let what = format!("{name}: {method} {uri}");
                let reply =
                    call(&router, method.clone(), uri, &[("x-session-token", &token)]).await;
                assert_allowed(&reply, &created, &what);
                let reply = call(&router, method.clone(), uri, &[]).await;
                assert_denied(&reply, &what);
            }
        }
    }
}

#[tokio::test]
async fn every_token_that_opens_no_live_session_is_401_never_404_400_or_410() {
    let clock = Arc::new(ManualClock::new(base_time()));
    for (name, store) in stores(&clock).await {
        let router = default_app(&store, &clock);
        let forward = |token: String| {
            let router = router.clone();
            async move { forward(&router, &token).await }
        };

        let missing = call(&router, Method::GET, "/auth/forward", &[]).await;
        assert_denied(&missing, &format!("{name}: no token"));
        missing.assert_problem(401, "unauthorized");
        let two = call(
            &router,
            Method::GET,
            "/auth/forward",
            &[("x-session-token", "a.b"), ("x-session-token", "c.d")],
        )
        .await;
        assert_denied(&two, &format!("{name}: two headers"));

        let created = create(&router, "alice", json!({})).await;
        let token = token_of(&created);
        let id = created["id"].as_str().expect("id").to_owned();
        let other_secret = format!("{id}.{}", "A".repeat(43));
        let unknown = format!("{}.{}", session_core::SessionId::generate(), "A".repeat(43));
        for (what, bad) in [
            ("empty", String::new()),
            ("not a token", "nonsense".to_owned()),
            ("malformed", "abc.def".to_owned()),
            ("non-ASCII", "zoë.token".to_owned()),
            ("too long", "a".repeat(300)),
            ("unknown id", unknown),
            ("wrong secret", other_secret),
        ] {
            assert_denied(&forward(bad).await, &format!("{name}: {what}"));
        }
        assert_allowed(&forward(token.clone()).await, &created, name);

        // Rotated away: the old token opens nothing, the new one does.
        let rotated = call(
            &router,
            Method::POST,
            &format!("/sessions/{id}/rotate"),
            &[],
        )
        .await;
        assert_eq!(rotated.status, 200, "{name}: rotate");
        let new_token = rotated.json()["token"].as_str().expect("token").to_owned();
        assert_denied(&forward(token).await, &format!("{name}: rotated away"));
        assert_allowed(&forward(new_token.clone()).await, &created, name);

        // Revoked: every session of the user is gone at once.
        let revoked = call(&router, Method::DELETE, "/sessions/user/alice", &[]).await;
        assert_eq!(revoked.status, 200, "{name}: revoke");
        assert_denied(&forward(new_token).await, &format!("{name}: revoked"));

        // Expired.
        let short = create(&router, "bob", json!({})).await;
        clock.advance_seconds(24 * 3600 + 1);
        assert_denied(
            &forward(token_of(&short)).await,
            &format!("{name}: expired"),
        );
    }
}

#[tokio::test]
async fn the_data_header_is_sent_only_when_enabled_and_within_its_bound() {
    let clock = Arc::new(ManualClock::new(base_time()));
    let data = json!({"roles": ["admin", "ops"], "name": "Zoë", "n": 7});
    let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).expect("json"));
    for (name, store) in stores(&clock).await {
        let with_data = |max: usize| {
            app(
                &store,
                &clock,
                ExpiryPolicy::default(),
                with_forward(ForwardOptions {
                    data: true,
                    data_max_bytes: max,
                    ..ForwardOptions::default()
                }),
            )
        };
        let router = with_data(encoded.len());
        let created = create(&router, "alice", data.clone()).await;
        let token = token_of(&created);
        let header = [("x-session-token", token.as_str())];

        let reply = call(&router, Method::GET, "/auth/forward", &header).await;
        assert_allowed(&reply, &created, name);
        let sent = reply.header("x-session-data").expect("the data header");
        let decoded: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(sent).expect("base64url"))
                .expect("JSON");
        assert_eq!(decoded, data, "{name}");
        assert_eq!(reply.json()["extra"]["data"], data, "{name}");

        // One byte over the bound: no header, and the body still has the data.
        let reply = call(
            &with_data(encoded.len() - 1),
            Method::GET,
            "/auth/forward",
            &header,
        )
        .await;
        assert_allowed(&reply, &created, name);
        assert!(reply.header("x-session-data").is_none(), "{name}: over");
        assert_eq!(reply.json()["extra"]["data"], data, "{name}");

        // Off: neither.
        let off = default_app(&store, &clock);
        let reply = call(&off, Method::GET, "/auth/forward", &header).await;
        assert!(reply.header("x-session-data").is_none(), "{name}: off");
        assert!(reply.json()["extra"].get("data").is_none(), "{name}: off");
    }
}

#[tokio::test]
async fn a_user_id_that_is_not_plain_ascii_is_percent_encoded_in_its_header() {
    let clock = Arc::new(ManualClock::new(base_time()));
    for (name, store) in stores(&clock).await {
        let router = default_app(&store, &clock);
        for (user, header) in [
            ("zoë", "zo%C3%AB"),
            (" admin", "%20admin"),
            ("100%,x", "100%25%2Cx"),
            ("ops@example.com", "ops@example.com"),
        ] {
            let created = create(&router, user, json!({})).await;
            let token = token_of(&created);
            let reply = forward(&router, &token).await;
            assert_eq!(reply.status, 200, "{name}: {user}");
            assert_eq!(reply.header("x-session-user-id"), Some(header), "{name}");
            assert_eq!(
                reply.json()["subject"],
                user,
                "{name}: the body has it as is"
            );
        }
    }
}

#[tokio::test]
async fn sliding_expiry_applies_as_on_get_current() {
    let clock = Arc::new(ManualClock::new(base_time()));
    let policy = ExpiryPolicy {
        default_ttl_seconds: 3600,
        sliding: true,
        touch_after_seconds: 60,
        ..ExpiryPolicy::default()
    };
    for (name, store) in stores(&clock).await {
        let router = app(&store, &clock, policy, ApiOptions::default());
        let created = create(&router, "alice", json!({})).await;
        let token = token_of(&created);
        clock.advance_seconds(1800);
        let expected =
            Timestamp::from_epoch_seconds(clock.now().epoch_seconds() + 3600).to_rfc3339();
        let reply = forward(&router, &token).await;
        assert_allowed(&reply, &created, name);
        assert_eq!(
            reply.header("x-session-expires-at"),
            Some(expected.as_str())
        );
        assert_eq!(reply.json()["extra"]["expiresAt"], expected.as_str());
        // Stored: the session's own read shows the new expiry.
        let id = created["id"].as_str().expect("id");
        let stored = call(&router, Method::GET, &format!("/sessions/{id}"), &[]).await;
        assert_eq!(stored.json()["expiresAt"], expected.as_str(), "{name}");
        // And the extension keeps it alive past the first expiry.
        clock.advance_seconds(3000);
        let reply = forward(&router, &token).await;
        assert_allowed(&reply, &created, name);
    }
}

#[tokio::test]
async fn a_store_fault_is_503_not_a_denial() {
    let clock = Arc::new(ManualClock::new(base_time()));
    // Nothing listens on port 9 of loopback: every request is refused.
    let store: Arc<dyn SessionStore> = Arc::new(DynamoDbStore::new(
        local_client("http://127.0.0.1:9"),
        "absent",
    ));
    let router = app(
        &store,
        &clock,
        ExpiryPolicy::default(),
        ApiOptions::default(),
    );
    let token = format!("{}.{}", session_core::SessionId::generate(), "A".repeat(43));
    let reply = forward(&router, &token).await;
    reply.assert_problem(503, "store_unavailable");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn the_gateway_needs_a_client_token_like_on_every_session_route() {
    let clock = Arc::new(ManualClock::new(base_time()));
    let auth = || {
        Auth::new(
            TokenSources {
                client: Some("gateway-client-token-0123".into()),
                admin: Some("admin-token-0123456789".into()),
                ..TokenSources::default()
            },
            false,
            None,
        )
        .expect("tokens")
    };
    for (name, store) in stores(&clock).await {
        let router = app(
            &store,
            &clock,
            ExpiryPolicy::default(),
            ApiOptions {
                auth: Arc::new(auth()),
                ..ApiOptions::default()
            },
        );
        let request = Request::post("/sessions")
            .header("content-type", "application/json")
            .header("authorization", "Bearer gateway-client-token-0123")
            .body(Body::from(json!({"userId": "alice"}).to_string()))
            .expect("request");
        let created = common::send(&router, request).await.json();
        let token = token_of(&created);
        let reply = forward(&router, &token).await;
        assert_eq!(reply.status, 401, "{name}: no bearer token");
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|challenge| challenge.starts_with("Bearer")),
            "{name}"
        );
        let reply = call(
            &router,
            Method::GET,
            "/auth/forward",
            &[
                ("x-session-token", &token),
                ("authorization", "Bearer gateway-client-token-0123"),
            ],
        )
        .await;
        assert_allowed(&reply, &created, name);
    }
}

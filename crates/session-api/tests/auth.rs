//! Authentication, the admin/client split, protected mode, and rate limiting.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use common::{Reply, TestApp};
use serde_json::json;
use session_api::auth::{Auth, TokenSources};
use session_api::rate_limit::RateLimiter;
use session_api::{ApiOptions, ClientAddr};

const CLIENT: &str = "client-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";

fn with_tokens(limiter: Option<RateLimiter>) -> TestApp {
    let auth = Auth::new(
        TokenSources {
            client: Some(format!("{CLIENT}, other-client-token").into()),
            admin: Some(ADMIN.into()),
            ..TokenSources::default()
        },
        false,
        limiter,
    )
    .expect("tokens");
    TestApp::builder()
        .options(ApiOptions {
            auth: Arc::new(auth),
            ..ApiOptions::default()
        })
        .build()
}

async fn call(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: Option<&str>,
    from: &str,
    body: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let mut request = request
        .body(Body::from(body.unwrap_or("").to_owned()))
        .expect("request");
    request
        .extensions_mut()
        .insert(ClientAddr(from.parse::<IpAddr>().expect("ip")));
    app.send(request).await
}

const REMOTE: &str = "203.0.113.9";
const LOCAL: &str = "127.0.0.1";

#[tokio::test]
async fn a_client_token_opens_session_routes_but_not_admin_ones() {
    let app = with_tokens(None);
    let created = call(
        &app,
        Method::POST,
        "/sessions",
        Some(CLIENT),
        REMOTE,
        Some(r#"{"userId":"u"}"#),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/sessions/{id}"),
            Some(CLIENT),
            REMOTE,
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/sessions/user/u",
            Some("other-client-token"),
            REMOTE,
            None
        )
        .await
        .status,
        200
    );
    call(&app, Method::GET, "/sessions", Some(CLIENT), REMOTE, None)
        .await
        .assert_problem(403, "forbidden");
    call(
        &app,
        Method::DELETE,
        "/sessions/user/u",
        Some(CLIENT),
        REMOTE,
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/sessions/{id}"),
            Some(CLIENT),
            REMOTE,
            None
        )
        .await
        .status,
        200,
        "the 403s changed nothing"
    );
}

#[tokio::test]
async fn an_admin_token_opens_everything() {
    let app = with_tokens(None);
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/sessions",
            Some(ADMIN),
            REMOTE,
            Some(r#"{"userId":"u"}"#)
        )
        .await
        .status,
        201
    );
    assert_eq!(
        call(&app, Method::GET, "/sessions", Some(ADMIN), REMOTE, None)
            .await
            .status,
        200
    );
    let revoked = call(
        &app,
        Method::DELETE,
        "/sessions/user/u",
        Some(ADMIN),
        REMOTE,
        None,
    )
    .await;
    assert_eq!(revoked.json(), json!({"deleted": 1}));
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_401_with_a_bearer_challenge() {
    let app = with_tokens(None);
    for (token, invalid) in [
        (None, false),
        (Some("wrong"), true),
        (Some(""), true),
        (Some(&CLIENT[..5]), true),
    ] {
        for (method, uri) in [(Method::POST, "/sessions"), (Method::GET, "/sessions")] {
            let reply = call(&app, method, uri, token, LOCAL, Some("{}")).await;
            reply.assert_problem(401, "unauthorized");
            let challenge = reply.header("www-authenticate").expect("WWW-Authenticate");
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert_eq!(
                challenge.contains("invalid_token"),
                invalid,
                "{token:?}: {challenge}"
            );
        }
    }
    let basic = app
        .call_with(
            Method::GET,
            "/sessions/user/u",
            &[("authorization", &format!("Basic {CLIENT}"))],
            "",
        )
        .await;
    basic.assert_problem(401, "unauthorized");
    let lowercase = app
        .call_with(
            Method::GET,
            "/sessions/user/u",
            &[("authorization", &format!("bearer {CLIENT}"))],
            "",
        )
        .await;
    assert_eq!(lowercase.status, 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn loopback_callers_need_a_token_once_tokens_are_configured() {
    let app = with_tokens(None);
    call(&app, Method::GET, "/sessions/user/u", None, LOCAL, None)
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn open_routes_need_no_token() {
    let app = with_tokens(None);
    assert_eq!(
        call(&app, Method::GET, "/health", None, REMOTE, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, Method::GET, "/ready", None, REMOTE, None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn protected_mode_serves_loopback_only() {
    let app = TestApp::new();
    for remote in [REMOTE, "10.1.2.3", "::ffff:10.0.0.1", "2001:db8::7"] {
        let reply = call(
            &app,
            Method::POST,
            "/sessions",
            None,
            remote,
            Some(r#"{"userId":"u"}"#),
        )
        .await;
        let problem = reply.assert_problem(401, "unauthorized");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("API_TOKENS"),
            "{problem}"
        );
    }
    assert_eq!(
        call(&app, Method::GET, "/health", None, REMOTE, None)
            .await
            .status,
        200
    );
    for local in ["127.0.0.1", "127.0.0.53", "::1"] {
        assert_eq!(
            call(&app, Method::GET, "/sessions", None, local, None)
                .await
                .status,
            200,
            "{local}"
        );
    }
    assert!(app.get("/sessions?limit=1").await.status.is_success());
}

#[tokio::test]
async fn a_request_without_a_known_address_is_not_loopback() {
    let app = TestApp::new();
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::builder()
            .uri("/sessions")
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .expect("response");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn auth_disabled_lets_everyone_in() {
    let app = TestApp::builder()
        .options(ApiOptions {
            auth: Arc::new(Auth::disabled()),
            ..ApiOptions::default()
        })
        .build();
    assert_eq!(
        call(&app, Method::GET, "/sessions", None, REMOTE, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/sessions",
            Some("anything"),
            REMOTE,
            Some(r#"{"userId":"u"}"#)
        )
        .await
        .status,
        201
    );
}

#[tokio::test]
async fn rate_limits_apply_per_token_with_retry_after() {
    let app = with_tokens(Some(RateLimiter::new(1.0, 3)));
    for _ in 0..3 {
        assert_eq!(
            call(
                &app,
                Method::GET,
                "/sessions/user/u",
                Some(CLIENT),
                REMOTE,
                None
            )
            .await
            .status,
            200
        );
    }
    let limited = call(
        &app,
        Method::GET,
        "/sessions/user/u",
        Some(CLIENT),
        REMOTE,
        None,
    )
    .await;
    limited.assert_problem(429, "rate_limited");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/sessions/user/u",
            Some("other-client-token"),
            REMOTE,
            None
        )
        .await
        .status,
        200,
        "another token has its own budget"
    );
    assert_eq!(
        call(&app, Method::GET, "/health", None, REMOTE, None)
            .await
            .status,
        200,
        "probes are never limited"
    );
}

#[tokio::test]
async fn without_a_valid_token_the_limit_is_per_address() {
    let app = with_tokens(Some(RateLimiter::new(1.0, 2)));
    for _ in 0..2 {
        call(
            &app,
            Method::GET,
            "/sessions/user/u",
            Some("guess"),
            "198.51.100.1",
            None,
        )
        .await
        .assert_problem(401, "unauthorized");
    }
    call(
        &app,
        Method::GET,
        "/sessions/user/u",
        Some("another-guess"),
        "198.51.100.1",
        None,
    )
    .await
    .assert_problem(429, "rate_limited");
    call(
        &app,
        Method::GET,
        "/sessions/user/u",
        Some("guess"),
        "198.51.100.2",
        None,
    )
    .await
    .assert_problem(401, "unauthorized");
}

/// A host given an IPv6 /64 can send from any address in it: the budget is the /64's. An
/// IPv4-mapped address is the IPv4 client it maps.
#[tokio::test]
async fn an_ipv6_client_shares_one_budget_across_its_64() {
    let app = with_tokens(Some(RateLimiter::new(1.0, 1)));
    let guess = |from: &'static str| {
        call(
            &app,
            Method::GET,
            "/sessions/user/u",
            Some("guess"),
            from,
            None,
        )
    };
    guess("2001:db8:1:2::1")
        .await
        .assert_problem(401, "unauthorized");
    guess("2001:db8:1:2:9f3e:77a0:12:5")
        .await
        .assert_problem(429, "rate_limited");
    guess("2001:db8:1:3::1")
        .await
        .assert_problem(401, "unauthorized");
    guess("198.51.100.7")
        .await
        .assert_problem(401, "unauthorized");
    guess("::ffff:198.51.100.7")
        .await
        .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404_and_405_with_or_without_a_token() {
    let app = with_tokens(None);
    for token in [None, Some("wrong"), Some(CLIENT)] {
        call(&app, Method::GET, "/nope", token, REMOTE, None)
            .await
            .assert_problem(404, "route_not_found");
        let id = session_core::SessionId::generate();
        let reply = call(
            &app,
            Method::POST,
            &format!("/sessions/{id}"),
            token,
            REMOTE,
            Some("{}"),
        )
        .await;
        reply.assert_problem(405, "method_not_allowed");
        assert!(
            reply
                .header("allow")
                .is_some_and(|allow| allow.contains("PATCH"))
        );
        call(&app, Method::DELETE, "/health", token, REMOTE, None)
            .await
            .assert_problem(405, "method_not_allowed");
    }
}

#[tokio::test]
async fn the_methods_authentication_knows_are_the_ones_the_router_serves() {
    // With an admin token nothing is refused for authentication: a 405 is the router's own.
    let app = with_tokens(None);
    let id = session_core::SessionId::generate();
    for (template, path) in [
        ("/health", "/health".to_owned()),
        ("/ready", "/ready".to_owned()),
        ("/openapi.json", "/openapi.json".to_owned()),
        ("/metrics", "/metrics".to_owned()),
        ("/sessions", "/sessions".to_owned()),
        ("/sessions/{id}", format!("/sessions/{id}")),
        ("/sessions/{id}/refresh", format!("/sessions/{id}/refresh")),
        ("/sessions/user/{userId}", "/sessions/user/u".to_owned()),
        ("/auth/forward", "/auth/forward".to_owned()),
        ("/auth/forward", "/auth/forward/app/page".to_owned()),
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
            let reply = call(&app, method.clone(), &path, Some(ADMIN), REMOTE, None).await;
            assert_eq!(
                reply.status != 405,
                session_api::routes::serves(&method, template),
                "{method} {template}: {}",
                reply.status
            );
        }
    }
}

//! Session tokens at the API: only the create and rotate answers carry one, every route of
//! the OpenAPI document called for real; and the routes by token refuse a missing, malformed,
//! forged, truncated, borrowed, rotated-away or expired token the way the contract says,
//! without touching the session.

mod common;

use std::collections::BTreeSet;

use axum::http::Method;
use common::{Reply, TestApp};
use serde_json::{Value, json};
use session_core::SessionId;

const USER: &str = "token-user";

/// The routes whose answer carries a token, as the OpenAPI document names them.
const GIVE_A_TOKEN: [(&str, &str); 3] = [
    ("post", "/sessions"),
    ("post", "/sessions/{id}/rotate"),
    ("post", "/sessions/current/rotate"),
];

/// The routes by token.
const BY_TOKEN: [(&str, &str); 6] = [
    ("get", "/sessions/current"),
    ("put", "/sessions/current"),
    ("patch", "/sessions/current"),
    ("post", "/sessions/current/refresh"),
    ("post", "/sessions/current/rotate"),
    ("delete", "/sessions/current"),
];

/// A valid body for the route, with its content type.
fn valid_body(method: &str, path: &str) -> (Option<&'static str>, String) {
    let (content_type, body) = match (method, path) {
        ("post", "/sessions") => (
            "application/json",
            json!({"userId": USER, "data": {"k": 1}}),
        ),
        ("put", _) => ("application/json", json!({"data": {"k": 2}})),
        ("patch", _) => ("application/merge-patch+json", json!({"k": 3})),
        ("post", path) if path.ends_with("/refresh") => {
            ("application/json", json!({"ttlSeconds": 600}))
        }
        _ => return (None, String::new()),
    };
    (Some(content_type), body.to_string())
}

/// Calls `method path` with a valid body and `token` in `X-Session-Token` (when given).
async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Reply {
    let (content_type, body) = valid_body(method, path);
    let mut headers: Vec<(&str, &str)> = Vec::new();
    headers.extend(content_type.map(|content_type| ("content-type", content_type)));
    headers.extend(token.map(|token| ("x-session-token", token)));
    let method: Method = method.to_uppercase().parse().expect("method");
    app.call_with(method, path, &headers, &body).await
}

/// A created (or rotated) session's id and token.
fn id_and_token(body: &Value) -> (String, String) {
    let id = body["id"].as_str().expect("id").to_owned();
    let token = body["token"].as_str().expect("token").to_owned();
    (id, token)
}

/// The secret part of a token.
fn secret(token: &str) -> &str {
    token.split_once('.').expect("a token").1
}

/// The JSON pointer of every key named `token`, however deep.
fn token_keys(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}/{key}");
                if key == "token" {
                    found.push(here.clone());
                }
                token_keys(value, &here, found);
            }
        }
        Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                token_keys(item, &format!("{at}/{n}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn only_create_and_rotate_answer_a_token() {
    let doc = TestApp::new().get("/openapi.json").await.json();
    let mut visited = BTreeSet::new();
    let mut given = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            // A fresh app with two sessions of one user for each route, so that a delete does
            // not spoil the next route's setup.
            let app = TestApp::new();
            let first = id_and_token(&app.create(json!({"userId": USER})).await);
            let second = id_and_token(&app.create(json!({"userId": USER})).await);
            let (id, token) = &first;
            let uri = path.replace("{id}", id).replace("{userId}", USER);
            let header = (path.starts_with("/sessions/current") || path == "/auth/forward")
                .then_some(token.as_str());
            let reply = call(&app, method, &uri, header).await;
            let route = format!("{method} {path}");
            visited.insert((method.as_str(), path.as_str()));

            let documented: Vec<&str> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(String::as_str)
                .filter(|status| status.starts_with('2'))
                .collect();
            let status = reply.status.as_str().to_owned();
            assert!(
                documented.contains(&status.as_str()),
                "{route}: {status} is not a documented success: {}",
                String::from_utf8_lossy(&reply.body)
            );

            let mut body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let mut keys = Vec::new();
            token_keys(&body, "", &mut keys);
            if GIVE_A_TOKEN.contains(&(method.as_str(), path.as_str())) {
                assert_eq!(keys, ["/token"], "{route}");
                let (new_id, new_token) = id_and_token(&body);
                assert_eq!(new_token.len(), 80, "{route}");
                assert!(new_token.starts_with(&format!("{new_id}.")), "{route}");
                assert!(new_token != first.1 && new_token != second.1, "{route}");
                assert_eq!(reply.header("cache-control"), Some("no-store"), "{route}");
                given.insert((method.as_str(), path.as_str()));
                // Only in that one field: the rest of the answer is checked as any other.
                body.as_object_mut().expect("object").remove("token");
                for leaked in [&new_token, secret(&new_token)] {
                    assert!(!body.to_string().contains(leaked), "{route}: {body}");
                    assert!(!format!("{:?}", reply.headers).contains(leaked), "{route}");
                }
            } else {
                if path == "/openapi.json" {
                    // The document describes the field; that is no token.
                    keys.retain(|key| !key.starts_with("/components/schemas/SessionWithToken/"));
                }
                assert!(keys.is_empty(), "{route}: {keys:?}");
            }
            let text = format!(
                "{:?}\n{}",
                reply.headers,
                if body.is_null() {
                    String::from_utf8_lossy(&reply.body).into_owned()
                } else {
                    body.to_string()
                }
            );
            for (_, token) in [&first, &second] {
                for leaked in [token.as_str(), secret(token)] {
                    assert!(!text.contains(leaked), "{route} shows a token: {text}");
                }
            }
            if method == "get" && (path == "/sessions" || path == "/sessions/user/{userId}") {
                assert_eq!(body["count"], 2, "{route} lists the sessions: {body}");
            }
        }
    }
    assert_eq!(given, BTreeSet::from(GIVE_A_TOKEN));
    assert!(
        visited.is_superset(&BTreeSet::from(BY_TOKEN)),
        "{visited:?}"
    );
}

#[tokio::test]
async fn a_missing_or_malformed_session_token_is_400() {
    let app = TestApp::new();
    let (id, token) = id_and_token(&app.create(json!({"userId": USER})).await);
    let too_long = format!("{id}.{}", "A".repeat(256));
    // Two tokens joined by a comma, as a gateway joins a repeated header; a space inside.
    let joined = format!("{token},{token}");
    let spaced = format!("{} {}", &token[..40], &token[40..]);
    for (method, path) in BY_TOKEN {
        for token in [
            None,
            Some(""),
            Some("no-dot-here"),
            Some(id.as_str()),
            Some(&too_long),
            Some(&joined),
            Some(&spaced),
        ] {
            call(&app, method, path, token)
                .await
                .assert_problem(400, "invalid_request");
        }
    }
}

/// The sessions `ids` as a read by id shows them.
async fn snapshot(app: &TestApp, ids: &[&String]) -> Vec<Value> {
    let mut bodies = Vec::new();
    for id in ids {
        let reply = app.get(&format!("/sessions/{id}")).await;
        assert_eq!(reply.status, 200);
        bodies.push(reply.json());
    }
    bodies
}

#[tokio::test]
async fn tokens_that_open_no_session_are_404_and_change_nothing() {
    let app = TestApp::new();
    let (a_id, a_token) =
        id_and_token(&app.create(json!({"userId": USER, "data": {"a": 1}})).await);
    let (b_id, b_token) =
        id_and_token(&app.create(json!({"userId": USER, "data": {"b": 1}})).await);
    let (c_id, c_token) = id_and_token(&app.create(json!({"userId": USER})).await);
    assert_eq!(app.delete(&format!("/sessions/{c_id}")).await.status, 204);
    let (d_id, d_token) = id_and_token(&app.create(json!({"userId": USER})).await);
    let d_rotated = app
        .post_json(&format!("/sessions/{d_id}/rotate"), &json!({}))
        .await;
    assert_eq!(d_rotated.status, 200);
    let (_, d_new) = id_and_token(&d_rotated.json());

    let a_secret = secret(&a_token);
    let flipped = if a_secret.starts_with('A') { 'B' } else { 'A' };
    let cases = [
        (
            "a forged secret",
            format!("{a_id}.{flipped}{}", &a_secret[1..]),
        ),
        ("a truncated token", a_token[..a_token.len() - 1].to_owned()),
        ("a token cut at the dot", format!("{a_id}.")),
        ("a token with one character more", format!("{a_token}A")),
        (
            "another session's secret",
            format!("{a_id}.{}", secret(&b_token)),
        ),
        ("another session's id", format!("{b_id}.{a_secret}")),
        (
            "an unknown id",
            format!("{}.{a_secret}", SessionId::generate()),
        ),
        ("a deleted session's token", c_token),
        ("a rotated-away token", d_token),
    ];

    let ids = [&a_id, &b_id, &d_id];
    let before = snapshot(&app, &ids).await;
    for (what, token) in &cases {
        for (method, path) in BY_TOKEN {
            let reply = call(&app, method, path, Some(token)).await;
            assert_eq!(reply.status, 404, "{what}: {method} {path}");
            reply.assert_problem(404, "session_not_found");
            let (_, presented) = token.split_once('.').expect("a dot");
            let body = String::from_utf8_lossy(&reply.body);
            assert!(
                presented.is_empty() || !body.contains(presented),
                "{what}: the error shows the secret: {body}"
            );
        }
    }
    assert_eq!(
        snapshot(&app, &ids).await,
        before,
        "the sessions are unchanged"
    );
    // No rotation or delete went through: the real tokens still open their sessions.
    for (token, session) in [&a_token, &b_token, &d_new].into_iter().zip(&before) {
        let reply = call(&app, "get", "/sessions/current", Some(token)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(&reply.json(), session);
    }
}

#[tokio::test]
async fn an_expired_session_is_410_by_token_and_can_still_be_signed_out() {
    let app = TestApp::new();
    let (_, token) = id_and_token(&app.create(json!({"userId": USER, "ttlSeconds": 60})).await);
    app.clock.advance_seconds(61);
    for (method, path) in BY_TOKEN.iter().filter(|(method, _)| *method != "delete") {
        call(&app, method, path, Some(&token))
            .await
            .assert_problem(410, "session_expired");
    }
    assert_eq!(
        call(&app, "delete", "/sessions/current", Some(&token))
            .await
            .status,
        204
    );
    call(&app, "get", "/sessions/current", Some(&token))
        .await
        .assert_problem(404, "session_not_found");
}

#[tokio::test]
async fn rotation_keeps_the_session_and_replaces_its_token() {
    for by_token in [false, true] {
        let app = TestApp::new();
        let (id, old) = id_and_token(
            &app.create(json!({"userId": USER, "data": {"plan": "basic"}, "ttlSeconds": 600}))
                .await,
        );
        let patched = app
            .patch(&format!("/sessions/{id}"), &json!({"plan": "pro"}))
            .await;
        assert_eq!(patched.status, 200);
        app.clock.advance_seconds(5);
        let before = app.get(&format!("/sessions/{id}")).await.json();

        let reply = if by_token {
            call(&app, "post", "/sessions/current/rotate", Some(&old)).await
        } else {
            call(&app, "post", &format!("/sessions/{id}/rotate"), None).await
        };
        assert_eq!(reply.status, 200, "by token: {by_token}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("etag"), Some("\"2\""));
        let rotated = reply.json();
        for field in [
            "id",
            "userId",
            "data",
            "createdAt",
            "version",
            "ttl",
            "expiresAt",
        ] {
            assert_eq!(
                rotated[field], before[field],
                "{field}, by token: {by_token}"
            );
        }
        let (_, new) = id_and_token(&rotated);
        assert_ne!(new, old);
        assert!(new.starts_with(&format!("{id}.")));

        let read = call(&app, "get", "/sessions/current", Some(&new)).await;
        assert_eq!(read.status, 200);
        assert_eq!(read.header("etag"), Some("\"2\""));
        assert_eq!(read.json()["data"], json!({"plan": "pro"}));
        for (method, path) in BY_TOKEN {
            call(&app, method, path, Some(&old))
                .await
                .assert_problem(404, "session_not_found");
        }
        // The old token wrote nothing, and the new one still opens the session.
        let after = call(&app, "get", "/sessions/current", Some(&new)).await;
        assert_eq!(after.json(), read.json());
    }
}

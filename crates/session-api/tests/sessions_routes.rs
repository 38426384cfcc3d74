//! Every session route on its happy path, with the headers the contract promises.

mod common;

use axum::http::Method;
use common::{TestApp, without_token};
use serde_json::json;
use session_core::{ExpiryPolicy, SessionId, Timestamp};

#[tokio::test]
async fn create_returns_201_with_location_etag_and_the_session() {
    let app = TestApp::new();
    let now = app.clock_now();
    let reply = app
        .post_json(
            "/sessions",
            &json!({"userId": "user123", "data": {"theme": "dark"}}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let body = reply.json();
    let id = body["id"].as_str().expect("id");
    assert!(SessionId::parse(id).is_some(), "a UUIDv4: {id}");
    assert_eq!(
        reply.header("location"),
        Some(format!("/sessions/{id}").as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(body["userId"], "user123");
    assert_eq!(body["data"], json!({"theme": "dark"}));
    assert_eq!(body["version"], 1);
    assert_eq!(body["createdAt"], now.to_string());
    assert_eq!(body["updatedAt"], now.to_string());
    let ttl = now.epoch_seconds() + 24 * 3600;
    assert_eq!(
        body["ttl"], ttl,
        "the default idle timeout is 24 h, in epoch seconds"
    );
    assert_eq!(
        body["expiresAt"],
        Timestamp::from_epoch_seconds(ttl).to_string()
    );
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdAt",
            "data",
            "expiresAt",
            "id",
            "token",
            "ttl",
            "updatedAt",
            "userId",
            "version"
        ]
    );
}

#[tokio::test]
async fn create_without_data_stores_an_empty_object_and_honours_ttl_seconds() {
    let app = TestApp::new();
    let body = app.create(json!({"userId": "u", "ttlSeconds": 90})).await;
    assert_eq!(body["data"], json!({}));
    assert_eq!(body["ttl"], app.clock_now().epoch_seconds() + 90);
    let null_data = app.create(json!({"userId": "u", "data": null})).await;
    assert_eq!(null_data["data"], json!({}));
}

#[tokio::test]
async fn ids_are_unique_across_many_creates() {
    let app = TestApp::new();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..200 {
        let body = app.create(json!({"userId": "many"})).await;
        assert!(ids.insert(body["id"].as_str().expect("id").to_owned()));
    }
}

#[tokio::test]
async fn get_returns_the_session_with_its_etag() {
    let app = TestApp::new();
    let created = app
        .create(json!({"userId": "u", "data": {"a": [1, 2]}}))
        .await;
    let reply = app
        .get(&format!(
            "/sessions/{}",
            created["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), without_token(created));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn head_on_a_session_has_the_headers_and_no_body() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u"})).await;
    let reply = app
        .call(
            Method::HEAD,
            &format!("/sessions/{}", created["id"].as_str().expect("id")),
            None,
            "",
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn put_replaces_data_bumps_version_and_etag() {
    let app = TestApp::new();
    let created = app
        .create(json!({"userId": "u", "data": {"old": true, "x": 1}}))
        .await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    app.clock.advance_seconds(7);
    let reply = app.put_json(&uri, &json!({"data": {"new": "yes"}})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let body = reply.json();
    assert_eq!(body["data"], json!({"new": "yes"}));
    assert_eq!(body["version"], 2);
    assert_eq!(body["updatedAt"], app.clock_now().to_string());
    assert_eq!(body["createdAt"], created["createdAt"]);
    assert_eq!(body["ttl"], created["ttl"], "PUT does not move expiry");
    assert_eq!(app.get(&uri).await.json(), body);
}

#[tokio::test]
async fn put_with_the_current_etag_succeeds_and_a_stale_one_is_412() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let put = |etag: &'static str| {
        let body = json!({"data": {"v": etag}}).to_string();
        let uri = uri.clone();
        let app = &app;
        async move {
            app.call_with(
                Method::PUT,
                &uri,
                &[("content-type", "application/json"), ("if-match", etag)],
                &body,
            )
            .await
        }
    };
    assert_eq!(put("\"1\"").await.status, 200);
    let stale = put("\"1\"").await;
    stale.assert_problem(412, "version_mismatch");
    assert_eq!(
        stale.header("etag"),
        Some("\"2\""),
        "the current ETag comes back to retry with"
    );
    assert_eq!(put("*").await.status, 200);
    assert_eq!(app.get(&uri).await.json()["version"], 3);
}

#[tokio::test]
async fn patch_merges_top_level_keys_and_null_removes() {
    let app = TestApp::new();
    let created = app
        .create(json!({"userId": "u", "data": {"keep": 1, "change": {"deep": 1, "other": 2}, "drop": true}}))
        .await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let reply = app
        .patch(
            &uri,
            &json!({"change": {"deep": 2}, "drop": null, "add": [1]}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(
        reply.json()["data"],
        json!({"keep": 1, "change": {"deep": 2}, "add": [1]}),
        "shallow: a nested object is replaced, not merged"
    );
}

#[tokio::test]
async fn concurrent_patches_to_different_keys_all_land() {
    let app = std::sync::Arc::new(TestApp::new());
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (app, uri) = (app.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            app.patch(&uri, &json!({ format!("k{i}"): i })).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("join"), 200);
    }
    let data = app.get(&uri).await.json()["data"].clone();
    assert_eq!(data.as_object().expect("object").len(), 20, "{data}");
}

#[tokio::test]
async fn refresh_extends_without_changing_version_and_may_set_a_new_idle_timeout() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u", "ttlSeconds": 600})).await;
    let uri = format!("/sessions/{}/refresh", created["id"].as_str().expect("id"));
    app.clock.advance_seconds(300);
    let reply = app.call(Method::POST, &uri, None, "").await;
    assert_eq!(reply.status, 200, "an empty body needs no Content-Type");
    let body = reply.json();
    assert_eq!(body["ttl"], app.clock_now().epoch_seconds() + 600);
    assert_eq!(
        (body["version"].clone(), reply.header("etag")),
        (json!(1), Some("\"1\""))
    );
    assert_eq!(body["updatedAt"], created["updatedAt"]);

    let reply = app.post_json(&uri, &json!({"ttlSeconds": 60})).await;
    assert_eq!(reply.json()["ttl"], app.clock_now().epoch_seconds() + 60);
    app.clock.advance_seconds(30);
    let again = app
        .call(Method::POST, &uri, Some("application/json"), "")
        .await;
    assert_eq!(
        again.json()["ttl"],
        app.clock_now().epoch_seconds() + 60,
        "the new idle timeout stays"
    );
}

#[tokio::test]
async fn refresh_stops_at_the_absolute_cap() {
    let app = TestApp::builder()
        .policy(ExpiryPolicy {
            max_lifetime_seconds: Some(1000),
            ..ExpiryPolicy::default()
        })
        .build();
    let created = app.create(json!({"userId": "u", "ttlSeconds": 600})).await;
    let uri = format!("/sessions/{}/refresh", created["id"].as_str().expect("id"));
    app.clock.advance_seconds(500);
    let body = app
        .post_json(&uri, &json!({"ttlSeconds": 3600}))
        .await
        .json();
    assert_eq!(
        body["ttl"],
        created["ttl"].as_i64().expect("ttl") - 600 + 1000
    );
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let reply = app.delete(&uri).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    app.get(&uri).await.assert_problem(404, "session_not_found");
    app.delete(&uri)
        .await
        .assert_problem(404, "session_not_found");
}

#[tokio::test]
async fn expired_session_is_410_on_every_route_but_delete() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u", "ttlSeconds": 5})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    app.clock.advance_seconds(5);
    app.get(&uri).await.assert_problem(410, "session_expired");
    app.put_json(&uri, &json!({"data": {}}))
        .await
        .assert_problem(410, "session_expired");
    app.patch(&uri, &json!({"a": 1}))
        .await
        .assert_problem(410, "session_expired");
    app.call(Method::POST, &format!("{uri}/refresh"), None, "")
        .await
        .assert_problem(410, "session_expired");
    assert_eq!(app.delete(&uri).await.status, 204);
    app.get(&uri).await.assert_problem(404, "session_not_found");
}

#[tokio::test]
async fn sliding_get_extends_lazily() {
    let app = TestApp::builder()
        .policy(ExpiryPolicy {
            sliding: true,
            touch_after_seconds: 60,
            ..ExpiryPolicy::default()
        })
        .build();
    let created = app.create(json!({"userId": "u", "ttlSeconds": 600})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    app.clock.advance_seconds(30);
    assert_eq!(
        app.get(&uri).await.json()["ttl"],
        created["ttl"],
        "not due: no write"
    );
    app.clock.advance_seconds(30);
    let reply = app.get(&uri).await;
    assert_eq!(reply.json()["ttl"], app.clock_now().epoch_seconds() + 600);
    assert_eq!(
        reply.header("etag"),
        Some("\"1\""),
        "a touch does not change the version"
    );
}

trait ClockNow {
    fn clock_now(&self) -> Timestamp;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> Timestamp {
        session_core::Clock::now(&*self.clock)
    }
}

#[tokio::test]
async fn a_session_read_from_memory_shows_every_write() {
    // Reads are served from the store's cache with a body encoded once: every kind of write
    // must still show in the next read, and the session read twice must not change.
    let app = TestApp::new();
    let created = without_token(
        app.create(json!({"userId": "u", "data": {"a": 1}, "ttlSeconds": 600}))
            .await,
    );
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let first = app.get(&uri).await;
    let again = app.get(&uri).await;
    assert_eq!(
        first.body, again.body,
        "a session read twice reads the same"
    );
    assert_eq!(first.json(), created);

    app.put_json(&uri, &json!({"data": {"b": 2}})).await;
    let read = app.get(&uri).await;
    assert_eq!(
        (read.json()["data"].clone(), read.header("etag")),
        (json!({"b": 2}), Some("\"2\""))
    );

    app.patch(&uri, &json!({"c": 3})).await;
    let read = app.get(&uri).await;
    assert_eq!(
        (read.json()["data"].clone(), read.header("etag")),
        (json!({"b": 2, "c": 3}), Some("\"3\""))
    );

    app.clock.advance_seconds(100);
    let refreshed = app
        .call(Method::POST, &format!("{uri}/refresh"), None, "")
        .await
        .json();
    let read = app.get(&uri).await.json();
    assert_eq!(read["ttl"], app.clock_now().epoch_seconds() + 600);
    assert_eq!(read["expiresAt"], refreshed["expiresAt"]);
    assert_ne!(read["expiresAt"], created["expiresAt"]);

    assert_eq!(app.delete(&uri).await.status, 204);
    app.get(&uri).await.assert_problem(404, "session_not_found");
}

//! Bad input: every refusal is problem+json with the right status and code, nothing is
//! written, and nothing panics.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::TestApp;
use futures_util::StreamExt;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::new();
    for body in [
        "{",
        "{\"userId\": }",
        "not json",
        "",
        "{\"userId\": \"u\"} trailing",
    ] {
        app.call(Method::POST, "/sessions", Some("application/json"), body)
            .await
            .assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400() {
    let app = TestApp::new();
    for body in [
        "[]",
        "[\"user\"]",
        "[\"user\", {}, 60]",
        "\"user\"",
        "42",
        "null",
    ] {
        app.call(Method::POST, "/sessions", Some("application/json"), body)
            .await
            .assert_problem(400, "invalid_request");
    }
    let created = app.create(json!({"userId": "u", "data": {"a": 1}})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    for body in ["[{\"a\": 2}]", "[]", "\"data\""] {
        app.call(Method::PUT, &uri, Some("application/json"), body)
            .await
            .assert_problem(400, "invalid_request");
    }
    for body in ["[]", "[60]", " [60]", "60"] {
        app.call(
            Method::POST,
            &format!("{uri}/refresh"),
            Some("application/json"),
            body,
        )
        .await
        .assert_problem(400, "invalid_request");
    }
    let unchanged = app.get(&uri).await;
    assert_eq!(
        unchanged.json()["data"],
        json!({"a": 1}),
        "nothing was written"
    );
    assert_eq!(unchanged.json()["version"], 1);
}

#[tokio::test]
async fn wrong_field_types_are_400_and_name_the_field() {
    let app = TestApp::new();
    for (body, field) in [
        (json!({"userId": 123}), "userId"),
        (json!({"userId": ["u"]}), "userId"),
        (json!({}), "userId"),
        (json!({"userId": null}), "userId"),
        (json!({"userId": "u", "data": [1, 2]}), "data"),
        (json!({"userId": "u", "data": "theme=dark"}), "data"),
        (json!({"userId": "u", "ttlSeconds": "3600"}), "ttlSeconds"),
        (json!({"userId": "u", "ttlSeconds": 1.5}), "ttlSeconds"),
        (json!({"userId": "u", "ttlSecond": 60}), "ttlSecond"),
    ] {
        let problem = app
            .post_json("/sessions", &body)
            .await
            .assert_problem(400, "invalid_request");
        assert!(
            problem["detail"].as_str().expect("detail").contains(field),
            "{body} → {problem}"
        );
    }
}

#[tokio::test]
async fn bad_user_ids_are_400() {
    let app = TestApp::new();
    for user in ["", "a\nb", "tab\there", &"x".repeat(257)] {
        app.post_json("/sessions", &json!({"userId": user}))
            .await
            .assert_problem(400, "invalid_request");
    }
    assert_eq!(
        app.post_json("/sessions", &json!({"userId": "x".repeat(256)}))
            .await
            .status,
        201
    );
}

/// Invisible characters would let two ids that an admin tool shows alike name different
/// users: refused in a body and in the per-user routes' path alike.
#[tokio::test]
async fn user_ids_with_bidi_controls_or_invisible_characters_are_400() {
    let app = TestApp::new();
    for hidden in [
        "\u{202E}",
        "\u{2066}",
        "\u{200F}",
        "\u{061C}",
        "\u{200B}",
        "\u{200D}",
        "\u{2060}",
        "\u{FEFF}",
        "\u{E0041}",
    ] {
        let user = format!("adm{hidden}in");
        let problem = app
            .post_json("/sessions", &json!({"userId": user}))
            .await
            .assert_problem(400, "invalid_request");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("userId"),
            "{problem}"
        );
        let encoded: String = user
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let path = format!("/sessions/user/{encoded}");
        for reply in [app.get(&path).await, app.delete(&path).await] {
            let problem = reply.assert_problem(400, "invalid_request");
            assert!(
                problem["detail"]
                    .as_str()
                    .expect("detail")
                    .contains("userId"),
                "{path}: {problem}"
            );
        }
    }
}

#[tokio::test]
async fn ttl_seconds_outside_its_range_is_400() {
    let app = TestApp::new();
    for ttl in [
        json!(0),
        json!(-1),
        json!(2_592_001),
        json!(86_400_000),
        json!(1e20),
    ] {
        let problem = app
            .post_json("/sessions", &json!({"userId": "u", "ttlSeconds": ttl}))
            .await
            .assert_problem(400, "invalid_request");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("ttlSeconds"),
            "{problem}"
        );
    }
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}/refresh", created["id"].as_str().expect("id"));
    app.post_json(&uri, &json!({"ttlSeconds": 0}))
        .await
        .assert_problem(400, "invalid_request");
    app.post_json(&uri, &json!({"ttl": 5}))
        .await
        .assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let app = TestApp::new();
    let body = json!({"userId": "u"}).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/merge-patch+json"),
    ] {
        app.call(Method::POST, "/sessions", content_type, &body)
            .await
            .assert_problem(415, "unsupported_media_type");
    }
    assert_eq!(
        app.call(
            Method::POST,
            "/sessions",
            Some("application/json; charset=utf-8"),
            &body
        )
        .await
        .status,
        201,
        "a charset parameter is fine"
    );
    let created = app.create(json!({"userId": "u", "data": {"a": 1}})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    app.call(Method::PUT, &uri, Some("text/plain"), "{\"data\":{}}")
        .await
        .assert_problem(415, "unsupported_media_type");
    let patch_as_json = app
        .call(Method::PATCH, &uri, Some("application/json"), "{\"a\":2}")
        .await;
    patch_as_json.assert_problem(415, "unsupported_media_type");
    assert_eq!(
        patch_as_json.header("accept-patch"),
        Some("application/merge-patch+json")
    );
    app.call(
        Method::POST,
        &format!("{uri}/refresh"),
        Some("text/plain"),
        "{\"ttlSeconds\":5}",
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    app.call(
        Method::POST,
        &format!("{uri}/refresh"),
        None,
        "{\"ttlSeconds\":5}",
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    assert_eq!(
        app.get(&uri).await.json()["version"],
        1,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_body_over_1_mib_is_413() {
    let app = TestApp::new();
    let huge = format!(
        "{{\"userId\":\"u\",\"data\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(1024 * 1024)
    );
    app.call(Method::POST, "/sessions", Some("application/json"), &huge)
        .await
        .assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn data_over_the_limit_is_413_on_create_put_and_patch() {
    let app = TestApp::builder().max_data_bytes(100).build();
    let big = json!({"blob": "x".repeat(100)});
    app.post_json("/sessions", &json!({"userId": "u", "data": big}))
        .await
        .assert_problem(413, "payload_too_large");
    let created = app
        .create(json!({"userId": "u", "data": {"a": "y".repeat(50)}}))
        .await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    app.put_json(&uri, &json!({"data": big}))
        .await
        .assert_problem(413, "payload_too_large");
    app.patch(&uri, &json!({"b": "z".repeat(50)}))
        .await
        .assert_problem(413, "payload_too_large");
    let unchanged = app.get(&uri).await.json();
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["data"], created["data"]);
}

#[tokio::test]
async fn data_dynamodb_cannot_hold_is_400() {
    let app = TestApp::new();
    let mut deep = json!("leaf");
    for _ in 0..40 {
        deep = json!({ "k": deep });
    }
    for data in [json!({"": 1}), json!({"n": 1e300}), json!({"deep": deep})] {
        app.post_json("/sessions", &json!({"userId": "u", "data": data}))
            .await
            .assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn malformed_session_ids_are_404_on_every_route() {
    let app = TestApp::new();
    for id in [
        "nope",
        "123",
        "6BA7B810-9DAD-41D1-80B4-00C04FD430C8",
        "00000000-0000-1000-8000-000000000000",
        "%FF%FE",
        "a%2Fb",
    ] {
        let uri = format!("/sessions/{id}");
        app.get(&uri).await.assert_problem(404, "session_not_found");
        app.put_json(&uri, &json!({"data": {}}))
            .await
            .assert_problem(404, "session_not_found");
        app.patch(&uri, &json!({"a": 1}))
            .await
            .assert_problem(404, "session_not_found");
        app.delete(&uri)
            .await
            .assert_problem(404, "session_not_found");
        app.call(Method::POST, &format!("{uri}/refresh"), None, "")
            .await
            .assert_problem(404, "session_not_found");
    }
}

#[tokio::test]
async fn unknown_well_formed_ids_are_404_and_create_nothing() {
    let app = TestApp::new();
    let uri = format!("/sessions/{}", session_core::SessionId::generate());
    app.put_json(&uri, &json!({"data": {"a": 1}}))
        .await
        .assert_problem(404, "session_not_found");
    app.patch(&uri, &json!({"a": 1}))
        .await
        .assert_problem(404, "session_not_found");
    app.call(Method::POST, &format!("{uri}/refresh"), None, "")
        .await
        .assert_problem(404, "session_not_found");
    app.get(&uri).await.assert_problem(404, "session_not_found");
}

#[tokio::test]
async fn put_and_patch_bodies_are_checked() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    for body in [
        json!({}),
        json!({"data": null}),
        json!({"data": [1]}),
        json!({"data": {}, "userId": "x"}),
    ] {
        app.put_json(&uri, &body)
            .await
            .assert_problem(400, "invalid_request");
    }
    for body in ["[1]", "[]", "[{\"a\": 2}]", "\"x\"", "{"] {
        app.call(
            Method::PATCH,
            &uri,
            Some("application/merge-patch+json"),
            body,
        )
        .await
        .assert_problem(400, "invalid_request");
    }
    assert_eq!(app.get(&uri).await.json()["version"], 1);
}

#[tokio::test]
async fn malformed_if_match_is_400_and_writes_nothing() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    for (if_match, status, code) in [
        ("\"1", 400, "invalid_request"),
        ("W/\"1\"", 412, "version_mismatch"),
    ] {
        app.call_with(
            Method::PATCH,
            &uri,
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", if_match),
            ],
            "{\"a\":1}",
        )
        .await
        .assert_problem(status, code);
    }
    assert_eq!(app.get(&uri).await.json()["version"], 1);
}

#[tokio::test]
async fn if_match_can_be_required() {
    let app = TestApp::builder()
        .options(session_api::ApiOptions {
            require_if_match: true,
            ..session_api::ApiOptions::default()
        })
        .build();
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    app.put_json(&uri, &json!({"data": {}}))
        .await
        .assert_problem(428, "precondition_required");
    app.patch(&uri, &json!({"a": 1}))
        .await
        .assert_problem(428, "precondition_required");
    let with_etag = app
        .call_with(
            Method::PUT,
            &uri,
            &[("content-type", "application/json"), ("if-match", "\"1\"")],
            "{\"data\":{\"ok\":true}}",
        )
        .await;
    assert_eq!(with_etag.status, 200);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_as_problems() {
    let app = TestApp::new();
    let detail = app
        .get("/nope")
        .await
        .assert_problem(404, "route_not_found");
    assert!(
        detail["detail"]
            .as_str()
            .is_some_and(|text| text.contains("/openapi.json")),
        "the detail points to the route list: {detail}"
    );
    app.get("/sessions/")
        .await
        .assert_problem(404, "route_not_found");
    let reply = app.call(Method::DELETE, "/sessions", None, "").await;
    reply.assert_problem(405, "method_not_allowed");
    let allow = reply.header("allow").expect("Allow header");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    app.call(Method::POST, "/health", None, "")
        .await
        .assert_problem(405, "method_not_allowed");
    let created = app.create(json!({"userId": "u"})).await;
    app.call(
        Method::GET,
        &format!("/sessions/{}/refresh", created["id"].as_str().expect("id")),
        None,
        "",
    )
    .await
    .assert_problem(405, "method_not_allowed");
    app.call(
        Method::POST,
        "/sessions/user/u",
        Some("application/json"),
        "{}",
    )
    .await
    .assert_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400() {
    let app = TestApp::new();
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "limit=1.5",
        "cursor=garbage",
        "cursor=",
        "limit=1&limit=2",
    ] {
        app.get(&format!("/sessions?{query}"))
            .await
            .assert_problem(400, "invalid_request");
        app.get(&format!("/sessions/user/u?{query}"))
            .await
            .assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_cursor_from_another_listing_or_altered_is_400() {
    let app = TestApp::new();
    for _ in 0..3 {
        app.create(json!({"userId": "alice"})).await;
    }
    let page = app.get("/sessions/user/alice?limit=1").await.json();
    let cursor = page["nextCursor"].as_str().expect("a next page");
    app.get(&format!("/sessions/user/bob?cursor={cursor}"))
        .await
        .assert_problem(400, "invalid_request");
    app.get(&format!("/sessions?cursor={cursor}"))
        .await
        .assert_problem(400, "invalid_request");
    let mut altered = cursor.to_owned().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    app.get(&format!("/sessions/user/alice?cursor={altered}"))
        .await
        .assert_problem(400, "invalid_request");
    assert_eq!(
        app.get(&format!("/sessions/user/alice?cursor={cursor}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bad_user_ids_in_the_path_are_400() {
    let app = TestApp::new();
    let long = "x".repeat(257);
    for user in [long.as_str(), "a%0Ab", "%FF"] {
        app.get(&format!("/sessions/user/{user}"))
            .await
            .assert_problem(400, "invalid_request");
        app.delete(&format!("/sessions/user/{user}"))
            .await
            .assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_key_named_twice_is_400_at_any_depth_and_writes_nothing() {
    let app = TestApp::new();
    app.call(
        Method::POST,
        "/sessions",
        Some("application/json"),
        r#"{"userId": "a", "userId": "b"}"#,
    )
    .await
    .assert_problem(400, "invalid_request");
    let created = app.create(json!({"userId": "u", "data": {"k": 1}})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let problem = app
        .call(
            Method::PUT,
            &uri,
            Some("application/json"),
            r#"{"data": {"list": [{"x": 1, "x": 2}]}}"#,
        )
        .await
        .assert_problem(400, "invalid_request");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("duplicate key \"x\"")),
        "{problem}"
    );
    app.call(
        Method::PATCH,
        &uri,
        Some("application/merge-patch+json"),
        r#"{"k": 2, "k": null}"#,
    )
    .await
    .assert_problem(400, "invalid_request");
    let unchanged = app.get(&uri).await.json();
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["data"], json!({"k": 1}));
}

#[tokio::test]
async fn an_entity_tag_matches_only_as_written() {
    let app = TestApp::new();
    let created = app.create(json!({"userId": "u"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    for other in ["\"01\"", "\"+1\"", "\"1.0\"", "01"] {
        app.call_with(
            Method::PATCH,
            &uri,
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", other),
            ],
            "{\"a\":1}",
        )
        .await
        .assert_problem(412, "version_mismatch");
    }
    assert_eq!(app.get(&uri).await.json()["version"], 1);
    let matching = app
        .call_with(
            Method::PATCH,
            &uri,
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", "\"1\""),
            ],
            "{\"a\":1}",
        )
        .await;
    assert_eq!(matching.status, 200);
    assert_eq!(matching.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn a_malformed_id_is_404_before_the_body_or_preconditions_are_looked_at() {
    let app = TestApp::builder()
        .options(session_api::ApiOptions {
            require_if_match: true,
            ..session_api::ApiOptions::default()
        })
        .build();
    for (method, content_type, body) in [
        (Method::PUT, Some("text/plain"), "x"),
        (Method::PUT, Some("application/json"), "{\"data\": {}}"),
        (Method::PUT, Some("application/json"), "{\"data\": [1]}"),
        (Method::PATCH, None, "{"),
        (Method::POST, Some("text/plain"), "x"),
    ] {
        let uri = if method == Method::POST {
            "/sessions/abc/refresh"
        } else {
            "/sessions/abc"
        };
        app.call(method.clone(), uri, content_type, body)
            .await
            .assert_problem(404, "session_not_found");
    }
}

#[tokio::test]
async fn a_declared_length_over_1_mib_is_413_before_the_body_is_read() {
    let app = TestApp::new();
    let reply = app
        .call_with(
            Method::POST,
            "/sessions",
            &[
                ("content-type", "application/json"),
                ("content-length", "5000000"),
            ],
            "{}",
        )
        .await;
    reply.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn whole_numbers_written_as_floats_come_back_as_integers_on_write_and_read() {
    let app = TestApp::new();
    let created = app
        .call(
            Method::POST,
            "/sessions",
            Some("application/json"),
            r#"{"userId": "u", "data": {"a": 1.0, "b": -0, "c": 1E2, "d": 1.5}}"#,
        )
        .await;
    assert_eq!(created.status, 201);
    let expected = json!({"a": 1, "b": 0, "c": 100, "d": 1.5});
    assert_eq!(created.json()["data"], expected);
    assert!(String::from_utf8_lossy(&created.body).contains(r#""a":1,"#));
    let uri = format!("/sessions/{}", created.json()["id"].as_str().expect("id"));
    assert_eq!(app.get(&uri).await.json()["data"], expected);
}

#[tokio::test]
async fn a_chunked_body_over_1_mib_is_413_and_nothing_is_written() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // No Content-Length: the limit must hold while the body streams in, and reading must stop
    // there rather than buffer whatever the client sends (here up to 64 MiB).
    let app = TestApp::new();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let head = futures_util::stream::once(async {
        Ok::<_, std::io::Error>("{\"userId\":\"chunked\",\"data\":{\"blob\":\"".to_owned())
    });
    let blob = futures_util::stream::repeat_with(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok("x".repeat(64 * 1024))
    })
    .take(1024);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/sessions")
        .header("content-type", "application/json")
        .body(Body::from_stream(head.chain(blob)))
        .expect("request");
    assert!(request.headers().get("content-length").is_none());
    app.send(request)
        .await
        .assert_problem(413, "payload_too_large");
    let chunks = pulled.load(Ordering::Relaxed);
    assert!(
        (16..=20).contains(&chunks),
        "read {chunks} chunks of 64 KiB; the limit is 1 MiB"
    );
    let listed = app.get("/sessions/user/chunked").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["count"], 0, "nothing was written");
}

#[tokio::test]
async fn a_panicking_handler_is_answered_500_without_its_message() {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::Path;
    use axum::routing::get;
    use session_api::ApiOptions;
    use session_api::auth::Auth;

    let routes: Router = Router::new().route(
        "/sessions/{id}",
        get(|Path(id): Path<String>| async move {
            // A session id is no number: this handler always panics.
            id.parse::<u64>()
                .map(|n| n.to_string())
                .expect("secret detail of the failure")
        }),
    );
    let router = session_api::layers::apply(
        routes,
        &ApiOptions {
            auth: Arc::new(Auth::disabled()),
            request_timeout: Duration::from_secs(5),
            ..ApiOptions::default()
        },
    );
    let reply = common::send_to(
        &router,
        Method::GET,
        "/sessions/6ba7b810-9dad-41d1-80b4-00c04fd430c8",
    )
    .await;
    let body = reply.assert_problem(500, "internal");
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("secret detail"),
        "the cause goes to the log, not the client: {body}"
    );
    // The other layers still ran.
    assert!(reply.header("x-request-id").is_some());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

//! `/metrics`: after a short workload, every family is there with sane values, by route
//! template and never by raw path.

mod common;

use axum::http::Method;
use common::{TestApp, sample};
use serde_json::json;
use session_core::ExpiryPolicy;

#[tokio::test]
async fn a_short_workload_shows_in_every_family() {
    let app = TestApp::builder()
        .policy(ExpiryPolicy {
            sliding: true,
            touch_after_seconds: 10,
            ..ExpiryPolicy::default()
        })
        .build();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.create(json!({"userId": "metrics", "ttlSeconds": 60}))
                .await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let uri = format!("/sessions/{}", ids[0]);
    assert_eq!(app.get(&uri).await.status, 200);
    app.clock.advance_seconds(20);
    assert_eq!(app.get(&uri).await.status, 200, "a sliding touch");
    app.call_with(
        Method::PUT,
        &uri,
        &[("content-type", "application/json"), ("if-match", "\"9\"")],
        r#"{"data":{}}"#,
    )
    .await
    .assert_problem(412, "version_mismatch");
    assert_eq!(
        app.delete(&format!("/sessions/{}", ids[1])).await.status,
        204
    );
    app.clock.advance_seconds(61);
    app.get(&format!("/sessions/{}", ids[2]))
        .await
        .assert_problem(410, "session_expired");
    ids.push(
        app.create(json!({"userId": "metrics"})).await["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    );
    let revoked = app.delete("/sessions/user/metrics").await;
    assert_eq!(
        revoked.json(),
        json!({"deleted": 1}),
        "only the fresh session was live"
    );
    app.get("/nowhere")
        .await
        .assert_problem(404, "route_not_found");

    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(reply.body).expect("utf-8");
    for id in &ids {
        assert!(
            !text.contains(id.as_str()),
            "a session id leaked into the metrics"
        );
    }

    let created = sample(
        &text,
        "http_requests_total",
        &[
            ("route", "/sessions"),
            ("method", "POST"),
            ("status", "201"),
        ],
    );
    assert!(created.is_some_and(|n| n >= 4.0), "{created:?}");
    assert!(
        sample(
            &text,
            "http_requests_total",
            &[
                ("route", "/sessions/{id}"),
                ("method", "GET"),
                ("status", "200")
            ]
        )
        .is_some_and(|n| n >= 2.0)
    );
    assert!(
        sample(
            &text,
            "http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    let count = sample(
        &text,
        "http_request_duration_seconds_count",
        &[("route", "/sessions"), ("method", "POST")],
    );
    let sum = sample(
        &text,
        "http_request_duration_seconds_sum",
        &[("route", "/sessions"), ("method", "POST")],
    );
    assert!(count.is_some_and(|n| n >= 3.0), "{count:?}");
    assert!(
        sum.is_some_and(|s| s > 0.0 && s < 10.0),
        "latencies are seconds: {sum:?}"
    );
    assert!(
        sample(
            &text,
            "http_request_duration_seconds_bucket",
            &[("route", "/sessions"), ("le", "+Inf")]
        )
        .is_some()
    );

    let store_ops = sample(
        &text,
        "session_store_operation_duration_seconds_count",
        &[("backend", "embedded"), ("operation", "create")],
    );
    assert!(store_ops.is_some_and(|n| n >= 3.0), "{store_ops:?}");
    assert!(
        sample(
            &text,
            "session_store_errors_total",
            &[
                ("backend", "embedded"),
                ("operation", "replace"),
                ("kind", "conditional_failure")
            ]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        sample(
            &text,
            "session_store_errors_total",
            &[("operation", "get"), ("kind", "expired")]
        )
        .is_some_and(|n| n >= 1.0)
    );

    assert!(sample(&text, "sessions_created_total", &[]).is_some_and(|n| n >= 3.0));
    assert!(
        sample(&text, "sessions_deleted_total", &[]).is_some_and(|n| n >= 2.0),
        "one delete + one revoked live session"
    );
    assert!(sample(&text, "sessions_expired_on_read_total", &[]).is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "sessions_touched_total", &[]).is_some_and(|n| n >= 1.0));
    assert_eq!(
        sample(
            &text,
            "session_api_build_info",
            &[
                ("backend", "embedded"),
                ("version", env!("CARGO_PKG_VERSION"))
            ]
        ),
        Some(1.0)
    );
    // The process families, read at each scrape.
    assert!(
        sample(&text, "process_start_time_seconds", &[]).is_some_and(|t| t > 1.6e9),
        "process_start_time_seconds is a Unix time"
    );
    assert!(sample(&text, "process_resident_memory_bytes", &[]).is_some_and(|b| b > 0.0));
    assert!(sample(&text, "process_cpu_seconds_total", &[]).is_some());
    for family in [
        "http_requests_total",
        "http_request_duration_seconds",
        "session_store_errors_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            text.contains(&format!("# HELP {family}")),
            "{family} is described"
        );
    }
}

#[tokio::test]
async fn readiness_shows_as_a_gauge_and_a_change_counter() {
    let app = TestApp::new();
    assert_eq!(app.get("/ready").await.status, 200);
    let text = String::from_utf8(app.get("/metrics").await.body).expect("utf-8");
    assert_eq!(sample(&text, "session_api_ready", &[]), Some(1.0));
    // Registered at the first check, before any change, so that increase() sees the first one.
    assert!(
        sample(&text, "session_api_readiness_changes_total", &[]).is_some(),
        "the change counter exists from the first check"
    );
}

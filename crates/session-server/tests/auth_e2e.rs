//! Authentication through the real binary: tokens from the environment and from files, the
//! protected-mode warning and its loopback-only rule, and no token or session id ever in the
//! logs.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, client};

const CLIENT: &str = "e2e-client-token-5f2a9c1d7b";
const ADMIN: &str = "e2e-admin-token-8d3e6b0a4c";

#[tokio::test]
async fn tokens_from_env_and_file_guard_the_routes_and_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin_file = dir.path().join("admin-tokens");
    std::fs::write(&admin_file, format!("{ADMIN}\n")).expect("write");
    let db = dir.path().join("s.redb");
    let server = Server::spawn(&[
        ("EMBEDDED_DB_PATH", db.to_str().expect("utf-8")),
        ("API_TOKENS", CLIENT),
        ("ADMIN_TOKENS_FILE", admin_file.to_str().expect("utf-8")),
    ]);
    let http = client();

    let anonymous = http
        .post(server.url("/sessions"))
        .json(&json!({"userId": "u"}))
        .send()
        .await
        .expect("post");
    assert_eq!(
        anonymous.status(),
        401,
        "loopback is no exemption once tokens exist"
    );
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer")
    );

    let created = http
        .post(server.url("/sessions"))
        .bearer_auth(CLIENT)
        .json(&json!({"userId": "u"}))
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let forbidden = http
        .get(server.url("/sessions"))
        .bearer_auth(CLIENT)
        .send()
        .await
        .expect("admin route");
    assert_eq!(forbidden.status(), 403);
    let admin = http
        .get(server.url("/sessions"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("admin route");
    assert_eq!(admin.status(), 200);
    assert_eq!(
        http.get(server.url("/health"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );

    let requests = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("\"message\":\"request\""))
            .count()
            >= 5
    };
    let logs = server.wait_for_logs(requests).join("\n");
    for secret in [CLIENT, ADMIN, id.as_str()] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
    assert!(logs.contains("bearer-token authentication"));
    let callers: Vec<String> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["message"] == "request")
        .map(|event| event["caller"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        callers,
        ["anonymous", "client", "client", "admin", "anonymous"]
    );
}

#[tokio::test]
async fn without_tokens_the_server_says_it_serves_loopback_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("s.redb");
    let server = Server::spawn(&[("EMBEDDED_DB_PATH", db.to_str().expect("utf-8"))]);
    let reply = client()
        .get(server.url("/sessions"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        reply.status(),
        200,
        "a loopback client is served in protected mode"
    );
    let logs = server
        .wait_for_logs(|lines| lines.iter().any(|l| l.contains("protected mode")))
        .join("\n");
    assert!(logs.contains("protected mode"), "{logs}");
}

#[test]
fn an_unreadable_token_file_stops_the_start_naming_the_variable() {
    let output = support::run(&[], &[("API_TOKENS_FILE", "/nonexistent/tokens")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("API_TOKENS_FILE"));
}

#[test]
fn without_tokens_the_server_refuses_to_listen_beyond_loopback_naming_the_ways_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("s.redb");
    for exposed in ["0.0.0.0", "::"] {
        let output = support::run_to_exit(
            &[
                ("EMBEDDED_DB_PATH", db.to_str().expect("utf-8")),
                ("BIND_ADDRESS", exposed),
            ],
            Duration::from_secs(20),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{exposed}: {stderr}");
        assert!(stderr.contains("BIND_ADDRESS"), "{stderr}");
        for way_out in [
            "API_TOKENS",
            "ADMIN_TOKENS",
            "AUTH_DISABLED=true",
            "BIND_ADDRESS=127.0.0.1",
        ] {
            assert!(stderr.contains(way_out), "{way_out}: {stderr}");
        }
    }
}

#[tokio::test]
async fn with_tokens_or_auth_disabled_the_server_listens_beyond_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("s.redb");
    let db = db.to_str().expect("utf-8");
    for way_out in [("API_TOKENS", CLIENT), ("AUTH_DISABLED", "true")] {
        let server = Server::spawn(&[
            ("EMBEDDED_DB_PATH", db),
            ("BIND_ADDRESS", "0.0.0.0"),
            way_out,
        ]);
        let port = server
            .base
            .strip_prefix("http://0.0.0.0:")
            .unwrap_or_else(|| panic!("{way_out:?}: listening on {}", server.base));
        let health = client()
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(health.status(), 200, "{way_out:?}");
    }
}

//! The real binary on its default store: sessions survive a restart, shutdown is clean, bad
//! settings fail fast with the variable named.

mod support;

use serde_json::{Value, json};
use support::{Server, client, run};

#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db/sessions.redb");
    let path = path.to_str().expect("utf-8 path");
    let env = [("EMBEDDED_DB_PATH", path)];
    let http = client();

    let server = Server::spawn(&env);
    let mut created: Value = http
        .post(server.url("/sessions"))
        .json(&json!({"userId": "restart", "data": {"cart": [1, 2, 3]}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    // Only the create answer carries the token; reads show the session without it.
    assert!(
        created
            .as_object_mut()
            .and_then(|body| body.remove("token"))
            .is_some()
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let status = server.terminate();
    assert!(status.success(), "a SIGTERM stop exits 0, got {status:?}");

    let server = Server::spawn(&env);
    let reply = http
        .get(server.url(&format!("/sessions/{id}")))
        .send()
        .await
        .expect("get");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<Value>().await.expect("json"), created);
    let listed: Value = http
        .get(server.url("/sessions/user/restart"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["count"], 1, "the per-user index survived too");
}

#[tokio::test]
async fn the_default_command_serves_the_contract_and_logs_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let server = Server::spawn(&[("EMBEDDED_DB_PATH", path.to_str().expect("utf-8"))]);
    let http = client();
    let health = http
        .get(server.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = http.get(server.url("/ready")).send().await.expect("ready");
    assert_eq!(
        ready.json::<Value>().await.expect("json"),
        json!({"status": "ready"})
    );
    let created: Value = http
        .post(server.url("/sessions"))
        .json(&json!({"userId": "logs"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        http.get(server.url(&format!("/sessions/{id}")))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );

    let logs = server
        .wait_for_logs(|lines| {
            lines
                .iter()
                .any(|l| l.contains("\"route\":\"/sessions/{id}\""))
        })
        .join("\n");
    assert!(
        !logs.contains(&id),
        "a session id must never be logged in clear"
    );
    let fingerprint = session_core::SessionId::parse(&id)
        .expect("id")
        .fingerprint();
    let request_line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["route"] == "/sessions/{id}" && event["method"] == "GET")
        .expect("a request log line for GET /sessions/{id}");
    assert_eq!(request_line["status"], 200);
    assert_eq!(request_line["session"], fingerprint.as_str());
    assert!(
        request_line["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(request_line["latency_ms"].is_number());
    assert_eq!(request_line["level"], "INFO");
    assert_eq!(request_line["message"], "request");
    // No tokens configured: protected mode, where a loopback caller is an admin.
    assert_eq!(request_line["caller"], "admin");
    assert_eq!(request_line["target"], "session_api::request");
    assert_eq!(
        request_line["client"], "127.0.0.1",
        "the client address as the server saw it"
    );
}

#[test]
fn a_second_server_on_the_same_file_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let env = [("EMBEDDED_DB_PATH", path.to_str().expect("utf-8"))];
    let _first = Server::spawn(&env);
    let second = run(&[], &env);
    assert_eq!(second.status.code(), Some(1));
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains("cannot open the session store"), "{out}");
}

#[test]
fn bad_settings_fail_fast_naming_the_variable() {
    for (variable, value) in [
        ("SESSION_TTL_HOURS", "soon"),
        ("SESSION_TTL_HOURS", "100000"),
        ("SESSION_STORE", "postgres"),
        ("SESSION_MAX_DATA_BYTES", "99999999"),
        ("PORT", "http"),
    ] {
        let output = run(&[], &[(variable, value)]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{variable}={value} must be refused"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}

#[test]
fn help_shows_every_setting_and_the_commands() {
    let output = run(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "create-table",
        "serve",
        "PORT",
        "SESSION_STORE",
        "EMBEDDED_DB_PATH",
        "DYNAMODB_TABLE_NAME",
        "AWS_REGION",
        "SESSION_TTL_HOURS",
        "SESSION_TTL_SECONDS",
        "SESSION_MAX_TTL_SECONDS",
        "SESSION_MAX_LIFETIME_SECONDS",
        "SESSION_SLIDING",
        "SESSION_TOUCH_AFTER_SECONDS",
        "SESSION_PURGE_AFTER_SECONDS",
        "SESSION_MAX_DATA_BYTES",
        "LOG_FORMAT",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}");
    }
    let table_help = run(&["create-table", "--help"], &[]);
    assert!(String::from_utf8_lossy(&table_help.stdout).contains("--wait"));
}

#[tokio::test]
async fn rust_log_decides_which_request_lines_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let server = Server::spawn(&[
        ("EMBEDDED_DB_PATH", path.to_str().expect("utf-8")),
        // The request line is a `tracing` event (target `session_api::request`): the
        // filter applies to it as to any other.
        ("RUST_LOG", "info,session_api::request=error"),
    ]);
    let http = client();
    for path in ["/health", "/sessions/6ba7b810-9dad-41d1-80b4-00c04fd430c8"] {
        let status = http
            .get(server.url(path))
            .send()
            .await
            .expect("request")
            .status();
        assert!(status == 200 || status == 404, "{path}: {status}");
    }
    support::signal(server.pid(), "TERM");
    let logs = server.wait_for_logs(|lines| lines.iter().any(|l| l.contains("\"stopped\"")));
    assert!(
        logs.iter().any(|l| l.contains("\"stopped\"")),
        "the server stopped and wrote its last lines: {logs:?}"
    );
    let requests: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("session_api::request"))
        .collect();
    assert!(
        requests.is_empty(),
        "request lines below the filter's level are not written: {requests:?}"
    );
}

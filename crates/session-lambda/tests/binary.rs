//! The real `session-lambda` binary against a Runtime API of our own on loopback: a session
//! walked through HTTP API and REST API events over DynamoDB Local, init failures, bad
//! events, and the Lambda logging conventions.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::events::{Call, Source, event};
use support::runtime_api::{Function, Outcome, RuntimeApi, lambda_environment};
use support::{BINARY, Reply, Table};

const V2: Source = Source::Http { stage: "$default" };
const V1: Source = Source::Rest { stage: "prod" };

/// The cursor secret every function here is configured with: one on DynamoDB needs one.
const CURSOR_SECRET: (&str, &str) = (
    "SESSION_CURSOR_SECRET",
    "ilh0JpSJMUfOkWTZSEaKw4h8PsSqhrR6n847O7JZBK0=",
);

fn env_with(runtime: &RuntimeApi, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = lambda_environment(&runtime.endpoint());
    env.push((CURSOR_SECRET.0.to_owned(), CURSOR_SECRET.1.to_owned()));
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

async fn call(runtime: &RuntimeApi, source: Source, call: &Call) -> Reply {
    let event = event(source, call, "e2e").to_string();
    Reply::decode(source.shape(), runtime.invoke(&event).await.payload())
}

/// The log lines among `lines`: every line but the EMF metric documents, which are JSON
/// whatever the log format and are written whatever the log level.
fn log_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|line| {
            !serde_json::from_str::<Value>(line).is_ok_and(|doc| doc.get("_aws").is_some())
        })
        .collect()
}

/// The JSON log lines among `lines`.
fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_walks_through_http_api_and_rest_api_events() {
    let Some(table) = Table::fresh("lambda-e2e").await else {
        return;
    };
    let runtime = RuntimeApi::start().await;
    let mut function = Function::spawn(
        Path::new(BINARY),
        &env_with(
            &runtime,
            &[
                ("DYNAMODB_TABLE_NAME", &table.name),
                ("AWS_ENDPOINT_URL_DYNAMODB", &table.endpoint),
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                // As behind an API Gateway route that requires IAM; tokens are tested below.
                ("AUTH_DISABLED", "true"),
            ],
        ),
    );

    // Create through the HTTP API.
    let created = call(
        &runtime,
        V2,
        &Call::new("POST", "/sessions").json(
            "application/json",
            &json!({"userId": "e2e-user", "data": {"theme": "dark"}, "ttlSeconds": 600}),
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/sessions/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    let item = table
        .item(&id)
        .await
        .expect("stored in the table the function was given");
    assert_eq!(item["userId"].as_s().expect("S"), "e2e-user");

    // Read it through the REST API's prod stage.
    let got = call(&runtime, V1, &Call::new("GET", &format!("/sessions/{id}"))).await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(got.json()["data"], json!({"theme": "dark"}));
    assert_eq!(got.header("cache-control"), Some("no-store"));
    assert!(
        got.raw["multiValueHeaders"]["etag"].is_array(),
        "{}",
        got.raw
    );

    // Patch through the HTTP API, with a base64-encoded body.
    let patched = call(
        &runtime,
        V2,
        &Call::new("PATCH", &format!("/sessions/{id}"))
            .header("if-match", "\"1\"")
            .json("application/merge-patch+json", &json!({"lang": "fr"}))
            .base64(),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.raw);
    assert_eq!(
        patched.json()["data"],
        json!({"theme": "dark", "lang": "fr"})
    );
    assert_eq!(patched.header("etag"), Some("\"2\""));

    // The user's sessions through the REST API.
    let listed = call(
        &runtime,
        V1,
        &Call::new("GET", "/sessions/user/e2e-user").query("limit", "10"),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.raw);
    let page = listed.json();
    assert_eq!(page["count"], 1, "{page}");
    assert_eq!(page["sessions"][0]["id"], id.as_str());
    assert_eq!(page["sessions"][0]["version"], 2);

    // Delete through the HTTP API; the REST API then answers 404.
    let deleted = call(
        &runtime,
        V2,
        &Call::new("DELETE", &format!("/sessions/{id}")),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.raw);
    assert!(table.item(&id).await.is_none());
    let gone = call(&runtime, V1, &Call::new("GET", &format!("/sessions/{id}"))).await;
    gone.assert_problem(404, "session_not_found");

    // One process served every invocation, and built its router once.
    assert!(function.running(), "the function is still polling");
    assert!(runtime.polls() >= 6, "one /next per invocation");
    function.stop();
    let logs = json_lines(&function.stdout_lines());
    let starts = logs
        .iter()
        .filter(|line| line["message"] == "sessions are kept in DynamoDB")
        .count();
    assert_eq!(
        starts, 1,
        "the store and router are built once per cold start"
    );

    // The DynamoDB capacity of each invocation reaches CloudWatch through EMF: the create wrote
    // one unit to the table and one to the index.
    let create_units: std::collections::BTreeMap<&str, f64> = logs
        .iter()
        .filter(|doc| doc.get("_aws").is_some() && doc["operation"] == "create")
        .filter_map(|doc| {
            let units = doc.get("session_store_capacity_units_total")?.as_f64()?;
            Some((doc["target"].as_str()?, units))
        })
        .collect();
    assert_eq!(
        create_units,
        [("index", 1.0), ("table", 1.0)].into(),
        "EMF documents of the create: {logs:?}"
    );

    // JSON logs as Lambda filters them: level and timestamp on top, the client from the event.
    let requests: Vec<&Value> = logs
        .iter()
        .filter(|line| line["message"] == "request")
        .collect();
    assert_eq!(
        requests.len(),
        6,
        "one access log line per invocation: {logs:?}"
    );
    for line in &requests {
        assert_eq!(line["level"], "INFO", "{line}");
        assert!(
            line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        let client = line["client"].as_str().expect("client");
        assert!(
            client == V1.client_ip() || client == V2.client_ip(),
            "the client address comes from the event: {line}"
        );
        assert!(
            line["span"]["requestId"]
                .as_str()
                .is_some_and(|r| r.starts_with("7e57a1d0")),
            "the invocation's request id is on the line: {line}"
        );
    }
}

/// Runs the binary with `extra` settings and no DynamoDB, expecting it to fail at start.
async fn failed_start(extra: &[(&str, &str)]) -> (i32, String, Option<Value>, Option<String>) {
    failed_start_with(|runtime| env_with(runtime, extra)).await
}

/// Runs the binary with the environment `env` makes, expecting it to fail at start.
async fn failed_start_with(
    env: impl FnOnce(&RuntimeApi) -> Vec<(String, String)>,
) -> (i32, String, Option<Value>, Option<String>) {
    let runtime = RuntimeApi::start().await;
    let mut function = Function::spawn(Path::new(BINARY), &env(&runtime));
    let status = function
        .wait_exit(Duration::from_secs(20))
        .expect("the function exits at once");
    let stderr = function.stderr_lines().join("\n");
    let report = runtime.init_error(Duration::from_secs(1)).await;
    assert_eq!(
        runtime.polls(),
        0,
        "no event is polled before the settings are valid"
    );
    (
        status.code().unwrap_or(-1),
        stderr,
        report.as_ref().map(|r| r.payload.clone()),
        report.and_then(|r| r.error_type),
    )
}

#[tokio::test]
async fn a_missing_table_name_fails_the_init_naming_the_variable() {
    for table in [None, Some(""), Some("   ")] {
        let extra: Vec<(&str, &str)> = table
            .map(|t| vec![("DYNAMODB_TABLE_NAME", t)])
            .unwrap_or_default();
        let (code, stderr, report, error_type) = failed_start(&extra).await;
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("error: DYNAMODB_TABLE_NAME: is not set"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        let report = report.expect("reported to /runtime/init/error");
        assert!(
            report["errorMessage"]
                .as_str()
                .is_some_and(|m| m.starts_with("DYNAMODB_TABLE_NAME:")),
            "{report}"
        );
        assert_eq!(report["errorType"], "Runtime.InvalidSettings");
        assert_eq!(error_type.as_deref(), Some("Runtime.InvalidSettings"));
    }
}

#[tokio::test]
async fn a_function_without_a_cursor_secret_fails_the_init_naming_the_variable() {
    let (code, stderr, report, error_type) = failed_start_with(|runtime| {
        let mut env = env_with(
            runtime,
            &[
                ("DYNAMODB_TABLE_NAME", "sessions"),
                ("API_TOKENS", "lambda-client-token-0123456789"),
            ],
        );
        env.retain(|(name, _)| name != CURSOR_SECRET.0);
        env
    })
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("error: SESSION_CURSOR_SECRET: is not set"),
        "{stderr}"
    );
    assert!(
        report.is_some_and(|r| r["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("openssl rand -base64 32"))),
        "the init error says how to make one"
    );
    assert_eq!(error_type.as_deref(), Some("Runtime.InvalidSettings"));
}

#[tokio::test]
async fn the_embedded_store_is_refused_at_start() {
    let (code, stderr, report, _) = failed_start(&[
        ("DYNAMODB_TABLE_NAME", "sessions"),
        ("SESSION_STORE", "embedded"),
    ])
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("SESSION_STORE: the Lambda function keeps sessions in DynamoDB only"),
        "{stderr}"
    );
    assert!(report.is_some_and(|r| {
        r["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("SESSION_STORE"))
    }));
}

#[tokio::test]
async fn an_unparsable_setting_is_refused_naming_the_variable() {
    let (code, stderr, report, _) = failed_start(&[
        ("DYNAMODB_TABLE_NAME", "sessions"),
        ("SESSION_TTL_HOURS", "soon"),
    ])
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("SESSION_TTL_HOURS"), "{stderr}");
    assert!(
        !stderr.contains("--help"),
        "no CLI advice in a function's log: {stderr}"
    );
    assert!(report.is_some_and(|r| {
        r["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("SESSION_TTL_HOURS"))
    }));
}

#[test]
fn outside_lambda_the_binary_names_what_is_missing_instead_of_panicking() {
    let mut function = Function::spawn(
        Path::new(BINARY),
        &[
            ("DYNAMODB_TABLE_NAME".to_owned(), "sessions".to_owned()),
            ("AUTH_DISABLED".to_owned(), "true".to_owned()),
        ],
    );
    let status = function.wait_exit(Duration::from_secs(20)).expect("exits");
    let stderr = function.stderr_lines().join("\n");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API: is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_is_not_http_is_an_invocation_error_and_the_function_serves_on() {
    let runtime = RuntimeApi::start().await;
    // Health needs no store: this runs without DynamoDB Local. Text logs (no format set).
    let mut function = Function::spawn(
        Path::new(BINARY),
        &env_with(
            &runtime,
            &[
                ("DYNAMODB_TABLE_NAME", "sessions"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
                ("AUTH_DISABLED", "true"),
            ],
        ),
    );
    match runtime
        .invoke(r#"{"detail-type": "Scheduled Event", "source": "aws.events"}"#)
        .await
    {
        Outcome::Error { payload, .. } => {
            assert!(
                payload["errorMessage"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{payload}"
            );
        }
        Outcome::Response { payload, .. } => panic!("a non-HTTP event was answered: {payload}"),
    }
    let health = call(&runtime, V2, &Call::new("GET", "/health")).await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    assert!(function.running());
    function.stop();

    let lines = function.stdout_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("sessions are kept in DynamoDB")),
        "{lines:?}"
    );
    assert!(
        log_lines(&lines)
            .iter()
            .all(|line| serde_json::from_str::<Value>(line).is_err()),
        "text logs unless Lambda asks for JSON: {lines:?}"
    );
    assert!(
        json_lines(&lines)
            .iter()
            .any(|doc| doc.get("_aws").is_some()),
        "metrics are EMF documents in either log format"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_log_level_wins_over_rust_log() {
    let runtime = RuntimeApi::start().await;
    let mut function = Function::spawn(
        Path::new(BINARY),
        &env_with(
            &runtime,
            &[
                ("DYNAMODB_TABLE_NAME", "sessions"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
                ("AUTH_DISABLED", "true"),
                ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
                ("RUST_LOG", "debug"),
            ],
        ),
    );
    let health = call(&runtime, V2, &Call::new("GET", "/health")).await;
    assert_eq!(health.status, 200);
    function.stop();
    let lines = function.stdout_lines();
    assert!(
        log_lines(&lines).is_empty(),
        "nothing below ERROR is logged: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_holds_on_lambda_as_on_the_server() {
    let Some(table) = Table::fresh("lambda-auth").await else {
        return;
    };
    let base = [
        ("DYNAMODB_TABLE_NAME", table.name.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", table.endpoint.as_str()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ];
    let create =
        || Call::new("POST", "/sessions").json("application/json", &json!({"userId": "auth-user"}));

    // No token configured and authentication not disabled: the server's protected mode would
    // let nobody in (a Lambda caller is never on loopback), so the function does not start.
    let (code, stderr, report, error_type) = failed_start(&base).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("API_TOKENS: no bearer tokens"), "{stderr}");
    assert!(
        report.is_some_and(|r| r["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("AUTH_DISABLED=true"))),
        "the init error says how to fix it"
    );
    assert_eq!(error_type.as_deref(), Some("Runtime.InvalidSettings"));

    // Tokens: the same 401/403/201 as the server.
    let runtime = RuntimeApi::start().await;
    let mut env = env_with(&runtime, &base);
    env.push((
        "API_TOKENS".to_owned(),
        "lambda-client-token-0123456789".to_owned(),
    ));
    env.push((
        "ADMIN_TOKENS".to_owned(),
        "lambda-admin-token-0123456789".to_owned(),
    ));
    let mut function = Function::spawn(Path::new(BINARY), &env);
    call(&runtime, V2, &create())
        .await
        .assert_problem(401, "unauthorized");
    let created = call(
        &runtime,
        V1,
        &create().header("authorization", "Bearer lambda-client-token-0123456789"),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    call(
        &runtime,
        V2,
        &Call::new("GET", "/sessions")
            .header("authorization", "Bearer lambda-client-token-0123456789"),
    )
    .await
    .assert_problem(403, "forbidden");
    let admin = call(
        &runtime,
        V2,
        &Call::new("GET", "/sessions")
            .header("authorization", "Bearer lambda-admin-token-0123456789"),
    )
    .await;
    assert_eq!(admin.status, 200);
    function.stop();
    let logs = function.stdout_lines().join("\n");
    assert!(
        !logs.contains("lambda-client-token-0123456789"),
        "tokens never reach the logs"
    );
}

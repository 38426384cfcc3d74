//! One table of request/response cases through both adapters: the server (the router under
//! `axum::serve` on a real loopback socket) and the Lambda path (events of every source
//! through the same router), each over its own fresh DynamoDB Local table. They must give the
//! same status, body and headers, once the values that legitimately differ (ids, timestamps,
//! cursors, session tokens, the stage prefix on `Location`) are normalised.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use session_lambda::LambdaApp;
use support::events::{Call, Source, event};
use support::{Table, invoke};

/// One request of the table. `{id1}`, `{id2}` (the sessions created by the first two cases),
/// `{token1}`, `{token2}` (their tokens, as last created or rotated), `{old-token1}` (the
/// token of session 1 before its last rotation) and `{cursor}` (the last `nextCursor` seen)
/// are filled in per adapter.
struct Case {
    method: &'static str,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    headers: &'static [(&'static str, &'static str)],
    body: Option<String>,
    /// Listing whose order depends on the ids (a table scan): compare its sessions sorted.
    unordered: bool,
    /// The bearer token sent (`None`: no Authorization header).
    token: Option<&'static str>,
}

/// Both adapters run with these tokens: authentication must behave the same on both.
const CLIENT_TOKEN: &str = "parity-client-token-1234567890";
const ADMIN_TOKEN: &str = "parity-admin-token-1234567890";

fn tokens() -> session_api::auth::Auth {
    session_api::auth::Auth::new(
        session_api::auth::TokenSources {
            client: Some(CLIENT_TOKEN.into()),
            admin: Some(ADMIN_TOKEN.into()),
            ..Default::default()
        },
        false,
        None,
    )
    .expect("tokens")
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];
const MERGE: &[(&str, &str)] = &[("content-type", "application/merge-patch+json")];
const NONE: &[(&str, &str)] = &[];
const TOKEN1: &[(&str, &str)] = &[("x-session-token", "{token1}")];
const TOKEN2: &[(&str, &str)] = &[("x-session-token", "{token2}")];

fn case(method: &'static str, path: &'static str) -> Case {
    Case {
        method,
        path,
        query: &[],
        headers: NONE,
        body: None,
        unordered: false,
        token: Some(ADMIN_TOKEN),
    }
}

fn cases() -> Vec<Case> {
    let big = "x".repeat(70_000);
    vec![
        Case {
            token: None,
            ..case("GET", "/health")
        },
        case("GET", "/ready"),
        Case {
            token: None,
            headers: JSON,
            body: Some(json!({"userId": "parity-user"}).to_string()),
            ..case("POST", "/sessions")
        },
        Case {
            token: Some("not-a-token"),
            ..case("GET", "/sessions/user/parity-user")
        },
        Case {
            token: Some(CLIENT_TOKEN),
            ..case("GET", "/sessions")
        },
        Case {
            headers: JSON,
            body: Some(
                json!({"userId": "parity-user", "data": {"a": 1}, "ttlSeconds": 3600}).to_string(),
            ),
            ..case("POST", "/sessions")
        },
        Case {
            headers: JSON,
            body: Some(json!({"userId": "parity-user", "data": {"b": [true, null]}}).to_string()),
            ..case("POST", "/sessions")
        },
        case("GET", "/sessions/{id1}"),
        Case {
            headers: &[("content-type", "application/json"), ("if-match", "\"1\"")],
            body: Some(json!({"data": {"a": 2}}).to_string()),
            ..case("PUT", "/sessions/{id1}")
        },
        Case {
            headers: &[("content-type", "application/json"), ("if-match", "\"1\"")],
            body: Some(json!({"data": {"a": 3}}).to_string()),
            ..case("PUT", "/sessions/{id1}")
        },
        Case {
            headers: MERGE,
            body: Some(json!({"c": 3, "a": null}).to_string()),
            ..case("PATCH", "/sessions/{id1}")
        },
        Case {
            headers: JSON,
            body: Some(json!({"c": 4}).to_string()),
            ..case("PATCH", "/sessions/{id1}")
        },
        case("POST", "/sessions/{id1}/refresh"),
        Case {
            headers: JSON,
            body: Some(json!({"ttlSeconds": 0}).to_string()),
            ..case("POST", "/sessions/{id1}/refresh")
        },
        Case {
            headers: TOKEN1,
            token: Some(CLIENT_TOKEN),
            ..case("GET", "/sessions/current")
        },
        Case {
            headers: &[
                ("content-type", "application/json"),
                ("x-session-token", "{token1}"),
            ],
            body: Some(json!({"data": {"by": "token"}}).to_string()),
            ..case("PUT", "/sessions/current")
        },
        Case {
            headers: &[
                ("content-type", "application/merge-patch+json"),
                ("x-session-token", "{token1}"),
                ("if-match", "\"9\""),
            ],
            body: Some(json!({"more": 1}).to_string()),
            ..case("PATCH", "/sessions/current")
        },
        Case {
            headers: &[
                ("content-type", "application/merge-patch+json"),
                ("x-session-token", "{token1}"),
            ],
            body: Some(json!({"more": 1}).to_string()),
            ..case("PATCH", "/sessions/current")
        },
        Case {
            headers: &[
                ("content-type", "application/json"),
                ("x-session-token", "{token1}"),
            ],
            body: Some(json!({"ttlSeconds": 7200}).to_string()),
            ..case("POST", "/sessions/current/refresh")
        },
        Case {
            headers: TOKEN1,
            ..case("POST", "/sessions/current/rotate")
        },
        Case {
            headers: &[("x-session-token", "{old-token1}")],
            ..case("GET", "/sessions/current")
        },
        Case {
            headers: &[("x-session-token", "{old-token1}")],
            ..case("DELETE", "/sessions/current")
        },
        Case {
            headers: TOKEN1,
            ..case("GET", "/sessions/current")
        },
        // Forward auth, as a gateway calls it with its client token: the live token (header,
        // then cookie, on a path below the route), then the rotated-away one.
        Case {
            headers: TOKEN1,
            token: Some(CLIENT_TOKEN),
            ..case("GET", "/auth/forward")
        },
        Case {
            headers: &[("cookie", "theme=dark; session={token1}")],
            token: Some(CLIENT_TOKEN),
            ..case("POST", "/auth/forward/app/orders")
        },
        Case {
            headers: &[("x-session-token", "{old-token1}")],
            token: Some(CLIENT_TOKEN),
            ..case("GET", "/auth/forward")
        },
        case("GET", "/sessions/current"),
        Case {
            headers: &[("x-session-token", "not-a-session-token")],
            ..case("GET", "/sessions/current")
        },
        case("POST", "/sessions/{id2}/rotate"),
        Case {
            headers: TOKEN2,
            ..case("DELETE", "/sessions/current")
        },
        Case {
            headers: TOKEN2,
            ..case("GET", "/sessions/current")
        },
        Case {
            headers: JSON,
            body: Some("{\"userId\":".to_owned()),
            ..case("POST", "/sessions")
        },
        Case {
            body: Some(json!({"userId": "parity-user"}).to_string()),
            ..case("POST", "/sessions")
        },
        Case {
            headers: JSON,
            body: Some(json!({"userId": "parity-user", "data": [1, 2]}).to_string()),
            ..case("POST", "/sessions")
        },
        Case {
            headers: JSON,
            body: Some(json!({"userId": "parity-user", "data": {"big": big}}).to_string()),
            ..case("POST", "/sessions")
        },
        case("GET", "/sessions/not-a-session-id"),
        Case {
            query: &[("limit", "10")],
            unordered: true,
            ..case("GET", "/sessions")
        },
        Case {
            query: &[("cursor", "Zm9yZ2Vk")],
            ..case("GET", "/sessions")
        },
        Case {
            query: &[("limit", "0")],
            ..case("GET", "/sessions")
        },
        Case {
            query: &[("limit", "1")],
            ..case("GET", "/sessions/user/parity-user")
        },
        Case {
            query: &[("limit", "1"), ("cursor", "{cursor}")],
            ..case("GET", "/sessions/user/parity-user")
        },
        case("PUT", "/sessions"),
        case("GET", "/no/such/route"),
        case("DELETE", "/sessions/{id1}"),
        case("DELETE", "/sessions/{id1}"),
        case("GET", "/sessions/{id1}"),
        case("DELETE", "/sessions/user/parity-user"),
        Case {
            query: &[("limit", "10")],
            ..case("GET", "/sessions")
        },
    ]
}

/// What one adapter answered.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// The headers compared between adapters (`X-Request-Id` is only checked for presence).
const COMPARED_HEADERS: [&str; 8] = [
    "content-type",
    "etag",
    "cache-control",
    "location",
    "allow",
    "www-authenticate",
    "x-session-id",
    "x-session-user-id",
];

/// Per-adapter state: the ids it created, their tokens, and the last cursor it returned.
#[derive(Default)]
struct Run {
    ids: Vec<String>,
    /// The current token of each created session, and the one before its last rotation.
    tokens: Vec<(String, Option<String>)>,
    cursor: Option<String>,
}

impl Run {
    fn fill(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (n, id) in self.ids.iter().enumerate() {
            text = text.replace(&format!("{{id{}}}", n + 1), id);
        }
        for (n, (token, old)) in self.tokens.iter().enumerate() {
            text = text.replace(&format!("{{token{}}}", n + 1), token);
            if let Some(old) = old {
                text = text.replace(&format!("{{old-token{}}}", n + 1), old);
            }
        }
        if let Some(cursor) = &self.cursor {
            text = text.replace("{cursor}", cursor);
        }
        text
    }

    /// Records what later cases need and returns the comparable form of the answer.
    fn observe(&mut self, case: &Case, answer: &Answer, location_prefix: &str) -> Value {
        let mut body = if answer.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into()))
        };
        if case.method == "POST" && case.path == "/sessions" && answer.status == 201 {
            self.ids.push(
                body["id"]
                    .as_str()
                    .expect("a created session has an id")
                    .to_owned(),
            );
            self.tokens.push((token_of(&body), None));
        }
        if case.path.ends_with("/rotate") && answer.status == 200 {
            let new = token_of(&body);
            let n = self
                .ids
                .iter()
                .position(|id| body["id"] == id.as_str())
                .expect("a rotated session was created here");
            let old = std::mem::replace(&mut self.tokens[n].0, new);
            self.tokens[n].1 = Some(old);
        }
        if let Some(cursor) = body.get("nextCursor").and_then(Value::as_str) {
            self.cursor = Some(cursor.to_owned());
        }
        self.normalise(&mut body);
        if case.unordered
            && let Some(sessions) = body.get_mut("sessions").and_then(Value::as_array_mut)
        {
            sessions.sort_by_key(|s| s["id"].to_string());
        }
        assert!(
            answer
                .headers
                .get("x-request-id")
                .is_some_and(|id| !id.is_empty()),
            "X-Request-Id on every answer"
        );
        let mut headers = serde_json::Map::new();
        for name in COMPARED_HEADERS {
            if let Some(value) = answer.headers.get(name) {
                let mut value = value.clone();
                if name == "location" {
                    value = value
                        .strip_prefix(location_prefix)
                        .unwrap_or_else(|| {
                            panic!("Location {value} starts with {location_prefix:?}")
                        })
                        .to_owned();
                }
                headers.insert(name.to_owned(), Value::String(self.replace_ids(&value)));
            }
        }
        json!({"status": answer.status, "headers": headers, "body": body})
    }

    fn replace_ids(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (n, id) in self.ids.iter().enumerate() {
            text = text.replace(id, &format!("<id{}>", n + 1));
        }
        text
    }

    fn normalise(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match key.as_str() {
                        "createdAt" | "updatedAt" | "expiresAt" if value.is_string() => {
                            *value = json!("<timestamp>");
                        }
                        "ttl" if value.is_number() => *value = json!("<ttl>"),
                        "nextCursor" if value.is_string() => *value = json!("<cursor>"),
                        "token" if value.is_string() => *value = json!("<token>"),
                        _ => self.normalise(value),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.normalise(item)),
            Value::String(text) => *text = self.replace_ids(text),
            _ => {}
        }
    }
}

/// The `token` of a create or rotate answer, checked for its form: `<id>.<secret>`.
fn token_of(body: &Value) -> String {
    let token = body["token"]
        .as_str()
        .expect("the answer carries the token");
    let id = body["id"].as_str().expect("id");
    assert!(
        token.len() == 80 && token.starts_with(&format!("{id}.")),
        "a token is `<id>.<43 characters>`: {token}"
    );
    token.to_owned()
}

/// Runs every case against the server, over real TCP.
async fn through_the_server(table: &Table) -> Vec<Value> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = table
        .router_with(tokens())
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let mut run = Run::default();
    let mut observed = Vec::new();
    for case in cases() {
        let mut url = format!("{base}{}", run.fill(case.path));
        if !case.query.is_empty() {
            let query: Vec<String> = case
                .query
                .iter()
                .map(|(k, v)| format!("{k}={}", support::events::percent_encode(&run.fill(v))))
                .collect();
            url = format!("{url}?{}", query.join("&"));
        }
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("method");
        let mut request = http.request(method, &url);
        for (name, value) in case.headers {
            request = request.header(*name, run.fill(value));
        }
        if let Some(token) = case.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &case.body {
            request = request.body(body.clone());
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let body = response.bytes().await.expect("body").to_vec();
        let answer = Answer {
            status,
            headers,
            body,
        };
        observed.push(run.observe(&case, &answer, ""));
        pause_after_create(&case).await;
    }
    server.abort();
    observed
}

/// Runs every case as events of `source` through the Lambda path.
async fn through_lambda(table: &Table, source: Source) -> Vec<Value> {
    let app = LambdaApp::new(table.router_with(tokens()));
    let mut run = Run::default();
    let mut observed = Vec::new();
    for (n, case) in cases().into_iter().enumerate() {
        let mut call = Call::new(case.method, &run.fill(case.path));
        for (name, value) in case.query {
            call = call.query(name, &run.fill(value));
        }
        for (name, value) in case.headers {
            call = call.header(name, &run.fill(value));
        }
        if let Some(token) = case.token {
            call = call.header("authorization", &format!("Bearer {token}"));
        }
        if let Some(body) = &case.body {
            call = call.body(body);
            if source == Source::Alb {
                call = call.base64();
            }
        }
        let payload = invoke(
            &app,
            &event(source, &call, &format!("parity-{n}")).to_string(),
        )
        .await;
        let reply = support::Reply::decode(source.shape(), payload);
        let answer = Answer {
            status: reply.status,
            headers: reply.headers.iter().cloned().collect(),
            body: reply.body.clone(),
        };
        observed.push(run.observe(&case, &answer, &source.location_prefix()));
        pause_after_create(&case).await;
    }
    observed
}

/// Two sessions created in the same millisecond would have no defined order in the per-user
/// listing (newest first); a pause keeps that order the same in every run.
async fn pause_after_create(case: &Case) {
    if case.method == "POST" && case.path == "/sessions" {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_lambda_give_the_same_answers() {
    let Some(server_table) = Table::fresh("parity-server").await else {
        return;
    };
    let expected = through_the_server(&server_table).await;
    assert_eq!(expected.len(), cases().len());
    // The table is not trivially passing: it has successes and every kind of client error.
    let statuses: Vec<u64> = expected
        .iter()
        .map(|o| o["status"].as_u64().expect("status"))
        .collect();
    for status in [200, 201, 204, 400, 404, 405, 412, 413, 415] {
        assert!(
            statuses.contains(&status),
            "the table covers {status}: {statuses:?}"
        );
    }

    // The session-token cases answer as the contract says, in order: read, replace, a stale
    // If-Match, patch, refresh, rotate; then the rotated-away token reads and deletes nothing,
    // the new one reads; no header and a text that is no token are 400; a rotation by id, a
    // sign-out by its new token, and a read after it.
    let by_token: Vec<u64> = cases()
        .iter()
        .zip(&expected)
        .filter(|(case, _)| case.path.contains("/current") || case.path.ends_with("/rotate"))
        .map(|(_, answer)| answer["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(
        by_token,
        [
            200, 200, 412, 200, 200, 200, 404, 404, 200, 400, 400, 200, 204, 404
        ]
    );

    // Forward auth: the live token by header and by cookie, then the rotated-away one.
    let forward: Vec<&Value> = cases()
        .iter()
        .zip(&expected)
        .filter(|(case, _)| case.path.starts_with("/auth/forward"))
        .map(|(_, answer)| answer)
        .collect();
    let statuses: Vec<u64> = forward
        .iter()
        .map(|answer| answer["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, [200, 200, 401]);
    for answer in &forward[..2] {
        assert_eq!(answer["headers"]["x-session-id"], "<id1>", "{answer}");
    }
    assert_eq!(
        forward[2]["headers"]["www-authenticate"],
        r#"Session realm="session-api""#
    );

    for source in [
        Source::Http { stage: "$default" },
        Source::Rest { stage: "prod" },
        Source::Http { stage: "beta" },
        Source::FunctionUrl,
        Source::Alb,
    ] {
        let table = Table::fresh("parity-lambda").await.expect("DynamoDB Local");
        let observed = through_lambda(&table, source).await;
        for ((n, case), (server, lambda)) in cases()
            .iter()
            .enumerate()
            .zip(expected.iter().zip(observed.iter()))
        {
            assert_eq!(
                lambda, server,
                "case {n} ({} {}) through {source:?} differs from the server",
                case.method, case.path
            );
        }
    }
}

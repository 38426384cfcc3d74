//! The real `session-authorizer` binary under the Runtime API emulator of session-lambda's
//! tests, against DynamoDB Local: REST API REQUEST events and HTTP API payload 2.0 events
//! (fixtures in `fixtures/`) with a valid, malformed, unknown, rotated-away, expired or missing
//! token, the cookie alone, and the header winning over the cookie.

#[path = "../../session-lambda/tests/support/runtime_api.rs"]
mod runtime_api;
#[path = "../../session-lambda/tests/support/table.rs"]
mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use session_core::store::dynamodb::DynamoDbStore;
use session_core::{
    Address, Clock, CursorCodec, ExpiryPolicy, ManualClock, ServiceConfig, SessionData, SessionId,
    SessionService, SessionToken, SystemClock, Timestamp,
};

use runtime_api::{Function, Outcome, RuntimeApi, lambda_environment};
use table::Table;

/// The binary cargo built for these tests.
const BINARY: &str = env!("CARGO_BIN_EXE_session-authorizer");

/// The stage-wide resource the policy must allow for the fixture's methodArn.
const STAGE_RESOURCE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*";

const COOKIE: &str = "__Host-sid";

/// The fixture `name.json`.
fn fixture(name: &str) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// What a request carries: `X-Session-Token` (in the given case) and the cookie header.
#[derive(Default, Clone, Copy)]
struct Presented<'a> {
    header: Option<(&'a str, &'a str)>,
    cookie: Option<&'a str>,
}

impl<'a> Presented<'a> {
    fn header(token: &'a str) -> Self {
        Self {
            header: Some(("X-Session-Token", token)),
            cookie: None,
        }
    }
    fn cookie(token: &'a str) -> Self {
        Self {
            header: None,
            cookie: Some(token),
        }
    }
}

/// The REST API fixture with the token in `headers` and `multiValueHeaders`.
fn rest_event(presented: Presented<'_>) -> String {
    let mut event = fixture("rest-request");
    let mut add = |name: &str, value: String| {
        event["headers"][name] = json!(value);
        event["multiValueHeaders"][name] = json!([value]);
    };
    if let Some((name, token)) = presented.header {
        add(name, token.to_owned());
    }
    if let Some(token) = presented.cookie {
        add("Cookie", format!("theme=dark; {COOKIE}={token}"));
    }
    event.to_string()
}

/// The HTTP API fixture: the token header in `headers`, the cookie in `cookies`, where
/// payload 2.0 puts them.
fn http_event(presented: Presented<'_>) -> String {
    let mut event = fixture("http-v2");
    if let Some((name, token)) = presented.header {
        event["headers"][name.to_ascii_lowercase()] = json!(token);
    }
    if let Some(token) = presented.cookie {
        event["cookies"] = json!(["theme=dark", format!("{COOKIE}={token}")]);
    }
    event.to_string()
}

/// The function under test, over `table`, with sliding expiry on.
struct Authorizer {
    runtime: RuntimeApi,
    _function: Function,
}

impl Authorizer {
    async fn start(table: &Table) -> Self {
        let runtime = RuntimeApi::start().await;
        let mut env = lambda_environment(&runtime.endpoint());
        for (name, value) in [
            ("DYNAMODB_TABLE_NAME", table.name.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", table.endpoint.as_str()),
            (
                "SESSION_CURSOR_SECRET",
                "ilh0JpSJMUfOkWTZSEaKw4h8PsSqhrR6n847O7JZBK0=",
            ),
            ("SESSION_COOKIE_NAME", COOKIE),
            ("SESSION_SLIDING", "true"),
            ("DYNAMODB_MAX_ATTEMPTS", "1"),
        ] {
            env.push((name.to_owned(), value.to_owned()));
        }
        let function = Function::spawn(Path::new(BINARY), &env);
        Self {
            runtime,
            _function: function,
        }
    }

    async fn invoke(&self, event: &str) -> Outcome {
        self.runtime.invoke(event).await
    }
}

/// Sessions on `table`: the service the API would use, on a clock of our choosing.
fn service(table: &Table, clock: Arc<dyn Clock>) -> SessionService {
    let store = Arc::new(DynamoDbStore::new(table.client.clone(), table.name.clone()));
    let config = ServiceConfig {
        policy: ExpiryPolicy::default(),
        max_data_bytes: session_core::data::DEFAULT_MAX_DATA_BYTES,
        cursors: CursorCodec::from_secret(b"session-authorizer-tests"),
        max_page_bytes: session_core::service::DEFAULT_MAX_PAGE_BYTES,
        user_limit: None,
    };
    SessionService::new(store, clock, config)
}

/// Tokens of every kind the tests present, and the live session's expiry as created.
struct Tokens {
    live: String,
    live_id: String,
    live_expires_at: String,
    rotated_away: String,
    expired: String,
    unknown: String,
}

async fn tokens(table: &Table) -> Tokens {
    let now = SystemClock.now();
    // Created ten minutes ago, so that the authorizer's read is due to extend it.
    let earlier = Arc::new(ManualClock::new(Timestamp::from_millis(
        now.millis() - 600_000,
    )));
    let sessions = service(table, earlier.clone());
    let (live, token) = sessions
        .create("alice", SessionData::default(), Some(3600))
        .await
        .expect("create");
    let (_, old) = sessions
        .create("bob", SessionData::default(), Some(3600))
        .await
        .expect("create");
    sessions
        .rotate(Address::Token(&old.to_string()))
        .await
        .expect("rotate");
    // An hour-long session created two hours ago.
    earlier.set(Timestamp::from_millis(now.millis() - 7_200_000));
    let (_, expired) = sessions
        .create("carol", SessionData::default(), Some(3600))
        .await
        .expect("create");
    let (gone, unknown) = sessions
        .create("dave", SessionData::default(), Some(3600))
        .await
        .expect("create");
    sessions
        .delete(Address::Id(&gone.id.to_string()))
        .await
        .expect("delete");
    Tokens {
        live: token.to_string(),
        live_id: live.id.to_string(),
        live_expires_at: live.expires_at().to_rfc3339(),
        rotated_away: old.to_string(),
        expired: expired.to_string(),
        unknown: unknown.to_string(),
    }
}

/// Asserts the `Unauthorized` error a REST API turns into a 401.
#[track_caller]
fn assert_unauthorized(outcome: Outcome, case: &str) {
    match outcome {
        Outcome::Error { payload, .. } => {
            assert_eq!(payload["errorMessage"], "Unauthorized", "{case}: {payload}");
        }
        Outcome::Response { payload, .. } => panic!("{case}: allowed: {payload}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_request_events_get_a_stage_policy_or_unauthorized() {
    let Some(table) = Table::fresh("authorizer-rest").await else {
        return;
    };
    let tokens = tokens(&table).await;
    let authorizer = Authorizer::start(&table).await;

    let allowed = authorizer
        .invoke(&rest_event(Presented::header(&tokens.live)))
        .await
        .payload();
    assert_eq!(allowed["principalId"], "alice", "{allowed}");
    assert_eq!(
        allowed["policyDocument"],
        json!({"Version": "2012-10-17", "Statement": [{"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [STAGE_RESOURCE]}]}),
        "{allowed}"
    );
    let context = &allowed["context"];
    assert_eq!(context["userId"], "alice", "{allowed}");
    assert_eq!(context["sessionId"], tokens.live_id.as_str(), "{allowed}");
    // Sliding expiry: the read extended the session, and the extension is stored.
    let expires_at = context["expiresAt"].as_str().expect("expiresAt").to_owned();
    assert!(
        expires_at > tokens.live_expires_at,
        "{expires_at} vs {}",
        tokens.live_expires_at
    );
    let stored = service(&table, Arc::new(SystemClock))
        .get(Address::Token(&tokens.live))
        .await
        .expect("still live");
    assert_eq!(stored.expires_at().to_rfc3339(), expires_at);

    // Any case of the header name; the cookie alone.
    for (case, presented) in [
        (
            "lower-case header",
            Presented {
                header: Some(("x-session-token", &tokens.live)),
                cookie: None,
            },
        ),
        ("cookie only", Presented::cookie(&tokens.live)),
        (
            "header beats a bad cookie",
            Presented {
                header: Some(("X-SESSION-TOKEN", &tokens.live)),
                cookie: Some("nonsense"),
            },
        ),
    ] {
        let payload = authorizer.invoke(&rest_event(presented)).await.payload();
        assert_eq!(payload["principalId"], "alice", "{case}: {payload}");
    }

    for (case, presented) in [
        ("missing", Presented::default()),
        ("malformed", Presented::header("not-a-token")),
        ("unknown", Presented::header(&tokens.unknown)),
        ("rotated away", Presented::header(&tokens.rotated_away)),
        ("expired", Presented::header(&tokens.expired)),
        ("expired cookie", Presented::cookie(&tokens.expired)),
        (
            "a bad header beats a good cookie",
            Presented {
                header: Some(("X-Session-Token", &tokens.rotated_away)),
                cookie: Some(&tokens.live),
            },
        ),
    ] {
        assert_unauthorized(authorizer.invoke(&rest_event(presented)).await, case);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_events_get_simple_responses() {
    let Some(table) = Table::fresh("authorizer-http").await else {
        return;
    };
    let tokens = tokens(&table).await;
    let authorizer = Authorizer::start(&table).await;

    for (case, presented) in [
        ("header", Presented::header(&tokens.live)),
        ("cookie only", Presented::cookie(&tokens.live)),
        (
            "header beats a bad cookie",
            Presented {
                header: Some(("X-Session-Token", &tokens.live)),
                cookie: Some(&tokens.expired),
            },
        ),
    ] {
        let payload = authorizer.invoke(&http_event(presented)).await.payload();
        assert_eq!(payload["isAuthorized"], true, "{case}: {payload}");
        let context = &payload["context"];
        assert_eq!(context["userId"], "alice", "{case}: {payload}");
        assert_eq!(
            context["sessionId"],
            tokens.live_id.as_str(),
            "{case}: {payload}"
        );
        assert!(
            context["expiresAt"]
                .as_str()
                .is_some_and(|at| at > tokens.live_expires_at.as_str()),
            "{case}: {payload}"
        );
    }

    for (case, presented) in [
        ("missing", Presented::default()),
        ("malformed", Presented::cookie("%%%")),
        ("unknown", Presented::header(&tokens.unknown)),
        ("rotated away", Presented::header(&tokens.rotated_away)),
        ("expired", Presented::cookie(&tokens.expired)),
        (
            "a bad header beats a good cookie",
            Presented {
                header: Some(("X-Session-Token", "x")),
                cookie: Some(&tokens.live),
            },
        ),
    ] {
        let payload = authorizer.invoke(&http_event(presented)).await.payload();
        assert_eq!(
            payload,
            json!({"isAuthorized": false, "context": {}}),
            "{case}"
        );
    }
}

/// A store that cannot be reached is a fault (API Gateway answers 500), not a denial: the
/// client is not logged out by an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_fault_is_not_unauthorized() {
    let table = Table::unreachable();
    let authorizer = Authorizer::start(&table).await;
    let token = SessionToken::generate(SessionId::generate())
        .expect("a token")
        .to_string();
    for event in [
        rest_event(Presented::header(&token)),
        http_event(Presented::header(&token)),
    ] {
        match authorizer.invoke(&event).await {
            Outcome::Error { payload, .. } => {
                assert_eq!(payload["errorType"], "StoreUnavailable", "{payload}");
                assert_ne!(payload["errorMessage"], "Unauthorized", "{payload}");
            }
            Outcome::Response { payload, .. } => panic!("answered despite the store: {payload}"),
        }
    }
}

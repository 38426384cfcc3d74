//! Every route of the contract, as real event payloads of each event source (the files under
//! `tests/fixtures/`), through the Lambda path in process, over a fresh DynamoDB Local table:
//! status, body, headers, the stored item, and the response shape each source expects. The
//! routes by token (`/sessions/current*`, header `X-Session-Token`) and both rotations walk a
//! session of their own, from its create answer's token to sign-out.

mod support;

use std::collections::BTreeSet;

use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use session_api::ClientAddr;
use session_core::PresentedToken;
use session_lambda::LambdaApp;
use session_lambda::adapter::prepare;
use support::events::Source;
use support::{Reply, Table, fixture, fixtures_dir, invoke};

/// The fixture directories and the source each one holds.
const SOURCES: [(&str, Source); 4] = [
    ("rest-v1", Source::Rest { stage: "prod" }),
    ("http-v2", Source::Http { stage: "$default" }),
    ("function-url", Source::FunctionUrl),
    ("alb", Source::Alb),
];

/// Every fixture each source has: name, method, routed path, query.
const ROUTES: [(&str, &str, &str, &str); 21] = [
    ("health", "GET", "/health", ""),
    ("ready", "GET", "/ready", ""),
    ("create-session", "POST", "/sessions", ""),
    ("list-sessions", "GET", "/sessions", "limit=1"),
    (
        "list-sessions-next",
        "GET",
        "/sessions",
        "limit=1&cursor=CURSOR",
    ),
    ("get-session", "GET", "/sessions/ID", ""),
    ("replace-session", "PUT", "/sessions/ID", ""),
    ("patch-session", "PATCH", "/sessions/ID", ""),
    ("refresh-session", "POST", "/sessions/ID/refresh", ""),
    ("delete-session", "DELETE", "/sessions/ID", ""),
    ("rotate-session", "POST", "/sessions/ID/rotate", ""),
    ("get-current-session", "GET", "/sessions/current", ""),
    ("replace-current-session", "PUT", "/sessions/current", ""),
    ("patch-current-session", "PATCH", "/sessions/current", ""),
    (
        "refresh-current-session",
        "POST",
        "/sessions/current/refresh",
        "",
    ),
    (
        "rotate-current-session",
        "POST",
        "/sessions/current/rotate",
        "",
    ),
    ("delete-current-session", "DELETE", "/sessions/current", ""),
    (
        "list-user-sessions",
        "GET",
        "/sessions/user/fixture-user",
        "limit=1",
    ),
    (
        "list-user-sessions-next",
        "GET",
        "/sessions/user/fixture-user",
        "limit=1&cursor=CURSOR",
    ),
    (
        "revoke-user-sessions",
        "DELETE",
        "/sessions/user/fixture-user",
        "",
    ),
    ("unknown-route", "GET", "/no/such/route", ""),
];

const PLACEHOLDERS: [(&str, &str); 3] = [
    ("SESSION_ID", "ID"),
    ("SESSION_TOKEN", "TOKEN"),
    ("CURSOR", "CURSOR"),
];

#[test]
fn each_source_has_a_fixture_for_every_route_and_nothing_else() {
    let expected: BTreeSet<String> = ROUTES.iter().map(|r| format!("{}.json", r.0)).collect();
    for (dir, _) in SOURCES {
        let found: BTreeSet<String> = std::fs::read_dir(fixtures_dir().join(dir))
            .expect("fixture directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(found, expected, "fixtures of {dir}");
    }
}

#[test]
fn every_fixture_parses_as_its_source_and_routes_without_the_stage() {
    for (dir, source) in SOURCES {
        for (name, method, path, query) in ROUTES {
            let text = fixture(dir, name, &PLACEHOLDERS);
            let request = lambda_http::request::from_str(&text)
                .unwrap_or_else(|e| panic!("{dir}/{name} is not an HTTP event: {e}"));
            let context = request.request_context_ref().expect("a request context");
            let matches = match (source, context) {
                (Source::Rest { .. }, RequestContext::ApiGatewayV1(c)) => {
                    c.stage.as_deref() == Some("prod")
                }
                (Source::Http { .. } | Source::FunctionUrl, RequestContext::ApiGatewayV2(c)) => {
                    c.stage.as_deref() == Some("$default")
                }
                (Source::Alb, RequestContext::Alb(_)) => true,
                _ => false,
            };
            assert!(matches, "{dir}/{name} parsed as {context:?}");
            if let Source::Rest { .. } = source {
                // What lambda_http makes of a REST event on its own: the stage in the path.
                assert_eq!(request.uri().path(), format!("/prod{path}"), "{dir}/{name}");
            }

            let (request, _) = prepare(request);
            assert_eq!(request.method().as_str(), method, "{dir}/{name}");
            assert_eq!(request.uri().path(), path, "{dir}/{name}: routed path");
            // Sources that pass query parameters as a map do not keep their order.
            let pairs = |q: &str| -> BTreeSet<String> {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(
                pairs(request.uri().query().unwrap_or("")),
                pairs(query),
                "{dir}/{name}: query"
            );
            assert_eq!(
                request.extensions().get::<ClientAddr>(),
                Some(&ClientAddr(source.client_ip().parse().expect("ip"))),
                "{dir}/{name}: client address"
            );
            // The token travels in its header to the routes by token, and to no other route.
            assert_eq!(
                request
                    .headers()
                    .get("x-session-token")
                    .and_then(|v| v.to_str().ok()),
                path.starts_with("/sessions/current").then_some("TOKEN"),
                "{dir}/{name}: X-Session-Token"
            );
            if let Some(content_type) = request.headers().get("content-type") {
                // Every body, base64-encoded in the event or not, arrives as the JSON it was.
                let body: Value = serde_json::from_slice(request.body().as_ref())
                    .unwrap_or_else(|e| panic!("{dir}/{name}: body is not JSON: {e}"));
                assert!(body.is_object(), "{dir}/{name}");
                assert!(content_type.to_str().is_ok_and(|t| t.contains("json")));
            }
        }
    }
}

/// Sends fixtures of one source through the Lambda path.
struct Walk {
    app: LambdaApp,
    dir: &'static str,
    source: Source,
}

impl Walk {
    async fn send(&self, name: &str, substitutions: &[(&str, &str)]) -> Reply {
        let event = fixture(self.dir, name, substitutions);
        let reply = Reply::decode(self.source.shape(), invoke(&self.app, &event).await);
        assert!(
            reply
                .header("x-request-id")
                .is_some_and(|id| !id.is_empty()),
            "every response carries X-Request-Id: {}",
            reply.raw
        );
        reply
    }
}

#[track_caller]
fn assert_session_headers(reply: &Reply, version: u64) {
    assert_eq!(
        reply.header("etag"),
        Some(format!("\"{version}\"").as_str()),
        "{}",
        reply.raw
    );
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{}",
        reply.raw
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{}",
        reply.raw
    );
    // JSON is text: no source should receive it base64-encoded.
    assert_eq!(reply.raw["isBase64Encoded"], false, "{}", reply.raw);
}

fn number(value: &aws_sdk_dynamodb::types::AttributeValue) -> i64 {
    value.as_n().expect("a number").parse().expect("an integer")
}

/// The `token` of a create or rotate answer, checked for its form: `<id>.<secret>` of `id`.
#[track_caller]
fn token_of(body: &Value, id: &str) -> String {
    let token = body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token in {body}"));
    assert_eq!(
        token.split_once('.').map(|(head, _)| head),
        Some(id),
        "the token names its session"
    );
    token.to_owned()
}

/// Asserts that the item of `id` keeps, as `secretHash`, the hash of `token`'s secret.
async fn assert_stored_hash_of(table: &Table, id: &str, token: &str) {
    let item = table.item(id).await.expect("stored");
    let stored = item["secretHash"].as_b().expect("secretHash is binary");
    let presented = PresentedToken::parse(token).expect("a token");
    assert_eq!(stored.as_ref(), presented.hash.as_bytes());
}

/// The session fields a rotation keeps.
const KEPT_BY_ROTATION: [&str; 7] = [
    "id",
    "userId",
    "data",
    "createdAt",
    "expiresAt",
    "ttl",
    "version",
];

/// Checks a rotation's answer against the session before it and returns the new token, after
/// proving through the same source that the `old` token neither reads nor signs out any more
/// while the new one opens the session.
async fn rotated(walk: &Walk, table: &Table, reply: &Reply, before: &Value, old: &str) -> String {
    assert_eq!(reply.status, 200, "{}", reply.raw);
    let version = before["version"].as_u64().expect("version");
    assert_session_headers(reply, version);
    let body = reply.json();
    let id = before["id"].as_str().expect("id");
    let new = token_of(&body, id);
    assert_ne!(new, old, "a rotation gives a new token");
    for field in KEPT_BY_ROTATION {
        assert_eq!(body[field], before[field], "rotation keeps {field}");
    }
    assert_stored_hash_of(table, id, &new).await;

    walk.send("get-current-session", &[("SESSION_TOKEN", old)])
        .await
        .assert_problem(404, "session_not_found");
    walk.send("delete-current-session", &[("SESSION_TOKEN", old)])
        .await
        .assert_problem(404, "session_not_found");
    assert!(
        table.item(id).await.is_some(),
        "the old token signs nobody out"
    );
    let got = walk
        .send("get-current-session", &[("SESSION_TOKEN", &new)])
        .await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(got.json()["id"], id, "{}", got.raw);
    new
}

/// Pages through a listing with the `first` and `next` fixtures and returns the ids seen.
async fn walk_pages(walk: &Walk, first: &str, next: &str) -> Vec<String> {
    let page = walk.send(first, &[]).await;
    assert_eq!(page.status, 200, "{}", page.raw);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let body = page.json();
    assert_eq!(body["count"], 1, "{body}");
    let cursor = body["nextCursor"].as_str().expect("a next page").to_owned();
    let mut ids = vec![body["sessions"][0]["id"].as_str().expect("id").to_owned()];

    let page = walk.send(next, &[("CURSOR", &cursor)]).await;
    assert_eq!(page.status, 200, "{}", page.raw);
    let body = page.json();
    assert_eq!(body["count"], 1, "{body}");
    ids.push(body["sessions"][0]["id"].as_str().expect("id").to_owned());
    ids.sort();
    ids
}

async fn walk_every_route(dir: &'static str, source: Source) {
    let Some(table) = Table::fresh("lambda-fixtures").await else {
        return;
    };
    let walk = Walk {
        app: LambdaApp::new(table.router()),
        dir,
        source,
    };
    let prefix = source.location_prefix();

    // Probes.
    let health = walk.send("health", &[]).await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let ready = walk.send("ready", &[]).await;
    assert_eq!(
        (ready.status, ready.json()),
        (200, json!({"status": "ready"})),
        "{}",
        ready.raw
    );

    // Create two sessions of the same user (the fixture sends the same body twice).
    let mut ids = Vec::new();
    for _ in 0..2 {
        let created = walk.send("create-session", &[]).await;
        assert_eq!(created.status, 201, "{}", created.raw);
        assert_session_headers(&created, 1);
        let body = created.json();
        let id = body["id"].as_str().expect("id").to_owned();
        assert_eq!(
            created.header("location"),
            Some(format!("{prefix}/sessions/{id}").as_str()),
            "Location resolves against the URL the client used"
        );
        assert_eq!(body["userId"], "fixture-user");
        assert_eq!(body["data"], json!({"theme": "dark", "cart": [1, 2]}));
        assert_eq!(body["version"], 1);

        let item = table.item(&id).await.expect("stored");
        assert_eq!(item["userId"].as_s().expect("S"), "fixture-user");
        let data = item["data"].as_m().expect("data is a native map");
        assert_eq!(data["theme"].as_s().expect("S"), "dark");
        assert_eq!(number(&item["ttl"]), body["ttl"].as_i64().expect("ttl"));
        assert_eq!(number(&item["ttlSeconds"]), 3600);
        ids.push(id);
    }
    let id = ids[0].clone();
    let with_id = [("SESSION_ID", id.as_str())];

    // Read.
    let got = walk.send("get-session", &with_id).await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_session_headers(&got, 1);
    assert_eq!(
        got.header("x-request-id"),
        Some("fixture-get-0001"),
        "the caller's id is echoed"
    );
    assert_eq!(got.json()["id"], id.as_str());

    // Replace with If-Match "1"; the same request again is stale.
    let replaced = walk.send("replace-session", &with_id).await;
    assert_eq!(replaced.status, 200, "{}", replaced.raw);
    assert_session_headers(&replaced, 2);
    assert_eq!(
        replaced.json()["data"],
        json!({"theme": "light", "lang": "en"})
    );
    let stale = walk.send("replace-session", &with_id).await;
    stale.assert_problem(412, "version_mismatch");

    // Merge-patch: null removes, named keys are set, the rest is untouched.
    let patched = walk.send("patch-session", &with_id).await;
    assert_eq!(patched.status, 200, "{}", patched.raw);
    assert_session_headers(&patched, 3);
    assert_eq!(
        patched.json()["data"],
        json!({"theme": "light", "plan": "pro"})
    );
    let item = table.item(&id).await.expect("stored");
    assert_eq!(number(&item["version"]), 3);
    assert!(!item["data"].as_m().expect("M").contains_key("lang"));

    // Refresh with a new idle timeout: expiry moves, version does not.
    let refreshed = walk.send("refresh-session", &with_id).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.raw);
    assert_session_headers(&refreshed, 3);
    let body = refreshed.json();
    let item = table.item(&id).await.expect("stored");
    assert_eq!(number(&item["ttlSeconds"]), 7200);
    assert_eq!(number(&item["ttl"]), body["ttl"].as_i64().expect("ttl"));
    assert!(
        body["ttl"].as_i64() > patched.json()["ttl"].as_i64(),
        "{body}"
    );

    // Listings, one per page: every live session exactly once.
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        walk_pages(&walk, "list-sessions", "list-sessions-next").await,
        expected
    );
    assert_eq!(
        walk_pages(&walk, "list-user-sessions", "list-user-sessions-next").await,
        expected
    );

    // Delete one; it is gone. Then log the user out everywhere.
    let deleted = walk.send("delete-session", &with_id).await;
    assert_eq!(deleted.status, 204, "{}", deleted.raw);
    assert!(deleted.body.is_empty(), "{}", deleted.raw);
    assert!(table.item(&id).await.is_none(), "the item is deleted");
    walk.send("get-session", &with_id)
        .await
        .assert_problem(404, "session_not_found");
    walk.send("delete-session", &with_id)
        .await
        .assert_problem(404, "session_not_found");
    let revoked = walk.send("revoke-user-sessions", &[]).await;
    assert_eq!(
        (revoked.status, revoked.json()),
        (200, json!({"deleted": 1})),
        "{}",
        revoked.raw
    );
    assert!(table.item(&ids[1]).await.is_none(), "revoked");

    walk_token_routes(&walk, &table).await;

    walk.send("unknown-route", &[])
        .await
        .assert_problem(404, "route_not_found");
}

/// A session's life by its token, through one source: create, read, replace, patch, refresh,
/// rotate by id and by token, sign out.
async fn walk_token_routes(walk: &Walk, table: &Table) {
    let created = walk.send("create-session", &[]).await;
    assert_eq!(created.status, 201, "{}", created.raw);
    let mut session = created.json();
    let id = session["id"].as_str().expect("id").to_owned();
    let token = token_of(&session, &id);
    assert_stored_hash_of(table, &id, &token).await;
    session.as_object_mut().expect("an object").remove("token");
    let by_token = [("SESSION_TOKEN", token.as_str())];

    // Read by token: the session as created, and no token.
    let got = walk.send("get-current-session", &by_token).await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_session_headers(&got, 1);
    let body = got.json();
    assert!(body.get("token").is_none(), "{body}");
    assert_eq!(body, session);

    // Replace by token with If-Match "1"; the same request again is stale.
    let replaced = walk.send("replace-current-session", &by_token).await;
    assert_eq!(replaced.status, 200, "{}", replaced.raw);
    assert_session_headers(&replaced, 2);
    let body = replaced.json();
    assert!(body.get("token").is_none(), "{body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["data"], json!({"theme": "contrast", "lang": "fr"}));
    let item = table.item(&id).await.expect("stored");
    assert_eq!(number(&item["version"]), 2);
    let data = item["data"].as_m().expect("M");
    assert_eq!(data["lang"].as_s().expect("S"), "fr");
    assert!(!data.contains_key("cart"), "replaced, not merged");
    walk.send("replace-current-session", &by_token)
        .await
        .assert_problem(412, "version_mismatch");

    // Merge-patch by token.
    let patched = walk.send("patch-current-session", &by_token).await;
    assert_eq!(patched.status, 200, "{}", patched.raw);
    assert_session_headers(&patched, 3);
    assert_eq!(
        patched.json()["data"],
        json!({"theme": "contrast", "plan": "team"})
    );
    let item = table.item(&id).await.expect("stored");
    assert_eq!(number(&item["version"]), 3);
    let data = item["data"].as_m().expect("M");
    assert!(!data.contains_key("lang"));
    assert_eq!(data["plan"].as_s().expect("S"), "team");

    // Refresh by token with a new idle timeout: expiry moves, version does not.
    let refreshed = walk.send("refresh-current-session", &by_token).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.raw);
    assert_session_headers(&refreshed, 3);
    let session = refreshed.json();
    let item = table.item(&id).await.expect("stored");
    assert_eq!(number(&item["ttlSeconds"]), 5400);
    assert_eq!(number(&item["ttl"]), session["ttl"].as_i64().expect("ttl"));
    assert!(
        session["ttl"].as_i64() > patched.json()["ttl"].as_i64(),
        "{session}"
    );

    // Rotate by id, then by token: each gives a new token and retires the one before.
    let reply = walk.send("rotate-session", &[("SESSION_ID", &id)]).await;
    let token = rotated(walk, table, &reply, &session, &token).await;
    let reply = walk
        .send("rotate-current-session", &[("SESSION_TOKEN", &token)])
        .await;
    let token = rotated(walk, table, &reply, &session, &token).await;
    let by_token = [("SESSION_TOKEN", token.as_str())];

    // Sign out by token: the item is gone, and the token with it.
    let signed_out = walk.send("delete-current-session", &by_token).await;
    assert_eq!(signed_out.status, 204, "{}", signed_out.raw);
    assert!(signed_out.body.is_empty(), "{}", signed_out.raw);
    assert!(table.item(&id).await.is_none(), "the item is deleted");
    walk.send("get-current-session", &by_token)
        .await
        .assert_problem(404, "session_not_found");
}

#[tokio::test]
async fn rest_api_events_with_a_prod_stage_serve_every_route() {
    walk_every_route("rest-v1", Source::Rest { stage: "prod" }).await;
}

#[tokio::test]
async fn http_api_events_serve_every_route() {
    walk_every_route("http-v2", Source::Http { stage: "$default" }).await;
}

#[tokio::test]
async fn function_url_events_serve_every_route() {
    walk_every_route("function-url", Source::FunctionUrl).await;
}

#[tokio::test]
async fn alb_events_serve_every_route() {
    walk_every_route("alb", Source::Alb).await;
}

#[test]
fn a_request_without_its_own_id_takes_the_gateways() {
    use support::events::{Call, event};
    let health = || Call::new("GET", "/health");
    for source in [
        Source::Rest { stage: "prod" },
        Source::Http { stage: "$default" },
        Source::FunctionUrl,
    ] {
        let text = event(source, &health(), "gw-req-7f3a").to_string();
        let request = lambda_http::request::from_str(&text).expect("an HTTP event");
        let (request, _) = prepare(request);
        assert_eq!(
            request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some("gw-req-7f3a"),
            "{source:?}: API Gateway's requestId"
        );
        // A caller's own sane id stays; an insane one gives way to the gateway's.
        for (sent, kept) in [("caller-1", "caller-1"), ("has space", "gw-req-7f3a")] {
            let text = event(
                source,
                &health().header("x-request-id", sent),
                "gw-req-7f3a",
            )
            .to_string();
            let (request, _) = prepare(lambda_http::request::from_str(&text).expect("event"));
            assert_eq!(
                request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok()),
                Some(kept),
                "{source:?} with {sent:?}"
            );
        }
    }
    // An ALB event has no request id of its own, and no invocation context here: the
    // router's request-id layer will make one up.
    let text = event(Source::Alb, &health(), "unused").to_string();
    let (request, _) = prepare(lambda_http::request::from_str(&text).expect("an ALB event"));
    assert!(request.headers().get("x-request-id").is_none());
}

#[tokio::test]
async fn an_event_lambda_http_cannot_convert_is_a_400_problem_not_a_crash() {
    use support::events::{Call, event};
    let app = LambdaApp::new(Table::unreachable().router());
    // Characters a URI may not hold, as a careless client sends them and API Gateway passes on.
    let mut bad_query = event(
        Source::Http { stage: "$default" },
        &Call::new("GET", "/sessions/user/u"),
        "gw-bad-1",
    );
    bad_query["rawQueryString"] = json!("limit=<1>");
    let mut bad_host = event(
        Source::Rest { stage: "prod" },
        &Call::new("GET", "/health"),
        "gw-bad-2",
    );
    bad_host["headers"]["host"] = json!("bad host name");
    bad_host["multiValueHeaders"]["host"] = json!(["bad host name"]);
    let mut bad_base64 = event(
        Source::Alb,
        &Call::new("POST", "/sessions").json("application/json", &json!({"userId": "u"})),
        "unused",
    );
    bad_base64["body"] = json!("not base64 at all!");
    bad_base64["isBase64Encoded"] = json!(true);
    for (source, event, id) in [
        (
            Source::Http { stage: "$default" },
            bad_query,
            Some("gw-bad-1"),
        ),
        (Source::Rest { stage: "prod" }, bad_host, Some("gw-bad-2")),
        (Source::Alb, bad_base64, None),
    ] {
        let reply = Reply::decode(source.shape(), invoke(&app, &event.to_string()).await);
        reply.assert_problem(400, "invalid_request");
        let problem = reply.json();
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("malformed")),
            "{problem}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let request_id = reply.header("x-request-id").expect("x-request-id");
        if let Some(id) = id {
            assert_eq!(request_id, id, "{source:?}: the gateway's request id");
        }
    }
    // The same app still serves the next, well-formed event.
    let health = event(
        Source::Http { stage: "$default" },
        &Call::new("GET", "/health"),
        "gw-ok",
    );
    let reply = Reply::decode(
        support::events::Shape::Http,
        invoke(&app, &health.to_string()).await,
    );
    assert_eq!(reply.status, 200, "{}", reply.raw);
}

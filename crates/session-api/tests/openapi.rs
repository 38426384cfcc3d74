//! `/openapi.json`: an OpenAPI 3.1 document that describes every route the router serves, with
//! the security and error responses the running service really has.

mod common;

use std::collections::BTreeSet;

use axum::http::Method;
use common::TestApp;
use serde_json::Value;
use session_core::ExpiryPolicy;

async fn document(app: &TestApp) -> Value {
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.json()
}

/// The documented operations. `/auth/forward` serves every method and every path below it;
/// the document lists it once, as GET (OpenAPI has no "any method").
const ROUTES: [(&str, &str); 21] = [
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
    ("post", "/sessions"),
    ("get", "/sessions"),
    ("get", "/sessions/{id}"),
    ("put", "/sessions/{id}"),
    ("patch", "/sessions/{id}"),
    ("delete", "/sessions/{id}"),
    ("post", "/sessions/{id}/refresh"),
    ("post", "/sessions/{id}/rotate"),
    ("get", "/sessions/current"),
    ("put", "/sessions/current"),
    ("patch", "/sessions/current"),
    ("delete", "/sessions/current"),
    ("post", "/sessions/current/refresh"),
    ("post", "/sessions/current/rotate"),
    ("get", "/sessions/user/{userId}"),
    ("delete", "/sessions/user/{userId}"),
    ("get", "/auth/forward"),
];

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_exactly_the_served_routes() {
    let app = TestApp::new();
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("item")
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    // And every documented route is served: none answers 404-for-no-route or 405.
    for (method, path) in ROUTES {
        let uri = path
            .replace("{id}", "6ba7b810-9dad-41d1-80b4-00c04fd430c8")
            .replace("{userId}", "someone");
        let method: Method = method.to_uppercase().parse().expect("method");
        let reply = app
            .call(method.clone(), &uri, Some("application/json"), "{}")
            .await;
        assert_ne!(reply.status, 405, "{method} {uri}");
        if reply.status == 404 {
            let detail = reply.json()["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                !detail.contains("no route"),
                "{method} {uri} is not routed: {detail}"
            );
        }
    }
}

#[tokio::test]
async fn security_and_shared_errors_follow_the_route_classes() {
    let app = TestApp::new();
    let doc = document(&app).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let operation = |method: &str, path: &str| doc["paths"][path][method].clone();
    for (method, path) in [
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/openapi.json"),
    ] {
        let op = operation(method, path);
        assert_eq!(op["security"], serde_json::json!([{}]), "{path} is open");
        assert!(
            op["responses"].get("401").is_none(),
            "{path} never answers 401"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["sessionToken"],
        serde_json::json!({
            "type": "apiKey",
            "in": "header",
            "name": "X-Session-Token",
            "description": "The session token, `<id>.<secret>`, as the create or rotate answer gave it."
        })
    );
    for (method, path) in ROUTES.iter().skip(4) {
        let op = operation(method, path);
        // The `/current` routes need both the caller's bearer token and the session token;
        // `/auth/forward` takes the session token from the header or from the cookie.
        let security = if path.starts_with("/sessions/current") {
            serde_json::json!([{"bearerAuth": [], "sessionToken": []}])
        } else if *path == "/auth/forward" {
            serde_json::json!([
                {"bearerAuth": [], "sessionToken": []},
                {"bearerAuth": [], "sessionCookie": []}
            ])
        } else {
            serde_json::json!([{"bearerAuth": []}])
        };
        assert_eq!(op["security"], security, "{method} {path}");
        for status in ["401", "429", "500", "503"] {
            assert!(
                op["responses"].get(status).is_some(),
                "{method} {path} documents {status}"
            );
        }
        let admin = matches!(
            (*method, *path),
            ("get", "/sessions") | ("delete", "/sessions/user/{userId}")
        );
        assert_eq!(
            op["responses"].get("403").is_some(),
            admin,
            "{method} {path}: 403 only on admin routes"
        );
        let has_body = op.get("requestBody").is_some();
        for status in ["408", "415"] {
            assert_eq!(
                op["responses"].get(status).is_some(),
                has_body,
                "{method} {path}: {status} where there is a body"
            );
        }
    }
    let problem = &doc["paths"]["/sessions/{id}"]["get"]["responses"]["404"]["content"];
    assert!(
        problem.get("application/problem+json").is_some(),
        "errors are problem+json"
    );
}

/// The fields `method uri` accepts, as its refusal of an unknown field lists them.
async fn accepted_fields(app: &TestApp, method: Method, uri: &str) -> BTreeSet<String> {
    let reply = app
        .call(method, uri, Some("application/json"), r#"{"notAField": 0}"#)
        .await;
    let problem = reply.assert_problem(400, "invalid_request");
    let detail = problem["detail"].as_str().expect("detail");
    let (_, expected) = detail.split_once("expected").expect("the accepted fields");
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn request_schemas_list_exactly_the_fields_the_handlers_accept() {
    let app = TestApp::new();
    let doc = document(&app).await;
    let created = app.create(serde_json::json!({"userId": "fields"})).await;
    let uri = format!("/sessions/{}", created["id"].as_str().expect("id"));
    let create_fields = accepted_fields(&app, Method::POST, "/sessions").await;
    let replace_fields = accepted_fields(&app, Method::PUT, &uri).await;
    let refresh_fields = accepted_fields(&app, Method::POST, &format!("{uri}/refresh")).await;
    for (schema, fields) in [
        ("CreateSessionRequest", create_fields),
        ("ReplaceSessionRequest", replace_fields),
        ("RefreshRequest", refresh_fields),
    ] {
        let object = &doc["components"]["schemas"][schema];
        let documented: BTreeSet<&str> = object["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            documented,
            fields.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            "{schema}"
        );
        assert_eq!(
            object["additionalProperties"], false,
            "{schema} refuses unknown fields, as the handler does"
        );
    }
    let session: BTreeSet<&str> = doc["components"]["schemas"]["Session"]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    let served = app.create(serde_json::json!({"userId": "doc"})).await;
    let keys: BTreeSet<&str> = served
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let with_token = &doc["components"]["schemas"]["SessionWithToken"]["allOf"];
    assert_eq!(with_token[0]["$ref"], "#/components/schemas/Session");
    let extra: BTreeSet<&str> = with_token[1]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(extra, BTreeSet::from(["token"]));
    assert_eq!(
        session.union(&extra).copied().collect::<BTreeSet<&str>>(),
        keys,
        "the SessionWithToken schema has the fields a created session has"
    );
    let read = app
        .get(&format!("/sessions/{}", served["id"].as_str().expect("id")))
        .await
        .json();
    let read: BTreeSet<&str> = read
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        session, read,
        "the Session schema has the fields a read has"
    );
}

#[tokio::test]
async fn the_documented_ttl_maximum_is_the_configured_one() {
    let app = TestApp::builder()
        .policy(ExpiryPolicy {
            max_ttl_seconds: 7200,
            default_ttl_seconds: 3600,
            ..ExpiryPolicy::default()
        })
        .build();
    let doc = document(&app).await;
    assert_eq!(
        doc["components"]["schemas"]["CreateSessionRequest"]["properties"]["ttlSeconds"]["maximum"],
        7200
    );
    app.post_json(
        "/sessions",
        &serde_json::json!({"userId": "u", "ttlSeconds": 7201}),
    )
    .await
    .assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn every_field_a_response_always_carries_is_required_in_its_schema() {
    let app = TestApp::new();
    let doc = document(&app).await;
    let required = |schema: &str| -> BTreeSet<String> {
        doc["components"]["schemas"][schema]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} lists its required fields"))
            .iter()
            .filter_map(|field| field.as_str().map(str::to_owned))
            .collect()
    };
    let created = app.create(serde_json::json!({"userId": "doc"})).await;
    let session = app
        .get(&format!(
            "/sessions/{}",
            created["id"].as_str().expect("id")
        ))
        .await
        .json();
    let page = app.get("/sessions/user/doc").await.json();
    assert!(page["nextCursor"].is_null(), "the last page: {page}");
    for (schema, served) in [("Session", &session), ("Page", &page)] {
        let keys: BTreeSet<String> = served
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(required(schema), keys, "{schema}");
    }
}

/// The characters a `^[^…]+$` pattern refuses, from its `\uXXXX` and `\uXXXX-\uXXXX` items.
fn refused_by(pattern: &str) -> Vec<(u32, u32)> {
    let class = pattern
        .strip_prefix("^[^")
        .and_then(|rest| rest.strip_suffix("]+$"))
        .expect("a negated class");
    let mut ranges = Vec::new();
    let mut start = None;
    for item in class.split("\\u").skip(1) {
        let (hex, opens) = match item.strip_suffix('-') {
            Some(hex) => (hex, true),
            None => (item, false),
        };
        let code = u32::from_str_radix(hex, 16).expect("hex");
        match start.take() {
            Some(first) => ranges.push((first, code)),
            None if opens => start = Some(code),
            None => ranges.push((code, code)),
        }
    }
    ranges
}

#[tokio::test]
async fn the_user_id_pattern_refuses_what_the_service_refuses_in_the_basic_plane() {
    let doc = document(&TestApp::new()).await;
    let mut patterns = vec![
        doc["components"]["schemas"]["CreateSessionRequest"]["properties"]["userId"]["pattern"]
            .clone(),
    ];
    for method in ["get", "delete"] {
        let parameters = doc["paths"]["/sessions/user/{userId}"][method]["parameters"]
            .as_array()
            .expect("parameters");
        let user = parameters
            .iter()
            .find(|p| p["name"] == "userId")
            .expect("userId");
        patterns.push(user["schema"]["pattern"].clone());
    }
    let pattern = patterns[0].as_str().expect("a pattern").to_owned();
    assert!(patterns.iter().all(|p| p == &patterns[0]), "{patterns:?}");
    let ranges = refused_by(&pattern);
    let disagreements: Vec<String> = (0..=0xFFFF_u32)
        .filter_map(char::from_u32)
        .filter(|c| {
            let code = u32::from(*c);
            let by_pattern = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code));
            let by_service = session_core::UserId::parse(&format!("a{c}b")).is_err();
            by_pattern != by_service
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    assert!(disagreements.is_empty(), "{disagreements:?}");
}

#[tokio::test]
async fn the_session_limit_answers_its_documented_409() {
    let app = TestApp::builder()
        .user_limit(
            session_core::UserLimit::new(2, session_core::LimitPolicy::Reject).expect("valid"),
        )
        .build();
    for _ in 0..2 {
        app.create(serde_json::json!({"userId": "capped"})).await;
    }
    app.post_json("/sessions", &serde_json::json!({"userId": "capped"}))
        .await
        .assert_problem(409, "too_many_sessions");
    // Another user is not affected.
    app.create(serde_json::json!({"userId": "free"})).await;
    let doc = document(&app).await;
    let conflict = &doc["paths"]["/sessions"]["post"]["responses"]["409"];
    assert!(
        conflict["description"]
            .as_str()
            .is_some_and(|text| text.contains("too_many_sessions")),
        "{conflict}"
    );
    let codes = doc["components"]["schemas"]["ProblemCode"].to_string();
    assert!(codes.contains("too_many_sessions"), "{codes}");
}

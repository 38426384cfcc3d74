//! The real binary on DynamoDB Local: `create-table`, then every route of the contract, and
//! the items as DynamoDB stores them.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use session_core::store::dynamodb::testing::{local_client, local_endpoint, unique_table_name};
use support::{Server, client, run};

fn env<'a>(endpoint: &'a str, table: &'a str) -> Vec<(&'a str, &'a str)> {
    support::dynamodb_env(endpoint, table, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_dynamodb_through_the_real_binary() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("e2e");
    let env = env(&endpoint, &table);

    let created_table = run(&["create-table", "--wait"], &env);
    assert!(
        created_table.status.success(),
        "{}",
        String::from_utf8_lossy(&created_table.stderr)
    );
    assert!(String::from_utf8_lossy(&created_table.stdout).contains("created"));
    let again = run(&["create-table", "--wait"], &env);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already exists"));

    let server = Server::spawn(&env);
    let http = client();
    let url = |path: &str| server.url(path);

    let ready = http.get(url("/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 200);

    // Create.
    let reply = http
        .post(url("/sessions"))
        .json(
            &json!({"userId": "e2e-user", "data": {"theme": "dark", "n": 1.5}, "ttlSeconds": 3600}),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(reply.status(), 201);
    let id = reply.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let session_url = url(&format!("/sessions/{id}"));

    // Read.
    let reply = http.get(&session_url).send().await.expect("get");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["etag"], "\"1\"");
    assert_eq!(reply.headers()["cache-control"], "no-store");

    // Replace, with and without a stale If-Match.
    let reply = http
        .put(&session_url)
        .header("if-match", "\"1\"")
        .json(&json!({"data": {"theme": "light"}}))
        .send()
        .await
        .expect("put");
    assert_eq!(reply.status(), 200);
    let stale = http
        .put(&session_url)
        .header("if-match", "\"1\"")
        .json(&json!({"data": {}}))
        .send()
        .await
        .expect("stale put");
    assert_eq!(stale.status(), 412);
    assert_eq!(
        stale.json::<Value>().await.expect("json")["code"],
        "version_mismatch"
    );

    // Patch.
    let reply = http
        .patch(&session_url)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"lang": "pl", "theme": null}"#)
        .send()
        .await
        .expect("patch");
    assert_eq!(reply.status(), 200);
    let patched = reply.json::<Value>().await.expect("json");
    assert_eq!(patched["data"], json!({"lang": "pl"}));
    assert_eq!(patched["version"], 3);

    // Refresh with a new idle timeout.
    let reply = http
        .post(url(&format!("/sessions/{id}/refresh")))
        .json(&json!({"ttlSeconds": 7200}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(reply.status(), 200);
    let refreshed = reply.json::<Value>().await.expect("json");
    assert_eq!(refreshed["version"], 3);

    // The stored item, attribute by attribute.
    let item = local_client(&endpoint)
        .get_item()
        .table_name(&table)
        .key("id", AttributeValue::S(id.clone()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get")
        .item
        .expect("stored");
    assert_eq!(item["userId"], AttributeValue::S("e2e-user".into()));
    assert_eq!(item["version"], AttributeValue::N("3".into()));
    assert_eq!(item["ttlSeconds"], AttributeValue::N("7200".into()));
    assert_eq!(item["ttl"], AttributeValue::N(refreshed["ttl"].to_string()));
    assert!(
        matches!(&item["data"], AttributeValue::M(data) if data["lang"] == AttributeValue::S("pl".into()))
    );
    for timestamp in ["createdAt", "updatedAt", "touchedAt"] {
        assert!(
            matches!(&item[timestamp], AttributeValue::S(text) if text.ends_with('Z') && text.len() == 24),
            "{timestamp}: {:?}",
            item[timestamp]
        );
    }

    // Listings.
    for _ in 0..2 {
        let reply = http
            .post(url("/sessions"))
            .json(&json!({"userId": "e2e-user"}))
            .send()
            .await
            .expect("create");
        assert_eq!(reply.status(), 201);
    }
    let page: Value = http
        .get(url("/sessions/user/e2e-user?limit=2"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(page["count"], 2);
    let cursor = page["nextCursor"].as_str().expect("cursor").to_owned();
    let rest: Value = http
        .get(url(&format!(
            "/sessions/user/e2e-user?limit=2&cursor={cursor}"
        )))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(rest["count"], 1);
    assert!(rest["nextCursor"].is_null());
    let all: Value = http
        .get(url("/sessions?limit=100"))
        .send()
        .await
        .expect("all")
        .json()
        .await
        .expect("json");
    assert_eq!(all["count"], 3);

    // Delete one, then revoke the rest.
    assert_eq!(
        http.delete(&session_url)
            .send()
            .await
            .expect("delete")
            .status(),
        204
    );
    assert_eq!(
        http.get(&session_url).send().await.expect("get").status(),
        404
    );
    let revoked: Value = http
        .delete(url("/sessions/user/e2e-user"))
        .send()
        .await
        .expect("revoke")
        .json()
        .await
        .expect("json");
    assert_eq!(revoked, json!({"deleted": 2}));
    let empty: Value = http
        .get(url("/sessions"))
        .send()
        .await
        .expect("all")
        .json()
        .await
        .expect("json");
    assert_eq!(empty["count"], 0);

    // Errors keep their shape through the real server.
    let missing = http
        .get(url("/sessions/not-an-id"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let wrong_type = http
        .post(url("/sessions"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(wrong_type.status(), 415);

    assert!(server.terminate().success());
}

#[test]
fn ready_is_503_when_the_table_is_missing() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("absent");
    let server = Server::spawn(&env(&endpoint, &table));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let status = runtime.block_on(async {
        client()
            .get(server.url("/ready"))
            .send()
            .await
            .expect("ready")
            .status()
    });
    assert_eq!(status, 503);
}

/// The key that seals listing cursors must be the same on every instance over a table: a server
/// on DynamoDB has none of its own to fall back on, and refuses to start (before any request
/// to the table, so no DynamoDB is needed here).
#[test]
fn a_server_on_dynamodb_without_a_cursor_secret_refuses_to_start() {
    let mut settings = env("http://127.0.0.1:9", "no-secret");
    settings.retain(|(name, _)| *name != support::CURSOR_SECRET.0);
    let output = support::run_to_exit(&settings, std::time::Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SESSION_CURSOR_SECRET"), "{stderr}");
    assert!(stderr.contains("openssl rand -base64 32"), "{stderr}");
}

//! Many parallel clients against the real binary, on both stores: nothing lost, one winner per
//! version, distinct ids, and no resurrection.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use session_core::store::dynamodb::testing::{local_endpoint, unique_table_name};
use support::{Server, client, run};

/// A server on each store: the embedded one always, DynamoDB Local when it is there.
fn servers(dir: &std::path::Path) -> Vec<(&'static str, Server)> {
    let path = dir.join("sessions.redb");
    let mut servers = vec![(
        "embedded",
        Server::spawn(&[("EMBEDDED_DB_PATH", path.to_str().expect("utf-8"))]),
    )];
    if let Some(endpoint) = local_endpoint() {
        let table = unique_table_name("concurrency");
        let env = support::dynamodb_env(endpoint.as_str(), table.as_str(), &[]);
        assert!(run(&["create-table", "--wait"], &env).status.success());
        servers.push(("dynamodb", Server::spawn(&env)));
    }
    servers
}

async fn create(http: &reqwest::Client, server: &Server, user: &str) -> Value {
    let reply = http
        .post(server.url("/sessions"))
        .json(&json!({"userId": user, "data": {"base": true}}))
        .send()
        .await
        .expect("create");
    assert_eq!(reply.status(), 201);
    reply.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_to_different_keys_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (store, server) in servers(dir.path()) {
        let http = client();
        let created = create(&http, &server, "patches").await;
        let url = Arc::new(server.url(&format!(
            "/sessions/{}",
            created["id"].as_str().expect("id")
        )));
        let writers = 32;
        let results: Vec<u16> = (0..writers)
            .map(|i| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    http.patch(url.as_str())
                        .header("content-type", "application/merge-patch+json")
                        .body(json!({ format!("key{i}"): i }).to_string())
                        .send()
                        .await
                        .expect("patch")
                        .status()
                        .as_u16()
                }
            })
            .collect::<FuturesUnordered<_>>()
            .collect()
            .await;
        assert!(results.iter().all(|s| *s == 200), "{store}: {results:?}");
        let final_state: Value = http
            .get(url.as_str())
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let data = final_state["data"].as_object().expect("data");
        assert_eq!(data.len(), writers + 1, "{store}: a key was lost: {data:?}");
        assert_eq!(final_state["version"], 1 + writers, "{store}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_with_the_same_if_match_have_exactly_one_winner() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (store, server) in servers(dir.path()) {
        let http = client();
        for round in 0..3 {
            let created = create(&http, &server, "cas").await;
            let url = Arc::new(server.url(&format!(
                "/sessions/{}",
                created["id"].as_str().expect("id")
            )));
            let statuses: Vec<(u16, usize)> = (0..24)
                .map(|i| {
                    let (http, url) = (http.clone(), url.clone());
                    async move {
                        let reply = http
                            .put(url.as_str())
                            .header("if-match", "\"1\"")
                            .json(&json!({"data": {"winner": i}}))
                            .send()
                            .await
                            .expect("put");
                        (reply.status().as_u16(), i)
                    }
                })
                .collect::<FuturesUnordered<_>>()
                .collect()
                .await;
            let winners: Vec<usize> = statuses
                .iter()
                .filter(|(s, _)| *s == 200)
                .map(|(_, i)| *i)
                .collect();
            assert_eq!(winners.len(), 1, "{store} round {round}: {statuses:?}");
            assert!(
                statuses.iter().all(|(s, _)| *s == 200 || *s == 412),
                "{store}: {statuses:?}"
            );
            let stored: Value = http
                .get(url.as_str())
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            assert_eq!(
                stored["data"]["winner"], winners[0],
                "{store}: the winner's data is what is stored"
            );
            assert_eq!(stored["version"], 2);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_concurrent_creates_get_distinct_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (store, server) in servers(dir.path()) {
        let http = client();
        let url = Arc::new(server.url("/sessions"));
        let total = 2_000;
        let mut in_flight = FuturesUnordered::new();
        let mut ids = HashSet::new();
        for i in 0..total {
            let (http, url) = (http.clone(), url.clone());
            in_flight.push(async move {
                let reply = http
                    .post(url.as_str())
                    .json(&json!({"userId": format!("bulk-{}", i % 50)}))
                    .send()
                    .await
                    .expect("create");
                assert_eq!(reply.status(), 201);
                reply.json::<Value>().await.expect("json")["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            });
            // 64 clients at a time.
            if in_flight.len() >= 64
                && let Some(id) = in_flight.next().await
            {
                assert!(ids.insert(id), "{store}: duplicate id");
            }
        }
        while let Some(id) = in_flight.next().await {
            assert!(ids.insert(id), "{store}: duplicate id");
        }
        assert_eq!(ids.len(), total, "{store}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_racing_refreshes_never_resurrect_a_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (store, server) in servers(dir.path()) {
        let http = client();
        let user = format!("race-{store}");
        let mut urls = Vec::new();
        for _ in 0..20 {
            let created = create(&http, &server, &user).await;
            urls.push(Arc::new(server.url(&format!(
                "/sessions/{}",
                created["id"].as_str().expect("id")
            ))));
        }
        let mut racing = FuturesUnordered::new();
        for url in &urls {
            for attempt in 0..6 {
                let (http, url) = (http.clone(), url.clone());
                racing.push(async move {
                    let reply = match attempt {
                        0 => http.delete(url.as_str()).send().await,
                        1 | 3 => http.post(format!("{url}/refresh")).send().await,
                        2 => {
                            http.patch(url.as_str())
                                .header("content-type", "application/merge-patch+json")
                                .body(r#"{"touched": true}"#)
                                .send()
                                .await
                        }
                        4 => {
                            http.put(url.as_str())
                                .json(&json!({"data": {"replaced": true}}))
                                .send()
                                .await
                        }
                        _ => http.get(url.as_str()).send().await,
                    };
                    reply.expect("response").status().as_u16()
                });
            }
        }
        while let Some(status) = racing.next().await {
            assert!(
                matches!(status, 200 | 204 | 404),
                "{store}: unexpected {status}"
            );
        }
        for url in &urls {
            let reply = http.get(url.as_str()).send().await.expect("get");
            assert_eq!(reply.status(), 404, "{store}: a deleted session came back");
        }
        let admin_listing: Value = http
            .get(server.url(&format!("/sessions/user/{user}")))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        assert_eq!(admin_listing["count"], 0, "{store}: {admin_listing}");
    }
}

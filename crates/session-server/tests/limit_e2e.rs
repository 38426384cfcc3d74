//! The per-user session limit through the real binary on DynamoDB Local: concurrent creates
//! for one user never leave more than `SESSION_MAX_PER_USER` live, under either policy, and no
//! listing shows the per-user item that counts them.

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use session_core::store::dynamodb::testing::{local_endpoint, unique_table_name};
use support::{Server, client, run};

const MAX: usize = 5;
const BURST: usize = 50;

fn env<'a>(endpoint: &'a str, table: &'a str, policy: &'a str) -> Vec<(&'a str, &'a str)> {
    support::dynamodb_env(
        endpoint,
        table,
        &[
            ("SESSION_MAX_PER_USER", "5"),
            ("SESSION_LIMIT_POLICY", policy),
        ],
    )
}

/// `BURST` concurrent creates for `user`: each answer's status and body.
async fn burst(server: &Server, user: &str) -> Vec<(u16, Value)> {
    let http = client();
    let tasks: Vec<_> = (0..BURST)
        .map(|_| {
            let request = http
                .post(server.url("/sessions"))
                .json(&json!({"userId": user, "data": {}}));
            tokio::spawn(async move {
                let reply = request.send().await.expect("create");
                let status = reply.status().as_u16();
                (status, reply.json::<Value>().await.expect("json body"))
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(BURST);
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

/// The ids a listing at `path` shows, every page of it.
async fn listed(server: &Server, path: &str) -> Vec<String> {
    let http = client();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => server.url(&format!("{path}&cursor={cursor}")),
            None => server.url(path),
        };
        let page: Value = http
            .get(url)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for session in page["sessions"].as_array().expect("sessions") {
            ids.push(session["id"].as_str().expect("id").to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

fn create_table(env: &[(&str, &str)]) {
    let created = run(&["create-table", "--wait"], env);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_admits_exactly_the_limit_over_http() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("limit-reject");
    let env = env(&endpoint, &table, "reject");
    create_table(&env);
    let server = Server::spawn(&env);

    let answers = burst(&server, "capped").await;
    let created: HashSet<String> = answers
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| body["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(created.len(), MAX, "exactly the limit is created");
    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == 409)
        .collect();
    assert_eq!(refused.len(), BURST - MAX, "{answers:?}");
    for (_, body) in refused {
        assert_eq!(body["code"], "too_many_sessions");
        assert_eq!(body["status"], 409);
    }
    let live: HashSet<String> = listed(&server, "/sessions/user/capped?limit=100")
        .await
        .into_iter()
        .collect();
    assert_eq!(live, created);

    // The admin listing, a session a page, shows sessions only, each once.
    let all = listed(&server, "/sessions?limit=1").await;
    assert_eq!(all.len(), MAX, "{all:?}");
    assert_eq!(all.iter().cloned().collect::<HashSet<_>>(), created);

    // Revoke-all leaves room for the limit again.
    let revoked = client()
        .delete(server.url("/sessions/user/capped"))
        .send()
        .await
        .expect("revoke");
    assert!(revoked.status().is_success());
    let again = burst(&server, "capped").await;
    assert_eq!(
        again.iter().filter(|(status, _)| *status == 201).count(),
        MAX
    );
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evict_oldest_creates_all_and_keeps_the_limit_over_http() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("limit-evict");
    let env = env(&endpoint, &table, "evict-oldest");
    create_table(&env);
    let server = Server::spawn(&env);

    let answers = burst(&server, "evicted").await;
    assert!(
        answers.iter().all(|(status, _)| *status == 201),
        "{answers:?}"
    );
    let created: HashSet<String> = answers
        .iter()
        .map(|(_, body)| body["id"].as_str().expect("id").to_owned())
        .collect();
    let live: HashSet<String> = listed(&server, "/sessions/user/evicted?limit=100")
        .await
        .into_iter()
        .collect();
    assert_eq!(live.len(), MAX);
    assert!(live.is_subset(&created));

    // One after another, the newest stay and the oldest go.
    let mut newest = HashSet::new();
    for _ in 0..MAX {
        let reply = client()
            .post(server.url("/sessions"))
            .json(&json!({"userId": "evicted"}))
            .send()
            .await
            .expect("create");
        assert_eq!(reply.status(), 201);
        let body: Value = reply.json().await.expect("json");
        newest.insert(body["id"].as_str().expect("id").to_owned());
    }
    let live: HashSet<String> = listed(&server, "/sessions/user/evicted?limit=100")
        .await
        .into_iter()
        .collect();
    assert_eq!(live, newest);
    let all = listed(&server, "/sessions?limit=1").await;
    assert_eq!(all.iter().cloned().collect::<HashSet<_>>(), newest);
    assert_eq!(all.len(), MAX);

    let metrics = server.metrics(&client()).await;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("sessions_evicted_total ")
                && line.ends_with(&format!(" {}", BURST))),
        "{metrics}"
    );
    server.terminate();
}

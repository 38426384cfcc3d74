//! Store faults through the real binary: DynamoDB Local stopped and restarted under a running
//! server. `/ready` follows it, requests get 503 (never 500, never a hang), and service
//! resumes without a restart.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{DynamoLocal, Server, client, dynamodb_local_lib, free_port, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rides_out_a_store_outage() {
    let Some(lib) = dynamodb_local_lib() else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let store = DynamoLocal::start(&lib, port, data.path());
    let endpoint = store.endpoint.clone();
    let env = support::dynamodb_env(
        endpoint.as_str(),
        "outage",
        &[
            ("DYNAMODB_CONNECT_TIMEOUT_MS", "300"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "700"),
            ("DYNAMODB_OPERATION_TIMEOUT_MS", "1500"),
            ("DYNAMODB_MAX_ATTEMPTS", "2"),
        ],
    );
    assert!(run(&["create-table", "--wait"], &env).status.success());
    let server = Server::spawn(&env);
    let http = client();

    assert_eq!(
        http.get(server.url("/ready"))
            .send()
            .await
            .expect("ready")
            .status(),
        200
    );
    let mut created: Value = http
        .post(server.url("/sessions"))
        .json(&json!({"userId": "outage", "data": {"kept": true}}))
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
    let session_url = server.url(&format!(
        "/sessions/{}",
        created["id"].as_str().expect("id")
    ));

    store.stop();

    // /ready answers from the background check, which runs every 5 s: ask until one has run
    // since the store stopped.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (ready, took) = loop {
        let started = Instant::now();
        let ready = http
            .get(server.url("/ready"))
            .send()
            .await
            .expect("ready while down");
        let took = started.elapsed();
        if ready.status() != 200 || Instant::now() > deadline {
            break (ready, took);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ready.status(), 503);
    assert!(took < Duration::from_secs(3), "/ready took {took:?}");
    for request in [
        http.post(server.url("/sessions"))
            .json(&json!({"userId": "outage"})),
        http.get(&session_url),
        http.get(server.url("/sessions/user/outage")),
    ] {
        let started = Instant::now();
        let reply = request
            .send()
            .await
            .expect("a response, not a dropped connection");
        assert_eq!(reply.status(), 503, "a store outage is 503, never 500");
        assert_eq!(reply.headers()["retry-after"], "1");
        let problem: Value = reply.json().await.expect("problem");
        assert_eq!(problem["code"], "store_unavailable");
        assert!(
            !problem["detail"]
                .as_str()
                .expect("detail")
                .contains("127.0.0.1"),
            "no internals: {problem}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered after {:?}",
            started.elapsed()
        );
    }

    let _restarted = DynamoLocal::start(&lib, port, data.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = http
            .get(server.url("/ready"))
            .send()
            .await
            .expect("ready")
            .status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "/ready never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = http.get(&session_url).send().await.expect("get");
    assert_eq!(reply.status(), 200, "service resumed without a restart");
    assert_eq!(reply.json::<Value>().await.expect("json"), created);
    let logs = server
        .wait_for_logs(|lines| lines.iter().any(|l| l.contains("\"status\":503")))
        .join("\n");
    assert!(logs.contains("\"status\":503"), "the 503s were logged");
}

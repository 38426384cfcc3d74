//! Graceful shutdown through the real binary: SIGTERM during a load finishes every in-flight
//! request, and no client sees a reset.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, client, signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_without_a_single_failed_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let server = Server::spawn(&[
        ("EMBEDDED_DB_PATH", path.to_str().expect("utf-8")),
        ("SHUTDOWN_DRAIN_SECONDS", "2"),
    ]);
    let base = server.base.clone();
    let issuing = Arc::new(AtomicBool::new(true));

    let mut clients = Vec::new();
    for client_no in 0..16 {
        let (base, issuing) = (base.clone(), issuing.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            let mut outcomes = Vec::new();
            while issuing.load(Ordering::Relaxed) && outcomes.len() < 10_000 {
                let outcome = http
                    .post(format!("{base}/sessions"))
                    .json(&json!({"userId": format!("load-{client_no}")}))
                    .send()
                    .await;
                let outcome = match outcome {
                    Ok(reply) => {
                        let status = reply.status().as_u16();
                        // The whole body must arrive: a cut connection fails here.
                        reply
                            .bytes()
                            .await
                            .map(|_| status)
                            .map_err(|e| e.to_string())
                    }
                    Err(error) => Err(format!("{error:?}")),
                };
                outcomes.push(outcome);
            }
            outcomes
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    let terminated = Instant::now();
    signal(server.pid(), "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = client()
        .get(server.url("/ready"))
        .send()
        .await
        .expect("ready while draining");
    assert_eq!(
        ready.status(),
        503,
        "/ready fails during the drain so that traffic moves away"
    );
    assert_eq!(ready.headers()["connection"], "close");
    // Load balancers take a moment to notice; clients keep sending for a second of the drain.
    tokio::time::sleep(Duration::from_millis(700)).await;
    issuing.store(false, Ordering::Relaxed);

    let mut total = 0;
    for client in clients {
        for outcome in client.await.expect("join") {
            total += 1;
            assert_eq!(outcome, Ok(201), "a request failed during the shutdown");
        }
    }
    assert!(
        total > 100,
        "the load was too light to prove anything: {total}"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(terminated.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_at_sigterm_are_answered_before_the_exit() {
    // A store that accepts connections and never answers keeps requests in flight until the
    // request timeout answers them.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hole = format!("http://{}", listener.local_addr().expect("address"));
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.push(stream);
        }
    });
    let server = Server::spawn(&support::dynamodb_env(
        hole.as_str(),
        "hangs",
        &[
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "60000"),
            ("DYNAMODB_OPERATION_TIMEOUT_MS", "60000"),
            ("REQUEST_TIMEOUT_SECONDS", "2"),
        ],
    ));
    let http = client();
    let started = Instant::now();
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let request = http.get(server.url("/sessions/6ba7b810-9dad-41d1-80b4-00c04fd430c8"));
            tokio::spawn(async move {
                let reply = request.send().await.map_err(|e| format!("{e:?}"))?;
                let status = reply.status().as_u16();
                reply.bytes().await.map_err(|e| format!("{e:?}"))?;
                Ok::<u16, String>(status)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    signal(server.pid(), "TERM");
    for request in in_flight {
        assert_eq!(
            request.await.expect("join"),
            Ok(503),
            "each in-flight request gets its full answer"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "they were answered by the timeout, not cut"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    drop(holder);
}

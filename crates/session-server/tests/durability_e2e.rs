//! Durability of the embedded store: SIGKILL in the middle of a write load loses no write that
//! was acknowledged with 2xx, and brings back no session whose deletion was acknowledged.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, client, signal};

/// The last acknowledged state of a session.
#[derive(Debug, Clone)]
struct Acked {
    version: u64,
    data: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let env = [("EMBEDDED_DB_PATH", path.to_str().expect("utf-8"))];
    let server = Server::spawn(&env);
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));

    let mut writers = Vec::new();
    for writer in 0..8 {
        let (base, stop) = (base.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let http = client();
            let mut acked: HashMap<String, Acked> = HashMap::new();
            let mut deleted: HashSet<String> = HashSet::new();
            let mut mine: Vec<String> = Vec::new();
            let mut step = 0u64;
            while !stop.load(Ordering::Relaxed) && step < 5_000 {
                step += 1;
                if step.is_multiple_of(7) && mine.len() > 1 {
                    let id = mine.swap_remove(0);
                    // From the moment the delete is sent, the session may or may not survive
                    // until its deletion is acknowledged: it is no longer checked as kept.
                    acked.remove(&id);
                    let Ok(reply) = http.delete(format!("{base}/sessions/{id}")).send().await
                    else {
                        break;
                    };
                    if reply.status() == 204 {
                        deleted.insert(id);
                    }
                    continue;
                }
                let data = json!({"writer": writer, "step": step, "pad": "x".repeat(64)});
                // Alternate creates and replaces of this writer's own sessions.
                let reply = if step % 2 == 1 || mine.is_empty() {
                    http.post(format!("{base}/sessions"))
                        .json(&json!({"userId": format!("writer-{writer}"), "data": data}))
                        .send()
                        .await
                } else {
                    let id = &mine[usize::try_from(step).expect("small") % mine.len()];
                    http.put(format!("{base}/sessions/{id}"))
                        .json(&json!({"data": data}))
                        .send()
                        .await
                };
                // A failed request (the server died) acknowledges nothing.
                let Ok(reply) = reply else { break };
                if !reply.status().is_success() {
                    continue;
                }
                let Ok(body) = reply.json::<Value>().await else {
                    break;
                };
                let id = body["id"].as_str().expect("id").to_owned();
                if !acked.contains_key(&id) {
                    mine.push(id.clone());
                }
                acked.insert(
                    id,
                    Acked {
                        version: body["version"].as_u64().expect("version"),
                        data: body["data"].clone(),
                    },
                );
            }
            (acked, deleted)
        }));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(server.pid(), "KILL");
    stop.store(true, Ordering::Relaxed);
    let mut acked = HashMap::new();
    let mut deleted = HashSet::new();
    for writer in writers {
        let (writer_acked, writer_deleted) = writer.await.expect("join");
        acked.extend(writer_acked);
        deleted.extend(writer_deleted);
    }
    drop(server);
    assert!(
        acked.len() > 50,
        "the load acknowledged too little to prove anything: {}",
        acked.len()
    );
    assert!(
        deleted.len() > 5,
        "the load acknowledged too few deletes to prove anything: {}",
        deleted.len()
    );

    let restarted = Server::spawn(&env);
    let http = client();
    let get = |id: &String| http.get(restarted.url(&format!("/sessions/{id}"))).send();
    for (id, expected) in &acked {
        let reply = get(id).await.expect("get");
        assert_eq!(reply.status(), 200, "acknowledged session {id} was lost");
        let body: Value = reply.json().await.expect("json");
        let version = body["version"].as_u64().expect("version");
        assert!(
            version >= expected.version,
            "{id}: version {version} < acknowledged {}",
            expected.version
        );
        if version == expected.version {
            assert_eq!(
                body["data"], expected.data,
                "{id}: acknowledged data differs"
            );
        }
    }
    for id in &deleted {
        let reply = get(id).await.expect("get");
        assert_eq!(reply.status(), 404, "deleted session {id} came back");
    }
}

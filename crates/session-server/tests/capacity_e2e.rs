//! DynamoDB capacity units at `/metrics`: the real binary on DynamoDB Local, where each route
//! adds the units DynamoDB reports for the calls of its store operation, split into table and
//! index, and nothing else. `userId-index` holds keys only, so only a create and a delete
//! write to it.

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use session_core::store::dynamodb::testing::{local_endpoint, unique_table_name};
use support::{Server, client, run};

/// (operation, kind, target) → units.
type Units = BTreeMap<(String, String, String), f64>;

/// The `session_store_capacity_units_total` series of the server's `/metrics`.
async fn units(http: &reqwest::Client, server: &Server) -> Units {
    let text = server.metrics(http).await;
    let mut units = Units::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("session_store_capacity_units_total{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").expect("labels, then the value");
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=\"")))
                .and_then(|value| value.strip_suffix('"'))
                .unwrap_or_else(|| panic!("no {name} label in {line}"))
                .to_owned()
        };
        units.insert(
            (label("operation"), label("kind"), label("target")),
            value.parse().expect("a number"),
        );
    }
    units
}

/// What changed between two readings of the metric.
fn delta(before: &Units, after: &Units) -> Units {
    after
        .iter()
        .filter_map(|(series, value)| {
            let added = value - before.get(series).copied().unwrap_or(0.0);
            (added != 0.0).then(|| (series.clone(), added))
        })
        .collect()
}

fn expected(operation: &str, figures: &[(&str, &str, f64)]) -> Units {
    figures
        .iter()
        .map(|(kind, target, units)| {
            (
                (
                    operation.to_owned(),
                    (*kind).to_owned(),
                    (*target).to_owned(),
                ),
                *units,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_adds_the_units_dynamodb_reports_by_operation_and_target() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("capacity");
    let env = support::dynamodb_env(&endpoint, &table, &[]);
    let created_table = run(&["create-table", "--wait"], &env);
    assert!(
        created_table.status.success(),
        "{}",
        String::from_utf8_lossy(&created_table.stderr)
    );
    let server = Server::spawn(&env);
    let http = client();
    let mut seen = units(&http, &server).await;
    let mut step = async |what: &str, request: reqwest::RequestBuilder, status: u16| {
        let reply = request.send().await.expect(what);
        assert_eq!(reply.status(), status, "{what}");
        let body = reply.json::<Value>().await.unwrap_or_default();
        let now = units(&http, &server).await;
        let added = delta(&seen, &now);
        seen = now;
        (body, added)
    };

    // Sessions of about 200 bytes: 1 KB of write, 4 KB of read per item.
    let data = json!({"profile": "x".repeat(200)});
    let (created, added) = step(
        "create",
        http.post(server.url("/sessions"))
            .json(&json!({"userId": "capacity-user", "data": data})),
        201,
    )
    .await;
    assert_eq!(
        added,
        expected(
            "create",
            &[("write", "table", 1.0), ("write", "index", 1.0)]
        )
    );
    let session = server.url(&format!(
        "/sessions/{}",
        created["id"].as_str().expect("id")
    ));

    let (_, added) = step("read", http.get(&session), 200).await;
    assert_eq!(added, expected("get", &[("read", "table", 1.0)]));

    let (_, added) = step(
        "replace",
        http.put(&session).json(&json!({"data": data})),
        200,
    )
    .await;
    assert_eq!(added, expected("replace", &[("write", "table", 1.0)]));

    let (_, added) = step(
        "patch",
        http.patch(&session)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"lang": "pl"}"#),
        200,
    )
    .await;
    assert_eq!(
        added,
        expected("patch", &[("read", "table", 1.0), ("write", "table", 1.0),])
    );

    let (_, added) = step(
        "list",
        http.get(server.url("/sessions/user/capacity-user")),
        200,
    )
    .await;
    // The index page, then the session read by key, consistently.
    assert_eq!(
        added,
        expected(
            "list_user",
            &[("read", "index", 0.5), ("read", "table", 1.0)]
        )
    );

    let (_, added) = step("delete", http.delete(&session), 204).await;
    assert_eq!(
        added,
        expected(
            "delete",
            &[("write", "table", 1.0), ("write", "index", 1.0)]
        )
    );
}

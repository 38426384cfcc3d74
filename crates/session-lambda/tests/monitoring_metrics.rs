//! The CloudWatch alarms and dashboard of infra/modules/session-monitoring use only EMF metrics
//! the function really writes: each name, with its namespace and exact dimension set, in
//! `emf-metrics.json` (the file the Terraform reads) is among the EMF documents a workload
//! through the in-process Lambda path produces. A renamed metric or label fails here.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use session_api::{Settings, StoreKind};
use session_core::store::dynamodb::DynamoDbStore;
use session_core::{LimitPolicy, SystemClock};
use session_lambda::LambdaApp;
use session_lambda::emf::EmfRecorder;
use support::events::{Call, Source, event};
use support::{Reply, Table, invoke};

const HTTP: Source = Source::Http { stage: "$default" };

fn module_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/modules/session-monitoring")
}

/// What `emf-metrics.json` names: the namespace, and each metric's name → dimension set.
fn referenced() -> (String, BTreeMap<String, BTreeSet<String>>) {
    let path = module_dir().join("emf-metrics.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let file: Value = serde_json::from_str(&text).expect("emf-metrics.json is JSON");
    let namespace = file["namespace"].as_str().expect("namespace").to_owned();
    let metrics = file["metrics"]
        .as_object()
        .expect("metrics")
        .values()
        .map(|metric| {
            let name = metric["name"].as_str().expect("name").to_owned();
            let dimensions = metric["dimensions"]
                .as_array()
                .expect("dimensions")
                .iter()
                .map(|d| d.as_str().expect("dimension").to_owned())
                .collect();
            (name, dimensions)
        })
        .collect();
    (namespace, metrics)
}

/// Every (namespace, metric name, dimension set) in EMF `documents`.
fn written(documents: &[Value]) -> BTreeSet<(String, String, BTreeSet<String>)> {
    let mut out = BTreeSet::new();
    for document in documents {
        for directive in document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("an EMF document")
        {
            let namespace = directive["Namespace"].as_str().expect("Namespace");
            for dimensions in directive["Dimensions"].as_array().expect("Dimensions") {
                let set: BTreeSet<String> = dimensions
                    .as_array()
                    .expect("a dimension set")
                    .iter()
                    .map(|d| d.as_str().expect("dimension").to_owned())
                    .collect();
                for metric in directive["Metrics"].as_array().expect("Metrics") {
                    let name = metric["Name"].as_str().expect("Name");
                    out.insert((namespace.to_owned(), name.to_owned(), set.clone()));
                }
            }
        }
    }
    out
}

/// The dimension names the module's queries filter or group by (`WHERE x =`, `GROUP BY x`).
fn query_dimensions() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(module_dir()).expect("the module's folder") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "tf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a .tf file");
        for keyword in ["WHERE ", "GROUP BY "] {
            for (at, _) in text.match_indices(keyword) {
                let name: String = text[at + keyword.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
    out
}

/// The router as the function builds it from its settings (`session_api::state_from_settings`,
/// which meters the store), over `table`, with a limit of one session per user.
fn router(table: &Table) -> axum::Router {
    let mut settings = Settings::from_env().expect("the default settings parse");
    settings.store = StoreKind::Dynamodb;
    settings.table_name.clone_from(&table.name);
    settings.auth_disabled = true;
    settings.cursor_secret = Some("monitoring-metrics-cursor-secret-0123456789".into());
    settings.max_per_user = Some(1);
    settings.limit_policy = LimitPolicy::EvictOldest;
    let store = Arc::new(DynamoDbStore::new(table.client.clone(), table.name.clone()));
    let state = session_api::state_from_settings(&settings, store, Arc::new(SystemClock))
        .expect("valid settings");
    session_api::router(state)
}

async fn call(app: &LambdaApp, call: &Call) -> Reply {
    Reply::decode(
        HTTP.shape(),
        invoke(app, &event(HTTP, call, "req-monitoring").to_string()).await,
    )
}

async fn create(app: &LambdaApp, user: &str) -> Value {
    let reply = call(
        app,
        &Call::new("POST", "/sessions").json("application/json", &json!({"userId": user})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.raw);
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_and_dashboard_use_only_metrics_the_function_writes() {
    // As the binary does: the EMF recorder beside the Prometheus one, before any request.
    let recorder = EmfRecorder::default();
    session_api::metrics::install(Some(Box::new(recorder.clone())));
    let Some(table) = Table::fresh("monitoring").await else {
        return;
    };
    let app = LambdaApp::new(router(&table));

    // Created, then evicted by a second create for the same user (limit 1).
    let first = create(&app, "monitoring-user").await;
    let second = create(&app, "monitoring-user").await;
    let id = second["id"].as_str().expect("id");
    let token = second["token"].as_str().expect("token");
    assert_ne!(first["id"], second["id"]);
    // Read after its expiry (its `ttl` moved into the past in the table): 410.
    table
        .client
        .update_item()
        .table_name(&table.name)
        .key("id", AttributeValue::S(id.to_owned()))
        .update_expression("SET #ttl = :past")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":past", AttributeValue::N("1000".to_owned()))
        .send()
        .await
        .expect("UpdateItem on DynamoDB Local");
    let expired = call(
        &app,
        &Call::new("GET", &format!("/sessions/{id}")).header("x-session-token", token),
    )
    .await;
    assert_eq!(expired.status, 410, "{}", expired.raw);
    // Deleted, and a failed store operation (a session that is not there).
    let third = create(&app, "monitoring-other").await;
    let third_id = third["id"].as_str().expect("id");
    let third_token = third["token"].as_str().expect("token");
    let delete = Call::new("DELETE", &format!("/sessions/{third_id}"))
        .header("x-session-token", third_token);
    assert_eq!(call(&app, &delete).await.status, 204);
    assert_eq!(call(&app, &delete).await.status, 404);

    let mut out = Vec::new();
    recorder.flush(&mut out).expect("flush");
    let documents: Vec<Value> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("an EMF line is JSON"))
        .collect();
    let written = written(&documents);

    let (namespace, metrics) = referenced();
    assert_eq!(namespace, session_lambda::emf::NAMESPACE);
    let missing: Vec<String> = metrics
        .iter()
        .filter(|(name, dimensions)| {
            !written.contains(&(namespace.clone(), (*name).clone(), (*dimensions).clone()))
        })
        .map(|(name, dimensions)| format!("{namespace}/{name} {dimensions:?}"))
        .collect();
    assert!(
        missing.is_empty(),
        "infra/modules/session-monitoring/emf-metrics.json names metrics the function does not write: {missing:?}\nwritten: {written:#?}"
    );

    // Every dimension a query filters or groups by is one of the metrics' own.
    let known: BTreeSet<String> = metrics.values().flatten().cloned().collect();
    let aws = ["TableName"];
    let unknown: Vec<String> = query_dimensions()
        .into_iter()
        .filter(|d| !known.contains(d) && !aws.contains(&d.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "queries use unknown dimensions: {unknown:?}"
    );

    // No .tf file of the module names an EMF metric itself: every name comes from the JSON.
    for entry in std::fs::read_dir(module_dir()).expect("the module's folder") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path).expect("a .tf file");
            for (_, name, _) in &written {
                assert!(
                    !text.contains(name.as_str()),
                    "{} names {name}: take it from emf-metrics.json",
                    path.display()
                );
            }
        }
    }
}

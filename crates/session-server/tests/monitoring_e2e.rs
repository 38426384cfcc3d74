//! The shipped monitoring reads only what the server exports: every metric named in an alert
//! expression (definitions/monitoring/session-alerts.yaml) or a dashboard query
//! (definitions/monitoring/session-dashboard.json) is on the real binary's `/metrics` after a
//! workload that exercises every family. A renamed metric fails here.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, client};

const CLIENT: &str = "monitoring-e2e-client-token-0123456789";
const ADMIN: &str = "monitoring-e2e-admin-token-0123456789ab";

fn monitoring_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../definitions/monitoring")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Words of PromQL that are not metric names: operators, grouping clauses, and the
/// aggregations, which may be followed by a grouping clause instead of their parenthesis.
const KEYWORDS: [&str; 23] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
];

/// The metric names a PromQL expression reads: the identifiers outside label matchers, ranges,
/// strings and grouping clauses that do not call a function. Grafana's `$variables` are none.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // The identifier just read, when it opens a grouping clause: its parenthesis lists labels.
    let mut grouping = false;
    while i < chars.len() {
        let c = chars[i];
        let closing = match c {
            '{' => Some('}'),
            '[' => Some(']'),
            '"' | '\'' | '`' => Some(c),
            '(' if grouping => Some(')'),
            _ => None,
        };
        if let Some(closing) = closing {
            i += 1;
            while i < chars.len() && chars[i] != closing {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            grouping = false;
            continue;
        }
        if c == '$' || c.is_ascii_digit() || c == '.' {
            // A variable, a number or a duration: skip the whole word.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            grouping = matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            );
            if !KEYWORDS.contains(&word.as_str()) && next != Some(&'(') {
                names.insert(word);
            }
            continue;
        }
        if !c.is_whitespace() {
            grouping = false;
        }
        i += 1;
    }
    names
}

/// Every `expr` string in a JSON or YAML document.
fn expressions(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", Value::String(expr)) => found.push(expr.clone()),
                    _ => expressions(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions(item, found)),
        _ => {}
    }
}

/// The metric families and sample names of a Prometheus text exposition.
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            names.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().expect("a sample name");
            names.insert(name.to_owned());
        }
    }
    names
}

#[test]
fn expressions_yield_their_metric_names() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (namespace, le) (rate(a_bucket{job="x",le=~"1|2"}[5m])))
            / on (instance) group_left () b_total offset 5m > 0.5 and time() - c{d="{"} > 1e3
            or sum without (pod) (rate(e[$__rate_interval]))"#,
    );
    let want: BTreeSet<String> = ["a_bucket", "b_total", "c", "e"].map(str::to_owned).into();
    assert_eq!(names, want);
}

#[tokio::test]
async fn every_metric_the_monitoring_reads_is_exported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let path = path.to_str().expect("utf-8 path");
    let server = Server::spawn(&[
        ("EMBEDDED_DB_PATH", path),
        ("API_TOKENS", CLIENT),
        ("ADMIN_TOKENS", ADMIN),
        ("SESSION_MAX_PER_USER", "2"),
        ("SESSION_SLIDING", "true"),
        ("SESSION_TOUCH_AFTER_SECONDS", "0"),
    ]);
    let http = client();
    let create = |body: Value| {
        http.post(server.url("/sessions"))
            .bearer_auth(CLIENT)
            .json(&body)
            .send()
    };

    // Creates (the third evicts the first), a short-lived session, reads, a touch, a
    // conditional failure, a rotation, a delete, a revoke, a refusal and the probes.
    let mut ids = Vec::new();
    for body in [
        json!({"userId": "watcher"}),
        json!({"userId": "watcher"}),
        json!({"userId": "watcher", "ttlSeconds": 1}),
        json!({"userId": "other"}),
    ] {
        let reply = create(body).await.expect("create");
        assert_eq!(reply.status(), 201);
        let created: Value = reply.json().await.expect("json");
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = http
        .get(server.url(&format!("/sessions/{}", ids[2])))
        .bearer_auth(CLIENT)
        .send()
        .await
        .expect("get expired");
    assert_eq!(expired.status(), 410, "the 1 s session expired");
    let touched = http
        .get(server.url(&format!("/sessions/{}", ids[3])))
        .bearer_auth(CLIENT)
        .send()
        .await
        .expect("get");
    assert_eq!(touched.status(), 200);
    let conflict = http
        .put(server.url(&format!("/sessions/{}", ids[3])))
        .bearer_auth(CLIENT)
        .header("if-match", "\"99\"")
        .json(&json!({"data": {}}))
        .send()
        .await
        .expect("put");
    assert_eq!(conflict.status(), 412);
    let rotated = http
        .post(server.url(&format!("/sessions/{}/rotate", ids[3])))
        .bearer_auth(CLIENT)
        .send()
        .await
        .expect("rotate");
    assert_eq!(rotated.status(), 200);
    let deleted = http
        .delete(server.url(&format!("/sessions/{}", ids[3])))
        .bearer_auth(CLIENT)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let revoked = http
        .delete(server.url("/sessions/user/watcher"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    let refused = http
        .get(server.url("/sessions/user/watcher"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("refused");
    assert_eq!(refused.status(), 401);
    let ready = http.get(server.url("/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 200);

    let text = server.metrics(&http).await;
    let exported = exported(&text);

    let rules: Value =
        serde_norway::from_str(&monitoring_file("session-alerts.yaml")).expect("rules YAML");
    let dashboard: Value =
        serde_json::from_str(&monitoring_file("session-dashboard.json")).expect("dashboard JSON");
    let mut missing = Vec::new();
    for (file, document, least) in [
        ("session-alerts.yaml", &rules, 12),
        ("session-dashboard.json", &dashboard, 12),
    ] {
        let mut exprs = Vec::new();
        expressions(document, &mut exprs);
        assert!(
            exprs.len() >= least,
            "{file}: only {} expressions",
            exprs.len()
        );
        for expr in &exprs {
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{file}: no metric in {expr}");
            for name in names.difference(&exported) {
                missing.push(format!("{file}: {name} (in {})", expr.trim()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "metrics the monitoring reads but the server does not export:\n{}\n\n/metrics:\n{text}",
        missing.join("\n")
    );

    // The embedded store's own figures: its last commit is recent, its disk has room.
    let value = |name: &str| {
        text.lines()
            .find_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                (series.split('{').next() == Some(name)).then(|| value.parse::<f64>().ok())?
            })
            .unwrap_or_else(|| panic!("no sample of {name}"))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let committed = value("session_store_last_commit_timestamp_seconds");
    assert!(
        (now - 60.0..=now + 1.0).contains(&committed),
        "last commit at {committed}, now {now}"
    );
    let available = value("session_store_disk_available_bytes");
    let size = value("session_store_disk_size_bytes");
    assert!(
        available > 0.0 && available <= size,
        "{available} of {size} bytes"
    );
}

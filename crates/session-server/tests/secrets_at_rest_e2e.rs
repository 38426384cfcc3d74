//! No token and no secret at rest or in the logs: the real binary runs a workload that uses
//! every way a token is given out or presented, then every stored byte (the embedded file
//! read raw, every item of the DynamoDB table and its index) and every line the process
//! wrote are searched for each token ever issued, its secret and the secret's bytes. What
//! the store must keep instead, the id and SHA-256 of the secret, is checked to be there, so
//! that an empty dump cannot pass.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use session_core::store::PageRequest;
use session_core::store::dynamodb::testing::{local_client, local_endpoint, unique_table_name};
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::{Clock, SessionStore, SystemClock};
use sha2::{Digest, Sha256};
use support::{Server, client, run};

const USER: &str = "leak-check";
/// The most log lines: every target at every level, the request log (`session_api::request`)
/// included.
const LOG_EVERYTHING: (&str, &str) = ("RUST_LOG", "trace");

/// What a workload leaves behind.
struct Outcome {
    /// Every token any answer gave out, rotated-away and deleted ones included.
    issued: Vec<String>,
    /// The sessions still live, by id, with the token that opens each now.
    live: BTreeMap<String, String>,
    /// Every answer other than a create or a rotate, headers and body: none may carry a token.
    answers: Vec<String>,
}

/// A client of one server that keeps every token it is given and every other answer it gets.
struct Workload<'a> {
    server: &'a Server,
    http: reqwest::Client,
    issued: Vec<String>,
    answers: Vec<String>,
}

impl<'a> Workload<'a> {
    fn new(server: &'a Server) -> Self {
        Self {
            server,
            http: client(),
            issued: Vec::new(),
            answers: Vec::new(),
        }
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.http.request(method, self.server.url(path));
        match token {
            Some(token) => request.header("x-session-token", token),
            None => request,
        }
    }

    /// Sends `request`, which must answer `status`; keeps the answer and returns its body.
    async fn expect(&mut self, request: RequestBuilder, status: u16) -> Value {
        let reply = request.send().await.expect("request");
        let got = reply.status().as_u16();
        let headers = format!("{:?}", reply.headers());
        let text = reply.text().await.expect("body");
        assert_eq!(got, status, "{text}");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.answers.push(format!("{headers}\n{text}"));
        body
    }

    /// Sends a create or rotate `request` (`status`) and returns the session's id and the
    /// token it gave out, which is kept.
    async fn issue(&mut self, request: RequestBuilder, status: u16) -> (String, String) {
        let reply = request.send().await.expect("request");
        assert_eq!(reply.status().as_u16(), status);
        let body: Value = reply.json().await.expect("json");
        let id = body["id"].as_str().expect("id").to_owned();
        let token = body["token"].as_str().expect("token").to_owned();
        assert!(token.starts_with(&format!("{id}.")), "{token}");
        self.issued.push(token.clone());
        (id, token)
    }

    /// Walks a listing page by page (one session a page, so that cursors are followed) and
    /// returns the ids it lists.
    async fn walk(&mut self, path: &str) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(cursor) => format!("{path}?limit=1&cursor={cursor}"),
                None => format!("{path}?limit=1"),
            };
            let page = self
                .expect(self.request(Method::GET, &url, None), 200)
                .await;
            for session in page["sessions"].as_array().expect("sessions") {
                ids.insert(session["id"].as_str().expect("id").to_owned());
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return ids,
            }
        }
    }
}

/// Creates sessions and uses their tokens every way the contract allows: read, write, refresh,
/// rotate (by token and by id), a rotated-away token refused, listings walked, a sign-out.
async fn run_workload(server: &Server) -> Outcome {
    let mut w = Workload::new(server);
    let mut live = Vec::new();
    for n in 0..4 {
        let create = w
            .request(Method::POST, "/sessions", None)
            .json(&json!({"userId": USER, "data": {"n": n, "note": "leak check"}}));
        live.push(w.issue(create, 201).await);
    }
    for (id, token) in &live {
        let read = w
            .expect(
                w.request(Method::GET, "/sessions/current", Some(token)),
                200,
            )
            .await;
        assert_eq!(read["id"], id.as_str());
        w.expect(
            w.request(Method::GET, &format!("/sessions/{id}"), None),
            200,
        )
        .await;
    }

    let put = w
        .request(Method::PUT, "/sessions/current", Some(&live[0].1))
        .json(&json!({"data": {"theme": "dark"}}));
    w.expect(put, 200).await;
    let patch = w
        .request(Method::PATCH, "/sessions/current", Some(&live[1].1))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"lang": "pl"}"#);
    w.expect(patch, 200).await;
    let refresh = w
        .request(Method::POST, "/sessions/current/refresh", Some(&live[2].1))
        .json(&json!({"ttlSeconds": 7200}));
    w.expect(refresh, 200).await;

    // Rotate one session by its token and one by its id; the old tokens then open nothing.
    let by_token = w.request(Method::POST, "/sessions/current/rotate", Some(&live[0].1));
    let (_, rotated) = w.issue(by_token, 200).await;
    let old_0 = std::mem::replace(&mut live[0].1, rotated);
    let by_id = w.request(
        Method::POST,
        &format!("/sessions/{}/rotate", live[1].0),
        None,
    );
    let (_, rotated) = w.issue(by_id, 200).await;
    let old_1 = std::mem::replace(&mut live[1].1, rotated);
    for old in [&old_0, &old_1] {
        w.expect(w.request(Method::GET, "/sessions/current", Some(old)), 404)
            .await;
        let write = w
            .request(Method::PATCH, "/sessions/current", Some(old))
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"stolen": true}"#);
        w.expect(write, 404).await;
    }
    for (_, token) in &live[..2] {
        w.expect(
            w.request(Method::GET, "/sessions/current", Some(token)),
            200,
        )
        .await;
    }

    let everyone: BTreeSet<String> = live.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(w.walk(&format!("/sessions/user/{USER}")).await, everyone);
    assert_eq!(w.walk("/sessions").await, everyone);

    // Sign out one session by its token.
    let (_, signed_out) = live.pop().expect("a session");
    w.expect(
        w.request(Method::DELETE, "/sessions/current", Some(&signed_out)),
        204,
    )
    .await;
    w.expect(
        w.request(Method::GET, "/sessions/current", Some(&signed_out)),
        404,
    )
    .await;

    Outcome {
        issued: w.issued,
        live: live.into_iter().collect(),
        answers: w.answers,
    }
}

/// The bytes of a token's secret.
fn secret_bytes(token: &str) -> Vec<u8> {
    let (_, secret) = token.split_once('.').expect("a token");
    URL_SAFE_NO_PAD.decode(secret).expect("base64url secret")
}

/// What a store keeps of a token's secret: SHA-256 of its bytes.
fn secret_hash(token: &str) -> Vec<u8> {
    Sha256::digest(secret_bytes(token)).to_vec()
}

/// Every form a token's secret could leak in: the token, its secret as given, the secret's
/// raw bytes, and those bytes in hex and in standard base64.
fn leak_forms(issued: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut forms = Vec::new();
    for (n, token) in issued.iter().enumerate() {
        let (_, secret) = token.split_once('.').expect("a token");
        assert_eq!(secret.len(), 43);
        let bytes = secret_bytes(token);
        assert_eq!(bytes.len(), 32);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        forms.push((format!("token #{n}"), token.as_bytes().to_vec()));
        forms.push((format!("secret of token #{n}"), secret.as_bytes().to_vec()));
        forms.push((format!("secret bytes of token #{n}"), bytes.clone()));
        forms.push((format!("hex secret of token #{n}"), hex.into_bytes()));
        forms.push((
            format!("base64 secret of token #{n}"),
            STANDARD.encode(&bytes).into_bytes(),
        ));
    }
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[track_caller]
fn assert_no_leak(haystack: &[u8], place: &str, forms: &[(String, Vec<u8>)]) {
    assert!(!haystack.is_empty(), "{place} is empty");
    for (what, form) in forms {
        assert!(!contains(haystack, form), "{place} holds the {what}");
    }
}

/// Checks the answers and the logs of a finished workload; the store's dump is the caller's.
fn assert_answers_and_logs_clean(outcome: &Outcome, logs: &[String]) -> Vec<(String, Vec<u8>)> {
    // Tokens: 4 creates and 2 rotations.
    assert_eq!(outcome.issued.len(), 6);
    let forms = leak_forms(&outcome.issued);
    for answer in &outcome.answers {
        assert_no_leak(answer.as_bytes(), &format!("the answer {answer}"), &forms);
    }

    // The logs hold a request line for every call by token, so they are worth searching.
    let by_token = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| {
            event["target"] == "session_api::request"
                && event["route"]
                    .as_str()
                    .is_some_and(|route| route.starts_with("/sessions/current"))
        })
        .count();
    assert!(
        by_token >= 16,
        "{by_token} request lines by token: {logs:?}"
    );
    assert_no_leak(logs.join("\n").as_bytes(), "the server's output", &forms);
    forms
}

/// The values of a DynamoDB item, as bytes: strings and numbers as text, binaries raw.
fn item_bytes(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => out.extend(text.as_bytes()),
        AttributeValue::B(blob) => out.extend(blob.as_ref()),
        AttributeValue::Ss(texts) | AttributeValue::Ns(texts) => {
            texts.iter().for_each(|text| out.extend(text.as_bytes()));
        }
        AttributeValue::Bs(blobs) => blobs.iter().for_each(|blob| out.extend(blob.as_ref())),
        AttributeValue::M(map) => {
            for (name, value) in map {
                out.extend(name.as_bytes());
                out.push(b'=');
                item_bytes(value, out);
            }
        }
        AttributeValue::L(list) => list.iter().for_each(|value| item_bytes(value, out)),
        other => out.extend(format!("{other:?}").as_bytes()),
    }
    out.push(b'\n');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_file_and_the_logs_hold_no_token_or_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.redb");
    let server = Server::spawn_capturing_stderr(&[
        ("EMBEDDED_DB_PATH", path.to_str().expect("utf-8")),
        LOG_EVERYTHING,
    ]);
    let outcome = run_workload(&server).await;
    let (status, logs) = server.stop_and_collect();
    assert!(status.success(), "{status:?}");
    let forms = assert_answers_and_logs_clean(&outcome, &logs);

    // Every byte the store left on disk, read raw: records, free pages and all.
    let mut dump = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("read dir") {
        dump.extend(std::fs::read(entry.expect("entry").path()).expect("read file"));
    }
    assert_no_leak(&dump, "the embedded store's file", &forms);
    for (id, token) in &outcome.live {
        assert!(
            contains(&dump, id.as_bytes()),
            "the file lacks session {id}"
        );
        assert!(
            contains(&dump, &secret_hash(token)),
            "the file lacks the secret hash of session {id}"
        );
    }

    // And decoded: each live record's hash is that of the token that opens it now.
    let store = EmbeddedStore::open(&path, EmbeddedOptions::default()).expect("reopen");
    let page = store
        .list_all(
            &PageRequest {
                limit: 100,
                after: None,
            },
            SystemClock.now(),
        )
        .await
        .expect("list");
    let stored: BTreeMap<String, Vec<u8>> = page
        .sessions
        .iter()
        .map(|s| (s.id.to_string(), s.secret_hash.as_bytes().to_vec()))
        .collect();
    let expected: BTreeMap<String, Vec<u8>> = outcome
        .live
        .iter()
        .map(|(id, token)| (id.clone(), secret_hash(token)))
        .collect();
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_table_and_the_logs_hold_no_token_or_secret() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("secrets");
    let env = support::dynamodb_env(endpoint.as_str(), table.as_str(), &[LOG_EVERYTHING]);
    let created = run(&["create-table", "--wait"], &env);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let server = Server::spawn_capturing_stderr(&env);
    let outcome = run_workload(&server).await;
    let (status, logs) = server.stop_and_collect();
    assert!(status.success(), "{status:?}");
    let forms = assert_answers_and_logs_clean(&outcome, &logs);

    // Every item of the table and of its index, two to a page so that pages are followed.
    let dynamodb = local_client(&endpoint);
    for index in [None, Some(session_core::schema::USER_INDEX)] {
        let pages = dynamodb
            .scan()
            .table_name(&table)
            .set_index_name(index.map(str::to_owned))
            .consistent_read(index.is_none())
            .limit(2)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("scan");
        assert!(pages.len() > 1, "{index:?}: one page only");
        let items: Vec<_> = pages
            .into_iter()
            .flat_map(|page| page.items.unwrap_or_default())
            .collect();

        let mut dump = Vec::new();
        for item in &items {
            for (name, value) in item {
                dump.extend(name.as_bytes());
                dump.push(b'=');
                item_bytes(value, &mut dump);
            }
        }
        assert_no_leak(&dump, &format!("the scan of {index:?}"), &forms);

        let expected: BTreeMap<String, AttributeValue> = outcome
            .live
            .iter()
            .map(|(id, token)| (id.clone(), AttributeValue::B(secret_hash(token).into())))
            .collect();
        let ids: Vec<&String> = items
            .iter()
            .map(|item| {
                let Some(AttributeValue::S(id)) = item.get("id") else {
                    panic!("{index:?}: an item without a string id: {item:?}");
                };
                id
            })
            .collect();
        if index.is_some() {
            // The index projects keys only: it holds no copy of the hash at all.
            assert!(
                items.iter().all(|item| !item.contains_key("secretHash")),
                "{index:?}: an index item carries secretHash"
            );
            let listed: BTreeSet<&String> = ids.into_iter().collect();
            assert_eq!(listed, expected.keys().collect(), "{index:?}");
            continue;
        }
        let stored: BTreeMap<String, AttributeValue> = items
            .iter()
            .zip(ids)
            .map(|(item, id)| {
                let hash = item
                    .get("secretHash")
                    .expect("a session without secretHash");
                (id.clone(), hash.clone())
            })
            .collect();
        assert_eq!(stored, expected, "{index:?}");
    }
}

//! The HTTP load generator: N connections, each sending requests back to back for a fixed
//! time, with the latency of every response recorded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::stats::Stats;

/// A fixed request mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// POST /sessions.
    Create,
    /// GET /sessions/{id} over pre-created sessions.
    Read,
    /// 80% read, 15% PATCH, 5% create.
    Mixed,
    /// GET /sessions/user/{userId}?limit=20 over users with 20 sessions each.
    List,
}

impl Workload {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Read => "read by id",
            Workload::Mixed => "mixed 80/15/5",
            Workload::List => "per-user list",
        }
    }
}

/// Where and how hard to push.
#[derive(Debug, Clone)]
pub struct Target {
    /// The service's address.
    pub address: SocketAddr,
    /// Bearer token sent with every request (the ceiling ignores it).
    pub token: String,
    /// Session ids to read and patch.
    pub ids: Vec<String>,
    /// Users to list.
    pub users: Vec<String>,
}

/// A small xorshift generator: cheap, deterministic per connection, good enough to pick keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        let index = usize::try_from(self.next() % items.len().max(1) as u64).unwrap_or(0);
        items.get(index).map_or("", String::as_str)
    }
}

fn session_body(connection: usize, n: u64) -> String {
    json!({
        "userId": format!("bench-{connection}-{}", n % 8),
        "data": {"theme": "dark", "lang": "en", "cart": [1, 2, 3], "n": n}
    })
    .to_string()
}

/// One request of the workload: method, path, content type and body.
fn next_request(
    workload: Workload,
    target: &Target,
    rng: &mut Rng,
    connection: usize,
    n: u64,
) -> (Method, String, Option<&'static str>, String) {
    let roll = rng.next() % 100;
    match (workload, roll) {
        (Workload::Create, _) | (Workload::Mixed, 95..) => (
            Method::POST,
            "/sessions".to_owned(),
            Some("application/json"),
            session_body(connection, n),
        ),
        (Workload::Read, _) | (Workload::Mixed, 0..80) => (
            Method::GET,
            format!("/sessions/{}", rng.pick(&target.ids)),
            None,
            String::new(),
        ),
        (Workload::Mixed, _) => (
            Method::PATCH,
            format!("/sessions/{}", rng.pick(&target.ids)),
            Some("application/merge-patch+json"),
            json!({ format!("k{}", n % 16): n }).to_string(),
        ),
        (Workload::List, _) => (
            Method::GET,
            format!("/sessions/user/{}?limit=20", rng.pick(&target.users)),
            None,
            String::new(),
        ),
    }
}

/// A request that failed before a response, described for the error count.
type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn connect(address: SocketAddr) -> Result<http1::SendRequest<Full<Bytes>>, Failure> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on `sender` and reads the whole response; returns the status and body.
pub async fn send(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    host: &str,
    token: &str,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> Result<(u16, Bytes), Failure> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host)
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let request = request.body(Full::new(Bytes::from(body)))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Runs `workload` on `connections` connections for `duration`.
pub async fn run(
    workload: Workload,
    target: &Target,
    connections: usize,
    duration: Duration,
) -> Stats {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|connection| {
            let target = target.clone();
            tokio::spawn(
                async move { connection_loop(workload, &target, connection, deadline).await },
            )
        })
        .collect();
    let mut total = Stats::new();
    for task in tasks {
        if let Ok(stats) = task.await {
            total.merge(&stats);
        }
    }
    total.elapsed = started.elapsed();
    total
}

async fn connection_loop(
    workload: Workload,
    target: &Target,
    connection: usize,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::new();
    let host = target.address.to_string();
    let mut rng =
        Rng(0x9E37_79B9_7F4A_7C15 ^ (connection as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut sender = None;
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        if sender.is_none() {
            match connect(target.address).await {
                Ok(fresh) => sender = Some(fresh),
                Err(_) => {
                    stats.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(open) = sender.as_mut() else {
            continue;
        };
        let (method, path, content_type, body) =
            next_request(workload, target, &mut rng, connection, n);
        let expected = if method == Method::POST { 201 } else { 200 };
        let began = Instant::now();
        match send(
            open,
            &host,
            &target.token,
            method,
            &path,
            content_type,
            body,
        )
        .await
        {
            Ok((status, _)) if status == expected => stats.record(began.elapsed()),
            Ok(_) => stats.errors += 1,
            Err(_) => {
                stats.errors += 1;
                sender = None;
            }
        }
    }
    stats
}

/// Creates sessions through the API and returns their ids (for read, mixed and list).
pub async fn seed(
    address: SocketAddr,
    token: &str,
    users: &[String],
    per_user: usize,
) -> Result<Vec<String>, Failure> {
    let mut sender = connect(address).await?;
    let host = address.to_string();
    let mut ids = Vec::new();
    for user in users {
        for n in 0..per_user {
            let body = json!({"userId": user, "data": {"theme": "dark", "lang": "en", "cart": [1, 2, 3], "n": n}}).to_string();
            let (status, response) = send(
                &mut sender,
                &host,
                token,
                Method::POST,
                "/sessions",
                Some("application/json"),
                body,
            )
            .await?;
            if status != 201 {
                return Err(format!("seeding got {status}").into());
            }
            let created: Value = serde_json::from_slice(&response)?;
            ids.push(created["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(ids)
}

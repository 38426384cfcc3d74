//! The HTTP load generator: N connections, each sending requests back to back for a fixed
//! time, with the latency of every response recorded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName};
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
    /// GET /sessions/current with `X-Session-Token` over the same pre-created sessions.
    ReadByToken,
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
            Workload::ReadByToken => "read by token",
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
    /// The tokens of the sessions in `ids`, from their create answers, to read by token.
    pub tokens: Vec<String>,
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

/// Header that carries a session token on the `/sessions/current` routes.
const SESSION_TOKEN: HeaderName = HeaderName::from_static("x-session-token");

/// One request: what `send` puts on the wire besides the host and the bearer token.
pub struct Call<'a> {
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// `Content-Type` of the body, if it has one.
    pub content_type: Option<&'static str>,
    /// `X-Session-Token`, for the `/sessions/current` routes.
    pub session_token: Option<&'a str>,
    /// The body.
    pub body: String,
}

impl Call<'_> {
    fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            content_type: None,
            session_token: None,
            body: String::new(),
        }
    }
}

/// One request of the workload.
fn next_request<'a>(
    workload: Workload,
    target: &'a Target,
    rng: &mut Rng,
    connection: usize,
    n: u64,
) -> Call<'a> {
    let roll = rng.next() % 100;
    match (workload, roll) {
        (Workload::Create, _) | (Workload::Mixed, 95..) => Call {
            method: Method::POST,
            path: "/sessions".to_owned(),
            content_type: Some("application/json"),
            session_token: None,
            body: session_body(connection, n),
        },
        (Workload::Read, _) | (Workload::Mixed, 0..80) => {
            Call::get(format!("/sessions/{}", rng.pick(&target.ids)))
        }
        (Workload::ReadByToken, _) => Call {
            session_token: Some(rng.pick(&target.tokens)),
            ..Call::get("/sessions/current".to_owned())
        },
        (Workload::Mixed, _) => Call {
            method: Method::PATCH,
            path: format!("/sessions/{}", rng.pick(&target.ids)),
            content_type: Some("application/merge-patch+json"),
            session_token: None,
            body: json!({ format!("k{}", n % 16): n }).to_string(),
        },
        (Workload::List, _) => Call::get(format!(
            "/sessions/user/{}?limit=20",
            rng.pick(&target.users)
        )),
    }
}

/// A request that failed before a response, described for the error count.
type Failure = Box<dyn std::error::Error + Send + Sync>;

pub(crate) async fn connect(
    address: SocketAddr,
) -> Result<http1::SendRequest<Full<Bytes>>, Failure> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends `call` on `sender` with the bearer `token` and reads the whole response; returns the
/// status and body.
pub async fn send(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    host: &str,
    token: &str,
    call: Call<'_>,
) -> Result<(u16, Bytes), Failure> {
    let mut request = Request::builder()
        .method(call.method)
        .uri(call.path)
        .header(HOST, host)
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = call.content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    if let Some(session_token) = call.session_token {
        request = request.header(SESSION_TOKEN, session_token);
    }
    let request = request.body(Full::new(Bytes::from(call.body)))?;
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
        let call = next_request(workload, target, &mut rng, connection, n);
        let expected = if call.method == Method::POST {
            201
        } else {
            200
        };
        let began = Instant::now();
        match send(open, &host, &target.token, call).await {
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

/// Sessions created through the API before the workloads that read them.
pub struct Seeded {
    /// Their ids (for read by id, mixed and list).
    pub ids: Vec<String>,
    /// Their tokens, in the same order (for read by token).
    pub tokens: Vec<String>,
}

/// Creates `per_user` sessions for each of `users` through the API, keeping the id and the
/// token of each create answer.
pub async fn seed(
    address: SocketAddr,
    token: &str,
    users: &[String],
    per_user: usize,
) -> Result<Seeded, Failure> {
    let mut sender = connect(address).await?;
    let host = address.to_string();
    let mut seeded = Seeded {
        ids: Vec::new(),
        tokens: Vec::new(),
    };
    for user in users {
        for n in 0..per_user {
            let body = json!({"userId": user, "data": {"theme": "dark", "lang": "en", "cart": [1, 2, 3], "n": n}}).to_string();
            let call = Call {
                method: Method::POST,
                path: "/sessions".to_owned(),
                content_type: Some("application/json"),
                session_token: None,
                body,
            };
            let (status, response) = send(&mut sender, &host, token, call).await?;
            if status != 201 {
                return Err(format!("seeding got {status}").into());
            }
            let created: Value = serde_json::from_slice(&response)?;
            let (Some(id), Some(session_token)) =
                (created["id"].as_str(), created["token"].as_str())
            else {
                return Err("a create answer lacks its id or token".into());
            };
            seeded.ids.push(id.to_owned());
            seeded.tokens.push(session_token.to_owned());
        }
    }
    Ok(seeded)
}

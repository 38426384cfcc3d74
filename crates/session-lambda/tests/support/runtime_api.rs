//! A Lambda Runtime API of our own on `127.0.0.1:0`, and the real binary run against it.
//!
//! This is test infrastructure playing the part of the Lambda service (it hands out events
//! and collects answers), not a stand-in for anything the function does: the function under
//! test is the real `session-lambda` binary, talking to DynamoDB Local.
//!
//! Shared by the integration tests and the cold-start benchmark (`examples/cold_start.rs`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// The ARN the emulator says the function has.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:session-lambda-test";

/// How long an invocation may take before the test gives up on it.
pub const INVOKE_LIMIT: Duration = Duration::from_secs(30);

/// What the function posted back for one invocation.
#[derive(Debug)]
pub enum Outcome {
    /// `POST /runtime/invocation/{id}/response`.
    Response {
        /// The JSON payload (the event-source response).
        payload: Value,
        /// When the emulator received it.
        at: Instant,
    },
    /// `POST /runtime/invocation/{id}/error`.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
        /// The JSON error body.
        payload: Value,
        /// When the emulator received it.
        at: Instant,
    },
}

impl Outcome {
    /// The response payload; panics (in a test) on an error.
    #[track_caller]
    pub fn payload(self) -> Value {
        match self {
            Self::Response { payload, .. } => payload,
            Self::Error {
                payload,
                error_type,
                ..
            } => {
                panic!("the function reported an error {error_type:?}: {payload}")
            }
        }
    }

    /// When the answer arrived.
    pub fn at(&self) -> Instant {
        match self {
            Self::Response { at, .. } | Self::Error { at, .. } => *at,
        }
    }
}

/// A `POST /runtime/init/error`.
#[derive(Debug, Clone)]
pub struct InitError {
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    /// The JSON body.
    pub payload: Value,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_errors: mpsc::UnboundedSender<InitError>,
    polls: AtomicU64,
    /// When the function first asked for an event: the end of its init.
    first_poll: OnceLock<Instant>,
}

/// The emulator: serves until dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    events: mpsc::UnboundedSender<(String, String)>,
    shared: Arc<Shared>,
    init_errors: tokio::sync::Mutex<mpsc::UnboundedReceiver<InitError>>,
    counter: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts the emulator on a free loopback port.
    pub async fn start() -> Self {
        let (events, queue) = mpsc::unbounded_channel();
        let (init_tx, init_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue),
            waiting: Mutex::new(HashMap::new()),
            init_errors: init_tx,
            polls: AtomicU64::new(0),
            first_poll: OnceLock::new(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API on loopback");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            events,
            shared,
            init_errors: tokio::sync::Mutex::new(init_rx),
            counter: AtomicU64::new(0),
            server,
        }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub fn endpoint(&self) -> String {
        self.address.to_string()
    }

    /// How many `/next` requests the function made.
    pub fn polls(&self) -> u64 {
        self.shared.polls.load(Ordering::SeqCst)
    }

    /// When the function first asked for an event (`/next`), if it has: the end of its init.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// Queues `event` (JSON text) and waits for the function's answer.
    pub async fn invoke(&self, event: &str) -> Outcome {
        self.try_invoke(event, INVOKE_LIMIT)
            .await
            .unwrap_or_else(|| panic!("the function did not answer within {INVOKE_LIMIT:?}"))
    }

    /// Queues `event` and waits up to `limit` for the answer.
    pub async fn try_invoke(&self, event: &str, limit: Duration) -> Option<Outcome> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let id = format!("7e57a1d0-0000-4000-8000-{n:012x}");
        let (tx, rx) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .expect("lock")
            .insert(id.clone(), tx);
        self.events
            .send((id, event.to_owned()))
            .expect("the emulator is running");
        tokio::time::timeout(limit, rx).await.ok()?.ok()
    }

    /// The next `/runtime/init/error` report, if one arrives within `limit`.
    pub async fn init_error(&self, limit: Duration) -> Option<InitError> {
        let mut errors = self.init_errors.lock().await;
        tokio::time::timeout(limit, errors.recv()).await.ok()?
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.first_poll.get_or_init(Instant::now);
    shared.polls.fetch_add(1, Ordering::SeqCst);
    let mut queue = shared.queue.lock().await;
    let Some((id, event)) = queue.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = (now_ms() + 60_000).to_string();
    let trace = format!(
        "Root=1-{:08x}-{}0;Parent=5a1d0c0ffee0b0a7;Sampled=0",
        now_ms() / 1000,
        &id[id.len() - 12..]
    );
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline),
            (
                "lambda-runtime-invoked-function-arn",
                FUNCTION_ARN.to_owned(),
            ),
            ("lambda-runtime-trace-id", trace),
            ("content-type", "application/json".to_owned()),
        ],
        event,
    )
        .into_response()
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn settle(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    let waiter = shared.waiting.lock().expect("lock").remove(id);
    match waiter {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"errorMessage": "unknown request id", "errorType": "InvalidRequestID"}),
            ),
        )
            .into_response(),
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    settle(
        &shared,
        &id,
        Outcome::Response {
            payload: parse(&body),
            at,
        },
    )
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    settle(
        &shared,
        &id,
        Outcome::Error {
            error_type: error_type(&headers),
            payload: parse(&body),
            at,
        },
    )
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = shared.init_errors.send(InitError {
        error_type: error_type(&headers),
        payload: parse(&body),
    });
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

/// A function process (the real binary), ended by its handle when dropped.
pub struct Function {
    child: Child,
    /// When the process was spawned.
    pub spawned: Instant,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::mpsc::Receiver<String>,
    exited: bool,
}

/// The lines received so far; after the exit, every line until the pipe's reader ends.
fn drain(lines: &std::sync::mpsc::Receiver<String>, exited: bool) -> Vec<String> {
    if !exited {
        return lines.try_iter().collect();
    }
    let mut out = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        out.push(line);
    }
    out
}

/// The environment the Lambda service gives every function, pointed at `runtime_api`.
pub fn lambda_environment(runtime_api: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", "session-lambda-test"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_REGION", "us-east-1"),
        // DynamoDB Local checks no signature; fake credentials keep the SDK off any other source.
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn pipe_lines(reader: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

impl Function {
    /// Spawns `binary` with only `env` (and `PATH`) in its environment.
    pub fn spawn(binary: &Path, env: &[(String, String)]) -> Self {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let stdout = pipe_lines(child.stdout.take().expect("stdout"));
        let stderr = pipe_lines(child.stderr.take().expect("stderr"));
        Self {
            child,
            spawned,
            stdout,
            stderr,
            exited: false,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = true;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The stdout lines written so far (all of them once the process has exited: the reader
    /// ends when the pipe closes).
    pub fn stdout_lines(&self) -> Vec<String> {
        drain(&self.stdout, self.exited())
    }

    /// The stderr lines written so far (all of them once the process has exited).
    pub fn stderr_lines(&self) -> Vec<String> {
        drain(&self.stderr, self.exited())
    }

    fn exited(&self) -> bool {
        self.exited
    }

    /// Ends the process (by its handle) and waits for it.
    pub fn stop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.exited = true;
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Spawning the real `session-server` binary on a free loopback port.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_session-server");

/// A cursor secret (32 random bytes, base64): a server on DynamoDB refuses to start without one.
pub const CURSOR_SECRET: (&str, &str) = (
    "SESSION_CURSOR_SECRET",
    "qh8kF+sX82OD7eAGypHcmgtFwjv+QyFfhgh92sO9WXg=",
);

/// The settings that serve the table `table` from the DynamoDB endpoint `endpoint` (DynamoDB
/// Local, or a stand-in), with made-up credentials and the cursor secret, followed by `more`.
pub fn dynamodb_env<'a>(
    endpoint: &'a str,
    table: &'a str,
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("SESSION_STORE", "dynamodb"),
        ("DYNAMODB_TABLE_NAME", table),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        CURSOR_SECRET,
    ];
    env.extend_from_slice(more);
    env
}

/// A running server process, ended (by its PID) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub logs: Receiver<String>,
    startup: std::cell::RefCell<Vec<String>>,
}

/// The environment every spawned server gets: loopback only, a free port, JSON logs.
fn base_command() -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    command
}

impl Server {
    /// Starts the server with `env` and waits until it listens.
    pub fn spawn(env: &[(&str, &str)]) -> Self {
        Self::start(env, false)
    }

    /// Starts the server as `spawn` does, with its stderr captured into `logs` beside stdout:
    /// for a test that checks everything the process writes.
    pub fn spawn_capturing_stderr(env: &[(&str, &str)]) -> Self {
        Self::start(env, true)
    }

    fn start(env: &[(&str, &str)], capture_stderr: bool) -> Self {
        let mut command = base_command();
        command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        let mut child = command.spawn().expect("spawn session-server");
        let (sender, logs) = channel();
        forward_lines(child.stdout.take().expect("stdout"), sender.clone());
        if let Some(stderr) = child.stderr.take() {
            forward_lines(stderr, sender);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut startup = Vec::new();
        loop {
            let line = logs
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    panic!(
                        "the server did not report listening; status {:?}",
                        child.try_wait()
                    )
                });
            let event = serde_json::from_str::<Value>(&line).unwrap_or_default();
            startup.push(line);
            if event["message"] == "listening" {
                let address = event["address"].as_str().expect("address").to_owned();
                return Self {
                    child,
                    base: format!("http://{address}"),
                    logs,
                    startup: std::cell::RefCell::new(startup),
                };
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self, http: &reqwest::Client) -> String {
        http.get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        wait(&mut self.child, Duration::from_secs(30))
    }

    /// Stops the server (SIGTERM), waits for it to exit, and returns its exit status and every
    /// line it wrote that `wait_for_logs` has not returned yet. The process is gone, so its
    /// pipes are closed and no line is missed.
    pub fn stop_and_collect(mut self) -> (ExitStatus, Vec<String>) {
        signal(self.child.id(), "TERM");
        let status = wait(&mut self.child, Duration::from_secs(30));
        let mut lines = std::mem::take(&mut *self.startup.borrow_mut());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self
                .logs
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return (status, lines),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the server exited but its output did not end")
                }
            }
        }
    }

    /// The log lines written so far, waiting (up to 10 s) until `done` holds for them: the
    /// server writes its log from a background thread, a moment after answering.
    pub fn wait_for_logs(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = std::mem::take(&mut *self.startup.borrow_mut());
        while !done(&lines) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.logs.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => lines.push(line),
                Err(_) if Instant::now() >= deadline => break,
                Err(_) => {}
            }
        }
        lines.extend(self.logs.try_iter());
        lines
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends each line `pipe` yields to `sender`, from a thread of its own, until the pipe closes.
fn forward_lines(pipe: impl Read + Send + 'static, sender: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary to completion (for `create-table`, bad settings…).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    base_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run session-server")
}

/// Runs the binary, which must exit within `limit`: one that serves instead is killed, and the
/// test fails rather than hangs.
pub fn run_to_exit(env: &[(&str, &str)], limit: Duration) -> std::process::Output {
    let mut child = base_command()
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn session-server");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A free loopback port (bound and released; fine for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// The directory of DynamoDB Local's jar (`scripts/test` exports it). Missing: a test that
/// needs it fails under `CI=true` and is skipped, loudly, elsewhere.
pub fn dynamodb_local_lib() -> Option<String> {
    match std::env::var("DYNAMODB_LOCAL_LIB") {
        Ok(lib) if !lib.is_empty() => Some(lib),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1") => {
            panic!("DYNAMODB_LOCAL_LIB is not set but CI=true (scripts/test sets it)")
        }
        _ => {
            eprintln!("SKIPPED: DYNAMODB_LOCAL_LIB is not set; run scripts/test");
            None
        }
    }
}

/// A DynamoDB Local process of this test's own, keeping its data in `dir` so that it survives
/// a restart. Stopped (by its handle) when dropped.
pub struct DynamoLocal {
    child: Child,
    pub endpoint: String,
}

impl DynamoLocal {
    pub fn start(lib: &str, port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new("java")
            .arg(format!("-Djava.library.path={lib}/DynamoDBLocal_lib"))
            .arg("-jar")
            .arg(format!("{lib}/DynamoDBLocal.jar"))
            .args(["-sharedDb", "-dbPath"])
            .arg(dir)
            .args(["-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start DynamoDB Local");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "DynamoDB Local did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Stops the process (SIGTERM, then waits).
    pub fn stop(mut self) {
        signal(self.child.id(), "TERM");
        let _ = wait(&mut self.child, Duration::from_secs(30));
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! Spawning the real `session-server` binary on a free loopback port.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_session-server");

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
        let mut command = base_command();
        command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn session-server");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, logs) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        wait(&mut self.child, Duration::from_secs(30))
    }

    /// The log lines written so far and not drained yet (start-up lines included).
    pub fn drain_logs(&self) -> Vec<String> {
        let mut lines = std::mem::take(&mut *self.startup.borrow_mut());
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

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

//! The benchmark suite for one store: the service and its HTTP ceiling under the same
//! workloads, the store alone, and the server's peak memory, as a markdown report.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session_core::store::dynamodb::testing::local_client;

use crate::load::{self, Target, Workload};
use crate::stats::Stats;
use crate::store::{self, Operation};
use crate::verify::{self, VerifyCost};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The `session-server` binary.
    pub server_bin: PathBuf,
    /// DynamoDB Local's endpoint; `None` measures the embedded store.
    pub dynamodb_endpoint: Option<String>,
    /// Measured time per workload.
    pub duration: Duration,
    /// Unmeasured time before each workload.
    pub warmup: Duration,
    /// Concurrent connections (and concurrent store callers).
    pub connections: usize,
    /// The workloads to measure, in this order.
    pub workloads: Vec<Workload>,
    /// Settings for the server on top of the suite's own (which they override).
    pub server_env: Vec<(String, String)>,
}

/// Reads a `KEY=VALUE` server setting.
pub fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got '{text}'")),
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A process this suite started; ended by its handle when dropped.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> Result<u16, Failure> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(address: SocketAddr, child: &mut Child) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(address).is_err() {
        if let Some(status) = child.try_wait()? {
            return Err(format!("the process exited before listening: {status}").into());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listened on {address}").into());
        }
        // Polled often: the scale benchmark times the server's start (and its first sweep) from
        // the moment it listens.
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// CPU time (user and system, every thread) a process has used so far.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count fields after its end.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |at: usize| fields.get(at)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line, in clock ticks of 1/100 s (Linux's
    // USER_HZ, fixed for user space).
    let total = ticks(11)? + ticks(12)?;
    Some(Duration::from_millis(total * 10))
}

/// Peak resident memory of a process (VmHWM), in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

pub(crate) const TOKEN: &str = "bench-admin-token-0123456789abcdef";
/// A server on DynamoDB refuses to start without a cursor secret.
const CURSOR_SECRET: &str = "qh8kF+sX82OD7eAGypHcmgtFwjv+QyFfhgh92sO9WXg=";
const TABLE_PREFIX: &str = "bench";

fn server_env(plan: &Plan, dir: &Path, port: u16, table: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("PORT".to_owned(), port.to_string()),
        ("BIND_ADDRESS".to_owned(), "127.0.0.1".to_owned()),
        ("LOG_FORMAT".to_owned(), "json".to_owned()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
        ("ADMIN_TOKENS".to_owned(), TOKEN.to_owned()),
    ];
    match &plan.dynamodb_endpoint {
        None => env.push((
            "EMBEDDED_DB_PATH".to_owned(),
            dir.join("sessions.redb").display().to_string(),
        )),
        Some(endpoint) => env.extend([
            ("SESSION_STORE".to_owned(), "dynamodb".to_owned()),
            ("DYNAMODB_TABLE_NAME".to_owned(), table.to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "local".to_owned()),
            ("SESSION_CURSOR_SECRET".to_owned(), CURSOR_SECRET.to_owned()),
        ]),
    }
    env.extend(plan.server_env.iter().cloned());
    env
}

pub(crate) fn start(
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    port: u16,
) -> Result<Process, Failure> {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // Logs are written (their cost is part of the service) and thrown away.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), &mut child)?;
    Ok(Process(child))
}

/// One workload on the service and on the ceiling.
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// The service's figures.
    pub service: Stats,
    /// CPU time the server used over the service's measured runs.
    pub service_cpu: Option<Duration>,
    /// The HTTP ceiling's figures.
    pub ceiling: Stats,
}

/// The store alone under the operation a workload is compared with.
pub struct StoreRow {
    /// The workload it is compared with.
    pub workload: Workload,
    /// Measured in two halves, just before and just after the service's run of the workload.
    pub runs: Vec<Stats>,
}

/// The whole report for one store.
pub struct Report {
    /// `embedded` or `dynamodb`.
    pub store: &'static str,
    /// One row per workload.
    pub rows: Vec<Row>,
    /// The store alone, for the workloads that have a store operation of their own.
    pub store_alone: Vec<StoreRow>,
    /// What verifying a token costs in process, when reads by token were measured.
    pub verify_cost: Option<VerifyCost>,
    /// Peak RSS of the server, KiB.
    pub peak_rss_kib: Option<u64>,
    /// The plan it followed.
    pub plan: Plan,
}

/// Every workload, in the order of a full run.
pub const WORKLOADS: [Workload; 5] = [
    Workload::Create,
    Workload::Read,
    Workload::ReadByToken,
    Workload::Mixed,
    Workload::List,
];

/// Where each workload is measured.
struct Sides<'a> {
    service: &'a Target,
    /// The server process behind `service`.
    server_pid: u32,
    ceiling: &'a Target,
    store: &'a StoreCeiling,
    dir: &'a Path,
}

/// What the interleaved runs produced.
struct Measured {
    /// Per workload: (service, its server's CPU time, HTTP ceiling).
    pairs: Vec<(Stats, Option<Duration>, Stats)>,
    /// The store alone: the half before and the half after the service's run of a workload.
    store_alone: Vec<StoreRow>,
}

/// The store operation that a workload is compared with, if any.
fn store_operation(workload: Workload) -> Option<Operation> {
    match workload {
        Workload::Create => Some(Operation::Create),
        Workload::Read => Some(Operation::Get),
        Workload::ReadByToken => Some(Operation::GetByToken),
        Workload::Mixed | Workload::List => None,
    }
}

/// Measures every workload of the plan on the service, on the HTTP ceiling and, for create
/// and the reads, on the store alone, interleaved so that each comparison is made side by
/// side: half the time on the store alone, half on the service, all of it on the ceiling, the
/// other half on the service, the other half on the store alone (A B C C B A). Shared
/// machines drift by tens of percent over minutes (and DynamoDB Local, a JVM, keeps getting
/// faster while it compiles); measured this way a steady drift falls on every side alike
/// instead of on one.
fn measure_interleaved(
    load_runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    sides: &Sides<'_>,
) -> Measured {
    let half = plan.duration / 2;
    let run = |workload: Workload, target: &Target, warm: bool| {
        if warm && !plan.warmup.is_zero() {
            load_runtime.block_on(load::run(workload, target, plan.connections, plan.warmup));
        }
        load_runtime.block_on(load::run(workload, target, plan.connections, half))
    };
    // The server's CPU time is counted over the measured half only, not its warm-up.
    let on_service = |workload: Workload, warm: bool| {
        if warm && !plan.warmup.is_zero() {
            load_runtime.block_on(load::run(
                workload,
                sides.service,
                plan.connections,
                plan.warmup,
            ));
        }
        let before = cpu_time(sides.server_pid);
        let stats = run(workload, sides.service, false);
        let used = cpu_time(sides.server_pid)
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before));
        (stats, used)
    };
    let alone = |operation: Option<Operation>| {
        operation.map(|operation| {
            sides
                .store
                .measure(operation, plan.connections, half, sides.dir)
        })
    };
    let mut measured = Measured {
        pairs: Vec::new(),
        store_alone: Vec::new(),
    };
    for &workload in &plan.workloads {
        let operation = store_operation(workload);
        let before = alone(operation);
        let (mut service, first_cpu) = on_service(workload, true);
        let mut ceiling = run(workload, sides.ceiling, true);
        ceiling.extend(&run(workload, sides.ceiling, false));
        let (second, second_cpu) = on_service(workload, false);
        service.extend(&second);
        let after = alone(operation);
        let cpu = first_cpu.zip(second_cpu).map(|(a, b)| a + b);
        measured.pairs.push((service, cpu, ceiling));
        if operation.is_some() {
            measured.store_alone.push(StoreRow {
                workload,
                runs: before.into_iter().chain(after).collect(),
            });
        }
    }
    measured
}

/// The store alone: durable creates, reads by id and reads by token, in process.
struct StoreCeiling {
    runtime: tokio::runtime::Runtime,
    /// DynamoDB Local's client and the table of the raw calls; `None` for the embedded store.
    dynamodb: Option<(aws_sdk_dynamodb::Client, String)>,
}

impl StoreCeiling {
    /// The store alone on a runtime like the server's: the embedded store, or, with
    /// `dynamodb_endpoint`, DynamoDB Local through the SDK on table `{table}-raw` (created
    /// here).
    fn new(dynamodb_endpoint: Option<&str>, table: &str) -> Result<Self, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let mut dynamodb = None;
        if let Some(endpoint) = dynamodb_endpoint {
            let client = local_client(endpoint);
            let raw = format!("{table}-raw");
            runtime.block_on(session_core::store::dynamodb::create_table(
                &client,
                &raw,
                Some(Duration::from_secs(30)),
            ))?;
            dynamodb = Some((client, raw));
        }
        Ok(Self { runtime, dynamodb })
    }

    fn measure(&self, operation: Operation, tasks: usize, duration: Duration, dir: &Path) -> Stats {
        match &self.dynamodb {
            None => self
                .runtime
                .block_on(store::embedded(dir, operation, tasks, duration)),
            Some((client, table)) => self.runtime.block_on(store::dynamodb(
                client.clone(),
                table.clone(),
                operation,
                tasks,
                duration,
            )),
        }
    }
}

/// Drives the store alone for `duration`, as the suite's store ceiling does: the embedded store
/// in a temporary directory, or DynamoDB Local at `dynamodb_endpoint` on a table of its own
/// (created first, and warmed up for reads).
pub fn store_alone(
    dynamodb_endpoint: Option<String>,
    operation: Operation,
    tasks: usize,
    duration: Duration,
) -> Result<Stats, Failure> {
    let dir = tempfile::tempdir()?;
    let ceiling = StoreCeiling::new(
        dynamodb_endpoint.as_deref(),
        &format!("{TABLE_PREFIX}-{}-alone", std::process::id()),
    )?;
    Ok(ceiling.measure(operation, tasks, duration, dir.path()))
}

/// Runs the suite.
pub fn run(plan: &Plan) -> Result<Report, Failure> {
    let dir = tempfile::tempdir()?;
    // The load generator gets one thread, so that the server keeps the other core.
    let load_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let users: Vec<String> = (0..20).map(|u| format!("bench-list-{u}")).collect();
    let table = format!("{TABLE_PREFIX}-{}", std::process::id());

    let ceiling_store = StoreCeiling::new(plan.dynamodb_endpoint.as_deref(), &table)?;
    if let Some((client, raw_table)) = &ceiling_store.dynamodb {
        // DynamoDB Local is a JVM whose speed grows for many seconds while its code compiles:
        // warm it up before anything is measured.
        let warm_up = (plan.warmup * 8).clamp(Duration::from_secs(1), Duration::from_secs(30));
        ceiling_store.runtime.block_on(store::dynamodb(
            client.clone(),
            raw_table.clone(),
            Operation::Create,
            plan.connections,
            warm_up,
        ));
        ceiling_store.runtime.block_on(store::dynamodb(
            client.clone(),
            raw_table.clone(),
            Operation::Get,
            plan.connections,
            warm_up,
        ));
    }

    // The service.
    if plan.dynamodb_endpoint.is_some() {
        let env = server_env(plan, dir.path(), 0, &table);
        let status = Command::new(&plan.server_bin)
            .args(["create-table", "--wait"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err("create-table failed".into());
        }
    }
    let port = free_port()?;
    let server = start(
        &plan.server_bin,
        &[],
        &server_env(plan, dir.path(), port, &table),
        port,
    )?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let seeded = load_runtime.block_on(load::seed(address, TOKEN, &users, 20))?;
    let target = Target {
        address,
        token: TOKEN.to_owned(),
        ids: seeded.ids,
        tokens: seeded.tokens,
        users: users.clone(),
    };
    // The HTTP ceiling, in a process of its own like the service, measured alongside it.
    let ceiling_port = free_port()?;
    let this = std::env::current_exe()?;
    let ceiling_process = start(
        &this,
        &["ceiling", "--port", &ceiling_port.to_string()],
        &[],
        ceiling_port,
    )?;
    let ceiling_target = Target {
        address: SocketAddr::from(([127, 0, 0, 1], ceiling_port)),
        ..target.clone()
    };
    let measured = measure_interleaved(
        &load_runtime,
        plan,
        &Sides {
            service: &target,
            server_pid: server.0.id(),
            ceiling: &ceiling_target,
            store: &ceiling_store,
            dir: dir.path(),
        },
    );
    drop(ceiling_process);
    let peak_rss_kib = peak_rss_kib(server.0.id());
    drop(server);
    // Measured with nothing else of the suite running.
    let verify_cost = plan
        .workloads
        .contains(&Workload::ReadByToken)
        .then(verify::measure);

    Ok(Report {
        store: if plan.dynamodb_endpoint.is_some() {
            "dynamodb"
        } else {
            "embedded"
        },
        rows: plan
            .workloads
            .iter()
            .copied()
            .zip(measured.pairs)
            .map(|(workload, (service, service_cpu, ceiling))| Row {
                workload,
                service,
                service_cpu,
                ceiling,
            })
            .collect(),
        store_alone: measured.store_alone,
        verify_cost,
        peak_rss_kib,
        plan: plan.clone(),
    })
}

fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0}%", 100.0 * part / whole)
    } else {
        "n/a".to_owned()
    }
}

fn times(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.2}x", part / whole)
    } else {
        "n/a".to_owned()
    }
}

impl Report {
    fn row(&self, workload: Workload) -> Option<&Row> {
        self.rows.iter().find(|row| row.workload == workload)
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let title = match self.store {
            "dynamodb" => "DynamoDB Local",
            _ => "Embedded store (redb file)",
        };
        let settings: Vec<String> = self
            .plan
            .server_env
            .iter()
            .map(|(key, value)| format!("`{key}={value}`"))
            .collect();
        let title = if settings.is_empty() {
            title.to_owned()
        } else {
            format!("{title}, server with {}", settings.join(", "))
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### {title}\n\n{} connections; each workload runs {} s on the service and {} s on the HTTP ceiling, in alternation (half on the service, all on the ceiling, the other half on the service), each after {} s of warm-up; the load generator runs on one thread.\n",
            self.plan.connections,
            self.plan.duration.as_secs_f64(),
            self.plan.duration.as_secs_f64(),
            self.plan.warmup.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| Workload | Service req/s | p50 ms | p99 ms | p99.9 ms | Errors | Server CPU µs/req | HTTP ceiling req/s | Ceiling p99 ms | Throughput vs ceiling | p99 vs ceiling |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for row in &self.rows {
            let (s, c) = (&row.service, &row.ceiling);
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} | {:.2} | {} | {} |",
                row.workload.name(),
                s.throughput(),
                s.quantile_ms(0.5),
                s.quantile_ms(0.99),
                s.quantile_ms(0.999),
                s.errors,
                row.service_cpu.filter(|_| s.ok > 0).map_or_else(
                    || "n/a".to_owned(),
                    |cpu| format!("{:.1}", cpu.as_secs_f64() * 1e6 / s.ok as f64)
                ),
                c.throughput(),
                c.quantile_ms(0.99),
                percent(s.throughput(), c.throughput()),
                times(s.quantile_ms(0.99), c.quantile_ms(0.99)),
            );
        }
        if self.store_alone.is_empty() {
            self.footer(&mut out);
            return out;
        }
        let store_name = if self.store == "dynamodb" {
            "DynamoDB Local through the SDK (PutItem with the service's condition; consistent GetItem; by token, the token read and its secret hashed as the service does, then the GetItem and the stored `secretHash` compared)"
        } else {
            "the embedded store called in process (durable create; read by id; by token, the token read and its secret hashed as the service does, then the read with the hash check)"
        };
        let warm = if self.store == "dynamodb" {
            " after a JVM warm-up,"
        } else {
            ""
        };
        let order = format!(
            ",{warm} measured in two halves of {} s, just before and just after the service's run of the same workload (the service is compared with their mean)",
            (self.plan.duration / 2).as_secs_f64()
        );
        let _ = writeln!(
            out,
            "\nThe store alone, {store_name}, {} concurrent callers{order}:\n\n| Operation | Store ops/s | Store p99 ms | Service req/s | Service vs store |\n|---|---|---|---|---|",
            self.plan.connections
        );
        for StoreRow { workload, runs } in &self.store_alone {
            let name = workload.name();
            let service = self
                .row(*workload)
                .map_or(0.0, |row| row.service.throughput());
            let mean = runs.iter().map(Stats::throughput).sum::<f64>() / runs.len().max(1) as f64;
            let each: Vec<String> = runs
                .iter()
                .map(|run| format!("{:.0}", run.throughput()))
                .collect();
            let p99: Vec<String> = runs
                .iter()
                .map(|run| format!("{:.2}", run.quantile_ms(0.99)))
                .collect();
            let throughput = if runs.len() > 1 {
                format!("{mean:.0} ({})", each.join(" then "))
            } else {
                format!("{mean:.0}")
            };
            let _ = writeln!(
                out,
                "| {name} | {throughput} | {} | {service:.0} | {} |",
                p99.join(" / "),
                percent(service, mean)
            );
        }
        self.footer(&mut out);
        out
    }

    /// What follows the tables: the cost of verifying a token, the server's peak memory.
    fn footer(&self, out: &mut String) {
        if let Some(cost) = &self.verify_cost {
            let _ = writeln!(out, "\n{}", cost.sentence());
        }
        if let Some(kib) = self.peak_rss_kib {
            let _ = writeln!(
                out,
                "\nPeak RSS of the server over the run: {:.1} MiB.",
                kib as f64 / 1024.0
            );
        }
    }

    /// Whether every request of every run succeeded (the harness itself works).
    pub fn clean(&self) -> bool {
        self.rows.iter().all(|row| {
            row.service.errors == 0
                && row.ceiling.errors == 0
                && row.service.ok > 0
                && row.ceiling.ok > 0
        }) && self
            .store_alone
            .iter()
            .flat_map(|row| &row.runs)
            .all(|run| run.ok > 0 && run.errors == 0)
    }
}

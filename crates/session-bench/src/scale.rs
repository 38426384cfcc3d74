//! The embedded store at scale (`scripts/bench-scale`): for each size, a store file filled in
//! process, then the server on it. Measured: the time to open the file (its in-memory index
//! rebuilt), the server's peak memory, reads, creates and per-user listings at full
//! concurrency, one sweep that purges a tenth of the sessions, and the revoke-all of a user
//! with many sessions, each with the longest stall of the requests running meanwhile.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::Value;
use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
use session_core::{Clock, Session, SessionStore, SystemClock, Timestamp, UserId};

use crate::load::{self, Call, Target, Workload};
use crate::stats::Stats;
use crate::store::new_session;
use crate::suite::{Process, TOKEN, free_port, peak_rss_kib, start};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Most users the other sessions belong to.
const USERS: usize = 100_000;
/// The user with many sessions, whose revoke-all is timed.
const BIG_USER: &str = "scale-big";
/// Most sessions of the big user: a tenth of the size up to this.
const BIG_USER_SESSIONS: usize = 10_000;
/// One in this many of the other sessions expired long ago, for the sweep to purge.
const EXPIRED_ONE_IN: usize = 10;
/// Creates in flight while filling: enough for the writer to commit full batches.
const FILL_TASKS: usize = 512;
/// Live ids and users kept for the reads and the listings.
const SAMPLE: usize = 20_000;
/// Connections of each probe (reads, creates) that records the stalls of an event.
const PROBE_CONNECTIONS: usize = 4;
/// Probes run in windows of this length until the event is over.
const PROBE_WINDOW: Duration = Duration::from_millis(500);
/// Time the probes run before and after an event.
const PROBE_MARGIN: Duration = Duration::from_millis(500);
/// The sweep interval of the server that sweeps: its first sweep starts this long after the
/// store opened.
const SWEEP_AFTER: Duration = Duration::from_secs(1);

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The `session-server` binary.
    pub server_bin: PathBuf,
    /// Sessions in the file, one point of the curve each.
    pub sizes: Vec<usize>,
    /// Measured time per workload.
    pub duration: Duration,
    /// Unmeasured time before each workload.
    pub warmup: Duration,
    /// Concurrent connections of the workloads.
    pub connections: usize,
}

/// Requests that ran while an event did, and the event itself.
struct Event {
    /// How long the event took.
    took: Duration,
    /// Sessions it removed.
    removed: u64,
    /// Reads by id meanwhile.
    reads: Stats,
    /// Creates meanwhile.
    creates: Stats,
}

/// One point of the curve.
struct Point {
    size: usize,
    big_user: usize,
    expired: usize,
    fill: Duration,
    file_mib: f64,
    open: Duration,
    ready: Duration,
    peak_rss_kib: Option<u64>,
    read: Stats,
    create: Stats,
    list: Stats,
    ceiling_create: Stats,
    quiet: Event,
    sweep: Event,
    revoke: Event,
}

/// Whether session `n` of a file is the big user's, and whether it expired long ago.
fn shape(n: usize, big_user: usize) -> (bool, bool) {
    let big = n < big_user;
    (big, !big && n % EXPIRED_ONE_IN == EXPIRED_ONE_IN - 1)
}

/// Session `n` of a file of `size`: created over the three days before `now` in the order of
/// `n` (so that expired sessions are spread over the whole table, as in a real file), live
/// for another day, or expired a day or more ago.
fn session(n: usize, size: usize, big_user: usize, users: usize, now: Timestamp) -> Session {
    let (big, expired) = shape(n, big_user);
    let span = 2 * 86_400_000_i64;
    let offset =
        i64::try_from(n).unwrap_or(i64::MAX) * (span / i64::try_from(size).unwrap_or(1).max(1));
    let created = Timestamp::from_millis(now.millis() - 3 * 86_400_000 + offset);
    let user = if big {
        BIG_USER.to_owned()
    } else {
        format!("scale-{}", n % users)
    };
    Session {
        user_id: UserId::parse(&user).unwrap_or_else(|_| unreachable!("valid user id")),
        created_at: created,
        updated_at: created,
        touched_at: created,
        ttl: if expired {
            created.epoch_seconds() + 60
        } else {
            now.epoch_seconds() + 86_400
        },
        ..new_session(n as u64)
    }
}

/// What a fill left for the measurements.
struct Filled {
    /// Ids of live sessions of the small users, spread over the file.
    ids: Vec<String>,
    /// The id of the expired session last in key order: the sweep is over once it is gone.
    last_expired: String,
    took: Duration,
}

/// Fills the store file at `path` with `size` sessions through the store's own API.
async fn fill(path: &Path, size: usize, big_user: usize) -> Result<Filled, Failure> {
    let store = Arc::new(EmbeddedStore::open(path, EmbeddedOptions::default())?);
    let users = USERS.min(size - big_user).max(1);
    let now = SystemClock.now();
    let stride = (size / SAMPLE).max(1);
    let last_expired = (0..size).rev().find(|&n| shape(n, big_user).1);
    let began = Instant::now();
    let tasks: Vec<_> = (0..FILL_TASKS.min(size))
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut kept = Vec::new();
                let mut last = None;
                for n in (task..size).step_by(FILL_TASKS) {
                    let session = session(n, size, big_user, users, now);
                    store.create(&session, None).await?;
                    // Reads go on while the big user's sessions are revoked: none of those.
                    let (big, expired) = shape(n, big_user);
                    if !big && !expired && n % stride == 0 {
                        kept.push(session.id.to_string());
                    }
                    if Some(n) == last_expired {
                        last = Some(session.id.to_string());
                    }
                }
                Ok::<_, session_core::SessionError>((kept, last))
            })
        })
        .collect();
    let mut filled = Filled {
        ids: Vec::new(),
        last_expired: String::new(),
        took: Duration::ZERO,
    };
    for task in tasks {
        let (kept, last) = task.await??;
        filled.ids.extend(kept);
        filled.last_expired = last.unwrap_or(filled.last_expired);
    }
    filled.took = began.elapsed();
    store.close();
    Ok(filled)
}

/// The server's settings for a file, sweeping every `sweep_interval` seconds.
fn server_env(path: &Path, port: u16, sweep_interval: u64) -> Vec<(String, String)> {
    [
        ("PORT", port.to_string()),
        ("BIND_ADDRESS", "127.0.0.1".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("ADMIN_TOKENS", TOKEN.to_owned()),
        ("EMBEDDED_DB_PATH", path.display().to_string()),
        ("SESSION_SWEEP_INTERVAL_SECONDS", sweep_interval.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

/// A server started on a store file.
struct Served {
    process: Process,
    address: SocketAddr,
    /// When it was spawned.
    spawned: Instant,
    /// From the spawn until it listened.
    ready: Duration,
}

/// Starts the server on `path`.
fn serve(server_bin: &Path, path: &Path, sweep_interval: u64) -> Result<Served, Failure> {
    let port = free_port()?;
    let spawned = Instant::now();
    let process = start(
        server_bin,
        &[],
        &server_env(path, port, sweep_interval),
        port,
    )?;
    Ok(Served {
        process,
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        spawned,
        ready: spawned.elapsed(),
    })
}

/// One request on a connection of its own: its status and body.
async fn request(
    address: SocketAddr,
    method: Method,
    path: String,
) -> Result<(u16, Value), Failure> {
    let mut sender = load::connect(address).await?;
    let call = Call {
        method,
        path,
        content_type: None,
        session_token: None,
        body: String::new(),
    };
    let (status, body) = load::send(&mut sender, &address.to_string(), TOKEN, call).await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Runs reads and creates against `target` while `event` runs (from a margin before it to a
/// margin after it), recording every latency.
async fn probe_while<F>(target: &Target, event: F) -> Result<Event, Failure>
where
    F: Future<Output = Result<(Duration, u64), Failure>>,
{
    let done = Arc::new(AtomicBool::new(false));
    let probe = {
        let (target, done) = (target.clone(), done.clone());
        tokio::spawn(async move {
            let (mut reads, mut creates) = (Stats::new(), Stats::new());
            loop {
                let (read, create) = tokio::join!(
                    load::run(Workload::Read, &target, PROBE_CONNECTIONS, PROBE_WINDOW),
                    load::run(Workload::Create, &target, PROBE_CONNECTIONS, PROBE_WINDOW),
                );
                reads.extend(&read);
                creates.extend(&create);
                if done.load(Ordering::Relaxed) {
                    return (reads, creates);
                }
            }
        })
    };
    tokio::time::sleep(PROBE_MARGIN).await;
    let outcome = event.await;
    tokio::time::sleep(PROBE_MARGIN).await;
    done.store(true, Ordering::Relaxed);
    let (reads, creates) = probe.await?;
    let (took, removed) = outcome?;
    Ok(Event {
        took,
        removed,
        reads,
        creates,
    })
}

/// Waits until the sweep that starts at `started` has purged `last`; gives its duration.
async fn sweep(
    address: SocketAddr,
    started: Instant,
    last: &str,
) -> Result<(Duration, u64), Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (status, _) = request(address, Method::GET, format!("/sessions/{last}")).await?;
        match status {
            404 => return Ok((started.elapsed(), 0)),
            410 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            _ => return Err(format!("the last expired session answered {status}").into()),
        }
    }
}

/// Revokes every session of the big user; gives the time it took and how many went.
async fn revoke_all(address: SocketAddr) -> Result<(Duration, u64), Failure> {
    let began = Instant::now();
    let (status, body) = request(
        address,
        Method::DELETE,
        format!("/sessions/user/{BIG_USER}"),
    )
    .await?;
    let took = began.elapsed();
    match (status, body["deleted"].as_u64()) {
        (200, Some(deleted)) => Ok((took, deleted)),
        _ => Err(format!("revoke-all answered {status} {body}").into()),
    }
}

/// Measures one point of the curve in `dir`.
async fn point(plan: &Plan, dir: &Path, size: usize) -> Result<Point, Failure> {
    let path = dir.join(format!("scale-{size}.redb"));
    let big_user = BIG_USER_SESSIONS.min(size / 10);
    eprintln!("bench-scale: filling {size} sessions");
    let filled = fill(&path, size, big_user).await?;
    let expired = (0..size).filter(|&n| shape(n, big_user).1).count();
    let file_mib = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;

    let began = Instant::now();
    let store = EmbeddedStore::open(&path, EmbeddedOptions::default())?;
    let open = began.elapsed();
    store.close();
    drop(store);

    let users = USERS.min(size - big_user).max(1);
    let mut target = Target {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: TOKEN.to_owned(),
        ids: filled.ids,
        tokens: Vec::new(),
        users: (0..users.min(SAMPLE))
            .map(|u| format!("scale-{}", u * (users / SAMPLE).max(1)))
            .collect(),
    };

    // The sweep, on a server that sweeps soon after it opened the file.
    eprintln!("bench-scale: {size}: the sweep");
    let sweeping = serve(&plan.server_bin, &path, SWEEP_AFTER.as_secs())?;
    // The writer starts its sweep timer once the file is open: about `open` after the spawn.
    let started = sweeping.spawned + open + SWEEP_AFTER;
    target.address = sweeping.address;
    let sweep = probe_while(
        &target,
        sweep(sweeping.address, started, &filled.last_expired),
    )
    .await?;
    let sweep = Event {
        removed: u64::try_from(expired).unwrap_or(u64::MAX),
        ..sweep
    };
    let sweep_rss = peak_rss_kib(sweeping.process.0.id());
    drop(sweeping);

    // Everything else, on a server that does not sweep meanwhile.
    eprintln!("bench-scale: {size}: workloads and revoke-all");
    let server = serve(&plan.server_bin, &path, 86_400)?;
    let (address, ready) = (server.address, server.ready);
    target.address = address;
    let measure = async |workload: Workload, target: &Target| {
        if !plan.warmup.is_zero() {
            load::run(workload, target, plan.connections, plan.warmup).await;
        }
        load::run(workload, target, plan.connections, plan.duration).await
    };
    let read = measure(Workload::Read, &target).await;
    let create = measure(Workload::Create, &target).await;
    let list = measure(Workload::List, &target).await;
    let quiet = probe_while(&target, async {
        tokio::time::sleep(PROBE_WINDOW).await;
        Ok((PROBE_WINDOW, 0))
    })
    .await?;
    let revoke = probe_while(&target, revoke_all(address)).await?;
    let peak_rss_kib = peak_rss_kib(server.process.0.id())
        .into_iter()
        .chain(sweep_rss)
        .max();
    drop(server);

    // The HTTP ceiling's creates, right after the service's.
    let ceiling_port = free_port()?;
    let this = std::env::current_exe()?;
    let ceiling = start(
        &this,
        &["ceiling", "--port", &ceiling_port.to_string()],
        &[],
        ceiling_port,
    )?;
    let ceiling_target = Target {
        address: SocketAddr::from(([127, 0, 0, 1], ceiling_port)),
        ..target.clone()
    };
    let ceiling_create = measure(Workload::Create, &ceiling_target).await;
    drop(ceiling);
    std::fs::remove_file(&path)?;

    Ok(Point {
        size,
        big_user,
        expired,
        fill: filled.took,
        file_mib,
        open,
        ready,
        peak_rss_kib,
        read,
        create,
        list,
        ceiling_create,
        quiet,
        sweep,
        revoke,
    })
}

/// The figures of a run.
pub struct Report {
    points: Vec<Point>,
    plan: Plan,
}

/// Measures every size of the plan, in a temporary directory under `dir`.
pub fn run(plan: &Plan, dir: &Path) -> Result<Report, Failure> {
    let dir = tempfile::tempdir_in(dir)?;
    // The load generator gets one thread, so that the server keeps the other core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut points = Vec::new();
    for &size in &plan.sizes {
        if size < 100 {
            return Err(format!("a size of {size} sessions is too small to measure").into());
        }
        points.push(runtime.block_on(point(plan, dir.path(), size))?);
    }
    Ok(Report {
        points,
        plan: plan.clone(),
    })
}

fn max_ms(stats: &Stats) -> f64 {
    stats.latency.max() as f64 / 1000.0
}

/// Whether a goal was met, as a word for the report.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

impl Report {
    /// Whether every request of every run succeeded (the harness itself works).
    pub fn clean(&self) -> bool {
        self.points.iter().all(|p| {
            let runs = [
                ("read", &p.read),
                ("create", &p.create),
                ("list", &p.list),
                ("ceiling create", &p.ceiling_create),
                ("quiet reads", &p.quiet.reads),
                ("quiet creates", &p.quiet.creates),
                ("sweep reads", &p.sweep.reads),
                ("sweep creates", &p.sweep.creates),
                ("revoke-all reads", &p.revoke.reads),
                ("revoke-all creates", &p.revoke.creates),
            ];
            runs.into_iter().fold(true, |clean, (name, stats)| {
                if stats.errors > 0 || stats.ok == 0 {
                    eprintln!(
                        "bench-scale: {}: {name}: {} ok, {} failed",
                        p.size, stats.ok, stats.errors
                    );
                    return false;
                }
                clean
            })
        })
    }

    /// The report as markdown: the curve, the stalls, and the goals at the largest size.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} connections; each workload runs {} s after {} s of warm-up; the load generator runs on one thread.\n",
            self.plan.connections,
            self.plan.duration.as_secs_f64(),
            self.plan.warmup.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| Sessions | Fill s | File MiB | Open s | Server up s | Peak RSS MiB | Read req/s | Read p99 ms | Create req/s | Create p99 ms | Ceiling create p99 ms | List req/s | List p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for p in &self.points {
            let _ = writeln!(
                out,
                "| {} | {:.1} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} |",
                p.size,
                p.fill.as_secs_f64(),
                p.file_mib,
                p.open.as_secs_f64(),
                p.ready.as_secs_f64(),
                p.peak_rss_kib.map_or_else(
                    || "n/a".to_owned(),
                    |kib| format!("{:.0}", kib as f64 / 1024.0)
                ),
                p.read.throughput(),
                p.read.quantile_ms(0.99),
                p.create.throughput(),
                p.create.quantile_ms(0.99),
                p.ceiling_create.quantile_ms(0.99),
                p.list.throughput(),
                p.list.quantile_ms(0.99),
            );
        }
        let _ = writeln!(
            out,
            "\nEvents, with {PROBE_CONNECTIONS} connections reading by id and {PROBE_CONNECTIONS} creating from {} ms before each until {} ms after it; *quiet* is the same probe for {} ms with nothing else running:\n",
            PROBE_MARGIN.as_millis(),
            PROBE_MARGIN.as_millis(),
            PROBE_WINDOW.as_millis()
        );
        let _ = writeln!(
            out,
            "| Sessions | Event | Took s | Sessions removed | Longest read ms | Longest create ms | Read p99 ms | Create p99 ms |\n|---|---|---|---|---|---|---|---|"
        );
        for p in &self.points {
            for (name, e) in [
                ("quiet", &p.quiet),
                ("sweep", &p.sweep),
                ("revoke-all", &p.revoke),
            ] {
                let _ = writeln!(
                    out,
                    "| {} | {name} | {:.3} | {} | {:.1} | {:.1} | {:.2} | {:.2} |",
                    p.size,
                    e.took.as_secs_f64(),
                    e.removed,
                    max_ms(&e.reads),
                    max_ms(&e.creates),
                    e.reads.quantile_ms(0.99),
                    e.creates.quantile_ms(0.99),
                );
            }
        }
        if let (Some(first), Some(last)) = (self.points.first(), self.points.last()) {
            self.goals(&mut out, first, last);
        }
        out
    }

    fn goals(&self, out: &mut String, first: &Point, last: &Point) {
        let _ = writeln!(
            out,
            "\nEach file: the sizes above, of which {} sessions of one user ({BIG_USER}), the others spread over {} users; one in {EXPIRED_ONE_IN} of the others ({} at {}) expired long ago.\n",
            last.big_user,
            USERS.min(last.size - last.big_user),
            last.expired,
            last.size
        );
        let rss_mib = last
            .peak_rss_kib
            .map_or(f64::NAN, |kib| kib as f64 / 1024.0);
        let read_ratio = last.read.quantile_ms(0.99) / first.read.quantile_ms(0.99);
        let stall = [&last.sweep, &last.revoke]
            .into_iter()
            .flat_map(|e| [max_ms(&e.reads), max_ms(&e.creates)])
            .fold(0.0, f64::max);
        let create_ratio = last.create.quantile_ms(0.99) / last.ceiling_create.quantile_ms(0.99);
        let _ = writeln!(
            out,
            "Goals at {} sessions:\n\n| Goal | Measured | |\n|---|---|---|\n| open within 3 s | {:.2} s | {} |\n| peak RSS within 300 MiB | {rss_mib:.0} MiB | {} |\n| read p99 within 1.5x of the {} figure | {read_ratio:.2}x ({:.2} ms against {:.2} ms) | {} |\n| no stall over 100 ms during the sweep or the revoke-all | longest request {stall:.1} ms | {} |\n| create p99 within 3x the HTTP ceiling's p99 | {create_ratio:.2}x ({:.2} ms against {:.2} ms) | {} |",
            last.size,
            last.open.as_secs_f64(),
            verdict(last.open <= Duration::from_secs(3)),
            verdict(rss_mib <= 300.0),
            first.size,
            last.read.quantile_ms(0.99),
            first.read.quantile_ms(0.99),
            verdict(read_ratio <= 1.5),
            verdict(stall <= 100.0),
            last.create.quantile_ms(0.99),
            last.ceiling_create.quantile_ms(0.99),
            verdict(create_ratio <= 3.0),
        );
    }
}

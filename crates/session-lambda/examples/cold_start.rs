//! Cold-start benchmark of the Lambda function, run by `scripts/bench-lambda-cold-start`.
//!
//! Each iteration starts a fresh Runtime API emulator on loopback, spawns the function, queues
//! one HTTP API event (`GET /health`) and measures the time from the spawn to the moment the
//! function posts its response: process start, settings, the SDK client, the router, the
//! runtime's first poll, and one request. The baseline (`examples/hello_lambda.rs`) is
//! measured the same way, interleaved with the function, so that both see the same machine
//! load; the report gives ratios to it. With `--dynamodb-endpoint`, a second figure times the
//! first DynamoDB-backed response (`POST /sessions` right after the first event), which adds
//! the first connection to the store. Each cold start also gives the init duration: from the
//! spawn to the function's first `/next`, when it is ready for events. Then, with the store,
//! each side is started once more (twice, alternately) for warm invocations: `GET
//! /sessions/current` with the token of a session it created, and `POST /sessions`, timed from
//! the event queued to the answer posted, 10 of each per iteration.
//!
//! With `--authorizer`, the Lambda authorizer (`session-authorizer`) is measured the same way,
//! in the same interleaving: its first answer is to an HTTP API authorizer event without a
//! token (no store call), and its first DynamoDB-backed answer to one with the token of an
//! unknown session (one read).
//!
//! ```text
//! cold_start --function PATH --baseline PATH [--authorizer PATH] [--iterations N]
//!            [--dynamodb-endpoint URL]
//! ```
//!
//! Prints a markdown table. This is a measurement, not a test: it asserts nothing about time.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use runtime_api::{Function, Outcome, RuntimeApi, lambda_environment};
use serde_json::{Value, json};
use session_core::store::dynamodb::create_table;
use session_core::store::dynamodb::testing::{local_client, unique_table_name};
use session_core::{SessionId, SessionToken};

/// Warm invocations of each route per cold-start iteration.
const WARM_PER_ITERATION: usize = 10;

struct Options {
    function: PathBuf,
    baseline: PathBuf,
    authorizer: Option<PathBuf>,
    iterations: usize,
    dynamodb_endpoint: Option<String>,
}

fn usage() -> String {
    "usage: cold_start --function PATH --baseline PATH [--authorizer PATH] [--iterations N] [--dynamodb-endpoint URL]"
        .to_owned()
}

fn parse_options() -> Result<Options, String> {
    let mut function = None;
    let mut baseline = None;
    let mut authorizer = None;
    let mut iterations = 20;
    let mut dynamodb_endpoint = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))
        };
        match flag.as_str() {
            "--function" => function = Some(PathBuf::from(value()?)),
            "--baseline" => baseline = Some(PathBuf::from(value()?)),
            "--authorizer" => authorizer = Some(PathBuf::from(value()?)),
            "--iterations" => {
                iterations = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| "--iterations must be 1 to 1000".to_owned())?;
            }
            "--dynamodb-endpoint" => dynamodb_endpoint = Some(value()?),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    Ok(Options {
        function: function.ok_or_else(usage)?,
        baseline: baseline.ok_or_else(usage)?,
        authorizer,
        iterations,
        dynamodb_endpoint,
    })
}

/// An HTTP API event for `method path` with an optional JSON body.
fn http_event(method: &str, path: &str, body: Option<&Value>) -> String {
    http_event_with_token(method, path, body, None)
}

/// An HTTP API event for `method path` with an optional JSON body and session token.
fn http_event_with_token(
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> String {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "bench.execute-api.eu-west-1.amazonaws.com", "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1_795_428_000_000_i64
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    if let Some(token) = token {
        event["headers"]["x-session-token"] = Value::String(token.to_owned());
    }
    event.to_string()
}

/// An HTTP API authorizer event (payload 2.0), with `token` in `X-Session-Token` if any.
fn authorizer_event(token: Option<&str>) -> String {
    let mut event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:bench/$default/GET/app",
        "routeKey": "$default",
        "rawPath": "/app",
        "rawQueryString": "",
        "headers": {"host": "bench.example"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.example",
            "http": {"method": "GET", "path": "/app", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "$default", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1_767_225_600_000_u64
        }
    });
    if let Some(token) = token {
        event["headers"]["x-session-token"] = Value::String(token.to_owned());
    }
    event.to_string()
}

/// Whether the outcome is an authorizer's denial (`isAuthorized: false`).
fn denied(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Response { payload, .. } if payload["isAuthorized"] == false)
}

/// As [`one_cold_start`], for the authorizer: milliseconds from the spawn to the first answer
/// (no token), and (optionally) to the first answer that read the store.
async fn one_authorizer_cold_start(
    binary: &Path,
    env: &[(String, String)],
    with_store: bool,
) -> Result<(f64, Option<f64>), String> {
    let runtime = RuntimeApi::start().await;
    let mut env = env.to_vec();
    env.extend(lambda_environment(&runtime.endpoint()));
    let mut function = Function::spawn(binary, &env);
    let limit = Duration::from_secs(30);
    let first = runtime
        .try_invoke(&authorizer_event(None), limit)
        .await
        .ok_or_else(|| format!("{} did not answer", binary.display()))?;
    if !denied(&first) {
        return Err(format!("{}: first answer was {first:?}", binary.display()));
    }
    let cold = first.at().duration_since(function.spawned).as_secs_f64() * 1000.0;
    let store = if with_store {
        let token = SessionToken::generate(SessionId::generate())
            .map_err(|e| format!("a token: {e}"))?
            .to_string();
        let read = runtime
            .try_invoke(&authorizer_event(Some(&token)), limit)
            .await
            .ok_or("no answer to the event with a token")?;
        if !denied(&read) {
            return Err(format!("the event with an unknown token got {read:?}"));
        }
        Some(read.at().duration_since(function.spawned).as_secs_f64() * 1000.0)
    } else {
        None
    };
    function.stop();
    Ok((cold, store))
}

/// The status code of a response payload.
fn status(outcome: &Outcome) -> Option<u64> {
    match outcome {
        Outcome::Response { payload, .. } => payload["statusCode"].as_u64(),
        Outcome::Error { .. } => None,
    }
}

/// What one cold start took, in milliseconds from the spawn.
struct ColdStart {
    /// Until the first `/next`: the function's init.
    init: f64,
    /// Until the answer to the first event.
    first: f64,
    /// Until the answer to the first DynamoDB-backed event, when asked for.
    store: Option<f64>,
}

/// Milliseconds from the spawn to the first `/next`, to each answer: the first event, and
/// (optionally) the first DynamoDB-backed one.
async fn one_cold_start(
    binary: &Path,
    env: &[(String, String)],
    with_store: bool,
) -> Result<ColdStart, String> {
    let runtime = RuntimeApi::start().await;
    let mut env = env.to_vec();
    env.extend(lambda_environment(&runtime.endpoint()));
    let mut function = Function::spawn(binary, &env);
    let limit = Duration::from_secs(30);
    let first = runtime
        .try_invoke(&http_event("GET", "/health", None), limit)
        .await
        .ok_or_else(|| format!("{} did not answer", binary.display()))?;
    if status(&first) != Some(200) {
        return Err(format!("{}: first answer was {first:?}", binary.display()));
    }
    let cold = first.at().duration_since(function.spawned).as_secs_f64() * 1000.0;
    let init = runtime
        .first_poll()
        .ok_or("the function answered without asking for an event")?
        .duration_since(function.spawned)
        .as_secs_f64()
        * 1000.0;
    let store = if with_store {
        let body = json!({"userId": "bench-user", "data": {"n": 1}});
        let created = runtime
            .try_invoke(&http_event("POST", "/sessions", Some(&body)), limit)
            .await
            .ok_or("no answer to POST /sessions")?;
        if status(&created) != Some(201) {
            return Err(format!("POST /sessions answered {created:?}"));
        }
        Some(created.at().duration_since(function.spawned).as_secs_f64() * 1000.0)
    } else {
        None
    };
    function.stop();
    Ok(ColdStart {
        init,
        first: cold,
        store,
    })
}

/// Milliseconds of warm invocations, from the event queued to the answer posted.
#[derive(Default)]
struct Warm {
    /// `GET /sessions/current` with the token of a session created first.
    read: Vec<f64>,
    /// `POST /sessions`.
    create: Vec<f64>,
}

/// Starts `binary` once and sends it `invocations` reads and as many creates, alternately,
/// after one create whose token the reads present (the baseline answers every event alike).
async fn warm_invocations(
    binary: &Path,
    env: &[(String, String)],
    invocations: usize,
    warm: &mut Warm,
) -> Result<(), String> {
    let runtime = RuntimeApi::start().await;
    let mut env = env.to_vec();
    env.extend(lambda_environment(&runtime.endpoint()));
    let mut function = Function::spawn(binary, &env);
    let limit = Duration::from_secs(30);
    let create = http_event(
        "POST",
        "/sessions",
        Some(&json!({"userId": "bench-user", "data": {"n": 1}})),
    );
    let first = runtime
        .try_invoke(&create, limit)
        .await
        .ok_or_else(|| format!("{} did not answer", binary.display()))?;
    let created: Value = match &first {
        Outcome::Response { payload, .. } => {
            serde_json::from_str(payload["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
        }
        Outcome::Error { .. } => return Err(format!("POST /sessions answered {first:?}")),
    };
    let token = created["token"].as_str().unwrap_or("none").to_owned();
    let read = http_event_with_token("GET", "/sessions/current", None, Some(&token));
    let timed = async |event: &str, into: &mut Vec<f64>| {
        let queued = std::time::Instant::now();
        let outcome = runtime
            .try_invoke(event, limit)
            .await
            .ok_or("a warm invocation got no answer")?;
        if !status(&outcome).is_some_and(|code| (200..300).contains(&code)) {
            return Err(format!("a warm invocation answered {outcome:?}"));
        }
        into.push(outcome.at().duration_since(queued).as_secs_f64() * 1000.0);
        Ok::<_, String>(())
    };
    for _ in 0..invocations {
        timed(&read, &mut warm.read).await?;
        timed(&create, &mut warm.create).await?;
    }
    function.stop();
    Ok(())
}

/// The nearest-rank quantile `q` of `samples`.
fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

/// Median and 90th percentile (nearest rank).
fn median_p90(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let index = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    };
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    } else {
        sorted[sorted.len() / 2]
    };
    (median, rank(0.9))
}

fn size_mib(path: &Path) -> Result<f64, String> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    Ok(bytes as f64 / (1024.0 * 1024.0))
}

async fn run(options: Options) -> Result<String, String> {
    // As behind an API Gateway route that requires IAM: the measured request carries no
    // token, and a Lambda caller is never on loopback (so protected mode would refuse it).
    let auth_off = ("AUTH_DISABLED".to_owned(), "true".to_owned());
    // A function on DynamoDB refuses to start without a cursor secret.
    let cursor_secret = (
        "SESSION_CURSOR_SECRET".to_owned(),
        "ilh0JpSJMUfOkWTZSEaKw4h8PsSqhrR6n847O7JZBK0=".to_owned(),
    );
    let mut env = vec![
        (
            "DYNAMODB_TABLE_NAME".to_owned(),
            "bench-sessions".to_owned(),
        ),
        auth_off.clone(),
        cursor_secret.clone(),
    ];
    if let Some(endpoint) = &options.dynamodb_endpoint {
        let table = unique_table_name("bench");
        create_table(
            &local_client(endpoint),
            &table,
            Some(Duration::from_secs(30)),
        )
        .await
        .map_err(|e| format!("create the bench table in DynamoDB Local: {e:?}"))?;
        env = vec![
            ("DYNAMODB_TABLE_NAME".to_owned(), table),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), endpoint.clone()),
            auth_off,
            cursor_secret,
        ];
    } else {
        // The first event needs no store; a closed port stands in for it.
        env.push((
            "AWS_ENDPOINT_URL_DYNAMODB".to_owned(),
            "http://127.0.0.1:9".to_owned(),
        ));
    }

    let mut function_ms = Vec::new();
    let mut store_ms = Vec::new();
    let mut baseline_ms = Vec::new();
    let mut authorizer_ms = Vec::new();
    let mut authorizer_store_ms = Vec::new();
    let (mut function_init, mut baseline_init) = (Vec::new(), Vec::new());
    for _ in 0..options.iterations {
        // Interleaved, so that both see the same load on a shared machine.
        let baseline = one_cold_start(&options.baseline, &env, false).await?;
        baseline_ms.push(baseline.first);
        baseline_init.push(baseline.init);
        let cold =
            one_cold_start(&options.function, &env, options.dynamodb_endpoint.is_some()).await?;
        function_ms.push(cold.first);
        function_init.push(cold.init);
        store_ms.extend(cold.store);
        if let Some(authorizer) = &options.authorizer {
            let (cold, store) =
                one_authorizer_cold_start(authorizer, &env, options.dynamodb_endpoint.is_some())
                    .await?;
            authorizer_ms.push(cold);
            authorizer_store_ms.extend(store);
        }
    }
    // Warm invocations need the store; each side runs twice, alternately, for the same reason.
    let (mut function_warm, mut baseline_warm) = (Warm::default(), Warm::default());
    if options.dynamodb_endpoint.is_some() {
        let half = (options.iterations * WARM_PER_ITERATION).div_ceil(2);
        for _ in 0..2 {
            warm_invocations(&options.baseline, &env, half, &mut baseline_warm).await?;
            warm_invocations(&options.function, &env, half, &mut function_warm).await?;
        }
    }

    let (f_median, f_p90) = median_p90(&function_ms);
    let (b_median, b_p90) = median_p90(&baseline_ms);
    let f_size = size_mib(&options.function)?;
    let b_size = size_mib(&options.baseline)?;
    let mut table = String::new();
    table.push_str(&format!(
        "Cold start, {} iterations each (interleaved), {} CPU(s).\n\n",
        options.iterations,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    table.push_str("| Measure | session-lambda | baseline (hello `lambda_http`) | ratio |\n");
    table.push_str("|---|---:|---:|---:|\n");
    table.push_str(&format!(
        "| spawn → first response, median | {f_median:.1} ms | {b_median:.1} ms | {:.2}× |\n",
        f_median / b_median
    ));
    table.push_str(&format!(
        "| spawn → first response, p90 | {f_p90:.1} ms | {b_p90:.1} ms | {:.2}× |\n",
        f_p90 / b_p90
    ));
    let (fi_median, fi_p90) = median_p90(&function_init);
    let (bi_median, bi_p90) = median_p90(&baseline_init);
    table.push_str(&format!(
        "| spawn → first `/next` (init), median | {fi_median:.1} ms | {bi_median:.1} ms | {:.2}× |\n",
        fi_median / bi_median
    ));
    table.push_str(&format!(
        "| spawn → first `/next` (init), p90 | {fi_p90:.1} ms | {bi_p90:.1} ms | {:.2}× |\n",
        fi_p90 / bi_p90
    ));
    if !store_ms.is_empty() {
        let (s_median, s_p90) = median_p90(&store_ms);
        table.push_str(&format!(
            "| spawn → first DynamoDB-backed response (`POST /sessions`), median | {s_median:.1} ms | n/a | {:.2}× |\n",
            s_median / b_median
        ));
        table.push_str(&format!(
            "| spawn → first DynamoDB-backed response (`POST /sessions`), p90 | {s_p90:.1} ms | n/a | {:.2}× |\n",
            s_p90 / b_p90
        ));
    }
    let warm_rows = [
        (
            "`GET /sessions/current`",
            &function_warm.read,
            &baseline_warm.read,
        ),
        (
            "`POST /sessions`",
            &function_warm.create,
            &baseline_warm.create,
        ),
    ];
    for (route, function, baseline) in warm_rows {
        if function.is_empty() {
            continue;
        }
        for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
            let (f, b) = (quantile(function, q), quantile(baseline, q));
            table.push_str(&format!(
                "| warm {route} ({} invocations), {name} | {f:.2} ms | {b:.2} ms | {:.2}× |\n",
                function.len(),
                f / b
            ));
        }
    }
    table.push_str(&format!(
        "| binary size | {f_size:.1} MiB | {b_size:.1} MiB | {:.2}× |\n",
        f_size / b_size
    ));
    if let Some(authorizer) = &options.authorizer {
        let (a_median, a_p90) = median_p90(&authorizer_ms);
        table.push_str(&format!(
            "\n| Measure | session-authorizer | baseline (hello `lambda_http`) | ratio |\n|---|---:|---:|---:|\n\
             | spawn → first answer (no token), median | {a_median:.1} ms | {b_median:.1} ms | {:.2}× |\n\
             | spawn → first answer (no token), p90 | {a_p90:.1} ms | {b_p90:.1} ms | {:.2}× |\n",
            a_median / b_median,
            a_p90 / b_p90
        ));
        if !authorizer_store_ms.is_empty() {
            let (s_median, s_p90) = median_p90(&authorizer_store_ms);
            table.push_str(&format!(
                "| spawn → first DynamoDB-backed answer (a token read), median | {s_median:.1} ms | n/a | {:.2}× |\n\
                 | spawn → first DynamoDB-backed answer (a token read), p90 | {s_p90:.1} ms | n/a | {:.2}× |\n",
                s_median / b_median,
                s_p90 / b_p90
            ));
        }
        let a_size = size_mib(authorizer)?;
        table.push_str(&format!(
            "| binary size | {a_size:.1} MiB | {b_size:.1} MiB | {:.2}× |\n",
            a_size / b_size
        ));
    }
    Ok(table)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(table) => {
            let _ = write!(std::io::stdout(), "{table}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "cold_start: {message}");
            ExitCode::FAILURE
        }
    }
}

//! Prometheus metrics: requests by route template (never the raw path, whose ids would give
//! every session a series of its own), store operations by backend, operation and error kind,
//! DynamoDB capacity units (recorded by the DynamoDB store itself), session lifecycle
//! counters, and build info. Served at `/metrics` in the Prometheus text format.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder), installed on
//! first use; every router in the process reports to it.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{
    Recorder, SharedString, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::FanoutBuilder;
use session_core::store::{PageRequest, SecretCheck, SessionStore, StorePage, VersionCheck};
use session_core::{
    Created, DataPatch, ExpiryPolicy, SecretHash, Session, SessionData, SessionError, SessionId,
    Timestamp, UserId, UserLimit,
};

use crate::problem::ApiError;
use crate::routes;

/// Histogram buckets for latencies, in seconds: from 100 µs (an embedded read) to 10 s (the
/// request timeout).
const LATENCY_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The `process_*` metrics (CPU, resident memory, start time, open files), read at each scrape.
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Whether the last readiness check found the store able to serve: 1 or 0.
pub const READY: &str = "session_api_ready";
/// Times the readiness outcome changed, either way: flapping shows here even between scrapes.
pub const READINESS_CHANGES: &str = "session_api_readiness_changes_total";

/// The process's Prometheus recorder, installed on first call (`None` if another recorder
/// was installed first, e.g. by an embedding application).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    install(None)
}

/// Installs the Prometheus recorder, alongside `also` when given (the Lambda adapter adds its
/// embedded-metric-format recorder): every figure goes to both. Only the first call installs;
/// later ones return what it installed.
pub fn install(also: Option<Box<dyn Recorder + Send + Sync>>) -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let prometheus = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".to_owned()),
                    &LATENCY_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = prometheus.handle();
            let installed = match also {
                None => metrics::set_global_recorder(prometheus).is_ok(),
                Some(also) => metrics::set_global_recorder(
                    FanoutBuilder::default()
                        .add_recorder(prometheus)
                        .add_recorder(also)
                        .build(),
                )
                .is_ok(),
            };
            if !installed {
                return None;
            }
            // Histogram samples wait in a queue until a scrape (or upkeep) folds them into
            // buckets; without upkeep, an instance nobody scrapes would grow without bound.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route template, method and status"
    );
    describe_histogram!(
        "session_store_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Time of a store operation, by backend and operation"
    );
    describe_counter!(
        "session_store_errors_total",
        "Store operations that failed, by backend, operation and kind (throttled, unavailable, internal, conditional_failure, not_found, expired, too_large)"
    );
    describe_gauge!(
        "session_store_capacity_units_total",
        "DynamoDB capacity units consumed, as DynamoDB reports them, by store operation, kind (read, write) and target (table, index); only grows (a gauge because units come in halves)"
    );
    describe_counter!("sessions_created_total", "Sessions created");
    describe_counter!(
        "sessions_evicted_total",
        "Sessions deleted by creates at the per-user limit (SESSION_LIMIT_POLICY=evict-oldest)"
    );
    describe_counter!(
        "sessions_deleted_total",
        "Sessions deleted (one by one or by revoking a user)"
    );
    describe_counter!(
        "sessions_expired_on_read_total",
        "Reads that found a session expired (410)"
    );
    describe_counter!(
        "sessions_touched_total",
        "Sliding extensions written on read"
    );
    describe_counter!(
        "sessions_rotated_total",
        "Sessions given a new secret (token rotations)"
    );
    describe_gauge!(
        "session_api_build_info",
        "Always 1; the labels say which build and store serve"
    );
    describe_gauge!(
        READY,
        "1 while the last readiness check found the store able to serve, else 0"
    );
    describe_counter!(
        READINESS_CHANGES,
        "Times the readiness outcome changed (ready to not ready, or back)"
    );
    #[cfg(feature = "embedded")]
    {
        use session_core::store::embedded::{DISK_AVAILABLE, DISK_SIZE, LAST_COMMIT};
        describe_gauge!(
            LAST_COMMIT,
            metrics::Unit::Seconds,
            "Unix time of the embedded store's last durable commit"
        );
        describe_gauge!(
            DISK_AVAILABLE,
            metrics::Unit::Bytes,
            "Bytes left on the file system of the embedded store's file"
        );
        describe_gauge!(
            DISK_SIZE,
            metrics::Unit::Bytes,
            "Size of the file system of the embedded store's file"
        );
    }
    process_collector().describe();
}

fn process_collector() -> &'static metrics_process::Collector {
    PROCESS.get_or_init(metrics_process::Collector::default)
}

/// Records the outcome of a readiness check; `changed` when it differs from the last one.
pub fn record_readiness(ready: bool, changed: bool) {
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
    // Registered at the first check, at 0: `increase()` then counts the first change too.
    let changes = counter!(READINESS_CHANGES);
    if changed {
        changes.increment(1);
    }
}

/// Records the build and store once a service is configured.
pub fn record_build_info(backend: &'static str) {
    if recorder().is_some() {
        gauge!("session_api_build_info", "version" => env!("CARGO_PKG_VERSION"), "backend" => backend).set(1.0);
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        // Anything else would let callers mint label values.
        _ => "OTHER",
    }
}

/// Middleware: counts and times every answered request by route template, method and status.
pub async fn layer(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = routes::template_of(&request);
    let method = method_label(request.method());
    let response = next.run(request).await;
    let labels = [
        ("route", SharedString::const_str(route)),
        ("method", SharedString::const_str(method)),
        (
            "status",
            SharedString::from_owned(response.status().as_str().to_owned()),
        ),
    ];
    counter!("http_requests_total", &labels).increment(1);
    histogram!("http_request_duration_seconds", &labels).record(started.elapsed());
    response
}

/// `GET /metrics`: the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "probes",
    responses((status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain", body = String)),
)]
pub async fn render() -> Result<impl IntoResponse, ApiError> {
    let handle = recorder().ok_or_else(|| {
        ApiError::internal("no Prometheus recorder: another metrics recorder is installed")
    })?;
    process_collector().collect();
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    ))
}

/// A store that measures every operation of the store it wraps.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn SessionStore>,
}

impl MeteredStore {
    /// Wraps `inner` (and installs the recorder if needed).
    pub fn wrap(inner: Arc<dyn SessionStore>) -> Arc<dyn SessionStore> {
        record_build_info(inner.backend());
        Arc::new(Self { inner })
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        write: bool,
        work: impl Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionError> {
        let started = Instant::now();
        let result = work.await;
        let backend = self.inner.backend();
        histogram!("session_store_operation_duration_seconds", "backend" => backend, "operation" => operation)
            .record(started.elapsed());
        if let Err(error) = &result {
            let kind = error_kind(error, write);
            counter!("session_store_errors_total", "backend" => backend, "operation" => operation, "kind" => kind)
                .increment(1);
        }
        result
    }
}

/// The `kind` label of a failed store operation. On a write, a refusal by the write's own
/// condition (gone, expired, another version) is a conditional failure.
fn error_kind(error: &SessionError, write: bool) -> &'static str {
    match error {
        SessionError::Throttled { .. } => "throttled",
        SessionError::Unavailable { .. } => "unavailable",
        SessionError::Internal { .. } => "internal",
        SessionError::VersionMismatch { .. } => "conditional_failure",
        SessionError::NotFound | SessionError::Expired if write => "conditional_failure",
        SessionError::NotFound => "not_found",
        SessionError::Expired => "expired",
        SessionError::DataTooLarge { .. } | SessionError::ItemTooLarge => "too_large",
        SessionError::Invalid { .. } | SessionError::InvalidCursor => "invalid",
        SessionError::TooManySessions { .. } => "too_many_sessions",
    }
}

#[async_trait]
impl SessionStore for MeteredStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<&UserLimit>,
    ) -> Result<Created, SessionError> {
        let result = self
            .observe("create", true, self.inner.create(session, limit))
            .await;
        if let Ok(created) = &result {
            counter!("sessions_created_total").increment(1);
            if created.evicted > 0 {
                counter!("sessions_evicted_total").increment(created.evicted);
            }
        }
        result
    }

    async fn get(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        now: Timestamp,
    ) -> Result<Arc<Session>, SessionError> {
        let result = self
            .observe("get", false, self.inner.get(id, secret, now))
            .await;
        if matches!(result, Err(SessionError::Expired)) {
            counter!("sessions_expired_on_read_total").increment(1);
        }
        result
    }

    async fn replace(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        data: &SessionData,
        check: &VersionCheck,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.observe(
            "replace",
            true,
            self.inner.replace(id, secret, data, check, now),
        )
        .await
    }

    async fn patch(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        patch: &DataPatch,
        check: &VersionCheck,
        max_data_bytes: usize,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.observe(
            "patch",
            true,
            self.inner
                .patch(id, secret, patch, check, max_data_bytes, now),
        )
        .await
    }

    async fn refresh(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        ttl_seconds: Option<u64>,
        policy: &ExpiryPolicy,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        self.observe(
            "refresh",
            true,
            self.inner.refresh(id, secret, ttl_seconds, policy, now),
        )
        .await
    }

    async fn touch(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        last_touched: Timestamp,
        new_ttl: i64,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError> {
        let result = self
            .observe(
                "touch",
                true,
                self.inner.touch(id, secret, last_touched, new_ttl, now),
            )
            .await;
        if matches!(result, Ok(Some(_))) {
            counter!("sessions_touched_total").increment(1);
        }
        result
    }

    async fn delete(&self, id: &SessionId, secret: &SecretCheck) -> Result<(), SessionError> {
        let result = self
            .observe("delete", true, self.inner.delete(id, secret))
            .await;
        if result.is_ok() {
            counter!("sessions_deleted_total").increment(1);
        }
        result
    }

    async fn rotate(
        &self,
        id: &SessionId,
        secret: &SecretCheck,
        new_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        let result = self
            .observe("rotate", true, self.inner.rotate(id, secret, new_hash, now))
            .await;
        if result.is_ok() {
            counter!("sessions_rotated_total").increment(1);
        }
        result
    }

    async fn list_user(
        &self,
        user_id: &UserId,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.observe("list_user", false, self.inner.list_user(user_id, page, now))
            .await
    }

    async fn list_all(
        &self,
        page: &PageRequest,
        now: Timestamp,
    ) -> Result<StorePage, SessionError> {
        self.observe("list_all", false, self.inner.list_all(page, now))
            .await
    }

    async fn delete_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, SessionError> {
        let result = self
            .observe("delete_user", true, self.inner.delete_user(user_id, now))
            .await;
        if let Ok(deleted) = result {
            counter!("sessions_deleted_total").increment(deleted);
        }
        result
    }

    async fn check_ready(&self) -> Result<(), SessionError> {
        self.observe("check_ready", false, self.inner.check_ready())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_of_a_write_are_conditional_failures() {
        assert_eq!(
            error_kind(&SessionError::NotFound, true),
            "conditional_failure"
        );
        assert_eq!(error_kind(&SessionError::NotFound, false), "not_found");
        assert_eq!(error_kind(&SessionError::Expired, false), "expired");
        assert_eq!(
            error_kind(&SessionError::VersionMismatch { current: 2 }, true),
            "conditional_failure"
        );
        assert_eq!(
            error_kind(&SessionError::unavailable("down"), false),
            "unavailable"
        );
    }

    #[test]
    fn only_known_methods_become_labels() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").expect("method")),
            "OTHER"
        );
    }
}

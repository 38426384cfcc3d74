//! The session API: one axum [`Router`] serving the whole HTTP contract, shared by the server
//! (`axum::serve`) and the Lambda adapter (`lambda_http::run`).

pub mod auth;
pub mod body;
pub mod client;
pub mod cursor_key;
pub mod extract;
pub mod layers;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod readiness;
pub mod routes;
pub mod setting_values;
pub mod settings;
pub mod startup;
pub mod strict_json;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use session_core::{Clock, ServiceConfig, SessionError, SessionService, SessionStore};

use crate::auth::Auth;
use crate::readiness::Readiness;

pub use client::ClientAddr;
pub use settings::{Settings, SettingsError, StoreKind};

/// How long a readiness check may take before it counts as a failure, and how long the first
/// `/ready` waits for the first check: under the contract's 2 s, so that a probe with a
/// 2-second timeout always gets the answer.
pub const READY_TIMEOUT: Duration = Duration::from_millis(1900);

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Authentication and rate limiting.
    pub auth: Arc<Auth>,
    /// Refuse PUT/PATCH without `If-Match` (428).
    pub require_if_match: bool,
    /// Longest time a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Longest time a readiness check may take (see [`readiness`]).
    pub ready_timeout: Duration,
    /// Set when the process is shutting down: `/ready` answers 503 so that load balancers
    /// stop sending traffic while in-flight requests finish.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Where `/auth/forward` finds the session token, and whether it sends the data.
    pub forward: routes::forward::ForwardOptions,
}

/// Protected mode (loopback clients only), no rate limit, no required If-Match, 10 s timeout,
/// forward auth with the cookie `session` and no data.
impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            auth: Arc::new(Auth::protected()),
            require_if_match: false,
            request_timeout: Duration::from_secs(10),
            ready_timeout: READY_TIMEOUT,
            draining: Arc::default(),
            forward: routes::forward::ForwardOptions::default(),
        }
    }
}

/// What every handler shares. One reference-counted value: axum clones the state for every
/// request it routes, and one atomic increment is cheaper than one per field.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`], reached through it by `Deref`.
#[derive(Debug)]
pub struct Shared {
    /// The session service.
    pub service: SessionService,
    /// HTTP-level options.
    pub options: ApiOptions,
    /// The store's readiness, as last checked, for `/ready`.
    pub readiness: Arc<Readiness>,
    /// The OpenAPI document for the limits in force, rendered once.
    pub openapi: openapi::OpenApiJson,
}

impl AppState {
    /// State over `service` with `options`. Readiness is checked on the service's store, and
    /// every store error that says the store cannot serve starts a check (see [`readiness`]).
    pub fn new(service: SessionService, options: ApiOptions) -> Self {
        let openapi = openapi::OpenApiJson::new(service.policy().max_ttl_seconds);
        let readiness = Readiness::new(service.store().clone(), options.ready_timeout);
        let service = service.wrap_store(|store| readiness.watch(store));
        Self(Arc::new(Shared {
            service,
            options,
            readiness,
            openapi,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole contract as one router, layers included. Installs the metrics recorder if none
/// is yet, so that the first request is counted.
pub fn router(state: AppState) -> Router {
    metrics::recorder();
    layers::apply(routes::routes(), &state.options).with_state(state)
}

/// The store the settings name. The embedded store opens (and locks) its file now; the
/// DynamoDB store makes no request until the first one is served.
pub async fn build_store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn SessionStore>, SessionError> {
    // Before the store opens: the embedded store reports its first commit and disk space then.
    metrics::recorder();
    match settings.store {
        #[cfg(feature = "embedded")]
        StoreKind::Embedded => {
            use session_core::store::embedded::{EmbeddedOptions, EmbeddedStore};
            let options = EmbeddedOptions {
                purge_after_seconds: settings.purge_after_seconds,
                sweep_interval: Duration::from_secs(settings.sweep_interval_seconds),
                clock,
                // At most 64 GiB (the setting's range), which fits a 64-bit usize.
                cache_bytes: usize::try_from(settings.embedded_cache_mb << 20)
                    .unwrap_or(usize::MAX),
                read_cache_bytes: usize::try_from(settings.embedded_read_cache_mb << 20)
                    .unwrap_or(usize::MAX),
                ..EmbeddedOptions::default()
            };
            Ok(Arc::new(EmbeddedStore::open(
                &settings.embedded_db_path,
                options,
            )?))
        }
        #[cfg(feature = "dynamodb")]
        StoreKind::Dynamodb => {
            use session_core::store::dynamodb::{DynamoDbConfig, connect};
            let _ = clock;
            let config = DynamoDbConfig {
                region: Some(settings.region.clone()),
                connect_timeout: Duration::from_millis(settings.dynamodb_connect_timeout_ms),
                attempt_timeout: Duration::from_millis(settings.dynamodb_attempt_timeout_ms),
                operation_timeout: Duration::from_millis(settings.dynamodb_operation_timeout_ms),
                max_attempts: settings.dynamodb_max_attempts,
                ..DynamoDbConfig::new(settings.table_name.clone())
            };
            Ok(Arc::new(connect(&config).await))
        }
        #[allow(unreachable_patterns)]
        other => Err(SessionError::internal(format!(
            "SESSION_STORE={other:?} is not available in this build"
        ))),
    }
}

/// Validates the settings and builds the state over `store`.
pub fn state_from_settings(
    settings: &Settings,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
) -> Result<AppState, SettingsError> {
    settings.validate()?;
    let auth = Auth::new(
        settings.token_sources(),
        settings.auth_disabled,
        settings.rate_limiter(),
    )
    .map_err(|e| SettingsError {
        variable: e.variable,
        problem: format!("cannot read {}: {}", e.path, e.source),
    })?;
    let auth = Arc::new(auth);
    if tokio::runtime::Handle::try_current().is_ok() {
        Auth::watch_files(&auth);
    }
    let service = service_from_settings(settings, store, clock)?;
    let options = ApiOptions {
        auth,
        require_if_match: settings.require_if_match,
        request_timeout: settings.request_timeout(),
        ready_timeout: READY_TIMEOUT,
        draining: Arc::default(),
        forward: settings.forward_options(),
    };
    Ok(AppState::new(service, options))
}

/// The session service the settings describe (expiry policy, limits, cursor key) over
/// `store`, metered: the router's, and the Lambda authorizer's, which serves no HTTP.
pub fn service_from_settings(
    settings: &Settings,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
) -> Result<SessionService, SettingsError> {
    let store = metrics::MeteredStore::wrap(store);
    let config = ServiceConfig {
        policy: settings.policy()?,
        max_data_bytes: settings.data_limit()?,
        cursors: cursor_key::codec(settings)?,
        max_page_bytes: settings.max_page_bytes,
        user_limit: settings.user_limit()?,
    };
    Ok(SessionService::new(store, clock, config))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use session_core::SystemClock;
    use sha2::{Digest, Sha256};
    use tower::ServiceExt;

    use super::*;

    const CLIENT: &str = "client-token-from-the-environment";
    const ADMIN: &str = "admin-token-from-the-environment";
    const FILED: &str = "admin-token-from-a-file";
    const CURSOR_SECRET: &str = "qh8kF+sX82OD7eAGypHcmgtFwjv+QyFfhgh92sO9WXg=";

    /// Everything `Debug` could leak of a token: the token, and its digest as a derived `Debug`
    /// shows bytes, and as hex.
    fn traces_of(secret: &str) -> Vec<String> {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        vec![secret.to_owned(), format!("{digest:?}"), hex]
    }

    #[cfg(feature = "embedded")]
    #[tokio::test]
    async fn the_debug_form_of_the_state_and_the_settings_shows_no_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens_file = dir.path().join("admin-tokens");
        std::fs::write(&tokens_file, format!("{FILED}\n")).expect("write");
        let settings = settings::tests::parse(&[
            "--embedded-db-path",
            dir.path().join("s.redb").to_str().expect("utf-8"),
            "--api-tokens",
            CLIENT,
            "--admin-tokens",
            ADMIN,
            "--admin-tokens-file",
            tokens_file.to_str().expect("utf-8"),
            "--session-cursor-secret",
            CURSOR_SECRET,
            "--rate-limit-per-second",
            "10",
        ])
        .expect("parse");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = build_store(&settings, clock.clone()).await.expect("store");
        let state = state_from_settings(&settings, store, clock).expect("state");
        // A request with a token, so that the rate limiter holds a key for it.
        let mut request = Request::get("/sessions/user/u")
            .header("authorization", format!("Bearer {CLIENT}"))
            .body(Body::empty())
            .expect("request");
        request
            .extensions_mut()
            .insert(ClientAddr([203, 0, 113, 9].into()));
        let reply = router(state.clone()).oneshot(request).await.expect("reply");
        assert_eq!(reply.status(), 200);

        let shown = format!("{state:?}\n{settings:?}");
        for what in ["TokenSet", "RateLimiter", "api_tokens", "cursor_secret"] {
            assert!(shown.contains(what), "{what} is shown: {shown}");
        }
        for secret in [CLIENT, ADMIN, FILED, CURSOR_SECRET] {
            for trace in traces_of(secret) {
                assert!(!shown.contains(&trace), "{trace} in {shown}");
            }
        }
    }
}

//! What the service says about itself at start, so that operators need not guess: the store,
//! the expiry policy, and above all how callers are authenticated.

use crate::auth::Mode;
use crate::{AppState, Settings, StoreKind};

/// The log filter when none is set (`RUST_LOG`): `info`, with the AWS SDK's own info-level
/// chatter (credentials, endpoints) kept at `warn`. The server and the Lambda function share it.
pub const DEFAULT_LOG_FILTER: &str =
    "info,aws_config=warn,aws_smithy_runtime=warn,aws_sdk_dynamodb=warn";

/// Logs the store, the expiry policy and the security posture of a service about to start.
pub fn announce(settings: &Settings, state: &AppState) {
    match settings.store {
        StoreKind::Embedded => tracing::info!(
            store = "embedded",
            path = %settings.embedded_db_path.display(),
            "sessions are kept in a local file; one server process per file"
        ),
        StoreKind::Dynamodb => tracing::info!(
            store = "dynamodb",
            table = %settings.table_name,
            region = %settings.region,
            "sessions are kept in DynamoDB"
        ),
    }
    let policy = state.service.policy();
    tracing::info!(
        default_ttl_seconds = policy.default_ttl_seconds,
        max_ttl_seconds = policy.max_ttl_seconds,
        max_lifetime_seconds = policy.max_lifetime_seconds,
        sliding = policy.sliding,
        touch_after_seconds = policy.touch_after_seconds,
        "expiry policy"
    );
    let auth = &state.options.auth;
    match auth.mode() {
        Mode::Disabled => tracing::warn!(
            "AUTH_DISABLED=true: requests are served without authentication; this is safe only behind a gateway that authenticates every request"
        ),
        Mode::Protected => tracing::warn!(
            "protected mode: no API_TOKENS or ADMIN_TOKENS are configured, so only clients on this machine (loopback) are served; everyone else gets 401"
        ),
        Mode::Tokens => {
            let (client, admin) = auth.token_counts();
            tracing::info!(
                client_tokens = client,
                admin_tokens = admin,
                "bearer-token authentication"
            );
        }
    }
    if settings.auth_disabled && !auth.token_counts_are_zero() {
        tracing::warn!("AUTH_DISABLED=true overrides the configured tokens: they are not checked");
    }
    let weak = settings.token_sources().weak_sources();
    if !weak.is_empty() {
        tracing::warn!(
            sources = %weak.join(", "),
            "some tokens are shorter than 16 characters; use long random tokens (e.g. 32 bytes, base64)"
        );
    }
    if let Some(rate) = settings.rate_limit_per_second {
        tracing::info!(
            per_second = rate,
            burst = settings.rate_limit_burst,
            "rate limit per token or client address"
        );
    }
}

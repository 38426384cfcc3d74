//! Bearer-token authentication and the admin/client split.
//!
//! Tokens come from `API_TOKENS`/`ADMIN_TOKENS` (comma-separated) or from files
//! (`API_TOKENS_FILE`/`ADMIN_TOKENS_FILE`, comma- or newline-separated, re-read periodically
//! so that a rotated Kubernetes secret takes effect without a restart). Only SHA-256 digests
//! of the tokens are kept, and a presented token is compared with every one of them in
//! constant time. Tokens are never logged.
//!
//! With no token configured the service runs in protected mode (as Redis does): it serves
//! loopback clients only, and only while it listens on a loopback address
//! ([`Auth::check_listen_address`]). A token reload never enters protected mode: a set can be
//! empty only at start. `AUTH_DISABLED=true` turns the checks off for deployments whose
//! gateway authenticates.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::client::{self, ClientAddr};
use crate::problem::{ApiError, ProblemCode};
use crate::rate_limit::{RateKey, RateLimiter};
use crate::routes;
use crate::settings::SettingsError;

/// How often token files are re-read.
pub const TOKEN_FILE_RELOAD: Duration = Duration::from_secs(30);

/// Tokens shorter than this are accepted but reported at start as weak.
pub const WEAK_TOKEN_CHARS: usize = 16;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: probes, metrics, the OpenAPI document.
    Open,
    /// A client or admin token.
    Client,
    /// An admin token.
    Admin,
}

/// The access a route requires, from its method and route template (`None` for a path that
/// matched no route).
///
/// A path that names no route, or a method its route does not have, is open: the router
/// answers 404 or 405 to everyone, as the contract says. The routes are public anyway (in
/// `/openapi.json`), so a 401 there would hide nothing, and it would tell a client that
/// probes a wrong URL without its token to fix the wrong thing.
pub fn required_access(method: &Method, template: Option<&str>) -> Access {
    if !template.is_some_and(|template| routes::serves(method, template)) {
        return Access::Open;
    }
    match (method.as_str(), template) {
        (_, Some("/health" | "/ready" | "/metrics" | "/openapi.json")) => Access::Open,
        ("GET" | "HEAD", Some("/sessions")) | ("DELETE", Some("/sessions/user/{userId}")) => {
            Access::Admin
        }
        _ => Access::Client,
    }
}

/// Who is calling, once the token (if any) is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Everything is allowed (admin token, loopback in protected mode, or auth disabled).
    Admin,
    /// Session routes, not the admin ones.
    Client,
    /// Nothing but the open routes.
    Anonymous,
}

impl Caller {
    /// The name used in request logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Caller::Admin => "admin",
            Caller::Client => "client",
            Caller::Anonymous => "anonymous",
        }
    }
}

type Digest32 = [u8; 32];

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// Digests of the configured tokens.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct TokenSet {
    client: Vec<Digest32>,
    admin: Vec<Digest32>,
}

/// A digest of a weak token can be reversed by guessing: `Debug` shows only how many there are.
impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("client", &self.client.len())
            .field("admin", &self.admin.len())
            .finish()
    }
}

impl TokenSet {
    /// A set from token texts.
    pub fn new<'a>(
        client: impl IntoIterator<Item = &'a str>,
        admin: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            client: client.into_iter().map(digest).collect(),
            admin: admin.into_iter().map(digest).collect(),
        }
    }

    /// Whether no token is configured at all.
    pub fn is_empty(&self) -> bool {
        self.client.is_empty() && self.admin.is_empty()
    }

    /// The role of `token`, with its digest (the rate limiter's key), when it is one of ours.
    /// The digest is compared with every configured digest without stopping at the first
    /// match, so that timing tells nothing about which (or whether any) token matched.
    fn role_of(&self, token: &str) -> Option<(Caller, Digest32)> {
        let presented = digest(token);
        let matches = |set: &[Digest32]| {
            set.iter().fold(Choice::from(0), |found, known| {
                found | known.ct_eq(&presented)
            })
        };
        let admin = matches(&self.admin);
        let client = matches(&self.client);
        if bool::from(admin) {
            Some((Caller::Admin, presented))
        } else if bool::from(client) {
            Some((Caller::Client, presented))
        } else {
            None
        }
    }
}

/// Splits a token list: commas or newlines, surrounding blanks ignored.
pub fn parse_tokens(text: &str) -> Vec<&str> {
    text.split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .collect()
}

/// Where tokens come from, as configured. The token lists are secrets: `Debug` redacts them.
#[derive(Debug, Clone, Default)]
pub struct TokenSources {
    /// `API_TOKENS`.
    pub client: Option<SecretString>,
    /// `ADMIN_TOKENS`.
    pub admin: Option<SecretString>,
    /// `API_TOKENS_FILE`.
    pub client_file: Option<PathBuf>,
    /// `ADMIN_TOKENS_FILE`.
    pub admin_file: Option<PathBuf>,
}

/// A token source that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: cannot read {path}: {source}")]
pub struct TokenFileError {
    /// The variable naming the file.
    pub variable: &'static str,
    /// The file.
    pub path: String,
    /// Why it cannot be read.
    #[source]
    pub source: std::io::Error,
}

fn read_file(variable: &'static str, path: &Path) -> Result<String, TokenFileError> {
    std::fs::read_to_string(path).map_err(|source| TokenFileError {
        variable,
        path: path.display().to_string(),
        source,
    })
}

impl TokenSources {
    /// Reads every source into one set.
    pub fn load(&self) -> Result<TokenSet, TokenFileError> {
        let client_file = self
            .client_file
            .as_deref()
            .map(|path| read_file("API_TOKENS_FILE", path))
            .transpose()?;
        let admin_file = self
            .admin_file
            .as_deref()
            .map(|path| read_file("ADMIN_TOKENS_FILE", path))
            .transpose()?;
        let client = [
            self.client.as_ref().map(ExposeSecret::expose_secret),
            client_file.as_deref(),
        ];
        let admin = [
            self.admin.as_ref().map(ExposeSecret::expose_secret),
            admin_file.as_deref(),
        ];
        Ok(TokenSet::new(
            client.into_iter().flatten().flat_map(parse_tokens),
            admin.into_iter().flatten().flat_map(parse_tokens),
        ))
    }

    /// Whether any source is a file (and so worth re-reading).
    pub fn has_files(&self) -> bool {
        self.client_file.is_some() || self.admin_file.is_some()
    }

    /// Whether any token is configured without reading the files: a list holding a token, or
    /// a file (read later, when an unreadable one fails the start on its own).
    pub fn any_configured(&self) -> bool {
        let listed = |tokens: &Option<SecretString>| {
            tokens
                .as_ref()
                .is_some_and(|list| !parse_tokens(list.expose_secret()).is_empty())
        };
        listed(&self.client) || listed(&self.admin) || self.has_files()
    }

    /// Tokens shorter than [`WEAK_TOKEN_CHARS`], by the variable they came from (for a
    /// warning at start; the tokens themselves are not returned).
    pub fn weak_sources(&self) -> Vec<&'static str> {
        let weak = |text: &str| {
            parse_tokens(text)
                .iter()
                .any(|t| t.chars().count() < WEAK_TOKEN_CHARS)
        };
        let mut found = Vec::new();
        for (variable, list) in [("API_TOKENS", &self.client), ("ADMIN_TOKENS", &self.admin)] {
            if list.as_ref().is_some_and(|list| weak(list.expose_secret())) {
                found.push(variable);
            }
        }
        for (variable, path) in [
            ("API_TOKENS_FILE", &self.client_file),
            ("ADMIN_TOKENS_FILE", &self.admin_file),
        ] {
            if let Some(text) = path
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                && weak(&text)
            {
                found.push(variable);
            }
        }
        found
    }
}

/// The authentication mode in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `AUTH_DISABLED=true`: every caller is admin.
    Disabled,
    /// No tokens: loopback clients are admin, everyone else is refused.
    Protected,
    /// Bearer tokens.
    Tokens,
}

/// Why a token reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// A token file cannot be read.
    #[error(transparent)]
    Unreadable(#[from] TokenFileError),
    /// The sources now hold no token at all.
    #[error(
        "the token sources hold no token now; an empty set would turn protected mode on in a running service, which only a start may do"
    )]
    NoTokens,
}

/// Authentication state shared by every request. `Debug` shows no token: the sources are
/// redacted, the set and the rate limiter show counts.
#[derive(Debug)]
pub struct Auth {
    disabled: bool,
    tokens: RwLock<Arc<TokenSet>>,
    sources: TokenSources,
    limiter: Option<RateLimiter>,
}

impl Auth {
    /// Auth with the tokens of `sources` (read now), or disabled; with an optional rate limiter.
    pub fn new(
        sources: TokenSources,
        disabled: bool,
        limiter: Option<RateLimiter>,
    ) -> Result<Self, TokenFileError> {
        let tokens = sources.load()?;
        Ok(Self {
            disabled,
            tokens: RwLock::new(Arc::new(tokens)),
            sources,
            limiter,
        })
    }

    /// No authentication at all (for tests and gateways that authenticate).
    pub fn disabled() -> Self {
        Self {
            disabled: true,
            tokens: RwLock::new(Arc::new(TokenSet::default())),
            sources: TokenSources::default(),
            limiter: None,
        }
    }

    /// Protected mode with no rate limit: loopback clients only.
    pub fn protected() -> Self {
        Self {
            disabled: false,
            tokens: RwLock::new(Arc::new(TokenSet::default())),
            sources: TokenSources::default(),
            limiter: None,
        }
    }

    fn current(&self) -> Arc<TokenSet> {
        self.tokens.read().map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |tokens| tokens.clone(),
        )
    }

    /// The mode in force now.
    pub fn mode(&self) -> Mode {
        if self.disabled {
            Mode::Disabled
        } else if self.current().is_empty() {
            Mode::Protected
        } else {
            Mode::Tokens
        }
    }

    /// How many client and admin tokens are configured.
    pub fn token_counts(&self) -> (usize, usize) {
        let tokens = self.current();
        (tokens.client.len(), tokens.admin.len())
    }

    /// Whether no token is configured.
    pub fn token_counts_are_zero(&self) -> bool {
        self.current().is_empty()
    }

    /// Re-reads the token files; on failure keeps the tokens it has. A reload that would leave
    /// no token while some are in force fails too: protected mode serves loopback clients as
    /// admin, which a service that started with tokens may be exposed to (a sidecar proxy
    /// connects from loopback), so only a start can enter it.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let fresh = self.sources.load()?;
        let mut tokens = self
            .tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if fresh.is_empty() && !tokens.is_empty() {
            return Err(ReloadError::NoTokens);
        }
        *tokens = Arc::new(fresh);
        Ok(())
    }

    /// Refuses protected mode on an address that other machines can reach: there a proxy on
    /// this machine (a sidecar, a local nginx) would make every outside client a loopback one,
    /// and so an admin. Redis's protected mode takes the same rule.
    pub fn check_listen_address(&self, address: IpAddr) -> Result<(), SettingsError> {
        if self.mode() != Mode::Protected || address.to_canonical().is_loopback() {
            return Ok(());
        }
        Err(SettingsError {
            variable: "BIND_ADDRESS",
            problem: format!(
                "{address} is not a loopback address, and no API token is configured (protected \
                 mode serves only clients on this machine, as admin). Do one of: set API_TOKENS \
                 or ADMIN_TOKENS (or API_TOKENS_FILE/ADMIN_TOKENS_FILE); set AUTH_DISABLED=true \
                 if a gateway in front authenticates every request; or listen on loopback only \
                 with BIND_ADDRESS=127.0.0.1"
            ),
        })
    }

    /// Re-reads token files every [`TOKEN_FILE_RELOAD`] while `auth` lives (when any is
    /// configured). Needs a Tokio runtime.
    pub fn watch_files(auth: &Arc<Self>) {
        if !auth.sources.has_files() {
            return;
        }
        let weak = Arc::downgrade(auth);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TOKEN_FILE_RELOAD);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(auth) = weak.upgrade() else { break };
                if let Err(error) = auth.reload() {
                    tracing::error!(error = %error, "token reload failed; keeping the previous tokens");
                }
            }
        });
    }

    /// Who `request` comes from (no refusal yet), and the token's digest when a valid token
    /// identified it.
    fn identify(&self, request: &Request, client: Option<ClientAddr>) -> Identity {
        if self.disabled {
            return Identity {
                caller: Caller::Admin,
                credential: Credential::None,
                client,
            };
        }
        let tokens = self.current();
        if tokens.is_empty() {
            let caller = if client.is_some_and(|c| c.is_loopback()) {
                Caller::Admin
            } else {
                Caller::Anonymous
            };
            return Identity {
                caller,
                credential: Credential::None,
                client,
            };
        }
        let Some(value) = request.headers().get(header::AUTHORIZATION) else {
            return Identity {
                caller: Caller::Anonymous,
                credential: Credential::Missing,
                client,
            };
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|text| text.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token.and_then(|token| tokens.role_of(token)) {
            Some((caller, digest)) => Identity {
                caller,
                credential: Credential::Valid(digest),
                client,
            },
            None => Identity {
                caller: Caller::Anonymous,
                credential: Credential::Invalid,
                client,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Credential {
    None,
    Missing,
    Invalid,
    Valid(Digest32),
}

#[derive(Debug, Clone, Copy)]
struct Identity {
    caller: Caller,
    credential: Credential,
    client: Option<ClientAddr>,
}

impl Identity {
    /// Rate limits apply per token, or per client address without a valid token.
    fn rate_key(&self) -> Option<RateKey> {
        match (self.credential, self.client) {
            (Credential::Valid(digest), _) => Some(RateKey::Token(digest)),
            (_, Some(client)) => Some(RateKey::address(client.0)),
            (_, None) => None,
        }
    }
}

fn unauthorized(detail: &str, invalid_token: bool) -> ApiError {
    let challenge = if invalid_token {
        r#"Bearer realm="session-api", error="invalid_token""#
    } else {
        r#"Bearer realm="session-api""#
    };
    ApiError::new(StatusCode::UNAUTHORIZED, ProblemCode::Unauthorized, detail).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    )
}

/// Middleware: identifies the caller, applies the rate limit, and answers instead of the
/// route when the caller may not call it: 429 past the limit, 401 without a valid token, 403
/// for a client token on an admin route. The response carries the [`Caller`] for the log.
pub async fn layer(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let route = routes::template_of(&request);
    let matched = (route != routes::UNMATCHED).then_some(route);
    let client = client::resolve(&request);
    let access = required_access(request.method(), matched);
    let identity = auth.identify(&request, client);
    let mut response = match refusal(&auth, access, &identity) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    response.extensions_mut().insert(identity.caller);
    response
}

/// What to answer instead of serving a request needing `access` from `identity`, if anything.
fn refusal(auth: &Auth, access: Access, identity: &Identity) -> Option<ApiError> {
    if access != Access::Open
        && let (Some(limiter), Some(key)) = (&auth.limiter, identity.rate_key())
        && let Err(retry_after) = limiter.check(key)
    {
        // Whole seconds, rounded up: a client that waits that long is served.
        let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        return Some(
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ProblemCode::RateLimited,
                format!("too many requests; retry in {seconds} s"),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(seconds)),
        );
    }
    match (access, identity.caller, identity.credential) {
        (Access::Open, _, _) | (_, Caller::Admin, _) | (Access::Client, Caller::Client, _) => None,
        (Access::Admin, Caller::Client, _) => Some(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::Forbidden,
            "this route needs an admin token",
        )),
        (_, Caller::Anonymous, Credential::None) => Some(unauthorized(
            "no API tokens are configured, so only clients on this machine are served; set API_TOKENS/ADMIN_TOKENS (or AUTH_DISABLED=true behind an authenticating gateway)",
            false,
        )),
        (_, Caller::Anonymous, Credential::Invalid) => {
            Some(unauthorized("the bearer token is not valid", true))
        }
        (_, Caller::Anonymous, _) => Some(unauthorized(
            "a bearer token is required (Authorization: Bearer <token>)",
            false,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified_by_method_and_template() {
        assert_eq!(required_access(&Method::GET, Some("/health")), Access::Open);
        assert_eq!(
            required_access(&Method::GET, Some("/openapi.json")),
            Access::Open
        );
        assert_eq!(
            required_access(&Method::GET, Some("/sessions")),
            Access::Admin
        );
        assert_eq!(
            required_access(&Method::POST, Some("/sessions")),
            Access::Client
        );
        assert_eq!(
            required_access(&Method::DELETE, Some("/sessions/user/{userId}")),
            Access::Admin
        );
        assert_eq!(
            required_access(&Method::GET, Some("/sessions/user/{userId}")),
            Access::Client
        );
        assert_eq!(
            required_access(&Method::HEAD, Some("/sessions/{id}")),
            Access::Client
        );
        // The router answers these to everyone: 404 for no route, 405 for a method it lacks.
        assert_eq!(required_access(&Method::GET, None), Access::Open);
        assert_eq!(
            required_access(&Method::POST, Some("/sessions/{id}")),
            Access::Open
        );
        assert_eq!(
            required_access(&Method::PUT, Some("/sessions")),
            Access::Open
        );
    }

    #[test]
    fn token_lists_split_on_commas_and_newlines() {
        assert_eq!(parse_tokens(" a, b ,,\nc\r\n"), ["a", "b", "c"]);
        assert!(parse_tokens(" , \n").is_empty());
    }

    #[test]
    fn roles_come_from_the_matching_set_admin_first() {
        let set = TokenSet::new(["client-token", "both"], ["admin-token", "both"]);
        let role = |token: &str| set.role_of(token).map(|(role, _)| role);
        assert_eq!(role("client-token"), Some(Caller::Client));
        assert_eq!(role("admin-token"), Some(Caller::Admin));
        assert_eq!(role("both"), Some(Caller::Admin));
        assert_eq!(role("client-token "), None);
        assert_eq!(role(""), None);
        // The digest handed back is the rate limiter's key for the token.
        let (_, key) = set.role_of("client-token").expect("known");
        assert_eq!(key, digest("client-token"));
    }

    #[test]
    fn token_files_are_read_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "first-token\n").expect("write");
        let auth = Auth::new(
            TokenSources {
                client_file: Some(path.clone()),
                ..TokenSources::default()
            },
            false,
            None,
        )
        .expect("load");
        let role = |token: &str| auth.current().role_of(token).map(|(role, _)| role);
        assert_eq!(role("first-token"), Some(Caller::Client));
        std::fs::write(&path, "second-token\n").expect("rewrite");
        auth.reload().expect("reload");
        assert_eq!(role("first-token"), None);
        assert_eq!(role("second-token"), Some(Caller::Client));
        std::fs::remove_file(&path).expect("remove");
        assert!(auth.reload().is_err());
        assert_eq!(
            role("second-token"),
            Some(Caller::Client),
            "kept on failure"
        );
    }

    fn file_tokens(client: &Path, admin: &Path) -> Auth {
        Auth::new(
            TokenSources {
                client_file: Some(client.to_owned()),
                admin_file: Some(admin.to_owned()),
                ..TokenSources::default()
            },
            false,
            None,
        )
        .expect("load")
    }

    fn role_in(auth: &Auth, token: &str) -> Option<Caller> {
        auth.current().role_of(token).map(|(role, _)| role)
    }

    #[test]
    fn a_reload_that_would_leave_no_token_keeps_the_tokens_in_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, admin) = (dir.path().join("client"), dir.path().join("admin"));
        std::fs::write(&client, "client-token\n").expect("write");
        std::fs::write(&admin, "admin-token\n").expect("write");
        let auth = file_tokens(&client, &admin);
        std::fs::write(&admin, "").expect("empty");
        auth.reload().expect("a client token remains");
        assert_eq!(role_in(&auth, "admin-token"), None);
        std::fs::write(&client, " \n").expect("empty");
        assert!(matches!(auth.reload(), Err(ReloadError::NoTokens)));
        assert_eq!(auth.mode(), Mode::Tokens);
        assert_eq!(role_in(&auth, "client-token"), Some(Caller::Client));
        std::fs::write(&admin, "new-admin-token\n").expect("rewrite");
        auth.reload().expect("a token again");
        assert_eq!(role_in(&auth, "client-token"), None);
        assert_eq!(role_in(&auth, "new-admin-token"), Some(Caller::Admin));
    }

    #[test]
    fn only_a_start_can_be_in_protected_mode_and_tokens_end_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, admin) = (dir.path().join("client"), dir.path().join("admin"));
        std::fs::write(&client, "").expect("write");
        std::fs::write(&admin, "").expect("write");
        let auth = file_tokens(&client, &admin);
        assert_eq!(auth.mode(), Mode::Protected);
        auth.reload().expect("still none: nothing changes");
        assert_eq!(auth.mode(), Mode::Protected);
        std::fs::write(&client, "client-token").expect("write");
        auth.reload().expect("tokens");
        assert_eq!(auth.mode(), Mode::Tokens);
    }

    /// The watcher itself, with Tokio's clock paused (and moved on by the runtime when every
    /// task waits) so that its 30-second period passes at once.
    #[tokio::test(start_paused = true)]
    async fn the_watcher_keeps_the_tokens_when_the_files_are_rewritten_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, admin) = (dir.path().join("client"), dir.path().join("admin"));
        std::fs::write(&client, "first-token\n").expect("write");
        std::fs::write(&admin, "").expect("write");
        let auth = Arc::new(file_tokens(&client, &admin));
        Auth::watch_files(&auth);
        std::fs::write(&client, "").expect("empty");
        tokio::time::sleep(TOKEN_FILE_RELOAD + Duration::from_secs(1)).await;
        assert_eq!(auth.mode(), Mode::Tokens);
        assert_eq!(role_in(&auth, "first-token"), Some(Caller::Client));
        // The watcher did run: a token written now is in force after the next period.
        std::fs::write(&client, "second-token\n").expect("rewrite");
        tokio::time::sleep(TOKEN_FILE_RELOAD).await;
        assert_eq!(role_in(&auth, "first-token"), None);
        assert_eq!(role_in(&auth, "second-token"), Some(Caller::Client));
    }

    #[test]
    fn protected_mode_listens_on_loopback_only() {
        let protected = Auth::protected();
        for loopback in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            let address: IpAddr = loopback.parse().expect("ip");
            assert_eq!(
                protected.check_listen_address(address),
                Ok(()),
                "{loopback}"
            );
        }
        for exposed in [
            "0.0.0.0",
            "::",
            "10.0.0.5",
            "::ffff:10.0.0.5",
            "2001:db8::1",
        ] {
            let address: IpAddr = exposed.parse().expect("ip");
            let error = protected.check_listen_address(address).expect_err(exposed);
            assert_eq!(error.variable, "BIND_ADDRESS");
            for way_out in ["API_TOKENS", "AUTH_DISABLED=true", "BIND_ADDRESS=127.0.0.1"] {
                assert!(error.problem.contains(way_out), "{error}");
            }
        }
        let anywhere: IpAddr = "0.0.0.0".parse().expect("ip");
        assert_eq!(Auth::disabled().check_listen_address(anywhere), Ok(()));
        let tokens = Auth::new(
            TokenSources {
                client: Some("client-token".into()),
                ..TokenSources::default()
            },
            false,
            None,
        )
        .expect("tokens");
        assert_eq!(tokens.check_listen_address(anywhere), Ok(()));
    }

    #[test]
    fn a_missing_token_file_names_its_variable() {
        let error = TokenSources {
            admin_file: Some(PathBuf::from("/nonexistent/admin-tokens")),
            ..TokenSources::default()
        }
        .load()
        .expect_err("missing file");
        assert!(
            error.to_string().starts_with("ADMIN_TOKENS_FILE"),
            "{error}"
        );
    }
}

//! Everything that happens once per cold start: settings, the store, the router.
//!
//! Every check here runs before the Lambda runtime starts polling for events, so that a
//! function that cannot work fails its initialisation with a message naming the variable to
//! fix, instead of failing (or panicking) in the middle of an invocation.

use std::sync::Arc;

use axum::Router;
use clap::Args as _;
use clap::parser::ValueSource;
use session_api::setting_values::refused_value;
use session_api::{
    Settings, SettingsError, StoreKind, build_store, service_from_settings, state_from_settings,
};
use session_core::{Clock, SessionService, SessionStore, SystemClock};

/// Why the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing or wrong; the message names the variable.
    #[error("{0}")]
    Settings(#[from] SettingsError),
    /// A variable could not be parsed; clap's message names it.
    #[error("{0}")]
    Unparsable(String),
    /// The store could not be built from valid settings.
    #[error("cannot build the session store: {0}")]
    Store(String),
}

impl StartupError {
    /// The `errorType` reported to the Lambda Runtime API.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Settings(_) | Self::Unparsable(_) => "Runtime.InvalidSettings",
            Self::Store(_) => "Runtime.StoreUnavailable",
        }
    }
}

/// The variables the Lambda runtime needs (and reads with `expect`, which would panic): checked
/// first so that running the binary outside Lambda says what is missing.
pub const RUNTIME_VARIABLES: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

fn problem(variable: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        variable,
        problem: problem.into(),
    }
}

/// Checks that the process runs under a Lambda Runtime API (or an emulator of it).
pub fn check_runtime_environment(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    for variable in RUNTIME_VARIABLES {
        if env(variable).is_none_or(|value| value.trim().is_empty()) {
            return Err(problem(
                variable,
                "is not set: this binary is a Lambda function (the `bootstrap` of a \
                 provided.al2023 runtime) and runs under the Lambda Runtime API, which sets it",
            ));
        }
    }
    // The runtime client turns this into a URI with `expect`: a malformed value would panic.
    let api = env("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    if api.parse::<http::uri::Authority>().is_err() {
        return Err(problem(
            "AWS_LAMBDA_RUNTIME_API",
            format!("{api:?} is not a host:port address"),
        ));
    }
    let memory = env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.trim().parse::<i32>().is_err() {
        return Err(problem(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            format!("{memory:?} is not a number of megabytes"),
        ));
    }
    Ok(())
}

/// The settings of the function, from the same variables as the server's, with the Lambda
/// rules on top: the store is always DynamoDB, and the table must be named explicitly.
///
/// `env` looks a variable up (the process environment in the binary; a map in tests, since
/// setting variables of a running process is `unsafe`).
pub fn settings(env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, StartupError> {
    let parsed = Settings::from_env().map_err(|error| unparsable(&error))?;
    lambda_settings(parsed, env)
}

/// The settings of the authorizer function: the API function's variables and store rules,
/// without the rule on bearer tokens, since an authorizer serves no API route.
pub fn authorizer_settings(env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, StartupError> {
    let parsed = Settings::from_env().map_err(|error| unparsable(&error))?;
    let settings = store_settings(parsed, env)?;
    settings.validate()?;
    Ok(settings)
}

/// Applies the Lambda rules to settings parsed from the environment that `env` reads.
pub fn lambda_settings(
    settings: Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, StartupError> {
    let settings = store_settings(settings, env)?;
    // The server's protected mode (no tokens: serve only callers on loopback) would let
    // nobody in on Lambda, where no caller is ever on loopback, while /health said all is
    // well. A function without tokens must say so that its authentication is elsewhere.
    if !settings.auth_disabled && !settings.token_sources().any_configured() {
        return Err(problem(
            "API_TOKENS",
            "no bearer tokens are set (API_TOKENS, ADMIN_TOKENS, or their _FILE forms) and \
             AUTH_DISABLED is not true: on Lambda no caller is on loopback, so the function \
             would refuse every request. Set tokens, or set AUTH_DISABLED=true where API \
             Gateway (IAM or an authorizer) or a Function URL with AWS_IAM authenticates callers",
        )
        .into());
    }
    settings.validate()?;
    Ok(settings)
}

/// The store rules every function of the service shares: DynamoDB, on a named table.
fn store_settings(
    mut settings: Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, StartupError> {
    let named_store = env("SESSION_STORE").filter(|value| !value.trim().is_empty());
    if named_store.is_some_and(|store| store.trim() != "dynamodb") {
        return Err(problem(
            "SESSION_STORE",
            "the Lambda function keeps sessions in DynamoDB only (a local file does not \
             survive an invocation); unset SESSION_STORE or set it to dynamodb",
        )
        .into());
    }
    // Unset, the server's default would be the embedded store, which this build does not have.
    settings.store = StoreKind::Dynamodb;

    // The server falls back to a default table name; a function must not quietly use a
    // table that nobody configured for it.
    if env("DYNAMODB_TABLE_NAME").is_none_or(|value| value.trim().is_empty()) {
        return Err(problem(
            "DYNAMODB_TABLE_NAME",
            "is not set (or empty): name the DynamoDB table that holds the sessions",
        )
        .into());
    }
    Ok(settings)
}

/// A clap error about a variable, worded for a function, which is configured by variables
/// alone: every value came from the environment, so the variable is named rather than the
/// server's flag, and the advice about `--help` is left out.
fn unparsable(error: &clap::Error) -> StartupError {
    let mut command = Settings::augment_args(clap::Command::new("session-lambda"));
    let from_environment = |_: &clap::Arg| Some(ValueSource::EnvVariable);
    StartupError::Unparsable(
        refused_value(error, &mut command, &from_environment)
            .unwrap_or_else(|| error.kind().to_string()),
    )
}

/// Builds the store and the router, once per cold start. The SDK client inside the store is
/// made here and shared by every invocation; it makes no request until the first one.
pub async fn build_router(settings: &Settings) -> Result<Router, StartupError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = store(settings, clock.clone()).await?;
    let state = state_from_settings(settings, store, clock)?;
    session_api::startup::announce(settings, &state);
    Ok(session_api::router(state))
}

/// Builds the store and the session service alone, once per cold start: for the authorizer,
/// which reads sessions the way the router does but serves no HTTP.
pub async fn build_service(settings: &Settings) -> Result<SessionService, StartupError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = store(settings, clock.clone()).await?;
    Ok(service_from_settings(settings, store, clock)?)
}

/// The DynamoDB store the settings name.
async fn store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn SessionStore>, StartupError> {
    build_store(settings, clock)
        .await
        .map_err(|error| StartupError::Store(session_api::problem::chain(&error)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    /// The documented defaults (parsed from this test process's environment, which sets none
    /// of the service's variables), with a client token.
    fn defaults() -> Settings {
        let mut settings = Settings::from_env().expect("defaults parse");
        settings.api_tokens = Some("client-token-0123456789abcdef".into());
        settings
    }

    const TABLE: (&str, &str) = ("DYNAMODB_TABLE_NAME", "sessions-prod");

    #[test]
    fn the_store_is_dynamodb_even_when_session_store_is_unset() {
        let settings = lambda_settings(defaults(), &lookup(&[TABLE])).expect("valid");
        assert_eq!(settings.store, StoreKind::Dynamodb);
        let named = lambda_settings(defaults(), &lookup(&[TABLE, ("SESSION_STORE", "dynamodb")]))
            .expect("valid");
        assert_eq!(named.store, StoreKind::Dynamodb);
    }

    #[test]
    fn an_embedded_store_is_refused_naming_the_variable() {
        let error = lambda_settings(defaults(), &lookup(&[TABLE, ("SESSION_STORE", "embedded")]))
            .expect_err("embedded is refused");
        let message = error.to_string();
        assert!(message.starts_with("SESSION_STORE: "), "{message}");
        assert!(message.contains("DynamoDB only"), "{message}");
    }

    #[test]
    fn a_missing_or_empty_table_name_is_refused_naming_the_variable() {
        for env in [
            lookup(&[]),
            lookup(&[("DYNAMODB_TABLE_NAME", "")]),
            lookup(&[("DYNAMODB_TABLE_NAME", "  ")]),
        ] {
            let error = lambda_settings(defaults(), &env).expect_err("no table");
            assert!(
                matches!(&error, StartupError::Settings(e) if e.variable == "DYNAMODB_TABLE_NAME"),
                "{error}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with("DYNAMODB_TABLE_NAME: is not set"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_function_without_tokens_must_disable_authentication_explicitly() {
        let mut settings = Settings::from_env().expect("defaults parse");
        for blank in [None, Some("".into()), Some(" , ".into())] {
            settings.api_tokens = blank;
            let error = lambda_settings(settings.clone(), &lookup(&[TABLE]))
                .expect_err("no tokens, authentication on");
            assert!(
                matches!(&error, StartupError::Settings(e) if e.variable == "API_TOKENS"),
                "{error}"
            );
            assert!(error.to_string().contains("AUTH_DISABLED=true"), "{error}");
        }
        settings.api_tokens = None;
        settings.auth_disabled = true;
        assert!(lambda_settings(settings.clone(), &lookup(&[TABLE])).is_ok());
        settings.auth_disabled = false;
        settings.admin_tokens = Some("admin-token-0123456789abcdef".into());
        assert!(lambda_settings(settings.clone(), &lookup(&[TABLE])).is_ok());
        settings.admin_tokens = None;
        settings.api_tokens_file = Some("/run/secrets/tokens".into());
        assert!(lambda_settings(settings, &lookup(&[TABLE])).is_ok());
    }

    /// The message of the error that clap gives for `args`, as the function words it.
    fn unparsable_message(args: &[&str]) -> String {
        let command = Settings::augment_args(clap::Command::new("session-lambda"));
        let error = command
            .try_get_matches_from(args)
            .expect_err("the arguments are refused");
        unparsable(&error).to_string()
    }

    #[test]
    fn clap_errors_name_the_variable_not_the_flag() {
        assert_eq!(
            unparsable_message(&["session-lambda", "--request-timeout-seconds", "0"]),
            r#"REQUEST_TIMEOUT_SECONDS: "0" is out of range (1 to 900)"#
        );
        assert_eq!(
            unparsable_message(&["session-lambda", "--session-store", "postgres"]),
            r#"SESSION_STORE: "postgres" is not one of embedded, dynamodb"#
        );
        assert_eq!(
            unparsable_message(&["session-lambda", "--auth-disabled", "maybe"]),
            r#"AUTH_DISABLED: "maybe" is not one of true, false, yes, no, on, off, 1, 0, y, n, t, f"#
        );
    }

    #[test]
    fn the_server_validation_still_applies() {
        let mut settings = defaults();
        settings.max_data_bytes = 500_000;
        let error = lambda_settings(settings, &lookup(&[TABLE])).expect_err("too big for DynamoDB");
        assert!(
            matches!(&error, StartupError::Settings(e) if e.variable == "SESSION_MAX_DATA_BYTES"),
            "{error}"
        );
    }

    #[test]
    fn the_runtime_variables_are_checked_by_name() {
        let complete = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "sessions"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ];
        assert_eq!(check_runtime_environment(&lookup(&complete)), Ok(()));
        for missing in RUNTIME_VARIABLES {
            let env: Vec<_> = complete
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let error = check_runtime_environment(&lookup(&env)).expect_err("missing");
            assert_eq!(error.variable, missing);
        }
        let mut bad_api = complete;
        bad_api[0] = ("AWS_LAMBDA_RUNTIME_API", "http://[::1");
        let error = check_runtime_environment(&lookup(&bad_api)).expect_err("not host:port");
        assert_eq!(error.variable, "AWS_LAMBDA_RUNTIME_API");
        let mut bad_memory = complete;
        bad_memory[2] = ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots");
        let error = check_runtime_environment(&lookup(&bad_memory)).expect_err("not a number");
        assert_eq!(error.variable, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    }

    /// The authorizer serves no API route: no bearer token is asked for, while the table
    /// still is.
    #[test]
    fn the_authorizer_needs_a_table_but_no_bearer_token() {
        let settings = authorizer_settings(&lookup(&[TABLE])).expect("valid without tokens");
        assert_eq!(settings.store, StoreKind::Dynamodb);
        assert!(!settings.token_sources().any_configured());
        let error = authorizer_settings(&lookup(&[])).expect_err("no table");
        assert!(
            matches!(&error, StartupError::Settings(e) if e.variable == "DYNAMODB_TABLE_NAME"),
            "{error}"
        );
        let error = authorizer_settings(&lookup(&[TABLE, ("SESSION_STORE", "embedded")]))
            .expect_err("embedded is refused");
        assert!(error.to_string().starts_with("SESSION_STORE: "), "{error}");
    }

    #[test]
    fn clap_advice_is_dropped() {
        let message = unparsable_message(&["session-lambda", "--session-ttl-hours", "x"]);
        assert_eq!(
            message,
            r#"SESSION_TTL_HOURS: "x" is not a whole number of hours"#
        );
        assert!(!message.contains("--"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

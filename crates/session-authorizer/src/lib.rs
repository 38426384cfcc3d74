//! `session-authorizer`: an API Gateway Lambda authorizer over the session store, so that the
//! gateway, not the application, checks the session token of every request.
//!
//! It answers both kinds of REQUEST authorizer event:
//!
//! - a REST API (and an HTTP API with payload format 1.0): an IAM policy allowing
//!   `execute-api:Invoke` on every route of the stage ([`rest`]), or the error `Unauthorized`,
//!   which API Gateway turns into a 401;
//! - an HTTP API with payload format 2.0 and simple responses: `isAuthorized` ([`http_api`]).
//!
//! The token is read as `/auth/forward` reads it
//! ([`session_api::routes::forward::presented_token`]): `X-Session-Token`, else the cookie
//! `SESSION_COOKIE_NAME`. Sessions are read with the API's own
//! [`session_core::SessionService`] over the same table and settings, so a read extends a
//! sliding session exactly as
//! `GET /sessions/current` does; nothing else is written.

pub mod authorizer;
pub mod error;
pub mod http_api;
pub mod rest;

pub use authorizer::{Authorizer, SessionContext};
pub use error::AuthorizerError;

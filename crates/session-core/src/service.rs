//! The session service: validation and the expiry policy in front of a store. Both adapters
//! call this and nothing below it.

use std::sync::Arc;

use crate::cursor::{CursorCodec, Listing, Position};
use crate::data::{encoded_size_bound, string_bound, validate_data};
use crate::store::{PageRequest, SecretCheck, SessionStore, VersionCheck};
use crate::{
    Clock, DataPatch, ExpiryPolicy, PresentedToken, Session, SessionData, SessionError, SessionId,
    SessionToken, UserId, UserLimit,
};

/// Page size when a listing names none.
pub const DEFAULT_PAGE_LIMIT: usize = 50;
/// Largest page size a listing may ask for.
pub const MAX_PAGE_LIMIT: usize = 100;
/// Default bound on the size of a listing page, in bytes of JSON (`LISTING_MAX_PAGE_BYTES`).
///
/// A page of 100 sessions with 64 KiB of data each would be 6.5 MB: more than a Lambda
/// function may return (6 MB) and far more than an ALB passes (1 MB). Bounding pages by size
/// as well as by count keeps every page deliverable; a page cut short carries a `nextCursor`
/// like any other.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 1 << 20;
/// What a session's JSON holds besides its `data` and `userId`, at most: the field names, the
/// id, three timestamps, two numbers, the punctuation and the comma after it.
const SESSION_OVERHEAD_BOUND: usize = 320;
/// What a page's JSON holds besides its sessions, at most: `{"sessions":[],"count":100,
/// "nextCursor":"…"}` with the longest cursor a listing issues.
const PAGE_OVERHEAD_BOUND: usize = 64 + crate::cursor::MAX_CURSOR_CHARS;

/// One page of a listing as clients see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Live sessions.
    pub sessions: Vec<Session>,
    /// The cursor of the next page, or `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How a request names the session it is about.
#[derive(Clone, Copy)]
pub enum Address<'a> {
    /// By public id (`/sessions/{id}`): for trusted services; the id alone is enough.
    Id(&'a str),
    /// By session token (`X-Session-Token`, `/sessions/current`): the secret must match, and
    /// every write carries that match in its own condition.
    Token(&'a str),
}

impl std::fmt::Debug for Address<'_> {
    /// A token shows only its id part: the secret never reaches a log line or a panic.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Id(id) => f.debug_tuple("Id").field(id).finish(),
            Address::Token(token) => {
                let id = token.split_once('.').map_or("", |(id, _)| id);
                write!(f, "Token({id:?}, secret: [REDACTED])")
            }
        }
    }
}

impl Address<'_> {
    /// The session id and the secret check the store applies. A malformed id, or a token of
    /// the right form whose parts are not an id and a secret, names no session: `NotFound`,
    /// before any store is asked. A text that is not a token at all is `Invalid`.
    fn resolve(self) -> Result<(SessionId, SecretCheck), SessionError> {
        match self {
            Address::Id(id) => Ok((parse_id(id)?, SecretCheck::Any)),
            Address::Token(token) => {
                let presented = PresentedToken::parse(token)?;
                let id = presented.id.ok_or(SessionError::NotFound)?;
                Ok((id, SecretCheck::Matches(presented.hash)))
            }
        }
    }
}

/// What the service needs besides a store.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Lifetimes and sliding.
    pub policy: ExpiryPolicy,
    /// Bound on the encoded size of session data (`SESSION_MAX_DATA_BYTES`).
    pub max_data_bytes: usize,
    /// Seals listing cursors.
    pub cursors: CursorCodec,
    /// Bound on the JSON size of a listing page (`LISTING_MAX_PAGE_BYTES`); a page always
    /// holds at least one session, whatever its size.
    pub max_page_bytes: usize,
    /// The cap on live sessions per user (`SESSION_MAX_PER_USER`), if any.
    pub user_limit: Option<UserLimit>,
}

/// Creates, reads, changes and deletes sessions under one expiry policy.
#[derive(Debug, Clone)]
pub struct SessionService {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    config: ServiceConfig,
}

impl SessionService {
    /// A service over `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, config: ServiceConfig) -> Self {
        Self {
            store,
            clock,
            config,
        }
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The same service over `wrap(store)`: for a decorator of the store that is made after
    /// the service (the API's readiness watch).
    pub fn wrap_store(
        self,
        wrap: impl FnOnce(Arc<dyn SessionStore>) -> Arc<dyn SessionStore>,
    ) -> Self {
        Self {
            store: wrap(self.store),
            ..self
        }
    }

    /// The expiry policy in force.
    pub fn policy(&self) -> &ExpiryPolicy {
        &self.config.policy
    }

    /// Creates a session for `user_id` with `data` and an idle timeout of `ttl_seconds` (or the
    /// default). The token is returned here and never again: the store keeps only its hash.
    pub async fn create(
        &self,
        user_id: &str,
        data: SessionData,
        ttl_seconds: Option<i64>,
    ) -> Result<(Session, SessionToken), SessionError> {
        let user_id = UserId::parse(user_id)?;
        validate_data(&data, self.config.max_data_bytes)?;
        let policy = &self.config.policy;
        let ttl_seconds = match ttl_seconds {
            Some(requested) => policy.check_ttl_seconds(requested)?,
            None => policy.default_ttl_seconds,
        };
        let now = self.clock.now();
        let token = SessionToken::generate(SessionId::generate())?;
        let session = Session {
            id: token.id().clone(),
            secret_hash: token.secret_hash(),
            user_id,
            data,
            created_at: now,
            updated_at: now,
            touched_at: now,
            ttl: policy.ttl_at(now, ttl_seconds, now),
            ttl_seconds,
            version: 1,
        };
        self.store
            .create(&session, self.config.user_limit.as_ref())
            .await?;
        Ok((session, token))
    }

    /// Reads a live session, extending it when sliding expiration is on and an extension is due.
    pub async fn get(&self, at: Address<'_>) -> Result<Arc<Session>, SessionError> {
        let (id, secret) = at.resolve()?;
        let now = self.clock.now();
        let session = self.store.get(&id, &secret, now).await?;
        let policy = &self.config.policy;
        if !policy.touch_due(&session, now) {
            return Ok(session);
        }
        let new_ttl = policy.ttl_at(session.created_at, session.ttl_seconds, now);
        match self
            .store
            .touch(&id, &secret, session.touched_at, new_ttl, now)
            .await
        {
            Ok(Some(touched)) => Ok(Arc::new(touched)),
            // Someone else extended (or deleted) it since the read; what was read is still a
            // correct answer for this request.
            Ok(None) => Ok(session),
            Err(error) => {
                // The read succeeded; failing it because the extension could not be written
                // would turn a store hiccup into a logged-out user.
                tracing::warn!(session = %id.fingerprint(), error = %error, "sliding extension failed");
                Ok(session)
            }
        }
    }

    /// Replaces the data of a session.
    pub async fn replace(
        &self,
        at: Address<'_>,
        data: SessionData,
        check: &VersionCheck,
    ) -> Result<Session, SessionError> {
        let (id, secret) = at.resolve()?;
        validate_data(&data, self.config.max_data_bytes)?;
        self.store
            .replace(&id, &secret, &data, check, self.clock.now())
            .await
    }

    /// Applies a shallow merge patch to the data of a session.
    pub async fn patch(
        &self,
        at: Address<'_>,
        patch: DataPatch,
        check: &VersionCheck,
    ) -> Result<Session, SessionError> {
        let (id, secret) = at.resolve()?;
        patch.validate()?;
        self.store
            .patch(
                &id,
                &secret,
                &patch,
                check,
                self.config.max_data_bytes,
                self.clock.now(),
            )
            .await
    }

    /// Extends a session now; a given `ttl_seconds` also becomes its idle timeout.
    pub async fn refresh(
        &self,
        at: Address<'_>,
        ttl_seconds: Option<i64>,
    ) -> Result<Session, SessionError> {
        let (id, secret) = at.resolve()?;
        let policy = &self.config.policy;
        let ttl_seconds = ttl_seconds
            .map(|requested| policy.check_ttl_seconds(requested))
            .transpose()?;
        self.store
            .refresh(&id, &secret, ttl_seconds, policy, self.clock.now())
            .await
    }

    /// Deletes a session, expired or not; returns its id.
    pub async fn delete(&self, at: Address<'_>) -> Result<SessionId, SessionError> {
        let (id, secret) = at.resolve()?;
        self.store.delete(&id, &secret).await?;
        Ok(id)
    }

    /// Gives a live session a new secret and returns the new token, the only place it is
    /// shown: from this write on, the old token opens nothing. Data, version and expiry stay.
    pub async fn rotate(&self, at: Address<'_>) -> Result<(Session, SessionToken), SessionError> {
        let (id, secret) = at.resolve()?;
        let token = SessionToken::generate(id)?;
        let session = self
            .store
            .rotate(token.id(), &secret, &token.secret_hash(), self.clock.now())
            .await?;
        Ok((session, token))
    }

    /// A page of a user's live sessions, newest first.
    pub async fn list_user(
        &self,
        user_id: &str,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page, SessionError> {
        let user_id = UserId::parse(user_id)?;
        let listing = Listing::User(&user_id);
        let request = self.page_request(listing, limit, cursor)?;
        let page = self
            .store
            .list_user(&user_id, &request, self.clock.now())
            .await?;
        self.finish_page(listing, page)
    }

    /// A page of all live sessions.
    pub async fn list_all(
        &self,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page, SessionError> {
        let request = self.page_request(Listing::All, limit, cursor)?;
        let page = self.store.list_all(&request, self.clock.now()).await?;
        self.finish_page(Listing::All, page)
    }

    /// Deletes all sessions of a user; returns how many were live.
    pub async fn revoke_user(&self, user_id: &str) -> Result<u64, SessionError> {
        let user_id = UserId::parse(user_id)?;
        self.store.delete_user(&user_id, self.clock.now()).await
    }

    fn page_request(
        &self,
        listing: Listing<'_>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<PageRequest, SessionError> {
        let limit = match limit {
            None => DEFAULT_PAGE_LIMIT,
            Some(requested) => usize::try_from(requested)
                .ok()
                .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
                .ok_or_else(|| {
                    SessionError::invalid(
                        "limit",
                        format!("limit must be a whole number between 1 and {MAX_PAGE_LIMIT} (got {requested})"),
                    )
                })?,
        };
        let after = cursor
            .map(|cursor| self.config.cursors.open(listing, cursor))
            .transpose()?;
        Ok(PageRequest { limit, after })
    }

    fn finish_page(
        &self,
        listing: Listing<'_>,
        mut page: crate::store::StorePage,
    ) -> Result<Page, SessionError> {
        let fitting = fitting_sessions(&page.sessions, self.config.max_page_bytes);
        if fitting < page.sessions.len() {
            // Cut short by size: the next page starts right after the last session kept,
            // exactly as the store's own cursors do (see `StorePage::next`).
            page.sessions.truncate(fitting);
            page.next = page.sessions.last().map(Position::after);
        }
        let next_cursor = page
            .next
            .map(|position| self.config.cursors.seal(listing, &position))
            .transpose()?;
        Ok(Page {
            sessions: page.sessions,
            next_cursor,
        })
    }
}

/// How many of `sessions`, from the first, fit in a page of `budget` bytes of JSON (at least
/// one).
fn fitting_sessions(sessions: &[Session], budget: usize) -> usize {
    let mut used = PAGE_OVERHEAD_BOUND;
    for (index, session) in sessions.iter().enumerate() {
        used = used.saturating_add(
            SESSION_OVERHEAD_BOUND
                + string_bound(session.user_id.as_str())
                + encoded_size_bound(&session.data),
        );
        if used > budget {
            return index.max(1);
        }
    }
    sessions.len()
}

/// A malformed id names no session: `NotFound`, before any store is asked.
fn parse_id(id: &str) -> Result<SessionId, SessionError> {
    SessionId::parse(id).ok_or(SessionError::NotFound)
}

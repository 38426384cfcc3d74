//! The session model and its storage.
//!
//! [`SessionService`] applies validation and the [`ExpiryPolicy`] in front of a
//! [`SessionStore`]: [`store::dynamodb::DynamoDbStore`] in production,
//! [`store::embedded::EmbeddedStore`] (a `redb` file) on a laptop or in tests. Both pass the
//! same conformance suite (`store::conformance`, feature `conformance`).

pub mod clock;
pub mod cursor;
pub mod data;
pub mod error;
pub mod id;
pub mod limit;
pub mod policy;
pub mod schema;
pub mod service;
pub mod session;
pub mod store;
pub mod timestamp;
pub mod token;
pub mod user;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cursor::CursorCodec;
pub use data::{DataPatch, SessionData};
pub use error::{BoxError, SessionError};
pub use id::SessionId;
pub use limit::{Created, LimitPolicy, UserLimit};
pub use policy::ExpiryPolicy;
pub use service::{Address, Page, ServiceConfig, SessionService};
pub use session::Session;
pub use store::{SecretCheck, SessionStore, VersionCheck};
pub use timestamp::Timestamp;
pub use token::{PresentedToken, SecretHash, SessionToken};
pub use user::UserId;

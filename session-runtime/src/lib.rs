//! The runtime of session-kit: the [`SessionLayer`], the [`Session<T>`] and
//! [`SessionHandle`] extractors, the cookie codec and the session stores.
//!
//! Most applications depend on the `session-kit` facade, which re-exports all
//! of this together with `#[derive(Session)]`.
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Request-handling code never unwraps what a client or a store can influence;
// unit tests may.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod cookie;
mod derive_support;
mod error;
mod expiry;
mod extract;
// The cookie decoding path with fixed keys, for `fuzz/` and property tests.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod id;
mod key;
mod layer;
mod proxy;
mod request;
mod service;
mod shared;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod users;

pub use self::cookie::CookieSecurity;
pub use self::derive_support::SessionData;
pub use self::error::{
    ConfigError, CookieTooLarge, IdGenerationError, MissingSessionLayer, SaveError,
    SessionAlreadyExtracted, SessionRejection, SessionUnavailable, StoreConfigError, StoreError,
    StoreErrorKind,
};
pub use self::expiry::IntoDuration;
pub use self::extract::{Session, SessionHandle};
pub use self::id::{SessionId, SessionKey};
pub use self::key::{Key, KeyError, MIN_SECRET_LEN};
pub use self::layer::{SessionLayer, SessionLayerBuilder};
pub use self::service::{ResponseFuture, SessionService};
#[cfg(feature = "memory")]
pub use self::store::MemoryStore;
pub use self::store::{CookieStore, SessionStore};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use self::store::{MySqlStore, MySqlStoreBuilder};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::store::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::store::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::store::{SqliteStore, SqliteStoreBuilder};
pub use self::users::{UserSession, UserSessions};
pub use ::cookie::SameSite;
/// The `time` crate, whose `OffsetDateTime` [`SessionHandle::expires_at`]
/// returns and whose `Duration` the layer's builder takes beside
/// `std::time::Duration`.
pub use ::time;

/// What `#[derive(Session)]` expands to refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::derive_support::{
        default_fn, default_of, diff_counter, diff_field, load_counter, load_field, Counter,
        DefaultFn, Diff, FieldDefault, Fields, NamespaceEntry, SessionData, Storable,
    };
    pub use inventory;
}

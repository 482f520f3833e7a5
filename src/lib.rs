//! Typed sessions for axum.
//!
//! Declare what a session holds as a plain struct, derive [`Session`](macro@Session) on it,
//! and take it in a handler as [`Session<T>`](struct@Session): it derefs to your struct. The
//! framework loads it once per request, sees which fields changed, and writes
//! those fields alone, so a request that changes nothing writes nothing and
//! two overlapping requests that change different fields both persist. The
//! session ID travels in a signed (or encrypted) cookie; the store keeps only
//! its SHA-256 digest.
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_kit::{Key, MemoryStore, Session, SessionLayer};
//!
//! #[derive(Session, Default)]
//! struct Visits {
//!     page_views: u32,
//! }
//!
//! async fn index(mut visits: Session<Visits>) -> String {
//!     visits.page_views += 1;
//!     format!("You visited this page {} times", visits.page_views)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(index))
//!     .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
//! # let _ = app;
//! ```
//!
//! # The derive
//!
//! `#[derive(Session)]` works on structs with named fields whose types are
//! `Serialize + DeserializeOwned`, and `Default` unless a field says how to
//! default.
//!
//! - `#[session(namespace = "cart")]` on the struct: the prefix of its keys
//!   (default: the struct's name in snake_case). Several structs share one
//!   session, each in its own namespace; two structs with one namespace make
//!   [`SessionLayer::new`] fail at start-up.
//! - `#[session(rename = "key")]` on a field: the key it is stored under.
//! - `#[session(default = path::to::function)]`: the value when the session
//!   holds none (default: `Default::default`).
//! - `#[session(skip)]`: never stored; the field starts at its default on
//!   every request.
//! - `#[session(counter)]` on an integer field: a change is saved as a
//!   store-side increment of the difference, so overlapping requests never
//!   lose a count.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use session_kit::Session;
//!
//! #[derive(Serialize, Deserialize, Clone, Default)]
//! struct Item {
//!     sku: String,
//!     quantity: u32,
//! }
//!
//! fn light() -> String {
//!     "light".to_owned()
//! }
//!
//! #[derive(Session, Default)]
//! #[session(namespace = "shop")]
//! struct Shop {
//!     #[session(counter)]
//!     page_views: u64,
//!     #[session(rename = "cart")]
//!     items: Vec<Item>,
//!     #[session(default = light)]
//!     theme: String,
//!     #[session(skip)]
//!     scratch: Vec<u8>,
//! }
//! # let _ = Shop::default().scratch;
//! ```
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use session_derive::Session;

// The chosen surface, named one by one, so nothing reaches users by accident.
pub use session_runtime::{
    store, time, ConfigError, CookieSecurity, CookieStore, CookieTooLarge, IdGenerationError,
    IntoDuration, Key, KeyError, MissingSessionLayer, ResponseFuture, SameSite, SaveError, Session,
    SessionAlreadyExtracted, SessionData, SessionHandle, SessionId, SessionKey, SessionLayer,
    SessionLayerBuilder, SessionRejection, SessionService, SessionStore, SessionUnavailable,
    StoreConfigError, StoreError, StoreErrorKind, MIN_SECRET_LEN,
};

pub use session_runtime::{UserSession, UserSessions};

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use session_runtime::user_index_conformance_tests;
#[cfg(feature = "memory")]
pub use session_runtime::MemoryStore;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use session_runtime::{store_conformance_tests, store_http_tests, testing};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use session_runtime::{MySqlStore, MySqlStoreBuilder};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use session_runtime::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use session_runtime::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use session_runtime::{SqliteStore, SqliteStoreBuilder};

/// What `#[derive(Session)]` expands to refers to (as `::session_kit::__private`);
/// not a public API, and it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use session_runtime::__private::{
        default_fn, default_of, diff_counter, diff_field, inventory, load_counter, load_field,
        Counter, DefaultFn, Diff, FieldDefault, Fields, NamespaceEntry, SessionData, Storable,
    };
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

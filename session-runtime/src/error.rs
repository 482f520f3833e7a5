//! Errors: of stores, of configuration, and the extractors' rejections.

use std::error::Error as StdError;
use std::fmt;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What kind of failure a [`StoreError`] is, for callers that react to one
/// kind differently (retry a timeout, alert on corrupt data).
///
/// ```
/// use session_runtime::{StoreError, StoreErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
/// let err = StoreError::new("the load took too long", io).with_kind(StoreErrorKind::Timeout);
/// assert_eq!(err.kind(), StoreErrorKind::Timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The back end cannot be reached: refused, reset, or not answering.
    Unavailable,
    /// The back end did not answer within the store's time limit.
    Timeout,
    /// The back end answered with data the store cannot read.
    Corrupt,
    /// The back end refused the operation because of a concurrent one (a
    /// transaction conflict, a lock timeout); retrying may succeed.
    Conflict,
    /// The store was configured with something that cannot work.
    Config,
    /// Anything else.
    Other,
    /// The store does not have this optional ability (such as the per-user
    /// index behind [`UserSessions`](crate::UserSessions)): the operation
    /// was not attempted.
    Unsupported,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Corrupt => "corrupt data",
            Self::Conflict => "conflict",
            Self::Config => "configuration",
            Self::Other => "other",
            Self::Unsupported => "not supported by this store",
        })
    }
}

/// A session store failed: the back end is down, timed out, or answered
/// something it should not have. It keeps the driver's error as its source
/// and says what [kind](StoreErrorKind) of failure it is.
///
/// ```
/// use session_runtime::{StoreError, StoreErrorKind};
/// use std::error::Error as _;
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err = StoreError::unavailable("cannot reach Redis", io);
/// assert_eq!(err.to_string(), "session store error: cannot reach Redis");
/// assert_eq!(err.kind(), StoreErrorKind::Unavailable);
/// assert!(err.source().is_some());
/// ```
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    context: &'static str,
    source: Option<BoxError>,
}

impl StoreError {
    /// A store error that says what failed and keeps the cause; its kind is
    /// [`StoreErrorKind::Other`] until [`with_kind`](Self::with_kind) says
    /// otherwise.
    pub fn new(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self {
            kind: StoreErrorKind::Other,
            context,
            source: Some(source.into()),
        }
    }

    /// A store error with no underlying cause (the back end answered
    /// something unexpected): [`StoreErrorKind::Corrupt`].
    pub fn msg(context: &'static str) -> Self {
        Self {
            kind: StoreErrorKind::Corrupt,
            context,
            source: None,
        }
    }

    /// The back end cannot be reached.
    pub fn unavailable(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::new(context, source).with_kind(StoreErrorKind::Unavailable)
    }

    /// The back end did not answer in time.
    pub fn timeout(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::new(context, source).with_kind(StoreErrorKind::Timeout)
    }

    /// The back end answered data the store cannot read.
    pub fn corrupt(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::new(context, source).with_kind(StoreErrorKind::Corrupt)
    }

    /// The store does not have the optional ability an operation needs:
    /// [`StoreErrorKind::Unsupported`].
    ///
    /// ```
    /// use session_runtime::{StoreError, StoreErrorKind};
    ///
    /// let err = StoreError::unsupported("this store keeps no per-user index");
    /// assert_eq!(err.kind(), StoreErrorKind::Unsupported);
    /// ```
    pub fn unsupported(context: &'static str) -> Self {
        Self {
            kind: StoreErrorKind::Unsupported,
            context,
            source: None,
        }
    }

    /// The same error, of another kind.
    #[must_use]
    pub fn with_kind(mut self, kind: StoreErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store error: {}", self.context)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<StoreConfigError> for StoreError {
    fn from(err: StoreConfigError) -> Self {
        Self::new("the store is misconfigured", err).with_kind(StoreErrorKind::Config)
    }
}

/// A store was configured with something that cannot work, found when it is
/// built or connected, never at the first request.
///
/// ```
/// use session_runtime::{StoreConfigError, StoreError, StoreErrorKind};
///
/// let err = StoreConfigError::InvalidKeyPrefix { prefix: "a{b".into(), reason: "it holds `{`" };
/// assert!(err.to_string().contains("a{b"));
/// assert_eq!(StoreError::from(err).kind(), StoreErrorKind::Config);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfigError {
    /// A key prefix the store cannot use.
    InvalidKeyPrefix {
        /// The prefix given.
        prefix: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A URL the store cannot use. The URL itself is not kept: it may
    /// carry a password.
    InvalidUrl {
        /// Why it cannot be used.
        reason: String,
    },
    /// A cluster URL that names no node.
    EmptyNodeList,
    /// A table name that is not a plain SQL identifier.
    InvalidTableName {
        /// The name given.
        name: String,
    },
    /// A back end that does not work the way the store needs (a cluster
    /// node behind a single-server URL, a server too old).
    Unsupported {
        /// What is wrong and what to do instead.
        reason: String,
    },
}

impl fmt::Display for StoreConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKeyPrefix { prefix, reason } => {
                write!(f, "the key prefix `{prefix}` cannot be used: {reason}")
            }
            Self::InvalidUrl { reason } => write!(f, "the store URL cannot be used: {reason}"),
            Self::EmptyNodeList => f.write_str(
                "the cluster URL names no node; write `redis+cluster://host:port,host:port`",
            ),
            Self::InvalidTableName { name } => write!(
                f,
                "`{name}` cannot be a table name: use letters, digits and `_`, not starting with \
                 a digit, optionally qualified by a schema (`schema.table`), at most 63 characters"
            ),
            Self::Unsupported { reason } => f.write_str(reason),
        }
    }
}

impl StdError for StoreConfigError {}

/// No session ID could be drawn: the random number generator failed.
///
/// A save that needs a new ID answers 500 with this as the cause.
///
/// ```
/// use session_runtime::IdGenerationError;
/// let _ = std::mem::size_of::<IdGenerationError>();
/// ```
#[derive(Debug)]
pub struct IdGenerationError {
    pub(crate) source: Option<BoxError>,
}

impl fmt::Display for IdGenerationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot draw a session ID: the random number generator failed")
    }
}

impl StdError for IdGenerationError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The session could not be saved after the handler answered, so the
/// response becomes a 500: a client is never told that a write succeeded when
/// it did not. The error is logged with its source; the client sees only
/// [`body_text`](Self::body_text).
///
/// ```
/// use axum::response::IntoResponse as _;
/// use session_runtime::{SaveError, StoreError};
///
/// let err = SaveError::from(StoreError::msg("Redis answered something odd"));
/// assert_eq!(err.status(), 500);
/// assert!(std::error::Error::source(&err).is_some());
/// assert_eq!(err.into_response().status(), 500);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SaveError {
    /// The store failed to write.
    Store(StoreError),
    /// No new session ID could be drawn.
    Id(IdGenerationError),
    /// A field's value could not be encoded as JSON (its `Serialize` failed).
    Encode {
        /// The field's key in the session (`namespace.field`).
        field: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The store refused every fresh session key it was offered.
    NoFreeKey,
    /// The `Set-Cookie` header could not be written.
    Cookie,
    /// The session, which a [`CookieStore`](crate::CookieStore) keeps in the
    /// cookie, has outgrown what a browser keeps: no `Set-Cookie` is sent,
    /// so the client keeps its previous cookie.
    CookieTooLarge(CookieTooLarge),
}

impl SaveError {
    /// The HTTP status the response gets instead of the handler's: 500.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The text of the response body.
    pub fn body_text(&self) -> &'static str {
        "the session could not be saved; the change was not stored"
    }
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(_) => f.write_str("the session store failed to write the session"),
            Self::Id(_) => f.write_str("no new session ID could be drawn"),
            Self::Encode { field, .. } => {
                write!(
                    f,
                    "the session field `{field}` could not be encoded as JSON"
                )
            }
            Self::NoFreeKey => f.write_str("the store refused every fresh session key"),
            Self::Cookie => f.write_str("the session cookie could not be written"),
            Self::CookieTooLarge(err) => write!(f, "{err}"),
        }
    }
}

impl StdError for SaveError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Store(err) => Some(err),
            Self::Id(err) => Some(err),
            Self::Encode { source, .. } => Some(source),
            Self::NoFreeKey | Self::Cookie => None,
            Self::CookieTooLarge(err) => Some(err),
        }
    }
}

impl From<StoreError> for SaveError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<IdGenerationError> for SaveError {
    fn from(err: IdGenerationError) -> Self {
        Self::Id(err)
    }
}

impl From<CookieTooLarge> for SaveError {
    fn from(err: CookieTooLarge) -> Self {
        Self::CookieTooLarge(err)
    }
}

/// A session kept in the cookie ([`CookieStore`](crate::CookieStore)) would
/// make a `Set-Cookie` larger than browsers keep: they drop such a cookie
/// silently, so the layer refuses to send it.
///
/// [`SessionHandle::cookie_size`](crate::SessionHandle::cookie_size) answers
/// it before the response, for a handler to act on (refuse the item, answer
/// 413); after the handler, the save answers it as a 500
/// ([`SaveError::CookieTooLarge`]) and sends no `Set-Cookie`, so the client
/// keeps its previous cookie.
///
/// ```
/// use session_kit::{CookieTooLarge, SaveError};
///
/// let err = CookieTooLarge { size: 5000, limit: 4096 };
/// assert!(err.to_string().contains("5000 bytes"));
/// assert_eq!(SaveError::from(err).status(), 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieTooLarge {
    /// The size of the `Set-Cookie` value the session needs: its name,
    /// value and attributes, in bytes.
    pub size: usize,
    /// The most a browser keeps, in bytes: 4096.
    pub limit: usize,
}

impl fmt::Display for CookieTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the session cookie would be {} bytes, past the {}-byte limit browsers keep; store \
             less in the session, or use a server-side store",
            self.size, self.limit
        )
    }
}

impl StdError for CookieTooLarge {}

impl IntoResponse for SaveError {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

/// The `SessionLayer` was built with a configuration that cannot work.
///
/// Returned by [`SessionLayerBuilder::build`](crate::SessionLayerBuilder::build),
/// at start-up, never at the first request.
///
/// ```
/// use session_kit::{ConfigError, Key, MemoryStore, SameSite, SessionLayer};
///
/// let err = SessionLayer::builder(MemoryStore::new(), Key::generate())
///     .same_site(SameSite::None)
///     .secure(false)
///     .build()
///     .expect_err("SameSite=None needs Secure");
/// assert_eq!(err, ConfigError::SameSiteNoneWithoutSecure);
/// println!("{err}"); // says what to change
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two `#[derive(Session)]` structs of this program use one namespace.
    DuplicateNamespace {
        /// The namespace.
        namespace: &'static str,
        /// The first struct.
        first: &'static str,
        /// The second struct.
        second: &'static str,
    },
    /// The cookie name is empty or holds characters a cookie name cannot.
    InvalidCookieName(String),
    /// A `Path` or `Domain` value a cookie cannot carry: empty, not
    /// starting with `/` (a path), or holding `;`, spaces, control or
    /// non-ASCII characters that would break or inject cookie attributes.
    InvalidAttribute {
        /// `Path` or `Domain`.
        attribute: &'static str,
        /// The value given.
        value: String,
    },
    /// The inactivity timeout is zero or longer than the 400 days a browser
    /// keeps a cookie.
    InvalidTimeout,
    /// The absolute lifetime is zero.
    InvalidAbsoluteLifetime,
    /// The "remember me" window is zero or longer than 400 days.
    InvalidRememberFor,
    /// `SameSite=None` on a cookie that is not `Secure`: browsers reject it.
    SameSiteNoneWithoutSecure,
    /// A `Partitioned` cookie that is not `Secure`: browsers reject it.
    PartitionedWithoutSecure,
    /// A cookie named `__Host-…` or `__Secure-…` that is not `Secure`:
    /// browsers reject it.
    PrefixWithoutSecure {
        /// The cookie's name.
        name: String,
    },
    /// A cookie named `__Host-…` with a `Path` other than `/`.
    HostPrefixWithPath {
        /// The cookie's name.
        name: String,
        /// The configured `Path`.
        path: String,
    },
    /// A cookie named `__Host-…` with a `Domain`.
    HostPrefixWithDomain {
        /// The cookie's name.
        name: String,
        /// The configured `Domain`.
        domain: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateNamespace {
                namespace,
                first,
                second,
            } => write!(
                f,
                "`{first}` and `{second}` both store their fields under the session namespace \
                 `{namespace}`; give one of them `#[session(namespace = \"...\")]`"
            ),
            Self::InvalidCookieName(name) => write!(
                f,
                "`{name}` cannot be a cookie name; use letters, digits and `-_.` only"
            ),
            Self::InvalidAttribute { attribute, value } => write!(
                f,
                "`{value}` cannot be the cookie's `{attribute}`: use printable ASCII without \
                 `;` or spaces{}",
                if *attribute == "Path" {
                    ", starting with `/`"
                } else {
                    ""
                }
            ),
            Self::InvalidTimeout => {
                f.write_str("the inactivity timeout must be more than zero and at most 400 days")
            }
            Self::InvalidAbsoluteLifetime => f.write_str(
                "the absolute lifetime must be more than zero; remove `.absolute_lifetime(..)` \
                 for sessions that end by inactivity only",
            ),
            Self::InvalidRememberFor => {
                f.write_str("the `remember_for` window must be more than zero and at most 400 days")
            }
            Self::SameSiteNoneWithoutSecure => f.write_str(
                "`SameSite=None` needs a `Secure` cookie, which browsers otherwise reject; \
                 remove `.secure(false)`, or use `SameSite::Lax` or `SameSite::Strict`",
            ),
            Self::PartitionedWithoutSecure => f.write_str(
                "a `Partitioned` cookie must be `Secure`, which browsers otherwise reject; \
                 remove `.secure(false)` or `.partitioned(true)`",
            ),
            Self::PrefixWithoutSecure { name } => write!(
                f,
                "the cookie `{name}` has a `__Host-` or `__Secure-` prefix, which browsers accept \
                 only on a `Secure` cookie; remove `.secure(false)` or rename the cookie"
            ),
            Self::HostPrefixWithPath { name, path } => write!(
                f,
                "the cookie `{name}` has the `__Host-` prefix, which requires `Path=/`, not \
                 `{path}`; remove `.path(..)` or use the `__Secure-` prefix"
            ),
            Self::HostPrefixWithDomain { name, domain } => write!(
                f,
                "the cookie `{name}` has the `__Host-` prefix, which forbids a `Domain` \
                 (`{domain}` here); remove `.domain(..)` or use the `__Secure-` prefix"
            ),
        }
    }
}

impl StdError for ConfigError {}

macro_rules! rejection {
    ($(#[$doc:meta])* $name:ident, $status:expr, $body:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        #[non_exhaustive]
        pub struct $name {
            pub(crate) source: Option<BoxError>,
        }

        impl $name {
            /// The HTTP status this rejection answers with.
            pub fn status(&self) -> StatusCode {
                $status
            }

            /// The text of the response body.
            pub fn body_text(&self) -> &'static str {
                $body
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($body)
            }
        }

        impl StdError for $name {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
            }
        }

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                ($status, $body).into_response()
            }
        }
    };
}

rejection!(
    /// A handler extracted a session on a router that has no `SessionLayer`.
    /// A programming error, answered with 500 and logged.
    MissingSessionLayer,
    StatusCode::INTERNAL_SERVER_ERROR,
    "`SessionLayer` was not added to this router; add it with \
     `Router::layer(SessionLayer::new(store, key))` (see `SessionLayer::new`)"
);

rejection!(
    /// The session store could not load the session: the handler does not
    /// run, and the client gets a 503 it may retry.
    SessionUnavailable,
    StatusCode::SERVICE_UNAVAILABLE,
    "the session store is unavailable; try again shortly"
);

rejection!(
    /// A handler took the same `Session<T>` twice at once, which could not
    /// tell whose change is whose. A programming error, answered with 500.
    SessionAlreadyExtracted,
    StatusCode::INTERNAL_SERVER_ERROR,
    "this `Session<T>` is already taken by this request; extract each session type once per handler"
);

/// Why a [`Session<T>`](crate::Session) could not be extracted.
///
/// It answers with its own status and a body that says what went wrong:
///
/// ```
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use session_kit::Session;
/// use tower::ServiceExt as _;
///
/// #[derive(Session, Default)]
/// struct Visits {
///     n: u32,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // No `SessionLayer`: a programming error, answered with a 500 naming the fix.
/// let app: Router = Router::new().route("/", get(|v: Session<Visits>| async move { v.n.to_string() }));
/// let res = app.oneshot(Request::new(Body::empty())).await.expect("infallible");
/// assert_eq!(res.status(), 500);
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// See [`MissingSessionLayer`].
    MissingSessionLayer(MissingSessionLayer),
    /// See [`SessionUnavailable`].
    SessionUnavailable(SessionUnavailable),
    /// See [`SessionAlreadyExtracted`].
    SessionAlreadyExtracted(SessionAlreadyExtracted),
}

impl SessionRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingSessionLayer(r) => r.status(),
            Self::SessionUnavailable(r) => r.status(),
            Self::SessionAlreadyExtracted(r) => r.status(),
        }
    }

    /// The text of the response body.
    pub fn body_text(&self) -> &'static str {
        match self {
            Self::MissingSessionLayer(r) => r.body_text(),
            Self::SessionUnavailable(r) => r.body_text(),
            Self::SessionAlreadyExtracted(r) => r.body_text(),
        }
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.body_text())
    }
}

impl StdError for SessionRejection {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::MissingSessionLayer(r) => Some(r),
            Self::SessionUnavailable(r) => Some(r),
            Self::SessionAlreadyExtracted(r) => Some(r),
        }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

impl From<MissingSessionLayer> for SessionRejection {
    fn from(r: MissingSessionLayer) -> Self {
        Self::MissingSessionLayer(r)
    }
}

impl From<SessionUnavailable> for SessionRejection {
    fn from(r: SessionUnavailable) -> Self {
        Self::SessionUnavailable(r)
    }
}

impl From<SessionAlreadyExtracted> for SessionRejection {
    fn from(r: SessionAlreadyExtracted) -> Self {
        Self::SessionAlreadyExtracted(r)
    }
}

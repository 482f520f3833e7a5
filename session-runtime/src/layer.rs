//! [`SessionLayer`] and its builder.

use std::sync::Arc;

use cookie::SameSite;
use tower_layer::Layer;

use crate::cookie::{CookieCodec, CookieSecurity};
use crate::error::ConfigError;
use crate::expiry::{Expiry, IntoDuration, MAX_COOKIE_AGE};
use crate::key::Key;
use crate::service::SessionService;
use crate::shared::Shared;
use crate::store::{DynStore, SessionStore, COOKIE_SIZE_LIMIT};

/// The tower layer that gives a router its sessions.
///
/// It keeps the session ID in a signed cookie (or an encrypted one), loads
/// the session the first time a handler extracts it, and after the handler
/// writes back only the fields that changed.
///
/// ```
/// use axum::{routing::get, Router};
/// use session_kit::{Key, MemoryStore, Session, SessionLayer};
///
/// #[derive(Session, Default)]
/// struct Visits {
///     page_views: u32,
/// }
///
/// async fn index(mut visits: Session<Visits>) -> String {
///     visits.page_views += 1;
///     format!("You visited this page {} times", visits.page_views)
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(index))
///     .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// A layer with the default configuration: cookie `sid`, `Path=/`,
    /// `Secure`, `HttpOnly`, `SameSite=Lax`, signed, a browser-session cookie
    /// and a 24-hour inactivity timeout enforced by the server.
    ///
    /// # Panics
    ///
    /// At start-up, when two `#[derive(Session)]` structs of the program share
    /// a namespace: sharing would be silent data corruption. Use
    /// [`SessionLayer::builder`] and [`SessionLayerBuilder::build`] to get the
    /// error as a value instead.
    #[track_caller]
    pub fn new(store: impl SessionStore, key: Key) -> Self {
        match Self::builder(store, key).build() {
            Ok(layer) => layer,
            Err(err) => panic!("invalid session configuration: {err}"),
        }
    }

    /// A builder, to change the cookie, the keys or the expiry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_kit::{Key, MemoryStore, SameSite, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .cookie_name("id")
    ///     .secure(false) // plain HTTP, for local development only
    ///     .same_site(SameSite::Strict)
    ///     .inactivity_timeout(Duration::from_secs(30 * 60))
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn builder(store: impl SessionStore, key: Key) -> SessionLayerBuilder {
        SessionLayerBuilder {
            #[cfg(feature = "memory")]
            memory: (&store as &dyn std::any::Any)
                .downcast_ref::<crate::store::MemoryStore>()
                .cloned(),
            store: Arc::new(store),
            codec: CookieCodec::new(CookieSecurity::Signed, vec![key]),
            expiry: Expiry::default(),
            extend_after: None,
            trust_proxy: false,
            remember_for: crate::users::DEFAULT_REMEMBER_FOR,
            record_client: false,
        }
    }
}

impl SessionLayer {
    /// The sessions of users, for work outside a request (an admin page, a
    /// job that logs a user out everywhere after a password change): see
    /// [`UserSessions`](crate::UserSessions).
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::new(MemoryStore::new(), Key::generate());
    /// let users = layer.users(); // keep it; clone it into jobs
    /// # let _ = users;
    /// ```
    pub fn users(&self) -> crate::UserSessions {
        crate::UserSessions::new(self.shared.clone())
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.shared.clone())
    }
}

/// Configures a [`SessionLayer`]; see [`SessionLayer::builder`].
#[derive(Debug)]
#[must_use = "call `.build()` to get the layer"]
pub struct SessionLayerBuilder {
    store: Arc<dyn DynStore>,
    #[cfg(feature = "memory")]
    memory: Option<crate::store::MemoryStore>,
    codec: CookieCodec,
    expiry: Expiry,
    extend_after: Option<time::Duration>,
    trust_proxy: bool,
    remember_for: time::Duration,
    record_client: bool,
}

impl SessionLayerBuilder {
    /// The cookie's name (default `sid`).
    ///
    /// A name that starts with `__Host-` (case-insensitively) must be
    /// `Secure`, with `Path=/` and no `Domain`; one that starts with
    /// `__Secure-` must be `Secure`. [`build`](Self::build) checks both, so
    /// the browser never silently drops the cookie:
    ///
    /// ```
    /// use session_kit::{ConfigError, Key, MemoryStore, SessionLayer};
    ///
    /// let host = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .cookie_name("__Host-sid")
    ///     .build();
    /// assert!(host.is_ok());
    ///
    /// let wrong = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .cookie_name("__Host-sid")
    ///     .domain("example.com")
    ///     .build();
    /// assert!(matches!(wrong, Err(ConfigError::HostPrefixWithDomain { .. })));
    /// ```
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.codec.name = name.into();
        self
    }

    /// The cookie's `Path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.codec.path = path.into();
        self
    }

    /// The cookie's `Domain` (default none: the host that set it only).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.codec.domain = Some(domain.into());
        self
    }

    /// Whether the cookie is `Secure`, sent over HTTPS only (default on).
    /// Turn it off for local development over plain HTTP only.
    pub fn secure(mut self, secure: bool) -> Self {
        self.codec.secure = secure;
        self
    }

    /// Whether the cookie is `HttpOnly`, hidden from scripts (default on).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.codec.http_only = http_only;
        self
    }

    /// The cookie's `SameSite` (default `Lax`). `None` requires a `Secure`
    /// cookie; [`build`](Self::build) refuses it otherwise.
    ///
    /// ```
    /// use session_kit::{ConfigError, Key, MemoryStore, SameSite, SessionLayer};
    ///
    /// let err = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .same_site(SameSite::None)
    ///     .secure(false)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err, ConfigError::SameSiteNoneWithoutSecure);
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.codec.same_site = same_site;
        self
    }

    /// Whether the cookie is `Partitioned` (CHIPS; default off). A
    /// partitioned cookie must be `Secure`; [`build`](Self::build) refuses it
    /// otherwise.
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SameSite, SessionLayer};
    ///
    /// // A session for an app embedded in other sites' pages.
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .same_site(SameSite::None)
    ///     .partitioned(true)
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.codec.partitioned = partitioned;
        self
    }

    /// Encrypts the cookie (AES-256-GCM) instead of signing it, so the
    /// session ID is neither readable nor forgeable. Key rotation works the
    /// same way as for signed cookies.
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .private()
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn private(mut self) -> Self {
        self.codec.security = CookieSecurity::Private;
        self
    }

    /// Older keys that still verify cookies, newest first. A cookie that
    /// verifies only under one of them keeps its session and is re-issued
    /// under the current key (the one given to [`SessionLayer::builder`]).
    /// A cookie signed by a key that is in neither place is not honoured:
    /// the client gets a fresh session, without an error.
    ///
    /// To rotate without logging anyone out: deploy the new key as the
    /// current one with the old one here; once every live session has been
    /// seen (or the inactivity timeout has passed), drop the old key.
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// # let new_secret = [1u8; 64];
    /// # let old_secret = [2u8; 64];
    /// let current = Key::derive_from(&new_secret).expect("64 bytes");
    /// let previous = Key::derive_from(&old_secret).expect("64 bytes");
    /// let layer = SessionLayer::builder(MemoryStore::new(), current)
    ///     .older_keys([previous])
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn older_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.codec.keys.truncate(1);
        self.codec.keys.extend(keys);
        self
    }

    /// How long a session lives without a request (default 24 hours),
    /// enforced by the server on every load. At most 400 days.
    ///
    /// Takes a `std::time::Duration` or a `time::Duration` (see
    /// [`IntoDuration`]).
    pub fn inactivity_timeout(mut self, timeout: impl IntoDuration) -> Self {
        self.expiry.inactivity = timeout.into_duration();
        self
    }

    /// How much of the inactivity window must pass before a request moves
    /// the expiry forward (default a quarter of the timeout). Until then a
    /// request that changes nothing costs no store write, and one that
    /// writes leaves the stored expiry where it is (on PostgreSQL that keeps
    /// a busy session's updates off the expiry index); after it, a request
    /// that changes nothing moves the expiry with one TTL-only touch (no
    /// data written), one that writes moves it with its write, and a
    /// persistent cookie is re-issued with it. A session thus never has
    /// less than the timeout minus this left after a request. Zero moves the
    /// expiry on every request.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// // Sessions end after 30 idle minutes; a reader's request extends
    /// // the session at most once every 10 minutes.
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .inactivity_timeout(Duration::from_secs(30 * 60))
    ///     .extend_after(Duration::from_secs(10 * 60))
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn extend_after(mut self, after: impl IntoDuration) -> Self {
        self.extend_after = Some(after.into_duration());
        self
    }

    /// Gives the cookie a `Max-Age` equal to the inactivity timeout (capped
    /// at what is left of the absolute lifetime, and at 400 days), so it
    /// outlives the browser (default off: a browser-session cookie). The
    /// cookie is re-issued whenever the server moves the expiry forward.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// // Every session's cookie outlives the browser, for up to two weeks
    /// // without a request. (For a per-login choice between a browser-session
    /// // cookie and a persistent one, leave this off and bind the user with
    /// // `SessionHandle::bind_user(user, remember)`.)
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .inactivity_timeout(Duration::from_secs(14 * 24 * 60 * 60))
    ///     .persistent_cookie(true)
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn persistent_cookie(mut self, persistent: bool) -> Self {
        self.expiry.persistent_cookie = persistent;
        self
    }

    /// Ends every session this long after it was created, whatever its
    /// activity (default: no absolute lifetime). Enforced by the server on
    /// every load; a persistent cookie's `Max-Age` never reaches past it.
    ///
    /// The creation time is stored with the session, in a reserved field.
    /// Sessions stored before this option was turned on count from the first
    /// request that sees them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// // Idle for 30 minutes or 12 hours old, whichever comes first.
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .inactivity_timeout(Duration::from_secs(30 * 60))
    ///     .absolute_lifetime(Duration::from_secs(12 * 60 * 60))
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn absolute_lifetime(mut self, lifetime: impl IntoDuration) -> Self {
        self.expiry.absolute = Some(lifetime.into_duration());
        self
    }

    /// Re-issues the cookie on every response to a request that used a live
    /// session (express-session's `rolling`; default off). With a persistent
    /// cookie, its `Max-Age` starts again on each response.
    ///
    /// This costs a `Set-Cookie` per response, not a store write: the
    /// server's expiry still moves as [`extend_after`](Self::extend_after)
    /// says (set that to zero to move it on every request too).
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .persistent_cookie(true)
    ///     .rolling(true)
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn rolling(mut self, rolling: bool) -> Self {
        self.expiry.rolling = rolling;
        self
    }

    /// Believes the reverse proxy's `Forwarded: proto=…` or
    /// `X-Forwarded-Proto` header about the scheme the client used (default
    /// off: both headers are ignored, since any client can send them).
    ///
    /// Turn it on only when every request comes through a proxy that sets
    /// (or overwrites, or appends to) one of these headers. The value read
    /// is the last one, which the proxy nearest to the app wrote: a value a
    /// client sent ahead of it is never believed. Behind several proxies,
    /// the one nearest to the app must write the scheme the client used (as
    /// nginx's `proxy_set_header X-Forwarded-Proto $scheme;` does, once
    /// every proxy in front passes it on). With it on and a `Secure`
    /// cookie:
    ///
    /// - a request the proxy says came over `https` is secure: it gets the
    ///   cookie;
    /// - a request the proxy says came over plain `http` is known to be
    ///   insecure: its session cookie is ignored, no session is created, and
    ///   no cookie is set, so a `Secure` cookie never travels over plain HTTP;
    ///   the handler sees an empty session that is not saved;
    /// - a request with neither header is treated as the configuration says,
    ///   as without a proxy.
    ///
    /// Without a proxy the layer cannot tell a direct request's scheme, so it
    /// sends the cookie as configured. A cookie built with `.secure(false)`
    /// is sent on every request: that is how to allow plain HTTP.
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// // Behind nginx with `proxy_set_header X-Forwarded-Proto $scheme;`.
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .trust_proxy(true)
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn trust_proxy(mut self, trust: bool) -> Self {
        self.trust_proxy = trust;
        self
    }

    /// The inactivity window of a session bound with "remember me"
    /// ([`SessionHandle::bind_user`](crate::SessionHandle::bind_user) with
    /// `remember`; default 30 days, at most 400): such a session gets a
    /// persistent cookie, and the server ends it after this long without a
    /// request. The absolute lifetime, if set, still caps it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .remember_for(Duration::from_secs(14 * 24 * 60 * 60))
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn remember_for(mut self, window: impl IntoDuration) -> Self {
        self.remember_for = window.into_duration();
        self
    }

    /// Keeps, at each bind to a user, the client's `User-Agent` and (with
    /// [`trust_proxy`](Self::trust_proxy)) the address its proxy names in
    /// `X-Forwarded-For`, so a listing of a user's sessions can show them
    /// (default off). Both are personal data: turn this on only with a
    /// reason your privacy notice gives, and know they are stored with the
    /// session until it ends.
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
    ///     .record_client(true)
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// ```
    pub fn record_client(mut self, record: bool) -> Self {
        self.record_client = record;
        self
    }

    /// Checks the configuration and builds the layer: a configuration that
    /// cannot work fails here, at start-up, with a [`ConfigError`] that says
    /// what to change, never at the first request.
    pub fn build(mut self) -> Result<SessionLayer, ConfigError> {
        crate::derive_support::check_namespaces()?;
        self.codec.check()?;
        let inactivity = self.expiry.inactivity;
        if inactivity <= time::Duration::ZERO || inactivity > MAX_COOKIE_AGE {
            return Err(ConfigError::InvalidTimeout);
        }
        if let Some(absolute) = self.expiry.absolute {
            if absolute <= time::Duration::ZERO {
                return Err(ConfigError::InvalidAbsoluteLifetime);
            }
            // Beyond the cookie's 400 days it changes nothing, and a bounded
            // value keeps the date arithmetic from overflowing.
            self.expiry.absolute = Some(absolute.min(MAX_COOKIE_AGE));
        }
        self.expiry.extend_after = match self.extend_after {
            Some(after) => after.clamp(time::Duration::ZERO, inactivity),
            None => inactivity / 4,
        };
        if self.remember_for <= time::Duration::ZERO || self.remember_for > MAX_COOKIE_AGE {
            return Err(ConfigError::InvalidRememberFor);
        }

        // A store that keeps the session in the cookie: the codec encrypts
        // unless the store asked for signing only (and `private()` still
        // encrypts), and reads values up to the browsers' whole limit.
        let cookie_data = self.store.cookie_payload();
        if let Some(payload) = cookie_data {
            if payload.is_encrypted() {
                self.codec.security = CookieSecurity::Private;
            }
            self.codec.max_value_len = COOKIE_SIZE_LIMIT;
        }
        Ok(SessionLayer {
            shared: Arc::new(Shared {
                store: self.store,
                codec: self.codec,
                expiry: self.expiry,
                trust_proxy: self.trust_proxy,
                remember_for: self.remember_for,
                record_client: self.record_client,
                cookie_data,
                #[cfg(feature = "memory")]
                memory: self.memory,
            }),
        })
    }
}

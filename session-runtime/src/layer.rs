//! [`SessionLayer`] and its builder.

use std::sync::Arc;
use std::time::Duration;

use cookie::SameSite;
use tower_layer::Layer;

use crate::cookie::{CookieCodec, CookieSecurity};
use crate::error::ConfigError;
use crate::expiry::{to_time, Expiry, MAX_COOKIE_AGE};
use crate::key::Key;
use crate::service::SessionService;
use crate::store::{DynStore, SessionStore};

/// What every request of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn DynStore>,
    pub(crate) codec: CookieCodec,
    pub(crate) expiry: Expiry,
}

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
            store: Arc::new(store),
            codec: CookieCodec {
                name: "sid".to_owned(),
                path: "/".to_owned(),
                domain: None,
                secure: true,
                http_only: true,
                same_site: SameSite::Lax,
                partitioned: false,
                security: CookieSecurity::Signed,
                keys: vec![key],
            },
            expiry: Expiry::default(),
            extend_after: None,
        }
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
    codec: CookieCodec,
    expiry: Expiry,
    extend_after: Option<Duration>,
}

impl SessionLayerBuilder {
    /// The cookie's name (default `sid`).
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

    /// The cookie's `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.codec.same_site = same_site;
        self
    }

    /// Whether the cookie is `Partitioned` (CHIPS; default off).
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.codec.partitioned = partitioned;
        self
    }

    /// Encrypts the cookie (AES-256-GCM) instead of signing it, so the
    /// session ID is neither readable nor forgeable.
    pub fn private(mut self) -> Self {
        self.codec.security = CookieSecurity::Private;
        self
    }

    /// Older keys that still verify cookies, newest first. A cookie that
    /// verifies only under one of them keeps its session and is re-issued
    /// under the current key.
    pub fn older_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.codec.keys.truncate(1);
        self.codec.keys.extend(keys);
        self
    }

    /// How long a session lives without a request (default 24 hours),
    /// enforced by the server on every load.
    pub fn inactivity_timeout(mut self, timeout: Duration) -> Self {
        self.expiry.inactivity = to_time(timeout);
        self
    }

    /// How much of the inactivity window must pass before a request that
    /// changes nothing moves the expiry forward (default a quarter of the
    /// timeout). Until then such a request costs no store write.
    pub fn extend_after(mut self, after: Duration) -> Self {
        self.extend_after = Some(after);
        self
    }

    /// Gives the cookie a `Max-Age` equal to the inactivity timeout, so it
    /// outlives the browser (default off: a browser-session cookie).
    pub fn persistent_cookie(mut self, persistent: bool) -> Self {
        self.expiry.persistent_cookie = persistent;
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(mut self) -> Result<SessionLayer, ConfigError> {
        crate::data::check_namespaces()?;
        let name_ok = !self.codec.name.is_empty()
            && self
                .codec
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(ConfigError::InvalidCookieName(self.codec.name));
        }
        let inactivity = self.expiry.inactivity;
        if inactivity <= time::Duration::ZERO || inactivity > MAX_COOKIE_AGE {
            return Err(ConfigError::InvalidTimeout);
        }
        self.expiry.extend_after = match self.extend_after {
            Some(after) => to_time(after).min(inactivity),
            None => inactivity / 4,
        };
        Ok(SessionLayer {
            shared: Arc::new(Shared {
                store: self.store,
                codec: self.codec,
                expiry: self.expiry,
            }),
        })
    }
}

//! The extractors: [`Session<T>`] and [`SessionHandle`].

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum_core::extract::FromRequestParts;
use http::request::Parts;
use time::OffsetDateTime;

use crate::derive_support::SessionData;
use crate::error::{CookieTooLarge, MissingSessionLayer, SessionRejection};
use crate::id::SessionId;
use crate::request::RequestSession;
use crate::service::SessionExtension;

async fn request_session(parts: &Parts) -> Result<Arc<RequestSession>, SessionRejection> {
    let Some(SessionExtension(session)) = parts.extensions.get::<SessionExtension>() else {
        tracing::error!("a handler extracted a session, but the router has no `SessionLayer`");
        return Err(MissingSessionLayer { source: None }.into());
    };
    session.ensure_loaded(&parts.headers).await?;
    Ok(session.clone())
}

/// The extractor of a `#[derive(Session)]` struct: derefs to it, for reading
/// and writing.
///
/// `Session<T>` is the data only. For the session's ID, its expiry, login
/// ([`SessionHandle::regenerate`], [`SessionHandle::start_fresh`]) and logout
/// ([`SessionHandle::destroy`]), take a [`SessionHandle`] beside it: calling
/// `regenerate()` on a `Session<T>` does not compile, and the method is on the
/// handle.
///
/// Its `Debug` is the `Debug` of your struct: whatever that prints (a user
/// name, a cart) goes wherever the `Debug` output goes, so derive or write
/// it with that in mind.
///
/// The session is loaded once per request however many `Session<_>` a handler
/// takes. When the `Session<T>` is dropped (at the end of the handler) the
/// fields that changed are recorded, and after the response is made they
/// alone are written. A change made through any `&mut` path, however deep,
/// is seen; a `&mut` that changed nothing writes nothing.
///
/// ```
/// use axum::{routing::post, Form, Router};
/// use serde::Deserialize;
/// use session_kit::{Key, MemoryStore, Session, SessionLayer};
///
/// #[derive(Session, Default)]
/// struct Cart {
///     items: Vec<String>,
/// }
///
/// #[derive(Deserialize)]
/// struct Add {
///     item: String,
/// }
///
/// async fn add(mut cart: Session<Cart>, Form(add): Form<Add>) -> String {
///     cart.items.push(add.item); // seen and saved: no `modified = true` to forget
///     cart.items.len().to_string()
/// }
///
/// let app: Router = Router::new()
///     .route("/cart/add", post(add))
///     .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
/// # let _ = app;
/// ```
pub struct Session<T: SessionData> {
    value: T,
    snapshot: T::__Snapshot,
    session: Arc<RequestSession>,
    mutated: bool,
}

impl<T: SessionData> Deref for Session<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: SessionData> DerefMut for Session<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.mutated = true;
        &mut self.value
    }
}

impl<T: SessionData> Drop for Session<T> {
    fn drop(&mut self) {
        let changed = self.mutated.then_some((&self.value, &self.snapshot));
        self.session.commit::<T>(changed);
    }
}

impl<T: SessionData + fmt::Debug> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Session").field(&self.value).finish()
    }
}

impl<T: SessionData, S: Send + Sync> FromRequestParts<S> for Session<T> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = request_session(parts).await?;
        let (value, snapshot) = session.extract::<T>()?;
        Ok(Self {
            value,
            snapshot,
            session,
            mutated: false,
        })
    }
}

/// The session's lifecycle: its ID, its expiry, `regenerate()`,
/// `start_fresh()` and `destroy()`.
///
/// ```
/// use axum::{routing::post, Router};
/// use session_kit::{Key, MemoryStore, Session, SessionHandle, SessionLayer};
///
/// #[derive(Session, Default)]
/// struct Auth {
///     user: Option<String>,
/// }
///
/// async fn login(handle: SessionHandle, mut auth: Session<Auth>) -> &'static str {
///     auth.user = Some("ada".into());
///     handle.regenerate(); // a new ID at login: no session fixation
///     "Logged in"
/// }
///
/// async fn logout(handle: SessionHandle) -> &'static str {
///     handle.destroy(); // deleted from the store, cookie expired
///     "Logged out"
/// }
///
/// let app: Router = Router::new()
///     .route("/login", post(login))
///     .route("/logout", post(logout))
///     .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct SessionHandle {
    pub(crate) session: Arc<RequestSession>,
    /// The client, kept only when the layer records it at a bind.
    pub(crate) client: Option<crate::users::Client>,
}

impl SessionHandle {
    /// The ID of the stored session this request carries; `None` for a new
    /// session, which gets its ID when it is first saved. Whoever has the ID
    /// has the session: never log it.
    pub fn id(&self) -> Option<SessionId> {
        self.session.id()
    }

    /// Whether this request started a new session (no valid, live cookie came).
    pub fn is_new(&self) -> bool {
        self.session.id().is_none()
    }

    /// When the stored session expires (before this request moves it), or
    /// `None` for a new session.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.session.expires_at()
    }

    /// Moves the session to a new ID when the response is written, keeping its
    /// data; the old ID is dead from then on. Call it at login, against
    /// session fixation.
    ///
    /// It keeps everything the session held before login, including what a
    /// visitor (or an attacker who planted a session cookie) wrote into it
    /// while anonymous: use it when pre-login data is meant to carry over (a
    /// cart). Use [`start_fresh`](Self::start_fresh) when nothing from before
    /// login should survive.
    ///
    /// On a request with no stored session it does nothing and sets no
    /// cookie (a new session that gets data is created under a fresh ID
    /// anyway).
    pub fn regenerate(&self) {
        self.session.regenerate();
    }

    /// Ends the session and starts a new one under a new ID, holding only
    /// what this request writes, when the response is written: a login that
    /// keeps nothing from before (the safest choice when pre-login data
    /// could have been planted). The old ID is dead from then on.
    ///
    /// ```
    /// use session_kit::{Session, SessionHandle};
    ///
    /// #[derive(Session, Default)]
    /// struct Auth {
    ///     user: Option<String>,
    /// }
    ///
    /// async fn login(handle: SessionHandle, mut auth: Session<Auth>) -> &'static str {
    ///     handle.start_fresh(); // new ID, and nothing from before login
    ///     auth.user = Some("ada".into());
    ///     "Logged in"
    /// }
    /// # let _ = login;
    /// ```
    ///
    /// A later [`destroy`](Self::destroy) in the same request wins; it wins
    /// over [`regenerate`](Self::regenerate).
    pub fn start_fresh(&self) {
        self.session.start_fresh();
    }

    /// Deletes the session from the store and expires the cookie when the
    /// response is written; changes made in this request are dropped.
    ///
    /// It is carried out whatever the response's status (a 5xx drops every
    /// other change, never a logout), and even when the client goes away
    /// before the response is written.
    ///
    /// On a request with no stored session it does nothing, but for a dead
    /// session cookie, which is cleared as on any request.
    pub fn destroy(&self) {
        self.session.destroy();
    }

    /// How many bytes the session's `Set-Cookie` (its name, value and
    /// attributes) would take if the response were written now, counting
    /// the changes of every [`Session<T>`] this request has dropped; a
    /// [`CookieTooLarge`] when that is past what a browser keeps (4096
    /// bytes), for the handler to act on before the save refuses it.
    ///
    /// With a [`CookieStore`](crate::CookieStore) the cookie holds the whole
    /// session, so the size grows with it; with a server-side store it is
    /// the size of the ID cookie, the same whatever the session holds. For
    /// the changes of a `Session<T>` the handler still holds, use
    /// [`cookie_size_with`](Self::cookie_size_with).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use session_kit::{CookieStore, Key, SessionHandle, SessionLayer};
    ///
    /// async fn size(handle: SessionHandle) -> String {
    ///     match handle.cookie_size() {
    ///         Ok(bytes) => format!("{bytes} bytes"),
    ///         Err(too_large) => too_large.to_string(),
    ///     }
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/size", get(size))
    ///     .layer(SessionLayer::new(CookieStore::new(), Key::generate()));
    /// # let _ = app;
    /// ```
    pub fn cookie_size(&self) -> Result<usize, CookieTooLarge> {
        self.session.cookie_size(None)
    }

    /// Like [`cookie_size`](Self::cookie_size), with the changes `session`
    /// holds now counted too, before it is dropped: a handler can make a
    /// change, ask, and undo it when the session would no longer fit.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use axum::{routing::post, Form, Router};
    /// use serde::Deserialize;
    /// use session_kit::{CookieStore, Key, Session, SessionHandle, SessionLayer};
    ///
    /// #[derive(Session, Default)]
    /// struct Cart {
    ///     items: Vec<String>,
    /// }
    ///
    /// #[derive(Deserialize)]
    /// struct Add {
    ///     item: String,
    /// }
    ///
    /// async fn add(
    ///     handle: SessionHandle,
    ///     mut cart: Session<Cart>,
    ///     Form(add): Form<Add>,
    /// ) -> (StatusCode, String) {
    ///     cart.items.push(add.item);
    ///     if let Err(too_large) = handle.cookie_size_with(&cart) {
    ///         cart.items.pop(); // the session stays as it was, and is not saved
    ///         return (StatusCode::PAYLOAD_TOO_LARGE, too_large.to_string());
    ///     }
    ///     (StatusCode::OK, cart.items.len().to_string())
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/cart/add", post(add))
    ///     .layer(SessionLayer::new(CookieStore::new(), Key::generate()));
    /// # let _ = app;
    /// ```
    pub fn cookie_size_with<T: SessionData>(
        &self,
        session: &Session<T>,
    ) -> Result<usize, CookieTooLarge> {
        if !session.mutated {
            return self.session.cookie_size(None);
        }
        let pending = self.session.pending(&session.value, &session.snapshot);
        self.session.cookie_size(Some(&pending))
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &"REDACTED")
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = request_session(parts).await?;
        let client = session.client_of(&parts.headers);
        Ok(Self { session, client })
    }
}

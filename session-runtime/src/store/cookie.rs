//! [`CookieStore`]: no server state; each session's fields travel in the
//! cookie itself, encrypted and authenticated.
//!
//! The data lives in the response, not behind a key, so this store is not
//! called the way the others are. It answers
//! [`SessionStore::cookie_payload`] with `Some`, and the layer, when it is
//! built, switches to the cookie path for every request: the load decodes
//! the session from the request's cookie, and the save writes the whole
//! session into the response's `Set-Cookie`. Its [`SessionStore`] methods are
//! never called by the layer; called directly (say, through a wrapper that
//! does not forward `cookie_payload`), they fail with a
//! [`StoreErrorKind::Config`](crate::StoreErrorKind::Config) error that says
//! so, which the layer turns into a 503 rather than a session that silently
//! does not persist.
//!
//! The store has no cargo feature: it adds no dependency, since the codec it
//! relies on is always built.

use std::fmt;

use super::{
    ChangeSet, Record, SessionKey, SessionStore, StoreError, StoreErrorKind, WriteOutcome,
};
use crate::cookie::CookieSecurity;

/// The largest `Set-Cookie` a browser keeps, in bytes: the cookie's name,
/// value and attributes together (RFC 6265 section 6.1, and what Chromium,
/// Firefox and Safari enforce). A larger one is dropped silently.
pub const COOKIE_SIZE_LIMIT: usize = 4096;

/// A store that keeps no server state: each session's fields, its session
/// ID, its creation time and its expiry travel in the cookie, under the
/// layer's cookie name and attributes as for every store (`sid` by default),
/// encrypted and authenticated with AES-256-GCM under the layer's key. The
/// client can neither read nor change what it holds. It is the role of
/// Node's cookie-session.
///
/// ```
/// use axum::{routing::get, Router};
/// use session_kit::{CookieStore, Key, Session, SessionLayer};
///
/// #[derive(Session, Default)]
/// struct Visits {
///     #[session(counter)]
///     page_views: u64,
/// }
///
/// async fn index(mut visits: Session<Visits>) -> String {
///     visits.page_views += 1;
///     format!("You visited this page {} times", visits.page_views)
/// }
///
/// // The same handler, the same layer; only the store differs.
/// let app: Router = Router::new()
///     .route("/", get(index))
///     .layer(SessionLayer::new(CookieStore::new(), Key::generate()));
/// # let _ = app;
/// ```
///
/// # What is kept as on every store
///
/// - A request that changes nothing sends no `Set-Cookie`, unless its expiry
///   must move: once [`extend_after`](crate::SessionLayerBuilder::extend_after)
///   of the inactivity window has passed, a read-only request re-issues the
///   cookie with the expiry moved (the cookie store's equivalent of a
///   TTL-only touch). A cookie under an older key, or
///   [`rolling`](crate::SessionLayerBuilder::rolling), re-issues it too.
/// - A new session that gets no data sets no cookie.
/// - Expiry is enforced on read: the expiry and the creation time travel
///   encrypted in the cookie, so a replayed cookie past its inactivity
///   timeout or its absolute lifetime gives a fresh session, whatever the
///   browser kept.
/// - [`SessionHandle::destroy`](crate::SessionHandle::destroy) expires the
///   cookie; [`SessionHandle::regenerate`](crate::SessionHandle::regenerate)
///   issues a new value with a new session ID. Key rotation works as for the
///   ID cookie: a cookie under an older key is read and re-issued under the
///   current one.
/// - A response with a 5xx status sends no new cookie.
///
/// # Size
///
/// Browsers drop a cookie larger than [`COOKIE_SIZE_LIMIT`] (4096 bytes of
/// name, value and attributes) without a word. The layer measures the whole
/// `Set-Cookie` before sending it: a session that would not fit makes the
/// response a 500, logged with the size and the limit, and sends no
/// `Set-Cookie`, so the client keeps its previous, valid cookie. A handler
/// can ask first with [`SessionHandle::cookie_size`](crate::SessionHandle::cookie_size)
/// or [`SessionHandle::cookie_size_with`](crate::SessionHandle::cookie_size_with),
/// which answer a [`CookieTooLarge`](crate::CookieTooLarge) it can act on.
/// Each session costs the cookie about 4/3 of its JSON size plus some
/// 150 bytes (`BENCHMARKS.md` has the figures).
///
/// # What it cannot do
///
/// The medium sets limits no code can lift:
///
/// - **Concurrent requests on one session are last-write-wins.** Each
///   response carries the whole session, so of two overlapping requests the
///   one whose response arrives last decides what the client holds; the
///   other's change is lost, even to a different field.
///   `#[session(counter)]` fields are last-write-wins too: there is no store
///   to add an increment on, so overlapping `+= 1`s can be lost.
/// - **A cookie cannot be revoked before its expiry.** `destroy()` and
///   `regenerate()` change what the client holds, not what a copy of an
///   older cookie says: a stolen or replayed cookie keeps working until its
///   own expiry (the inactivity timeout, or the absolute lifetime). Only
///   rotating the key ends every session at once. Keep the inactivity
///   timeout short, or use a server-side store, where this matters.
/// - The session must stay under the size limit, and every request carries
///   it in its `Cookie` header.
#[derive(Clone, Copy, Debug)]
pub struct CookieStore {
    security: CookieSecurity,
}

impl Default for CookieStore {
    /// The same as [`CookieStore::new`]: encrypted.
    fn default() -> Self {
        Self::new()
    }
}

impl CookieStore {
    /// A cookie store whose cookies are encrypted and authenticated
    /// (AES-256-GCM): the client can neither read nor change them.
    pub fn new() -> Self {
        Self {
            security: CookieSecurity::Private,
        }
    }

    /// A cookie store whose cookies are signed (HMAC-SHA256) but not
    /// encrypted.
    ///
    /// # Warning
    ///
    /// **The client can read every field of the session**: it is base64 in
    /// the cookie, one decode away, and so are the session ID and the
    /// expiry. It still cannot change them. Use it only for sessions that
    /// hold nothing the user (or anything that can read their cookies, such
    /// as a script when `http_only(false)`) should not see; the default,
    /// [`CookieStore::new`], encrypts. A layer with
    /// [`private()`](crate::SessionLayerBuilder::private) encrypts anyway.
    ///
    /// ```
    /// use session_kit::{CookieStore, Key, SessionLayer};
    ///
    /// // A theme and a language: nothing to hide, a few bytes saved.
    /// let layer = SessionLayer::new(CookieStore::signed_only(), Key::generate());
    /// # let _ = layer;
    /// ```
    pub fn signed_only() -> Self {
        Self {
            security: CookieSecurity::Signed,
        }
    }

    fn not_called() -> StoreError {
        StoreError::msg(
            "`CookieStore` keeps sessions in the cookie and is used by `SessionLayer` alone; \
             a store that wraps it must forward `SessionStore::cookie_payload`",
        )
        .with_kind(StoreErrorKind::Config)
    }
}

/// How a store that keeps each session's data in the cookie itself protects
/// it: what [`SessionStore::cookie_payload`] answers for a [`CookieStore`].
///
/// Only a [`CookieStore`] makes one; a store that wraps another forwards its
/// inner store's answer.
///
/// ```
/// use session_kit::{CookieStore, SessionStore};
///
/// assert!(CookieStore::new().cookie_payload().is_some_and(|p| p.is_encrypted()));
/// assert!(CookieStore::signed_only().cookie_payload().is_some_and(|p| !p.is_encrypted()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CookiePayload {
    pub(crate) security: CookieSecurity,
}

impl CookiePayload {
    /// Whether the session's data is encrypted (the default), rather than
    /// only signed.
    pub fn is_encrypted(&self) -> bool {
        self.security == CookieSecurity::Private
    }
}

impl fmt::Debug for CookiePayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookiePayload")
            .field("encrypted", &self.is_encrypted())
            .finish()
    }
}

impl SessionStore for CookieStore {
    fn cookie_payload(&self) -> Option<CookiePayload> {
        Some(CookiePayload {
            security: self.security,
        })
    }

    async fn load(&self, _key: &SessionKey) -> Result<Option<Record>, StoreError> {
        Err(Self::not_called())
    }

    async fn create(
        &self,
        _key: &SessionKey,
        _changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        Err(Self::not_called())
    }

    async fn save(
        &self,
        _key: &SessionKey,
        _changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        Err(Self::not_called())
    }

    async fn delete(&self, _key: &SessionKey) -> Result<(), StoreError> {
        Err(Self::not_called())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[tokio::test]
    async fn called_directly_it_fails_with_a_config_error_that_names_the_fix() {
        let store = CookieStore::new();
        let key = SessionKey::from_digest([1; 32]);
        let changes = ChangeSet::new(OffsetDateTime::now_utc());
        let errors = [
            store.load(&key).await.unwrap_err(),
            store.create(&key, &changes).await.unwrap_err(),
            store.save(&key, &changes).await.unwrap_err(),
            store.delete(&key).await.unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.kind(), StoreErrorKind::Config);
            assert!(err.to_string().contains("cookie_payload"), "{err}");
        }
    }
}

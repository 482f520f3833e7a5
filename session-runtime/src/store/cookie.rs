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
/// A session costs the cookie about 4/3 of its fields' JSON size plus some
/// 110 to 120 bytes with the default attributes: 148 bytes for a one-counter
/// session (`BENCHMARKS.md` has the figures).
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

/// The store conformance suite, run through the cookie: a client's jar
/// stands in for the server. Each save encodes the whole session, seals it
/// under a real codec and hands the client the cookie; each load opens the
/// client's cookie and decodes it, enforcing the expiry it carries. What the
/// suite checks of a store's server state (that a copy of an old cookie is
/// dead, that two writers both count) the cookie cannot keep: those cases
/// are named with their reason.
#[cfg(all(test, feature = "testing"))]
mod conformance {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use http::header::COOKIE;
    use http::HeaderMap;
    use time::OffsetDateTime;

    use super::*;
    use crate::cookie::{decode_payload, encode_payload, CookieCodec};
    use crate::error::SaveError;
    use crate::id::SessionId;
    use crate::key::Key;

    /// A client per session key, holding the last cookie it was given.
    #[derive(Debug)]
    struct Jar {
        codec: CookieCodec,
        cookies: Mutex<HashMap<SessionKey, String>>,
    }

    impl Jar {
        fn new() -> Self {
            let mut codec = CookieCodec::new(CookieSecurity::Private, vec![Key::generate()]);
            codec.max_value_len = COOKIE_SIZE_LIMIT;
            Self {
                codec,
                cookies: Mutex::new(HashMap::new()),
            }
        }

        fn give(&self, key: &SessionKey, record: &Record) -> Result<(), StoreError> {
            let now = OffsetDateTime::now_utc();
            let id = SessionId::generate().map_err(|e| StoreError::new("no id", e))?;
            let payload = encode_payload(&id, now, record.expires_at(), record.fields());
            let set = self
                .codec
                .issue_payload(&payload, None)
                .map_err(|e| match e {
                    SaveError::CookieTooLarge(e) => StoreError::new("too large", e),
                    other => StoreError::new("cannot seal", other),
                })?;
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            self.cookies.lock().unwrap().insert(*key, pair.to_owned());
            Ok(())
        }
    }

    impl SessionStore for Jar {
        async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
            let Some(pair) = self.cookies.lock().unwrap().get(key).cloned() else {
                return Ok(None);
            };
            let mut headers = HeaderMap::new();
            headers.append(COOKIE, pair.parse().unwrap());
            let incoming = self.codec.read(&headers);
            let payload = incoming
                .value
                .as_ref()
                .and_then(|opened| self.codec.payload_of(opened))
                .and_then(|plain| decode_payload(&plain));
            let now = OffsetDateTime::now_utc();
            Ok(payload
                .filter(|p| p.expires_at > now)
                .map(|p| Record::new(p.fields, p.expires_at)))
        }

        async fn create(
            &self,
            key: &SessionKey,
            changes: &ChangeSet,
        ) -> Result<WriteOutcome, StoreError> {
            let record = Record::new(changes.initial_fields(), changes.expires_at());
            self.give(key, &record)?;
            Ok(WriteOutcome::Applied)
        }

        async fn save(
            &self,
            key: &SessionKey,
            changes: &ChangeSet,
        ) -> Result<WriteOutcome, StoreError> {
            let Some(mut record) = self.load(key).await? else {
                return Ok(WriteOutcome::NotLive);
            };
            record.apply(changes);
            self.give(key, &record)?;
            Ok(WriteOutcome::Applied)
        }

        async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
            self.cookies.lock().unwrap().remove(key);
            Ok(())
        }
    }

    macro_rules! cases {
        ($($case:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $case() {
                crate::testing::$case(&Jar::new()).await;
            }
        )*};
    }

    macro_rules! skipped {
        ($($case:ident: $reason:ident),* $(,)?) => {$(
            mod $case {
                mod skipped_because {
                    #[test]
                    fn $reason() {
                        use std::io::Write as _;
                        let _ = writeln!(
                            std::io::stderr(),
                            "SKIPPED: the conformance case `{}` on the cookie store: {}",
                            stringify!($case),
                            stringify!($reason).replace('_', " ")
                        );
                    }
                }
            }
        )*};
    }

    cases! {
        load_of_an_unknown_key_is_none,
        created_session_loads_back_with_its_fields_and_expiry,
        create_may_reuse_the_key_of_an_expired_session,
        save_writes_only_the_fields_it_names,
        save_removes_fields,
        save_to_an_unknown_session_writes_nothing,
        increments_apply_on_the_store_side,
        increments_saturate_at_the_bounds_of_i64,
        touch_moves_the_expiry_and_writes_no_data,
        a_save_that_keeps_the_expiry_leaves_it_where_it_is,
        counters_alone_with_the_expiry_kept_apply_only_to_a_live_session,
        an_expired_session_never_loads,
        a_session_expires_on_the_server_after_its_time,
        regenerate_of_an_unknown_session_is_not_live,
        delete_of_an_unknown_key_is_not_an_error,
    }

    skipped! {
        create_never_overwrites_a_live_session:
            only_a_server_knows_which_sessions_are_live,
        save_after_delete_does_not_revive_the_session:
            a_cookie_cannot_be_revoked_before_its_expiry,
        save_to_a_regenerated_session_does_not_revive_the_old_key:
            a_cookie_cannot_be_revoked_before_its_expiry,
        regenerate_moves_the_data_and_kills_the_old_key:
            a_cookie_cannot_be_revoked_before_its_expiry,
        regenerate_refuses_a_taken_key:
            only_a_server_knows_which_sessions_are_live,
        concurrent_saves_of_different_fields_all_persist:
            each_response_carries_the_whole_session_so_concurrent_writes_are_last_write_wins,
        concurrent_increments_are_never_lost:
            counters_are_last_write_wins_without_a_store_to_add_on,
        values_round_trip_byte_for_byte:
            its_16_kib_value_is_past_the_4096_byte_cookie_limit,
    }
}

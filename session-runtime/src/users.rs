//! Sessions of a user: binding a session to a user at login, listing a
//! user's live sessions, and revoking one of them or all of them.
//!
//! The binding lives in the session itself, in reserved fields (names with
//! no `.`, which no derived struct can produce):
//!
//! | field | holds | written |
//! | --- | --- | --- |
//! | `@user` ([`USER_FIELD`]) | the user key, a JSON string | at bind |
//! | `@auth` | when the session last authenticated, Unix ms | at bind |
//! | `@remember` | the remembered inactivity window, ms ("remember me") | at a remembered bind |
//! | `@agent`, `@ip` | the client's `User-Agent` and address | at bind, only with [`record_client`](crate::SessionLayerBuilder::record_client) |
//!
//! A store with the per-user index ability ([`SessionStore::user_sessions`],
//! [`SessionStore::delete_user_sessions`]) finds sessions by `@user`; the
//! others answer [`StoreErrorKind::Unsupported`](crate::StoreErrorKind::Unsupported).

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::extract::SessionHandle;
use crate::id::SessionKey;
use crate::proxy::forwarded_for;
use crate::shared::Shared;
use crate::store::{from_unix_millis, Record, StoreError};

/// The reserved field that binds a session to a user: the user key as a
/// JSON string. A store's per-user index is keyed by it.
///
/// ```
/// assert_eq!(session_runtime::store::USER_FIELD, "@user");
/// ```
pub const USER_FIELD: &str = "@user";

/// The default "remember me" window: 30 days.
pub(crate) const DEFAULT_REMEMBER_FOR: Duration = Duration::days(30);

/// When the session last authenticated (bound to its user), Unix ms.
pub(crate) const AUTH_FIELD: &str = "@auth";
/// The inactivity window of a remembered session, in ms.
pub(crate) const REMEMBER_FIELD: &str = "@remember";
/// The `User-Agent` the session was bound from (opt-in).
pub(crate) const AGENT_FIELD: &str = "@agent";
/// The client address the session was bound from (opt-in).
pub(crate) const IP_FIELD: &str = "@ip";

/// The reserved fields of a binding, which count as the session's data: a
/// session bound to a user is not empty, and a fresh start keeps the binding
/// its request made.
pub(crate) fn is_binding_field(name: &str) -> bool {
    matches!(
        name,
        USER_FIELD | AUTH_FIELD | REMEMBER_FIELD | AGENT_FIELD | IP_FIELD
    )
}

/// The longest `User-Agent` kept: a client cannot make its session large.
const MAX_AGENT_LEN: usize = 256;

/// The opaque handle of a session in a listing: a domain-separated SHA-256
/// of the store key (itself the SHA-256 of the ID), so it names the session
/// without giving a usable cookie, and differs from the store key.
pub(crate) fn handle_of(key: &SessionKey) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"session-kit user-session handle v1\0");
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string's value.
fn json_str(raw: &str) -> Option<String> {
    serde_json::from_str(raw).ok()
}

fn millis_field(record: &Record, field: &str) -> Option<i64> {
    record.get(field)?.trim().parse().ok()
}

/// The user a stored session is bound to.
pub(crate) fn user_of(record: &Record) -> Option<String> {
    json_str(record.get(USER_FIELD)?)
}

/// When a stored session last authenticated.
pub(crate) fn authenticated_at(record: &Record) -> Option<OffsetDateTime> {
    from_unix_millis(millis_field(record, AUTH_FIELD)?)
}

/// The remembered inactivity window of a stored session, if it is one.
pub(crate) fn remembered_window(record: &Record) -> Option<Duration> {
    let ms = millis_field(record, REMEMBER_FIELD)?;
    (ms > 0).then(|| Duration::milliseconds(ms))
}

/// The client a session is bound from, captured only when the layer opts in.
#[derive(Clone, Default)]
pub(crate) struct Client {
    pub(crate) agent: Option<String>,
    pub(crate) ip: Option<String>,
}

impl Client {
    pub(crate) fn from_headers(headers: &HeaderMap, trust_proxy: bool) -> Self {
        let agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(MAX_AGENT_LEN).collect());
        let ip = if trust_proxy {
            forwarded_for(headers).map(|ip| ip.to_string())
        } else {
            None
        };
        Self { agent, ip }
    }
}

impl fmt::Debug for Client {
    // Personal data: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Client(REDACTED)")
    }
}

/// One live session of a user, as a listing shows it: metadata only, and an
/// opaque [`handle`](Self::handle) to revoke it by, never its ID or cookie.
///
/// The client's user agent and address are personal data: they are kept only
/// when the layer opts in with
/// [`record_client`](crate::SessionLayerBuilder::record_client), and
/// `Debug` does not print them.
#[derive(Clone)]
pub struct UserSession {
    handle: String,
    created: Option<OffsetDateTime>,
    last_seen: OffsetDateTime,
    expires_at: OffsetDateTime,
    authenticated_at: Option<OffsetDateTime>,
    remembered: bool,
    agent: Option<String>,
    ip: Option<String>,
    current: bool,
}

impl UserSession {
    fn from_record(
        shared: &Shared,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Self {
        let authenticated_at = authenticated_at(record);
        let created = crate::expiry::Expiry::created_of(record).or(authenticated_at);
        let window = remembered_window(record).unwrap_or(shared.expiry.inactivity);
        let mut last_seen = record
            .expires_at()
            .checked_sub(window)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .min(now);
        if let Some(created) = created {
            last_seen = last_seen.max(created);
        }
        Self {
            handle: handle_of(key),
            created,
            last_seen,
            expires_at: record.expires_at(),
            authenticated_at,
            remembered: remembered_window(record).is_some(),
            agent: record.get(AGENT_FIELD).and_then(json_str),
            ip: record.get(IP_FIELD).and_then(json_str),
            current: false,
        }
    }

    /// The opaque handle to revoke this session by: derived one way from
    /// the store key, so it is no cookie and cannot be turned into one.
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// When the session was created (where the layer tracks it, for an
    /// absolute lifetime), else when it was bound to its user.
    pub fn created(&self) -> Option<OffsetDateTime> {
        self.created
    }

    /// When the session was last seen, as closely as the store knows: the
    /// store's expiry moves at most once every
    /// [`extend_after`](crate::SessionLayerBuilder::extend_after) for a
    /// request that changes nothing, so this is up to that much early.
    pub fn last_seen(&self) -> OffsetDateTime {
        self.last_seen
    }

    /// When the session expires unless it is used again.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// When the session last authenticated (was bound to its user).
    pub fn authenticated_at(&self) -> Option<OffsetDateTime> {
        self.authenticated_at
    }

    /// Whether the session was bound with "remember me" (a persistent
    /// cookie and the remembered inactivity window).
    pub fn is_remembered(&self) -> bool {
        self.remembered
    }

    /// The `User-Agent` the session was bound from (personal data), kept only
    /// with [`record_client`](crate::SessionLayerBuilder::record_client).
    pub fn user_agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// The client address the session was bound from (personal data), kept
    /// only with [`record_client`](crate::SessionLayerBuilder::record_client)
    /// and a trusted proxy that names it (`X-Forwarded-For`).
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }

    /// Whether this is the session of the request that listed it (always
    /// `false` in a listing made outside a request).
    pub fn is_current(&self) -> bool {
        self.current
    }
}

impl fmt::Debug for UserSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSession")
            .field("handle", &self.handle)
            .field("created", &self.created)
            .field("last_seen", &self.last_seen)
            .field("expires_at", &self.expires_at)
            .field("remembered", &self.remembered)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

/// The sessions of users, from outside a request: for an admin page, or a
/// job that logs a user out everywhere after a password change. Get it from
/// [`SessionLayer::users`](crate::SessionLayer::users) (or, in a handler,
/// [`SessionHandle::user_sessions`]); it is cheap to clone.
///
/// Each operation goes to the store at once: a revoked session is gone on
/// its very next request, with no cache to wait out. A store without the
/// per-user index answers an error of kind
/// [`StoreErrorKind::Unsupported`](crate::StoreErrorKind::Unsupported).
///
/// ```
/// use session_kit::{Key, MemoryStore, SessionLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_kit::StoreError> {
/// let layer = SessionLayer::new(MemoryStore::new(), Key::generate());
/// let users = layer.users();
/// // After a password change: every session of user 42 ends.
/// let ended = users.revoke_all(42).await?;
/// assert_eq!(ended, 0);
/// assert!(users.list("42").await?.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct UserSessions {
    shared: Arc<Shared>,
}

impl fmt::Debug for UserSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSessions")
            .field("store", &self.shared.store)
            .finish()
    }
}

impl UserSessions {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    async fn listed(
        &self,
        user: &str,
        current: Option<&SessionKey>,
    ) -> Result<Vec<(SessionKey, UserSession)>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let found = self.shared.store.user_sessions(user).await?;
        Ok(found
            .into_iter()
            // Expiry is the server's: check again, as a load does.
            .filter(|(_, record)| record.expires_at() > now)
            .map(|(key, record)| {
                let mut session = UserSession::from_record(&self.shared, &key, &record, now);
                session.current = current == Some(&key);
                (key, session)
            })
            .collect())
    }

    pub(crate) async fn list_marking(
        &self,
        user: &str,
        current: Option<&SessionKey>,
    ) -> Result<Vec<UserSession>, StoreError> {
        let mut listed: Vec<UserSession> = self
            .listed(user, current)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        listed.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        Ok(listed)
    }

    /// The live sessions of `user`, most recently seen first.
    pub async fn list(&self, user: impl fmt::Display) -> Result<Vec<UserSession>, StoreError> {
        self.list_marking(&user.to_string(), None).await
    }

    /// Ends the session of `user` that `handle` names (a
    /// [`UserSession::handle`]); `false` when `user` has no live session of
    /// that handle (another user's session is never touched).
    pub async fn revoke(&self, user: impl fmt::Display, handle: &str) -> Result<bool, StoreError> {
        let user = user.to_string();
        let found = self.listed(&user, None).await?;
        let Some((key, _)) = found.into_iter().find(|(_, s)| s.handle == handle) else {
            return Ok(false);
        };
        self.shared.store.delete(&key).await?;
        tracing::debug!(?key, "a session of a user was revoked");
        Ok(true)
    }

    /// Ends every session of `user` ("log out everywhere"); says how many
    /// live ones ended.
    pub async fn revoke_all(&self, user: impl fmt::Display) -> Result<u64, StoreError> {
        let ended = self
            .shared
            .store
            .delete_user_sessions(&user.to_string(), None)
            .await?;
        tracing::debug!(ended, "every session of a user was revoked");
        Ok(ended)
    }

    pub(crate) async fn revoke_all_but(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        self.shared.store.delete_user_sessions(user, keep).await
    }
}

/// Sessions of a user, from a handler.
impl SessionHandle {
    /// Binds the session to `user` (any `Display`: a name, a numeric ID) at
    /// login, and moves it to a new ID in the same step (as
    /// [`regenerate`](Self::regenerate) does), against session fixation.
    /// The time of the bind is kept, for
    /// [`authenticated_at`](Self::authenticated_at).
    ///
    /// `remember` chooses the cookie: `false` for a browser-session cookie
    /// and the layer's inactivity timeout, `true` for "remember me": a
    /// persistent cookie and the inactivity window of
    /// [`remember_for`](crate::SessionLayerBuilder::remember_for) (30 days by
    /// default). The choice is stored with the session and enforced by the
    /// server; the layer's absolute lifetime still caps it.
    ///
    /// ```
    /// use axum::{routing::post, Router};
    /// use session_kit::{Key, MemoryStore, SessionHandle, SessionLayer};
    ///
    /// async fn login(handle: SessionHandle) -> &'static str {
    ///     // ... after checking the password of user 42:
    ///     handle.bind_user(42, false);
    ///     "Logged in"
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/login", post(login))
    ///     .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
    /// # let _ = app;
    /// ```
    pub fn bind_user(&self, user: impl fmt::Display, remember: bool) {
        self.session
            .bind_user(user.to_string(), remember, self.client.as_ref());
    }

    /// Unbinds the session from its user (a logout that keeps the session's
    /// other data, such as a cart), and moves it to a new ID.
    pub fn unbind_user(&self) {
        self.session.unbind_user();
    }

    /// The user this session is bound to, if any.
    pub fn user(&self) -> Option<String> {
        self.session.user()
    }

    /// When the session last authenticated (was bound to its user): for a
    /// handler that wants a recent login before a sensitive action.
    ///
    /// ```
    /// use session_kit::time::{Duration, OffsetDateTime};
    /// use session_kit::SessionHandle;
    ///
    /// fn logged_in_recently(handle: &SessionHandle) -> bool {
    ///     handle
    ///         .authenticated_at()
    ///         .is_some_and(|at| OffsetDateTime::now_utc() - at < Duration::minutes(5))
    /// }
    /// # let _ = logged_in_recently;
    /// ```
    pub fn authenticated_at(&self) -> Option<OffsetDateTime> {
        self.session.authenticated_at()
    }

    /// Whether the session was bound with "remember me".
    pub fn is_remembered(&self) -> bool {
        self.session.is_remembered()
    }

    /// The sessions of every user, as [`SessionLayer::users`](crate::SessionLayer::users)
    /// gives them.
    pub fn user_sessions(&self) -> UserSessions {
        UserSessions::new(self.session.shared())
    }

    /// The live sessions of this session's user, most recently seen first,
    /// this one marked [`current`](UserSession::is_current); empty when the
    /// session is bound to no user.
    pub async fn list_user_sessions(&self) -> Result<Vec<UserSession>, StoreError> {
        let Some(user) = self.user() else {
            return Ok(Vec::new());
        };
        let current = self.session.id().map(|id| id.key());
        self.user_sessions()
            .list_marking(&user, current.as_ref())
            .await
    }

    /// Ends the session of this session's user that `handle` names; `false`
    /// when there is none (or this session is bound to no user).
    pub async fn revoke_user_session(&self, handle: &str) -> Result<bool, StoreError> {
        let Some(user) = self.user() else {
            return Ok(false);
        };
        let current = self.session.id().map(|id| id.key());
        let revoked = self.user_sessions().revoke(&user, handle).await?;
        if revoked && current.is_some_and(|key| handle_of(&key) == handle) {
            self.session.destroy();
        }
        Ok(revoked)
    }

    /// "Log out other devices": ends every session of this session's user but
    /// this one; says how many ended.
    pub async fn log_out_other_sessions(&self) -> Result<u64, StoreError> {
        let Some(user) = self.user() else {
            return Ok(0);
        };
        let current = self.session.id().map(|id| id.key());
        self.user_sessions()
            .revoke_all_but(&user, current.as_ref())
            .await
    }

    /// "Log out everywhere": ends every session of this session's user, this
    /// one too (its cookie is expired with the response); says how many
    /// ended.
    pub async fn log_out_everywhere(&self) -> Result<u64, StoreError> {
        let Some(user) = self.user() else {
            return Ok(0);
        };
        let ended = self.user_sessions().revoke_all_but(&user, None).await?;
        self.session.destroy();
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_not_the_store_key_and_is_stable() {
        let key = SessionKey::from_digest([9; 32]);
        let handle = handle_of(&key);
        assert_eq!(handle, handle_of(&key));
        assert_eq!(handle.len(), 32);
        assert!(!handle.contains("0909"), "{handle}");
        assert_ne!(handle, handle_of(&SessionKey::from_digest([8; 32])));
    }

    #[test]
    fn binding_fields_are_reserved_names_no_derived_key_can_take() {
        for name in [
            USER_FIELD,
            AUTH_FIELD,
            REMEMBER_FIELD,
            AGENT_FIELD,
            IP_FIELD,
        ] {
            assert!(!name.contains('.') && name.starts_with('@'));
            assert!(is_binding_field(name));
        }
        assert!(!is_binding_field("@created"));
    }

    #[test]
    fn a_long_user_agent_is_cut_and_the_address_needs_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        let long = "x".repeat(1000);
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_str(&long).unwrap(),
        );
        headers.insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
        let client = Client::from_headers(&headers, false);
        assert_eq!(client.agent.as_deref().map(str::len), Some(MAX_AGENT_LEN));
        assert_eq!(client.ip, None);
        let client = Client::from_headers(&headers, true);
        assert_eq!(client.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(format!("{client:?}"), "Client(REDACTED)");
    }
}

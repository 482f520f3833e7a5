//! One request's view of its session: loaded at most once, changed by the
//! extractors, written back once the handler has answered.

use std::any::TypeId;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::cookie::Incoming;
use crate::data::{Diff, Fields, SessionData};
use crate::error::{IdGenerationError, SessionAlreadyExtracted, SessionUnavailable, StoreError};
use crate::expiry::{Expiry, CREATED_FIELD};
use crate::id::{SessionId, SessionKey};
use crate::layer::Shared;
use crate::proxy::{forwarded_scheme, Scheme};
use crate::store::{ChangeSet, Record, WriteOutcome};

/// How many times a new ID is drawn when a store says the key is taken.
const CREATE_ATTEMPTS: usize = 4;

/// What the end of the request does to the session's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Keep,
    Regenerate,
    Destroy,
}

#[derive(Debug)]
struct State {
    /// The ID of the stored session this request loaded, if any.
    id: Option<SessionId>,
    /// Its store key (the SHA-256 of the ID), hashed once at load.
    key: Option<SessionKey>,
    /// Whether the cookie verified only under an older key.
    stale_key: bool,
    /// Whether the request carried a cookie of the session's name.
    cookie_present: bool,
    /// When the loaded session was created, if an absolute lifetime is
    /// configured.
    created: Option<OffsetDateTime>,
    /// Whether the request is known to be plain HTTP while the cookie is
    /// `Secure`: no session is loaded, created or given a cookie.
    plain_http: bool,
    /// The session as loaded, with this request's changes applied.
    record: Record,
    changes: ChangeSet,
    lifecycle: Lifecycle,
    /// The session types extracted and not yet dropped.
    live: Live,
    /// A field that could not be encoded: the session is not saved.
    failed: bool,
    /// Whether the response was already written: a change recorded after
    /// that (a `Session<T>` kept alive past its request) is not saved.
    finished: bool,
}

/// The session types a request has extracted and not yet dropped. A handler
/// nearly always takes one or two, so the first is kept inline: extracting
/// a session allocates nothing for this.
#[derive(Debug, Default)]
struct Live {
    first: Option<TypeId>,
    more: Vec<TypeId>,
}

impl Live {
    fn contains(&self, type_id: TypeId) -> bool {
        self.first == Some(type_id) || self.more.contains(&type_id)
    }

    fn insert(&mut self, type_id: TypeId) {
        if self.first.is_none() {
            self.first = Some(type_id);
        } else {
            self.more.push(type_id);
        }
    }

    fn remove(&mut self, type_id: TypeId) {
        if self.first == Some(type_id) {
            self.first = None;
        } else {
            self.more.retain(|t| *t != type_id);
        }
    }
}

/// The per-request session, shared by the service and the extractors.
#[derive(Debug)]
pub(crate) struct RequestSession {
    shared: Arc<Shared>,
    loaded: OnceCell<()>,
    state: Mutex<State>,
}

impl RequestSession {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        // A placeholder: nothing reads the expiry of the empty record before
        // a load replaces it, and `finish` sets the change set's own. So a
        // request that never touches its session never reads the clock.
        let expires_at = OffsetDateTime::UNIX_EPOCH;
        Self {
            shared,
            loaded: OnceCell::new(),
            state: Mutex::new(State {
                id: None,
                key: None,
                stale_key: false,
                cookie_present: false,
                created: None,
                plain_http: false,
                record: Record::new(Vec::new(), expires_at),
                changes: ChangeSet::new(expires_at),
                lifecycle: Lifecycle::Keep,
                live: Live::default(),
                failed: false,
                finished: false,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic in a user's `Serialize` while the lock was held leaves the
        // state as consistent as it was; go on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any extractor touched the session.
    pub(crate) fn was_used(&self) -> bool {
        self.loaded.initialized()
    }

    /// Reads the cookie and loads the session, once per request.
    pub(crate) async fn ensure_loaded(
        &self,
        headers: &HeaderMap,
    ) -> Result<(), SessionUnavailable> {
        self.loaded
            .get_or_try_init(|| async {
                if self.known_plain_http(headers) {
                    tracing::debug!(
                        "the trusted proxy says this request came over plain HTTP; \
                         the Secure session cookie is neither read nor set"
                    );
                    self.state().plain_http = true;
                    return Ok(());
                }
                let incoming = self.shared.codec.read(headers);
                self.load(incoming).await
            })
            .await
            .map(|_| ())
    }

    /// Whether a trusted proxy says this request came over plain HTTP, so a
    /// `Secure` cookie must not be used on it.
    fn known_plain_http(&self, headers: &HeaderMap) -> bool {
        self.shared.trust_proxy
            && self.shared.codec.secure
            && forwarded_scheme(headers) == Scheme::Http
    }

    async fn load(&self, incoming: Incoming) -> Result<(), SessionUnavailable> {
        let cookie_present = incoming.present;
        let loaded = match incoming.id {
            None => None,
            Some(id) => {
                let key = id.key();
                let record = self.shared.store.load(&key).await.map_err(|err| {
                    tracing::error!(error = %err, source = ?std::error::Error::source(&err), "cannot load the session");
                    SessionUnavailable {
                        source: Some(Box::new(err)),
                    }
                })?;
                // Stores enforce expiry; check again, so a lax one cannot
                // revive a session.
                let now = OffsetDateTime::now_utc();
                record
                    .filter(|r| r.expires_at() > now)
                    .and_then(|r| self.check_lifetime(r, now))
                    .map(|(r, created)| (id, key, r, created, incoming.stale_key))
            }
        };
        let mut state = self.state();
        state.cookie_present = cookie_present;
        if let Some((id, key, record, created, stale_key)) = loaded {
            tracing::trace!(?key, "session loaded");
            state.id = Some(id);
            state.key = Some(key);
            state.stale_key = stale_key;
            state.record = record;
            match created {
                Created::Stored(at) => state.created = Some(at),
                Created::Adopted(at) => {
                    state.created = Some(at);
                    state
                        .changes
                        .push_set(CREATED_FIELD.into(), Expiry::created_value(at));
                }
                Created::NotTracked => {}
            }
        }
        Ok(())
    }

    /// Enforces the absolute lifetime: a session past it does not load.
    fn check_lifetime(&self, record: Record, now: OffsetDateTime) -> Option<(Record, Created)> {
        let expiry = &self.shared.expiry;
        if expiry.absolute.is_none() {
            return Some((record, Created::NotTracked));
        }
        match Expiry::created_of(&record) {
            Some(created) if expiry.outlived(created, now) => {
                tracing::debug!("the session reached its absolute lifetime");
                None
            }
            Some(created) => Some((record, Created::Stored(created))),
            // Stored before the absolute lifetime was turned on: it counts
            // from now, and the next save records that.
            None => Some((record, Created::Adopted(now))),
        }
    }

    /// Builds a `T` from the loaded session, marking `T` as taken.
    pub(crate) fn extract<T: SessionData>(
        &self,
    ) -> Result<(T, T::__Snapshot), SessionAlreadyExtracted> {
        let mut state = self.state();
        let type_id = TypeId::of::<T>();
        if state.live.contains(type_id) {
            return Err(SessionAlreadyExtracted { source: None });
        }
        state.live.insert(type_id);
        Ok(T::__load(&Fields {
            record: &state.record,
        }))
    }

    /// Records what a dropped `Session<T>` changed, and releases `T`.
    pub(crate) fn commit<T: SessionData>(&self, value: Option<(&T, &T::__Snapshot)>) {
        let mut state = self.state();
        let type_id = TypeId::of::<T>();
        state.live.remove(type_id);
        let Some((value, snapshot)) = value else {
            return;
        };
        let mut diff = Diff {
            record: &state.record,
            changes: ChangeSet::new(state.changes.expires_at()),
            failed: None,
        };
        value.__diff(snapshot, &mut diff);
        let Diff {
            changes, failed, ..
        } = diff;
        if failed.is_some() {
            state.failed = true;
        }
        if changes.is_empty() {
            return;
        }
        if state.finished {
            tracing::warn!(
                session_type = std::any::type_name::<T>(),
                "a `Session<T>` changed after its response was written (was it moved into a \
                 spawned task?); the change is not saved"
            );
            return;
        }
        state.record.apply(&changes);
        for (key, value) in changes.sets() {
            state
                .changes
                .push_set(key.to_owned().into(), value.to_owned());
        }
        for key in changes.removals() {
            state.changes.push_remove(key.to_owned().into());
        }
        for inc in changes.increments() {
            state
                .changes
                .push_increment(inc.key.clone(), inc.delta, inc.initial);
        }
    }

    pub(crate) fn id(&self) -> Option<SessionId> {
        self.state().id.clone()
    }

    pub(crate) fn expires_at(&self) -> Option<OffsetDateTime> {
        let state = self.state();
        state.id.as_ref().map(|_| state.record.expires_at())
    }

    pub(crate) fn regenerate(&self) {
        let mut state = self.state();
        if state.lifecycle != Lifecycle::Destroy {
            state.lifecycle = Lifecycle::Regenerate;
        }
    }

    pub(crate) fn destroy(&self) {
        self.state().lifecycle = Lifecycle::Destroy;
    }

    /// Writes the session back after the handler answered, and sets the
    /// cookie. A store failure here turns the response into a 500, so a client
    /// is never told a write succeeded when it did not.
    pub(crate) async fn finish(
        &self,
        status: StatusCode,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        self.state().finished = true;
        if status.is_server_error() {
            tracing::debug!(%status, "the handler failed; its session changes are dropped");
            return Ok(());
        }
        let (id, cookie_present, stale_key, mut changes, lifecycle, expires_at, failed, created) = {
            let mut state = self.state();
            if state.plain_http {
                return Ok(());
            }
            let fresh = ChangeSet::new(state.record.expires_at());
            (
                state.id.clone().zip(state.key),
                state.cookie_present,
                state.stale_key,
                std::mem::replace(&mut state.changes, fresh),
                state.lifecycle,
                state.record.expires_at(),
                state.failed,
                state.created,
            )
        };
        if failed {
            return Err(SaveError::Encode);
        }
        let shared = &self.shared;
        let now = OffsetDateTime::now_utc();
        changes.set_expires_at(shared.expiry.next(now, created));

        match (lifecycle, id) {
            (Lifecycle::Destroy, id) => {
                if let Some((_, key)) = id {
                    shared.store.delete(&key).await?;
                    tracing::debug!(?key, "session destroyed");
                }
                if cookie_present {
                    self.set_removal(headers);
                }
            }
            (Lifecycle::Regenerate, Some((_, old_key))) => {
                for _ in 0..CREATE_ATTEMPTS {
                    let new = SessionId::generate()?;
                    match shared
                        .store
                        .regenerate(&old_key, &new.key(), &changes)
                        .await?
                    {
                        WriteOutcome::Applied => {
                            tracing::debug!(old = ?old_key, new = ?new.key(), "session regenerated");
                            return self.set_cookie(&new, created, now, headers);
                        }
                        WriteOutcome::KeyTaken => continue,
                        _ => {
                            // The session ended meanwhile: start afresh with
                            // what this request stored, never the old data.
                            return self.create(changes, now, headers).await;
                        }
                    }
                }
                return Err(SaveError::NoFreeKey);
            }
            (_, None) => {
                if changes.stores_data() {
                    self.create(changes, now, headers).await?;
                }
            }
            (Lifecycle::Keep, Some((id, key))) => {
                let expiry = &shared.expiry;
                // A cookie under an older key, or `rolling`, re-issues the
                // cookie whatever else happens; moving the expiry re-issues a
                // persistent one, whose `Max-Age` follows it.
                let mut reissue = stale_key || expiry.rolling;
                if !changes.is_empty() {
                    match shared.store.save(&key, &changes).await? {
                        WriteOutcome::Applied => reissue |= expiry.persistent_cookie,
                        _ => {
                            tracing::debug!(
                                ?key,
                                "the session ended while this request ran; its changes are dropped"
                            );
                            reissue = false;
                        }
                    }
                } else if expiry.due_for_extension(expires_at, now, changes.expires_at()) {
                    match shared.store.touch(&key, changes.expires_at()).await? {
                        WriteOutcome::Applied => reissue |= expiry.persistent_cookie,
                        _ => reissue = false,
                    }
                }
                if reissue {
                    self.set_cookie(&id, created, now, headers)?;
                }
            }
        }
        Ok(())
    }

    /// Stores a new session and gives it its cookie; `now` is the time
    /// `finish` read, once for the whole save.
    async fn create(
        &self,
        mut changes: ChangeSet,
        now: OffsetDateTime,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        if !changes.stores_data() {
            return Ok(());
        }
        let expiry = &self.shared.expiry;
        let mut created = None;
        if expiry.absolute.is_some() {
            created = Some(now);
            changes.push_set(CREATED_FIELD.into(), Expiry::created_value(now));
            changes.set_expires_at(expiry.next(now, created));
        }
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            let key: SessionKey = id.key();
            match self.shared.store.create(&key, &changes).await? {
                WriteOutcome::Applied => {
                    tracing::debug!(?key, "session created");
                    return self.set_cookie(&id, created, now, headers);
                }
                _ => continue,
            }
        }
        Err(SaveError::NoFreeKey)
    }

    fn set_cookie(
        &self,
        id: &SessionId,
        created: Option<OffsetDateTime>,
        now: OffsetDateTime,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        let max_age = self.shared.expiry.cookie_max_age(now, created);
        let value = self
            .shared
            .codec
            .issue(id, max_age)
            .ok_or(SaveError::Cookie)?;
        headers.append(SET_COOKIE, value);
        Ok(())
    }

    fn set_removal(&self, headers: &mut HeaderMap) {
        if let Some(value) = self.shared.codec.removal() {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// Where a loaded session's creation time came from.
#[derive(Debug, Clone, Copy)]
enum Created {
    /// No absolute lifetime is configured: the time is not tracked.
    NotTracked,
    /// The session carries it.
    Stored(OffsetDateTime),
    /// The session predates the absolute lifetime: it starts now.
    Adopted(OffsetDateTime),
}

/// Why a session could not be saved after the handler.
#[derive(Debug)]
pub(crate) enum SaveError {
    Store(StoreError),
    Id(IdGenerationError),
    Encode,
    NoFreeKey,
    Cookie,
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

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(err) => write!(f, "{err}"),
            Self::Id(err) => write!(f, "{err}"),
            Self::Encode => f.write_str("a session field could not be encoded as JSON"),
            Self::NoFreeKey => f.write_str("the store refused every fresh session key"),
            Self::Cookie => f.write_str("the session cookie could not be written"),
        }
    }
}

//! One request's view of its session, in the order things happen:
//!
//! 1. [`load`]: before the handler, the first extractor reads the cookie and
//!    loads the session, once per request however many extractors ask.
//! 2. This module: while the handler runs, the extractors build their structs
//!    from the loaded record and, when dropped, record what changed.
//! 3. [`save`]: after the handler, the recorded changes are written back by
//!    one of four steps (destroy, regenerate, keep, create) and the cookie is
//!    set or removed.

mod cookie_data;
mod load;
mod save;
mod user;

pub(crate) use self::save::Write;

use std::any::TypeId;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::cookie::CookieSeen;
use crate::derive_support::{Diff, Fields, SessionData};
use crate::error::SessionAlreadyExtracted;
use crate::id::{SessionId, SessionKey};
use crate::shared::Shared;
use crate::store::{ChangeSet, Record};

/// What the end of the request does to the session's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Write what changed to the same session (or create one for new data).
    Keep,
    /// Move the session to a new ID, data kept (login).
    Regenerate,
    /// Delete the session and start a new one under a new ID with only
    /// what this request wrote (login that keeps nothing from before).
    StartFresh,
    /// Delete the session and expire its cookie (logout).
    Destroy,
}

/// The stored session this request loaded.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) id: SessionId,
    /// Its store key (the SHA-256 of the ID), hashed once at load.
    pub(crate) key: SessionKey,
    /// Whether the cookie verified only under an older key.
    pub(crate) stale_key: bool,
    /// Whether the session was bound to a user when it loaded.
    pub(crate) bound: bool,
}

#[derive(Debug)]
struct State {
    /// The stored session this request loaded, if any.
    loaded: Option<Loaded>,
    /// How many cookies of the session's name the request carried.
    cookie_seen: CookieSeen,
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
    /// The first field that could not be encoded: the session is not saved.
    failed: Option<(&'static str, serde_json::Error)>,
    /// Whether the response was already written: a change recorded after
    /// that (a `Session<T>` kept alive past its request) is not saved.
    finished: bool,
    /// Whether a requested destroy reached the store.
    destroyed: bool,
    /// The expiry policy of this session when it differs from the layer's
    /// ("remember me"), set when the request ends.
    expiry: Option<crate::expiry::Expiry>,
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
        // a load replaces it, and the save sets the change set's own. So a
        // request that never touches its session never reads the clock.
        let expires_at = OffsetDateTime::UNIX_EPOCH;
        Self {
            shared,
            loaded: OnceCell::new(),
            state: Mutex::new(State {
                loaded: None,
                cookie_seen: CookieSeen::None,
                created: None,
                plain_http: false,
                record: Record::new(Vec::new(), expires_at),
                changes: ChangeSet::new(expires_at),
                lifecycle: Lifecycle::Keep,
                live: Live::default(),
                failed: None,
                finished: false,
                destroyed: false,
                expiry: None,
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
            // The record keeps its own expiry: `apply` sets it from this set.
            changes: ChangeSet::new(state.record.expires_at()),
            failed: None,
        };
        value.__diff(snapshot, &mut diff);
        let Diff {
            changes, failed, ..
        } = diff;
        if let Some(failed) = failed {
            state.failed.get_or_insert(failed);
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
        state.changes.merge(changes);
    }

    pub(crate) fn id(&self) -> Option<SessionId> {
        self.state().loaded.as_ref().map(|l| l.id.clone())
    }

    pub(crate) fn expires_at(&self) -> Option<OffsetDateTime> {
        let state = self.state();
        state.loaded.as_ref().map(|_| state.record.expires_at())
    }

    pub(crate) fn regenerate(&self) {
        let mut state = self.state();
        if state.lifecycle == Lifecycle::Keep {
            state.lifecycle = Lifecycle::Regenerate;
        }
    }

    pub(crate) fn start_fresh(&self) {
        let mut state = self.state();
        if state.lifecycle != Lifecycle::Destroy {
            state.lifecycle = Lifecycle::StartFresh;
        }
    }

    pub(crate) fn destroy(&self) {
        self.state().lifecycle = Lifecycle::Destroy;
    }
}

impl Drop for RequestSession {
    /// Logout never fails open: a request that asked for its session to be
    /// destroyed, but whose save never ran (the client went away, the
    /// response future was dropped), still deletes it, in a task of its own.
    fn drop(&mut self) {
        // A session kept in the cookie has nothing on the server to delete.
        if self.shared.cookie_data.is_some() {
            return;
        }
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.lifecycle != Lifecycle::Destroy || state.destroyed || state.plain_http {
            return;
        }
        let Some(loaded) = state.loaded.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("a logout could not be carried out: no runtime to run it on");
            return;
        };
        let store = self.shared.store.clone();
        runtime.spawn(async move {
            match store.delete(&loaded.key).await {
                Ok(()) => tracing::debug!(key = ?loaded.key, "session destroyed after its request was dropped"),
                Err(err) => tracing::error!(
                    error = %err,
                    kind = %err.kind(),
                    "a logout whose request was dropped could not delete its session"
                ),
            }
        });
    }
}

//! After the handler: write back what changed, by one of four steps, and
//! set or remove the cookie.
//!
//! | lifecycle  | stored session loaded | step                                          |
//! | ---------- | --------------------- | --------------------------------------------- |
//! | destroy    | yes                   | [`Step::Destroy`]: delete, remove the cookie  |
//! | regenerate | yes                   | [`Step::Regenerate`]: move to a new ID        |
//! | start fresh | yes                  | [`Step::StartFresh`]: delete, create anew     |
//! | keep       | yes, and the request emptied it of every field | [`Step::Destroy`] |
//! | keep       | yes                   | [`Step::Keep`]: save, touch or nothing        |
//! | keep, regenerate or start fresh | no | [`Step::Create`] if the request stored data |
//! | any        | no, one dead cookie came | [`Step::Clear`]: remove the cookie         |
//! | any        | no                    | [`Step::Nothing`]                             |
//!
//! A dead cookie (one that failed to verify, or named a session that expired,
//! was destroyed or never existed) is cleared so the client stops sending it;
//! when several cookies of the session's name came, none is cleared: a
//! removal cookie reaches only the one of this layer's `Path` and `Domain`.
//!
//! A response with a 5xx status saves nothing but a destroy (logout never
//! fails open); a request a trusted proxy says came over plain HTTP with a
//! `Secure` cookie saves nothing at all.
//!
//! A response that carries a session `Set-Cookie` is kept out of shared
//! caches (`Cache-Control: no-store`, or `private` added to the app's own),
//! and every response that used the session gets `Vary: Cookie`.

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, StatusCode};
use time::OffsetDateTime;

use super::cookie_data::CookieData;
use super::{Lifecycle, Loaded, RequestSession};
use crate::cookie::CookieSeen;
use crate::error::SaveError;
use crate::expiry::{Expiry, CREATED_FIELD};
use crate::id::{SessionId, SessionKey};
#[cfg(feature = "memory")]
use crate::store::MemoryStore;
use crate::store::{ChangeSet, WriteOutcome};

/// How many times a new ID is drawn when a store says the key is taken.
const CREATE_ATTEMPTS: usize = 4;

/// What the handler left for the save, taken out of the request's state once.
#[derive(Debug)]
pub(crate) struct Ending {
    pub(crate) loaded: Option<Loaded>,
    pub(crate) cookie_seen: CookieSeen,
    /// Whether the request left the loaded session with no field at all.
    pub(crate) emptied: bool,
    pub(crate) changes: ChangeSet,
    pub(crate) lifecycle: Lifecycle,
    /// The loaded session's expiry, before this request.
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) created: Option<OffsetDateTime>,
}

/// The step a save takes: see the module's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    Clear,
    Destroy,
    Regenerate,
    StartFresh,
    Keep,
    Create,
}

impl Ending {
    /// The lifecycle-by-outcome table.
    pub(crate) fn step(&self) -> Step {
        let dead_cookie = self.cookie_seen == CookieSeen::One;
        match (self.lifecycle, self.loaded.is_some()) {
            (Lifecycle::Destroy, true) => Step::Destroy,
            (Lifecycle::Regenerate, true) => Step::Regenerate,
            (Lifecycle::StartFresh, true) => Step::StartFresh,
            (Lifecycle::Keep, true) if self.emptied => Step::Destroy,
            (Lifecycle::Keep, true) => Step::Keep,
            (_, false) if self.lifecycle != Lifecycle::Destroy && self.changes.stores_data() => {
                Step::Create
            }
            (_, false) if dead_cookie => Step::Clear,
            (_, false) => Step::Nothing,
        }
    }
}

/// What a step does to the cookie.
///
/// The cookie carries a session ID, or, for a store whose data lives in the
/// cookie itself, the whole session ([`CookieAction::IssueData`], made by
/// the steps of [`cookie_data`](super::cookie_data)).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CookieAction {
    /// No `Set-Cookie`.
    Leave,
    /// Give the client this session's cookie; `created` is the session's
    /// creation time where an absolute lifetime tracks it (it caps a
    /// persistent cookie's `Max-Age`).
    Issue {
        id: SessionId,
        created: Option<OffsetDateTime>,
    },
    /// Make the client drop its session cookie.
    Remove,
    /// Give the client a cookie that holds this whole session, if it fits.
    IssueData(CookieData),
}

/// A save that needs the store, decided by
/// [`finish_now`](RequestSession::finish_now) and carried out by
/// [`write`](RequestSession::write).
#[derive(Debug)]
pub(crate) struct Write {
    ending: Ending,
    now: OffsetDateTime,
    step: WriteStep,
}

/// The steps that call the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteStep {
    Destroy,
    Regenerate,
    StartFresh,
    /// The keep step's save or touch.
    Keep(KeepPlan),
    Create,
}

/// What the keep step does, decided before any store call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeepPlan {
    write: KeepWrite,
    /// Whether the cookie is re-issued if the write applies (or if there
    /// is none).
    reissue: bool,
    /// Whether the write moves the expiry.
    moves: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepWrite {
    /// Save the changed fields.
    Save,
    /// Move the expiry alone.
    Touch,
    /// Nothing reaches the store.
    None,
}

impl RequestSession {
    /// Writes the session back after the handler answered, and sets the
    /// cookie. A store failure here turns the response into a 500, so a client
    /// is never told a write succeeded when it did not.
    #[cfg(test)]
    pub(crate) async fn finish(
        &self,
        status: StatusCode,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        match self.finish_now(status, headers)? {
            Some(write) => self.write(write, headers).await,
            None => Ok(()),
        }
    }

    /// The part of the save that needs no store: everything, for a request
    /// that wrote nothing (or whose session lives in the cookie). `Some` is
    /// the store call still to make, by [`write`](Self::write); `None` means
    /// the cookie and the caching headers are already set.
    ///
    /// So the service runs a read-only request's save without a future of
    /// its own.
    pub(crate) fn finish_now(
        &self,
        status: StatusCode,
        headers: &mut HeaderMap,
    ) -> Result<Option<Write>, SaveError> {
        let now = OffsetDateTime::now_utc();
        let Some(ending) = self.end(status, now)? else {
            return Ok(None);
        };
        if self.shared.cookie_data.is_some() {
            let action = self.cookie_step(&ending, now)?;
            self.conclude(action, now, headers)?;
            return Ok(None);
        }
        let step = match ending.step() {
            Step::Nothing => {
                return self
                    .conclude(CookieAction::Leave, now, headers)
                    .map(|()| None)
            }
            Step::Clear => {
                return self
                    .conclude(CookieAction::Remove, now, headers)
                    .map(|()| None)
            }
            Step::Destroy => WriteStep::Destroy,
            Step::Regenerate => WriteStep::Regenerate,
            Step::StartFresh => WriteStep::StartFresh,
            Step::Create => WriteStep::Create,
            Step::Keep => {
                let plan = self.keep_plan(&ending, now);
                if plan.write == KeepWrite::None {
                    let action = keep_action(ending.loaded, ending.created, plan.reissue);
                    self.conclude(action, now, headers)?;
                    return Ok(None);
                }
                WriteStep::Keep(plan)
            }
        };
        #[cfg(feature = "memory")]
        if let Some(memory) = &self.shared.memory {
            // The memory store's calls finish at once: the common writes
            // are made here, with no future.
            let action = match step {
                WriteStep::Keep(plan) => self.keep_now(memory, ending, plan, now)?,
                WriteStep::Create => self.create_now(memory, ending.changes, now)?,
                _ => return Ok(Some(Write { ending, now, step })),
            };
            self.conclude(action, now, headers)?;
            return Ok(None);
        }
        Ok(Some(Write { ending, now, step }))
    }

    /// Makes the store call [`finish_now`](Self::finish_now) left, then
    /// sets the cookie.
    pub(crate) async fn write(
        &self,
        write: Write,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        let Write { ending, now, step } = write;
        let action = match step {
            WriteStep::Destroy => self.destroy_step(&ending).await?,
            WriteStep::Regenerate => self.regenerate_step(ending, now).await?,
            WriteStep::StartFresh => self.start_fresh_step(ending, now).await?,
            WriteStep::Keep(plan) => self.keep_step(ending, plan, now).await?,
            WriteStep::Create => self.create_step(ending.changes, now).await?,
        };
        self.conclude(action, now, headers)
    }

    /// Sets the step's cookie, and the caching headers that go with it.
    fn conclude(
        &self,
        action: CookieAction,
        now: OffsetDateTime,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        let cookie_set = action != CookieAction::Leave;
        self.set_cookie(action, now, headers)?;
        keep_out_of_shared_caches(headers, cookie_set);
        Ok(())
    }

    /// Marks the request finished and takes what the save needs out of its
    /// state: `None` when nothing is to be saved at all.
    fn end(&self, status: StatusCode, now: OffsetDateTime) -> Result<Option<Ending>, SaveError> {
        let mut state = self.state();
        state.finished = true;
        if state.plain_http {
            return Ok(None);
        }
        if status.is_server_error() {
            if state.lifecycle != Lifecycle::Destroy {
                tracing::debug!(%status, "the handler failed; its session changes are dropped");
                return Ok(None);
            }
            // Logout never fails open: the destroy is carried out, and
            // nothing else of the request is saved.
            tracing::debug!(%status, "the handler failed; its logout is still carried out");
            let expires_at = state.record.expires_at();
            state.changes = ChangeSet::new(expires_at);
            state.failed = None;
        }
        if let Some((field, source)) = state.failed.take() {
            return Err(SaveError::Encode { field, source });
        }
        let expires_at = state.record.expires_at();
        let mut changes = std::mem::replace(&mut state.changes, ChangeSet::new(expires_at));
        // A remembered session follows its own inactivity window.
        let session_expiry = self.session_expiry(&state.record);
        let policy = session_expiry.as_ref().unwrap_or(&self.shared.expiry);
        changes.set_expires_at(policy.next(now, state.created));
        state.expiry = session_expiry;
        // Emptied: the request changed something and no field is left (a
        // reserved field such as the creation time does not count).
        let emptied = state.loaded.is_some()
            && !changes.is_empty()
            && state.record.fields().all(|(name, _)| is_reserved(name));
        Ok(Some(Ending {
            loaded: state.loaded.clone(),
            cookie_seen: state.cookie_seen,
            emptied,
            changes,
            lifecycle: state.lifecycle,
            expires_at,
            created: state.created,
        }))
    }

    /// Logout: delete the stored session, and remove the cookie the client
    /// sent.
    async fn destroy_step(&self, ending: &Ending) -> Result<CookieAction, SaveError> {
        if let Some(loaded) = &ending.loaded {
            self.shared.store.delete(&loaded.key).await?;
            self.state().destroyed = true;
            tracing::debug!(key = ?loaded.key, "session destroyed");
        }
        Ok(if ending.cookie_seen == CookieSeen::One {
            CookieAction::Remove
        } else {
            CookieAction::Leave
        })
    }

    /// Login: move the session to a fresh ID, with this request's changes.
    async fn regenerate_step(
        &self,
        ending: Ending,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        let Some(loaded) = ending.loaded else {
            return self.create_step(ending.changes, now).await;
        };
        for _ in 0..CREATE_ATTEMPTS {
            let new = SessionId::generate()?;
            let outcome = self
                .shared
                .store
                .regenerate(&loaded.key, &new.key(), &ending.changes)
                .await?;
            match outcome {
                WriteOutcome::Applied => {
                    tracing::debug!(old = ?loaded.key, new = ?new.key(), "session regenerated");
                    return Ok(CookieAction::Issue {
                        id: new,
                        created: ending.created,
                    });
                }
                WriteOutcome::KeyTaken => continue,
                _ if loaded.bound => {
                    // A session of a user that was revoked (or logged out)
                    // while this request ran stays ended: a slow login
                    // never brings a session of that user back.
                    tracing::debug!(
                        key = ?loaded.key,
                        "the session of a user ended while this request ran; it stays ended"
                    );
                    return Ok(CookieAction::Remove);
                }
                _ => {
                    // The session ended meanwhile: start afresh with what
                    // this request stored, never the old data.
                    return self.create_step(ending.changes, now).await;
                }
            }
        }
        Err(SaveError::NoFreeKey)
    }

    /// Login that keeps nothing from before: the old session is deleted
    /// first (so a failure after it logs out rather than keeping old data),
    /// then a new one is created with what this request wrote, under a new
    /// ID. A new session that stores nothing gets no cookie, and the old
    /// cookie is removed.
    async fn start_fresh_step(
        &self,
        ending: Ending,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        if let Some(loaded) = &ending.loaded {
            // A session of a user that was revoked while this request ran
            // stays ended, as in a regeneration. (One read, for bound
            // sessions only; a revocation that lands between it and the
            // delete below is not seen.)
            if loaded.bound && self.shared.store.load(&loaded.key).await?.is_none() {
                tracing::debug!(
                    key = ?loaded.key,
                    "the session of a user ended while this request ran; it stays ended"
                );
                return Ok(CookieAction::Remove);
            }
            self.shared.store.delete(&loaded.key).await?;
            tracing::debug!(key = ?loaded.key, "session ended for a fresh start");
        }
        // Only what this request set or counted: removals of data from
        // before mean nothing in a new session.
        let mut fresh = ChangeSet::new(ending.changes.expires_at());
        for (key, json) in ending.changes.sets() {
            if !is_reserved(key) {
                fresh.push_set(key.to_owned().into(), json.to_owned());
            }
        }
        for inc in ending.changes.increments() {
            fresh.push_increment(inc.key.clone(), inc.delta, inc.initial);
        }
        match self.create_step(fresh, now).await? {
            CookieAction::Leave => Ok(CookieAction::Remove),
            issued => Ok(issued),
        }
    }

    /// The common case, decided: write what changed to the same session,
    /// or move its expiry, or nothing.
    fn keep_plan(&self, ending: &Ending, now: OffsetDateTime) -> KeepPlan {
        let expiry = &*self.expiry();
        let changes = &ending.changes;
        // A cookie under an older key, or `rolling`, re-issues the cookie
        // whatever else happens; moving the expiry re-issues a persistent
        // one, whose `Max-Age` follows it.
        let stale_key = ending.loaded.as_ref().is_some_and(|l| l.stale_key);
        let moves = if changes.is_empty() {
            expiry.due_for_extension(ending.expires_at, now, changes.expires_at())
        } else {
            !expiry.write_keeps(ending.expires_at, changes.expires_at())
        };
        let write = if !changes.is_empty() {
            KeepWrite::Save
        } else if moves {
            KeepWrite::Touch
        } else {
            KeepWrite::None
        };
        KeepPlan {
            write,
            reissue: stale_key || expiry.rolling || (moves && expiry.persistent_cookie),
            moves,
        }
    }

    /// The keep step's store call: the save or the touch of its plan.
    async fn keep_step(
        &self,
        mut ending: Ending,
        plan: KeepPlan,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        let Some((key, changes)) = keep_call(&mut ending, plan) else {
            return self.create_step(ending.changes, now).await;
        };
        let outcome = match plan.write {
            KeepWrite::Save => self.shared.store.save(key, changes).await?,
            KeepWrite::Touch => self.shared.store.touch(key, changes.expires_at()).await?,
            KeepWrite::None => WriteOutcome::Applied,
        };
        Ok(keep_done(ending, plan, outcome))
    }

    /// [`keep_step`](Self::keep_step) on the memory store, at once.
    #[cfg(feature = "memory")]
    fn keep_now(
        &self,
        memory: &MemoryStore,
        mut ending: Ending,
        plan: KeepPlan,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        let Some((key, changes)) = keep_call(&mut ending, plan) else {
            return self.create_now(memory, ending.changes, now);
        };
        let outcome = match plan.write {
            KeepWrite::Save => memory.save_at(key, changes, now),
            KeepWrite::Touch => memory.touch_at(key, changes.expires_at(), now),
            KeepWrite::None => WriteOutcome::Applied,
        };
        Ok(keep_done(ending, plan, outcome))
    }

    /// A new session: store it under a fresh ID, if the request stored data.
    async fn create_step(
        &self,
        mut changes: ChangeSet,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        let Some(created) = self.prepare_create(&mut changes, now) else {
            return Ok(CookieAction::Leave);
        };
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            let key = id.key();
            if self.shared.store.create(&key, &changes).await? == WriteOutcome::Applied {
                return Ok(created_as(id, &key, created));
            }
        }
        Err(SaveError::NoFreeKey)
    }

    /// [`create_step`](Self::create_step) on the memory store, at once.
    #[cfg(feature = "memory")]
    fn create_now(
        &self,
        memory: &MemoryStore,
        mut changes: ChangeSet,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        let Some(created) = self.prepare_create(&mut changes, now) else {
            return Ok(CookieAction::Leave);
        };
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            let key = id.key();
            if memory.create_at(&key, &changes, now) == WriteOutcome::Applied {
                return Ok(created_as(id, &key, created));
            }
        }
        Err(SaveError::NoFreeKey)
    }

    /// What a new session stores beside the request's data (its creation
    /// time, where an absolute lifetime is configured), and that time:
    /// `None` when the request stored no data, so no session is made.
    fn prepare_create(
        &self,
        changes: &mut ChangeSet,
        now: OffsetDateTime,
    ) -> Option<Option<OffsetDateTime>> {
        if !changes.stores_data() {
            return None;
        }
        let expiry = &*self.expiry();
        let created = expiry.absolute.map(|_| now);
        if created.is_some() {
            changes.push_set(CREATED_FIELD.into(), Expiry::created_value(now));
            changes.set_expires_at(expiry.next(now, created));
        }
        Some(created)
    }

    /// Writes the step's cookie into the response's headers.
    fn set_cookie(
        &self,
        action: CookieAction,
        now: OffsetDateTime,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        let codec = &self.shared.codec;
        match action {
            CookieAction::Leave => {}
            CookieAction::Remove => {
                if let Some(value) = codec.removal() {
                    headers.append(SET_COOKIE, value);
                }
            }
            CookieAction::Issue { id, created } => {
                let max_age = self.expiry().cookie_max_age(now, created);
                let value = codec.issue(id.expose(), max_age).ok_or(SaveError::Cookie)?;
                headers.append(SET_COOKIE, value);
            }
            CookieAction::IssueData(data) => {
                let max_age = self.expiry().cookie_max_age(now, Some(data.created));
                headers.append(SET_COOKIE, codec.issue_payload(&data.payload, max_age)?);
            }
        }
        Ok(())
    }
}

/// The keep step's store call, as its plan has it: the session's key and
/// its changes, set to leave the stored expiry where the plan does not move
/// it. `None` when no stored session was loaded.
fn keep_call(ending: &mut Ending, plan: KeepPlan) -> Option<(&SessionKey, &ChangeSet)> {
    let loaded = ending.loaded.as_ref()?;
    if plan.write == KeepWrite::Save && !plan.moves {
        ending.changes.keep_expiry(ending.expires_at);
    }
    Some((&loaded.key, &ending.changes))
}

/// The keep step's cookie, given what its store call answered.
fn keep_done(ending: Ending, plan: KeepPlan, outcome: WriteOutcome) -> CookieAction {
    let reissue = if outcome == WriteOutcome::Applied {
        plan.reissue
    } else {
        if let Some(loaded) = &ending.loaded {
            tracing::debug!(
                key = ?loaded.key,
                "the session ended while this request ran; its changes are dropped"
            );
        }
        false
    };
    keep_action(ending.loaded, ending.created, reissue)
}

/// A new session's cookie.
fn created_as(id: SessionId, key: &SessionKey, created: Option<OffsetDateTime>) -> CookieAction {
    tracing::debug!(?key, "session created");
    CookieAction::Issue { id, created }
}

/// The keep step's cookie: the session's own again, or none.
fn keep_action(
    loaded: Option<Loaded>,
    created: Option<OffsetDateTime>,
    reissue: bool,
) -> CookieAction {
    match loaded {
        Some(loaded) if reissue => CookieAction::Issue {
            id: loaded.id,
            created,
        },
        _ => CookieAction::Leave,
    }
}

/// Whether a stored field is one the runtime keeps for itself (its name has
/// no `.`, which every derived key has), not the app's data. The binding to
/// a user counts as data.
fn is_reserved(name: &str) -> bool {
    !name.contains('.') && !crate::users::is_binding_field(name)
}

/// A response that sets the session cookie must not be stored by a shared
/// cache (which would hand one user's cookie to the next), and a response
/// that depends on the session must not be served to another client's
/// session: `Vary: Cookie`.
fn keep_out_of_shared_caches(headers: &mut HeaderMap, cookie_set: bool) {
    if cookie_set {
        let private = match headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()) {
            None => Some(HeaderValue::from_static("no-store")),
            Some(value) => {
                let directives: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .collect();
                let is = |d: &str, name: &str| {
                    d.get(..name.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(name))
                };
                if directives
                    .iter()
                    .any(|d| is(d, "private") || is(d, "no-store"))
                {
                    None
                } else {
                    // `public` and a shared cache's own max-age say the
                    // opposite of `private`: they go.
                    let kept = directives
                        .into_iter()
                        .filter(|d| !is(d, "public") && !is(d, "s-maxage"));
                    let joined = std::iter::once("private")
                        .chain(kept)
                        .collect::<Vec<_>>()
                        .join(", ");
                    HeaderValue::try_from(joined).ok()
                }
            }
        };
        if let Some(value) = private {
            headers.insert(CACHE_CONTROL, value);
        }
    }
    let varies = headers.get_all(VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|f| f == "*" || f.eq_ignore_ascii_case("cookie"))
        })
    });
    if !varies {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

#[cfg(test)]
mod tests;

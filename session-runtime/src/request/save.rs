//! After the handler: write back what changed, by one of four steps, and
//! set or remove the cookie.
//!
//! | lifecycle  | stored session loaded | step                                          |
//! | ---------- | --------------------- | --------------------------------------------- |
//! | destroy    | yes                   | [`Step::Destroy`]: delete, remove the cookie  |
//! | destroy    | no, but a cookie came | [`Step::Destroy`]: remove the cookie          |
//! | regenerate | yes                   | [`Step::Regenerate`]: move to a new ID        |
//! | keep       | yes                   | [`Step::Keep`]: save, touch or nothing        |
//! | keep or regenerate | no            | [`Step::Create`] if the request stored data   |
//! | anything else |                    | [`Step::Nothing`]                             |
//!
//! A response with a 5xx status, or a request a trusted proxy says came over
//! plain HTTP with a `Secure` cookie, saves nothing at all.

use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;

use super::cookie_data::CookieData;
use super::{Lifecycle, Loaded, RequestSession};
use crate::error::SaveError;
use crate::expiry::{Expiry, CREATED_FIELD};
use crate::id::SessionId;
use crate::store::{ChangeSet, WriteOutcome};

/// How many times a new ID is drawn when a store says the key is taken.
const CREATE_ATTEMPTS: usize = 4;

/// What the handler left for the save, taken out of the request's state once.
#[derive(Debug)]
pub(crate) struct Ending {
    pub(crate) loaded: Option<Loaded>,
    pub(crate) cookie_present: bool,
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
    Destroy,
    Regenerate,
    Keep,
    Create,
}

impl Ending {
    /// The lifecycle-by-outcome table.
    pub(crate) fn step(&self) -> Step {
        match (self.lifecycle, self.loaded.is_some()) {
            (Lifecycle::Destroy, true) => Step::Destroy,
            (Lifecycle::Destroy, false) if self.cookie_present => Step::Destroy,
            (Lifecycle::Destroy, false) => Step::Nothing,
            (Lifecycle::Regenerate, true) => Step::Regenerate,
            (Lifecycle::Keep, true) => Step::Keep,
            (_, false) if self.changes.stores_data() => Step::Create,
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

impl RequestSession {
    /// Writes the session back after the handler answered, and sets the
    /// cookie. A store failure here turns the response into a 500, so a client
    /// is never told a write succeeded when it did not.
    pub(crate) async fn finish(
        &self,
        status: StatusCode,
        headers: &mut HeaderMap,
    ) -> Result<(), SaveError> {
        let now = OffsetDateTime::now_utc();
        let Some(ending) = self.end(status, now)? else {
            return Ok(());
        };
        if self.shared.cookie_data.is_some() {
            let action = self.cookie_step(&ending, now)?;
            return self.set_cookie(action, now, headers);
        }
        let action = match ending.step() {
            Step::Nothing => CookieAction::Leave,
            Step::Destroy => self.destroy_step(&ending).await?,
            Step::Regenerate => self.regenerate_step(ending, now).await?,
            Step::Keep => self.keep_step(ending, now).await?,
            Step::Create => self.create_step(ending.changes, now).await?,
        };
        self.set_cookie(action, now, headers)
    }

    /// Marks the request finished and takes what the save needs out of its
    /// state: `None` when nothing is to be saved at all.
    fn end(&self, status: StatusCode, now: OffsetDateTime) -> Result<Option<Ending>, SaveError> {
        let mut state = self.state();
        state.finished = true;
        if status.is_server_error() {
            tracing::debug!(%status, "the handler failed; its session changes are dropped");
            return Ok(None);
        }
        if state.plain_http {
            return Ok(None);
        }
        if let Some((field, source)) = state.failed.take() {
            return Err(SaveError::Encode { field, source });
        }
        let expires_at = state.record.expires_at();
        let mut changes = std::mem::replace(&mut state.changes, ChangeSet::new(expires_at));
        changes.set_expires_at(self.shared.expiry.next(now, state.created));
        Ok(Some(Ending {
            loaded: state.loaded.clone(),
            cookie_present: state.cookie_present,
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
            tracing::debug!(key = ?loaded.key, "session destroyed");
        }
        Ok(if ending.cookie_present {
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
                _ => {
                    // The session ended meanwhile: start afresh with what
                    // this request stored, never the old data.
                    return self.create_step(ending.changes, now).await;
                }
            }
        }
        Err(SaveError::NoFreeKey)
    }

    /// The common case: write what changed to the same session, or move its
    /// expiry, or nothing.
    async fn keep_step(
        &self,
        ending: Ending,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        let Some(loaded) = ending.loaded else {
            return self.create_step(ending.changes, now).await;
        };
        let expiry = &self.shared.expiry;
        let changes = &ending.changes;
        // A cookie under an older key, or `rolling`, re-issues the cookie
        // whatever else happens; moving the expiry re-issues a persistent
        // one, whose `Max-Age` follows it.
        let mut reissue = loaded.stale_key || expiry.rolling;
        let outcome = if !changes.is_empty() {
            Some(self.shared.store.save(&loaded.key, changes).await?)
        } else if expiry.due_for_extension(ending.expires_at, now, changes.expires_at()) {
            Some(
                self.shared
                    .store
                    .touch(&loaded.key, changes.expires_at())
                    .await?,
            )
        } else {
            None
        };
        match outcome {
            Some(WriteOutcome::Applied) => reissue |= expiry.persistent_cookie,
            Some(_) => {
                tracing::debug!(
                    key = ?loaded.key,
                    "the session ended while this request ran; its changes are dropped"
                );
                reissue = false;
            }
            None => {}
        }
        Ok(if reissue {
            CookieAction::Issue {
                id: loaded.id,
                created: ending.created,
            }
        } else {
            CookieAction::Leave
        })
    }

    /// A new session: store it under a fresh ID, if the request stored data.
    async fn create_step(
        &self,
        mut changes: ChangeSet,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        if !changes.stores_data() {
            return Ok(CookieAction::Leave);
        }
        let expiry = &self.shared.expiry;
        let created = expiry.absolute.map(|_| now);
        if created.is_some() {
            changes.push_set(CREATED_FIELD.into(), Expiry::created_value(now));
            changes.set_expires_at(expiry.next(now, created));
        }
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            let key = id.key();
            if self.shared.store.create(&key, &changes).await? == WriteOutcome::Applied {
                tracing::debug!(?key, "session created");
                return Ok(CookieAction::Issue { id, created });
            }
        }
        Err(SaveError::NoFreeKey)
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
                let max_age = self.shared.expiry.cookie_max_age(now, created);
                let value = codec.issue(id.expose(), max_age).ok_or(SaveError::Cookie)?;
                headers.append(SET_COOKIE, value);
            }
            CookieAction::IssueData(data) => {
                let max_age = self.shared.expiry.cookie_max_age(now, Some(data.created));
                headers.append(SET_COOKIE, codec.issue_payload(&data.payload, max_age)?);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! The request path of a store whose data lives in the cookie
//! ([`CookieStore`](crate::store::CookieStore)): the session is decoded from
//! the request's cookie before the handler, and written whole into the
//! response's `Set-Cookie` after it. The store itself is never called.
//!
//! The save follows the same lifecycle table as every store (see
//! [`save`](super::save)), each step giving a [`CookieAction`]:
//!
//! | step        | cookie                                                       |
//! | ----------- | ------------------------------------------------------------ |
//! | clear       | a dead cookie (no session this layer can read, or expired) removed |
//! | destroy     | removed, if the client sent one (also for a session the request emptied of every field) |
//! | regenerate  | the session under a new ID                                   |
//! | start fresh | only what this request set or counted, under a new ID       |
//! | keep        | re-issued when a field changed, the expiry is due to move (`extend_after`), the key is old or `rolling` is on; else none |
//! | create      | the new session, if the request stored data                  |
//!
//! A session left with no field at all is not issued: its cookie is
//! removed instead. Nothing is sent to a store: there is none.

use std::fmt;

use time::OffsetDateTime;

use super::save::{CookieAction, Ending, Step};
use super::{Loaded, RequestSession};
use crate::cookie::{decode_payload, encode_payload, CookieSeen, Incoming};
use crate::derive_support::{Diff, SessionData};
use crate::error::{CookieTooLarge, SaveError};
use crate::id::SessionId;
use crate::store::{ChangeSet, Record, COOKIE_SIZE_LIMIT};

/// A stand-in ID, to measure a session that has none yet: every ID has the
/// same length.
const PLACEHOLDER_ID: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The session to write into the cookie: its encoded plaintext, and its
/// creation time (which caps a persistent cookie's `Max-Age` under an
/// absolute lifetime).
#[derive(PartialEq, Eq)]
pub(crate) struct CookieData {
    pub(crate) payload: Vec<u8>,
    pub(crate) created: OffsetDateTime,
}

impl fmt::Debug for CookieData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieData")
            .field(
                "payload",
                &format_args!("REDACTED ({} bytes)", self.payload.len()),
            )
            .field("created", &self.created)
            .finish()
    }
}

impl RequestSession {
    /// Reads the session out of the cookie: a session whose expiry or
    /// absolute lifetime has passed does not load, whatever the cookie's
    /// `Max-Age` said.
    pub(super) fn load_from_cookie(&self, incoming: Incoming) {
        let now = OffsetDateTime::now_utc();
        let expiry = &self.shared.expiry;
        let payload = incoming.value.as_ref().and_then(|opened| {
            let payload = self
                .shared
                .codec
                .payload_of(opened)
                .and_then(|plain| decode_payload(&plain));
            if payload.is_none() {
                tracing::debug!("the session cookie verified but holds no session");
            }
            payload
        });
        let live = payload.filter(|p| {
            if p.expires_at <= now {
                tracing::debug!("the session in the cookie has expired");
                false
            } else if expiry.outlived(p.created, now) {
                tracing::debug!("the session in the cookie reached its absolute lifetime");
                false
            } else {
                true
            }
        });
        let mut state = self.state();
        state.cookie_seen = incoming.seen;
        if let Some(payload) = live {
            let bound = payload
                .fields
                .iter()
                .any(|(name, _)| name == crate::store::USER_FIELD);
            state.loaded = Some(Loaded {
                key: payload.id.key(),
                id: payload.id,
                stale_key: incoming.stale_key,
                bound,
            });
            state.record = Record::new(payload.fields, payload.expires_at);
            state.created = Some(payload.created);
        }
    }

    /// The step's cookie, for a session kept in the cookie: see the module's
    /// table.
    pub(super) fn cookie_step(
        &self,
        ending: &Ending,
        now: OffsetDateTime,
    ) -> Result<CookieAction, SaveError> {
        // The layer's policy, or a remembered session's own.
        let expiry = self.expiry();
        let mut fresh = None;
        let (id, created) = match ending.step() {
            Step::Nothing => return Ok(CookieAction::Leave),
            Step::Clear => return Ok(CookieAction::Remove),
            Step::Destroy => return Ok(self.removal(ending)),
            Step::Create => (SessionId::generate()?, now),
            Step::StartFresh => {
                // Only what this request set or counted, as on every store.
                let mut changes = ChangeSet::new(ending.changes.expires_at());
                for (key, json) in ending.changes.sets() {
                    changes.push_set(key.to_owned().into(), json.to_owned());
                }
                for inc in ending.changes.increments() {
                    changes.push_increment(inc.key.clone(), inc.delta, inc.initial);
                }
                fresh = Some(Record::new(changes.initial_fields(), changes.expires_at()));
                (SessionId::generate()?, now)
            }
            Step::Regenerate => (SessionId::generate()?, ending.created.unwrap_or(now)),
            Step::Keep => {
                let Some(loaded) = &ending.loaded else {
                    return Ok(CookieAction::Leave);
                };
                let changes = &ending.changes;
                let reissue = !changes.is_empty()
                    || loaded.stale_key
                    || expiry.rolling
                    || expiry.due_for_extension(ending.expires_at, now, changes.expires_at());
                if !reissue {
                    return Ok(CookieAction::Leave);
                }
                (loaded.id.clone(), ending.created.unwrap_or(now))
            }
        };
        // The request is finished: nothing changes the record any more.
        let kept = std::mem::replace(
            &mut self.state().record,
            Record::new(Vec::new(), ending.expires_at),
        );
        let record = fresh.unwrap_or(kept);
        if record.is_empty() {
            return Ok(self.removal(ending));
        }
        let expires_at = expiry.next(now, Some(created));
        Ok(CookieAction::IssueData(CookieData {
            payload: encode_payload(&id, created, expires_at, record.fields()),
            created,
        }))
    }

    fn removal(&self, ending: &Ending) -> CookieAction {
        if ending.cookie_seen == CookieSeen::One {
            CookieAction::Remove
        } else {
            CookieAction::Leave
        }
    }

    /// The changes a live `Session<T>` holds and has not recorded yet.
    pub(crate) fn pending<T: SessionData>(&self, value: &T, snapshot: &T::__Snapshot) -> ChangeSet {
        let state = self.state();
        let mut diff = Diff {
            record: &state.record,
            changes: ChangeSet::new(state.record.expires_at()),
            failed: None,
        };
        value.__diff(snapshot, &mut diff);
        diff.changes
    }

    /// The size of the `Set-Cookie` value (name, value and attributes) that
    /// would carry the session if the response were written now, with
    /// `pending` changes on top of the recorded ones; an error past what a
    /// browser keeps.
    pub(crate) fn cookie_size(&self, pending: Option<&ChangeSet>) -> Result<usize, CookieTooLarge> {
        let now = OffsetDateTime::now_utc();
        let state = self.state();
        let codec = &self.shared.codec;
        // A remembered session's cookie is a persistent one, its own window.
        let own = self.session_expiry(&state.record);
        let expiry = own.as_ref().unwrap_or(&self.shared.expiry);
        let id = match &state.loaded {
            Some(loaded) => Some(loaded.id.clone()),
            None => SessionId::parse(PLACEHOLDER_ID),
        };
        let size = match (&self.shared.cookie_data, id) {
            (Some(_), Some(id)) => {
                let created = state.created.unwrap_or(now);
                let mut record = state.record.clone();
                if let Some(pending) = pending {
                    record.apply(pending);
                }
                let payload = encode_payload(
                    &id,
                    created,
                    expiry.next(now, Some(created)),
                    record.fields(),
                );
                let max_age = expiry.cookie_max_age(now, Some(created));
                codec.payload_cookie_len(payload.len(), max_age)
            }
            (None, Some(id)) => {
                let max_age = expiry.cookie_max_age(now, state.created);
                codec.issue(id.expose(), max_age).map_or(0, |v| v.len())
            }
            (_, None) => 0,
        };
        if size > COOKIE_SIZE_LIMIT {
            return Err(CookieTooLarge {
                size,
                limit: COOKIE_SIZE_LIMIT,
            });
        }
        Ok(size)
    }
}

//! While the handler runs: binding the session to a user, and the expiry
//! policy of a remembered session.

use std::borrow::Cow;
use std::sync::Arc;

use http::HeaderMap;
use time::OffsetDateTime;

use super::RequestSession;
use crate::expiry::Expiry;
use crate::shared::Shared;
use crate::store::{unix_millis, ChangeSet, USER_FIELD};
use crate::users::{self, Client, AGENT_FIELD, AUTH_FIELD, IP_FIELD, REMEMBER_FIELD};

impl RequestSession {
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The client of this request, if the layer records it at a bind.
    pub(crate) fn client_of(&self, headers: &HeaderMap) -> Option<Client> {
        self.shared
            .record_client
            .then(|| Client::from_headers(headers, self.shared.trust_proxy))
    }

    /// Records a change to the session's reserved fields, as a dropped
    /// `Session<T>` records its own.
    fn change_reserved(&self, build: impl FnOnce(ChangeSet) -> ChangeSet) {
        let mut state = self.state();
        if state.finished {
            tracing::warn!(
                "a `SessionHandle` bound or unbound a user after its response was written; \
                 the change is not saved"
            );
            return;
        }
        let changes = build(ChangeSet::new(state.changes.expires_at()));
        state.record.apply(&changes);
        state.changes.merge(changes);
    }

    pub(crate) fn bind_user(&self, user: String, remember: bool, client: Option<&Client>) {
        let now = unix_millis(OffsetDateTime::now_utc());
        let window = unix_millis(OffsetDateTime::UNIX_EPOCH + self.shared.remember_for);
        let Ok(user_json) = serde_json::to_string(&user) else {
            return;
        };
        self.change_reserved(|mut changes| {
            changes.push_set(USER_FIELD.into(), user_json);
            changes.push_set(AUTH_FIELD.into(), now.to_string());
            if remember {
                changes.push_set(REMEMBER_FIELD.into(), window.to_string());
            } else {
                changes.push_remove(REMEMBER_FIELD.into());
            }
            let client = client.cloned().unwrap_or_default();
            for (field, value) in [(AGENT_FIELD, client.agent), (IP_FIELD, client.ip)] {
                match value.and_then(|v| serde_json::to_string(&v).ok()) {
                    Some(json) => changes.push_set(field.into(), json),
                    None => changes.push_remove(field.into()),
                }
            }
            changes
        });
        self.regenerate();
    }

    pub(crate) fn unbind_user(&self) {
        self.change_reserved(|mut changes| {
            for field in [
                USER_FIELD,
                AUTH_FIELD,
                REMEMBER_FIELD,
                AGENT_FIELD,
                IP_FIELD,
            ] {
                changes.push_remove(field.into());
            }
            changes
        });
        self.regenerate();
    }

    pub(crate) fn user(&self) -> Option<String> {
        users::user_of(&self.state().record)
    }

    pub(crate) fn authenticated_at(&self) -> Option<OffsetDateTime> {
        users::authenticated_at(&self.state().record)
    }

    pub(crate) fn is_remembered(&self) -> bool {
        users::remembered_window(&self.state().record).is_some()
    }

    /// The expiry policy of this session as it ends: a remembered session's
    /// own inactivity window (and a persistent cookie), else `None` for the
    /// layer's.
    pub(super) fn session_expiry(&self, record: &crate::store::Record) -> Option<Expiry> {
        let window = users::remembered_window(record)?;
        let layer = &self.shared.expiry;
        let window = window.min(crate::expiry::MAX_COOKIE_AGE);
        let share = layer.extend_after.as_seconds_f64() / layer.inactivity.as_seconds_f64();
        Some(Expiry {
            inactivity: window,
            extend_after: window * share.clamp(0.0, 1.0),
            persistent_cookie: true,
            ..layer.clone()
        })
    }

    /// The expiry policy the save of this request follows.
    pub(super) fn expiry(&self) -> Cow<'_, Expiry> {
        match self.state().expiry.clone() {
            Some(own) => Cow::Owned(own),
            None => Cow::Borrowed(&self.shared.expiry),
        }
    }
}

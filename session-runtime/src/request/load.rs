//! Before the handler: read the cookie and load the session, at most once
//! per request.

use http::HeaderMap;
use time::OffsetDateTime;

use super::{Loaded, RequestSession};
use crate::cookie::Incoming;
use crate::error::SessionUnavailable;
use crate::expiry::{Expiry, CREATED_FIELD};
use crate::id::SessionId;
use crate::proxy::{forwarded_scheme, Scheme};
use crate::store::Record;

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

impl RequestSession {
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
                if self.shared.cookie_data.is_some() {
                    self.load_from_cookie(incoming);
                    return Ok(());
                }
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
        let cookie_seen = incoming.seen;
        let id = incoming
            .value
            .as_ref()
            .and_then(crate::cookie::Opened::as_str)
            .and_then(SessionId::parse);
        let loaded = match id {
            None => None,
            Some(id) => {
                let key = id.key();
                #[cfg(feature = "memory")]
                let immediate = self.shared.memory.as_ref().map(|memory| {
                    let now = OffsetDateTime::now_utc();
                    (memory.load_at(&key, now), now)
                });
                #[cfg(not(feature = "memory"))]
                let immediate = None;
                let (record, now) = match immediate {
                    Some(loaded) => loaded,
                    None => {
                        let record = self.shared.store.load(&key).await.map_err(|err| {
                            tracing::error!(
                                error = %err,
                                kind = %err.kind(),
                                source = ?std::error::Error::source(&err),
                                "cannot load the session"
                            );
                            SessionUnavailable {
                                source: Some(Box::new(err)),
                            }
                        })?;
                        (record, OffsetDateTime::now_utc())
                    }
                };
                // Stores enforce expiry; check again, so a lax one cannot
                // revive a session.
                record
                    .filter(|r| r.expires_at() > now)
                    .and_then(|r| self.check_lifetime(r, now))
                    .map(|(record, created)| {
                        let loaded = Loaded {
                            id,
                            key,
                            stale_key: incoming.stale_key,
                            bound: record.get(crate::store::USER_FIELD).is_some(),
                        };
                        (loaded, record, created)
                    })
            }
        };
        let mut state = self.state();
        state.cookie_seen = cookie_seen;
        if let Some((loaded, record, created)) = loaded {
            tracing::trace!(key = ?loaded.key, "session loaded");
            state.loaded = Some(loaded);
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
}

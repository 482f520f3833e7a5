//! What every request of one layer shares: the store, the cookie codec, the
//! expiry policy and the proxy setting, built once by the layer's builder.

use std::sync::Arc;

use crate::cookie::CookieCodec;
use crate::expiry::Expiry;
use crate::store::{CookiePayload, DynStore};

/// What every request of one layer shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn DynStore>,
    pub(crate) codec: CookieCodec,
    pub(crate) expiry: Expiry,
    /// Whether `Forwarded` / `X-Forwarded-Proto` are believed.
    pub(crate) trust_proxy: bool,
    /// The inactivity window of a session bound with "remember me".
    pub(crate) remember_for: time::Duration,
    /// Whether a bind keeps the client's user agent and address.
    pub(crate) record_client: bool,
    /// `Some` when the cookie holds the session itself ([`CookieStore`]):
    /// the store is then never called.
    ///
    /// [`CookieStore`]: crate::store::CookieStore
    pub(crate) cookie_data: Option<CookiePayload>,
    /// `Some` when the store is the [`MemoryStore`] itself, whose calls
    /// finish at once: the request path then calls it directly, with the
    /// clock it has already read, and needs no future per call. (A store
    /// that wraps one goes through `store`, as every other store does.)
    ///
    /// [`MemoryStore`]: crate::store::MemoryStore
    #[cfg(feature = "memory")]
    pub(crate) memory: Option<crate::store::MemoryStore>,
}

impl std::fmt::Debug for Shared {
    // Configuration only: the store's own `Debug` (which shows no session
    // data), the cookie's name and protection, the expiry policy; never a
    // key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("store", &self.store)
            .field("cookie_name", &self.codec.name)
            .field("security", &self.codec.security)
            .field("keys", &self.codec.keys.len())
            .field("expiry", &self.expiry)
            .field("trust_proxy", &self.trust_proxy)
            .field("remember_for", &self.remember_for)
            .field("record_client", &self.record_client)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{MemoryStore, Record};
    use crate::{Key, SessionLayer};

    #[test]
    fn debug_of_the_layer_and_of_a_record_shows_no_data_and_no_key() {
        let layer = SessionLayer::new(MemoryStore::with_capacity(64), Key::from_bytes(&[7; 64]));
        let text = format!("{layer:?}");
        assert!(text.contains("cookie_name: \"sid\""), "{text}");
        assert!(!text.contains("[7, 7"), "{text}");
        let record = Record::new(
            vec![("user.name".into(), "\"ada lovelace\"".into())],
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let text = format!("{record:?}");
        assert!(text.contains("user.name"), "{text}");
        assert!(!text.contains("lovelace"), "{text}");
    }
}

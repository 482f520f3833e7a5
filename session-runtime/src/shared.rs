//! What every request of one layer shares: the store, the cookie codec, the
//! expiry policy and the proxy setting, built once by the layer's builder.

use std::sync::Arc;

use crate::cookie::CookieCodec;
use crate::expiry::Expiry;
use crate::store::{CookiePayload, DynStore};

/// What every request of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn DynStore>,
    pub(crate) codec: CookieCodec,
    pub(crate) expiry: Expiry,
    /// Whether `Forwarded` / `X-Forwarded-Proto` are believed.
    pub(crate) trust_proxy: bool,
    /// `Some` when the cookie holds the session itself ([`CookieStore`]):
    /// the store is then never called.
    ///
    /// [`CookieStore`]: crate::store::CookieStore
    pub(crate) cookie_data: Option<CookiePayload>,
}

//! The lifecycle-by-outcome table, and each step run against a real store.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, StatusCode};
use time::{Duration, OffsetDateTime};

use super::{Ending, Step};
use crate::cookie::{CookieCodec, CookieSecurity, CookieSeen};
use crate::expiry::Expiry;
use crate::id::SessionId;
use crate::key::Key;
use crate::request::{Lifecycle, Loaded, RequestSession};
use crate::shared::Shared;
use crate::store::{ChangeSet, MemoryStore, SessionStore, WriteOutcome};

fn ending(lifecycle: Lifecycle, loaded: bool, cookie: CookieSeen, data: bool) -> Ending {
    let later = OffsetDateTime::now_utc() + Duration::hours(1);
    let mut changes = ChangeSet::new(later);
    if data {
        changes = changes.set("a.x", "1");
    }
    let loaded = loaded.then(|| {
        let id = SessionId::generate().unwrap();
        Loaded {
            key: id.key(),
            id,
            stale_key: false,
            bound: false,
        }
    });
    Ending {
        loaded,
        cookie_seen: cookie,
        emptied: false,
        changes,
        lifecycle,
        expires_at: later,
        created: None,
    }
}

#[test]
fn the_step_follows_the_lifecycle_and_whether_a_session_was_loaded() {
    use CookieSeen::{None as NoCookie, One, Repeated};
    use Lifecycle::{Destroy, Keep, Regenerate, StartFresh};
    // (lifecycle, loaded, cookies that came, request stored data) -> step
    let table = [
        ((Destroy, true, One, false), Step::Destroy),
        ((Destroy, true, One, true), Step::Destroy),
        ((Destroy, false, One, true), Step::Clear),
        ((Destroy, false, Repeated, true), Step::Nothing),
        ((Destroy, false, NoCookie, true), Step::Nothing),
        ((Regenerate, true, One, false), Step::Regenerate),
        ((Regenerate, false, One, true), Step::Create),
        ((Regenerate, false, One, false), Step::Clear),
        ((Regenerate, false, NoCookie, false), Step::Nothing),
        ((StartFresh, true, One, false), Step::StartFresh),
        ((StartFresh, false, One, true), Step::Create),
        ((StartFresh, false, NoCookie, false), Step::Nothing),
        ((Keep, true, One, false), Step::Keep),
        ((Keep, true, One, true), Step::Keep),
        ((Keep, false, One, true), Step::Create),
        ((Keep, false, NoCookie, true), Step::Create),
        ((Keep, false, Repeated, true), Step::Create),
        ((Keep, false, One, false), Step::Clear),
        ((Keep, false, Repeated, false), Step::Nothing),
        ((Keep, false, NoCookie, false), Step::Nothing),
    ];
    for ((lifecycle, loaded, cookie, data), step) in table {
        assert_eq!(
            ending(lifecycle, loaded, cookie, data).step(),
            step,
            "{lifecycle:?}, loaded {loaded}, {cookie:?}, data {data}"
        );
    }
    let mut emptied = ending(Keep, true, One, true);
    emptied.emptied = true;
    assert_eq!(
        emptied.step(),
        Step::Destroy,
        "an emptied session is deleted"
    );
}

struct Harness {
    store: MemoryStore,
    shared: Arc<Shared>,
}

/// A harness whose layer calls its memory store through the store trait's
/// futures (`immediate: false`, as every other store is called), or at
/// once, as the layer calls a `MemoryStore` (`immediate: true`).
fn harness_with(immediate: bool) -> Harness {
    let store = MemoryStore::new();
    let mut codec = CookieCodec::new(CookieSecurity::Signed, vec![Key::generate()]);
    codec.secure = false;
    let shared = Arc::new(Shared {
        store: Arc::new(store.clone()),
        codec,
        expiry: Expiry::default(),
        trust_proxy: false,
        remember_for: crate::users::DEFAULT_REMEMBER_FOR,
        record_client: false,
        cookie_data: None,
        memory: immediate.then(|| store.clone()),
    });
    Harness { store, shared }
}

impl Harness {
    /// A stored session, and the `Cookie` header that names it.
    async fn stored(&self) -> (SessionId, HeaderMap) {
        let id = SessionId::generate().unwrap();
        let later = OffsetDateTime::now_utc() + Duration::hours(1);
        let changes = ChangeSet::new(later).set("a.x", "1");
        assert_eq!(
            self.store.create(&id.key(), &changes).await.unwrap(),
            WriteOutcome::Applied
        );
        (id.clone(), self.cookie_for(&id))
    }

    fn cookie_for(&self, id: &SessionId) -> HeaderMap {
        let set = self.shared.codec.issue(id.expose(), None).unwrap();
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        headers
    }

    async fn request(&self, cookie: &HeaderMap) -> RequestSession {
        let session = RequestSession::new(self.shared.clone());
        session.ensure_loaded(cookie).await.unwrap();
        session
    }
}

async fn finish(session: &RequestSession, status: u16) -> HeaderMap {
    let mut headers = HeaderMap::new();
    session
        .finish(StatusCode::from_u16(status).unwrap(), &mut headers)
        .await
        .unwrap();
    headers
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn stage(session: &RequestSession, key: &'static str, json: &str) {
    let mut state = session.state();
    state.changes.push_set(key.into(), json.to_owned());
}

/// Every case, with the store called through the trait's futures.
mod through_the_store_trait {
    use super::*;

    fn harness() -> Harness {
        harness_with(false)
    }

    include!("cases.rs");
}

/// Every case again, with the memory store called at once.
mod memory_store_at_once {
    use super::*;

    fn harness() -> Harness {
        harness_with(true)
    }

    include!("cases.rs");
}

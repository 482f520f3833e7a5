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

fn harness() -> Harness {
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

#[tokio::test]
async fn keep_with_nothing_changed_writes_nothing_and_sets_no_cookie() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
    let record = h.store.load(&id.key()).await.unwrap().unwrap();
    assert_eq!(record.get("a.x"), Some("1"));
}

#[tokio::test]
async fn keep_writes_the_changed_field_to_the_same_session() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage(&session, "a.y", "2");
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
    let record = h.store.load(&id.key()).await.unwrap().unwrap();
    assert_eq!(
        (record.get("a.x"), record.get("a.y")),
        (Some("1"), Some("2"))
    );
}

#[tokio::test]
async fn a_5xx_response_saves_nothing() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage(&session, "a.y", "2");
    assert!(set_cookies(&finish(&session, 503).await).is_empty());
    let record = h.store.load(&id.key()).await.unwrap().unwrap();
    assert_eq!(record.get("a.y"), None);
}

#[tokio::test]
async fn create_stores_a_new_session_only_when_it_got_data() {
    let h = harness();
    let empty = h.request(&HeaderMap::new()).await;
    assert!(set_cookies(&finish(&empty, 200).await).is_empty());
    assert_eq!(h.store.len(), 0);

    let session = h.request(&HeaderMap::new()).await;
    stage(&session, "a.x", "7");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn destroy_deletes_the_session_and_removes_the_cookie() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.destroy();
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
    assert!(h.store.load(&id.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn destroy_without_a_session_or_a_cookie_does_nothing() {
    let h = harness();
    let session = h.request(&HeaderMap::new()).await;
    session.destroy();
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
}

#[tokio::test]
async fn regenerate_moves_the_data_to_a_new_id_and_kills_the_old_one() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.regenerate();
    stage(&session, "a.user", "\"ada\"");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(h.store.load(&old.key()).await.unwrap().is_none());
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn regenerate_of_a_session_that_ended_meanwhile_starts_afresh_without_the_old_data() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    h.store.delete(&old.key()).await.unwrap();
    session.regenerate();
    stage(&session, "a.user", "\"ada\"");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn a_save_after_the_session_ended_is_dropped_and_sets_no_cookie() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    h.store.delete(&id.key()).await.unwrap();
    stage(&session, "a.y", "2");
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
    assert_eq!(h.store.len(), 0, "the ended session is not revived");
}

fn stage_removal(session: &RequestSession, key: &'static str) {
    let mut state = session.state();
    state.changes.push_remove(key.into());
    state.record = crate::store::Record::new(Vec::new(), state.record.expires_at());
}

#[tokio::test]
async fn a_dead_cookie_is_cleared_on_the_next_request() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    h.store.delete(&id.key()).await.unwrap();
    let session = h.request(&cookie).await;
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
}

#[tokio::test]
async fn repeated_cookies_are_refused_and_not_cleared() {
    let h = harness();
    let (_, cookie) = h.stored().await;
    let pair = cookie.get(http::header::COOKIE).unwrap().to_str().unwrap();
    let mut twice = HeaderMap::new();
    twice.insert(
        http::header::COOKIE,
        HeaderValue::from_str(&format!("{pair}; {pair}")).unwrap(),
    );
    let session = h.request(&twice).await;
    assert_eq!(session.id(), None, "a repeated cookie gives no session");
    assert!(set_cookies(&finish(&session, 200).await).is_empty());
}

#[tokio::test]
async fn a_session_emptied_of_every_field_is_deleted_and_its_cookie_removed() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage_removal(&session, "a.x");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
    assert!(h.store.load(&id.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_logout_is_carried_out_on_a_5xx_response() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    stage(&session, "a.y", "2");
    session.destroy();
    let cookies = set_cookies(&finish(&session, 500).await);
    assert_eq!(cookies.len(), 1);
    assert!(h.store.load(&id.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_logout_whose_request_is_dropped_before_its_save_is_still_carried_out() {
    let h = harness();
    let (id, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.destroy();
    drop(session);
    // The delete runs in a task of its own.
    for _ in 0..100 {
        if h.store.load(&id.key()).await.unwrap().is_none() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the dropped logout did not delete the session");
}

#[tokio::test]
async fn a_response_that_sets_the_cookie_is_kept_out_of_shared_caches() {
    let h = harness();
    let session = h.request(&HeaderMap::new()).await;
    stage(&session, "a.x", "7");
    let headers = finish(&session, 200).await;
    assert_eq!(
        headers.get(http::header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    assert_eq!(headers.get(http::header::VARY).unwrap(), "Cookie");

    let session = h.request(&HeaderMap::new()).await;
    stage(&session, "a.x", "8");
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60, s-maxage=600"),
    );
    headers.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept-Encoding"),
    );
    session.finish(StatusCode::OK, &mut headers).await.unwrap();
    assert_eq!(
        headers.get(http::header::CACHE_CONTROL).unwrap(),
        "private, max-age=60"
    );
    let vary: Vec<_> = headers.get_all(http::header::VARY).iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Cookie"]);
}

#[tokio::test]
async fn a_read_only_response_varies_on_the_cookie_and_keeps_its_cache_control() {
    let h = harness();
    let (_, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=5"),
    );
    session.finish(StatusCode::OK, &mut headers).await.unwrap();
    assert_eq!(
        headers.get(http::header::CACHE_CONTROL).unwrap(),
        "max-age=5"
    );
    assert_eq!(headers.get(http::header::VARY).unwrap(), "Cookie");
}

#[tokio::test]
async fn start_fresh_ends_the_old_session_and_keeps_only_this_requests_data() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.start_fresh();
    stage(&session, "a.user", "\"ada\"");
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(
        !cookies[0].contains("Max-Age=0"),
        "a new cookie: {}",
        cookies[0]
    );
    assert!(
        h.store.load(&old.key()).await.unwrap().is_none(),
        "the old ID is dead"
    );
    assert_eq!(h.store.len(), 1);
    let pair = cookies[0].split(';').next().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::COOKIE, HeaderValue::from_str(pair).unwrap());
    let next = h.request(&headers).await;
    let state = next.state();
    assert_eq!(state.record.get("a.user"), Some("\"ada\""));
    assert_eq!(state.record.get("a.x"), None, "nothing from before login");
}

#[tokio::test]
async fn start_fresh_without_new_data_removes_the_cookie() {
    let h = harness();
    let (old, cookie) = h.stored().await;
    let session = h.request(&cookie).await;
    session.start_fresh();
    let cookies = set_cookies(&finish(&session, 200).await);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{}", cookies[0]);
    assert!(h.store.load(&old.key()).await.unwrap().is_none());
}

//! `#[session(counter)]` edges over real HTTP: a reset is saved as a
//! difference, a stored sum outside the field's type saturates, and a
//! counter of a destroyed session is not revived.

use crate::common;

use axum::routing::{get, post};
use axum::Router;
use reqwest::header::{COOKIE, SET_COOKIE};
use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{Key, MemoryStore, Session, SessionHandle, SessionId, SessionLayer};
use session_runtime::testing::InstrumentedStore;
use time::OffsetDateTime;

use common::{bare_client, TestServer};

#[derive(Session, Default, Debug)]
#[session(namespace = "c")]
struct Counts {
    #[session(counter)]
    views: u64,
    #[session(counter)]
    small: u8,
    #[session(counter)]
    signed: i8,
}

fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|mut c: Session<Counts>| async move {
                c.views += 1;
                c.views.to_string()
            }),
        )
        .route(
            "/reset",
            post(|mut c: Session<Counts>| async move {
                c.views = 0;
                "reset"
            }),
        )
        .route(
            "/read",
            get(
                |c: Session<Counts>| async move { format!("{} {} {}", c.views, c.small, c.signed) },
            ),
        )
        .route(
            "/slow-bump",
            post(|mut c: Session<Counts>| async move {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                c.views += 1;
                "bumped"
            }),
        )
        .route(
            "/logout",
            post(|h: SessionHandle| async move {
                h.destroy();
                "out"
            }),
        )
}

async fn start() -> (TestServer, InstrumentedStore<MemoryStore>) {
    let store = InstrumentedStore::new(MemoryStore::new());
    let layer = SessionLayer::builder(store.clone(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    (TestServer::start(routes().layer(layer)).await, store)
}

async fn get_with(server: &TestServer, path: &str, cookie: &str) -> String {
    let res = bare_client()
        .get(server.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 200);
    res.text().await.expect("a body")
}

async fn post_with(server: &TestServer, path: &str, cookie: &str) -> reqwest::Response {
    bare_client()
        .post(server.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("POST")
}

async fn new_session(server: &TestServer) -> String {
    let res = bare_client()
        .get(server.url("/"))
        .send()
        .await
        .expect("GET /");
    res.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn setting_a_counter_is_saved_as_a_difference() {
    let (server, store) = start().await;
    let cookie = new_session(&server).await;
    for _ in 0..4 {
        get_with(&server, "/", &cookie).await;
    }
    assert_eq!(get_with(&server, "/read", &cookie).await, "5 0 0");
    let res = post_with(&server, "/reset", &cookie).await;
    assert_eq!(res.status(), 200);
    let written = store.written();
    let (_, reset) = written.last().expect("the reset was saved");
    assert_eq!(
        reset.sets().count(),
        0,
        "a counter is never written as a value"
    );
    let increments: Vec<_> = reset
        .increments()
        .map(|i| (i.key.to_string(), i.delta))
        .collect();
    assert_eq!(increments, vec![("c.views".to_owned(), -5)]);
    assert_eq!(get_with(&server, "/read", &cookie).await, "0 0 0");
}

#[tokio::test]
async fn a_stored_sum_outside_the_field_type_saturates_at_its_bounds() {
    let (server, store) = start().await;
    let cookie = new_session(&server).await;
    let value = cookie.trim_start_matches("sid=");
    let key = SessionId::parse(&value[..32])
        .expect("the cookie ends with the ID")
        .key();
    let far = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let values = ChangeSet::new(far)
        .set("c.small", "300")
        .set("c.signed", "-999")
        .set("c.views", &*(i64::MAX - 3).to_string());
    let bump = ChangeSet::new(far).increment("c.views", 10, 0);
    for changes in [values, bump] {
        let outcome = store.inner().save(&key, &changes).await.expect("saved");
        assert_eq!(outcome, WriteOutcome::Applied);
    }
    // u8 holds at most 255, i8 at least -128; the store kept i64::MAX.
    assert_eq!(
        get_with(&server, "/read", &cookie).await,
        format!("{} 255 -128", i64::MAX)
    );
}

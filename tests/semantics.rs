//! SPEC's semantics 1-10 on the memory store, over real HTTP, with a store
//! wrapper that counts calls, records what is written, and fails on demand.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde::{Deserialize, Serialize};
use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::testing::InstrumentedStore;
use session_kit::{Key, MemoryStore, Session, SessionHandle, SessionId, SessionLayer};
use time::OffsetDateTime;

use common::{bare_client, TestServer};

#[derive(Session, Default, Debug)]
struct Profile {
    name: String,
    visits: u32,
}

#[derive(Serialize, Deserialize, Default, Debug, Clone, PartialEq)]
struct Item {
    sku: String,
    quantity: u32,
}

#[derive(Session, Default, Debug)]
#[session(namespace = "basket")]
struct Basket {
    items: Vec<Item>,
}

type Store = InstrumentedStore<MemoryStore>;

struct App {
    server: TestServer,
    store: Store,
    handler_ran: Arc<AtomicUsize>,
}

fn routes(ran: Arc<AtomicUsize>) -> Router {
    let count = move || {
        ran.fetch_add(1, Ordering::SeqCst);
    };
    let c1 = count.clone();
    let c2 = count.clone();
    let c3 = count.clone();
    let c4 = count.clone();
    Router::new()
        .route("/plain", get(|| async { "no session here" }))
        .route(
            "/read",
            get(
                move |p: Session<Profile>, b: Session<Basket>, h: SessionHandle| async move {
                    c1();
                    format!("{} {} {} {}", p.name, p.visits, b.items.len(), h.is_new())
                },
            ),
        )
        .route(
            "/visit",
            post(move |mut p: Session<Profile>| async move {
                c2();
                p.visits += 1;
                p.visits.to_string()
            }),
        )
        .route(
            "/name/{name}",
            post(
                move |mut p: Session<Profile>,
                      axum::extract::Path(name): axum::extract::Path<String>| async move {
                    c3();
                    p.name = name;
                    "ok"
                },
            ),
        )
        .route(
            "/basket/add",
            post(move |mut b: Session<Basket>| async move {
                c4();
                // A change deep inside a field, through a `&mut` path.
                match b.items.first_mut() {
                    Some(item) => item.quantity += 1,
                    None => b.items.push(Item {
                        sku: "apple".into(),
                        quantity: 1,
                    }),
                }
                "ok"
            }),
        )
        .route(
            "/touch-nothing",
            post(
                |mut p: Session<Profile>, mut b: Session<Basket>| async move {
                    // `&mut` taken, nothing changed: nothing is written.
                    let _ = &mut p.name;
                    p.visits += 0;
                    b.items.retain(|_| true);
                    "ok"
                },
            ),
        )
        .route(
            "/fail",
            post(|mut p: Session<Profile>| async move {
                p.visits += 100;
                (StatusCode::INTERNAL_SERVER_ERROR, "handler failed")
            }),
        )
        .route(
            "/late",
            post(|mut p: Session<Profile>| async move {
                // Moved into a task that outlives the request: its change
                // comes after the save and is not stored (a warning says so).
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    p.visits += 1000;
                });
                "spawned"
            }),
        )
        .route(
            "/twice",
            get(|a: Session<Profile>, b: Session<Profile>| async move {
                format!("{} {}", a.visits, b.visits)
            }),
        )
}

async fn app() -> App {
    let store = InstrumentedStore::new(MemoryStore::new());
    let ran = Arc::new(AtomicUsize::new(0));
    let layer = SessionLayer::builder(store.clone(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    App {
        server: TestServer::start(routes(ran.clone()).layer(layer)).await,
        store,
        handler_ran: ran,
    }
}

impl App {
    async fn send(&self, method: &str, path: &str, cookie: Option<&str>) -> Reply {
        let client = bare_client();
        let url = self.server.url(path);
        let mut req = match method {
            "GET" => client.get(url),
            _ => client.post(url),
        };
        if let Some(cookie) = cookie {
            req = req.header(COOKIE, cookie);
        }
        let res = req.send().await.expect("a response");
        let status = res.status().as_u16();
        let cookie = res.headers().get(SET_COOKIE).map(|v| {
            v.to_str()
                .expect("ascii")
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned()
        });
        Reply {
            status,
            cookie,
            body: res.text().await.expect("a body"),
        }
    }

    /// A session with a visit stored: its cookie.
    async fn session(&self) -> String {
        let reply = self.send("POST", "/visit", None).await;
        assert_eq!(reply.status, 200);
        reply.cookie.expect("a new session with data gets a cookie")
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    cookie: Option<String>,
    body: String,
}

fn id_of(cookie: &str) -> SessionId {
    let value = cookie.trim_start_matches("sid=");
    SessionId::parse(&value[..32]).expect("a signed cookie starts with the ID")
}

/// 1. A route that extracts no session does no store I/O, cookie or not.
#[tokio::test]
async fn a_route_without_a_session_does_no_store_io() {
    let app = app().await;
    let cookie = app.session().await;
    let before = app.store.calls();
    let reply = app.send("GET", "/plain", Some(&cookie)).await;
    assert_eq!((reply.status, reply.cookie), (200, None));
    assert_eq!(app.store.calls(), before);
}

/// 2. One store read per request, however many extractors.
#[tokio::test]
async fn three_extractors_cost_one_store_read() {
    let app = app().await;
    let cookie = app.session().await;
    let before = app.store.calls().loads;
    let reply = app.send("GET", "/read", Some(&cookie)).await;
    assert_eq!(reply.body, " 1 0 false");
    assert_eq!(app.store.calls().loads, before + 1);
}

/// 3. Reading writes nothing, and a new session without data is neither
/// stored nor given a cookie.
#[tokio::test]
async fn reading_writes_nothing_and_an_empty_new_session_is_not_stored() {
    let app = app().await;
    let reply = app.send("GET", "/read", None).await;
    assert_eq!(
        (reply.status, reply.cookie, reply.body.as_str()),
        (200, None, " 0 0 true")
    );
    let reply = app.send("POST", "/touch-nothing", None).await;
    assert_eq!((reply.status, reply.cookie), (200, None));
    assert_eq!(app.store.calls().writes(), 0);
    assert!(app.store.inner().is_empty());

    let cookie = app.session().await;
    let writes = app.store.calls().writes();
    for path in ["/read", "/touch-nothing"] {
        let method = if path == "/read" { "GET" } else { "POST" };
        let reply = app.send(method, path, Some(&cookie)).await;
        assert_eq!((reply.status, reply.cookie), (200, None), "{path}");
    }
    assert_eq!(app.store.calls().writes(), writes, "no resave");
}

/// 3. A 5xx response saves nothing.
#[tokio::test]
async fn a_failed_handler_saves_nothing() {
    let app = app().await;
    let reply = app.send("POST", "/fail", None).await;
    assert_eq!((reply.status, reply.cookie), (500, None));
    let cookie = app.session().await;
    let writes = app.store.calls().writes();
    let reply = app.send("POST", "/fail", Some(&cookie)).await;
    assert_eq!(reply.status, 500);
    assert_eq!(app.store.calls().writes(), writes);
    assert_eq!(
        app.send("GET", "/read", Some(&cookie)).await.body,
        " 1 0 false"
    );
}

/// 4. A request that changes one field writes that field alone.
#[tokio::test]
async fn a_change_to_one_field_writes_that_field_alone() {
    let app = app().await;
    let cookie = app.session().await;
    app.send("POST", "/name/ada", Some(&cookie)).await;
    app.send("POST", "/basket/add", Some(&cookie)).await;
    app.send("POST", "/basket/add", Some(&cookie)).await;
    let writes = app.store.written();
    let fields: Vec<Vec<&str>> = writes
        .iter()
        .map(|(_, c)| c.sets().map(|(k, _)| k).collect())
        .collect();
    assert_eq!(
        fields,
        vec![
            vec!["profile.visits"],
            vec!["profile.name"],
            vec!["basket.items"],
            vec!["basket.items"],
        ]
    );
    let (_, last) = &writes[3];
    let (_, json) = last.sets().next().expect("one set");
    assert_eq!(
        json, r#"[{"sku":"apple","quantity":2}]"#,
        "a deep change is seen"
    );
}

/// 6. The store is keyed by the SHA-256 digest of the ID, never the ID.
#[tokio::test]
async fn the_store_sees_the_digest_of_the_id_never_the_id() {
    let app = app().await;
    let cookie = app.session().await;
    let id = id_of(&cookie);
    let (key, _) = app.store.written()[0].clone();
    assert_eq!(key, id.key());
    assert!(!key.to_hex().contains(id.expose()));
    assert_eq!(id.expose().len(), 32, "192 bits of URL-safe base64");
}

/// 7. An expired session never loads, even with its cookie replayed.
#[tokio::test]
async fn an_expired_session_never_loads() {
    let store = MemoryStore::new();
    let layer = SessionLayer::builder(store.clone(), Key::generate())
        .secure(false)
        .inactivity_timeout(std::time::Duration::from_secs(1))
        .build()
        .expect("a valid configuration");
    let server = TestServer::start(routes(Arc::default()).layer(layer)).await;
    let client = bare_client();
    let res = client
        .post(server.url("/visit"))
        .send()
        .await
        .expect("POST");
    let cookie = res.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .unwrap_or("")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let res = client
        .get(server.url("/read"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        res.text().await.expect("a body"),
        " 0 0 true",
        "a fresh session"
    );
}

/// 8. Stored data that no longer decodes resets that field alone.
#[tokio::test]
async fn an_undecodable_field_resets_to_its_default_and_the_others_survive() {
    let app = app().await;
    let cookie = app.session().await;
    app.send("POST", "/name/ada", Some(&cookie)).await;
    // A deploy changed `visits` from a number to something else.
    let key = id_of(&cookie).key();
    let far = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let outcome = app
        .store
        .inner()
        .save(
            &key,
            &ChangeSet::new(far).set("profile.visits", r#"{"old":"shape"}"#),
        )
        .await
        .expect("the store works");
    assert_eq!(outcome, WriteOutcome::Applied);
    let reply = app.send("GET", "/read", Some(&cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ada 0 0 false"));
    // The next change writes a good value back.
    assert_eq!(app.send("POST", "/visit", Some(&cookie)).await.body, "1");
    assert_eq!(
        app.send("GET", "/read", Some(&cookie)).await.body,
        "ada 1 0 false"
    );
}

/// 9. A store that is down: 503 before the handler, 500 when the save fails,
/// and the app recovers by itself.
#[tokio::test]
async fn a_store_outage_gives_503_before_and_500_after_the_handler() {
    let app = app().await;
    let cookie = app.session().await;

    app.store.fail_reads(true);
    let ran = app.handler_ran.load(Ordering::SeqCst);
    let reply = app.send("POST", "/visit", Some(&cookie)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        "the session store is unavailable; try again shortly"
    );
    assert_eq!(
        app.handler_ran.load(Ordering::SeqCst),
        ran,
        "the handler never ran"
    );
    app.store.fail_reads(false);

    app.store.fail_writes(true);
    let reply = app.send("POST", "/visit", Some(&cookie)).await;
    assert_eq!(
        reply.status, 500,
        "a failed save is not reported as success"
    );
    let reply = app.send("POST", "/visit", None).await;
    assert_eq!((reply.status, reply.cookie), (500, None));
    app.store.fail_writes(false);

    assert_eq!(app.send("POST", "/visit", Some(&cookie)).await.body, "2");
}

/// A `Session<T>` moved into a task that outlives its request cannot save:
/// its change is dropped, not half-applied, and nothing panics.
#[tokio::test]
async fn a_session_changed_after_its_response_saves_nothing() {
    let app = app().await;
    let cookie = app.session().await;
    let writes = app.store.calls().writes();
    let reply = app.send("POST", "/late", Some(&cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "spawned"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.store.calls().writes(), writes);
    assert_eq!(
        app.send("GET", "/read", Some(&cookie)).await.body,
        " 1 0 false"
    );
}

/// A handler on a router without the layer gets a typed rejection that names
/// the fix.
#[tokio::test]
async fn a_router_without_the_layer_names_the_fix() {
    let server = TestServer::start(routes(Arc::default())).await;
    let res = bare_client()
        .get(server.url("/read"))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 500);
    let body = res.text().await.expect("a body");
    assert!(body.contains("SessionLayer"), "{body}");
}

/// Taking one session type twice in one handler is refused, not silently
/// half-saved.
#[tokio::test]
async fn taking_one_session_type_twice_is_refused() {
    let app = app().await;
    let reply = app.send("GET", "/twice", None).await;
    assert_eq!(reply.status, 500);
    assert!(
        reply.body.contains("extract each session type once"),
        "{}",
        reply.body
    );
}

/// Two derived structs share one session and one cookie.
#[tokio::test]
async fn two_namespaces_share_one_session_and_one_cookie() {
    let app = app().await;
    let cookie = app.session().await;
    let reply = app.send("POST", "/basket/add", Some(&cookie)).await;
    assert_eq!(
        (reply.status, reply.cookie),
        (200, None),
        "the same cookie serves both"
    );
    assert_eq!(
        app.send("GET", "/read", Some(&cookie)).await.body,
        " 1 1 false"
    );
}

/// 10. Secrets never print.
#[test]
fn ids_and_keys_print_redacted() {
    let id = SessionId::generate().expect("entropy");
    assert_eq!(format!("{id:?}"), "SessionId(REDACTED)");
    assert_eq!(format!("{:?}", Key::generate()), "Key(REDACTED)");
    let flag = AtomicBool::new(true);
    assert!(flag.load(Ordering::SeqCst));
}

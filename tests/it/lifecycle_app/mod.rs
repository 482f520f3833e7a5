//! The small app that the cookie-security and expiry tests drive over real
//! HTTP: a counter to write, a read-only route, login with regeneration and
//! logout, over a memory store that counts its calls.
#![allow(dead_code)] // each test file uses its own part of this module

use axum::routing::{get, post};
use axum::Router;
use reqwest::header::{COOKIE, SET_COOKIE};
use session_kit::{Key, MemoryStore, Session, SessionHandle, SessionLayer, SessionLayerBuilder};
use session_runtime::testing::InstrumentedStore;

use crate::common::{bare_client, TestServer};

/// The store every test app uses: a memory store that counts calls.
pub(crate) type Store = InstrumentedStore<MemoryStore>;

#[derive(Session, Default)]
pub(crate) struct Counter {
    #[session(counter)]
    n: u64,
}

#[derive(Session, Default)]
pub(crate) struct Account {
    user: Option<String>,
}

/// `GET /bump`: adds one to the counter and answers it.
async fn bump(mut counter: Session<Counter>) -> String {
    counter.n += 1;
    counter.n.to_string()
}

/// `GET /peek`: reads the counter without changing anything; `new` when no
/// live session came with the request.
async fn peek(handle: SessionHandle, counter: Session<Counter>) -> String {
    if handle.is_new() {
        "new".to_owned()
    } else {
        counter.n.to_string()
    }
}

/// `GET /id`: the session ID, so a test can look for it in the cookie.
async fn id(handle: SessionHandle) -> String {
    handle
        .id()
        .map_or_else(|| "none".to_owned(), |id| id.expose().to_owned())
}

/// `POST /login`: stores a user and regenerates the ID.
async fn login(handle: SessionHandle, mut account: Session<Account>) -> &'static str {
    account.user = Some("ada".to_owned());
    handle.regenerate();
    "Logged in"
}

/// `GET /me`: the user, or `nobody`.
async fn me(account: Session<Account>) -> String {
    account.user.clone().unwrap_or_else(|| "nobody".to_owned())
}

/// `POST /logout`: destroys the session.
async fn logout(handle: SessionHandle) -> &'static str {
    handle.destroy();
    "Logged out"
}

/// The routes, without the layer.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/bump", get(bump))
        .route("/peek", get(peek))
        .route("/id", get(id))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
}

/// A fresh counting store.
pub(crate) fn store() -> Store {
    InstrumentedStore::new(MemoryStore::new())
}

/// A layer builder over (a clone of) `store`.
pub(crate) fn builder(store: &Store, key: Key) -> SessionLayerBuilder {
    SessionLayer::builder(store.clone(), key)
}

/// Serves the routes behind `layer`.
pub(crate) async fn serve(layer: SessionLayer) -> TestServer {
    TestServer::start(routes().layer(layer)).await
}

/// One response: its status, its body and its `Set-Cookie` headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) set_cookies: Vec<String>,
}

impl Reply {
    /// The only `Set-Cookie` header, if there is one.
    pub(crate) fn set_cookie(&self) -> Option<&str> {
        assert!(
            self.set_cookies.len() <= 1,
            "one Set-Cookie at most: {:?}",
            self.set_cookies
        );
        self.set_cookies.first().map(String::as_str)
    }

    /// The `name=value` pair of the cookie set, ready for a `Cookie` header.
    pub(crate) fn cookie(&self) -> Option<String> {
        self.set_cookie()
            .map(|set| set.split(';').next().unwrap_or("").to_owned())
    }

    /// Whether the only `Set-Cookie` removes the session cookie (a dead
    /// cookie is cleared, so the client stops sending it).
    pub(crate) fn clears_cookie(&self) -> bool {
        self.set_cookie()
            .is_some_and(|set| set.starts_with("sid=;") && set.contains("Max-Age=0"))
    }

    /// The cookie set, parsed.
    pub(crate) fn parsed(&self) -> cookie::Cookie<'static> {
        let set = self.set_cookie().expect("a Set-Cookie header");
        cookie::Cookie::parse(set.to_owned()).expect("a valid Set-Cookie")
    }
}

/// Sends a request with this `Cookie` header and these extra headers.
pub(crate) async fn send_with(
    server: &TestServer,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let client = bare_client();
    let url = server.url(path);
    let mut req = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        other => panic!("no {other} in these tests"),
    };
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("a response");
    let status = res.status().as_u16();
    let set_cookies = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("an ASCII Set-Cookie").to_owned())
        .collect();
    Reply {
        status,
        body: res.text().await.expect("a body"),
        set_cookies,
    }
}

/// Sends a request with this `Cookie` header.
pub(crate) async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> Reply {
    send_with(server, method, path, cookie, &[]).await
}

/// `GET /bump` with no cookie: the new session's cookie.
pub(crate) async fn new_session(server: &TestServer) -> String {
    let reply = send(server, "GET", "/bump", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "1"));
    reply
        .cookie()
        .expect("a new session with data gets a cookie")
}

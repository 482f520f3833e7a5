//! The three servers every benchmark compares, with one counter handler:
//! plain axum (no session), session-kit's `MemoryStore`, and tower-sessions'
//! `MemoryStore`. Each serves `GET /` (count this visit) and `GET /peek`
//! (read the count, change nothing); the two session servers also serve
//! `GET /cart/fill` (put a 16 KiB cart in the session, beside the counter).

// Each bench target uses a part of this module; the rest is not dead code.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Request, Uri};
use axum::{routing::get, Router};
use session_kit::{CookieStore, Key, MemoryStore, Session, SessionLayer};
use tower::ServiceExt as _;

/// The visits counter, as in `examples/visits.rs`: a store-side increment.
#[derive(Session, Default, Debug)]
pub(crate) struct Visits {
    #[session(counter)]
    pub(crate) page_views: u64,
}

/// The same counter as a plain field, saved as a value (for the cost of a
/// counter save against a plain field save).
#[derive(Session, Default, Debug)]
#[session(namespace = "plain_visits")]
pub(crate) struct PlainVisits {
    page_views: u64,
}

/// A cart kept beside the counter in its own struct, to make a big session
/// whose counter requests never extract it.
#[derive(Session, Default, Debug)]
#[session(namespace = "cart")]
pub(crate) struct Cart {
    items: Vec<String>,
}

/// How many bytes of item names `big_cart` holds.
pub(crate) const CART_BYTES: usize = 16 * 1024;

/// 16 KiB of cart: 64 items of 256 bytes (as in `benches/redis_store.rs`).
pub(crate) fn big_cart() -> Vec<String> {
    (0..CART_BYTES / 256)
        .map(|i| format!("{i:04}{}", "x".repeat(252)))
        .collect()
}

fn answer(n: u64) -> String {
    if n == 1 {
        "Welcome to this page for the first time!".to_owned()
    } else {
        format!("You visited this page {n} times")
    }
}

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Plain axum 0.8: no session, the count is kept nowhere.
    Axum,
    /// session-kit with its `MemoryStore`.
    SessionKit,
    /// tower-sessions 0.15 with its `MemoryStore`.
    TowerSessions,
    /// session-kit with its `CookieStore`: the counter in the cookie. Served
    /// by `benches/server.rs` only: a returning visitor's cookie does not
    /// count on (the count is in the cookie), which the in-process benches
    /// check for.
    SessionKitCookie,
}

impl Variant {
    pub(crate) const ALL: [Variant; 3] =
        [Variant::Axum, Variant::SessionKit, Variant::TowerSessions];

    /// Every server `benches/server.rs` can run.
    pub(crate) const SERVERS: [Variant; 4] = [
        Variant::Axum,
        Variant::SessionKit,
        Variant::TowerSessions,
        Variant::SessionKitCookie,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Axum => "axum",
            Variant::SessionKit => "session-kit",
            Variant::TowerSessions => "tower-sessions",
            Variant::SessionKitCookie => "session-kit-cookie",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::SERVERS.into_iter().find(|v| v.name() == name)
    }

    /// The variant's router, with its session layer and a fresh store.
    ///
    /// Every router here is finalized with `with_state(())`, as
    /// `axum::serve` does to the router it is given: a router that is not
    /// turns each handler into a route, and applies the layers to it, on
    /// every request it answers, which an in-process bench would count.
    pub(crate) fn router(self) -> Router {
        match self {
            Variant::Axum => axum_router(),
            Variant::SessionKit => session_kit_router(),
            Variant::TowerSessions => tower_sessions_router(),
            Variant::SessionKitCookie => session_kit_cookie_router(),
        }
    }
}

// Plain axum: the handler formats a number and keeps nothing.

async fn axum_count() -> String {
    answer(std::hint::black_box(2))
}

async fn axum_peek() -> String {
    answer(std::hint::black_box(2))
}

pub(crate) fn axum_router() -> Router {
    Router::new()
        .route("/", get(axum_count))
        .route("/peek", get(axum_peek))
        .with_state(())
}

// session-kit.

async fn kit_count(mut visits: Session<Visits>) -> String {
    visits.page_views += 1;
    answer(visits.page_views)
}

async fn kit_peek(visits: Session<Visits>) -> String {
    answer(visits.page_views)
}

/// The counter with a 1 ms wait between reading and writing, as a handler
/// that awaits a database or an API call has.
async fn kit_count_slow(mut visits: Session<Visits>) -> String {
    let seen = visits.page_views;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    visits.page_views = seen + 1;
    answer(visits.page_views)
}

async fn kit_fill_cart(mut cart: Session<Cart>) -> &'static str {
    cart.items = big_cart();
    "filled"
}

async fn kit_plain_count(mut visits: Session<PlainVisits>) -> String {
    visits.page_views += 1;
    answer(visits.page_views)
}

fn kit_layer(store: MemoryStore) -> SessionLayer {
    // Built once per router. The configuration is the examples' one, so it
    // cannot fail.
    match SessionLayer::builder(store, Key::generate())
        .secure(false)
        .build()
    {
        Ok(layer) => layer,
        Err(err) => panic!("session-kit layer: {err}"),
    }
}

pub(crate) fn session_kit_router() -> Router {
    session_kit_router_on(MemoryStore::new())
}

/// session-kit's router on a given store (a clone shares its sessions), so a
/// bench can fill the store or count its sessions.
pub(crate) fn session_kit_router_on(store: MemoryStore) -> Router {
    Router::new()
        .route("/", get(kit_count))
        .route("/peek", get(kit_peek))
        .route("/plain", get(kit_plain_count))
        .route("/slow", get(kit_count_slow))
        .route("/cart/fill", get(kit_fill_cart))
        .layer(kit_layer(store))
        .with_state(())
}

/// The same routes on `CookieStore`.
pub(crate) fn session_kit_cookie_router() -> Router {
    let layer = match SessionLayer::builder(CookieStore::new(), Key::generate())
        .secure(false)
        .build()
    {
        Ok(layer) => layer,
        Err(err) => panic!("session-kit layer: {err}"),
    };
    Router::new()
        .route("/", get(kit_count))
        .route("/peek", get(kit_peek))
        .layer(layer)
        .with_state(())
}

// tower-sessions, as its README shows it: a string key and a JSON value.

async fn ts_count(session: tower_sessions::Session) -> Result<String, axum::http::StatusCode> {
    let n: u64 = session
        .get("n")
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?
        .unwrap_or(0)
        + 1;
    session
        .insert("n", n)
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(answer(n))
}

/// The counter with a 1 ms wait between reading and writing.
async fn ts_count_slow(session: tower_sessions::Session) -> Result<String, axum::http::StatusCode> {
    let n: u64 = session
        .get("n")
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?
        .unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    session
        .insert("n", n + 1)
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(answer(n + 1))
}

async fn ts_peek(session: tower_sessions::Session) -> Result<String, axum::http::StatusCode> {
    let n: u64 = session
        .get("n")
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?
        .unwrap_or(0);
    Ok(answer(n))
}

async fn ts_fill_cart(
    session: tower_sessions::Session,
) -> Result<&'static str, axum::http::StatusCode> {
    session
        .insert("cart", big_cart())
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok("filled")
}

pub(crate) fn tower_sessions_router() -> Router {
    tower_sessions_router_on(tower_sessions::MemoryStore::default())
}

/// tower-sessions' router on a given store (a clone shares its sessions).
pub(crate) fn tower_sessions_router_on(store: tower_sessions::MemoryStore) -> Router {
    let layer = tower_sessions::SessionManagerLayer::new(store).with_secure(false);
    Router::new()
        .route("/", get(ts_count))
        .route("/peek", get(ts_peek))
        .route("/slow", get(ts_count_slow))
        .route("/cart/fill", get(ts_fill_cart))
        .layer(layer)
        .with_state(())
}

/// A cookie of the length of session-kit's signed one, for plain axum's
/// returning rows, so every server is sent the same request.
pub(crate) const DUMMY_COOKIE: &str =
    "sid=wz2q0T1Tv8uA5Pq0fWk3nJm6hR7cYb2xLd9eVg4sKa0=AbCdEfGhIjKlMnOpQrStUvWxYz012345";

/// The `name=value` part of a `Set-Cookie` value.
pub(crate) fn cookie_pair(set_cookie: &HeaderValue) -> Option<&str> {
    Some(set_cookie.to_str().ok()?.split(';').next()?.trim())
}

/// The `name=value` part of a response's `Set-Cookie`, if any.
pub(crate) fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie_pair(headers.get(SET_COOKIE)?).map(str::to_owned)
}

/// One `GET` through the router, in process (`oneshot`), with the cookie if
/// given; the body is read to the end and dropped. Returns the response's
/// `Set-Cookie`, taken out of it. Panics on an answer that is not a success.
pub(crate) async fn send(
    app: &Router,
    uri: &Uri,
    cookie: Option<&HeaderValue>,
) -> Option<HeaderValue> {
    let mut req = Request::new(Body::empty());
    *req.uri_mut() = uri.clone();
    if let Some(cookie) = cookie {
        req.headers_mut().insert(COOKIE, cookie.clone());
    }
    let mut res = match app.clone().oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    assert!(res.status().is_success(), "{uri}: {}", res.status());
    let set = res.headers_mut().remove(SET_COOKIE);
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("a full body");
    std::hint::black_box(body);
    set
}

/// Shuffles in place with a fixed xorshift generator (Fisher-Yates), so a
/// run is the same from one time to the next.
pub(crate) fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// The count in a counter answer.
pub(crate) fn count_in(body: &str) -> Option<u64> {
    if body.starts_with("Welcome") {
        return Some(1);
    }
    body.strip_prefix("You visited this page ")?
        .strip_suffix(" times")?
        .parse()
        .ok()
}

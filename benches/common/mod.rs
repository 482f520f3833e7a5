//! The three servers every benchmark compares, with one counter handler:
//! plain axum (no session), session-kit's `MemoryStore`, and tower-sessions'
//! `MemoryStore`. Each serves `GET /` (count this visit) and `GET /peek`
//! (read the count, change nothing).

// Each bench target uses a part of this module; the rest is not dead code.
#![allow(dead_code)]

use axum::{routing::get, Router};
use session_kit::{CookieStore, Key, MemoryStore, Session, SessionLayer};

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

async fn kit_plain_count(mut visits: Session<PlainVisits>) -> String {
    visits.page_views += 1;
    answer(visits.page_views)
}

fn kit_layer() -> SessionLayer {
    // Built once per router, on a fresh store. The configuration is the
    // examples' one, so it cannot fail.
    match SessionLayer::builder(MemoryStore::new(), Key::generate())
        .secure(false)
        .build()
    {
        Ok(layer) => layer,
        Err(err) => panic!("session-kit layer: {err}"),
    }
}

pub(crate) fn session_kit_router() -> Router {
    Router::new()
        .route("/", get(kit_count))
        .route("/peek", get(kit_peek))
        .route("/plain", get(kit_plain_count))
        .route("/slow", get(kit_count_slow))
        .layer(kit_layer())
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

pub(crate) fn tower_sessions_router() -> Router {
    let layer = tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
        .with_secure(false);
    Router::new()
        .route("/", get(ts_count))
        .route("/peek", get(ts_peek))
        .route("/slow", get(ts_count_slow))
        .layer(layer)
}

/// The `name=value` part of a response's `Set-Cookie`, if any.
pub(crate) fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::SET_COOKIE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_owned())
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

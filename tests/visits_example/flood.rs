//! A flood of cookie-less requests on the `visits` router: the default store
//! is bounded, nothing panics, and the visitors who come back keep their
//! sessions.

use crate::visits;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use session_kit::{Key, MemoryStore, SessionLayer};
use tower::ServiceExt as _;

fn app(store: MemoryStore) -> Router {
    let layer = SessionLayer::builder(store, Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    visits::app().layer(layer)
}

/// One `GET /`: the status, the body and the cookie pair it set, if any.
async fn visit(app: &Router, cookie: Option<&str>) -> (StatusCode, String, Option<String>) {
    let mut req = Request::get("/");
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible");
    let status = res.status();
    let set = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .expect("a body");
    (status, String::from_utf8_lossy(&body).into_owned(), set)
}

#[test]
fn the_default_memory_store_is_bounded() {
    assert_eq!(MemoryStore::DEFAULT_CAPACITY, 1_000_000);
    let text = format!("{:?}", MemoryStore::new());
    assert!(text.contains("capacity: Some(1000000)"), "{text}");
}

#[tokio::test]
async fn cookie_less_requests_past_the_bound_keep_the_store_bounded_and_returning_visitors_alive() {
    let capacity = 64 * 8;
    let store = MemoryStore::with_capacity(capacity);
    let app = app(store.clone());

    // Returning visitors: a first visit, then a second that the store sees.
    let mut regulars = Vec::new();
    for _ in 0..64 {
        let (_, _, cookie) = visit(&app, None).await;
        let cookie = cookie.expect("a first visit gets a cookie");
        let (status, body, _) = visit(&app, Some(&cookie)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "You visited this page 2 times")
        );
        regulars.push(cookie);
    }

    // Ten times the capacity of anonymous one-visit requests.
    for _ in 0..10 * capacity {
        let (status, body, _) = visit(&app, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "Welcome to this page for the first time!");
        assert!(
            store.len() <= capacity,
            "bounded: {} > {capacity}",
            store.len()
        );
    }

    for cookie in &regulars {
        let (status, body, _) = visit(&app, Some(cookie)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "You visited this page 3 times"),
            "a returning visitor kept the session through the flood"
        );
    }
}

//! The request path, in process (no network): each router driven with
//! `tower::ServiceExt::oneshot`, for a new visitor, a returning visitor whose
//! counter changes and a read-only returning visitor; plus the cost of a
//! counter save against a plain field save.
//!
//! ```text
//! cargo bench --bench request_path
//! python3 benches/criterion_table.py
//! ```

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header::COOKIE, Request};
use axum::Router;
use criterion::Criterion;
use session_kit::store::{ChangeSet, SessionStore};
use session_kit::{MemoryStore, SessionId};
use time::OffsetDateTime;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

use common::{cookie_of, count_in, Variant, DUMMY_COOKIE};

/// The three rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Row {
    NewVisitor,
    ReturningCounter,
    ReturningReadOnly,
}

impl Row {
    const ALL: [Row; 3] = [
        Row::NewVisitor,
        Row::ReturningCounter,
        Row::ReturningReadOnly,
    ];

    fn name(self) -> &'static str {
        match self {
            Row::NewVisitor => "new_visitor",
            Row::ReturningCounter => "returning_counter",
            Row::ReturningReadOnly => "returning_read_only",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Row::ReturningReadOnly => "/peek",
            _ => "/",
        }
    }
}

/// One request through the router, its body read to the end.
async fn hit(app: Router, path: &'static str, cookie: Option<&str>) -> (Option<String>, Bytes) {
    let mut req = Request::builder().uri(path);
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie);
    }
    let req = req.body(Body::empty()).expect("a valid request");
    let res = app.oneshot(req).await.expect("routers are infallible");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    let set = cookie_of(res.headers());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("a full body");
    (set, body)
}

fn count(body: &Bytes) -> u64 {
    count_in(std::str::from_utf8(body).expect("utf-8")).expect("a counter answer")
}

/// A returning visitor's cookie, checked: two visits with it count 2 and 3.
fn returning_cookie(rt: &Runtime, app: &Router, path: &'static str, variant: Variant) -> String {
    if variant == Variant::Axum {
        return DUMMY_COOKIE.to_owned();
    }
    rt.block_on(async {
        let (set, body) = hit(app.clone(), path, None).await;
        assert_eq!(count(&body), 1);
        let cookie = set.expect("a first visit sets the cookie");
        for expected in [2, 3] {
            let (_, body) = hit(app.clone(), path, Some(&cookie)).await;
            assert_eq!(
                count(&body),
                expected,
                "{}: the cookie works",
                variant.name()
            );
        }
        cookie
    })
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn request_path(c: &mut Criterion) {
    let rt = runtime();
    for row in Row::ALL {
        let mut group = c.benchmark_group(row.name());
        for variant in Variant::ALL {
            let app = variant.router();
            let cookie = match row {
                Row::NewVisitor => None,
                _ => Some(returning_cookie(&rt, &app, "/", variant)),
            };
            let cookie = cookie.as_deref();
            let path = row.path();
            group.bench_function(variant.name(), |b| {
                b.to_async(&rt).iter(|| hit(app.clone(), path, cookie));
            });
        }
        group.finish();
    }
}

/// A counter save against a plain field save: through the whole request path
/// on session-kit, and at the store alone.
fn counter_save(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("save_request");
    let app = Variant::SessionKit.router();
    for (name, path) in [("counter", "/"), ("plain_field", "/plain")] {
        let cookie = returning_cookie(&rt, &app, path, Variant::SessionKit);
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| hit(app.clone(), path, Some(&cookie)));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("save_store");
    let store = MemoryStore::new();
    let key = SessionId::generate().expect("entropy").key();
    let expires_at = OffsetDateTime::now_utc() + time::Duration::hours(24);
    let first = ChangeSet::new(expires_at)
        .increment("visits.page_views", 1, 0)
        .set("plain_visits.page_views", "1");
    rt.block_on(store.create(&key, &first)).expect("created");
    group.bench_function("counter", |b| {
        b.to_async(&rt).iter(|| async {
            // What a request that did `page_views += 1` on a counter saves.
            let changes = ChangeSet::new(expires_at).increment("visits.page_views", 1, 0);
            store.save(&key, &changes).await.expect("saved")
        });
    });
    let mut n = 1u64;
    group.bench_function("plain_field", |b| {
        b.to_async(&rt).iter(|| {
            // What a request that did `page_views += 1` on a plain field
            // saves: the new value, encoded.
            n += 1;
            let changes = ChangeSet::new(expires_at).set(
                "plain_visits.page_views",
                serde_json::to_string(&n).expect("a number"),
            );
            let store = &store;
            async move { store.save(&key, &changes).await.expect("saved") }
        });
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    request_path(&mut c);
    counter_save(&mut c);
    c.final_summary();
}

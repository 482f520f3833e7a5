//! Memory per live session at one million sessions, for session-kit's
//! `MemoryStore` and tower-sessions' `MemoryStore`, each filled with
//! one-counter sessions two ways: through its store's public API, and by
//! new-visitor requests through its session layer (`GET /` of the counter
//! router in `benches/common`, driven with `oneshot`).
//!
//! A counting global allocator tracks live heap bytes; the figure is the
//! growth of live bytes from the empty store to the full one, divided by the
//! number of sessions. It counts what the program asked for, not the
//! allocator's own per-block overhead, so the resident set (also printed)
//! is the upper bound.
//!
//! ```text
//! cargo bench --bench memory
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

mod common;

use std::alloc::System;
use std::process::Command;

use axum::http::Uri;
use axum::Router;

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use time::{Duration, OffsetDateTime};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// How many sessions each store holds when measured.
const SESSIONS: usize = 1_000_000;

fn live_bytes() -> i64 {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

/// The resident set of this process, in bytes (Linux only; 0 elsewhere).
fn resident_bytes() -> i64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// One measurement: live heap and resident growth per session.
struct Measure {
    heap: i64,
    rss: i64,
}

impl Measure {
    fn around(fill: impl FnOnce() -> Box<dyn std::any::Any>) -> (Self, Box<dyn std::any::Any>) {
        let (heap0, rss0) = (live_bytes(), resident_bytes());
        let kept = fill();
        let (heap1, rss1) = (live_bytes(), resident_bytes());
        let n = SESSIONS as i64;
        (
            Self {
                heap: (heap1 - heap0) / n,
                rss: (rss1 - rss0) / n,
            },
            kept,
        )
    }
}

fn session_kit(rt: &tokio::runtime::Runtime) -> Measure {
    use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
    use session_kit::{MemoryStore, SessionId};

    // The keys are made first, so only the store's growth is counted.
    let keys: Vec<_> = (0..SESSIONS)
        .map(|_| SessionId::generate().expect("entropy").key())
        .collect();
    let expires_at = OffsetDateTime::now_utc() + Duration::hours(24);
    let (measure, store) = Measure::around(|| {
        let store = MemoryStore::unbounded();
        rt.block_on(async {
            for key in &keys {
                // What `visits.page_views += 1` on a new session creates.
                let changes = ChangeSet::new(expires_at).increment("visits.page_views", 1, 0);
                let outcome = store.create(key, &changes).await.expect("created");
                assert_eq!(outcome, WriteOutcome::Applied);
            }
        });
        assert_eq!(store.len(), SESSIONS);
        Box::new(store)
    });
    drop(store);
    measure
}

fn tower_sessions(rt: &tokio::runtime::Runtime) -> Measure {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::{MemoryStore, SessionStore};

    let ids: Vec<Id> = (0..SESSIONS).map(|_| Id::default()).collect();
    let expiry_date = OffsetDateTime::now_utc() + Duration::hours(24);
    let (measure, store) = Measure::around(|| {
        let store = MemoryStore::default();
        rt.block_on(async {
            for id in &ids {
                // What `session.insert("n", 1)` on a new session creates.
                let mut record = Record {
                    id: *id,
                    data: [("n".to_owned(), serde_json::json!(1u64))].into(),
                    expiry_date,
                };
                store.create(&mut record).await.expect("created");
            }
        });
        Box::new(store)
    });
    drop(store);
    measure
}

/// Fills a store through its router: `SESSIONS` new visitors, each
/// `GET /` without a cookie (the counter's first visit), the response read
/// to the end and dropped.
fn by_requests(rt: &tokio::runtime::Runtime, app: &Router) {
    let uri = Uri::from_static("/");
    rt.block_on(async {
        for _ in 0..SESSIONS {
            let set = common::send(app, &uri, None).await;
            assert!(set.is_some(), "a new visitor gets a cookie");
        }
    });
}

fn session_kit_requests(rt: &tokio::runtime::Runtime) -> Measure {
    let store = session_kit::MemoryStore::unbounded();
    let app = common::session_kit_router_on(store.clone());
    let (measure, kept) = Measure::around(|| {
        by_requests(rt, &app);
        assert_eq!(store.len(), SESSIONS);
        Box::new(())
    });
    drop(kept);
    measure
}

fn tower_sessions_requests(rt: &tokio::runtime::Runtime) -> Measure {
    let app = common::tower_sessions_router_on(tower_sessions::MemoryStore::default());
    let (measure, kept) = Measure::around(|| {
        by_requests(rt, &app);
        Box::new(())
    });
    drop(kept);
    measure
}

/// The stores measured, each in a process of its own: (argument, label,
/// the row its heap is compared with).
const STORES: [(&str, &str, &str); 4] = [
    (
        "session-kit",
        "session-kit MemoryStore, store API",
        "tower-sessions",
    ),
    (
        "tower-sessions",
        "tower-sessions MemoryStore, store API",
        "tower-sessions",
    ),
    (
        "session-kit-requests",
        "session-kit MemoryStore, by requests",
        "tower-sessions-requests",
    ),
    (
        "tower-sessions-requests",
        "tower-sessions MemoryStore, by requests",
        "tower-sessions-requests",
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Each store is measured in a process of its own, so one's freed pages
    // do not flatter the other's resident set.
    match args
        .iter()
        .position(|a| a == "--store")
        .map(|i| args.get(i + 1))
    {
        Some(Some(which)) => {
            let m = match which.as_str() {
                "session-kit" => session_kit(&rt),
                "tower-sessions" => tower_sessions(&rt),
                "session-kit-requests" => session_kit_requests(&rt),
                "tower-sessions-requests" => tower_sessions_requests(&rt),
                other => panic!("unknown store {other}"),
            };
            println!("{which}\t{}\t{}", m.heap, m.rss);
        }
        _ => {
            let exe = std::env::current_exe().expect("own path");
            let mut rows = Vec::new();
            for (which, _, _) in STORES {
                let out = Command::new(&exe)
                    .args(["--bench", "--store", which])
                    .output()
                    .expect("the measuring process runs");
                assert!(out.status.success(), "{which}: {out:?}");
                let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let cols: Vec<i64> = line
                    .split('\t')
                    .skip(1)
                    .map(|c| c.parse().expect("a number"))
                    .collect();
                rows.push((which, cols[0], cols[1]));
            }
            let heap_of = |which: &str| {
                rows.iter()
                    .find(|(w, _, _)| *w == which)
                    .map(|(_, heap, _)| *heap as f64)
                    .expect("measured")
            };
            println!("| store | live heap per session | resident set per session | heap vs tower-sessions |");
            println!("| --- | ---: | ---: | ---: |");
            for ((_, label, base), (_, heap, rss)) in STORES.iter().zip(&rows) {
                println!(
                    "| {label}, {SESSIONS} sessions | {heap} B | {rss} B | {:.2}x |",
                    *heap as f64 / heap_of(base)
                );
            }
        }
    }
}

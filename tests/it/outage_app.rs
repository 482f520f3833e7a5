//! The app the outage tests drive (Redis stopped under it, SQL servers cut
//! off behind a proxy): a visit counter, and a route that reads its session
//! and then waits at a gate the test opens, so a store can die between the
//! load and the save.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use session_kit::{Key, Session, SessionLayer, SessionStore};
use tokio::sync::Notify;

use crate::common::TestServer;

#[derive(Session, Default)]
#[session(namespace = "outage")]
struct Visits {
    #[session(counter)]
    page_views: u64,
}

/// How often the handlers ran, and a gate the slow one waits at.
#[derive(Default)]
pub(crate) struct Probe {
    pub(crate) ran: AtomicUsize,
    pub(crate) entered: Notify,
    pub(crate) gate: Notify,
}

async fn index(State(probe): State<Arc<Probe>>, mut visits: Session<Visits>) -> String {
    probe.ran.fetch_add(1, Ordering::SeqCst);
    visits.page_views += 1;
    format!("visit {}", visits.page_views)
}

async fn gated(State(probe): State<Arc<Probe>>, mut visits: Session<Visits>) -> String {
    probe.ran.fetch_add(1, Ordering::SeqCst);
    probe.entered.notify_one();
    probe.gate.notified().await;
    visits.page_views += 1;
    format!("visit {}", visits.page_views)
}

pub(crate) async fn serve(store: impl SessionStore) -> (TestServer, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let layer = SessionLayer::builder(store, Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let app = Router::new()
        .route("/", get(index))
        .route("/gated", post(gated))
        .with_state(probe.clone())
        .layer(layer);
    (TestServer::start(app).await, probe)
}

/// A client that gives up only long after every store time limit: a
/// request that times out here hung. (The SQLite tests cut no connection.)
#[cfg(any(feature = "redis", feature = "postgres", feature = "mysql"))]
pub(crate) fn patient_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

#[cfg(any(feature = "redis", feature = "postgres", feature = "mysql"))]
pub(crate) fn ran(probe: &Probe) -> usize {
    probe.ran.load(Ordering::SeqCst)
}

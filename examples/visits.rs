//! The view counter of the express-session tutorials, on session-kit.
//!
//! ```text
//! cargo run --release --example visits
//! curl -c jar -b jar http://127.0.0.1:3000/   # Welcome to this page for the first time!
//! curl -c jar -b jar http://127.0.0.1:3000/   # You visited this page 2 times
//! ```
//!
//! Reads `PORT` (default 3000), `SESSION_STORE` (default `memory`) and
//! `SESSION_SECRET` (64 bytes or more; random when unset).

mod common;

use axum::{routing::get, Router};
use session_kit::Session;

/// What the session holds: one counter, incremented on the store's side so
/// overlapping requests never lose a visit.
#[derive(Session, Default, Debug)]
pub(crate) struct Visits {
    #[session(counter)]
    page_views: u64,
}

async fn index(mut visits: Session<Visits>) -> String {
    visits.page_views += 1;
    if visits.page_views == 1 {
        "Welcome to this page for the first time!".to_owned()
    } else {
        format!("You visited this page {} times", visits.page_views)
    }
}

/// The example's routes, without the session layer.
pub(crate) fn app() -> Router {
    Router::new().route("/", get(index))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::run("visits", app).await
}

//! `crate = "path"` names the facade when the dependency is renamed
//! (`sessions = { package = "session-kit" }`), as serde's `crate` does. Here
//! the facade is reached only through a module of this crate, so the
//! generated code must use the path given.

mod support;

mod web {
    pub use session_kit as sessions;
}

use axum::routing::get;
use axum::Router;
use session_kit::{Session, SessionData};

#[derive(web::sessions::Session, Default)]
#[session(crate = "crate::web::sessions", namespace = "visits")]
struct Visits {
    #[session(counter)]
    page_views: u32,
}

async fn count(mut visits: Session<Visits>) -> String {
    visits.page_views += 1;
    visits.page_views.to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(<Visits as SessionData>::NAMESPACE, "visits");
    let app = support::App::start(Router::new().route("/", get(count))).await;
    assert_eq!(app.get("/").await, "1");
    assert_eq!(app.get("/").await, "2");
    let stored = app.stored().await;
    assert_eq!(stored.get("visits.page_views").map(String::as_str), Some("2"));
}

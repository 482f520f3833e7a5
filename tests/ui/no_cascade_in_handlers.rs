use axum::routing::get;
use axum::Router;
use session_kit::{Key, MemoryStore, Session, SessionData, SessionLayer};

// The one mistake is the misspelt attribute: the handler, the router and
// the use of `SessionData` report nothing more.
#[derive(Session, Default)]
#[session(nmespace = "visits")]
struct Visits {
    page_views: u32,
}

async fn index(mut visits: Session<Visits>) -> String {
    visits.page_views += 1;
    visits.page_views.to_string()
}

fn main() {
    let _ = <Visits as SessionData>::NAMESPACE;
    let _app: Router = Router::new()
        .route("/", get(index))
        .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
}

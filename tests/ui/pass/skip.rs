//! A `skip` field is never stored: it starts at its default on every request,
//! and its type need not be `Serialize` or `Deserialize`.

mod support;

use axum::routing::get;
use axum::Router;
use session_kit::Session;

/// Neither `Serialize` nor `Deserialize`.
#[derive(Default)]
struct Scratch {
    notes: Vec<&'static str>,
}

fn fresh() -> Scratch {
    Scratch {
        notes: vec!["fresh"],
    }
}

#[derive(Session, Default)]
struct Visit {
    count: u32,
    #[session(skip)]
    scratch: Scratch,
    #[session(skip, default = fresh)]
    seeded: Scratch,
}

async fn visit(mut visit: Session<Visit>) -> String {
    let seen = format!(
        "{} {} {:?}",
        visit.count,
        visit.scratch.notes.len(),
        visit.seeded.notes
    );
    visit.count += 1;
    visit.scratch.notes.push("changed");
    visit.seeded.notes.push("changed");
    seen
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = support::App::start(Router::new().route("/", get(visit))).await;
    assert_eq!(app.get("/").await, r#"0 0 ["fresh"]"#);
    assert_eq!(app.get("/").await, r#"1 0 ["fresh"]"#);
    let stored = app.stored().await;
    let keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(keys, ["visit.count"]);
}

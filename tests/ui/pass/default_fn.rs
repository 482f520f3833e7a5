//! `default = path` names the function that gives a field's value when the
//! session holds none; it also covers types without `Default`.

mod support;

use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use session_kit::Session;

/// No `Default`: the attribute is what makes it a valid field.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
enum Theme {
    Light,
    Dark,
}

mod defaults {
    pub(crate) fn theme() -> super::Theme {
        super::Theme::Dark
    }

    pub(crate) fn page_size() -> u32 {
        25
    }
}

#[derive(Session)]
struct Prefs {
    #[session(default = defaults::theme)]
    theme: Theme,
    #[session(default = crate::defaults::page_size)]
    page_size: u32,
}

async fn show(prefs: Session<Prefs>) -> String {
    format!("{:?} {}", prefs.theme, prefs.page_size)
}

async fn light(mut prefs: Session<Prefs>) -> String {
    prefs.theme = Theme::Light;
    format!("{:?} {}", prefs.theme, prefs.page_size)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let routes = Router::new()
        .route("/", get(show))
        .route("/light", get(light));
    let app = support::App::start(routes).await;
    assert_eq!(app.get("/").await, "Dark 25");
    assert_eq!(app.get("/light").await, "Light 25");
    assert_eq!(app.get("/").await, "Light 25");
    let stored = app.stored().await;
    assert_eq!(
        stored.get("prefs.theme").map(String::as_str),
        Some(r#""Light""#)
    );
    assert!(
        !stored.contains_key("prefs.page_size"),
        "a field still at its default is not written: {stored:?}"
    );
}

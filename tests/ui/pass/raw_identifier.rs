//! A raw identifier field is stored under its name without `r#`.

mod support;

use axum::routing::get;
use axum::Router;
use session_kit::Session;

#[derive(Session, Default)]
struct Token {
    r#type: String,
    #[session(counter)]
    r#loop: u32,
}

async fn set(mut token: Session<Token>) -> String {
    token.r#type = "bearer".to_owned();
    token.r#loop += 1;
    token.r#loop.to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = support::App::start(Router::new().route("/", get(set))).await;
    assert_eq!(app.get("/").await, "1");
    let stored = app.stored().await;
    let keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(keys, ["token.loop", "token.type"]);
    assert_eq!(stored["token.type"], r#""bearer""#);
}

//! `rename` stores a field under the given key instead of its name.

mod support;

use axum::routing::get;
use axum::Router;
use session_kit::{Session, SessionData};

#[derive(Session, Default)]
struct Account {
    #[session(rename = "user")]
    login: Option<String>,
    #[session(rename = "user-agent")]
    agent: String,
}

async fn login(mut account: Session<Account>) -> String {
    let before = account.login.clone().unwrap_or_default();
    account.login = Some("ada".to_owned());
    account.agent = "curl".to_owned();
    before
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(<Account as SessionData>::NAMESPACE, "account");
    let app = support::App::start(Router::new().route("/", get(login))).await;
    assert_eq!(app.get("/").await, "");
    assert_eq!(app.get("/").await, "ada");
    let stored = app.stored().await;
    assert_eq!(
        stored.get("account.user").map(String::as_str),
        Some(r#""ada""#)
    );
    assert_eq!(
        stored.get("account.user-agent").map(String::as_str),
        Some(r#""curl""#)
    );
    assert!(!stored.contains_key("account.login"), "{stored:?}");
    assert!(!stored.contains_key("account.agent"), "{stored:?}");
}

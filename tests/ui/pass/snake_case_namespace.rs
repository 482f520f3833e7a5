//! Without `namespace`, a struct's keys live under its name in snake_case.

mod support;

use axum::routing::get;
use axum::Router;
use session_kit::{Session, SessionData};

#[derive(Session, Default)]
struct ShopCart {
    items: Vec<String>,
}

#[derive(Session, Default)]
struct HTTPState {
    hits: u32,
}

#[derive(Session, Default)]
struct User2Fa {
    verified: bool,
}

async fn add(mut cart: Session<ShopCart>, mut state: Session<HTTPState>) -> String {
    cart.items.push("apple".to_owned());
    state.hits += 1;
    cart.items.len().to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(<ShopCart as SessionData>::NAMESPACE, "shop_cart");
    assert_eq!(<HTTPState as SessionData>::NAMESPACE, "http_state");
    assert_eq!(<User2Fa as SessionData>::NAMESPACE, "user2_fa");
    let app = support::App::start(Router::new().route("/", get(add))).await;
    assert_eq!(app.get("/").await, "1");
    let stored = app.stored().await;
    let keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(keys, ["http_state.hits", "shop_cart.items"]);
    let _ = User2Fa::default().verified;
}

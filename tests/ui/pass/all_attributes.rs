//! Every attribute at once: the namespace prefixes each key, `rename` changes
//! one, `default` names a function, `skip` is never stored and `counter` is
//! written as a count.

mod support;

use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use session_kit::{Session, SessionData};

#[derive(Serialize, Deserialize, Clone, Default, PartialEq, Debug)]
struct Item {
    sku: String,
}

fn light() -> String {
    "light".to_owned()
}

#[derive(Session, Default)]
#[session(namespace = "shop")]
struct Shop {
    #[session(counter)]
    page_views: u64,
    #[session(rename = "cart")]
    items: Vec<Item>,
    #[session(default = light)]
    theme: String,
    #[session(skip)]
    scratch: Vec<u8>,
}

async fn visit(mut shop: Session<Shop>) -> String {
    shop.page_views += 1;
    let sku = format!("sku-{}", shop.page_views);
    shop.items.push(Item { sku });
    let seen = format!("{} {} {}", shop.page_views, shop.theme, shop.scratch.len());
    shop.scratch.push(1);
    seen
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(<Shop as SessionData>::NAMESPACE, "shop");
    let app = support::App::start(Router::new().route("/", get(visit))).await;
    assert_eq!(app.get("/").await, "1 light 0");
    assert_eq!(app.get("/").await, "2 light 0");
    let stored = app.stored().await;
    let keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(keys, ["shop.cart", "shop.page_views"]);
    assert_eq!(stored["shop.page_views"], "2");
    assert_eq!(stored["shop.cart"], r#"[{"sku":"sku-1"},{"sku":"sku-2"}]"#);
}

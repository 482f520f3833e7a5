use serde::Deserialize;
use session_kit::Session;

#[derive(Deserialize, Default)]
struct Item {
    sku: String,
}

#[derive(Session, Default)]
struct Cart {
    last_item: Item,
}

fn main() {}

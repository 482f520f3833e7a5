use serde::Serialize;
use session_kit::Session;

#[derive(Serialize, Default)]
struct Item {
    sku: String,
}

#[derive(Session, Default)]
struct Cart {
    last_item: Item,
}

fn main() {}

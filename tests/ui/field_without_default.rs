use serde::{Deserialize, Serialize};
use session_kit::Session;

#[derive(Serialize, Deserialize)]
struct Theme {
    name: String,
}

#[derive(Session)]
struct Prefs {
    theme: Theme,
}

fn main() {}

use session_kit::Session;

const LIGHT: &str = "light";

#[derive(Session)]
struct Prefs {
    #[session(default = LIGHT)]
    theme: String,
}

fn main() {}

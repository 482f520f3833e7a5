use session_kit::Session;

fn light() -> &'static str {
    "light"
}

#[derive(Session)]
struct Prefs {
    #[session(default = light)]
    theme: String,
}

fn main() {}

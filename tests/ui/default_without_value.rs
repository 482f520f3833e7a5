use session_kit::Session;

#[derive(Session, Default)]
struct Prefs {
    #[session(default)]
    theme: String,
}

fn main() {}

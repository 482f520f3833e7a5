use session_kit::Session;

#[derive(Session)]
struct Prefs {
    #[session(default = 10)]
    page_size: u32,
}

fn main() {}

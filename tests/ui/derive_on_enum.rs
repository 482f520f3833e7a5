use session_kit::Session;

#[derive(Session)]
enum Theme {
    Light,
    Dark,
}

fn main() {}

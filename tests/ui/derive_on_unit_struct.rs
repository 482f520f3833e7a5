use session_kit::Session;

#[derive(Session, Default)]
struct Visits;

fn main() {}

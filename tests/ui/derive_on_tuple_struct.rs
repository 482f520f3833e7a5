use session_kit::Session;

#[derive(Session, Default)]
struct Visits(u32);

fn main() {}

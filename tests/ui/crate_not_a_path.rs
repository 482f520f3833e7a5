use session_kit::Session;

#[derive(Session, Default)]
#[session(crate = "not a path")]
struct Visits {
    page_views: u32,
}

fn main() {}

use session_kit::Session;

#[derive(Session, Default)]
#[session(namespace)]
struct Visits {
    page_views: u32,
}

fn main() {}

use session_kit::Session;

#[derive(Session, Default)]
#[session(nmespace = "visits")]
struct Visits {
    page_views: u32,
}

fn main() {}

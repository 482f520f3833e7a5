use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    #[session(counter, skip)]
    page_views: u32,
}

fn main() {}

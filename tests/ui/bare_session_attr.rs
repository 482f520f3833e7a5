use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    #[session]
    page_views: u32,
}

fn main() {}

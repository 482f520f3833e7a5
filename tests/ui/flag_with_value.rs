use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    page_views: u32,
    #[session(skip = true)]
    scratch: Vec<u8>,
}

fn main() {}

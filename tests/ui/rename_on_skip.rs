use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    page_views: u32,
    #[session(skip, rename = "scratch_pad")]
    scratch: Vec<u8>,
}

fn main() {}

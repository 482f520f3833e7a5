use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    #[session(rename = "views")]
    #[session(rename = "page_views")]
    page_views: u32,
}

fn main() {}

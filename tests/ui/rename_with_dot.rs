use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    #[session(rename = "page.views")]
    page_views: u32,
}

fn main() {}

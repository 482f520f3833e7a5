use session_kit::Session;

#[derive(Session, Default)]
#[session(namespace = "visits", namespace = "views")]
struct Visits {
    page_views: u32,
}

fn main() {}

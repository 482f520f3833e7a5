use session_kit::Session;

#[derive(Session, Default)]
struct Visits {
    #[session(counter)]
    page_views: f64,
}

fn main() {}

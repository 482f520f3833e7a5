use session_kit::Session;

/// Neither `Serialize` nor `Deserialize`.
#[derive(Default)]
struct Receipt;

// Every mistake below is reported in one build.
#[derive(Session, Default)]
#[session(namespace = "")]
struct Shop {
    #[session(rename = "cart")]
    items: Vec<String>,
    #[session(rename = "cart")]
    saved: Vec<String>,
    #[session(colour = "blue")]
    theme: String,
    #[session(counter, skip)]
    page_views: u32,
    last_receipt: Receipt,
}

fn main() {}

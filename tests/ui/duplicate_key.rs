use session_kit::Session;

#[derive(Session, Default)]
struct Account {
    user: String,
    #[session(rename = "user")]
    login: String,
}

fn main() {}

use session_kit::Session;

#[derive(Session, Default)]
struct Slot<T> {
    value: T,
}

fn main() {}

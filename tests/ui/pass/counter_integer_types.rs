//! `counter` works on every integer type, and is stored as a number.

mod support;

use axum::routing::get;
use axum::Router;
use session_kit::Session;

#[derive(Session, Default)]
struct Counts {
    #[session(counter)]
    a: i8,
    #[session(counter)]
    b: i16,
    #[session(counter)]
    c: i32,
    #[session(counter)]
    d: i64,
    #[session(counter)]
    e: isize,
    #[session(counter)]
    f: u8,
    #[session(counter)]
    g: u16,
    #[session(counter)]
    h: u32,
    #[session(counter)]
    i: u64,
    #[session(counter)]
    j: usize,
}

fn seven() -> u8 {
    7
}

#[derive(Session, Default)]
struct Seeded {
    #[session(counter, default = seven)]
    lives: u8,
}

async fn bump(mut counts: Session<Counts>, mut seeded: Session<Seeded>) -> String {
    counts.a -= 1;
    counts.b -= 2;
    counts.c -= 3;
    counts.d -= 4;
    counts.e -= 5;
    counts.f += 1;
    counts.g += 2;
    counts.h += 3;
    counts.i += 4;
    counts.j += 5;
    seeded.lives -= 1;
    format!("{} {} {}", counts.a, counts.j, seeded.lives)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = support::App::start(Router::new().route("/", get(bump))).await;
    assert_eq!(app.get("/").await, "-1 5 6");
    assert_eq!(app.get("/").await, "-2 10 5");
    let stored = app.stored().await;
    let expected = [
        ("counts.a", "-2"),
        ("counts.b", "-4"),
        ("counts.c", "-6"),
        ("counts.d", "-8"),
        ("counts.e", "-10"),
        ("counts.f", "2"),
        ("counts.g", "4"),
        ("counts.h", "6"),
        ("counts.i", "8"),
        ("counts.j", "10"),
        ("seeded.lives", "5"),
    ];
    for (key, value) in expected {
        assert_eq!(stored.get(key).map(String::as_str), Some(value), "{key}");
    }
}

//! What SPEC's semantics ask of the layer beyond any store (the semantics
//! themselves run on every store in the HTTP suite, `store_http_tests!`):
//! a router without the layer, and secrets that never print.

use crate::common;

use axum::routing::get;
use axum::Router;
use session_kit::{Key, Session, SessionId};

use common::{bare_client, TestServer};

#[derive(Session, Default, Debug)]
struct Profile {
    visits: u32,
}

/// A handler on a router without the layer gets a typed rejection that names
/// the fix.
#[tokio::test]
async fn a_router_without_the_layer_names_the_fix() {
    let app = Router::new().route(
        "/read",
        get(|p: Session<Profile>| async move { p.visits.to_string() }),
    );
    let server = TestServer::start(app).await;
    let res = bare_client()
        .get(server.url("/read"))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 500);
    let body = res.text().await.expect("a body");
    assert!(body.contains("SessionLayer"), "{body}");
}

/// 10. Secrets never print.
#[test]
fn ids_and_keys_print_redacted() {
    let id = SessionId::generate().expect("entropy");
    assert_eq!(format!("{id:?}"), "SessionId(REDACTED)");
    assert_eq!(format!("{:?}", Key::generate()), "Key(REDACTED)");
}

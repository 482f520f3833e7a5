//! A client that sends its cookie percent-encoded (the `cookie` crate's
//! `encoded()`, tower-cookies, some proxies) keeps its session, in the
//! current cookie format and in the older one, over real HTTP.

use crate::visits;

use reqwest::header::{COOKIE, SET_COOKIE};
use session_kit::{Key, MemoryStore, SessionLayer};

async fn serve() -> String {
    let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, visits::app().layer(layer)).await;
    });
    format!("http://{addr}/")
}

/// Every byte outside the unreserved set written as `%XX`, as
/// `cookie::Cookie::encoded()` does for `=`, `+`, `/` and `.`-free values.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_percent_encoded_cookie_keeps_its_session() {
    let url = serve().await;
    let client = reqwest::Client::new();
    let first = client.get(&url).send().await.expect("GET /");
    let set = first
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    let value = set
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("sid="))
        .expect("sid=value");
    let encoded = percent_encode(value);
    assert_ne!(encoded, value, "the value has a byte to encode");
    for (n, cookie) in [(2, format!("sid={encoded}")), (3, format!("sid={value}"))] {
        let res = client
            .get(&url)
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("GET /");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.text().await.expect("a body"),
            format!("You visited this page {n} times")
        );
    }
}

//! Property tests over real HTTP: whatever bytes a client sends in its
//! `Cookie` headers, the `visits` example answers 200 with a counter (a fresh
//! session, or the real one when its cookie is there), never a 500.

use crate::common;

use crate::visits;

use common::{bare_client, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::header::{HeaderValue, COOKIE, SET_COOKIE};
use session_kit::{Key, MemoryStore, SessionLayer};

const WELCOME: &str = "Welcome to this page for the first time!";

/// Each case is an HTTP request: a bounded number keeps the run short.
const CASES: u32 = 64;

/// Bytes that look like cookies (names, `=`, `;`, quotes, base64) or are
/// anything at all.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        "((sid|SID| sid|x)(=|==|)[A-Za-z0-9+/=_\"; ,-]{0,90};? ?){0,4}"
            .prop_map(String::into_bytes),
    ]
}

/// Sends `GET /` with these `Cookie` headers (those that are valid header
/// values; the client cannot send the others): the status and the body.
async fn visit(
    client: &reqwest::Client,
    url: &str,
    headers: &[Vec<u8>],
) -> (u16, String, Option<String>) {
    let mut req = client.get(url);
    for bytes in headers {
        if let Ok(value) = HeaderValue::from_bytes(bytes) {
            req = req.header(COOKIE, value);
        }
    }
    let res = req.send().await.expect("GET /");
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, res.text().await.expect("a body"), cookie)
}

fn is_a_count(body: &str) -> bool {
    body == WELCOME
        || body
            .strip_prefix("You visited this page ")
            .and_then(|rest| rest.strip_suffix(" times"))
            .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n >= 2))
}

#[test]
fn any_cookie_header_bytes_get_200_and_never_500() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let server = rt.block_on(TestServer::start(visits::app().layer(layer)));
    let client = bare_client();
    let url = server.url("/");
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(header_bytes(), 0..4), |headers| {
        let (status, body, _) = rt.block_on(visit(&client, &url, &headers));
        prop_assert_eq!(status, 200, "body: {}", body);
        // Nothing here was issued by the server: always a fresh session.
        prop_assert_eq!(body.as_str(), WELCOME);
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}

#[test]
fn a_real_cookie_among_any_other_bytes_gets_200_and_a_count() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let server = rt.block_on(TestServer::start(visits::app().layer(layer)));
    let client = bare_client();
    let url = server.url("/");
    let (_, _, cookie) = rt.block_on(visit(&client, &url, &[]));
    let cookie = cookie.expect("a first visit gets a cookie");
    let pair = cookie
        .split(';')
        .next()
        .expect("a name=value pair")
        .to_owned();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &(
            header_bytes(),
            header_bytes(),
            prop_oneof![Just("; "), Just(";"), Just("")],
        ),
        |(before, after, separator)| {
            let mut header = before;
            header.extend_from_slice(separator.as_bytes());
            header.extend_from_slice(pair.as_bytes());
            header.extend_from_slice(separator.as_bytes());
            header.extend_from_slice(&after);
            let (status, body, _) = rt.block_on(visit(&client, &url, &[header]));
            prop_assert_eq!(status, 200, "body: {}", body);
            // The real session when its cookie stands alone, a fresh one when
            // the bytes around it garble or repeat it: a count either way.
            prop_assert!(is_a_count(&body), "body: {}", body);
            Ok(())
        },
    );
    if let Err(err) = result {
        panic!("{err}");
    }
}

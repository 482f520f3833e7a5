//! The `visits` example's HTTP contract, over real HTTP, and what bad cookies
//! get.

use crate::common;

use crate::visits;

use common::{bare_client, Browser, TestServer};
use reqwest::header::{COOKIE, SET_COOKIE};
use session_kit::{Key, MemoryStore, SessionLayer};

fn layer(store: MemoryStore, key: Key) -> SessionLayer {
    SessionLayer::builder(store, key)
        .secure(false)
        .build()
        .expect("a valid configuration")
}

async fn server() -> TestServer {
    TestServer::start(visits::app().layer(layer(MemoryStore::new(), Key::generate()))).await
}

const WELCOME: &str = "Welcome to this page for the first time!";

fn set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("a name=value pair")
        .to_owned()
}

#[tokio::test]
async fn first_visit_welcomes_and_sets_a_cookie_with_safe_attributes() {
    let server = server().await;
    let res = bare_client()
        .get(server.url("/"))
        .send()
        .await
        .expect("GET /");
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res).expect("the first visit sets the session cookie");
    assert!(cookie.starts_with("sid="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains("Secure"), "the example serves plain HTTP");
    assert_eq!(res.text().await.expect("a body"), WELCOME);
}

#[tokio::test]
async fn later_visits_count_every_visit() {
    let server = server().await;
    let browser = Browser::new();
    assert_eq!(
        browser.get(&server.url("/")).await,
        (200, WELCOME.to_owned())
    );
    for n in 2..=5 {
        assert_eq!(
            browser.get(&server.url("/")).await,
            (200, format!("You visited this page {n} times"))
        );
    }
}

#[tokio::test]
async fn a_returning_visit_that_only_counts_does_not_reissue_the_cookie() {
    let server = server().await;
    let client = bare_client();
    let first = client.get(server.url("/")).send().await.expect("GET /");
    let pair = cookie_pair(&set_cookie(&first).expect("a cookie"));
    let second = client
        .get(server.url("/"))
        .header(COOKIE, &pair)
        .send()
        .await
        .expect("GET /");
    assert_eq!(
        set_cookie(&second),
        None,
        "the browser keeps the cookie it has"
    );
    assert_eq!(
        second.text().await.expect("a body"),
        "You visited this page 2 times"
    );
}

#[tokio::test]
async fn twenty_clients_in_parallel_keep_separate_counts() {
    let server = server().await;
    let url = server.url("/");
    let clients = (0..20).map(|i| {
        let url = url.clone();
        tokio::spawn(async move {
            let browser = Browser::new();
            let visits = 2 + i % 5;
            let mut last = String::new();
            for _ in 0..visits {
                let (status, body) = browser.get(&url).await;
                assert_eq!(status, 200);
                last = body;
            }
            (visits, last)
        })
    });
    for client in clients {
        let (visits, last) = client.await.expect("the client task");
        assert_eq!(last, format!("You visited this page {visits} times"));
    }
}

#[tokio::test]
async fn fifty_concurrent_visits_on_one_session_lose_no_count() {
    let server = server().await;
    let url = server.url("/");
    for trial in 0..20 {
        let browser = Browser::new();
        assert_eq!(browser.get(&url).await.1, WELCOME);
        let cookie = browser.cookies_for(&url).expect("a session cookie");
        let visits = (0..50).map(|_| {
            let (url, cookie) = (url.clone(), cookie.clone());
            tokio::spawn(async move {
                let res = bare_client()
                    .get(&url)
                    .header(COOKIE, cookie)
                    .send()
                    .await
                    .expect("GET /");
                assert_eq!(res.status(), 200);
            })
        });
        for visit in visits {
            visit.await.expect("a visit");
        }
        assert_eq!(
            browser.get(&url).await.1,
            "You visited this page 52 times",
            "trial {trial} lost a count"
        );
    }
}

/// Each of these `Cookie` headers means "no session": a fresh one, never a
/// 500 and never an adopted ID.
#[tokio::test]
async fn bad_cookies_start_a_fresh_session() {
    let server = server().await;
    let client = bare_client();
    let first = client.get(server.url("/")).send().await.expect("GET /");
    let pair = cookie_pair(&set_cookie(&first).expect("a cookie"));
    let value = pair.trim_start_matches("sid=").to_owned();
    let id = &value[..32];
    let mut tampered = value.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("tampered", vec![format!("sid={tampered}")]),
        ("unsigned", vec![format!("sid={id}")]),
        ("garbled", vec!["sid=%00%ff;;==;sid".to_owned()]),
        ("empty", vec!["sid=".to_owned()]),
        ("oversized", vec![format!("sid={}", "A".repeat(8000))]),
        ("duplicated", vec![format!("{pair}; {pair}")]),
        (
            "duplicated across headers",
            vec![pair.clone(), pair.clone()],
        ),
    ];
    let mut cases: Vec<(&str, Vec<Vec<u8>>)> = cases
        .into_iter()
        .map(|(what, headers)| (what, headers.into_iter().map(String::into_bytes).collect()))
        .collect();
    cases.push(("not UTF-8", vec![b"sid=\xff\xfe\x80; x=\xc3".to_vec()]));
    for (what, headers) in cases {
        let mut req = client.get(server.url("/"));
        for header in &headers {
            let value = reqwest::header::HeaderValue::from_bytes(header).expect("a header value");
            req = req.header(COOKIE, value);
        }
        let res = req.send().await.expect("GET /");
        assert_eq!(res.status(), 200, "{what}");
        let fresh = set_cookie(&res).map(|c| cookie_pair(&c));
        assert!(fresh.is_some(), "{what}: a fresh session gets a cookie");
        assert_ne!(fresh.as_deref(), Some(pair.as_str()), "{what}");
        assert_eq!(res.text().await.expect("a body"), WELCOME, "{what}");
    }
    // The real session is untouched by all of that.
    let res = client
        .get(server.url("/"))
        .header(COOKIE, &pair)
        .send()
        .await
        .expect("GET /");
    assert_eq!(
        res.text().await.expect("a body"),
        "You visited this page 2 times"
    );
}

/// A correctly signed ID that this store does not know (from another
/// deployment sharing the key, or an expired one) is not adopted.
#[tokio::test]
async fn an_id_the_store_does_not_know_is_never_adopted() {
    let key = Key::generate();
    let elsewhere =
        TestServer::start(visits::app().layer(layer(MemoryStore::new(), key.clone()))).await;
    let here = TestServer::start(visits::app().layer(layer(MemoryStore::new(), key))).await;
    let client = bare_client();
    let res = client.get(elsewhere.url("/")).send().await.expect("GET /");
    let foreign = cookie_pair(&set_cookie(&res).expect("a cookie"));
    let res = client
        .get(here.url("/"))
        .header(COOKIE, &foreign)
        .send()
        .await
        .expect("GET /");
    let issued = cookie_pair(&set_cookie(&res).expect("a new cookie"));
    assert_ne!(issued, foreign, "the client gets a new ID");
    assert_eq!(res.text().await.expect("a body"), WELCOME);
}

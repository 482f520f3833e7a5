//! What the integration tests share: serving a router on a real loopback
//! listener, HTTP clients with cookie jars, and the servers' addresses.
#![allow(dead_code)] // each test file uses its own part of this module

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::Client;

/// A router served on 127.0.0.1 on a free port, until the test ends.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Serves `app` on a fresh loopback port.
    pub(crate) async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, task }
    }

    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A browser-like client: it keeps the cookies it is given.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) jar: Arc<Jar>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .expect("an HTTP client");
        Self { client, jar }
    }

    /// The `Cookie` header the jar would send to `url`.
    pub(crate) fn cookies_for(&self, url: &str) -> Option<String> {
        let url = url.parse().expect("a URL");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().expect("ascii cookies").to_owned())
    }

    /// `GET url`: the status and the body.
    pub(crate) async fn get(&self, url: &str) -> (u16, String) {
        let res = self.client.get(url).send().await.expect("GET");
        let status = res.status().as_u16();
        (status, res.text().await.expect("a body"))
    }

    /// `POST url` with a form: the status and the body.
    pub(crate) async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, String) {
        let res = self.client.post(url).form(form).send().await.expect("POST");
        let status = res.status().as_u16();
        (status, res.text().await.expect("a body"))
    }
}

/// A client that keeps no cookies: every header is set by hand.
pub(crate) fn bare_client() -> Client {
    Client::builder().build().expect("an HTTP client")
}

/// Whether a missing server must fail the run (CI) rather than skip.
pub(crate) fn servers_required() -> bool {
    std::env::var("SESSION_KIT_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A server a test needs is missing: under `SESSION_KIT_REQUIRE_SERVERS=1`
/// that fails the test; otherwise it says `SKIPPED` loudly. The line goes
/// straight to the process's stderr, which the test harness does not
/// capture, so it shows even when the test passes.
pub(crate) fn skip_or_fail(what: &str) {
    if servers_required() {
        panic!("{what}, and SESSION_KIT_REQUIRE_SERVERS=1 requires it");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {what}");
}

/// A loopback port that was free a moment ago, for a server a test starts in
/// another process (chromedriver, redis-server, an example binary).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

//! End to end in a real browser: the `visits` example, served on loopback
//! with `Secure` off as the example serves it, driven by headless Chromium
//! through chromedriver (WebDriver).
//!
//! One browser process makes three navigations, so its browser-session
//! cookie (no `Max-Age`) lives across them: the counter reads 1 (the welcome
//! text), 2, 3. A second browser session, with its own profile, starts at 1.
//!
//! Needs Debian's `chromium` and `chromium-driver` packages
//! (`apt-get install -y chromium chromium-driver`, as `.ci/run` does). Where
//! they are missing the test says `SKIPPED` loudly, and fails instead under
//! `SESSION_KIT_REQUIRE_SERVERS=1`.

use crate::common;

use crate::visits;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cookie::SameSite;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use session_kit::{CookieStore, Key, MemoryStore, SessionLayer};

use common::{free_port, servers_required, TestServer};

/// The flags every Chromium of this test starts with.
const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// How long chromedriver may take to start listening: a deadline for a hung
/// start, not a measure of speed.
const DRIVER_START_DEADLINE: Duration = Duration::from_secs(60);

/// The whole test's deadline, so a browser that hangs fails the run instead
/// of stalling it.
const TEST_DEADLINE: Duration = Duration::from_secs(300);

const WELCOME: &str = "Welcome to this page for the first time!";

/// The first of `names` found on `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver, killed (and its profile folders removed) when dropped.
struct Driver {
    child: Child,
    port: u16,
    profiles: Vec<PathBuf>,
}

impl Driver {
    fn start(program: &Path) -> Self {
        let port = free_port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start chromedriver");
        let driver = Self {
            child,
            port,
            profiles: Vec::new(),
        };
        let started = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < DRIVER_START_DEADLINE,
                "chromedriver did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A new WebDriver session: one headless Chromium with a fresh profile.
    async fn browser(&mut self, chromium: &Path) -> Client {
        // The driver's port too: two tests of this binary run at once.
        let profile = std::env::temp_dir().join(format!(
            "session-kit-browser-{}-{}-{}",
            std::process::id(),
            self.port,
            self.profiles.len()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("a profile folder");
        self.profiles.push(profile.clone());

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        builder
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with headless Chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// Navigates to `url` and reads the page's text.
async fn visit(browser: &Client, url: &str) -> String {
    browser.goto(url).await.expect("navigate");
    browser
        .find(Locator::Css("body"))
        .await
        .expect("a body")
        .text()
        .await
        .expect("the body's text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_keeps_the_session_cookie_across_three_navigations() {
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let chromedriver = find_program(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        assert!(
            !servers_required(),
            "SESSION_KIT_REQUIRE_SERVERS=1 but chromium or chromedriver is missing; \
             install them with `apt-get install -y chromium chromium-driver`"
        );
        // Straight to stderr: libtest captures `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: a_real_browser_keeps_the_session_cookie_across_three_navigations: \
             chromium or chromedriver is missing (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    tokio::time::timeout(TEST_DEADLINE, drive(&chromium, &chromedriver))
        .await
        .expect("the browser test finished before its deadline");
}

async fn drive(chromium: &Path, chromedriver: &Path) {
    let layer = SessionLayer::builder(MemoryStore::new(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let server = TestServer::start(visits::app().layer(layer)).await;
    let url = server.url("/");
    let mut driver = Driver::start(chromedriver);

    let first = driver.browser(chromium).await;
    assert_eq!(visit(&first, &url).await, WELCOME);

    // The browser kept the cookie under the default attributes: HttpOnly,
    // SameSite=Lax, Path=/, and no expiry (it dies with the browser).
    let cookies = first.get_all_cookies().await.expect("the cookies");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let sid = &cookies[0];
    assert_eq!(sid.name(), "sid");
    assert_eq!(sid.http_only(), Some(true));
    assert_eq!(sid.same_site(), Some(SameSite::Lax));
    assert_eq!(sid.path(), Some("/"));
    assert_eq!(sid.expires_datetime(), None, "a browser-session cookie");
    let script_sees = first
        .execute("return document.cookie;", Vec::new())
        .await
        .expect("run a script");
    assert_eq!(script_sees, json!(""), "HttpOnly hides it from scripts");

    assert_eq!(visit(&first, &url).await, "You visited this page 2 times");
    assert_eq!(visit(&first, &url).await, "You visited this page 3 times");

    // Another browser session, another profile: a new visitor.
    let second = driver.browser(chromium).await;
    assert_eq!(visit(&second, &url).await, WELCOME);
    second.close().await.expect("close the second browser");
    first.close().await.expect("close the first browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_keeps_its_previous_cookie_when_the_cart_outgrows_the_cookie() {
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let chromedriver = find_program(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        assert!(
            !servers_required(),
            "SESSION_KIT_REQUIRE_SERVERS=1 but chromium or chromedriver is missing; \
             install them with `apt-get install -y chromium chromium-driver`"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: a_real_browser_keeps_its_previous_cookie_when_the_cart_outgrows_the_cookie: \
             chromium or chromedriver is missing (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    tokio::time::timeout(TEST_DEADLINE, drive_cookie_store(&chromium, &chromedriver))
        .await
        .expect("the browser test finished before its deadline");
}

/// A cart, as the `shop` example keeps it (under a namespace of its own:
/// this test binary already has the `visits` example's).
#[derive(session_kit::Session, Default, Debug)]
#[session(namespace = "browser_cart")]
struct Cart {
    items: Vec<String>,
}

#[derive(serde::Deserialize)]
struct AddItem {
    item: String,
}

async fn cart_add(
    mut cart: session_kit::Session<Cart>,
    axum::Form(add): axum::Form<AddItem>,
) -> String {
    cart.items.push(add.item);
    cart.items.len().to_string()
}

async fn cart(cart: session_kit::Session<Cart>) -> axum::Json<Vec<String>> {
    axum::Json(cart.items.clone())
}

/// The counter and a cart on `CookieStore`: the browser adds 100-byte items
/// to its cart (a `fetch` from the page, which sends and stores cookies as a
/// form post would) until the session no longer fits in a cookie.
async fn drive_cookie_store(chromium: &Path, chromedriver: &Path) {
    let layer = SessionLayer::builder(CookieStore::new(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let app = visits::app()
        .route("/cart/add", axum::routing::post(cart_add))
        .route("/cart", axum::routing::get(cart));
    let server = TestServer::start(app.layer(layer)).await;
    let mut driver = Driver::start(chromedriver);
    let browser = driver.browser(chromium).await;
    assert_eq!(visit(&browser, &server.url("/")).await, WELCOME);

    let add = r#"
        const body = new URLSearchParams({ item: "x".repeat(100) });
        const res = await fetch("/cart/add", { method: "POST", body });
        return res.status;
    "#;
    let mut held = sid_value(&browser).await;
    let mut added = 0;
    let status = loop {
        let status = browser
            .execute(&format!("return (async () => {{ {add} }})();"), Vec::new())
            .await
            .expect("run the fetch");
        if status != json!(200) {
            break status;
        }
        added += 1;
        let now = sid_value(&browser).await;
        assert_ne!(now, held, "each item re-issues the cookie");
        held = now;
        assert!(added < 60, "a 6 KB cart never reached the limit");
    };
    assert_eq!(status, json!(500));
    assert!(added > 20, "only {added} items fitted");
    // The browser still holds the last cookie that fitted, and it works.
    assert_eq!(sid_value(&browser).await, held);
    let cart = visit(&browser, &server.url("/cart")).await;
    let items: Vec<String> = serde_json::from_str(&cart).expect("the cart as JSON");
    assert_eq!(items.len(), added);
    browser.close().await.expect("close the browser");
}

/// The value of the `sid` cookie the browser holds.
async fn sid_value(browser: &Client) -> String {
    let cookies = browser.get_all_cookies().await.expect("the cookies");
    let sid = cookies
        .iter()
        .find(|c| c.name() == "sid")
        .unwrap_or_else(|| panic!("no sid cookie in {cookies:?}"));
    sid.value().to_owned()
}

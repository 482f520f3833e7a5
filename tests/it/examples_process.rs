//! The example binaries as a user runs them: configuration errors exit
//! non-zero with a clear message, and a good configuration serves the
//! contract. `cargo test` builds the examples next to this test.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::free_port;

/// The path of an example binary beside this test binary (`cargo test`
/// builds the examples), for every test that runs one as a process.
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a target directory");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    path
}

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-secret";

fn fails_with(name: &str, env: &[(&str, &str)], message: &str) {
    let mut cmd = Command::new(example(name));
    cmd.env_remove("SESSION_STORE").env("PORT", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("the example runs");
    assert!(!out.status.success(), "{name} with {env:?} must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(message), "{name} with {env:?}: {stderr}");
}

#[test]
fn a_short_secret_exits_non_zero_with_a_clear_message() {
    for name in ["visits", "shop"] {
        fails_with(
            name,
            &[("SESSION_SECRET", "too short")],
            "SESSION_SECRET: the session secret is 9 bytes long; it must be at least 64 bytes",
        );
    }
}

#[test]
fn an_unknown_store_exits_non_zero_with_a_clear_message() {
    fails_with(
        "visits",
        &[("SESSION_SECRET", SECRET), ("SESSION_STORE", "floppy://a")],
        "is not a store",
    );
}

#[test]
fn a_bad_port_exits_non_zero_with_a_clear_message() {
    fails_with("shop", &[("PORT", "http")], "PORT must be a port number");
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn visits_serves_the_counter_and_a_shared_secret_survives_a_restart() {
    let port = free_port();
    let spawn = || {
        Child(
            Command::new(example("visits"))
                .env("PORT", port.to_string())
                .env("SESSION_SECRET", SECRET)
                .env_remove("SESSION_STORE")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the example starts"),
        )
    };
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");
    let server = spawn();
    let mut first = None;
    for _ in 0..100 {
        match client.get(&url).send().await {
            Ok(res) => {
                first = Some(res.text().await.expect("a body"));
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        first.as_deref(),
        Some("Welcome to this page for the first time!")
    );
    let second = client.get(&url).send().await.expect("GET /");
    assert_eq!(
        second.text().await.expect("a body"),
        "You visited this page 2 times"
    );
    drop(server);
    // The memory store is gone with the process, but the key is the same: the
    // old cookie verifies, its ID is unknown, and the visitor starts afresh
    // without an error.
    let _server = spawn();
    let mut again = None;
    for _ in 0..100 {
        match client.get(&url).send().await {
            Ok(res) => {
                again = Some((res.status().as_u16(), res.text().await.expect("a body")));
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        again,
        Some((200, "Welcome to this page for the first time!".to_owned()))
    );
}

/// Waits for a freshly spawned example to answer `GET url`.
async fn first_answer(client: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    for _ in 0..100 {
        match client.get(url).send().await {
            Ok(res) => return Some((res.status().as_u16(), res.text().await.expect("a body"))),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}

#[tokio::test]
async fn shop_on_the_cookie_store_serves_the_contract_and_its_sessions_survive_a_restart() {
    let port = free_port();
    let spawn = || {
        Child(
            Command::new(example("shop"))
                .env("PORT", port.to_string())
                .env("SESSION_SECRET", SECRET)
                .env("SESSION_STORE", "cookie")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the example starts"),
        )
    };
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");
    let server = spawn();
    assert_eq!(
        first_answer(&client, &url("/")).await,
        Some((200, "Welcome to this page for the first time!".to_owned()))
    );
    let login = client
        .post(url("/login"))
        .form(&[("user", "ada")])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(login.text().await.expect("a body"), "Logged in as ada");
    let add = client
        .post(url("/cart/add"))
        .form(&[("item", "apple")])
        .send()
        .await
        .expect("POST /cart/add");
    assert_eq!(add.text().await.expect("a body"), "1");
    drop(server);
    // No server state: the same secret reads the same cookie after a restart.
    let _server = spawn();
    assert_eq!(
        first_answer(&client, &url("/me")).await,
        Some((200, "ada".to_owned()))
    );
    let cart = client.get(url("/cart")).send().await.expect("GET /cart");
    assert_eq!(cart.text().await.expect("a body"), r#"["apple"]"#);
    let page = client.get(url("/")).send().await.expect("GET /");
    assert_eq!(
        page.text().await.expect("a body"),
        "You visited this page 2 times"
    );
}

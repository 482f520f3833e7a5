//! Sessions of a user across two running `shop` processes that share one
//! store, as an operator deploys it: on Redis (a private `redis-server`)
//! and on PostgreSQL (a schema of the test's own). Two clients log in as
//! one user, one on each instance; the listing shows both and marks each
//! caller's own; a listed handle is no cookie; `logout-others` keeps the
//! caller alone, and `logout-everywhere` on one instance makes the other
//! instance's next request unauthenticated.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common;
use crate::examples_process::example;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789-users";

/// A `shop` process, killed when dropped.
struct Shop {
    child: std::process::Child,
    port: u16,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Shop {
    async fn start(store: &str) -> Self {
        let port = common::free_port();
        let child = Command::new(example("shop"))
            .env("PORT", port.to_string())
            .env("SESSION_SECRET", SECRET)
            .env("SESSION_STORE", store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example starts");
        let shop = Self { child, port };
        // Up to 20 s for the process to migrate and listen.
        for _ in 0..200 {
            if reqwest::get(shop.url("/")).await.is_ok() {
                return shop;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the shop on {store} did not start listening");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A browser: its own cookie jar (cookies are per host, not per port, so
/// one jar serves both instances, as one site).
struct Browser(reqwest::Client);

impl Browser {
    fn new() -> Self {
        Self(
            reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("a client"),
        )
    }

    async fn get(&self, shop: &Shop, path: &str) -> (u16, String) {
        let res = self.0.get(shop.url(path)).send().await.expect("GET");
        (res.status().as_u16(), res.text().await.expect("a body"))
    }

    async fn post(&self, shop: &Shop, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let res = self
            .0
            .post(shop.url(path))
            .form(form)
            .send()
            .await
            .expect("POST");
        (res.status().as_u16(), res.text().await.expect("a body"))
    }

    async fn sessions(&self, shop: &Shop) -> Vec<Value> {
        let (status, body) = self.get(shop, "/sessions").await;
        assert_eq!(status, 200, "{body}");
        match serde_json::from_str(&body).expect("JSON") {
            Value::Array(list) => list,
            other => panic!("not a list: {other}"),
        }
    }
}

async fn two_instances_share_the_users_sessions(store: &str) {
    let (one, two) = (Shop::start(store).await, Shop::start(store).await);
    let user = format!("ada-{}", common::free_port());
    let (laptop, phone) = (Browser::new(), Browser::new());
    assert_eq!(
        laptop.post(&one, "/login", &[("user", &user)]).await,
        (200, format!("Logged in as {user}"))
    );
    assert_eq!(phone.post(&two, "/login", &[("user", &user)]).await.0, 200);

    // Each instance lists both sessions and marks the caller's own.
    let listed = phone.sessions(&two).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(laptop.sessions(&one).await.len(), 2);

    // A handle is no cookie: sent as one, it is no session.
    for session in &listed {
        let handle = session["handle"].as_str().expect("a handle");
        let res = reqwest::Client::new()
            .get(one.url("/me"))
            .header("cookie", format!("sid={handle}"))
            .send()
            .await
            .expect("GET /me");
        assert_eq!(res.status().as_u16(), 401, "a handle let a client in");
    }

    // "Log out other devices" from the phone, on instance two: the laptop
    // (logged in on instance one) and a tablet are logged out there.
    let tablet = Browser::new();
    assert_eq!(tablet.post(&one, "/login", &[("user", &user)]).await.0, 200);
    assert_eq!(
        phone.post(&two, "/logout-others", &[]).await,
        (200, "Logged out 2 other sessions".to_owned())
    );
    assert_eq!(laptop.get(&one, "/me").await.0, 401);
    assert_eq!(tablet.get(&one, "/me").await.0, 401);
    assert_eq!(phone.get(&one, "/me").await, (200, user.clone()));
    assert_eq!(phone.sessions(&one).await.len(), 1);

    // "Log out everywhere" from the laptop, on instance one: the phone's
    // next request, on instance two, is unauthenticated.
    assert_eq!(laptop.post(&one, "/login", &[("user", &user)]).await.0, 200);
    assert_eq!(
        laptop.post(&one, "/logout-everywhere", &[]).await,
        (200, "Logged out everywhere".to_owned())
    );
    assert_eq!(phone.get(&two, "/me").await.0, 401);
    assert_eq!(laptop.get(&two, "/me").await.0, 401);
    assert_eq!(laptop.get(&one, "/sessions").await.0, 401);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn two_shops_on_one_redis_share_the_users_sessions() {
    let server = match crate::redis_support::start_server(&["--save", "", "--appendonly", "no"]) {
        Ok(server) => server,
        Err(missing) => {
            common::skip_or_fail(&format!("cannot start a redis-server: {missing}"));
            return;
        }
    };
    two_instances_share_the_users_sessions(&server.url()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn two_shops_on_one_postgres_share_the_users_sessions() {
    use crate::sql_common;

    let Some((admin, schema, url)) = sql_common::pg::scratch_schema().await else {
        return;
    };
    two_instances_share_the_users_sessions(&url).await;
    sql_common::pg::drop_schema(&admin, &schema).await;
}

//! The `shop` example on `RedisStore`, over real HTTP: races that must lose
//! no update and revive no session, two app instances sharing sessions, and
//! concurrent counters.
//!
//! Needs the Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`); without
//! it the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail. Each test works under a
//! key prefix of its own and deletes its keys after.

mod common;

#[path = "../examples/shop.rs"]
#[allow(dead_code)] // the example's `main` and its runner are not used by the tests
mod shop;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{bare_client, Browser, TestServer};
use redis::AsyncCommands as _;
use reqwest::header::{COOKIE, SET_COOKIE};
use session_kit::{Key, RedisStore, SessionLayer};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!(
        "session-kit-http:{}:{nanos}:{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store under `prefix`, or `None` (said loudly) when there is no Redis.
async fn store(prefix: &str) -> Option<RedisStore> {
    let url = redis_url();
    match RedisStore::builder(&url).key_prefix(prefix).connect().await {
        Ok(store) => Some(store),
        Err(err) => {
            common::skip_or_fail(&format!("no Redis at {url} ({err}); set REDIS_URL"));
            None
        }
    }
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a connection to Redis")
}

/// The keys under `prefix`.
async fn keys_under(prefix: &str) -> Vec<String> {
    let mut conn = raw().await;
    let mut iter = conn
        .scan_match::<_, String>(format!("{prefix}*"))
        .await
        .expect("SCAN");
    let mut keys = Vec::new();
    while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
        keys.push(key);
    }
    keys
}

async fn cleanup(prefix: &str) {
    let keys = keys_under(prefix).await;
    if !keys.is_empty() {
        let _: () = raw().await.del(keys).await.expect("DEL");
    }
}

/// The shop on its own listener, with its own connection to Redis.
async fn shop_server(store: RedisStore, key: Key) -> TestServer {
    let layer = SessionLayer::builder(store, key)
        .secure(false)
        .build()
        .expect("a valid configuration");
    TestServer::start(shop::app().layer(layer)).await
}

/// One shop instance under a fresh prefix.
async fn one_shop() -> Option<(TestServer, String)> {
    let prefix = unique_prefix();
    let store = store(&prefix).await?;
    Some((shop_server(store, Key::generate()).await, prefix))
}

/// SPEC semantics 4: a cart change and a theme change racing on one session
/// both persist, in 100 trials.
#[tokio::test]
async fn concurrent_cart_and_theme_changes_both_persist() {
    let Some((shop, prefix)) = one_shop().await else {
        return;
    };
    for trial in 0..100 {
        let browser = Browser::new();
        browser.get(&shop.url("/")).await;
        let cookie = browser.cookies_for(&shop.url("/")).expect("a cookie");
        let (item, theme) = (format!("item{trial}"), format!("theme{trial}"));
        let client = bare_client();
        let add = client
            .post(shop.url("/cart/add?delay_ms=50"))
            .header(COOKIE, &cookie)
            .form(&[("item", item.as_str())])
            .send();
        let prefs = client
            .post(shop.url("/prefs?delay_ms=50"))
            .header(COOKIE, &cookie)
            .form(&[("theme", theme.as_str())])
            .send();
        let (add, prefs) = tokio::join!(add, prefs);
        assert_eq!(add.expect("add").status(), 200, "trial {trial}");
        assert_eq!(prefs.expect("prefs").status(), 200, "trial {trial}");
        assert_eq!(
            browser.get(&shop.url("/cart")).await,
            (200, format!("[\"{item}\"]")),
            "trial {trial}: the cart persisted"
        );
        assert_eq!(
            browser.get(&shop.url("/prefs")).await,
            (200, theme),
            "trial {trial}: the theme persisted"
        );
    }
    cleanup(&prefix).await;
}

/// SPEC semantics 5: a slow cart write that finishes after a logout never
/// brings the session back, in 20 trials.
#[tokio::test]
async fn a_slow_write_racing_a_logout_never_revives_the_session() {
    let Some((shop, prefix)) = one_shop().await else {
        return;
    };
    for trial in 0..20 {
        let browser = Browser::new();
        let login = browser.post(&shop.url("/login"), &[("user", "ada")]).await;
        assert_eq!(login, (200, "Logged in as ada".to_owned()));
        assert_eq!(keys_under(&prefix).await.len(), 1, "trial {trial}");
        let cookie = browser.cookies_for(&shop.url("/")).expect("a cookie");
        let client = bare_client();
        let slow = client
            .post(shop.url("/cart/add?delay_ms=200"))
            .header(COOKIE, &cookie)
            .form(&[("item", "late")])
            .send();
        let logout = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            client
                .post(shop.url("/logout"))
                .header(COOKIE, &cookie)
                .send()
                .await
        };
        let (slow, logout) = tokio::join!(slow, logout);
        assert_eq!(logout.expect("logout").status(), 200, "trial {trial}");
        let slow = slow.expect("the slow add");
        assert_eq!(slow.status(), 200, "trial {trial}");
        assert!(
            slow.headers().get(SET_COOKIE).is_none(),
            "trial {trial}: the late write issues no cookie"
        );
        assert_eq!(
            keys_under(&prefix).await,
            Vec::<String>::new(),
            "trial {trial}: no session is left in Redis"
        );
        let me = client
            .get(shop.url("/me"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("GET /me");
        assert_eq!(me.status(), 401, "trial {trial}: logged out for good");
    }
    cleanup(&prefix).await;
}

/// Two instances, each with its own connection, one key: a session started
/// on either is served by the other, login on one and logout on the other.
#[tokio::test]
async fn two_instances_share_sessions_both_ways() {
    let prefix = unique_prefix();
    let (Some(store_a), Some(store_b)) = (store(&prefix).await, store(&prefix).await) else {
        return;
    };
    let key = Key::generate();
    let a = shop_server(store_a, key.clone()).await;
    let b = shop_server(store_b, key).await;
    // One jar: the cookie goes to both (cookies do not care about ports).
    let browser = Browser::new();

    assert_eq!(
        browser.get(&a.url("/")).await,
        (200, "Welcome to this page for the first time!".to_owned())
    );
    assert_eq!(
        browser.get(&b.url("/")).await,
        (200, "You visited this page 2 times".to_owned())
    );
    assert_eq!(
        browser.get(&a.url("/")).await,
        (200, "You visited this page 3 times".to_owned())
    );
    assert_eq!(
        browser
            .post(&b.url("/cart/add"), &[("item", "apple")])
            .await,
        (200, "1".to_owned())
    );
    assert_eq!(
        browser.get(&a.url("/cart")).await,
        (200, "[\"apple\"]".to_owned())
    );

    // Login on A: B sees the user under the new ID, and the old ID is dead.
    let before_login = browser.cookies_for(&a.url("/")).expect("a cookie");
    assert_eq!(
        browser.post(&a.url("/login"), &[("user", "ada")]).await,
        (200, "Logged in as ada".to_owned())
    );
    assert_eq!(browser.get(&b.url("/me")).await, (200, "ada".to_owned()));
    assert_eq!(
        browser.get(&b.url("/cart")).await,
        (200, "[\"apple\"]".to_owned()),
        "the data moved with the new ID"
    );
    let old = bare_client()
        .get(b.url("/me"))
        .header(COOKIE, &before_login)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(old.status(), 401, "the pre-login cookie logs no one in");

    // Logout on B: A no longer knows the session, even with its cookie.
    let logged_in = browser.cookies_for(&a.url("/")).expect("a cookie");
    assert_eq!(
        browser.post(&b.url("/logout"), &[]).await,
        (200, "Logged out".to_owned())
    );
    let replayed = bare_client()
        .get(a.url("/me"))
        .header(COOKIE, &logged_in)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(replayed.status(), 401, "logged out on A too");
    assert_eq!(
        browser.get(&a.url("/me")).await,
        (401, "Not logged in".to_owned())
    );

    // And the other way round: login on B, logout on A.
    assert_eq!(
        browser.post(&b.url("/login"), &[("user", "grace")]).await,
        (200, "Logged in as grace".to_owned())
    );
    assert_eq!(browser.get(&a.url("/me")).await, (200, "grace".to_owned()));
    let logged_in = browser.cookies_for(&a.url("/")).expect("a cookie");
    assert_eq!(
        browser.post(&a.url("/logout"), &[]).await,
        (200, "Logged out".to_owned())
    );
    let replayed = bare_client()
        .get(b.url("/me"))
        .header(COOKIE, &logged_in)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(replayed.status(), 401, "logged out on B too");
    assert!(keys_under(&prefix).await.is_empty(), "nothing left behind");
    cleanup(&prefix).await;
}

/// Fifty concurrent `GET /` on one session all count (the counter is a
/// store-side increment), in 20 trials: the next visit reads 52.
#[tokio::test]
async fn fifty_concurrent_visits_on_one_session_all_count() {
    let Some((shop, prefix)) = one_shop().await else {
        return;
    };
    for trial in 0..20 {
        let browser = Browser::new();
        assert_eq!(browser.get(&shop.url("/")).await.0, 200);
        let cookie = browser.cookies_for(&shop.url("/")).expect("a cookie");
        let client = bare_client();
        let visits = (0..50).map(|_| client.get(shop.url("/")).header(COOKIE, &cookie).send());
        for res in futures_util::future::join_all(visits).await {
            assert_eq!(res.expect("GET /").status(), 200, "trial {trial}");
        }
        assert_eq!(
            browser.get(&shop.url("/")).await,
            (200, "You visited this page 52 times".to_owned()),
            "trial {trial}: no visit was lost"
        );
    }
    cleanup(&prefix).await;
}

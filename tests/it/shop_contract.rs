//! The `shop` example's HTTP contract, over real HTTP: login with
//! regeneration, logout, the cart, the theme, and races between them.

use crate::common;

use crate::shop;

use common::{bare_client, Browser, TestServer};
use reqwest::header::{COOKIE, SET_COOKIE};
use session_kit::{Key, MemoryStore, SessionLayer};
use session_runtime::testing::InstrumentedStore;

struct Shop {
    server: TestServer,
    store: InstrumentedStore<MemoryStore>,
}

async fn shop() -> Shop {
    let store = InstrumentedStore::new(MemoryStore::new());
    let layer = SessionLayer::builder(store.clone(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    Shop {
        server: TestServer::start(shop::app().layer(layer)).await,
        store,
    }
}

impl Shop {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

#[tokio::test]
async fn the_counter_works_as_in_visits() {
    let shop = shop().await;
    let browser = Browser::new();
    let url = shop.url("/");
    assert_eq!(
        browser.get(&url).await,
        (200, "Welcome to this page for the first time!".to_owned())
    );
    assert_eq!(
        browser.get(&url).await,
        (200, "You visited this page 2 times".to_owned())
    );
    assert_eq!(
        browser.get(&url).await,
        (200, "You visited this page 3 times".to_owned())
    );
}

#[tokio::test]
async fn me_is_401_until_login() {
    let shop = shop().await;
    let browser = Browser::new();
    assert_eq!(
        browser.get(&shop.url("/me")).await,
        (401, "Not logged in".to_owned())
    );
    assert_eq!(
        browser.post(&shop.url("/login"), &[("user", "ada")]).await,
        (200, "Logged in as ada".to_owned())
    );
    assert_eq!(browser.get(&shop.url("/me")).await, (200, "ada".to_owned()));
}

#[tokio::test]
async fn login_regenerates_the_id_and_the_old_cookie_is_dead() {
    let shop = shop().await;
    let browser = Browser::new();
    browser
        .post(&shop.url("/cart/add"), &[("item", "apple")])
        .await;
    let before = browser
        .cookies_for(&shop.url("/"))
        .expect("a session cookie");
    assert_eq!(
        browser.post(&shop.url("/login"), &[("user", "ada")]).await,
        (200, "Logged in as ada".to_owned())
    );
    let after = browser
        .cookies_for(&shop.url("/"))
        .expect("a session cookie");
    assert_ne!(before, after, "login gives a new session ID");
    assert_eq!(
        browser.get(&shop.url("/cart")).await.1,
        r#"["apple"]"#,
        "data is kept"
    );

    // The pre-login cookie (the one an attacker could have planted) logs no
    // one in, and its cart is gone.
    let client = bare_client();
    let res = client
        .get(shop.url("/me"))
        .header(COOKIE, &before)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(res.status(), 401);
    let res = client
        .get(shop.url("/cart"))
        .header(COOKIE, &before)
        .send()
        .await
        .expect("GET /cart");
    assert_eq!(res.text().await.expect("a body"), "[]");
}

#[tokio::test]
async fn logout_deletes_the_session_and_expires_the_cookie() {
    let shop = shop().await;
    let browser = Browser::new();
    browser.post(&shop.url("/login"), &[("user", "ada")]).await;
    browser
        .post(&shop.url("/cart/add"), &[("item", "apple")])
        .await;
    let cookie = browser
        .cookies_for(&shop.url("/"))
        .expect("a session cookie");
    assert_eq!(shop.store.inner().len(), 1);

    let res = bare_client()
        .post(shop.url("/logout"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(res.status(), 200);
    let removal = res
        .headers()
        .get(SET_COOKIE)
        .expect("a removal cookie")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(removal.starts_with("sid=;"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(removal.contains("Path=/"), "{removal}");
    assert_eq!(res.text().await.expect("a body"), "Logged out");
    assert_eq!(shop.store.inner().len(), 0, "deleted from the store");

    // Replaying the old cookie gives a fresh, empty session.
    let res = bare_client()
        .get(shop.url("/me"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_cart_counts_and_lists_items_oldest_first() {
    let shop = shop().await;
    let browser = Browser::new();
    assert_eq!(
        browser.get(&shop.url("/cart")).await,
        (200, "[]".to_owned())
    );
    for (n, item) in ["apple", "pear", "fig \"quoted\""].iter().enumerate() {
        assert_eq!(
            browser
                .post(&shop.url("/cart/add"), &[("item", item)])
                .await,
            (200, (n + 1).to_string())
        );
    }
    let (status, body) = browser.get(&shop.url("/cart")).await;
    assert_eq!(status, 200);
    let items: Vec<String> = serde_json::from_str(&body).expect("a JSON array");
    assert_eq!(items, ["apple", "pear", "fig \"quoted\""]);
}

#[tokio::test]
async fn the_theme_is_default_until_set() {
    let shop = shop().await;
    let browser = Browser::new();
    assert_eq!(
        browser.get(&shop.url("/prefs")).await,
        (200, "default".to_owned())
    );
    assert_eq!(
        browser
            .post(&shop.url("/prefs"), &[("theme", "dark")])
            .await,
        (200, "Theme set to dark".to_owned())
    );
    assert_eq!(
        browser.get(&shop.url("/prefs")).await,
        (200, "dark".to_owned())
    );
}

#[tokio::test]
async fn delay_ms_is_checked_and_honoured() {
    let shop = shop().await;
    let browser = Browser::new();
    let started = std::time::Instant::now();
    assert_eq!(
        browser
            .post(&shop.url("/cart/add?delay_ms=200"), &[("item", "apple")])
            .await,
        (200, "1".to_owned())
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(200),
        "it slept"
    );
    for bad in ["5001", "-1", "soon"] {
        let (status, _) = browser
            .post(
                &shop.url(&format!("/cart/add?delay_ms={bad}")),
                &[("item", "x")],
            )
            .await;
        assert_eq!(status, 400, "delay_ms={bad}");
    }
    assert_eq!(browser.get(&shop.url("/cart")).await.1, r#"["apple"]"#);
}

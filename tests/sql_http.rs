//! The `shop` example over real HTTP on each SQL store: the contract lines,
//! a cart change racing a theme change (100 trials), a slow write racing a
//! logout (20 trials), fifty concurrent visits (20 trials), and two app
//! instances sharing one table.
//!
//! Servers as in `sql_common`; each store's part runs when its feature is
//! on, in a schema, table or file of its own, removed after.

mod common;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod sql_common;

#[path = "../examples/shop.rs"]
#[allow(dead_code)] // the example's `main` and its runner are not used by the tests
mod shop;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod checks {
    use super::common::{bare_client, Browser, TestServer};
    use super::shop;
    use super::sql_common::Harness;
    use reqwest::header::{COOKIE, SET_COOKIE};
    use session_kit::{Key, SessionLayer, SessionStore};

    pub(crate) async fn serve(store: impl SessionStore, key: Key) -> TestServer {
        let layer = SessionLayer::builder(store, key)
            .secure(false)
            .build()
            .expect("a valid configuration");
        TestServer::start(shop::app().layer(layer)).await
    }

    /// The binding lines of the shop's HTTP contract.
    pub(crate) async fn the_shop_keeps_its_contract<H: Harness>() {
        let Some(h) = H::open().await else { return };
        let shop = serve(h.store(), Key::generate()).await;
        let browser = Browser::new();
        let url = |path| shop.url(path);
        assert_eq!(
            browser.get(&url("/")).await,
            (200, "Welcome to this page for the first time!".to_owned())
        );
        assert_eq!(
            browser.get(&url("/")).await,
            (200, "You visited this page 2 times".to_owned())
        );
        assert_eq!(
            browser.get(&url("/me")).await,
            (401, "Not logged in".to_owned())
        );
        assert_eq!(
            browser.get(&url("/prefs")).await,
            (200, "default".to_owned())
        );
        assert_eq!(
            browser.post(&url("/cart/add"), &[("item", "apple")]).await,
            (200, "1".to_owned())
        );
        assert_eq!(
            browser.post(&url("/cart/add"), &[("item", "pear")]).await,
            (200, "2".to_owned())
        );
        assert_eq!(
            browser.get(&url("/cart")).await,
            (200, "[\"apple\",\"pear\"]".to_owned())
        );
        assert_eq!(
            browser.post(&url("/prefs"), &[("theme", "dark")]).await,
            (200, "Theme set to dark".to_owned())
        );
        assert_eq!(browser.get(&url("/prefs")).await, (200, "dark".to_owned()));
        let before_login = browser.cookies_for(&url("/")).expect("a cookie");
        assert_eq!(
            browser.post(&url("/login"), &[("user", "ada")]).await,
            (200, "Logged in as ada".to_owned())
        );
        assert_eq!(browser.get(&url("/me")).await, (200, "ada".to_owned()));
        assert_eq!(
            browser.get(&url("/cart")).await,
            (200, "[\"apple\",\"pear\"]".to_owned()),
            "the data moved with the new ID"
        );
        let old = bare_client()
            .get(url("/me"))
            .header(COOKIE, &before_login)
            .send()
            .await
            .expect("GET /me");
        assert_eq!(old.status(), 401, "the pre-login cookie logs no one in");
        assert_eq!(h.rows().await, 1, "one session, under its new key");
        let logged_in = browser.cookies_for(&url("/")).expect("a cookie");
        assert_eq!(
            browser.post(&url("/logout"), &[]).await,
            (200, "Logged out".to_owned())
        );
        assert_eq!(h.rows().await, 0, "deleted from the store");
        let replayed = bare_client()
            .get(url("/me"))
            .header(COOKIE, &logged_in)
            .send()
            .await
            .expect("GET /me");
        assert_eq!(replayed.status(), 401, "logged out for good");
        assert_eq!(
            browser.get(&url("/me")).await,
            (401, "Not logged in".to_owned())
        );
        drop(shop);
        h.close().await;
    }

    /// SPEC semantics 4: a cart change and a theme change racing on one
    /// session both persist, in 100 trials.
    pub(crate) async fn concurrent_cart_and_theme_changes_both_persist<H: Harness>() {
        let Some(h) = H::open().await else { return };
        let shop = serve(h.store(), Key::generate()).await;
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
        drop(shop);
        h.close().await;
    }

    /// SPEC semantics 5: a slow cart write that finishes after a logout
    /// never brings the session back, in 20 trials.
    pub(crate) async fn a_slow_write_racing_a_logout_never_revives_the_session<H: Harness>() {
        let Some(h) = H::open().await else { return };
        let shop = serve(h.store(), Key::generate()).await;
        for trial in 0..20 {
            let browser = Browser::new();
            let login = browser.post(&shop.url("/login"), &[("user", "ada")]).await;
            assert_eq!(login, (200, "Logged in as ada".to_owned()));
            assert_eq!(h.rows().await, 1, "trial {trial}");
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
            assert_eq!(h.rows().await, 0, "trial {trial}: no row is left");
            let me = client
                .get(shop.url("/me"))
                .header(COOKIE, &cookie)
                .send()
                .await
                .expect("GET /me");
            assert_eq!(me.status(), 401, "trial {trial}: logged out for good");
        }
        drop(shop);
        h.close().await;
    }

    /// Fifty concurrent `GET /` on one session all count (the counter is an
    /// increment in the database), in 20 trials: the next visit reads 52.
    pub(crate) async fn fifty_concurrent_visits_on_one_session_all_count<H: Harness>() {
        let Some(h) = H::open().await else { return };
        let shop = serve(h.store(), Key::generate()).await;
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
        drop(shop);
        h.close().await;
    }

    /// Two instances, each with its own pool, one table and one key: login
    /// on one, served by the other; logout on the other, gone on the first.
    pub(crate) async fn two_instances_share_sessions<H: Harness>() {
        let Some(h) = H::open().await else { return };
        let key = Key::generate();
        let a = serve(h.store(), key.clone()).await;
        let b = serve(h.another().await, key).await;
        let browser = Browser::new();
        browser.get(&a.url("/")).await;
        assert_eq!(
            browser.get(&b.url("/")).await,
            (200, "You visited this page 2 times".to_owned())
        );
        assert_eq!(
            browser.post(&a.url("/login"), &[("user", "ada")]).await,
            (200, "Logged in as ada".to_owned())
        );
        assert_eq!(browser.get(&b.url("/me")).await, (200, "ada".to_owned()));
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
        assert_eq!(h.rows().await, 0);
        drop((a, b));
        h.close().await;
    }
}

/// The checks above, as tests of one store.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
macro_rules! http_tests {
    ($store:ident, $harness:ty) => {
        mod $store {
            #[tokio::test]
            async fn the_shop_keeps_its_contract() {
                super::checks::the_shop_keeps_its_contract::<$harness>().await;
            }
            #[tokio::test]
            async fn concurrent_cart_and_theme_changes_both_persist() {
                super::checks::concurrent_cart_and_theme_changes_both_persist::<$harness>().await;
            }
            #[tokio::test]
            async fn a_slow_write_racing_a_logout_never_revives_the_session() {
                super::checks::a_slow_write_racing_a_logout_never_revives_the_session::<$harness>()
                    .await;
            }
            #[tokio::test]
            async fn fifty_concurrent_visits_on_one_session_all_count() {
                super::checks::fifty_concurrent_visits_on_one_session_all_count::<$harness>().await;
            }
            #[tokio::test]
            async fn two_instances_share_sessions() {
                super::checks::two_instances_share_sessions::<$harness>().await;
            }
        }
    };
}

#[cfg(feature = "postgres")]
http_tests!(postgres, crate::sql_common::pg::Pg);
#[cfg(feature = "mysql")]
http_tests!(mysql, crate::sql_common::my::My);
#[cfg(feature = "sqlite")]
http_tests!(sqlite, crate::sql_common::lite::Lite);

//! The races over HTTP (SPEC semantics 4 and 5, and counters): different
//! fields changed at once both persist, a slow write never revives a
//! session ended or moved meanwhile, and concurrent increments all count.

use std::time::Duration as StdDuration;

use futures_util::future::join_all;

use super::{TestApp, Visitor};
use crate::store::SessionStore;

/// Waits `ms` milliseconds: the head start of the racing request.
async fn after(ms: u64) {
    tokio::time::sleep(StdDuration::from_millis(ms)).await;
}

/// SPEC 4: Two concurrent requests on one session that change different fields
/// (the cart and the theme) both persist: 100 trials.
pub async fn concurrent_changes_to_different_fields_both_persist<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    for trial in 0..100 {
        let visitor = Visitor::new();
        visitor.get(&app, "/").await;
        let cookie = visitor.cookie().expect("a cookie");
        let cart = app.post("/cart/add?delay_ms=20", Some(&cookie), &[("item", "apple")]);
        let theme = app.post("/prefs?delay_ms=20", Some(&cookie), &[("theme", "dark")]);
        let (cart, theme) = tokio::join!(cart, theme);
        assert_eq!(cart.answer(), (200, "1"), "trial {trial}");
        assert_eq!(theme.answer(), (200, "Theme set to dark"), "trial {trial}");
        assert_eq!(
            app.get("/cart", Some(&cookie)).await.body,
            r#"["apple"]"#,
            "trial {trial}: the cart survived the theme's save"
        );
        assert_eq!(
            app.get("/prefs", Some(&cookie)).await.body,
            "dark",
            "trial {trial}: the theme survived the cart's save"
        );
    }
}

/// SPEC 5: A slow write that finishes after a logout never brings the session
/// back: 20 trials.
pub async fn a_slow_write_racing_a_logout_does_not_revive_the_session<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    for trial in 0..20 {
        let visitor = Visitor::new();
        visitor.post(&app, "/login", &[("user", "ada")]).await;
        let cookie = visitor.cookie().expect("a cookie");
        let slow = app.post("/cart/add?delay_ms=150", Some(&cookie), &[("item", "late")]);
        let logout = async {
            after(30).await;
            app.post("/logout", Some(&cookie), &[]).await
        };
        let (slow, logout) = tokio::join!(slow, logout);
        assert_eq!(logout.answer(), (200, "Logged out"), "trial {trial}");
        assert_eq!(slow.status, 200, "trial {trial}");
        assert!(
            slow.cookie().is_none(),
            "trial {trial}: the late write issues no live cookie: {slow:?}"
        );
        assert_eq!(
            app.get("/me", Some(&cookie)).await.answer(),
            (401, "Not logged in"),
            "trial {trial}"
        );
        assert_eq!(
            app.get("/cart", Some(&cookie)).await.body,
            "[]",
            "trial {trial}"
        );
        assert_eq!(
            app.get("/count", Some(&cookie)).await.body,
            "new",
            "trial {trial}"
        );
    }
}

/// SPEC 5: A slow write that finishes after a login moved the session to a new
/// ID never brings the old ID back: 20 trials.
pub async fn a_slow_write_racing_a_login_does_not_revive_the_old_id<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    for trial in 0..20 {
        let visitor = Visitor::new();
        visitor.get(&app, "/").await;
        let old = visitor.cookie().expect("a cookie");
        let slow = app.post("/cart/add?delay_ms=150", Some(&old), &[("item", "late")]);
        let login = async {
            after(30).await;
            app.post("/login", Some(&old), &[("user", "ada")]).await
        };
        let (slow, login) = tokio::join!(slow, login);
        assert_eq!(login.answer(), (200, "Logged in as ada"), "trial {trial}");
        let new = login.cookie().expect("a new cookie at login");
        assert_eq!(slow.status, 200, "trial {trial}");
        assert!(
            slow.cookie().is_none(),
            "trial {trial}: the late write issues no cookie: {slow:?}"
        );
        assert_eq!(
            app.get("/count", Some(&old)).await.body,
            "new",
            "trial {trial}: the old ID stays dead"
        );
        assert_eq!(
            app.get("/me", Some(&old)).await.answer(),
            (401, "Not logged in"),
            "trial {trial}"
        );
        assert_eq!(
            app.get("/me", Some(&new)).await.body,
            "ada",
            "trial {trial}"
        );
        assert_eq!(
            app.get("/count", Some(&new)).await.body,
            "1",
            "trial {trial}"
        );
    }
}

/// SPEC 5: A counter bump that finishes after a logout does not revive the
/// session either: an increment is a write like any other.
pub async fn a_counter_bump_that_ends_after_logout_does_not_revive_the_session<S: SessionStore>(
    store: S,
) {
    let app = TestApp::start(store).await;
    for trial in 0..10 {
        let visitor = Visitor::new();
        visitor.get(&app, "/").await;
        let cookie = visitor.cookie().expect("a cookie");
        let slow = app.post("/bump?delay_ms=150", Some(&cookie), &[]);
        let logout = async {
            after(30).await;
            app.post("/logout", Some(&cookie), &[]).await
        };
        let (slow, logout) = tokio::join!(slow, logout);
        assert_eq!(logout.status, 200, "trial {trial}");
        assert_eq!(
            slow.answer(),
            (200, "2"),
            "trial {trial}: the handler saw its count"
        );
        assert!(slow.cookie().is_none(), "trial {trial}: {slow:?}");
        assert_eq!(
            app.get("/count", Some(&cookie)).await.body,
            "new",
            "trial {trial}"
        );
    }
}

/// Counters: fifty concurrent `+= 1` on one session all count: 20 trials.
pub async fn fifty_concurrent_increments_on_one_session_all_count<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    for trial in 0..20 {
        let visitor = Visitor::new();
        visitor.get(&app, "/").await;
        let cookie = visitor.cookie().expect("a cookie");
        let bumps = (0..50).map(|_| app.post("/bump", Some(&cookie), &[]));
        for reply in join_all(bumps).await {
            assert_eq!(reply.status, 200, "trial {trial}: {reply:?}");
        }
        assert_eq!(
            app.get("/count", Some(&cookie)).await.body,
            "51",
            "trial {trial}: no increment lost"
        );
    }
}

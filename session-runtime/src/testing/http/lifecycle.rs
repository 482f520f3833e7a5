//! The session lifecycle over HTTP: SPEC's examples' contract (counter,
//! login, logout, cart, prefs), replays, several app instances, expiry.

use std::time::Duration as StdDuration;

use super::{TestApp, Visitor};
use crate::store::SessionStore;

async fn sleep(seconds: f64) {
    tokio::time::sleep(StdDuration::from_secs_f64(seconds)).await;
}

/// SPEC's `visits`: the first visit is welcomed and sets the cookie (with
/// `HttpOnly`, `SameSite=Lax`, `Path=/`), each later one counts all visits.
pub async fn the_counter_welcomes_then_counts_every_visit<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let visitor = Visitor::new();
    let first = visitor.get(&app, "/").await;
    assert_eq!(
        first.answer(),
        (200, "Welcome to this page for the first time!")
    );
    let header = first
        .set_cookie
        .as_deref()
        .expect("a cookie at the first visit");
    assert!(header.starts_with("sid="), "{header}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    for n in 2..=5 {
        let reply = visitor.get(&app, "/").await;
        assert_eq!(
            reply.answer(),
            (200, format!("You visited this page {n} times").as_str())
        );
    }
    let other = Visitor::new();
    assert_eq!(
        other.get(&app, "/").await.body,
        "Welcome to this page for the first time!"
    );
}

/// A returning visit whose counter changes keeps its cookie: no new
/// `Set-Cookie` for a session whose ID and expiry hint did not move.
pub async fn a_returning_visit_that_only_counts_does_not_reissue_the_cookie<S: SessionStore>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let cookie = app.get("/", None).await.cookie().expect("a cookie");
    let reply = app.get("/", Some(&cookie)).await;
    assert_eq!(reply.answer(), (200, "You visited this page 2 times"));
    assert_eq!(reply.set_cookie, None);
}

/// SPEC's `counter`: a changed counter is sent to the store as an
/// increment, never as the value the handler read.
pub async fn a_counter_is_saved_as_an_increment<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.get("/", None).await.cookie().expect("a cookie");
    app.get("/", Some(&cookie)).await;
    let written = app.store.written();
    let (_, last) = written.last().expect("a save");
    assert_eq!(last.sets().count(), 0, "no value is written: {last:?}");
    let increments: Vec<_> = last
        .increments()
        .map(|inc| (inc.key.as_ref(), inc.delta))
        .collect();
    assert_eq!(increments, vec![("suite_visits.count", 1)]);
}

/// SPEC's `/me`: 401 `Not logged in` until a login, the user after it.
pub async fn me_is_401_until_login<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let visitor = Visitor::new();
    assert_eq!(
        visitor.get(&app, "/me").await.answer(),
        (401, "Not logged in")
    );
    visitor.get(&app, "/").await;
    assert_eq!(
        visitor.get(&app, "/me").await.answer(),
        (401, "Not logged in")
    );
    let reply = visitor.post(&app, "/login", &[("user", "ada")]).await;
    assert_eq!(reply.answer(), (200, "Logged in as ada"));
    assert_eq!(visitor.get(&app, "/me").await.answer(), (200, "ada"));
}

/// SPEC's login: the ID is regenerated, the data moves with it, and the
/// pre-login cookie logs nobody in.
pub async fn login_regenerates_the_id_and_the_old_cookie_logs_nobody_in<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let visitor = Visitor::new();
    visitor.get(&app, "/").await;
    let before = visitor.cookie().expect("a cookie");
    let old_id = app.id_of(&before).await;
    let reply = visitor.post(&app, "/login", &[("user", "ada")]).await;
    assert_eq!(reply.answer(), (200, "Logged in as ada"));
    let after = reply.cookie().expect("a new cookie at login");
    assert_ne!(app.id_of(&after).await.expose(), old_id.expose());
    assert_eq!(app.get("/me", Some(&after)).await.body, "ada");
    assert_eq!(
        app.get("/", Some(&after)).await.body,
        "You visited this page 2 times",
        "the data moved to the new ID"
    );
    let replay = app.get("/me", Some(&before)).await;
    assert_eq!(replay.answer(), (401, "Not logged in"));
    assert_eq!(
        app.get("/count", Some(&before)).await.body,
        "new",
        "the old ID is dead"
    );
}

/// SPEC's logout: 200 `Logged out`, the session deleted from the store and
/// the cookie expired with the attributes it was set with.
pub async fn logout_deletes_the_session_and_expires_the_cookie<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let visitor = Visitor::new();
    visitor.post(&app, "/login", &[("user", "ada")]).await;
    let cookie = visitor.cookie().expect("a cookie");
    let deletes = app.store.calls().deletes;
    let reply = app.post("/logout", Some(&cookie), &[]).await;
    assert_eq!(reply.answer(), (200, "Logged out"));
    assert!(reply.clears_cookie(), "{:?}", reply.set_cookie);
    let header = reply.set_cookie.as_deref().unwrap_or_default();
    assert!(header.starts_with("sid="), "{header}");
    assert!(header.contains("Path=/"), "{header}");
    assert_eq!(
        app.store.calls().deletes,
        deletes + 1,
        "deleted from the store"
    );
    assert_eq!(app.get("/count", Some(&cookie)).await.body, "new");
}

/// A cookie replayed after logout gets a fresh, empty session, never the
/// old one back.
pub async fn a_cookie_replayed_after_logout_gets_a_fresh_empty_session<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let visitor = Visitor::new();
    visitor.post(&app, "/login", &[("user", "ada")]).await;
    visitor.post(&app, "/cart/add", &[("item", "apple")]).await;
    let cookie = visitor.cookie().expect("a cookie");
    app.post("/logout", Some(&cookie), &[]).await;
    assert_eq!(
        app.get("/me", Some(&cookie)).await.answer(),
        (401, "Not logged in")
    );
    assert_eq!(app.get("/cart", Some(&cookie)).await.body, "[]");
    let reply = app
        .post("/cart/add", Some(&cookie), &[("item", "pear")])
        .await;
    assert_eq!(reply.answer(), (200, "1"));
    let fresh = reply.cookie().expect("a new session gets a new cookie");
    assert_ne!(fresh, cookie);
    assert_eq!(app.get("/cart", Some(&fresh)).await.body, r#"["pear"]"#);
}

/// SPEC's cart and prefs: items oldest first, the theme `default` until set,
/// and the two in different namespaces.
pub async fn the_cart_lists_items_oldest_first_and_the_theme_defaults<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let visitor = Visitor::new();
    assert_eq!(visitor.get(&app, "/cart").await.answer(), (200, "[]"));
    assert_eq!(visitor.get(&app, "/prefs").await.answer(), (200, "default"));
    for (n, item) in ["apple", "pear", "fig"].iter().enumerate() {
        let reply = visitor.post(&app, "/cart/add", &[("item", item)]).await;
        assert_eq!(reply.answer(), (200, (n + 1).to_string().as_str()));
    }
    let reply = visitor.post(&app, "/prefs", &[("theme", "dark")]).await;
    assert_eq!(reply.answer(), (200, "Theme set to dark"));
    assert_eq!(
        visitor.get(&app, "/cart").await.body,
        r#"["apple","pear","fig"]"#
    );
    assert_eq!(visitor.get(&app, "/prefs").await.body, "dark");
}

/// Two app instances over one store (and one key) serve each other's
/// sessions, both ways, as instances behind a load balancer do.
pub async fn two_app_instances_share_sessions_both_ways<S: SessionStore>(store: S) {
    let one = TestApp::start(store).await;
    let two = one.another().await;
    let visitor = Visitor::new();
    visitor.get(&one, "/").await;
    assert_eq!(
        visitor.get(&two, "/").await.body,
        "You visited this page 2 times"
    );
    visitor.post(&two, "/login", &[("user", "ada")]).await;
    assert_eq!(visitor.get(&one, "/me").await.answer(), (200, "ada"));
    visitor.post(&one, "/logout", &[]).await;
    assert_eq!(
        visitor.get(&two, "/me").await.answer(),
        (401, "Not logged in")
    );
}

/// SPEC 7: An idle session ends on the server after its inactivity timeout,
/// whatever the cookie says; an active one lives on.
pub async fn an_idle_session_ends_on_the_server<S: SessionStore>(store: S) {
    let app = TestApp::with(store, |b| {
        b.inactivity_timeout(StdDuration::from_secs(2))
            .persistent_cookie(true)
    })
    .await;
    let idle = Visitor::new();
    let busy = Visitor::new();
    idle.get(&app, "/").await;
    busy.get(&app, "/").await;
    for _ in 0..3 {
        sleep(0.9).await;
        busy.get(&app, "/").await;
    }
    assert_eq!(idle.get(&app, "/count").await.body, "new", "idle 2.7 s");
    assert_eq!(busy.get(&app, "/count").await.body, "4");
}

/// A read-only request writes nothing until `extend_after` has passed; then
/// one TTL-only touch moves the expiry, and the session outlives its first
/// deadline.
pub async fn a_read_only_request_slides_the_expiry_once_extend_after_has_passed<S: SessionStore>(
    store: S,
) {
    let app = TestApp::with(store, |b| {
        b.inactivity_timeout(StdDuration::from_secs(3))
            .extend_after(StdDuration::from_millis(1500))
            .persistent_cookie(true)
    })
    .await;
    let visitor = Visitor::new();
    visitor.get(&app, "/").await;
    let writes = app.store.calls().writes();
    for _ in 0..3 {
        let reply = visitor.get(&app, "/count").await;
        assert_eq!(
            (reply.answer(), reply.set_cookie.is_some()),
            ((200, "1"), false)
        );
    }
    assert_eq!(app.store.calls().writes(), writes, "no write per read");
    sleep(1.9).await;
    let reply = visitor.get(&app, "/count").await;
    assert_eq!(reply.body, "1");
    assert!(reply.set_cookie.is_some(), "the persistent cookie follows");
    let calls = app.store.calls();
    assert_eq!(calls.saves, 0, "no data written");
    sleep(1.9).await;
    // 3.8 s after the visit, past the first deadline, within the moved one.
    assert_eq!(visitor.get(&app, "/count").await.body, "1");
}

/// `SessionHandle::expires_at` reads the stored session's expiry, also after
/// the request changed the session (it once read the Unix epoch then), and
/// `None` for a new session.
pub async fn the_handle_reads_the_stored_expiry_after_a_change<S: SessionStore>(store: S) {
    let app = TestApp::with(store, |b| {
        b.inactivity_timeout(StdDuration::from_secs(3600))
    })
    .await;
    let visitor = Visitor::new();
    assert_eq!(visitor.post(&app, "/visit-expiry", &[]).await.body, "none");
    let reply = visitor.post(&app, "/visit-expiry", &[]).await;
    let at: i64 = reply.body.parse().expect("Unix seconds");
    let expected = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    assert!(
        (expected - 120..=expected + 5).contains(&at),
        "expires at {at}, expected about {expected}"
    );
}

/// A write before `extend_after` has passed keeps the stored expiry (the
/// store is sent the expiry it holds: no expiry index to rewrite on every
/// write of a busy session); one after it moves the expiry with the write.
pub async fn a_write_moves_the_stored_expiry_once_extend_after_has_passed<S: SessionStore>(
    store: S,
) {
    let app = TestApp::with(store, |b| {
        b.inactivity_timeout(StdDuration::from_secs(3))
            .extend_after(StdDuration::from_millis(1000))
    })
    .await;
    let visitor = Visitor::new();
    let stored = |body: String| -> i64 { body.parse().expect("Unix seconds") };
    assert_eq!(visitor.post(&app, "/visit-expiry", &[]).await.body, "none");
    let first = stored(visitor.post(&app, "/visit-expiry", &[]).await.body);
    // That write came within `extend_after` of the creation: kept.
    assert_eq!(
        stored(visitor.post(&app, "/visit-expiry", &[]).await.body),
        first
    );
    sleep(1.3).await;
    // This write finds the expiry kept, and moves it by 1.3 s.
    assert_eq!(
        stored(visitor.post(&app, "/visit-expiry", &[]).await.body),
        first
    );
    let moved = stored(visitor.post(&app, "/visit-expiry", &[]).await.body);
    assert!(
        (first + 1..=first + 2).contains(&moved),
        "{first} then {moved}"
    );
    // Every write counted (`/read`: name, visits, items, new).
    assert_eq!(visitor.get(&app, "/read").await.body, " 5 0 false");
}

/// The absolute lifetime ends a session however busy it is.
pub async fn the_absolute_lifetime_ends_a_busy_session<S: SessionStore>(store: S) {
    let app = TestApp::with(store, |b| {
        b.inactivity_timeout(StdDuration::from_secs(60))
            .absolute_lifetime(StdDuration::from_secs(2))
    })
    .await;
    let visitor = Visitor::new();
    visitor.get(&app, "/").await;
    sleep(1.0).await;
    assert_eq!(
        visitor.get(&app, "/").await.body,
        "You visited this page 2 times"
    );
    sleep(1.5).await;
    assert_eq!(visitor.get(&app, "/count").await.answer(), (200, "new"));
    assert_eq!(
        visitor.get(&app, "/").await.body,
        "Welcome to this page for the first time!"
    );
}

//! Sessions of a user over HTTP: binding at login, listing, revoking one,
//! all or all but the caller's, on one app instance or across two sharing
//! the store, "remember me", and the races between a slow request or a
//! login and a revocation.
//!
//! A store without the per-user index skips the listing and revoking cases
//! (its user routes answer 501).

use std::time::Duration as StdDuration;

use futures_util::future::join_all;

use super::{Reply, TestApp, Visitor};
use crate::store::SessionStore;

/// A visitor logged in as `user` on `app`.
async fn logged_in<S: SessionStore>(app: &TestApp<S>, user: &str) -> Visitor {
    let visitor = Visitor::new();
    let reply = visitor.post(app, "/user/login", &[("user", user)]).await;
    assert_eq!(
        reply.answer(),
        (200, format!("Logged in as {user}").as_str())
    );
    visitor
}

/// The visitor's listing: one `handle current remembered` line per session.
async fn listing<S: SessionStore>(app: &TestApp<S>, visitor: &Visitor) -> Vec<String> {
    let reply = visitor.get(app, "/user/sessions").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body.lines().map(str::to_owned).collect()
}

/// The handle of the first listed session that is not the caller's.
async fn another_handle<S: SessionStore>(app: &TestApp<S>, visitor: &Visitor) -> String {
    listing(app, visitor)
        .await
        .iter()
        .find(|line| line.contains(" false "))
        .and_then(|line| line.split(' ').next())
        .expect("a session other than the caller's")
        .to_owned()
}

/// How many live sessions the store lists for `user`.
async fn listed<S: SessionStore>(app: &TestApp<S>, user: &str) -> usize {
    app.users.list(user).await.expect("the store lists").len()
}

/// The `Max-Age` of the reply's cookie, if it set a persistent one.
fn max_age(reply: &Reply) -> Option<u64> {
    let header = reply.set_cookie.as_deref()?;
    header.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        if name.eq_ignore_ascii_case("max-age") {
            value.parse().ok()
        } else {
            None
        }
    })
}

/// A login binds the session to the user; the listing holds that user's
/// live sessions only, marks the caller's, and shows handles that are no
/// cookie; a logout takes the session out of the listing.
pub async fn a_login_binds_the_user_and_the_listing_marks_the_callers_session<S: SessionStore>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let anonymous = Visitor::new();
    anonymous
        .post(&app, "/cart/add", &[("item", "apple")])
        .await;
    assert_eq!(
        anonymous.get(&app, "/user/sessions").await.status,
        401,
        "a session with data but no user is not logged in"
    );

    let first = logged_in(&app, "ada").await;
    let second = logged_in(&app, "ada").await;
    logged_in(&app, "bob").await;
    let lines = listing(&app, &first).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|line| line.contains(" true ")).count(),
        1,
        "exactly one is the caller's: {lines:?}"
    );
    for line in &lines {
        let handle = line.split(' ').next().expect("a handle");
        for visitor in [&first, &second] {
            let cookie = visitor.cookie().expect("a cookie");
            assert!(!cookie.contains(handle), "a handle is no cookie value");
        }
    }
    assert_eq!(listed(&app, "ada").await, 2);
    assert_eq!(listed(&app, "bob").await, 1);
    assert_eq!(listed(&app, "nobody").await, 0);

    // The login regenerated the anonymous session's ID: its old key is not
    // listed, its cart came along.
    let before = anonymous.cookie().expect("a cookie");
    anonymous
        .post(&app, "/user/login", &[("user", "carol")])
        .await;
    assert_ne!(anonymous.cookie().expect("a cookie"), before);
    assert_eq!(anonymous.get(&app, "/cart").await.body, r#"["apple"]"#);
    assert_eq!(listed(&app, "carol").await, 1);

    assert_eq!(second.post(&app, "/logout", &[]).await.status, 200);
    assert_eq!(listed(&app, "ada").await, 1, "the logout left the index");
}

/// A session revoked by its handle on one instance is logged out on its
/// next request on the other, with no cache to wait out; a handle of
/// another user's session revokes nothing.
pub async fn a_session_revoked_on_one_instance_is_logged_out_on_the_other<S: SessionStore>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let other = app.another().await;
    let me = logged_in(&app, "ada").await;
    let phone = logged_in(&other, "ada").await;
    let handle = another_handle(&app, &me).await;
    let revoked = me.post(&app, "/user/revoke", &[("handle", &handle)]).await;
    assert_eq!(revoked.answer(), (200, "Session logged out"));
    assert_eq!(phone.get(&other, "/me").await.status, 401);
    assert_eq!(me.get(&other, "/me").await.answer(), (200, "ada"));
    let again = me.post(&app, "/user/revoke", &[("handle", &handle)]).await;
    assert_eq!(again.status, 404, "already gone");

    let bob = logged_in(&other, "bob").await;
    let bobs = listing(&other, &bob).await;
    let bobs_handle = bobs[0].split(' ').next().expect("a handle");
    let foreign = me
        .post(&app, "/user/revoke", &[("handle", bobs_handle)])
        .await;
    assert_eq!(
        foreign.status, 404,
        "another user's session is out of reach"
    );
    assert_eq!(bob.get(&app, "/me").await.answer(), (200, "bob"));
}

/// "Log out other devices" ends every session of the user but the caller's
/// and no other user's.
pub async fn logout_others_keeps_only_the_callers_session<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let other = app.another().await;
    let me = logged_in(&app, "ada").await;
    let devices = [logged_in(&app, "ada").await, logged_in(&other, "ada").await];
    let bob = logged_in(&other, "bob").await;
    let reply = me.post(&app, "/user/logout-others", &[]).await;
    assert_eq!(reply.answer(), (200, "Logged out 2 other sessions"));
    for device in &devices {
        assert_eq!(device.get(&other, "/me").await.status, 401);
    }
    assert_eq!(me.get(&other, "/me").await.answer(), (200, "ada"));
    assert_eq!(bob.get(&app, "/me").await.answer(), (200, "bob"));
    let lines = listing(&other, &me).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" true "), "{lines:?}");
}

/// "Log out everywhere" on one instance ends every session of the user, the
/// caller's too (its cookie is removed), on every instance; so does a
/// revocation from outside a request (a password-change job).
pub async fn logout_everywhere_on_one_instance_ends_the_users_sessions_on_every_instance<
    S: SessionStore,
>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let other = app.another().await;
    let me = logged_in(&app, "ada").await;
    let phone = logged_in(&other, "ada").await;
    let bob = logged_in(&other, "bob").await;
    let reply = me.post(&app, "/user/logout-everywhere", &[]).await;
    assert_eq!(reply.answer(), (200, "Logged out 2 sessions"));
    assert!(reply.clears_cookie(), "{reply:?}");
    assert_eq!(me.get(&other, "/me").await.status, 401);
    assert_eq!(phone.get(&other, "/me").await.status, 401);
    assert_eq!(bob.get(&app, "/me").await.answer(), (200, "bob"));
    assert_eq!(listed(&other, "ada").await, 0);

    let laptop = logged_in(&app, "ada").await;
    let tablet = logged_in(&other, "ada").await;
    assert_eq!(other.users.revoke_all("ada").await.expect("revoked"), 2);
    assert_eq!(laptop.get(&app, "/me").await.status, 401);
    assert_eq!(tablet.get(&other, "/me").await.status, 401);
    assert_eq!(listed(&app, "ada").await, 0);
    assert_eq!(listed(&app, "bob").await, 1);
}

/// "Remember me" is chosen per login and kept with the session: the cookie
/// is persistent, the remembered window outlives the layer's inactivity
/// timeout, and another instance without a `remember_for` of its own (a
/// restart) keeps it; logging in again without it ends it.
pub async fn remember_me_is_kept_with_the_session_on_every_instance<S: SessionStore>(store: S) {
    let app = TestApp::with(store, |builder| {
        builder
            .inactivity_timeout(StdDuration::from_secs(1))
            .remember_for(StdDuration::from_secs(120))
    })
    .await;
    let restarted = TestApp::serve(app.store.clone(), app.key.clone(), |builder| {
        builder.inactivity_timeout(StdDuration::from_secs(1))
    })
    .await;
    let browser_session = Visitor::new();
    let reply = browser_session
        .post(&app, "/user/login", &[("user", "ada")])
        .await;
    assert_eq!(max_age(&reply), None, "a browser-session cookie: {reply:?}");
    let remembered = Visitor::new();
    let reply = remembered
        .post(&app, "/user/login", &[("user", "ada"), ("remember", "1")])
        .await;
    assert_eq!(max_age(&reply), Some(120), "a persistent cookie: {reply:?}");

    // Past the one-second window only the remembered session lives, on
    // the instance that knows nothing of "remember me": the server keeps
    // the choice, not the cookie.
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(browser_session.get(&restarted, "/me").await.status, 401);
    assert_eq!(
        remembered.get(&restarted, "/me").await.answer(),
        (200, "ada")
    );
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(remembered.get(&app, "/me").await.answer(), (200, "ada"));

    let reply = remembered
        .post(&app, "/user/login", &[("user", "ada")])
        .await;
    assert_eq!(max_age(&reply), None, "a browser-session cookie again");
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(remembered.get(&restarted, "/me").await.status, 401);
}

/// A slow request (a cart change, a login) on a session that is revoked
/// meanwhile neither brings the session back nor puts it back in the
/// user's index.
pub async fn a_slow_request_on_a_revoked_session_neither_revives_it_nor_re_indexes_it<
    S: SessionStore,
>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let other = app.another().await;
    for trial in 0..5 {
        let phone = logged_in(&app, "ada").await;
        let cookie = phone.cookie().expect("a cookie");
        let slow_change = app.post("/cart/add?delay_ms=300", Some(&cookie), &[("item", "late")]);
        let slow_login = other.post(
            "/user/login?delay_ms=300",
            Some(&cookie),
            &[("user", "ada")],
        );
        let revoke = async {
            tokio::time::sleep(StdDuration::from_millis(60)).await;
            other.users.revoke_all("ada").await.expect("revoked")
        };
        let (change, login, revoked) = tokio::join!(slow_change, slow_login, revoke);
        assert_eq!(revoked, 1, "trial {trial}");
        assert_eq!(change.status, 200, "trial {trial}");
        assert_eq!(login.status, 200, "trial {trial}");
        assert_eq!(listed(&app, "ada").await, 0, "trial {trial}: re-indexed");
        assert_eq!(
            app.get("/me", Some(&cookie)).await.status,
            401,
            "trial {trial}"
        );
        assert_eq!(
            app.get("/cart", Some(&cookie)).await.body,
            "[]",
            "trial {trial}"
        );
    }
}

/// Ten devices log in again, slowly, on two instances while the user logs
/// out everywhere: each login is either revoked or finds its session ended,
/// and no session of the user is left: 3 trials.
pub async fn logins_and_a_logout_everywhere_on_two_instances_leave_no_live_session<
    S: SessionStore,
>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let other = app.another().await;
    for trial in 0..3u64 {
        let caller = logged_in(&app, "ada").await;
        let mut devices = Vec::new();
        for n in 0..10 {
            let instance = if n % 2 == 0 { &app } else { &other };
            devices.push(logged_in(instance, "ada").await);
        }
        let logins = devices.iter().enumerate().map(|(n, device)| {
            let instance = if n % 2 == 0 { &app } else { &other };
            let path = format!("/user/login?delay_ms={}", 20 * n);
            async move { device.post(instance, &path, &[("user", "ada")]).await }
        });
        let logout = async {
            tokio::time::sleep(StdDuration::from_millis(60 + 20 * trial)).await;
            caller.post(&other, "/user/logout-everywhere", &[]).await
        };
        let (_, logout) = tokio::join!(join_all(logins), logout);
        assert_eq!(logout.status, 200, "trial {trial}: {logout:?}");
        assert_eq!(
            listed(&app, "ada").await,
            0,
            "trial {trial}: a session of the user survived"
        );
        for device in &devices {
            assert_eq!(device.get(&app, "/me").await.status, 401, "trial {trial}");
        }
        assert_eq!(caller.get(&other, "/me").await.status, 401, "trial {trial}");
    }
}

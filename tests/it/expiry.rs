//! The expiry modes over real HTTP, with real sleeps and short timeouts: the
//! server ends sessions whatever the cookie says, and sliding the expiry
//! forward costs no store write on most requests.
//!
//! The windows are a few seconds and every sleep keeps a margin of most of a
//! second on each side, so the outcomes do not depend on how fast the
//! machine is.

use crate::lifecycle_app;

use std::time::Duration;

use session_kit::Key;

use lifecycle_app::{builder, new_session, send, serve, store};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

async fn sleep(s: f64) {
    tokio::time::sleep(secs(s)).await;
}

#[tokio::test]
async fn by_default_the_cookie_dies_with_the_browser_and_the_server_ends_an_idle_session() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(2.0))
        .build()
        .expect("valid");
    let server = serve(layer).await;

    let reply = send(&server, "GET", "/bump", None).await;
    let cookie = reply.parsed();
    assert_eq!(cookie.max_age(), None, "a browser-session cookie");
    assert_eq!(cookie.expires(), None, "a browser-session cookie");
    let pair = reply.cookie().expect("a cookie");

    sleep(1.0).await;
    assert_eq!(send(&server, "GET", "/bump", Some(&pair)).await.body, "2");
    sleep(1.0).await;
    // Two seconds after creation, one after the last request: alive.
    assert_eq!(send(&server, "GET", "/bump", Some(&pair)).await.body, "3");

    sleep(2.8).await;
    // The browser would still send the cookie; the server has ended it.
    let reply = send(&server, "GET", "/peek", Some(&pair)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "new"));
    assert_eq!(send(&server, "GET", "/bump", Some(&pair)).await.body, "1");
}

#[tokio::test]
async fn a_read_only_request_writes_nothing_until_extend_after_has_passed() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(3.0))
        .extend_after(secs(1.5))
        .persistent_cookie(true)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let cookie = new_session(&server).await;
    assert_eq!(store.calls().writes(), 1, "the create");

    for _ in 0..5 {
        let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
        assert_eq!(reply.body, "1");
        assert_eq!(reply.cookie(), None, "nothing moved: no re-issue");
    }
    assert_eq!(store.calls().writes(), 1, "no store write per request");
    assert_eq!(store.calls().loads, 5);

    sleep(1.9).await;
    let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
    assert_eq!(reply.body, "1");
    let calls = store.calls();
    assert_eq!(
        (calls.touches, calls.saves, calls.writes()),
        (1, 0, 2),
        "one TTL-only touch, no data written"
    );
    assert!(
        reply.cookie().is_some(),
        "the persistent cookie follows the touch"
    );

    // Just extended: the next reads are free again.
    for _ in 0..3 {
        let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
        assert_eq!(reply.cookie(), None);
    }
    assert_eq!(store.calls().touches, 1);
}

#[tokio::test]
async fn touching_slides_the_server_expiry_of_a_session_that_is_only_read() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(2.0))
        .extend_after(secs(0.5))
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let cookie = new_session(&server).await;

    sleep(1.2).await;
    assert_eq!(send(&server, "GET", "/peek", Some(&cookie)).await.body, "1");
    sleep(1.2).await;
    // 2.4 s after the only write: alive only because the read moved the expiry.
    assert_eq!(send(&server, "GET", "/peek", Some(&cookie)).await.body, "1");
    assert!(store.calls().touches >= 1);
    assert_eq!(store.calls().saves, 0);

    sleep(2.8).await;
    assert_eq!(
        send(&server, "GET", "/peek", Some(&cookie)).await.body,
        "new"
    );
}

#[tokio::test]
async fn a_persistent_cookie_carries_max_age_that_slides_with_the_expiry() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(3.0))
        .extend_after(secs(1.0))
        .persistent_cookie(true)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let reply = send(&server, "GET", "/bump", None).await;
    assert_eq!(reply.parsed().max_age(), Some(time::Duration::seconds(3)));
    let cookie = reply.cookie().expect("a cookie");

    // A write before `extend_after` has passed keeps the stored expiry, so
    // the cookie is not re-issued.
    let reply = send(&server, "GET", "/bump", Some(&cookie)).await;
    assert_eq!(reply.body, "2");
    assert_eq!(reply.set_cookie(), None);

    // Once it has, a write moves the expiry and the cookie follows it:
    // kept alive by requests less than the window apart, past the first
    // cookie's Max-Age.
    for expected in ["3", "4"] {
        sleep(1.6).await;
        let reply = send(&server, "GET", "/bump", Some(&cookie)).await;
        assert_eq!(reply.body, expected);
        assert_eq!(reply.parsed().max_age(), Some(time::Duration::seconds(3)));
    }
}

#[tokio::test]
async fn the_absolute_lifetime_survives_regeneration() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(60.0))
        .absolute_lifetime(secs(2.0))
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let cookie = new_session(&server).await;
    sleep(1.0).await;
    let after = send(&server, "POST", "/login", Some(&cookie))
        .await
        .cookie()
        .expect("a new cookie at login");
    assert_eq!(send(&server, "GET", "/me", Some(&after)).await.body, "ada");
    sleep(1.8).await;
    // A new ID does not start a new lifetime: logging in again and again
    // cannot keep a session forever.
    assert_eq!(
        send(&server, "GET", "/me", Some(&after)).await.body,
        "nobody"
    );
}

#[tokio::test]
async fn the_absolute_lifetime_caps_a_persistent_cookie_max_age() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(3600.0))
        .absolute_lifetime(secs(100.0))
        .persistent_cookie(true)
        // Every write moves the expiry (to the deadline, here), so the
        // cookie is re-issued each time.
        .extend_after(secs(0.0))
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let reply = send(&server, "GET", "/bump", None).await;
    let first = reply.parsed().max_age().expect("a Max-Age");
    assert!(
        first <= time::Duration::seconds(100) && first >= time::Duration::seconds(98),
        "{first}"
    );
    let cookie = reply.cookie().expect("a cookie");

    sleep(1.2).await;
    let reply = send(&server, "GET", "/bump", Some(&cookie)).await;
    let later = reply.parsed().max_age().expect("a Max-Age");
    assert!(
        later < first,
        "{later} counts down to the deadline, from {first}"
    );
}

#[tokio::test]
async fn sessions_stored_before_the_absolute_lifetime_was_enabled_count_from_their_next_request() {
    let store = store();
    let key = Key::generate();
    let without = serve(
        builder(&store, key.clone())
            .inactivity_timeout(secs(60.0))
            .build()
            .expect("valid"),
    )
    .await;
    let with = serve(
        builder(&store, key)
            .inactivity_timeout(secs(60.0))
            .absolute_lifetime(secs(2.0))
            .build()
            .expect("valid"),
    )
    .await;
    let cookie = new_session(&without).await;
    sleep(0.5).await;

    // Not ended on the spot, and the creation time is recorded once.
    assert_eq!(send(&with, "GET", "/peek", Some(&cookie)).await.body, "1");
    assert_eq!(store.calls().saves, 1);
    assert_eq!(send(&with, "GET", "/peek", Some(&cookie)).await.body, "1");
    assert_eq!(store.calls().saves, 1, "recorded once");

    sleep(2.8).await;
    assert_eq!(send(&with, "GET", "/peek", Some(&cookie)).await.body, "new");
}

#[tokio::test]
async fn rolling_reissues_the_cookie_on_every_response_without_a_store_write() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(3600.0))
        .persistent_cookie(true)
        .rolling(true)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let cookie = new_session(&server).await;
    let writes = store.calls().writes();
    for _ in 0..3 {
        let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
        assert_eq!(reply.body, "1");
        assert_eq!(reply.parsed().max_age(), Some(time::Duration::hours(1)));
    }
    assert_eq!(
        store.calls().writes(),
        writes,
        "a re-issue is no store write"
    );

    // Without `rolling`, the same reads set no cookie.
    let plain = lifecycle_app::store();
    let layer = builder(&plain, Key::generate())
        .inactivity_timeout(secs(3600.0))
        .persistent_cookie(true)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let cookie = new_session(&server).await;
    let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
    assert_eq!(reply.cookie(), None);
}

#[tokio::test]
async fn rolling_does_not_revive_an_ended_session() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .inactivity_timeout(secs(1.0))
        .rolling(true)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let cookie = new_session(&server).await;
    sleep(1.8).await;
    let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
    assert_eq!(reply.body, "new");
    assert!(
        reply.clears_cookie(),
        "no new cookie for a session that ended: its cookie is cleared ({:?})",
        reply.set_cookies
    );
}

#[tokio::test]
async fn an_absolute_lifetime_of_zero_is_a_configuration_error() {
    let store = store();
    let err = builder(&store, Key::generate())
        .absolute_lifetime(Duration::ZERO)
        .build()
        .expect_err("refused");
    assert_eq!(err, session_kit::ConfigError::InvalidAbsoluteLifetime);
    assert!(err.to_string().contains("absolute_lifetime"), "{err}");
}

//! Cookie security and the session lifecycle over real HTTP: key rotation for
//! signed and encrypted cookies, fixation and logout, cookie attributes and
//! name prefixes checked at build time, and a trusted reverse proxy.

use crate::common;
use crate::lifecycle_app;

use std::time::Duration;

use session_kit::{ConfigError, Key, SameSite, SessionLayer};
use time::OffsetDateTime;

use lifecycle_app::{builder, new_session, send, send_with, serve, store, Store};

/// A layer over `store` with `current` signing and `older` verifying.
fn rotating(store: &Store, current: &Key, older: &[Key], private: bool) -> SessionLayer {
    let builder = builder(store, current.clone()).older_keys(older.to_vec());
    let builder = if private { builder.private() } else { builder };
    builder.build().expect("a valid configuration")
}

async fn an_older_key_keeps_the_session_and_is_reissued(private: bool) {
    let store = store();
    let (old, new) = (Key::generate(), Key::generate());
    let before = serve(rotating(&store, &old, &[], private)).await;
    let rotated = serve(rotating(&store, &new, std::slice::from_ref(&old), private)).await;
    let after = serve(rotating(&store, &new, &[], private)).await;

    let old_cookie = new_session(&before).await;

    // The rotated layer still verifies the old cookie, keeps its session and
    // re-issues the cookie under the current key.
    let reply = send(&rotated, "GET", "/bump", Some(&old_cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "2"));
    let new_cookie = reply.cookie().expect("re-issued under the current key");
    assert_ne!(new_cookie, old_cookie);

    // A request that changes nothing gets the re-issue too, and writes nothing.
    let writes = store.calls().writes();
    let reply = send(&rotated, "GET", "/peek", Some(&old_cookie)).await;
    assert_eq!(reply.body, "2");
    assert!(
        reply.cookie().is_some(),
        "a read-only request is re-issued too"
    );
    assert_eq!(
        store.calls().writes(),
        writes,
        "a re-issue is no store write"
    );

    // The re-issued cookie verifies under the current key alone, and is not
    // re-issued again.
    let reply = send(&after, "GET", "/peek", Some(&new_cookie)).await;
    assert_eq!(reply.body, "2");
    assert_eq!(reply.cookie(), None);
}

#[tokio::test]
async fn signed_cookie_under_an_older_key_keeps_its_session_and_is_reissued_under_the_current_key()
{
    an_older_key_keeps_the_session_and_is_reissued(false).await;
}

#[tokio::test]
async fn private_cookie_under_an_older_key_keeps_its_session_and_is_reissued_under_the_current_key()
{
    an_older_key_keeps_the_session_and_is_reissued(true).await;
}

async fn a_removed_key_is_not_honoured(private: bool) {
    let store = store();
    let (old, new) = (Key::generate(), Key::generate());
    let before = serve(rotating(&store, &old, &[], private)).await;
    let after = serve(rotating(&store, &new, &[], private)).await;

    let old_cookie = new_session(&before).await;
    let loads = store.calls().loads;

    let reply = send(&after, "GET", "/peek", Some(&old_cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "new"));
    assert!(
        reply.clears_cookie(),
        "an empty new session gets no cookie, and the dead one is cleared ({:?})",
        reply.set_cookies
    );
    assert_eq!(
        store.calls().loads,
        loads,
        "a cookie that verifies under no key costs no store read"
    );

    let reply = send(&after, "GET", "/bump", Some(&old_cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "1"));
    let fresh = reply
        .cookie()
        .expect("the fresh session gets its own cookie");
    assert_ne!(fresh, old_cookie);
    // The old session is still whole for whoever still has the old key.
    let reply = send(&before, "GET", "/peek", Some(&old_cookie)).await;
    assert_eq!(reply.body, "1");
}

#[tokio::test]
async fn cookie_signed_by_a_removed_key_starts_a_fresh_session() {
    a_removed_key_is_not_honoured(false).await;
}

#[tokio::test]
async fn cookie_encrypted_under_a_removed_key_starts_a_fresh_session() {
    a_removed_key_is_not_honoured(true).await;
}

#[tokio::test]
async fn private_cookie_hides_the_session_id_which_a_signed_cookie_only_signs() {
    for private in [false, true] {
        let store = store();
        let server = serve(rotating(&store, &Key::generate(), &[], private)).await;
        let cookie = new_session(&server).await;
        let id = send(&server, "GET", "/id", Some(&cookie)).await.body;
        assert_eq!(id.len(), 32, "a 32-character ID");
        assert_eq!(
            cookie.contains(&id),
            !private,
            "private {private}: {cookie} vs the ID"
        );
    }
}

fn key_from(secret: &str) -> Key {
    Key::derive_from(secret.repeat(8).as_bytes()).expect("64 bytes or more")
}

#[tokio::test]
async fn secrets_derive_the_same_key_on_every_instance_so_rotation_spans_restarts() {
    // Two instances (or a restart) given the same secrets agree on keys.
    let store = store();
    let first = serve(rotating(&store, &key_from("old-secret"), &[], false)).await;
    let cookie = new_session(&first).await;
    let restarted = serve(rotating(
        &store,
        &key_from("new-secret"),
        &[key_from("old-secret")],
        false,
    ))
    .await;
    let reply = send(&restarted, "GET", "/bump", Some(&cookie)).await;
    assert_eq!(reply.body, "2");
    assert!(reply.cookie().is_some());
}

#[tokio::test]
async fn regenerate_moves_the_data_to_a_new_id() {
    let store = store();
    let server = serve(builder(&store, Key::generate()).build().expect("valid")).await;
    let before = new_session(&server).await;
    let old_id = send(&server, "GET", "/id", Some(&before)).await.body;

    let reply = send(&server, "POST", "/login", Some(&before)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "Logged in"));
    let after = reply.cookie().expect("a new cookie at login");
    assert_ne!(after, before);
    assert_eq!(store.calls().regenerates, 1);

    let new_id = send(&server, "GET", "/id", Some(&after)).await.body;
    assert_ne!(new_id, old_id);
    assert_eq!(send(&server, "GET", "/peek", Some(&after)).await.body, "1");
    assert_eq!(send(&server, "GET", "/me", Some(&after)).await.body, "ada");
}

#[tokio::test]
async fn replayed_cookie_of_a_regenerated_session_gets_a_fresh_empty_session() {
    let store = store();
    let server = serve(builder(&store, Key::generate()).build().expect("valid")).await;
    let before = new_session(&server).await;
    let reply = send(&server, "POST", "/login", Some(&before)).await;
    assert!(reply.cookie().is_some());

    // Whoever planted or stole the pre-login cookie gets nothing.
    assert_eq!(
        send(&server, "GET", "/peek", Some(&before)).await.body,
        "new"
    );
    assert_eq!(
        send(&server, "GET", "/me", Some(&before)).await.body,
        "nobody"
    );
    let reply = send(&server, "GET", "/bump", Some(&before)).await;
    assert_eq!(reply.body, "1");
    assert_ne!(reply.cookie().as_deref(), Some(before.as_str()));
}

#[tokio::test]
async fn destroy_deletes_the_session_and_expires_the_cookie_with_the_same_attributes() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .domain("example.test")
        .path("/")
        .same_site(SameSite::Strict)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let issued = send(&server, "GET", "/bump", None).await;
    let cookie = issued.cookie().expect("a cookie");
    let issued = issued.parsed();

    let reply = send(&server, "POST", "/logout", Some(&cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "Logged out"));
    assert_eq!(store.calls().deletes, 1);
    let removal = reply.parsed();
    assert_eq!(removal.name(), issued.name());
    assert_eq!(removal.value(), "");
    assert_eq!(removal.max_age(), Some(time::Duration::ZERO));
    let expires = removal
        .expires_datetime()
        .expect("an Expires date, for browsers that ignore Max-Age");
    assert!(expires < OffsetDateTime::now_utc(), "{expires} is past");
    assert_eq!(removal.path(), Some("/"));
    assert_eq!(removal.domain(), Some("example.test"));
    assert_eq!(removal.path(), issued.path());
    assert_eq!(removal.domain(), issued.domain());
    assert_eq!(removal.secure(), issued.secure());
    assert_eq!(removal.secure(), Some(true));
    assert_eq!(removal.same_site(), issued.same_site());
    assert_eq!(removal.same_site(), Some(SameSite::Strict));
    assert_eq!(removal.http_only(), issued.http_only());
}

#[tokio::test]
async fn replayed_cookie_of_a_destroyed_session_gets_a_fresh_empty_session() {
    let store = store();
    let server = serve(builder(&store, Key::generate()).build().expect("valid")).await;
    let cookie = new_session(&server).await;
    assert_eq!(send(&server, "GET", "/bump", Some(&cookie)).await.body, "2");
    send(&server, "POST", "/logout", Some(&cookie)).await;

    let reply = send(&server, "GET", "/peek", Some(&cookie)).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "new"));
    let reply = send(&server, "GET", "/bump", Some(&cookie)).await;
    assert_eq!(reply.body, "1", "the old count is gone");
    assert_ne!(reply.cookie().as_deref(), Some(cookie.as_str()));
}

fn build_error(
    configure: impl FnOnce(session_kit::SessionLayerBuilder) -> session_kit::SessionLayerBuilder,
) -> ConfigError {
    let store = store();
    match configure(builder(&store, Key::generate())).build() {
        Ok(_) => panic!("the configuration must be refused"),
        Err(err) => err,
    }
}

fn builds(
    configure: impl FnOnce(session_kit::SessionLayerBuilder) -> session_kit::SessionLayerBuilder,
) {
    let store = store();
    if let Err(err) = configure(builder(&store, Key::generate())).build() {
        panic!("the configuration is valid, but: {err}");
    }
}

#[tokio::test]
async fn same_site_none_without_secure_is_a_configuration_error() {
    let err = build_error(|b| b.same_site(SameSite::None).secure(false));
    assert_eq!(err, ConfigError::SameSiteNoneWithoutSecure);
    let text = err.to_string();
    assert!(text.contains("remove `.secure(false)`"), "{text}");
    assert!(text.contains("SameSite::Lax"), "{text}");
    builds(|b| b.same_site(SameSite::None));
    builds(|b| b.same_site(SameSite::Strict).secure(false));
}

#[tokio::test]
async fn partitioned_without_secure_is_a_configuration_error() {
    let err = build_error(|b| b.partitioned(true).secure(false));
    assert_eq!(err, ConfigError::PartitionedWithoutSecure);
    assert!(err.to_string().contains("`.partitioned(true)`"), "{err}");
    builds(|b| b.partitioned(true).same_site(SameSite::None));
}

#[tokio::test]
async fn host_prefix_requires_secure_root_path_and_no_domain() {
    let err = build_error(|b| b.cookie_name("__Host-sid").secure(false));
    assert!(
        matches!(err, ConfigError::PrefixWithoutSecure { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("`__Host-sid`"), "{err}");

    let err = build_error(|b| b.cookie_name("__Host-sid").path("/app"));
    assert!(
        matches!(err, ConfigError::HostPrefixWithPath { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("`/app`") && text.contains("`__Secure-`"),
        "{text}"
    );

    let err = build_error(|b| b.cookie_name("__Host-sid").domain("example.com"));
    assert!(
        matches!(err, ConfigError::HostPrefixWithDomain { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("remove `.domain(..)`"), "{err}");

    // Browsers match the prefixes case-insensitively, and so does the check.
    let err = build_error(|b| b.cookie_name("__HOST-sid").domain("example.com"));
    assert!(
        matches!(err, ConfigError::HostPrefixWithDomain { .. }),
        "{err:?}"
    );

    builds(|b| b.cookie_name("__Host-sid"));
}

#[tokio::test]
async fn secure_prefix_requires_secure() {
    let err = build_error(|b| b.cookie_name("__Secure-sid").secure(false));
    assert!(
        matches!(err, ConfigError::PrefixWithoutSecure { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("remove `.secure(false)`"), "{err}");
    builds(|b| {
        b.cookie_name("__Secure-sid")
            .domain("example.com")
            .path("/app")
    });
}

#[tokio::test]
async fn host_prefixed_cookie_is_issued_secure_with_root_path_and_no_domain() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .cookie_name("__Host-session")
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let reply = send(&server, "GET", "/bump", None).await;
    let cookie = reply.parsed();
    assert_eq!(cookie.name(), "__Host-session");
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), None);
    let pair = reply.cookie().expect("a cookie");
    assert_eq!(send(&server, "GET", "/peek", Some(&pair)).await.body, "1");
}

#[tokio::test]
async fn cookie_attributes_reach_the_client_as_configured() {
    let store = store();
    let layer = builder(&store, Key::generate())
        .cookie_name("app_session")
        .domain("example.test")
        .same_site(SameSite::None)
        .partitioned(true)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let reply = send(&server, "GET", "/bump", None).await;
    let text = reply.set_cookie().expect("a cookie").to_owned();
    for attr in [
        "app_session=",
        "Domain=example.test",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Partitioned",
    ] {
        assert!(text.contains(attr), "{text} lacks {attr}");
    }
    assert!(
        !text.contains("Max-Age"),
        "a browser-session cookie: {text}"
    );
}

#[tokio::test]
async fn a_persistent_cookie_never_asks_for_more_than_400_days() {
    let four_hundred_days = Duration::from_secs(400 * 24 * 60 * 60);
    let store = store();
    let layer = builder(&store, Key::generate())
        .persistent_cookie(true)
        .inactivity_timeout(four_hundred_days)
        .absolute_lifetime(four_hundred_days * 3)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    let reply = send(&server, "GET", "/bump", None).await;
    let max_age = reply.parsed().max_age().expect("a Max-Age");
    assert!(max_age <= time::Duration::days(400), "{max_age}");
    assert!(max_age >= time::Duration::days(399), "{max_age}");

    let err =
        build_error(|b| b.inactivity_timeout(four_hundred_days + Duration::from_secs(86_400)));
    assert_eq!(err, ConfigError::InvalidTimeout);
}

/// A layer that trusts (or not) the proxy's headers, with a `Secure` cookie.
async fn proxied(trust: bool, secure: bool) -> (Store, common::TestServer) {
    let store = store();
    let layer = builder(&store, Key::generate())
        .trust_proxy(trust)
        .secure(secure)
        .build()
        .expect("valid");
    let server = serve(layer).await;
    (store, server)
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_request_that_came_over_https_gets_the_secure_cookie() {
    let (_store, server) = proxied(true, true).await;
    for header in [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=192.0.2.1;proto=https"),
    ] {
        let reply = send_with(&server, "GET", "/bump", None, &[header]).await;
        assert_eq!(reply.body, "1");
        let cookie = reply.parsed();
        assert_eq!(cookie.secure(), Some(true), "{header:?}");
        let pair = reply.cookie().expect("a cookie");
        let again = send_with(&server, "GET", "/bump", Some(&pair), &[header]).await;
        assert_eq!(again.body, "2", "{header:?}");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_plain_http_request_gets_no_secure_cookie_and_no_session() {
    let (store, server) = proxied(true, true).await;
    for header in [
        ("x-forwarded-proto", "http"),
        ("forwarded", "for=192.0.2.1;proto=http"),
    ] {
        let reply = send_with(&server, "GET", "/bump", None, &[header]).await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "1"));
        assert!(
            reply.set_cookies.is_empty(),
            "{header:?}: {:?}",
            reply.set_cookies
        );
    }
    assert_eq!(store.calls().writes(), 0, "no session was created");

    // A Secure cookie that does arrive over plain HTTP is not used either:
    // not read, not written, not re-issued.
    let https = [("x-forwarded-proto", "https")];
    let cookie = send_with(&server, "GET", "/bump", None, &https)
        .await
        .cookie()
        .expect("a cookie over https");
    let before = store.calls();
    let reply = send_with(
        &server,
        "GET",
        "/bump",
        Some(&cookie),
        &[("x-forwarded-proto", "http")],
    )
    .await;
    assert_eq!(reply.body, "1", "the session is not loaded over plain HTTP");
    assert!(reply.set_cookies.is_empty());
    let reply = send_with(
        &server,
        "POST",
        "/logout",
        Some(&cookie),
        &[("x-forwarded-proto", "http")],
    )
    .await;
    assert!(reply.set_cookies.is_empty());
    assert_eq!(store.calls(), before, "no store I/O over plain HTTP");
    let reply = send_with(&server, "GET", "/bump", Some(&cookie), &https).await;
    assert_eq!(reply.body, "2", "the session is untouched");
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_request_without_the_header_follows_the_configuration() {
    let (_store, server) = proxied(true, true).await;
    let reply = send(&server, "GET", "/bump", None).await;
    assert_eq!(reply.parsed().secure(), Some(true));
}

#[tokio::test]
async fn proxy_headers_are_ignored_unless_the_proxy_is_trusted() {
    let (store, server) = proxied(false, true).await;
    let reply = send_with(
        &server,
        "GET",
        "/bump",
        None,
        &[("x-forwarded-proto", "http")],
    )
    .await;
    assert_eq!(reply.parsed().secure(), Some(true));
    let cookie = reply.cookie().expect("a cookie");
    let reply = send_with(
        &server,
        "GET",
        "/bump",
        Some(&cookie),
        &[("forwarded", "proto=http")],
    )
    .await;
    assert_eq!(reply.body, "2");
    assert_eq!(store.calls().creates, 1);
}

#[tokio::test]
async fn a_cookie_without_secure_is_sent_over_plain_http_even_behind_a_trusted_proxy() {
    let (_store, server) = proxied(true, false).await;
    let reply = send_with(
        &server,
        "GET",
        "/bump",
        None,
        &[("x-forwarded-proto", "http")],
    )
    .await;
    let cookie = reply.parsed();
    assert_eq!(cookie.secure(), None);
    let pair = reply.cookie().expect("a cookie");
    let again = send_with(
        &server,
        "GET",
        "/bump",
        Some(&pair),
        &[("x-forwarded-proto", "http")],
    )
    .await;
    assert_eq!(again.body, "2");
}

#[tokio::test]
async fn path_and_domain_that_would_inject_cookie_attributes_are_configuration_errors() {
    for (err, attribute) in [
        (build_error(|b| b.path("/; Domain=evil.example")), "Path"),
        (build_error(|b| b.path("app")), "Path"),
        (build_error(|b| b.path("")), "Path"),
        (build_error(|b| b.domain("example.com; Secure")), "Domain"),
        (build_error(|b| b.domain("exa mple.com")), "Domain"),
        (build_error(|b| b.domain("")), "Domain"),
    ] {
        assert!(
            matches!(&err, ConfigError::InvalidAttribute { attribute: a, .. } if *a == attribute),
            "{err:?}"
        );
        assert!(err.to_string().contains(attribute), "{err}");
    }
    builds(|b| b.path("/app").domain("example.com"));
}

//! SPEC's semantics 1-10 over HTTP: lazy loading, one read, no resave,
//! field-level writes, digests, expiry, bad input and outages.

use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use super::TestApp;
use crate::store::{ChangeSet, SessionStore, WriteOutcome};

/// SPEC 1: A route that extracts no session does no store I/O, cookie or not.
pub async fn a_route_without_a_session_does_no_store_io<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let before = app.store.calls();
    let reply = app.get("/plain", Some(&cookie)).await;
    assert_eq!((reply.status, reply.set_cookie), (200, None));
    let reply = app.get("/plain", None).await;
    assert_eq!((reply.status, reply.set_cookie), (200, None));
    assert_eq!(app.store.calls(), before);
}

/// SPEC 2: One store read per request, however many extractors it takes.
pub async fn three_extractors_cost_one_store_read<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let before = app.store.calls().loads;
    let reply = app.get("/read", Some(&cookie)).await;
    assert_eq!(reply.answer(), (200, " 1 0 false"));
    assert_eq!(app.store.calls().loads, before + 1);
}

/// SPEC 3: Reading writes nothing, and a new session that never gets data is
/// neither stored nor given a cookie.
pub async fn reading_writes_nothing_and_an_empty_new_session_is_not_stored<S: SessionStore>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let reply = app.get("/read", None).await;
    assert_eq!(
        (
            reply.status,
            reply.set_cookie.as_deref(),
            reply.body.as_str()
        ),
        (200, None, " 0 0 true")
    );
    let reply = app.post("/touch-nothing", None, &[]).await;
    assert_eq!((reply.status, reply.set_cookie), (200, None));
    assert_eq!(app.store.calls().writes(), 0);

    let cookie = app.session().await;
    let writes = app.store.calls().writes();
    let reply = app.get("/read", Some(&cookie)).await;
    assert_eq!((reply.status, reply.set_cookie), (200, None), "GET /read");
    let reply = app.post("/touch-nothing", Some(&cookie), &[]).await;
    assert_eq!(
        (reply.status, reply.set_cookie),
        (200, None),
        "POST /touch-nothing"
    );
    assert_eq!(app.store.calls().writes(), writes, "no resave");
}

/// SPEC 3: A response with a 5xx status saves nothing, new session or not.
pub async fn a_failed_handler_saves_nothing<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let reply = app.post("/fail", None, &[]).await;
    assert_eq!((reply.status, reply.set_cookie), (500, None));
    let cookie = app.session().await;
    let writes = app.store.calls().writes();
    let reply = app.post("/fail", Some(&cookie), &[]).await;
    assert_eq!(reply.status, 500);
    assert!(reply.cookie().is_none(), "{reply:?}");
    assert_eq!(app.store.calls().writes(), writes);
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 1 0 false");
}

/// SPEC 4: A request that changes one field writes that field alone, and a
/// change deep inside a field is seen.
pub async fn a_change_to_one_field_writes_that_field_alone<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    app.post("/name/ada", Some(&cookie), &[]).await;
    app.post("/basket/add", Some(&cookie), &[]).await;
    app.post("/basket/add", Some(&cookie), &[]).await;
    let writes = app.store.written();
    let fields: Vec<Vec<&str>> = writes
        .iter()
        .map(|(_, changes)| changes.sets().map(|(k, _)| k).collect())
        .collect();
    assert_eq!(
        fields,
        vec![
            vec!["suite_profile.visits"],
            vec!["suite_profile.name"],
            vec!["suite_basket.items"],
            vec!["suite_basket.items"],
        ]
    );
    let (_, last) = &writes[3];
    let (_, json) = last.sets().next().expect("one set");
    assert_eq!(json, r#"[{"sku":"apple","quantity":2}]"#);
    assert_eq!(app.get("/read", Some(&cookie)).await.body, "ada 1 1 false");
}

/// SPEC 6: The store is keyed by the SHA-256 digest of the ID, never the ID, and
/// the ID carries 192 bits.
pub async fn the_store_sees_the_digest_of_the_id_never_the_id<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let id = app.id_of(&cookie).await;
    let (key, _) = app.store.written()[0].clone();
    assert_eq!(key, id.key());
    assert!(!key.to_hex().contains(id.expose()));
    assert_eq!(id.expose().len(), 32, "192 bits of URL-safe base64");
}

/// SPEC 6: An ID the store does not know (its session deleted behind the app's
/// back) is never adopted: the client gets a new one.
pub async fn an_id_the_store_does_not_know_is_never_adopted<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let id = app.id_of(&cookie).await;
    app.store
        .inner()
        .delete(&id.key())
        .await
        .expect("the store works");
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 0 0 true");
    let reply = app.post("/visit", Some(&cookie), &[]).await;
    assert_eq!(reply.answer(), (200, "1"));
    let fresh = reply.cookie().expect("a new cookie");
    assert_ne!(app.id_of(&fresh).await.expose(), id.expose());
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 0 0 true");
}

/// SPEC 7: An expired session never loads, even with its cookie replayed.
pub async fn an_expired_session_never_loads_even_when_its_cookie_is_replayed<S: SessionStore>(
    store: S,
) {
    let app = TestApp::with(store, |b| b.inactivity_timeout(StdDuration::from_secs(1))).await;
    let cookie = app.session().await;
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 1 0 false");
    tokio::time::sleep(StdDuration::from_millis(1600)).await;
    let reply = app.get("/read", Some(&cookie)).await;
    assert_eq!(reply.answer(), (200, " 0 0 true"), "a fresh session");
    assert_eq!(app.post("/visit", Some(&cookie), &[]).await.body, "1");
}

/// SPEC 8: A missing, unsigned, tampered, garbled, oversized or duplicated
/// cookie means "no session": never a panic, never a 500.
pub async fn bad_cookies_mean_no_session_never_an_error<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let (name, value) = cookie.split_once('=').expect("name=value");
    let mut tampered = value.to_owned().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let unsigned = value.split('.').next().unwrap_or(value);
    let oversized = "x".repeat(8000);
    let cases = [
        format!("{name}={tampered}"),
        format!("{name}={unsigned}"),
        format!("{name}=%%%garbage\\\"{{}}"),
        format!("{name}="),
        format!("{name}={oversized}"),
        format!("{name}={value}; {name}={tampered}"),
        format!("{name}={tampered}; {name}={value}"),
        "other=1".to_owned(),
        ";;;==".to_owned(),
    ];
    for header in &cases {
        let reply = app.get("/read", Some(header)).await;
        assert_eq!(reply.answer(), (200, " 0 0 true"), "Cookie: {header}");
        let reply = app.post("/visit", Some(header), &[]).await;
        assert_eq!(reply.answer(), (200, "1"), "Cookie: {header}");
    }
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 1 0 false");
}

/// SPEC 8: Stored data that no longer decodes (a field whose type changed
/// between deploys) resets that field alone; the next change writes it back.
pub async fn an_undecodable_field_resets_to_its_default_and_the_others_survive<S: SessionStore>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    app.post("/name/ada", Some(&cookie), &[]).await;
    let key = app.id_of(&cookie).await.key();
    let later = OffsetDateTime::now_utc() + Duration::hours(1);
    let outcome = app
        .store
        .inner()
        .save(
            &key,
            &ChangeSet::new(later).set("suite_profile.visits", r#"{"old":"shape"}"#),
        )
        .await
        .expect("the store works");
    assert_eq!(outcome, WriteOutcome::Applied);
    let reply = app.get("/read", Some(&cookie)).await;
    assert_eq!(reply.answer(), (200, "ada 0 0 false"));
    assert_eq!(app.post("/visit", Some(&cookie), &[]).await.body, "1");
    assert_eq!(app.get("/read", Some(&cookie)).await.body, "ada 1 0 false");
}

/// SPEC 9: A store that is down: a 503 before the handler runs, a 500 when the
/// save after it fails (no cookie for a session that was not stored), and
/// the app recovers by itself.
pub async fn a_store_outage_gives_503_before_and_500_after_the_handler_then_recovers<
    S: SessionStore,
>(
    store: S,
) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;

    app.store.fail_reads(true);
    let ran = app.runs.load(Ordering::SeqCst);
    let reply = app.post("/visit", Some(&cookie), &[]).await;
    assert_eq!(
        reply.answer(),
        (503, "the session store is unavailable; try again shortly")
    );
    assert_eq!(
        app.runs.load(Ordering::SeqCst),
        ran,
        "the handler never ran"
    );
    assert_eq!(app.get("/plain", Some(&cookie)).await.status, 200);
    app.store.fail_reads(false);

    app.store.fail_writes(true);
    let reply = app.post("/visit", Some(&cookie), &[]).await;
    assert_eq!(
        reply.status, 500,
        "a failed save is not reported as success"
    );
    let reply = app.post("/visit", None, &[]).await;
    assert_eq!((reply.status, reply.set_cookie), (500, None));
    app.store.fail_writes(false);

    assert_eq!(app.post("/visit", Some(&cookie), &[]).await.body, "2");
    let reply = app.post("/visit", None, &[]).await;
    assert_eq!(reply.answer(), (200, "1"));
    assert!(reply.cookie().is_some());
}

/// A `Session<T>` moved into a task that outlives its request cannot save:
/// its change is dropped, not half-applied, and nothing panics.
pub async fn a_session_changed_after_its_response_saves_nothing<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let writes = app.store.calls().writes();
    let reply = app.post("/late", Some(&cookie), &[]).await;
    assert_eq!(reply.answer(), (200, "spawned"));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(app.store.calls().writes(), writes);
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 1 0 false");
}

/// Taking one session type twice in one handler is refused, not silently
/// half-saved.
pub async fn taking_one_session_type_twice_is_refused<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let reply = app.get("/twice", None).await;
    assert_eq!(reply.status, 500);
    assert!(
        reply.body.contains("extract each session type once"),
        "{}",
        reply.body
    );
}

/// Two derived structs share one session and one cookie.
pub async fn two_namespaces_share_one_session_and_one_cookie<S: SessionStore>(store: S) {
    let app = TestApp::start(store).await;
    let cookie = app.session().await;
    let reply = app.post("/basket/add", Some(&cookie), &[]).await;
    assert_eq!(reply.status, 200);
    let cookie = reply.cookie().unwrap_or(cookie);
    assert_eq!(app.get("/read", Some(&cookie)).await.body, " 1 1 false");
}

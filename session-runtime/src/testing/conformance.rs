//! The store conformance suite: one check per rule of the store contract,
//! called through the store's trait alone.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::id::{SessionId, SessionKey};
use crate::store::{ChangeSet, Increment, Record, SessionStore, StoreError, WriteOutcome};

/// Generates one `#[tokio::test]` per rule of the store contract.
///
/// The first argument names an `async fn() -> Option<S>` (`S: SessionStore`);
/// the optional `teardown = path` names an `async fn(S)`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!($make, teardown = $crate::testing::no_teardown);
    };
    ($make:path, teardown = $teardown:path) => {
        $crate::store_conformance_tests!(@tests $make, $teardown,
            load_of_an_unknown_key_is_none,
            created_session_loads_back_with_its_fields_and_expiry,
            create_never_overwrites_a_live_session,
            create_may_reuse_the_key_of_an_expired_session,
            save_writes_only_the_fields_it_names,
            save_removes_fields,
            save_to_an_unknown_session_writes_nothing,
            save_after_delete_does_not_revive_the_session,
            save_to_a_regenerated_session_does_not_revive_the_old_key,
            increments_apply_on_the_store_side,
            increments_saturate_at_the_bounds_of_i64,
            increments_read_stored_text_as_increment_apply_to_does,
            concurrent_saves_of_different_fields_all_persist,
            concurrent_increments_are_never_lost,
            touch_moves_the_expiry_and_writes_no_data,
            a_save_that_keeps_the_expiry_leaves_it_where_it_is,
            counters_alone_with_the_expiry_kept_apply_only_to_a_live_session,
            an_expired_session_never_loads,
            a_session_expires_on_the_server_after_its_time,
            regenerate_moves_the_data_and_kills_the_old_key,
            regenerate_refuses_a_taken_key,
            regenerate_of_an_unknown_session_is_not_live,
            delete_of_an_unknown_key_is_not_an_error,
            values_round_trip_byte_for_byte,
        );
    };
    (@tests $make:path, $teardown:path, $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let Some(store) = $make().await else { return };
                $crate::testing::$check(&store).await;
                $teardown(store).await;
            }
        )*
    };
}

pub(super) fn key() -> SessionKey {
    match SessionId::generate() {
        Ok(id) => id.key(),
        Err(err) => panic!("cannot make a session id: {err}"),
    }
}

pub(super) fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

pub(super) fn ok<T>(result: Result<T, StoreError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!(
            "the store failed: {err} ({:?})",
            std::error::Error::source(&err)
        ),
    }
}

pub(super) async fn load<S: SessionStore>(store: &S, key: &SessionKey) -> Option<Record> {
    ok(store.load(key).await)
}

pub(super) async fn created<S: SessionStore>(store: &S, changes: ChangeSet) -> SessionKey {
    let key = key();
    assert_eq!(
        ok(store.create(&key, &changes).await),
        WriteOutcome::Applied
    );
    key
}

fn sorted(record: &Record) -> Vec<(String, String)> {
    let mut fields: Vec<_> = record
        .fields()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    fields.sort();
    fields
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

/// Stores may keep expiry to the second; allow that much.
fn assert_close(actual: OffsetDateTime, expected: OffsetDateTime) {
    let gap = (actual - expected).abs();
    assert!(
        gap <= Duration::seconds(1),
        "expiry {actual} is not {expected} (off by {gap})"
    );
}

/// Rule 1: an unknown key loads as `None`.
pub async fn load_of_an_unknown_key_is_none<S: SessionStore>(store: &S) {
    assert_eq!(load(store, &key()).await, None);
}

/// A created session loads back with its fields (sets and increments) and
/// its expiry.
pub async fn created_session_loads_back_with_its_fields_and_expiry<S: SessionStore>(store: &S) {
    let expires_at = in_an_hour();
    let key = created(
        store,
        ChangeSet::new(expires_at)
            .set("a.name", "\"ada\"")
            .increment("a.views", 1, 0),
    )
    .await;
    let record = load(store, &key).await.expect("the created session loads");
    assert_eq!(
        sorted(&record),
        pairs(&[("a.name", "\"ada\""), ("a.views", "1")])
    );
    assert_close(record.expires_at(), expires_at);
}

/// Rule 2: create never overwrites a live session.
pub async fn create_never_overwrites_a_live_session<S: SessionStore>(store: &S) {
    let key = created(store, ChangeSet::new(in_an_hour()).set("a.x", "1")).await;
    let again = ChangeSet::new(in_an_hour()).set("a.x", "2");
    assert_eq!(ok(store.create(&key, &again).await), WriteOutcome::KeyTaken);
    let record = load(store, &key).await.expect("still live");
    assert_eq!(record.get("a.x"), Some("1"));
}

/// An expired session's key is free again.
pub async fn create_may_reuse_the_key_of_an_expired_session<S: SessionStore>(store: &S) {
    let past = OffsetDateTime::now_utc() - Duration::seconds(5);
    let key = key();
    let _ = ok(store
        .create(&key, &ChangeSet::new(past).set("a.x", "1"))
        .await);
    let fresh = ChangeSet::new(in_an_hour()).set("a.x", "2");
    assert_eq!(ok(store.create(&key, &fresh).await), WriteOutcome::Applied);
    assert_eq!(load(store, &key).await.expect("live").get("a.x"), Some("2"));
}

/// Rule 3: a save writes the fields it names and leaves the others alone.
pub async fn save_writes_only_the_fields_it_names<S: SessionStore>(store: &S) {
    let key = created(
        store,
        ChangeSet::new(in_an_hour())
            .set("a.x", "1")
            .set("b.y", "\"keep\""),
    )
    .await;
    let later = in_an_hour() + Duration::hours(1);
    let changes = ChangeSet::new(later).set("a.x", "2").set("c.z", "[1,2]");
    assert_eq!(ok(store.save(&key, &changes).await), WriteOutcome::Applied);
    let record = load(store, &key).await.expect("live");
    assert_eq!(
        sorted(&record),
        pairs(&[("a.x", "2"), ("b.y", "\"keep\""), ("c.z", "[1,2]")])
    );
    assert_close(record.expires_at(), later);
}

/// A save removes the fields it names for removal.
pub async fn save_removes_fields<S: SessionStore>(store: &S) {
    let key = created(
        store,
        ChangeSet::new(in_an_hour()).set("a.x", "1").set("a.y", "2"),
    )
    .await;
    let changes = ChangeSet::new(in_an_hour()).remove("a.x").remove("a.never");
    assert_eq!(ok(store.save(&key, &changes).await), WriteOutcome::Applied);
    let record = load(store, &key).await.expect("live");
    assert_eq!(sorted(&record), pairs(&[("a.y", "2")]));
}

/// A save to a session that was never created writes nothing.
pub async fn save_to_an_unknown_session_writes_nothing<S: SessionStore>(store: &S) {
    let key = key();
    let changes = ChangeSet::new(in_an_hour())
        .set("a.x", "1")
        .increment("a.n", 1, 0);
    assert_eq!(ok(store.save(&key, &changes).await), WriteOutcome::NotLive);
    assert_eq!(
        ok(store.touch(&key, in_an_hour()).await),
        WriteOutcome::NotLive
    );
    assert_eq!(load(store, &key).await, None);
}

/// Rule 3: a slow save after a delete never revives the session.
pub async fn save_after_delete_does_not_revive_the_session<S: SessionStore>(store: &S) {
    let key = created(store, ChangeSet::new(in_an_hour()).set("a.x", "1")).await;
    ok(store.delete(&key).await);
    let changes = ChangeSet::new(in_an_hour())
        .set("a.y", "2")
        .increment("a.n", 1, 0);
    assert_eq!(ok(store.save(&key, &changes).await), WriteOutcome::NotLive);
    assert_eq!(load(store, &key).await, None);
}

/// Rule 3: a slow save to the old key of a regenerated session never revives
/// it, and leaves the new session alone.
pub async fn save_to_a_regenerated_session_does_not_revive_the_old_key<S: SessionStore>(store: &S) {
    let old = created(store, ChangeSet::new(in_an_hour()).set("a.x", "1")).await;
    let new = key();
    let moved = ChangeSet::new(in_an_hour());
    assert_eq!(
        ok(store.regenerate(&old, &new, &moved).await),
        WriteOutcome::Applied
    );
    let late = ChangeSet::new(in_an_hour()).set("a.x", "2");
    assert_eq!(ok(store.save(&old, &late).await), WriteOutcome::NotLive);
    assert_eq!(load(store, &old).await, None);
    let record = load(store, &new).await.expect("the new key is live");
    assert_eq!(record.get("a.x"), Some("1"));
}

/// Rule 4: increments add on the store's side, from `initial` when absent.
pub async fn increments_apply_on_the_store_side<S: SessionStore>(store: &S) {
    let key = created(store, ChangeSet::new(in_an_hour()).set("a.x", "1")).await;
    for _ in 0..3 {
        let bump = ChangeSet::new(in_an_hour())
            .increment("a.n", 2, 10)
            .increment("a.m", -1, 0);
        assert_eq!(ok(store.save(&key, &bump).await), WriteOutcome::Applied);
    }
    let record = load(store, &key).await.expect("live");
    assert_eq!(record.get("a.n"), Some("16"));
    assert_eq!(record.get("a.m"), Some("-3"));
    assert_eq!(record.get("a.x"), Some("1"));
}

/// Rule 4: the stored sum saturates at the bounds of `i64`.
pub async fn increments_saturate_at_the_bounds_of_i64<S: SessionStore>(store: &S) {
    let key = created(
        store,
        ChangeSet::new(in_an_hour())
            .set("a.hi", &*(i64::MAX - 1).to_string())
            .set("a.lo", &*(i64::MIN + 1).to_string()),
    )
    .await;
    let bump = ChangeSet::new(in_an_hour())
        .increment("a.hi", 5, 0)
        .increment("a.lo", -5, 0);
    assert_eq!(ok(store.save(&key, &bump).await), WriteOutcome::Applied);
    let record = load(store, &key).await.expect("live");
    assert_eq!(record.get("a.hi"), Some(&*i64::MAX.to_string()));
    assert_eq!(record.get("a.lo"), Some(&*i64::MIN.to_string()));
}

/// The texts a stored counter may hold, read as `Increment::apply_to`
/// reads them: canonical integers, white space, signs, leading zeros, the
/// bounds of `i64` and past them, and things that are not integers.
pub const COUNTER_TEXTS: &[&str] = &[
    "7",
    " 7",
    "+7",
    "007",
    "-0",
    "\u{a0}12\u{3000}",
    "\t-3\n",
    "\u{85}5\u{2028}",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "00000000000000000000009",
    "-000000000000000000000009223372036854775808",
    "99999999999999999999",
    "1.5",
    "1e3",
    "\"3\"",
    "null",
    "",
    "-",
    "+",
    "+-1",
    "1 2",
    "\u{ff11}",
    "٣",
];

/// An increment reads whatever text the field holds exactly as
/// [`Increment::apply_to`] does: every text of a table of integers with
/// white space, signs, leading zeros and the bounds of `i64`, and texts
/// that are not integers, with four deltas; the other fields stay.
pub async fn increments_read_stored_text_as_increment_apply_to_does<S: SessionStore>(store: &S) {
    for text in COUNTER_TEXTS {
        for (delta, initial) in [(1, 42), (-1, -42), (i64::MAX, 0), (i64::MIN, 0)] {
            let key = created(
                store,
                ChangeSet::new(in_an_hour())
                    .set("a.n", *text)
                    .set("a.keep", "1"),
            )
            .await;
            let bump = ChangeSet::new(in_an_hour()).increment("a.n", delta, initial);
            assert_eq!(ok(store.save(&key, &bump).await), WriteOutcome::Applied);
            let expected = Increment {
                key: "a.n".into(),
                delta,
                initial,
            }
            .apply_to(Some(text));
            let record = load(store, &key).await.expect("live");
            assert_eq!(
                record.get("a.n"),
                Some(expected.to_string().as_str()),
                "stored {text:?}, delta {delta}, initial {initial}"
            );
            assert_eq!(record.get("a.keep"), Some("1"));
        }
    }
}

/// Rule 3: overlapping saves of different fields all persist.
pub async fn concurrent_saves_of_different_fields_all_persist<S: SessionStore>(store: &S) {
    let key = created(store, ChangeSet::new(in_an_hour()).set("a.base", "0")).await;
    let saves = (0..20).map(|i| {
        let changes = ChangeSet::new(in_an_hour()).set(format!("f.k{i}"), i.to_string());
        async move { ok(store.save(&key, &changes).await) }
    });
    for outcome in futures_util::future::join_all(saves).await {
        assert_eq!(outcome, WriteOutcome::Applied);
    }
    let record = load(store, &key).await.expect("live");
    assert_eq!(record.len(), 21, "every field of every save is there");
    for i in 0..20 {
        assert_eq!(record.get(&format!("f.k{i}")), Some(&*i.to_string()));
    }
}

/// Rule 4: fifty overlapping `+1`s count fifty.
pub async fn concurrent_increments_are_never_lost<S: SessionStore>(store: &S) {
    let key = created(store, ChangeSet::new(in_an_hour()).increment("a.n", 1, 0)).await;
    let bumps = (0..50).map(|_| {
        let changes = ChangeSet::new(in_an_hour()).increment("a.n", 1, 0);
        async move { ok(store.save(&key, &changes).await) }
    });
    futures_util::future::join_all(bumps).await;
    assert_eq!(
        load(store, &key).await.expect("live").get("a.n"),
        Some("51")
    );
}

/// Rule 5: touch moves the expiry and nothing else.
pub async fn touch_moves_the_expiry_and_writes_no_data<S: SessionStore>(store: &S) {
    let key = created(store, ChangeSet::new(in_an_hour()).set("a.x", "1")).await;
    let later = in_an_hour() + Duration::hours(5);
    assert_eq!(ok(store.touch(&key, later).await), WriteOutcome::Applied);
    let record = load(store, &key).await.expect("live");
    assert_eq!(sorted(&record), pairs(&[("a.x", "1")]));
    assert_close(record.expires_at(), later);
}

/// A save of a change set made with `keeping_expiry` changes the fields and
/// leaves the stored expiry, even one that moved after the session was
/// loaded: the write does not pull back what a concurrent touch extended.
pub async fn a_save_that_keeps_the_expiry_leaves_it_where_it_is<S: SessionStore>(store: &S) {
    let loaded_expiry = in_an_hour();
    let key = created(
        store,
        ChangeSet::new(loaded_expiry)
            .set("a.x", "1")
            .set("a.n", "1"),
    )
    .await;
    let later = in_an_hour() + Duration::hours(5);
    assert_eq!(ok(store.touch(&key, later).await), WriteOutcome::Applied);
    let kept = ChangeSet::new(loaded_expiry)
        .set("a.x", "2")
        .increment("a.n", 1, 0)
        .keeping_expiry();
    assert_eq!(ok(store.save(&key, &kept).await), WriteOutcome::Applied);
    let record = load(store, &key).await.expect("live");
    assert_eq!(sorted(&record), pairs(&[("a.n", "2"), ("a.x", "2")]));
    assert_close(record.expires_at(), later);
    // It still writes only to a live session.
    ok(store.delete(&key).await);
    assert_eq!(ok(store.save(&key, &kept).await), WriteOutcome::NotLive);
    assert!(load(store, &key).await.is_none());
}

/// A change set of counters alone that keeps the expiry (what the layer
/// sends for a request that only counts, before `extend_after`; a store may
/// give it a path of its own) applies like any other: from the stored
/// integer, canonical or not, saturating, from 0 where absent, leaving the
/// other fields and the expiry, and only while the session is live.
pub async fn counters_alone_with_the_expiry_kept_apply_only_to_a_live_session<S: SessionStore>(
    store: &S,
) {
    let loaded_expiry = in_an_hour();
    let session = created(
        store,
        ChangeSet::new(loaded_expiry)
            .set("a.n", "5")
            .set("a.t", " +7")
            .set("a.hi", &*(i64::MAX - 1).to_string())
            .set("a.x", "\"keep\""),
    )
    .await;
    let later = in_an_hour() + Duration::hours(5);
    assert_eq!(
        ok(store.touch(&session, later).await),
        WriteOutcome::Applied
    );
    let bump = ChangeSet::new(loaded_expiry)
        .increment("a.n", 1, 0)
        .increment("a.t", 1, 0)
        .increment("a.hi", 5, 0)
        .increment("a.new", 3, 0)
        .keeping_expiry();
    assert_eq!(ok(store.save(&session, &bump).await), WriteOutcome::Applied);
    let record = load(store, &session).await.expect("live");
    let max = i64::MAX.to_string();
    assert_eq!(
        sorted(&record),
        pairs(&[
            ("a.hi", max.as_str()),
            ("a.n", "6"),
            ("a.new", "3"),
            ("a.t", "8"),
            ("a.x", "\"keep\""),
        ])
    );
    assert_close(record.expires_at(), later);
    ok(store.delete(&session).await);
    assert_eq!(ok(store.save(&session, &bump).await), WriteOutcome::NotLive);
    assert!(
        load(store, &session).await.is_none(),
        "a late count revives nothing"
    );
    let unknown = key();
    assert_eq!(ok(store.save(&unknown, &bump).await), WriteOutcome::NotLive);
    assert!(load(store, &unknown).await.is_none());
}

/// Rule 1: a session whose expiry has passed never loads, and cannot be
/// written to.
pub async fn an_expired_session_never_loads<S: SessionStore>(store: &S) {
    let past = OffsetDateTime::now_utc() - Duration::seconds(5);
    let key = key();
    let _ = ok(store
        .create(&key, &ChangeSet::new(past).set("a.x", "1"))
        .await);
    assert_eq!(load(store, &key).await, None);
    let changes = ChangeSet::new(in_an_hour()).set("a.x", "2");
    assert_eq!(ok(store.save(&key, &changes).await), WriteOutcome::NotLive);
    assert_eq!(
        ok(store.touch(&key, in_an_hour()).await),
        WriteOutcome::NotLive
    );
    assert_eq!(load(store, &key).await, None);
}

/// Rule 1: a live session stops loading once its time is up.
pub async fn a_session_expires_on_the_server_after_its_time<S: SessionStore>(store: &S) {
    let soon = OffsetDateTime::now_utc() + Duration::milliseconds(1500);
    let key = created(store, ChangeSet::new(soon).set("a.x", "1")).await;
    assert!(load(store, &key).await.is_some(), "live before its time");
    tokio::time::sleep(StdDuration::from_millis(2600)).await;
    assert_eq!(load(store, &key).await, None, "gone after its time");
}

/// Rule 6: regenerate moves the data, applies the changes, kills the old key.
pub async fn regenerate_moves_the_data_and_kills_the_old_key<S: SessionStore>(store: &S) {
    let old = created(
        store,
        ChangeSet::new(in_an_hour())
            .set("a.x", "1")
            .set("a.y", "2")
            .increment("a.n", 3, 0),
    )
    .await;
    let new = key();
    let later = in_an_hour() + Duration::hours(1);
    let changes = ChangeSet::new(later)
        .set("a.user", "\"ada\"")
        .remove("a.y")
        .increment("a.n", 1, 0);
    assert_eq!(
        ok(store.regenerate(&old, &new, &changes).await),
        WriteOutcome::Applied
    );
    assert_eq!(load(store, &old).await, None, "the old key is dead");
    let record = load(store, &new).await.expect("the new key is live");
    assert_eq!(
        sorted(&record),
        pairs(&[("a.n", "4"), ("a.user", "\"ada\""), ("a.x", "1")])
    );
    assert_close(record.expires_at(), later);
}

/// Rule 6: regenerate onto a live key is refused and changes nothing.
pub async fn regenerate_refuses_a_taken_key<S: SessionStore>(store: &S) {
    let old = created(store, ChangeSet::new(in_an_hour()).set("a.x", "old")).await;
    let taken = created(store, ChangeSet::new(in_an_hour()).set("a.x", "taken")).await;
    let changes = ChangeSet::new(in_an_hour());
    assert_eq!(
        ok(store.regenerate(&old, &taken, &changes).await),
        WriteOutcome::KeyTaken
    );
    assert_eq!(
        load(store, &old).await.expect("live").get("a.x"),
        Some("old")
    );
    assert_eq!(
        load(store, &taken).await.expect("live").get("a.x"),
        Some("taken")
    );
}

/// Rule 6: regenerating a session that is gone writes nothing.
pub async fn regenerate_of_an_unknown_session_is_not_live<S: SessionStore>(store: &S) {
    let (old, new) = (key(), key());
    let changes = ChangeSet::new(in_an_hour()).set("a.x", "1");
    assert_eq!(
        ok(store.regenerate(&old, &new, &changes).await),
        WriteOutcome::NotLive
    );
    assert_eq!(load(store, &new).await, None);
}

/// Rule 7: deleting an unknown key is not an error.
pub async fn delete_of_an_unknown_key_is_not_an_error<S: SessionStore>(store: &S) {
    ok(store.delete(&key()).await);
}

/// Values come back exactly as written: unicode, escapes, 16 KiB texts.
pub async fn values_round_trip_byte_for_byte<S: SessionStore>(store: &S) {
    let big = format!("\"{}\"", "x".repeat(16 * 1024));
    let odd = r#"{"a":"é\u0000\"\\ 😀","b":[null,true,-1.5e300]}"#;
    let key = created(
        store,
        ChangeSet::new(in_an_hour())
            .set("a.big", big.clone())
            .set("a.odd", odd),
    )
    .await;
    let record = load(store, &key).await.expect("live");
    assert_eq!(record.get("a.big"), Some(big.as_str()));
    assert_eq!(record.get("a.odd"), Some(odd));
}

//! The conformance suite of the optional per-user index
//! ([`SessionStore::user_sessions`], [`SessionStore::delete_user_sessions`]),
//! for the stores that have it; a store without it runs
//! [`the_user_index_answers_unsupported`] instead, or nothing.

use time::{Duration, OffsetDateTime};

use super::conformance::{created, in_an_hour, key, load, ok};
use crate::store::{ChangeSet, SessionKey, SessionStore, StoreErrorKind, WriteOutcome, USER_FIELD};

/// Generates one `#[tokio::test]` per rule of the per-user index, for a
/// store that has it; beside `store_conformance_tests!`, with the same
/// arguments.
///
/// ```
/// use session_runtime::store::MemoryStore;
///
/// async fn make_store() -> Option<MemoryStore> {
///     Some(MemoryStore::new())
/// }
///
/// session_runtime::user_index_conformance_tests!(make_store);
/// # fn main() { let _ = make_store; }
/// ```
#[macro_export]
macro_rules! user_index_conformance_tests {
    ($make:path) => {
        $crate::user_index_conformance_tests!($make, teardown = $crate::testing::no_teardown);
    };
    ($make:path, teardown = $teardown:path) => {
        $crate::store_conformance_tests!(@tests $make, $teardown,
            sessions_bound_to_a_user_are_listed_with_their_records,
            sessions_of_others_and_unbound_sessions_are_not_listed,
            a_deleted_session_leaves_the_user_index,
            a_regenerated_session_is_listed_under_its_new_key_only,
            an_expired_session_is_never_listed,
            rebinding_moves_a_session_to_its_new_user,
            delete_user_sessions_ends_every_session_but_the_kept_one,
            a_save_after_a_revocation_does_not_bring_the_session_back,
        );
    };
}

fn bound(user: &str) -> ChangeSet {
    let json = serde_json::to_string(user).expect("a string encodes");
    ChangeSet::new(in_an_hour())
        .set(USER_FIELD, json)
        .set("auth.name", "\"x\"")
}

async fn listed<S: SessionStore>(store: &S, user: &str) -> Vec<SessionKey> {
    let mut keys: Vec<SessionKey> = ok(store.user_sessions(user).await)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort_by_key(|k| *k.as_bytes());
    keys
}

fn sorted_keys(mut keys: Vec<SessionKey>) -> Vec<SessionKey> {
    keys.sort_by_key(|k| *k.as_bytes());
    keys
}

/// Every live session bound to a user is listed, with its record.
pub async fn sessions_bound_to_a_user_are_listed_with_their_records<S: SessionStore>(store: &S) {
    let user = format!("ada-{}", hex_tail(&key()));
    let a = created(store, bound(&user)).await;
    let b = created(store, bound(&user)).await;
    let found = ok(store.user_sessions(&user).await);
    assert_eq!(found.len(), 2);
    for (_, record) in &found {
        assert_eq!(record.get("auth.name"), Some("\"x\""));
        assert!(record.expires_at() > OffsetDateTime::now_utc());
    }
    assert_eq!(listed(store, &user).await, sorted_keys(vec![a, b]));
}

/// Another user's sessions and unbound sessions are not listed.
pub async fn sessions_of_others_and_unbound_sessions_are_not_listed<S: SessionStore>(store: &S) {
    let tail = hex_tail(&key());
    let (ada, bob) = (format!("ada-{tail}"), format!("bob-{tail}"));
    let a = created(store, bound(&ada)).await;
    created(store, bound(&bob)).await;
    created(
        store,
        ChangeSet::new(in_an_hour()).set("auth.name", "\"ada\""),
    )
    .await;
    assert_eq!(listed(store, &ada).await, vec![a]);
    assert!(listed(store, &format!("nobody-{tail}")).await.is_empty());
}

/// A deleted session is not listed.
pub async fn a_deleted_session_leaves_the_user_index<S: SessionStore>(store: &S) {
    let user = format!("ada-{}", hex_tail(&key()));
    let a = created(store, bound(&user)).await;
    ok(store.delete(&a).await);
    assert!(listed(store, &user).await.is_empty());
}

/// A regenerated session is listed under its new key, not its old one.
pub async fn a_regenerated_session_is_listed_under_its_new_key_only<S: SessionStore>(store: &S) {
    let user = format!("ada-{}", hex_tail(&key()));
    let old = created(store, bound(&user)).await;
    let new = key();
    assert_eq!(
        ok(store
            .regenerate(&old, &new, &ChangeSet::new(in_an_hour()))
            .await),
        WriteOutcome::Applied
    );
    assert_eq!(listed(store, &user).await, vec![new]);
}

/// An expired session is never listed, swept or not.
pub async fn an_expired_session_is_never_listed<S: SessionStore>(store: &S) {
    let user = format!("ada-{}", hex_tail(&key()));
    let past = OffsetDateTime::now_utc() - Duration::seconds(5);
    let mut changes = bound(&user);
    changes.set_expires_at(past);
    let k = key();
    // A store may refuse to create what has already expired; either way it
    // must not list it.
    let _ = ok(store.create(&k, &changes).await);
    let live = created(store, bound(&user)).await;
    assert_eq!(listed(store, &user).await, vec![live]);
}

/// A save that binds the session to another user (or unbinds it) moves it
/// in the index.
pub async fn rebinding_moves_a_session_to_its_new_user<S: SessionStore>(store: &S) {
    let tail = hex_tail(&key());
    let (ada, bob) = (format!("ada-{tail}"), format!("bob-{tail}"));
    let k = created(store, bound(&ada)).await;
    assert_eq!(
        ok(store.save(&k, &bound(&bob)).await),
        WriteOutcome::Applied
    );
    assert!(listed(store, &ada).await.is_empty());
    assert_eq!(listed(store, &bob).await, vec![k]);
    let unbind = ChangeSet::new(in_an_hour()).remove(USER_FIELD);
    assert_eq!(ok(store.save(&k, &unbind).await), WriteOutcome::Applied);
    assert!(listed(store, &bob).await.is_empty());
    assert!(
        load(store, &k).await.is_some(),
        "unbinding keeps the session"
    );
}

/// "Log out everywhere" and "log out other devices".
pub async fn delete_user_sessions_ends_every_session_but_the_kept_one<S: SessionStore>(store: &S) {
    let tail = hex_tail(&key());
    let (ada, bob) = (format!("ada-{tail}"), format!("bob-{tail}"));
    let keep = created(store, bound(&ada)).await;
    let a = created(store, bound(&ada)).await;
    let b = created(store, bound(&ada)).await;
    let other = created(store, bound(&bob)).await;
    assert_eq!(ok(store.delete_user_sessions(&ada, Some(&keep)).await), 2);
    assert!(load(store, &a).await.is_none());
    assert!(load(store, &b).await.is_none());
    assert!(load(store, &keep).await.is_some());
    assert!(
        load(store, &other).await.is_some(),
        "another user's session"
    );
    assert_eq!(listed(store, &ada).await, vec![keep]);
    assert_eq!(ok(store.delete_user_sessions(&ada, None).await), 1);
    assert!(load(store, &keep).await.is_none());
    assert!(listed(store, &ada).await.is_empty());
}

/// A save that lands after a revocation writes nothing and re-adds nothing.
pub async fn a_save_after_a_revocation_does_not_bring_the_session_back<S: SessionStore>(store: &S) {
    let user = format!("ada-{}", hex_tail(&key()));
    let k = created(store, bound(&user)).await;
    ok(store.delete_user_sessions(&user, None).await);
    assert_eq!(
        ok(store.save(&k, &bound(&user)).await),
        WriteOutcome::NotLive
    );
    assert_eq!(
        ok(store.touch(&k, in_an_hour()).await),
        WriteOutcome::NotLive
    );
    assert!(listed(store, &user).await.is_empty());
    assert!(load(store, &k).await.is_none());
}

/// For a store without the per-user index: both operations answer an error
/// of kind [`StoreErrorKind::Unsupported`], and nothing else changes.
pub async fn the_user_index_answers_unsupported<S: SessionStore>(store: &S) {
    let list = store.user_sessions("ada").await;
    assert!(matches!(list, Err(e) if e.kind() == StoreErrorKind::Unsupported));
    let revoke = store.delete_user_sessions("ada", None).await;
    assert!(matches!(revoke, Err(e) if e.kind() == StoreErrorKind::Unsupported));
}

/// A few hex digits unique to this test run, so tests that share a server
/// never see each other's users.
fn hex_tail(key: &SessionKey) -> String {
    key.as_bytes()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

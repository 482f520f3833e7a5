//! `RedisStore` on the real Redis at `REDIS_URL` (default
//! `redis://127.0.0.1:6379`): the store conformance suite, each test under a
//! key prefix of its own that is deleted after it, and what is particular to
//! Redis (the layout, the increment rule in Lua, database numbers).
//!
//! Without a Redis the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.

use crate::common;
use crate::redis_support::{cleanup, delete_prefix, raw, redis_url, unique_prefix};

use redis::AsyncCommands as _;
use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{RedisStore, SessionId, SessionKey};
use time::{Duration, OffsetDateTime};

async fn store_at(url: &str) -> Option<RedisStore> {
    match RedisStore::builder(url)
        .key_prefix(unique_prefix("store"))
        .connect()
        .await
    {
        Ok(store) => Some(store),
        Err(err) => {
            common::skip_or_fail(&format!(
                "no Redis at {url} ({err}: {:?}); set REDIS_URL",
                std::error::Error::source(&err)
            ));
            None
        }
    }
}

async fn make_store() -> Option<RedisStore> {
    store_at(&redis_url()).await
}

session_runtime::store_conformance_tests!(make_store, teardown = cleanup);

/// The per-user index (a sorted set per user), on the real Redis.
mod users {
    use super::{cleanup, make_store};

    session_runtime::user_index_conformance_tests!(make_store, teardown = cleanup);
}

fn key() -> SessionKey {
    SessionId::generate().expect("an ID").key()
}

/// The store's one user index (its tests bind one user each): its members (session key digests) and the
/// TTL of the index key.
async fn index_of(store: &RedisStore) -> (Vec<String>, i64) {
    let mut conn = raw(&redis_url()).await;
    let pattern = format!("{}user:*", store.key_prefix());
    let keys: Vec<String> = conn.keys(&pattern).await.expect("KEYS");
    assert!(keys.len() <= 1, "one index for the one user: {keys:?}");
    let Some(index) = keys.first() else {
        return (Vec::new(), -2);
    };
    let members: Vec<String> = conn.zrange(index, 0, -1).await.expect("ZRANGE");
    let ttl: i64 = conn.pttl(index).await.expect("PTTL");
    (members, ttl)
}

#[tokio::test]
async fn the_user_index_holds_only_live_sessions_and_expires_by_itself() {
    let Some(store) = make_store().await else {
        return;
    };
    let user = "ada";
    let bound =
        |expires_at| ChangeSet::new(expires_at).set(session_kit::store::USER_FIELD, "\"ada\"");
    let short = key();
    let (kept, deleted) = (key(), key());
    let soon = OffsetDateTime::now_utc() + Duration::milliseconds(800);
    for (k, at) in [
        (&short, soon),
        (&kept, in_an_hour()),
        (&deleted, in_an_hour()),
    ] {
        assert_eq!(
            store.create(k, &bound(at)).await.expect("create"),
            WriteOutcome::Applied
        );
    }
    let (members, ttl) = index_of(&store).await;
    assert_eq!(members.len(), 3);
    assert!(
        ttl > 3_600_000,
        "the index key outlives its longest hold: {ttl} ms"
    );
    // A hidden field says until when the index holds the session; a load
    // never shows it.
    let record = store.load(&kept).await.expect("load").expect("live");
    assert!(record.fields().all(|(name, _)| name != "@ix"));

    store.delete(&deleted).await.expect("delete");
    let moved = key();
    assert_eq!(
        store
            .regenerate(&kept, &moved, &ChangeSet::new(in_an_hour()))
            .await
            .expect("regenerate"),
        WriteOutcome::Applied
    );
    let (members, _) = index_of(&store).await;
    assert_eq!(
        members.len(),
        2,
        "the deleted and the old key left: {members:?}"
    );

    // The short session expires; the next read of the index finds its
    // member names nothing and drops it (trimmed on read).
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let listed = store.user_sessions(user).await.expect("listed");
    assert_eq!(
        listed.into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
        vec![moved]
    );
    let (members, _) = index_of(&store).await;
    assert_eq!(members.len(), 1, "{members:?}");

    assert_eq!(
        store
            .delete_user_sessions(user, None)
            .await
            .expect("revoked"),
        1
    );
    let (members, _) = index_of(&store).await;
    assert!(members.is_empty(), "{members:?}");
    cleanup(store).await;
}

#[tokio::test]
async fn a_bound_session_in_use_goes_back_to_the_index_before_its_hold_ends() {
    let Some(store) = make_store().await else {
        return;
    };
    let k = key();
    let soon = OffsetDateTime::now_utc() + Duration::seconds(2);
    let changes = ChangeSet::new(soon).set(session_kit::store::USER_FIELD, "\"bob\"");
    assert_eq!(
        store.create(&k, &changes).await.expect("create"),
        WriteOutcome::Applied
    );
    let mut conn = raw(&redis_url()).await;
    let name = store.redis_key(&k);
    let first: i64 = conn.hget(&name, "@ix").await.expect("HGET");
    // Moving the expiry a day out is past the first hold (twice two
    // seconds, plus the margin): the index is written again first.
    let later = OffsetDateTime::now_utc() + Duration::days(1);
    assert_eq!(
        store.touch(&k, later).await.expect("touch"),
        WriteOutcome::Applied
    );
    let second: i64 = conn.hget(&name, "@ix").await.expect("HGET");
    assert!(second > first + 86_000_000, "{first} -> {second}");
    let pttl: i64 = conn.pttl(&name).await.expect("PTTL");
    assert!(pttl > 86_000_000, "the session got its day: {pttl}");
    let (members, index_ttl) = index_of(&store).await;
    assert_eq!(members.len(), 1);
    assert!(
        i128::from(index_ttl) >= i128::from(pttl),
        "the index outlives the session: {index_ttl} < {pttl}"
    );
    cleanup(store).await;
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

#[tokio::test]
async fn a_session_is_one_hash_under_a_hash_tagged_key_with_a_redis_expiry() {
    let Some(store) = make_store().await else {
        return;
    };
    let key = key();
    let changes = ChangeSet::new(in_an_hour())
        .set("cart.items", "[\"apple\"]")
        .increment("visits.n", 1, 0);
    assert_eq!(
        store.create(&key, &changes).await.expect("create"),
        WriteOutcome::Applied
    );
    let name = store.redis_key(&key);
    let tag = name
        .strip_prefix(store.key_prefix())
        .and_then(|rest| rest.strip_prefix('{'))
        .and_then(|rest| rest.strip_suffix('}'))
        .expect("prefix, then the digest as a hash tag");
    assert_eq!(tag.len(), 43, "the digest in URL-safe base64: {tag}");
    assert!(tag
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_ne!(
        store.redis_key(&self::key()),
        name,
        "another session, another key"
    );
    let mut conn = raw(&redis_url()).await;
    let mut fields: Vec<(String, String)> = conn.hgetall(&name).await.expect("HGETALL");
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("cart.items".to_owned(), "[\"apple\"]".to_owned()),
            ("visits.n".to_owned(), "1".to_owned()),
        ]
    );
    let ttl: i64 = conn.pttl(&name).await.expect("PTTL");
    assert!(ttl > 0, "the session expires by Redis's own clock");
    cleanup(store).await;
}

#[tokio::test]
async fn a_session_whose_fields_are_all_removed_stays_live() {
    let Some(store) = make_store().await else {
        return;
    };
    let key = key();
    let created = ChangeSet::new(in_an_hour()).set("a.x", "1");
    store.create(&key, &created).await.expect("create");
    let emptied = ChangeSet::new(in_an_hour()).remove("a.x");
    assert_eq!(
        store.save(&key, &emptied).await.expect("save"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("still live");
    assert!(record.is_empty(), "no field shows, not even the marker");
    let refilled = ChangeSet::new(in_an_hour()).set("a.y", "2");
    assert_eq!(
        store.save(&key, &refilled).await.expect("save"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.fields().collect::<Vec<_>>(), vec![("a.y", "2")]);
    cleanup(store).await;
}

#[tokio::test]
async fn the_database_number_in_the_url_is_honoured() {
    let url = format!("{}/3", redis_url().trim_end_matches('/'));
    let Some(store) = store_at(&url).await else {
        return;
    };
    let key = key();
    store
        .create(&key, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("create");
    let name = store.redis_key(&key);
    let exists_in_3: bool = raw(&url).await.exists(&name).await.expect("EXISTS");
    let exists_in_0: bool = raw(&redis_url()).await.exists(&name).await.expect("EXISTS");
    assert!(exists_in_3, "the session is in database 3");
    assert!(!exists_in_0, "and not in database 0");
    delete_prefix(&url, store.key_prefix()).await;
}

#[tokio::test]
async fn a_key_prefix_with_a_brace_is_refused() {
    let result = RedisStore::builder(redis_url())
        .key_prefix("app{1}:")
        .connect()
        .await;
    let err = result.expect_err("a brace would change the hash tag");
    assert_eq!(err.kind(), session_kit::StoreErrorKind::Config);
    let cause = std::error::Error::source(&err).expect("the configuration error");
    assert!(cause.to_string().contains("`{` or `}`"), "{cause}");
}

#[tokio::test]
async fn a_redis_that_is_not_there_fails_to_connect_quickly_with_its_cause() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let err = RedisStore::builder(format!("redis://127.0.0.1:{port}"))
        .connect_timeout(std::time::Duration::from_millis(200))
        .command_timeout(std::time::Duration::from_millis(200))
        .connect()
        .await
        .expect_err("nothing listens there");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the driver's error is kept: {err}"
    );
}

/// The HTTP suite, every case, on the real Redis.
mod http {
    use super::{cleanup, make_store};

    session_runtime::store_http_tests!(make_store, teardown = cleanup);
}

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

fn key() -> SessionKey {
    SessionId::generate().expect("an ID").key()
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

    session_runtime::store_http_tests!(make_store, teardown = cleanup, skip = {
        a_login_binds_the_user_and_the_listing_marks_the_callers_session: "the per-user index on Redis is not built yet",
        a_session_revoked_on_one_instance_is_logged_out_on_the_other: "the per-user index on Redis is not built yet",
        logout_others_keeps_only_the_callers_session: "the per-user index on Redis is not built yet",
        logout_everywhere_on_one_instance_ends_the_users_sessions_on_every_instance: "the per-user index on Redis is not built yet",
        a_slow_request_on_a_revoked_session_neither_revives_it_nor_re_indexes_it: "the per-user index on Redis is not built yet",
        logins_and_a_logout_everywhere_on_two_instances_leave_no_live_session: "the per-user index on Redis is not built yet",
    });
}

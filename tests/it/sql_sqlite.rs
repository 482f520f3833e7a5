//! `SqliteStore` on files in the temporary directory, one per test and
//! removed after it: the store conformance suite, the checks every SQL store
//! runs (`sql_common`), and what is particular to SQLite (WAL mode, the
//! write lock, the file created if missing, the row layout).

use crate::sql_common;

use std::str::FromStr as _;

use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{SqliteStore, StoreConfigError};
use sql_common::lite::{self, Lite};
use sql_common::{in_an_hour, key, Harness};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use time::OffsetDateTime;

session_runtime::store_conformance_tests!(
    sql_common::make::<Lite>,
    teardown = sql_common::drop_store::<Lite>
);

/// The per-user index (schema step 2), through the trait alone.
mod user_index {
    use crate::sql_common::{self, lite::Lite};

    session_runtime::user_index_conformance_tests!(
        sql_common::make::<Lite>,
        teardown = sql_common::drop_store::<Lite>
    );
}

sql_common::sql_store_tests!(Lite);

#[tokio::test]
async fn a_row_is_the_digest_a_json_text_of_json_texts_and_unix_milliseconds() {
    let Some(h) = Lite::open().await else { return };
    let key = key();
    let expires_at =
        OffsetDateTime::from_unix_timestamp_nanos(4_102_444_800_123_000_000).expect("2100");
    let changes = ChangeSet::new(expires_at)
        .set("cart.items", "[\"apple\", 1.50]")
        .increment("visits.n", 1, 0);
    h.store.create(&key, &changes).await.expect("create");
    let (id, fields, expires, kind): (Vec<u8>, String, i64, String) =
        sqlx::query_as("SELECT id, fields, expires_at, typeof(expires_at) FROM sessions")
            .fetch_one(h.store.pool())
            .await
            .expect("the row");
    assert_eq!(id, key.as_bytes(), "the digest, never the ID");
    assert_eq!(
        fields, r#"{"cart.items":"[\"apple\", 1.50]","visits.n":"1"}"#,
        "each value's JSON text, kept as a string"
    );
    assert_eq!(expires, 4_102_444_800_123, "Unix milliseconds, past 2038");
    assert_eq!(kind, "integer");
    h.close().await;
}

/// Schema step 3: the per-user index holds bound sessions only, so the
/// save of an unbound session never writes it, and the listing still finds
/// its sessions through it.
#[tokio::test]
async fn the_user_index_holds_bound_sessions_only_and_serves_the_listing() {
    let Some(h) = Lite::open().await else { return };
    let pool = h.store.pool();
    let (name, sql): (String, String) = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
         AND tbl_name = 'sessions' AND sql LIKE '%user_key%'",
    )
    .fetch_one(pool)
    .await
    .expect("the user index");
    assert!(sql.ends_with("WHERE user_key IS NOT NULL"), "{sql}");
    let bound = ChangeSet::new(in_an_hour())
        .set(session_kit::store::USER_FIELD, "\"ada\"")
        .set("auth.name", "\"ada\"");
    let unbound = ChangeSet::new(in_an_hour()).set("visits.n", "1");
    let (a, b) = (key(), key());
    h.store.create(&a, &bound).await.expect("create");
    h.store.create(&b, &unbound).await.expect("create");
    let entries: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM sessions INDEXED BY \"{name}\" WHERE user_key IS NOT NULL"
    ))
    .fetch_one(pool)
    .await
    .expect("the index's entries");
    assert_eq!(entries, 1, "the unbound session is not in the index");
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT id, fields, expires_at FROM sessions \
         WHERE user_key = ?1 AND expires_at > ?2",
    )
    .bind("\"ada\"")
    .bind(0_i64)
    .fetch_all(pool)
    .await
    .expect("the plan");
    assert!(
        plan.iter().any(|(.., detail)| detail.contains(&name)),
        "{plan:?}"
    );
    let listed = h.store.user_sessions("ada").await.expect("listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, a);
    h.close().await;
}

#[tokio::test]
async fn connect_creates_the_file_in_wal_mode_with_a_busy_timeout() {
    let dir = std::env::temp_dir().join(sql_common::unique_name());
    std::fs::create_dir(&dir).expect("a directory");
    let path = dir.join("fresh.db");
    assert!(!path.exists());
    let store = lite::store_at(&path).await;
    store.migrate().await.expect("migrate");
    assert!(path.exists(), "created when missing");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(store.pool())
        .await
        .expect("busy_timeout");
    assert_eq!(busy, 2000, "the operation timeout");
    store.pool().close().await;
    lite::remove(&path);
    let _ = std::fs::remove_dir(&dir);
}

/// Four pools on one file (as four processes would be), fifty overlapping
/// saves each: every write waits its turn for the lock and none fails with
/// "database is locked".
#[tokio::test]
async fn many_writers_on_one_file_wait_their_turn_and_lose_nothing() {
    let Some(h) = Lite::open().await else { return };
    let key = key();
    h.store
        .create(&key, &ChangeSet::new(in_an_hour()).set("a.x", "0"))
        .await
        .expect("create");
    let mut stores = vec![h.store()];
    for _ in 0..3 {
        stores.push(h.another().await);
    }
    let saves = stores.iter().flat_map(|store| {
        (0..50).map(move |i| async move {
            let changes = ChangeSet::new(in_an_hour())
                .increment("a.n", 1, 0)
                .set(format!("f.k{i}"), "1");
            store.save(&key, &changes).await
        })
    });
    for outcome in futures_util::future::join_all(saves).await {
        assert_eq!(
            outcome.expect("no \"database is locked\""),
            WriteOutcome::Applied
        );
    }
    let record = h.store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.get("a.n"), Some("200"));
    drop(stores);
    h.close().await;
}

#[tokio::test]
async fn a_pool_not_in_wal_mode_is_used_with_a_warning() {
    let path = lite::temp_file();
    let options = SqliteConnectOptions::from_str(&lite::url_of(&path))
        .expect("a URL")
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .expect("a pool");
    let store = SqliteStore::new(pool);
    let (migrated, logs) = sql_common::logs_of(store.migrate()).await;
    migrated.expect("migrate");
    assert!(logs.contains("not in WAL mode"), "{logs}");
    let key = key();
    store
        .create(&key, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("create");
    assert!(store.load(&key).await.expect("load").is_some());
    store.pool().close().await;
    lite::remove(&path);
}

#[tokio::test]
async fn a_schema_qualified_or_odd_table_name_is_refused() {
    let pool = sqlx::SqlitePool::connect_lazy("sqlite::memory:").expect("a lazy pool");
    for bad in ["main.sessions", "a\"b", "1st", ""] {
        let err = SqliteStore::builder()
            .table(bad)
            .build(pool.clone())
            .expect_err("refused");
        assert_eq!(
            err,
            StoreConfigError::InvalidTableName {
                name: bad.to_owned()
            }
        );
    }
}

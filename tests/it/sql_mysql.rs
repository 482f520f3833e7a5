//! `MySqlStore` on the real MySQL or MariaDB at `MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`): the store conformance suite, each
//! test in a table of its own that is dropped after it; the checks every
//! SQL store runs (`sql_common`); and what is particular to MySQL (the row
//! layout, time zones, SQL modes).
//!
//! Without a server the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.

use crate::common;
use crate::sql_common;

use std::time::Duration as StdDuration;

use session_kit::store::{ChangeSet, Increment, SessionStore, SweepExpired, WriteOutcome};
use session_kit::{MySqlStore, StoreConfigError, StoreErrorKind};
use sql_common::my::{self, My};
use sql_common::{ago, in_an_hour, key, Harness};
use sqlx::mysql::MySqlPoolOptions;
use time::OffsetDateTime;

session_runtime::store_conformance_tests!(
    sql_common::make::<My>,
    teardown = sql_common::drop_store::<My>
);

/// The per-user index (schema step 2), through the trait alone.
mod user_index {
    use crate::sql_common::{self, my::My};

    session_runtime::user_index_conformance_tests!(
        sql_common::make::<My>,
        teardown = sql_common::drop_store::<My>
    );
}

sql_common::sql_store_tests!(My);

/// A store on the harness's table whose connections first run `setup`.
async fn store_with_session_setup(h: &My, setup: &'static str) -> MySqlStore {
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .after_connect(move |conn, _| {
            Box::pin(async move { sqlx::query(setup).execute(conn).await.map(|_| ()) })
        })
        .connect(&my::url())
        .await
        .expect("a pool");
    MySqlStore::builder()
        .table(&h.table)
        .no_background_sweep()
        .build(pool)
        .expect("a valid table")
}

#[tokio::test]
async fn a_row_is_the_digest_a_json_text_of_json_texts_and_a_utc_datetime() {
    let Some(h) = My::open().await else { return };
    let key = key();
    // 2100-01-01T00:00:00.123456Z: past 2038, to the microsecond.
    let expires_at =
        OffsetDateTime::from_unix_timestamp_nanos(4_102_444_800_123_456_000).expect("a date");
    let changes = ChangeSet::new(expires_at)
        .set("cart.items", "[\"apple\", 1.50]")
        .increment("visits.n", 1, 0);
    h.store.create(&key, &changes).await.expect("create");
    let (id, fields, expires): (Vec<u8>, Vec<u8>, String) = sqlx::query_as(&format!(
        "SELECT id, fields, CAST(expires_at AS CHAR) FROM `{}`",
        h.table
    ))
    .fetch_one(&h.admin)
    .await
    .expect("the row");
    assert_eq!(id, key.as_bytes(), "the digest, never the ID");
    let fields: serde_json::Value = serde_json::from_slice(&fields).expect("JSON");
    assert_eq!(
        fields,
        serde_json::json!({"cart.items": "[\"apple\", 1.50]", "visits.n": "1"}),
        "each value's JSON text, kept as a string"
    );
    assert_eq!(expires, "2100-01-01 00:00:00.123456", "UTC wall time");
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR) FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
    )
    .bind(&h.table)
    .fetch_all(&h.admin)
    .await
    .expect("columns");
    assert_eq!(
        columns,
        [
            ("id", "binary(32)"),
            ("fields", "longtext"),
            ("expires_at", "datetime(6)"),
            ("user_digest", "binary(32)")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    h.close().await;
}

/// Connections whose `time_zone` is far from UTC load, expire and sweep
/// exactly as UTC ones do: the expiry is a UTC `DATETIME`, compared with
/// `UTC_TIMESTAMP`, never with `NOW()`.
#[tokio::test]
async fn expiry_and_the_sweep_are_right_whatever_the_connections_time_zone() {
    let Some(h) = My::open().await else { return };
    // The widest offsets MariaDB takes (MySQL takes up to +14:00).
    for zone in ["+13:00", "-12:00"] {
        let setup: &'static str = if zone.starts_with('+') {
            "SET time_zone = '+13:00'"
        } else {
            "SET time_zone = '-12:00'"
        };
        let store = store_with_session_setup(&h, setup).await;
        let shown: String = sqlx::query_scalar("SELECT @@session.time_zone")
            .fetch_one(store.pool())
            .await
            .expect("time_zone");
        assert_eq!(shown, zone);
        let (expired, soon, later) = (key(), key(), key());
        let soon_at = OffsetDateTime::now_utc() + time::Duration::minutes(30);
        let soon_at = soon_at
            .replace_microsecond(soon_at.microsecond())
            .expect("microseconds");
        for (key, at) in [
            (&expired, ago(60)),
            (&soon, soon_at),
            (&later, in_an_hour()),
        ] {
            store
                .create(key, &ChangeSet::new(at).set("a.x", "1"))
                .await
                .expect("create");
        }
        assert_eq!(store.load(&expired).await.expect("load"), None, "{zone}");
        let record = store.load(&soon).await.expect("load").expect("live");
        assert_eq!(record.expires_at(), soon_at, "{zone}");
        assert_eq!(store.sweep_expired(100).await.expect("sweep"), 1, "{zone}");
        assert!(store.load(&soon).await.expect("load").is_some(), "{zone}");
        assert!(store.load(&later).await.expect("load").is_some(), "{zone}");
        sqlx::query(&format!("DELETE FROM `{}`", h.table))
            .execute(&h.admin)
            .await
            .expect("empty the table");
    }
    h.close().await;
}

/// The statements hold no backslash and bind every name: a connection with
/// `NO_BACKSLASH_ESCAPES` and strict mode stores the same.
#[tokio::test]
async fn a_connection_in_strict_mode_without_backslash_escapes_stores_the_same() {
    let Some(h) = My::open().await else { return };
    let store = store_with_session_setup(
        &h,
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES,ANSI_QUOTES'",
    )
    .await;
    let key = key();
    let created = ChangeSet::new(in_an_hour())
        .set("q\"uote.b\\s", "\"x\\\\y\"")
        .set("a.n", " +41\u{3000}");
    store.create(&key, &created).await.expect("create");
    let bump = ChangeSet::new(in_an_hour())
        .increment("a.n", 1, 0)
        .increment("q\"uote.c\\n", i64::MAX, 5)
        .set("it's.x", "[\"\\\\\"]");
    assert_eq!(
        store.save(&key, &bump).await.expect("save"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.get("a.n"), Some("42"));
    assert_eq!(record.get("q\"uote.b\\s"), Some("\"x\\\\y\""));
    assert_eq!(record.get("q\"uote.c\\n"), Some(&*i64::MAX.to_string()));
    assert_eq!(record.get("it's.x"), Some("[\"\\\\\"]"));
    for text in session_runtime::testing::COUNTER_TEXTS {
        let key = self::key();
        store
            .create(&key, &ChangeSet::new(in_an_hour()).set("a.n", *text))
            .await
            .expect("create");
        store
            .save(&key, &ChangeSet::new(in_an_hour()).increment("a.n", -7, 3))
            .await
            .expect("save");
        let expected = Increment {
            key: "a.n".into(),
            delta: -7,
            initial: 3,
        }
        .apply_to(Some(text));
        let record = store.load(&key).await.expect("load").expect("live");
        assert_eq!(record.get("a.n"), Some(&*expected.to_string()), "{text:?}");
    }
    h.close().await;
}

#[tokio::test]
async fn a_table_name_that_is_not_a_plain_identifier_is_refused() {
    let pool = sqlx::MySqlPool::connect_lazy(&my::url()).expect("a lazy pool");
    for bad in ["sessions`; DROP TABLE x", "a.b.c", "`quoted`", "1st", ""] {
        let err = MySqlStore::builder()
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

#[tokio::test]
async fn a_mariadb_url_is_taken_and_a_server_that_is_not_there_fails_quickly() {
    let port = common::free_port();
    for scheme in ["mysql", "mariadb"] {
        let err = MySqlStore::builder()
            .acquire_timeout(StdDuration::from_millis(300))
            .operation_timeout(StdDuration::from_millis(300))
            .connect(&format!("{scheme}://root@127.0.0.1:{port}/test"))
            .await
            .expect_err("nothing listens there");
        assert!(
            matches!(
                err.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{scheme}: {err}: {:?}",
            err.kind()
        );
    }
    let Some(h) = My::open().await else { return };
    let url = my::url().replacen("mysql://", "mariadb://", 1);
    let store = MySqlStore::builder()
        .table(&h.table)
        .no_background_sweep()
        .connect(&url)
        .await
        .expect("a mariadb:// URL connects");
    let key = key();
    store
        .create(&key, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("create");
    assert!(h.store.load(&key).await.expect("load").is_some());
    h.close().await;
}

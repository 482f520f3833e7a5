//! `PostgresStore` on the real PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`): the store conformance suite,
//! each test in a schema of its own that is dropped after it; the checks
//! every SQL store runs (`sql_common`); and what is particular to
//! PostgreSQL (the row layout, time zones).
//!
//! Without a server the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.

use crate::common;
use crate::sql_common;

use std::time::Duration as StdDuration;

use session_kit::store::{ChangeSet, SessionStore, SweepExpired, WriteOutcome};
use session_kit::{PostgresStore, StoreConfigError, StoreErrorKind};
use sql_common::pg::{self, Pg};
use sql_common::{ago, in_an_hour, key, Harness};
use time::OffsetDateTime;

session_runtime::store_conformance_tests!(
    sql_common::make::<Pg>,
    teardown = sql_common::drop_store::<Pg>
);

/// The per-user index (schema step 2), through the trait alone.
mod user_index {
    use crate::sql_common::{self, pg::Pg};

    session_runtime::user_index_conformance_tests!(
        sql_common::make::<Pg>,
        teardown = sql_common::drop_store::<Pg>
    );
}

sql_common::sql_store_tests!(Pg);

#[tokio::test]
async fn a_row_is_the_digest_a_jsonb_object_of_json_texts_and_a_timestamptz() {
    let Some(h) = Pg::open().await else { return };
    let key = key();
    let expires_at = OffsetDateTime::from_unix_timestamp_nanos(4_102_444_800_123_456_000)
        .expect("2100-01-01T00:00:00.123456Z");
    let changes = ChangeSet::new(expires_at)
        .set("cart.items", "[\"apple\", 1.50]")
        .increment("visits.n", 1, 0);
    h.store.create(&key, &changes).await.expect("create");
    let (id, fields, expires, expires_type): (Vec<u8>, String, OffsetDateTime, String) =
        sqlx::query_as(&format!(
            "SELECT id, fields::text, expires_at, pg_typeof(expires_at)::text FROM {}",
            h.table()
        ))
        .fetch_one(&h.admin)
        .await
        .expect("the row");
    assert_eq!(id, key.as_bytes(), "the digest, never the ID");
    assert_eq!(
        fields, r#"{"visits.n": "1", "cart.items": "[\"apple\", 1.50]"}"#,
        "each value's JSON text, kept as a string"
    );
    assert_eq!(expires, expires_at, "to the microsecond");
    assert_eq!(expires_type, "timestamp with time zone");
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'sessions' ORDER BY ordinal_position",
    )
    .bind(&h.schema)
    .fetch_all(&h.admin)
    .await
    .expect("columns");
    assert_eq!(
        columns,
        [
            ("id", "bytea"),
            ("fields", "jsonb"),
            ("expires_at", "timestamp with time zone"),
            ("user_key", "text")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let indexed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 \
         AND tablename = 'sessions' AND indexdef LIKE '%(expires_at)%')",
    )
    .bind(&h.schema)
    .fetch_one(&h.admin)
    .await
    .expect("pg_indexes");
    assert!(indexed, "the sweep has an index to use");
    h.close().await;
}

/// Connections whose `TimeZone` is far from UTC (UTC+14 and UTC-12) load,
/// expire and sweep exactly as UTC ones do.
#[tokio::test]
async fn expiry_and_the_sweep_are_right_whatever_the_connections_time_zone() {
    let Some(h) = Pg::open().await else { return };
    for zone in ["Pacific/Kiritimati", "Etc/GMT+12"] {
        // sqlx asks for UTC when it connects; each connection moves away.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    sqlx::query(&format!("SET TIME ZONE '{zone}'"))
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect(&pg::url())
            .await
            .expect("a pool");
        let store = PostgresStore::builder()
            .table(format!("{}.sessions", h.schema))
            .no_background_sweep()
            .build(pool)
            .expect("a valid table");
        let shown: String = sqlx::query_scalar("SHOW TimeZone")
            .fetch_one(store.pool())
            .await
            .expect("SHOW");
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
        sqlx::query(&format!("DELETE FROM {}", h.table()))
            .execute(&h.admin)
            .await
            .expect("empty the table");
    }
    h.close().await;
}

#[tokio::test]
async fn a_table_name_that_is_not_a_plain_identifier_is_refused() {
    let pool = sqlx::PgPool::connect_lazy(&pg::url()).expect("a lazy pool");
    for bad in ["sessions; DROP TABLE x", "a.b.c", "\"quoted\"", "1st", ""] {
        let err = PostgresStore::builder()
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
    let err = PostgresStore::builder()
        .table("no such")
        .connect(&pg::url())
        .await
        .expect_err("refused before connecting");
    assert_eq!(err.kind(), StoreErrorKind::Config);
}

#[tokio::test]
async fn a_server_that_is_not_there_fails_to_connect_within_the_acquire_timeout() {
    let port = common::free_port();
    let err = PostgresStore::builder()
        .acquire_timeout(StdDuration::from_millis(300))
        .operation_timeout(StdDuration::from_millis(300))
        .connect(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .await
        .expect_err("nothing listens there");
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{err}: {:?}",
        err.kind()
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause is kept"
    );
}

#[tokio::test]
async fn a_session_with_no_fields_left_stays_live() {
    let Some(h) = Pg::open().await else { return };
    let key = key();
    h.store
        .create(&key, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("create");
    let emptied = ChangeSet::new(in_an_hour()).remove("a.x");
    assert_eq!(
        h.store.save(&key, &emptied).await.expect("save"),
        WriteOutcome::Applied
    );
    let record = h.store.load(&key).await.expect("load").expect("live");
    assert!(record.is_empty());
    h.close().await;
}

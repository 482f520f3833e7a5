//! [`MySqlStore`]: sessions in a MySQL 8 or MariaDB 10.6+ table.
//!
//! # Schema
//!
//! ```sql
//! CREATE TABLE sessions (
//!     id         BINARY(32) NOT NULL,   -- SHA-256 of the session ID
//!     fields     LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
//!                CHECK (JSON_VALID(fields)),  -- JSON, no 64 KiB cap
//!     expires_at DATETIME(6) NOT NULL,  -- in UTC, always
//!     PRIMARY KEY (id),
//!     KEY sessions_expires_at (expires_at)
//! ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
//! ```
//!
//! The expiry is a `DATETIME(6)` holding UTC, written from the instant the
//! app computed and compared with `UTC_TIMESTAMP(6)`: a `DATETIME` does not
//! move with the connection's `time_zone` (a `TIMESTAMP` would, and ends in
//! 2038), and `UTC_TIMESTAMP` does not depend on it, so a connection in any
//! time zone reads the same expiry and sweeps the same rows. `LONGTEXT` holds
//! up to 4 GiB (a `TEXT` would stop at 64 KiB).
//!
//! # Statements
//!
//! | operation | statement | statements |
//! | --- | --- | --- |
//! | load | `SELECT fields, expires_at ... WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)` | 1 |
//! | create | `INSERT ...`, refused by the primary key when the key is held | 1 (2 if an expired row holds the key: then an `UPDATE` that matches only an expired row) |
//! | save | `UPDATE ... SET fields = JSON_MERGE_PATCH(fields, ?patch, JSON_OBJECT(?name, <increment>)), expires_at = ? WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)` | 1 |
//! | touch | `UPDATE ... SET expires_at = ? WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)` | 1 |
//! | regenerate | the save's `UPDATE`, setting `id` to the new key too | 1 (2 more if an expired row holds the new key) |
//! | delete | `DELETE ... WHERE id = ?` | 1 |
//! | sweep | `DELETE ... WHERE expires_at <= UTC_TIMESTAMP(6) ORDER BY expires_at LIMIT ?` | 1 per batch |
//!
//! The patch is a JSON merge patch (RFC 7396) bound as one parameter: each
//! set field to its JSON text as a string, each removed field to `null`. An
//! increment reads the stored text through a JSON path the server builds
//! from the bound name (`CONCAT('$.', JSON_QUOTE(?))`, so a name holding
//! `.`, `"` or `\` is one key), checks it with a regular expression that
//! accepts exactly the integers of `i64` (with the white space of Rust's
//! `str::trim`), adds in `DECIMAL` and clamps to the bounds of `i64`.
//! (`NULLIF(.., '')` evens out `REGEXP_SUBSTR`, which answers `NULL` for no
//! match in MySQL and `''` in MariaDB.) The
//! connection must report matched rows, not changed ones (sqlx asks for
//! `CLIENT_FOUND_ROWS`), so that a save that changes nothing still counts
//! as applied.
//!
//! # Migrations
//!
//! [`MySqlStore::migrate`] takes a named lock (`GET_LOCK`) on a connection
//! of its own, runs the numbered steps the table lacks, records each in
//! `{table}_migrations`, and releases the lock. Several instances booting at
//! once wait for one another. MySQL commits DDL at once, so every step is
//! written to be safe to run again (`IF NOT EXISTS`) should an instance die
//! between a step and its record.
//!
//! # Failures
//!
//! As for every SQL store: each operation is bounded by the operation
//! timeout (default 2 s), waiting for a connection included, and a pool made
//! from a URL checks each connection before use.

use std::fmt::{self, Write as _};
use std::str::FromStr as _;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::mysql::{
    MySql, MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions,
};
use sqlx::{Connection as _, Row as _};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{
    corrupt_row, decode_fields, end_save, fields_document, is_unique_violation, key_of_row,
    merge_patch, pending, render, timed, user_json, Settings, Step, Sweeper, Table, Undecodable,
    WHITESPACE,
};
use crate::store::{
    ChangeSet, Record, SessionKey, SessionStore, StoreConfigError, StoreError, StoreErrorKind,
    SweepExpired, WriteOutcome,
};

mod builder;
mod statements;

pub use self::builder::MySqlStoreBuilder;
use self::statements::*;

/// Sorts MySQL's and MariaDB's own errors by their number.
fn database_kind(err: &dyn sqlx::error::DatabaseError) -> Option<StoreErrorKind> {
    let number = err
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?
        .number();
    Some(match number {
        // Deadlock; lock wait timeout.
        1213 | 1205 => StoreErrorKind::Conflict,
        // Too many connections; server shutdown; connection killed.
        1040 | 1053 | 1927 => StoreErrorKind::Unavailable,
        // Statement time limits (MySQL, MariaDB).
        3024 | 1969 => StoreErrorKind::Timeout,
        _ => return None,
    })
}

struct Inner {
    pool: MySqlPool,
    table: Table,
    sql: Statements,
    timeout: Duration,
    sweeper: Sweeper,
}

/// Sessions in a MySQL 8 or MariaDB 10.6+ table: for apps that already run
/// one (the role of express-mysql-session), shared by every instance.
///
/// - **One row per session**, keyed by the digest of its ID, its fields in a
///   JSON `LONGTEXT` column (no 64 KiB cap), its expiry a `DATETIME(6)` in
///   UTC (see the [module docs](self) for the schema and every statement).
/// - **Partial writes, in the database.** A save is one `UPDATE` that
///   applies a JSON merge patch and counter increments with MySQL's JSON
///   functions, and only while the session is live.
/// - **Migrations**: [`migrate`](Self::migrate) creates and upgrades the
///   table, safely when several instances boot at once.
/// - **Expiry**: expired rows never load, whatever the connection's time
///   zone; a background task deletes them in batches.
/// - **Bounded failures**: at most the operation timeout (default 2 s) per
///   operation, then a 503; the store recovers by itself.
///
/// ```no_run
/// use session_runtime::{Key, MySqlStore, SessionLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = MySqlStore::connect("mysql://app:secret@127.0.0.1/app").await?;
/// store.migrate().await?; // creates the `sessions` table if it is missing
/// let layer = SessionLayer::new(store, Key::generate());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
#[derive(Clone)]
pub struct MySqlStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for MySqlStore {
    // The pool's options hold the password: the debug form shows the table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlStore")
            .field("table", &self.inner.table.display())
            .field("operation_timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl MySqlStore {
    /// Opens a pool on `url` with the default settings: table `sessions`,
    /// at most 10 connections, an acquire timeout of 1 s, an operation
    /// timeout of 2 s, a sweep every 5 minutes. Call
    /// [`migrate`](Self::migrate) before serving.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::MySqlStore::connect("mysql://root@127.0.0.1/test").await?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url).await
    }

    /// A store on a pool the app already has, in the table `sessions`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::MySqlPool::connect("mysql://root@127.0.0.1/test").await?;
    /// let store = session_runtime::MySqlStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: MySqlPool) -> Self {
        let table = Table {
            schema: None,
            name: super::DEFAULT_TABLE.to_owned(),
        };
        Self::builder().finish(pool, table)
    }

    /// A builder, to choose the table, the sweep or the time limits.
    ///
    /// ```
    /// let builder = session_runtime::MySqlStore::builder().table("web_sessions");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> MySqlStoreBuilder {
        MySqlStoreBuilder {
            settings: Settings::default(),
        }
    }

    /// The pool the store uses.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::MySqlStore::connect("mysql://root@127.0.0.1/test").await?;
    /// assert!(!store.pool().is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool(&self) -> &MySqlPool {
        &self.inner.pool
    }

    /// The table, as configured: `sessions` or `database.sessions`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::MySqlStore::connect("mysql://root@127.0.0.1/test").await?;
    /// assert_eq!(store.table(), "sessions");
    /// # Ok(())
    /// # }
    /// ```
    pub fn table(&self) -> String {
        self.inner.table.display()
    }

    /// Creates the table, or brings it up to this version's schema, through
    /// numbered steps recorded in `{table}_migrations`; a step already
    /// recorded is not run again, so calling this on every start is cheap.
    ///
    /// Safe when several instances start at once: it holds a named lock
    /// (`GET_LOCK`, named after the table) while it works, on a connection
    /// of its own that is closed afterwards, so the lock never outlives it.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::MySqlStore::connect("mysql://root@127.0.0.1/test").await?;
    /// store.migrate().await?;
    /// store.migrate().await?; // nothing left to do
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let table = &self.inner.table;
        // A connection of its own: a named lock belongs to the connection,
        // and one put back in the pool would keep holding it.
        let mut conn = self
            .inner
            .pool
            .acquire()
            .await
            .map_err(fail("cannot start the migration"))?
            .detach();
        let take = format!("SELECT GET_LOCK({MIGRATION_LOCK}, 600)");
        let locked: Option<i64> = sqlx::query_scalar(&take)
            .bind(table.schema())
            .bind(table.name())
            .fetch_one(&mut conn)
            .await
            .map_err(fail("cannot take the migration lock"))?;
        if locked != Some(1) {
            let _ = conn.close().await;
            return Err(StoreError::msg(
                "another instance held the migration lock for 10 minutes; is a migration stuck?",
            )
            .with_kind(StoreErrorKind::Conflict));
        }
        let migrated = migrate_in(&mut conn, table).await;
        let release = format!("DO RELEASE_LOCK({MIGRATION_LOCK})");
        let released = sqlx::query(&release)
            .bind(table.schema())
            .bind(table.name())
            .execute(&mut conn)
            .await;
        // Closing the connection releases the lock whatever happened above.
        let _ = conn.close().await;
        migrated?;
        released.map_err(fail("cannot release the migration lock"))?;
        Ok(())
    }

    fn start_sweeper(&self) {
        self.inner
            .sweeper
            .start(&self.inner, |inner, batch| async move {
                MySqlStore { inner }.sweep_expired(batch).await
            });
    }

    async fn run_save(
        &self,
        key: &SessionKey,
        new_key: Option<&SessionKey>,
        changes: &ChangeSet,
    ) -> Result<Result<u64, sqlx::Error>, StoreError> {
        let (sql, args) = save_statement(&self.inner.sql.table, changes, new_key);
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Owned(text) => query.bind(text),
                Arg::Int(n) => query.bind(n),
                Arg::Key(bytes) => query.bind(bytes),
            };
        }
        if changes.moves_expiry() {
            query = query.bind(utc_datetime(changes.expires_at()));
        }
        let query = query.bind(&key.as_bytes()[..]);
        match tokio::time::timeout(self.inner.timeout, query.execute(&self.inner.pool)).await {
            Ok(result) => Ok(result.map(|done| done.rows_affected())),
            Err(elapsed) => Err(StoreError::timeout(
                "MySQL did not answer the save within the operation timeout",
                elapsed,
            )),
        }
    }

    async fn execute(
        &self,
        context: &'static str,
        query: sqlx::query::Query<'_, MySql, MySqlArguments>,
    ) -> Result<u64, StoreError> {
        timed(self.inner.timeout, context, database_kind, async {
            query
                .execute(&self.inner.pool)
                .await
                .map(|r| r.rows_affected())
        })
        .await
    }
}

/// The name of the migration lock of a table, from `?` (its database, or
/// the connection's) and `?` (its name); `GET_LOCK` names are at most 64
/// characters, so the name is a digest.
const MIGRATION_LOCK: &str =
    "CONCAT('session_kit:', SHA1(CONCAT(COALESCE(?, DATABASE()), '.', ?)))";

/// The steps `table` lacks, run on `conn`, which holds the migration lock.
async fn migrate_in(conn: &mut MySqlConnection, table: &Table) -> Result<(), StoreError> {
    let versions = render(
        "CREATE TABLE IF NOT EXISTS {versions} (\
         version BIGINT NOT NULL PRIMARY KEY, \
         applied_at DATETIME(6) NOT NULL) ENGINE = InnoDB",
        table,
        QUOTE,
    );
    sqlx::query(&versions)
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(fail("cannot create the migrations table"))?;
    let read = render(
        "SELECT CAST(MAX(version) AS SIGNED) FROM {versions}",
        table,
        QUOTE,
    );
    let current: Option<i64> = sqlx::query_scalar(&read)
        .fetch_one(&mut *conn)
        .await
        .map_err(fail("cannot read the schema version"))?;
    let record = render(
        "INSERT INTO {versions} (version, applied_at) VALUES (?, UTC_TIMESTAMP(6))",
        table,
        QUOTE,
    );
    for step in pending(&STEPS, current.unwrap_or(0)) {
        for statement in step.statements {
            let statement = render(statement, table, QUOTE);
            sqlx::query(&statement)
                .persistent(false)
                .execute(&mut *conn)
                .await
                .map_err(fail("a migration step failed"))?;
        }
        sqlx::query(&record)
            .bind(step.version)
            .execute(&mut *conn)
            .await
            .map_err(fail("cannot record a migration step"))?;
        tracing::info!(table = %table.display(), version = step.version, "session table migrated");
    }
    Ok(())
}

/// Makes a driver error a [`StoreError`] that says what failed.
fn fail(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |err| super::store_error(context, err, database_kind)
}

fn outcome(rows: u64) -> WriteOutcome {
    if rows == 0 {
        WriteOutcome::NotLive
    } else {
        WriteOutcome::Applied
    }
}

impl SessionStore for MySqlStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        let query = sqlx::query(&self.inner.sql.load).bind(&key.as_bytes()[..]);
        let row = timed(
            self.inner.timeout,
            "cannot load the session from MySQL",
            database_kind,
            query.fetch_optional(&self.inner.pool),
        )
        .await?;
        let Some(row) = row else { return Ok(None) };
        let decoded = (|| -> Result<Record, Undecodable> {
            // As bytes: a `_bin` collation makes the driver see a `BLOB`.
            let bytes = row.try_get::<Vec<u8>, _>(0)?;
            let text = String::from_utf8(bytes).map_err(|_| Undecodable::NotUtf8)?;
            let fields = decode_fields(&text)?;
            let expires_at = row.try_get::<PrimitiveDateTime, _>(1)?;
            Ok(Record::new(fields, expires_at.assume_utc()))
        })();
        match decoded {
            Ok(record) => Ok(Some(record)),
            Err(err) => {
                corrupt_row(key, &self.inner.table, &err);
                Ok(None)
            }
        }
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.start_sweeper();
        let fields = changes.initial_fields();
        let document = fields_document(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let expires_at = utc_datetime(changes.expires_at());
        let insert = sqlx::query(&self.inner.sql.insert)
            .bind(&key.as_bytes()[..])
            .bind(document.as_str())
            .bind(expires_at);
        let inserted = tokio::time::timeout(self.inner.timeout, insert.execute(&self.inner.pool))
            .await
            .map_err(|elapsed| {
                StoreError::timeout(
                    "MySQL did not answer the create within the operation timeout",
                    elapsed,
                )
            })?;
        match inserted {
            Ok(_) => Ok(WriteOutcome::Applied),
            // The key is held. Only an expired row may be replaced, and the
            // `UPDATE` says whether it was one.
            Err(err) if is_unique_violation(&err) => {
                let replace = sqlx::query(&self.inner.sql.replace_expired)
                    .bind(document.as_str())
                    .bind(expires_at)
                    .bind(&key.as_bytes()[..]);
                let rows = self
                    .execute("cannot create the session in MySQL", replace)
                    .await?;
                Ok(if rows == 0 {
                    WriteOutcome::KeyTaken
                } else {
                    WriteOutcome::Applied
                })
            }
            Err(err) => Err(super::store_error(
                "cannot create the session in MySQL",
                err,
                database_kind,
            )),
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let rows = self.run_save(key, None, changes).await?.map_err(|err| {
            super::store_error("cannot save the session to MySQL", err, database_kind)
        })?;
        Ok(outcome(rows))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let query = sqlx::query(&self.inner.sql.touch)
            .bind(utc_datetime(expires_at))
            .bind(&key.as_bytes()[..]);
        let rows = self
            .execute("cannot extend the session in MySQL", query)
            .await?;
        Ok(outcome(rows))
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        // One `UPDATE` moves the row to its new key with the changes
        // applied: one statement, one transaction. A row already under the
        // new key refuses it (the primary key); if that row has expired it
        // may go, and the move is tried once more.
        for attempt in 0..2 {
            match self.run_save(old, Some(new), changes).await? {
                Ok(rows) => return Ok(outcome(rows)),
                Err(err) if is_unique_violation(&err) && attempt == 0 => {
                    let query = sqlx::query(&self.inner.sql.free).bind(&new.as_bytes()[..]);
                    let freed = self
                        .execute("cannot free the new session key in MySQL", query)
                        .await?;
                    if freed == 0 {
                        return Ok(WriteOutcome::KeyTaken);
                    }
                }
                Err(err) if is_unique_violation(&err) => return Ok(WriteOutcome::KeyTaken),
                Err(err) => {
                    return Err(super::store_error(
                        "cannot regenerate the session in MySQL",
                        err,
                        database_kind,
                    ))
                }
            }
        }
        Ok(WriteOutcome::KeyTaken)
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        let query = sqlx::query(&self.inner.sql.user_sessions).bind(user_json(user));
        let rows = timed(
            self.inner.timeout,
            "cannot list the user's sessions in MySQL",
            database_kind,
            query.fetch_all(&self.inner.pool),
        )
        .await?;
        let mut live = Vec::with_capacity(rows.len());
        for row in rows {
            let Ok(id) = row.try_get::<Vec<u8>, _>(0) else {
                continue;
            };
            let Some(key) = key_of_row(&id) else { continue };
            let decoded = (|| -> Result<Record, Undecodable> {
                // As bytes: a `_bin` collation makes the driver see a `BLOB`.
                let bytes = row.try_get::<Vec<u8>, _>(1)?;
                let text = String::from_utf8(bytes).map_err(|_| Undecodable::NotUtf8)?;
                let fields = decode_fields(&text)?;
                let expires_at = row.try_get::<PrimitiveDateTime, _>(2)?;
                Ok(Record::new(fields, expires_at.assume_utc()))
            })();
            match decoded {
                Ok(record) => live.push((key, record)),
                Err(err) => corrupt_row(&key, &self.inner.table, &err),
            }
        }
        Ok(live)
    }

    async fn delete_user_sessions(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let keep = keep.map(|k| k.as_bytes().to_vec());
        let query = sqlx::query(&self.inner.sql.delete_user)
            .bind(user_json(user))
            .bind(keep.clone())
            .bind(keep);
        self.execute("cannot end the user's sessions in MySQL", query)
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let query = sqlx::query(&self.inner.sql.delete).bind(&key.as_bytes()[..]);
        self.execute("cannot delete the session from MySQL", query)
            .await?;
        Ok(())
    }
}

impl SweepExpired for MySqlStore {
    async fn sweep_expired(&self, batch: u64) -> Result<u64, StoreError> {
        let query = sqlx::query(&self.inner.sql.sweep).bind(batch);
        self.execute("cannot sweep expired sessions in MySQL", query)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_can_run_on_any_task() {
        fn send<T: Send>(_: &T) {}
        fn check(store: &MySqlStore) {
            send(&store.migrate());
        }
        let _ = check;
    }

    #[test]
    fn released_migration_steps_are_never_edited() {
        // A step's text is part of every database it ever ran on. To change
        // the schema, add a step; never edit one (this test pins them).
        let pinned = [
            "b4f26383919df553704d0387c67b61504c1714f233cc989851808e13004399a4",
            // Step 2: the per-user index.
            "b14e62c28547dd6e032f1366a98b8c81be37e26d7e770a840fe4eefeccac8775",
        ];
        let actual: Vec<String> = STEPS.iter().map(super::super::step_digest).collect();
        assert_eq!(actual, pinned);
    }

    #[test]
    fn the_pattern_of_a_limit_takes_the_shorter_numbers_then_digit_by_digit() {
        assert_eq!(at_most("307"), "[0-9]{1,2}|[0-2][0-9]{2}|30[0-6]|307");
        assert!(INTEGER.starts_with("^[\t\n"), "white space as characters");
        assert!(INTEGER.contains("|-0*(?:[0-9]{1,18}|[0-8][0-9]{18}|"));
        assert!(INTEGER.contains("|9223372036854775807)|"));
        assert!(INTEGER.contains("|9223372036854775808)"));
        assert!(!INTEGER.contains('\\') && !INTEGER.contains('\''));
    }

    #[test]
    fn a_datetime_is_the_utc_time_and_stays_in_range() {
        let at = OffsetDateTime::from_unix_timestamp(2_208_988_800).unwrap(); // 2040-01-01
        let local = at.to_offset(time::UtcOffset::from_hms(14, 0, 0).unwrap());
        assert_eq!(utc_datetime(local).assume_utc(), at);
        let last = OffsetDateTime::from_unix_timestamp(DATETIME_RANGE.1).unwrap();
        assert_eq!(utc_datetime(last).year(), 9999);
        let early = OffsetDateTime::from_unix_timestamp(-40_000_000_000).unwrap();
        assert_eq!(utc_datetime(early).year(), 1000);
    }

    #[test]
    fn a_save_names_only_what_changed() {
        let table = Table::parse("sessions", true).unwrap().quoted(QUOTE);
        let expiry = OffsetDateTime::UNIX_EPOCH;
        let empty = ChangeSet::new(expiry);
        let (sql, args) = save_statement(&table, &empty, None);
        assert_eq!(
            sql,
            "UPDATE `sessions` SET expires_at = ? WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)"
        );
        assert!(args.is_empty());
        let all = ChangeSet::new(expiry)
            .set("a.x", "1")
            .remove("a.y")
            .increment("a.n", 1, 0);
        let (sql, args) = save_statement(&table, &all, None);
        assert!(
            sql.starts_with(
                "UPDATE `sessions` SET fields = JSON_MERGE_PATCH(fields, ?, JSON_OBJECT(?, "
            ),
            "{sql}"
        );
        assert_eq!(args.len(), 5);
        assert!(
            !sql.contains("a.x") && !sql.contains("a.n"),
            "names are bound, never spliced"
        );
        assert!(
            !sql.contains('\\'),
            "no backslash for NO_BACKSLASH_ESCAPES to change"
        );
        let kept = ChangeSet::new(expiry).set("a.x", "1").keeping_expiry();
        let (sql, args) = save_statement(&table, &kept, None);
        assert_eq!(
            sql,
            "UPDATE `sessions` SET fields = JSON_MERGE_PATCH(fields, ?) WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)"
        );
        assert_eq!(args.len(), 1);
    }
}

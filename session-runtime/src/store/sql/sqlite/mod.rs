//! [`SqliteStore`]: sessions in an SQLite file, for one machine with no
//! database server.
//!
//! # Schema
//!
//! ```sql
//! CREATE TABLE sessions (
//!     id         BLOB NOT NULL PRIMARY KEY, -- SHA-256 of the session ID
//!     fields     TEXT NOT NULL,             -- JSON: {"name": "<json text>", ...}
//!     expires_at INTEGER NOT NULL           -- Unix time in milliseconds, UTC
//! ) STRICT;
//! CREATE INDEX sessions_expires_at ON sessions (expires_at);
//! ```
//!
//! SQLite has no time type: the expiry is an integer of Unix milliseconds,
//! which has no time zone to misread and lasts far past 2038. `STRICT`
//! keeps it an integer. "Now" is this process's clock, bound to each
//! statement: SQLite runs in the app's own process, so there is no other
//! clock to agree with.
//!
//! # Statements
//!
//! | operation | statement | statements |
//! | --- | --- | --- |
//! | load | `SELECT fields, expires_at ... WHERE id = ?1 AND expires_at > ?now` | 1 |
//! | create | `INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE <the old row has expired>` | 1 |
//! | save | `UPDATE ... SET fields = json_patch(json_patch(fields, ?patch), json_object(?name, <increment>)), expires_at = ?2 WHERE id = ?1 AND expires_at > ?now` | 1 |
//! | touch | `UPDATE ... SET expires_at = ?2 WHERE id = ?1 AND expires_at > ?now` | 1 |
//! | regenerate | the save's `UPDATE`, setting `id` to the new key too | 1 (2 more if an expired row holds the new key) |
//! | delete | `DELETE ... WHERE id = ?1` | 1 |
//! | sweep | `DELETE ... WHERE rowid IN (SELECT rowid ... WHERE expires_at <= ?1 LIMIT ?2)` | 1 per batch |
//!
//! A save that keeps the expiry (the layer's writes before `extend_after`
//! of the window has passed:
//! [`ChangeSet::moves_expiry`](crate::store::ChangeSet::moves_expiry))
//! leaves `expires_at` out of its `SET`. SQLite rewrites an index whenever
//! its column is assigned, even to the value it holds, so this keeps a busy
//! session's writes off the expiry index's page: about half the bytes
//! written to the WAL per save.
//!
//! The patch is a JSON merge patch bound as one parameter. An increment
//! reads the stored value with `json_extract` at a JSON path bound as a
//! parameter (`$."name"`, never spliced into the statement; a name no
//! quoted path can hold, one with a `"`, a `\` or a control character,
//! is found with `json_each`, compared as a bound value), trims the white
//! space of Rust's `str::trim`, checks sign and digits and the bounds of
//! `i64` on the text, and adds with explicit saturation (SQLite turns an
//! overflowing sum into a float otherwise).
//!
//! # Done right
//!
//! A store made from a URL ([`SqliteStore::connect`]) opens the file in WAL
//! mode (readers never wait for the writer), creates it if it is missing,
//! and waits up to the operation timeout for the write lock instead of
//! failing with "database is locked". Every write is a single statement,
//! which takes the write lock when it starts: there is no transaction that
//! reads first and then tries to upgrade to a write, the cause of "database
//! is locked" errors that no busy timeout helps with.
//! [`SqliteStore::migrate`] runs in a `BEGIN IMMEDIATE` transaction, which
//! takes the write lock before it reads anything.

use std::fmt::{self, Write as _};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row as _;
use time::OffsetDateTime;

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

pub use self::builder::SqliteStoreBuilder;
use self::statements::*;

/// Sorts SQLite's own errors by their (extended) result code.
fn database_kind(err: &dyn sqlx::error::DatabaseError) -> Option<StoreErrorKind> {
    let code: i64 = err.code()?.parse().ok()?;
    Some(match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED: another writer held on past the busy
        // timeout.
        5 | 6 => StoreErrorKind::Conflict,
        // SQLITE_CORRUPT, SQLITE_NOTADB.
        11 | 26 => StoreErrorKind::Corrupt,
        // SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_READONLY.
        10 | 13 | 14 | 8 => StoreErrorKind::Unavailable,
        _ => return None,
    })
}

struct Inner {
    pool: SqlitePool,
    table: Table,
    sql: Statements,
    timeout: Duration,
    sweeper: Sweeper,
}

/// Sessions in an SQLite file: persistent sessions on one machine with no
/// database server (the role of session-file-store, without a file per
/// session).
///
/// - **One row per session** in one file, keyed by the digest of its ID,
///   its expiry in Unix milliseconds (see the [module docs](self)).
/// - **Partial writes, in the database**, with SQLite's JSON functions, and
///   only while the session is live.
/// - **Done right**: WAL mode, a busy timeout, single-statement writes and
///   `BEGIN IMMEDIATE` migrations, so concurrent requests wait their turn
///   instead of failing with "database is locked"; the file is created if
///   missing, and sessions survive a restart.
///
/// ```no_run
/// use session_runtime::{Key, SessionLayer, SqliteStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::connect("sqlite://sessions.db").await?; // created if missing
/// store.migrate().await?;
/// let key = Key::derive_from(std::env::var("SESSION_SECRET")?.as_bytes())?; // the same on every start
/// let layer = SessionLayer::new(store, key);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.inner.table.display())
            .field("operation_timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens `url` (`sqlite://PATH`) with the default settings: table
    /// `sessions`, WAL mode, the file created if missing, a busy and an
    /// operation timeout of 2 s, a sweep every 5 minutes. Call
    /// [`migrate`](Self::migrate) before serving.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::SqliteStore::connect("sqlite://sessions.db").await?;
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
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db").await?;
    /// let store = session_runtime::SqliteStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: SqlitePool) -> Self {
        let table = Table {
            schema: None,
            name: super::DEFAULT_TABLE.to_owned(),
        };
        Self::builder().finish(pool, table)
    }

    /// A builder, to choose the table, the sweep or the time limits.
    ///
    /// ```
    /// let builder = session_runtime::SqliteStore::builder().table("web_sessions");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            settings: Settings::default(),
        }
    }

    /// The pool the store uses.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::SqliteStore::connect("sqlite://sessions.db").await?;
    /// assert!(!store.pool().is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// The table's name.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::SqliteStore::connect("sqlite://sessions.db").await?;
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
    /// It runs in one `BEGIN IMMEDIATE` transaction, which takes the write
    /// lock before reading the version: several processes migrating one
    /// file at once wait for one another, and a step applies whole or not
    /// at all. Warns when the database is not in WAL mode.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::SqliteStore::connect("sqlite://sessions.db").await?;
    /// store.migrate().await?;
    /// store.migrate().await?; // nothing left to do
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.inner.pool)
            .await
            .map_err(fail("cannot read the journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                journal_mode = %mode,
                "the SQLite session database is not in WAL mode: readers will wait for writers; \
                 open it with `SqliteStore::connect` or set `journal_mode(Wal)` on the pool"
            );
        }
        let mut tx = self
            .inner
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(fail("cannot start the migration"))?;
        migrate_in(&mut tx, &self.inner.table).await?;
        tx.commit()
            .await
            .map_err(fail("cannot commit the migration"))?;
        Ok(())
    }

    fn start_sweeper(&self) {
        self.inner
            .sweeper
            .start(&self.inner, |inner, batch| async move {
                SqliteStore { inner }.sweep_expired(batch).await
            });
    }

    async fn run_save(
        &self,
        key: &SessionKey,
        new_key: Option<&SessionKey>,
        changes: &ChangeSet,
    ) -> Result<Result<u64, sqlx::Error>, StoreError> {
        let (sql, args) = save_statement(&self.inner.sql.table, changes, new_key);
        let mut query = sqlx::query(&sql).bind(&key.as_bytes()[..]);
        if changes.moves_expiry() {
            query = query.bind(millis(changes.expires_at()));
        }
        query = query.bind(millis(OffsetDateTime::now_utc()));
        for arg in args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Owned(text) => query.bind(text),
                Arg::Int(n) => query.bind(n),
                Arg::Key(bytes) => query.bind(bytes),
            };
        }
        match tokio::time::timeout(self.inner.timeout, query.execute(&self.inner.pool)).await {
            Ok(result) => Ok(result.map(|done| done.rows_affected())),
            Err(elapsed) => Err(StoreError::timeout(
                "SQLite did not finish the save within the operation timeout",
                elapsed,
            )),
        }
    }

    async fn execute<'q>(
        &self,
        context: &'static str,
        query: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
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

/// The steps `table` lacks, run on `conn` inside the migration's
/// `BEGIN IMMEDIATE` transaction.
async fn migrate_in(conn: &mut SqliteConnection, table: &Table) -> Result<(), StoreError> {
    let versions = render(
        "CREATE TABLE IF NOT EXISTS {versions} (\
         version INTEGER NOT NULL PRIMARY KEY, \
         applied_at INTEGER NOT NULL) STRICT",
        table,
        QUOTE,
    );
    sqlx::query(&versions)
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(fail("cannot create the migrations table"))?;
    let read = render("SELECT max(version) FROM {versions}", table, QUOTE);
    let current: Option<i64> = sqlx::query_scalar(&read)
        .fetch_one(&mut *conn)
        .await
        .map_err(fail("cannot read the schema version"))?;
    let record = render(
        "INSERT INTO {versions} (version, applied_at) VALUES (?1, ?2)",
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
            .bind(millis(OffsetDateTime::now_utc()))
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

impl SessionStore for SqliteStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        let query = sqlx::query(&self.inner.sql.load)
            .bind(&key.as_bytes()[..])
            .bind(millis(OffsetDateTime::now_utc()));
        let row = timed(
            self.inner.timeout,
            "cannot load the session from SQLite",
            database_kind,
            query.fetch_optional(&self.inner.pool),
        )
        .await?;
        let Some(row) = row else { return Ok(None) };
        let decoded = (|| -> Result<Record, Undecodable> {
            let fields = decode_fields(&row.try_get::<String, _>(0)?)?;
            let ms = row.try_get::<i64, _>(1)?;
            let expires_at = from_millis(ms).ok_or(Undecodable::Expiry)?;
            Ok(Record::new(fields, expires_at))
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
        let query = sqlx::query(&self.inner.sql.create)
            .bind(&key.as_bytes()[..])
            .bind(document)
            .bind(millis(changes.expires_at()))
            .bind(millis(OffsetDateTime::now_utc()));
        let rows = self
            .execute("cannot create the session in SQLite", query)
            .await?;
        Ok(if rows == 0 {
            WriteOutcome::KeyTaken
        } else {
            WriteOutcome::Applied
        })
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let rows = self.run_save(key, None, changes).await?.map_err(|err| {
            super::store_error("cannot save the session to SQLite", err, database_kind)
        })?;
        Ok(outcome(rows))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let query = sqlx::query(&self.inner.sql.touch)
            .bind(&key.as_bytes()[..])
            .bind(millis(expires_at))
            .bind(millis(OffsetDateTime::now_utc()));
        let rows = self
            .execute("cannot extend the session in SQLite", query)
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
                    let query = sqlx::query(&self.inner.sql.free)
                        .bind(&new.as_bytes()[..])
                        .bind(millis(OffsetDateTime::now_utc()));
                    let freed = self
                        .execute("cannot free the new session key in SQLite", query)
                        .await?;
                    if freed == 0 {
                        return Ok(WriteOutcome::KeyTaken);
                    }
                }
                Err(err) if is_unique_violation(&err) => return Ok(WriteOutcome::KeyTaken),
                Err(err) => {
                    return Err(super::store_error(
                        "cannot regenerate the session in SQLite",
                        err,
                        database_kind,
                    ))
                }
            }
        }
        Ok(WriteOutcome::KeyTaken)
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        let query = sqlx::query(&self.inner.sql.user_sessions)
            .bind(user_json(user))
            .bind(millis(OffsetDateTime::now_utc()));
        let rows = timed(
            self.inner.timeout,
            "cannot list the user's sessions in SQLite",
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
                let fields = decode_fields(&row.try_get::<String, _>(1)?)?;
                let ms = row.try_get::<i64, _>(2)?;
                let expires_at = from_millis(ms).ok_or(Undecodable::Expiry)?;
                Ok(Record::new(fields, expires_at))
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
        let query = sqlx::query(&self.inner.sql.delete_user)
            .bind(user_json(user))
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(keep.map(|k| k.as_bytes().to_vec()));
        self.execute("cannot end the user's sessions in SQLite", query)
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let query = sqlx::query(&self.inner.sql.delete).bind(&key.as_bytes()[..]);
        self.execute("cannot delete the session from SQLite", query)
            .await?;
        Ok(())
    }
}

impl SweepExpired for SqliteStore {
    async fn sweep_expired(&self, batch: u64) -> Result<u64, StoreError> {
        let query = sqlx::query(&self.inner.sql.sweep)
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(i64::try_from(batch).unwrap_or(i64::MAX));
        self.execute("cannot sweep expired sessions in SQLite", query)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_can_run_on_any_task() {
        fn send<T: Send>(_: &T) {}
        fn check(store: &SqliteStore) {
            send(&store.migrate());
        }
        let _ = check;
    }

    #[test]
    fn released_migration_steps_are_never_edited() {
        // A step's text is part of every database it ever ran on. To change
        // the schema, add a step; never edit one (this test pins them).
        let pinned = [
            "735fed093ae215e78ee64c249eaced04a345a550139a73e98a16f9f39932356b",
            // Step 2: the per-user index.
            "ad311cff170cd440f90ba8e695d0d09beeac627dfab42e6150e17b39a7da463d",
            // Step 3: the per-user index holds bound sessions only.
            "53c7c6a9f47f0a3ce2c8b9f10df488724c6a709583db1aaa8513083ae8ae082e",
        ];
        let actual: Vec<String> = STEPS.iter().map(super::super::step_digest).collect();
        assert_eq!(actual, pinned);
    }

    #[test]
    fn expiry_is_unix_milliseconds_past_2038() {
        let at = OffsetDateTime::from_unix_timestamp(4_102_444_800).unwrap(); // 2100-01-01
        assert_eq!(millis(at), 4_102_444_800_000);
        assert_eq!(from_millis(millis(at)), Some(at));
        assert_eq!(
            from_millis(i64::MAX),
            None,
            "out of range is refused, not a panic"
        );
    }

    #[test]
    fn a_json_path_is_given_only_to_names_it_reads_back_exactly() {
        assert_eq!(json_path("a.n").as_deref(), Some("$.\"a.n\""));
        assert_eq!(json_path("a-b.c d").as_deref(), Some("$.\"a-b.c d\""));
        assert_eq!(
            json_path("ns.caf\u{e9}").as_deref(),
            Some("$.\"ns.caf\u{e9}\"")
        );
        for name in ["a.\"n", "a.\\n", "a.\u{1}", "a.\n"] {
            assert_eq!(json_path(name), None, "{name:?}");
        }
    }

    #[test]
    fn a_save_names_only_what_changed() {
        let table = Table::parse("sessions", false).unwrap().quoted(QUOTE);
        let expiry = OffsetDateTime::UNIX_EPOCH;
        let empty = ChangeSet::new(expiry);
        let (sql, args) = save_statement(&table, &empty, None);
        assert_eq!(
            sql,
            "UPDATE \"sessions\" SET expires_at = ?2 WHERE id = ?1 AND expires_at > ?3"
        );
        assert!(args.is_empty());
        let all = ChangeSet::new(expiry)
            .set("a.x", "1")
            .remove("a.y")
            .increment("a.n", 1, 0);
        let (sql, args) = save_statement(&table, &all, None);
        assert!(sql.starts_with("UPDATE \"sessions\" SET fields = json_patch(json_patch(fields, ?4), json_object(?5, "), "{sql}");
        assert_eq!(args.len(), 5);
        assert!(
            matches!(&args[4], Arg::Owned(path) if path == "$.\"a.n\""),
            "the counter's path is bound"
        );
        assert!(
            sql.contains("json_extract(\"sessions\".fields, ?8)"),
            "{sql}"
        );
        assert!(
            !sql.contains("a.x") && !sql.contains("a.n"),
            "names are bound, never spliced"
        );
        // A name no quoted path can hold is found by comparing keys.
        let quoted = ChangeSet::new(expiry).increment("a.\"n\"", 1, 0);
        let (sql, args) = save_statement(&table, &quoted, None);
        assert_eq!(args.len(), 3);
        assert!(sql.contains("json_each(\"sessions\".fields)"), "{sql}");
        let kept = ChangeSet::new(expiry).set("a.x", "1").keeping_expiry();
        let (sql, args) = save_statement(&table, &kept, None);
        assert_eq!(
            sql,
            "UPDATE \"sessions\" SET fields = json_patch(fields, ?3) WHERE id = ?1 AND expires_at > ?2"
        );
        assert_eq!(args.len(), 1);
    }
}

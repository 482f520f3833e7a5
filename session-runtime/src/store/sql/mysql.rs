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
    corrupt_row, decode_fields, fields_document, is_unique_violation, merge_patch, pending, render,
    timed, Settings, Step, Sweeper, Table, Undecodable, WHITESPACE,
};
use crate::store::{
    ChangeSet, Record, SessionKey, SessionStore, StoreConfigError, StoreError, StoreErrorKind,
    SweepExpired, WriteOutcome,
};

const QUOTE: char = '`';

/// The schema, one numbered step at a time. Never edit a step: add one.
static STEPS: [Step; 1] = [Step {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS {table} (\
         id BINARY(32) NOT NULL, \
         fields LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL CHECK (JSON_VALID(fields)), \
         expires_at DATETIME(6) NOT NULL, \
         PRIMARY KEY (id), \
         KEY {expires_index} (expires_at)) \
         ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
}];

/// A regular expression matching the decimal digits of the numbers from 0
/// to `limit` (leading zeros are matched apart): the shorter numbers, then
/// those as long as `limit` that are smaller at some digit, then `limit`.
fn at_most(limit: &str) -> String {
    let digits = limit.as_bytes();
    let n = digits.len();
    let mut alternatives = vec![format!("[0-9]{{1,{}}}", n - 1)];
    for (i, &d) in digits.iter().enumerate() {
        if d > b'0' {
            let mut alt = limit[..i].to_owned();
            let _ = write!(alt, "[0-{}]", char::from(d - 1));
            let rest = n - 1 - i;
            if rest > 0 {
                let _ = write!(alt, "[0-9]{{{rest}}}");
            }
            alternatives.push(alt);
        }
    }
    alternatives.push(limit.to_owned());
    alternatives.join("|")
}

/// The text `str::trim` then `str::parse::<i64>` accept: white space, an
/// optional sign, digits within the bounds of `i64`, white space. The white
/// space is written as the characters themselves and the pattern holds no
/// backslash, so neither `NO_BACKSLASH_ESCAPES` nor its absence changes it.
static INTEGER: LazyLock<String> = LazyLock::new(|| {
    let ws: String = std::iter::once('[')
        .chain(WHITESPACE.iter().copied())
        .chain(std::iter::once(']'))
        .collect();
    format!(
        "^{ws}*(?:[+]?0*(?:{})|-0*(?:{})){ws}*$",
        at_most("9223372036854775807"),
        at_most("9223372036854775808")
    )
});

/// The statements that do not depend on a change set, made once.
#[derive(Debug)]
struct Statements {
    table: String,
    load: String,
    insert: String,
    replace_expired: String,
    touch: String,
    delete: String,
    free: String,
    sweep: String,
}

impl Statements {
    fn new(table: &Table) -> Self {
        let t = table.quoted(QUOTE);
        Self {
            load: format!(
                "SELECT fields, expires_at FROM {t} WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)"
            ),
            insert: format!("INSERT INTO {t} (id, fields, expires_at) VALUES (?, ?, ?)"),
            replace_expired: format!(
                "UPDATE {t} SET fields = ?, expires_at = ? \
                 WHERE id = ? AND expires_at <= UTC_TIMESTAMP(6)"
            ),
            touch: format!(
                "UPDATE {t} SET expires_at = ? WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)"
            ),
            delete: format!("DELETE FROM {t} WHERE id = ?"),
            free: format!("DELETE FROM {t} WHERE id = ? AND expires_at <= UTC_TIMESTAMP(6)"),
            sweep: format!(
                "DELETE FROM {t} WHERE expires_at <= UTC_TIMESTAMP(6) ORDER BY expires_at LIMIT ?"
            ),
            table: t,
        }
    }
}

/// A bound parameter of a save, in the order of the statement's `?`s.
enum Arg<'a> {
    Text(&'a str),
    Owned(String),
    Int(i64),
    Key(&'a [u8]),
}

/// The save's `UPDATE` and its parameters before the last two (the expiry
/// and the key). With `new_key`, it also moves the row to that key.
fn save_statement<'a>(
    table: &str,
    changes: &'a ChangeSet,
    new_key: Option<&'a SessionKey>,
) -> (String, Vec<Arg<'a>>) {
    let mut sql = format!("UPDATE {table} SET ");
    let mut args = Vec::new();
    if let Some(new) = new_key {
        args.push(Arg::Key(new.as_bytes()));
        sql.push_str("id = ?, ");
    }
    if !changes.is_empty() {
        sql.push_str("fields = JSON_MERGE_PATCH(fields");
        if let Some(patch) = merge_patch(changes) {
            args.push(Arg::Owned(patch));
            sql.push_str(", ?");
        }
        if changes.increments().len() > 0 {
            sql.push_str(", JSON_OBJECT(");
            for (i, inc) in changes.increments().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                args.push(Arg::Text(&inc.key));
                args.push(Arg::Text(&inc.key));
                args.push(Arg::Int(inc.initial));
                args.push(Arg::Int(inc.delta));
                let _ = write!(
                    sql,
                    "?, CAST(LEAST(GREATEST(COALESCE(CAST(REGEXP_SUBSTR(NULLIF(REGEXP_SUBSTR(\
                     JSON_UNQUOTE(JSON_EXTRACT(fields, CONCAT('$.', JSON_QUOTE(?)))), '{}'), ''), \
                     '[+-]?[0-9]+') AS DECIMAL(65,0)), CAST(? AS DECIMAL(65,0))) \
                     + CAST(? AS DECIMAL(65,0)), -9223372036854775808), 9223372036854775807) AS CHAR)",
                    *INTEGER
                );
            }
            sql.push(')');
        }
        sql.push_str("), ");
    }
    sql.push_str("expires_at = ? WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)");
    (sql, args)
}

/// The earliest and latest instants a `DATETIME(6)` holds, in Unix seconds:
/// 1000-01-01 and 9999-12-31 23:59:59.
const DATETIME_RANGE: (i64, i64) = (-30_610_224_000, 253_402_300_799);

/// An instant as the `DATETIME(6)` of its UTC time, to the microsecond,
/// clamped to what the column holds.
fn utc_datetime(at: OffsetDateTime) -> PrimitiveDateTime {
    let seconds = at
        .unix_timestamp()
        .clamp(DATETIME_RANGE.0, DATETIME_RANGE.1);
    let micros = if seconds == at.unix_timestamp() {
        at.microsecond()
    } else if seconds == DATETIME_RANGE.1 {
        999_999
    } else {
        0
    };
    let utc = OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .replace_microsecond(micros)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

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

/// How a [`MySqlStore`] is made: the table, the sweep and the time limits.
/// Made by [`MySqlStore::builder`]; finished by [`connect`](Self::connect)
/// (a URL) or [`build`](Self::build) (a pool).
///
/// ```no_run
/// use std::time::Duration;
/// use session_runtime::MySqlStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = MySqlStore::builder()
///     .table("web_sessions")
///     .sweep_every(Duration::from_secs(60))
///     .connect("mariadb://app:secret@127.0.0.1/app")
///     .await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `connect` or `build` is called"]
pub struct MySqlStoreBuilder {
    settings: Settings,
}

impl MySqlStoreBuilder {
    /// The table (default `sessions`), optionally qualified by a database
    /// (`app.sessions`): letters, digits and `_`, not starting with a digit,
    /// at most 63 characters each. Anything else is refused with
    /// [`StoreConfigError::InvalidTableName`] when the store is made.
    ///
    /// ```
    /// let builder = session_runtime::MySqlStore::builder().table("web_sessions");
    /// # let _ = builder;
    /// ```
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.settings.table = table.into();
        self
    }

    /// How often the background task deletes expired rows (default every
    /// 5 minutes, give or take a fifth). It starts with the first session
    /// created and stops when the store is dropped.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::MySqlStore::builder().sweep_every(Duration::from_secs(60));
    /// # let _ = builder;
    /// ```
    pub fn sweep_every(mut self, every: Duration) -> Self {
        self.settings.sweep_every = Some(every.max(Duration::from_millis(10)));
        self
    }

    /// No background sweep: expired rows stay until
    /// [`sweep_expired`](SweepExpired::sweep_expired) is called (they never
    /// load either way).
    ///
    /// ```
    /// let builder = session_runtime::MySqlStore::builder().no_background_sweep();
    /// # let _ = builder;
    /// ```
    pub fn no_background_sweep(mut self) -> Self {
        self.settings.sweep_every = None;
        self
    }

    /// How many rows one sweep statement deletes at most (default 1000).
    ///
    /// ```
    /// let builder = session_runtime::MySqlStore::builder().sweep_batch(500);
    /// # let _ = builder;
    /// ```
    pub fn sweep_batch(mut self, batch: u64) -> Self {
        self.settings.sweep_batch = batch.max(1);
        self
    }

    /// How long one store operation may take, waiting for a connection
    /// included (default 2 s). Past it the operation fails: a load with a
    /// 503 before the handler runs, a save with a 500.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::MySqlStore::builder().operation_timeout(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.settings.operation_timeout = timeout;
        self
    }

    /// For a pool made from a URL: how long a request waits for a free
    /// connection, opening one included (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::MySqlStore::builder().acquire_timeout(Duration::from_millis(500));
    /// # let _ = builder;
    /// ```
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.settings.acquire_timeout = timeout;
        self
    }

    /// For a pool made from a URL: the most connections it opens (default
    /// 10).
    ///
    /// ```
    /// let builder = session_runtime::MySqlStore::builder().max_connections(20);
    /// # let _ = builder;
    /// ```
    pub fn max_connections(mut self, max: u32) -> Self {
        self.settings.max_connections = max.max(1);
        self
    }

    /// Opens a pool on `url` (`mysql://user:password@host:port/database`,
    /// or `mariadb://...`) and checks that the server answers. The table is
    /// not created: call [`MySqlStore::migrate`].
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::MySqlStore::builder()
    ///     .connect("mysql://root@127.0.0.1/test")
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(self, url: &str) -> Result<MySqlStore, StoreError> {
        let table = Table::parse(&self.settings.table, true)?;
        let options = MySqlConnectOptions::from_str(url).map_err(|err| {
            StoreError::new("the MySQL URL is not valid", err).with_kind(StoreErrorKind::Config)
        })?;
        let connecting = MySqlPoolOptions::new()
            .max_connections(self.settings.max_connections)
            .acquire_timeout(self.settings.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(options);
        let pool = timed(
            self.settings
                .acquire_timeout
                .max(self.settings.operation_timeout),
            "cannot connect to MySQL",
            database_kind,
            connecting,
        )
        .await?;
        tracing::debug!(table = %table.display(), "connected to MySQL");
        Ok(self.finish(pool, table))
    }

    /// A store on a pool the app already has, used as it is, within the
    /// store's [operation timeout](Self::operation_timeout). Fails only on a
    /// table name that is not a plain identifier.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::MySqlPool::connect("mysql://root@127.0.0.1/test").await?;
    /// let store = session_runtime::MySqlStore::builder().table("web_sessions").build(pool)?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn build(self, pool: MySqlPool) -> Result<MySqlStore, StoreConfigError> {
        let table = Table::parse(&self.settings.table, true)?;
        Ok(self.finish(pool, table))
    }

    fn finish(self, pool: MySqlPool, table: Table) -> MySqlStore {
        MySqlStore {
            inner: Arc::new(Inner {
                pool,
                sql: Statements::new(&table),
                table,
                timeout: self.settings.operation_timeout,
                sweeper: Sweeper::new(self.settings.sweep_every, self.settings.sweep_batch),
            }),
        }
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
        let query = query
            .bind(utc_datetime(changes.expires_at()))
            .bind(&key.as_bytes()[..]);
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
        let pinned = ["b4f26383919df553704d0387c67b61504c1714f233cc989851808e13004399a4"];
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
    }
}

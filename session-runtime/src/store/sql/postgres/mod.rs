//! [`PostgresStore`]: sessions in a PostgreSQL table.
//!
//! # Schema
//!
//! ```sql
//! CREATE TABLE sessions (
//!     id         bytea PRIMARY KEY CHECK (octet_length(id) = 32), -- SHA-256 of the session ID
//!     fields     jsonb NOT NULL,       -- {"name": "<the value's JSON text>", ...}
//!     expires_at timestamptz NOT NULL  -- an instant: no time zone to misread, no 2038
//! );
//! CREATE INDEX sessions_expires_at ON sessions (expires_at);
//! ```
//!
//! Expiry is compared with the database's `now()`, one clock for every app
//! instance; `timestamptz` is an instant, so neither the server's nor a
//! connection's `TimeZone` changes what has expired.
//!
//! # Statements
//!
//! | operation | statement | statements |
//! | --- | --- | --- |
//! | load | `SELECT fields::text, expires_at ... WHERE id = $1 AND expires_at > now()` | 1 |
//! | create | `INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE <the old row has expired>` | 1 |
//! | save | `UPDATE ... SET fields = ((fields \|\| $sets) - $removed) \|\| jsonb_build_object($counter, <increment>), expires_at = $2 WHERE id = $1 AND expires_at > now()` | 1 |
//! | touch | `UPDATE ... SET expires_at = $2 WHERE id = $1 AND expires_at > now()` | 1 |
//! | regenerate | the save's `UPDATE`, setting `id` to the new key too | 1 (2 more if an expired row holds the new key) |
//! | delete | `DELETE ... WHERE id = $1` | 1 |
//! | sweep | `DELETE ... WHERE id IN (SELECT id ... WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)` | 1 per batch |
//!
//! Each part of a save is there only if the change set needs it: a counter
//! bump sends the key, the expiry and the counter's name and delta, and an
//! unchanged field never travels. The increment reads the stored text with
//! `fields ->> $name`, checks it with a regular expression (the white space
//! of Rust's `str::trim`, an optional sign, digits), adds in `numeric` and
//! clamps to the bounds of `int8`. Statements are prepared once per
//! connection and reused.
//!
//! The layer moves a session's expiry once `extend_after` of its window has
//! passed; a save before then leaves `expires_at` out of its `UPDATE`
//! ([`ChangeSet::moves_expiry`](crate::store::ChangeSet::moves_expiry)).
//! Then no indexed column changes, and PostgreSQL updates the row in place (a
//! heap-only tuple): a busy session's writes add no entries to the primary
//! key, expiry and user indexes, whose dead entries every later lookup of
//! the key would otherwise walk until a vacuum (measured on one row bumped
//! by 64 connections: 37 index entries read per request, against 3).
//!
//! # Migrations
//!
//! [`PostgresStore::migrate`] runs, in one transaction under a transaction
//! advisory lock named after the table, the numbered steps the table lacks,
//! and records each in `{table}_migrations`. Several instances booting at
//! once wait for one another: one creates the table, the others find it
//! done. DDL is transactional in PostgreSQL, so a step applies whole or not
//! at all.
//!
//! # Failures
//!
//! Every operation is bounded by the operation timeout (default 2 s),
//! waiting for a pooled connection included; a pool made from a URL waits at
//! most the acquire timeout (default 1 s) for a connection and checks it
//! before use, so a connection the server dropped is replaced on the next
//! request, and the store recovers by itself.

use std::fmt::{self, Write as _};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Row as _;
use time::OffsetDateTime;

use super::{
    corrupt_row, decode_fields, end_save, fields_document, is_unique_violation, key_of_row,
    pending, render, timed, user_json, Settings, Step, Sweeper, Table, Undecodable, WHITESPACE,
};
use crate::store::{
    ChangeSet, Record, SessionKey, SessionStore, StoreConfigError, StoreError, StoreErrorKind,
    SweepExpired, WriteOutcome,
};

mod builder;
mod statements;

pub use self::builder::PostgresStoreBuilder;
use self::statements::*;

/// Sorts PostgreSQL's own errors by their SQLSTATE.
fn database_kind(err: &dyn sqlx::error::DatabaseError) -> Option<StoreErrorKind> {
    let code = err.code()?;
    Some(match &*code {
        c if c.starts_with("08") => StoreErrorKind::Unavailable,
        "57P01" | "57P02" | "57P03" | "53300" => StoreErrorKind::Unavailable,
        "40001" | "40P01" | "55P03" => StoreErrorKind::Conflict,
        "57014" => StoreErrorKind::Timeout,
        _ => return None,
    })
}

struct Inner {
    pool: PgPool,
    table: Table,
    sql: Statements,
    timeout: Duration,
    sweeper: Sweeper,
}

/// Sessions in a PostgreSQL table: for apps that already run PostgreSQL
/// (the role of connect-pg-simple), shared by every instance.
///
/// - **One row per session**, keyed by the digest of its ID, its fields in a
///   `jsonb` column, its expiry a `timestamptz` (see the [module
///   docs](self) for the schema and every statement).
/// - **Partial writes, in the database.** A save is one `UPDATE` that sets
///   the changed fields, removes the removed ones and applies counter
///   increments with `jsonb` operators, and only while the session is live:
///   a slow request never revives a session that was destroyed or
///   regenerated, and two requests that change different fields both
///   persist.
/// - **Migrations**: [`migrate`](Self::migrate) creates and upgrades the
///   table, safely when several instances boot at once.
/// - **Expiry**: expired rows never load; a background task deletes them in
///   batches (every 5 minutes by default).
/// - **Bounded failures**: a database that is down or a pool that is
///   exhausted costs a request at most the operation timeout (default 2 s),
///   answered with 503; the store recovers by itself.
///
/// ```no_run
/// use session_runtime::{Key, PostgresStore, SessionLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = PostgresStore::connect("postgres://app@127.0.0.1/app").await?;
/// store.migrate().await?; // creates the `sessions` table if it is missing
/// let layer = SessionLayer::new(store, Key::generate());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for PostgresStore {
    // The pool's options hold the password: the debug form shows the table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.inner.table.display())
            .field("operation_timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Opens a pool on `url` with the default settings: table `sessions`,
    /// at most 10 connections, an acquire timeout of 1 s, an operation
    /// timeout of 2 s, a sweep every 5 minutes. Call
    /// [`migrate`](Self::migrate) before serving.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::PostgresStore::connect("postgres://postgres@127.0.0.1/test").await?;
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
    /// let pool = sqlx::PgPool::connect("postgres://app@127.0.0.1/app").await?;
    /// let store = session_runtime::PostgresStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        let table = Table {
            schema: None,
            name: super::DEFAULT_TABLE.to_owned(),
        };
        Self::builder().finish(pool, table)
    }

    /// A builder, to choose the table, the sweep or the time limits.
    ///
    /// ```
    /// let builder = session_runtime::PostgresStore::builder().table("app.sessions");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            settings: Settings::default(),
        }
    }

    /// The pool the store uses.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::PostgresStore::connect("postgres://postgres@127.0.0.1/test").await?;
    /// assert!(!store.pool().is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The table, as configured: `sessions` or `schema.sessions`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::PostgresStore::connect("postgres://postgres@127.0.0.1/test").await?;
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
    /// Safe when several instances start at once: all of it runs in one
    /// transaction under an advisory lock named after the table, so one
    /// instance migrates while the others wait, then find the work done. The
    /// schema the table lives in must exist.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::PostgresStore::connect("postgres://postgres@127.0.0.1/test").await?;
    /// store.migrate().await?;
    /// store.migrate().await?; // nothing left to do
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self
            .inner
            .pool
            .begin()
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
                PostgresStore { inner }.sweep_expired(batch).await
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
            query = query.bind(changes.expires_at());
        }
        for arg in args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Owned(text) => query.bind(text),
                Arg::Texts(texts) => query.bind(texts),
                Arg::Int(n) => query.bind(n),
                Arg::Key(bytes) => query.bind(bytes),
            };
        }
        let pool = &self.inner.pool;
        match tokio::time::timeout(self.inner.timeout, query.execute(pool)).await {
            Ok(result) => Ok(result.map(|done| done.rows_affected())),
            Err(elapsed) => Err(StoreError::timeout(
                "PostgreSQL did not answer the save within the operation timeout",
                elapsed,
            )),
        }
    }

    async fn execute(
        &self,
        context: &'static str,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
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
/// transaction, under its advisory lock.
async fn migrate_in(conn: &mut PgConnection, table: &Table) -> Result<(), StoreError> {
    let lock = "SELECT pg_advisory_xact_lock(hashtextextended('session_kit:' \
                || COALESCE($1, current_schema()) || '.' || $2, 0))";
    sqlx::query(lock)
        .bind(table.schema())
        .bind(table.name())
        .execute(&mut *conn)
        .await
        .map_err(fail("cannot take the migration lock"))?;
    let versions = render(
        "CREATE TABLE IF NOT EXISTS {versions} (\
         version bigint PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now())",
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
    let record = render("INSERT INTO {versions} (version) VALUES ($1)", table, QUOTE);
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

impl SessionStore for PostgresStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        let query = sqlx::query(&self.inner.sql.load).bind(&key.as_bytes()[..]);
        let row = timed(
            self.inner.timeout,
            "cannot load the session from PostgreSQL",
            database_kind,
            query.fetch_optional(&self.inner.pool),
        )
        .await?;
        let Some(row) = row else { return Ok(None) };
        let decoded = (|| -> Result<Record, Undecodable> {
            let fields = decode_fields(&row.try_get::<String, _>(0)?)?;
            let expires_at = row.try_get::<OffsetDateTime, _>(1)?;
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
            .bind(changes.expires_at());
        let rows = self
            .execute("cannot create the session in PostgreSQL", query)
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
            super::store_error("cannot save the session to PostgreSQL", err, database_kind)
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
            .bind(expires_at);
        let rows = self
            .execute("cannot extend the session in PostgreSQL", query)
            .await?;
        Ok(outcome(rows))
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let fail = |err| {
            super::store_error(
                "cannot regenerate the session in PostgreSQL",
                err,
                database_kind,
            )
        };
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
                        .execute("cannot free the new session key in PostgreSQL", query)
                        .await?;
                    if freed == 0 {
                        return Ok(WriteOutcome::KeyTaken);
                    }
                }
                Err(err) if is_unique_violation(&err) => return Ok(WriteOutcome::KeyTaken),
                Err(err) => return Err(fail(err)),
            }
        }
        Ok(WriteOutcome::KeyTaken)
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        let query = sqlx::query(&self.inner.sql.user_sessions).bind(user_json(user));
        let rows = timed(
            self.inner.timeout,
            "cannot list the user's sessions in PostgreSQL",
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
                Ok(Record::new(fields, row.try_get::<OffsetDateTime, _>(2)?))
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
            .bind(keep.map(|k| k.as_bytes().to_vec()));
        self.execute("cannot end the user's sessions in PostgreSQL", query)
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let query = sqlx::query(&self.inner.sql.delete).bind(&key.as_bytes()[..]);
        self.execute("cannot delete the session from PostgreSQL", query)
            .await?;
        Ok(())
    }
}

impl SweepExpired for PostgresStore {
    async fn sweep_expired(&self, batch: u64) -> Result<u64, StoreError> {
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let query = sqlx::query(&self.inner.sql.sweep).bind(limit);
        self.execute("cannot sweep expired sessions in PostgreSQL", query)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_can_run_on_any_task() {
        fn send<T: Send>(_: &T) {}
        fn check(store: &PostgresStore) {
            send(&store.migrate());
        }
        let _ = check;
    }

    #[test]
    fn released_migration_steps_are_never_edited() {
        // A step's text is part of every database it ever ran on. To change
        // the schema, add a step; never edit one (this test pins them).
        let pinned = [
            "c786691a958950dc3904923264348cac3da7dd55ace096042548a224f199a954",
            // Step 2: the per-user index.
            "c8f586d2cdb4b34d4040fd2f83611306a141da1e4d1c14119950b98775c4810a",
        ];
        let actual: Vec<String> = STEPS.iter().map(super::super::step_digest).collect();
        assert_eq!(actual, pinned);
    }

    #[test]
    fn a_save_names_only_what_changed() {
        let table = Table::parse("app.sessions", true).unwrap().quoted(QUOTE);
        let expiry = OffsetDateTime::UNIX_EPOCH;
        let touch_only = ChangeSet::new(expiry);
        let (sql, args) = save_statement(&table, &touch_only, None);
        assert_eq!(
            sql,
            "UPDATE \"app\".\"sessions\" SET expires_at = $2 WHERE id = $1 AND expires_at > now()"
        );
        assert!(args.is_empty());

        let counter = ChangeSet::new(expiry).increment("visits.n", 1, 0);
        let (sql, args) = save_statement(&table, &counter, None);
        assert!(sql.starts_with("UPDATE \"app\".\"sessions\" SET fields = (fields) || jsonb_build_object($3::text, "), "{sql}");
        assert_eq!(args.len(), 3);

        let all = ChangeSet::new(expiry)
            .set("a.x", "1")
            .remove("a.y")
            .increment("a.n", 1, 0);
        let (sql, args) = save_statement(&table, &all, None);
        assert!(
            sql.contains("((fields || $3::jsonb) - $4::text[]) || jsonb_build_object($5::text"),
            "{sql}"
        );
        assert_eq!(args.len(), 5);
        assert!(
            !sql.contains("a.x") && !sql.contains("a.y") && !sql.contains("a.n"),
            "names are bound, never spliced"
        );

        let kept = ChangeSet::new(expiry).set("a.x", "1").keeping_expiry();
        let (sql, args) = save_statement(&table, &kept, None);
        assert_eq!(
            sql,
            "UPDATE \"app\".\"sessions\" SET fields = fields || $2::jsonb WHERE id = $1 AND expires_at > now()"
        );
        assert_eq!(args.len(), 1);
    }
}

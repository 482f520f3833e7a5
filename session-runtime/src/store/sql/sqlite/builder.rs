//! `SqliteStoreBuilder`: the pool, the table, the sweep and the time limits.

use super::*;

/// How a [`SqliteStore`] is made: the table, the sweep and the time limits.
/// Made by [`SqliteStore::builder`]; finished by [`connect`](Self::connect)
/// (a URL) or [`build`](Self::build) (a pool).
///
/// ```no_run
/// use std::time::Duration;
/// use session_runtime::SqliteStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = SqliteStore::builder()
///     .table("web_sessions")
///     .operation_timeout(Duration::from_secs(5))
///     .connect("sqlite:///var/lib/app/sessions.db")
///     .await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `connect` or `build` is called"]
pub struct SqliteStoreBuilder {
    pub(super) settings: Settings,
}

impl SqliteStoreBuilder {
    /// The table (default `sessions`): letters, digits and `_`, not starting
    /// with a digit, at most 63 characters. Anything else (a schema-qualified
    /// name included) is refused with [`StoreConfigError::InvalidTableName`]
    /// when the store is made.
    ///
    /// ```
    /// let builder = session_runtime::SqliteStore::builder().table("web_sessions");
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
    /// let builder = session_runtime::SqliteStore::builder().sweep_every(Duration::from_secs(60));
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
    /// let builder = session_runtime::SqliteStore::builder().no_background_sweep();
    /// # let _ = builder;
    /// ```
    pub fn no_background_sweep(mut self) -> Self {
        self.settings.sweep_every = None;
        self
    }

    /// How many rows one sweep statement deletes at most (default 1000), so
    /// that a large backlog never holds the write lock for long.
    ///
    /// ```
    /// let builder = session_runtime::SqliteStore::builder().sweep_batch(500);
    /// # let _ = builder;
    /// ```
    pub fn sweep_batch(mut self, batch: u64) -> Self {
        self.settings.sweep_batch = batch.max(1);
        self
    }

    /// How long one store operation may take, waiting for a connection and
    /// for the write lock included (default 2 s; a pool made from a URL
    /// gets the same busy timeout). Past it the operation fails: a load with
    /// a 503 before the handler runs, a save with a 500.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::SqliteStore::builder().operation_timeout(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.settings.operation_timeout = timeout;
        self
    }

    /// For a pool made from a URL: how long a request waits for a free
    /// connection (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::SqliteStore::builder().acquire_timeout(Duration::from_millis(500));
    /// # let _ = builder;
    /// ```
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.settings.acquire_timeout = timeout;
        self
    }

    /// For a pool made from a URL: the most connections it opens (default
    /// 10; in WAL mode they read in parallel and write one at a time).
    ///
    /// ```
    /// let builder = session_runtime::SqliteStore::builder().max_connections(4);
    /// # let _ = builder;
    /// ```
    pub fn max_connections(mut self, max: u32) -> Self {
        self.settings.max_connections = max.max(1);
        self
    }

    /// Opens `url` (`sqlite://PATH`, `sqlite:///absolute/path`), creating
    /// the file if it is missing (its directory must exist), in WAL mode
    /// with `synchronous = NORMAL` and a busy timeout equal to the
    /// operation timeout. The table is not created: call
    /// [`SqliteStore::migrate`].
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::SqliteStore::builder().connect("sqlite://sessions.db").await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(self, url: &str) -> Result<SqliteStore, StoreError> {
        let table = Table::parse(&self.settings.table, false)?;
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| {
                StoreError::new("the SQLite URL is not valid", err)
                    .with_kind(StoreErrorKind::Config)
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(self.settings.operation_timeout);
        let connecting = SqlitePoolOptions::new()
            .max_connections(self.settings.max_connections)
            .acquire_timeout(self.settings.acquire_timeout)
            .connect_with(options);
        let pool = timed(
            self.settings
                .acquire_timeout
                .max(self.settings.operation_timeout),
            "cannot open the SQLite database",
            database_kind,
            connecting,
        )
        .await?;
        tracing::debug!(table = %table.display(), "opened the SQLite database");
        Ok(self.finish(pool, table))
    }

    /// A store on a pool the app already has, used as it is: give it WAL
    /// mode and a busy timeout yourself
    /// ([`SqliteConnectOptions::journal_mode`],
    /// [`SqliteConnectOptions::busy_timeout`]); [`SqliteStore::migrate`]
    /// warns when the database is not in WAL mode. Fails only on a table
    /// name that is not a plain identifier.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db").await?;
    /// let store = session_runtime::SqliteStore::builder().table("web_sessions").build(pool)?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn build(self, pool: SqlitePool) -> Result<SqliteStore, StoreConfigError> {
        let table = Table::parse(&self.settings.table, false)?;
        Ok(self.finish(pool, table))
    }

    pub(super) fn finish(self, pool: SqlitePool, table: Table) -> SqliteStore {
        SqliteStore {
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

//! `PostgresStoreBuilder`: the pool, the table, the sweep and the time limits.

use super::*;

/// How a [`PostgresStore`] is made: the table, the sweep and the time
/// limits. Made by [`PostgresStore::builder`]; finished by
/// [`connect`](Self::connect) (a URL) or [`build`](Self::build) (a pool).
///
/// ```no_run
/// use std::time::Duration;
/// use session_runtime::PostgresStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = PostgresStore::builder()
///     .table("app.sessions")
///     .sweep_every(Duration::from_secs(60))
///     .operation_timeout(Duration::from_secs(1))
///     .connect("postgres://app@127.0.0.1/app")
///     .await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `connect` or `build` is called"]
pub struct PostgresStoreBuilder {
    pub(super) settings: Settings,
}

impl PostgresStoreBuilder {
    /// The table (default `sessions`), optionally qualified by a schema
    /// (`app.sessions`): letters, digits and `_`, not starting with a digit,
    /// at most 63 characters each. Anything else is refused with
    /// [`StoreConfigError::InvalidTableName`] when the store is made.
    ///
    /// ```
    /// let builder = session_runtime::PostgresStore::builder().table("app.sessions");
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
    /// let builder = session_runtime::PostgresStore::builder().sweep_every(Duration::from_secs(60));
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
    /// let builder = session_runtime::PostgresStore::builder().no_background_sweep();
    /// # let _ = builder;
    /// ```
    pub fn no_background_sweep(mut self) -> Self {
        self.settings.sweep_every = None;
        self
    }

    /// How many rows one sweep statement deletes at most (default 1000), so
    /// that a large backlog never holds a long lock.
    ///
    /// ```
    /// let builder = session_runtime::PostgresStore::builder().sweep_batch(500);
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
    /// let builder = session_runtime::PostgresStore::builder().operation_timeout(Duration::from_secs(1));
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
    /// let builder = session_runtime::PostgresStore::builder().acquire_timeout(Duration::from_millis(500));
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
    /// let builder = session_runtime::PostgresStore::builder().max_connections(20);
    /// # let _ = builder;
    /// ```
    pub fn max_connections(mut self, max: u32) -> Self {
        self.settings.max_connections = max.max(1);
        self
    }

    /// Opens a pool on `url` (`postgres://user:password@host:port/database`
    /// or `postgresql://...`) and checks that the server answers.
    ///
    /// The pool opens at most [`max_connections`](Self::max_connections),
    /// waits at most the [acquire timeout](Self::acquire_timeout) for one,
    /// and checks each connection before handing it out. The table is not
    /// created: call [`PostgresStore::migrate`].
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::PostgresStore::builder()
    ///     .connect("postgresql://app@db.internal/app")
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(self, url: &str) -> Result<PostgresStore, StoreError> {
        let table = Table::parse(&self.settings.table, true)?;
        let options = PgConnectOptions::from_str(url).map_err(|err| {
            StoreError::new("the PostgreSQL URL is not valid", err)
                .with_kind(StoreErrorKind::Config)
        })?;
        let connecting = PgPoolOptions::new()
            .max_connections(self.settings.max_connections)
            .acquire_timeout(self.settings.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(options);
        let pool = timed(
            self.settings
                .acquire_timeout
                .max(self.settings.operation_timeout),
            "cannot connect to PostgreSQL",
            database_kind,
            connecting,
        )
        .await?;
        tracing::debug!(table = %table.display(), "connected to PostgreSQL");
        Ok(self.finish(pool, table))
    }

    /// A store on a pool the app already has. The pool is used as it is:
    /// its own acquire timeout and size apply, within the store's
    /// [operation timeout](Self::operation_timeout).
    ///
    /// Fails only on a table name that is not a plain identifier.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::PgPool::connect("postgres://app@127.0.0.1/app").await?;
    /// let store = session_runtime::PostgresStore::builder().table("web_sessions").build(pool)?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn build(self, pool: PgPool) -> Result<PostgresStore, StoreConfigError> {
        let table = Table::parse(&self.settings.table, true)?;
        Ok(self.finish(pool, table))
    }

    pub(super) fn finish(self, pool: PgPool, table: Table) -> PostgresStore {
        PostgresStore {
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

//! [`RedisStoreBuilder`]: the URL, the key prefix, the timeouts, and
//! connecting to one server or a Cluster.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;

use super::connection::{connection_error, Connection, Inner};
use super::RedisStore;
use crate::store::{StoreConfigError, StoreError};

/// How a [`RedisStore`] connects: the server or Cluster, the key prefix and
/// the timeouts. Made by [`RedisStore::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use session_runtime::RedisStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .key_prefix("shop:session:")
///     .connect_timeout(Duration::from_millis(500))
///     .command_timeout(Duration::from_millis(800))
///     .connect()
///     .await?;
/// assert_eq!(store.key_prefix(), "shop:session:");
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect` is awaited"]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    // The URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &"REDACTED")
            .field("key_prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

impl RedisStoreBuilder {
    /// The defaults: key prefix `session:`, one-second timeouts.
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            prefix: "session:".to_owned(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        }
    }

    /// The prefix of every key the store writes (default `session:`), so
    /// that several apps, or sessions and other data, share one Redis.
    ///
    /// It must not hold `{` or `}`: Redis Cluster would read them as the
    /// hash tag that keeps a session in one slot. [`connect`](Self::connect)
    /// refuses such a prefix.
    ///
    /// ```
    /// let builder = session_runtime::RedisStore::builder("redis://127.0.0.1").key_prefix("app1:");
    /// # let _ = builder;
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one attempt to open a connection may take (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::RedisStore::builder("redis://127.0.0.1")
    ///     .connect_timeout(Duration::from_millis(300));
    /// # let _ = builder;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one store operation may take, waiting for a reconnection
    /// included (default 1 s). Past it the operation fails: a load with a 503
    /// before the handler runs, a save with a 500.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session_runtime::RedisStore::builder("redis://127.0.0.1")
    ///     .command_timeout(Duration::from_millis(500));
    /// # let _ = builder;
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Connects, and checks the server answers.
    ///
    /// Fails on a URL that is not one, on a key prefix with `{` or `}`, and
    /// when the server cannot be reached within the timeouts.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::RedisStore::builder("redis://127.0.0.1:6379/2")
    ///     .connect()
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        if self.prefix.contains(['{', '}']) {
            return Err(StoreConfigError::InvalidKeyPrefix {
                prefix: self.prefix,
                reason: "it holds `{` or `}`, which Redis Cluster reads as a hash tag",
            }
            .into());
        }
        let budget = self.connect_timeout.saturating_add(self.command_timeout);
        let connecting = async {
            match self.url.strip_prefix("redis+cluster://") {
                Some(nodes) => self.connect_cluster(nodes).await,
                None => self.connect_single().await,
            }
        };
        let connection = match tokio::time::timeout(budget, connecting).await {
            Ok(result) => result?,
            Err(elapsed) => {
                return Err(StoreError::timeout(
                    "Redis did not answer within the connect timeout",
                    elapsed,
                ))
            }
        };
        let store = RedisStore {
            inner: Arc::new(Inner {
                connection,
                prefix: self.prefix.into_boxed_str(),
                command_timeout: self.command_timeout,
                connect_timeout: self.connect_timeout,
            }),
        };
        store
            .run("Redis does not answer PING", |mut conn| async move {
                redis::cmd("PING").query_async::<()>(&mut conn).await
            })
            .await?;
        tracing::debug!(cluster = store.is_cluster(), "connected to Redis");
        Ok(store)
    }

    async fn connect_single(&self) -> Result<Connection, StoreError> {
        let client =
            redis::Client::open(self.url.as_str()).map_err(|err| StoreConfigError::InvalidUrl {
                reason: err.to_string(),
            })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.connect_timeout)
            .set_response_timeout(self.command_timeout)
            // Reconnect quickly and keep no backlog of retries: requests are
            // bounded by the command timeout anyway, and the next one after
            // a failed reconnection starts a new attempt.
            .set_number_of_retries(1)
            .set_factor(50)
            .set_max_delay(200);
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|err| connection_error("cannot connect to Redis", err))?;
        Ok(Connection::Single(manager))
    }

    async fn connect_cluster(&self, nodes: &str) -> Result<Connection, StoreError> {
        let nodes: Vec<String> = nodes
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(|node| format!("redis://{node}"))
            .collect();
        if nodes.is_empty() {
            return Err(StoreConfigError::EmptyNodeList.into());
        }
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.command_timeout)
            .retries(2)
            .min_retry_wait(20)
            .max_retry_wait(200)
            .build()
            .map_err(|err| StoreConfigError::InvalidUrl {
                reason: err.to_string(),
            })?;
        let connection = client
            .get_async_connection()
            .await
            .map_err(|err| connection_error("cannot connect to the Redis Cluster", err))?;
        Ok(Connection::Cluster(connection))
    }
}

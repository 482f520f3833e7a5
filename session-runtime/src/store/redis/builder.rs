//! [`RedisStoreBuilder`]: the URL, the key prefix, the timeouts, the TLS
//! certificates, and connecting to one server or a Cluster.

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
    #[cfg(feature = "redis-tls")]
    tls: TlsFiles,
}

/// The certificates given for `rediss://`, as PEM.
#[cfg(feature = "redis-tls")]
#[derive(Clone, Default)]
struct TlsFiles {
    root: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

#[cfg(feature = "redis-tls")]
impl TlsFiles {
    fn is_set(&self) -> bool {
        self.root.is_some() || self.client.is_some()
    }

    fn certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self.client.clone().map(|(client_cert, client_key)| {
                redis::ClientTlsConfig {
                    client_cert,
                    client_key,
                }
            }),
            root_cert: self.root.clone(),
        }
    }
}

impl fmt::Debug for RedisStoreBuilder {
    // The URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("RedisStoreBuilder");
        f.field("url", &"REDACTED")
            .field("key_prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout);
        // Whether certificates were given, never what they hold: the client
        // key is a secret.
        #[cfg(feature = "redis-tls")]
        f.field("tls_root_certificate", &self.tls.root.is_some())
            .field("tls_client_certificate", &self.tls.client.is_some());
        f.finish()
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
            #[cfg(feature = "redis-tls")]
            tls: TlsFiles::default(),
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

    /// For a `rediss://` or `rediss+cluster://` URL: trust the server
    /// certificates signed by this CA (PEM, one or more certificates)
    /// *instead of* the system's root certificates. For a Redis whose
    /// certificate comes from a private CA.
    ///
    /// Without it, the server's certificate is checked against the system's
    /// roots (or the file named by `SSL_CERT_FILE`, when set). [`connect`]
    /// refuses certificates given for a URL that is not `rediss`.
    ///
    /// [`connect`]: Self::connect
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt")?;
    /// let store = session_runtime::RedisStore::builder("rediss://redis.internal:6380")
    ///     .tls_root_certificate(ca)
    ///     .connect()
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-tls")))]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.root = Some(pem.into());
        self
    }

    /// For a `rediss://` or `rediss+cluster://` URL: present this client
    /// certificate and key (both PEM), for a Redis that authenticates its
    /// clients (`tls-auth-clients yes`, Redis's own default once TLS is on).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = session_runtime::RedisStore::builder("rediss://redis.internal:6380")
    ///     .tls_root_certificate(std::fs::read("/etc/redis/tls/ca.crt")?)
    ///     .tls_client_certificate(
    ///         std::fs::read("/etc/app/tls/client.crt")?,
    ///         std::fs::read("/etc/app/tls/client.key")?,
    ///     )
    ///     .connect()
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-tls")))]
    pub fn tls_client_certificate(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client = Some((certificate_pem.into(), key_pem.into()));
        self
    }

    /// Connects, and checks the server answers.
    ///
    /// Fails with an error of kind [`Config`](crate::StoreErrorKind::Config)
    /// on a URL that is not one, on a key prefix with `{` or `}`, on a
    /// `rediss://` URL in a build without the `redis-tls` feature, and on a
    /// `redis://` URL that points at a node of a Redis Cluster (which needs
    /// `redis+cluster://`); with another kind when the server cannot be
    /// reached within the timeouts.
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
        let target = Target::parse(&self.url)?;
        target.check_features()?;
        #[cfg(feature = "redis-tls")]
        if self.tls.is_set() && !target.tls {
            return Err(StoreConfigError::Unsupported {
                reason: "TLS certificates were given for a URL without TLS; write `rediss://` \
                         (or `rediss+cluster://`)"
                    .to_owned(),
            }
            .into());
        }
        #[cfg(feature = "redis-tls")]
        if target.tls {
            install_crypto_provider();
        }
        let budget = self.connect_timeout.saturating_add(self.command_timeout);
        let connecting = async {
            match &target.nodes {
                Some(nodes) => self.connect_cluster(nodes, target.insecure).await,
                None => self.connect_single(target.tls).await,
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
        if !store.is_cluster() {
            store.refuse_cluster_node(target.tls).await?;
        }
        tracing::debug!(
            cluster = store.is_cluster(),
            tls = target.tls,
            "connected to Redis"
        );
        Ok(store)
    }

    async fn connect_single(&self, tls: bool) -> Result<Connection, StoreError> {
        let invalid = |err: redis::RedisError| StoreConfigError::InvalidUrl {
            reason: err.to_string(),
        };
        #[cfg(feature = "redis-tls")]
        let client = if tls && self.tls.is_set() {
            redis::Client::build_with_tls(self.url.as_str(), self.tls.certificates())
                .map_err(invalid)?
        } else {
            redis::Client::open(self.url.as_str()).map_err(invalid)?
        };
        #[cfg(not(feature = "redis-tls"))]
        let client = {
            // `rediss://` never gets here without the feature.
            let _ = tls;
            redis::Client::open(self.url.as_str()).map_err(invalid)?
        };
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

    async fn connect_cluster(
        &self,
        nodes: &[String],
        insecure: bool,
    ) -> Result<Connection, StoreError> {
        let builder = ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.command_timeout)
            .retries(2)
            .min_retry_wait(20)
            .max_retry_wait(200);
        #[cfg(not(feature = "redis-tls"))]
        let _ = insecure; // `rediss+cluster://` never gets here without the feature
        #[cfg(feature = "redis-tls")]
        let builder = if self.tls.is_set() {
            // `certs` would otherwise turn an `#insecure` Cluster into a
            // verified one.
            let builder = if insecure {
                builder.tls(redis::cluster::TlsMode::Insecure)
            } else {
                builder
            };
            builder.certs(self.tls.certificates())
        } else {
            builder
        };
        let client = builder
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

/// What a store URL names: one server or the nodes of a Cluster, with or
/// without TLS.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// The node URLs of a Cluster, or `None` for one server.
    nodes: Option<Vec<String>>,
    /// `rediss://` or `rediss+cluster://`.
    tls: bool,
    /// The `#insecure` fragment: no certificate verification.
    insecure: bool,
}

impl Target {
    fn parse(url: &str) -> Result<Self, StoreConfigError> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let scheme = scheme.to_ascii_lowercase();
        let (tls, cluster) = match scheme.as_str() {
            "redis+cluster" => (false, true),
            "rediss+cluster" => (true, true),
            "rediss" | "valkeys" => (true, false),
            // `redis`, `valkey`, `unix`, `redis+unix`, or not a URL at all,
            // which the redis crate refuses with its own reason.
            _ => (false, false),
        };
        let insecure = tls && url.rsplit_once('#').is_some_and(|(_, f)| f == "insecure");
        let nodes = if cluster {
            Some(cluster_nodes(rest, if tls { "rediss" } else { "redis" })?)
        } else {
            None
        };
        Ok(Self {
            nodes,
            tls,
            insecure,
        })
    }

    /// Refuses what this build cannot do, naming the feature that does it.
    fn check_features(&self) -> Result<(), StoreConfigError> {
        #[cfg(not(feature = "redis-tls"))]
        if self.tls {
            return Err(StoreConfigError::Unsupported {
                reason: "`rediss://` is Redis over TLS, which this build of session-kit leaves \
                         out; enable its `redis-tls` feature"
                    .to_owned(),
            });
        }
        #[cfg(not(feature = "redis-tls-insecure"))]
        if self.insecure {
            return Err(StoreConfigError::Unsupported {
                reason: "the `#insecure` URL fragment turns certificate verification off, which \
                         this build of session-kit leaves out; enable its `redis-tls-insecure` \
                         feature (for development only), or trust the server's CA \
                         (`RedisStoreBuilder::tls_root_certificate`, or the file named by \
                         `SSL_CERT_FILE`)"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// The node URLs of `host:port,host:port,...[#fragment]`, each with the
/// scheme, the credentials of the first node (the redis crate refuses nodes
/// whose credentials differ) and the fragment (`#insecure`).
fn cluster_nodes(list: &str, scheme: &str) -> Result<Vec<String>, StoreConfigError> {
    let (list, fragment) = match list.split_once('#') {
        Some((list, fragment)) => (list, Some(fragment)),
        None => (list, None),
    };
    let mut credentials = None;
    let mut nodes = Vec::new();
    for node in list.split(',') {
        let node = node.trim().trim_end_matches('/');
        if node.is_empty() {
            continue;
        }
        let node = match node.rsplit_once('@') {
            Some((user, _)) => {
                credentials.get_or_insert(user);
                node.to_owned()
            }
            None => match credentials {
                Some(user) => format!("{user}@{node}"),
                None => node.to_owned(),
            },
        };
        nodes.push(match fragment {
            Some(fragment) => format!("{scheme}://{node}/#{fragment}"),
            None => format!("{scheme}://{node}"),
        });
    }
    if nodes.is_empty() {
        return Err(StoreConfigError::EmptyNodeList);
    }
    Ok(nodes)
}

/// rustls picks its cryptography from the crates built in only when exactly
/// one is (ring here); an app that also builds another (aws-lc-rs, through an
/// HTTP client) would have it panic at the first TLS connection. So unless
/// the app chose a process-wide provider before connecting, ring's becomes
/// it.
#[cfg(feature = "redis-tls")]
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one meanwhile; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl RedisStore {
    /// A Cluster node answers a single-server connection, but refuses every
    /// script whose keys it does not own (`MOVED`), and a regenerate with
    /// `CROSSSLOT`: found at connect, not at the first login.
    async fn refuse_cluster_node(&self, tls: bool) -> Result<(), StoreError> {
        let info = self
            .run("Redis does not answer INFO", |mut conn| async move {
                // The command's own failure is looked at below: the outer
                // result is the connection's.
                Ok(redis::cmd("INFO")
                    .arg("cluster")
                    .query_async::<String>(&mut conn)
                    .await)
            })
            .await?;
        let info = match info {
            Ok(info) => info,
            Err(err)
                if err.is_io_error()
                    || err.is_timeout()
                    || err.is_connection_dropped()
                    || err.is_connection_refusal() =>
            {
                return Err(connection_error("Redis does not answer INFO", err));
            }
            Err(err) => {
                // `INFO` renamed or denied by an ACL: nothing to tell from.
                tracing::debug!(error = %err, "INFO cluster refused; not checking for cluster mode");
                return Ok(());
            }
        };
        let cluster_mode = info.lines().any(|line| line.trim() == "cluster_enabled:1");
        if !cluster_mode {
            return Ok(());
        }
        let scheme = if tls {
            "rediss+cluster"
        } else {
            "redis+cluster"
        };
        Err(StoreConfigError::Unsupported {
            reason: format!(
                "this Redis is a node of a Redis Cluster (`cluster_enabled:1`), which a \
                 single-server URL cannot use: every session write on a key of another node \
                 would fail with MOVED or CROSSSLOT; connect with \
                 `{scheme}://host:port,host:port,...` (some of the Cluster's nodes) instead"
            ),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_becomes_one_url_per_node() {
        let target = Target::parse("redis+cluster://10.0.0.1:7000, 10.0.0.2:7000/,").unwrap();
        assert_eq!(
            target,
            Target {
                nodes: Some(vec![
                    "redis://10.0.0.1:7000".to_owned(),
                    "redis://10.0.0.2:7000".to_owned()
                ]),
                tls: false,
                insecure: false,
            }
        );
    }

    #[test]
    fn a_tls_cluster_url_keeps_the_scheme_the_credentials_and_the_fragment_on_every_node() {
        let target =
            Target::parse("rediss+cluster://app:pw@10.0.0.1:7000,10.0.0.2:7000/#insecure").unwrap();
        assert_eq!(
            target,
            Target {
                nodes: Some(vec![
                    "rediss://app:pw@10.0.0.1:7000/#insecure".to_owned(),
                    "rediss://app:pw@10.0.0.2:7000/#insecure".to_owned()
                ]),
                tls: true,
                insecure: true,
            }
        );
    }

    #[test]
    fn single_server_urls_are_told_apart_by_scheme() {
        let single = |url: &str| Target::parse(url).unwrap();
        assert!(!single("redis://127.0.0.1:6379/0").tls);
        assert!(single("rediss://127.0.0.1:6380").tls);
        assert!(single("REDISS://127.0.0.1:6380").tls);
        assert!(!single("rediss://127.0.0.1:6380").insecure);
        assert!(single("rediss://127.0.0.1:6380/#insecure").insecure);
        assert!(!single("redis://127.0.0.1:6379/#insecure").insecure);
        assert_eq!(single("unix:///run/redis.sock").nodes, None);
    }

    #[test]
    fn a_cluster_url_without_nodes_is_refused() {
        assert_eq!(
            Target::parse("rediss+cluster:// , /#insecure"),
            Err(StoreConfigError::EmptyNodeList)
        );
    }

    #[cfg(not(feature = "redis-tls"))]
    #[test]
    fn without_the_tls_feature_a_rediss_url_names_the_feature() {
        for url in ["rediss://127.0.0.1:6380", "rediss+cluster://127.0.0.1:7000"] {
            let err = Target::parse(url).unwrap().check_features().unwrap_err();
            assert!(err.to_string().contains("`redis-tls` feature"), "{err}");
        }
    }

    #[cfg(all(feature = "redis-tls", not(feature = "redis-tls-insecure")))]
    #[test]
    fn without_the_insecure_feature_the_insecure_fragment_names_the_feature() {
        let err = Target::parse("rediss://127.0.0.1:6380/#insecure")
            .unwrap()
            .check_features()
            .unwrap_err();
        assert!(
            err.to_string().contains("`redis-tls-insecure` feature"),
            "{err}"
        );
    }

    #[cfg(not(feature = "redis-tls"))]
    #[tokio::test]
    async fn without_the_tls_feature_connect_refuses_rediss_before_any_io() {
        // Port 1 on loopback: nothing listens there, so only the feature
        // check can answer a `Config` error.
        let err = RedisStore::connect("rediss://127.0.0.1:1")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::StoreErrorKind::Config);
        let reason = std::error::Error::source(&err).map(ToString::to_string);
        assert!(reason.is_some_and(|r| r.contains("`redis-tls` feature")));
    }
}

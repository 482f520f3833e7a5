//! [`RedisStore`]: sessions in Redis or Valkey, on one server or on a Cluster.
//!
//! # Layout
//!
//! One Redis hash per session, under the key `{prefix}{<digest>}`: the key
//! prefix (default `session:`) and the SHA-256 digest of the session ID
//! (URL-safe base64, 43 characters: it travels in every command, and hex
//! would cost 21 bytes more each time) in braces, a Cluster *hash tag*, so
//! that everything about one session lives in one hash slot. Each session field (`"cart.items"`) is one hash field
//! holding its JSON text; the session's expiry is the key's own (`PEXPIREAT`),
//! so Redis drops expired sessions by itself and no sweeper is needed.
//!
//! # Round trips
//!
//! | operation | what goes to Redis | round trips |
//! | --- | --- | --- |
//! | load | a script: `HGETALL` + `PTTL`, read atomically | 1 |
//! | create | a script: `EXISTS`, then `HSET` + `PEXPIREAT` | 1 |
//! | save | a script: `EXISTS`, then `HSET` of the changed fields, `HDEL` of the removed ones, the increments, `PEXPIREAT` | 1 |
//! | touch | `PEXPIREAT` (which answers 0 for a missing key) | 1 |
//! | regenerate | a script: `EXISTS` both, `RENAME`, then as save | 1 (3 on Cluster) |
//! | delete | `DEL` | 1 |
//!
//! Scripts are sent by digest (`EVALSHA`); a server that has not seen a
//! script yet answers `NOSCRIPT` once, and the script is loaded then. A save
//! names only the fields that changed: an unchanged field never travels.
//!
//! # Increments
//!
//! A `#[session(counter)]` change is applied inside the save script, on the
//! value Redis holds at that moment, with the rule of
//! [`Increment::apply_to`](super::Increment::apply_to): a stored value that is
//! not an `i64` counts as absent (the increment starts from its `initial`),
//! and the sum saturates at the bounds of `i64`. The script never turns a
//! value into a Lua number (a double, exact only to 2^53): it checks the
//! text, writes it back in canonical form when needed, lets `HINCRBY` add,
//! and writes the bound when `HINCRBY` refuses an overflow.
//!
//! # Regenerate on Redis Cluster
//!
//! The old and the new key of a regenerated session have different digests,
//! so they live in different hash slots, often on different nodes, and no
//! single script can move one to the other. On a Cluster the store does it
//! in three steps that are still safe:
//!
//! 1. read the old session and a digest of its fields (one script on the old
//!    key's node); if it is gone, answer [`WriteOutcome::NotLive`];
//! 2. create the new session with those fields and the change set applied
//!    (the create script, which refuses a taken key:
//!    [`WriteOutcome::KeyTaken`], nothing written);
//! 3. delete the old session, but only if it is still there and its fields
//!    still have the digest of step 1 (one script on the old key's node).
//!
//! If the old session was deleted or regenerated between the steps (a logout
//! racing a login), step 3 finds it gone: the new key is deleted again and
//! the answer is [`WriteOutcome::NotLive`], so a session that was ended is
//! never brought back under a new ID. If another request changed the old
//! session meanwhile, the new key is deleted and the move starts over, so
//! that change is not lost. If the app dies between steps 2 and 3, the old
//! session stays valid and the unused new key expires by itself.
//!
//! # Failures
//!
//! Every operation is bounded by the command timeout (default 1 s), which
//! includes waiting for a reconnection, and each connection attempt by the
//! connect timeout (default 1 s). A request on a dead Redis therefore gets its
//! 503 within about a second, and at most about two seconds pass before a
//! failing save turns a response into a 500. The connection reconnects by
//! itself in the background: when Redis is back, so are sessions.

mod builder;
mod cluster;
mod connection;
mod replies;
mod scripts;

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use redis::Value;
use time::OffsetDateTime;

pub use self::builder::RedisStoreBuilder;
use self::connection::{Connection, Inner};
use self::replies::{pairs, record};
use self::scripts::{push_changes, SCRIPTS};
use super::{unix_millis, ChangeSet, Record, SessionKey, SessionStore, StoreError, WriteOutcome};

/// The hash field that keeps a session with no fields alive: a Redis hash
/// with no field does not exist. Session fields are always `namespace.name`,
/// so the empty name is free. Loads never show it.
const LIVE: &str = "";

/// Sessions in Redis or Valkey (6 or later), on one server or on a Redis
/// Cluster: the store for apps that run on several machines.
///
/// - **Partial writes in one round trip.** One hash per session, one hash
///   field per session field. A save sends only the fields that changed, in
///   one atomic script, and applies only while the session lives: a slow
///   request never revives a session that was destroyed or regenerated.
/// - **No lost updates.** Two requests that change different fields both
///   persist; `#[session(counter)]` fields are incremented on the server.
/// - **Cluster-ready.** Every key of one session shares one hash slot.
/// - **Bounded failures.** A dead Redis costs a request about a second (the
///   [command timeout](RedisStoreBuilder::command_timeout)), answered with
///   503 before the handler runs; the connection comes back by itself.
///
/// See the [module docs](self) for the layout, the commands and how
/// `regenerate` works on a Cluster.
///
/// ```no_run
/// use session_runtime::{Key, RedisStore, SessionLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// // One server; a database number in the URL is honoured.
/// let store = RedisStore::connect("redis://127.0.0.1:6379/0").await?;
/// let layer = SessionLayer::new(store, Key::generate());
/// # let _ = layer;
///
/// // A Cluster, given some of its nodes.
/// let store = RedisStore::connect("redis+cluster://10.0.0.1:7000,10.0.0.2:7000").await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisStore {
    // The URL may hold a password: the debug form shows the shape only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.is_cluster())
            .field("key_prefix", &self.inner.prefix)
            .field("command_timeout", &self.inner.command_timeout)
            .field("connect_timeout", &self.inner.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to Redis with the default settings: key prefix `session:`,
    /// connect and command timeouts of 1 s.
    ///
    /// `url` is `redis://[user:password@]host[:port][/db]` (the database
    /// number is honoured), `unix:///path/to/redis.sock`, or
    /// `redis+cluster://host:port,host:port,...` for a Cluster (some of its
    /// nodes; the rest are found from them).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::RedisStore::connect("redis://127.0.0.1:6379").await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder, to set the key prefix or the timeouts before connecting.
    /// `url` is as in [`RedisStore::connect`].
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::RedisStore::builder("redis+cluster://127.0.0.1:7000")
    ///     .key_prefix("sess:")
    ///     .connect()
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder::new(url.into())
    }

    /// The prefix of every key this store writes.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::RedisStore::connect("redis://127.0.0.1").await?;
    /// assert_eq!(store.key_prefix(), "session:");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The Redis key of a session: `{prefix}{<digest>}`, the digest in
    /// URL-safe base64 without padding.
    ///
    /// ```no_run
    /// use session_runtime::SessionKey;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::RedisStore::connect("redis://127.0.0.1").await?;
    /// let key = SessionKey::from_digest([0xab; 32]);
    /// assert_eq!(
    ///     store.redis_key(&key),
    ///     "session:{q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s}"
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn redis_key(&self, key: &SessionKey) -> String {
        let mut out = String::with_capacity(self.inner.prefix.len() + 45);
        out.push_str(&self.inner.prefix);
        out.push('{');
        URL_SAFE_NO_PAD.encode_string(key.as_bytes(), &mut out);
        out.push('}');
        out
    }

    /// Whether this store talks to a Redis Cluster.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = session_runtime::RedisStore::connect("redis://127.0.0.1").await?;
    /// assert!(!store.is_cluster());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.connection, Connection::Cluster(_))
    }

    async fn create_fields(
        &self,
        key: &str,
        fields: Vec<(String, String)>,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let mut invocation = SCRIPTS.create.key(key);
        invocation.arg(unix_millis(expires_at));
        if fields.is_empty() {
            invocation.arg(LIVE).arg(LIVE);
        }
        for (name, value) in &fields {
            invocation.arg(name.as_str()).arg(value.as_str());
        }
        let created: i64 = self
            .run(
                "cannot create the session in Redis",
                |mut conn| async move { invocation.invoke_async(&mut conn).await },
            )
            .await?;
        Ok(match created {
            1 => WriteOutcome::Applied,
            _ => WriteOutcome::KeyTaken,
        })
    }

    async fn delete_key(&self, key: &str) -> Result<(), StoreError> {
        self.run(
            "cannot delete the session from Redis",
            |mut conn| async move {
                redis::cmd("DEL")
                    .arg(key)
                    .query_async::<()>(&mut conn)
                    .await
            },
        )
        .await
    }
}

impl SessionStore for RedisStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        let key = self.redis_key(key);
        let invocation = SCRIPTS.load.key(&key);
        let loaded: Option<Vec<Value>> = self
            .run(
                "cannot load the session from Redis",
                |mut conn| async move { invocation.invoke_async(&mut conn).await },
            )
            .await?;
        let Some(mut values) = loaded else {
            return Ok(None);
        };
        let pttl: i64 = match values.pop() {
            Some(v) => redis::from_redis_value(&v).map_err(|err| {
                StoreError::corrupt("Redis answered a load in an unexpected shape", err)
            })?,
            None => return Ok(None),
        };
        Ok(record(pairs(values)?, pttl))
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let key = self.redis_key(key);
        self.create_fields(&key, changes.initial_fields(), changes.expires_at())
            .await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let key = self.redis_key(key);
        let mut invocation = SCRIPTS.save.key(&key);
        push_changes(&mut invocation, changes);
        let saved: i64 = self
            .run("cannot save the session to Redis", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        Ok(match saved {
            1 => WriteOutcome::Applied,
            _ => WriteOutcome::NotLive,
        })
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let key = self.redis_key(key);
        let moved: i64 = self
            .run("cannot extend the session in Redis", |mut conn| {
                let key = &key;
                async move {
                    redis::cmd("PEXPIREAT")
                        .arg(key)
                        .arg(unix_millis(expires_at))
                        .query_async(&mut conn)
                        .await
                }
            })
            .await?;
        Ok(match moved {
            1 => WriteOutcome::Applied,
            _ => WriteOutcome::NotLive,
        })
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let (old, new) = (self.redis_key(old), self.redis_key(new));
        if self.is_cluster() {
            return self.regenerate_on_cluster(&old, &new, changes).await;
        }
        let mut invocation = SCRIPTS.regenerate.key(&old);
        invocation.key(&new);
        push_changes(&mut invocation, changes);
        let moved: i64 = self
            .run(
                "cannot regenerate the session in Redis",
                |mut conn| async move { invocation.invoke_async(&mut conn).await },
            )
            .await?;
        Ok(match moved {
            1 => WriteOutcome::Applied,
            2 => WriteOutcome::KeyTaken,
            _ => WriteOutcome::NotLive,
        })
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = self.redis_key(key);
        self.delete_key(&key).await
    }
}

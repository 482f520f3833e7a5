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

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Script, Value};
use time::OffsetDateTime;

use super::{ChangeSet, Record, SessionKey, SessionStore, StoreError, WriteOutcome};

/// The hash field that keeps a session with no fields alive: a Redis hash
/// with no field does not exist. Session fields are always `namespace.name`,
/// so the empty name is free. Loads never show it.
const LIVE: &str = "";

/// The most times a Cluster regenerate starts over when another request
/// changes the old session while it moves.
const CLUSTER_MOVE_ATTEMPTS: usize = 3;

/// Lua shared by the write scripts: the `i64` rule of `Increment::apply_to`
/// and applying a change set laid out in `ARGV` as
/// `"expires_ms n_sets n_removals n_increments", (field, json)*, field*,
/// (field, "delta" | "delta,initial")*` (an `initial` of 0 is left out).
const LUA_APPLY: &str = r#"
local MAX, MIN = '9223372036854775807', '-9223372036854775808'

local function trim(s)
  -- What Rust's `char::is_whitespace` trims, in UTF-8.
  local WS = { ' ', '\t', '\n', '\v', '\f', '\r', '\194\133', '\194\160', '\225\154\128',
    '\226\128\128', '\226\128\129', '\226\128\130', '\226\128\131', '\226\128\132',
    '\226\128\133', '\226\128\134', '\226\128\135', '\226\128\136', '\226\128\137',
    '\226\128\138', '\226\128\168', '\226\128\169', '\226\128\175', '\226\129\159',
    '\227\128\128' }
  local again = true
  while again do
    again = false
    for _, w in ipairs(WS) do
      local n = #w
      if #s >= n and string.sub(s, 1, n) == w then s = string.sub(s, n + 1); again = true end
      if #s >= n and string.sub(s, #s - n + 1) == w then s = string.sub(s, 1, #s - n); again = true end
    end
  end
  return s
end

-- The canonical text of `s` read as an i64 the way Rust's
-- `s.trim().parse::<i64>()` reads it, or nil. Never a Lua number.
local function int64(s)
  if not s then return nil end
  if (#s < 19 and string.find(s, '^%-?[1-9]%d*$')) or s == '0' then return s end
  local sign, digits = string.match(trim(s), '^([+-]?)(%d+)$')
  if not digits then return nil end
  digits = string.match(digits, '^0*(%d*)$')
  if digits == '' then return '0' end
  local limit = (sign == '-') and '9223372036854775808' or '9223372036854775807'
  if #digits > 19 then return nil end
  if #digits == 19 then
    for i = 1, 19 do
      local a, b = string.byte(digits, i), string.byte(limit, i)
      if a < b then break end
      if a > b then return nil end
    end
  end
  if sign == '-' then return '-' .. digits end
  return digits
end

local function increment(k, f, delta, initial)
  -- The common case in one command: a stored integer in Redis's own (and
  -- canonical) form, or an absent field where `initial` is 0. Anything
  -- else (text, a non-canonical integer, an overflow) is an error here and
  -- takes the careful path.
  if initial == '0' then
    local r = redis.pcall('HINCRBY', k, f, delta)
    if type(r) ~= 'table' or not r.err then return end
  end
  local stored = redis.call('HGET', k, f)
  local base = int64(stored) or initial
  if base ~= stored then redis.call('HSET', k, f, base) end
  local r = redis.pcall('HINCRBY', k, f, delta)
  if type(r) == 'table' and r.err then
    if string.sub(delta, 1, 1) == '-' then
      redis.call('HSET', k, f, MIN)
    else
      redis.call('HSET', k, f, MAX)
    end
  end
end

-- Runs `cmd k ARGV[from..to]` in chunks of `step` arguments, within what
-- `unpack` can spread.
local function each(cmd, k, from, to, step)
  while from <= to do
    local last = math.min(from + step - 1, to)
    redis.call(cmd, k, unpack(ARGV, from, last))
    from = last + 1
  end
end

local function apply(k)
  local expires, ns, nr, ni = string.match(ARGV[1], '^(%-?%d+) (%d+) (%d+) (%d+)$')
  ns, nr, ni = tonumber(ns), tonumber(nr), tonumber(ni)
  local i = 2
  each('HSET', k, i, i + 2 * ns - 1, 1000)
  i = i + 2 * ns
  each('HDEL', k, i, i + nr - 1, 1000)
  i = i + nr
  for _ = 1, ni do
    local delta, initial = string.match(ARGV[i + 1], '^([^,]+),?(.*)$')
    if initial == '' then initial = '0' end
    increment(k, ARGV[i], delta, initial)
    i = i + 2
  end
  if nr > 0 and redis.call('HLEN', k) == 0 then redis.call('HSET', k, '', '') end
  redis.call('PEXPIREAT', k, expires)
end
"#;

/// Load: `KEYS[1]`. Answers `false` (no such key) or
/// `{field, value, ..., pttl}`: the fields and the remaining time together,
/// in one command, read atomically.
const LUA_LOAD: &str = r#"
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
h[#h + 1] = redis.call('PTTL', KEYS[1])
return h
"#;

/// Create: `KEYS[1]`; `ARGV`: `expires_ms, (field, json)+`.
/// Answers 1 (created) or 0 (taken).
const LUA_CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local from = 2
while from <= #ARGV do
  local last = math.min(from + 999, #ARGV)
  redis.call('HSET', KEYS[1], unpack(ARGV, from, last))
  from = last + 1
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"#;

/// Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`. Answers 1 (applied) or 0 (not
/// live).
const LUA_SAVE_TAIL: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
apply(KEYS[1])
return 1
"#;

/// Regenerate on one server: `KEYS[1]` old, `KEYS[2]` new; `ARGV` as in
/// `LUA_APPLY`. Answers 1 (applied), 0 (old not live) or 2 (new taken).
const LUA_REGENERATE_TAIL: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('RENAME', KEYS[1], KEYS[2])
apply(KEYS[2])
return 1
"#;

/// A digest of a hash's fields, independent of their order.
const LUA_DIGEST: &str = r#"
local function digest(h)
  local names = {}
  local values = {}
  for i = 1, #h, 2 do
    names[#names + 1] = h[i]
    values[h[i]] = h[i + 1]
  end
  table.sort(names)
  local parts = {}
  for _, n in ipairs(names) do
    parts[#parts + 1] = #n .. ':' .. n .. #values[n] .. ':' .. values[n]
  end
  return redis.sha1hex(table.concat(parts))
end
"#;

/// Cluster regenerate, step 1: `KEYS[1]` old. Answers `false` (gone) or
/// `{digest, pttl, field, value, ...}`.
const LUA_SNAPSHOT_TAIL: &str = r#"
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local out = { digest(h), redis.call('PTTL', KEYS[1]) }
for i = 1, #h do out[#out + 1] = h[i] end
return out
"#;

/// Cluster regenerate, step 3: `KEYS[1]` old; `ARGV[1]` the digest of step 1.
/// Answers 1 (deleted), 0 (gone) or 2 (changed meanwhile).
const LUA_RETIRE_TAIL: &str = r#"
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return 0 end
if digest(h) ~= ARGV[1] then return 2 end
redis.call('DEL', KEYS[1])
return 1
"#;

struct Scripts {
    load: Script,
    create: Script,
    save: Script,
    regenerate: Script,
    snapshot: Script,
    retire: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    load: Script::new(LUA_LOAD),
    create: Script::new(LUA_CREATE),
    save: Script::new(&format!("{LUA_APPLY}{LUA_SAVE_TAIL}")),
    regenerate: Script::new(&format!("{LUA_APPLY}{LUA_REGENERATE_TAIL}")),
    snapshot: Script::new(&format!("{LUA_DIGEST}{LUA_SNAPSHOT_TAIL}")),
    retire: Script::new(&format!("{LUA_DIGEST}{LUA_RETIRE_TAIL}")),
});

/// One connection to a server, or to a Cluster, behind one face.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

struct Inner {
    connection: Connection,
    prefix: Box<str>,
    command_timeout: Duration,
    connect_timeout: Duration,
}

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
            return Err(StoreError::msg(
                "the Redis key prefix must not contain `{` or `}`, which Redis Cluster reads as a hash tag",
            ));
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
                return Err(StoreError::new(
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
        let client = redis::Client::open(self.url.as_str())
            .map_err(|err| StoreError::new("the Redis URL is not valid", err))?;
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
            .map_err(|err| StoreError::new("cannot connect to Redis", err))?;
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
            return Err(StoreError::msg(
                "a `redis+cluster://` URL needs at least one `host:port`",
            ));
        }
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.command_timeout)
            .retries(2)
            .min_retry_wait(20)
            .max_retry_wait(200)
            .build()
            .map_err(|err| StoreError::new("the Redis Cluster URL is not valid", err))?;
        let connection = client
            .get_async_connection()
            .await
            .map_err(|err| StoreError::new("cannot connect to the Redis Cluster", err))?;
        Ok(Connection::Cluster(connection))
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
        RedisStoreBuilder {
            url: url.into(),
            prefix: "session:".to_owned(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        }
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

    /// Runs one operation on a fresh handle of the connection, within the
    /// command timeout.
    async fn run<T, F, Fut>(&self, context: &'static str, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.inner.connection.clone();
        match tokio::time::timeout(self.inner.command_timeout, op(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(StoreError::new(context, err)),
            Err(elapsed) => Err(StoreError::new(
                "Redis did not answer within the command timeout",
                elapsed,
            )),
        }
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

    async fn regenerate_on_cluster(
        &self,
        old: &str,
        new: &str,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        for _ in 0..CLUSTER_MOVE_ATTEMPTS {
            // Step 1: the old session and the digest of its fields.
            let snapshot: Option<Vec<Value>> = self
                .run("cannot read the session to regenerate", |mut conn| {
                    let invocation = SCRIPTS.snapshot.key(old);
                    async move { invocation.invoke_async(&mut conn).await }
                })
                .await?;
            let Some(snapshot) = snapshot else {
                return Ok(WriteOutcome::NotLive);
            };
            let (digest, mut record) = parse_snapshot(snapshot)?;
            record.apply(changes);
            // Step 2: the new session, refused if the key is taken.
            match self
                .create_fields(new, record.into_fields(), changes.expires_at())
                .await?
            {
                WriteOutcome::Applied => {}
                other => return Ok(other),
            }
            // Step 3: retire the old session, if it is still as it was read.
            let retired = self
                .run("cannot retire the regenerated session", |mut conn| {
                    let mut invocation = SCRIPTS.retire.key(old);
                    invocation.arg(digest);
                    async move { invocation.invoke_async::<i64>(&mut conn).await }
                })
                .await;
            let retired = match retired {
                Ok(retired) => retired,
                Err(err) => {
                    // The old session may still be live: take the new one
                    // back, so that only one of them stays.
                    let _ = self.delete_key(new).await;
                    return Err(err);
                }
            };
            match retired {
                1 => return Ok(WriteOutcome::Applied),
                0 => {
                    // Ended meanwhile (a logout, another login): the new key
                    // must not keep it alive.
                    self.delete_key(new).await?;
                    return Ok(WriteOutcome::NotLive);
                }
                _ => {
                    // Changed meanwhile: move it again, with that change.
                    self.delete_key(new).await?;
                }
            }
        }
        Err(StoreError::msg(
            "the session kept changing while it was regenerated; try again",
        ))
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

/// A hash's fields as `HGETALL` answers them: names and values, as bytes.
type RawFields = Vec<(Vec<u8>, Vec<u8>)>;

/// Unix time in milliseconds, as `PEXPIREAT` takes it.
fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A field's text: session values are JSON, so UTF-8; anything else written
/// by another program is kept lossily, and its field then fails to decode and
/// falls back to its default.
fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

/// The record of a live key, from its fields and its remaining time in ms.
fn record(fields: RawFields, pttl_ms: i64) -> Option<Record> {
    // -2: no such key; -1: no expiry, which this store never writes: not a
    // session of ours.
    if fields.is_empty() || pttl_ms < 0 {
        return None;
    }
    let expires_at = OffsetDateTime::now_utc() + time::Duration::milliseconds(pttl_ms);
    let fields = fields
        .into_iter()
        .filter(|(name, _)| name.as_slice() != LIVE.as_bytes())
        .map(|(name, value)| (text(name), text(value)))
        .collect();
    Some(Record::new(fields, expires_at))
}

/// Reads `field, value, ...` as bytes.
fn pairs(values: Vec<Value>) -> Result<RawFields, StoreError> {
    let mut values = values.into_iter();
    let mut fields = Vec::with_capacity(values.len() / 2);
    while let (Some(name), Some(value)) = (values.next(), values.next()) {
        let bytes = |v: &Value| {
            redis::from_redis_value::<Vec<u8>>(v).map_err(|err| {
                StoreError::new("Redis answered a session field in an unexpected shape", err)
            })
        };
        fields.push((bytes(&name)?, bytes(&value)?));
    }
    Ok(fields)
}

/// Reads `{digest, pttl, field, value, ...}`.
fn parse_snapshot(values: Vec<Value>) -> Result<(String, Record), StoreError> {
    let bad = || StoreError::msg("Redis answered the regenerate snapshot in an unexpected shape");
    let mut values = values.into_iter();
    let digest: String = match values.next() {
        Some(v) => redis::from_redis_value(&v).map_err(|_| bad())?,
        None => return Err(bad()),
    };
    let pttl: i64 = match values.next() {
        Some(v) => redis::from_redis_value(&v).map_err(|_| bad())?,
        None => return Err(bad()),
    };
    let fields = pairs(values.collect())?;
    // A key with fields but no expiry is not ours; one that expired between
    // the two reads is gone.
    let record = record(fields, pttl.max(0)).ok_or_else(bad)?;
    Ok((digest, record))
}

/// Adds a change set to a script call, in the layout `LUA_APPLY` reads.
fn push_changes(invocation: &mut redis::ScriptInvocation<'_>, changes: &ChangeSet) {
    invocation.arg(format!(
        "{} {} {} {}",
        unix_millis(changes.expires_at()),
        changes.sets().len(),
        changes.removals().len(),
        changes.increments().len()
    ));
    for (name, json) in changes.sets() {
        invocation.arg(name).arg(json);
    }
    for name in changes.removals() {
        invocation.arg(name);
    }
    for inc in changes.increments() {
        invocation.arg(inc.key.as_ref());
        if inc.initial == 0 {
            invocation.arg(inc.delta);
        } else {
            invocation.arg(format!("{},{}", inc.delta, inc.initial));
        }
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
                StoreError::new("Redis answered a load in an unexpected shape", err)
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

//! [`RedisStore`]: sessions in Redis or Valkey, on one server or on a Cluster.
//!
//! # Layout
//!
//! One Redis hash per session, under the key `{prefix}{<digest>}`: the key
//! prefix (default `session:`) and the SHA-256 digest of the session ID
//! (URL-safe base64, 43 characters: it travels in every command, and hex
//! would cost 21 bytes more each time) in braces, a Cluster *hash tag*, so
//! that everything about one session lives in one hash slot. Each session
//! field (`"cart.items"`) is one hash field holding its JSON text; the
//! session's expiry is the key's own TTL (`PEXPIRE`, see [Expiry](#expiry)),
//! so Redis drops expired sessions by itself and no sweeper is needed. Every
//! key this store writes has a TTL; a key without one is not a session of
//! this store, and never loads, saves or regenerates.
//!
//! # Round trips
//!
//! | operation | what goes to Redis | round trips |
//! | --- | --- | --- |
//! | load | `HGETALL` + `PTTL`, pipelined (no script) | 1 |
//! | create | a script: `EXISTS`, then `HSET` + `PEXPIRE` (a session with no user: a shorter script, without the index guard) | 1 (2 when it binds a user) |
//! | save | a script: `PTTL`, then `HSET` of the changed fields, `HDEL` of the removed ones, the increments, `PEXPIRE` (a change set of counters alone that keeps the expiry: a shorter script, `PTTL` and `HINCRBY`) | 1 |
//! | touch | a script: `PTTL`, then `PEXPIRE` | 1 |
//! | regenerate | a script: `PTTL` of the old key, `EXISTS` of the new, `RENAME`, then as save | 1 (3 on Cluster); +2 for a session bound to a user |
//! | delete | a script: `HGET` of the user, `DEL` | 1 (2 for a session bound to a user) |
//! | a user's sessions | the user's index, then every session it names, at once | 2 |
//! | end a user's sessions | the index, then a revoke script per session, at once, then `ZREM` | 3 |
//!
//! A session bound to a user costs one more round trip, now and then, on a
//! save or touch that moves its expiry past what the user's index holds
//! (about once per inactivity window; see
//! [Sessions of a user](#sessions-of-a-user)).
//!
//! Scripts are sent by digest (`EVALSHA`); a server that has not seen a
//! script yet answers `NOSCRIPT` once, and the script is loaded then. A save
//! names only the fields that changed: an unchanged field never travels.
//!
//! # Expiry
//!
//! The store is given an instant (`expires_at`, by the app machine's clock)
//! and sends Redis the time left until it, in milliseconds, computed just
//! before the command goes out: `PEXPIRE key <ms>`, never `PEXPIREAT key
//! <unix ms>`. Redis starts that TTL on its own clock. App machines whose
//! clocks disagree with each other, or with Redis, therefore all give a
//! session the same lifetime: an app machine five minutes fast would, with
//! an absolute `PEXPIREAT`, end every session it saves five minutes early
//! (and one five minutes slow, late). A load reads the TTL back (`PTTL`) and
//! turns it into an instant on the loading machine's clock, so the round
//! trip is relative both ways. What this costs: the TTL starts when Redis
//! runs the command, not when it was computed, so a session lives longer by
//! the command's time in flight (at most the command timeout, usually well
//! under a millisecond). An instant already past is sent as 0, which Redis
//! treats as "expired now" and deletes the key.
//!
//! Clock skew can still matter outside the store: the layer's absolute
//! lifetime (`absolute_lifetime(..)`) compares the session's creation time
//! with the clock of whichever machine serves the request.
//!
//! # Memory limits and floods of new visitors
//!
//! Each new visitor whose request writes (a counter, say) creates a session
//! key: about 136 bytes for a one-counter session, which lives for the
//! inactivity timeout (24 hours by default). A flood of cookie-less requests
//! from a script therefore fills Redis at the rate it is sent: at the 25,000
//! new visitors a second one app instance serves (BENCHMARKS.md), about
//! 3.4 MB a second, 12 GB an hour. What happens at Redis's `maxmemory`
//! depends on its `maxmemory-policy`:
//!
//! - **`noeviction`** (Redis's default): Redis refuses every command that
//!   would grow memory (`OOM command not allowed`). A new session cannot be
//!   created and a save that writes fails, so those responses become `500`
//!   ([`SaveError::Store`](crate::SaveError::Store)) and nothing is stored.
//!   Established sessions still load (a load only reads) and read-only
//!   requests still answer `200`; a logout (`DEL`) still works. Nobody is
//!   logged out, but a visitor without a stored session cannot log in (that
//!   creates one) until memory frees. (On one server, a login from a stored
//!   session still goes through: its move is a `RENAME`, which Redis allows
//!   past the limit, and a script that has written may finish. On a
//!   Cluster, where that move creates a key, it fails too.)
//! - **`volatile-lru`** / **`allkeys-lru`**: Redis evicts the keys used
//!   least recently (an approximation over a sample). A flood session is
//!   used once, so it ages quickly; but a real user idle since before the
//!   flood is older still and goes first: that user is logged out.
//! - **`volatile-lfu`** / **`allkeys-lfu`**: Redis evicts the keys used
//!   least *often* (a counter that decays over minutes). A flood session,
//!   used once, has the lowest count; a user active over several requests
//!   has a higher one and stays. The flood mostly evicts itself.
//! - **`volatile-ttl`**: Redis evicts the keys nearest their expiry. Every
//!   new flood session has a full TTL, and an established user's session,
//!   whose TTL is moved only every so often (`extend_after`), has less: this
//!   policy evicts real users before the flood. Avoid it for sessions.
//! - **`volatile-random`** / **`allkeys-random`**: any session may go.
//!
//! Every key this store writes carries a TTL, so the `volatile-*` policies
//! apply to all of them: on a Redis that sessions share with data that must
//! never be evicted (and has no TTL), `volatile-*` evicts only keys with a
//! TTL, and on a Redis of sessions only, `volatile-*` and `allkeys-*` are
//! the same. **The recommended policy is `volatile-lfu`**: writes keep
//! working under a flood, the sessions Redis drops are mostly the flood's
//! own, and data without a TTL is never touched. Choose `noeviction`
//! instead where losing a session (a user logged out) is worse than failing
//! writes, and monitor `used_memory` either way. Set `maxmemory` with room
//! for the sessions you expect (the live sessions at peak, times their size).
//!
//! A policy only decides who loses; a limit on new sessions keeps the flood
//! out. Its place is a tower layer *before* the session layer (added after
//! it, so it runs first), where a request without a session cookie can be
//! refused before any session work. This one allows a number of cookie-less
//! requests per window for the whole process and answers the rest `429`;
//! requests that carry a session cookie pass:
//!
//! ```
//! use std::sync::{Arc, Mutex, PoisonError};
//! use std::time::{Duration, Instant};
//!
//! use axum::body::Body;
//! use axum::extract::{Request, State};
//! use axum::http::{header, StatusCode};
//! use axum::middleware::{self, Next};
//! use axum::response::{IntoResponse, Response};
//! use axum::{routing::post, Router};
//! use session_kit::{Key, MemoryStore, Session, SessionLayer, SessionStore};
//! use tower::ServiceExt as _;
//!
//! /// At most `limit` requests without a session cookie in each `window`.
//! #[derive(Clone)]
//! struct NewVisitorBudget {
//!     limit: u32,
//!     window: Duration,
//!     spent: Arc<Mutex<(Instant, u32)>>,
//! }
//!
//! impl NewVisitorBudget {
//!     fn new(limit: u32, window: Duration) -> Self {
//!         let spent = Arc::new(Mutex::new((Instant::now(), 0)));
//!         Self { limit, window, spent }
//!     }
//!
//!     fn take(&self) -> bool {
//!         let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
//!         if spent.0.elapsed() >= self.window {
//!             *spent = (Instant::now(), 0);
//!         }
//!         spent.1 = spent.1.saturating_add(1);
//!         spent.1 <= self.limit
//!     }
//! }
//!
//! fn has_session_cookie(req: &Request) -> bool {
//!     req.headers().get_all(header::COOKIE).iter().any(|value| {
//!         value
//!             .as_bytes()
//!             .split(|&b| b == b';')
//!             .any(|pair| pair.trim_ascii_start().starts_with(b"sid="))
//!     })
//! }
//!
//! async fn limit_new_visitors(
//!     State(budget): State<NewVisitorBudget>,
//!     req: Request,
//!     next: Next,
//! ) -> Response {
//!     if has_session_cookie(&req) || budget.take() {
//!         return next.run(req).await;
//!     }
//!     let retry = [(header::RETRY_AFTER, "60")];
//!     (StatusCode::TOO_MANY_REQUESTS, retry, "too many new visitors; try again shortly")
//!         .into_response()
//! }
//!
//! #[derive(Session, Default)]
//! struct Visits {
//!     #[session(counter)]
//!     n: i64,
//! }
//!
//! fn app(store: impl SessionStore, budget: NewVisitorBudget) -> Router {
//!     Router::new()
//!         .route("/", post(|mut v: Session<Visits>| async move { v.n += 1; v.n.to_string() }))
//!         .layer(SessionLayer::new(store, Key::generate()))
//!         // Added last, so it runs first: before any session work.
//!         .layer(middleware::from_fn_with_state(budget, limit_new_visitors))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // `RedisStore::connect(..)` in production; any store works the same here.
//! let app = app(MemoryStore::new(), NewVisitorBudget::new(2, Duration::from_secs(3600)));
//! let post = |cookie: Option<&str>| {
//!     let req = Request::post("/");
//!     let req = match cookie {
//!         Some(cookie) => req.header(header::COOKIE, cookie),
//!         None => req,
//!     };
//!     app.clone().oneshot(req.body(Body::empty()).expect("a request"))
//! };
//! let first = post(None).await.expect("infallible");
//! assert_eq!(first.status(), StatusCode::OK);
//! let cookie = first.headers()[header::SET_COOKIE].to_str().expect("ASCII");
//! let cookie = cookie.split(';').next().expect("name=value").to_owned();
//! assert_eq!(post(None).await.expect("infallible").status(), StatusCode::OK);
//! // The budget is spent: a third new visitor waits...
//! assert_eq!(post(None).await.expect("infallible").status(), StatusCode::TOO_MANY_REQUESTS);
//! // ...and a visitor with a session goes on.
//! assert_eq!(post(Some(&cookie)).await.expect("infallible").status(), StatusCode::OK);
//! # }
//! ```
//!
//! A client can get past that check by sending any `sid` cookie: one that
//! does not verify costs no store read, but a handler that writes still
//! creates a session for it. To count those too, put the same budget
//! *inside* the session layer (added before it), where
//! [`SessionHandle::is_new`](crate::SessionHandle::is_new) tells a request
//! with no valid, live session; it costs nothing more, since the handler's
//! own load is the one it uses:
//!
//! ```
//! # use axum::{extract::Request, http::StatusCode, middleware::{self, Next}, response::{IntoResponse, Response}, routing::get, Router};
//! # use session_kit::{Key, MemoryStore, SessionHandle, SessionLayer};
//! # fn budget_allows_one_more() -> bool { true }
//! async fn limit_new_sessions(handle: SessionHandle, req: Request, next: Next) -> Response {
//!     if !handle.is_new() || budget_allows_one_more() {
//!         return next.run(req).await;
//!     }
//!     (StatusCode::TOO_MANY_REQUESTS, "too many new visitors; try again shortly").into_response()
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(middleware::from_fn(limit_new_sessions)) // inside: runs after the layer
//!     .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
//! # let _ = app;
//! ```
//!
//! A limit per client address (behind a proxy, from the header it sets) is
//! the usual next step; it goes in the same place.
//!
//! # TLS
//!
//! With the `redis-tls` feature, `rediss://host:port[/db]` connects over TLS
//! (rustls), and `rediss+cluster://host:port,host:port,...` connects to a
//! Cluster whose nodes all speak TLS (started with `tls-cluster yes`, so
//! that they announce their TLS ports). The server's certificate is checked
//! against the system's root certificates (the file named by `SSL_CERT_FILE`
//! instead, when that is set), or against the CA given to
//! [`RedisStoreBuilder::tls_root_certificate`]; a client certificate for a
//! server that asks for one (`tls-auth-clients yes`) is given with
//! [`RedisStoreBuilder::tls_client_certificate`]. With the
//! `redis-tls-insecure` feature too, the redis crate's `#insecure` fragment
//! (`rediss://127.0.0.1:6380/#insecure`) turns verification off, for a
//! self-signed certificate in development. Without the feature, a `rediss`
//! URL fails at connect with an error that names it.
//!
//! rustls needs one process-wide cryptography provider: unless the app
//! installs its own before a `rediss` store connects, ring's is installed.
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
//! # Sessions of a user
//!
//! The per-user index ([`SessionStore::user_sessions`] and
//! [`SessionStore::delete_user_sessions`]) is one sorted set per user,
//! under `{prefix}user:{<digest>}` (the SHA-256 digest of the user's JSON
//! text, in braces: a hash slot of the index's own). Its members are the
//! digests of the user's session keys, each scored by the instant (ms, on
//! the index's server's clock) until which the index *holds* it. Redis TTLs
//! do not remove set members, so the index is trimmed by that score: every
//! write and read of the index first drops the members whose hold has
//! passed, and the index key's own TTL is its longest hold, so the index of
//! a user who never comes back goes by itself.
//!
//! What keeps it complete is one rule: **a session bound to a user never
//! outlives its hold in the user's index.** Each such session carries a
//! hidden hash field, `@ix`, the instant its hold ends as the session last
//! learned it; every write script (create, save, touch, regenerate) checks
//! it, and a write that would bind a session anew, or move its expiry past
//! its hold, writes nothing and answers "index first". The store then adds
//! the session to the index, held for twice its time left plus a margin of
//! a minute (for the command's time in flight and for two servers' clocks),
//! and sends the write again, telling the session a minute less than the
//! index holds. So the index is written *before* the session it covers, and
//! a member whose hold has passed names a session that has expired:
//! trimming by score never drops a live session. Doubling the hold means a
//! session in use goes back to the index about once per inactivity window.
//!
//! Removals are the other way round and lazy: a logout, a regeneration or
//! an unbinding removes the old member after the session write, and a
//! member left behind (the app died in between, or a `ZREM` failed) names a
//! session that is gone or bound to someone else. Every read checks each
//! member against its session (loaded at once, in one batch of commands):
//! only a live session whose `@user` is the user is listed, and the others
//! are removed from the index then.
//!
//! "Log out everywhere" reads the index, deletes each session it names that
//! is still bound to the user (a script per session, so a session rebound
//! meanwhile is left alone), and reads the index again, until it names no
//! session it has not revoked. A login racing it puts its new key in the
//! index before the key exists, so either the new key is in a later round,
//! or the old key was deleted first and the login finds it gone
//! ([`WriteOutcome::NotLive`]), and the layer then keeps the user logged
//! out. A slow request on a revoked session finds it gone and writes
//! nothing; if it had already asked for the index, it takes its member out
//! again.
//!
//! **On a Cluster** the index and the user's sessions live in different
//! hash slots (the index's slot is the user's digest, each session's its
//! own key's), usually on different nodes, and no command touches both:
//! every step above is a script on one key, on that key's node, and the
//! order of the steps (index first, removals after) is what keeps the
//! index correct, not a transaction. On one server the same steps run, in
//! the same order.
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
mod users;

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use redis::Value;
use time::OffsetDateTime;

pub use self::builder::RedisStoreBuilder;
use self::connection::{Connection, Inner};
use self::replies::{hash_pairs, record};
use self::scripts::{push_changes, ttl_millis, SCRIPTS, UNBOUND_CREATE_FIELDS};
use self::users::bound_in;
use super::{ChangeSet, Record, SessionKey, SessionStore, StoreError, WriteOutcome, USER_FIELD};

/// The hash field that keeps a session with no fields alive: a Redis hash
/// with no field does not exist. Session fields are always `namespace.name`,
/// so the empty name is free. Loads never show it.
const LIVE: &str = "";

/// The hash field of a session bound to a user that says until when the
/// user's index holds it (ms, on the server's clock; see
/// [Sessions of a user](self#sessions-of-a-user)). Loads never show it.
const INDEXED: &str = "@ix";

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
///
/// // Over TLS (the `redis-tls` feature): one server, or a Cluster.
/// # #[cfg(feature = "redis-tls")] {
/// let store = RedisStore::connect("rediss://redis.internal:6380").await?;
/// let cluster = RedisStore::connect("rediss+cluster://10.0.0.1:7000,10.0.0.2:7000").await?;
/// # let _ = (store, cluster);
/// # }
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
    /// `redis+cluster://[user:password@]host:port,host:port,...` for a
    /// Cluster (some of its nodes; the rest are found from them). With the
    /// `redis-tls` feature, `rediss://` and `rediss+cluster://` are the same
    /// over TLS (see [TLS](self#tls)).
    ///
    /// A `redis://` URL that reaches a node of a Cluster is refused here,
    /// with an error of kind [`Config`](crate::StoreErrorKind::Config) that
    /// names `redis+cluster://`, rather than failing at every login.
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

    /// Creates the session under `key` with `fields`, indexing it first
    /// when they bind it to a user.
    async fn create_fields(
        &self,
        key: &SessionKey,
        fields: Vec<(String, String)>,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let redis_key = self.redis_key(key);
        let unbound =
            fields.len() <= UNBOUND_CREATE_FIELDS && !fields.iter().any(|(n, _)| n == USER_FIELD);
        let created: i64 = if unbound {
            // No user, so no index to write first: the create without the
            // guard.
            let mut invocation = SCRIPTS.create_unbound.key(&redis_key);
            invocation.arg(ttl_millis(expires_at));
            push_fields(&mut invocation, &fields);
            self.invoke("cannot create the session in Redis", invocation)
                .await?
        } else {
            let bind = bound_in(fields.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            self.write_guarded(
                "cannot create the session in Redis",
                &Self::member(key),
                expires_at,
                bind,
                |cover| {
                    let mut invocation = SCRIPTS.create.key(&redis_key);
                    invocation.arg(ttl_millis(expires_at));
                    cover.push(&mut invocation);
                    push_fields(&mut invocation, &fields);
                    invocation
                },
            )
            .await?
            .0
        };
        Ok(match created {
            1 => WriteOutcome::Applied,
            _ => WriteOutcome::KeyTaken,
        })
    }

    /// Loads the session under a Redis key.
    async fn load_key(&self, key: &str) -> Result<Option<Record>, StoreError> {
        // Two plain commands in one round trip, not a script: a script call
        // costs Redis about 4 us more than the two reads it would run. The
        // pair needs no atomicity: a key that goes between the two (a
        // logout, a regenerate's `RENAME`, its expiry) answers `PTTL` -2 and
        // loads as no session, which is what a load just after it would
        // see; a `PTTL` moved between the two is the newer expiry.
        let (fields, pttl): (Value, i64) = self
            .run(
                "cannot load the session from Redis",
                |mut conn| async move {
                    redis::pipe()
                        .cmd("HGETALL")
                        .arg(key)
                        .cmd("PTTL")
                        .arg(key)
                        .query_async(&mut conn)
                        .await
                },
            )
            .await?;
        Ok(record(hash_pairs(fields)?, pttl))
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

/// Adds a new session's fields to a create script's call: `(field, json)*`,
/// or the [`LIVE`] field alone for a session with none (a Redis hash with
/// no field does not exist).
fn push_fields(invocation: &mut redis::ScriptInvocation<'_>, fields: &[(String, String)]) {
    if fields.is_empty() {
        invocation.arg(LIVE).arg(LIVE);
    }
    for (name, value) in fields {
        invocation.arg(name.as_str()).arg(value.as_str());
    }
}

impl SessionStore for RedisStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        self.load_key(&self.redis_key(key)).await
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.create_fields(key, changes.initial_fields(), changes.expires_at())
            .await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let redis_key = self.redis_key(key);
        if let Some(invocation) = scripts::bump(&redis_key, changes) {
            let applied: i64 = self
                .invoke("cannot save the session to Redis", invocation)
                .await?;
            return Ok(if applied == 1 {
                WriteOutcome::Applied
            } else {
                WriteOutcome::NotLive
            });
        }
        let member = Self::member(key);
        let (saved, cover) = self
            .write_guarded(
                "cannot save the session to Redis",
                &member,
                changes.expires_at(),
                bound_in(changes.sets()),
                |cover| {
                    let mut invocation = SCRIPTS.save.key(&redis_key);
                    push_changes(&mut invocation, changes);
                    cover.push(&mut invocation);
                    invocation
                },
            )
            .await?;
        if saved == 1 {
            return Ok(WriteOutcome::Applied);
        }
        // Ended meanwhile: what this write added to the index goes again.
        if let Some(json) = cover.user_json() {
            self.unindex(json, &[member]).await;
        }
        Ok(WriteOutcome::NotLive)
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let redis_key = self.redis_key(key);
        let member = Self::member(key);
        let (moved, cover) = self
            .write_guarded(
                "cannot extend the session in Redis",
                &member,
                expires_at,
                None,
                |cover| {
                    let mut invocation = SCRIPTS.touch.key(&redis_key);
                    invocation.arg(ttl_millis(expires_at));
                    cover.push(&mut invocation);
                    invocation
                },
            )
            .await?;
        if moved == 1 {
            return Ok(WriteOutcome::Applied);
        }
        if let Some(json) = cover.user_json() {
            self.unindex(json, &[member]).await;
        }
        Ok(WriteOutcome::NotLive)
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        if self.is_cluster() {
            return self.regenerate_on_cluster(old, new, changes).await;
        }
        let (old_key, new_key) = (self.redis_key(old), self.redis_key(new));
        let new_member = Self::member(new);
        let (moved, cover) = self
            .write_guarded(
                "cannot regenerate the session in Redis",
                &new_member,
                changes.expires_at(),
                bound_in(changes.sets()),
                |cover| {
                    let mut invocation = SCRIPTS.regenerate.key(&old_key);
                    invocation.key(&new_key);
                    push_changes(&mut invocation, changes);
                    cover.push(&mut invocation);
                    invocation
                },
            )
            .await?;
        let outcome = match moved {
            1 => WriteOutcome::Applied,
            2 => WriteOutcome::KeyTaken,
            _ => WriteOutcome::NotLive,
        };
        if let Some(json) = cover.user_json() {
            match outcome {
                // The old key is gone: so is its index entry.
                WriteOutcome::Applied => self.unindex(json, &[Self::member(old)]).await,
                // Nothing moved: the new key's entry goes again (a taken
                // key belongs to another session, whose entry stays).
                WriteOutcome::NotLive => self.unindex(json, &[new_member]).await,
                _ => {}
            }
        }
        Ok(outcome)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let redis_key = self.redis_key(key);
        let user: Option<String> = self
            .invoke(
                "cannot delete the session from Redis",
                SCRIPTS.delete.key(&redis_key),
            )
            .await?;
        if let Some(json) = user {
            self.unindex(&json, &[Self::member(key)]).await;
        }
        Ok(())
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        self.sessions_of(user).await
    }

    async fn delete_user_sessions(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        self.revoke_user(user, keep).await
    }
}

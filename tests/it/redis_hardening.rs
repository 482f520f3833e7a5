//! `RedisStore` where Redis is not as the app expects: a node of a Cluster
//! behind a single-server URL, keys with no expiry, a memory limit reached
//! by a flood of new visitors, and expiry that must not depend on the app
//! machine's clock.
//!
//! Each test starts the `redis-server` processes it needs (a plain server
//! with settings of its own, a three-master Cluster) on free loopback ports.
//! Without `redis-server` the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.

use crate::common;
use crate::redis_support;

use std::sync::OnceLock;

use axum::routing::{get, post};
use axum::Router;
use common::{Browser, TestServer};
use redis_support::{Cluster, Missing, Server};
use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{
    Key, RedisStore, Session, SessionHandle, SessionId, SessionKey, SessionLayer, StoreErrorKind,
};
use time::{Duration, OffsetDateTime};

fn cluster() -> Result<&'static Cluster, &'static Missing> {
    static CLUSTER: OnceLock<Result<Cluster, Missing>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| redis_support::start_cluster(None))
        .as_ref()
}

async fn the_cluster() -> Option<&'static Cluster> {
    match tokio::task::spawn_blocking(cluster)
        .await
        .expect("start the cluster")
    {
        Ok(cluster) => Some(cluster),
        Err(why) => {
            common::skip_or_fail(&format!("no Redis Cluster to test on: {why}"));
            None
        }
    }
}

/// A plain `redis-server` of this test's own, started with `args`.
async fn own_server(args: &'static [&'static str]) -> Option<Server> {
    match tokio::task::spawn_blocking(move || redis_support::start_server(args))
        .await
        .expect("start redis-server")
    {
        Ok(server) => Some(server),
        Err(why) => {
            common::skip_or_fail(&format!("no redis-server to test on: {why}"));
            None
        }
    }
}

fn key() -> SessionKey {
    SessionId::generate().expect("an ID").key()
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

// A node of a Cluster behind `redis://`.

#[tokio::test]
async fn a_redis_url_that_reaches_a_cluster_node_is_refused_at_connect_naming_redis_cluster() {
    let Some(cluster) = the_cluster().await else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", cluster.ports[0]);
    let err = RedisStore::connect(&url)
        .await
        .expect_err("a single-server URL on a Cluster node must not connect");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{err:?}");
    let reason = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(reason.contains("`redis+cluster://"), "{reason}");
    // The Cluster itself is fine, by its own URL.
    let store = RedisStore::connect(&cluster.url())
        .await
        .expect("the Cluster URL connects");
    assert!(store.is_cluster());
}

#[tokio::test]
async fn a_lone_node_in_cluster_mode_is_refused_too_and_a_plain_server_is_not() {
    let Some(node) = own_server(&["--cluster-enabled", "yes"]).await else {
        return;
    };
    let err = RedisStore::connect(&node.url())
        .await
        .expect_err("a node in cluster mode must not connect as one server");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{err:?}");
    let Some(plain) = own_server(&[]).await else {
        return;
    };
    let store = RedisStore::connect(&plain.url())
        .await
        .expect("a plain server connects");
    assert!(!store.is_cluster());
}

// Keys with no expiry are not sessions.

/// Writes `key` as a hash with one field and no expiry, by hand.
fn write_without_expiry(conn: &mut impl redis::ConnectionLike, key: &str) {
    redis::cmd("HSET")
        .arg(key)
        .arg("a.x")
        .arg("\"by hand\"")
        .query::<()>(conn)
        .expect("HSET");
}

/// The key's remaining time and its `a.x`.
fn ttl_and_field(conn: &mut impl redis::ConnectionLike, key: &str) -> (i64, Option<String>) {
    let pttl = redis::cmd("PTTL").arg(key).query(conn).expect("PTTL");
    let field = redis::cmd("HGET")
        .arg(key)
        .arg("a.x")
        .query(conn)
        .expect("HGET");
    (pttl, field)
}

/// A key with no expiry neither loads, nor takes a save, nor moves under a
/// regenerate; it is left exactly as it was.
async fn a_key_without_expiry_is_not_a_session(
    store: &RedisStore,
    conn: &mut impl redis::ConnectionLike,
) {
    let (old, new) = (key(), key());
    let name = store.redis_key(&old);
    write_without_expiry(conn, &name);

    assert!(store.load(&old).await.expect("load").is_none());
    let changes = ChangeSet::new(in_an_hour()).set("a.x", "\"saved\"");
    assert_eq!(
        store.save(&old, &changes).await.expect("save"),
        WriteOutcome::NotLive
    );
    assert_eq!(
        store
            .regenerate(&old, &new, &changes)
            .await
            .expect("regenerate"),
        WriteOutcome::NotLive
    );
    assert!(store.load(&new).await.expect("load").is_none());
    let new_name = store.redis_key(&new);
    let exists: bool = redis::cmd("EXISTS")
        .arg(&new_name)
        .query(conn)
        .expect("EXISTS");
    assert!(!exists, "regenerate must not copy a key with no expiry");
    assert_eq!(
        ttl_and_field(conn, &name),
        (-1, Some("\"by hand\"".to_owned())),
        "the key is left as it was"
    );
}

#[tokio::test]
async fn on_a_cluster_a_key_without_expiry_never_loads_saves_or_regenerates() {
    let Some(cluster) = the_cluster().await else {
        return;
    };
    let store = RedisStore::builder(cluster.url())
        .key_prefix("no-expiry:")
        .connect()
        .await
        .expect("connect to the cluster");
    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let mut conn = tokio::task::spawn_blocking(move || {
        redis::cluster::ClusterClient::new(nodes)
            .expect("a cluster client")
            .get_connection()
            .expect("a cluster connection")
    })
    .await
    .expect("connect");
    // Several keys, so that they land on more than one node.
    for _ in 0..6 {
        a_key_without_expiry_is_not_a_session(&store, &mut conn).await;
    }
}

#[tokio::test]
async fn on_one_server_a_key_without_expiry_never_loads_saves_or_regenerates() {
    let Some(server) = own_server(&[]).await else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.expect("connect");
    let mut conn = redis_support::connect(server.port);
    a_key_without_expiry_is_not_a_session(&store, &mut conn).await;
}

// Expiry as a relative TTL.

/// The `calls=` of one command in `INFO commandstats`, 0 when never called.
fn calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(conn)
        .expect("INFO commandstats");
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().expect("a count"))
}

#[tokio::test]
async fn expiry_goes_to_redis_as_the_time_left_never_as_an_app_clock_instant() {
    let Some(server) = own_server(&[]).await else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.expect("connect");
    let mut conn = redis_support::connect(server.port);
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query::<()>(&mut conn)
        .expect("CONFIG RESETSTAT");

    let (first, second) = (key(), key());
    let changes = ChangeSet::new(in_an_hour()).set("a.x", "1");
    assert_eq!(
        store.create(&first, &changes).await.expect("create"),
        WriteOutcome::Applied
    );
    let changes = ChangeSet::new(in_an_hour()).increment("a.n", 1, 0);
    assert_eq!(
        store.save(&first, &changes).await.expect("save"),
        WriteOutcome::Applied
    );
    let later = OffsetDateTime::now_utc() + Duration::hours(2);
    assert_eq!(
        store.touch(&first, later).await.expect("touch"),
        WriteOutcome::Applied
    );
    assert_eq!(
        store
            .regenerate(&first, &second, &ChangeSet::new(in_an_hour()))
            .await
            .expect("regenerate"),
        WriteOutcome::Applied
    );

    assert_eq!(calls(&mut conn, "pexpireat"), 0, "no absolute expiry");
    assert!(
        calls(&mut conn, "pexpire") >= 4,
        "create, save, touch, regenerate"
    );
    // And the TTL Redis holds is the time that was left.
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.redis_key(&second))
        .query(&mut conn)
        .expect("PTTL");
    assert!(pttl > 0 && pttl <= 3_600_000, "{pttl}");
    let loaded = store.load(&second).await.expect("load").expect("live");
    assert!(loaded.expires_at() <= in_an_hour());
}

// A memory limit reached.

#[derive(session_kit::Session, Default)]
#[session(namespace = "hardening")]
struct Visits {
    #[session(counter)]
    n: i64,
}

fn counter_app(store: RedisStore) -> Router {
    let layer = SessionLayer::builder(store, Key::generate())
        .secure(false)
        .build()
        .expect("a layer");
    Router::new()
        .route(
            "/count",
            post(|mut v: Session<Visits>| async move {
                v.n += 1;
                v.n.to_string()
            })
            .get(|v: Session<Visits>| async move { v.n.to_string() }),
        )
        .route(
            "/login",
            post(|handle: SessionHandle, mut v: Session<Visits>| async move {
                v.n += 1;
                handle.regenerate();
                v.n.to_string()
            }),
        )
        .route(
            "/logout",
            post(|handle: SessionHandle| async move {
                handle.destroy();
                "Logged out"
            }),
        )
        .route("/", get(|| async { "no session here" }))
        .layer(layer)
}

/// Redis's `used_memory`.
fn used_memory(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(conn)
        .expect("INFO memory");
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("used_memory")
}

fn set_maxmemory(conn: &mut redis::Connection, bytes: u64) {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(bytes)
        .query::<()>(conn)
        .expect("CONFIG SET maxmemory");
}

/// Writes 1 MB of filler keys with no TTL, then sets `maxmemory` 256 KB
/// below what Redis uses: it stays over its limit whatever a request frees.
fn fill_past_the_limit(conn: &mut redis::Connection) {
    let filler = "x".repeat(1024);
    for i in 0..1024 {
        redis::cmd("SET")
            .arg(format!("filler:{i}"))
            .arg(&filler)
            .query::<()>(conn)
            .expect("SET filler");
    }
    let used = used_memory(conn);
    set_maxmemory(conn, used - 256 * 1024);
    let refused = redis::cmd("SET").arg("one-more").arg("x").query::<()>(conn);
    assert!(
        refused.is_err_and(|err| err.to_string().contains("OOM")),
        "Redis is past its limit"
    );
}

#[tokio::test]
async fn under_noeviction_writes_answer_500_and_established_sessions_still_load() {
    let Some(server) = own_server(&["--maxmemory-policy", "noeviction"]).await else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.expect("connect");
    let app = TestServer::start(counter_app(store)).await;
    let established = Browser::new();
    assert_eq!(
        established.post(&app.url("/count"), &[]).await,
        (200, "1".to_owned())
    );
    assert_eq!(
        established.get(&app.url("/count")).await,
        (200, "1".to_owned())
    );

    let mut conn = redis_support::connect(server.port);
    fill_past_the_limit(&mut conn);

    // A new visitor whose request writes cannot get a session: 500, and no
    // cookie for a session that was never stored.
    let newcomer = Browser::new();
    let (status, _) = newcomer.post(&app.url("/count"), &[]).await;
    assert_eq!(status, 500);
    assert_eq!(newcomer.cookies_for(&app.url("/")), None);
    // One that only reads is served; a login that would create a session
    // cannot.
    assert_eq!(
        newcomer.get(&app.url("/count")).await,
        (200, "0".to_owned())
    );
    let (status, _) = newcomer.post(&app.url("/login"), &[]).await;
    assert_eq!(status, 500);
    // An established session still loads, but cannot change.
    let (status, _) = established.post(&app.url("/count"), &[]).await;
    assert_eq!(status, 500);
    assert_eq!(
        established.get(&app.url("/count")).await,
        (200, "1".to_owned())
    );
    // On one server, a login from a stored session still goes through: the
    // move is a `RENAME`, which Redis allows past the limit, and a script
    // that has written may finish.
    assert_eq!(
        established.post(&app.url("/login"), &[]).await,
        (200, "2".to_owned())
    );
    assert_eq!(
        established.get(&app.url("/count")).await,
        (200, "2".to_owned())
    );
    // Logging out (a `DEL`) still works.
    assert_eq!(
        established.post(&app.url("/logout"), &[]).await,
        (200, "Logged out".to_owned())
    );
    assert_eq!(
        established.get(&app.url("/count")).await,
        (200, "0".to_owned())
    );
}

/// A flood of new sessions, straight to the store: how many creates failed.
async fn flood(store: &RedisStore, sessions: usize) -> usize {
    let padding = format!("\"{}\"", "p".repeat(1024));
    let mut failed = 0;
    for _ in 0..sessions {
        let changes = ChangeSet::new(in_an_hour()).set("flood.padding", padding.as_str());
        match store.create(&key(), &changes).await {
            Ok(WriteOutcome::Applied) => {}
            Ok(other) => panic!("a fresh key was refused: {other:?}"),
            Err(_) => failed += 1,
        }
    }
    failed
}

fn evicted_keys(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(conn)
        .expect("INFO stats");
    info.lines()
        .find_map(|line| line.strip_prefix("evicted_keys:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("evicted_keys")
}

#[tokio::test]
async fn under_an_evicting_policy_a_flood_evicts_sessions_and_every_write_succeeds() {
    let Some(server) = own_server(&[]).await else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.expect("connect");
    let mut conn = redis_support::connect(server.port);
    for policy in [
        "volatile-lfu",
        "volatile-lru",
        "allkeys-lru",
        "volatile-ttl",
    ] {
        redis::cmd("FLUSHALL")
            .query::<()>(&mut conn)
            .expect("FLUSHALL");
        set_maxmemory(&mut conn, 0); // no limit while setting up
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(policy)
            .query::<()>(&mut conn)
            .expect("CONFIG SET maxmemory-policy");
        redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query::<()>(&mut conn)
            .expect("CONFIG RESETSTAT");
        let used = used_memory(&mut conn);
        set_maxmemory(&mut conn, used + 512 * 1024);
        // About 2 MB of sessions into 512 KB of room.
        assert_eq!(
            flood(&store, 2_000).await,
            0,
            "{policy}: every create succeeds"
        );
        assert!(
            evicted_keys(&mut conn) > 0,
            "{policy}: Redis evicted sessions"
        );
    }
    // And the same flood under `noeviction` fails once the room is gone.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query::<()>(&mut conn)
        .expect("CONFIG SET maxmemory-policy");
    assert!(flood(&store, 2_000).await > 0, "noeviction: creates fail");
}

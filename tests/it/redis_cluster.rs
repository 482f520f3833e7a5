//! `RedisStore` on a real Redis Cluster: three masters started from the
//! `redis-server` binary on free loopback ports, in a temporary directory,
//! running the store conformance suite.
//!
//! The cluster is started once for this test binary and torn down when the
//! binary exits, whatever the tests did: a watchdog shell kills the servers
//! and removes the directory once this process is gone. Without
//! `redis-server` the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.

use crate::common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{RedisStore, SessionId};
use time::OffsetDateTime;

/// A running cluster: the ports of its masters, and the processes, which
/// the watchdog ends after this test binary.
struct Cluster {
    ports: Vec<u16>,
    _processes: Vec<Child>,
}

/// Why there is no cluster: what to print when skipping.
type Missing = String;

fn cluster() -> Result<&'static Cluster, &'static Missing> {
    static CLUSTER: OnceLock<Result<Cluster, Missing>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).as_ref()
}

fn has_binary(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A port that is free, and whose cluster bus port (+10000) is free too.
fn free_port_pair(taken: &[u16]) -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("an address").port();
        if port >= 55_535 || taken.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn start_cluster() -> Result<Cluster, Missing> {
    if !has_binary("redis-server") {
        return Err("`redis-server` is not on PATH".to_owned());
    }
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let dir = std::env::temp_dir().join(format!(
        "session-kit-cluster-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let mut ports = Vec::new();
    let mut processes = Vec::new();
    for _ in 0..3 {
        let port = free_port_pair(&ports);
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--cluster-node-timeout", "5000"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        ports.push(port);
        processes.push(child);
    }
    let pids: Vec<u32> = processes.iter().map(Child::id).collect();
    processes.push(watchdog(&pids, &dir));
    for port in &ports {
        wait_for(*port, |conn| {
            redis::cmd("PING").query::<String>(conn).is_ok()
        });
    }
    form_cluster(&ports);
    for port in &ports {
        wait_for(*port, |conn| {
            redis::cmd("CLUSTER")
                .arg("INFO")
                .query::<String>(conn)
                .is_ok_and(|info| info.contains("cluster_state:ok"))
        });
    }
    Ok(Cluster {
        ports,
        _processes: processes,
    })
}

/// Kills the servers and removes their directory once this process exits.
fn watchdog(pids: &[u32], dir: &Path) -> Child {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.2; done; kill {pids} 2>/dev/null; \
         sleep 0.5; kill -9 {pids} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        pids = pids.join(" "),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the cluster's watchdog")
}

fn connect(port: u16) -> Option<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .ok()?
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()
}

fn wait_for(port: u16, ready: impl Fn(&mut redis::Connection) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(mut conn) = connect(port) {
            if ready(&mut conn) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the cluster node on port {port} did not get ready in 30 s");
}

/// Assigns the 16384 slots to the three masters and joins them: with
/// `redis-cli --cluster create` where there is one, by hand otherwise.
fn form_cluster(ports: &[u16]) {
    if has_binary("redis-cli") {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        for port in ports {
            cmd.arg(format!("127.0.0.1:{port}"));
        }
        let status = cmd
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli");
        assert!(status.success(), "redis-cli --cluster create failed");
        return;
    }
    let per_node = 16_384 / ports.len();
    for (i, port) in ports.iter().enumerate() {
        let first = i * per_node;
        let last = if i + 1 == ports.len() {
            16_383
        } else {
            first + per_node - 1
        };
        let mut conn = connect(*port).expect("a node");
        redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(first)
            .arg(last)
            .query::<()>(&mut conn)
            .expect("CLUSTER ADDSLOTSRANGE");
    }
    let mut first = connect(ports[0]).expect("a node");
    for port in &ports[1..] {
        redis::cmd("CLUSTER")
            .arg("MEET")
            .arg("127.0.0.1")
            .arg(*port)
            .query::<()>(&mut first)
            .expect("CLUSTER MEET");
    }
}

/// A key prefix no other test uses.
fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("cluster-test:{}:", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn cluster_url(cluster: &Cluster) -> String {
    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    format!("redis+cluster://{}", nodes.join(","))
}

async fn make_store() -> Option<RedisStore> {
    let cluster = match tokio::task::spawn_blocking(cluster)
        .await
        .expect("start the cluster")
    {
        Ok(cluster) => cluster,
        Err(why) => {
            common::skip_or_fail(&format!("no Redis Cluster to test on: {why}"));
            return None;
        }
    };
    let store = RedisStore::builder(cluster_url(cluster))
        .key_prefix(unique_prefix())
        .connect()
        .await
        .expect("connect to the cluster");
    assert!(store.is_cluster());
    Some(store)
}

session_runtime::store_conformance_tests!(make_store);

/// Sessions spread over the masters (the hash tag is the digest, not the
/// prefix), and each session's reads and writes stay on one node.
#[tokio::test]
async fn sessions_spread_over_every_master() {
    let Some(store) = make_store().await else {
        return;
    };
    let cluster = cluster().expect("the cluster is up");
    let expires_at = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut keys = Vec::new();
    for _ in 0..30 {
        let key = SessionId::generate().expect("an ID").key();
        let changes = ChangeSet::new(expires_at).set("a.x", "1");
        assert_eq!(
            store.create(&key, &changes).await.expect("create"),
            WriteOutcome::Applied
        );
        keys.push(store.redis_key(&key));
    }
    let mut holders = Vec::new();
    for port in &cluster.ports {
        let mut conn = connect(*port).expect("a node");
        let held = keys
            .iter()
            .filter(|key| {
                redis::cmd("EXISTS")
                    .arg(key.as_str())
                    .query::<bool>(&mut conn)
                    .unwrap_or(false)
            })
            .count();
        holders.push(held);
    }
    assert_eq!(holders.iter().sum::<usize>(), keys.len(), "{holders:?}");
    assert!(
        holders.iter().all(|&n| n > 0),
        "every master holds sessions: {holders:?}"
    );
}

/// The HTTP suite, every case, on the cluster.
mod http {
    use super::make_store;

    session_runtime::store_http_tests!(make_store);
}

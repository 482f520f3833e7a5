//! `RedisStore` on a real Redis Cluster: three masters started from the
//! `redis-server` binary on free loopback ports, in a temporary directory,
//! running the store conformance suite.
//!
//! The cluster is started once for this test binary and torn down when the
//! binary exits, whatever the tests did: a watchdog shell kills the servers
//! and removes the directory once this process is gone. Without
//! `redis-server` the tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.

use std::sync::OnceLock;

use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{RedisStore, SessionId};
use time::OffsetDateTime;

use crate::common;
use crate::redis_support::{self, connect, unique_prefix, Cluster, Missing};

/// The cluster of this test binary, started at its first use.
fn cluster() -> Result<&'static Cluster, &'static Missing> {
    static CLUSTER: OnceLock<Result<Cluster, Missing>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| redis_support::start_cluster(None))
        .as_ref()
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
    let store = RedisStore::builder(cluster.url())
        .key_prefix(unique_prefix("cluster"))
        .connect()
        .await
        .expect("connect to the cluster");
    assert!(store.is_cluster());
    Some(store)
}

session_runtime::store_conformance_tests!(make_store);

/// The per-user index, its sorted set in a slot of its own.
mod users {
    use super::make_store;

    session_runtime::user_index_conformance_tests!(make_store);
}

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
        let mut conn = connect(*port);
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

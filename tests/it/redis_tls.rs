//! `RedisStore` over TLS: `rediss://` on one server and `rediss+cluster://`
//! on a three-master Cluster, each a `redis-server` this test binary starts
//! with `--port 0` and `--tls-port`, with a CA and certificates made at test
//! time (rcgen). The store conformance suite runs on both; then what is
//! particular to TLS (the certificate is really checked, a client
//! certificate, `#insecure`), and the examples given `rediss://`.
//!
//! Without `redis-server`, or with one built without TLS, the tests print
//! `SKIPPED: ...` and pass, unless `SESSION_KIT_REQUIRE_SERVERS=1`, where
//! they fail: a Redis that cannot speak TLS would leave this whole file
//! untested, which is what that variable exists to catch.

use crate::common;
use crate::examples_process::example;
use crate::redis_support::{self, unique_prefix};

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use redis_support::{Certs, Cluster, Missing, Server};
use session_kit::store::{ChangeSet, SessionStore, WriteOutcome};
use session_kit::{RedisStore, RedisStoreBuilder, SessionId, StoreErrorKind};
use time::OffsetDateTime;

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(Certs::new)
}

/// One TLS server for the binary; clients may present a certificate.
fn server() -> Result<&'static Server, &'static Missing> {
    static SERVER: OnceLock<Result<Server, Missing>> = OnceLock::new();
    SERVER
        .get_or_init(|| redis_support::start_tls_server(certs(), "optional"))
        .as_ref()
}

/// One TLS Cluster for the binary.
fn cluster() -> Result<&'static Cluster, &'static Missing> {
    static CLUSTER: OnceLock<Result<Cluster, Missing>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| redis_support::start_cluster(Some(certs())))
        .as_ref()
}

async fn blocking<T: Send + 'static>(f: fn() -> Result<T, &'static Missing>) -> Option<T> {
    match tokio::task::spawn_blocking(f)
        .await
        .expect("start redis-server")
    {
        Ok(value) => Some(value),
        Err(why) => {
            common::skip_or_fail(&format!("no Redis over TLS to test on: {why}"));
            None
        }
    }
}

async fn tls_server() -> Option<&'static Server> {
    blocking(server).await
}

async fn tls_cluster() -> Option<&'static Cluster> {
    blocking(cluster).await
}

fn trusting(builder: RedisStoreBuilder) -> RedisStoreBuilder {
    builder
        .key_prefix(unique_prefix("tls"))
        .tls_root_certificate(certs().ca_pem.clone())
}

mod single_server {
    use super::*;

    pub(super) async fn make_store() -> Option<RedisStore> {
        let server = tls_server().await?;
        let url = format!("rediss://127.0.0.1:{}", server.port);
        let store = trusting(RedisStore::builder(url))
            .connect()
            .await
            .expect("connect over TLS");
        assert!(!store.is_cluster());
        Some(store)
    }

    session_runtime::store_conformance_tests!(make_store);
}

mod cluster {
    use super::*;

    pub(super) async fn make_store() -> Option<RedisStore> {
        let cluster = tls_cluster().await?;
        assert!(cluster.url().starts_with("rediss+cluster://"));
        let store = trusting(RedisStore::builder(cluster.url()))
            .connect()
            .await
            .expect("connect to the Cluster over TLS");
        assert!(store.is_cluster());
        Some(store)
    }

    session_runtime::store_conformance_tests!(make_store);
}

#[tokio::test]
async fn sessions_on_a_tls_cluster_spread_over_every_node_and_move_between_them() {
    let Some(store) = cluster::make_store().await else {
        return;
    };
    let expires_at = OffsetDateTime::now_utc() + time::Duration::hours(1);
    for _ in 0..12 {
        let (old, new) = (
            SessionId::generate().expect("an ID").key(),
            SessionId::generate().expect("an ID").key(),
        );
        let changes = ChangeSet::new(expires_at).set("a.x", "1");
        assert_eq!(
            store.create(&old, &changes).await.expect("create"),
            WriteOutcome::Applied
        );
        let changes = ChangeSet::new(expires_at).set("a.y", "2");
        assert_eq!(
            store
                .regenerate(&old, &new, &changes)
                .await
                .expect("regenerate"),
            WriteOutcome::Applied
        );
        assert!(store.load(&old).await.expect("load").is_none());
        let record = store.load(&new).await.expect("load").expect("moved");
        assert_eq!(
            (record.get("a.x"), record.get("a.y")),
            (Some("1"), Some("2"))
        );
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let Some(server) = tls_server().await else {
        return;
    };
    let other = Certs::new();
    let err = RedisStore::builder(format!("rediss://127.0.0.1:{}", server.port))
        .tls_root_certificate(other.ca_pem.clone())
        .connect()
        .await
        .expect_err("a server certificate the CA did not sign");
    let chain = format!("{err}: {:?}", std::error::Error::source(&err));
    assert!(
        chain.to_ascii_lowercase().contains("certificate"),
        "{chain}"
    );
}

#[tokio::test]
async fn a_server_that_authenticates_clients_takes_the_client_certificate() {
    let Some(_) = tls_server().await else {
        return;
    };
    let server =
        match tokio::task::spawn_blocking(|| redis_support::start_tls_server(certs(), "yes"))
            .await
            .expect("start redis-server")
        {
            Ok(server) => server,
            Err(why) => panic!("a second TLS server: {why}"),
        };
    let url = format!("rediss://127.0.0.1:{}", server.port);
    assert!(
        trusting(RedisStore::builder(url.as_str()))
            .connect()
            .await
            .is_err(),
        "no client certificate, no connection"
    );
    let store = trusting(RedisStore::builder(url.as_str()))
        .tls_client_certificate(certs().client_pem.clone(), certs().client_key_pem.clone())
        .connect()
        .await
        .expect("connect with the client certificate");
    let key = SessionId::generate().expect("an ID").key();
    let changes =
        ChangeSet::new(OffsetDateTime::now_utc() + time::Duration::hours(1)).set("a.x", "1");
    assert_eq!(
        store.create(&key, &changes).await.expect("create"),
        WriteOutcome::Applied
    );
}

#[tokio::test]
async fn the_insecure_fragment_connects_to_a_self_signed_server_without_its_ca() {
    let Some(server) = tls_server().await else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}/#insecure", server.port);
    let store = RedisStore::connect(&url)
        .await
        .expect("connect, unverified");
    assert!(!store.is_cluster());
}

#[tokio::test]
async fn certificates_for_a_url_without_tls_are_refused() {
    let err = RedisStore::builder("redis://127.0.0.1:1")
        .tls_root_certificate(certs().ca_pem.clone())
        .connect()
        .await
        .expect_err("a CA for a plain URL");
    assert_eq!(err.kind(), StoreErrorKind::Config);
}

// The examples, as a user runs them.

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-secret";

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `visits` on `store`, with `SSL_CERT_FILE` set or removed.
fn visits(port: u16, store: &str, ca_file: Option<&std::path::Path>) -> Command {
    let mut cmd = Command::new(example("visits"));
    cmd.env("PORT", port.to_string())
        .env("SESSION_SECRET", SECRET)
        .env("SESSION_STORE", store)
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null());
    match ca_file {
        Some(file) => cmd.env("SSL_CERT_FILE", file),
        None => cmd.env_remove("SSL_CERT_FILE"),
    };
    cmd
}

/// Serves two visits through the example: the counter over TLS.
async fn counts_two_visits(port: u16) {
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");
    let mut first = None;
    for _ in 0..100 {
        match client.get(&url).send().await {
            Ok(res) => {
                first = Some(res.text().await.expect("a body"));
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        first.as_deref(),
        Some("Welcome to this page for the first time!")
    );
    let second = client.get(&url).send().await.expect("GET /");
    assert_eq!(
        second.text().await.expect("a body"),
        "You visited this page 2 times"
    );
}

#[tokio::test]
async fn the_example_takes_a_rediss_url_with_insecure_for_a_self_signed_certificate() {
    let Some(server) = tls_server().await else {
        return;
    };
    let port = common::free_port();
    let store = format!("rediss://127.0.0.1:{}/#insecure", server.port);
    let _child = Child(
        visits(port, &store, None)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example starts"),
    );
    counts_two_visits(port).await;
}

#[tokio::test]
async fn the_example_verifies_a_rediss_url_against_ssl_cert_file() {
    let Some(server) = tls_server().await else {
        return;
    };
    let port = common::free_port();
    let store = format!("rediss://127.0.0.1:{}/", server.port);
    let _child = Child(
        visits(port, &store, Some(&certs().ca_file))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example starts"),
    );
    counts_two_visits(port).await;
}

#[tokio::test]
async fn the_example_exits_non_zero_on_a_certificate_it_cannot_verify() {
    let Some(server) = tls_server().await else {
        return;
    };
    let store = format!("rediss://127.0.0.1:{}/", server.port);
    // A CA file that does not hold the server's CA.
    let other = Certs::new();
    let out = visits(1, &store, Some(&other.ca_file))
        .output()
        .expect("the example runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SESSION_STORE"), "{stderr}");
    assert!(
        stderr.to_ascii_lowercase().contains("certificate"),
        "{stderr}"
    );
}

//! What the Redis tests share: the shared Redis's URL, a key prefix per
//! test and the cleanup of its keys; and the `redis-server` processes that a
//! test starts for itself: a plain server with settings of its own (a memory
//! limit, say), a server speaking TLS with certificates made at test time,
//! and a three-master Cluster, plain or over TLS.
//!
//! Every process runs on free loopback ports in a temporary directory, and a
//! watchdog shell kills it and removes the directory once the test binary is
//! gone, whatever the tests did. A missing `redis-server` (or one built
//! without TLS) is an `Err` with the reason, for `common::skip_or_fail`.
#![allow(dead_code)] // each test file uses its own part of this module

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shared Redis: `REDIS_URL`, default `redis://127.0.0.1:6379`.
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test (or run) uses, naming the `tag` of the file.
pub(crate) fn unique_prefix(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("session-kit-test:{tag}:{}:{nanos}:{n}:", std::process::id())
}

/// A plain connection to `url`, for reading or cleaning keys by hand.
pub(crate) async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a connection to Redis")
}

/// Deletes every key under `prefix` on the Redis at `url`.
pub(crate) async fn delete_prefix(url: &str, prefix: &str) {
    use redis::AsyncCommands as _;
    let mut conn = raw(url).await;
    let keys: Vec<String> = {
        let mut iter = conn
            .scan_match::<_, String>(format!("{prefix}*"))
            .await
            .expect("SCAN");
        let mut keys = Vec::new();
        while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
            keys.push(key);
        }
        keys
    };
    if !keys.is_empty() {
        let _: () = conn.del(keys).await.expect("DEL");
    }
}

/// The teardown of a store on the shared Redis: deletes its keys.
pub(crate) async fn cleanup(store: session_kit::RedisStore) {
    delete_prefix(&redis_url(), store.key_prefix()).await;
}

/// Why a server could not be had: what to print when skipping.
pub(crate) type Missing = String;

/// Running processes, ended by their watchdog after this test binary.
pub(crate) struct Processes {
    _children: Vec<Child>,
}

/// One running server.
pub(crate) struct Server {
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    _processes: Processes,
}

impl Server {
    /// `redis://127.0.0.1:<port>` (plain servers only).
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// A running Cluster: the ports of its masters.
pub(crate) struct Cluster {
    pub(crate) ports: Vec<u16>,
    pub(crate) tls: bool,
    _processes: Processes,
}

impl Cluster {
    /// `redis+cluster://…` or `rediss+cluster://…` with every master.
    pub(crate) fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let scheme = if self.tls {
            "rediss+cluster"
        } else {
            "redis+cluster"
        };
        format!("{scheme}://{}", nodes.join(","))
    }
}

pub(crate) fn has_binary(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A fresh temporary directory for one group of servers.
fn temp_dir(what: &str) -> Result<PathBuf, Missing> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "session-kit-{what}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A port that is free, and whose cluster bus port (+10000) is free too.
pub(crate) fn free_port_pair(taken: &[u16]) -> u16 {
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

/// Kills the processes and removes their directory once this test binary
/// exits.
fn watchdog(children: Vec<Child>, dir: &Path) -> Processes {
    let pids: Vec<String> = children.iter().map(|c| c.id().to_string()).collect();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.2; done; kill {pids} 2>/dev/null; \
         sleep 0.5; kill -9 {pids} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        pids = pids.join(" "),
        dir = dir.display(),
    );
    let dog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the servers' watchdog");
    let mut all = children;
    all.push(dog);
    Processes { _children: all }
}

/// Starts `redis-server` with `args` on top of the test defaults (loopback,
/// no persistence, `dir`), its output in `dir/<name>.log`.
fn spawn(dir: &Path, name: &str, args: &[String]) -> Result<Child, Missing> {
    let log = std::fs::File::create(dir.join(format!("{name}.log")))
        .map_err(|e| format!("cannot make a log file: {e}"))?;
    let err = log
        .try_clone()
        .map_err(|e| format!("cannot share the log file: {e}"))?;
    Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start redis-server: {e}"))
}

/// Waits until `ready` holds, or the process has exited (then its log says
/// why), or 30 s have passed.
fn wait_ready(
    child: &mut Child,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<(), Missing> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            return Err(exit_reason(status, &text));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "redis-server did not get ready in 30 s; see {}",
        log.display()
    );
}

fn exit_reason(status: std::process::ExitStatus, log: &str) -> Missing {
    let lower = log.to_ascii_lowercase();
    if lower.contains("tls") && (lower.contains("not supported") || lower.contains("bad directive"))
    {
        return "`redis-server` on PATH was built without TLS (`make BUILD_TLS=yes`; \
                Debian's redis-server has it)"
            .to_owned();
    }
    panic!("redis-server exited ({status}) before it was ready:\n{log}");
}

fn ping(client: &redis::Client) -> bool {
    client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()
        .is_some_and(|mut conn| redis::cmd("PING").query::<String>(&mut conn).is_ok())
}

/// A plain server with `args` (`--maxmemory`, `--cluster-enabled`, …).
pub(crate) fn start_server(args: &[&str]) -> Result<Server, Missing> {
    if !has_binary("redis-server") {
        return Err("`redis-server` is not on PATH".to_owned());
    }
    let dir = temp_dir("redis")?;
    let port = free_port_pair(&[]);
    let mut all = vec!["--port".to_owned(), port.to_string()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let mut child = spawn(&dir, "server", &all)?;
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a URL");
    let ready = wait_ready(&mut child, &dir.join("server.log"), || ping(&client));
    let processes = watchdog(vec![child], &dir);
    ready?;
    Ok(Server {
        port,
        dir,
        _processes: processes,
    })
}

/// A sync connection to a plain server or node.
pub(crate) fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .expect("a URL")
        .get_connection_with_timeout(Duration::from_secs(2))
        .expect("a connection to the test's redis-server")
}

/// A three-master Cluster; over TLS with `tls`.
pub(crate) fn start_cluster(tls: Option<&Certs>) -> Result<Cluster, Missing> {
    if !has_binary("redis-server") {
        return Err("`redis-server` is not on PATH".to_owned());
    }
    let dir = temp_dir("cluster")?;
    let mut ports = Vec::new();
    let mut children = Vec::new();
    for _ in 0..3 {
        let port = free_port_pair(&ports);
        let mut args = vec![
            "--cluster-enabled".to_owned(),
            "yes".to_owned(),
            "--cluster-config-file".to_owned(),
            format!("nodes-{port}.conf"),
            "--cluster-node-timeout".to_owned(),
            "5000".to_owned(),
            "--cluster-port".to_owned(),
            (port + 10_000).to_string(),
        ];
        match tls {
            None => args.extend(["--port".to_owned(), port.to_string()]),
            Some(certs) => {
                args.extend(["--port".to_owned(), "0".to_owned()]);
                args.extend(certs.server_args(port, "optional"));
                args.extend(["--tls-cluster".to_owned(), "yes".to_owned()]);
            }
        }
        children.push(spawn(&dir, &format!("node-{port}"), &args)?);
        ports.push(port);
    }
    let clients: Vec<redis::Client> = ports.iter().map(|p| node_client(*p, tls)).collect();
    let mut ready = Ok(());
    for (i, child) in children.iter_mut().enumerate() {
        let log = dir.join(format!("node-{}.log", ports[i]));
        ready = ready.and_then(|()| wait_ready(child, &log, || ping(&clients[i])));
    }
    let processes = watchdog(children, &dir);
    ready?;
    form_cluster(&ports, &clients);
    let deadline = Instant::now() + Duration::from_secs(30);
    for client in &clients {
        loop {
            let ok = client
                .get_connection_with_timeout(Duration::from_millis(500))
                .ok()
                .and_then(|mut c| {
                    redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query::<String>(&mut c)
                        .ok()
                })
                .is_some_and(|info| info.contains("cluster_state:ok"));
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not form in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(Cluster {
        ports,
        tls: tls.is_some(),
        _processes: processes,
    })
}

fn node_client(port: u16, tls: Option<&Certs>) -> redis::Client {
    match tls {
        None => redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a URL"),
        Some(certs) => certs.client(port),
    }
}

/// Assigns the 16384 slots to the masters and joins them, by hand.
fn form_cluster(ports: &[u16], clients: &[redis::Client]) {
    let per_node = 16_384 / ports.len();
    for (i, client) in clients.iter().enumerate() {
        let first = i * per_node;
        let last = if i + 1 == ports.len() {
            16_383
        } else {
            first + per_node - 1
        };
        let mut conn = client.get_connection().expect("a node");
        redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(first)
            .arg(last)
            .query::<()>(&mut conn)
            .expect("CLUSTER ADDSLOTSRANGE");
    }
    let mut first = clients[0].get_connection().expect("a node");
    for port in &ports[1..] {
        redis::cmd("CLUSTER")
            .arg("MEET")
            .arg("127.0.0.1")
            .arg(*port)
            .arg(*port + 10_000)
            .query::<()>(&mut first)
            .expect("CLUSTER MEET");
    }
}

/// A CA, a server certificate for 127.0.0.1 and `localhost` signed by it,
/// and a client certificate, made at test time; PEM, also written to files
/// for `redis-server`.
pub(crate) struct Certs {
    pub(crate) ca_pem: String,
    pub(crate) ca_file: PathBuf,
    pub(crate) server_file: PathBuf,
    pub(crate) server_key_file: PathBuf,
    pub(crate) client_pem: String,
    pub(crate) client_key_pem: String,
    _dir: PathBuf,
}

impl Certs {
    pub(crate) fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "session-kit test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");

        // The nodes of a TLS Cluster also present this certificate to each
        // other as clients, on the cluster bus.
        let mut server =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        server
            .distinguished_name
            .push(DnType::CommonName, "redis-server");
        server.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let server_key = KeyPair::generate().expect("a server key");
        let server_cert = server
            .signed_by(&server_key, &ca_cert, &ca_key)
            .expect("the server certificate");

        let mut client = CertificateParams::new(Vec::<String>::new()).expect("client params");
        client.distinguished_name.push(DnType::CommonName, "app");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().expect("a client key");
        let client_cert = client
            .signed_by(&client_key, &ca_cert, &ca_key)
            .expect("the client certificate");

        let dir = temp_dir("certs").expect("a directory for certificates");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a certificate");
            path
        };
        let ca_pem = ca_cert.pem();
        Self {
            ca_file: write("ca.crt", &ca_pem),
            server_file: write("server.crt", &server_cert.pem()),
            server_key_file: write("server.key", &server_key.serialize_pem()),
            ca_pem,
            client_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            _dir: dir,
        }
    }

    /// The `redis-server` arguments for TLS on `port`; `auth_clients` is
    /// `no`, `optional` or `yes`.
    pub(crate) fn server_args(&self, port: u16, auth_clients: &str) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--tls-port".to_owned(),
            port.to_string(),
            "--tls-cert-file".to_owned(),
            path(&self.server_file),
            "--tls-key-file".to_owned(),
            path(&self.server_key_file),
            "--tls-ca-cert-file".to_owned(),
            path(&self.ca_file),
            "--tls-auth-clients".to_owned(),
            auth_clients.to_owned(),
        ]
    }

    /// A sync client of `rediss://127.0.0.1:<port>` that trusts this CA and
    /// presents the client certificate.
    #[cfg(feature = "redis-tls")]
    pub(crate) fn client(&self, port: u16) -> redis::Client {
        redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{port}"),
            redis::TlsCertificates {
                client_tls: Some(redis::ClientTlsConfig {
                    client_cert: self.client_pem.clone().into_bytes(),
                    client_key: self.client_key_pem.clone().into_bytes(),
                }),
                root_cert: Some(self.ca_pem.clone().into_bytes()),
            },
        )
        .expect("a TLS client")
    }

    #[cfg(not(feature = "redis-tls"))]
    pub(crate) fn client(&self, _port: u16) -> redis::Client {
        unreachable!("the TLS tests need the redis-tls feature")
    }
}

/// A server speaking TLS only (`--port 0`), on a free port; `auth_clients`
/// as in [`Certs::server_args`].
pub(crate) fn start_tls_server(certs: &Certs, auth_clients: &str) -> Result<Server, Missing> {
    if !has_binary("redis-server") {
        return Err("`redis-server` is not on PATH".to_owned());
    }
    let dir = temp_dir("redis-tls")?;
    let port = free_port_pair(&[]);
    let mut args = vec!["--port".to_owned(), "0".to_owned()];
    args.extend(certs.server_args(port, auth_clients));
    let mut child = spawn(&dir, "server", &args)?;
    let client = certs.client(port);
    let ready = wait_ready(&mut child, &dir.join("server.log"), || ping(&client));
    let processes = watchdog(vec![child], &dir);
    ready?;
    Ok(Server {
        port,
        dir,
        _processes: processes,
    })
}

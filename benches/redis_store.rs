//! session-kit's `RedisStore` beside tower-sessions' Redis store
//! (tower-sessions-redis-store 0.16 on tower-sessions 0.14), in one run, on
//! the Redis at `BENCH_REDIS_URL` (default `redis://127.0.0.1:6379/15`: a
//! database of its own, since tower-sessions' keys have no prefix).
//!
//! ```text
//! cargo bench --features redis --bench redis_store             # both parts
//! cargo bench --features redis --bench redis_store -- traffic  # Redis traffic only
//! cargo bench --features redis --bench redis_store -- http     # wrk only
//! ```
//!
//! - **traffic**: each request goes through the app in process, and the
//!   store's connection through a counting TCP proxy on loopback, which
//!   parses the RESP commands the client sends. Per request: the commands,
//!   the round trips (client writes separated by server replies), the bytes
//!   sent to Redis and the bytes received. Also the memory Redis reports for
//!   one stored session, and how many of 50 concurrent `+= 1` on one session
//!   are lost.
//! - **http**: the same app served over real HTTP by a child process
//!   (`serve`), loaded by `wrk -t2 -c64 -d10s`, three rounds alternating
//!   the two stores; the medians of requests per second, of the server's CPU
//!   time per request, and of Redis's.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

const CART_BYTES: usize = 16 * 1024;

/// The Redis to measure on: `BENCH_REDIS_URL`, default database 15 of the
/// local Redis, which the clean-up at the end may empty of session keys.
fn redis_url() -> String {
    std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/15".to_owned())
}

// ---------------------------------------------------------------- the apps

mod kit {
    use super::*;
    use session_kit::{Key, RedisStore, Session, SessionLayer};

    /// The counter of the examples.
    #[derive(Session, Default)]
    #[session(namespace = "visits")]
    pub(crate) struct Visits {
        #[session(counter)]
        page_views: u64,
    }

    /// A cart, to make a big session.
    #[derive(Session, Default)]
    #[session(namespace = "cart")]
    pub(crate) struct Cart {
        items: Vec<String>,
    }

    async fn index(mut visits: Session<Visits>) -> String {
        visits.page_views += 1;
        visits.page_views.to_string()
    }

    async fn read(visits: Session<Visits>) -> String {
        visits.page_views.to_string()
    }

    async fn fill(mut cart: Session<Cart>) -> &'static str {
        cart.items = super::big_cart();
        "filled"
    }

    pub(crate) async fn app(url: &str) -> Router {
        let store = RedisStore::builder(url)
            .key_prefix("bench:")
            .connect()
            .await
            .expect("session-kit connects to Redis");
        let layer = SessionLayer::builder(store, Key::generate())
            .secure(false)
            .build()
            .expect("a valid layer");
        Router::new()
            .route("/", get(index))
            .route("/read", get(read))
            .route("/fill", post(fill))
            .layer(layer)
    }
}

mod ts {
    use super::*;
    use tower_sessions_014::{Expiry, Session, SessionManagerLayer};
    use tower_sessions_redis_store::fred::prelude::{ClientLike as _, Config, Pool};
    use tower_sessions_redis_store::RedisStore;

    async fn index(session: Session) -> Result<String, StatusCode> {
        let n: u64 = session
            .get("page_views")
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
            .unwrap_or(0)
            + 1;
        session
            .insert("page_views", n)
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(n.to_string())
    }

    async fn read(session: Session) -> Result<String, StatusCode> {
        let n: u64 = session
            .get("page_views")
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
            .unwrap_or(0);
        Ok(n.to_string())
    }

    async fn fill(session: Session) -> Result<&'static str, StatusCode> {
        session
            .insert("cart", super::big_cart())
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok("filled")
    }

    pub(crate) async fn app(url: &str) -> Router {
        let config = Config::from_url(url).expect("a Redis URL for fred");
        let pool = Pool::new(config, None, None, None, 1).expect("a fred pool");
        let _connection = pool.connect();
        pool.wait_for_connect()
            .await
            .expect("tower-sessions connects to Redis");
        let layer = SessionManagerLayer::new(RedisStore::new(pool))
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(time::Duration::days(1)));
        Router::new()
            .route("/", get(index))
            .route("/read", get(read))
            .route("/fill", post(fill))
            .layer(layer)
    }
}

/// 16 KiB of cart: 64 items of 256 bytes.
fn big_cart() -> Vec<String> {
    (0..CART_BYTES / 256)
        .map(|i| format!("{i:04}{}", "x".repeat(252)))
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Kit,
    Tower,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Self::Kit => "session-kit RedisStore",
            Self::Tower => "tower-sessions 0.14 + tower-sessions-redis-store 0.16",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Self::Kit => "session-kit",
            Self::Tower => "tower-sessions",
        }
    }

    async fn app(self, url: &str) -> Router {
        match self {
            Self::Kit => kit::app(url).await,
            Self::Tower => ts::app(url).await,
        }
    }
}

// ---------------------------------------------------------- counting proxy

/// What went through the proxy.
#[derive(Default)]
struct Traffic {
    up: AtomicU64,
    down: AtomicU64,
    round_trips: AtomicU64,
    commands: Mutex<Vec<String>>,
}

#[derive(Clone, Default, Debug)]
struct Snapshot {
    up: u64,
    down: u64,
    round_trips: u64,
    commands: Vec<String>,
}

impl Traffic {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            up: self.up.load(Ordering::SeqCst),
            down: self.down.load(Ordering::SeqCst),
            round_trips: self.round_trips.load(Ordering::SeqCst),
            commands: self.commands.lock().expect("not poisoned").clone(),
        }
    }
}

/// Parses the complete RESP commands at the front of `buf`, removing them,
/// and returns their names.
fn parse_commands(buf: &mut Vec<u8>) -> Vec<String> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
        Some((&buf[at..end], end + 2))
    }
    let mut names = Vec::new();
    loop {
        let parsed = (|| {
            let (head, mut at) = line(buf, 0)?;
            let n: usize = std::str::from_utf8(head.strip_prefix(b"*")?)
                .ok()?
                .parse()
                .ok()?;
            let mut name = String::new();
            for i in 0..n {
                let (len, next) = line(buf, at)?;
                let len: usize = std::str::from_utf8(len.strip_prefix(b"$")?)
                    .ok()?
                    .parse()
                    .ok()?;
                if buf.len() < next + len + 2 {
                    return None;
                }
                if i == 0 {
                    name = String::from_utf8_lossy(&buf[next..next + len]).to_uppercase();
                }
                at = next + len + 2;
            }
            Some((name, at))
        })();
        match parsed {
            Some((name, used)) => {
                names.push(name);
                buf.drain(..used);
            }
            None => return names,
        }
    }
}

/// A loopback proxy to `target` that counts what clients send and receive.
async fn start_proxy(target: SocketAddr, traffic: Arc<Traffic>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, mut server_tx) = server.into_split();
            let awaiting = Arc::new(AtomicBool::new(false));
            let (traffic_up, awaiting_up) = (traffic.clone(), awaiting.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut pending = Vec::new();
                while let Ok(n) = client_rx.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    traffic_up.up.fetch_add(n as u64, Ordering::SeqCst);
                    if !awaiting_up.swap(true, Ordering::SeqCst) {
                        traffic_up.round_trips.fetch_add(1, Ordering::SeqCst);
                    }
                    pending.extend_from_slice(&buf[..n]);
                    let names = parse_commands(&mut pending);
                    traffic_up
                        .commands
                        .lock()
                        .expect("not poisoned")
                        .extend(names);
                    if server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            let traffic_down = traffic.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_rx.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    traffic_down.down.fetch_add(n as u64, Ordering::SeqCst);
                    awaiting.store(false, Ordering::SeqCst);
                    if client_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

// ----------------------------------------------------------------- traffic

/// The `name=value` of the response's session cookie, if it set one.
fn cookie_of(res: &axum::response::Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|kv| !kv.ends_with('='))
}

async fn request(
    app: &Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible");
    (res.status(), cookie_of(&res))
}

struct Row {
    commands: f64,
    round_trips: f64,
    up: f64,
    down: f64,
    names: Vec<String>,
}

/// Runs `setup` (unmeasured) then `measured`, `n` times, and averages what
/// went to Redis during `measured`.
async fn measure<S, M, SF, MF>(traffic: &Traffic, n: usize, mut setup: S, mut measured: M) -> Row
where
    S: FnMut() -> SF,
    SF: std::future::Future<Output = Option<String>>,
    M: FnMut(Option<String>) -> MF,
    MF: std::future::Future<Output = ()>,
{
    let (mut commands, mut round_trips, mut up, mut down) = (0, 0, 0, 0);
    let mut names = Vec::new();
    for _ in 0..n {
        let cookie = setup().await;
        let before = traffic.snapshot();
        measured(cookie).await;
        let after = traffic.snapshot();
        let run = &after.commands[before.commands.len()..];
        commands += run.len();
        round_trips += after.round_trips - before.round_trips;
        up += after.up - before.up;
        down += after.down - before.down;
        names = run.to_vec();
    }
    let n = n as f64;
    Row {
        commands: commands as f64 / n,
        round_trips: round_trips as f64 / n,
        up: up as f64 / n,
        down: down as f64 / n,
        names,
    }
}

async fn raw_redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a connection to Redis")
}

/// Redis's address, from `REDIS_URL`.
fn redis_addr() -> SocketAddr {
    let url = redis_url();
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .rsplit('@')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    let hostport = if hostport.contains(':') {
        hostport
    } else {
        format!("{hostport}:6379")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&hostport)
        .ok()
        .and_then(|mut a| a.next())
        .expect("BENCH_REDIS_URL names a reachable address")
}

async fn traffic_part() {
    let n = 50;
    println!("## Redis traffic per request (mean of {n} requests, after warm-up)\n");
    println!(
        "| store | request | commands | round trips | bytes sent to Redis | bytes received | what was sent |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut memory = Vec::new();
    let mut lost = Vec::new();
    for variant in [Variant::Kit, Variant::Tower] {
        let traffic = Arc::new(Traffic::default());
        let proxy = start_proxy(redis_addr(), traffic.clone()).await;
        let db = redis_url()
            .rsplit_once('/')
            .and_then(|(_, db)| db.parse::<u32>().ok())
            .unwrap_or(0);
        let app = variant.app(&format!("redis://{proxy}/{db}")).await;
        let app = &app;
        // Warm-up: scripts loaded, connections open.
        for _ in 0..3 {
            let (_, c) = request(app, "GET", "/", None).await;
            request(app, "GET", "/", c.as_deref()).await;
            request(app, "GET", "/read", c.as_deref()).await;
        }
        let new_visitor = measure(
            &traffic,
            n,
            || async { None },
            |_| async move {
                let (status, cookie) = request(app, "GET", "/", None).await;
                assert_eq!(status, 200);
                assert!(cookie.is_some());
            },
        )
        .await;
        let returning = measure(
            &traffic,
            n,
            || async { request(app, "GET", "/", None).await.1 },
            |c| async move {
                assert_eq!(request(app, "GET", "/", c.as_deref()).await.0, 200);
            },
        )
        .await;
        let read_only = measure(
            &traffic,
            n,
            || async { request(app, "GET", "/", None).await.1 },
            |c| async move {
                assert_eq!(request(app, "GET", "/read", c.as_deref()).await.0, 200);
            },
        )
        .await;
        let big = measure(
            &traffic,
            n,
            || async {
                let (_, c) = request(app, "GET", "/", None).await;
                let (status, _) = request(app, "POST", "/fill", c.as_deref()).await;
                assert_eq!(status, 200);
                c
            },
            |c| async move {
                assert_eq!(request(app, "GET", "/", c.as_deref()).await.0, 200);
            },
        )
        .await;
        for (label, row) in [
            ("new visitor", &new_visitor),
            ("returning visitor, counter changes", &returning),
            ("read-only request", &read_only),
            ("16 KiB cart, only the counter changes", &big),
        ] {
            println!(
                "| {} | {label} | {:.1} | {:.1} | {:.0} | {:.0} | {} |",
                variant.name(),
                row.commands,
                row.round_trips,
                row.up,
                row.down,
                row.names.join(" + "),
            );
        }
        memory.push((variant, session_memory(variant, app).await));
        lost.push((variant, lost_increments(app).await));
    }
    println!("\n## One stored one-counter session in Redis (`MEMORY USAGE`)\n");
    for (variant, bytes) in memory {
        println!("- {}: {bytes} B", variant.name());
    }
    println!("\n## Lost of 50 concurrent `+= 1` on one session (mean of 10 trials)\n");
    for (variant, lost) in lost {
        println!("- {}: {lost:.1}", variant.name());
    }
    println!();
}

/// `MEMORY USAGE` of the key of a fresh one-counter session.
async fn session_memory(variant: Variant, app: &Router) -> i64 {
    let mut conn = raw_redis().await;
    let pattern = match variant {
        Variant::Kit => "bench:*".to_owned(),
        Variant::Tower => "*".to_owned(),
    };
    let before: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    request(app, "GET", "/", None).await;
    let after: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    let Some(new) = after.iter().find(|k| !before.contains(k)) else {
        return -1;
    };
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(new)
        .query_async(&mut conn)
        .await
        .unwrap_or(-1)
}

/// 50 concurrent visits on one session; how many the counter misses.
async fn lost_increments(app: &Router) -> f64 {
    let trials = 10;
    let mut lost = 0u64;
    for _ in 0..trials {
        let (_, cookie) = request(app, "GET", "/", None).await;
        let cookie = cookie.expect("a cookie");
        let visits = (0..50).map(|_| request(app, "GET", "/", Some(&cookie)));
        futures_util::future::join_all(visits).await;
        let res = app
            .clone()
            .oneshot(
                Request::get("/read")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .expect("infallible");
        let body = axum::body::to_bytes(res.into_body(), 64)
            .await
            .expect("a body");
        let n: u64 = std::str::from_utf8(&body)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        lost += 51u64.saturating_sub(n);
    }
    lost as f64 / trials as f64
}

// -------------------------------------------------------------------- http

/// Serves one variant on `port` until killed.
async fn serve(variant: Variant, port: u16) {
    let app = variant.app(&redis_url()).await;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port");
    println!("ready");
    axum::serve(listener, app).await.expect("serve");
}

/// utime + stime of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the `)`: state is field 0; utime and stime are 11 and 12.
    get(11) + get(12)
}

/// Redis's own CPU seconds (user + sys), from `INFO cpu`.
async fn redis_cpu() -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut raw_redis().await)
        .await
        .unwrap_or_default();
    info.lines()
        .filter(|l| l.starts_with("used_cpu_user:") || l.starts_with("used_cpu_sys:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

fn wrk(url: &str, cookie: Option<&str>) -> f64 {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", "-d10s", url]);
    if let Some(cookie) = cookie {
        cmd.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let out = cmd.output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .map(str::trim)
        .unwrap_or("");
    if !non_2xx.is_empty() {
        eprintln!("wrk {url}: {non_2xx}");
    }
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0)
}

/// How many times each variant is measured, alternating, in the HTTP part:
/// the machine is shared, so the median of the rounds is reported.
const HTTP_ROUNDS: usize = 3;

const HTTP_SCENARIOS: [(&str, &str, bool); 3] = [
    ("returning visitor, counter changes", "", true),
    ("read-only request", "read", true),
    ("new visitor", "", false),
];

/// One round of the three scenarios on one variant: (req/s, server us,
/// Redis us) per scenario.
async fn http_round(variant: Variant, port: u16) -> Vec<(f64, f64, f64)> {
    let exe = std::env::current_exe().expect("this binary");
    let mut child = Command::new(&exe)
        .args(["serve", variant.arg(), &port.to_string(), "--bench"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    if let Some(out) = child.stdout.as_mut() {
        use std::io::Read as _;
        let mut byte = [0u8; 1];
        while out.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {}
    }
    let cookie = http_cookie(port).await;
    let mut out = Vec::new();
    for (_, path, with_cookie) in HTTP_SCENARIOS {
        let (cpu0, redis0) = (cpu_ticks(child.id()), redis_cpu().await);
        let url = format!("http://127.0.0.1:{port}/{path}");
        let cookie = with_cookie.then(|| cookie.clone());
        let rps = tokio::task::spawn_blocking(move || wrk(&url, cookie.as_deref()))
            .await
            .expect("wrk ran");
        let (cpu1, redis1) = (cpu_ticks(child.id()), redis_cpu().await);
        let requests = (rps * 10.0).max(1.0);
        let server_us = (cpu1 - cpu0) as f64 * 10_000.0 / requests;
        let redis_us = (redis1 - redis0) * 1e6 / requests;
        out.push((rps, server_us, redis_us));
    }
    let _ = child.kill();
    let _ = child.wait();
    tokio::time::sleep(Duration::from_millis(300)).await;
    out
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

async fn http_part() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("SKIPPED http: `wrk` is not on PATH (apt-get install -y wrk)");
        return;
    }
    let variants = [Variant::Kit, Variant::Tower];
    let mut runs: Vec<Vec<Vec<(f64, f64, f64)>>> = vec![Vec::new(); variants.len()];
    for _ in 0..HTTP_ROUNDS {
        for (i, variant) in variants.into_iter().enumerate() {
            runs[i].push(http_round(variant, 39_400 + i as u16).await);
        }
    }
    println!(
        "## Over real HTTP: wrk -t2 -c64 -d10s, the server in its own process \
         (median of {HTTP_ROUNDS} alternating rounds)\n"
    );
    println!("| store | request | req/s | server CPU per request | Redis CPU per request | req/s of each round |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (i, variant) in variants.into_iter().enumerate() {
        for (s, (label, _, _)) in HTTP_SCENARIOS.iter().enumerate() {
            let pick = |f: fn(&(f64, f64, f64)) -> f64| -> Vec<f64> {
                runs[i].iter().map(|round| f(&round[s])).collect()
            };
            let rounds: Vec<String> = pick(|r| r.0).iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "| {} | {label} | {:.0} | {:.0} us | {:.0} us | {} |",
                variant.name(),
                median(pick(|r| r.0)),
                median(pick(|r| r.1)),
                median(pick(|r| r.2)),
                rounds.join(", "),
            );
        }
    }
    println!();
}

/// A session cookie from the server on `port`.
async fn http_cookie(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the server");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    text.lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .next()
        .expect("the server set a cookie")
}

/// Deletes what the benchmark left in Redis: session-kit's keys are under
/// `bench:`, tower-sessions' are bare IDs (22 characters of base64).
async fn cleanup() {
    let mut conn = raw_redis().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    let ours: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("bench:") || (k.len() == 22 && !k.contains(':')))
        .collect();
    for chunk in ours.chunks(1000) {
        let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    let rest: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match rest.as_slice() {
        ["serve", which, port] => {
            let variant = if *which == "tower-sessions" {
                Variant::Tower
            } else {
                Variant::Kit
            };
            let port = port.parse().expect("a port");
            rt.block_on(serve(variant, port));
        }
        ["traffic"] => rt.block_on(async {
            traffic_part().await;
            cleanup().await;
        }),
        ["http"] => rt.block_on(async {
            http_part().await;
            cleanup().await;
        }),
        _ => rt.block_on(async {
            traffic_part().await;
            http_part().await;
            cleanup().await;
        }),
    }
    ExitCode::SUCCESS
}

//! session-kit's SQL stores beside tower-sessions-sqlx-store 0.15 (on
//! tower-sessions 0.14), in one run: PostgreSQL at `BENCH_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), MySQL or MariaDB at
//! `BENCH_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`), SQLite in
//! temporary files.
//!
//! ```text
//! cargo bench --features postgres,mysql,sqlite --bench sql_stores            # both parts
//! cargo bench --features postgres,mysql,sqlite --bench sql_stores -- traffic # statements and bytes only
//! cargo bench --features postgres,mysql,sqlite --bench sql_stores -- http    # wrk only
//! ```
//!
//! - **traffic**: each request goes through the app in process. Statements
//!   are counted from sqlx's own per-statement events (`sqlx::query`), and
//!   for the servers the pool's connections go through a counting TCP proxy
//!   on loopback, for the bytes sent and received. SQLite has no wire: its
//!   row says how many bytes each request appended to the write-ahead log,
//!   with automatic checkpoints off.
//! - **http**: the same app served over real HTTP by a child process
//!   (`serve`), loaded by `wrk -t2 -c64 -d10s`, three rounds alternating
//!   the two stores; the medians of requests per second.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Whether SQLite's automatic checkpoints are off, so that the log's growth
/// is what a request wrote (the traffic part only: under load the log would
/// grow without bound).
static MEASURING_WAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn pg_url() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn mysql_url() -> String {
    std::env::var("BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// The `host:port` of a server URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or_default().to_owned()
}

/// 16 KiB of cart: 64 items of 256 bytes.
fn big_cart() -> Vec<String> {
    (0..CART_BYTES / 256)
        .map(|i| format!("{i:04}{}", "x".repeat(252)))
        .collect()
}

// ----------------------------------------------------------------- stores

#[derive(Clone, Copy, PartialEq, Debug)]
enum Db {
    Postgres,
    MySql,
    Sqlite,
}

impl Db {
    fn arg(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::Sqlite => "sqlite",
        }
    }

    fn from_arg(arg: &str) -> Self {
        match arg {
            "postgres" => Self::Postgres,
            "mysql" => Self::MySql,
            _ => Self::Sqlite,
        }
    }

    /// The SQLite file both stores of a run share (each its own table).
    fn sqlite_path() -> std::path::PathBuf {
        std::env::temp_dir().join("session-kit-bench-sql.db")
    }

    /// This database's URL, through `proxy` when given.
    fn url(self, proxy: Option<SocketAddr>) -> String {
        let url = match self {
            Self::Postgres => pg_url(),
            Self::MySql => mysql_url(),
            Self::Sqlite => return format!("sqlite://{}", Self::sqlite_path().display()),
        };
        match proxy {
            Some(addr) => url.replacen(&host_port(&url), &addr.to_string(), 1),
            None => url,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Kit,
    Tower,
}

impl Variant {
    fn name(self, db: Db) -> String {
        match (self, db) {
            (Self::Kit, Db::Postgres) => "session-kit PostgresStore".to_owned(),
            (Self::Kit, Db::MySql) => "session-kit MySqlStore".to_owned(),
            (Self::Kit, Db::Sqlite) => "session-kit SqliteStore".to_owned(),
            (Self::Tower, db) => format!(
                "tower-sessions 0.14 + tower-sessions-sqlx-store 0.15 {}Store",
                match db {
                    Db::Postgres => "Postgres",
                    Db::MySql => "MySql",
                    Db::Sqlite => "Sqlite",
                }
            ),
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Self::Kit => "session-kit",
            Self::Tower => "tower-sessions",
        }
    }
}

/// The same pool settings for both stores: at most 10 connections (sqlx's
/// default), SQLite in WAL mode with a 2 s busy timeout.
mod pools {
    use super::*;
    use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
    use sqlx::postgres::{PgPool, PgPoolOptions};
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

    pub(crate) async fn pg(url: &str) -> PgPool {
        PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .expect("connect to PostgreSQL")
    }

    pub(crate) async fn mysql(url: &str) -> MySqlPool {
        MySqlPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .expect("connect to MySQL")
    }

    pub(crate) async fn sqlite(url: &str) -> SqlitePool {
        let mut options = SqliteConnectOptions::from_str(url)
            .expect("a SQLite URL")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(2));
        if MEASURING_WAL.load(Ordering::SeqCst) {
            // The traffic part measures the log's growth per request.
            options = options.pragma("wal_autocheckpoint", "0");
        }
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await
            .expect("open the SQLite file")
    }
}

// ---------------------------------------------------------------- the apps

mod kit {
    use super::*;
    use session_kit::{Key, MySqlStore, PostgresStore, Session, SessionLayer, SqliteStore};

    #[derive(Session, Default)]
    #[session(namespace = "visits")]
    pub(crate) struct Visits {
        #[session(counter)]
        page_views: u64,
    }

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

    pub(crate) const TABLE: &str = "bench_kit_sessions";

    fn routes(layer: SessionLayer) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/read", get(read))
            .route("/fill", post(fill))
            .layer(layer)
    }

    fn layer(store: impl session_kit::SessionStore) -> SessionLayer {
        SessionLayer::builder(store, Key::generate())
            .secure(false)
            .build()
            .expect("a valid layer")
    }

    pub(crate) async fn app(db: Db, url: &str) -> Router {
        match db {
            Db::Postgres => {
                let store = PostgresStore::builder()
                    .table(TABLE)
                    .build(pools::pg(url).await)
                    .expect("a table");
                store.migrate().await.expect("migrate");
                routes(layer(store))
            }
            Db::MySql => {
                let store = MySqlStore::builder()
                    .table(TABLE)
                    .build(pools::mysql(url).await)
                    .expect("a table");
                store.migrate().await.expect("migrate");
                routes(layer(store))
            }
            Db::Sqlite => {
                let store = SqliteStore::builder()
                    .table(TABLE)
                    .build(pools::sqlite(url).await)
                    .expect("a table");
                store.migrate().await.expect("migrate");
                routes(layer(store))
            }
        }
    }
}

mod ts {
    use super::*;
    use tower_sessions_014::{Expiry, Session, SessionManagerLayer, SessionStore};
    use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};

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

    pub(crate) const SCHEMA: &str = "bench_ts";
    pub(crate) const TABLE: &str = "bench_ts_sessions";

    fn routes<S: SessionStore + Clone>(store: S) -> Router {
        let layer = SessionManagerLayer::new(store)
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(time::Duration::days(1)));
        Router::new()
            .route("/", get(index))
            .route("/read", get(read))
            .route("/fill", post(fill))
            .layer(layer)
    }

    pub(crate) async fn app(db: Db, url: &str) -> Router {
        match db {
            Db::Postgres => {
                let store = PostgresStore::new(pools::pg(url).await)
                    .with_schema_name(SCHEMA)
                    .and_then(|s| s.with_table_name(TABLE))
                    .expect("names");
                store.migrate().await.expect("migrate");
                routes(store)
            }
            Db::MySql => {
                // MySQL's "schema" is the database: the URL's.
                let database = url.rsplit('/').next().unwrap_or("test").to_owned();
                let store = MySqlStore::new(pools::mysql(url).await)
                    .with_schema_name(database)
                    .and_then(|s| s.with_table_name(TABLE))
                    .expect("names");
                store.migrate().await.expect("migrate");
                routes(store)
            }
            Db::Sqlite => {
                let store = SqliteStore::new(pools::sqlite(url).await)
                    .with_table_name(TABLE)
                    .expect("a name");
                store.migrate().await.expect("migrate");
                routes(store)
            }
        }
    }
}

impl Variant {
    async fn app(self, db: Db, url: &str) -> Router {
        match self {
            Self::Kit => kit::app(db, url).await,
            Self::Tower => ts::app(db, url).await,
        }
    }
}

// -------------------------------------------------------- counting sqlx

/// The statements sqlx ran, from its `sqlx::query` events: the first word
/// of each.
#[derive(Default)]
struct Statements(Mutex<Vec<String>>);

struct StatementLayer(Arc<Statements>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        struct Summary(String);
        impl tracing::field::Visit for Summary {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "summary" || field.name() == "message" {
                    self.0 = value.to_owned();
                }
            }
        }
        let mut summary = Summary(String::new());
        event.record(&mut summary);
        let word = summary
            .0
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .trim_matches('"')
            .to_uppercase();
        self.0 .0.lock().expect("not poisoned").push(word);
    }
}

// ---------------------------------------------------------- counting proxy

#[derive(Default)]
struct Bytes {
    up: AtomicU64,
    down: AtomicU64,
}

/// A loopback proxy to `target` that counts the bytes each way.
async fn start_proxy(target: SocketAddr, bytes: Arc<Bytes>) -> SocketAddr {
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
            let up = bytes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_rx.read(&mut buf).await {
                    if n == 0 || server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    up.up.fetch_add(n as u64, Ordering::SeqCst);
                }
            });
            let down = bytes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_rx.read(&mut buf).await {
                    if n == 0 || client_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    down.down.fetch_add(n as u64, Ordering::SeqCst);
                }
            });
        }
    });
    addr
}

// ----------------------------------------------------------------- traffic

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

/// What one kind of request cost, on average.
struct Row {
    statements: f64,
    up: f64,
    down: f64,
    names: Vec<String>,
}

/// The size of the SQLite write-ahead log.
fn wal_size() -> u64 {
    let mut wal = Db::sqlite_path().into_os_string();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

struct Meters {
    statements: Arc<Statements>,
    bytes: Arc<Bytes>,
    db: Db,
}

impl Meters {
    fn read(&self) -> (usize, u64, u64) {
        let n = self.statements.0.lock().expect("not poisoned").len();
        match self.db {
            Db::Sqlite => (n, wal_size(), 0),
            _ => (
                n,
                self.bytes.up.load(Ordering::SeqCst),
                self.bytes.down.load(Ordering::SeqCst),
            ),
        }
    }
}

/// Runs `setup` (unmeasured) then `measured`, `n` times, and averages what
/// the database was sent during `measured`.
async fn measure<S, M, SF, MF>(meters: &Meters, n: usize, mut setup: S, mut measured: M) -> Row
where
    S: FnMut() -> SF,
    SF: std::future::Future<Output = Option<String>>,
    M: FnMut(Option<String>) -> MF,
    MF: std::future::Future<Output = ()>,
{
    let (mut statements, mut up, mut down) = (0, 0, 0);
    let mut names = Vec::new();
    for _ in 0..n {
        let cookie = setup().await;
        // Let a pool's background work (a new connection) settle first.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let before = meters.read();
        measured(cookie).await;
        let after = meters.read();
        statements += after.0 - before.0;
        up += after.1 - before.1;
        down += after.2 - before.2;
        names = meters.statements.0.lock().expect("not poisoned")[before.0..after.0].to_vec();
    }
    let n = n as f64;
    Row {
        statements: statements as f64 / n,
        up: up as f64 / n,
        down: down as f64 / n,
        names,
    }
}

async fn traffic_part() {
    let statements = Arc::new(Statements::default());
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        StatementLayer(statements.clone()),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    MEASURING_WAL.store(true, Ordering::SeqCst);
    let n = 50;
    println!("## Statements and bytes per request (mean of {n} requests, after warm-up)\n");
    println!(
        "| store | request | statements | bytes sent to the database | bytes received | statements sent |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut lost = Vec::new();
    for db in [Db::Postgres, Db::MySql, Db::Sqlite] {
        for variant in [Variant::Kit, Variant::Tower] {
            let bytes = Arc::new(Bytes::default());
            let url = match db {
                Db::Sqlite => db.url(None),
                _ => {
                    let upstream =
                        std::net::ToSocketAddrs::to_socket_addrs(host_port(&db.url(None)).as_str())
                            .ok()
                            .and_then(|mut a| a.next())
                            .expect("a reachable server address");
                    db.url(Some(start_proxy(upstream, bytes.clone()).await))
                }
            };
            let app = variant.app(db, &url).await;
            let app = &app;
            let meters = Meters {
                statements: statements.clone(),
                bytes,
                db,
            };
            // Warm-up: connections open, statements prepared on each.
            for _ in 0..30 {
                let (_, c) = request(app, "GET", "/", None).await;
                request(app, "GET", "/", c.as_deref()).await;
                request(app, "GET", "/read", c.as_deref()).await;
                request(app, "POST", "/fill", c.as_deref()).await;
                request(app, "GET", "/", c.as_deref()).await;
            }
            let new_visitor = measure(
                &meters,
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
                &meters,
                n,
                || async { request(app, "GET", "/", None).await.1 },
                |c| async move {
                    assert_eq!(request(app, "GET", "/", c.as_deref()).await.0, 200);
                },
            )
            .await;
            let read_only = measure(
                &meters,
                n,
                || async { request(app, "GET", "/", None).await.1 },
                |c| async move {
                    assert_eq!(request(app, "GET", "/read", c.as_deref()).await.0, 200);
                },
            )
            .await;
            let big = measure(
                &meters,
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
                let (up, down) = match db {
                    Db::Sqlite => (format!("{:.0} (WAL)", row.up), "-".to_owned()),
                    _ => (format!("{:.0}", row.up), format!("{:.0}", row.down)),
                };
                println!(
                    "| {} | {label} | {:.1} | {up} | {down} | {} |",
                    variant.name(db),
                    row.statements,
                    row.names.join(" + "),
                );
            }
            lost.push((variant.name(db), lost_increments(app).await));
        }
    }
    MEASURING_WAL.store(false, Ordering::SeqCst);
    println!("\n## Lost of 50 concurrent `+= 1` on one session (mean of 10 trials)\n");
    for (name, lost) in lost {
        println!("- {name}: {lost:.1}");
    }
    println!();
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
async fn serve(db: Db, variant: Variant, port: u16) {
    let app = variant.app(db, &db.url(None)).await;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port");
    println!("ready");
    axum::serve(listener, app).await.expect("serve");
}

/// wrk's requests per second, and how many answers were not 2xx.
fn wrk(url: &str, cookie: Option<&str>) -> (f64, u64) {
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
        .and_then(|l| l.split(':').nth(1)?.trim().parse().ok())
        .unwrap_or(0);
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    (rps, non_2xx)
}

const HTTP_ROUNDS: usize = 3;

const HTTP_SCENARIOS: [(&str, &str, bool); 3] = [
    ("returning visitor, counter changes", "", true),
    ("read-only request", "read", true),
    ("new visitor", "", false),
];

/// One round of the three scenarios on one variant: (req/s, non-2xx).
async fn http_round(db: Db, variant: Variant, port: u16) -> Vec<(f64, u64)> {
    let exe = std::env::current_exe().expect("this binary");
    let mut child = Command::new(&exe)
        .args([
            "serve",
            db.arg(),
            variant.arg(),
            &port.to_string(),
            "--bench",
        ])
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
        let url = format!("http://127.0.0.1:{port}/{path}");
        let cookie = with_cookie.then(|| cookie.clone());
        let result = tokio::task::spawn_blocking(move || wrk(&url, cookie.as_deref()))
            .await
            .expect("wrk ran");
        out.push(result);
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
    println!(
        "## Over real HTTP: wrk -t2 -c64 -d10s, the server in its own process \
         (median of {HTTP_ROUNDS} alternating rounds)\n"
    );
    println!("| store | request | req/s | req/s of each round | non-2xx answers |");
    println!("| --- | --- | --- | --- | --- |");
    for db in [Db::Postgres, Db::MySql, Db::Sqlite] {
        let variants = [Variant::Kit, Variant::Tower];
        let mut runs: Vec<Vec<Vec<(f64, u64)>>> = vec![Vec::new(); variants.len()];
        for _ in 0..HTTP_ROUNDS {
            for (i, variant) in variants.into_iter().enumerate() {
                runs[i].push(http_round(db, variant, 39_500 + i as u16).await);
            }
        }
        for (i, variant) in variants.into_iter().enumerate() {
            for (s, (label, _, _)) in HTTP_SCENARIOS.iter().enumerate() {
                let rps: Vec<f64> = runs[i].iter().map(|round| round[s].0).collect();
                let failed: u64 = runs[i].iter().map(|round| round[s].1).sum();
                let each: Vec<String> = rps.iter().map(|r| format!("{r:.0}")).collect();
                println!(
                    "| {} | {label} | {:.0} | {} | {failed} |",
                    variant.name(db),
                    median(rps.clone()),
                    each.join(", "),
                );
            }
        }
        cleanup(db).await;
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

/// Drops what the benchmark made.
async fn cleanup(db: Db) {
    match db {
        Db::Postgres => {
            let pool = pools::pg(&pg_url()).await;
            for sql in [
                format!("DROP TABLE IF EXISTS {0}, {0}_migrations", kit::TABLE),
                format!("DROP SCHEMA IF EXISTS {} CASCADE", ts::SCHEMA),
            ] {
                let _ = sqlx::query(&sql).execute(&pool).await;
            }
        }
        Db::MySql => {
            let pool = pools::mysql(&mysql_url()).await;
            let sql = format!(
                "DROP TABLE IF EXISTS {0}, {0}_migrations, {1}",
                kit::TABLE,
                ts::TABLE
            );
            let _ = sqlx::query(&sql).execute(&pool).await;
        }
        Db::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = Db::sqlite_path().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
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
    let all = [Db::Postgres, Db::MySql, Db::Sqlite];
    if !matches!(rest.first(), Some(&"serve")) {
        // What a killed run left behind (an SQLite log already grown,
        // whose frames a new run reuses without growing it) would skew
        // the figures.
        rt.block_on(async {
            for db in all {
                cleanup(db).await;
            }
        });
    }
    match rest.as_slice() {
        ["serve", db, which, port] => {
            let variant = if *which == "tower-sessions" {
                Variant::Tower
            } else {
                Variant::Kit
            };
            let port = port.parse().expect("a port");
            rt.block_on(serve(Db::from_arg(db), variant, port));
        }
        ["traffic"] => rt.block_on(async {
            traffic_part().await;
            for db in all {
                cleanup(db).await;
            }
        }),
        ["http"] => rt.block_on(http_part()),
        [] => rt.block_on(async {
            traffic_part().await;
            for db in all {
                cleanup(db).await;
            }
            http_part().await;
        }),
        other => {
            eprintln!("unknown arguments {other:?}; expected `traffic`, `http` or nothing");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

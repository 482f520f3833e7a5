//! 1,000 sessions of one user on every server store, through the store
//! trait: how long creating them, listing them and revoking them takes, and
//! the round trips each operation costs. MemoryStore in process; Redis at
//! `BENCH_REDIS_URL` (default `redis://127.0.0.1:6379`, under a key prefix
//! of its own, deleted after); PostgreSQL at `BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and MySQL or MariaDB at
//! `BENCH_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`), each in a
//! table of its own, dropped after; SQLite in a temporary file.
//!
//! ```text
//! cargo bench --features redis,postgres,mysql,sqlite --bench user_index
//! ```
//!
//! Round trips: for Redis, the commands the store sent (the `EVALSHA` and
//! `ZREM` calls of `INFO commandstats`; those on one connection go out
//! together, pipelined) and the commands the server ran in all
//! (`total_commands_processed`, the scripts' own commands included, less
//! the `INFO` itself); for the SQL stores, the statements sqlx ran (its
//! `sqlx::query` events).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_kit::store::{ChangeSet, SessionStore, USER_FIELD};
use session_kit::{
    MemoryStore, MySqlStore, PostgresStore, RedisStore, SessionId, SessionKey, SqliteStore,
};
use time::OffsetDateTime;

const SESSIONS: usize = 1_000;
const LIST_RUNS: usize = 5;
const REVOKE_RUNS: usize = 3;
const USER: &str = "ada";

/// Counts sqlx's per-statement events.
struct StatementCounter(Arc<AtomicU64>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How a store's round trips are counted.
enum Meter {
    InProcess,
    Redis(redis::aio::MultiplexedConnection),
    Sql(Arc<AtomicU64>),
}

/// A reading: the total, and for Redis the calls of the two commands the
/// store sends for these operations (`EVALSHA`, `ZREM`).
#[derive(Clone, Copy, Default)]
struct Reading {
    total: u64,
    evalsha: u64,
    zrem: u64,
}

impl Meter {
    async fn read(&mut self) -> Reading {
        match self {
            Self::InProcess => Reading::default(),
            Self::Redis(conn) => {
                let info: String = redis::cmd("INFO")
                    .arg("all")
                    .query_async(conn)
                    .await
                    .expect("INFO");
                let calls = |name: &str| {
                    info.lines()
                        .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls=")))
                        .and_then(|rest| rest.split(',').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0)
                };
                Reading {
                    total: info
                        .lines()
                        .find_map(|l| l.strip_prefix("total_commands_processed:"))
                        .and_then(|n| n.trim().parse().ok())
                        .expect("total_commands_processed"),
                    evalsha: calls("evalsha"),
                    zrem: calls("zrem"),
                }
            }
            Self::Sql(n) => Reading {
                total: n.load(Ordering::Relaxed),
                ..Reading::default()
            },
        }
    }

    /// The round trips between two readings.
    fn between(&self, before: Reading, after: Reading) -> String {
        match self {
            Self::InProcess => "none (in process)".to_owned(),
            // The second `INFO` counts the first.
            Self::Redis(_) => format!(
                "{} sent ({} `EVALSHA`, {} `ZREM`); {} run by the server, scripts' own included",
                (after.evalsha - before.evalsha) + (after.zrem - before.zrem),
                after.evalsha - before.evalsha,
                after.zrem - before.zrem,
                after.total - before.total - 1,
            ),
            Self::Sql(_) => format!("{} statement(s)", after.total - before.total),
        }
    }
}

fn key() -> SessionKey {
    SessionId::generate().expect("an ID").key()
}

fn bound() -> ChangeSet {
    ChangeSet::new(OffsetDateTime::now_utc() + time::Duration::hours(1))
        .set(USER_FIELD, serde_json::to_string(USER).expect("JSON"))
        .set("auth.name", "\"ada\"")
}

async fn create_all<S: SessionStore>(store: &S) -> (Vec<SessionKey>, Duration) {
    let keys: Vec<SessionKey> = (0..SESSIONS).map(|_| key()).collect();
    let changes = bound();
    let started = Instant::now();
    for chunk in keys.chunks(50) {
        let creates = chunk.iter().map(|k| store.create(k, &changes));
        for created in futures_util::future::join_all(creates).await {
            created.expect("create");
        }
    }
    (keys, started.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

async fn measure<S: SessionStore>(name: &str, store: &S, mut meter: Meter) {
    let (keys, created) = create_all(store).await;
    // Warm-up: scripts loaded, statements prepared.
    assert_eq!(
        store.user_sessions(USER).await.expect("list").len(),
        SESSIONS
    );

    let mut lists = Vec::new();
    let mut list_trips = String::new();
    for _ in 0..LIST_RUNS {
        let before = meter.read().await;
        let started = Instant::now();
        let listed = store.user_sessions(USER).await.expect("list");
        lists.push(started.elapsed());
        let after = meter.read().await;
        assert_eq!(listed.len(), SESSIONS);
        list_trips = meter.between(before, after);
    }

    let mut revokes = Vec::new();
    let mut revoke_trips = String::new();
    let mut keys = keys;
    for run in 0..REVOKE_RUNS {
        if run > 0 {
            keys = create_all(store).await.0;
        }
        let before = meter.read().await;
        let started = Instant::now();
        let ended = store
            .delete_user_sessions(USER, Some(&keys[0]))
            .await
            .expect("revoke");
        revokes.push(started.elapsed());
        let after = meter.read().await;
        assert_eq!(ended, SESSIONS as u64 - 1);
        revoke_trips = meter.between(before, after);
        assert_eq!(
            store
                .delete_user_sessions(USER, None)
                .await
                .expect("revoke"),
            1
        );
        assert!(store.user_sessions(USER).await.expect("list").is_empty());
    }
    let (list, list_min, list_max) = median(lists);
    let (revoke, revoke_min, revoke_max) = median(revokes);
    println!(
        "| {name} | {} | {} ({}-{}) | {} ({}-{}) | {list_trips} | {revoke_trips} |",
        ms(created),
        ms(list),
        ms(list_min),
        ms(list_max),
        ms(revoke),
        ms(revoke_min),
        ms(revoke_max),
    );
}

fn unique(tag: &str) -> String {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000;
    format!("bench_{tag}_{}_{nanos}", std::process::id())
}

async fn run() {
    let statements = Arc::new(AtomicU64::new(0));
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        StatementCounter(statements.clone()),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    println!("| store | create 1,000 (50 at a time) | list 1,000: median (min-max) of {LIST_RUNS} | revoke 999: median (min-max) of {REVOKE_RUNS} | round trips to list | round trips to revoke |");
    println!("| --- | --- | --- | --- | --- | --- |");

    measure("MemoryStore", &MemoryStore::new(), Meter::InProcess).await;

    let redis_url =
        std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("{}:", unique("users"));
    let store = RedisStore::builder(&redis_url)
        .key_prefix(prefix.clone())
        .connect()
        .await
        .expect("Redis at BENCH_REDIS_URL");
    let client = redis::Client::open(redis_url.as_str()).expect("a Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("a Redis connection");
    measure("RedisStore", &store, Meter::Redis(conn.clone())).await;
    let leftover: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    if !leftover.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&leftover)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }

    let pg_url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let table = unique("users");
    let store = PostgresStore::builder()
        .table(table.clone())
        .connect(&pg_url)
        .await
        .expect("PostgreSQL at BENCH_DATABASE_URL");
    store.migrate().await.expect("migrate");
    measure("PostgresStore", &store, Meter::Sql(statements.clone())).await;
    for sql in [
        format!("DROP TABLE {table}"),
        format!("DROP TABLE {table}_migrations"),
    ] {
        sqlx::query(&sql).execute(store.pool()).await.expect("DROP");
    }

    let my_url = std::env::var("BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let store = MySqlStore::builder()
        .table(table.clone())
        .connect(&my_url)
        .await
        .expect("MySQL at BENCH_MYSQL_URL");
    store.migrate().await.expect("migrate");
    measure(
        "MySqlStore (MariaDB)",
        &store,
        Meter::Sql(statements.clone()),
    )
    .await;
    sqlx::query(&format!("DROP TABLE `{table}`, `{table}_migrations`"))
        .execute(store.pool())
        .await
        .expect("DROP");

    let path = std::env::temp_dir().join(format!("{}.db", unique("users")));
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a SQLite file");
    store.migrate().await.expect("migrate");
    measure("SqliteStore", &store, Meter::Sql(statements)).await;
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run());
    ExitCode::SUCCESS
}

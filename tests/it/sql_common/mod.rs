//! What the SQL store tests share: a harness per database that makes a
//! fresh place for one test (a PostgreSQL schema, a MySQL table, an SQLite
//! file), stores on it, raw access to its rows, and the clean-up; and the
//! store-level checks every SQL store runs, as generic functions that
//! `sql_store_tests!` turns into tests.
//!
//! Servers: PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), MySQL or MariaDB at
//! `MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`). Without one,
//! its tests print `SKIPPED: ...` and pass, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where they fail.
#![allow(dead_code)] // each test file uses its own part of this module

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use session_kit::store::{ChangeSet, SessionStore, SweepExpired, WriteOutcome};
use session_kit::{SessionId, SessionKey};
use time::{Duration, OffsetDateTime};

// The server-backed harnesses skip loudly through it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::common;

/// A name no other test, or run, uses: `sk_<pid>_<n>_<nanos>`, a plain
/// identifier.
pub(crate) fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000_000;
    format!("sk_{}_{n}_{nanos}", std::process::id())
}

/// One test's place in one database, with a store on it.
pub(crate) trait Harness: Sized + Send + Sync + 'static {
    /// The store under test.
    type Store: SessionStore + SweepExpired + Clone;

    /// A fresh place with no table yet, and a store on it (not migrated);
    /// `None`, said loudly, when the server is missing.
    fn open_unmigrated() -> impl Future<Output = Option<Self>> + Send;

    /// The store made with the harness.
    fn store(&self) -> Self::Store;

    /// Another store on the same table, with its own pool: another app
    /// instance.
    fn another(&self) -> impl Future<Output = Self::Store> + Send;

    /// A store on the same table whose background sweep runs `every`.
    fn sweeping(&self, every: StdDuration) -> impl Future<Output = Self::Store> + Send;

    /// Runs the store's `migrate`.
    fn migrate(
        store: &Self::Store,
    ) -> impl Future<Output = Result<(), session_kit::StoreError>> + Send;

    /// How many rows the table holds, expired ones included.
    fn rows(&self) -> impl Future<Output = i64> + Send;

    /// Whether a row exists under `key`, expired or not.
    fn has_row(&self, key: &SessionKey) -> impl Future<Output = bool> + Send;

    /// The steps recorded in the migrations table.
    fn versions(&self) -> impl Future<Output = Vec<i64>> + Send;

    /// Every step of the dialect's schema, as `versions` lists them once
    /// `migrate` has run.
    const STEPS: &'static [i64];

    /// Overwrites the `fields` of `key`'s row by hand with something that
    /// is not a fields document.
    fn corrupt(&self, key: &SessionKey) -> impl Future<Output = ()> + Send;

    /// Takes a migrated table back to what step 1 made (no per-user index,
    /// only step 1 recorded): a table from a release before the index.
    fn to_step_one(&self) -> impl Future<Output = ()> + Send;

    /// Drops what a store made (the schema, the tables, the file).
    fn teardown(store: Self::Store) -> impl Future<Output = ()> + Send;

    /// A fresh place with a migrated table.
    fn open() -> impl Future<Output = Option<Self>> + Send {
        async {
            let harness = Self::open_unmigrated().await?;
            Self::migrate(&harness.store()).await.expect("migrate");
            Some(harness)
        }
    }

    /// Cleans up after the test.
    fn close(self) -> impl Future<Output = ()> + Send {
        async move { Self::teardown(self.store()).await }
    }
}

/// For `store_conformance_tests!`: a fresh, migrated store.
pub(crate) async fn make<H: Harness>() -> Option<H::Store> {
    Some(H::open().await?.store())
}

/// For `store_conformance_tests!`: drops what the store made.
pub(crate) async fn drop_store<H: Harness>(store: H::Store) {
    H::teardown(store).await;
}

pub(crate) fn key() -> SessionKey {
    SessionId::generate().expect("an ID").key()
}

pub(crate) fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

pub(crate) fn ago(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::seconds(seconds)
}

/// The key of the session a browser's cookie jar holds: a signed cookie is
/// the ID, a dot, and its signature.
pub(crate) fn key_of_cookie(cookie_header: &str) -> SessionKey {
    let value = cookie_header
        .split(';')
        .map(str::trim)
        .find_map(|c| c.strip_prefix("sid="))
        .expect("a session cookie");
    let id = value.rsplit_once('.').map_or(value, |(id, _)| id);
    SessionId::parse(id).expect("a session ID").key()
}

/// What `tracing` logged while `f` ran on this thread.
pub(crate) async fn logs_of<F: Future>(f: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("the log buffer")
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    drop(guard);
    let text = String::from_utf8_lossy(&buffer.0.lock().expect("the log buffer")).into_owned();
    (out, text)
}

// ------------------------------------------------------------ the checks

/// `sql_store_tests!(Harness)`: every store-level check below, as tests.
// Only the store-level test files call it; the HTTP ones share this module.
#[allow(unused_macros)]
macro_rules! sql_store_tests {
    ($harness:ty) => {
        $crate::sql_common::sql_store_tests!(@each $harness,
            field_names_with_dots_dashes_and_quotes_are_one_key_each,
            a_counter_under_an_odd_name_adds_to_the_value_it_holds,
            a_session_over_64_kib_is_stored_whole,
            an_expiry_past_2038_is_kept,
            the_sweep_deletes_expired_rows_in_bounded_batches_and_spares_live_ones,
            the_background_sweeper_deletes_expired_rows,
            two_creates_racing_on_one_key_cannot_both_win,
            concurrent_migrations_of_one_table_all_succeed_once,
            a_table_from_step_one_upgrades_and_lists_its_bound_sessions,
            a_session_expiring_between_load_and_save_is_neither_revived_nor_lost_silently,
            a_row_that_does_not_decode_loads_as_no_session_with_a_warning,
            create_replaces_an_expired_row_but_never_a_live_one,
            regenerate_onto_an_expired_rows_key_takes_it,
        );
    };
    (@each $harness:ty, $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                sql_common::$check::<$harness>().await;
            }
        )*
    };
}
// As above: unused by the files that do not call it.
#[allow(unused_imports)]
pub(crate) use sql_store_tests;

/// Names the derive never makes but a store must still keep apart: dots,
/// dashes, quotes of every kind, backslashes, JSON path syntax.
pub(crate) const ODD_NAMES: &[&str] = &[
    "shop-v2.cart-items",
    "a.b.c",
    "q\"uote.d\"q",
    "back\\slash.x",
    "it's.o'k",
    "`tick`.x",
    "$.root",
    "arr[0].x",
    "star.*",
    "sp ace.x",
    "ünï.cødé",
    "nl\nx.y",
];

pub(crate) async fn field_names_with_dots_dashes_and_quotes_are_one_key_each<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let key = key();
    let mut created = ChangeSet::new(in_an_hour()).set("a", "\"plain\"");
    for (i, name) in ODD_NAMES.iter().enumerate() {
        created = created.set(*name, format!("[{i}]"));
    }
    assert_eq!(
        store.create(&key, &created).await.expect("create"),
        WriteOutcome::Applied
    );
    // Change every name three ways: set, increment, remove.
    let mut changes = ChangeSet::new(in_an_hour());
    for (i, name) in ODD_NAMES.iter().enumerate() {
        changes = match i % 3 {
            0 => changes.set(*name, format!("\"new{i}\"")),
            1 => changes.increment(*name, 5, 100),
            _ => changes.remove(*name),
        };
    }
    assert_eq!(
        store.save(&key, &changes).await.expect("save"),
        WriteOutcome::Applied
    );
    // A counter under a fresh odd name, twice.
    for _ in 0..2 {
        let bump = ChangeSet::new(in_an_hour()).increment("c.\"n\".\\", 1, 0);
        store.save(&key, &bump).await.expect("save");
    }
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.get("a"), Some("\"plain\""), "an untouched field");
    assert_eq!(record.get("c.\"n\".\\"), Some("2"));
    for (i, name) in ODD_NAMES.iter().enumerate() {
        let expected = match i % 3 {
            0 => Some(format!("\"new{i}\"")),
            // `[i]` is not an integer: the increment starts from 100.
            1 => Some("105".to_owned()),
            _ => None,
        };
        assert_eq!(record.get(name).map(str::to_owned), expected, "{name:?}");
    }
    assert_eq!(record.len(), 2 + ODD_NAMES.len() - ODD_NAMES.len() / 3);
    h.close().await;
}

pub(crate) async fn a_counter_under_an_odd_name_adds_to_the_value_it_holds<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let key = key();
    // Each name holds an integer, and a near miss of it holds another, so
    // an increment that read the wrong key (or none) shows.
    let mut created = ChangeSet::new(in_an_hour());
    for (i, name) in ODD_NAMES.iter().enumerate() {
        created = created
            .set(*name, (10 * i).to_string())
            .set(format!("{name}x"), "1000");
    }
    assert_eq!(
        store.create(&key, &created).await.expect("create"),
        WriteOutcome::Applied
    );
    let mut bump = ChangeSet::new(in_an_hour());
    for name in ODD_NAMES {
        bump = bump.increment(*name, 5, 100);
    }
    assert_eq!(
        store.save(&key, &bump).await.expect("save"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("live");
    for (i, name) in ODD_NAMES.iter().enumerate() {
        let expected = (10 * i + 5).to_string();
        assert_eq!(record.get(name), Some(expected.as_str()), "{name:?}");
        assert_eq!(record.get(&format!("{name}x")), Some("1000"), "{name:?}x");
    }
    assert_eq!(record.len(), 2 * ODD_NAMES.len());
    h.close().await;
}

pub(crate) async fn a_session_over_64_kib_is_stored_whole<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let key = key();
    let big = format!("\"{}\"", "é~\\\"".repeat(40 * 1024)); // 200 KiB of JSON text
    let created = ChangeSet::new(in_an_hour()).set("a.big", big.clone());
    assert_eq!(
        store.create(&key, &created).await.expect("create"),
        WriteOutcome::Applied
    );
    let bigger = format!("[{}]", vec!["\"item\""; 200_000].join(",")); // 1.4 MB
    let changes = ChangeSet::new(in_an_hour())
        .set("a.bigger", bigger.clone())
        .increment("a.n", 1, 0);
    assert_eq!(
        store.save(&key, &changes).await.expect("save"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.get("a.big").map(str::len), Some(big.len()));
    assert_eq!(record.get("a.big"), Some(big.as_str()));
    assert_eq!(record.get("a.bigger"), Some(bigger.as_str()));
    assert_eq!(record.get("a.n"), Some("1"));
    h.close().await;
}

pub(crate) async fn an_expiry_past_2038_is_kept<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    // 2100-01-01T00:00:00.123Z, then 2200.
    let year_2100 =
        OffsetDateTime::from_unix_timestamp_nanos(4_102_444_800_123_000_000).expect("2100");
    let key = key();
    let created = ChangeSet::new(year_2100).set("a.x", "1");
    assert_eq!(
        store.create(&key, &created).await.expect("create"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.expires_at(), year_2100);
    let year_2200 = year_2100 + Duration::days(36_524);
    assert_eq!(
        store.touch(&key, year_2200).await.expect("touch"),
        WriteOutcome::Applied
    );
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.expires_at(), year_2200);
    h.close().await;
}

pub(crate) async fn the_sweep_deletes_expired_rows_in_bounded_batches_and_spares_live_ones<
    H: Harness,
>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let mut live = Vec::new();
    for i in 0..28 {
        let key = key();
        let expires_at = if i < 25 { ago(10) } else { in_an_hour() };
        store
            .create(&key, &ChangeSet::new(expires_at).set("a.x", "1"))
            .await
            .expect("create");
        if i >= 25 {
            live.push(key);
        }
    }
    assert_eq!(h.rows().await, 28);
    let mut batches = Vec::new();
    loop {
        let n = store.sweep_expired(10).await.expect("sweep");
        batches.push(n);
        if n < 10 {
            break;
        }
    }
    assert_eq!(batches, vec![10, 10, 5]);
    assert_eq!(h.rows().await, 3);
    for key in &live {
        assert!(store.load(key).await.expect("load").is_some());
    }
    h.close().await;
}

pub(crate) async fn the_background_sweeper_deletes_expired_rows<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.sweeping(StdDuration::from_millis(50)).await;
    let live = key();
    store
        .create(&live, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("create");
    for _ in 0..5 {
        store
            .create(&key(), &ChangeSet::new(ago(10)).set("a.x", "1"))
            .await
            .expect("create");
    }
    // The sweeper started with the first create; wait for it, up to 10 s.
    for _ in 0..200 {
        if h.rows().await == 1 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert_eq!(h.rows().await, 1, "the expired rows were swept");
    assert!(store.load(&live).await.expect("load").is_some());
    drop(store);
    h.close().await;
}

pub(crate) async fn two_creates_racing_on_one_key_cannot_both_win<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let stores = [h.store(), h.another().await];
    for _ in 0..10 {
        let key = key();
        let creates = (0..8).map(|i| {
            let store = stores[i % 2].clone();
            async move {
                let changes = ChangeSet::new(in_an_hour()).set("a.who", i.to_string());
                (i, store.create(&key, &changes).await.expect("create"))
            }
        });
        let outcomes = futures_util::future::join_all(creates).await;
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(_, o)| *o == WriteOutcome::Applied)
            .collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        assert!(outcomes
            .iter()
            .all(|(_, o)| matches!(o, WriteOutcome::Applied | WriteOutcome::KeyTaken)));
        let record = stores[0].load(&key).await.expect("load").expect("live");
        assert_eq!(record.get("a.who"), Some(winners[0].0.to_string().as_str()));
    }
    h.close().await;
}

pub(crate) async fn concurrent_migrations_of_one_table_all_succeed_once<H: Harness>() {
    let Some(h) = H::open_unmigrated().await else {
        return;
    };
    let mut stores = vec![h.store()];
    for _ in 0..7 {
        stores.push(h.another().await);
    }
    // Eight instances booting at once, each with its own connections.
    let results = futures_util::future::join_all(stores.iter().map(H::migrate)).await;
    for result in results {
        result.expect("every migration succeeds");
    }
    assert_eq!(
        h.versions().await,
        H::STEPS,
        "each step ran and was recorded once"
    );
    H::migrate(&stores[3]).await.expect("migrating again");
    assert_eq!(h.versions().await, H::STEPS);
    let key = key();
    stores[5]
        .create(&key, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("the table works");
    assert!(stores[0].load(&key).await.expect("load").is_some());
    drop(stores);
    h.close().await;
}

/// A table made before the per-user index (step 1 only), holding sessions
/// bound to a user: `migrate` runs the later steps alone, and the index finds the
/// sessions written before it existed.
pub(crate) async fn a_table_from_step_one_upgrades_and_lists_its_bound_sessions<H: Harness>() {
    let Some(h) = H::open().await else {
        return;
    };
    h.to_step_one().await;
    assert_eq!(h.versions().await, vec![1]);
    let store = h.store();
    let bound = || {
        ChangeSet::new(in_an_hour())
            .set(session_kit::store::USER_FIELD, "\"ada\"")
            .set("auth.name", "\"ada\"")
    };
    let (a, b, other) = (key(), key(), key());
    for (k, changes) in [
        (&a, bound()),
        (&b, bound()),
        (
            &other,
            ChangeSet::new(in_an_hour()).set("auth.name", "\"bob\""),
        ),
    ] {
        assert_eq!(
            store.create(k, &changes).await.expect("create on step 1"),
            WriteOutcome::Applied
        );
    }
    H::migrate(&store).await.expect("migrate to the last step");
    assert_eq!(h.versions().await, H::STEPS);
    let mut listed: Vec<SessionKey> = store
        .user_sessions("ada")
        .await
        .expect("listed")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    listed.sort_by_key(|k| *k.as_bytes());
    let mut expected = vec![a, b];
    expected.sort_by_key(|k| *k.as_bytes());
    assert_eq!(listed, expected);
    assert_eq!(
        store
            .delete_user_sessions("ada", None)
            .await
            .expect("revoked"),
        2
    );
    assert!(store.load(&other).await.expect("load").is_some());
    h.close().await;
}

pub(crate) async fn a_session_expiring_between_load_and_save_is_neither_revived_nor_lost_silently<
    H: Harness,
>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let key = key();
    let soon = OffsetDateTime::now_utc() + Duration::milliseconds(1200);
    store
        .create(&key, &ChangeSet::new(soon).set("a.x", "1"))
        .await
        .expect("create");
    assert!(
        store.load(&key).await.expect("load").is_some(),
        "live at load"
    );
    tokio::time::sleep(StdDuration::from_millis(2000)).await;
    // The request's save arrives after the expiry: it is refused out loud
    // (the layer logs it and drops the change), not applied to a dead row.
    let late = ChangeSet::new(in_an_hour())
        .set("a.y", "2")
        .increment("a.n", 1, 0);
    assert_eq!(
        store.save(&key, &late).await.expect("save"),
        WriteOutcome::NotLive
    );
    assert_eq!(
        store.touch(&key, in_an_hour()).await.expect("touch"),
        WriteOutcome::NotLive
    );
    assert_eq!(
        store
            .regenerate(&key, &self::key(), &late)
            .await
            .expect("regenerate"),
        WriteOutcome::NotLive
    );
    assert_eq!(store.load(&key).await.expect("load"), None, "not revived");
    h.close().await;
}

pub(crate) async fn a_row_that_does_not_decode_loads_as_no_session_with_a_warning<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let (broken, intact) = (key(), key());
    for key in [&broken, &intact] {
        store
            .create(key, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
            .await
            .expect("create");
    }
    h.corrupt(&broken).await;
    let (loaded, logs) = logs_of(store.load(&broken)).await;
    assert_eq!(loaded.expect("not an error"), None);
    assert!(
        logs.contains("WARN") && logs.contains("does not decode"),
        "a warning says why: {logs}"
    );
    let record = store.load(&intact).await.expect("load").expect("live");
    assert_eq!(record.get("a.x"), Some("1"), "the other session is intact");
    h.close().await;
}

pub(crate) async fn create_replaces_an_expired_row_but_never_a_live_one<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let (store, other) = (h.store(), h.another().await);
    let key = key();
    store
        .create(&key, &ChangeSet::new(ago(5)).set("a.x", "old"))
        .await
        .expect("create");
    assert!(h.has_row(&key).await, "the expired row is still there");
    // Two instances race to reuse the expired key: one wins.
    let fresh = |who: &str| ChangeSet::new(in_an_hour()).set("a.x", format!("\"{who}\""));
    let (for_a, for_b) = (fresh("a"), fresh("b"));
    let (a, b) = tokio::join!(store.create(&key, &for_a), other.create(&key, &for_b));
    let (a, b) = (a.expect("create"), b.expect("create"));
    assert!(
        matches!(
            (a, b),
            (WriteOutcome::Applied, WriteOutcome::KeyTaken)
                | (WriteOutcome::KeyTaken, WriteOutcome::Applied)
        ),
        "{a:?} {b:?}"
    );
    let winner = if a == WriteOutcome::Applied {
        "\"a\""
    } else {
        "\"b\""
    };
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.get("a.x"), Some(winner));
    assert_eq!(h.rows().await, 1);
    h.close().await;
}

pub(crate) async fn regenerate_onto_an_expired_rows_key_takes_it<H: Harness>() {
    let Some(h) = H::open().await else { return };
    let store = h.store();
    let (old, new) = (key(), key());
    store
        .create(&old, &ChangeSet::new(in_an_hour()).set("a.x", "1"))
        .await
        .expect("create");
    store
        .create(&new, &ChangeSet::new(ago(5)).set("a.x", "stale"))
        .await
        .expect("create");
    let changes = ChangeSet::new(in_an_hour()).set("a.user", "\"ada\"");
    assert_eq!(
        store
            .regenerate(&old, &new, &changes)
            .await
            .expect("regenerate"),
        WriteOutcome::Applied
    );
    assert_eq!(store.load(&old).await.expect("load"), None);
    let record = store.load(&new).await.expect("load").expect("live");
    assert_eq!(
        record.get("a.x"),
        Some("1"),
        "the moved data, not the stale row's"
    );
    assert_eq!(record.get("a.user"), Some("\"ada\""));
    assert_eq!(h.rows().await, 1);
    h.close().await;
}

// -------------------------------------------------------------- harnesses

#[cfg(feature = "postgres")]
pub(crate) mod pg {
    use super::*;
    use session_kit::PostgresStore;
    use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
    use std::str::FromStr as _;

    pub(crate) fn url() -> String {
        std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// A schema of the test's own, for a process that takes a URL: the
    /// admin pool, the schema, and a URL whose search path puts the schema
    /// first (an unqualified `sessions` lands there). Drop it with
    /// [`drop_schema`].
    pub(crate) async fn scratch_schema() -> Option<(PgPool, String, String)> {
        let admin = admin().await?;
        let schema = create_schema(&admin).await;
        let url = format!("{}?options=-c%20search_path%3D{schema}", url());
        Some((admin, schema, url))
    }

    /// Creates a schema with a name of its own, and names it.
    async fn create_schema(admin: &PgPool) -> String {
        let schema = unique_name();
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(admin)
            .await
            .expect("CREATE SCHEMA");
        schema
    }

    /// Drops a schema of [`scratch_schema`] and all in it.
    pub(crate) async fn drop_schema(admin: &PgPool, schema: &str) {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(admin)
            .await
            .expect("DROP SCHEMA");
    }

    /// A small pool for the test's own statements.
    pub(crate) async fn admin() -> Option<PgPool> {
        let url = url();
        match PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(StdDuration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(pool) => Some(pool),
            Err(err) => {
                common::skip_or_fail(&format!("no PostgreSQL at {url} ({err}); set DATABASE_URL"));
                None
            }
        }
    }

    /// A store on `table` through a pool of these options.
    pub(crate) async fn store_on(options: PgConnectOptions, table: &str) -> PostgresStore {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(StdDuration::from_secs(5))
            .connect_with(options)
            .await
            .expect("a pool");
        PostgresStore::builder()
            .table(table)
            .no_background_sweep()
            .build(pool)
            .expect("a valid table")
    }

    pub(crate) fn options() -> PgConnectOptions {
        PgConnectOptions::from_str(&url()).expect("a PostgreSQL URL")
    }

    /// A schema of this test's own, dropped after.
    pub(crate) struct Pg {
        pub(crate) admin: PgPool,
        pub(crate) schema: String,
        pub(crate) store: PostgresStore,
    }

    impl Pg {
        pub(crate) fn table(&self) -> String {
            format!("\"{}\".sessions", self.schema)
        }
    }

    impl Harness for Pg {
        const STEPS: &'static [i64] = &[1, 2];

        type Store = PostgresStore;

        async fn open_unmigrated() -> Option<Self> {
            let admin = admin().await?;
            let schema = create_schema(&admin).await;
            let store = store_on(options(), &format!("{schema}.sessions")).await;
            Some(Self {
                admin,
                schema,
                store,
            })
        }

        fn store(&self) -> PostgresStore {
            self.store.clone()
        }

        async fn another(&self) -> PostgresStore {
            store_on(options(), &format!("{}.sessions", self.schema)).await
        }

        async fn sweeping(&self, every: StdDuration) -> PostgresStore {
            PostgresStore::builder()
                .table(format!("{}.sessions", self.schema))
                .sweep_every(every)
                .build(self.store.pool().clone())
                .expect("a valid table")
        }

        async fn migrate(store: &PostgresStore) -> Result<(), session_kit::StoreError> {
            store.migrate().await
        }

        async fn rows(&self) -> i64 {
            sqlx::query_scalar(&format!("SELECT count(*) FROM {}", self.table()))
                .fetch_one(&self.admin)
                .await
                .expect("count")
        }

        async fn has_row(&self, key: &SessionKey) -> bool {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT count(*) FROM {} WHERE id = $1",
                self.table()
            ))
            .bind(&key.as_bytes()[..])
            .fetch_one(&self.admin)
            .await
            .expect("count")
                == 1
        }

        async fn versions(&self) -> Vec<i64> {
            sqlx::query_scalar(&format!(
                "SELECT version FROM \"{}\".sessions_migrations ORDER BY version",
                self.schema
            ))
            .fetch_all(&self.admin)
            .await
            .expect("versions")
        }

        async fn to_step_one(&self) {
            for sql in [
                format!("ALTER TABLE {} DROP COLUMN user_key", self.table()),
                format!(
                    "DELETE FROM \"{}\".sessions_migrations WHERE version > 1",
                    self.schema
                ),
            ] {
                sqlx::query(&sql)
                    .execute(&self.admin)
                    .await
                    .expect("back to step 1");
            }
        }

        async fn corrupt(&self, key: &SessionKey) {
            sqlx::query(&format!(
                "UPDATE {} SET fields = '[\"not\", \"an object\"]' WHERE id = $1",
                self.table()
            ))
            .bind(&key.as_bytes()[..])
            .execute(&self.admin)
            .await
            .expect("corrupt");
        }

        async fn teardown(store: PostgresStore) {
            let table = store.table();
            let schema = table.split('.').next().expect("a qualified table");
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(store.pool())
                .await;
            store.pool().close().await;
        }
    }
}

#[cfg(feature = "mysql")]
pub(crate) mod my {
    use super::*;
    use session_kit::MySqlStore;
    use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
    use std::str::FromStr as _;

    pub(crate) fn url() -> String {
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
    }

    pub(crate) fn options() -> MySqlConnectOptions {
        MySqlConnectOptions::from_str(&url()).expect("a MySQL URL")
    }

    /// A small pool for the test's own statements.
    pub(crate) async fn admin() -> Option<MySqlPool> {
        let url = url();
        match MySqlPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(StdDuration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(pool) => Some(pool),
            Err(err) => {
                common::skip_or_fail(&format!("no MySQL at {url} ({err}); set MYSQL_URL"));
                None
            }
        }
    }

    pub(crate) async fn store_on(options: MySqlConnectOptions, table: &str) -> MySqlStore {
        let pool = MySqlPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(StdDuration::from_secs(5))
            .connect_with(options)
            .await
            .expect("a pool");
        MySqlStore::builder()
            .table(table)
            .no_background_sweep()
            .build(pool)
            .expect("a valid table")
    }

    /// A table of this test's own, dropped after.
    pub(crate) struct My {
        pub(crate) admin: MySqlPool,
        pub(crate) table: String,
        pub(crate) store: MySqlStore,
    }

    impl Harness for My {
        const STEPS: &'static [i64] = &[1, 2];

        type Store = MySqlStore;

        async fn open_unmigrated() -> Option<Self> {
            let admin = admin().await?;
            let table = unique_name();
            let store = store_on(options(), &table).await;
            Some(Self {
                admin,
                table,
                store,
            })
        }

        fn store(&self) -> MySqlStore {
            self.store.clone()
        }

        async fn another(&self) -> MySqlStore {
            store_on(options(), &self.table).await
        }

        async fn sweeping(&self, every: StdDuration) -> MySqlStore {
            MySqlStore::builder()
                .table(&self.table)
                .sweep_every(every)
                .build(self.store.pool().clone())
                .expect("a valid table")
        }

        async fn migrate(store: &MySqlStore) -> Result<(), session_kit::StoreError> {
            store.migrate().await
        }

        async fn rows(&self) -> i64 {
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM `{}`", self.table))
                .fetch_one(&self.admin)
                .await
                .expect("count")
        }

        async fn has_row(&self, key: &SessionKey) -> bool {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT COUNT(*) FROM `{}` WHERE id = ?",
                self.table
            ))
            .bind(&key.as_bytes()[..])
            .fetch_one(&self.admin)
            .await
            .expect("count")
                == 1
        }

        async fn versions(&self) -> Vec<i64> {
            sqlx::query_scalar(&format!(
                "SELECT version FROM `{}_migrations` ORDER BY version",
                self.table
            ))
            .fetch_all(&self.admin)
            .await
            .expect("versions")
        }

        async fn to_step_one(&self) {
            for sql in [
                format!("ALTER TABLE `{}` DROP COLUMN user_digest", self.table),
                format!("DELETE FROM `{}_migrations` WHERE version > 1", self.table),
            ] {
                sqlx::query(&sql)
                    .execute(&self.admin)
                    .await
                    .expect("back to step 1");
            }
        }

        async fn corrupt(&self, key: &SessionKey) {
            sqlx::query(&format!(
                "UPDATE `{}` SET fields = '[\"not\", \"an object\"]' WHERE id = ?",
                self.table
            ))
            .bind(&key.as_bytes()[..])
            .execute(&self.admin)
            .await
            .expect("corrupt");
        }

        async fn teardown(store: MySqlStore) {
            let table = store.table();
            let _ = sqlx::query(&format!(
                "DROP TABLE IF EXISTS `{table}`, `{table}_migrations`"
            ))
            .execute(store.pool())
            .await;
            store.pool().close().await;
        }
    }
}

#[cfg(feature = "sqlite")]
pub(crate) mod lite {
    use super::*;
    use session_kit::SqliteStore;
    use std::path::PathBuf;

    /// A database file in the temporary directory, for one test.
    pub(crate) fn temp_file() -> PathBuf {
        std::env::temp_dir().join(format!("{}.db", unique_name()))
    }

    pub(crate) fn url_of(path: &std::path::Path) -> String {
        format!("sqlite://{}", path.display())
    }

    pub(crate) async fn store_at(path: &std::path::Path) -> SqliteStore {
        SqliteStore::builder()
            .no_background_sweep()
            .connect(&url_of(path))
            .await
            .expect("open the SQLite file")
    }

    /// Removes the database file and its WAL companions.
    pub(crate) fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }

    /// A file of this test's own, removed after.
    pub(crate) struct Lite {
        pub(crate) path: PathBuf,
        pub(crate) store: SqliteStore,
    }

    impl Lite {
        async fn scalar(&self, sql: &str, key: Option<&SessionKey>) -> i64 {
            let mut query = sqlx::query_scalar(sql);
            if let Some(key) = key {
                query = query.bind(&key.as_bytes()[..]);
            }
            query.fetch_one(self.store.pool()).await.expect("a count")
        }
    }

    impl Harness for Lite {
        const STEPS: &'static [i64] = &[1, 2, 3];

        type Store = SqliteStore;

        async fn open_unmigrated() -> Option<Self> {
            let path = temp_file();
            let store = store_at(&path).await;
            Some(Self { path, store })
        }

        fn store(&self) -> SqliteStore {
            self.store.clone()
        }

        async fn another(&self) -> SqliteStore {
            store_at(&self.path).await
        }

        async fn sweeping(&self, every: StdDuration) -> SqliteStore {
            SqliteStore::builder()
                .sweep_every(every)
                .build(self.store.pool().clone())
                .expect("a valid table")
        }

        async fn migrate(store: &SqliteStore) -> Result<(), session_kit::StoreError> {
            store.migrate().await
        }

        async fn rows(&self) -> i64 {
            self.scalar("SELECT count(*) FROM sessions", None).await
        }

        async fn has_row(&self, key: &SessionKey) -> bool {
            self.scalar("SELECT count(*) FROM sessions WHERE id = ?1", Some(key))
                .await
                == 1
        }

        async fn versions(&self) -> Vec<i64> {
            sqlx::query_scalar("SELECT version FROM sessions_migrations ORDER BY version")
                .fetch_all(self.store.pool())
                .await
                .expect("versions")
        }

        async fn to_step_one(&self) {
            let pool = self.store.pool();
            let indexes: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'sessions' AND sql LIKE '%user_key%'",
            )
            .fetch_all(pool)
            .await
            .expect("the index");
            assert_eq!(indexes.len(), 1, "{indexes:?}");
            for sql in [
                format!("DROP INDEX \"{}\"", indexes[0]),
                "ALTER TABLE sessions DROP COLUMN user_key".to_owned(),
                "DELETE FROM sessions_migrations WHERE version > 1".to_owned(),
            ] {
                sqlx::query(&sql)
                    .execute(pool)
                    .await
                    .expect("back to step 1");
            }
        }

        async fn corrupt(&self, key: &SessionKey) {
            sqlx::query("UPDATE sessions SET fields = '{not json' WHERE id = ?1")
                .bind(&key.as_bytes()[..])
                .execute(self.store.pool())
                .await
                .expect("corrupt");
        }

        async fn teardown(store: SqliteStore) {
            let path = store.pool().connect_options().get_filename().to_path_buf();
            store.pool().close().await;
            remove(&path);
        }
    }
}

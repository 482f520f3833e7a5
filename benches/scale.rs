//! Throughput and latency against the number of live sessions, in process
//! (`tower::ServiceExt::oneshot` on a current-thread runtime, no network, so
//! only the request path and the store are measured), for session-kit's
//! `MemoryStore` and tower-sessions' `MemoryStore`, each in a process of its
//! own, with plain axum measured in the same process as the baseline.
//!
//! ```text
//! cargo bench --bench scale                        # 1,000 / 100,000 / 1,000,000 sessions
//! cargo bench --bench scale -- --rounds 300 --batch 200 --sizes 1000,100000,1000000
//! ```
//!
//! - **Growth.** One store is filled from 0 to the largest size by new-visitor
//!   requests (`GET /`, no cookie), each timed; per step of `--step`
//!   sessions: the p50, p99 and max latency, how many took over 1 ms, and
//!   the step's rate.
//! - **Scale.** A store per size, all filled by requests and all alive at once;
//!   then `--rounds` rounds, each running one batch of `--batch` requests on
//!   every (row, size) cell and on plain axum, so the cells of a round meet the
//!   same machine load. Rows: a new visitor (the batch's sessions are deleted
//!   through the store API after the batch, outside the timing, so the store
//!   stays at its size); returning visitors whose counter changes, and
//!   read-only ones, each request carrying the next of up to `--sample`
//!   sessions' cookies (spread over the store, shuffled; the two rows start
//!   half the list apart, so neither meets sessions the other just touched);
//!   and one returning session, counter changing or read only. Plain axum
//!   gets the largest store's cookies, which it ignores. Each cell's figure
//!   is the median of its batches' rates (requests over the batch's time),
//!   which a batch that another process preempted does not move, and half
//!   their interquartile range.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, ExitCode};
use std::str::FromStr;
use std::time::Instant;

use axum::http::{HeaderValue, Uri};
use axum::Router;
use session_kit::store::SessionStore as _;

use common::{send, Variant};

/// Who sends a row's requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visitors {
    /// No cookie: every request starts a session.
    New,
    /// Returning visitors spread over the store: each request carries the
    /// next of up to `--sample` sessions' cookies, in shuffled order.
    Spread,
    /// One returning visitor: the same cookie every time, as wrk's returning
    /// rows in `benches/load.sh` send.
    One,
}

/// A row: its name, its path and who sends it.
const ROWS: [(&str, &str, Visitors); 5] = [
    ("new_visitor", "/", Visitors::New),
    ("returning_counter", "/", Visitors::Spread),
    ("returning_read_only", "/peek", Visitors::Spread),
    ("one_session_counter", "/", Visitors::One),
    ("one_session_read_only", "/peek", Visitors::One),
];

/// The settings, from `--name value` pairs.
#[derive(Clone, Debug)]
struct Settings {
    sizes: Vec<usize>,
    rounds: usize,
    batch: usize,
    sample: usize,
    step: usize,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Self, String> {
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
        };
        let number = |flag: &str, default: usize| match value(flag) {
            None => Ok(default),
            Some(text) => text
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{flag}: not a number: {text}")),
        };
        let mut sizes = match value("--sizes") {
            None => vec![1_000, 100_000, 1_000_000],
            Some(list) => list
                .split(',')
                .map(|n| n.replace('_', "").parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("--sizes: not a list of numbers: {list}"))?,
        };
        sizes.sort_unstable();
        sizes.dedup();
        let settings = Self {
            sizes,
            rounds: number("--rounds", 300)?,
            batch: number("--batch", 200)?,
            sample: number("--sample", 100_000)?,
            step: number("--step", 100_000)?,
        };
        if settings.sizes.first() == Some(&0) || settings.sizes.is_empty() {
            return Err("--sizes: each size must be at least 1".to_owned());
        }
        if settings.rounds == 0 || settings.batch == 0 || settings.sample == 0 || settings.step == 0
        {
            return Err("--rounds, --batch, --sample and --step must be at least 1".to_owned());
        }
        Ok(settings)
    }

    fn to_args(&self) -> Vec<String> {
        let sizes = self
            .sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        [
            ("--sizes", sizes),
            ("--rounds", self.rounds.to_string()),
            ("--batch", self.batch.to_string()),
            ("--sample", self.sample.to_string()),
            ("--step", self.step.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
    }
}

/// A store the bench can reach beside the router: to delete a new-visitor
/// batch's sessions and to check the store's size.
#[derive(Clone)]
enum Store {
    None,
    Kit(session_kit::MemoryStore),
    Tower(tower_sessions::MemoryStore),
}

impl Store {
    fn router(variant: Variant) -> (Router, Store) {
        match variant {
            Variant::Axum => (common::axum_router(), Store::None),
            Variant::SessionKit => {
                // Unbounded, as tower-sessions' is: `MemoryStore::new` holds a
                // million at most, a cap kept per shard, so it would start
                // evicting before the largest size is reached.
                let store = session_kit::MemoryStore::unbounded();
                (
                    common::session_kit_router_on(store.clone()),
                    Store::Kit(store),
                )
            }
            Variant::TowerSessions => {
                let store = tower_sessions::MemoryStore::default();
                (
                    common::tower_sessions_router_on(store.clone()),
                    Store::Tower(store),
                )
            }
            // No server state to grow: the scale rows do not apply.
            Variant::SessionKitCookie => (common::session_kit_cookie_router(), Store::None),
        }
    }

    /// Deletes the session a `Set-Cookie` value names, through the store's
    /// own API. Panics if the store did not hold it, so a cookie format this
    /// bench no longer reads cannot pass unnoticed.
    async fn delete(&self, set_cookie: &HeaderValue) {
        let value = common::cookie_pair(set_cookie)
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.trim())
            .expect("a name=value cookie");
        match self {
            Store::None => {}
            Store::Kit(store) => {
                // A signed cookie's value holds the 32-character ID: before
                // the last `.` in the current format, after the MAC in the
                // `cookie` crate's. The key that the store holds is the one.
                let candidates = [
                    value.rsplit_once('.').map(|(id, _)| id),
                    value.len().checked_sub(32).and_then(|at| value.get(at..)),
                ];
                let mut key = None;
                for id in candidates
                    .into_iter()
                    .flatten()
                    .filter_map(session_kit::SessionId::parse)
                {
                    let candidate = id.key();
                    if store.load(&candidate).await.expect("loaded").is_some() {
                        key = Some(candidate);
                        break;
                    }
                }
                let key = key.expect("the cookie names a stored session");
                let before = store.len();
                store.delete(&key).await.expect("deleted");
                assert_eq!(store.len() + 1, before, "the session was deleted");
            }
            Store::Tower(store) => {
                use tower_sessions::SessionStore as _;
                let id = tower_sessions::session::Id::from_str(value)
                    .expect("a tower-sessions cookie is the session ID");
                let loaded = store.load(&id).await.expect("loaded");
                assert!(loaded.is_some(), "the cookie named a stored session");
                store.delete(&id).await.expect("deleted");
            }
        }
    }
}

/// The `name=value` part of a `Set-Cookie`, as a `Cookie` header value.
fn as_cookie(set: &HeaderValue) -> HeaderValue {
    let pair = common::cookie_pair(set).expect("an ASCII cookie");
    HeaderValue::from_str(pair).expect("a cookie is a header value")
}

/// A store of `size` sessions, made by new-visitor requests; the cookies of
/// up to `sample` of them, spread over the fill; and, if asked, each
/// request's latency in nanoseconds.
struct Filled {
    app: Router,
    store: Store,
    cookies: Vec<HeaderValue>,
    latencies: Vec<u64>,
}

async fn fill(variant: Variant, size: usize, sample: usize, timed: bool) -> Filled {
    let (app, store) = Store::router(variant);
    let uri = Uri::from_static("/");
    let stride = size.div_ceil(sample).max(1);
    let mut cookies = Vec::with_capacity(size / stride + 1);
    let mut latencies = Vec::with_capacity(if timed { size } else { 0 });
    for i in 0..size {
        let started = Instant::now();
        let set = send(&app, &uri, None).await;
        if timed {
            latencies.push(started.elapsed().as_nanos() as u64);
        }
        let set = set.expect("a new visitor gets a cookie");
        if i % stride == 0 {
            cookies.push(as_cookie(&set));
        }
    }
    if let Store::Kit(store) = &store {
        assert_eq!(store.len(), size, "every new visitor made one session");
    }
    common::shuffle(&mut cookies, 0x9E37_79B9_7F4A_7C15 ^ size as u64);
    Filled {
        app,
        store,
        cookies,
        latencies,
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One cell of the scale table: a row on one of the stores.
struct Cell {
    row: &'static str,
    path: &'static str,
    visitors: Visitors,
    store: usize,
    next_cookie: usize,
    /// Each batch's requests per second.
    rates: Vec<f64>,
}

impl Cell {
    /// One timed batch; a new visitor's sessions are deleted afterwards.
    async fn batch(&mut self, on: &Filled, size: usize, batch: usize, made: &mut Vec<HeaderValue>) {
        let uri = Uri::from_static(self.path);
        made.clear();
        let started = Instant::now();
        match self.visitors {
            Visitors::New => {
                for _ in 0..batch {
                    if let Some(set) = send(&on.app, &uri, None).await {
                        made.push(set);
                    }
                }
            }
            Visitors::Spread => {
                for _ in 0..batch {
                    let cookie = &on.cookies[self.next_cookie];
                    self.next_cookie = (self.next_cookie + 1) % on.cookies.len();
                    std::hint::black_box(send(&on.app, &uri, Some(cookie)).await);
                }
            }
            Visitors::One => {
                for _ in 0..batch {
                    std::hint::black_box(send(&on.app, &uri, Some(&on.cookies[0])).await);
                }
            }
        }
        self.rates
            .push(batch as f64 / started.elapsed().as_secs_f64().max(1e-9));
        for set in made.iter() {
            on.store.delete(set).await;
        }
        if let Store::Kit(store) = &on.store {
            assert_eq!(store.len(), size, "the store kept its size");
        }
    }
}

/// Everything for one server, in this process: prints tab-separated lines
/// the parent turns into tables.
fn measure(variant: Variant, settings: &Settings) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let name = variant.name();
    rt.block_on(async {
        // Growth: the largest store, each request timed.
        let largest = *settings.sizes.last().expect("at least one size");
        let started = Instant::now();
        let grown = fill(variant, largest, settings.sample, true).await;
        eprintln!(
            "{name}: filled {largest} sessions in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        for (i, step) in grown.latencies.chunks(settings.step).enumerate() {
            let mut sorted = step.to_vec();
            sorted.sort_unstable();
            let total: u64 = step.iter().sum();
            let over_1ms = step.iter().filter(|ns| **ns > 1_000_000).count();
            println!(
                "step\t{name}\t{}\t{}\t{}\t{}\t{}\t{:.0}\t{over_1ms}",
                i * settings.step,
                i * settings.step + step.len(),
                percentile(&sorted, 50.0),
                percentile(&sorted, 99.0),
                sorted.last().copied().unwrap_or(0),
                step.len() as f64 / (total as f64 / 1e9),
            );
        }

        // Scale: a store per size, all alive at once (the largest is the
        // one just grown), and plain axum as size 0.
        let mut stores: Vec<(usize, Filled)> = Vec::new();
        for &size in &settings.sizes[..settings.sizes.len() - 1] {
            stores.push((size, fill(variant, size, settings.sample, false).await));
        }
        // Plain axum gets the largest store's cookies, which it ignores, so
        // its returning rows parse the same bytes and walk the same list.
        let axum_cookies = grown.cookies.clone();
        stores.push((largest, grown));
        stores.push((
            0,
            Filled {
                app: common::axum_router(),
                store: Store::None,
                cookies: axum_cookies,
                latencies: Vec::new(),
            },
        ));
        // The spread rows of one store start evenly apart in its cookies and
        // advance at the same pace, so no batch meets the sessions another
        // row's batch has just brought into the cache.
        let spread_rows = ROWS.iter().filter(|r| r.2 == Visitors::Spread).count();
        let mut cells = Vec::new();
        let mut spread_index = 0;
        for (row, path, visitors) in ROWS {
            for (store, (_, filled)) in stores.iter().enumerate() {
                cells.push(Cell {
                    row,
                    path,
                    visitors,
                    store,
                    next_cookie: filled.cookies.len() * spread_index / spread_rows,
                    rates: Vec::with_capacity(settings.rounds),
                });
            }
            if visitors == Visitors::Spread {
                spread_index += 1;
            }
        }
        let mut made = Vec::with_capacity(settings.batch);
        for round in 0..settings.rounds {
            // Each round starts at another cell, so no cell always runs
            // right after the same one.
            let n = cells.len();
            for k in 0..n {
                let cell = &mut cells[(round + k) % n];
                let (size, on) = &stores[cell.store];
                cell.batch(on, *size, settings.batch, &mut made).await;
            }
        }
        for cell in &mut cells {
            let size = stores[cell.store].0;
            let server = if size == 0 { "axum" } else { name };
            cell.rates.sort_by(f64::total_cmp);
            let quartile = |q: usize| cell.rates[(cell.rates.len() - 1) * q / 4];
            println!(
                "cell\t{name}\t{server}\t{}\t{size}\t{:.0}\t{:.0}\t{:.0}",
                cell.row,
                quartile(2),
                quartile(1),
                quartile(3)
            );
        }
    });
}

fn label(row: &str) -> &'static str {
    match row {
        "new_visitor" => "new visitor",
        "returning_counter" => "returning, counter changes",
        "returning_read_only" => "returning, read only",
        "one_session_counter" => "one session, counter changes",
        "one_session_read_only" => "one session, read only",
        _ => "?",
    }
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn micros(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.1} us", ns / 1e3)
    }
}

fn report(outputs: &[(Variant, String)], settings: &Settings) {
    // (run, server, row, size) -> (median req/s, half the interquartile
    // range over the median)
    let mut rates: BTreeMap<(String, String, String, usize), (f64, f64)> = BTreeMap::new();
    // run -> [(from, to, p50, p99, max, rate, over 1 ms)]
    let mut steps: BTreeMap<String, Vec<[f64; 7]>> = BTreeMap::new();
    for (_, out) in outputs {
        for line in out.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                ["cell", run, server, row, size, median, p25, p75] => {
                    let median: f64 = median.parse().expect("a number");
                    let p25: f64 = p25.parse().expect("a number");
                    let p75: f64 = p75.parse().expect("a number");
                    rates.insert(
                        (
                            (*run).to_owned(),
                            (*server).to_owned(),
                            (*row).to_owned(),
                            size.parse().expect("a number"),
                        ),
                        (median, (p75 - p25) / 2.0 / median),
                    );
                }
                ["step", run, rest @ ..] => {
                    let mut v = [0.0; 7];
                    for (slot, text) in v.iter_mut().zip(rest) {
                        *slot = text.parse().expect("a number");
                    }
                    steps.entry((*run).to_owned()).or_default().push(v);
                }
                _ => {}
            }
        }
    }
    let sizes = &settings.sizes;
    let largest = *sizes.last().expect("a size");
    println!(
        "In process, one current-thread runtime per server process; {} rounds of one batch of {} requests \
         per cell, the cells of a round back to back; req/s = the median of a cell's batch rates, \
         ± half their interquartile range.",
        settings.rounds, settings.batch
    );
    println!();
    print!("| server | row | plain axum, same run |");
    for size in sizes {
        print!(" {} sessions |", thousands(*size as f64));
    }
    for size in &sizes[1..] {
        print!(
            " {} vs {} |",
            thousands(*size as f64),
            thousands(sizes[0] as f64)
        );
    }
    print!(" {} vs axum |", thousands(largest as f64));
    println!();
    print!("| --- | --- | ---: |");
    for _ in 0..sizes.len() * 2 {
        print!(" ---: |");
    }
    println!();
    for (variant, _) in outputs {
        let run = variant.name();
        for (row, _, _) in ROWS {
            let spread = |server: &str, size: usize| {
                rates
                    .get(&(run.to_owned(), server.to_owned(), row.to_owned(), size))
                    .copied()
                    .unwrap_or((f64::NAN, f64::NAN))
            };
            let get = |server: &str, size: usize| spread(server, size).0;
            let cell = |server: &str, size: usize| {
                let (median, half_iqr) = spread(server, size);
                format!("{} ±{:.0}%", thousands(median), half_iqr * 100.0)
            };
            let axum = get("axum", 0);
            print!("| {run} | {} | {} |", label(row), cell("axum", 0));
            for &size in sizes {
                print!(" {} |", cell(run, size));
            }
            for &size in &sizes[1..] {
                print!(" {:.2}x |", get(run, size) / get(run, sizes[0]));
            }
            print!(" {:.2}x |", get(run, largest) / axum);
            println!();
        }
    }
    println!();
    println!(
        "New visitors while the store grows from 0 to {} sessions (every request timed, per step of {}):",
        thousands(largest as f64),
        thousands(settings.step as f64)
    );
    println!();
    let runs: Vec<&str> = outputs.iter().map(|(v, _)| v.name()).collect();
    print!("| sessions |");
    for run in &runs {
        print!(" {run} p50 | p99 | max | over 1 ms | req/s |");
    }
    println!();
    print!("| --- |");
    for _ in &runs {
        print!(" ---: | ---: | ---: | ---: | ---: |");
    }
    println!();
    let n_steps = steps.values().map(Vec::len).max().unwrap_or(0);
    for i in 0..n_steps {
        let mut label = None;
        let mut cells = String::new();
        for run in &runs {
            match steps.get(*run).and_then(|s| s.get(i)) {
                Some([from, to, p50, p99, max, rate, over]) => {
                    label.get_or_insert_with(|| {
                        format!("{} to {}", thousands(*from), thousands(*to))
                    });
                    cells.push_str(&format!(
                        " {} | {} | {} | {over} | {} |",
                        micros(*p50),
                        micros(*p99),
                        micros(*max),
                        thousands(*rate)
                    ));
                }
                None => cells.push_str(" | | | | |"),
            }
        }
        println!("| {} |{cells}", label.unwrap_or_default());
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::parse(&args) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("scale: {err}");
            return ExitCode::FAILURE;
        }
    };
    let server = args
        .iter()
        .position(|a| a == "--server")
        .and_then(|i| args.get(i + 1));
    if let Some(server) = server {
        let Some(variant) = Variant::parse(server)
            .filter(|v| matches!(v, Variant::SessionKit | Variant::TowerSessions))
        else {
            eprintln!("scale: --server must be session-kit or tower-sessions");
            return ExitCode::FAILURE;
        };
        measure(variant, &settings);
        return ExitCode::SUCCESS;
    }
    // Each server in a process of its own, so one's heap does not crowd the
    // other's caches and allocator.
    let exe = std::env::current_exe().expect("own path");
    let mut outputs = Vec::new();
    for variant in [Variant::SessionKit, Variant::TowerSessions] {
        eprintln!("scale: measuring {}", variant.name());
        let out = Command::new(&exe)
            .arg("--bench")
            .args(["--server", variant.name()])
            .args(settings.to_args())
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("the measuring process runs");
        if !out.status.success() {
            eprintln!("scale: the {} run failed: {}", variant.name(), out.status);
            return ExitCode::FAILURE;
        }
        outputs.push((variant, String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    report(&outputs, &settings);
    ExitCode::SUCCESS
}

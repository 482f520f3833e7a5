//! Instructions per request, counted by callgrind: one (server, row) per
//! process, in process (`tower::ServiceExt::oneshot` on a current-thread
//! runtime, no network), so the same binary and inputs give the same count
//! however busy the machine is. `benches/instructions.sh` runs every cell
//! under valgrind and prints the table.
//!
//! ```text
//! benches/instructions.sh
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_requests*' \
//!     target/release/deps/instructions-* --bench --server session-kit --row returning_counter
//! target/release/deps/instructions-* --bench --probe   # which SHA-256 path sha2 takes
//! ```
//!
//! Each run makes the session it needs, sends `--warmup` requests, then
//! `--requests` more inside `measured_requests`, the one function callgrind
//! collects in (`--collect-atstart=no --toggle-collect=...`). It prints one
//! tab-separated line: server, row, measured requests, how many of their
//! answers set a cookie, and nanoseconds of wall time per request (a check
//! that it ran, not the measure).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

mod common;

use std::process::ExitCode;
use std::time::Instant;

use axum::body::Body;
use axum::http::header::COOKIE;
use axum::http::{HeaderValue, Request, Uri};
use axum::Router;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

use common::{cookie_of, count_in, send, Variant, DUMMY_COOKIE};

/// What one measured request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    /// `GET /` with no cookie: every request starts a session.
    NewVisitor,
    /// `GET /` with a one-counter session's cookie: the counter changes.
    ReturningCounter,
    /// `GET /peek` with that cookie: nothing changes.
    ReturningReadOnly,
    /// `GET /` on a session that also holds a 16 KiB cart in another struct,
    /// which the handler does not extract.
    CartCounter,
    /// `GET /peek` on that session.
    CartReadOnly,
}

impl Row {
    const ALL: [Row; 5] = [
        Row::NewVisitor,
        Row::ReturningCounter,
        Row::ReturningReadOnly,
        Row::CartCounter,
        Row::CartReadOnly,
    ];

    fn name(self) -> &'static str {
        match self {
            Row::NewVisitor => "new_visitor",
            Row::ReturningCounter => "returning_counter",
            Row::ReturningReadOnly => "returning_read_only",
            Row::CartCounter => "cart_counter",
            Row::CartReadOnly => "cart_read_only",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    fn path(self) -> &'static str {
        match self {
            Row::ReturningReadOnly | Row::CartReadOnly => "/peek",
            Row::NewVisitor | Row::ReturningCounter | Row::CartCounter => "/",
        }
    }

    fn changes_count(self) -> bool {
        matches!(
            self,
            Row::NewVisitor | Row::ReturningCounter | Row::CartCounter
        )
    }

    fn has_cart(self) -> bool {
        matches!(self, Row::CartCounter | Row::CartReadOnly)
    }
}

/// `n` requests, one after the other, on the one runtime. Returns how many
/// answers set a cookie.
fn run_requests(
    rt: &Runtime,
    app: &Router,
    uri: &Uri,
    cookie: Option<&HeaderValue>,
    n: u64,
) -> u64 {
    rt.block_on(async {
        let mut set = 0;
        for _ in 0..n {
            set += u64::from(send(app, uri, cookie).await.is_some());
        }
        set
    })
}

/// The requests callgrind counts: valgrind's `--toggle-collect` turns
/// collection on when this function is entered and off when it returns, so
/// it stays a function of its own (`inline(never)`), and `black_box` keeps
/// its call a call rather than a jump. The warm-up calls `run_requests`
/// directly, so it is not counted.
#[inline(never)]
fn measured_requests(
    rt: &Runtime,
    app: &Router,
    uri: &Uri,
    cookie: Option<&HeaderValue>,
    n: u64,
) -> u64 {
    std::hint::black_box(run_requests(rt, app, uri, cookie, n))
}

/// An untimed request, for setting up and checking: the cookie it set and
/// the count it answered.
async fn request(app: &Router, path: &str, cookie: Option<&str>) -> (Option<String>, String) {
    let mut req = Request::builder().uri(path);
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie);
    }
    let req = req.body(Body::empty()).expect("a valid request");
    let res = match app.clone().oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    assert!(res.status().is_success(), "{path}: {}", res.status());
    let set = cookie_of(res.headers());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("a full body");
    (set, String::from_utf8(body.to_vec()).expect("utf-8"))
}

fn count(body: &str) -> u64 {
    count_in(body).unwrap_or_else(|| panic!("not a counter answer: {body}"))
}

/// The session a returning row's requests carry: one first visit (count 1),
/// and for the cart rows a 16 KiB cart put beside the counter.
async fn make_session(app: &Router, variant: Variant, row: Row) -> String {
    if variant == Variant::Axum {
        return DUMMY_COOKIE.to_owned();
    }
    let (set, body) = request(app, "/", None).await;
    assert_eq!(count(&body), 1);
    let cookie = set.expect("a first visit sets the cookie");
    if row.has_cart() {
        let (_, body) = request(app, "/cart/fill", Some(&cookie)).await;
        assert_eq!(body, "filled");
    }
    cookie
}

struct Args {
    variant: Variant,
    row: Row,
    warmup: u64,
    requests: u64,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: instructions --bench --server (axum|session-kit|tower-sessions) \
         --row ({}) [--warmup N] [--requests M]\n       instructions --bench --probe",
        Row::ALL.map(Row::name).join("|")
    );
    ExitCode::FAILURE
}

fn parse_args(args: &[String]) -> Option<Args> {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let number = |flag: &str, default: u64| match value(flag) {
        None => Some(default),
        Some(text) => text.parse().ok(),
    };
    Some(Args {
        variant: Variant::parse(value("--server")?)?,
        row: Row::parse(value("--row")?)?,
        // A doubling: a new visitor's window takes the store from 2,048 to
        // 4,096 sessions, so each of its hash tables grows once in it, as
        // it does on average.
        warmup: number("--warmup", 2048)?,
        requests: number("--requests", 2048)?,
    })
}

/// Which SHA-256 code `sha2` runs here: the same CPU feature check its
/// x86 backend makes (`cpufeatures::new!(shani_cpuid, "sha", "sse2",
/// "ssse3", "sse4.1")`), which reads CPUID. Under valgrind, CPUID is
/// valgrind's.
fn probe() {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        cpufeatures::new!(shani_cpuid, "sha", "sse2", "ssse3", "sse4.1");
        let path = if shani_cpuid::get() {
            "SHA-NI (sha2::sha256::x86::digest_blocks)"
        } else {
            "software (sha2::sha256::soft::compress)"
        };
        println!("sha2 SHA-256 path: {path}");
        for (name, on) in [
            ("sha", std::arch::is_x86_feature_detected!("sha")),
            ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
            ("ssse3", std::arch::is_x86_feature_detected!("ssse3")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("aes", std::arch::is_x86_feature_detected!("aes")),
        ] {
            println!("cpu feature {name}: {}", if on { "yes" } else { "no" });
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    println!("sha2 SHA-256 path: not x86; see the sha2 crate's backends for this target");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--probe") {
        probe();
        return ExitCode::SUCCESS;
    }
    let Some(Args {
        variant,
        row,
        warmup,
        requests,
    }) = parse_args(&args)
    else {
        return usage();
    };
    if variant == Variant::Axum && row.has_cart() {
        eprintln!("plain axum keeps no session, so it has no cart row");
        return ExitCode::FAILURE;
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let app = variant.router();
    let cookie = match row {
        Row::NewVisitor => None,
        _ => Some(rt.block_on(make_session(&app, variant, row))),
    };
    let header = cookie
        .as_deref()
        .map(|c| HeaderValue::from_str(c).expect("a cookie is a header value"));
    let uri = Uri::from_static(row.path());

    let set_in_warmup = run_requests(&rt, &app, &uri, header.as_ref(), warmup);
    let started = Instant::now();
    let set = measured_requests(&rt, &app, &uri, header.as_ref(), requests);
    let elapsed = started.elapsed();

    // The requests did what the row says: every new visitor of a session
    // server gets a cookie (on a returning row, tower-sessions sends its
    // cookie again whenever the session changed; session-kit does not).
    if variant != Variant::Axum && row == Row::NewVisitor {
        assert_eq!(set, requests, "new visitors given a cookie");
        assert_eq!(set_in_warmup, warmup, "warm-up new visitors given a cookie");
    }
    if variant == Variant::Axum {
        assert_eq!(set, 0, "plain axum sets no cookie");
    }
    if variant != Variant::Axum && row != Row::NewVisitor {
        let (_, body) = rt.block_on(request(&app, "/peek", cookie.as_deref()));
        let expected = if row.changes_count() {
            1 + warmup + requests
        } else {
            1
        };
        assert_eq!(count(&body), expected, "the session's count");
    }
    println!(
        "{}\t{}\t{requests}\t{set}\t{:.0}",
        variant.name(),
        row.name(),
        elapsed.as_nanos() as f64 / requests.max(1) as f64
    );
    ExitCode::SUCCESS
}

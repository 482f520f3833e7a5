//! One of the benchmark servers over real HTTP, for `benches/load.sh`:
//! plain axum, session-kit's `MemoryStore` or `CookieStore`, or tower-sessions' `MemoryStore`,
//! with one counter handler (`GET /` counts, `GET /peek` reads).
//!
//! ```text
//! cargo bench --bench server -- session-kit 3901
//! cargo bench --bench server -- session-kit 3901 --prefill 1000000 --cookies /tmp/cookies
//! ```
//!
//! `--unbounded` gives session-kit an unbounded `MemoryStore` (the default
//! one holds a million sessions at most) like tower-sessions' store.
//! `--prefill N` makes N sessions before it listens, by N new-visitor
//! requests sent in process (`oneshot`) to the router it then serves, and
//! `--cookies FILE` writes the `Cookie` header value of up to 100,000 of them,
//! spread over the fill and shuffled, one a line (for `benches/scale_http.sh`).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

mod common;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

use axum::http::Uri;
use axum::Router;

use common::Variant;

/// How many cookies `--cookies` writes at most.
const COOKIE_SAMPLE: usize = 100_000;

/// `n` new visitors through the router, in process; returns the cookies of
/// up to `COOKIE_SAMPLE` of them, spread over the fill, in shuffled order.
async fn prefill(app: &Router, n: usize) -> Vec<String> {
    let uri = Uri::from_static("/");
    let stride = n.div_ceil(COOKIE_SAMPLE).max(1);
    let mut cookies = Vec::with_capacity(n / stride + 1);
    for i in 0..n {
        let set = common::send(app, &uri, None).await;
        if i % stride == 0 {
            if let Some(pair) = set.as_ref().and_then(common::cookie_pair) {
                cookies.push(pair.to_owned());
            }
        }
    }
    // So consecutive requests do not walk the sessions in the order they
    // were made.
    common::shuffle(&mut cookies, 0x9E37_79B9_7F4A_7C15);
    cookies
}

/// The value after `flag`, if given.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return std::process::ExitCode::SUCCESS;
    }
    let prefill_n = match flag_value(&args, "--prefill").map(|n| n.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("--prefill takes a number of sessions");
            return std::process::ExitCode::FAILURE;
        }
    };
    let cookies_file = flag_value(&args, "--cookies").cloned();
    let unbounded = args.iter().any(|a| a == "--unbounded");
    // The positional arguments: those neither a flag nor a flag's value.
    let is_value = |i: usize| i > 0 && matches!(args[i - 1].as_str(), "--prefill" | "--cookies");
    let mut rest = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && !is_value(*i))
        .map(|(_, a)| a);
    let variant = rest.next().and_then(|v| Variant::parse(v));
    let port = rest.next().and_then(|p| p.parse::<u16>().ok());
    let (Some(variant), Some(port)) = (variant, port) else {
        eprintln!(
            "usage: server (axum|session-kit|tower-sessions|session-kit-cookie) PORT [--unbounded] [--prefill N] [--cookies FILE] --bench"
        );
        return std::process::ExitCode::FAILURE;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let app = match variant {
            Variant::SessionKit if unbounded => {
                common::session_kit_router_on(session_kit::MemoryStore::unbounded())
            }
            _ => variant.router(),
        };
        if prefill_n > 0 {
            let started = std::time::Instant::now();
            let cookies = prefill(&app, prefill_n).await;
            eprintln!(
                "{}: {prefill_n} sessions made in {:.1} s",
                variant.name(),
                started.elapsed().as_secs_f64()
            );
            if let Some(path) = &cookies_file {
                let written = std::fs::File::create(path).and_then(|file| {
                    let mut out = std::io::BufWriter::new(file);
                    for cookie in &cookies {
                        writeln!(out, "{cookie}")?;
                    }
                    out.flush()
                });
                if let Err(err) = written {
                    eprintln!("cannot write {path}: {err}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        // Made before it listens, so a client that gets an answer knows the
        // sessions are there.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("cannot listen on {addr}: {err}");
                return std::process::ExitCode::FAILURE;
            }
        };
        eprintln!("{} listening on http://{addr}", variant.name());
        match axum::serve(listener, app).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}

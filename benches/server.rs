//! One of the benchmark servers over real HTTP, for `benches/load.sh`:
//! plain axum, session-kit's `MemoryStore` or `CookieStore`, or tower-sessions' `MemoryStore`,
//! with one counter handler (`GET /` counts, `GET /peek` reads).
//!
//! ```text
//! cargo bench --bench server -- session-kit 3901
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::Variant;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return std::process::ExitCode::SUCCESS;
    }
    let mut rest = args.iter().filter(|a| !a.starts_with("--"));
    let variant = rest.next().and_then(|v| Variant::parse(v));
    let port = rest.next().and_then(|p| p.parse::<u16>().ok());
    let (Some(variant), Some(port)) = (variant, port) else {
        eprintln!(
            "usage: server (axum|session-kit|tower-sessions|session-kit-cookie) PORT --bench"
        );
        return std::process::ExitCode::FAILURE;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("cannot listen on {addr}: {err}");
                return std::process::ExitCode::FAILURE;
            }
        };
        eprintln!("{} listening on http://{addr}", variant.name());
        match axum::serve(listener, variant.router()).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}

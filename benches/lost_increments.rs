//! Lost increments: one session, 50 concurrent `GET /` each doing
//! `page_views += 1`, then one more `GET /` that reads the count; a server
//! that loses none answers 52 (1 + 50 + 1). session-kit (the `visits`
//! counter, a store-side increment) and tower-sessions (`get`, then
//! `insert(n + 1)`), both on their `MemoryStore`, over real HTTP on loopback,
//! in the same run, averaged over 20 trials; once with the counter handler
//! as it is, once with a handler that awaits 1 ms between reading the count
//! and writing it back (as one that awaits a database or an API does).
//!
//! ```text
//! cargo bench --bench lost_increments
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it exits at once.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use common::{count_in, Variant};

const TRIALS: usize = 20;
const CONCURRENT: u64 = 50;

/// Serves the variant on an ephemeral loopback port, on a runtime of its own
/// (as a server process would have); returns its address.
fn serve(variant: Variant) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let listener =
                tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .await
                    .expect("a loopback port");
            let addr = listener.local_addr().expect("bound");
            tx.send(addr).expect("the bench waits for the address");
            axum::serve(listener, variant.router()).await
        })
    });
    rx.recv().expect("the server starts")
}

/// Sends one `GET path` on an open connection (without waiting for the
/// answer).
fn send(stream: &mut TcpStream, path: &str, cookie: Option<&str>) {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("the request is sent");
}

/// Reads one answer: its `Set-Cookie` (`name=value`) and its count.
fn receive(stream: &mut TcpStream) -> (Option<String>, u64) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let header = |name: &str| {
                head.lines().find_map(|line| {
                    let (n, v) = line.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let length: usize = header("content-length")
                .and_then(|l| l.parse().ok())
                .expect("a content length");
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).expect("the body");
                assert!(n > 0, "the connection closed early");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
            let cookie = header("set-cookie").and_then(|c| Some(c.split(';').next()?.to_owned()));
            return (cookie, count_in(&body).expect("a counter answer"));
        }
        let n = stream.read(&mut chunk).expect("the answer");
        assert!(n > 0, "the connection closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> (Option<String>, u64) {
    let mut stream = TcpStream::connect(addr).expect("connected");
    send(&mut stream, path, cookie);
    receive(&mut stream)
}

/// One trial: how many of the 50 concurrent increments were lost.
fn trial(addr: SocketAddr, path: &'static str) -> u64 {
    let (cookie, first) = get(addr, path, None);
    assert_eq!(first, 1);
    let cookie = cookie.expect("a first visit sets the cookie");
    // One thread per request, each with its connection open, released
    // together by a barrier: the 50 requests reach the server at once.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CONCURRENT as usize));
    let threads: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (barrier, cookie) = (barrier.clone(), cookie.clone());
            let mut stream = TcpStream::connect(addr).expect("connected");
            stream.set_nodelay(true).expect("nodelay");
            std::thread::spawn(move || {
                barrier.wait();
                send(&mut stream, path, Some(&cookie));
                receive(&mut stream)
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("the request thread");
    }
    let (_, last) = get(addr, path, Some(&cookie));
    (CONCURRENT + 2).saturating_sub(last)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let variants = [Variant::SessionKit, Variant::TowerSessions];
    let addrs: Vec<SocketAddr> = variants.into_iter().map(serve).collect();
    println!(
        "| server | handler | lost of {CONCURRENT} concurrent `+= 1`, mean of {TRIALS} trials | min | max |"
    );
    println!("| --- | --- | ---: | ---: | ---: |");
    let handlers = [
        ("/", "reads and writes at once"),
        ("/slow", "awaits 1 ms between read and write"),
    ];
    for (path, handler) in handlers {
        let mut lost = [Vec::new(), Vec::new()];
        // The trials alternate between the servers, so both see the same
        // machine.
        for _ in 0..TRIALS {
            for (i, addr) in addrs.iter().enumerate() {
                lost[i].push(trial(*addr, path));
            }
        }
        for (variant, lost) in variants.iter().zip(&lost) {
            let mean = lost.iter().sum::<u64>() as f64 / lost.len() as f64;
            let min = lost.iter().min().copied().unwrap_or(0);
            let max = lost.iter().max().copied().unwrap_or(0);
            println!(
                "| {} MemoryStore | {handler} | {mean:.1} | {min} | {max} |",
                variant.name()
            );
        }
    }
}

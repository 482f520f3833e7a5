//! Cookie bytes of `CookieStore` for the examples' sessions: the payload
//! encoding it uses against a plain JSON object and a namespace-grouped
//! form, and the `Set-Cookie` the real layer sends.
//!
//! ```text
//! cargo bench --bench cookie_bytes
//! ```
//!
//! Deterministic (sizes, not times). Without `--bench` (as `cargo test
//! --all-targets` runs it) it exits at once.

mod common;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::Request;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use session_kit::{CookieStore, Key, Session, SessionHandle, SessionLayer};
use tower::ServiceExt as _;

use common::Visits;

/// The `shop` example's other two structs, as it declares them.
#[derive(Session, Default, Debug)]
#[session(namespace = "auth")]
struct Auth {
    user: Option<String>,
}

#[derive(Session, Default, Debug)]
#[session(namespace = "shop")]
struct Shop {
    cart: Vec<String>,
    theme: Option<String>,
}

#[derive(Deserialize)]
struct Form1 {
    value: String,
}

async fn count(mut visits: Session<Visits>) -> &'static str {
    visits.page_views += 1;
    "ok"
}

async fn login(
    handle: SessionHandle,
    mut auth: Session<Auth>,
    Form(f): Form<Form1>,
) -> &'static str {
    auth.user = Some(f.value);
    handle.regenerate();
    "ok"
}

async fn add(mut shop: Session<Shop>, Form(f): Form<Form1>) -> &'static str {
    shop.cart.push(f.value);
    "ok"
}

async fn theme(mut shop: Session<Shop>, Form(f): Form<Form1>) -> &'static str {
    shop.theme = Some(f.value);
    "ok"
}

fn app() -> Router {
    let layer = SessionLayer::builder(CookieStore::new(), Key::generate())
        .secure(false)
        .build()
        .expect("the examples' configuration");
    Router::new()
        .route("/", get(count))
        .route("/login", post(login))
        .route("/cart/add", post(add))
        .route("/prefs", post(theme))
        .layer(layer)
}

/// Runs the requests on one client, and answers the last `Set-Cookie`.
async fn session_after(steps: &[(&str, Option<&str>)]) -> String {
    let app = app();
    let mut cookie = String::new();
    let mut last = String::new();
    for (path, form) in steps {
        let mut req = Request::builder().uri(*path).header(COOKIE, &cookie);
        let body = match form {
            Some(value) => {
                req = req
                    .method("POST")
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(format!("value={value}"))
            }
            None => Body::empty(),
        };
        let res = app
            .clone()
            .oneshot(req.body(body).expect("a request"))
            .await
            .expect("infallible");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        if let Some(set) = res.headers().get(SET_COOKIE) {
            last = set.to_str().expect("ascii").to_owned();
            cookie = last.split(';').next().unwrap_or_default().to_owned();
        }
    }
    last
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// What every form carries besides the fields: the creation time, the
/// expiry and the session ID.
const CREATED_MS: u64 = 1_764_690_000_000;
const TTL_MS: u64 = 86_400_000;
const ID_BYTES: usize = 24;

/// The chosen form: a header, then (name, JSON) pairs, each length-prefixed.
fn pairs(fields: &[(&str, &str)]) -> usize {
    let mut out = vec![1];
    varint(&mut out, CREATED_MS);
    varint(&mut out, TTL_MS);
    out.extend_from_slice(&[0; ID_BYTES]);
    for (name, value) in fields {
        varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        varint(&mut out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
    out.len()
}

/// The same header, then per namespace its name, its field count and
/// (field, JSON) pairs.
fn grouped(fields: &[(&str, &str)]) -> usize {
    let mut out = vec![1];
    varint(&mut out, CREATED_MS);
    varint(&mut out, TTL_MS);
    out.extend_from_slice(&[0; ID_BYTES]);
    let mut namespaces: Vec<&str> = Vec::new();
    for (name, _) in fields {
        let ns = name.split('.').next().unwrap_or_default();
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    for ns in namespaces {
        let mine: Vec<_> = fields
            .iter()
            .filter(|(n, _)| n.split('.').next() == Some(ns))
            .collect();
        varint(&mut out, ns.len() as u64);
        out.extend_from_slice(ns.as_bytes());
        varint(&mut out, mine.len() as u64);
        for (name, value) in mine {
            let field = name.split_once('.').map_or(*name, |(_, f)| f);
            varint(&mut out, field.len() as u64);
            out.extend_from_slice(field.as_bytes());
            varint(&mut out, value.len() as u64);
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.len()
}

/// A JSON object of the fields (the JSON texts as values), with the header
/// as three more members: `{"@c":..,"@e":..,"@i":"..","ns.field":value,..}`.
fn json_object(fields: &[(&str, &str)]) -> usize {
    let mut members = vec![
        format!("\"@c\":{CREATED_MS}"),
        format!("\"@e\":{TTL_MS}"),
        format!("\"@i\":\"{}\"", "A".repeat(32)),
    ];
    for (name, value) in fields {
        members.push(format!("\"{name}\":{value}"));
    }
    format!("{{{}}}", members.join(",")).len()
}

/// The fields alone as a JSON object, as cookie-session keeps them (no
/// expiry, no ID).
fn fields_json(fields: &[(&str, &str)]) -> usize {
    let members: Vec<_> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\":{value}"))
        .collect();
    format!("{{{}}}", members.join(",")).len()
}

/// The cookie value a plaintext of `n` bytes becomes, encrypted: the nonce's
/// 16 characters, a dot, base64 of the ciphertext and its 16-byte tag.
fn sealed(n: usize) -> usize {
    17 + (4 * (n + 16)).div_ceil(3)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let visits: &[(&str, &str)] = &[("visits.page_views", "3")];
    let shop: &[(&str, &str)] = &[
        ("visits.page_views", "3"),
        ("auth.user", "\"ada\""),
        ("shop.cart", "[\"apple\",\"pear\",\"fig\"]"),
        ("shop.theme", "\"dark\""),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let visits_cookie = rt.block_on(session_after(&[("/", None), ("/", None), ("/", None)]));
    let shop_cookie = rt.block_on(session_after(&[
        ("/", None),
        ("/", None),
        ("/", None),
        ("/login", Some("ada")),
        ("/cart/add", Some("apple")),
        ("/cart/add", Some("pear")),
        ("/cart/add", Some("fig")),
        ("/prefs", Some("dark")),
    ]));

    println!(
        "Plaintext bytes, and the encrypted cookie value each becomes (17 + base64 of n + 16):"
    );
    println!();
    println!("| session | fields as JSON (no header) | JSON object with header | length-prefixed pairs (chosen) | namespace-grouped |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, fields) in [
        ("visits (3 visits)", visits),
        ("shop (3 visits, ada, 3 items, a theme)", shop),
    ] {
        let cell = |n: usize| format!("{n} B -> {} B", sealed(n));
        println!(
            "| {name} | {} | {} | {} | {} |",
            fields_json(fields),
            cell(json_object(fields)),
            cell(pairs(fields)),
            cell(grouped(fields))
        );
    }
    println!();
    println!("The real layer's Set-Cookie (CookieStore::new(), the examples' attributes):");
    println!();
    println!("| session | Set-Cookie value | bytes |");
    println!("| --- | --- | ---: |");
    for (name, set) in [("visits", &visits_cookie), ("shop", &shop_cookie)] {
        let value = set.split(';').next().unwrap_or_default();
        let attrs = &set[value.len()..];
        println!(
            "| {name} | `sid=<{} characters>{attrs}` | {} |",
            value.len() - 4,
            set.len()
        );
    }
}

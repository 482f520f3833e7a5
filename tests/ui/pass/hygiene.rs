//! The expansion compiles without a warning, even under strict lints and with
//! names in scope that it could clash with.
#![deny(
    warnings,
    unused_qualifications,
    unused_results,
    missing_debug_implementations
)]

use axum::routing::get;
use axum::Router;
use session_kit::{Key, MemoryStore, Session, SessionData, SessionLayer};

// Names the expansion must not pick up by accident.
#[allow(dead_code)] // only here to be in scope, never used
mod shadows {
    pub(crate) struct Option;
    pub(crate) struct Result;
    pub(crate) struct Vec;
    pub(crate) struct String;
    pub(crate) struct Fields;
    pub(crate) struct Diff;
    pub(crate) trait Default {}
    pub(crate) trait Serialize {}
}
#[allow(unused_imports)] // only here to shadow the prelude, never used
use shadows::*;
mod serde {}
mod inventory {}

fn three() -> u8 {
    3
}

/// Documented, like everything in a crate that denies warnings.
#[derive(Session, ::core::default::Default, Debug)]
#[session(namespace = "strict")]
pub struct Strict {
    /// Fields whose names look like the expansion's own.
    __fields: u32,
    __diff: ::std::string::String,
    __snapshot: bool,
    #[session(counter)]
    __field0: u64,
    #[session(default = three)]
    level: u8,
    #[session(skip)]
    cache: ::std::vec::Vec<u8>,
    #[session(rename = "self")]
    this: ::core::option::Option<i32>,
}

async fn handler(mut strict: Session<Strict>) -> ::std::string::String {
    strict.__fields += 1;
    strict.__field0 += 1;
    strict.__diff.push('x');
    strict.__snapshot = !strict.__snapshot;
    let level = strict.level;
    strict.cache.push(level);
    strict.this = Some(1);
    strict.__fields.to_string()
}

fn main() {
    assert_eq!(<Strict as SessionData>::NAMESPACE, "strict");
    let app: Router = Router::new()
        .route("/", get(handler))
        .layer(SessionLayer::new(MemoryStore::new(), Key::generate()));
    drop(app);
}

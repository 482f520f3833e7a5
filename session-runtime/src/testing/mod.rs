//! For store authors: the suites every store runs, and a store wrapper that
//! counts calls and fails on demand.
//!
//! - [`store_conformance_tests!`](crate::store_conformance_tests): the store
//!   contract, one check per rule, through the [`SessionStore`] trait alone.
//! - [`user_index_conformance_tests!`](crate::user_index_conformance_tests):
//!   the optional per-user index, for a store that keeps one.
//! - [`store_http_tests!`](crate::store_http_tests): SPEC's semantics, the
//!   lifecycle, expiry, counters, the races and the outage contract, over
//!   real HTTP through an app on a loopback port ([`http`]).
//! - [`InstrumentedStore`]: counts every call, records every change set, and
//!   fails reads or writes on demand.
//!
//! A store in this crate or another plugs into a suite with one macro call
//! in a test file, given an `async fn` that makes a fresh store (or `None`,
//! having said loudly why, when its server is missing):
//!
//! ```
//! use session_runtime::store::MemoryStore;
//!
//! async fn make_store() -> Option<MemoryStore> {
//!     Some(MemoryStore::new())
//! }
//!
//! session_runtime::store_conformance_tests!(make_store);
//! # fn main() { let _ = make_store; }
//! ```
//!
//! A store that must clean up after each test (a table to drop, keys under a
//! prefix to delete) names an `async fn(Store)` that does it:
//! `store_conformance_tests!(make_store, teardown = drop_store);`.
//!
//! [`SessionStore`]: crate::store::SessionStore

// Assertions are what a test suite is for: it panics on a broken store.
#![allow(clippy::expect_used)]

mod conformance;
pub mod http;
mod instrumented;
mod users;

pub use self::conformance::*;
pub use self::instrumented::{Calls, InstrumentedStore};
pub use self::users::*;

/// The teardown of stores that need none.
pub async fn no_teardown<S>(_store: S) {}

//! The integration tests, as one test binary: each file below is a module,
//! so axum, reqwest, tokio and the stores are linked once rather than once
//! per file. The `visits` example's tests are a binary of their own
//! (`tests/visits_example`): both examples derive a `visits` namespace, and
//! one binary may hold each namespace once.
//!
//! The store tests are gated on their store's feature, as the files were;
//! each one that needs a server skips loudly without it, and fails under
//! `SESSION_KIT_REQUIRE_SERVERS=1`.

#[path = "../common/mod.rs"]
mod common;
mod lifecycle_app;
// The outage app serves the Redis and SQL outage tests only.
#[cfg(any(
    feature = "redis",
    feature = "postgres",
    feature = "mysql",
    feature = "sqlite"
))]
mod outage_app;
#[cfg(feature = "redis")]
mod redis_support;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod sql_common;

#[path = "../../examples/shop.rs"]
#[allow(dead_code)] // the example's `main` and its runner are not used by the tests
mod shop;

mod cookie_store;
mod counters;
mod examples_process;
mod expiry;
mod security;
mod semantics;
mod shop_contract;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod shop_users;
mod threats;
mod user_sessions;

#[cfg(feature = "redis")]
mod redis_cluster;
#[cfg(feature = "redis")]
mod redis_hardening;
#[cfg(feature = "redis")]
mod redis_outage;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis-tls-insecure")]
mod redis_tls;

mod sql_examples;
mod sql_faults;
mod sql_http;
#[cfg(feature = "mysql")]
mod sql_mysql;
#[cfg(feature = "postgres")]
mod sql_postgres;
#[cfg(feature = "sqlite")]
mod sql_sqlite;

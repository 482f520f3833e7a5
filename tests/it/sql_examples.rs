//! The example binaries on the SQL stores, as a user runs them:
//! `SESSION_STORE=postgres://…`, `mysql://…` and `sqlite://PATH` migrate on
//! start and keep sessions across a restart with the same `SESSION_SECRET`;
//! in a build without a store's feature, its URL exits non-zero and names
//! the feature. `cargo test` builds the examples with the test's features.
//!
//! PostgreSQL and MySQL as in `sql_common`; each test works in a schema or
//! database of its own, dropped after.

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::common;
use crate::examples_process::example;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::sql_common;

use std::process::{Command, Stdio};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-sql";

/// Runs `name` with `SESSION_STORE=store` and expects it to exit non-zero
/// saying `message`.
#[allow(dead_code)] // used by the builds without some store feature
fn fails_with(name: &str, store: &str, message: &str) {
    let out = Command::new(example(name))
        .env("PORT", "1")
        .env("SESSION_SECRET", SECRET)
        .env("SESSION_STORE", store)
        .stdin(Stdio::null())
        .output()
        .expect("the example runs");
    assert!(!out.status.success(), "{name} with {store} must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(message), "{name} with {store}: {stderr}");
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_url_without_the_feature_exits_and_names_it() {
    for url in ["postgres://localhost/test", "postgresql://localhost/test"] {
        fails_with("shop", url, "behind the `postgres` feature");
    }
}

#[cfg(not(feature = "mysql"))]
#[test]
fn a_mysql_url_without_the_feature_exits_and_names_it() {
    for url in [
        "mysql://root@localhost/test",
        "mariadb://root@localhost/test",
    ] {
        fails_with("shop", url, "behind the `mysql` feature");
    }
}

#[cfg(not(feature = "sqlite"))]
#[test]
fn a_sqlite_url_without_the_feature_exits_and_names_it() {
    fails_with(
        "visits",
        "sqlite://sessions.db",
        "behind the `sqlite` feature",
    );
}

/// Starts `visits` on `store` twice with one secret: the visitor's count
/// goes on after the restart.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
async fn sessions_survive_a_restart(store: &str) {
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let port = common::free_port();
    let spawn = || {
        Child(
            Command::new(example("visits"))
                .env("PORT", port.to_string())
                .env("SESSION_SECRET", SECRET)
                .env("SESSION_STORE", store)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the example starts"),
        )
    };
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");
    let first_answer = || async {
        // Up to 20 s for the process to migrate and listen.
        for _ in 0..200 {
            if let Ok(res) = client.get(&url).send().await {
                return Some(res.text().await.expect("a body"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        None
    };
    let server = spawn();
    assert_eq!(
        first_answer().await.as_deref(),
        Some("Welcome to this page for the first time!")
    );
    let second = client.get(&url).send().await.expect("GET /");
    assert_eq!(
        second.text().await.expect("a body"),
        "You visited this page 2 times"
    );
    drop(server);
    let _server = spawn();
    assert_eq!(
        first_answer().await.as_deref(),
        Some("You visited this page 3 times"),
        "the session outlived the process"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_sessions_survive_a_restart_on_the_same_file_and_secret() {
    let path = sql_common::lite::temp_file();
    assert!(!path.exists());
    sessions_survive_a_restart(&sql_common::lite::url_of(&path)).await;
    assert!(path.exists(), "the file was created");
    sql_common::lite::remove(&path);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_sessions_survive_a_restart() {
    // The example's table `sessions` lands in the schema first on the
    // search path.
    let Some((admin, schema, url)) = sql_common::pg::scratch_schema().await else {
        return;
    };
    sessions_survive_a_restart(&url).await;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".sessions"))
        .fetch_one(&admin)
        .await
        .expect("the example migrated its table");
    assert_eq!(rows, 1);
    sql_common::pg::drop_schema(&admin, &schema).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_sessions_survive_a_restart() {
    let Some(admin) = sql_common::my::admin().await else {
        return;
    };
    let database = sql_common::unique_name();
    sqlx::query(&format!("CREATE DATABASE `{database}`"))
        .execute(&admin)
        .await
        .expect("CREATE DATABASE");
    let base = sql_common::my::url();
    let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
    sessions_survive_a_restart(&format!("{server}/{database}")).await;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM `{database}`.sessions"))
        .fetch_one(&admin)
        .await
        .expect("the example migrated its table");
    assert_eq!(rows, 1);
    sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(&admin)
        .await
        .expect("DROP DATABASE");
}

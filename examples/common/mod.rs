//! What both examples share: reading `PORT`, `SESSION_STORE` and
//! `SESSION_SECRET`, building the session layer (migrating the table of an
//! SQL store on start), and serving.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use session_kit::{CookieStore, Key, MemoryStore, SessionLayer, SessionLayerBuilder, SessionStore};
use tracing_subscriber::EnvFilter;

/// A configuration the example cannot start with.
#[derive(Debug)]
pub(crate) enum ConfigError {
    /// `PORT` is not a port number.
    Port(String),
    /// `SESSION_SECRET` is too short.
    Secret(session_kit::KeyError),
    /// `SESSION_STORE` names a store whose cargo feature is off in this build.
    #[cfg(not(all(
        feature = "redis-tls",
        feature = "postgres",
        feature = "mysql",
        feature = "sqlite"
    )))]
    FeatureOff {
        /// The store.
        store: &'static str,
        /// The feature that builds it.
        feature: &'static str,
    },
    /// `SESSION_STORE` is not a store at all.
    UnknownStore(String),
    /// The layer's configuration is invalid.
    Layer(session_kit::ConfigError),
    /// The store named by `SESSION_STORE` cannot be reached, or its table
    /// cannot be migrated.
    #[cfg(any(
        feature = "redis",
        feature = "postgres",
        feature = "mysql",
        feature = "sqlite"
    ))]
    Store(session_kit::StoreError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Port(p) => write!(f, "PORT must be a port number (1-65535), not `{p}`"),
            Self::Secret(err) => write!(f, "SESSION_SECRET: {err}"),
            #[cfg(not(all(
                feature = "redis-tls",
                feature = "postgres",
                feature = "mysql",
                feature = "sqlite"
            )))]
            Self::FeatureOff { store, feature } => write!(
                f,
                "SESSION_STORE: the {store} store is behind the `{feature}` feature; run \
                 `cargo run --release --features {feature} --example <name>`"
            ),
            Self::UnknownStore(s) => write!(
                f,
                "SESSION_STORE: `{s}` is not a store; use `memory`, `cookie`, `redis://…`, \
                 `rediss://…`, `redis+cluster://host:port,…`, `rediss+cluster://host:port,…`, \
                 `postgres://…`, `mysql://…` or `sqlite://PATH`"
            ),
            Self::Layer(err) => write!(f, "{err}"),
            #[cfg(any(
                feature = "redis",
                feature = "postgres",
                feature = "mysql",
                feature = "sqlite"
            ))]
            Self::Store(err) => match std::error::Error::source(err) {
                Some(cause) => write!(f, "SESSION_STORE: {err}: {cause}"),
                None => write!(f, "SESSION_STORE: {err}"),
            },
        }
    }
}

/// Reads `PORT` (default 3000).
pub(crate) fn port() -> Result<u16, ConfigError> {
    match std::env::var("PORT") {
        Err(_) => Ok(3000),
        Ok(p) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or(ConfigError::Port(p)),
    }
}

/// Reads `SESSION_SECRET`: one or more secrets of at least 64 bytes,
/// comma-separated, newest first. The first signs; all verify.
pub(crate) fn keys() -> Result<Vec<Key>, ConfigError> {
    match std::env::var("SESSION_SECRET") {
        Ok(secrets) if !secrets.is_empty() => secrets
            .split(',')
            .map(|s| Key::derive_from(s.trim().as_bytes()).map_err(ConfigError::Secret))
            .collect(),
        _ => {
            tracing::warn!(
                "SESSION_SECRET is not set: using a random key, so sessions will not survive a restart"
            );
            Ok(vec![Key::generate()])
        }
    }
}

fn builder(store: impl SessionStore, keys: Vec<Key>) -> SessionLayerBuilder {
    let mut keys = keys.into_iter();
    let first = keys.next().unwrap_or_else(Key::generate);
    SessionLayer::builder(store, first)
        .older_keys(keys)
        // The examples serve plain HTTP on loopback; a real deployment
        // behind TLS keeps the default `Secure`.
        .secure(false)
}

/// Builds the session layer from `SESSION_STORE` (default `memory`).
pub(crate) async fn session_layer(keys: Vec<Key>) -> Result<SessionLayer, ConfigError> {
    let store = std::env::var("SESSION_STORE").unwrap_or_else(|_| "memory".to_owned());
    let store = store.trim();
    let builder = match store {
        "" | "memory" => builder(MemoryStore::new(), keys),
        // The whole session in the cookie, encrypted; no server state.
        "cookie" => builder(CookieStore::new(), keys),
        // TLS (`rediss://`, `rediss+cluster://`) needs the `redis-tls`
        // feature; the redis crate's `#insecure` fragment (a self-signed
        // certificate in development) needs `redis-tls-insecure`, and
        // without it the store says so.
        #[cfg(not(feature = "redis-tls"))]
        s if s.starts_with("rediss://") || s.starts_with("rediss+cluster://") => {
            return Err(ConfigError::FeatureOff {
                store: "Redis over TLS",
                feature: "redis-tls",
            })
        }
        // `redis://host:port/db` (the database number is honoured) or
        // `redis+cluster://host:port,host:port,...`, and their TLS forms.
        #[cfg(feature = "redis")]
        s if s.starts_with("redis://")
            || s.starts_with("rediss://")
            || s.starts_with("redis+cluster://")
            || s.starts_with("rediss+cluster://") =>
        {
            let store = session_kit::RedisStore::connect(s)
                .await
                .map_err(ConfigError::Store)?;
            builder(store, keys)
        }
        #[cfg(not(feature = "redis"))]
        s if s.starts_with("redis+cluster://") => {
            return Err(ConfigError::FeatureOff {
                store: "Redis Cluster",
                feature: "redis",
            })
        }
        #[cfg(not(feature = "redis"))]
        s if s.starts_with("redis://") => {
            return Err(ConfigError::FeatureOff {
                store: "Redis",
                feature: "redis",
            })
        }
        // `postgres://user@host/db` or `postgresql://...`; the table
        // `sessions` is created or upgraded on start.
        #[cfg(feature = "postgres")]
        s if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
            let store = session_kit::PostgresStore::connect(s)
                .await
                .map_err(ConfigError::Store)?;
            store.migrate().await.map_err(ConfigError::Store)?;
            builder(store, keys)
        }
        #[cfg(not(feature = "postgres"))]
        s if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
            return Err(ConfigError::FeatureOff {
                store: "PostgreSQL",
                feature: "postgres",
            })
        }
        // `mysql://user:password@host/db` or `mariadb://...`.
        #[cfg(feature = "mysql")]
        s if s.starts_with("mysql://") || s.starts_with("mariadb://") => {
            let store = session_kit::MySqlStore::connect(s)
                .await
                .map_err(ConfigError::Store)?;
            store.migrate().await.map_err(ConfigError::Store)?;
            builder(store, keys)
        }
        #[cfg(not(feature = "mysql"))]
        s if s.starts_with("mysql://") || s.starts_with("mariadb://") => {
            return Err(ConfigError::FeatureOff {
                store: "MySQL",
                feature: "mysql",
            })
        }
        // `sqlite://PATH`, the file created if missing.
        #[cfg(feature = "sqlite")]
        s if s.starts_with("sqlite://") => {
            let store = session_kit::SqliteStore::connect(s)
                .await
                .map_err(ConfigError::Store)?;
            store.migrate().await.map_err(ConfigError::Store)?;
            builder(store, keys)
        }
        #[cfg(not(feature = "sqlite"))]
        s if s.starts_with("sqlite://") => {
            return Err(ConfigError::FeatureOff {
                store: "SQLite",
                feature: "sqlite",
            })
        }
        other => return Err(ConfigError::UnknownStore(other.to_owned())),
    };
    builder.build().map_err(ConfigError::Layer)
}

/// Sets up logging (`RUST_LOG`, default `info`), reads the configuration,
/// and serves `app` on 127.0.0.1:`PORT` until Ctrl-C. Exits non-zero with a
/// clear message on a bad configuration.
pub(crate) async fn run(name: &str, app: fn() -> Router) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let started = async {
        let port = port()?;
        let layer = session_layer(keys()?).await?;
        Ok::<_, ConfigError>((port, layer))
    }
    .await;
    let (port, layer) = match started {
        Ok(ok) => ok,
        Err(err) => {
            eprintln!("{name}: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!("{name}: cannot listen on {addr}: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!("{name} listening on http://{addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app().layer(layer))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! SPEC semantics 8 and 9 on the SQL stores, over real HTTP: a database
//! that is cut off, that stops answering, whose backends are killed, or
//! whose pool is exhausted gives a 503 before the handler runs (a save that
//! fails, a 500), never a hang, and the app recovers by itself; a row
//! corrupted by hand gives its client a fresh session and loses nothing
//! else.
//!
//! The cut-offs go through a TCP proxy the test runs on a loopback port,
//! in front of the real server. Servers as in `sql_common`.

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::common;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::sql_common;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::outage_app as app;

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod proxy {
    //! A TCP proxy to a real server that the test can cut and restore.

    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    /// What the proxy does with traffic.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Mode {
        /// Forwards both ways.
        Open,
        /// Closes every connection, and each new one at once.
        Refuse,
        /// Keeps every connection open and forwards nothing: a server that
        /// stopped answering.
        BlackHole,
    }

    pub(crate) struct Proxy {
        pub(crate) port: u16,
        mode: Arc<watch::Sender<Mode>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Proxy {
        pub(crate) async fn start(upstream: SocketAddr) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("an address").port();
            let (mode, _) = watch::channel(Mode::Open);
            let mode = Arc::new(mode);
            let modes = mode.clone();
            let task = tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    let mut changes = modes.subscribe();
                    tokio::spawn(async move {
                        let now = *changes.borrow_and_update();
                        match now {
                            Mode::Refuse => return,
                            Mode::BlackHole => return hold(client, changes).await,
                            Mode::Open => {}
                        }
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        forward(client, server, changes).await;
                    });
                }
            });
            Self { port, mode, task }
        }

        pub(crate) fn set(&self, mode: Mode) {
            self.mode.send_replace(mode);
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.task.abort();
            self.mode.send_replace(Mode::Refuse);
        }
    }

    async fn forward(
        mut client: TcpStream,
        mut server: TcpStream,
        mut changes: watch::Receiver<Mode>,
    ) {
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            _ = changes.changed() => {
                if *changes.borrow() == Mode::BlackHole {
                    // Hold both ends, forward nothing.
                    let _server = server;
                    hold(client, changes).await;
                }
            }
        }
    }

    /// Keeps `client` open until the proxy opens again or goes away; a
    /// connection black-holed once is never forwarded again.
    async fn hold(client: TcpStream, mut changes: watch::Receiver<Mode>) {
        while changes.changed().await.is_ok() {
            if *changes.borrow() != Mode::BlackHole {
                break;
            }
        }
        drop(client);
    }
}

/// The outage checks, for a store type with the same builder methods.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! outage_tests {
    ($module:ident, $harness:ty, $store:ty, $table:expr, $url:path) => {
        mod $module {
            use std::time::Duration;

            use reqwest::header::COOKIE;

            use super::proxy::{Mode, Proxy};
            use crate::common::Browser;
            use crate::outage_app::{self as app, patient_client};
            use crate::sql_common::Harness as _;

            type H = $harness;

            /// The `host:port` of the server's URL (which must name both).
            fn host_port() -> String {
                let url = $url();
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
                rest.split(['/', '?']).next().expect("host:port").to_owned()
            }

            fn upstream() -> std::net::SocketAddr {
                std::net::ToSocketAddrs::to_socket_addrs(host_port().as_str())
                    .expect("an address")
                    .next()
                    .expect("an address")
            }

            /// The server's URL, through the proxy on `port`.
            fn proxied_url(port: u16) -> String {
                $url().replacen(&host_port(), &format!("127.0.0.1:{port}"), 1)
            }

            async fn store_through(h: &H, port: u16) -> $store {
                let table: String = ($table)(h);
                <$store>::builder()
                    .table(table)
                    .acquire_timeout(Duration::from_millis(500))
                    .operation_timeout(Duration::from_secs(1))
                    .no_background_sweep()
                    .connect(&proxied_url(port))
                    .await
                    .expect("connect through the proxy")
            }

            /// Cut off (connections refused), then answering nothing
            /// (connections held, silent): each time a 503 before the
            /// handler, a save that started before the cut a 500, and the
            /// same app serves the session again once the way is open.
            #[tokio::test]
            async fn a_database_cut_off_or_silent_gives_503_then_recovers_without_a_restart() {
                let Some(h) = H::open().await else { return };
                let proxy = Proxy::start(upstream()).await;
                let (server, probe) = app::serve(store_through(&h, proxy.port).await).await;
                let client = patient_client();
                let browser = Browser::new();
                assert_eq!(
                    browser.get(&server.url("/")).await,
                    (200, "visit 1".to_owned())
                );
                let cookie = browser.cookies_for(&server.url("/")).expect("a cookie");
                let mut visits = 1;
                for cut in [Mode::Refuse, Mode::BlackHole] {
                    // A request reads its session, then the database goes:
                    // its save fails, and the client is told so.
                    let gated = {
                        let (client, url, cookie) =
                            (client.clone(), server.url("/gated"), cookie.clone());
                        tokio::spawn(
                            async move { client.post(url).header(COOKIE, cookie).send().await },
                        )
                    };
                    probe.entered.notified().await;
                    proxy.set(cut);
                    probe.gate.notify_one();
                    let gated = gated
                        .await
                        .expect("the task")
                        .expect("an answer, not a hang");
                    assert_eq!(gated.status(), 500, "{cut:?}: a lost save is a 500");

                    let ran = app::ran(&probe);
                    for _ in 0..3 {
                        let res = client
                            .get(server.url("/"))
                            .header(COOKIE, &cookie)
                            .send()
                            .await
                            .expect("an answer, not a hang");
                        assert_eq!(res.status(), 503, "{cut:?}");
                    }
                    assert_eq!(
                        app::ran(&probe),
                        ran,
                        "{cut:?}: no handler ran without its session"
                    );

                    proxy.set(Mode::Open);
                    visits += 1;
                    let mut answer = None;
                    for _ in 0..20 {
                        let res = client
                            .get(server.url("/"))
                            .header(COOKIE, &cookie)
                            .send()
                            .await
                            .expect("an answer, not a hang");
                        if res.status() == 200 {
                            answer = Some(res.text().await.expect("a body"));
                            break;
                        }
                        assert!(
                            matches!(res.status().as_u16(), 500 | 503),
                            "{}",
                            res.status()
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    assert_eq!(
                        answer,
                        Some(format!("visit {visits}")),
                        "{cut:?}: back, with the session as it was"
                    );
                }
                drop(server);
                h.close().await;
            }

            /// A pool whose one connection is taken: a 503 within the
            /// acquire timeout, then 200 once it is free.
            #[tokio::test]
            async fn an_exhausted_pool_gives_503_not_a_hang() {
                let Some(h) = H::open().await else { return };
                let table: String = ($table)(&h);
                let store = <$store>::builder()
                    .table(table)
                    .max_connections(1)
                    .acquire_timeout(Duration::from_millis(300))
                    .no_background_sweep()
                    .connect(&$url())
                    .await
                    .expect("connect");
                let pool = store.pool().clone();
                let (server, _probe) = app::serve(store).await;
                let client = patient_client();
                let browser = Browser::new();
                assert_eq!(
                    browser.get(&server.url("/")).await,
                    (200, "visit 1".to_owned())
                );
                let cookie = browser.cookies_for(&server.url("/")).expect("a cookie");
                let held = pool.acquire().await.expect("the pool's one connection");
                let res = client
                    .get(server.url("/"))
                    .header(COOKIE, &cookie)
                    .send()
                    .await
                    .expect("an answer, not a hang");
                assert_eq!(res.status(), 503);
                drop(held);
                assert_eq!(
                    browser.get(&server.url("/")).await,
                    (200, "visit 2".to_owned())
                );
                drop(server);
                h.close().await;
            }
        }
    };
}

#[cfg(feature = "postgres")]
outage_tests!(
    postgres_outage,
    crate::sql_common::pg::Pg,
    session_kit::PostgresStore,
    |h: &crate::sql_common::pg::Pg| format!("{}.sessions", h.schema),
    crate::sql_common::pg::url
);

#[cfg(feature = "mysql")]
outage_tests!(
    mysql_outage,
    crate::sql_common::my::My,
    session_kit::MySqlStore,
    |h: &crate::sql_common::my::My| h.table.clone(),
    crate::sql_common::my::url
);

/// `pg_terminate_backend` on every connection of the store: requests go on
/// being served, by new connections, without a restart.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn terminated_postgres_backends_are_replaced_without_a_restart() {
    use reqwest::header::COOKIE;
    use sql_common::Harness as _;

    let Some(h) = sql_common::pg::Pg::open().await else {
        return;
    };
    let name = sql_common::unique_name();
    let options = sql_common::pg::options().application_name(&name);
    let store = sql_common::pg::store_on(options, &format!("{}.sessions", h.schema)).await;
    let (server, _probe) = app::serve(store).await;
    let client = app::patient_client();
    let browser = common::Browser::new();
    assert_eq!(
        browser.get(&server.url("/")).await,
        (200, "visit 1".to_owned())
    );
    let cookie = browser.cookies_for(&server.url("/")).expect("a cookie");
    let mut visits = 1;
    for round in 0..3 {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&name)
        .fetch_all(&h.admin)
        .await
        .expect("pg_terminate_backend");
        assert!(
            !killed.is_empty(),
            "round {round}: the store had connections"
        );
        visits += 1;
        let mut answer = None;
        for _ in 0..10 {
            let res = client
                .get(server.url("/"))
                .header(COOKIE, &cookie)
                .send()
                .await
                .expect("an answer, not a hang");
            if res.status() == 200 {
                answer = Some(res.text().await.expect("a body"));
                break;
            }
            assert!(
                matches!(res.status().as_u16(), 500 | 503),
                "{}",
                res.status()
            );
        }
        assert_eq!(answer, Some(format!("visit {visits}")), "round {round}");
    }
    drop(server);
    h.close().await;
}

/// A row corrupted by hand: that client gets a fresh session and a logged
/// warning, not a 500; every other session goes on.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
async fn a_corrupted_row_gives_its_client_a_fresh_session<H: sql_common::Harness>() {
    let Some(h) = H::open().await else { return };
    let (server, _probe) = app::serve(h.store()).await;
    let (a, b) = (common::Browser::new(), common::Browser::new());
    for browser in [&a, &b] {
        for n in 1..=2 {
            assert_eq!(
                browser.get(&server.url("/")).await,
                (200, format!("visit {n}"))
            );
        }
    }
    let cookie = a.cookies_for(&server.url("/")).expect("a cookie");
    h.corrupt(&sql_common::key_of_cookie(&cookie)).await;
    assert_eq!(
        a.get(&server.url("/")).await,
        (200, "visit 1".to_owned()),
        "a fresh session, not a 500"
    );
    assert_ne!(
        a.cookies_for(&server.url("/")),
        Some(cookie),
        "under a new ID"
    );
    assert_eq!(
        b.get(&server.url("/")).await,
        (200, "visit 3".to_owned()),
        "the other session is intact"
    );
    assert_eq!(a.get(&server.url("/")).await, (200, "visit 2".to_owned()));
    drop(server);
    h.close().await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_corrupted_postgres_row_gives_its_client_a_fresh_session() {
    a_corrupted_row_gives_its_client_a_fresh_session::<sql_common::pg::Pg>().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_corrupted_mysql_row_gives_its_client_a_fresh_session() {
    a_corrupted_row_gives_its_client_a_fresh_session::<sql_common::my::My>().await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_corrupted_sqlite_row_gives_its_client_a_fresh_session() {
    a_corrupted_row_gives_its_client_a_fresh_session::<sql_common::lite::Lite>().await;
}

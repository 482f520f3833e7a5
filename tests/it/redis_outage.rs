//! SPEC semantics 9 on `RedisStore`: with Redis stopped, a request that needs
//! its session gets a 503 before the handler runs, a save that fails turns
//! the response into a 500, nothing panics; with Redis back on the same
//! address, the same app serves sessions again without a restart.
//!
//! The test starts and stops its own `redis-server` on a free loopback port.
//! Without the binary it prints `SKIPPED: ...` and passes, unless
//! `SESSION_KIT_REQUIRE_SERVERS=1`, where it fails.

use crate::common;
use crate::outage_app::{self, patient_client};

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_port, Browser};
use reqwest::header::COOKIE;
use session_kit::RedisStore;

/// A `redis-server` of this test's own, killed when dropped.
struct Server {
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn start(port: u16) -> std::io::Result<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self {
            port,
            child: Some(child),
        })
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {} in 5 s", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn a_redis_outage_gives_503_before_the_handler_and_500_for_a_lost_save_then_recovers() {
    let port = free_port();
    let mut server = match Server::start(port) {
        Ok(server) => server,
        Err(err) => {
            common::skip_or_fail(&format!("cannot start redis-server ({err})"));
            return;
        }
    };
    server.wait_ready().await;
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .expect("connect to the test's Redis");
    let (app, probe) = outage_app::serve(store).await;
    // Generous: the store's own timeouts answer long before this.
    let client = patient_client();

    let browser = Browser::new();
    assert_eq!(
        browser.get(&app.url("/")).await,
        (200, "visit 1".to_owned())
    );
    assert_eq!(
        browser.get(&app.url("/")).await,
        (200, "visit 2".to_owned())
    );
    let cookie = browser.cookies_for(&app.url("/")).expect("a cookie");

    // A request reads its session, then Redis dies before it saves: 500.
    let gated = {
        let (client, url, cookie) = (client.clone(), app.url("/gated"), cookie.clone());
        tokio::spawn(async move { client.post(url).header(COOKIE, cookie).send().await })
    };
    probe.entered.notified().await;
    server.stop();
    probe.gate.notify_one();
    let res = gated.await.expect("the request task").expect("a response");
    assert_eq!(res.status(), 500, "a save that failed is not a success");

    // With Redis down, a request that needs its session never reaches the
    // handler: 503.
    let ran_before = outage_app::ran(&probe);
    for _ in 0..3 {
        let res = client
            .get(app.url("/"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("a response, not a hang");
        assert_eq!(res.status(), 503);
    }
    assert_eq!(
        outage_app::ran(&probe),
        ran_before,
        "the handler never ran while its session could not load"
    );

    // Redis back on the same port (empty: it keeps nothing on disk): the same
    // app serves sessions again, without a restart.
    let server = Server::start(port).expect("restart redis-server");
    server.wait_ready().await;
    let mut recovered = None;
    for _ in 0..50 {
        let res = client
            .get(app.url("/"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("a response");
        if res.status() == 200 {
            recovered = Some(res.text().await.expect("a body"));
            break;
        }
        assert_eq!(res.status(), 503, "only 503s while reconnecting");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        recovered.as_deref(),
        Some("visit 1"),
        "served again; the emptied Redis no longer knows the old session"
    );
    let fresh = Browser::new();
    assert_eq!(fresh.get(&app.url("/")).await, (200, "visit 1".to_owned()));
    assert_eq!(fresh.get(&app.url("/")).await, (200, "visit 2".to_owned()));
    drop(server);
}

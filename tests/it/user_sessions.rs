//! Sessions of a user, over real HTTP on the memory store, through the shop
//! example's routes: binding at login, listing, revoking one, all or all
//! but the caller's, "remember me", the fresh-login time, a store without
//! the ability, a slow fresh-start login on a revoked session. The races
//! every server store must keep (a slow request on a revoked session,
//! logins racing a logout everywhere, on two instances) are cases of the
//! store-generic HTTP suite (`session_runtime::testing::http`).

use crate::shop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::header::SET_COOKIE;
use reqwest::Client;
use serde_json::Value;
use session_kit::store::{ChangeSet, Record, SessionKey, WriteOutcome};
use session_kit::{
    Key, MemoryStore, SessionHandle, SessionLayer, SessionStore, StoreError, UserSessions,
};
use session_runtime::testing::InstrumentedStore;

/// A router served on a loopback port until the test ends.
struct Server {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client that keeps its cookies, as a browser does.
#[derive(Clone)]
struct Browser {
    client: Client,
    jar: Arc<Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .expect("an HTTP client");
        Self { client, jar }
    }

    fn cookie(&self, url: &str) -> Option<String> {
        self.jar
            .cookies(&url.parse().expect("a URL"))
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    async fn get(&self, url: &str) -> (u16, String) {
        let res = self.client.get(url).send().await.expect("GET");
        (res.status().as_u16(), res.text().await.expect("a body"))
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, String) {
        let res = self.client.post(url).form(form).send().await.expect("POST");
        (res.status().as_u16(), res.text().await.expect("a body"))
    }

    /// `POST url` with a form: the status and the `Set-Cookie` headers.
    async fn post_cookies(&self, url: &str, form: &[(&str, &str)]) -> (u16, Vec<String>) {
        let res = self.client.post(url).form(form).send().await.expect("POST");
        let cookies = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        (res.status().as_u16(), cookies)
    }
}

/// The `Max-Age` of the session cookie among `Set-Cookie` headers.
fn max_age(set_cookies: &[String]) -> Option<i64> {
    let line = set_cookies.iter().find(|c| c.starts_with("sid="))?;
    let cookie = cookie::Cookie::parse(line.as_str()).expect("a cookie");
    cookie.max_age().map(|d| d.whole_seconds())
}

/// The test's own route: when the session last authenticated, in Unix ms.
async fn auth_age(handle: SessionHandle) -> String {
    handle.authenticated_at().map_or("none".to_owned(), |at| {
        (at.unix_timestamp_nanos() / 1_000_000).to_string()
    })
}

/// The test's own login that keeps nothing from before: `start_fresh`, then
/// the bind, after `?delay_ms=`.
async fn login_fresh(
    handle: SessionHandle,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> &'static str {
    let ms = q.get("delay_ms").and_then(|v| v.parse().ok()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    handle.start_fresh();
    handle.bind_user("ada", false);
    "Logged in afresh"
}

struct Shop {
    server: Server,
    users: UserSessions,
    store: InstrumentedStore<MemoryStore>,
}

impl Shop {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    async fn logged_in(&self, user: &str) -> Browser {
        let browser = Browser::new();
        assert_eq!(
            browser.post(&self.url("/login"), &[("user", user)]).await,
            (200, format!("Logged in as {user}"))
        );
        browser
    }

    async fn sessions(&self, browser: &Browser) -> Vec<Value> {
        let (status, body) = browser.get(&self.url("/sessions")).await;
        assert_eq!(status, 200, "{body}");
        match serde_json::from_str(&body).expect("JSON") {
            Value::Array(items) => items,
            other => panic!("not an array: {other}"),
        }
    }
}

async fn shop_with(
    layer: impl FnOnce(session_kit::SessionLayerBuilder) -> session_kit::SessionLayerBuilder,
) -> Shop {
    let store = InstrumentedStore::new(MemoryStore::new());
    let layer = layer(SessionLayer::builder(store.clone(), key()).secure(false))
        .build()
        .expect("a valid configuration");
    let users = layer.users();
    let app = shop::app()
        .route("/auth-age", get(auth_age))
        .route("/login-fresh", axum::routing::post(login_fresh))
        .layer(layer);
    Shop {
        server: Server::start(app).await,
        users,
        store,
    }
}

/// One key for every layer of a test, so a second layer over the same store
/// reads the first one's cookies, as a restarted server does.
fn key() -> Key {
    Key::from_bytes(&[7; 64])
}

async fn shop() -> Shop {
    shop_with(|b| b).await
}

#[tokio::test]
async fn login_binds_the_user_and_the_listing_marks_the_callers_session() {
    let shop = shop().await;
    let first = shop.logged_in("ada").await;
    let second = shop.logged_in("ada").await;
    shop.logged_in("bob").await;

    let listed = shop.sessions(&first).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one is the caller's");
    for session in &listed {
        assert!(session["created"].is_i64(), "{session}");
        assert!(session["last_seen"].is_i64(), "{session}");
        let handle = session["handle"].as_str().expect("a handle");
        for browser in [&first, &second] {
            let cookie = browser.cookie(&shop.url("/")).expect("a cookie");
            assert!(!cookie.contains(handle), "a handle is no cookie value");
        }
    }
    assert_eq!(shop.users.list("ada").await.expect("listed").len(), 2);
    assert_eq!(shop.users.list("bob").await.expect("listed").len(), 1);
    assert!(shop.users.list("nobody").await.expect("listed").is_empty());
}

#[tokio::test]
async fn the_sessions_routes_answer_401_when_not_logged_in() {
    let shop = shop().await;
    let browser = Browser::new();
    let unauthorized = (401, "Not logged in".to_owned());
    assert_eq!(browser.get(&shop.url("/sessions")).await, unauthorized);
    for path in ["/sessions/revoke", "/logout-others", "/logout-everywhere"] {
        assert_eq!(
            browser.post(&shop.url(path), &[("handle", "x")]).await,
            unauthorized,
            "{path}"
        );
    }
    // A session with data but no user is not logged in either.
    browser
        .post(&shop.url("/cart/add"), &[("item", "apple")])
        .await;
    assert_eq!(browser.get(&shop.url("/sessions")).await, unauthorized);
}

#[tokio::test]
async fn a_revoked_session_is_logged_out_on_its_next_request() {
    let shop = shop().await;
    let me = shop.logged_in("ada").await;
    let phone = shop.logged_in("ada").await;
    let other = shop
        .sessions(&me)
        .await
        .into_iter()
        .find(|s| s["current"] == false)
        .expect("the phone's session");
    let handle = other["handle"].as_str().expect("a handle");
    assert_eq!(
        me.post(&shop.url("/sessions/revoke"), &[("handle", handle)])
            .await,
        (200, "Session logged out".to_owned())
    );
    assert_eq!(
        phone.get(&shop.url("/me")).await.0,
        401,
        "no cache to wait out"
    );
    assert_eq!(me.get(&shop.url("/me")).await, (200, "ada".to_owned()));
    assert_eq!(
        me.post(&shop.url("/sessions/revoke"), &[("handle", handle)])
            .await
            .0,
        404,
        "already gone"
    );

    // Another user's handle revokes nothing.
    let bob = shop.logged_in("bob").await;
    let bobs = shop.sessions(&bob).await;
    let bobs_handle = bobs[0]["handle"].as_str().expect("a handle");
    assert_eq!(
        me.post(&shop.url("/sessions/revoke"), &[("handle", bobs_handle)])
            .await
            .0,
        404
    );
    assert_eq!(bob.get(&shop.url("/me")).await, (200, "bob".to_owned()));
}

#[tokio::test]
async fn logout_others_keeps_only_the_callers_session() {
    let shop = shop().await;
    let me = shop.logged_in("ada").await;
    let others = [shop.logged_in("ada").await, shop.logged_in("ada").await];
    let bob = shop.logged_in("bob").await;
    assert_eq!(
        me.post(&shop.url("/logout-others"), &[]).await,
        (200, "Logged out 2 other sessions".to_owned())
    );
    for other in &others {
        assert_eq!(other.get(&shop.url("/me")).await.0, 401);
    }
    assert_eq!(me.get(&shop.url("/me")).await, (200, "ada".to_owned()));
    assert_eq!(bob.get(&shop.url("/me")).await, (200, "bob".to_owned()));
    let listed = shop.sessions(&me).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user_the_callers_too() {
    let shop = shop().await;
    let me = shop.logged_in("ada").await;
    let other = shop.logged_in("ada").await;
    let bob = shop.logged_in("bob").await;
    let (status, set_cookies) = me.post_cookies(&shop.url("/logout-everywhere"), &[]).await;
    assert_eq!(status, 200);
    assert!(
        set_cookies
            .iter()
            .any(|c| c.starts_with("sid=") && c.contains("Max-Age=0")),
        "the caller's cookie is expired: {set_cookies:?}"
    );
    assert_eq!(me.get(&shop.url("/me")).await.0, 401);
    assert_eq!(other.get(&shop.url("/me")).await.0, 401);
    assert_eq!(bob.get(&shop.url("/me")).await.0, 200);
    assert!(shop.users.list("ada").await.expect("listed").is_empty());
    assert_eq!(
        shop.store
            .inner()
            .user_sessions("ada")
            .await
            .expect("indexed")
            .len(),
        0
    );
}

#[tokio::test]
async fn logout_unbinds_and_an_outside_revoke_all_logs_the_user_out() {
    let shop = shop().await;
    let me = shop.logged_in("ada").await;
    assert_eq!(me.post(&shop.url("/logout"), &[]).await.0, 200);
    assert!(shop.users.list("ada").await.expect("listed").is_empty());

    // A password-change job, outside any request.
    let a = shop.logged_in("ada").await;
    let b = shop.logged_in("ada").await;
    assert_eq!(shop.users.revoke_all("ada").await.expect("revoked"), 2);
    assert_eq!(a.get(&shop.url("/me")).await.0, 401);
    assert_eq!(b.get(&shop.url("/me")).await.0, 401);
}

#[tokio::test]
async fn login_regenerates_the_id_and_the_pre_login_cookie_is_not_listed() {
    let shop = shop().await;
    let browser = Browser::new();
    browser
        .post(&shop.url("/cart/add"), &[("item", "apple")])
        .await;
    let before = browser.cookie(&shop.url("/")).expect("a cookie");
    browser.post(&shop.url("/login"), &[("user", "ada")]).await;
    let after = browser.cookie(&shop.url("/")).expect("a cookie");
    assert_ne!(before, after, "a new ID at bind");
    assert_eq!(browser.get(&shop.url("/cart")).await.1, r#"["apple"]"#);
    let listed = shop.users.list("ada").await.expect("listed");
    assert_eq!(listed.len(), 1, "the old key is not in the index");
}

#[tokio::test]
async fn remember_me_gives_a_persistent_cookie_and_the_server_keeps_its_window() {
    let shop = shop_with(|b| {
        b.inactivity_timeout(Duration::from_secs(1))
            .remember_for(Duration::from_secs(120))
    })
    .await;
    let browser_session = Browser::new();
    let (_, cookies) = browser_session
        .post_cookies(&shop.url("/login"), &[("user", "ada")])
        .await;
    assert_eq!(max_age(&cookies), None, "a browser-session cookie");

    let remembered = Browser::new();
    let (_, cookies) = remembered
        .post_cookies(&shop.url("/login"), &[("user", "ada"), ("remember", "1")])
        .await;
    assert_eq!(max_age(&cookies), Some(120), "a persistent cookie");
    let listed = shop.users.list("ada").await.expect("listed");
    assert_eq!(listed.iter().filter(|s| s.is_remembered()).count(), 1);

    // Past the layer's one-second window, only the remembered session lives:
    // the server enforces the choice, not the cookie.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(browser_session.get(&shop.url("/me")).await.0, 401);
    assert_eq!(
        remembered.get(&shop.url("/me")).await,
        (200, "ada".to_owned())
    );

    // The choice is stored with the session: another layer over the same
    // store (a restart, for a store that outlives the process), with the
    // one-second window and no `remember_for` of its own, keeps it.
    let again = SessionLayer::builder(shop.store.clone(), key())
        .secure(false)
        .inactivity_timeout(Duration::from_secs(1))
        .build()
        .expect("a valid configuration");
    let restarted = Server::start(shop::app().layer(again)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        remembered.get(&restarted.url("/me")).await,
        (200, "ada".to_owned())
    );

    // Logging in again without "remember me" makes it a browser-session one.
    let (_, cookies) = remembered
        .post_cookies(&shop.url("/login"), &[("user", "ada")])
        .await;
    assert_eq!(max_age(&cookies), None);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(remembered.get(&shop.url("/me")).await.0, 401);
}

#[tokio::test]
async fn the_absolute_lifetime_caps_a_remembered_session() {
    let shop = shop_with(|b| {
        b.remember_for(Duration::from_secs(600))
            .absolute_lifetime(Duration::from_secs(2))
    })
    .await;
    let browser = Browser::new();
    let (_, cookies) = browser
        .post_cookies(&shop.url("/login"), &[("user", "ada"), ("remember", "1")])
        .await;
    let age = max_age(&cookies).expect("persistent");
    assert!(age <= 2, "Max-Age {age} passes the absolute lifetime");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(browser.get(&shop.url("/me")).await.0, 401);
    assert!(shop.users.list("ada").await.expect("listed").is_empty());
}

#[tokio::test]
async fn the_handle_tells_when_the_session_last_authenticated() {
    let shop = shop().await;
    let browser = Browser::new();
    assert_eq!(browser.get(&shop.url("/auth-age")).await.1, "none");
    let before = now_ms();
    browser.post(&shop.url("/login"), &[("user", "ada")]).await;
    let after = now_ms();
    let at: i128 = browser
        .get(&shop.url("/auth-age"))
        .await
        .1
        .parse()
        .expect("ms");
    assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
    let listed = shop.users.list("ada").await.expect("listed");
    let listed_at = listed[0].authenticated_at().expect("bound");
    assert_eq!(listed_at.unix_timestamp_nanos() / 1_000_000, at);
}

fn now_ms() -> i128 {
    session_kit::time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000
}

#[tokio::test]
async fn the_client_is_recorded_only_when_the_layer_opts_in() {
    let login = |shop: &Shop| {
        let url = shop.url("/login");
        async move {
            Client::new()
                .post(url)
                .header("user-agent", "TestBrowser/1.0")
                .header("x-forwarded-for", "203.0.113.9")
                .form(&[("user", "ada")])
                .send()
                .await
                .expect("POST /login")
        }
    };
    let plain = shop().await;
    login(&plain).await;
    let listed = plain.users.list("ada").await.expect("listed");
    assert_eq!(listed[0].user_agent(), None);
    assert_eq!(listed[0].ip(), None);

    let recording = shop_with(|b| b.record_client(true).trust_proxy(true)).await;
    login(&recording).await;
    let listed = recording.users.list("ada").await.expect("listed");
    assert_eq!(listed[0].user_agent(), Some("TestBrowser/1.0"));
    assert_eq!(listed[0].ip(), Some("203.0.113.9"));
    let debug = format!("{:?}", listed[0]);
    assert!(
        !debug.contains("TestBrowser") && !debug.contains("203.0.113"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_slow_fresh_start_login_on_a_revoked_session_brings_none_back() {
    let shop = shop().await;
    let phone = shop.logged_in("ada").await;
    assert_eq!(
        phone.post(&shop.url("/login-fresh"), &[]).await,
        (200, "Logged in afresh".to_owned())
    );
    assert_eq!(shop.users.list("ada").await.expect("listed").len(), 1);
    let slow = {
        let phone = phone.clone();
        let url = shop.url("/login-fresh?delay_ms=300");
        tokio::spawn(async move { phone.post(&url, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(shop.users.revoke_all("ada").await.expect("revoked"), 1);
    slow.await.expect("the slow login");
    assert!(shop.users.list("ada").await.expect("listed").is_empty());
    assert_eq!(phone.get(&shop.url("/me")).await.0, 401);
}

#[tokio::test]
async fn a_thousand_sessions_of_one_user_are_listed_and_revoked() {
    let shop = shop().await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = shop.url("/login");
        tasks.push(tokio::spawn(async move {
            for _ in 0..125 {
                let browser = Browser::new();
                let (status, _) = browser.post(&url, &[("user", "ada")]).await;
                assert_eq!(status, 200);
            }
        }));
    }
    for task in tasks {
        task.await.expect("logins");
    }
    let logged_in = started.elapsed();
    let me = shop.logged_in("ada").await;

    let started = Instant::now();
    let listed = shop.users.list("ada").await.expect("listed");
    let listing = started.elapsed();
    assert_eq!(listed.len(), 1001);

    let started = Instant::now();
    let over_http = shop.sessions(&me).await;
    let listing_http = started.elapsed();
    assert_eq!(over_http.len(), 1001);

    let started = Instant::now();
    let (status, body) = me.post(&shop.url("/logout-others"), &[]).await;
    let revoking = started.elapsed();
    assert_eq!(
        (status, body.as_str()),
        (200, "Logged out 1000 other sessions")
    );
    assert_eq!(shop.users.list("ada").await.expect("listed").len(), 1);
    eprintln!(
        "1,000 sessions of one user: logged in over HTTP in {logged_in:?}; listed in \
         {listing:?} (UserSessions::list), {listing_http:?} (GET /sessions); revoked in \
         {revoking:?} (POST /logout-others)"
    );
}

/// A store without the per-user index: the four methods, nothing else.
#[derive(Debug, Clone, Default)]
struct PlainStore(MemoryStore);

impl SessionStore for PlainStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        self.0.load(key).await
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.0.create(key, changes).await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.0.save(key, changes).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
}

#[tokio::test]
async fn a_store_without_the_index_answers_501_and_logs_in_all_the_same() {
    session_runtime::testing::the_user_index_answers_unsupported(&PlainStore::default()).await;
    let layer = SessionLayer::builder(PlainStore::default(), Key::generate())
        .secure(false)
        .build()
        .expect("a valid configuration");
    let users = layer.users();
    let server = Server::start(shop::app().layer(layer)).await;
    let browser = Browser::new();
    assert_eq!(
        browser
            .post(&server.url("/login"), &[("user", "ada")])
            .await,
        (200, "Logged in as ada".to_owned())
    );
    assert_eq!(
        browser.get(&server.url("/me")).await,
        (200, "ada".to_owned())
    );
    let (status, body) = browser.get(&server.url("/sessions")).await;
    assert_eq!(status, 501);
    assert!(body.contains("no index"), "{body}");
    for path in ["/sessions/revoke", "/logout-others", "/logout-everywhere"] {
        let (status, _) = browser.post(&server.url(path), &[("handle", "x")]).await;
        assert_eq!(status, 501, "{path}");
    }
    assert_eq!(
        browser.get(&server.url("/me")).await,
        (200, "ada".to_owned())
    );
    let err = users.list("ada").await.expect_err("unsupported");
    assert_eq!(err.kind(), session_kit::StoreErrorKind::Unsupported);
}

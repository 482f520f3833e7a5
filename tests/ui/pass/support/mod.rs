//! What the pass cases share: serve a router with a `MemoryStore` on a
//! loopback port, drive it with a client that keeps its cookie, and read back
//! what the store holds for that client's session.

use std::collections::BTreeMap;

use axum::routing::get;
use axum::Router;
use session_kit::store::SessionStore as _;
use session_kit::{Key, MemoryStore, SessionHandle, SessionId, SessionLayer};

/// A served app, a browser-like client, and the store behind the app.
pub struct App {
    base: String,
    client: reqwest::Client,
    store: MemoryStore,
}

/// The stored session ID, for [`App::stored`].
async fn session_id(handle: SessionHandle) -> String {
    handle
        .id()
        .map(|id| id.expose().to_owned())
        .unwrap_or_default()
}

impl App {
    /// Serves `routes` behind a `SessionLayer` (plain HTTP, so no `Secure`).
    pub async fn start(routes: Router) -> Self {
        let store = MemoryStore::new();
        let layer = SessionLayer::builder(store.clone(), Key::generate())
            .secure(false)
            .build()
            .expect("a valid session configuration");
        let app = routes.route("/__id", get(session_id)).layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("an HTTP client");
        Self {
            base,
            client,
            store,
        }
    }

    /// `GET path`, asserting a 200; the body.
    pub async fn get(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("a body")
    }

    /// Every key and JSON value the store holds for this client's session.
    pub async fn stored(&self) -> BTreeMap<String, String> {
        let id = self.get("/__id").await;
        let id = SessionId::parse(&id).expect("a stored session");
        let record = self
            .store
            .load(&id.key())
            .await
            .expect("the store answers")
            .expect("the session is live");
        record
            .fields()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }
}

//! A small shop: a visit counter, a login, a cart and a theme, each kept in
//! the session by its own derived struct (its own namespace).
//!
//! ```text
//! cargo run --release --example shop
//! curl -c jar -b jar -d user=ada http://127.0.0.1:3000/login     # Logged in as ada
//! curl -c jar -b jar -d item=apple http://127.0.0.1:3000/cart/add # 1
//! curl -c jar -b jar http://127.0.0.1:3000/cart                   # ["apple"]
//! ```
//!
//! Every `POST` takes `?delay_ms=N` (0 to 5000): the handler sleeps that long
//! after reading its session and before changing it, to widen race windows.
//!
//! The sessions of a user (on a store with a per-user index, such as the
//! memory store; others answer 501):
//!
//! ```text
//! curl -c jar -b jar -d user=ada -d remember=1 http://127.0.0.1:3000/login
//! curl -b jar http://127.0.0.1:3000/sessions   # [{"handle":"…","current":true,…}]
//! curl -b jar -d handle=… http://127.0.0.1:3000/sessions/revoke
//! curl -b jar -X POST http://127.0.0.1:3000/logout-others
//! curl -b jar -X POST http://127.0.0.1:3000/logout-everywhere
//! ```
//!
//! `created`, `last_seen` and `expires` in `GET /sessions` are Unix times in
//! seconds.

mod common;

use std::time::Duration;

use axum::extract::{Query, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use session_kit::{Session, SessionHandle, StoreError, StoreErrorKind, UserSession};

/// The visit counter `GET /` shows.
#[derive(Session, Default, Debug)]
pub(crate) struct Visits {
    #[session(counter)]
    page_views: u64,
}

/// Who is logged in.
#[derive(Session, Default, Debug)]
#[session(namespace = "auth")]
pub(crate) struct Auth {
    user: Option<String>,
}

/// The cart and the theme: two fields, so a cart change and a theme change
/// never overwrite each other.
#[derive(Session, Default, Debug)]
#[session(namespace = "shop")]
pub(crate) struct Shop {
    cart: Vec<String>,
    theme: Option<String>,
}

/// `?delay_ms=N`, checked.
#[derive(Deserialize)]
struct Delay {
    delay_ms: Option<u64>,
}

const MAX_DELAY_MS: u64 = 5000;

/// Sleeps `delay_ms` (already checked by `check_delay`).
async fn pause(Query(delay): Query<Delay>) {
    let ms = delay.delay_ms.unwrap_or(0).min(MAX_DELAY_MS);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Rejects a bad `delay_ms` before the handler runs.
async fn check_delay(req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or("");
    if delay_is_valid(query) {
        next.run(req).await
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("delay_ms must be a whole number between 0 and {MAX_DELAY_MS}"),
        )
            .into_response()
    }
}

fn delay_is_valid(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("delay_ms="))
        .all(|value| value.parse::<u64>().is_ok_and(|ms| ms <= MAX_DELAY_MS))
}

async fn index(mut visits: Session<Visits>) -> String {
    visits.page_views += 1;
    if visits.page_views == 1 {
        "Welcome to this page for the first time!".to_owned()
    } else {
        format!("You visited this page {} times", visits.page_views)
    }
}

#[derive(Deserialize)]
struct Login {
    user: String,
    /// `1` for "remember me": a persistent cookie.
    remember: Option<String>,
}

async fn login(
    handle: SessionHandle,
    mut auth: Session<Auth>,
    delay: Query<Delay>,
    Form(login): Form<Login>,
) -> Response {
    pause(delay).await;
    let user = login.user.trim();
    if user.is_empty() {
        return (StatusCode::BAD_REQUEST, "user must not be empty").into_response();
    }
    auth.user = Some(user.to_owned());
    // Binds the session to the user and gives it a new ID in the same step:
    // an ID planted before login is worthless.
    let remember = login.remember.as_deref() == Some("1");
    handle.bind_user(user, remember);
    format!("Logged in as {user}").into_response()
}

async fn me(auth: Session<Auth>) -> Response {
    match &auth.user {
        Some(user) => user.clone().into_response(),
        None => (StatusCode::UNAUTHORIZED, "Not logged in").into_response(),
    }
}

async fn logout(handle: SessionHandle, delay: Query<Delay>) -> Response {
    pause(delay).await;
    handle.destroy();
    "Logged out".into_response()
}

fn not_logged_in() -> Response {
    (StatusCode::UNAUTHORIZED, "Not logged in").into_response()
}

/// A store error of the sessions-of-a-user routes, as a response.
fn store_failed(err: &StoreError) -> Response {
    if err.kind() == StoreErrorKind::Unsupported {
        (
            StatusCode::NOT_IMPLEMENTED,
            "This session store keeps no index of a user's sessions: they cannot be listed \
             or revoked here",
        )
            .into_response()
    } else {
        tracing::error!(error = %err, "the sessions of a user are out of reach");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "The session store is unavailable",
        )
            .into_response()
    }
}

fn unix(at: Option<session_kit::time::OffsetDateTime>) -> serde_json::Value {
    at.map_or(serde_json::Value::Null, |at| at.unix_timestamp().into())
}

fn listed(session: &UserSession) -> serde_json::Value {
    serde_json::json!({
        "handle": session.handle(),
        "created": unix(session.created()),
        "last_seen": unix(Some(session.last_seen())),
        "expires": unix(Some(session.expires_at())),
        "remembered": session.is_remembered(),
        "current": session.is_current(),
    })
}

async fn sessions(handle: SessionHandle) -> Response {
    if handle.user().is_none() {
        return not_logged_in();
    }
    match handle.list_user_sessions().await {
        Ok(list) => Json(list.iter().map(listed).collect::<Vec<_>>()).into_response(),
        Err(err) => store_failed(&err),
    }
}

#[derive(Deserialize)]
struct Revoke {
    handle: String,
}

async fn revoke(
    handle: SessionHandle,
    delay: Query<Delay>,
    Form(revoke): Form<Revoke>,
) -> Response {
    pause(delay).await;
    if handle.user().is_none() {
        return not_logged_in();
    }
    match handle.revoke_user_session(&revoke.handle).await {
        Ok(true) => "Session logged out".into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "No such session").into_response(),
        Err(err) => store_failed(&err),
    }
}

async fn logout_others(handle: SessionHandle, delay: Query<Delay>) -> Response {
    pause(delay).await;
    if handle.user().is_none() {
        return not_logged_in();
    }
    match handle.log_out_other_sessions().await {
        Ok(n) => format!("Logged out {n} other sessions").into_response(),
        Err(err) => store_failed(&err),
    }
}

async fn logout_everywhere(handle: SessionHandle, delay: Query<Delay>) -> Response {
    pause(delay).await;
    if handle.user().is_none() {
        return not_logged_in();
    }
    match handle.log_out_everywhere().await {
        Ok(_) => "Logged out everywhere".into_response(),
        Err(err) => store_failed(&err),
    }
}

#[derive(Deserialize)]
struct AddItem {
    item: String,
}

async fn cart_add(
    mut shop: Session<Shop>,
    delay: Query<Delay>,
    Form(add): Form<AddItem>,
) -> Response {
    pause(delay).await;
    shop.cart.push(add.item);
    shop.cart.len().to_string().into_response()
}

async fn cart(shop: Session<Shop>) -> Json<Vec<String>> {
    Json(shop.cart.clone())
}

#[derive(Deserialize)]
struct SetTheme {
    theme: String,
}

async fn set_prefs(
    mut shop: Session<Shop>,
    delay: Query<Delay>,
    Form(set): Form<SetTheme>,
) -> Response {
    pause(delay).await;
    let reply = format!("Theme set to {}", set.theme);
    shop.theme = Some(set.theme);
    reply.into_response()
}

async fn prefs(shop: Session<Shop>) -> String {
    shop.theme.clone().unwrap_or_else(|| "default".to_owned())
}

/// The example's routes, without the session layer.
pub(crate) fn app() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/cart/add", post(cart_add))
        .route("/cart", get(cart))
        .route("/prefs", post(set_prefs).get(prefs))
        .route("/sessions", get(sessions))
        .route("/sessions/revoke", post(revoke))
        .route("/logout-others", post(logout_others))
        .route("/logout-everywhere", post(logout_everywhere))
        .layer(middleware::from_fn(check_delay))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::run("shop", app).await
}

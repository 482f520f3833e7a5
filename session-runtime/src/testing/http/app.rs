//! The app the HTTP suite drives: the shop example's routes (SPEC's HTTP
//! contract) and the routes the semantics need, over derived sessions.
//!
//! The namespaces start with `suite_`, so the suite links into a test
//! binary beside the app's own session types without a clash.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use session_derive::Session;

use crate::{Session, SessionHandle};

/// The view counter of SPEC's `visits` example, saved as an increment.
#[derive(Session, Default, Debug)]
#[session(crate = "crate", namespace = "suite_visits")]
pub(super) struct Visits {
    #[session(counter)]
    pub(super) count: u64,
}

/// Two plain fields, written one at a time.
#[derive(Session, Default, Debug)]
#[session(crate = "crate", namespace = "suite_profile")]
pub(super) struct Profile {
    pub(super) name: String,
    pub(super) visits: u32,
}

/// An item of [`Basket`]: a change deep inside a field.
#[derive(Serialize, Deserialize, Default, Debug, Clone, PartialEq)]
pub(super) struct Item {
    sku: String,
    quantity: u32,
}

/// A field holding a list of structs.
#[derive(Session, Default, Debug)]
#[session(crate = "crate", namespace = "suite_basket")]
pub(super) struct Basket {
    pub(super) items: Vec<Item>,
}

/// The logged-in user.
#[derive(Session, Default, Debug)]
#[session(crate = "crate", namespace = "suite_account")]
pub(super) struct Account {
    user: Option<String>,
}

/// The shop's cart: item names, oldest first.
#[derive(Session, Default, Debug)]
#[session(crate = "crate", namespace = "suite_cart")]
pub(super) struct Cart {
    items: Vec<String>,
}

/// The shop's preferences, a namespace apart from the cart.
#[derive(Session, Default, Debug)]
#[session(crate = "crate", namespace = "suite_prefs")]
pub(super) struct Prefs {
    theme: Option<String>,
}

/// How many times the handler of `POST /visit` ran: the outage contract
/// checks that a 503 came before it.
pub(super) type Runs = Arc<AtomicUsize>;

#[derive(Deserialize)]
struct Delay {
    delay_ms: Option<u64>,
}

impl Delay {
    /// SPEC's `delay_ms`, 0 to 5000, between reading the session and
    /// changing it.
    async fn wait(&self) {
        if let Some(ms) = self.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms.min(5000))).await;
        }
    }
}

#[derive(Deserialize)]
struct UserForm {
    user: String,
}

#[derive(Deserialize)]
struct ItemForm {
    item: String,
}

#[derive(Deserialize)]
struct ThemeForm {
    theme: String,
}

/// `GET /`: SPEC's view counter.
async fn counter(mut visits: Session<Visits>) -> String {
    visits.count += 1;
    if visits.count == 1 {
        "Welcome to this page for the first time!".to_owned()
    } else {
        format!("You visited this page {} times", visits.count)
    }
}

/// `POST /bump`: one more visit, after the delay.
async fn bump(Query(delay): Query<Delay>, mut visits: Session<Visits>) -> String {
    delay.wait().await;
    visits.count += 1;
    visits.count.to_string()
}

/// `GET /count`: the counter, read only; `new` without a live session.
async fn count(handle: SessionHandle, visits: Session<Visits>) -> String {
    if handle.is_new() {
        "new".to_owned()
    } else {
        visits.count.to_string()
    }
}

/// `GET /id`: the session's ID, or `none`.
async fn id(handle: SessionHandle) -> String {
    handle
        .id()
        .map_or_else(|| "none".to_owned(), |id| id.expose().to_owned())
}

/// `GET /read`: three extractors, nothing changed.
async fn read(profile: Session<Profile>, basket: Session<Basket>, handle: SessionHandle) -> String {
    format!(
        "{} {} {} {}",
        profile.name,
        profile.visits,
        basket.items.len(),
        handle.is_new()
    )
}

/// `POST /visit`: one field changes.
async fn visit(State(runs): State<Runs>, mut profile: Session<Profile>) -> String {
    runs.fetch_add(1, Ordering::SeqCst);
    profile.visits += 1;
    profile.visits.to_string()
}

/// `POST /visit-expiry`: a change, then the stored session's expiry as the
/// handle reads it once the change is made (Unix seconds, or `none`).
async fn visit_expiry(handle: SessionHandle, mut profile: Session<Profile>) -> String {
    profile.visits += 1;
    drop(profile);
    handle
        .expires_at()
        .map_or_else(|| "none".to_owned(), |at| at.unix_timestamp().to_string())
}

/// `POST /name/{name}`: the other field changes.
async fn name(Path(name): Path<String>, mut profile: Session<Profile>) -> &'static str {
    profile.name = name;
    "ok"
}

/// `POST /basket/add`: a change deep inside a field, through `&mut`.
async fn basket_add(mut basket: Session<Basket>) -> &'static str {
    match basket.items.first_mut() {
        Some(item) => item.quantity += 1,
        None => basket.items.push(Item {
            sku: "apple".into(),
            quantity: 1,
        }),
    }
    "ok"
}

/// `POST /touch-nothing`: `&mut` taken, nothing changed.
async fn touch_nothing(mut profile: Session<Profile>, mut basket: Session<Basket>) -> &'static str {
    let _ = &mut profile.name;
    profile.visits += 0;
    basket.items.retain(|_| true);
    "ok"
}

/// `POST /fail`: a change, then a 500.
async fn fail(mut profile: Session<Profile>) -> (StatusCode, &'static str) {
    profile.visits += 100;
    (StatusCode::INTERNAL_SERVER_ERROR, "handler failed")
}

/// `POST /late`: a change made after the response, in a task.
async fn late(mut profile: Session<Profile>) -> &'static str {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        profile.visits += 1000;
    });
    "spawned"
}

/// `GET /twice`: one session type taken twice.
async fn twice(a: Session<Profile>, b: Session<Profile>) -> String {
    format!("{} {}", a.visits, b.visits)
}

/// `POST /login`: SPEC's login, regenerating the ID.
async fn login(
    Query(delay): Query<Delay>,
    handle: SessionHandle,
    mut account: Session<Account>,
    Form(form): Form<UserForm>,
) -> String {
    delay.wait().await;
    account.user = Some(form.user.clone());
    handle.regenerate();
    format!("Logged in as {}", form.user)
}

/// `GET /me`: the user, or 401.
async fn me(account: Session<Account>) -> (StatusCode, String) {
    match &account.user {
        Some(user) => (StatusCode::OK, user.clone()),
        None => (StatusCode::UNAUTHORIZED, "Not logged in".to_owned()),
    }
}

/// `POST /logout`: the session ends.
async fn logout(Query(delay): Query<Delay>, handle: SessionHandle) -> &'static str {
    delay.wait().await;
    handle.destroy();
    "Logged out"
}

/// `POST /cart/add`: one more item, after the delay.
async fn cart_add(
    Query(delay): Query<Delay>,
    mut cart: Session<Cart>,
    Form(form): Form<ItemForm>,
) -> String {
    delay.wait().await;
    cart.items.push(form.item);
    cart.items.len().to_string()
}

/// `GET /cart`: the items as JSON, oldest first.
async fn cart(cart: Session<Cart>) -> String {
    serde_json::to_string(&cart.items).unwrap_or_default()
}

/// `POST /prefs`: the theme, after the delay.
async fn set_prefs(
    Query(delay): Query<Delay>,
    mut prefs: Session<Prefs>,
    Form(form): Form<ThemeForm>,
) -> String {
    delay.wait().await;
    let answer = format!("Theme set to {}", form.theme);
    prefs.theme = Some(form.theme);
    answer
}

/// `GET /prefs`: the theme, or `default`.
async fn prefs(prefs: Session<Prefs>) -> String {
    prefs.theme.clone().unwrap_or_else(|| "default".to_owned())
}

#[derive(Deserialize)]
struct HandleForm {
    handle: String,
}

/// A store error of the user routes: 501 for a store without the index.
fn user_route_failed(err: &crate::StoreError) -> (StatusCode, String) {
    let status = if err.kind() == crate::StoreErrorKind::Unsupported {
        StatusCode::NOT_IMPLEMENTED
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, err.to_string())
}

/// `POST /user/login`: the shop's login, binding the session to the user
/// (and regenerating the ID in the same step), "remember me" on `remember=1`.
async fn user_login(
    Query(delay): Query<Delay>,
    handle: SessionHandle,
    mut account: Session<Account>,
    Form(form): Form<UserLoginForm>,
) -> String {
    delay.wait().await;
    account.user = Some(form.user.clone());
    handle.bind_user(&form.user, form.remember.as_deref() == Some("1"));
    format!("Logged in as {}", form.user)
}

#[derive(Deserialize)]
struct UserLoginForm {
    user: String,
    remember: Option<String>,
}

/// `GET /user/sessions`: the user's live sessions as JSON lines of
/// `handle current remembered`, sorted, or 401.
async fn user_sessions(handle: SessionHandle) -> (StatusCode, String) {
    if handle.user().is_none() {
        return (StatusCode::UNAUTHORIZED, "Not logged in".to_owned());
    }
    match handle.list_user_sessions().await {
        Ok(list) => {
            let mut lines: Vec<String> = list
                .iter()
                .map(|s| format!("{} {} {}", s.handle(), s.is_current(), s.is_remembered()))
                .collect();
            lines.sort();
            (StatusCode::OK, lines.join("\n"))
        }
        Err(err) => user_route_failed(&err),
    }
}

/// `POST /user/revoke`: ends one of the user's sessions by its handle.
async fn user_revoke(handle: SessionHandle, Form(form): Form<HandleForm>) -> (StatusCode, String) {
    match handle.revoke_user_session(&form.handle).await {
        Ok(true) => (StatusCode::OK, "Session logged out".to_owned()),
        Ok(false) => (StatusCode::NOT_FOUND, "No such session".to_owned()),
        Err(err) => user_route_failed(&err),
    }
}

/// `POST /user/logout-others`: ends every session of the user but this one.
async fn user_logout_others(handle: SessionHandle) -> (StatusCode, String) {
    match handle.log_out_other_sessions().await {
        Ok(n) => (StatusCode::OK, format!("Logged out {n} other sessions")),
        Err(err) => user_route_failed(&err),
    }
}

/// `POST /user/logout-everywhere`: ends every session of the user, this one
/// too, after the delay.
async fn user_logout_everywhere(
    Query(delay): Query<Delay>,
    handle: SessionHandle,
) -> (StatusCode, String) {
    delay.wait().await;
    match handle.log_out_everywhere().await {
        Ok(n) => (StatusCode::OK, format!("Logged out {n} sessions")),
        Err(err) => user_route_failed(&err),
    }
}

/// The routes, without the session layer.
pub(super) fn routes(runs: Runs) -> Router {
    Router::new()
        .route("/", get(counter))
        .route("/bump", post(bump))
        .route("/count", get(count))
        .route("/id", get(id))
        .route("/plain", get(|| async { "no session here" }))
        .route("/read", get(read))
        .route("/visit", post(visit))
        .route("/visit-expiry", post(visit_expiry))
        .route("/name/{name}", post(name))
        .route("/basket/add", post(basket_add))
        .route("/touch-nothing", post(touch_nothing))
        .route("/fail", post(fail))
        .route("/late", post(late))
        .route("/twice", get(twice))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/cart/add", post(cart_add))
        .route("/cart", get(cart))
        .route("/prefs", post(set_prefs).get(prefs))
        .route("/user/login", post(user_login))
        .route("/user/sessions", get(user_sessions))
        .route("/user/revoke", post(user_revoke))
        .route("/user/logout-others", post(user_logout_others))
        .route("/user/logout-everywhere", post(user_logout_everywhere))
        .with_state(runs)
}

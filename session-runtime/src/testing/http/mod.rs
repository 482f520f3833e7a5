//! The store-generic HTTP suite: SPEC's semantics, the session lifecycle,
//! replays, expiry, counters, the three races and the outage contract, over
//! real HTTP, on any store.
//!
//! Each case serves a small app of derived sessions (the shop example's
//! routes, SPEC's HTTP contract, and the routes the semantics need) on a
//! loopback port, over the store under test wrapped in an
//! [`InstrumentedStore`], and drives it with an HTTP client. A store plugs
//! in with one line, [`store_http_tests!`](crate::store_http_tests), as it
//! does for the conformance suite:
//!
//! ```
//! use session_runtime::store::MemoryStore;
//!
//! async fn make_store() -> Option<MemoryStore> {
//!     Some(MemoryStore::new())
//! }
//!
//! session_runtime::store_http_tests!(make_store);
//! # fn main() { let _ = make_store; }
//! ```
//!
//! The cases run on tokio's multi-threaded runtime: the test crate needs
//! `tokio` with the `macros` and `rt-multi-thread` features.
//!
//! A case that a store cannot keep by design is skipped with its reason,
//! which shows in the test run (`ignored, <reason>`); the suite checks that
//! every skipped name is one of its cases:
//!
//! ```
//! use session_runtime::store::CookieStore;
//!
//! async fn make_store() -> Option<CookieStore> {
//!     Some(CookieStore::new())
//! }
//!
//! session_runtime::store_http_tests!(make_store, skip = {
//!     three_extractors_cost_one_store_read: "the data rides in the cookie: no store read",
//! });
//! # fn main() { let _ = make_store; }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::InstrumentedStore;
use crate::store::SessionStore;
use crate::{Key, SessionLayer, SessionLayerBuilder};

mod app;
mod lifecycle;
mod races;
mod semantics;
mod users;

pub use self::lifecycle::*;
pub use self::races::*;
pub use self::semantics::*;
pub use self::users::*;

/// Generates one `#[tokio::test]` per case of the HTTP suite.
///
/// The first argument names an `async fn() -> Option<S>` (`S: SessionStore +
/// Clone`), called once per case; `teardown = path` names an `async fn(S)`
/// run after it; `skip = { case: "reason", ... }` marks the cases the store
/// cannot keep by design as ignored, with the reason.
#[macro_export]
macro_rules! store_http_tests {
    ($make:path $(,)?) => {
        $crate::store_http_tests!($make, teardown = $crate::testing::no_teardown, skip = {});
    };
    ($make:path, teardown = $teardown:path $(,)?) => {
        $crate::store_http_tests!($make, teardown = $teardown, skip = {});
    };
    ($make:path, skip = { $($skip:tt)* } $(,)?) => {
        $crate::store_http_tests!($make, teardown = $crate::testing::no_teardown, skip = { $($skip)* });
    };
    ($make:path, teardown = $teardown:path, skip = { $($case:ident : $reason:literal),* $(,)? } $(,)?) => {
        $crate::store_http_tests!(@cases ($) $make, $teardown, { $($case : $reason),* },
            a_route_without_a_session_does_no_store_io,
            three_extractors_cost_one_store_read,
            reading_writes_nothing_and_an_empty_new_session_is_not_stored,
            a_failed_handler_saves_nothing,
            a_change_to_one_field_writes_that_field_alone,
            the_store_sees_the_digest_of_the_id_never_the_id,
            an_id_the_store_does_not_know_is_never_adopted,
            an_expired_session_never_loads_even_when_its_cookie_is_replayed,
            bad_cookies_mean_no_session_never_an_error,
            an_undecodable_field_resets_to_its_default_and_the_others_survive,
            a_store_outage_gives_503_before_and_500_after_the_handler_then_recovers,
            a_session_changed_after_its_response_saves_nothing,
            taking_one_session_type_twice_is_refused,
            two_namespaces_share_one_session_and_one_cookie,
            the_counter_welcomes_then_counts_every_visit,
            a_returning_visit_that_only_counts_does_not_reissue_the_cookie,
            a_counter_is_saved_as_an_increment,
            me_is_401_until_login,
            login_regenerates_the_id_and_the_old_cookie_logs_nobody_in,
            logout_deletes_the_session_and_expires_the_cookie,
            a_cookie_replayed_after_logout_gets_a_fresh_empty_session,
            the_cart_lists_items_oldest_first_and_the_theme_defaults,
            two_app_instances_share_sessions_both_ways,
            an_idle_session_ends_on_the_server,
            a_read_only_request_slides_the_expiry_once_extend_after_has_passed,
            the_handle_reads_the_stored_expiry_after_a_change,
            a_write_moves_the_stored_expiry_once_extend_after_has_passed,
            the_absolute_lifetime_ends_a_busy_session,
            concurrent_changes_to_different_fields_both_persist,
            a_slow_write_racing_a_logout_does_not_revive_the_session,
            a_slow_write_racing_a_login_does_not_revive_the_old_id,
            a_counter_bump_that_ends_after_logout_does_not_revive_the_session,
            fifty_concurrent_increments_on_one_session_all_count,
            a_login_binds_the_user_and_the_listing_marks_the_callers_session,
            a_session_revoked_on_one_instance_is_logged_out_on_the_other,
            logout_others_keeps_only_the_callers_session,
            logout_everywhere_on_one_instance_ends_the_users_sessions_on_every_instance,
            remember_me_is_kept_with_the_session_on_every_instance,
            a_slow_request_on_a_revoked_session_neither_revives_it_nor_re_indexes_it,
            logins_and_a_logout_everywhere_on_two_instances_leave_no_live_session,
        );
    };
    (@cases ($d:tt) $make:path, $teardown:path, { $($skip:ident : $reason:literal),* }, $($case:ident),* $(,)?) => {
        macro_rules! __session_kit_http_case {
            $(
                ($skip) => {
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    #[ignore = $reason]
                    async fn $skip() {
                        let Some(store) = $make().await else { return };
                        $crate::testing::http::$skip(::core::clone::Clone::clone(&store)).await;
                        $teardown(store).await;
                    }
                };
            )*
            ($d case:ident) => {
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $d case() {
                    let Some(store) = $make().await else { return };
                    $crate::testing::http::$d case(::core::clone::Clone::clone(&store)).await;
                    $teardown(store).await;
                }
            };
        }
        $( __session_kit_http_case!($case); )*

        #[test]
        fn the_http_suite_skips_only_its_own_cases() {
            let cases: &[&str] = &[$(stringify!($case)),*];
            $(
                assert!(
                    cases.contains(&stringify!($skip)),
                    "`{}` is not a case of the HTTP suite",
                    stringify!($skip),
                );
            )*
        }
    };
}

/// The app of one case: the suite's routes behind a session layer over the
/// store, served on a loopback port until the value drops.
#[derive(Debug)]
pub(crate) struct TestApp<S> {
    pub(crate) store: InstrumentedStore<S>,
    pub(crate) runs: app::Runs,
    /// The sessions of users, from outside a request.
    pub(crate) users: crate::UserSessions,
    key: Key,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl<S: SessionStore> TestApp<S> {
    /// The app over `store`, with the layer's defaults (signed cookie,
    /// `Secure` off for plain HTTP).
    pub(crate) async fn start(store: S) -> Self {
        Self::with(store, |builder| builder).await
    }

    /// The app over `store`, with the layer configured by `configure`.
    pub(crate) async fn with(
        store: S,
        configure: impl FnOnce(SessionLayerBuilder) -> SessionLayerBuilder,
    ) -> Self {
        Self::serve(InstrumentedStore::new(store), Key::generate(), configure).await
    }

    /// Another instance of the app over the same store and key, as a second
    /// server behind a load balancer would be.
    pub(crate) async fn another(&self) -> Self {
        Self::serve(self.store.clone(), self.key.clone(), |builder| builder).await
    }

    /// Serves the app over an instrumented store.
    pub(crate) async fn serve(
        store: InstrumentedStore<S>,
        key: Key,
        configure: impl FnOnce(SessionLayerBuilder) -> SessionLayerBuilder,
    ) -> Self {
        let layer: SessionLayer =
            configure(SessionLayer::builder(store.clone(), key.clone()).secure(false))
                .build()
                .expect("the suite's layer configuration is valid");
        let runs = app::Runs::default();
        let users = layer.users();
        let router = app::routes(runs.clone()).layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                panic!("the suite's server stopped: {err}");
            }
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            store,
            runs,
            users,
            key,
            addr,
            task,
            client,
        }
    }

    /// `GET path`, with `cookie` as the whole `Cookie` header if given.
    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::GET, path, cookie, &[]).await
    }

    /// `POST path` with a form, with `cookie` as the `Cookie` header.
    pub(crate) async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Reply {
        self.send(Method::POST, path, cookie, form).await
    }

    /// One request, its reply read whole.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let body = if form.is_empty() {
            Bytes::new()
        } else {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            Bytes::from(encode_form(form))
        };
        let request = request.body(Full::new(body)).expect("a valid request");
        let response = self.client.request(request).await.expect("a response");
        let status = response.status().as_u16();
        let set_cookie = response
            .headers()
            .get(SET_COOKIE)
            .map(|value| value.to_str().expect("an ASCII Set-Cookie").to_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        Reply {
            status,
            set_cookie,
            body: String::from_utf8(body.to_vec()).expect("a UTF-8 body"),
        }
    }

    /// A new session with one visit stored: its cookie.
    pub(crate) async fn session(&self) -> String {
        let reply = self.post("/visit", None, &[]).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply
            .cookie()
            .expect("a new session with data gets a cookie")
    }

    /// The session ID behind `cookie`, as the app sees it.
    pub(crate) async fn id_of(&self, cookie: &str) -> crate::SessionId {
        let reply = self.get("/id", Some(cookie)).await;
        crate::SessionId::parse(&reply.body).expect("a live session behind the cookie")
    }
}

impl<S> Drop for TestApp<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a response said: its status, its `Set-Cookie`, its body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) set_cookie: Option<String>,
    pub(crate) body: String,
}

impl Reply {
    /// The `name=value` the response set, unless it removed the cookie.
    pub(crate) fn cookie(&self) -> Option<String> {
        if self.clears_cookie() {
            return None;
        }
        let header = self.set_cookie.as_deref()?;
        Some(
            header
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        )
    }

    /// Whether the response removed the cookie (`Max-Age=0`).
    pub(crate) fn clears_cookie(&self) -> bool {
        self.set_cookie.as_deref().is_some_and(|header| {
            header
                .split(';')
                .any(|part| part.trim().eq_ignore_ascii_case("max-age=0"))
        })
    }

    /// The status and the body, for one comparison.
    pub(crate) fn answer(&self) -> (u16, &str) {
        (self.status, self.body.as_str())
    }
}

/// A browser: it keeps the session cookie it is given and sends it back.
#[derive(Debug, Default)]
pub(crate) struct Visitor {
    cookie: Arc<Mutex<Option<String>>>,
}

impl Visitor {
    /// A visitor with no cookie.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The cookie it holds.
    pub(crate) fn cookie(&self) -> Option<String> {
        self.cookie
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `GET path` on `app`, keeping what the reply sets.
    pub(crate) async fn get<S: SessionStore>(&self, app: &TestApp<S>, path: &str) -> Reply {
        let reply = app.get(path, self.cookie().as_deref()).await;
        self.keep(&reply);
        reply
    }

    /// `POST path` on `app` with a form, keeping what the reply sets.
    pub(crate) async fn post<S: SessionStore>(
        &self,
        app: &TestApp<S>,
        path: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let reply = app.post(path, self.cookie().as_deref(), form).await;
        self.keep(&reply);
        reply
    }

    fn keep(&self, reply: &Reply) {
        if reply.set_cookie.is_none() {
            return;
        }
        *self.cookie.lock().unwrap_or_else(PoisonError::into_inner) = reply.cookie();
    }
}

/// `application/x-www-form-urlencoded`.
fn encode_form(form: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in form.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

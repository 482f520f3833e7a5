//! [`SessionService`]: the middleware that the layer wraps around a router,
//! and its [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::response::{IntoResponse, Response};
use http::Request;
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Instrument as _;

use crate::error::SaveError;
use crate::request::{RequestSession, Write};
use crate::shared::Shared;

/// The request extension through which the extractors reach the session.
#[derive(Clone, Debug)]
pub(crate) struct SessionExtension(pub(crate) Arc<RequestSession>);

/// The middleware made by [`SessionLayer`](crate::SessionLayer).
///
/// It puts a lazy session in each request's extensions (no store I/O until a
/// handler extracts it) and, once the inner service has answered, writes back
/// what changed and sets the cookie.
///
/// ```
/// use axum::{routing::get, Router};
/// use session_kit::{Key, MemoryStore, SessionLayer, SessionService};
/// use tower::Layer as _;
///
/// let layer = SessionLayer::new(MemoryStore::new(), Key::generate());
/// let service: SessionService<Router> = layer.layer(Router::new().route("/", get(|| async { "hi" })));
/// # let _ = service;
/// ```
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Call the service that was polled ready, and leave a fresh clone in
        // its place (tower's contract).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let session = Arc::new(RequestSession::new(self.shared.clone()));
        req.extensions_mut()
            .insert(SessionExtension(session.clone()));
        ResponseFuture {
            state: State::Inner {
                future: inner.call(req),
                session: Some(session),
            },
        }
    }
}

/// Writes the session back once the inner service has answered, where that
/// takes the store; a failed save becomes the typed 500.
async fn save(session: Arc<RequestSession>, write: Write, mut res: Response) -> Response {
    match session.write(write, res.headers_mut()).await {
        Ok(()) => res,
        Err(err) => failed(err),
    }
}

/// The typed 500 of a save that failed, logged.
fn failed(err: SaveError) -> Response {
    tracing::error!(
        error = %err,
        source = ?std::error::Error::source(&err),
        "the session could not be saved; answering 500"
    );
    err.into_response()
}

type Saving = Pin<Box<dyn Future<Output = Response> + Send>>;

pin_project! {
    /// The future a [`SessionService`] returns: the inner service's response,
    /// once the session's changes are written back.
    ///
    /// A request whose handler used no session costs no allocation here, nor
    /// does one whose save needs no store call (a read-only request); one
    /// that writes to the store boxes only that write.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner {
            #[pin]
            future: F,
            session: Option<Arc<RequestSession>>,
        },
        Saving {
            future: Saving,
        },
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Inner { future, session } => {
                    let res = match future.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                        Poll::Ready(Ok(res)) => res,
                    };
                    let Some(session) = session.take().filter(|s| s.was_used()) else {
                        return Poll::Ready(Ok(res));
                    };
                    let mut res = res;
                    let status = res.status();
                    // What needs no store is done here, without a future
                    // of its own: a read-only request's whole save.
                    let write = match session.finish_now(status, res.headers_mut()) {
                        Ok(None) => return Poll::Ready(Ok(res)),
                        Ok(Some(write)) => write,
                        Err(err) => return Poll::Ready(Ok(failed(err))),
                    };
                    let span = tracing::debug_span!("session");
                    let saving: Saving = Box::pin(save(session, write, res).instrument(span));
                    state.set(State::Saving { future: saving });
                }
                StateProj::Saving { future } => {
                    return future.as_mut().poll(cx).map(Ok);
                }
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

//! [`SessionService`]: the middleware that the layer wraps around a router,
//! and its [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::response::{IntoResponse, Response};
use http::Request;
use tower_service::Service;
use tracing::Instrument as _;

use crate::request::RequestSession;
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
    type Future = ResponseFuture<S::Error>;

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
        let span = tracing::debug_span!("session");
        let future = async move {
            let mut res = inner.call(req).await?;
            if !session.was_used() {
                return Ok(res);
            }
            let status = res.status();
            match session.finish(status, res.headers_mut()).await {
                Ok(()) => Ok(res),
                Err(err) => {
                    tracing::error!(
                        error = %err,
                        source = ?std::error::Error::source(&err),
                        "the session could not be saved; answering 500"
                    );
                    Ok(err.into_response())
                }
            }
        };
        ResponseFuture {
            inner: Box::pin(future.instrument(span)),
        }
    }
}

/// The future a [`SessionService`] returns: the inner service's response,
/// once the session's changes are written back.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<E> {
    inner: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>,
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<E> fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

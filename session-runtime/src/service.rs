//! [`SessionService`]: the middleware that the layer wraps around a router.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use tower_service::Service;
use tracing::Instrument as _;

use crate::layer::Shared;
use crate::session::RequestSession;

/// The request extension through which the extractors reach the session.
#[derive(Clone, Debug)]
pub(crate) struct SessionExtension(pub(crate) Arc<RequestSession>);

/// The middleware made by [`SessionLayer`](crate::SessionLayer).
///
/// It puts a lazy session in each request's extensions (no store I/O until a
/// handler extracts it) and, once the inner service has answered, writes back
/// what changed and sets the cookie.
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
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

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
        Box::pin(
            async move {
                let mut res = inner.call(req).await?;
                if !session.was_used() {
                    return Ok(res);
                }
                let status = res.status();
                match session.finish(status, res.headers_mut()).await {
                    Ok(()) => Ok(res),
                    Err(err) => {
                        tracing::error!(error = %err, "the session could not be saved; answering 500");
                        Ok((
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "the session could not be saved; the change was not stored",
                        )
                            .into_response())
                    }
                }
            }
            .instrument(span),
        )
    }
}

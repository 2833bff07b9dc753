//! [`CspService`], the middleware a [`CspLayer`](super::CspLayer) makes.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::cache::Cache;
use arc_swap::ArcSwap;
use http::{Request, Response};
use tower_service::Service;

use super::compiled::Compiled;
use super::future::{OuterLayer, ResponseFuture};
use super::HeaderMode;

/// The middleware [`CspLayer`](super::CspLayer) produces.
#[derive(Clone)]
pub struct CspService<S> {
    pub(super) inner: S,
    /// Reads the shared policy without touching the `ArcSwap` unless it changed.
    pub(super) compiled: Cache<Arc<ArcSwap<Compiled>>, Arc<Compiled>>,
    pub(super) mode: HeaderMode,
}

impl<S: fmt::Debug> fmt::Debug for CspService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CspService")
            .field("inner", &self.inner)
            .field("mode", &self.mode)
            .finish()
    }
}

impl<S> CspService<S> {
    /// Gets a reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// Gets a mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<ReqBody, ResBody, S> Service<Request<ReqBody>> for CspService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let nested = OuterLayer::mark(&mut req);
        ResponseFuture {
            future: self.inner.call(req),
            compiled: self.compiled.load().clone(),
            mode: self.mode,
            nested,
        }
    }
}

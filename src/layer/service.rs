//! [`CspService`], the middleware a [`CspLayer`](super::CspLayer) makes.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::cache::Cache;
use arc_swap::ArcSwap;
use http::{Request, Response};
use tower_service::Service;

use super::compiled::Compiled;
use super::count::nesting_possible;
use super::future::{OuterLayer, ResponseFuture};
use super::HeaderMode;
use std::time::SystemTime;

/// The middleware [`CspLayer`](super::CspLayer) produces.
#[derive(Clone)]
pub struct CspService<S> {
    pub(super) inner: S,
    /// Reads the shared policy without touching the `ArcSwap` unless it changed.
    pub(super) compiled: Cache<Arc<ArcSwap<Compiled>>, Arc<Compiled>>,
    pub(super) mode: HeaderMode,
    /// Keys the staged share ([`CspLayer::stage_key`](super::CspLayer::stage_key)).
    pub(super) stage_key: Option<super::StageKey>,
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
        // Only where another layer exists can one sit outside this one.
        let nested = nesting_possible() && OuterLayer::mark(&mut req);
        let mut compiled = self.compiled.load().clone();
        // A new provenance window: a new token. Only if no swap happened meanwhile (the swap
        // compiled its own token), so a newer policy is never overwritten by an older one.
        let stale = compiled
            .provenance
            .as_ref()
            .filter(|p| compiled.window != Some(p.window(SystemTime::now())))
            .cloned();
        if let Some(p) = stale {
            let fresh = Arc::new(compiled.renewed(Some(p)));
            let before = self
                .compiled
                .arc_swap()
                .compare_and_swap(&compiled, fresh.clone());
            compiled = if Arc::ptr_eq(&before, &compiled) {
                fresh
            } else {
                arc_swap::Guard::into_inner(before)
            };
        }
        // Staged enforcement: a response in the share gets the stage's policy.
        if let Some(staged) = &compiled.staged {
            let key = self.stage_key.as_ref().and_then(|k| k(req.headers()));
            if staged.takes(key) {
                compiled = staged.compiled.clone();
            }
        }
        ResponseFuture {
            future: self.inner.call(req),
            compiled,
            mode: self.mode,
            nested,
        }
    }
}

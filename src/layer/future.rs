//! [`ResponseFuture`], and the nesting rule: the layer closest to the handler decides.
//!
//! The rule is carried by the request and the response themselves, so it holds wherever the
//! inner service runs (another task, another thread, behind a buffer): an outer layer marks
//! the request it passes on ([`OuterLayer`]); a layer that sees that mark knows an outer one
//! waits for its response, and marks that response
//! [`FinalPolicy`](crate::policy::FinalPolicy) after setting its headers; an
//! outer layer leaves an applied response alone. [`HeaderMode::Append`] layers never skip a
//! response: they always add their header, which can only narrow.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;

use super::compiled::Compiled;
use super::HeaderMode;
use crate::policy::FinalPolicy;

/// Request mark: a [`CspService`](super::CspService) outside this one waits for the
/// response and would otherwise set its own policy on it.
#[derive(Debug, Clone, Copy)]
pub(super) struct OuterLayer;

impl OuterLayer {
    /// Marks `req` for the layers inside this one, and says whether a layer outside this
    /// one marked it already (one map operation: the insert returns the earlier mark).
    pub(super) fn mark<B>(req: &mut Request<B>) -> bool {
        req.extensions_mut().insert(OuterLayer).is_some()
    }
}

pin_project! {
    /// Response future of [`CspService`](super::CspService).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) future: F,
        pub(super) compiled: Arc<Compiled>,
        pub(super) mode: HeaderMode,
        pub(super) nested: bool,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("mode", &self.mode)
            .field("nested", &self.nested)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.future.poll(cx)?);
        let mode = *this.mode;
        if mode == HeaderMode::Append || res.extensions().get::<FinalPolicy>().is_none() {
            this.compiled.apply(mode, res.headers_mut());
            this.compiled.add_inventory(res.headers_mut());
            if *this.nested {
                res.extensions_mut().insert(FinalPolicy);
            }
        }
        Poll::Ready(Ok(res))
    }
}

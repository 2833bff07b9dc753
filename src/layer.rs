//! The tower [`Layer`] that puts a [`Policy`] on every response.
//!
//! Header values are serialized once when the policy is built; per response the layer only
//! clones them (a reference-count increment), unless a CSP header is already there to merge
//! into.
//!
//! ```
//! use connect_src::{ConnectSrc, Policy};
//! use http::{Request, Response, header::CONTENT_SECURITY_POLICY};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::builder()
//!     .enforce(ConnectSrc::builder().self_origin().host("https://api.myapp.com"))
//!     .build()?;
//! let svc = ServiceBuilder::new()
//!     .layer(policy.layer())
//!     .service(service_fn(|_req: Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(()))
//!     }));
//! let res = svc.oneshot(Request::new(())).await?;
//! assert_eq!(res.headers()[CONTENT_SECURITY_POLICY], "connect-src 'self' https://api.myapp.com");
//! # Ok(()) }
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use arc_swap::cache::Cache;
use arc_swap::{ArcSwap, ArcSwapOption};
use http::header::{
    Entry, HeaderMap, HeaderName, HeaderValue, CONTENT_SECURITY_POLICY,
    CONTENT_SECURITY_POLICY_REPORT_ONLY,
};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::header::merge_connect_src;
use crate::policy::Policy;

/// The `Reporting-Endpoints` header name.
pub const REPORTING_ENDPOINTS: HeaderName = HeaderName::from_static("reporting-endpoints");

/// What the layer does when the response already carries a CSP header of the same kind
/// (`Content-Security-Policy` for the enforced list, `…-Report-Only` for the report-only list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderMode {
    /// Edit the existing header: replace its `connect-src` (or add one) and keep every other
    /// directive; add our `report-uri`/`report-to` where it has none. If that header had
    /// `default-src` but no `connect-src`, the added `connect-src` now decides connections
    /// instead of `default-src` (CSP3 §6.8.3). With no existing header, ours is inserted.
    #[default]
    Merge,
    /// Add our header as another value. Browsers enforce every policy, so this can only
    /// narrow what is allowed.
    Append,
    /// Leave the response alone if it already has such a header.
    IfAbsent,
    /// Remove any existing header of that kind and set ours.
    Override,
}

/// Header values serialized once at build time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    enforced: Option<Disposition>,
    report_only: Option<Disposition>,
    endpoints: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
struct Disposition {
    /// The whole header value (`connect-src …; report-uri …; report-to …`).
    value: HeaderValue,
    /// The last merge done: handlers usually set the same CSP on every response, so merging
    /// into it again is a comparison and a clone. One entry: memory stays bounded.
    memo: Arc<ArcSwapOption<(HeaderValue, HeaderValue)>>,
    /// `connect-src …` alone, for merging.
    connect: String,
    /// `report-uri …` / `report-to …`, for merging.
    reporting: Vec<String>,
}

impl Compiled {
    /// Serializes the policy's header values. Fails only if validation let through a byte a
    /// header cannot carry, which the builder's checks (and a property test) rule out.
    pub(crate) fn new(policy: &Policy) -> Result<Compiled, http::header::InvalidHeaderValue> {
        let reporting = policy.reporting_directives();
        let disposition = |h: Option<String>, list: Option<&crate::ConnectSrc>| match (h, list) {
            (Some(h), Some(l)) => Ok(Some(Disposition {
                value: HeaderValue::from_str(&h)?,
                memo: Arc::default(),
                connect: l.directive(),
                reporting: reporting.clone(),
            })),
            _ => Ok(None),
        };
        Ok(Compiled {
            enforced: disposition(policy.enforced_header(), policy.enforced())?,
            report_only: disposition(policy.report_only_header(), policy.report_only())?,
            endpoints: policy
                .reporting_endpoints_header()
                .map(|v| HeaderValue::from_str(&v))
                .transpose()?,
        })
    }

    fn apply(&self, mode: HeaderMode, headers: &mut HeaderMap) {
        if let Some(d) = &self.enforced {
            apply_csp(d, mode, CONTENT_SECURITY_POLICY, headers);
        }
        if let Some(d) = &self.report_only {
            apply_csp(d, mode, CONTENT_SECURITY_POLICY_REPORT_ONLY, headers);
        }
        if let Some(v) = &self.endpoints {
            match mode {
                HeaderMode::Override => {
                    headers.insert(REPORTING_ENDPOINTS, v.clone());
                }
                HeaderMode::IfAbsent => {
                    if let Entry::Vacant(e) = headers.entry(REPORTING_ENDPOINTS) {
                        e.insert(v.clone());
                    }
                }
                // A structured-field dictionary split over several lines is one dictionary
                // (RFC 8941 §3.2), so another line adds our endpoint and keeps theirs.
                HeaderMode::Merge | HeaderMode::Append => {
                    match headers.entry(REPORTING_ENDPOINTS) {
                        Entry::Vacant(e) => {
                            e.insert(v.clone());
                        }
                        Entry::Occupied(mut e) => {
                            if !e.iter().any(|x| x == v) {
                                e.append(v.clone());
                            }
                        }
                    }
                }
            }
        }
    }
}

fn apply_csp(d: &Disposition, mode: HeaderMode, name: HeaderName, headers: &mut HeaderMap) {
    match mode {
        HeaderMode::Override => {
            headers.insert(name, d.value.clone());
        }
        HeaderMode::Append => {
            headers.append(name, d.value.clone());
        }
        HeaderMode::IfAbsent => {
            if let Entry::Vacant(e) = headers.entry(name) {
                e.insert(d.value.clone());
            }
        }
        HeaderMode::Merge => {
            // `contains_key` on a map without this header is a cheap miss; `entry` would
            // reserve space first.
            if !headers.contains_key(&name) {
                headers.insert(name, d.value.clone());
                return;
            }
            let Entry::Occupied(mut e) = headers.entry(name) else {
                return;
            };
            let mut values = e.iter();
            if let (Some(only), None) = (values.next(), values.next()) {
                let merged = d.merge_one(only);
                e.insert(merged);
                return;
            }
            let merged: Vec<HeaderValue> = e.iter().map(|v| d.merge_one(v)).collect();
            let mut merged = merged.into_iter();
            if let Some(first) = merged.next() {
                e.insert(first);
                for v in merged {
                    e.append(v);
                }
            }
        }
    }
}

impl Disposition {
    /// Merges our connect-src into one existing header value.
    fn merge_one(&self, existing: &HeaderValue) -> HeaderValue {
        if let Some(m) = &*self.memo.load() {
            if m.0 == existing {
                return m.1.clone();
            }
        }
        let merged = existing.to_str().ok().and_then(|text| {
            let reporting: Vec<&str> = self.reporting.iter().map(String::as_str).collect();
            HeaderValue::from_str(&merge_connect_src(text, &self.connect, &reporting)).ok()
        });
        match merged {
            Some(m) => {
                self.memo
                    .store(Some(Arc::new((existing.clone(), m.clone()))));
                m
            }
            // Not visible ASCII: we cannot edit it safely. Keep it as it is and add ours in
            // the same field, comma-separated: two policies, both enforced, which only narrows.
            None => {
                let mut both = existing.as_bytes().to_vec();
                both.extend_from_slice(b", ");
                both.extend_from_slice(self.value.as_bytes());
                HeaderValue::from_bytes(&both).unwrap_or_else(|_| self.value.clone())
            }
        }
    }
}

/// Applies a policy's headers to a response's header map, as the layer does. Useful outside
/// tower (a custom framework, a static-file generator).
pub fn apply_headers(policy: &Policy, mode: HeaderMode, headers: &mut HeaderMap) {
    policy.compiled().apply(mode, headers);
}

/// A [`Layer`] that sets a `connect-src` policy on responses. Create it with
/// [`Policy::layer`] or [`CspLayer::new`].
///
/// Layers nest the way routes expect: when a route carries its own layer
/// (`Router::route_layer`) inside an app-wide one (`Router::layer`), the route's policy
/// decides for that route and the outer layer leaves its responses alone (except in
/// [`HeaderMode::Append`], which always adds its header and so can only narrow).
#[derive(Clone)]
#[must_use]
pub struct CspLayer {
    shared: Arc<ArcSwap<Policy>>,
    mode: HeaderMode,
}

impl CspLayer {
    /// A layer for this policy, in [`HeaderMode::Merge`].
    pub fn new(policy: Policy) -> Self {
        CspLayer {
            shared: Arc::new(ArcSwap::from_pointee(policy)),
            mode: HeaderMode::Merge,
        }
    }

    /// Chooses what to do with a CSP header already on the response.
    pub fn mode(mut self, mode: HeaderMode) -> Self {
        self.mode = mode;
        self
    }

    /// A handle that replaces this layer's policy at run time, for every service the layer
    /// made (a new allowlist goes live without a restart).
    pub fn handle(&self) -> PolicyHandle {
        PolicyHandle {
            shared: self.shared.clone(),
        }
    }
}

impl fmt::Debug for CspLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CspLayer")
            .field("policy", &*self.shared.load())
            .field("mode", &self.mode)
            .finish()
    }
}

impl<S> Layer<S> for CspLayer {
    type Service = CspService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CspService {
            inner,
            policy: Cache::new(self.shared.clone()),
            mode: self.mode,
        }
    }
}

/// Swaps the policy of a [`CspLayer`] (and all its services) at run time. Cheap to clone.
#[derive(Clone)]
pub struct PolicyHandle {
    shared: Arc<ArcSwap<Policy>>,
}

impl PolicyHandle {
    /// Makes `policy` the one set on every response from now on. Its header values were
    /// serialized when it was built; this is one atomic pointer swap.
    pub fn set(&self, policy: Policy) {
        self.shared.store(Arc::new(policy));
    }

    /// The policy in force now.
    pub fn get(&self) -> Arc<Policy> {
        self.shared.load_full()
    }
}

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyHandle")
            .field("policy", &*self.shared.load())
            .finish()
    }
}

/// The middleware [`CspLayer`] produces.
#[derive(Clone)]
pub struct CspService<S> {
    inner: S,
    /// Reads the shared policy without touching the `ArcSwap` unless it changed.
    policy: Cache<Arc<ArcSwap<Policy>>, Arc<Policy>>,
    mode: HeaderMode,
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

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        ResponseFuture {
            future: self.inner.call(req),
            policy: self.policy.load().clone(),
            mode: self.mode,
        }
    }
}

pin_project! {
    /// Response future of [`CspService`].
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        policy: Arc<Policy>,
        mode: HeaderMode,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Marks a response an inner [`CspLayer`] has already handled, so that an outer layer (an
/// app-wide `Router::layer` around a route's `route_layer`) leaves it alone: the layer
/// closest to the handler decides. [`HeaderMode::Append`] layers add their header anyway.
#[derive(Debug, Clone, Copy)]
struct Applied;

thread_local! {
    /// How many [`ResponseFuture`]s are polling their inner future on this thread right now.
    /// A response completed while it is above zero has an outer `CspService` waiting for it,
    /// and only then is it worth the `Extensions` allocation to mark it [`Applied`].
    static OUTER_POLLS: Cell<usize> = const { Cell::new(0) };
}

/// Decrements [`OUTER_POLLS`] even if the inner future panics.
struct PollDepth;

impl PollDepth {
    fn enter() -> PollDepth {
        OUTER_POLLS.with(|d| d.set(d.get() + 1));
        PollDepth
    }
}

impl Drop for PollDepth {
    fn drop(&mut self) {
        OUTER_POLLS.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _depth = PollDepth::enter();
            this.future.poll(cx)
        };
        let mut res = ready!(polled?);
        let mode = *this.mode;
        if mode == HeaderMode::Append || res.extensions().get::<Applied>().is_none() {
            this.policy.compiled().apply(mode, res.headers_mut());
            // Nested inside another CspService's poll: tell it this response is handled.
            // (An inner service driven on another task, e.g. behind tower's Buffer, cannot
            // be seen this way; there the outer layer's mode applies as usual.)
            if OUTER_POLLS.with(Cell::get) > 0 {
                res.extensions_mut().insert(Applied);
            }
        }
        Poll::Ready(Ok(res))
    }
}

//! The tower [`Layer`](https://docs.rs/tower-layer/0.3/tower_layer/trait.Layer.html) that puts a [`Policy`] on every response.
//!
//! Header values are serialized once, when the layer is made (and when
//! [`PolicyHandle::set`] swaps its policy); per response the layer only clones them (a
//! reference-count increment), unless a CSP header is already there to merge into.
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

use std::fmt;
use std::sync::Arc;

use arc_swap::cache::Cache;
use arc_swap::ArcSwap;
use http::header::{HeaderMap, HeaderName};
use tower_layer::Layer;

use crate::policy::{Policy, Provenance, ServedPolicies};
use count::Registration;

mod compiled;
mod count;
mod future;
mod handle;
mod merge;
mod service;
mod stage;

use compiled::Compiled;
pub use future::ResponseFuture;
pub use handle::PolicyHandle;
#[doc(hidden)]
pub use merge::merge_connect_src;
pub use service::CspService;
pub use stage::Stage;

/// The `Reporting-Endpoints` header name.
pub const REPORTING_ENDPOINTS: HeaderName = HeaderName::from_static("reporting-endpoints");

/// What the layer does when the response already carries a CSP header of the same kind
/// (`Content-Security-Policy` for the enforced list, `…-Report-Only` for the report-only list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderMode {
    /// Never loosen what the handler set, and add ours:
    ///
    /// - With no existing header, ours is inserted.
    /// - If the existing header already restricts connections — one of its policies has a
    ///   `connect-src`, or a `default-src` (which governs connections when there is no
    ///   `connect-src`, CSP3 §6.8.3) — it is kept exactly as it is and ours is added as
    ///   another value, as [`Append`](HeaderMode::Append) does. Browsers enforce every
    ///   policy, so a connection must pass both: a handler's `connect-src 'none'` (an embed
    ///   or user-content route) stays `'none'`, and a handler's `default-src 'none'` is not
    ///   undone by our list (adding a `connect-src` into that policy would take
    ///   connections away from its `default-src` and could allow more).
    /// - Otherwise (a header with other directives only, such as `script-src` or
    ///   `frame-ancestors`), our `connect-src` is added to each of its policies, with our
    ///   `report-uri`/`report-to` where a policy has none: one policy, and the same
    ///   connections allowed as with a second one. A value that is not visible ASCII cannot
    ///   be read, so it is kept and ours added beside it.
    ///
    /// Our `Reporting-Endpoints` entry is added unless the response already defines an
    /// endpoint of the same name; that one then stays the handler's, and the CSP headers we
    /// add to that response leave out `report-to` (our reports go by `report-uri`, if the
    /// policy has one), so neither side's reports reach the other's endpoint.
    #[default]
    Merge,
    /// Add our header as another value. Browsers enforce every policy, so this can only
    /// narrow what is allowed. `Reporting-Endpoints` follows the same rule as in
    /// [`Merge`](HeaderMode::Merge): a handler's endpoint of our name is never overridden.
    Append,
    /// Leave the response alone if it already has such a header.
    IfAbsent,
    /// Remove any existing header of that kind and set ours.
    Override,
}

/// A tower [`Layer`](https://docs.rs/tower-layer/0.3/tower_layer/trait.Layer.html) that sets a `connect-src` policy on responses. Create it with
/// [`Policy::layer`], [`CspLayer::new`], or the front door ([`Csp::layer`](crate::Csp::layer)).
///
/// Layers nest the way routes expect: when a route carries its own layer
/// (`Router::route_layer`) inside an app-wide one (`Router::layer`), the route's policy
/// decides for that route and the outer layer leaves its responses alone (except in
/// [`HeaderMode::Append`], which always adds its header and so can only narrow). The rule
/// travels with the request and the response, so it holds when the route runs on another
/// task (a middleware that `tokio::spawn`s `next.run(req)`) or behind a buffer. It is paid
/// for only where nesting can happen: while one layer exists in the process, no request is
/// marked (bench/README.md has the instruction counts).
#[derive(Clone)]
#[must_use]
pub struct CspLayer {
    shared: handle::Shared,
    served: ServedPolicies,
    mode: HeaderMode,
    stage_key: Option<StageKey>,
}

/// What keys a layer's staged share: from a request's headers, a value (a session or user
/// id, hashed by the app), or `None` for a random draw.
pub(crate) type StageKey = Arc<dyn Fn(&HeaderMap) -> Option<u64> + Send + Sync>;

impl Policy {
    /// A tower layer that sets this policy on every response ([`HeaderMode::Merge`]); the
    /// same as [`CspLayer::new`] with a clone of the policy.
    pub fn layer(&self) -> CspLayer {
        CspLayer::new(self.clone())
    }
}

impl CspLayer {
    /// A layer for this policy, in [`HeaderMode::Merge`]. Its header values are serialized
    /// here, once.
    pub fn new(policy: Policy) -> Self {
        let served = ServedPolicies::default();
        served.record(&policy);
        CspLayer::with(policy, served, None)
    }

    /// A layer whose policy is already recorded in `served`, signing report URLs with
    /// `provenance`: what the front door makes.
    pub(crate) fn with(
        policy: Policy,
        served: ServedPolicies,
        provenance: Option<Provenance>,
    ) -> Self {
        CspLayer {
            shared: Arc::new(ArcSwap::from_pointee(Compiled::new(
                Arc::new(policy),
                provenance,
                Registration::new(),
            ))),
            served,
            mode: HeaderMode::Merge,
            stage_key: None,
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
            served: self.served.clone(),
        }
    }

    /// The policies this layer serves and has served (its policy, and those
    /// [`PolicyHandle::set`] replaced), for the collector to check reports against
    /// ([`CollectorBuilder::served_policies`](crate::report::CollectorBuilder::served_policies)).
    pub fn served_policies(&self) -> ServedPolicies {
        self.served.clone()
    }

    /// Puts a [`Provenance`] token in the report URLs (`report-uri` and the
    /// `Reporting-Endpoints` URL, as `?csp-token=…`), renewed as each rotation window
    /// begins, so the collector (given the same `Provenance`) classes reports without a
    /// valid token as foreign. Costs a clock read per response. Handles taken before or
    /// after this call alike keep signing.
    pub fn provenance(self, provenance: Provenance) -> Self {
        let now = self.shared.load();
        self.shared.store(Arc::new(now.renewed(Some(provenance))));
        self
    }

    /// Decides which responses are in a [`Stage`]'s share from the request's headers (say,
    /// a hash of a session cookie), so one user stays on one side across page loads and
    /// as the share grows; a response whose key is `None` is drawn at random, as every
    /// response is without a key. Called once per response while a stage is on, never
    /// otherwise.
    ///
    /// ```
    /// use connect_src::{ConnectSrc, Policy};
    /// use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    ///
    /// let layer = Policy::builder()
    ///     .report_only(ConnectSrc::builder().self_origin())
    ///     .build()?
    ///     .layer()
    ///     .stage_key(|headers| {
    ///         let session = headers.get("cookie")?.as_bytes();
    ///         Some(BuildHasherDefault::<DefaultHasher>::default().hash_one(session))
    ///     });
    /// # let _ = layer;
    /// # Ok::<_, connect_src::PolicyError>(())
    /// ```
    pub fn stage_key<F>(mut self, key: F) -> Self
    where
        F: Fn(&HeaderMap) -> Option<u64> + Send + Sync + 'static,
    {
        self.stage_key = Some(Arc::new(key));
        self
    }

    /// The policy in force now.
    pub fn policy(&self) -> Arc<Policy> {
        self.shared.load().policy.clone()
    }

    /// Records this layer's policies in `served` instead of a history of its own, so that
    /// several layers (an app-wide one and routes' own) share one history for the
    /// collector.
    pub fn with_served_policies(mut self, served: ServedPolicies) -> Self {
        served.record(&self.shared.load().policy);
        self.served = served;
        self
    }

    /// Sets the policy's headers on a header map in this layer's mode, as its services do
    /// on responses: for use outside tower (another framework, a static-site generator).
    /// A [`Stage`] in force is drawn for at random (there is no request to key).
    pub fn apply(&self, headers: &mut HeaderMap) {
        let mut compiled = self.shared.load_full();
        if let Some(staged) = compiled.staged.as_ref().filter(|s| s.takes(None)) {
            compiled = staged.compiled.clone();
        }
        compiled.apply(self.mode, headers);
        compiled.add_inventory(headers);
    }
}

impl fmt::Debug for CspLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CspLayer")
            .field("policy", &self.shared.load().policy)
            .field("mode", &self.mode)
            .finish()
    }
}

impl<S> Layer<S> for CspLayer {
    type Service = CspService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CspService {
            inner,
            compiled: Cache::new(self.shared.clone()),
            mode: self.mode,
            stage_key: self.stage_key.clone(),
        }
    }
}

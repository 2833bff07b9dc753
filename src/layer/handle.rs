//! [`PolicyHandle`]: swap a layer's policy at run time; and what a layer and its services
//! share.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::compiled::Compiled;
use crate::policy::{Policy, ServedPolicies};

/// What a layer, its clones, its services and its handles share: the policy in force and
/// its header values (with the provenance that signs them).
pub(crate) type Shared = Arc<ArcSwap<Compiled>>;

/// How many layers exist in the process: each [`CspLayer`](super::CspLayer) made (clones
/// share one) counts until it and every service it made are gone. With one, no layer can
/// sit inside another, so the nesting mark — a request-extension insert, most of a layer's
/// cost per response (bench/README.md) — is not needed. Process-wide, never per thread.
static LAYERS: AtomicUsize = AtomicUsize::new(0);

/// One layer's place in [`LAYERS`], held by its compiled values: so by the layer, its
/// clones, its services and their response futures in flight.
#[derive(Debug)]
pub(crate) struct Registration(());

impl Registration {
    pub(crate) fn new() -> Arc<Registration> {
        LAYERS.fetch_add(1, Ordering::Relaxed);
        Arc::new(Registration(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        LAYERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether layers may be nested: more than one exists. A layer made while a request is
/// in flight is seen by the requests that start after it.
#[inline]
pub(crate) fn nesting_possible() -> bool {
    LAYERS.load(Ordering::Relaxed) > 1
}

/// Swaps the policy of a [`CspLayer`](super::CspLayer) (and all its services) at run time.
/// Cheap to clone. It reads everything from the layer's shared state, so a handle taken
/// before [`CspLayer::provenance`](super::CspLayer::provenance) still signs report URLs.
///
/// ```
/// use connect_src::{ConnectSrc, Policy};
///
/// let layer = Policy::builder().enforce(ConnectSrc::builder().self_origin()).build()?.layer();
/// let handle = layer.handle();
/// handle.set(Policy::builder().enforce(ConnectSrc::none()).build()?);
/// assert!(handle.get().enforced().unwrap().is_none());
/// # Ok::<_, connect_src::PolicyError>(())
/// ```
#[derive(Clone)]
pub struct PolicyHandle {
    pub(super) shared: Shared,
    pub(super) served: ServedPolicies,
}

impl PolicyHandle {
    /// Makes `policy` the one set on every response from now on: its header values are
    /// serialized here, once, then published with one atomic pointer swap. Responses whose
    /// handler is already running keep the policy they started with. The policy is also
    /// recorded in the layer's [`served_policies`](super::CspLayer::served_policies).
    pub fn set(&self, policy: Policy) {
        let now = self.shared.load();
        self.served.replace(&now.policy, &policy);
        let compiled = Compiled::new(
            Arc::new(policy),
            now.provenance.clone(),
            now.registration.clone(),
        );
        self.shared.store(Arc::new(compiled));
    }

    /// The policy in force now.
    pub fn get(&self) -> Arc<Policy> {
        self.shared.load().policy.clone()
    }
}

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyHandle")
            .field("policy", &self.shared.load().policy)
            .finish()
    }
}

//! [`PolicyHandle`]: swap a layer's policy at run time.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::compiled::Compiled;
use crate::policy::{Policy, Provenance, ServedPolicies};

/// What a layer and its services share: the policy in force and its header values.
pub(crate) type Shared = Arc<ArcSwap<Compiled>>;

/// Swaps the policy of a [`CspLayer`](super::CspLayer) (and all its services) at run time.
/// Cheap to clone.
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
    pub(super) provenance: Option<Provenance>,
}

impl PolicyHandle {
    /// Makes `policy` the one set on every response from now on: its header values are
    /// serialized here, once, then published with one atomic pointer swap. Responses whose
    /// handler is already running keep the policy they started with. The policy is also
    /// recorded in the layer's [`served_policies`](super::CspLayer::served_policies).
    pub fn set(&self, policy: Policy) {
        self.served.replace(&self.shared.load().policy, &policy);
        let compiled = Compiled::new(Arc::new(policy), self.provenance.as_ref());
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

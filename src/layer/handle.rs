//! [`PolicyHandle`]: swap a layer's policy at run time; and what a layer and its services
//! share.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::compiled::Compiled;
use super::stage::Stage;
use crate::policy::{Policy, ServedPolicies};

/// What a layer, its clones, its services and its handles share: the policy in force and
/// its header values (with the provenance that signs them).
pub(crate) type Shared = Arc<ArcSwap<Compiled>>;

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
    ///
    /// A [`Stage`] in force stays: only the policy the rest of the responses get changes.
    pub fn set(&self, policy: Policy) {
        let stage = self.shared.load().staged.as_ref().map(|s| s.stage.clone());
        self.stage(policy, stage);
    }

    /// Staged enforcement: makes `policy` the one set on every response outside the
    /// stage's share and `stage`'s policy the one set on the responses in it (`None`: no
    /// stage, every response gets `policy`). Both are compiled here, once, and published
    /// with one atomic pointer swap; both are recorded as served, and a stage's policy it
    /// ends is recorded as replaced. What a rollout drives
    /// ([`Csp::follow_rollout`](crate::Csp::follow_rollout)); costs a draw (or a call of the
    /// layer's [`stage_key`](super::CspLayer::stage_key)) per response while a stage is on.
    ///
    /// ```
    /// use connect_src::layer::Stage;
    /// use connect_src::{ConnectSrc, Policy};
    ///
    /// let reporting = Policy::builder()
    ///     .report_only(ConnectSrc::builder().self_origin().host("https://api.example"))
    ///     .report_uri("/csp-reports")
    ///     .build()?;
    /// let enforcing = Policy::builder()
    ///     .enforce(ConnectSrc::builder().self_origin().host("https://api.example"))
    ///     .report_uri("/csp-reports")
    ///     .build()?;
    /// let layer = reporting.clone().layer();
    /// // One response in ten enforces the list; the rest keep reporting.
    /// layer.handle().stage(reporting, Some(Stage::new(enforcing, 0.10)));
    /// assert_eq!(layer.handle().staged().map(|s| s.share()), Some(0.10));
    /// # Ok::<_, connect_src::PolicyError>(())
    /// ```
    pub fn stage(&self, policy: Policy, stage: Option<Stage>) {
        let now = self.shared.load();
        self.served.replace(&now.policy, &policy);
        let before = now.staged.as_ref().map(|s| s.stage.policy.clone());
        match (&before, &stage) {
            (Some(old), Some(new)) => self.served.replace(old, &new.policy),
            (Some(old), None) => self.served.replace(old, &policy),
            (None, Some(new)) => self.served.record(&new.policy),
            (None, None) => {}
        }
        let compiled = Compiled::new(
            Arc::new(policy),
            now.provenance.clone(),
            now.registration.clone(),
        )
        .staging(stage);
        self.shared.store(Arc::new(compiled));
    }

    /// The stage in force, if any.
    pub fn staged(&self) -> Option<Stage> {
        self.shared.load().staged.as_ref().map(|s| s.stage.clone())
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

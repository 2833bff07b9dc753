//! [`Stage`]: a policy served in place of a layer's own on a share of responses.

use std::sync::Arc;

use crate::policy::Policy;

/// A policy served in place of a layer's own on a share of responses: one step of staged
/// enforcement ([`PolicyHandle::stage`](super::PolicyHandle::stage)). Which responses are in the share is drawn at
/// random per response, or decided by a key the app gives
/// ([`CspLayer::stage_key`](super::CspLayer::stage_key)) so that one user stays on one side
/// across page loads.
#[derive(Debug, Clone)]
pub struct Stage {
    pub(crate) policy: Arc<Policy>,
    pub(crate) share: f64,
    pub(crate) salt: u64,
}

impl Stage {
    /// `policy` on `share` of responses: a fraction from 0 (none) to 1 (all); NaN counts
    /// as 0 and anything outside is clamped.
    pub fn new(policy: Policy, share: f64) -> Stage {
        let share = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        Stage {
            policy: Arc::new(policy),
            share,
            salt: 0,
        }
    }

    /// Mixed into every key before it is compared with the share, so that two rollouts
    /// put different users first (a rollout's id). Default 0. Keys keep their side while
    /// the salt holds, and a larger share keeps every key a smaller one had.
    pub fn salt(mut self, salt: u64) -> Stage {
        self.salt = salt;
        self
    }

    /// The policy served on the share.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The share of responses, 0 to 1.
    pub fn share(&self) -> f64 {
        self.share
    }
}

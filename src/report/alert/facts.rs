//! [`Facts`]: what one stored request says, as the alerts' detector reads it — made by the
//! intake's tap (`tap.rs`), carried through the handle's queue (`handle.rs`), read by the
//! detector (`detect.rs`). Apart from all three, so none of them imports another back.

use crate::report::store::{bound, Class, Disposition, Network, Observation, PageLoad, Violation};
use crate::source::Origin;

/// The most bytes of a foreign report's policy text carried to the detector.
const POLICY_MAX: usize = 2048;

/// What one stored request says, as the detector reads it: its sender's network and, per
/// report, where it went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Facts {
    /// The sender's client network (`None`: its address was not seen; it then counts
    /// towards no reach).
    pub(crate) network: Option<Network>,
    /// One per report of the request.
    pub(crate) items: Vec<Fact>,
}

/// One report, as the detector reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fact {
    /// A violation the store kept.
    Violation {
        /// The blocked URL's origin (`None` for a keyword or a bare scheme).
        destination: Option<Origin>,
        /// Its effective directive.
        directive: String,
        /// Enforced or report-only.
        disposition: Disposition,
        /// What it is, checked against the served policies.
        class: Class,
        /// The reported policy (bounded), for `foreign` reports only.
        policy: Option<String>,
    },
    /// An inventory observation the store kept.
    Observation {
        /// Where the page connected.
        destination: Origin,
        /// The sampled page load.
        page_load: PageLoad,
    },
}

impl Facts {
    pub(super) fn of_violations(batch: &[Violation]) -> Facts {
        Facts {
            network: batch.first().and_then(|v| v.network),
            items: batch
                .iter()
                .map(|v| Fact::Violation {
                    destination: v.blocked_origin.clone(),
                    directive: bound(&v.effective_directive, 64).to_owned(),
                    disposition: v.disposition,
                    class: v.class,
                    policy: (v.class == Class::Foreign).then(|| {
                        bound(v.original_policy.as_deref().unwrap_or(""), POLICY_MAX).to_owned()
                    }),
                })
                .collect(),
        }
    }

    pub(super) fn of_observations(batch: &[Observation]) -> Facts {
        Facts {
            network: batch.first().and_then(|o| o.network),
            items: batch
                .iter()
                .map(|o| Fact::Observation {
                    destination: o.destination.clone(),
                    page_load: o.page_load,
                })
                .collect(),
        }
    }
}

//! [`Reported`]: one destination's violations over a window, as the readiness gate and a
//! rollout's watch read them ([`ReportStore::reported_since`](super::ReportStore::reported_since)).

use std::time::SystemTime;

use super::class::Class;
use super::summary::Blocked;
use super::violation::Disposition;
use crate::learn::Observation;
use crate::source::Origin;

/// The violations of one directive, blocked origin, disposition and class received since a
/// time, with their reach.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Reported {
    /// The effective directive (`connect-src`, …).
    pub directive: String,
    /// What was blocked: an origin, or a keyword (`inline`, `eval`, …).
    pub blocked: Blocked,
    /// Enforced or report-only.
    pub disposition: Disposition,
    /// Its class.
    pub class: Class,
    /// The origin of one of the documents that reported it (the least, as text), when it
    /// is a tuple origin: the page a matcher judges from.
    pub document: Option<Origin>,
    /// Reports.
    pub reports: u64,
    /// Distinct client networks among their senders.
    pub networks: u64,
    /// First received in the window.
    pub first_seen: SystemTime,
    /// Last received.
    pub last_seen: SystemTime,
}

impl Reported {
    /// As learning reads it: the destination (when the blocked value is an origin), its
    /// reports and networks, and the document it was reported from.
    pub fn observation(&self) -> Option<Observation> {
        let mut o = Observation::new(self.blocked.origin()?.clone(), self.reports, self.networks);
        o.documents.extend(self.document.clone());
        Some(o)
    }
}

//! Learning: judgments built on the [matcher](crate::matcher), like [`audit`](crate::audit),
//! about what a list should hold given what pages really did.
//!
//! - [`suggest`]: from the destinations a report-only list would have blocked and those real
//!   pages used (the inventory), the sources to add before enforcing it.
//! - [`unused`]: for each source of an enforced list, the destinations real pages reached
//!   through it; a source that matched none is unused, one whose destinations another
//!   source also matches is redundant in practice.
//! - [`readiness`]: the gate before enforcing a candidate — would it block what pages
//!   used, and is the evidence enough (page loads, the whole window, no silence)?
//!
//! A report is a claim by an unauthenticated client, so nothing here rests on counts one
//! client can inflate: a destination counts only at a minimum **reach** — distinct client
//! networks, and for the inventory distinct page loads too ([`Observation::reach`]) — below
//! which it is shown but never suggested, and never keeps a source "used".
//!
//! The inputs are plain values ([`Observation`], [`DestinationUse`]), so learning knows
//! nothing of where they were stored; the collector's store gives them
//! ([`Summary::teaching`](crate::report::store::Summary::teaching),
//! [`ReportStore::inventory`](crate::report::store::ReportStore::inventory)).

use std::time::SystemTime;

use crate::matcher::Engine;
use crate::source::Origin;

mod navigations;
mod promote;
mod suggest;
mod unused;

pub use navigations::{suggest_navigations, NavigationSuggestion};
pub use promote::{
    allowlist_readiness, allowlist_would_block, looser_sources, readiness, would_block, Evidence,
    Gate, Readiness, WouldBlock, BROWSERS,
};
pub use suggest::{suggest, Addition, NotAdded, SuggestOptions, Suggestion, Why};
#[doc(hidden)]
pub use unused::test_use;
pub use unused::{unused, SourceUse};

/// The least reach a destination needs, by default, to be learned from: two client
/// networks (and, from the inventory, two page loads).
pub const DEFAULT_MIN_REACH: u64 = 2;

/// One destination pages connected to (or tried to), with what speaks for it: the reports
/// that named it, the client networks they came from, and, from the inventory, the page
/// loads that used it and from which document origins.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Observation {
    /// Where the connection went.
    pub destination: Origin,
    /// How many reports named it (violations or observations).
    pub reports: u64,
    /// Distinct client networks among the senders (0 when unknown).
    pub networks: u64,
    /// Page loads that used it, re-weighted by their sample rate (0 for violations, which
    /// carry no page load).
    pub page_loads: f64,
    /// Distinct sampled page loads (0 for violations).
    pub sampled_page_loads: u64,
    /// The document origins it was used from, when known (the inventory knows them).
    pub documents: Vec<Origin>,
    /// Whether real pages used it (the inventory), not only a report-only list's reports.
    pub used: bool,
}

impl Observation {
    /// A violation-learned observation of `destination`: `reports` reports from `networks`
    /// client networks.
    pub fn new(destination: Origin, reports: u64, networks: u64) -> Self {
        Observation {
            destination,
            reports,
            networks,
            page_loads: 0.0,
            sampled_page_loads: 0,
            documents: Vec::new(),
            used: false,
        }
    }

    /// An inventory observation: what real pages used.
    pub fn from_use(u: &DestinationUse) -> Self {
        Observation {
            destination: u.destination.clone(),
            reports: u.reports,
            networks: u.networks,
            page_loads: u.page_loads,
            sampled_page_loads: u.sampled_page_loads,
            documents: u.document_origin.iter().cloned().collect(),
            used: true,
        }
    }

    /// Its reach: distinct client networks, and for what the inventory saw, no more than
    /// its distinct sampled page loads (one client fetching many pages has one network; one
    /// NAT full of people has many page loads).
    pub fn reach(&self) -> u64 {
        if self.used {
            self.networks.min(self.sampled_page_loads)
        } else {
            self.networks
        }
    }

    /// Folds another observation of the same destination into this one. Reach is not
    /// additive: the larger of each count is kept (a lower bound of their union).
    fn merge(&mut self, other: &Observation) {
        self.reports += other.reports;
        self.networks = self.networks.max(other.networks);
        self.page_loads = self.page_loads.max(other.page_loads);
        self.sampled_page_loads = self.sampled_page_loads.max(other.sampled_page_loads);
        for d in &other.documents {
            if !self.documents.contains(d) {
                self.documents.push(d.clone());
            }
        }
        self.used |= other.used;
    }
}

/// How one destination was used by real pages over a window, from the inventory: what a
/// store's [`inventory`](crate::report::store::ReportStore::inventory) gives back, one per
/// destination and document origin.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DestinationUse {
    /// Where pages connected.
    pub destination: Origin,
    /// From which document origin (`None`: not a tuple origin).
    pub document_origin: Option<Origin>,
    /// Distinct sampled page loads that connected there.
    pub sampled_page_loads: u64,
    /// Page loads re-weighted by their sample rate: each sampled page load counts
    /// `1 / rate` (the estimate of all page loads, sampled or not, that connected there).
    pub page_loads: f64,
    /// Distinct client networks among the senders (0 when the collector saw no address).
    pub networks: u64,
    /// The engines that reported it.
    pub engines: Vec<Engine>,
    /// Observations (reports) counted, all of them.
    pub reports: u64,
    /// First seen.
    pub first_seen: SystemTime,
    /// Last seen.
    pub last_seen: SystemTime,
}

/// Folds observations of the same destination together, in first-seen order.
pub(crate) fn by_destination(observed: impl IntoIterator<Item = Observation>) -> Vec<Observation> {
    let mut out: Vec<Observation> = Vec::new();
    let mut at: std::collections::HashMap<Origin, usize> = std::collections::HashMap::new();
    for o in observed {
        match at.get(&o.destination) {
            Some(&i) => out[i].merge(&o),
            None => {
                at.insert(o.destination.clone(), out.len());
                out.push(o);
            }
        }
    }
    out
}

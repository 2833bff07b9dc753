//! The intake's side of alerts: [`Tapped`], the sink a collector with alerts hands its
//! intake. It passes every batch to the store and, once the store has kept it, pushes the
//! few facts the detector needs ([`Facts`]) into the alerts' bounded queue — a push that
//! never waits: a full queue drops the batch's facts and counts them. (The one wait is at
//! start, for the detector's read of what the store held before: see `handle.rs`.)

use std::sync::Arc;

use super::handle::AlertHandle;
use crate::report::store::{
    bound, BoxFuture, Class, Disposition, Network, Observation, PageLoad, ReportSink, ReportStore,
    StoreError, Violation,
};
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
    fn of_violations(batch: &[Violation]) -> Facts {
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

    fn of_observations(batch: &[Observation]) -> Facts {
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

/// The store, tapped for alerts: every batch goes to the store first; only what it
/// acknowledged is told to the alerts, without waiting.
pub(crate) struct Tapped {
    store: Arc<dyn ReportStore>,
    alerts: AlertHandle,
}

impl Tapped {
    pub(crate) fn new(store: Arc<dyn ReportStore>, alerts: AlertHandle) -> Tapped {
        Tapped { store, alerts }
    }

    /// Keeps a batch with `keep` (once the seed is read: see `handle.rs`), then tells the
    /// alerts its `facts`.
    fn tap<'a>(
        &'a self,
        facts: Facts,
        keep: impl FnOnce(&'a dyn ReportStore) -> BoxFuture<'a, Result<(), StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.alerts.seeded().await;
            keep(&*self.store).await?;
            self.alerts.push(facts);
            Ok(())
        })
    }
}

impl ReportSink for Tapped {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.tap(Facts::of_violations(&batch), |s| s.submit(batch))
    }

    fn record_filtered(&self, n: u64) {
        self.store.record_filtered(n);
    }

    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.tap(Facts::of_observations(&batch), |s| s.observe(batch))
    }
}

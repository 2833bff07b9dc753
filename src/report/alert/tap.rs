//! The intake's side of alerts: [`Tapped`], the sink a collector with alerts hands its
//! intake. It passes every batch to the store and, once the store has kept it, pushes the
//! few facts the detector needs ([`Facts`], `facts.rs`) into the alerts' bounded queue — a push that
//! never waits: a full queue drops the batch's facts and counts them. (The one wait is at
//! start, for the detector's read of what the store held before: see `handle.rs`.)

use std::sync::Arc;

use super::facts::Facts;
use super::handle::AlertHandle;
use crate::report::store::{
    BoxFuture, Observation, ReportSink, ReportStore, StoreError, Violation,
};

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

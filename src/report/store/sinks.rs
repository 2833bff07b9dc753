//! Sinks that send reports elsewhere: [`TracingSink`] (logs), [`Tee`] (two sinks), and
//! [`WriteOnly`] (a sink of your own that cannot be read back).

use std::time::SystemTime;

use super::activity::{Activity, HourWindow};
use super::observation::Observation;
use super::reported::Reported;
use super::rollout::Rollout;
use super::summary::{GroupKey, Summary};
use super::violation::{Disposition, Violation};
use super::{BoxFuture, Health, ReportSink, ReportStore, StoreError};
use crate::learn::DestinationUse;
use crate::source::Origin;

/// Emits each violation as a `tracing` event (target `connect_src::report`, level WARN for
/// enforced, INFO for report-only), with every field attached.
#[derive(Debug, Clone, Default)]
pub struct TracingSink;

impl ReportSink for TracingSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        for v in &batch {
            macro_rules! event {
                ($lvl:expr) => {
                    tracing::event!(
                        target: "connect_src::report",
                        $lvl,
                        directive = %v.effective_directive,
                        blocked = %v.blocked_url,
                        document = %v.document_url,
                        disposition = v.disposition.as_str(),
                        source_file = v.source_file.as_deref().unwrap_or(""),
                        line = v.line.unwrap_or(0),
                        format = v.format.as_str(),
                        "CSP violation"
                    )
                };
            }
            match v.disposition {
                Disposition::Enforce => event!(tracing::Level::WARN),
                _ => event!(tracing::Level::INFO),
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Sends every batch to two sinks (e.g. memory for the dashboard and tracing for logs);
/// succeeds when both do.
#[derive(Debug, Clone)]
pub struct Tee<A, B>(pub A, pub B);

impl<A: ReportSink, B: ReportSink> ReportSink for Tee<A, B> {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let second = batch.clone();
        Box::pin(async move {
            self.0.submit(batch).await?;
            self.1.submit(second).await
        })
    }
    fn record_filtered(&self, n: u64) {
        self.0.record_filtered(n);
        self.1.record_filtered(n);
    }
    /// The first keeps the inventory; the second is told too, and may not keep it.
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let second = batch.clone();
        Box::pin(async move {
            self.0.observe(batch).await?;
            match self.1.observe(second).await {
                Err(StoreError::Unsupported(_)) => Ok(()),
                other => other,
            }
        })
    }
    /// The first's when it is not ok, else the second's: a batch needs both.
    fn health(&self) -> Health {
        match self.0.health() {
            Health::Ok => self.1.health(),
            first => first,
        }
    }
}

/// Reads come from the first store.
impl<A: ReportStore, B: ReportSink> ReportStore for Tee<A, B> {
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        self.0.summary(limit)
    }
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        self.0.activity(keys, window)
    }
    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        self.0.inventory(since)
    }
    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        self.0.page_loads_reaching(destinations, since)
    }
    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        self.0.reported_since(since)
    }
    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        self.0.heard(window)
    }
    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        self.0.rollout()
    }
    fn replace_rollout(
        &self,
        expected: Option<u64>,
        next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.0.replace_rollout(expected, next)
    }
}

/// Logs keep nothing to read back: the read side answers [`StoreError::Unsupported`]. Use
/// `Tee(MemorySink::new(), TracingSink)` for a dashboard beside the log.
impl ReportStore for TracingSink {
    fn summary(&self, _limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "TracingSink",
        ))))
    }
}

/// A sink that cannot be read back (a queue, a log pipeline), made a [`ReportStore`] for
/// [`CollectorBuilder::store`](crate::report::CollectorBuilder::store): reports go to it,
/// and the read side (summary, dashboard) answers 500 with [`StoreError::Unsupported`],
/// saying so, instead of showing an empty summary.
///
/// ```
/// use connect_src::report::store::{BoxFuture, ReportSink, StoreError, Violation, WriteOnly};
/// use connect_src::report::Collector;
///
/// struct Queue;
/// impl ReportSink for Queue {
///     fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
///         Box::pin(async move { let _ = batch; Ok(()) }) // hand the batch to your queue here
///     }
/// }
/// let collector = Collector::builder().store(WriteOnly(Queue)).build();
/// # let _ = collector;
/// ```
#[derive(Debug, Clone)]
pub struct WriteOnly<S>(pub S);

impl<S: ReportSink> ReportSink for WriteOnly<S> {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.0.submit(batch)
    }
    fn record_filtered(&self, n: u64) {
        self.0.record_filtered(n)
    }
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.0.observe(batch)
    }
    fn health(&self) -> Health {
        self.0.health()
    }
}

impl<S: ReportSink> ReportStore for WriteOnly<S> {
    fn summary(&self, _limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "a WriteOnly sink",
        ))))
    }
}

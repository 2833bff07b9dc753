//! The store contract: what the collector hands a store ([`Violation`]), what a store gives
//! back ([`Summary`], [`Activity`], [`Reported`], a [`Rollout`]'s state), the two traits a store implements — [`ReportSink`] to
//! take reports and [`ReportStore`] to read them back, both async — and the one error every
//! store answers with ([`StoreError`]).
//!
//! The built-in stores: [`MemorySink`] (bounded, in memory) here;
//! [`SqliteSink`](super::sqlite::SqliteSink) (one machine, durable) and
//! [`PostgresSink`](super::postgres::PostgresSink) (a fleet) in their own modules. To send
//! reports somewhere that cannot be read back (logs, a queue), [`TracingSink`], [`Tee`] and
//! [`WriteOnly`].
//!
//! A store acknowledges a batch only once it has kept it; the collector answers 204 after
//! that, and 503 when the store says it cannot ([`StoreError`]), so Reporting API clients
//! retry later instead of the collector buffering without limit.
//!
//! ```
//! use connect_src::report::store::{MemorySink, ReportStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), connect_src::report::store::StoreError> {
//! let store = MemorySink::new();
//! assert_eq!(store.summary(10).await?.total, 0);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::source::Origin;

mod activity;
mod class;
mod error;
mod health;
mod memory;
mod observation;
mod reported;
mod rollout;
mod sinks;
mod summary;
mod violation;

pub use crate::learn::DestinationUse;
pub(crate) use activity::hour_start;
pub use activity::{unix_hour, Activity, HourWindow, ACTIVITY_HOURS};
pub use class::Class;
pub use error::StoreError;
pub use health::Health;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use health::{CommitHealth, ProbeWait};
pub use memory::MemorySink;
pub use observation::{Network, Observation, PageLoad};
pub use reported::Reported;
pub use rollout::{Change, InvalidStages, Plan, Rollout, RolloutState, RolloutTarget, HISTORY_CAP};
pub use sinks::{Tee, TracingSink, WriteOnly};
pub(crate) use summary::rfc3339_text;
pub use summary::{Blocked, Group, GroupKey, Summary, Teaching, OVERFLOW};
pub(crate) use violation::bound;
pub use violation::{path_template, Disposition, ReportFormat, Violation};

/// A boxed, `Send` future: what the store traits' methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Takes violations. Implement it for your database or queue: resolve the future only once
/// the batch is safe, and answer [`StoreError::Full`] rather than queueing without bound.
/// To give it to a collector, implement [`ReportStore`] too, or wrap it in [`WriteOnly`].
pub trait ReportSink: Send + Sync + 'static {
    /// Takes a batch (one request's violations, noise already removed).
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Counts violations dropped as noise, so summaries can say how many there were. Best
    /// effort: never fails, never blocks.
    fn record_filtered(&self, _n: u64) {}

    /// Takes a batch of inventory observations (one request's). Kept apart from violations:
    /// they never appear in, or count towards, the summary. The default keeps none and
    /// answers [`StoreError::Unsupported`]; the collector then counts them as dropped and
    /// still answers 204 (a browser can do nothing with a refusal).
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let _ = batch;
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "inventory observations",
        ))))
    }

    /// Whether the store takes reports now, for a health check: cheap, never blocking, never
    /// asking the database (a store keeps it as its commits succeed or fail). The default
    /// is [`Health::Ok`]; [`SqliteSink`](super::sqlite::SqliteSink) and
    /// [`PostgresSink`](super::postgres::PostgresSink) say [`Health::Failing`] from a failed
    /// commit until one succeeds, and [`Health::Full`] while their queue is.
    fn health(&self) -> Health {
        Health::Ok
    }
}

/// Reads stored violations back: what the summary, the dashboard and `connect-src suggest`
/// show. Async like [`ReportSink`]: a database store awaits its own I/O (or moves it off
/// the runtime's workers itself), so a caller never blocks a runtime thread.
pub trait ReportStore: ReportSink {
    /// The summary, with at most `limit` groups (most frequent first). An error when the
    /// store cannot be read (a database gone, a file unreadable): the collector then answers
    /// 500 rather than showing an empty summary.
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>>;

    /// Violations per hour over `window` (Unix hours, UTC; at most [`ACTIVITY_HOURS`]):
    /// for each group of `keys` (give the keys of the groups you show, [`Group::key`];
    /// other groups are not counted per group) and for the whole store. The result holds
    /// at most `(keys + 1) × window.hours()` counts. An error when the store cannot be read,
    /// as for [`summary`](Self::summary).
    ///
    /// The default keeps no time buckets: it returns [`Activity::default`] (no window, no
    /// counts), and the dashboard shows no charts. The built-in stores all answer.
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        let _ = (keys, window);
        Box::pin(std::future::ready(Ok(Activity::default())))
    }

    /// What real pages connected to since `since`: one [`DestinationUse`] per destination
    /// and document origin, most page loads first. The default keeps no inventory: it
    /// answers [`StoreError::Unsupported`]. The built-in stores all answer.
    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        let _ = since;
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "inventory observations",
        ))))
    }

    /// The page loads (re-weighted by their sample rate, as [`DestinationUse::page_loads`])
    /// that connected to any of `destinations` since `since`: each page load counted once,
    /// however many of them it reached. The default answers [`StoreError::Unsupported`].
    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        let _ = (destinations, since);
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "inventory observations",
        ))))
    }

    /// The violations received since `since`, one [`Reported`] per directive, blocked
    /// origin, disposition and class, with their reach: what the readiness gate and a
    /// rollout's watch read. At most [`REPORTED_CAP`] of them, widest reach first. The
    /// default answers [`StoreError::Unsupported`]; the built-in stores all answer
    /// ([`MemorySink`] from its recent violations only).
    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        let _ = since;
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "reads by time",
        ))))
    }

    /// Per hour of `window`, oldest first: the distinct client networks heard from,
    /// violations and observations together (so a pipeline that stopped shows as hours
    /// of 0). The default answers [`StoreError::Unsupported`]; the built-in stores all
    /// answer.
    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        let _ = window;
        Box::pin(std::future::ready(Err(StoreError::Unsupported(
            "reads by time",
        ))))
    }

    /// The rollout, if one was ever started (the last one: starting another replaces it).
    /// The default answers [`StoreError::Unsupported`]; the built-in stores all answer.
    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Unsupported("rollouts"))))
    }

    /// Replaces the rollout with `next` if the one stored now has version `expected`
    /// (`None`: there is none), giving `next` the version after it: `Ok(true)`. `Ok(false)`
    /// when another writer changed it first — read it again, decide again. Atomic, so two
    /// collectors sharing a store never both apply a change to the same version. The
    /// default answers [`StoreError::Unsupported`].
    fn replace_rollout(
        &self,
        expected: Option<u64>,
        next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let _ = (expected, next);
        Box::pin(std::future::ready(Err(StoreError::Unsupported("rollouts"))))
    }
}

/// The most [`Reported`] rows one [`ReportStore::reported_since`] gives.
pub const REPORTED_CAP: usize = 10_000;

impl<T: ReportSink + ?Sized> ReportSink for Arc<T> {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).submit(batch)
    }
    fn record_filtered(&self, n: u64) {
        (**self).record_filtered(n)
    }
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).observe(batch)
    }
    fn health(&self) -> Health {
        (**self).health()
    }
}

impl<T: ReportStore + ?Sized> ReportStore for Arc<T> {
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        (**self).summary(limit)
    }
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        (**self).activity(keys, window)
    }
    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        (**self).inventory(since)
    }
    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        (**self).page_loads_reaching(destinations, since)
    }
    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        (**self).reported_since(since)
    }
    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        (**self).heard(window)
    }
    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        (**self).rollout()
    }
    fn replace_rollout(
        &self,
        expected: Option<u64>,
        next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        (**self).replace_rollout(expected, next)
    }
}

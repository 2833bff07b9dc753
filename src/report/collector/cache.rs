//! The read side's cache: reads of the summary, activity and inventory shared between the
//! readers that ask at once, and kept while nothing new was stored, so that any number of
//! people reloading the dashboard cost the database one read at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Mutex;

use crate::learn::DestinationUse;
use crate::report::store::{
    Activity, BoxFuture, GroupKey, HourWindow, Observation, ReportSink, ReportStore, Reported,
    Rollout, StoreError, Summary, Violation,
};
use crate::source::Origin;

/// How long a read is reused at most, even with nothing stored here since: other
/// collectors of a fleet write to the same database unseen.
const MAX_AGE: Duration = Duration::from_secs(30);

/// One cached answer: what it answers, when, at which write generation.
struct Entry<K, V> {
    key: K,
    at: Instant,
    generation: u64,
    value: V,
}

/// A [`ReportStore`] in front of another that caches its reads. A cached read is reused
/// while it is younger than `hold` (whatever was stored since: the dashboard then refreshes
/// every `hold`), or while nothing was stored through this collector since it was made and
/// it is younger than [`MAX_AGE`]. Readers asking at once wait for one read (a lock per kind
/// of read), so the database sees at most one of each in flight. Errors are never cached.
pub(crate) struct CachedReads {
    inner: Arc<dyn ReportStore>,
    /// Bumped by the intake for every batch stored.
    generation: Arc<AtomicU64>,
    hold: Duration,
    summary: Mutex<Option<Entry<usize, Summary>>>,
    activity: Mutex<Vec<ActivityEntry>>,
    inventory: Mutex<Option<Entry<SystemTime, Vec<DestinationUse>>>>,
}

/// One cached activity read, keyed by the groups and hours asked for.
type ActivityEntry = Entry<(Vec<GroupKey>, HourWindow), Activity>;

/// The most activity reads kept (one per dashboard filter in use).
const ACTIVITY_ENTRIES: usize = 16;

impl CachedReads {
    pub(crate) fn new(
        inner: Arc<dyn ReportStore>,
        generation: Arc<AtomicU64>,
        hold: Duration,
    ) -> Self {
        CachedReads {
            inner,
            generation,
            hold,
            summary: Mutex::new(None),
            activity: Mutex::new(Vec::new()),
            inventory: Mutex::new(None),
        }
    }

    fn fresh<K: PartialEq, V>(&self, e: &Entry<K, V>, key: &K) -> bool {
        let age = e.at.elapsed();
        e.key == *key
            && (age < self.hold
                || (e.generation == self.generation.load(Ordering::Acquire) && age < MAX_AGE))
    }

    fn entry<K, V>(&self, key: K, value: V, generation: u64) -> Entry<K, V> {
        Entry {
            key,
            at: Instant::now(),
            generation,
            value,
        }
    }
}

impl ReportSink for CachedReads {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.submit(batch)
    }
    fn record_filtered(&self, n: u64) {
        self.inner.record_filtered(n)
    }
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.observe(batch)
    }
}

impl ReportStore for CachedReads {
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(async move {
            let mut held = self.summary.lock().await;
            if let Some(e) = held.as_ref().filter(|e| self.fresh(e, &limit)) {
                return Ok(e.value.clone());
            }
            // The generation before the read: a batch stored during it makes it stale.
            let generation = self.generation.load(Ordering::Acquire);
            let value = self.inner.summary(limit).await?;
            *held = Some(self.entry(limit, value.clone(), generation));
            Ok(value)
        })
    }

    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        Box::pin(async move {
            let key = (keys.to_vec(), window);
            let mut held = self.activity.lock().await;
            if let Some(e) = held.iter().find(|e| self.fresh(e, &key)) {
                return Ok(e.value.clone());
            }
            let generation = self.generation.load(Ordering::Acquire);
            let value = self.inner.activity(keys, window).await?;
            held.retain(|e| e.key != key);
            if held.len() >= ACTIVITY_ENTRIES {
                held.remove(0);
            }
            held.push(self.entry(key, value.clone(), generation));
            Ok(value)
        })
    }

    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        Box::pin(async move {
            let mut held = self.inventory.lock().await;
            // A window's start moves with the clock: within a minute it is the same read.
            let near = |e: &Entry<SystemTime, Vec<DestinationUse>>| {
                let apart = e
                    .key
                    .duration_since(since)
                    .unwrap_or_else(|earlier| earlier.duration());
                apart < Duration::from_secs(60)
            };
            if let Some(e) = held.as_ref().filter(|e| near(e) && self.fresh(e, &e.key)) {
                return Ok(e.value.clone());
            }
            let generation = self.generation.load(Ordering::Acquire);
            let value = self.inner.inventory(since).await?;
            *held = Some(self.entry(since, value.clone(), generation));
            Ok(value)
        })
    }

    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        self.inner.page_loads_reaching(destinations, since)
    }

    // What the gate and a rollout read is never cached: a rollout's state is compared and
    // replaced, and its watch must see the newest reports.
    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        self.inner.reported_since(since)
    }
    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        self.inner.heard(window)
    }
    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        self.inner.rollout()
    }
    fn replace_rollout(
        &self,
        expected: Option<u64>,
        next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.replace_rollout(expected, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::store::MemorySink;

    /// A store that counts its summary reads.
    struct Counting(MemorySink, AtomicU64);

    impl ReportSink for Counting {
        fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
            self.0.submit(batch)
        }
    }

    impl ReportStore for Counting {
        fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.summary(limit)
        }
    }

    #[tokio::test]
    async fn one_read_for_many_readers_until_something_is_stored() {
        let counting = Arc::new(Counting(MemorySink::new(), AtomicU64::new(0)));
        let generation = Arc::new(AtomicU64::new(0));
        let cached = Arc::new(CachedReads::new(
            counting.clone(),
            generation.clone(),
            Duration::ZERO,
        ));
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let c = cached.clone();
                tokio::spawn(async move { c.summary(10).await.unwrap() })
            })
            .collect();
        for r in readers {
            r.await.unwrap();
        }
        assert_eq!(
            counting.1.load(Ordering::SeqCst),
            1,
            "sixteen readers, one read"
        );
        cached.summary(10).await.unwrap();
        assert_eq!(
            counting.1.load(Ordering::SeqCst),
            1,
            "nothing stored: reused"
        );
        generation.fetch_add(1, Ordering::Release);
        cached.summary(10).await.unwrap();
        assert_eq!(
            counting.1.load(Ordering::SeqCst),
            2,
            "a batch stored: read again"
        );
        cached.summary(20).await.unwrap();
        assert_eq!(counting.1.load(Ordering::SeqCst), 3, "another question");
        // Held for a while, whatever is stored meanwhile.
        let held = CachedReads::new(
            counting.clone(),
            generation.clone(),
            Duration::from_secs(60),
        );
        held.summary(10).await.unwrap();
        generation.fetch_add(1, Ordering::Release);
        held.summary(10).await.unwrap();
        assert_eq!(counting.1.load(Ordering::SeqCst), 4);
    }
}

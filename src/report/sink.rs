//! Where violations go: the [`ReportSink`] trait and the built-in sinks.
//!
//! A sink acknowledges a batch only when it has kept it; the collector answers 204 after
//! that, and 503 when the sink says it is full ([`SinkError::Full`]), so Reporting API
//! clients retry later instead of the collector buffering without limit.
//!
//! ```
//! use connect_src::report::{MemorySink, ReportStore};
//!
//! let sink = MemorySink::new();
//! assert_eq!(sink.summary(10)?.total, 0);
//! # Ok::<_, connect_src::report::StoreError>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::summary::{Group, GroupKey, StoreError, Summary};
use super::violation::{Disposition, Violation};

/// A boxed, `Send` future, as [`ReportSink::submit`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a sink did not take a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink cannot take more now (the collector answers 503; clients retry).
    Full,
    /// The sink failed (the collector answers 503 too, and logs the message).
    Failed(String),
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Full => f.write_str("report sink is full"),
            SinkError::Failed(e) => write!(f, "report sink failed: {e}"),
        }
    }
}

impl std::error::Error for SinkError {}

/// Receives violations. Implement it for your database or queue; resolve the future only
/// once the batch is safe, and return [`SinkError::Full`] rather than queueing without
/// bound.
pub trait ReportSink: Send + Sync + 'static {
    /// Takes a batch (one request's violations, noise already removed).
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>>;

    /// Counts violations dropped as noise, so summaries can say how many there were.
    fn record_filtered(&self, _n: u64) {}
}

/// Reads stored violations back.
pub trait ReportStore: Send + Sync + 'static {
    /// The summary, with at most `limit` groups (most frequent first). An error when the
    /// store cannot be read (a database gone, a file unreadable): the collector then answers
    /// 500 rather than showing an empty summary. It may block (the collector calls it on
    /// tokio's blocking pool).
    fn summary(&self, limit: usize) -> Result<Summary, StoreError>;
}

impl<T: ReportSink + ?Sized> ReportSink for Arc<T> {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>> {
        (**self).submit(batch)
    }
    fn record_filtered(&self, n: u64) {
        (**self).record_filtered(n)
    }
}

impl<T: ReportStore + ?Sized> ReportStore for Arc<T> {
    fn summary(&self, limit: usize) -> Result<Summary, StoreError> {
        (**self).summary(limit)
    }
}

/// A bounded in-memory store: the most recent violations (a ring) and an aggregate by
/// summary group with a cap on distinct groups; violations of new groups past the cap are
/// counted in one overflow group, so a flood of unique URLs cannot grow memory.
#[derive(Debug, Clone)]
pub struct MemorySink {
    inner: Arc<Mutex<Memory>>,
}

#[derive(Debug)]
struct Memory {
    recent: VecDeque<Violation>,
    recent_cap: usize,
    groups: HashMap<GroupKey, Group>,
    groups_cap: usize,
    overflow: Option<Group>,
    total: u64,
    filtered: u64,
}

impl Default for MemorySink {
    fn default() -> Self {
        MemorySink::new()
    }
}

impl MemorySink {
    /// 1,000 recent violations and 10,000 groups.
    pub fn new() -> Self {
        MemorySink::with_limits(1_000, 10_000)
    }

    /// Custom caps (each at least 1).
    pub fn with_limits(recent: usize, groups: usize) -> Self {
        MemorySink {
            inner: Arc::new(Mutex::new(Memory {
                recent: VecDeque::with_capacity(recent.clamp(1, 4096)),
                recent_cap: recent.max(1),
                groups: HashMap::new(),
                groups_cap: groups.max(1),
                overflow: None,
                total: 0,
                filtered: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding the lock cannot leave the data inconsistent in a way that
        // matters for counters; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recent violations, oldest first.
    pub fn recent(&self) -> Vec<Violation> {
        self.lock().recent.iter().cloned().collect()
    }

    /// How many distinct groups are held (at most the cap, plus the overflow group).
    pub fn group_count(&self) -> usize {
        let m = self.lock();
        m.groups.len() + usize::from(m.overflow.is_some())
    }

    fn add(&self, batch: Vec<Violation>) {
        let mut m = self.lock();
        for v in batch {
            m.total += 1;
            let key = GroupKey::of(&v);
            let at = v.received_at;
            if let Some(g) = m.groups.get_mut(&key) {
                g.add(1, at);
            } else if m.groups.len() < m.groups_cap {
                let mut g = Group::new(key.clone(), at, v.blocked_url.clone());
                g.add(1, at);
                m.groups.insert(key, g);
            } else {
                let g = m
                    .overflow
                    .get_or_insert_with(|| Group::new(GroupKey::overflow(), at, String::new()));
                g.add(1, at);
            }
            if m.recent.len() == m.recent_cap {
                m.recent.pop_front();
            }
            m.recent.push_back(v);
        }
    }
}

impl ReportSink for MemorySink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>> {
        self.add(batch);
        Box::pin(std::future::ready(Ok(())))
    }
    fn record_filtered(&self, n: u64) {
        self.lock().filtered += n;
    }
}

impl ReportStore for MemorySink {
    fn summary(&self, limit: usize) -> Result<Summary, StoreError> {
        let m = self.lock();
        let mut groups: Vec<Group> = m.groups.values().cloned().collect();
        groups.extend(m.overflow.clone());
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.blocked_origin.cmp(&b.blocked_origin))
        });
        groups.truncate(limit);
        Ok(Summary {
            total: m.total,
            filtered: m.filtered,
            groups,
        })
    }
}

/// Emits each violation as a `tracing` event (target `connect_src::report`, level WARN for
/// enforced, INFO for report-only), with every field attached.
#[derive(Debug, Clone, Default)]
pub struct TracingSink;

impl ReportSink for TracingSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>> {
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
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>> {
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
}

impl<A: ReportStore, B: Send + Sync + 'static> ReportStore for Tee<A, B> {
    fn summary(&self, limit: usize) -> Result<Summary, StoreError> {
        self.0.summary(limit)
    }
}

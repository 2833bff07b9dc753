//! [`Health`]: what a store says of itself to a health check, without asking its database.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::sync::Mutex;
use std::time::SystemTime;

use super::StoreError;

/// A store's own account of whether it takes reports now, for a health check such as
/// `connect-src serve`'s `/healthz`. Reading it is cheap and never blocks on the database:
/// a store keeps it up to date as its commits succeed or fail
/// ([`ReportSink::health`](super::ReportSink::health)).
///
/// ```
/// use connect_src::report::store::{Health, MemorySink, ReportSink};
///
/// assert!(MemorySink::new().health().is_ok());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Health {
    /// Taking reports: the last commit succeeded, or none has been tried yet.
    #[default]
    Ok,
    /// Every place in the queue to the writer is taken: new reports are answered 503 until
    /// it drains (a load peak, or a database slower than the reports coming in).
    Full {
        /// Batches waiting for the writer: the queue's bound.
        queued: usize,
    },
    /// The last commit failed: reports are answered 503 until one succeeds. While no
    /// reports come, the SQL stores try an empty transaction every few seconds (1 s, then
    /// twice as long each time, at most 16 s), so a database that is back shows as
    /// [`Ok`](Self::Ok) without waiting for traffic; an empty transaction writes nothing, so
    /// a full disk shows again at the next report's commit.
    Failing {
        /// The last failed commit's error (its source is the driver's).
        error: StoreError,
        /// When the commits began to fail: the first failure since the last success.
        since: SystemTime,
        /// When the last one failed.
        last: SystemTime,
    },
}

impl Health {
    /// Whether the store takes reports now ([`Health::Ok`]).
    pub fn is_ok(&self) -> bool {
        matches!(self, Health::Ok)
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// What a SQL store keeps of its commits for [`Health`]: the current failure, if any.
/// Written once per commit, read by health checks; the lock is held for a copy only.
#[derive(Debug, Default)]
pub(crate) struct CommitHealth {
    failing: Mutex<Option<Failure>>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug, Clone)]
struct Failure {
    error: StoreError,
    since: SystemTime,
    last: SystemTime,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl CommitHealth {
    /// Records one commit's outcome (a probe's too).
    pub(crate) fn record<T>(&self, result: &Result<T, StoreError>) {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => *failing = None,
            Err(error) => {
                let now = SystemTime::now();
                let since = failing.as_ref().map_or(now, |f| f.since);
                *failing = Some(Failure {
                    error: error.clone(),
                    since,
                    last: now,
                });
            }
        }
    }

    /// Whether the last commit failed.
    pub(crate) fn is_failing(&self) -> bool {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The health: failing when the last commit failed, else full when the queue is,
    /// else ok.
    pub(crate) fn health(&self, queue_full: Option<usize>) -> Health {
        let failing = self
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match (failing, queue_full) {
            (Some(f), _) => Health::Failing {
                error: f.error,
                since: f.since,
                last: f.last,
            },
            (None, Some(queued)) => Health::Full { queued },
            (None, None) => Health::Ok,
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// How long a failing store waits, with no reports coming, before it tries an empty
/// transaction: 1 s, then twice the last wait, at most 16 s.
#[derive(Debug)]
pub(crate) struct ProbeWait(std::time::Duration);

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Default for ProbeWait {
    fn default() -> Self {
        ProbeWait(std::time::Duration::from_secs(1))
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl ProbeWait {
    /// The wait before the next probe; the one after is twice as long (capped).
    pub(crate) fn next(&mut self) -> std::time::Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(std::time::Duration::from_secs(16));
        wait
    }

    /// Back to the first wait (the store is healthy again).
    pub(crate) fn reset(&mut self) {
        *self = ProbeWait::default();
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_keeps_its_start_until_a_success() {
        let h = CommitHealth::default();
        assert!(h.health(None).is_ok());
        assert!(matches!(h.health(Some(4)), Health::Full { queued: 4 }));
        h.record::<()>(&Err(StoreError::Full));
        let Health::Failing { since, last, .. } = h.health(Some(4)) else {
            panic!("failing wins over full")
        };
        assert!(since <= last);
        h.record::<()>(&Err(StoreError::Timeout(std::time::Duration::from_secs(1))));
        let Health::Failing {
            since: again,
            error,
            ..
        } = h.health(None)
        else {
            panic!()
        };
        assert_eq!(again, since, "the streak's start is kept");
        assert!(matches!(error, StoreError::Timeout(_)), "the last error");
        h.record(&Ok(()));
        assert!(h.health(None).is_ok());
        let mut wait = ProbeWait::default();
        let waits: Vec<u64> = (0..7).map(|_| wait.next().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 16, 16]);
    }
}

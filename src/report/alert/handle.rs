//! [`AlertHandle`]: the running alerts of one collector — two bounded queues and the two
//! tasks that drain them. The detector task seeds itself from the store, then reads facts
//! (and the clock) and queues the alerts they raise; the sender task sends them. Pushing
//! never waits: a full queue drops and counts.
//!
//! The tasks start on the tokio runtime the collector is built on, or, when it was built
//! outside one, on the first report's. They end when the collector is dropped.
//!
//! The seed is what the store held before this collector took any report: so that a report
//! is never both in the seed and in the facts (a destination that reached the minimum reach
//! with this process's reports would then pass for known, and never alert), reports wait
//! for the seed read to finish before they are stored — once, at start, and at most
//! [`SEED_WAIT`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};

use super::config::Alerts;
use super::detect::{Detector, Rules};
use super::facts::Facts;
use super::message::Alert;
use super::send::Sender;
use crate::report::meter;
use crate::report::store::{unix_hour, HourWindow, ReportStore};

/// Alerts waiting to be sent, at most.
const ALERT_QUEUE: usize = 64;
/// How far back the inventory is read at start.
const INVENTORY_DAYS: u64 = 30;
/// The longest a report waits for the seed read at start.
const SEED_WAIT: Duration = Duration::from_secs(5);

/// Whether the detector has read the store at start: a flag for the fast path, a watch to
/// wait on.
struct Seeded {
    done: AtomicBool,
    tx: watch::Sender<bool>,
}

impl Seeded {
    fn set(&self) {
        self.done.store(true, Ordering::Release);
        self.tx.send_replace(true);
    }
}

/// What the tasks need, kept until they start.
struct Waiting {
    facts: mpsc::Receiver<Facts>,
    alerts: mpsc::Receiver<Alert>,
    detector: Detector,
    sender: Sender,
    store: Arc<dyn ReportStore>,
    silence: Duration,
}

struct Shared {
    facts: mpsc::Sender<Facts>,
    alerts: mpsc::Sender<Alert>,
    started: AtomicBool,
    waiting: Mutex<Option<Waiting>>,
    dropped: AtomicU64,
    seeded: Arc<Seeded>,
}

/// A collector's running alerts. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AlertHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AlertHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertHandle")
            .field("started", &self.shared.started.load(Ordering::Relaxed))
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl AlertHandle {
    /// Alerts as `alerts` says, on what `store` keeps, at `min_reach`; the tasks start now
    /// if a tokio runtime is at hand.
    pub(crate) fn new(alerts: &Alerts, store: Arc<dyn ReportStore>, min_reach: u64) -> Self {
        let (facts_tx, facts_rx) = mpsc::channel(alerts.queue);
        let (alerts_tx, alerts_rx) = mpsc::channel(ALERT_QUEUE);
        let rules = Rules {
            min_reach,
            spike_multiple: alerts.spike_multiple,
            spike_floor: alerts.spike_floor,
            hour: alerts.hour,
            silence: alerts.silence,
        };
        let handle = AlertHandle {
            shared: Arc::new(Shared {
                facts: facts_tx,
                alerts: alerts_tx,
                started: AtomicBool::new(false),
                waiting: Mutex::new(Some(Waiting {
                    facts: facts_rx,
                    alerts: alerts_rx,
                    detector: Detector::new(rules, SystemTime::now()),
                    sender: Sender::new(alerts),
                    store,
                    silence: alerts.silence.min(alerts.hour),
                })),
                dropped: AtomicU64::new(0),
                seeded: Arc::new(Seeded {
                    done: AtomicBool::new(false),
                    tx: watch::channel(false).0,
                }),
            }),
        };
        handle.start();
        handle
    }

    /// Starts the tasks once, if a runtime is at hand.
    fn start(&self) {
        if self.shared.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut waiting = self
            .shared
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(w) = waiting.take() else { return };
        self.shared.started.store(true, Ordering::Release);
        runtime.spawn(w.sender.run(w.alerts));
        let queue = self.shared.alerts.clone();
        runtime.spawn(detect(
            w.detector,
            w.store,
            w.facts,
            queue,
            tick_of(w.silence),
            self.shared.seeded.clone(),
        ));
    }

    /// Waits, once at start, until the detector has read what the store held before (at
    /// most [`SEED_WAIT`]); at once after that.
    pub(crate) async fn seeded(&self) {
        if self.shared.seeded.done.load(Ordering::Acquire) {
            return;
        }
        self.start();
        let mut rx = self.shared.seeded.tx.subscribe();
        let waited = tokio::time::timeout(SEED_WAIT, rx.wait_for(|done| *done)).await;
        if waited.is_err() {
            tracing::warn!(
                target: "connect_src::report",
                "alerts: the store's seed read takes long; reports are taken meanwhile (what \
                 they bring may pass for known and not alert)"
            );
            self.shared.seeded.set();
        }
    }

    /// Hands one stored request's facts to the detector, without waiting: when its queue
    /// is full they are dropped and counted.
    pub(crate) fn push(&self, facts: Facts) {
        self.start();
        if self.shared.facts.try_send(facts).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            meter::alert_dropped("facts");
        }
    }

    /// Queues an alert for the webhook, as the detector's own are (the same retries and
    /// backoff, the same format); `false` when the queue is full (dropped and counted).
    /// For alerts other parts of the crate raise (a rollout's stages, say).
    pub(crate) fn send(&self, alert: Alert) -> bool {
        self.start();
        queue(&self.shared.alerts, alert)
    }

    /// Batches of facts dropped on a full queue so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// Queues `alert`; `false` (dropped, counted) when the queue is full or closed.
fn queue(to: &mpsc::Sender<Alert>, alert: Alert) -> bool {
    let ok = to.try_send(alert).is_ok();
    if !ok {
        meter::alert_dropped("alerts");
    }
    ok
}

/// How often time is checked for silence and expiry: a quarter of the silence window (or
/// of the spike's hour, if shorter), between 50 ms and 1 s.
fn tick_of(window: Duration) -> Duration {
    (window / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// The detector task: seeds, then reads facts and the clock until the facts queue closes.
async fn detect(
    mut detector: Detector,
    store: Arc<dyn ReportStore>,
    mut facts: mpsc::Receiver<Facts>,
    alerts: mpsc::Sender<Alert>,
    tick: Duration,
    seeded: Arc<Seeded>,
) {
    seed(&mut detector, &*store).await;
    seeded.set();
    let mut clock = tokio::time::interval(tick);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            got = facts.recv() => match got {
                Some(f) => {
                    for a in detector.take(&f, SystemTime::now()) {
                        queue(&alerts, a);
                    }
                }
                None => return,
            },
            _ = clock.tick() => {
                if let Some(a) = detector.tick(SystemTime::now()) {
                    queue(&alerts, a);
                }
            }
        }
    }
}

/// Reads what the store already knows into the detector: the summary's groups, the last
/// 30 days of inventory, and (for one-hour spike hours) the last day's violations per hour.
/// A read that fails is logged and skipped: alerts then know less, nothing more.
async fn seed(detector: &mut Detector, store: &dyn ReportStore) {
    let now = SystemTime::now();
    let warn = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(
            target: "connect_src::report",
            error = %e,
            "alerts: cannot read the {what} at start; what it holds may be alerted again"
        );
    };
    let mut first = None;
    match store.summary(10_000).await {
        Ok(s) => {
            first = s.groups.iter().map(|g| g.first_seen).min();
            detector.seed_summary(&s);
        }
        Err(e) => warn("summary", &e),
    }
    let since = now
        .checked_sub(Duration::from_secs(INVENTORY_DAYS * 86_400))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match store.inventory(since).await {
        Ok(uses) => detector.seed_inventory(&uses),
        Err(crate::report::store::StoreError::Unsupported(_)) => {}
        Err(e) => warn("inventory", &e),
    }
    if detector.hourly() {
        let window = HourWindow::ending_at(now, 25);
        match store.activity(&[], window).await {
            Ok(a) => {
                let start = a.window().map_or(unix_hour(now), |w| w.first_hour());
                let hours: Vec<(u64, u64)> = a
                    .total()
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (start + i as u64, *n))
                    .collect();
                detector.seed_activity(&hours, first);
            }
            Err(e) => warn("activity", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::alert::AlertKind;
    use crate::report::store::MemorySink;

    fn alerts() -> Alerts {
        // Nothing listens on port 9 of loopback: every try fails at once.
        Alerts::webhook("http://127.0.0.1:9/hook")
            .unwrap()
            .retry(1, Duration::ZERO)
            .queue(2)
    }

    #[test]
    fn full_queues_drop_and_count_without_waiting() {
        // No runtime: the tasks never start, so nothing drains the queues.
        let h = AlertHandle::new(&alerts(), Arc::new(MemorySink::new()), 2);
        let facts = || Facts {
            network: None,
            items: Vec::new(),
        };
        for _ in 0..5 {
            h.push(facts());
        }
        assert_eq!(h.dropped(), 3);
        let sent: Vec<bool> = (0..70)
            .map(|_| h.send(Alert::new(AlertKind::Spike, "x")))
            .collect();
        assert_eq!(sent.iter().filter(|s| **s).count(), ALERT_QUEUE);
    }

    #[tokio::test]
    async fn tasks_start_on_the_runtime_and_end_with_the_handle() {
        let h = AlertHandle::new(&alerts(), Arc::new(MemorySink::new()), 2);
        assert!(h.shared.started.load(Ordering::Acquire));
        assert!(h.send(Alert::new(AlertKind::Silence, "test")));
        drop(h);
    }
}

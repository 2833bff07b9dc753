//! [`MemorySink`]: a bounded store in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::activity::{unix_hour, Activity, HourRing, HourWindow};
use super::summary::{Group, GroupKey, Summary};
use super::violation::Violation;
use super::{BoxFuture, ReportSink, ReportStore, StoreError};

/// A bounded in-memory store: the most recent violations (a ring) and an aggregate by
/// summary group with a cap on distinct groups; violations of new groups past the cap are
/// counted in one overflow group, so a flood of unique URLs cannot grow memory.
///
/// For [`activity`](ReportStore::activity), each group (and the store as a whole) keeps
/// one count per hour for the 168 hours up to the newest hour it was counted in, in a fixed
/// ring: older hours are dropped as newer ones come, and a violation received more than 168
/// hours before its group's newest is left out of the charts (not of the counts). That is
/// at most 688 bytes per group (672 of counts, the newest hour, the box), so about 6.9 MB
/// for the default 10,000 groups and the overflow group, besides the groups' keys.
#[derive(Debug, Clone)]
pub struct MemorySink {
    inner: Arc<Mutex<Memory>>,
}

#[derive(Debug)]
struct Memory {
    recent: VecDeque<Violation>,
    recent_cap: usize,
    groups: HashMap<GroupKey, Tally>,
    groups_cap: usize,
    overflow: Option<Tally>,
    /// Every violation, per hour.
    hours: HourRing,
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
                hours: HourRing::new(),
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
            m.hours.add(unix_hour(at), 1);
            if let Some(t) = m.groups.get_mut(&key) {
                t.add(at);
            } else if m.groups.len() < m.groups_cap {
                let mut t = Tally::new(Group::new(key.clone(), at, v.blocked_url.clone()));
                t.add(at);
                m.groups.insert(key, t);
            } else {
                let t = m.overflow.get_or_insert_with(|| {
                    Tally::new(Group::new(GroupKey::overflow(), at, String::new()))
                });
                t.add(at);
            }
            if m.recent.len() == m.recent_cap {
                m.recent.pop_front();
            }
            m.recent.push_back(v);
        }
    }
}

impl MemorySink {
    /// The summary, read under the lock (the [`ReportStore::summary`] answer).
    fn read_summary(&self, limit: usize) -> Summary {
        let m = self.lock();
        let mut groups: Vec<Group> = m.groups.values().map(|t| t.group.clone()).collect();
        groups.extend(m.overflow.as_ref().map(|t| t.group.clone()));
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.blocked_origin.cmp(&b.blocked_origin))
        });
        groups.truncate(limit);
        Summary {
            total: m.total,
            filtered: m.filtered,
            groups,
        }
    }

    /// From the hourly rings: hours before the newest 168 a group (or the store) was
    /// counted in read as 0.
    fn read_activity(&self, keys: &[GroupKey], window: HourWindow) -> Activity {
        let m = self.lock();
        let mut counts = vec![0; window.hours()];
        let mut out = Activity::new(window, keys);
        let overflow = GroupKey::overflow();
        for key in keys {
            let tally = match m.groups.get(key) {
                Some(t) => Some(t),
                None if *key == overflow => m.overflow.as_ref(),
                None => None,
            };
            if let Some(t) = tally {
                counts.fill(0);
                t.hours.read_into(window, &mut counts);
                for (i, n) in counts.iter().enumerate() {
                    out.add(key, window.first_hour() + i as u64, *n);
                }
            }
        }
        counts.fill(0);
        m.hours.read_into(window, &mut counts);
        for (i, n) in counts.iter().enumerate() {
            out.add_total(window.first_hour() + i as u64, *n);
        }
        out
    }
}

impl ReportSink for MemorySink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.add(batch);
        Box::pin(std::future::ready(Ok(())))
    }
    fn record_filtered(&self, n: u64) {
        self.lock().filtered += n;
    }
}

/// Reads answer at once, from memory, under a lock held for the copy.
impl ReportStore for MemorySink {
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(std::future::ready(Ok(self.read_summary(limit))))
    }

    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        Box::pin(std::future::ready(Ok(self.read_activity(keys, window))))
    }
}

/// One group of a [`MemorySink`]: its summary row and its violations per hour.
#[derive(Debug)]
struct Tally {
    group: Group,
    hours: HourRing,
}

impl Tally {
    fn new(group: Group) -> Tally {
        Tally {
            group,
            hours: HourRing::new(),
        }
    }

    fn add(&mut self, at: SystemTime) {
        self.group.add(1, at);
        self.hours.add(unix_hour(at), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::intake::{parse_reports, NormalizeOptions};
    use crate::report::store::{Tee, TracingSink};
    use std::time::{Duration, UNIX_EPOCH};

    const HOUR: u64 = 500_000; // 2027-01-15T08:00:00Z

    fn at_hour(hour: u64, minute: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(hour * 3600 + minute * 60)
    }

    fn violation(blocked: &str, at: SystemTime) -> Violation {
        let body = format!(
            r#"{{"csp-report":{{"document-uri":"https://app.example/","effective-directive":
            "connect-src","blocked-uri":"{blocked}","disposition":"report"}}}}"#
        );
        let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
            .unwrap()
            .violations
            .remove(0);
        v.received_at = at;
        v
    }

    fn key(sink: &MemorySink, origin: &str) -> GroupKey {
        sink.read_summary(100)
            .groups
            .iter()
            .find(|g| g.blocked_origin == origin)
            .unwrap()
            .key()
    }

    #[test]
    fn memory_activity_by_hour_and_old_hours_dropped() {
        let sink = MemorySink::new();
        sink.add(vec![
            violation("https://a.example/1", at_hour(HOUR, 0)),
            violation("https://a.example/2", at_hour(HOUR, 59)),
            violation("https://a.example/3", at_hour(HOUR - 1, 30)),
            violation("https://a.example/4", at_hour(HOUR - 30, 0)),
            violation("https://b.example/", at_hour(HOUR - 2, 0)),
        ]);
        let (a, b) = (
            key(&sink, "https://a.example"),
            key(&sink, "https://b.example"),
        );
        let day = HourWindow::ending_at(at_hour(HOUR, 10), 24);
        let act = sink.read_activity(std::slice::from_ref(&a), day);
        let mut want = [0; 24];
        (want[23], want[22]) = (2, 1);
        assert_eq!(act.group(&a), Some(&want[..]));
        assert_eq!(act.group(&b), None, "not asked for");
        want[21] = 1; // b.example, in the total
        assert_eq!(act.total(), &want[..]);
        let week = sink.read_activity(
            std::slice::from_ref(&a),
            HourWindow::ending_at(at_hour(HOUR, 0), 168),
        );
        assert_eq!(week.group(&a).unwrap()[167 - 30], 1);
        assert_eq!(week.group(&a).unwrap().iter().sum::<u64>(), 4);

        // 168 hours later the hour HOUR - 30 has fallen out of a.example's ring; HOUR
        // itself is the oldest hour still kept.
        sink.add(vec![violation(
            "https://a.example/5",
            at_hour(HOUR + 167, 0),
        )]);
        let later = sink.read_activity(
            std::slice::from_ref(&a),
            HourWindow::ending_at(at_hour(HOUR + 167, 0), 168),
        );
        let counts = later.group(&a).unwrap();
        assert_eq!((counts[0], counts[167]), (2, 1));
        assert_eq!(counts.iter().sum::<u64>(), 3, "hours before HOUR are gone");
        // A report too old for the ring is counted in the summary, not in the charts.
        sink.add(vec![violation("https://a.example/6", at_hour(HOUR - 5, 0))]);
        let group = &sink.read_summary(10).groups[0];
        assert_eq!(group.count, 6);
        let again = sink.read_activity(
            std::slice::from_ref(&a),
            HourWindow::ending_at(at_hour(HOUR + 167, 0), 168),
        );
        assert_eq!(again.group(&a).unwrap().iter().sum::<u64>(), 3);
        // Through Arc and Tee alike, as the async trait answers.
        let block_on = |f| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(f)
        };
        let want = sink.read_activity(std::slice::from_ref(&a), day);
        let shared = Arc::new(sink.clone());
        let keys = [a];
        assert_eq!(block_on(shared.activity(&keys, day)).unwrap(), want);
        let tee = Tee(sink.clone(), TracingSink);
        assert_eq!(block_on(tee.activity(&keys, day)).unwrap(), want);
    }

    #[test]
    fn memory_activity_of_the_overflow_group() {
        let sink = MemorySink::with_limits(10, 1);
        sink.add(vec![
            violation("https://a.example/", at_hour(HOUR, 0)),
            violation("https://b.example/", at_hour(HOUR, 1)),
            violation("https://c.example/", at_hour(HOUR - 1, 1)),
        ]);
        let over = GroupKey::overflow();
        let act = sink.read_activity(
            std::slice::from_ref(&over),
            HourWindow::ending_at(at_hour(HOUR, 0), 2),
        );
        assert_eq!(act.group(&over), Some(&[1, 1][..]));
        assert_eq!(act.total(), &[1, 2]);
    }
}

//! [`MemorySink`]: a bounded store in memory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::activity::ACTIVITY_HOURS;
use super::activity::{unix_hour, Activity, HourRing, HourWindow};
use super::observation::{Network, Observation, PageLoad};
use super::reported::Reported;
use super::rollout::Rollout;
use super::summary::{Blocked, Group, GroupKey, Summary};
use super::violation::Violation;
use super::{BoxFuture, ReportSink, ReportStore, StoreError};
use crate::learn::DestinationUse;
use crate::matcher::Engine;
use crate::source::Origin;

/// The most client networks remembered per group (and per inventory destination): reach
/// is counted up to this, then reads "at least" it.
const REACH_CAP: usize = 64;

/// The most page-load ids remembered per inventory destination, for
/// [`page_loads_reaching`](ReportStore::page_loads_reaching)'s union; past it, new ones
/// are still counted in the destination's own totals.
const PAGE_LOADS_CAP: usize = 4096;

/// A bounded in-memory store: the most recent violations (a ring) and an aggregate by
/// summary group with a cap on distinct groups; violations of new groups past the cap are
/// counted in one overflow group, so a flood of unique URLs cannot grow memory.
///
/// No one client can fill the groups: a client network (when the collector sees client
/// addresses) may open at most a hundredth of the cap (100 of the default 10,000); its
/// further new groups go to the overflow group while other networks' still get their own.
/// Each group counts its reach, the distinct client networks among its senders (up to 64),
/// and the summary ranks groups by reach, then count.
///
/// The inventory ([`observe`](ReportSink::observe)) keeps, per destination and document
/// origin (at most as many as groups, with the same per-network fairness), the distinct
/// page loads (up to 4,096 ids each; beyond, counted but not kept for unions), networks,
/// engines and the re-weighted page-load total, since the store started.
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
    /// Groups (and inventory entries) each client network opened: the fairness budget.
    opened: HashMap<Network, usize>,
    /// Every violation, per hour.
    hours: HourRing,
    total: u64,
    filtered: u64,
    inventory: HashMap<(Origin, Option<Origin>), Use>,
    /// Observations that found the inventory full.
    inventory_overflow: u64,
    /// The client networks heard from per hour (violations and observations), the newest
    /// [`ACTIVITY_HOURS`] hours, up to [`REACH_CAP`] networks each.
    heard: VecDeque<(u64, HashSet<Network>)>,
    rollout: Option<Rollout>,
}

/// One inventory entry of a [`MemorySink`].
#[derive(Debug)]
struct Use {
    page_loads: HashMap<PageLoad, f64>,
    /// Distinct page loads and their weights, counted even past [`PAGE_LOADS_CAP`].
    sampled: u64,
    weighted: f64,
    networks: HashSet<Network>,
    engines: Vec<Engine>,
    reports: u64,
    first_seen: SystemTime,
    last_seen: SystemTime,
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
                opened: HashMap::new(),
                hours: HourRing::new(),
                total: 0,
                filtered: 0,
                inventory: HashMap::new(),
                inventory_overflow: 0,
                heard: VecDeque::new(),
                rollout: None,
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
            m.hear(at, v.network);
            if let Some(t) = m.groups.get_mut(&key) {
                t.add(at, v.network);
            } else if m.groups.len() < m.groups_cap && m.may_open(v.network) {
                let mut t = Tally::new(Group::new(key.clone(), at, v.blocked_url.clone()));
                t.add(at, v.network);
                m.groups.insert(key, t);
            } else {
                let t = m.overflow.get_or_insert_with(|| {
                    Tally::new(Group::new(GroupKey::overflow(), at, String::new()))
                });
                t.add(at, v.network);
            }
            if m.recent.len() == m.recent_cap {
                m.recent.pop_front();
            }
            m.recent.push_back(v);
        }
    }
}

impl Memory {
    /// Whether `network` may open one more group or inventory entry (and counts it): a
    /// hundredth of the group cap each, at least one. Without a network, no budget applies
    /// (the collector saw no address).
    fn may_open(&mut self, network: Option<Network>) -> bool {
        let Some(n) = network else { return true };
        let budget = (self.groups_cap / 100).max(1);
        let opened = self.opened.entry(n).or_default();
        if *opened >= budget {
            return false;
        }
        *opened += 1;
        true
    }

    /// Notes `network` as heard from in the hour of `at`.
    fn hear(&mut self, at: SystemTime, network: Option<Network>) {
        let Some(n) = network else { return };
        let hour = unix_hour(at);
        let newest = self.heard.back().map(|(h, _)| *h);
        if newest.is_none_or(|h| h < hour) {
            self.heard.push_back((hour, HashSet::new()));
            while self.heard.len() > ACTIVITY_HOURS {
                self.heard.pop_front();
            }
        }
        if let Some((_, set)) = self.heard.iter_mut().rev().find(|(h, _)| *h == hour) {
            if set.len() < REACH_CAP {
                set.insert(n);
            }
        }
    }

    fn observe(&mut self, o: Observation) {
        self.hear(o.received_at, o.network);
        let key = (o.destination.clone(), o.document_origin.clone());
        if !self.inventory.contains_key(&key) {
            if self.inventory.len() >= self.groups_cap || !self.may_open(o.network) {
                self.inventory_overflow += 1;
                return;
            }
            self.inventory.insert(
                key.clone(),
                Use {
                    page_loads: HashMap::new(),
                    sampled: 0,
                    weighted: 0.0,
                    networks: HashSet::new(),
                    engines: Vec::new(),
                    reports: 0,
                    first_seen: o.received_at,
                    last_seen: o.received_at,
                },
            );
        }
        let Some(u) = self.inventory.get_mut(&key) else {
            return;
        };
        u.reports += 1;
        u.first_seen = u.first_seen.min(o.received_at);
        u.last_seen = u.last_seen.max(o.received_at);
        if let Some(n) = o.network {
            if u.networks.len() < REACH_CAP {
                u.networks.insert(n);
            }
        }
        if let Some(e) = o.engine {
            if !u.engines.contains(&e) {
                u.engines.push(e);
            }
        }
        let weight = o.weight();
        let known = u.page_loads.contains_key(&o.page_load);
        if !known {
            if u.page_loads.len() < PAGE_LOADS_CAP {
                u.page_loads.insert(o.page_load, weight);
                u.sampled += 1;
                u.weighted += weight;
            } else if u.sampled < u64::MAX {
                // Past the cap the id is not kept: a repeat of it is counted again, so the
                // totals are an upper bound there.
                u.sampled += 1;
                u.weighted += weight;
            }
        }
    }
}

impl MemorySink {
    /// Observations that found the inventory full (its entries capped like the groups).
    pub fn inventory_overflow(&self) -> u64 {
        self.lock().inventory_overflow
    }

    fn read_inventory(&self, since: SystemTime) -> Vec<DestinationUse> {
        let m = self.lock();
        let mut out: Vec<DestinationUse> = m
            .inventory
            .iter()
            .filter(|(_, u)| u.last_seen >= since)
            .map(|((destination, document_origin), u)| DestinationUse {
                destination: destination.clone(),
                document_origin: document_origin.clone(),
                sampled_page_loads: u.sampled,
                page_loads: u.weighted,
                networks: u.networks.len() as u64,
                engines: u.engines.clone(),
                reports: u.reports,
                first_seen: u.first_seen,
                last_seen: u.last_seen,
            })
            .collect();
        out.sort_by(|a, b| {
            b.page_loads
                .total_cmp(&a.page_loads)
                .then_with(|| a.destination.cmp(&b.destination))
        });
        out
    }

    /// From the recent violations only (the ring): older ones are not kept one by one.
    fn read_reported(&self, since: SystemTime) -> Vec<Reported> {
        let m = self.lock();
        let mut rows: Vec<(Reported, HashSet<Network>)> = Vec::new();
        for v in m.recent.iter().filter(|v| v.received_at >= since) {
            let blocked = Blocked::of(v);
            let at = rows.iter().position(|(r, _)| {
                r.directive == v.effective_directive
                    && r.blocked == blocked
                    && r.disposition == v.disposition
                    && r.class == v.class
            });
            let i = match at {
                Some(i) => i,
                None => {
                    rows.push((
                        Reported {
                            directive: v.effective_directive.clone(),
                            blocked,
                            disposition: v.disposition,
                            class: v.class,
                            document: v.document_origin.clone(),
                            reports: 0,
                            networks: 0,
                            first_seen: v.received_at,
                            last_seen: v.received_at,
                        },
                        HashSet::new(),
                    ));
                    rows.len() - 1
                }
            };
            let (r, nets) = &mut rows[i];
            r.reports += 1;
            r.first_seen = r.first_seen.min(v.received_at);
            r.last_seen = r.last_seen.max(v.received_at);
            nets.extend(v.network);
            r.networks = nets.len() as u64;
        }
        let mut out: Vec<Reported> = rows.into_iter().map(|(r, _)| r).collect();
        out.sort_by(|a, b| b.networks.cmp(&a.networks).then(b.reports.cmp(&a.reports)));
        out.truncate(super::REPORTED_CAP);
        out
    }

    fn read_heard(&self, window: HourWindow) -> Vec<u64> {
        let m = self.lock();
        let mut out = vec![0; window.hours()];
        for (hour, set) in &m.heard {
            if let Some(i) = window.index_of(*hour) {
                out[i] = set.len() as u64;
            }
        }
        out
    }

    fn read_page_loads(&self, destinations: &[Origin], since: SystemTime) -> f64 {
        let m = self.lock();
        let mut seen: HashMap<PageLoad, f64> = HashMap::new();
        for ((d, _), u) in &m.inventory {
            if u.last_seen >= since && destinations.contains(d) {
                seen.extend(u.page_loads.iter().map(|(p, w)| (*p, *w)));
            }
        }
        seen.values().sum()
    }

    /// The summary, read under the lock (the [`ReportStore::summary`] answer).
    fn read_summary(&self, limit: usize) -> Summary {
        let m = self.lock();
        let mut groups: Vec<Group> = m.groups.values().map(|t| t.group.clone()).collect();
        groups.extend(m.overflow.as_ref().map(|t| t.group.clone()));
        // By reach first: one client's flood ranks below what many saw.
        groups.sort_by(|a, b| {
            b.reach
                .cmp(&a.reach)
                .then_with(|| b.count.cmp(&a.count))
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
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut m = self.lock();
        for o in batch {
            m.observe(o);
        }
        Box::pin(std::future::ready(Ok(())))
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

    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.read_inventory(since))))
    }

    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        Box::pin(std::future::ready(Ok(
            self.read_page_loads(destinations, since)
        )))
    }

    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.read_reported(since))))
    }

    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.read_heard(window))))
    }

    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.lock().rollout.clone())))
    }

    fn replace_rollout(
        &self,
        expected: Option<u64>,
        mut next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut m = self.lock();
        let applied = m.rollout.as_ref().map(|r| r.version) == expected;
        if applied {
            next.version = expected.map_or(1, |v| v + 1);
            m.rollout = Some(next);
        }
        Box::pin(std::future::ready(Ok(applied)))
    }
}

/// One group of a [`MemorySink`]: its summary row, its violations per hour and the client
/// networks among its senders (up to [`REACH_CAP`]).
#[derive(Debug)]
struct Tally {
    group: Group,
    hours: HourRing,
    networks: Vec<Network>,
}

impl Tally {
    fn new(group: Group) -> Tally {
        Tally {
            group,
            hours: HourRing::new(),
            networks: Vec::new(),
        }
    }

    fn add(&mut self, at: SystemTime, network: Option<Network>) {
        self.group.add(1, at);
        self.hours.add(unix_hour(at), 1);
        if let Some(n) = network {
            if self.networks.len() < REACH_CAP && !self.networks.contains(&n) {
                self.networks.push(n);
                self.group.reach = self.networks.len() as u64;
            }
        }
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

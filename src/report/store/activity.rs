//! Violations over time: counts in hourly buckets, per summary group and in all, for the
//! dashboard's charts of the last 24 hours and 7 days.
//!
//! The unit is one hour, aligned to Unix-epoch hours, UTC: hour `h` holds the violations
//! received in seconds `[h × 3600, (h + 1) × 3600)` since 1970-01-01T00:00:00Z (a violation's
//! `received_at`). A read covers an [`HourWindow`] of at most [`ACTIVITY_HOURS`] (168, seven
//! days) whole hours, asked for with the keys of the groups it should count: the result holds
//! at most `keys × 168` counts, whatever the store holds.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use connect_src::report::store::{unix_hour, Activity, GroupKey, HourWindow};
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000); // 2027-01-15T08:00:00Z
//! let window = HourWindow::ending_at(now, 24);
//! assert_eq!((window.first_hour(), window.last_hour()), (499_977, 500_000));
//!
//! let key = GroupKey::overflow();
//! let mut activity = Activity::new(window, &[key.clone()]);
//! activity.add(&key, unix_hour(now), 3);
//! activity.add(&key, 499_000, 9); // before the window: not counted
//! activity.add_total(unix_hour(now), 3);
//! assert_eq!(activity.group(&key).unwrap()[23], 3);
//! assert_eq!(activity.group(&key).unwrap().iter().sum::<u64>(), 3);
//! assert_eq!(activity.total()[23], 3);
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::summary::GroupKey;

/// Seconds in one bucket.
const SECONDS_PER_HOUR: u64 = 3600;

/// The most hours one activity read covers, and the hours [`MemorySink`](super::MemorySink)
/// keeps per group: 168, seven days.
pub const ACTIVITY_HOURS: usize = 168;

/// The Unix hour `t` falls in: whole hours since 1970-01-01T00:00:00Z, UTC
/// (`floor(seconds / 3600)`). Times before the epoch are hour 0.
pub fn unix_hour(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / SECONDS_PER_HOUR)
}

/// A run of consecutive whole hours (Unix hours, UTC; see [`unix_hour`]): never empty,
/// never longer than [`ACTIVITY_HOURS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HourWindow {
    first: u64,
    hours: usize,
}

impl HourWindow {
    /// The `hours` whole hours that end with the hour `now` falls in, that hour included
    /// (though it has not ended yet). `hours` is clamped to `1..=ACTIVITY_HOURS`; a window
    /// that would start before the epoch starts at hour 0 and is shorter.
    pub fn ending_at(now: SystemTime, hours: usize) -> HourWindow {
        let last = unix_hour(now);
        let hours = hours.clamp(1, ACTIVITY_HOURS) as u64;
        let first = last.saturating_sub(hours - 1);
        HourWindow {
            first,
            hours: (last - first + 1) as usize,
        }
    }

    /// From the hour `since` falls in to the hour `now` falls in, both included: at most
    /// the last [`ACTIVITY_HOURS`] of them. `since` after `now` gives the one hour of `now`.
    pub fn since(since: SystemTime, now: SystemTime) -> HourWindow {
        let span = unix_hour(now).saturating_sub(unix_hour(since)) + 1;
        HourWindow::ending_at(now, usize::try_from(span).unwrap_or(usize::MAX))
    }

    /// The first hour (Unix hours).
    pub fn first_hour(self) -> u64 {
        self.first
    }

    /// The last hour (Unix hours), included.
    pub fn last_hour(self) -> u64 {
        self.first + self.hours as u64 - 1
    }

    /// How many hours: `1..=ACTIVITY_HOURS`.
    pub fn hours(self) -> usize {
        self.hours
    }

    /// The first second of the first hour.
    pub fn start(self) -> SystemTime {
        hour_start(self.first)
    }

    /// The first second after the last hour (the window is `[start, end)`).
    pub fn end(self) -> SystemTime {
        hour_start(self.last_hour() + 1)
    }

    /// The position of Unix hour `hour` in the window (0 for the first hour), or `None`
    /// outside it.
    pub fn index_of(self, hour: u64) -> Option<usize> {
        hour.checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < self.hours)
    }
}

/// The first second of Unix hour `hour`.
pub(crate) fn hour_start(hour: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(hour.saturating_mul(SECONDS_PER_HOUR))
}

/// Violations per hour over an [`HourWindow`]: for each asked-for group and for the whole
/// store. A store builds it with [`new`](Self::new) and fills it with [`add`](Self::add) and
/// [`add_total`](Self::add_total), which ignore what was not asked for, so it holds at most
/// `(keys + 1) × window.hours()` counts (8 bytes each).
///
/// [`Activity::default`] is the activity of a store that keeps none (the default
/// [`ReportStore::activity`](super::ReportStore::activity)): no window, no counts; the
/// dashboard then draws no charts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    window: Option<HourWindow>,
    total: Vec<u64>,
    groups: BTreeMap<GroupKey, Vec<u64>>,
}

impl Activity {
    /// Zero counts over `window` for each of `keys` (a repeated key once) and in all.
    pub fn new(window: HourWindow, keys: &[GroupKey]) -> Activity {
        Activity {
            window: Some(window),
            total: vec![0; window.hours()],
            groups: keys
                .iter()
                .map(|k| (k.clone(), vec![0; window.hours()]))
                .collect(),
        }
    }

    /// The window, or `None` when the store keeps no activity.
    pub fn window(&self) -> Option<HourWindow> {
        self.window
    }

    /// Every stored violation (of every group, asked for or not), one count per hour of
    /// the window, oldest first; empty when the store keeps no activity.
    pub fn total(&self) -> &[u64] {
        &self.total
    }

    /// The group's violations, one count per hour of the window, oldest first; `None` when
    /// the group was not asked for.
    pub fn group(&self, key: &GroupKey) -> Option<&[u64]> {
        self.groups.get(key).map(Vec::as_slice)
    }

    /// Every asked-for group and its counts, in key order.
    pub fn groups(&self) -> impl Iterator<Item = (&GroupKey, &[u64])> {
        self.groups.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// Counts `n` violations of the group `key` received in Unix hour `hour` (not in the
    /// total: see [`add_total`](Self::add_total)). Ignored when the group was not asked for
    /// or the hour is outside the window; counts saturate.
    pub fn add(&mut self, key: &GroupKey, hour: u64, n: u64) {
        if let (Some(i), Some(counts)) = (self.index(hour), self.groups.get_mut(key)) {
            counts[i] = counts[i].saturating_add(n);
        }
    }

    /// Counts `n` violations (of any group) received in Unix hour `hour` in the total.
    /// Ignored outside the window; counts saturate.
    pub fn add_total(&mut self, hour: u64, n: u64) {
        if let Some(i) = self.index(hour) {
            self.total[i] = self.total[i].saturating_add(n);
        }
    }

    fn index(&self, hour: u64) -> Option<usize> {
        self.window.and_then(|w| w.index_of(hour))
    }
}

/// One count per hour for the last [`ACTIVITY_HOURS`] hours up to the newest hour counted,
/// in a fixed ring (`counts[hour % 168]`): 672 bytes of counts, boxed, and the newest hour.
/// Counting an hour newer than the newest clears the hours that fell out of the ring; an
/// hour 168 or more before the newest is dropped. Counts saturate at `u32::MAX` per hour.
#[derive(Debug, Clone)]
pub(crate) struct HourRing {
    newest: u64,
    counts: Box<[u32; ACTIVITY_HOURS]>,
}

impl HourRing {
    pub(crate) fn new() -> HourRing {
        HourRing {
            newest: 0,
            counts: Box::new([0; ACTIVITY_HOURS]),
        }
    }

    fn slot(hour: u64) -> usize {
        (hour % ACTIVITY_HOURS as u64) as usize
    }

    /// Counts `n` at Unix hour `hour`; false when it was too old to keep.
    pub(crate) fn add(&mut self, hour: u64, n: u32) -> bool {
        if hour > self.newest {
            let gone = hour - self.newest;
            if gone >= ACTIVITY_HOURS as u64 {
                self.counts.fill(0);
            } else {
                for h in self.newest + 1..=hour {
                    self.counts[Self::slot(h)] = 0;
                }
            }
            self.newest = hour;
        } else if self.newest - hour >= ACTIVITY_HOURS as u64 {
            return false;
        }
        let c = &mut self.counts[Self::slot(hour)];
        *c = c.saturating_add(n);
        true
    }

    /// The count at Unix hour `hour`: 0 after the newest hour or too far before it.
    pub(crate) fn get(&self, hour: u64) -> u32 {
        if hour > self.newest || self.newest - hour >= ACTIVITY_HOURS as u64 {
            0
        } else {
            self.counts[Self::slot(hour)]
        }
    }

    /// Adds the ring's counts within `window` to `out` (one slot per hour of the window).
    pub(crate) fn read_into(&self, window: HourWindow, out: &mut [u64]) {
        for (i, slot) in out.iter_mut().enumerate().take(window.hours()) {
            *slot = slot.saturating_add(u64::from(self.get(window.first_hour() + i as u64)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn hours_are_aligned_to_the_epoch() {
        assert_eq!(unix_hour(at(0)), 0);
        assert_eq!(unix_hour(at(3599)), 0);
        assert_eq!(unix_hour(at(3600)), 1);
        assert_eq!(unix_hour(at(1_800_000_000)), 500_000);
        assert_eq!(unix_hour(at(1_800_003_599)), 500_000);
        assert_eq!(unix_hour(UNIX_EPOCH - Duration::from_secs(10)), 0);
        assert_eq!(hour_start(500_000), at(1_800_000_000));
    }

    #[test]
    fn window_edges() {
        // The last second of an hour and the first of the next end different windows.
        let w = HourWindow::ending_at(at(1_800_003_599), 24);
        assert_eq!(
            (w.first_hour(), w.last_hour(), w.hours()),
            (499_977, 500_000, 24)
        );
        assert_eq!(
            (w.start(), w.end()),
            (at(1_800_000_000 - 23 * 3600), at(1_800_003_600))
        );
        let next = HourWindow::ending_at(at(1_800_003_600), 24);
        assert_eq!(next.first_hour(), 499_978);
        assert_eq!(w.index_of(499_976), None);
        assert_eq!(w.index_of(499_977), Some(0));
        assert_eq!(w.index_of(500_000), Some(23));
        assert_eq!(w.index_of(500_001), None);
        // Clamped: never empty, never past 168 hours, never before the epoch.
        assert_eq!(HourWindow::ending_at(at(1_800_000_000), 0).hours(), 1);
        assert_eq!(HourWindow::ending_at(at(1_800_000_000), 1000).hours(), 168);
        let early = HourWindow::ending_at(at(2 * 3600 + 5), 24);
        assert_eq!((early.first_hour(), early.hours()), (0, 3));
        // since..now, both hours included.
        let s = HourWindow::since(at(1_800_000_000 - 3600), at(1_800_000_001));
        assert_eq!((s.first_hour(), s.hours()), (499_999, 2));
        assert_eq!(HourWindow::since(at(0), at(1_800_000_000)).hours(), 168);
        assert_eq!(
            HourWindow::since(at(1_900_000_000), at(1_800_000_000)).hours(),
            1
        );
    }

    #[test]
    fn activity_counts_only_what_was_asked_within_the_window() {
        let w = HourWindow::ending_at(at(1_800_000_000), 3);
        let key = GroupKey::overflow();
        let mut other = GroupKey::overflow();
        other.directive = "img-src".into();
        let mut a = Activity::new(w, &[key.clone(), key.clone()]);
        a.add(&key, 500_000, 2);
        a.add(&key, 499_998, 1);
        a.add(&key, 499_997, 7); // before
        a.add(&key, 500_001, 7); // after
        a.add(&other, 500_000, 7); // not asked
        a.add_total(500_000, 4);
        a.add_total(u64::MAX, 1);
        assert_eq!(a.group(&key), Some(&[1, 0, 2][..]));
        assert_eq!(a.group(&other), None);
        assert_eq!(a.total(), &[0, 0, 4]);
        assert_eq!(a.groups().count(), 1);
        a.add(&key, 500_000, u64::MAX);
        assert_eq!(a.group(&key).unwrap()[2], u64::MAX, "saturates");
        let none = Activity::default();
        assert_eq!((none.window(), none.total().len()), (None, 0));
    }

    #[test]
    fn the_ring_drops_old_hours_as_time_moves() {
        let mut r = HourRing::new();
        assert!(r.add(1000, 2));
        assert!(r.add(1000, 1));
        assert!(r.add(1001, 5));
        assert_eq!((r.get(1000), r.get(1001), r.get(1002)), (3, 5, 0));
        // 167 hours after 1001: 1000 is gone, 1001 still in.
        assert!(r.add(1001 + 167, 1));
        assert_eq!((r.get(1000), r.get(1001), r.get(1168)), (0, 5, 1));
        // Too old to keep; a late report of a kept hour still counts.
        assert!(!r.add(1000, 1));
        assert!(r.add(1001, 1));
        assert_eq!(r.get(1001), 6);
        // The slot 1000 used (1168 % 168) holds the new hour, not the old count.
        assert_eq!(r.get(1168), 1);
        // A jump past the whole ring clears it.
        assert!(r.add(5000, 1));
        assert_eq!((r.get(1001), r.get(1168), r.get(5000)), (0, 0, 1));
        let mut out = vec![0; 3];
        r.read_into(HourWindow::ending_at(hour_start(5001), 3), &mut out);
        assert_eq!(out, [0, 1, 0]);
        let mut sat = HourRing::new();
        sat.add(7, u32::MAX);
        sat.add(7, 1);
        assert_eq!(sat.get(7), u32::MAX);
    }
}

//! The traffic's rhythm: [`Spike`] (an hour's reach against the previous day's hourly
//! mean) and [`Silence`] (steady traffic that stopped). Both count client networks, never
//! reports, and take the time as an argument, so their rules are tested without waiting.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::message::{Alert, AlertKind};
use crate::report::store::{rfc3339_text, Network};

/// The "previous day": this many hours before the current one.
const DAY: u64 = 24;
/// The most networks counted in one hour (the reach saturates there).
const HOUR_NETWORKS_MAX: usize = 100_000;
/// The most networks remembered for the silence rule.
const RECENT_MAX: usize = 4096;

/// Spikes: the current hour's reach (distinct networks that reported violations) against
/// the mean reach per hour of the 24 hours before it.
#[derive(Debug)]
pub(crate) struct Spike {
    hour: Duration,
    multiple: f64,
    floor: u64,
    /// The hour being counted (hours since the epoch, of `hour`'s length).
    current: u64,
    networks: HashSet<Network>,
    reports: u64,
    /// Reach of the hours before `current`, oldest first, at most [`DAY`].
    history: VecDeque<(u64, u64)>,
    /// The first hour whose reach is known (the detector's start, or the store's past).
    known_from: u64,
    /// The hour already alerted on.
    alerted: Option<u64>,
}

impl Spike {
    pub(crate) fn new(hour: Duration, multiple: f64, floor: u64, now: SystemTime) -> Spike {
        let mut s = Spike {
            hour,
            multiple,
            floor,
            current: 0,
            networks: HashSet::new(),
            reports: 0,
            history: VecDeque::new(),
            known_from: 0,
            alerted: None,
        };
        s.current = s.hour_of(now);
        s.known_from = s.current;
        s
    }

    /// Whether the hour is a real hour, so the store's hourly activity can seed it.
    pub(crate) fn is_hourly(&self) -> bool {
        self.hour == Duration::from_secs(3600)
    }

    fn hour_of(&self, t: SystemTime) -> u64 {
        hour_of(t, self.hour)
    }

    /// Seeds the previous day from a store's violations per hour (raw counts, which are at
    /// least the reach: so a seeded baseline errs high, and a spike is not mistaken), and
    /// the first hour the store knows of. Only for one-hour hours.
    pub(crate) fn seed(&mut self, hours: &[(u64, u64)], first_known: Option<SystemTime>) {
        if !self.is_hourly() {
            return;
        }
        for &(h, n) in hours {
            if h < self.current && h + DAY >= self.current {
                self.history.push_back((h, n));
            }
        }
        self.history.make_contiguous().sort_unstable();
        if let Some(t) = first_known {
            self.known_from = self.known_from.min(self.hour_of(t));
        }
    }

    /// Moves to the hour `now` falls in, filing the hours passed.
    fn roll(&mut self, now: SystemTime) {
        let h = self.hour_of(now);
        if h <= self.current {
            return;
        }
        self.history
            .push_back((self.current, self.networks.len() as u64));
        while self.history.front().is_some_and(|(o, _)| o + DAY < h) {
            self.history.pop_front();
        }
        self.current = h;
        self.networks.clear();
        self.reports = 0;
    }

    /// Counts a request of `reports` violations from `network`; a spike alert when this
    /// hour just went over the line.
    pub(crate) fn saw(
        &mut self,
        network: Option<Network>,
        reports: u64,
        now: SystemTime,
    ) -> Option<Alert> {
        self.roll(now);
        self.reports += reports;
        if let Some(n) = network {
            if self.networks.len() < HOUR_NETWORKS_MAX {
                self.networks.insert(n);
            }
        }
        self.judge()
    }

    fn judge(&mut self) -> Option<Alert> {
        let h = self.current;
        // A previous day must be known whole: no spike against hours nobody counted.
        if self.alerted == Some(h) || self.known_from + DAY > h {
            return None;
        }
        let reach = self.networks.len() as u64;
        let day: u64 = self
            .history
            .iter()
            .filter(|(o, _)| o + DAY >= h && *o < h)
            .map(|(_, n)| n)
            .sum();
        let mean = day as f64 / DAY as f64;
        if reach < self.floor || reach as f64 <= self.multiple * mean {
            return None;
        }
        self.alerted = Some(h);
        let seconds = self.hour.as_secs_f64();
        Some(
            Alert::new(
                AlertKind::Spike,
                format!(
                    "violation spike: {reach} client networks reported this hour, against a mean \
                     of {mean:.1} per hour over the previous day"
                ),
            )
            .detail("reach", reach)
            .detail("reports", self.reports)
            .detail("baseline_mean", (mean * 10.0).round() / 10.0)
            .detail("multiple", self.multiple)
            .detail("floor", self.floor)
            .detail(
                "window_start",
                rfc3339_text(start_of(h, self.hour)).to_string(),
            )
            .detail("window_seconds", seconds),
        )
    }
}

/// Silence: no report and no observation for `window`, after steady traffic.
#[derive(Debug)]
pub(crate) struct Silence {
    window: Duration,
    min_reach: u64,
    last: Option<SystemTime>,
    /// When the current run of traffic (gaps shorter than the window) began.
    streak_start: SystemTime,
    /// Networks of the current run, with when each last sent.
    recent: HashMap<Network, SystemTime>,
    /// Alerted for the current run.
    fired: bool,
}

impl Silence {
    pub(crate) fn new(window: Duration, min_reach: u64) -> Silence {
        Silence {
            window,
            min_reach,
            last: None,
            streak_start: UNIX_EPOCH,
            recent: HashMap::new(),
            fired: false,
        }
    }

    /// A request (reports or observations) from `network` at `now`.
    pub(crate) fn saw(&mut self, network: Option<Network>, now: SystemTime) {
        let continues = self.last.is_some_and(|l| gap(l, now) < self.window) && !self.fired;
        if !continues {
            self.streak_start = now;
            self.fired = false;
            self.recent.clear();
        }
        self.last = Some(now);
        let Some(n) = network else { return };
        if self.recent.len() >= RECENT_MAX && !self.recent.contains_key(&n) {
            let window = self.window;
            self.recent.retain(|_, t| gap(*t, now) < window);
        }
        if self.recent.len() < RECENT_MAX || self.recent.contains_key(&n) {
            self.recent.insert(n, now);
        }
    }

    /// A silence alert when traffic that was steady has stopped for the window: once, until
    /// traffic resumes.
    pub(crate) fn tick(&mut self, now: SystemTime) -> Option<Alert> {
        let last = self.last?;
        if self.fired || gap(last, now) < self.window {
            return None;
        }
        let lasted = gap(self.streak_start, last);
        let networks = self
            .recent
            .values()
            .filter(|t| gap(**t, last) < self.window)
            .count() as u64;
        if lasted < self.window || networks < self.min_reach {
            return None;
        }
        self.fired = true;
        let quiet = gap(last, now);
        Some(
            Alert::new(
                AlertKind::Silence,
                format!(
                    "no reports or observations for {}, after steady traffic from {networks} \
                     client networks: check that pages still send reports",
                    humantime::format_duration(Duration::from_secs(quiet.as_secs()))
                ),
            )
            .detail("last_report", rfc3339_text(last).to_string())
            .detail("silent_seconds", quiet.as_secs())
            .detail("window_seconds", self.window.as_secs_f64())
            .detail("steady_since", rfc3339_text(self.streak_start).to_string())
            .detail("networks_before", networks),
        )
    }
}

/// The "hour" `t` falls in: whole `len`s since the epoch.
pub(super) fn hour_of(t: SystemTime, len: Duration) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (since.as_nanos() / len.as_nanos().max(1)) as u64
}

/// The first instant of "hour" `hour` of length `len`.
pub(super) fn start_of(hour: u64, len: Duration) -> SystemTime {
    let nanos = u128::from(hour).saturating_mul(len.as_nanos());
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `later - earlier`, zero when the clock went back.
fn gap(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(hours: u64, secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(500_000 * 3600 + hours * 3600 + secs)
    }

    #[test]
    fn a_spike_counts_networks_and_needs_a_known_day() {
        let mut s = Spike::new(HOUR, 10.0, 5, at(0, 0));
        // Within the first day: no baseline, no spike however wide.
        for n in 0..50 {
            assert!(s.saw(Some(Network(n)), 1, at(1, n)).is_none());
        }
        // A steady day of 2 networks an hour.
        for h in 1..=25 {
            s.saw(Some(Network(1)), 1, at(h, 0));
            s.saw(Some(Network(2)), 1, at(h, 1));
        }
        // One client's flood: one network, whatever the count.
        for i in 0..1000 {
            assert!(s.saw(Some(Network(7)), 100, at(26, i)).is_none());
        }
        // Reports without a known address count towards no reach.
        for i in 0..100 {
            assert!(s.saw(None, 1, at(26, i)).is_none());
        }
        // The floor (5) is not enough: the reach must pass 10 times the day's mean (about 2),
        // so the 20th network of the hour fires, and only once.
        let mut fired = Vec::new();
        for n in 100..140 {
            fired.extend(s.saw(Some(Network(n)), 1, at(27, n)));
        }
        assert_eq!(fired.len(), 1, "once per hour: {fired:?}");
        let a = &fired[0];
        assert_eq!(a.kind(), AlertKind::Spike);
        // 47 networks over the 24 hours before: a mean of 1.96, times 10 is 19.6.
        assert_eq!(a.details()["reach"], 20, "{a:?}");
        assert_eq!(a.details()["baseline_mean"], 2.0, "{a:?}");
        // The next hour starts over.
        let mut next = Vec::new();
        for n in 200..260 {
            next.extend(s.saw(Some(Network(n)), 1, at(28, n)));
        }
        assert_eq!(next.len(), 1);
    }

    #[test]
    fn a_seeded_day_arms_the_spike_at_once() {
        let mut s = Spike::new(HOUR, 10.0, 3, at(30, 0));
        let hours: Vec<(u64, u64)> = (6..30).map(|h| (500_000 + h, 1)).collect();
        s.seed(&hours, Some(at(0, 0)));
        let fired: Vec<_> = (0..20)
            .filter_map(|n| s.saw(Some(Network(n)), 1, at(30, n)))
            .collect();
        assert_eq!(fired.len(), 1);
        // Raw counts seed high: a store that saw 5 reports an hour needs over 50 networks.
        let mut s = Spike::new(HOUR, 10.0, 3, at(30, 0));
        let hours: Vec<(u64, u64)> = (6..30).map(|h| (500_000 + h, 5)).collect();
        s.seed(&hours, Some(at(0, 0)));
        assert!((0..50).all(|n| s.saw(Some(Network(n)), 1, at(30, n)).is_none()));
    }

    #[test]
    fn silence_after_steady_traffic_once_until_it_resumes() {
        let w = Duration::from_secs(600);
        let mut s = Silence::new(w, 2);
        // Steady: two networks for 20 minutes, a report every minute.
        for m in 0..20 {
            s.saw(Some(Network(m % 2)), at(0, m * 60));
        }
        assert!(s.tick(at(0, 19 * 60 + 599)).is_none(), "not yet");
        let a = s.tick(at(0, 19 * 60 + 600)).expect("silence");
        assert_eq!(a.kind(), AlertKind::Silence);
        assert_eq!(a.details()["networks_before"], 2);
        assert!(s.tick(at(1, 0)).is_none(), "once");
        assert!(s.tick(at(5, 0)).is_none(), "still once");
        // Traffic resumes, steady again, stops again: a second alert.
        for m in 0..20 {
            s.saw(Some(Network(m % 2)), at(6, m * 60));
        }
        assert!(s.tick(at(7, 0)).is_some());
    }

    #[test]
    fn one_client_or_a_short_burst_is_not_steady() {
        let w = Duration::from_secs(600);
        let mut one = Silence::new(w, 2);
        for m in 0..30 {
            one.saw(Some(Network(9)), at(0, m * 60));
        }
        assert!(one.tick(at(2, 0)).is_none(), "one network");
        let mut burst = Silence::new(w, 2);
        burst.saw(Some(Network(1)), at(0, 0));
        burst.saw(Some(Network(2)), at(0, 60));
        assert!(burst.tick(at(2, 0)).is_none(), "a minute of traffic");
        let mut none = Silence::new(w, 2);
        assert!(none.tick(at(2, 0)).is_none(), "never any traffic");
    }
}

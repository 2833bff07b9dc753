//! [`Detector`]: from the facts of stored reports to alerts. New destinations and foreign
//! policies are counted by reach — distinct client networks, and for the inventory distinct
//! page loads too — and alerted once each at the collector's minimum reach; spikes and
//! silence are the rhythm's ([`Spike`], [`Silence`]). It takes the time as an argument
//! and does no I/O: the task in `handle.rs` feeds it and sends what it returns.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::facts::{Fact, Facts};
use super::message::{clean, Alert, AlertKind};
use super::rhythm::{hour_of, start_of, Silence, Spike};
use crate::learn::{DestinationUse, Observation};
use crate::policy::text::policy_digest;
use crate::report::meter;
use crate::report::store::{rfc3339_text, Class, Disposition, Network, PageLoad, Summary};
use crate::source::Origin;

/// The most destinations remembered as seen (alerted, or known from the store).
const SEEN_MAX: usize = 100_000;
/// The most destinations and foreign policies counted towards the minimum reach at once.
const PENDING_MAX: usize = 10_000;
/// The most new candidates one network may start per hour: one client cannot fill the
/// pending table.
const STARTS_PER_NETWORK: u32 = 64;
/// A candidate that has not reached the minimum reach within this many hours is forgotten.
const PENDING_HOURS: u32 = 24;
/// Example destinations kept per foreign policy.
const EXAMPLES: usize = 8;
/// The most `new-destination` (and, apart, `foreign-policy`) alerts in one hour; past it,
/// one alert says so and the rest of the hour's are not sent (what they were about is still
/// remembered as seen, and shows on the dashboard).
const PER_HOUR: u32 = 30;

/// When alerts fire.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) min_reach: u64,
    pub(crate) spike_multiple: f64,
    pub(crate) spike_floor: u64,
    pub(crate) hour: Duration,
    pub(crate) silence: Duration,
}

/// Distinct values up to a cap (the minimum reach): all a threshold needs.
#[derive(Debug)]
struct Distinct<T>(Vec<T>);

impl<T> Default for Distinct<T> {
    fn default() -> Self {
        Distinct(Vec::new())
    }
}

impl<T: PartialEq> Distinct<T> {
    fn add(&mut self, v: T, cap: u64) {
        if (self.0.len() as u64) < cap && !self.0.contains(&v) {
            self.0.push(v);
        }
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

/// A destination on its way to the minimum reach.
#[derive(Debug)]
struct Candidate {
    first: SystemTime,
    /// Networks of genuine violations naming it.
    networks: Distinct<Network>,
    /// Networks and page loads of the inventory's observations of it.
    used_networks: Distinct<Network>,
    page_loads: Distinct<PageLoad>,
    directive: Option<String>,
    disposition: Option<Disposition>,
    reports: u64,
}

/// A foreign policy on its way to the minimum reach.
#[derive(Debug)]
struct Foreign {
    first: SystemTime,
    networks: Distinct<Network>,
    policy: String,
    directive: String,
    destinations: Vec<String>,
    reports: u64,
}

/// How many candidates each network started this hour.
#[derive(Debug, Default)]
struct Starts {
    hour: u64,
    by: HashMap<Network, u32>,
}

impl Starts {
    /// Whether `network` may start one more candidate in `hour`.
    fn allow(&mut self, network: Network, hour: u64) -> bool {
        if hour != self.hour || self.by.len() >= PENDING_MAX {
            self.hour = hour;
            self.by.clear();
        }
        let n = self.by.entry(network).or_default();
        *n += 1;
        *n <= STARTS_PER_NETWORK
    }
}

/// How many alerts of each kind went out this hour: a storm of new destinations (many
/// networks can be rented) becomes one alert per hour, not a flood.
#[derive(Debug, Default)]
struct Budget {
    hour: u64,
    sent: HashMap<AlertKind, u32>,
}

impl Budget {
    /// `alert` if this hour's budget for its kind allows it, the one "too many" alert when it
    /// just ran out, or nothing.
    fn pass(&mut self, alert: Alert, hour: u64, hour_start: SystemTime) -> Option<Alert> {
        if hour != self.hour {
            self.hour = hour;
            self.sent.clear();
        }
        let kind = alert.kind();
        let n = self.sent.entry(kind).or_default();
        *n += 1;
        match (*n).cmp(&(PER_HOUR + 1)) {
            std::cmp::Ordering::Less => Some(alert),
            std::cmp::Ordering::Equal => Some(
                Alert::new(
                    kind,
                    format!(
                        "more than {PER_HOUR} {kind} alerts this hour: the rest of the hour's are \
                         not sent; see the dashboard"
                    ),
                )
                .detail("limit", PER_HOUR)
                .detail("window_start", rfc3339_text(hour_start).to_string()),
            ),
            std::cmp::Ordering::Greater => {
                meter::alert_dropped("storm");
                None
            }
        }
    }
}

/// From facts to alerts; see the module.
#[derive(Debug)]
pub(crate) struct Detector {
    rules: Rules,
    seen: HashSet<Origin>,
    pending: HashMap<Origin, Candidate>,
    foreign_seen: HashSet<String>,
    foreign_pending: HashMap<String, Foreign>,
    /// Blocked destinations of foreign groups already at reach in the store at start.
    known_foreign: HashSet<String>,
    starts: Starts,
    budget: Budget,
    spike: Spike,
    silence: Silence,
}

impl Detector {
    pub(crate) fn new(rules: Rules, now: SystemTime) -> Detector {
        let rules = Rules {
            min_reach: rules.min_reach.max(1),
            ..rules
        };
        Detector {
            spike: Spike::new(rules.hour, rules.spike_multiple, rules.spike_floor, now),
            silence: Silence::new(rules.silence, rules.min_reach),
            rules,
            seen: HashSet::new(),
            pending: HashMap::new(),
            foreign_seen: HashSet::new(),
            foreign_pending: HashMap::new(),
            known_foreign: HashSet::new(),
            starts: Starts::default(),
            budget: Budget::default(),
        }
    }

    /// What the store already knows, so a restart does not alert it again: the
    /// destinations of genuine groups at the minimum reach, the destinations of foreign
    /// groups at it, and the first time anything was seen (for the spike's known day).
    pub(crate) fn seed_summary(&mut self, summary: &Summary) {
        let min = self.rules.min_reach;
        for g in summary.groups.iter().filter(|g| g.reach >= min) {
            if g.class.teaches() {
                if let Some(o) = g.blocked_origin.origin() {
                    self.remember(o.clone());
                }
            } else if g.class == Class::Foreign && self.known_foreign.len() < SEEN_MAX {
                self.known_foreign
                    .insert(g.blocked_origin.as_str().to_owned());
            }
        }
    }

    /// The inventory's destinations at the minimum reach are seen.
    pub(crate) fn seed_inventory(&mut self, uses: &[DestinationUse]) {
        for u in uses {
            if Observation::from_use(u).reach() >= self.rules.min_reach {
                self.remember(u.destination.clone());
            }
        }
    }

    /// The store's violations per hour and the first time it saw one, for the spike's
    /// previous day (one-hour hours only).
    pub(crate) fn seed_activity(&mut self, hours: &[(u64, u64)], first: Option<SystemTime>) {
        self.spike.seed(hours, first);
    }

    /// Whether the spike's hour is a real hour (its past can be read from the store).
    pub(crate) fn hourly(&self) -> bool {
        self.spike.is_hourly()
    }

    fn remember(&mut self, o: Origin) {
        if self.seen.len() < SEEN_MAX {
            self.seen.insert(o);
        }
    }

    fn hour_of(&self, now: SystemTime) -> u64 {
        hour_of(now, self.rules.hour)
    }

    /// Reads one stored request's facts at `now`; the alerts they raise.
    pub(crate) fn take(&mut self, facts: &Facts, now: SystemTime) -> Vec<Alert> {
        let mut out = Vec::new();
        self.silence.saw(facts.network, now);
        let violations = facts
            .items
            .iter()
            .filter(|f| matches!(f, Fact::Violation { .. }))
            .count() as u64;
        if violations > 0 {
            out.extend(self.spike.saw(facts.network, violations, now));
        }
        // Nothing is learned on the word of a sender whose network is unknown.
        let Some(network) = facts.network else {
            return out;
        };
        for fact in &facts.items {
            match fact {
                Fact::Violation {
                    destination: Some(d),
                    directive,
                    disposition,
                    class,
                    ..
                } if class.teaches() => {
                    let alert = self.destination(d, network, now, |c, cap| {
                        c.networks.add(network, cap);
                        c.directive.get_or_insert_with(|| directive.clone());
                        c.disposition.get_or_insert(*disposition);
                    });
                    out.extend(alert);
                }
                Fact::Violation {
                    destination,
                    directive,
                    class: Class::Foreign,
                    policy,
                    ..
                } => {
                    let text = policy.as_deref().unwrap_or("");
                    let blocked = destination.as_ref().map(Origin::as_str);
                    out.extend(self.foreign(text, directive, blocked, network, now));
                }
                Fact::Observation {
                    destination,
                    page_load,
                } => {
                    let alert = self.destination(destination, network, now, |c, cap| {
                        c.used_networks.add(network, cap);
                        c.page_loads.add(*page_load, cap);
                    });
                    out.extend(alert);
                }
                Fact::Violation { .. } => {}
            }
        }
        let (spikes, learned): (Vec<Alert>, Vec<Alert>) =
            out.into_iter().partition(|a| a.kind() == AlertKind::Spike);
        let hour = self.hour_of(now);
        let start = start_of(hour, self.rules.hour);
        let budget = &mut self.budget;
        spikes
            .into_iter()
            .chain(
                learned
                    .into_iter()
                    .filter_map(|a| budget.pass(a, hour, start)),
            )
            .collect()
    }

    /// Counts one report of destination `d` (what `count` adds to its candidate); the
    /// alert when it just reached the minimum reach.
    fn destination(
        &mut self,
        d: &Origin,
        network: Network,
        now: SystemTime,
        count: impl FnOnce(&mut Candidate, u64),
    ) -> Option<Alert> {
        if self.seen.contains(d) {
            return None;
        }
        let min = self.rules.min_reach;
        if !self.pending.contains_key(d) {
            let hour = self.hour_of(now);
            if self.pending.len() >= PENDING_MAX || !self.starts.allow(network, hour) {
                return None;
            }
            self.pending.insert(
                d.clone(),
                Candidate {
                    first: now,
                    networks: Distinct::default(),
                    used_networks: Distinct::default(),
                    page_loads: Distinct::default(),
                    directive: None,
                    disposition: None,
                    reports: 0,
                },
            );
        }
        let c = self.pending.get_mut(d)?;
        c.reports += 1;
        count(c, min);
        let by_violations = c.networks.len() >= min;
        let by_inventory = c.used_networks.len() >= min && c.page_loads.len() >= min;
        if !by_violations && !by_inventory {
            return None;
        }
        let c = self.pending.remove(d)?;
        self.remember(d.clone());
        Some(new_destination(d, &c, by_violations, min))
    }

    /// Counts one foreign report of `policy`; the alert when its reports just reached the
    /// minimum reach, unless every destination they named was foreign in the store already.
    fn foreign(
        &mut self,
        policy: &str,
        directive: &str,
        blocked: Option<&str>,
        network: Network,
        now: SystemTime,
    ) -> Option<Alert> {
        let digest = policy_digest(policy);
        if self.foreign_seen.contains(&digest) {
            return None;
        }
        if !self.foreign_pending.contains_key(&digest) {
            let hour = self.hour_of(now);
            if self.foreign_pending.len() >= PENDING_MAX || !self.starts.allow(network, hour) {
                return None;
            }
            let f = Foreign {
                first: now,
                networks: Distinct::default(),
                policy: clean(policy, 512),
                directive: directive.to_owned(),
                destinations: Vec::new(),
                reports: 0,
            };
            self.foreign_pending.insert(digest.clone(), f);
        }
        let min = self.rules.min_reach;
        let f = self.foreign_pending.get_mut(&digest)?;
        f.reports += 1;
        f.networks.add(network, min);
        if let Some(b) = blocked {
            if f.destinations.len() < EXAMPLES && !f.destinations.iter().any(|d| d == b) {
                f.destinations.push(b.to_owned());
            }
        }
        if f.networks.len() < min {
            return None;
        }
        let f = self.foreign_pending.remove(&digest)?;
        if self.foreign_seen.len() < SEEN_MAX {
            self.foreign_seen.insert(digest.clone());
        }
        let known = !f.destinations.is_empty()
            && f.destinations
                .iter()
                .all(|d| self.known_foreign.contains(d));
        (!known).then(|| foreign_policy(&digest, &f, min))
    }

    /// Time passing: silence, and candidates too old to count forgotten.
    pub(crate) fn tick(&mut self, now: SystemTime) -> Option<Alert> {
        let ttl = self.rules.hour.saturating_mul(PENDING_HOURS);
        let fresh = |first: SystemTime| now.duration_since(first).unwrap_or_default() < ttl;
        self.pending.retain(|_, c| fresh(c.first));
        self.foreign_pending.retain(|_, f| fresh(f.first));
        self.silence.tick(now)
    }
}

fn new_destination(d: &Origin, c: &Candidate, by_violations: bool, min: u64) -> Alert {
    let summary = if by_violations {
        format!(
            "new destination {d}: genuine {} violations ({}) from {} client networks",
            c.directive.as_deref().unwrap_or("?"),
            c.disposition.map_or("unknown", Disposition::as_str),
            c.networks.len()
        )
    } else {
        format!(
            "new destination {d}: used by {} sampled page loads from {} client networks \
             (inventory)",
            c.page_loads.len(),
            c.used_networks.len()
        )
    };
    let mut a = Alert::new(AlertKind::NewDestination, summary)
        .detail("destination", d.as_str())
        .detail(
            "seen_in",
            if by_violations {
                "violations"
            } else {
                "inventory"
            },
        )
        .detail("reach", c.networks.len().max(c.used_networks.len()))
        .detail("page_loads", c.page_loads.len())
        .detail("min_reach", min)
        .detail("reports", c.reports)
        .detail("first_seen", rfc3339_text(c.first).to_string());
    if let Some(dir) = &c.directive {
        a = a
            .detail("directive", dir.as_str())
            .detail("class", "genuine");
    }
    if let Some(disp) = c.disposition {
        a = a.detail("disposition", disp.as_str());
    }
    a
}

fn foreign_policy(digest: &str, f: &Foreign, min: u64) -> Alert {
    let shown = if f.policy.is_empty() {
        "(no policy in the reports)".to_owned()
    } else {
        clean(&f.policy, 160)
    };
    Alert::new(
        AlertKind::ForeignPolicy,
        format!(
            "reports of a policy the app never served (or without a valid provenance token), \
             from {} client networks: {shown}",
            f.networks.len()
        ),
    )
    .detail("policy", f.policy.as_str())
    .detail("policy_digest", digest)
    .detail("directive", f.directive.as_str())
    .detail("destinations", f.destinations.clone())
    .detail("reach", f.networks.len())
    .detail("min_reach", min)
    .detail("reports", f.reports)
    .detail("class", "foreign")
    .detail("first_seen", rfc3339_text(f.first).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn rules() -> Rules {
        Rules {
            min_reach: 2,
            spike_multiple: 10.0,
            spike_floor: 10,
            hour: Duration::from_secs(3600),
            silence: Duration::from_secs(3600),
        }
    }

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn origin(s: &str) -> Origin {
        Origin::of_url(s).unwrap()
    }

    fn violation(to: &str, class: Class, policy: Option<&str>) -> Fact {
        Fact::Violation {
            destination: Origin::of_url(to),
            directive: "connect-src".into(),
            disposition: Disposition::Report,
            class,
            policy: policy.map(str::to_owned),
        }
    }

    fn from(network: u64, items: Vec<Fact>) -> Facts {
        Facts {
            network: Some(Network(network)),
            items,
        }
    }

    fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
        alerts.iter().map(Alert::kind).collect()
    }

    #[test]
    fn a_new_destination_needs_the_minimum_reach_and_alerts_once() {
        let mut d = Detector::new(rules(), t(0));
        let cdn = || vec![violation("https://cdn.example/x", Class::Genuine, None)];
        // One network, however many reports: nothing.
        for i in 0..50 {
            assert!(d.take(&from(1, cdn()), t(i)).is_empty());
        }
        // No known network: nothing learned.
        let anonymous = Facts {
            network: None,
            items: cdn(),
        };
        assert!(d.take(&anonymous, t(60)).is_empty());
        // A second network: one alert.
        let a = d.take(&from(2, cdn()), t(61));
        assert_eq!(kinds(&a), [AlertKind::NewDestination]);
        let details = a[0].details();
        assert_eq!(details["destination"], "https://cdn.example");
        assert_eq!(details["reach"], 2);
        assert_eq!(details["seen_in"], "violations");
        assert_eq!(details["directive"], "connect-src");
        assert_eq!(details["disposition"], "report");
        // Never again, from any network.
        for n in 3..10 {
            assert!(d.take(&from(n, cdn()), t(62)).is_empty());
        }
    }

    #[test]
    fn only_genuine_violations_teach() {
        let mut d = Detector::new(rules(), t(0));
        for class in [Class::Unverified, Class::Contradicts, Class::Stale] {
            for n in 0..5 {
                let f = from(n, vec![violation("https://x.example/", class, None)]);
                assert!(d.take(&f, t(n)).is_empty(), "{class}");
            }
        }
    }

    #[test]
    fn the_inventory_needs_networks_and_page_loads() {
        let mut d = Detector::new(rules(), t(0));
        let obs = |to: &str, page: u64| Fact::Observation {
            destination: origin(to),
            page_load: PageLoad(page),
        };
        // One page load from two networks (its id is public): not enough.
        assert!(d
            .take(&from(1, vec![obs("wss://a.example", 7)]), t(1))
            .is_empty());
        assert!(d
            .take(&from(2, vec![obs("wss://a.example", 7)]), t(2))
            .is_empty());
        // Many page loads from one network: not enough either.
        for p in 10..20 {
            assert!(d
                .take(&from(1, vec![obs("wss://b.example", p)]), t(3))
                .is_empty());
        }
        // Two page loads and two networks: the inventory's reach is 2.
        let a = d.take(&from(2, vec![obs("wss://b.example", 30)]), t(4));
        assert_eq!(kinds(&a), [AlertKind::NewDestination]);
        assert_eq!(a[0].details()["seen_in"], "inventory");
        assert_eq!(a[0].details()["page_loads"], 2);
        assert_eq!(a[0].details()["destination"], "wss://b.example");
    }

    #[test]
    fn what_the_store_knew_is_not_alerted_again() {
        use crate::report::store::{MemorySink, ReportSink, ReportStore};
        let mut d = Detector::new(rules(), t(0));
        let store = MemorySink::new();
        let body = r#"{"csp-report":{"document-uri":"https://app.example/",
            "effective-directive":"connect-src","blocked-uri":"https://known.example/a"}}"#;
        let options = crate::report::intake::NormalizeOptions::default();
        let mut v = crate::report::intake::parse_reports(body.as_bytes(), &options)
            .unwrap()
            .violations
            .remove(0);
        v.class = Class::Genuine;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for n in [1, 2] {
            v.network = Some(Network(n));
            rt.block_on(store.submit(vec![v.clone()])).unwrap();
        }
        let summary = rt.block_on(store.summary(100)).unwrap();
        d.seed_summary(&summary);
        for n in 0..5 {
            let f = from(
                n,
                vec![violation("https://known.example/b", Class::Genuine, None)],
            );
            assert!(d.take(&f, t(n)).is_empty());
        }
    }

    #[test]
    fn a_foreign_policy_alerts_once_at_reach() {
        let mut d = Detector::new(rules(), t(0));
        let injected = "connect-src 'self' https://proxy.example; report-uri /csp-reports";
        let f = |n| {
            from(
                n,
                vec![violation(
                    "https://a.example/",
                    Class::Foreign,
                    Some(injected),
                )],
            )
        };
        assert!(d.take(&f(1), t(1)).is_empty());
        assert!(d.take(&f(1), t(2)).is_empty(), "the same network again");
        let a = d.take(&f(2), t(3));
        assert_eq!(kinds(&a), [AlertKind::ForeignPolicy]);
        assert_eq!(a[0].details()["policy"], injected);
        assert_eq!(a[0].details()["destinations"][0], "https://a.example");
        // The same policy with other whitespace and case is the same policy.
        let same = "CONNECT-SRC https://proxy.example  'self'; report-uri /csp-reports";
        let again = from(
            3,
            vec![violation("https://b.example/", Class::Foreign, Some(same))],
        );
        assert!(d.take(&again, t(4)).is_empty());
        // Foreign reports never teach a new destination.
        assert!(d.take(&f(4), t(5)).is_empty());
    }

    #[test]
    fn a_storm_of_new_destinations_is_one_alert_past_the_hours_budget() {
        let mut d = Detector::new(rules(), t(0));
        let mut got = Vec::new();
        for i in 0..100u64 {
            let to = format!("https://d{i}.example/");
            for net in [2 * i, 2 * i + 1] {
                got.extend(d.take(&from(net, vec![violation(&to, Class::Genuine, None)]), t(i)));
            }
        }
        assert_eq!(got.len(), PER_HOUR as usize + 1);
        let last = got.last().unwrap();
        assert!(
            last.summary().starts_with("more than 30 new-destination"),
            "{last:?}"
        );
        // The next hour has its budget again; what was not sent is still seen.
        let next = from(
            999,
            vec![violation("https://d99.example/", Class::Genuine, None)],
        );
        assert!(d.take(&next, t(3600)).is_empty());
        let fresh = |net| {
            from(
                net,
                vec![violation("https://late.example/", Class::Genuine, None)],
            )
        };
        d.take(&fresh(1000), t(3601));
        assert_eq!(
            kinds(&d.take(&fresh(1001), t(3602))),
            [AlertKind::NewDestination]
        );
    }

    #[test]
    fn one_network_cannot_fill_the_candidates() {
        let mut d = Detector::new(rules(), t(0));
        for i in 0..1000 {
            let to = format!("https://u{i}.spam.example/");
            d.take(&from(66, vec![violation(&to, Class::Genuine, None)]), t(1));
        }
        assert_eq!(d.pending.len(), STARTS_PER_NETWORK as usize);
        // Candidates expire after a day of hours.
        d.tick(t(25 * 3600));
        assert!(d.pending.is_empty());
    }
}

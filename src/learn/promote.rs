//! [`readiness`]: the gate before a candidate list is enforced — would it break what real
//! pages do, and is there enough evidence to say it would not?
//!
//! A candidate is **ready** only when every one of these holds over the window:
//!
//! - no destination real pages used (the inventory) or a genuine report-only violation
//!   named, at the minimum [reach](super::Observation::reach), would be blocked by the
//!   candidate in any browser engine while today's enforced list allows it there (what the
//!   enforced list already blocks breaks nothing new);
//! - at least [`Gate::min_page_loads`] page loads were seen (re-weighted by the sample
//!   rate, as [`DestinationUse::page_loads`]), and some hour was heard from at least the
//!   minimum reach of client networks (without client addresses, nothing has reach);
//! - the reports and observations cover the whole window asked for;
//! - they never stopped: no [`Gate::max_gap`] of hours heard from fewer than the minimum
//!   reach of client networks, after steady traffic, so that "no reports" is never read as
//!   "nothing breaks" when the pipeline is what broke.
//!
//! Destinations below the minimum reach are set aside and counted, like the reports the
//! caller did not pass in (noise, foreign, stale, contradicting, unverified): one client's
//! word never blocks, nor passes, a promotion.
//!
//! ```
//! use connect_src::learn::{readiness, test_use, Evidence, Gate};
//! use connect_src::ConnectSrc;
//!
//! let candidate: ConnectSrc = "'self' https://api.example".parse()?;
//! let uses = [
//!     test_use("https://app.example", "https://app.example", 400, 40),
//!     test_use("https://api.example", "https://app.example", 300, 30),
//!     test_use("https://cdn.example", "https://app.example", 20, 9),
//! ];
//! // Heard from 5 networks every hour of a 48-hour window.
//! let evidence = Evidence::new(uses.to_vec(), vec![5; 48]);
//! let r = readiness(&candidate, &evidence, &Gate::default().min_page_loads(100));
//! assert!(!r.ready);
//! assert_eq!(r.would_block[0].destination.as_str(), "https://cdn.example");
//! assert_eq!(r.would_block[0].page_loads, 20.0);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use url::Url;

use super::{DestinationUse, Observation, DEFAULT_MIN_REACH};
use crate::matcher::{AllowlistPolicy, Engine};
use crate::minimize::covers;
use crate::policy::ConnectSrc;
use crate::source::{Origin, Source};

/// The engines a promotion is judged in: the browsers (the spec's text breaks no page).
pub const BROWSERS: [Engine; 3] = [Engine::Chromium, Engine::Firefox, Engine::WebKit];

/// The page a destination is judged from when its document origin is unknown.
const JUDGING_PAGE: &str = "https://judging-page.invalid/";

/// What the gate asks for. [`Default`]: no enforced list, 1,000 page loads, reach 2, a
/// 6-hour gap, steady meaning heard in at least half of the 24 hours before a gap.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Gate {
    /// Today's enforced list: what it already blocks is not breakage.
    pub enforced: Option<ConnectSrc>,
    /// The least page loads (re-weighted) the window must hold. Default 1,000.
    pub min_page_loads: f64,
    /// The least reach (distinct client networks, and sampled page loads for the
    /// inventory) a destination needs to count. Default [`DEFAULT_MIN_REACH`].
    pub min_reach: u64,
    /// The longest run of silent hours allowed after steady traffic. Default 6 hours.
    pub max_gap: Duration,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            enforced: None,
            min_page_loads: 1000.0,
            min_reach: DEFAULT_MIN_REACH,
            max_gap: Duration::from_secs(6 * 3600),
        }
    }
}

impl Gate {
    /// Today's enforced list.
    pub fn enforced(mut self, list: ConnectSrc) -> Self {
        self.enforced = Some(list);
        self
    }
    /// The least page loads the window must hold.
    pub fn min_page_loads(mut self, n: u64) -> Self {
        self.min_page_loads = n as f64;
        self
    }
    /// The least reach a destination needs to count (at least 1).
    pub fn min_reach(mut self, n: u64) -> Self {
        self.min_reach = n.max(1);
        self
    }
    /// The longest run of silent hours allowed (rounded up to whole hours, at least one).
    pub fn max_gap(mut self, gap: Duration) -> Self {
        self.max_gap = gap;
        self
    }
}

/// What the gate judges on, over one window.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Evidence {
    /// What real pages used ([`ReportStore::inventory`](crate::report::store::ReportStore::inventory)
    /// since the window's start).
    pub uses: Vec<DestinationUse>,
    /// The destinations genuine report-only `connect-src` violations named in the window,
    /// one [`Observation`] each, with their documents when known (the caller sets the other
    /// classes aside and counts them in [`set_aside`](Self::set_aside)).
    pub reported: Vec<Observation>,
    /// Distinct client networks heard from (reports and observations) per hour of the
    /// window, oldest first, the last the hour in progress: the window is `heard.len()`
    /// hours.
    pub heard: Vec<u64>,
    /// Page loads in the window, each counted once (re-weighted), when the caller counted
    /// them ([`ReportStore::page_loads_reaching`](crate::report::store::ReportStore::page_loads_reaching));
    /// otherwise the widest destination's count, a lower bound, is used.
    pub page_loads: Option<f64>,
    /// Reports the caller left out and why (`foreign`, `noise`, …), to be said.
    pub set_aside: Vec<(String, u64)>,
}

impl Evidence {
    /// Evidence of `uses` heard `heard`, nothing else.
    pub fn new(uses: Vec<DestinationUse>, heard: Vec<u64>) -> Evidence {
        Evidence {
            uses,
            heard,
            ..Evidence::default()
        }
    }

    /// With the destinations genuine report-only violations named.
    pub fn reported(mut self, reported: Vec<Observation>) -> Evidence {
        self.reported = reported;
        self
    }
}

/// A destination the candidate would block that pages used or reported.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WouldBlock {
    /// Where pages connected.
    pub destination: Origin,
    /// Page loads that used it (re-weighted; 0 when only violations named it).
    pub page_loads: f64,
    /// Its reach: distinct client networks (bounded by sampled page loads for the
    /// inventory).
    pub reach: u64,
    /// Reports that named it (observations and violations).
    pub reports: u64,
    /// Per browser engine: whether the candidate blocks it there (where today's enforced
    /// list allows it).
    pub engines: Vec<(Engine, bool)>,
    /// The document origins it was used from, when known.
    pub documents: Vec<Origin>,
}

/// What the gate found: [`ready`](Self::ready) and every reason it is not.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Readiness {
    /// Ready to enforce: nothing real would break, on enough evidence.
    pub ready: bool,
    /// Page loads seen in the window (re-weighted): [`Evidence::page_loads`], else the
    /// widest destination's count (a lower bound).
    pub page_loads: f64,
    /// What the candidate would block, most page loads (then reach) first.
    pub would_block: Vec<WouldBlock>,
    /// Why it is not ready, one sentence each (empty when ready).
    pub reasons: Vec<String>,
    /// Destinations set aside because one client's word cannot decide: below the reach.
    pub below_reach: Vec<Origin>,
    /// Reports the caller set aside and why ([`Evidence::set_aside`]).
    pub set_aside: Vec<(String, u64)>,
    /// The longest run of silent hours found after steady traffic (0 when none).
    pub longest_gap_hours: u64,
    /// Hours from the first heard to the window's end (how much of the window the
    /// evidence covers).
    pub covered_hours: u64,
}

/// Judges `candidate` for enforcement on the [`Evidence`] of one window. Never fails:
/// missing evidence makes the answer "not ready", with the reason.
pub fn readiness(candidate: &ConnectSrc, evidence: &Evidence, gate: &Gate) -> Readiness {
    judged(evidence, gate, |seen, min| {
        would_block(candidate, gate.enforced.as_ref(), seen, min)
    })
}

/// [`readiness`] for enforcing a `Connection-Allowlist` value (`candidate`, read as
/// Chromium reads it; the only engine that implements it): the same rules, with what
/// Chromium would block. The [`Evidence`] to pass is the inventory and the genuine reports
/// of the report-only allowlist (`connection-allowlist`, which name navigations and
/// subresources too: [`allowlist_evidence`](crate::report::promote::allowlist_evidence)).
/// What today's enforced connect-src list ([`Gate::enforced`]) already blocks in Chromium
/// is no new breakage for what the inventory saw (connections); a destination only the
/// allowlist's reports name (perhaps a navigation, which connect-src does not govern) is
/// never excused. Destinations are judged by their origin (`origin/`): an allowlist
/// whose patterns hold paths is judged conservatively (it may be said to block an origin
/// whose listed path it admits).
///
/// ```
/// use connect_src::learn::{allowlist_readiness, test_use, Evidence, Gate};
/// use connect_src::matcher::AllowlistPolicy;
///
/// let uses = [
///     test_use("https://app.example", "https://app.example", 400, 40),
///     test_use("https://api.example", "https://app.example", 300, 30),
/// ];
/// let evidence = Evidence::new(uses.to_vec(), vec![5; 48]);
/// let gate = Gate::default().min_page_loads(100);
/// let ok = AllowlistPolicy::parse(r#"(response-origin "https://api.example")"#);
/// assert!(allowlist_readiness(&ok, &evidence, &gate).ready);
/// let forgetful = AllowlistPolicy::parse("(response-origin)");
/// let r = allowlist_readiness(&forgetful, &evidence, &gate);
/// assert_eq!(r.would_block[0].destination.as_str(), "https://api.example");
/// ```
pub fn allowlist_readiness(
    candidate: &AllowlistPolicy,
    evidence: &Evidence,
    gate: &Gate,
) -> Readiness {
    judged(evidence, gate, |seen, min| {
        allowlist_would_block(candidate, gate.enforced.as_ref(), seen, min)
    })
}

/// The gate's rules, with `would_block` saying what the candidate breaks.
fn judged(
    evidence: &Evidence,
    gate: &Gate,
    would_block: impl FnOnce(&[Observation], u64) -> (Vec<WouldBlock>, Vec<Origin>),
) -> Readiness {
    let min = gate.min_reach.max(1);
    let mut seen: Vec<Observation> = evidence.uses.iter().map(Observation::from_use).collect();
    seen.extend(evidence.reported.iter().cloned());
    let seen = super::by_destination(seen);
    let page_loads = seen.iter().map(|o| o.page_loads).fold(0.0, f64::max);
    let (would_block, below_reach) = would_block(&seen, min);
    let page_loads = evidence.page_loads.unwrap_or(page_loads);
    let mut reasons = Vec::new();
    for w in &would_block {
        let blocked_in: Vec<&str> = w
            .engines
            .iter()
            .filter(|(_, b)| *b)
            .map(|(e, _)| e.as_str())
            .collect();
        reasons.push(format!(
            "the candidate blocks {} in {}: used by ≈ {:.0} page loads, reach {} ({} report(s))",
            w.destination,
            blocked_in.join(", "),
            w.page_loads,
            w.reach,
            w.reports
        ));
    }
    if page_loads < gate.min_page_loads {
        reasons.push(format!(
            "≈ {page_loads:.0} page loads in the window, fewer than the {:.0} asked for \
             (is the inventory on?)",
            gate.min_page_loads
        ));
    }
    let loudest = evidence.heard.iter().copied().max().unwrap_or(0);
    if loudest < min {
        reasons.push(format!(
            "no hour of the window was heard from {min} client networks or more (at most \
             {loudest}): one client's word cannot promote a list (does the collector see \
             client addresses?)"
        ));
    }
    let (covered_hours, longest_gap_hours) = coverage(&evidence.heard, min);
    let asked = evidence.heard.len() as u64;
    // The first hour heard may start mid-hour: one hour of slack.
    if covered_hours + 1 < asked {
        reasons.push(format!(
            "the evidence covers {covered_hours} of the {asked} hours asked for \
             (first heard {covered_hours} hours ago)"
        ));
    }
    let max_gap = gate.max_gap.as_secs().div_ceil(3600).max(1);
    if longest_gap_hours >= max_gap {
        reasons.push(format!(
            "reports stopped for {longest_gap_hours} hours after steady traffic (at most \
             {max_gap} allowed): silence is not evidence that nothing breaks"
        ));
    }
    Readiness {
        ready: reasons.is_empty(),
        page_loads,
        would_block,
        reasons,
        below_reach,
        set_aside: evidence.set_aside.clone(),
        longest_gap_hours,
        covered_hours,
    }
}

/// What `candidate` blocks, in some browser engine, of what was `seen` (folded by
/// destination) while `enforced` (if any) allows it there: the destinations of at least
/// `min_reach`, most page loads (then reach) first, and those below it (set aside: one
/// client's word). What a rollout's watch asks of the genuine enforced violations of its
/// stage.
pub fn would_block(
    candidate: &ConnectSrc,
    enforced: Option<&ConnectSrc>,
    seen: &[Observation],
    min_reach: u64,
) -> (Vec<WouldBlock>, Vec<Origin>) {
    collect_blocked(seen, min_reach, |o| {
        let engines = blocked_in(candidate, enforced, o);
        engines.iter().any(|(_, b)| *b).then_some(engines)
    })
}

/// [`would_block`] for a `Connection-Allowlist` candidate: what Chromium would block of
/// what was `seen` (folded by destination) while `enforced` (if any) allows it there —
/// where `seen` came from the inventory (connections); a destination only reports name
/// is never excused. What a staged allowlist rollout's watch asks of the genuine enforced
/// `connection-allowlist` reports of its stage.
pub fn allowlist_would_block(
    candidate: &AllowlistPolicy,
    enforced: Option<&ConnectSrc>,
    seen: &[Observation],
    min_reach: u64,
) -> (Vec<WouldBlock>, Vec<Origin>) {
    collect_blocked(seen, min_reach, |o| {
        let to = Url::parse(&format!("{}/", o.destination)).ok()?;
        // The allowlist's reports may be navigations or subresources, which connect-src
        // does not govern: only what real pages' connections used (the inventory) is
        // excused by the enforced list blocking it already.
        let blocked = pages_of(o).iter().any(|page| {
            !candidate.allows(page, std::slice::from_ref(&to))
                && (!o.used
                    || enforced.is_none_or(|l| l.check_url(page, &to).get(Engine::Chromium)))
        });
        blocked.then(|| vec![(Engine::Chromium, true)])
    })
}

/// The observations `blocked_in` finds blocked (it returns the engines), those of at least
/// `min_reach` as [`WouldBlock`]s, most page loads (then reach) first, and the others'
/// destinations.
fn collect_blocked(
    seen: &[Observation],
    min_reach: u64,
    blocked_in: impl Fn(&Observation) -> Option<Vec<(Engine, bool)>>,
) -> (Vec<WouldBlock>, Vec<Origin>) {
    let mut out = Vec::new();
    let mut below_reach = Vec::new();
    for o in seen {
        let Some(engines) = blocked_in(o) else {
            continue;
        };
        if o.reach() < min_reach.max(1) {
            below_reach.push(o.destination.clone());
            continue;
        }
        out.push(WouldBlock {
            destination: o.destination.clone(),
            page_loads: o.page_loads,
            reach: o.reach(),
            reports: o.reports,
            engines,
            documents: o.documents.clone(),
        });
    }
    out.sort_by(|a, b| {
        b.page_loads
            .total_cmp(&a.page_loads)
            .then(b.reach.cmp(&a.reach))
    });
    (out, below_reach)
}

/// The pages an observation is judged from: its documents, or the judging page.
fn pages_of(o: &Observation) -> Vec<Url> {
    if o.documents.is_empty() {
        Url::parse(JUDGING_PAGE).ok().into_iter().collect()
    } else {
        o.documents
            .iter()
            .filter_map(|d| Url::parse(&format!("{d}/")).ok())
            .collect()
    }
}

/// Per browser engine, whether `candidate` blocks `o`'s destination where `enforced` (if
/// any) allows it, from each document it was used from. Paths are set aside (a path-source
/// is judged by its origin, as [`unused`](super::unused) does): observations keep origins.
fn blocked_in(
    candidate: &ConnectSrc,
    enforced: Option<&ConnectSrc>,
    o: &Observation,
) -> Vec<(Engine, bool)> {
    let pages = pages_of(o);
    let candidate = without_paths(candidate);
    let enforced = enforced.map(without_paths);
    BROWSERS
        .into_iter()
        .map(|e| {
            let blocked = pages.iter().any(|page| {
                let allowed = |l: &ConnectSrc| {
                    l.check_target(page, o.destination.as_str())
                        .is_ok_and(|v| v.get(e))
                };
                !allowed(&candidate) && enforced.as_ref().is_none_or(allowed)
            });
            (e, blocked)
        })
        .collect()
}

fn without_paths(list: &ConnectSrc) -> ConnectSrc {
    let sources = list.sources().iter().map(|s| match s.as_host() {
        Some(h) if h.path().is_some() => Source::Host(h.without_path()),
        _ => s.clone(),
    });
    ConnectSrc::builder()
        .sources(sources)
        .build()
        .unwrap_or_else(|_| list.clone())
}

/// From per-hour networks heard (oldest first, the last hour in progress): the hours from
/// the first heard to the end, and the longest run of silent complete hours after steady
/// traffic — at least 12 of the 24 hours before the run heard from `min` networks or more.
/// A silence still going on counts.
fn coverage(heard: &[u64], min: u64) -> (u64, u64) {
    let Some(first) = heard.iter().position(|&n| n >= min) else {
        return (0, 0);
    };
    let covered = (heard.len() - first) as u64;
    let complete = heard.len().saturating_sub(1);
    let mut longest = 0;
    let mut i = first;
    while i < complete {
        if heard[i] >= min {
            i += 1;
            continue;
        }
        let start = i;
        while i < complete && heard[i] < min {
            i += 1;
        }
        let before = &heard[start.saturating_sub(24)..start];
        let loud = before.iter().filter(|&&n| n >= min).count();
        if loud >= 12 {
            longest = longest.max((i - start) as u64);
        }
    }
    (covered, longest)
}

/// The sources of `candidate` that allow something `enforced` blocks, in some browser
/// engine: a staged rollout enforces the candidate in place of the enforced list, so it
/// must only narrow it ([`minimize::covers`](crate::minimize::covers), probe by probe).
pub fn looser_sources(candidate: &ConnectSrc, enforced: &ConnectSrc) -> Vec<Source> {
    candidate
        .sources()
        .iter()
        .filter(|a| !enforced.sources().iter().any(|b| covers(b, a, &BROWSERS)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_use;
    use super::*;

    fn list(s: &str) -> ConnectSrc {
        s.parse().unwrap()
    }

    #[test]
    fn a_used_destination_the_candidate_blocks_is_not_ready_and_named() {
        let uses = [
            test_use("https://app.example", "https://app.example", 3000, 50),
            test_use("https://api.example", "https://app.example", 2000, 40),
            test_use("wss://live.example", "https://app.example", 700, 20),
        ];
        let evidence = Evidence::new(uses.to_vec(), vec![9; 72]);
        let gate = Gate::default();
        let r = readiness(&list("'self' https://api.example"), &evidence, &gate);
        assert!(!r.ready);
        assert_eq!(r.would_block.len(), 1);
        let w = &r.would_block[0];
        assert_eq!(w.destination.as_str(), "wss://live.example");
        assert_eq!(w.page_loads, 700.0);
        assert!(w.engines.iter().all(|(_, b)| *b), "{w:?}");
        assert!(
            r.reasons[0].contains("wss://live.example"),
            "{:?}",
            r.reasons
        );
        assert_eq!(r.page_loads, 3000.0);

        let fixed = readiness(
            &list("'self' https://api.example wss://live.example"),
            &evidence,
            &gate,
        );
        assert!(fixed.ready, "{:?}", fixed.reasons);
    }

    #[test]
    fn what_the_enforced_list_blocks_already_and_one_clients_word_are_set_aside() {
        let uses = [
            test_use("https://app.example", "https://app.example", 3000, 50),
            test_use("https://exfil.example", "https://app.example", 5000, 30),
            test_use("https://once.example", "https://app.example", 900, 1),
        ];
        let reported = [Observation::new(
            Origin::of_url("https://lonely.example").unwrap(),
            400,
            1,
        )];
        let gate =
            Gate::default().enforced(list("'self' https://once.example https://lonely.example"));
        let evidence = Evidence::new(uses.to_vec(), vec![4; 30]).reported(reported.to_vec());
        let r = readiness(&list("'self'"), &evidence, &gate);
        assert!(r.ready, "{:?}", r.reasons);
        let mut below: Vec<&str> = r.below_reach.iter().map(Origin::as_str).collect();
        below.sort();
        assert_eq!(below, ["https://lonely.example", "https://once.example"]);
    }

    #[test]
    fn genuine_report_only_violations_count_at_reach() {
        let uses = [test_use(
            "https://app.example",
            "https://app.example",
            3000,
            50,
        )];
        let mut o = Observation::new(Origin::of_url("https://pay.example").unwrap(), 12, 6);
        o.documents
            .push(Origin::of_url("https://app.example").unwrap());
        let evidence = Evidence::new(uses.to_vec(), vec![7; 30]).reported(vec![o]);
        let r = readiness(&list("'self'"), &evidence, &Gate::default());
        assert!(!r.ready);
        assert_eq!(r.would_block[0].destination.as_str(), "https://pay.example");
        assert_eq!(r.would_block[0].reach, 6);
    }

    #[test]
    fn too_few_page_loads_a_short_window_and_a_gap_are_not_ready() {
        let uses = [test_use(
            "https://app.example",
            "https://app.example",
            30,
            30,
        )];
        let candidate = list("'self'");
        let at = |heard: Vec<u64>| Evidence::new(uses.to_vec(), heard);
        let r = readiness(&candidate, &at(vec![5; 48]), &Gate::default());
        assert!(!r.ready);
        assert!(r.reasons[0].contains("30 page loads"), "{:?}", r.reasons);

        let gate = Gate::default().min_page_loads(10);
        // Nothing heard for the first 30 of 48 hours: the evidence covers 18.
        let mut heard = vec![0; 30];
        heard.extend([5; 18]);
        let r = readiness(&candidate, &at(heard), &gate);
        assert_eq!(r.covered_hours, 18);
        assert!(
            r.reasons[0].contains("18 of the 48 hours"),
            "{:?}",
            r.reasons
        );

        // Steady for a day, then 8 silent hours, then steady again.
        let mut heard = vec![5; 24];
        heard.extend([0; 8]);
        heard.extend([5; 16]);
        let r = readiness(&candidate, &at(heard), &gate);
        assert_eq!(r.longest_gap_hours, 8);
        assert!(!r.ready);
        assert!(
            r.reasons[0].contains("stopped for 8 hours"),
            "{:?}",
            r.reasons
        );
        // A silence still going on counts too (the hour in progress does not).
        let mut heard = vec![5; 40];
        heard.extend([0; 8]);
        assert_eq!(coverage(&heard, 2).1, 7);
        // One network's reports do not make an hour heard at reach 2.
        let mut heard = vec![5; 24];
        heard.extend([1; 8]);
        heard.extend([5; 16]);
        assert_eq!(coverage(&heard, 2).1, 8);
        // Sparse traffic is not steady: its silences are not gaps.
        let sparse: Vec<u64> = (0..48).map(|h| if h % 5 == 0 { 3 } else { 0 }).collect();
        assert_eq!(coverage(&sparse, 2).1, 0);
        // Nothing heard at reach (no client addresses): never ready.
        let r = readiness(&candidate, &at(vec![0; 48]), &gate);
        assert!(!r.ready);
        assert!(r.reasons[0].contains("client networks"), "{:?}", r.reasons);
        // Short gaps pass.
        let mut heard = vec![5; 24];
        heard.extend([0; 3]);
        heard.extend([5; 21]);
        assert!(readiness(&candidate, &at(heard), &gate).ready);
    }

    #[test]
    fn looser_sources_are_named() {
        let enforced = list("'self' https://*.example.com wss://ws.example.com");
        assert!(looser_sources(&list("'self' https://api.example.com"), &enforced).is_empty());
        let looser = looser_sources(
            &list("https://api.example.com https://other.example wss://ws.example.com"),
            &enforced,
        );
        assert_eq!(looser.len(), 1);
        assert_eq!(looser[0].to_string(), "https://other.example");
    }
}

//! [`suggest`]: from the destinations a report-only list would have blocked, and those real
//! pages used, the sources to add before enforcing it.
//!
//! Suggestions are origins, never paths (paths are not a security boundary, CSP3 §7.6). A
//! subdomain wildcard is suggested only when several subdomains of one registrable domain
//! appear (the Public Suffix List decides what is registrable, so `*.github.io` or
//! `*.co.uk` are never suggested), and never one the enforced list has and the candidate
//! dropped. What is not proposed, and why, is said ([`NotAdded`]):
//!
//! - what the candidate already allows, asked of the [matcher](crate::matcher);
//! - what today's **enforced** list blocks ([`SuggestOptions::enforced`]): a connection the
//!   site already lives without is not one it needs (an XSS exfiltration target, a dev
//!   server left in a page);
//! - a destination below the minimum [reach](super::Observation::reach): one client's
//!   reports, however many, never teach;
//! - what production refuses (`http://` hosts other than loopback);
//! - past [`SuggestOptions::max_additions`], the destinations of least reach.
//!
//! The result is minimized: a source another one covers (proven with the matcher) is left
//! out.
//!
//! ```
//! use connect_src::learn::{suggest, Observation, SuggestOptions, Why};
//! use connect_src::source::Origin;
//! use connect_src::ConnectSrc;
//!
//! let current: ConnectSrc = "'self'".parse()?;
//! let enforced: ConnectSrc = "'self' https: wss://ws.myapp.com".parse()?;
//! // Each destination seen from three client networks...
//! let seen = |url: &str| Observation::new(Origin::of_url(url).unwrap(), 4, 3);
//! let s = suggest(
//!     &current,
//!     [
//!         seen("https://api.stripe.com/v1/charges?amount=1"),
//!         seen("wss://ws.myapp.com/socket"),
//!         seen("https://a.cdn.example.net/x.js"),
//!         seen("https://b.cdn.example.net/y.js"),
//!         seen("https://c.cdn.example.net/z.js"),
//!         seen("wss://evil.example/exfil"),                                   // enforced blocks it
//!         Observation::new(Origin::of_url("https://once.example").unwrap(), 50, 1), // one network
//!     ],
//!     &SuggestOptions::default().enforced(enforced),
//! );
//! assert_eq!(
//!     s.policy.value(),
//!     "'self' https://*.cdn.example.net https://api.stripe.com wss://ws.myapp.com"
//! );
//! let why = |d: &str| s.not_added.iter().find(|n| n.destination.as_str() == d).map(|n| &n.why);
//! assert_eq!(why("wss://evil.example"), Some(&Why::BlockedByEnforced));
//! assert_eq!(why("https://once.example"), Some(&Why::BelowReach { reach: 1, min: 2 }));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

use super::{by_destination, Observation, DEFAULT_MIN_REACH};
use crate::matcher::Engine;
use crate::minimize::minimize;
use crate::policy::{ConnectSrc, Environment};
use crate::source::{
    is_loopback_host, is_strict_subdomain, Host, HostSource, Origin, Port, Scheme, Source,
};

/// The page an observation is judged from when no page of the app is known: an https page
/// of an origin no observed URL has. `'self'` allows nothing from it; a source without a
/// scheme allows https (CSP3 §6.7.2.8 step 2.2.3).
const JUDGING_PAGE: &str = "https://judging-page.invalid/";

/// Tuning for [`suggest`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SuggestOptions {
    /// How many distinct subdomains of one registrable domain (same scheme and port) must
    /// appear before they are folded into `scheme://*.domain`. Default 3.
    pub wildcard_threshold: usize,
    /// The least [reach](super::Observation::reach) a destination needs to be proposed.
    /// Default [`DEFAULT_MIN_REACH`] (2).
    pub min_reach: u64,
    /// The most sources added; past it, the destinations of least reach are left out.
    /// Default 50.
    pub max_additions: usize,
    /// Today's enforced list: what it blocks is never proposed.
    pub enforced: Option<ConnectSrc>,
    /// The app's document origins, to judge `'self'` from (the inventory's observations
    /// bring their own). Without any, an https page of another origin.
    pub pages: Vec<Origin>,
    /// What production refuses is not proposed in [`Environment::Production`] (the
    /// default).
    pub environment: Environment,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            wildcard_threshold: 3,
            min_reach: DEFAULT_MIN_REACH,
            max_additions: 50,
            enforced: None,
            pages: Vec::new(),
            environment: Environment::Production,
        }
    }
}

impl SuggestOptions {
    /// Sets [`wildcard_threshold`](Self::wildcard_threshold); 0 or 1 are treated as 2
    /// (one host never becomes a wildcard).
    pub fn wildcard_threshold(mut self, n: usize) -> Self {
        self.wildcard_threshold = n.max(2);
        self
    }
    /// Sets [`min_reach`](Self::min_reach) (at least 1).
    pub fn min_reach(mut self, n: u64) -> Self {
        self.min_reach = n.max(1);
        self
    }
    /// Sets [`max_additions`](Self::max_additions).
    pub fn max_additions(mut self, n: usize) -> Self {
        self.max_additions = n;
        self
    }
    /// Sets [`enforced`](Self::enforced).
    pub fn enforced(mut self, list: ConnectSrc) -> Self {
        self.enforced = Some(list);
        self
    }
    /// Sets [`pages`](Self::pages).
    pub fn pages(mut self, pages: impl IntoIterator<Item = Origin>) -> Self {
        self.pages = pages.into_iter().collect();
        self
    }
    /// Sets [`environment`](Self::environment).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }
}

/// One source to add, and what speaks for it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Addition {
    /// The source to add.
    pub source: Source,
    /// How many reports named what it allows.
    pub reports: u64,
    /// The distinct hosts it covers (one, unless it is a wildcard).
    pub hosts: Vec<String>,
    /// The widest reach among them (distinct client networks).
    pub networks: u64,
    /// Page loads that used them, from the inventory (re-weighted; 0 without one).
    pub page_loads: f64,
}

impl fmt::Display for Addition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.reports;
        let r = if n == 1 { "report" } else { "reports" };
        write!(f, "add {}: {n} {r}", self.source)?;
        if self.hosts.len() > 1 {
            write!(
                f,
                " across {} subdomains ({})",
                self.hosts.len(),
                self.hosts.join(", ")
            )?;
        }
        let nets = if self.networks == 1 {
            "network"
        } else {
            "networks"
        };
        write!(f, ", from {} client {nets}", self.networks)?;
        if self.page_loads > 0.0 {
            write!(
                f,
                ", used by ≈ {} page loads",
                self.page_loads.round() as u64
            )?;
        }
        Ok(())
    }
}

/// Why a destination was not proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why {
    /// The candidate already allows it in every engine.
    AlreadyAllowed,
    /// Today's enforced list blocks it in every engine: the site lives without it.
    BlockedByEnforced,
    /// Seen from fewer client networks (or page loads) than the minimum.
    BelowReach {
        /// Its reach.
        reach: u64,
        /// The minimum.
        min: u64,
    },
    /// Production refuses the source it would need (the audit code, e.g. `insecure-scheme`).
    RefusedInProduction(&'static str),
    /// No source can name its host (an IPv6 literal, a name with `_`).
    NotNameable,
    /// Past [`SuggestOptions::max_additions`].
    OverCap,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::AlreadyAllowed => f.write_str("already allowed"),
            Why::BlockedByEnforced => {
                f.write_str("the enforced list blocks it: the site already works without it")
            }
            Why::BelowReach { reach, min } => write!(
                f,
                "seen from {reach} client network(s) or page load(s), fewer than {min}: one client's word"
            ),
            Why::RefusedInProduction(code) => write!(f, "production refuses it ({code})"),
            Why::NotNameable => f.write_str("no source can name its host"),
            Why::OverCap => f.write_str("past the most sources to add"),
        }
    }
}

/// A destination not proposed, and why.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NotAdded {
    /// The destination.
    pub destination: Origin,
    /// Why.
    pub why: Why,
    /// How many reports named it.
    pub reports: u64,
    /// Its reach.
    pub reach: u64,
}

/// The result of [`suggest`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Suggestion {
    /// The current list with the additions, minimized (sources another covers left out).
    pub policy: ConnectSrc,
    /// What was added, in the order it appears in `policy`.
    pub additions: Vec<Addition>,
    /// Each destination not proposed, and why, widest reach first.
    pub not_added: Vec<NotAdded>,
    /// Sources of the current list or of the additions left out as covered by another.
    pub covered: Vec<(Source, Source)>,
}

impl Suggestion {
    /// Reports not learned from: the destinations not added, already allowed included.
    pub fn skipped(&self) -> u64 {
        self.not_added.iter().map(|n| n.reports).sum()
    }
}

/// `(scheme, port)`: the part of an origin a wildcard must share.
type Family = (String, Option<u16>);

/// What one host brings: reports, reach, page loads.
#[derive(Debug, Clone, Copy, Default)]
struct Weight {
    reports: u64,
    networks: u64,
    reach: u64,
    page_loads: f64,
}

/// Whether `list` allows `destination` from every one of `pages` in every engine.
fn allowed_everywhere(list: &ConnectSrc, pages: &[Url], destination: &Origin) -> bool {
    pages.iter().all(|p| {
        list.check_target(p, destination.as_str())
            .is_ok_and(|v| v.everywhere())
    })
}

/// Whether `list` blocks `destination` from every one of `pages` in every browser engine.
fn blocked_everywhere(list: &ConnectSrc, pages: &[Url], destination: &Origin) -> bool {
    pages.iter().all(|p| {
        list.check_target(p, destination.as_str()).is_ok_and(|v| {
            [Engine::Chromium, Engine::Firefox, Engine::WebKit]
                .iter()
                .all(|e| !v.get(*e))
        })
    })
}

/// The wildcards `enforced` has that `current` dropped, as `(family, base)`: a rollout
/// removed them on purpose, so they are never put back.
fn dropped_wildcards(current: &ConnectSrc, enforced: Option<&ConnectSrc>) -> Vec<(Family, String)> {
    let Some(enforced) = enforced else {
        return Vec::new();
    };
    enforced
        .sources()
        .iter()
        .filter(|s| !current.sources().contains(s))
        .filter_map(|s| {
            let h = s.as_host()?;
            let Host::Subdomains(base) = h.host() else {
                return None;
            };
            let scheme = h.scheme().map_or("https", |s| s.as_str()).to_owned();
            let port = match h.port() {
                Some(Port::Number(p)) => Some(p),
                _ => None,
            };
            Some(((scheme, port), base.to_string()))
        })
        .collect()
}

/// Suggests the sources `current` lacks for the observed destinations; see the module docs
/// for what is never proposed.
pub fn suggest(
    current: &ConnectSrc,
    observed: impl IntoIterator<Item = Observation>,
    options: &SuggestOptions,
) -> Suggestion {
    let threshold = options.wildcard_threshold.max(2);
    let judging: Vec<Url> = Url::parse(JUDGING_PAGE).into_iter().collect();
    let app_pages: Vec<Url> = options
        .pages
        .iter()
        .filter_map(|o| Url::parse(&format!("{o}/")).ok())
        .collect();
    let no_wildcard = dropped_wildcards(current, options.enforced.as_ref());
    let mut not_added = Vec::new();
    // (scheme, port) -> registrable domain (or the host itself) -> host -> weight
    let mut groups: BTreeMap<Family, BTreeMap<String, BTreeMap<String, Weight>>> = BTreeMap::new();
    for o in by_destination(observed) {
        let reach = o.reach();
        let mut refuse = |why| {
            not_added.push(NotAdded {
                destination: o.destination.clone(),
                why,
                reports: o.reports,
                reach,
            })
        };
        let Some((scheme, host, port)) = nameable(&o.destination) else {
            refuse(Why::NotNameable);
            continue;
        };
        let mut pages: Vec<Url> = app_pages.clone();
        pages.extend(
            o.documents
                .iter()
                .filter_map(|d| Url::parse(&format!("{d}/")).ok()),
        );
        let known = !pages.is_empty();
        if !known {
            pages = judging.clone();
        }
        if allowed_everywhere(current, &pages, &o.destination) {
            refuse(Why::AlreadyAllowed);
            continue;
        }
        if let Some(enforced) = &options.enforced {
            // Without a page of the app, 'self' in the enforced list may be what allows it
            // (the candidate dropped 'self'): that cannot be decided, so it is kept.
            let undecidable = !known
                && enforced.sources().contains(&Source::SelfOrigin)
                && !current.sources().contains(&Source::SelfOrigin);
            if !undecidable && blocked_everywhere(enforced, &pages, &o.destination) {
                refuse(Why::BlockedByEnforced);
                continue;
            }
        }
        if reach < options.min_reach {
            refuse(Why::BelowReach {
                reach,
                min: options.min_reach,
            });
            continue;
        }
        if options.environment == Environment::Production
            && matches!(scheme.as_str(), "http" | "ws")
            && !is_loopback_host(&host)
        {
            refuse(Why::RefusedInProduction("insecure-scheme"));
            continue;
        }
        let reg = registrable(&host).unwrap_or_else(|| host.clone());
        let w = groups
            .entry((scheme, port))
            .or_default()
            .entry(reg)
            .or_default()
            .entry(host)
            .or_default();
        w.reports += o.reports;
        w.networks = w.networks.max(o.networks);
        w.reach = w.reach.max(reach);
        w.page_loads += o.page_loads;
    }

    let mut additions = Vec::new();
    for ((scheme, port), domains) in groups {
        let family = (scheme.clone(), port);
        for (reg, mut hosts) in domains {
            // The tightest wildcards: repeatedly the deepest parent (never above the
            // registrable domain) with enough distinct subdomains seen under it, unless the
            // rollout dropped that very wildcard.
            let allowed_bases = |base: &str| {
                !no_wildcard
                    .iter()
                    .any(|(f, b)| *f == family && (b == base || is_strict_subdomain(base, b)))
            };
            while let Some(base) = deepest_parent(hosts.keys(), &reg, threshold, &allowed_bases) {
                let under: Vec<String> = hosts
                    .keys()
                    .filter(|h| is_strict_subdomain(h, &base))
                    .cloned()
                    .collect();
                let mut sum = Weight::default();
                for w in under.iter().filter_map(|h| hosts.remove(h)) {
                    sum.reports += w.reports;
                    sum.networks = sum.networks.max(w.networks);
                    sum.reach = sum.reach.max(w.reach);
                    sum.page_loads += w.page_loads;
                }
                additions.push((
                    sum.reach,
                    Addition {
                        source: host_source(&scheme, Host::Subdomains(base.as_str().into()), port),
                        reports: sum.reports,
                        hosts: under,
                        networks: sum.networks,
                        page_loads: sum.page_loads,
                    },
                ));
            }
            for (h, w) in &hosts {
                additions.push((w.reach, exact(&scheme, h, port, w)));
            }
        }
    }
    // The cap keeps the widest reach.
    additions.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| b.1.page_loads.total_cmp(&a.1.page_loads))
            .then_with(|| b.1.reports.cmp(&a.1.reports))
    });
    for (reach, a) in additions.split_off(options.max_additions.min(additions.len())) {
        for h in &a.hosts {
            if let Some(o) = Origin::of_url(&format!(
                "{}://{h}{}",
                a.source
                    .as_host()
                    .and_then(HostSource::scheme)
                    .map_or("https", Scheme::as_str),
                a.source
                    .as_host()
                    .and_then(HostSource::port)
                    .map_or(String::new(), |p| format!(":{p}"))
            )) {
                not_added.push(NotAdded {
                    destination: o,
                    why: Why::OverCap,
                    reports: a.reports,
                    reach,
                });
            }
        }
    }
    let mut additions: Vec<Addition> = additions.into_iter().map(|(_, a)| a).collect();
    // Stable, readable order: by scheme family (https before wss), then host.
    additions.sort_by_key(|a| (scheme_rank(&a.source), a.source.to_string()));
    // `'none'` stands only alone: a list that gains a source drops it.
    let kept = current
        .sources()
        .iter()
        .filter(|s| additions.is_empty() || **s != Source::None);
    let mut builder = ConnectSrc::builder().sources(kept.cloned());
    for a in &additions {
        builder = builder.source(a.source.clone());
    }
    let whole = builder.build().unwrap_or_else(|_| current.clone());
    let minimized = minimize(&whole, &[Engine::Chromium, Engine::Firefox, Engine::WebKit]);
    additions.retain(|a| minimized.list.sources().contains(&a.source));
    not_added.sort_by(|a, b| {
        b.reach
            .cmp(&a.reach)
            .then_with(|| b.reports.cmp(&a.reports))
    });
    Suggestion {
        policy: minimized.list,
        additions,
        not_added,
        covered: minimized.dropped,
    }
}

fn scheme_rank(s: &Source) -> u8 {
    match s.as_host().and_then(HostSource::scheme).map(Scheme::as_str) {
        Some("https") => 0,
        Some("http") => 1,
        Some("wss") => 2,
        _ => 3,
    }
}

fn exact(scheme: &str, host: &str, port: Option<u16>, w: &Weight) -> Addition {
    Addition {
        source: host_source(scheme, Host::Name(host.into()), port),
        reports: w.reports,
        hosts: vec![host.to_owned()],
        networks: w.networks,
        page_loads: w.page_loads,
    }
}

fn host_source(scheme: &str, host: Host, port: Option<u16>) -> Source {
    Source::Host(HostSource {
        scheme: Some(Scheme::new(scheme).unwrap_or_else(|_| Scheme::https())),
        host,
        port: port.map(Port::Number),
        path: None,
    })
}

/// The parent domain with the most labels, at or below `reg`, that has at least
/// `threshold` of `hosts` strictly under it and that `allowed` admits as a wildcard base.
fn deepest_parent<'h>(
    hosts: impl Iterator<Item = &'h String>,
    reg: &str,
    threshold: usize,
    allowed: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut counts: BTreeMap<&'h str, usize> = BTreeMap::new();
    for h in hosts {
        let mut rest = h.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if parent.len() < reg.len() {
                break;
            }
            *counts.entry(parent).or_default() += 1;
            rest = parent;
        }
    }
    counts
        .into_iter()
        .filter(|(p, n)| *n >= threshold && allowed(p))
        .max_by_key(|(p, _)| (p.matches('.').count(), std::cmp::Reverse(*p)))
        .map(|(p, _)| p.to_owned())
}

/// `(scheme, host, explicit non-default port)` of an origin whose host the CSP grammar can
/// name (a domain or an IPv4 address; not an IPv6 literal, not a name with `_`).
fn nameable(o: &Origin) -> Option<(String, String, Option<u16>)> {
    o.as_str().parse::<Source>().ok()?;
    Some((o.scheme().to_owned(), o.host().to_owned(), o.port()))
}

/// The registrable domain (eTLD+1) by the Public Suffix List, private section included;
/// `None` for IP addresses, single labels and public suffixes themselves.
fn registrable(host: &str) -> Option<String> {
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return None;
    }
    let d = psl::domain_str(host)?;
    // psl treats unknown TLDs as one-label suffixes; require a dot so "localhost" stays alone.
    d.contains('.').then(|| d.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Suggests from `urls`, each seen once from two client networks; those without an
    /// origin never reach `suggest` (the summary sets them aside) and are counted as
    /// not-nameable here, as the CLI reports them.
    fn run(current: &str, urls: &[&str]) -> Suggestion {
        let (origins, none): (Vec<_>, Vec<_>) = urls
            .iter()
            .map(|u| Origin::of_url(u))
            .partition(Option::is_some);
        let mut s = suggest(
            &current.parse().unwrap(),
            origins
                .into_iter()
                .flatten()
                .map(|o| Observation::new(o, 1, 2)),
            &SuggestOptions::default(),
        );
        for _ in none {
            s.not_added.push(NotAdded {
                destination: Origin::of_url("https://not-an-origin.invalid").unwrap(),
                why: Why::NotNameable,
                reports: 1,
                reach: 0,
            });
        }
        s
    }

    #[test]
    fn origins_not_paths_and_default_ports_dropped() {
        let s = run(
            "'self'",
            &[
                "https://api.x.com:443/v1/a?token=1",
                "https://api.x.com/v2",
                "http://localhost:3000/x",
            ],
        );
        assert_eq!(
            s.policy.value(),
            "'self' https://api.x.com http://localhost:3000"
        );
        assert_eq!(s.additions[0].reports, 2);
    }

    #[test]
    fn wildcard_only_with_enough_subdomains() {
        let two = run("'self'", &["https://a.x.com", "https://b.x.com"]);
        assert_eq!(two.policy.value(), "'self' https://a.x.com https://b.x.com");
        let three = run(
            "'self'",
            &[
                "https://a.x.com",
                "https://b.x.com",
                "https://c.x.com/p",
                "https://x.com",
            ],
        );
        assert_eq!(three.policy.value(), "'self' https://*.x.com https://x.com");
        assert!(
            three.additions[0].to_string().contains("3 subdomains"),
            "{}",
            three.additions[0]
        );
        // The deepest parent with enough subdomains, not the registrable domain.
        let cdn = run(
            "'self'",
            &[
                "https://a.cdn.x.com",
                "https://b.cdn.x.com",
                "https://c.cdn.x.com",
                "https://api.x.com",
            ],
        );
        assert_eq!(
            cdn.policy.value(),
            "'self' https://*.cdn.x.com https://api.x.com"
        );
        // A parent that was itself seen stays exact next to the wildcard.
        let p = run(
            "'self'",
            &[
                "https://cdn.x.com",
                "https://a.cdn.x.com",
                "https://b.cdn.x.com",
                "https://c.cdn.x.com",
            ],
        );
        assert_eq!(
            p.policy.value(),
            "'self' https://*.cdn.x.com https://cdn.x.com"
        );
        // Suffix look-alikes are not subdomains: "evilx.com" is not under "x.com".
        let look = run(
            "'self'",
            &[
                "https://a.evilx.com",
                "https://b.evilx.com",
                "https://c.evilx.com",
                "https://x.com",
            ],
        );
        assert_eq!(
            look.policy.value(),
            "'self' https://*.evilx.com https://x.com"
        );
    }

    #[test]
    fn never_a_wildcard_over_a_public_suffix() {
        let s = run(
            "'self'",
            &[
                "https://a.github.io",
                "https://b.github.io",
                "https://c.github.io",
                "https://a.co.uk",
                "https://b.co.uk",
                "https://c.co.uk",
            ],
        );
        assert!(!s.policy.value().contains('*'), "{}", s.policy);
        let s = run(
            "'self'",
            &[
                "https://a.b.example.co.uk",
                "https://c.example.co.uk",
                "https://d.example.co.uk",
            ],
        );
        assert_eq!(s.policy.value(), "'self' https://*.example.co.uk");
    }

    #[test]
    fn schemes_and_ports_are_separate_families() {
        let s = run(
            "'self'",
            &[
                "wss://a.x.com",
                "https://b.x.com",
                "https://c.x.com:8443",
                "ws://localhost:3000",
            ],
        );
        assert_eq!(
            s.policy.value(),
            "'self' https://b.x.com https://c.x.com:8443 wss://a.x.com ws://localhost:3000"
        );
    }

    #[test]
    fn noise_and_keywords_skipped_and_counted() {
        let s = run(
            "'self'",
            &[
                "chrome-extension://abc/x",
                "moz-extension://a/b",
                "inline",
                "eval",
                "data",
                "blob:https://x.com/1",
                "https://[::1]/",
                "https://a_b.x.com/",
                "about:blank",
                "",
            ],
        );
        assert!(s.additions.is_empty());
        assert_eq!(s.skipped(), 10);
    }

    #[test]
    fn already_allowed_is_not_suggested() {
        let s = run(
            "'self' https://api.x.com https://*.cdn.x.com wss://ws.x.com:*",
            &[
                "https://api.x.com/a",
                "https://a.cdn.x.com/",
                "wss://ws.x.com:9000/",
                "https://new.x.com",
            ],
        );
        assert_eq!(
            s.policy.value(),
            "'self' https://api.x.com https://*.cdn.x.com wss://ws.x.com:* https://new.x.com"
        );
        assert_eq!(s.skipped(), 3);
    }

    fn seen(url: &str, networks: u64) -> Observation {
        Observation::new(Origin::of_url(url).unwrap(), 3, networks)
    }

    #[test]
    fn never_what_the_enforced_list_blocks_nor_one_clients_word() {
        let enforced: ConnectSrc = "'self' https://*.x.com http://localhost:5173"
            .parse()
            .unwrap();
        let candidate: ConnectSrc = "'self' https://api.x.com".parse().unwrap();
        let s = suggest(
            &candidate,
            [
                seen("https://evil.example/exfil", 9),  // enforced blocks it
                seen("https://cdn.x.com/a", 5),         // enforced allows it: needed
                seen("https://one.x.com/a", 1),         // one network
                seen("http://plain.x.com/a", 5),        // production refuses http://
                seen("http://localhost:5173/@vite", 5), // loopback: allowed in production
            ],
            &SuggestOptions::default().enforced(enforced),
        );
        assert_eq!(
            s.policy.value(),
            "'self' https://api.x.com https://cdn.x.com http://localhost:5173"
        );
        let why = |d: &str| {
            s.not_added
                .iter()
                .find(|n| n.destination.as_str() == d)
                .map(|n| n.why.clone())
        };
        assert_eq!(why("https://evil.example"), Some(Why::BlockedByEnforced));
        assert_eq!(
            why("https://one.x.com"),
            Some(Why::BelowReach { reach: 1, min: 2 })
        );
        assert_eq!(
            why("http://plain.x.com"),
            Some(Why::BlockedByEnforced),
            "https://*.x.com does not allow http://"
        );
        let s = suggest(
            &candidate,
            [seen("http://plain.x.com", 5)],
            &SuggestOptions::default(),
        );
        assert_eq!(
            s.not_added[0].why,
            Why::RefusedInProduction("insecure-scheme")
        );
        let dev = SuggestOptions::default().environment(crate::policy::Environment::Development);
        let s = suggest(&candidate, [seen("http://plain.x.com", 5)], &dev);
        assert_eq!(
            s.policy.value(),
            "'self' https://api.x.com http://plain.x.com"
        );
        // With the minimum at one network, that one is learned.
        let s = suggest(
            &candidate,
            [seen("https://one.x.com", 1)],
            &SuggestOptions::default().min_reach(1),
        );
        assert_eq!(
            s.policy.value(),
            "'self' https://api.x.com https://one.x.com"
        );
    }

    #[test]
    fn the_wildcard_a_rollout_removed_is_not_put_back_and_the_result_is_minimized() {
        let enforced: ConnectSrc = "'self' https://*.x.com".parse().unwrap();
        let candidate: ConnectSrc = "'self' https://api.x.com".parse().unwrap();
        let subs = [
            "https://a.x.com",
            "https://b.x.com",
            "https://c.x.com",
            "https://d.x.com",
        ];
        let s = suggest(
            &candidate,
            subs.iter().map(|u| seen(u, 4)),
            &SuggestOptions::default().enforced(enforced),
        );
        assert!(!s.policy.value().contains('*'), "{}", s.policy);
        assert_eq!(s.additions.len(), 4);
        // Without that history, the four fold into a wildcard, and the exact source the
        // wildcard covers is dropped from the result.
        let s = suggest(
            &candidate,
            subs.iter().map(|u| seen(u, 4)),
            &SuggestOptions::default(),
        );
        assert_eq!(s.policy.value(), "'self' https://*.x.com");
        assert_eq!(s.covered.len(), 1, "{:?}", s.covered);
    }

    #[test]
    fn a_cap_keeps_the_widest_reach() {
        let many: Vec<Observation> = (0..30)
            .map(|i| seen(&format!("https://h{i}.example{i}.com"), 2 + i))
            .collect();
        let s = suggest(
            &"'self'".parse().unwrap(),
            many,
            &SuggestOptions::default().max_additions(5),
        );
        assert_eq!(s.additions.len(), 5);
        assert!(
            s.additions.iter().all(|a| a.networks >= 27),
            "{:?}",
            s.additions
        );
        assert_eq!(
            s.not_added.iter().filter(|n| n.why == Why::OverCap).count(),
            25
        );
    }
}

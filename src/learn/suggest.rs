//! [`suggest`]: from the connections a report-only policy would have blocked, the sources
//! to add before enforcing it.
//!
//! Suggestions are origins, never paths (paths are not a security boundary, CSP3 §7.6). A
//! subdomain wildcard is suggested only when several subdomains of one registrable domain
//! appear (the Public Suffix List decides what is registrable, so `*.github.io` or
//! `*.co.uk` are never suggested). Observations are destinations ([`Origin`]s): what has
//! none (extension schemes, `inline`, `data`) never reaches here.
//!
//! ```
//! use connect_src::learn::{suggest, Observation, SuggestOptions};
//! use connect_src::source::Origin;
//! use connect_src::ConnectSrc;
//!
//! let current: ConnectSrc = "'self'".parse()?;
//! let seen = |url: &str, n| Observation::new(Origin::of_url(url).unwrap(), n);
//! let s = suggest(
//!     &current,
//!     [
//!         seen("https://api.stripe.com/v1/charges?amount=1", 4),
//!         seen("wss://ws.myapp.com/socket", 2),
//!         seen("https://a.cdn.example.net/x.js", 1),
//!         seen("https://b.cdn.example.net/y.js", 1),
//!         seen("https://c.cdn.example.net/z.js", 1),
//!     ],
//!     &SuggestOptions::default(),
//! );
//! assert_eq!(
//!     s.policy.value(),
//!     "'self' https://*.cdn.example.net https://api.stripe.com wss://ws.myapp.com"
//! );
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

use crate::policy::ConnectSrc;
use crate::source::{is_strict_subdomain, Host, HostSource, Origin, Port, Scheme, Source};

/// The page an observation is judged from when deciding whether `current` already allows
/// it: an https page of an origin no observed URL has, since summaries keep the document's
/// path, not its origin. `'self'` allows nothing from it; a source without a scheme allows
/// https (CSP3 §6.7.2.8 step 2.2.3).
const JUDGING_PAGE: &str = "https://judging-page.invalid/";

/// One destination pages connected to (or tried to), and how many violations named it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observation {
    /// Where the connection went.
    pub destination: Origin,
    /// How many violations named it.
    pub count: u64,
}

impl Observation {
    /// An observation of `destination`, seen `count` times.
    pub fn new(destination: Origin, count: u64) -> Self {
        Observation { destination, count }
    }
}

/// Tuning for [`suggest`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SuggestOptions {
    /// How many distinct subdomains of one registrable domain (same scheme and port) must
    /// appear before they are folded into `scheme://*.domain`. Default 3.
    pub wildcard_threshold: usize,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            wildcard_threshold: 3,
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
}

/// One source to add, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Addition {
    /// The source to add.
    pub source: Source,
    /// How many violations it would have allowed.
    pub count: u64,
    /// The distinct hosts it covers (one, unless it is a wildcard).
    pub hosts: Vec<String>,
}

impl fmt::Display for Addition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.count;
        let v = if n == 1 { "violation" } else { "violations" };
        if self.hosts.len() > 1 {
            write!(
                f,
                "add {}: {n} {v} across {} subdomains ({})",
                self.source,
                self.hosts.len(),
                self.hosts.join(", ")
            )
        } else {
            write!(f, "add {}: {n} {v}", self.source)
        }
    }
}

/// The result of [`suggest`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Suggestion {
    /// The current list followed by the additions.
    pub policy: ConnectSrc,
    /// What was added, in the order it appears in `policy`.
    pub additions: Vec<Addition>,
    /// Violations left out: already allowed by the list, or of a host no source can name
    /// (an IPv6 literal, a name with `_`).
    pub skipped: u64,
}

/// `(scheme, port)`: the part of an origin a wildcard must share.
type Family = (String, Option<u16>);

/// Suggests the sources `current` lacks for the observed blocked URLs. URLs `current`
/// already allows in every engine (asked of the [matcher](crate::matcher), from an https page
/// of another origin) are skipped and counted.
pub fn suggest(
    current: &ConnectSrc,
    observed: impl IntoIterator<Item = Observation>,
    options: &SuggestOptions,
) -> Suggestion {
    let threshold = options.wildcard_threshold.max(2);
    let page = Url::parse(JUDGING_PAGE).ok();
    let mut skipped = 0u64;
    // (scheme, port) -> registrable domain (or the host itself) -> host -> count
    let mut groups: BTreeMap<Family, BTreeMap<String, BTreeMap<String, u64>>> = BTreeMap::new();
    for o in observed {
        let Some((scheme, host, port)) = nameable(&o.destination) else {
            skipped += o.count;
            continue;
        };
        let allowed = page.as_ref().is_some_and(|p| {
            current
                .check_target(p, o.destination.as_str())
                .is_ok_and(|v| v.everywhere())
        });
        if allowed {
            skipped += o.count;
            continue;
        }
        let reg = registrable(&host).unwrap_or_else(|| host.clone());
        *groups
            .entry((scheme, port))
            .or_default()
            .entry(reg)
            .or_default()
            .entry(host)
            .or_default() += o.count;
    }

    let mut additions = Vec::new();
    for ((scheme, port), domains) in groups {
        for (reg, mut hosts) in domains {
            // The tightest wildcards: repeatedly the deepest parent (never above the
            // registrable domain) with enough distinct subdomains seen under it.
            while let Some(base) = deepest_parent(hosts.keys(), &reg, threshold) {
                let under: Vec<String> = hosts
                    .keys()
                    .filter(|h| is_strict_subdomain(h, &base))
                    .cloned()
                    .collect();
                let count = under.iter().filter_map(|h| hosts.remove(h)).sum();
                additions.push(Addition {
                    source: host_source(&scheme, Host::Subdomains(base.as_str().into()), port),
                    count,
                    hosts: under,
                });
            }
            for (h, c) in &hosts {
                additions.push(exact(&scheme, h, port, *c));
            }
        }
    }
    // Stable, readable order: by scheme family (https before wss), then host.
    additions.sort_by_key(|a| (scheme_rank(&a.source), a.source.to_string()));
    let mut builder = ConnectSrc::builder().sources(current.sources().iter().cloned());
    for a in &additions {
        builder = builder.source(a.source.clone());
    }
    let policy = builder.build().unwrap_or_else(|_| current.clone());
    Suggestion {
        policy,
        additions,
        skipped,
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

fn exact(scheme: &str, host: &str, port: Option<u16>, count: u64) -> Addition {
    Addition {
        source: host_source(scheme, Host::Name(host.into()), port),
        count,
        hosts: vec![host.to_owned()],
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
/// `threshold` of `hosts` strictly under it.
fn deepest_parent<'h>(
    hosts: impl Iterator<Item = &'h String>,
    reg: &str,
    threshold: usize,
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
        .filter(|(_, n)| *n >= threshold)
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

    /// Suggests from `urls`; those without an origin never reach `suggest` (the summary
    /// sets them aside) and are counted in `skipped` here, as the CLI reports them.
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
                .map(|o| Observation::new(o, 1)),
            &SuggestOptions::default(),
        );
        s.skipped += none.len() as u64;
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
        assert_eq!(s.additions[0].count, 2);
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
        assert_eq!(s.skipped, 10);
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
        assert_eq!(s.skipped, 3);
    }
}

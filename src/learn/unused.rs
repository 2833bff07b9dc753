//! [`unused`]: which sources of an enforced list real pages used, from the inventory.

use url::Url;

use super::{DestinationUse, DEFAULT_MIN_REACH};
use crate::matcher::Engine;
use crate::policy::ConnectSrc;
use crate::source::{Origin, Source};

/// One source of the list and what real pages reached through it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SourceUse {
    /// The source.
    pub source: Source,
    /// Whether any destination of enough reach matched it.
    pub used: bool,
    /// Page loads that used it, re-weighted by their sample rate: here the largest count
    /// of one of its destinations (a lower bound; a store's
    /// [`page_loads_reaching`](crate::report::store::ReportStore::page_loads_reaching)
    /// counts each page load once across them all).
    pub page_loads: f64,
    /// The destinations of enough reach it matched, most page loads first.
    pub destinations: Vec<Origin>,
    /// Destinations it matched that were seen below the minimum reach: shown, but they do
    /// not make it used (one client's reports cannot keep a source alive).
    pub below_reach: Vec<Origin>,
    /// Another source of the list that matches every destination this one matched: this
    /// one is redundant in practice (`None` when unused, or needed).
    pub redundant_with: Option<Source>,
}

/// Whether `source` alone allows `destination` from `page` in any of `engines`. Paths are
/// set aside (a path-source is judged by its origin): the inventory keeps destinations'
/// origins, and paths are no boundary after a redirect (CSP3 §6.7.2.12).
fn matches(source: &Source, page: &Url, destination: &Origin, engines: &[Engine]) -> bool {
    let source = match source.as_host() {
        Some(h) if h.path().is_some() => Source::Host(h.without_path()),
        _ => source.clone(),
    };
    let Ok(one) = ConnectSrc::builder().source(source).build() else {
        return false;
    };
    one.check_target(page, destination.as_str())
        .is_ok_and(|v| engines.iter().any(|e| v.get(*e)))
}

/// For each source of `enforced`, the destinations real pages reached through it since the
/// inventory's window began (`uses`, from a store's
/// [`inventory`](crate::report::store::ReportStore::inventory)), asked of the matcher per
/// engine: a destination matches a source when the source allows it, from the page's own
/// origin, in an engine that reported it (every browser engine when none is known). A
/// destination counts only at `min_reach` ([`DEFAULT_MIN_REACH`] if 0): distinct client
/// networks, and distinct sampled page loads, both at least that.
///
/// A source that matched no such destination is unused: nothing real pages did in the
/// window needed it. Keywords count like any source (`'self'` is used when pages reached
/// their own origin); `'none'` matches nothing.
///
/// ```
/// use connect_src::learn::{unused, DestinationUse};
/// # use connect_src::source::Origin;
/// # use connect_src::matcher::Engine;
/// # fn seen(destination: &str, page: &str) -> DestinationUse {
/// #     connect_src::learn::test_use(destination, page, 5, 3)
/// # }
/// use connect_src::ConnectSrc;
///
/// let list: ConnectSrc = "'self' https://api.example.com https://old-partner.example".parse()?;
/// let uses = [
///     seen("https://app.example", "https://app.example"),
///     seen("https://api.example.com", "https://app.example"),
/// ];
/// let report = unused(&list, &uses, 2);
/// let by_source = |s: &str| report.iter().find(|u| u.source.to_string() == s).unwrap();
/// assert!(by_source("'self'").used);
/// assert!(by_source("https://api.example.com").used);
/// assert!(!by_source("https://old-partner.example").used);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn unused(enforced: &ConnectSrc, uses: &[DestinationUse], min_reach: u64) -> Vec<SourceUse> {
    let min = if min_reach == 0 {
        DEFAULT_MIN_REACH
    } else {
        min_reach
    };
    let browsers = [Engine::Chromium, Engine::Firefox, Engine::WebKit];
    let sources = enforced.sources();
    let mut out: Vec<SourceUse> = sources
        .iter()
        .map(|s| SourceUse {
            source: s.clone(),
            used: false,
            page_loads: 0.0,
            destinations: Vec::new(),
            below_reach: Vec::new(),
            redundant_with: None,
        })
        .collect();
    // For each destination of enough reach, which sources matched it.
    let mut matched_by: Vec<Vec<usize>> = Vec::new();
    let mut sorted: Vec<&DestinationUse> = uses.iter().collect();
    sorted.sort_by(|a, b| b.page_loads.total_cmp(&a.page_loads));
    for u in sorted {
        let page = u
            .document_origin
            .as_ref()
            .and_then(|d| Url::parse(&format!("{d}/")).ok())
            .or_else(|| Url::parse("https://judging-page.invalid/").ok());
        let Some(page) = page else { continue };
        let engines: &[Engine] = if u.engines.is_empty() {
            &browsers
        } else {
            &u.engines
        };
        let reach = u.networks.min(u.sampled_page_loads);
        let mut by = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            if !matches(s, &page, &u.destination, engines) {
                continue;
            }
            let o = &mut out[i];
            if reach >= min {
                by.push(i);
                o.used = true;
                o.page_loads = o.page_loads.max(u.page_loads);
                if !o.destinations.contains(&u.destination) {
                    o.destinations.push(u.destination.clone());
                }
            } else if !o.below_reach.contains(&u.destination) {
                o.below_reach.push(u.destination.clone());
            }
        }
        if !by.is_empty() {
            matched_by.push(by);
        }
    }
    // Redundant: another source matched every destination this one matched, and is not
    // itself called redundant with this one (a wildcard and the one host under it pages
    // used match the same destinations: only one of the two may go).
    let mut redundant: Vec<Option<usize>> = vec![None; out.len()];
    for i in 0..out.len() {
        if !out[i].used {
            continue;
        }
        let mine: Vec<&Vec<usize>> = matched_by.iter().filter(|m| m.contains(&i)).collect();
        redundant[i] = (0..out.len()).find(|&j| {
            j != i && out[j].used && redundant[j] != Some(i) && mine.iter().all(|m| m.contains(&j))
        });
    }
    for (o, r) in out.iter_mut().zip(redundant) {
        o.redundant_with = r.map(|j| sources[j].clone());
    }
    out
}

/// A [`DestinationUse`] for examples and tests: `destination` used from `page` by
/// `page_loads` sampled page loads (at rate 1) from `networks` client networks, in every
/// browser engine.
#[doc(hidden)]
pub fn test_use(destination: &str, page: &str, page_loads: u64, networks: u64) -> DestinationUse {
    let now = std::time::SystemTime::now();
    DestinationUse {
        destination: Origin::of_url(destination).expect("an origin"),
        document_origin: Origin::of_url(page),
        sampled_page_loads: page_loads,
        page_loads: page_loads as f64,
        networks,
        engines: Vec::new(),
        reports: page_loads,
        first_seen: now,
        last_seen: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_unused_redundant_and_below_reach() {
        let list: ConnectSrc =
            "'self' https://*.cdn.example https://a.cdn.example wss://ws.example https://gone.example"
                .parse()
                .unwrap();
        let uses = [
            test_use("https://a.cdn.example", "https://app.example", 10, 4),
            test_use("wss://ws.example", "https://app.example", 3, 2),
            // One network: shown, never enough to keep a source.
            test_use("https://gone.example", "https://app.example", 40, 1),
        ];
        let r = unused(&list, &uses, 2);
        let get = |s: &str| r.iter().find(|u| u.source.to_string() == s).unwrap();
        assert!(!get("'self'").used, "no page reached its own origin");
        let wild = get("https://*.cdn.example");
        assert!(wild.used);
        assert_eq!(
            wild.redundant_with
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("https://a.cdn.example")
        );
        assert!(get("wss://ws.example").used);
        assert_eq!(get("wss://ws.example").page_loads, 3.0);
        let gone = get("https://gone.example");
        assert!(!gone.used);
        assert_eq!(gone.below_reach.len(), 1);
        // Each matched only a.cdn.example: one of the two may go, never both.
        assert!(get("https://a.cdn.example").redundant_with.is_none());
        // https:// never matches wss:// in browsers: the wildcard does not cover ws.example.
        assert!(!wild.destinations.iter().any(|d| d.scheme() == "wss"));
    }

    #[test]
    fn path_sources_are_judged_by_their_origin_and_self_by_the_page() {
        let list: ConnectSrc = "'self' https://api.example/v1/".parse().unwrap();
        let uses = [
            test_use("https://api.example", "https://app.example", 5, 5),
            test_use("https://app.example", "https://app.example", 5, 5),
        ];
        let r = unused(&list, &uses, 2);
        assert!(r.iter().all(|u| u.used), "{r:#?}");
    }
}

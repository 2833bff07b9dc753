//! Drop sources that another source in the list already covers, for the engines you care
//! about, decided by the matcher itself.
//!
//! A source A is dropped for B when, on every probe page and every probe target built from
//! the shapes of A and B (their schemes and the scheme families, hosts and a fresh host,
//! subdomains under wildcards, IP addresses, their ports, a default and a fresh port, their
//! paths and the paths just inside and outside them), whenever A matches, B matches too in
//! every chosen engine. secure_headers shipped a string-based version that dropped
//! `wss://ws.x.com` under `*.x.com` and had to remove it; here that pair is kept, because
//! the matcher says `https://*.x.com` does not allow `wss://ws.x.com` anywhere.
//!
//! ```
//! use connect_src::minimize::minimize;
//! use connect_src::matcher::Engine;
//! use connect_src::ConnectSrc;
//!
//! let list: ConnectSrc =
//!     "'self' https://*.x.com https://api.x.com wss://ws.x.com https://x.com:443".parse()?;
//! let m = minimize(&list, &Engine::ALL);
//! assert_eq!(m.list.value(), "'self' https://*.x.com wss://ws.x.com https://x.com:443");
//! assert_eq!(m.dropped[0].0.to_string(), "https://api.x.com");
//! # Ok::<_, connect_src::PolicyError>(())
//! ```

use std::collections::BTreeSet;

use url::Url;

use crate::matcher::Engine;
use crate::policy::ConnectSrc;
use crate::source::{Host, Port, Source};

/// The result of [`minimize`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Minimized {
    /// The list without covered sources, in the original order.
    pub list: ConnectSrc,
    /// Each dropped source and the source that covers it.
    pub dropped: Vec<(Source, Source)>,
}

/// Removes every source covered by another kept source, for all of `engines`.
pub fn minimize(list: &ConnectSrc, engines: &[Engine]) -> Minimized {
    let sources = list.sources();
    let mut kept: Vec<bool> = vec![true; sources.len()];
    let mut dropped = Vec::new();
    for i in 0..sources.len() {
        let cover = (0..sources.len()).find(|&j| {
            j != i
                && kept[j]
                && covers(&sources[j], &sources[i], engines)
                // Two sources that cover each other: keep the first one.
                && (j < i || !covers(&sources[i], &sources[j], engines))
        });
        if let Some(j) = cover {
            kept[i] = false;
            dropped.push((sources[i].clone(), sources[j].clone()));
        }
    }
    let remaining: Vec<Source> = sources
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(s, _)| s.clone())
        .collect();
    let list = ConnectSrc::builder()
        .sources(remaining)
        .build()
        .unwrap_or_else(|_| list.clone());
    Minimized { list, dropped }
}

/// Whether `b` allows everything `a` allows, on every probe, in every engine.
pub fn covers(b: &Source, a: &Source, engines: &[Engine]) -> bool {
    if a == b {
        return true;
    }
    if *a == Source::None {
        return true;
    }
    // It allows no URL, so no probe sees it; what it allows (WebTransport certificate
    // hashes) only it allows.
    if *a == Source::UnsafeWebTransportHashes {
        return false;
    }
    let one = |s: &Source| ConnectSrc::from_trusted(vec![s.clone()]);
    let (la, lb) = (one(a), one(b));
    let probes = Probes::new(&[a, b]);
    for page in &probes.pages {
        for target in &probes.targets {
            let va = la.check_url(page, target);
            let vb = lb.check_url(page, target);
            if engines.iter().any(|&e| va.get(e) && !vb.get(e)) {
                return false;
            }
        }
    }
    true
}

struct Probes {
    pages: Vec<Url>,
    targets: Vec<Url>,
}

impl Probes {
    fn new(sources: &[&Source]) -> Probes {
        let mut schemes: BTreeSet<String> = ["http", "https", "ws", "wss", "ftp"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut hosts: BTreeSet<String> = ["probe.test", "zz.probe.test", "127.0.0.1", "10.9.8.7"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut ports: BTreeSet<Option<u16>> = [None, Some(80), Some(443), Some(4567)]
            .into_iter()
            .collect();
        let mut paths: BTreeSet<String> = ["/", "/zz", "/zz/"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for s in sources {
            match s {
                Source::Scheme(sc) => {
                    schemes.insert(sc.as_str().to_owned());
                }
                Source::Host(h) => {
                    if let Some(sc) = h.scheme() {
                        schemes.insert(sc.as_str().to_owned());
                    }
                    match h.host() {
                        Host::Any => {}
                        Host::Name(n) => {
                            hosts.insert(n.to_string());
                            hosts.insert(format!("sub.{n}"));
                        }
                        Host::Subdomains(d) => {
                            hosts.insert(d.to_string());
                            hosts.insert(format!("sub.{d}"));
                            hosts.insert(format!("a.sub.{d}"));
                            // A look-alike that is not a subdomain.
                            hosts.insert(format!("x{d}"));
                        }
                    }
                    if let Some(Port::Number(p)) = h.port() {
                        ports.insert(Some(p));
                        ports.insert(Some(p.wrapping_add(1).max(1)));
                    }
                    if let Some(p) = h.path() {
                        let base = p.trim_end_matches('/');
                        for q in [
                            p.to_owned(),
                            base.to_owned(),
                            format!("{base}/"),
                            format!("{base}/x"),
                            format!("{base}x"),
                        ] {
                            if q.starts_with('/') {
                                paths.insert(q);
                            }
                        }
                    }
                }
                Source::SelfOrigin | Source::None | Source::UnsafeWebTransportHashes => {}
            }
        }
        let mut targets = Vec::new();
        let mut pages = Vec::new();
        for scheme in &schemes {
            for host in &hosts {
                for port in &ports {
                    let authority = match port {
                        Some(p) => format!("{host}:{p}"),
                        None => host.clone(),
                    };
                    for path in &paths {
                        if let Ok(u) = Url::parse(&format!("{scheme}://{authority}{path}")) {
                            targets.push(u);
                        }
                    }
                    if matches!(scheme.as_str(), "http" | "https") {
                        if let Ok(u) = Url::parse(&format!("{scheme}://{authority}/")) {
                            pages.push(u);
                        }
                    }
                }
            }
        }
        for t in ["data:text/plain,x", "blob:https://probe.test/1"] {
            if let Ok(u) = Url::parse(t) {
                targets.push(u);
            }
        }
        Probes { pages, targets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min(list: &str) -> String {
        minimize(&list.parse().unwrap(), &Engine::ALL).list.value()
    }

    #[test]
    fn covered_sources_go() {
        assert_eq!(min("https://*.x.com https://a.x.com"), "https://*.x.com");
        assert_eq!(min("https: https://a.x.com"), "https:");
        assert_eq!(
            min("https://a.x.com https://a.x.com/api/"),
            "https://a.x.com"
        );
        assert_eq!(
            min("https://a.x.com:* https://a.x.com:8443"),
            "https://a.x.com:*"
        );
        assert_eq!(min("http://a.x.com https://a.x.com"), "http://a.x.com");
    }

    #[test]
    fn the_secure_headers_bug_is_not_repeated() {
        assert_eq!(
            min("https://*.x.com wss://ws.x.com"),
            "https://*.x.com wss://ws.x.com"
        );
        assert_eq!(min("https: wss:"), "https: wss:");
        assert_eq!(
            min("https://*.x.com https://x.com"),
            "https://*.x.com https://x.com"
        );
    }

    #[test]
    fn engine_set_matters() {
        // Browsers let `*` reach WebSockets; the spec text does not.
        let l: ConnectSrc = "* wss://ws.x.com".parse().unwrap();
        assert_eq!(
            minimize(&l, &[Engine::Chromium, Engine::Firefox])
                .list
                .value(),
            "*"
        );
        assert_eq!(minimize(&l, &Engine::ALL).list.value(), "* wss://ws.x.com");
    }

    #[test]
    fn the_webtransport_keyword_is_never_covered() {
        assert_eq!(
            min("'self' 'unsafe-webtransport-hashes' https:"),
            "'self' 'unsafe-webtransport-hashes' https:"
        );
    }

    #[test]
    fn equivalent_sources_keep_the_first() {
        assert_eq!(min("https://x.com:443 https://x.com"), "https://x.com:443");
    }
}

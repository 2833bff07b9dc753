//! CSP3 §6.7.2.8–12 for a `connect-src` list, each step cited, per engine: the one
//! algorithm every verdict in the crate comes from.

use super::engine::{Engine, Rules, ALL_ENGINES, RULE_SETS};
use super::target::Target;
use super::Verdict;
use crate::source::{default_port, is_strict_subdomain, Host, HostSource, Port, Source};

/// Does any source of the list allow the URL, per engine? (An empty list allows nothing.)
/// Each source is looked at once: a host that cannot match in any engine is skipped before
/// the per-engine steps run.
pub(super) fn verdict(sources: &[Source], page: &Target<'_>, url: &Target<'_>) -> Verdict {
    Verdict {
        allowed: allowed_in(sources, page, url, ALL_ENGINES, Ask::FIRST),
    }
}

/// Which request of a redirect chain a URL is: the spec's "redirect count" is 0 for the
/// first and more for every later one, and only the first is held to path-parts
/// (§6.7.2.8 step 2.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hop {
    /// The URL the page asked for (redirect count 0).
    First,
    /// A URL a redirect led to (redirect count above 0).
    Redirected,
}

/// How a URL is asked about: its place in a redirect chain, and whether the list belongs to
/// a policy that holds `upgrade-insecure-requests` in an engine that lets such a policy
/// match the URL as written against the sources of its upgrade
/// ([`Rules::uir_relaxes_own_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ask {
    pub(super) hop: Hop,
    pub(super) uir_relaxed: bool,
}

impl Ask {
    /// The first URL of a chain, no relaxation.
    pub(super) const FIRST: Ask = Ask {
        hop: Hop::First,
        uir_relaxed: false,
    };

    /// The `i`th URL of a chain (0: the first), no relaxation.
    pub(super) fn hop(i: usize) -> Ask {
        Ask {
            hop: if i == 0 { Hop::First } else { Hop::Redirected },
            uir_relaxed: false,
        }
    }
}

/// [`verdict`] for the engines of `engines` (a mask of [`Engine::bit`]s) only, for the URL
/// asked about as `ask` says: the bits of those that allow the URL.
pub(super) fn allowed_in(
    sources: &[Source],
    page: &Target<'_>,
    url: &Target<'_>,
    engines: u8,
    ask: Ask,
) -> u8 {
    let mut allowed = 0u8;
    for s in sources {
        if allowed == engines {
            break;
        }
        if let (Source::Host(h), Some(host), false) = (s, url.host, url.is_ip) {
            // §6.7.2.10 for a domain is the same in every engine: reject early.
            if !host_part_match(h.host(), host, false, Engine::Spec.rules()) {
                continue;
            }
        }
        for (bits, rules) in RULE_SETS {
            if engines & bits == bits && allowed & bits != bits && matches(s, page, url, ask, rules)
            {
                allowed |= bits;
            }
        }
    }
    allowed
}

/// The engines of `engines` that allow every URL of a redirect chain (`hops[0]` first) by
/// every list (each policy's, §6.8.3 runs them all).
pub(super) fn allowed_chain<'s>(
    lists: impl Iterator<Item = &'s [Source]> + Clone,
    page: &Target<'_>,
    hops: &[Target<'_>],
    engines: u8,
) -> u8 {
    let mut ok = engines;
    for (i, t) in hops.iter().enumerate() {
        for list in lists.clone() {
            ok &= allowed_in(list, page, t, ok, Ask::hop(i));
        }
    }
    ok
}

fn is_http(s: &str) -> bool {
    s == "http" || s == "https"
}

/// §6.7.2.8 Does url match expression in origin with redirect count.
fn matches(expr: &Source, origin: &Target<'_>, url: &Target<'_>, ask: Ask, r: &Rules) -> bool {
    // Engines: a policy holding upgrade-insecure-requests lets http/ws URLs match the
    // sources of their upgrade (the URL as written, its port kept).
    let relaxed = ask.uir_relaxed && r.uir_relaxes_own_policy;
    match expr {
        Source::None | Source::UnsafeWebTransportHashes => false,
        // Step 1: "*" matches http(s) URLs and URLs of the page's own scheme.
        s if s.is_star() => {
            is_http(url.scheme)
                || url.scheme == origin.scheme
                || (r.star_matches_websocket && matches!(url.scheme, "ws" | "wss"))
        }
        // Step 2.1: a scheme-source matches by §6.7.2.9.
        Source::Scheme(s) => scheme_part_match(s.as_str(), url.scheme, relaxed, r).is_some(),
        // Step 2.2: host-source.
        Source::Host(h) => host_source_match(h, origin, url, ask.hop, relaxed, r),
        // Step 3: 'self'.
        Source::SelfOrigin => self_match(origin, url, relaxed, r),
    }
}

/// The result of a scheme-part match: same scheme, or an upgrade to a more secure one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeMatch {
    Exact,
    Upgrade,
}

/// §6.7.2.9 scheme-part match (A = the expression's scheme, B = the URL's); `relaxed`: in
/// a policy holding upgrade-insecure-requests, in an engine that relaxes it.
fn scheme_part_match(a: &str, b: &str, relaxed: bool, r: &Rules) -> Option<SchemeMatch> {
    // Step 1: an ASCII case-insensitive match (both sides are lower-case here).
    if a == b {
        return Some(SchemeMatch::Exact);
    }
    // Engines: the URL as written matches the scheme of its upgrade.
    if relaxed && matches!((a, b), ("https", "http") | ("wss", "ws")) {
        return Some(SchemeMatch::Exact);
    }
    match (a, b) {
        // Step 2: http → https.
        ("http", "https") => Some(SchemeMatch::Upgrade),
        // Step 3: ws → wss (and, in the text only, ws → http / https).
        ("ws", "wss") => Some(SchemeMatch::Upgrade),
        ("ws", "http") if !r.scheme_families => Some(SchemeMatch::Exact),
        ("ws", "https") if !r.scheme_families => Some(SchemeMatch::Upgrade),
        // Step 4: wss → https (text only).
        ("wss", "https") if !r.scheme_families => Some(SchemeMatch::Exact),
        // Step 5.
        _ => None,
    }
}

/// §6.7.2.8 step 2.2, for a host-source.
fn host_source_match(
    h: &HostSource,
    origin: &Target<'_>,
    url: &Target<'_>,
    hop: Hop,
    relaxed: bool,
    r: &Rules,
) -> bool {
    // Step 2.2.1: a URL without a host never matches.
    let Some(url_host) = url.host else {
        return false;
    };
    // Steps 2.2.2–2.2.3: the expression's scheme, or the page's when it has none.
    let scheme = match h.scheme() {
        Some(s) => scheme_part_match(s.as_str(), url.scheme, relaxed, r),
        None => scheme_part_match(origin.scheme, url.scheme, relaxed, r),
    };
    let Some(scheme) = scheme else {
        return false;
    };
    // Engines: a source host ending in "." matches nothing.
    if r.trailing_dot_source_matches_nothing
        && matches!(h.host(), Host::Name(n) | Host::Subdomains(n) if n.ends_with('.'))
    {
        return false;
    }
    // Step 2.2.4: host-part match (§6.7.2.10).
    if !host_part_match(h.host(), url_host, url.is_ip, r) {
        return false;
    }
    // Step 2.2.5: port-part match (§6.7.2.11).
    let source_scheme = h.scheme().map_or(origin.scheme, |s| s.as_str());
    if !port_part_match(
        h.port(),
        source_scheme,
        h.scheme().is_some(),
        url,
        scheme,
        r,
    ) {
        return false;
    }
    // Step 2.2.6: path-part match (§6.7.2.12), only when the redirect count is 0.
    match (h.path(), hop) {
        (Some(p), Hop::First) => path_part_match(p, url.path),
        _ => true,
    }
}

/// §6.7.2.10 host-part match (pattern, host).
fn host_part_match(pattern: &Host, host: &str, host_is_ip: bool, r: &Rules) -> bool {
    // Step 1: an IP address is not a domain and never matches (engines: it matches as
    // text, by the steps below).
    if host_is_ip && !r.ip_literals_match {
        return false;
    }
    match pattern {
        // Step 2: "*" matches any domain.
        Host::Any => true,
        // Step 3: "*.example.com" matches strict subdomains only.
        Host::Subdomains(suffix) => is_strict_subdomain(host, suffix),
        // Steps 4–5: otherwise, an ASCII case-insensitive match (both lower-case here).
        Host::Name(n) => **n == *host,
    }
}

/// §6.7.2.11 port-part match (input, url), plus the engines' port-80 upgrade rules.
fn port_part_match(
    input: Option<Port>,
    source_scheme: &str,
    scheme_written: bool,
    url: &Target<'_>,
    scheme: SchemeMatch,
    r: &Rules,
) -> bool {
    let n = match input {
        // Step 3: "*" matches any port.
        Some(Port::Any) => return true,
        Some(Port::Number(n)) => Some(n),
        None => None,
    };
    // Steps 2 and 5: the same port (no port in the source and none in the URL included).
    if n == url.port {
        // Chromium: an explicit port does not survive a scheme upgrade unless it is the new
        // scheme's default (which a parsed URL never carries explicitly): `http://h:8001`
        // and `http://h:80` do not allow `https://h:8001` / `https://h:80`.
        if r.upgrade_drops_explicit_port && scheme == SchemeMatch::Upgrade && n.is_some() {
            return false;
        }
        return true;
    }
    // Step 6: a URL on its scheme's default port matches the source's default port.
    if url.port.is_none() && n.is_some() && n == default_port(url.scheme) {
        return true;
    }
    // Engines: a source without a port keeps its own scheme's default port after an upgrade.
    if r.portless_source_keeps_its_default_port
        && n.is_none()
        && url.port.is_some()
        && url.port == default_port(source_scheme)
    {
        return true;
    }
    // Engines: port 80 (written, or the source scheme's default) reaches 443; in WebKit
    // an implied port 80 only from a source that writes `http`.
    let source_port = n.or_else(|| default_port(source_scheme));
    let implied_not_http = n.is_none() && !(scheme_written && source_scheme == "http");
    if source_port == Some(80)
        && url.effective_port() == Some(443)
        && !(implied_not_http && r.implied_port_80_needs_http)
    {
        return match scheme {
            SchemeMatch::Upgrade => r.port_80_upgrades_to_443,
            SchemeMatch::Exact => r.port_80_matches_443,
        };
    }
    false
}

/// §6.7.2.12 path-part match (path A = the expression's, path B = the URL's).
fn path_part_match(a: &str, b: &str) -> bool {
    // Step 1: an empty path matches everything (the parser never stores one).
    if a.is_empty() {
        return true;
    }
    // Step 2: "/" matches an empty path (and, by step 7–8, every path).
    if a == "/" && b.is_empty() {
        return true;
    }
    // Step 3: a trailing "/" means a prefix match by segments.
    let exact = !a.ends_with('/');
    // Step 4: split on "/".
    let mut list_a: Vec<&str> = a.split('/').collect();
    let list_b: Vec<&str> = b.split('/').collect();
    // Steps 5–6.
    if list_a.len() > list_b.len() || (exact && list_a.len() != list_b.len()) {
        return false;
    }
    // Step 7: drop the empty last piece of a prefix pattern.
    if !exact {
        list_a.pop();
    }
    // Step 8: compare percent-decoded pieces.
    list_a
        .iter()
        .zip(&list_b)
        .all(|(x, y)| x == y || percent_decode(x) == percent_decode(y))
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// §6.7.2.8 step 3: does 'self' (the page's origin) match the URL? `relaxed`: an http URL
/// from an https page counts as https (the scheme of its upgrade); ws stays ws.
fn self_match(origin: &Target<'_>, url: &Target<'_>, relaxed: bool, r: &Rules) -> bool {
    if relaxed && origin.scheme == "https" && url.scheme == "http" {
        let as_upgraded = Target {
            scheme: "https",
            ..*url
        };
        return self_match(origin, &as_upgraded, false, r);
    }
    let (Some(oh), Some(uh)) = (origin.host, url.host) else {
        return false;
    };
    if oh != uh {
        return false;
    }
    // Step 3.1: same origin.
    if origin.scheme == url.scheme && origin.port == url.port {
        return true;
    }
    // Step 3.2: same host, the same port or both on their schemes' default ports (a URL's
    // port is null exactly when it is the default), and a secure URL scheme or an http page
    // reaching http/ws.
    let secure = matches!(url.scheme, "https" | "wss");
    if origin.port == url.port
        && (secure || (origin.scheme == "http" && matches!(url.scheme, "http" | "ws")))
    {
        return true;
    }
    // Engines, from an http page on port 80: port 80 reaches an explicit 443 without an
    // upgrade, or stays explicit through one.
    if origin.scheme == "http" && origin.port.is_none() {
        if !secure && url.port == Some(443) {
            return r.port_80_matches_443;
        }
        if secure && url.port == Some(80) {
            return r.self_upgrade_keeps_port_80;
        }
    }
    false
}

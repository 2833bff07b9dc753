//! Will this connection be allowed? CSP3 §6.7.2.8–12 for a `connect-src` list, per engine.
//!
//! The spec's text and what browsers ship differ (see the README's "Browser differences",
//! measured in headless Chromium and Firefox ESR by `tests/browsers.rs`). Each engine's
//! departures from the text are data in one [`Rules`] value, not scattered conditions.
//!
//! ```
//! use connect_src::ConnectSrc;
//!
//! let list: ConnectSrc = "'self' https://api.myapp.com".parse()?;
//! let v = list.check("https://myapp.com/", "wss://api.myapp.com/socket")?;
//! assert!(!v.everywhere()); // https:// never allows wss://: add wss://api.myapp.com
//! let v = list.check("https://myapp.com/", "wss://myapp.com/socket")?;
//! assert!(v.everywhere()); // 'self' covers wss to the page's own host
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! [`BrowserPolicy`] answers for any policy text a browser accepts, parsed the way browsers
//! parse it, because you may want to check the header you already ship:
//!
//! ```
//! use connect_src::matcher::BrowserPolicy;
//!
//! let p = BrowserPolicy::from_header("default-src 'self' https: 'unsafe-inline'; img-src *");
//! assert_eq!(p.warnings().len(), 1); // 'unsafe-inline' means nothing for connections
//! let v = p.check("https://myapp.com/", "https://any.example/")?;
//! assert!(v.everywhere()); // default-src decides when there is no connect-src
//! # Ok::<_, connect_src::matcher::CheckError>(())
//! ```

use std::fmt;

use url::Url;

use crate::header::parse_header;
use crate::policy::ConnectSrc;
use crate::source::{
    default_port, is_strict_subdomain, Host, HostSource, Port, Source, SourceErrorKind,
};

/// A browser engine, or the specification's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// CSP3 as written (§6.7.2.8–12).
    Spec,
    /// Chromium (Chrome, Edge, Opera…), as measured in headless Chromium.
    Chromium,
    /// Firefox, as measured in Firefox ESR.
    Firefox,
    /// WebKit (Safari). It cannot be run here: its column follows the spec text.
    WebKit,
}

impl Engine {
    /// Every engine, in [`Verdict`] order.
    pub const ALL: [Engine; 4] = [
        Engine::Spec,
        Engine::Chromium,
        Engine::Firefox,
        Engine::WebKit,
    ];

    /// `spec`, `chromium`, `firefox` or `webkit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Spec => "spec",
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::WebKit => "webkit",
        }
    }

    /// The engine's departures from the spec text.
    pub fn rules(self) -> &'static Rules {
        let bit = self.bit();
        RULE_SETS
            .iter()
            .find(|(bits, _)| bits & bit != 0)
            .map_or(&SPEC, |(_, r)| *r)
    }

    /// This engine's bit in a verdict mask.
    const fn bit(self) -> u8 {
        match self {
            Engine::Spec => 0b0001,
            Engine::Chromium => 0b0010,
            Engine::Firefox => 0b0100,
            Engine::WebKit => 0b1000,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one engine departs from the spec text. Every field is `false` for the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rules {
    /// Schemes match within their family only: `ws:`/`wss:` sources never match http(s)
    /// URLs (the spec's §6.7.2.9 steps 3–4 let them), so only `'self'` and `*` reach a
    /// WebSocket without a ws/wss source.
    pub scheme_families: bool,
    /// `*` matches ws/wss URLs from any page (§6.7.2.8 step 1 only allows http(s) and the
    /// page's own scheme).
    pub star_matches_websocket: bool,
    /// IP-literal hosts match an identical IP-literal source (§6.7.2.10 step 1 says an IP
    /// never matches a host-part).
    pub ip_literals_match: bool,
    /// A source on port 80 matches a URL on port 443 after a scheme upgrade
    /// (`http://h:80` allows `https://h/`).
    pub port_80_upgrades_to_443: bool,
    /// A source on port 80, written or implied by its scheme, matches a URL on port 443
    /// without a scheme upgrade (`http://h:80` and `http://h` allow `http://h:443`).
    pub port_80_matches_443: bool,
    /// A scheme upgrade does not keep an explicit port: `http://h:8001` does not allow
    /// `https://h:8001`, nor `http://h:80` `https://h:80` (the spec allows both).
    pub upgrade_drops_explicit_port: bool,
}

const SPEC: Rules = Rules {
    scheme_families: false,
    star_matches_websocket: false,
    ip_literals_match: false,
    port_80_upgrades_to_443: false,
    port_80_matches_443: false,
    upgrade_drops_explicit_port: false,
};

const CHROMIUM: Rules = Rules {
    scheme_families: true,
    star_matches_websocket: true,
    ip_literals_match: true,
    port_80_upgrades_to_443: true,
    port_80_matches_443: false,
    upgrade_drops_explicit_port: true,
};

const FIREFOX: Rules = Rules {
    scheme_families: true,
    star_matches_websocket: true,
    ip_literals_match: true,
    port_80_upgrades_to_443: true,
    port_80_matches_443: true,
    upgrade_drops_explicit_port: false,
};

/// Whether a connection is allowed, per engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Verdict {
    /// By the CSP3 text.
    pub spec: bool,
    /// In Chromium.
    pub chromium: bool,
    /// In Firefox.
    pub firefox: bool,
    /// In WebKit (follows the spec text; not measured here).
    pub webkit: bool,
}

impl Verdict {
    /// Allowed by every engine and the spec.
    pub fn everywhere(&self) -> bool {
        self.spec && self.chromium && self.firefox && self.webkit
    }
    /// Allowed by none.
    pub fn nowhere(&self) -> bool {
        !(self.spec || self.chromium || self.firefox || self.webkit)
    }
    /// The verdict of one engine.
    pub fn get(&self, engine: Engine) -> bool {
        match engine {
            Engine::Spec => self.spec,
            Engine::Chromium => self.chromium,
            Engine::Firefox => self.firefox,
            Engine::WebKit => self.webkit,
        }
    }
    fn from_fn(mut f: impl FnMut(Engine) -> bool) -> Verdict {
        Verdict {
            spec: f(Engine::Spec),
            chromium: f(Engine::Chromium),
            firefox: f(Engine::Firefox),
            webkit: f(Engine::WebKit),
        }
    }
    fn and(self, o: Verdict) -> Verdict {
        Verdict {
            spec: self.spec && o.spec,
            chromium: self.chromium && o.chromium,
            firefox: self.firefox && o.firefox,
            webkit: self.webkit && o.webkit,
        }
    }
}

/// A page or target URL that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// The document URL is not an absolute URL.
    InvalidPage(String, url::ParseError),
    /// The target URL is not an absolute URL.
    InvalidTarget(String, url::ParseError),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::InvalidPage(u, e) => write!(f, "invalid page URL {u:?}: {e}"),
            CheckError::InvalidTarget(u, e) => write!(f, "invalid target URL {u:?}: {e}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Runs `f` on the URL's parts: read directly for plain URLs, parsed otherwise.
fn with_target<R>(
    text: &str,
    page: bool,
    f: impl FnOnce(&Target<'_>) -> R,
) -> Result<R, CheckError> {
    if let Some(t) = Target::simple(text) {
        return Ok(f(&t));
    }
    let url = parse_url(text, page)?;
    Ok(f(&Target::new(&url)))
}

fn parse_url(text: &str, page: bool) -> Result<Url, CheckError> {
    Url::parse(text).map_err(|e| {
        if page {
            CheckError::InvalidPage(text.to_owned(), e)
        } else {
            CheckError::InvalidTarget(text.to_owned(), e)
        }
    })
}

impl ConnectSrc {
    /// Whether `page` (the document's URL) may connect to `target`, per engine.
    pub fn check(&self, page: &str, target: &str) -> Result<Verdict, CheckError> {
        with_target(page, true, |p| {
            with_target(target, false, |t| verdict(self.sources(), p, t))
        })?
    }

    /// [`check`](Self::check) with parsed URLs.
    pub fn check_url(&self, page: &Url, target: &Url) -> Verdict {
        verdict(self.sources(), &Target::new(page), &Target::new(target))
    }

    /// [`check`](Self::check) for many targets from one page: parse the page once. Plain
    /// URLs are read without a full parse (with the same result, property-tested against
    /// `Url::parse`); anything else is parsed.
    pub fn check_target(&self, page: &Url, target: &str) -> Result<Verdict, CheckError> {
        let p = Target::new(page);
        if let Some(t) = Target::simple(target) {
            return Ok(verdict(self.sources(), &p, &t));
        }
        let url = parse_url(target, false)?;
        Ok(verdict(self.sources(), &p, &Target::new(&url)))
    }
}

/// A policy's connection rules as browsers read them: any text, with the sources a
/// browser would ignore dropped and named in [`warnings`](Self::warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPolicy {
    /// One source list per enforced policy; `None` where a policy has neither connect-src
    /// nor default-src (it allows every connection).
    lists: Vec<Option<Vec<Source>>>,
    warnings: Vec<String>,
}

impl BrowserPolicy {
    /// Parses a `connect-src` value (`'self' https://api.x.com`) as browsers do: keywords
    /// case-insensitive, unquoted `self` a host name, unknown keywords, nonces, hashes and
    /// malformed sources ignored, `'none'` ignored next to other sources.
    pub fn parse(directive_value: &str) -> BrowserPolicy {
        let mut warnings = Vec::new();
        let list = parse_list("connect-src", directive_value, &mut warnings);
        BrowserPolicy {
            lists: vec![Some(list)],
            warnings,
        }
    }

    /// Parses a whole `Content-Security-Policy` value: each policy's `connect-src`, or its
    /// `default-src` when it has none (§6.8.3); a policy with neither allows everything, and
    /// with several policies a connection must be allowed by all of them.
    pub fn from_header(header: &str) -> BrowserPolicy {
        let mut warnings = Vec::new();
        let lists = parse_header(header)
            .iter()
            .map(|p| {
                p.effective_connect_src()
                    .map(|(name, value)| parse_list(name, value, &mut warnings))
            })
            .collect();
        BrowserPolicy { lists, warnings }
    }

    /// What the browser would ignore, one sentence each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The effective source lists (`None`: that policy does not restrict connections).
    pub fn lists(&self) -> &[Option<Vec<Source>>] {
        &self.lists
    }

    /// Whether `page` may connect to `target`, per engine.
    pub fn check(&self, page: &str, target: &str) -> Result<Verdict, CheckError> {
        with_target(page, true, |p| {
            with_target(target, false, |t| self.verdict(p, t))
        })?
    }

    /// [`check`](Self::check) with parsed URLs.
    pub fn check_url(&self, page: &Url, target: &Url) -> Verdict {
        self.verdict(&Target::new(page), &Target::new(target))
    }

    fn verdict(&self, p: &Target<'_>, t: &Target<'_>) -> Verdict {
        let all = Verdict::from_fn(|_| true);
        self.lists.iter().fold(all, |v, list| match list {
            None => v,
            Some(sources) => v.and(verdict(sources, p, t)),
        })
    }
}

fn parse_list(directive: &str, value: &str, warnings: &mut Vec<String>) -> Vec<Source> {
    let mut out = Vec::new();
    let mut saw_none = false;
    for token in value.split_ascii_whitespace() {
        match token.parse::<Source>() {
            Ok(Source::None) => saw_none = true,
            Ok(s) => {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Err(e) => match e.kind() {
                // To a browser, unquoted `self` / `none` are host names.
                SourceErrorKind::UnquotedKeyword(_) => {
                    let name = token.to_ascii_lowercase();
                    warnings.push(format!(
                        "{directive}: `{token}` is unquoted, so browsers read it as a host name; did you mean '{name}'?"
                    ));
                    out.push(Source::Host(HostSource {
                        scheme: None,
                        host: Host::Name(name.into()),
                        port: None,
                        path: None,
                    }));
                }
                _ => warnings.push(format!("{directive}: ignored {e}")),
            },
        }
    }
    if saw_none && !out.is_empty() {
        warnings.push(format!(
            "{directive}: 'none' is ignored next to other sources"
        ));
    }
    out
}

/// The parts of a URL the algorithm reads, computed once per check.
/// Path bytes that `Url::parse` keeps as they are (RFC 3986 unreserved, sub-delims, `:@/`),
/// minus `%`, which the fast path leaves to the parser.
const PLAIN_PATH: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            );
        c += 1;
    }
    t
};

#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    scheme: &'a str,
    /// Lower-case domain or IPv4 text; `None` for hostless or IPv6 URLs.
    host: Option<&'a str>,
    is_ip: bool,
    /// The explicit port, `None` when the URL uses its scheme's default.
    port: Option<u16>,
    /// The serialized path (no query, no fragment).
    path: &'a str,
}

impl<'a> Target<'a> {
    fn new(url: &'a Url) -> Self {
        let (host, is_ip) = match url.host() {
            Some(url::Host::Domain(_)) => (url.host_str(), false),
            Some(url::Host::Ipv4(_)) => (url.host_str(), true),
            Some(url::Host::Ipv6(_)) => (url.host_str(), true),
            None => (None, false),
        };
        Target {
            scheme: url.scheme(),
            host,
            is_ip,
            port: url.port(),
            path: url.path(),
        }
    }

    /// The parts of a plain URL, read without a full parse, exactly as `Url::parse` would
    /// give them; `None` for anything not plainly simple (the caller then parses it):
    /// `http|https|ws|wss://` + a lower-case ASCII domain whose last label starts with a
    /// letter (so never an IPv4 form) and has no punycode label + an optional canonical port
    /// + a path of plain characters without `%`, `\` or dot segments.
    fn simple(text: &'a str) -> Option<Target<'a>> {
        let (scheme, rest) = ["https", "http", "wss", "ws"]
            .into_iter()
            .find_map(|s| Some((s, text.strip_prefix(s)?.strip_prefix("://")?)))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let mut labels = 0;
        for label in host.split('.') {
            let b = label.as_bytes();
            if b.is_empty()
                || b.len() > 63
                || b[0] == b'-'
                || b[b.len() - 1] == b'-'
                || label.starts_with("xn--")
                || !b
                    .iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            {
                return None;
            }
            labels += 1;
        }
        let last = host.rsplit('.').next()?;
        if labels == 0 || !last.as_bytes()[0].is_ascii_lowercase() {
            return None;
        }
        let port = match port {
            None => None,
            Some(p) => {
                if p.is_empty()
                    || p.len() > 5
                    || p.starts_with('0')
                    || !p.bytes().all(|c| c.is_ascii_digit())
                {
                    return None;
                }
                let n: u16 = p.parse().ok()?;
                (Some(n) != default_port(scheme)).then_some(n)
            }
        };
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let path = &tail[..path_end];
        let plain = path.bytes().all(|c| PLAIN_PATH[c as usize]);
        let dot_segment = path.split('/').any(|seg| seg == "." || seg == "..");
        if !plain || dot_segment {
            return None;
        }
        Some(Target {
            scheme,
            host: Some(host),
            is_ip: false,
            port,
            path: if path.is_empty() { "/" } else { path },
        })
    }

    fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme))
    }
}

/// The distinct rule sets, and which verdict bits each decides (WebKit follows the spec).
const ALL_ENGINES: u8 = 0b1111;

/// This is the one place that says which engine follows which rules: `Engine::rules` reads
/// it too.
const RULE_SETS: [(u8, &Rules); 3] = [
    (Engine::Spec.bit() | Engine::WebKit.bit(), &SPEC),
    (Engine::Chromium.bit(), &CHROMIUM),
    (Engine::Firefox.bit(), &FIREFOX),
];

/// Does any source of the list allow the URL, per engine? (An empty list allows nothing.)
/// Each source is looked at once: a host that cannot match in any engine is skipped before
/// the per-engine steps run.
fn verdict(sources: &[Source], page: &Target<'_>, url: &Target<'_>) -> Verdict {
    let mut allowed = 0u8;
    for s in sources {
        if allowed == ALL_ENGINES {
            break;
        }
        if let (Source::Host(h), Some(host), false) = (s, url.host, url.is_ip) {
            // §6.7.2.10 for a domain is the same in every engine: reject early.
            if !host_part_match(h.host(), host, false, &SPEC) {
                continue;
            }
        }
        for (bits, rules) in RULE_SETS {
            if allowed & bits != bits && matches(s, page, url, rules) {
                allowed |= bits;
            }
        }
    }
    Verdict {
        spec: allowed & Engine::Spec.bit() != 0,
        chromium: allowed & Engine::Chromium.bit() != 0,
        firefox: allowed & Engine::Firefox.bit() != 0,
        webkit: allowed & Engine::WebKit.bit() != 0,
    }
}

fn is_http(s: &str) -> bool {
    s == "http" || s == "https"
}

/// §6.7.2.8 Does url match expression in origin with redirect count (redirect count 0).
fn matches(expr: &Source, origin: &Target<'_>, url: &Target<'_>, r: &Rules) -> bool {
    match expr {
        Source::None => false,
        // Step 1: "*" matches http(s) URLs and URLs of the page's own scheme.
        s if s.is_star() => {
            is_http(url.scheme)
                || url.scheme == origin.scheme
                || (r.star_matches_websocket && matches!(url.scheme, "ws" | "wss"))
        }
        // Step 2.1: a scheme-source matches by §6.7.2.9.
        Source::Scheme(s) => scheme_part_match(s.as_str(), url.scheme, r).is_some(),
        // Step 2.2: host-source.
        Source::Host(h) => host_source_match(h, origin, url, r),
        // Step 3: 'self'.
        Source::SelfOrigin => self_match(origin, url),
    }
}

/// The result of a scheme-part match: same scheme, or an upgrade to a more secure one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeMatch {
    Exact,
    Upgrade,
}

/// §6.7.2.9 scheme-part match (A = the expression's scheme, B = the URL's).
fn scheme_part_match(a: &str, b: &str, r: &Rules) -> Option<SchemeMatch> {
    // Step 1: an ASCII case-insensitive match (both sides are lower-case here).
    if a == b {
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
fn host_source_match(h: &HostSource, origin: &Target<'_>, url: &Target<'_>, r: &Rules) -> bool {
    // Step 2.2.1: a URL without a host never matches.
    let Some(url_host) = url.host else {
        return false;
    };
    // Steps 2.2.2–2.2.3: the expression's scheme, or the page's when it has none.
    let scheme = match h.scheme() {
        Some(s) => scheme_part_match(s.as_str(), url.scheme, r),
        None => scheme_part_match(origin.scheme, url.scheme, r),
    };
    let Some(scheme) = scheme else {
        return false;
    };
    // Step 2.2.4: host-part match (§6.7.2.10).
    if !host_part_match(h.host(), url_host, url.is_ip, r) {
        return false;
    }
    // Step 2.2.5: port-part match (§6.7.2.11).
    let source_scheme = h.scheme().map_or(origin.scheme, |s| s.as_str());
    if !port_part_match(h.port(), source_scheme, url, scheme, r) {
        return false;
    }
    // Step 2.2.6: path-part match (§6.7.2.12), redirect count 0.
    match h.path() {
        Some(p) => path_part_match(p, url.path),
        None => true,
    }
}

/// §6.7.2.10 host-part match (pattern, host).
fn host_part_match(pattern: &Host, host: &str, host_is_ip: bool, r: &Rules) -> bool {
    // Step 1: an IP address is not a domain and never matches (engines: an identical
    // IP-literal source does).
    if host_is_ip {
        return r.ip_literals_match && matches!(pattern, Host::Name(n) if **n == *host);
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
    // Engines: port 80 (written, or the source scheme's default) reaches 443.
    let source_port = n.or_else(|| default_port(source_scheme));
    if source_port == Some(80) && url.effective_port() == Some(443) {
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

/// §6.7.2.8 step 3: does 'self' (the page's origin) match the URL?
fn self_match(origin: &Target<'_>, url: &Target<'_>) -> bool {
    let (Some(oh), Some(uh)) = (origin.host, url.host) else {
        return false;
    };
    // Step 3.1: same origin.
    if origin.scheme == url.scheme && oh == uh && origin.port == url.port {
        return true;
    }
    // Step 3.2: same host, the same port or both on their schemes' default ports (a URL's
    // port is null exactly when it is the default), and a secure URL scheme or an http page
    // reaching http/ws.
    oh == uh
        && origin.port == url.port
        && (matches!(url.scheme, "https" | "wss")
            || (origin.scheme == "http" && matches!(url.scheme, "http" | "ws")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (spec, chromium, firefox); the verdict table is tests/matcher_table.rs.
    fn t(list: &str, page: &str, target: &str) -> (bool, bool, bool) {
        let v = BrowserPolicy::parse(list).check(page, target).unwrap();
        (v.spec, v.chromium, v.firefox)
    }
    const ALL: (bool, bool, bool) = (true, true, true);
    const NONE: (bool, bool, bool) = (false, false, false);

    #[test]
    fn browser_parsing() {
        let p =
            BrowserPolicy::parse("'SELF' 'unsafe-inline' 'nonce-x' self 'none' https://a.com;x");
        assert_eq!(p.warnings().len(), 5, "{:?}", p.warnings());
        assert_eq!(t("self", "https://self/", "https://self/"), ALL);
        assert_eq!(t("'none'", "https://x.com/", "https://x.com/"), NONE);
        assert_eq!(t("'none' 'self'", "https://x.com/", "https://x.com/"), ALL);
        assert_eq!(t("", "https://x.com/", "https://x.com/"), NONE);
    }

    #[test]
    fn header_fallback_and_multiple_policies() {
        let h = |header: &str, target: &str| {
            BrowserPolicy::from_header(header)
                .check("https://x.com/", target)
                .unwrap()
                .everywhere()
        };
        assert!(h("default-src 'self'", "https://x.com/a"));
        assert!(!h("default-src 'self'", "https://y.com/a"));
        assert!(h(
            "default-src 'none'; connect-src https://y.com",
            "https://y.com/a"
        ));
        assert!(h("img-src 'none'", "https://y.com/a"));
        assert!(!h("connect-src *, connect-src 'self'", "https://y.com/a"));
        assert!(h("connect-src *, connect-src 'self'", "https://x.com/a"));
    }

    #[test]
    fn every_engine_has_exactly_one_rule_set() {
        let mut seen = 0u8;
        for (bits, _) in RULE_SETS {
            assert_eq!(seen & bits, 0, "an engine in two rule sets");
            seen |= bits;
        }
        assert_eq!(seen, ALL_ENGINES);
        assert_eq!(Engine::WebKit.rules(), &SPEC);
        assert_eq!(Engine::Chromium.rules(), &CHROMIUM);
        assert_eq!(Engine::Firefox.rules(), &FIREFOX);
    }

    #[test]
    fn fast_path_takes_plain_urls_only() {
        for ok in [
            "https://api.x.com/v1/a?q=1",
            "wss://ws.x.com:8443/s",
            "http://a.localhost:3000",
            "https://x.com:443/",
        ] {
            assert!(Target::simple(ok).is_some(), "{ok}");
        }
        for other in [
            "HTTPS://x.com/",
            "https://X.com/",
            "https://127.0.0.1/",
            "https://x.0x7f/",
            "https://xn--bcher-kva.example/",
            "https://u@x.com/",
            "https://x.com:080/",
            "https://x.com/a/../b",
            "https://x.com/a%2Fb",
            "https://x.com\\a",
            "https://bücher.example/",
            "https://x..com/",
            "https://[::1]/",
            "data:text/plain,x",
            " https://x.com/",
        ] {
            assert!(Target::simple(other).is_none(), "{other}");
        }
        assert_eq!(
            Target::simple("https://x.com:443").unwrap().port,
            None,
            "default port dropped, as Url does"
        );
        assert_eq!(Target::simple("https://x.com").unwrap().path, "/");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// The fast path agrees with `Url::parse` on everything it accepts.
        #[test]
        fn simple_targets_equal_url_parse(text in simple_like()) {
            if let Some(fast) = Target::simple(&text) {
                let url = Url::parse(&text).expect("the fast path accepted an invalid URL");
                proptest::prop_assert_eq!(fast, Target::new(&url), "{}", text);
            }
        }
    }

    fn simple_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let scheme = prop_oneof![
            Just("http://"),
            Just("https://"),
            Just("ws://"),
            Just("wss://"),
            Just("HTTP://"),
            Just("ftp://")
        ];
        let label = prop_oneof![
            "[a-z][a-z0-9-]{0,6}",
            "[0-9]{1,3}",
            Just("xn--bcher-kva".to_owned()),
            Just("0x7f".to_owned()),
            Just("A".to_owned()),
            Just("-a".to_owned()),
            Just("".to_owned()),
            Just("ü".to_owned()),
        ];
        let host = proptest::collection::vec(label, 1..4).prop_map(|v| v.join("."));
        let port = prop_oneof![
            Just(String::new()),
            Just(":80".to_owned()),
            Just(":443".to_owned()),
            Just(":".to_owned()),
            Just(":080".to_owned()),
            Just(":65536".to_owned()),
            "[:][0-9]{1,5}"
        ];
        let seg = prop_oneof![
            "[a-zA-Z0-9._~-]{0,5}",
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2e".to_owned()),
            Just("a b".to_owned()),
            Just("\\".to_owned()),
            Just("é".to_owned())
        ];
        let path = proptest::collection::vec(seg, 0..4).prop_map(|v| {
            if v.is_empty() {
                String::new()
            } else {
                format!("/{}", v.join("/"))
            }
        });
        let tail = prop_oneof![Just(""), Just("?q=1"), Just("#f"), Just("?a/../b#c")];
        (scheme, host, port, path, tail).prop_map(|(s, h, p, pa, t)| format!("{s}{h}{p}{pa}{t}"))
    }

    #[test]
    fn errors() {
        let l: ConnectSrc = "'self'".parse().unwrap();
        assert!(matches!(
            l.check("not a url", "https://x.com"),
            Err(CheckError::InvalidPage(..))
        ));
        assert!(matches!(
            l.check("https://x.com", "/relative"),
            Err(CheckError::InvalidTarget(..))
        ));
    }
}

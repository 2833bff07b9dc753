//! [`BrowserPolicy`]: policy text read the way browsers read it, delivered by header or
//! `<meta>`, with `upgrade-insecure-requests`, and asked about connections (redirects and
//! the API included).

use url::Url;

use super::algorithm::{self, Ask};
use super::allowlist::AllowlistPolicy;
use super::engine::{Engine, Judged, Rules};
use super::target::Target;
use super::{parse_hops, with_target, Api, CheckError, Connection, Verdict};
use crate::policy::text::{is_ascii_ws, policies, tokens, Directive};
use crate::source::{Host, HostSource, Source, SourceErrorKind};

/// A policy's connection rules as browsers read them: any text, each engine's reading of it
/// (CSP3 §2.2.1 for the spec, and the engines' measured departures: a control character
/// drops a directive, a `?query` in a source is ignored, a `,` in a `<meta>` splits it in
/// some engines, …), with what a browser would ignore named in
/// [`warnings`](Self::warnings).
///
/// Policies from several places (headers, `<meta>` elements) combine with
/// [`and`](Self::and): a connection must be allowed by every one of them, and an
/// `upgrade-insecure-requests` in any of them upgrades every request of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPolicy {
    /// The engines that read the text alike share one reading.
    readings: Vec<Reading>,
    warnings: Vec<String>,
    /// A `Connection-Allowlist` beside the CSP: Chromium's verdicts need it too.
    allowlist: Option<AllowlistPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    /// The engines ([`Engine::bit`]) that read the text this way.
    engines: u8,
    /// What they read.
    read: Read,
}

/// One engine's reading of everything delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Read {
    /// One source list per enforced policy; `None` where a policy has neither connect-src
    /// nor default-src (it allows every connection).
    lists: Vec<Option<Vec<Source>>>,
    /// Beside each list: its policy holds `upgrade-insecure-requests`.
    list_upgrades: Vec<bool>,
    /// An enforced policy holds `upgrade-insecure-requests`: the page's insecure requests
    /// policy is "Upgrade" (UIR §3.1), for every request.
    upgrade_insecure: bool,
}

impl Read {
    fn push(&mut self, p: PolicyRead) {
        self.lists.push(p.list);
        self.list_upgrades.push(p.upgrade_insecure);
        self.upgrade_insecure |= p.upgrade_insecure;
    }
}

/// How to read a report that names `url` as blocked, given that every engine names the URL
/// the page asked for, not the one a redirect led to (w3c/webappsec-csp#672: "an
/// intentional decision"); see [`BrowserPolicy::read_blocked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockedUrl {
    /// The engine blocks the URL itself (by at least one API that can request it): the
    /// report says what happened.
    Blocked,
    /// The engine allows the URL itself, but a redirect from it to a URL the policy blocks
    /// would be blocked and reported under this URL: a genuine report can read this way.
    AfterRedirect,
    /// The engine allows the URL, and no redirect from it could be blocked (a WebSocket,
    /// which follows none, or a policy that allows every URL a redirect can lead to): the
    /// report contradicts the policy.
    Allowed,
}

/// URLs no policy names, to ask whether a redirect from an allowed URL could be blocked:
/// an unresolvable name (RFC 6761 `.invalid`) over https and http, and a documentation
/// address (RFC 5737) on an odd port.
const REDIRECT_PROBES: [&str; 3] = [
    "https://redirect-probe.connect-src.invalid/",
    "http://redirect-probe.connect-src.invalid/",
    "http://192.0.2.1:1/",
];

impl BrowserPolicy {
    /// Parses a `connect-src` value (`'self' https://api.x.com`) as browsers do: keywords
    /// case-insensitive, unquoted `self` a host name, unknown keywords, nonces, hashes and
    /// malformed sources ignored, `'none'` ignored next to other sources; a value holding
    /// a non-ASCII character (or, in the engines, a control character) is ignored whole,
    /// so it restricts nothing.
    pub fn parse(directive_value: &str) -> BrowserPolicy {
        BrowserPolicy::read(|r, w| {
            let mut read = Read::default();
            read.push(PolicyRead {
                list: read_directive("connect-src", directive_value, r, w),
                upgrade_insecure: false,
            });
            read
        })
    }

    /// Parses a whole `Content-Security-Policy` value: each policy's `connect-src`, or its
    /// `default-src` when it has none (§6.8.3); a policy with neither allows everything, and
    /// with several policies a connection must be allowed by all of them. An
    /// `upgrade-insecure-requests` directive in any of them is kept (see
    /// [`check_connection`](Self::check_connection)).
    pub fn from_header(header: &str) -> BrowserPolicy {
        BrowserPolicy::read(|r, w| read_header(header, r, w))
    }

    /// Parses the `content` of a `<meta http-equiv="Content-Security-Policy">` in the
    /// document's `<head>`, as each engine reads it. Measured in the three engines
    /// (`tests/browsers.rs`): Chromium and WebKit split the content on `,` into several
    /// policies, as for a header; Firefox, like the HTML standard (which hands the content
    /// to "parse a serialized CSP" whole), reads one policy in which a `,` is part of a
    /// source. `report-uri`, `report-to`, `frame-ancestors` and `sandbox` mean nothing in
    /// a `<meta>` (CSP3 §3.3; named in the warnings); `upgrade-insecure-requests` works
    /// there.
    ///
    /// A `<meta http-equiv="Content-Security-Policy-Report-Only">`, or any policy `<meta>`
    /// outside `<head>`, is ignored by every engine (measured): do not pass those.
    ///
    /// ```
    /// use connect_src::matcher::{BrowserPolicy, Engine};
    ///
    /// let p = BrowserPolicy::from_meta("connect-src 'self', img-src *");
    /// let v = p.check("https://x.com/", "https://y.com/")?;
    /// assert!(!v.get(Engine::Chromium)); // two policies: connect-src 'self' decides
    /// assert!(v.get(Engine::Firefox)); // one policy: `'self',` `img-src` `*`, so * allows
    /// # Ok::<_, connect_src::matcher::CheckError>(())
    /// ```
    pub fn from_meta(content: &str) -> BrowserPolicy {
        let mut p = BrowserPolicy::read(|r, w| {
            if r.meta_comma_splits {
                read_header(content, r, w)
            } else {
                let mut read = Read::default();
                if let Some(p) = read_policy(content, r, w) {
                    read.push(p);
                }
                read
            }
        });
        let mut w = Warnings(std::mem::take(&mut p.warnings));
        if content.contains(',') {
            w.push(format!(
                "<meta> {content:?}: Chromium and WebKit read a `,` as the start of another \
                 policy; Firefox (and the HTML standard) read one policy in which it is part of \
                 a source"
            ));
        }
        for (_, d) in tokens(content) {
            for name in ["report-uri", "report-to", "frame-ancestors", "sandbox"] {
                if d.name.eq_ignore_ascii_case(name) {
                    w.push(format!(
                        "<meta>: {name} is ignored in a <meta> policy (CSP3 \u{a7}3.3): deliver \
                         it in a header"
                    ));
                }
            }
        }
        p.warnings = w.0;
        p
    }

    /// Every policy of `self` and of `other` at once, as when a page has a header and a
    /// `<meta>` (or several of each): a connection must be allowed by all of them, and an
    /// `upgrade-insecure-requests` in any of them applies to every request.
    ///
    /// ```
    /// use connect_src::matcher::BrowserPolicy;
    ///
    /// let p = BrowserPolicy::from_header("connect-src *")
    ///     .and(BrowserPolicy::from_meta("connect-src 'self'"));
    /// assert!(p.check("https://x.com/", "https://y.com/")?.nowhere());
    /// assert!(p.check("https://x.com/", "https://x.com/a")?.everywhere());
    /// # Ok::<_, connect_src::matcher::CheckError>(())
    /// ```
    #[must_use]
    pub fn and(self, other: BrowserPolicy) -> BrowserPolicy {
        let mut warnings = Warnings(self.warnings.clone());
        for w in &other.warnings {
            warnings.push(w.clone());
        }
        let mut readings: Vec<Reading> = Vec::new();
        for engine in Engine::ALL {
            let (a, b) = (self.read_of(engine), other.read_of(engine));
            let read = Read {
                lists: a.lists.iter().chain(&b.lists).cloned().collect(),
                list_upgrades: a
                    .list_upgrades
                    .iter()
                    .chain(&b.list_upgrades)
                    .copied()
                    .collect(),
                upgrade_insecure: a.upgrade_insecure || b.upgrade_insecure,
            };
            group(&mut readings, engine, read);
        }
        BrowserPolicy {
            readings,
            warnings: warnings.0,
            // Header lines join, and only the first list counts (measured).
            allowlist: self.allowlist.or(other.allowlist),
        }
    }

    /// The same policy with a `Connection-Allowlist` value beside it (Chromium 152+): a
    /// connection is then allowed in Chromium only when both allow it; Firefox and WebKit
    /// ignore the header (measured: `docs/engine-probe/connection-allowlist/FINDINGS.md`).
    /// What Chromium drops from the value is added to [`warnings`](Self::warnings).
    ///
    /// ```
    /// use connect_src::matcher::{BrowserPolicy, Engine};
    ///
    /// let p = BrowserPolicy::from_header("connect-src https:")
    ///     .with_connection_allowlist(r#"("https://api.x.com");redirects=allow"#);
    /// let v = p.check("https://x.com/", "https://cdn.x.com/a")?;
    /// assert!(!v.get(Engine::Chromium)); // the allowlist does not list it
    /// assert!(v.get(Engine::Firefox) && v.get(Engine::WebKit) && v.get(Engine::Spec));
    /// # Ok::<_, connect_src::matcher::CheckError>(())
    /// ```
    #[must_use]
    pub fn with_connection_allowlist(mut self, value: &str) -> BrowserPolicy {
        let a = AllowlistPolicy::parse(value);
        for w in a.warnings() {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        self.allowlist = Some(a);
        self
    }

    /// The `Connection-Allowlist` read beside the CSP, if any.
    pub fn connection_allowlist(&self) -> Option<&AllowlistPolicy> {
        self.allowlist.as_ref()
    }

    /// `verdict` with Chromium's bit cleared when the allowlist blocks the connection.
    fn with_allowlist(&self, v: Verdict, page: &Url, hops: &[Url]) -> Verdict {
        match &self.allowlist {
            Some(a) if !a.allows(page, hops) => Verdict {
                allowed: v.allowed & !Engine::Chromium.bit(),
            },
            _ => v,
        }
    }

    /// [`with_allowlist`](Self::with_allowlist) from text.
    fn with_allowlist_text(
        &self,
        v: Verdict,
        page: &str,
        hops: &[Url],
    ) -> Result<Verdict, CheckError> {
        if self.allowlist.is_none() {
            return Ok(v);
        }
        let page = super::parse_url(page, true)?;
        Ok(self.with_allowlist(v, &page, hops))
    }

    fn read(mut read: impl FnMut(&Rules, &mut Warnings) -> Read) -> BrowserPolicy {
        let mut warnings = Warnings::default();
        let mut readings: Vec<Reading> = Vec::new();
        for engine in Engine::ALL {
            let r = read(engine.rules(), &mut warnings);
            group(&mut readings, engine, r);
        }
        BrowserPolicy {
            readings,
            warnings: warnings.0,
            allowlist: None,
        }
    }

    fn read_of(&self, engine: Engine) -> &Read {
        static NOTHING: Read = Read {
            lists: Vec::new(),
            list_upgrades: Vec::new(),
            upgrade_insecure: false,
        };
        self.readings
            .iter()
            .find(|r| r.engines & engine.bit() != 0)
            .map_or(&NOTHING, |r| &r.read)
    }

    /// What a browser would ignore, one sentence each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The source lists `engine` enforces, one per policy (`None`: that policy does not
    /// restrict connections).
    pub fn lists(&self, engine: Engine) -> &[Option<Vec<Source>>] {
        &self.read_of(engine).lists
    }

    /// Whether an enforced policy holds `upgrade-insecure-requests` for `engine`.
    pub fn upgrades_insecure_requests(&self, engine: Engine) -> bool {
        self.read_of(engine).upgrade_insecure
    }

    /// Whether `page` may connect to `target`, per engine, by the API the URL implies
    /// ([`Api::for_url`]: `WebSocket` for `ws:`/`wss:`, `fetch()` otherwise). Without
    /// `upgrade-insecure-requests` the API does not change a verdict; with it, ask
    /// [`check_connection`](Self::check_connection) for the API you use.
    pub fn check(&self, page: &str, target: &str) -> Result<Verdict, CheckError> {
        let v = with_target(page, true, |p| {
            with_target(target, false, |t| {
                self.verdict(p, &[*t], Api::for_url(target))
            })
        })??;
        if self.allowlist.is_none() {
            return Ok(v);
        }
        let hop = super::parse_url(target, false)?;
        self.with_allowlist_text(v, page, &[hop])
    }

    /// [`check`](Self::check) with parsed URLs.
    pub fn check_url(&self, page: &Url, target: &Url) -> Verdict {
        let api = Api::for_url(target.as_str());
        let v = self.verdict(&Target::new(page), &[Target::new(target)], api);
        self.with_allowlist(v, page, std::slice::from_ref(target))
    }

    /// Whether `page` may make `connection`, per engine: each URL of a redirect chain
    /// judged (paths only on the first, §6.7.2.8 step 2.2.6), and, with
    /// `upgrade-insecure-requests`, each judged the way that engine judges that API.
    /// Measured (`tests/browsers.rs`, `docs/browsers.md`): every engine upgrades `http:` to
    /// `https:` and `ws:` to `wss:` before the request leaves, but Chromium leaves loopback
    /// hosts alone and judges `fetch()` and `sendBeacon()` against the URL as written as
    /// well as the upgraded one; WebKit judges `EventSource` and `sendBeacon()` before the
    /// upgrade; the spec judges the upgraded URL (Fetch "main fetch" upgrades at step 5
    /// and asks CSP at step 7).
    ///
    /// ```
    /// use connect_src::matcher::{Api, BrowserPolicy, Connection, Engine};
    ///
    /// let p = BrowserPolicy::from_header("connect-src https://api.x.com; upgrade-insecure-requests");
    /// let fetch = Connection::new("http://api.x.com/a");
    /// let xhr = fetch.clone().with_api(Api::Xhr);
    /// assert!(p.check_connection("https://x.com/", &xhr)?.get(Engine::Chromium));
    /// assert!(!p.check_connection("https://x.com/", &fetch)?.get(Engine::Chromium));
    /// assert!(p.check_connection("https://x.com/", &fetch)?.get(Engine::Spec));
    /// # Ok::<_, connect_src::matcher::CheckError>(())
    /// ```
    pub fn check_connection(
        &self,
        page: &str,
        connection: &Connection,
    ) -> Result<Verdict, CheckError> {
        let hops = parse_hops(connection)?;
        let api = connection.api();
        let v = with_target(page, true, |p| {
            let targets: Vec<Target<'_>> = hops.iter().map(Target::new).collect();
            self.verdict(p, &targets, api)
        })?;
        self.with_allowlist_text(v, page, &hops)
    }

    /// How to read a violation report from `engine` that names `blocked` as the blocked
    /// URL on `page`: blocked by the policy itself, blocked only if a redirect led away
    /// from it (engines report the first URL of a chain, w3c/webappsec-csp#672), or allowed
    /// whatever happened (the report contradicts the policy). A report does not say which
    /// API made the request: the URL counts as blocked when any API that can request it is
    /// blocked (`WebSocket` for `ws:`/`wss:`, the others for the rest). Whether a redirect
    /// could be blocked is asked of URLs no policy names (an `.invalid` host over https and
    /// http, and 192.0.2.1:1).
    ///
    /// ```
    /// use connect_src::matcher::{BlockedUrl, BrowserPolicy, Engine};
    ///
    /// let p = BrowserPolicy::from_header("connect-src 'self' https://api.x.com");
    /// let read = |url| p.read_blocked("https://x.com/", url, Engine::Chromium);
    /// assert_eq!(read("https://evil.example/")?, BlockedUrl::Blocked);
    /// assert_eq!(read("https://api.x.com/v1")?, BlockedUrl::AfterRedirect);
    /// assert_eq!(read("wss://x.com/socket")?, BlockedUrl::Allowed); // no redirects
    /// # Ok::<_, connect_src::matcher::CheckError>(())
    /// ```
    pub fn read_blocked(
        &self,
        page: &str,
        blocked: &str,
        engine: Engine,
    ) -> Result<BlockedUrl, CheckError> {
        let websocket = Api::for_url(blocked) == Api::WebSocket;
        let apis: &[Api] = if websocket {
            &[Api::WebSocket]
        } else {
            &[Api::Fetch, Api::Xhr, Api::EventSource, Api::Beacon]
        };
        let allows = |c: Connection| -> Result<bool, CheckError> {
            for &api in apis {
                if !self
                    .check_connection(page, &c.clone().with_api(api))?
                    .get(engine)
                {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        if !allows(Connection::new(blocked))? {
            return Ok(BlockedUrl::Blocked);
        }
        let scheme = blocked.split_once(':').map_or("", |(s, _)| s);
        if websocket
            || !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        {
            return Ok(BlockedUrl::Allowed);
        }
        for probe in REDIRECT_PROBES {
            if !allows(Connection::new(blocked).redirect(probe))? {
                return Ok(BlockedUrl::AfterRedirect);
            }
        }
        Ok(BlockedUrl::Allowed)
    }

    /// The verdict for one request: `hops[0]` and the URLs redirects led to.
    fn verdict(&self, page: &Target<'_>, hops: &[Target<'_>], api: Api) -> Verdict {
        let mut allowed = 0;
        for r in &self.readings {
            if !r.read.upgrade_insecure {
                let lists = r.read.lists.iter().flatten().map(Vec::as_slice);
                allowed |= algorithm::allowed_chain(lists, page, hops, r.engines);
                continue;
            }
            for engine in Engine::ALL {
                if r.engines & engine.bit() != 0
                    && upgraded_allows(&r.read, engine, page, hops, api)
                {
                    allowed |= engine.bit();
                }
            }
        }
        Verdict { allowed }
    }
}

/// Adds one engine's reading to `readings`, beside the engines that read the same.
fn group(readings: &mut Vec<Reading>, engine: Engine, read: Read) {
    match readings.iter_mut().find(|r| r.read == read) {
        Some(same) => same.engines |= engine.bit(),
        None => readings.push(Reading {
            engines: engine.bit(),
            read,
        }),
    }
}

/// Under `upgrade-insecure-requests`: does `engine` allow every hop, each judged as the
/// engine judges `api` (UIR §4.1 upgrades every hop, redirects included)?
fn upgraded_allows(
    read: &Read,
    engine: Engine,
    page: &Target<'_>,
    hops: &[Target<'_>],
    api: Api,
) -> bool {
    let rules = engine.rules();
    let allows = |t: &Target<'_>, i: usize| {
        read.lists
            .iter()
            .zip(&read.list_upgrades)
            .all(|(list, &uir_relaxed)| {
                let ask = Ask {
                    uir_relaxed,
                    ..Ask::hop(i)
                };
                list.as_ref()
                    .is_none_or(|l| algorithm::allowed_in(l, page, t, engine.bit(), ask) != 0)
            })
    };
    hops.iter().enumerate().all(|(hop, t)| {
        let up = if rules.uir_upgrades_loopback || !t.is_loopback() {
            t.upgraded()
        } else {
            None
        };
        let judged = if hop == 0 {
            rules.uir_judges[api.index()]
        } else {
            rules.uir_judges_redirect
        };
        match (up, judged) {
            (None, _) | (Some(_), Judged::Original) => allows(t, hop),
            (Some(u), Judged::Upgraded) => allows(&u, hop),
            (Some(u), Judged::Both) => allows(t, hop) && allows(&u, hop),
        }
    })
}

/// Warnings in the order found, each once.
#[derive(Debug, Default)]
struct Warnings(Vec<String>);

impl Warnings {
    fn push(&mut self, w: String) {
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }
}

/// ASCII whitespace, and the vertical tab where the engine reads it as one.
fn separates(c: char, r: &Rules) -> bool {
    is_ascii_ws(c) || (c == '\u{b}' && r.vertical_tab_separates)
}

/// A control character that makes an engine drop the directive holding it.
fn drops_directive(c: char, r: &Rules) -> bool {
    r.control_drops_directive && (c.is_ascii_control() && !separates(c, r))
}

/// Whether one directive (its whole text, name included) survives §2.2.1's step 2: not
/// ASCII (every engine and the spec), or holding a control character (the engines),
/// drops it.
fn keep_directive(text: &str, name: &str, r: &Rules, w: &mut Warnings) -> bool {
    if !text.is_ascii() {
        w.push(format!(
            "{name}: holds a non-ASCII character, so browsers ignore the whole directive (CSP3 \
             \u{a7}2.2.1); write hosts as punycode (`audit` gives the form)"
        ));
        return false;
    }
    if let Some(c) = text.chars().find(|&c| drops_directive(c, r)) {
        w.push(format!(
            "{name}: holds the control character U+{:04X}, so Chromium, Firefox and WebKit \
             ignore the whole directive (WebKit reads U+000B as a space); by the spec text \
             only the source holding it is invalid",
            u32::from(c)
        ));
        return false;
    }
    true
}

/// What one policy says about connections.
struct PolicyRead {
    /// Its effective connect-src list (connect-src, else default-src), or `None`.
    list: Option<Vec<Source>>,
    /// It holds `upgrade-insecure-requests`.
    upgrade_insecure: bool,
}

/// One policy's reading; `None` for an empty policy.
fn read_policy(policy: &str, r: &Rules, w: &mut Warnings) -> Option<PolicyRead> {
    let mut kept: Vec<Directive<'_>> = Vec::new();
    let mut any = false;
    for (text, d) in tokens(policy) {
        any = true;
        // Step 2.2 (non-ASCII) comes before step 2.5 (a repeated name), so a dropped
        // directive does not hide a later one of the same name.
        if !keep_directive(text, d.name, r, w) {
            continue;
        }
        if !kept.iter().any(|k| k.name.eq_ignore_ascii_case(d.name)) {
            kept.push(d);
        }
    }
    if !any {
        return None; // an empty policy (", ,") is no policy
    }
    let effective = ["connect-src", "default-src"].into_iter().find_map(|n| {
        kept.iter()
            .find(|d| d.name.eq_ignore_ascii_case(n))
            .map(|d| (n, d.value))
    });
    let upgrade_insecure = kept
        .iter()
        .any(|d| d.name.eq_ignore_ascii_case("upgrade-insecure-requests"));
    Some(PolicyRead {
        list: effective.map(|(name, value)| parse_list(name, value, r, w)),
        upgrade_insecure,
    })
}

fn read_header(header: &str, r: &Rules, w: &mut Warnings) -> Read {
    let mut read = Read::default();
    for p in policies(header).filter_map(|p| read_policy(p, r, w)) {
        read.push(p);
    }
    read
}

fn read_directive(name: &str, value: &str, r: &Rules, w: &mut Warnings) -> Option<Vec<Source>> {
    keep_directive(value, name, r, w).then(|| parse_list(name, value, r, w))
}

/// The port text of a host-source token, if it has one.
fn port_text(token: &str) -> Option<&str> {
    let rest = token.split_once("://").map_or(token, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit_once(':').map(|(_, p)| p)
}

fn parse_list(directive: &str, value: &str, r: &Rules, w: &mut Warnings) -> Vec<Source> {
    let spec = !r.control_drops_directive; // only the spec's reading reports token errors
    let mut out = Vec::new();
    let mut saw_none = false;
    for token in value.split(|c| separates(c, r)).filter(|t| !t.is_empty()) {
        let mut token = token;
        if r.query_in_source_ignored && !token.starts_with('\'') {
            if let Some(i) = token.find(['?', '#']) {
                w.push(format!(
                    "{directive}: browsers ignore the query or fragment of `{token}` and keep \
                     the rest; by the spec text the source is invalid"
                ));
                token = &token[..i];
            }
        }
        if r.leading_zero_port_matches_nothing
            && port_text(token).is_some_and(|p| p.len() > 1 && p.starts_with('0'))
        {
            w.push(format!(
                "{directive}: `{token}` writes its port with leading zeros, so it matches \
                 nothing in Firefox"
            ));
            continue;
        }
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
                    w.push(format!(
                        "{directive}: `{token}` is unquoted, so browsers read it as a host name; did you mean '{name}'?"
                    ));
                    out.push(Source::Host(HostSource {
                        scheme: None,
                        host: Host::Name(name.into()),
                        port: None,
                        path: None,
                    }));
                }
                _ if spec => w.push(format!("{directive}: ignored {e}")),
                _ => {}
            },
        }
    }
    if saw_none && !out.is_empty() {
        w.push(format!(
            "{directive}: 'none' is ignored next to other sources"
        ));
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    /// (spec, chromium, firefox); the verdict table is tests/matcher_table.rs.
    fn t(list: &str, page: &str, target: &str) -> (bool, bool, bool) {
        let v = BrowserPolicy::parse(list).check(page, target).unwrap();
        (
            v.get(Engine::Spec),
            v.get(Engine::Chromium),
            v.get(Engine::Firefox),
        )
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
    fn reading_a_blocked_url() {
        use BlockedUrl::{AfterRedirect, Allowed, Blocked};
        let uir = "connect-src https://y.com; upgrade-insecure-requests";
        let (c, w, s) = (Engine::Chromium, Engine::WebKit, Engine::Spec);
        for (header, url, engine, want) in [
            ("connect-src 'self'", "https://y.com/", c, Blocked),
            ("connect-src 'self'", "https://x.com/a", c, AfterRedirect),
            // Nothing a redirect can reach is blocked: the report contradicts the policy.
            ("connect-src *", "https://y.com/", c, Allowed),
            ("img-src 'none'", "https://y.com/", c, Allowed),
            // `https:` blocks a redirect to http:.
            ("connect-src https:", "https://y.com/", c, AfterRedirect),
            // WebSockets follow no redirect.
            ("connect-src 'self'", "wss://x.com/s", c, Allowed),
            ("connect-src 'self'", "ws://y.com/s", c, Blocked),
            // Blocked for one API is blocked: WebKit judges sendBeacon before the upgrade.
            (uir, "http://y.com/a", w, Blocked),
            (uir, "http://y.com/a", s, AfterRedirect),
        ] {
            let got = BrowserPolicy::from_header(header)
                .read_blocked("https://x.com/", url, engine)
                .unwrap();
            assert_eq!(got, want, "{header} {url} {engine}");
        }
        // What is not a URL is the caller's to read.
        assert!(BrowserPolicy::from_header("connect-src 'self'")
            .read_blocked("https://x.com/", "inline", Engine::Chromium)
            .is_err());
    }

    #[test]
    fn meta_reading_and_warnings() {
        let p = BrowserPolicy::from_meta(
            "connect-src 'self'; report-uri /r; upgrade-insecure-requests",
        );
        assert!(p
            .warnings()
            .iter()
            .any(|w| w.contains("report-uri is ignored")));
        assert!(Engine::ALL.iter().all(|&e| p.upgrades_insecure_requests(e)));
        let split = BrowserPolicy::from_meta("connect-src 'self', connect-src https://y.com");
        assert_eq!(split.lists(Engine::Chromium).len(), 2);
        assert_eq!(split.lists(Engine::WebKit).len(), 2);
        assert_eq!(split.lists(Engine::Firefox).len(), 1);
        assert_eq!(split.lists(Engine::Spec).len(), 1);
        assert!(split.warnings().iter().any(|w| w.contains("Firefox")));
        // `and` keeps every list, per engine.
        let both = BrowserPolicy::from_header("connect-src *").and(split);
        assert_eq!(both.lists(Engine::Chromium).len(), 3);
        assert_eq!(both.lists(Engine::Firefox).len(), 2);
        assert!(!both.upgrades_insecure_requests(Engine::Firefox));
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
}

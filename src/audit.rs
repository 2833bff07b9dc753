//! Findings about a `connect-src` list: each with a severity and a stable code that scripts
//! can match on. [`Environment::Production`] refuses the
//! findings whose [`refused_in_production`](Finding::refused_in_production) is true.
//!
//! ```
//! use connect_src::{audit, ConnectSrc};
//!
//! let list: ConnectSrc = "'self' https://*.r2.dev".parse()?;
//! let findings = audit::audit(&list);
//! assert_eq!(findings[0].code, "public-suffix-wildcard");
//! assert!(findings[0].refused_in_production());
//! # Ok::<_, connect_src::PolicyError>(())
//! ```

use std::fmt;

use url::Url;

use crate::matcher::Engine;
use crate::minimize::covers;
use crate::policy::text::is_directive_name;
use crate::policy::{production_refusals, ConnectSrc, Environment, Policy, Translation};
use crate::source::{
    is_ip_literal, is_loopback_host, registrable_domain, Host, HostSource, Port, Scheme, Source,
};

/// The default ports of the development servers whose hot reloading opens a WebSocket (or
/// an EventSource) from the page back to the server, which is how they end up in a
/// connect-src list: 1234 Parcel; 3000 Create React App, Next.js, Remix, Nuxt and Rails;
/// 4200 Angular CLI; 4321 Astro; 5173 Vite (and everything built on it: SvelteKit, Vue,
/// SolidStart); 6006 Storybook; 8000 Gatsby and Django's runserver; 8080 webpack-dev-server
/// and Vue CLI; 24678 Vite's separate HMR socket in middleware mode (Nuxt, SSR setups).
/// A production page has no dev server to talk to: on loopback in a production list, one
/// of these ports is almost always a leftover.
pub const DEV_SERVER_PORTS: [u16; 9] = [1234, 3000, 4200, 4321, 5173, 6006, 8000, 8080, 24678];

/// What [`audit_with`] is told beyond the list.
///
/// ```
/// use connect_src::audit::{audit_with, AuditOptions};
/// use connect_src::{ConnectSrc, Environment};
///
/// let list: ConnectSrc = "'self' https://api.myapp.com https://o1.ingest.sentry.io".parse()?;
/// let page = url::Url::parse("https://myapp.com/")?;
/// let findings = audit_with(&list, &AuditOptions::new().page(&page));
/// // Only the app's own host gets the WebSocket hint; Sentry's does not.
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].source.as_deref(), Some("https://api.myapp.com"));
/// let dev = AuditOptions::new().environment(Environment::Development);
/// let local: ConnectSrc = "'self' ws://localhost:5173".parse()?;
/// assert!(audit_with(&local, &dev).is_empty());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct AuditOptions {
    environment: Environment,
    /// The registrable domain of the page ('self'), when given.
    page_domain: Option<String>,
}

impl AuditOptions {
    /// No page, production.
    pub fn new() -> AuditOptions {
        AuditOptions::default()
    }

    /// The environment the list is meant for (default [`Environment::Production`]):
    /// `dev-server-leftover` is only reported in production.
    pub fn environment(mut self, environment: Environment) -> AuditOptions {
        self.environment = environment;
        self
    }

    /// A URL of the page the list protects: its registrable domain is the app's own, so
    /// `missing-wss-counterpart` is reported for https sources under it.
    pub fn page(mut self, page: &Url) -> AuditOptions {
        self.page_domain = page.host_str().and_then(registrable_domain);
        self
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; not a weakness by itself.
    Info,
    /// Probably not what was meant, or weaker than it looks.
    Warning,
    /// What the crate refuses to emit in every environment: a source the
    /// `Connection-Allowlist` cannot say ([`audit_connection_allowlist`]).
    Error,
    /// Lets connections go where an attacker wants: production refuses it.
    High,
}

impl Severity {
    /// `info`, `warning`, `error` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about one source (or about the list, when `source` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// A stable, kebab-case code (`wildcard-star`, `scheme-only`, `insecure-scheme`, …).
    pub code: &'static str,
    /// The source it is about, as serialized.
    pub source: Option<String>,
    /// What it means, in a sentence.
    pub message: String,
}

impl Finding {
    fn new(
        severity: Severity,
        code: &'static str,
        source: &Source,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            code,
            source: Some(source.to_string()),
            message: message.into(),
        }
    }

    /// Whether [`Environment::Production`] refuses a policy
    /// with this finding.
    pub fn refused_in_production(&self) -> bool {
        self.severity == Severity::High
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.severity, self.code)?;
        if let Some(s) = &self.source {
            write!(f, " {s}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Audits a `connect-src` value as written (policy text, not typed sources): the findings
/// only text can have, then [`audit`]'s of the sources it holds (and `duplicate` and
/// `none-mixed`, which a [`ConnectSrc`] cannot hold).
///
/// - `directive-name` (warning): a source that is a directive name (`'self' connect-src
///   https://x` almost always means a missing `;`).
/// - `non-ascii` (high): a source with a non-ASCII character; every browser ignores the
///   whole directive then (CSP3 §2.2.1), so the message gives the punycode form to write.
///
/// ```
/// use connect_src::audit::audit_text;
///
/// let f = audit_text("'self' https://bücher.example");
/// assert_eq!(f[0].code, "non-ascii");
/// assert!(f[0].message.contains("https://xn--bcher-kva.example"));
/// assert_eq!(audit_text("'self' connect-src https://x.example")[0].code, "directive-name");
/// ```
pub fn audit_text(value: &str) -> Vec<Finding> {
    audit_text_with(value, &AuditOptions::default())
}

/// [`audit_text`] with [`AuditOptions`].
pub fn audit_text_with(value: &str, options: &AuditOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut sources = Vec::new();
    for token in value.split_ascii_whitespace() {
        let parsed = token.parse::<Source>();
        if is_directive_name(token) {
            out.push(Finding {
                severity: Severity::Warning,
                code: "directive-name",
                source: Some(token.to_owned()),
                message: format!(
                    "`{token}` is a directive name, not a source: a `;` is probably missing before it"
                ),
            });
        } else if !token.is_ascii() {
            let fix = match &parsed {
                Ok(s) => format!("; write {s}"),
                Err(_) => String::new(),
            };
            out.push(Finding {
                severity: Severity::High,
                code: "non-ascii",
                source: Some(token.to_owned()),
                message: format!(
                    "browsers ignore a whole directive that holds a non-ASCII character, so this list would restrict nothing{fix}"
                ),
            });
        }
        if let Ok(s) = parsed {
            sources.push(s);
        }
    }
    out.extend(audit_sources(&sources, options));
    out
}

/// The findings for every list of a policy (enforced first, then report-only), each
/// [`audit`]ed.
pub fn audit_policy(policy: &Policy) -> Vec<Finding> {
    [policy.enforced(), policy.report_only()]
        .into_iter()
        .flatten()
        .flat_map(audit)
        .collect()
}

/// Audits a list, for production, knowing nothing of the page: [`audit_with`] and the
/// default [`AuditOptions`].
///
/// The codes: what production refuses (`wildcard-star`, `scheme-only`, `insecure-scheme`,
/// `public-suffix-wildcard`: high); `scheme-only` for other schemes, `ip-literal`,
/// `path-not-boundary`, `unreachable`, `loopback-port-wildcard` (a port wildcard on a
/// loopback host, in any environment: it reaches every local service) and
/// `dev-server-leftover` (a loopback host on one of [`DEV_SERVER_PORTS`], in production):
/// warnings; `missing-wss-counterpart`, `covered` and `wildcard-star-websocket`: info.
///
/// `missing-wss-counterpart` is reported only for an https host the app looks to own: one
/// under the registrable domain of the page ([`AuditOptions::page`]) or of a ws/wss source
/// of the list (an app that lists its own WebSocket host shows which domain is its own).
/// Third-party services (error trackers, analytics) seldom serve WebSockets, and a hint
/// for each of them drowns the findings that matter.
pub fn audit(list: &ConnectSrc) -> Vec<Finding> {
    audit_sources(list.sources(), &AuditOptions::default())
}

/// [`audit`] with [`AuditOptions`]: the page whose registrable domain is the app's own, and
/// the environment.
pub fn audit_with(list: &ConnectSrc, options: &AuditOptions) -> Vec<Finding> {
    audit_sources(list.sources(), options)
}

/// Whether `h` is a loopback host-source (`localhost`, `*.localhost`, 127.0.0.0/8).
fn is_loopback_source(h: &HostSource) -> bool {
    match h.host() {
        Host::Name(n) => is_loopback_host(n),
        Host::Subdomains(n) => &**n == "localhost",
        Host::Any => false,
    }
}

/// The registrable domains that look like the app's own: the page's, and those of the
/// list's ws/wss host-sources.
fn own_domains(sources: &[Source], options: &AuditOptions) -> Vec<String> {
    let mut own: Vec<String> = options.page_domain.iter().cloned().collect();
    for h in sources.iter().filter_map(Source::as_host) {
        if matches!(h.scheme().map(Scheme::as_str), Some("ws" | "wss")) {
            if let Some(d) = host_domain(h.host()) {
                own.push(d);
            }
        }
    }
    own
}

/// The registrable domain of a host-part (a wildcard's parent for `*.x`).
fn host_domain(host: &Host) -> Option<String> {
    match host {
        Host::Any => None,
        Host::Name(n) | Host::Subdomains(n) => registrable_domain(n),
    }
}

/// Each source once, in order (a repeat is skipped).
fn first_of_each(sources: &[Source]) -> impl Iterator<Item = &Source> {
    sources
        .iter()
        .enumerate()
        .filter(|(i, s)| !sources[..*i].contains(s))
        .map(|(_, s)| s)
}

fn audit_sources(sources: &[Source], options: &AuditOptions) -> Vec<Finding> {
    let own = own_domains(sources, options);
    let mut out = Vec::new();
    // A repeated source has its own finding (`duplicate`) and no second set of the others.
    for s in first_of_each(sources) {
        // What production refuses: the same per-source rules `PolicyBuilder::build` applies.
        for r in production_refusals(s) {
            out.push(Finding::new(Severity::High, r.code, s, r.message));
        }
        match s {
            Source::Scheme(scheme) if production_refusals(s).is_empty() => {
                out.push(Finding::new(
                    Severity::Warning,
                    "scheme-only",
                    s,
                    format!("allows every URL of the {scheme}: scheme"),
                ));
            }
            Source::Host(h) => {
                let loopback = is_loopback_source(h);
                match (loopback, h.port()) {
                    (true, Some(Port::Any)) => out.push(Finding::new(
                        Severity::Warning,
                        "loopback-port-wildcard",
                        s,
                        "a port wildcard on loopback lets the page reach every service on the user's own machine (dev servers, databases' HTTP ports, admin consoles); name the one port it needs",
                    )),
                    (true, Some(Port::Number(p)))
                        if options.environment == Environment::Production
                            && DEV_SERVER_PORTS.contains(&p) =>
                    {
                        out.push(Finding::new(
                            Severity::Warning,
                            "dev-server-leftover",
                            s,
                            format!("port {p} on loopback is a development server's default port: in a production list it is almost always a leftover (use PolicyBuilder::dev_server, which adds it in development only)"),
                        ))
                    }
                    _ => {}
                }
                let name = match h.host() {
                    Host::Any => None,
                    Host::Subdomains(n) | Host::Name(n) => Some(&**n),
                };
                if name.is_some_and(is_ip_literal) && !loopback {
                    out.push(Finding::new(
                        Severity::Warning,
                        "ip-literal",
                        s,
                        "an IP address source breaks when the address changes, and 'self' never matches it from a named host",
                    ));
                }
            }
            _ => {}
        }
        if let Some(h) = s.as_host() {
            if h.path().is_some() {
                out.push(Finding::new(
                    Severity::Warning,
                    "path-not-boundary",
                    s,
                    "paths are not a security boundary: after a redirect only the origin is checked (CSP3 §7.6)",
                ));
            }
            let owned = host_domain(h.host()).is_some_and(|d| own.contains(&d));
            if h.scheme().map(Scheme::as_str) == Some("https") && owned {
                let wss = Source::Host(HostSource {
                    scheme: Some(Scheme::wss()),
                    ..h.without_path()
                });
                // Asked of the matcher: does any source allow every wss URL of this host?
                if !sources.iter().any(|x| covers(x, &wss, &Engine::ALL)) {
                    out.push(Finding::new(
                        Severity::Info,
                        "missing-wss-counterpart",
                        s,
                        format!("{s} does not allow WebSocket connections to the same host (no browser matches https:// sources against wss:// URLs); add {wss} if it serves WebSockets"),
                    ));
                }
            }
        }
    }
    if sources.contains(&Source::None) && sources.len() > 1 {
        out.push(Finding {
            severity: Severity::Warning,
            code: "none-mixed",
            source: Some("'none'".into()),
            message: "'none' next to other sources is ignored by browsers: the list is not 'none'"
                .into(),
        });
    }
    for (i, s) in sources.iter().enumerate() {
        if sources[..i].contains(s) {
            out.push(Finding::new(
                Severity::Info,
                "duplicate",
                s,
                "listed more than once",
            ));
        }
    }
    // Sources no browser connection can use: connect-src governs fetch, XHR, WebSocket,
    // EventSource and beacons, which only ever request http(s), ws(s), data: and blob: URLs.
    for s in first_of_each(sources) {
        let scheme = match s {
            Source::Scheme(sc) => Some(sc.as_str()),
            Source::Host(h) => h.scheme().map(Scheme::as_str),
            _ => None,
        };
        if let Some(sc) = scheme {
            let usable = matches!(sc, "http" | "https" | "ws" | "wss")
                || (matches!(s, Source::Scheme(_)) && matches!(sc, "data" | "blob"));
            if !usable {
                out.push(Finding::new(
                    Severity::Warning,
                    "unreachable",
                    s,
                    format!("no connection API requests {sc}: URLs, so this source allows nothing"),
                ));
            }
        }
    }
    // Sources another source already allows everywhere (proven with the matcher).
    for (i, s) in sources.iter().enumerate() {
        // Duplicates and a mixed 'none' have their own findings above.
        if sources[..i].contains(s) || *s == Source::None {
            continue;
        }
        let cover = sources.iter().enumerate().find(|(j, b)| {
            *j != i
                && *b != s
                && covers(b, s, &Engine::ALL)
                && (*j < i || !covers(s, b, &Engine::ALL))
        });
        if let Some((_, b)) = cover {
            out.push(Finding::new(
                Severity::Info,
                "covered",
                s,
                format!("{b} already allows everything {s} allows, in every engine"),
            ));
        }
    }
    if let Some(star) = sources.iter().find(|s| s.is_star()) {
        out.push(Finding::new(
            Severity::Info,
            "wildcard-star-websocket",
            star,
            "by the CSP3 text `*` does not match ws:/wss: URLs from an https page; Chromium, Firefox and WebKit allow them anyway",
        ));
    }
    out
}

/// Audits the `Connection-Allowlist` the crate would emit for `list`
/// ([`Translation::of`], as [`PolicyBuilder::connection_allowlist`] emits it with the
/// defaults), not the CSP: findings in the list's source order, then about the whole value.
///
/// - `allowlist-widening` (info): one per [`Widening`](crate::policy::Widening), `source`
///   the connect-src source, the message what the allowlist also admits.
/// - `allowlist-untranslated` (error): one per source the allowlist cannot say; with any,
///   [`PolicyBuilder::build`] refuses the allowlist.
/// - `allowlist-navigations` (warning, no source): the allowlist also governs links, forms,
///   `location` changes and the page's images and scripts, which connect-src does not
///   name; enforce only after report-only, with navigation targets.
/// - `allowlist-redirects` (info, no source): the value carries `redirects=allow`, so only
///   a chain's first URL is checked by the allowlist, later hops by the CSP alone.
/// - `allowlist-webrtc` (info, no source): WebRTC is blocked, since the crate never emits
///   `webrtc=allow`.
/// - `allowlist-http-self` (info, `'self'`): on an http page `response-origin` admits
///   less than `'self'` (not the page host's https:// and wss://).
///
/// ```
/// use connect_src::audit::{audit_connection_allowlist, Severity};
/// use connect_src::ConnectSrc;
///
/// let list: ConnectSrc = "'self' https://api.x.com ftp://files.x.com".parse()?;
/// let f = audit_connection_allowlist(&list);
/// let codes: Vec<&str> = f.iter().map(|f| f.code).collect();
/// assert_eq!(codes, ["allowlist-widening", "allowlist-untranslated", "allowlist-navigations",
///     "allowlist-redirects", "allowlist-webrtc", "allowlist-http-self"]);
/// assert_eq!(f[1].severity, Severity::Error);
/// assert_eq!(f[1].source.as_deref(), Some("ftp://files.x.com"));
/// # Ok::<_, connect_src::PolicyError>(())
/// ```
///
/// [`PolicyBuilder::connection_allowlist`]: crate::PolicyBuilder::connection_allowlist
/// [`PolicyBuilder::build`]: crate::PolicyBuilder::build
pub fn audit_connection_allowlist(list: &ConnectSrc) -> Vec<Finding> {
    let t = Translation::of(list);
    let has_self = list.sources().contains(&Source::SelfOrigin);
    let mut out: Vec<Finding> = t
        .widenings()
        .iter()
        .map(|w| Finding {
            severity: Severity::Info,
            code: "allowlist-widening",
            source: Some(w.source.clone()),
            message: format!(
                "the allowlist item for {} also admits {}",
                w.source, w.admits
            ),
        })
        .collect();
    out.extend(t.untranslated().iter().map(|u| Finding {
        severity: Severity::Error,
        code: "allowlist-untranslated",
        source: Some(u.source.clone()),
        message: format!(
            "Connection-Allowlist cannot say {}: {}; the crate refuses to emit the allowlist \
             while the list holds it",
            u.source, u.why
        ),
    }));
    out.push(list_finding(
        Severity::Warning,
        "allowlist-navigations",
        navigations_message(has_self),
    ));
    out.push(list_finding(
        Severity::Info,
        "allowlist-redirects",
        "the value carries redirects=allow, because connect-src allows a redirect to a \
         listed URL: with it Chromium checks only a chain's first URL against the \
         allowlist, and later hops are checked by the CSP alone (block_redirects() leaves it \
         out, and then every redirect is blocked)"
            .into(),
    ));
    out.push(list_finding(
        Severity::Info,
        "allowlist-webrtc",
        "WebRTC (RTCPeerConnection) is blocked under the allowlist unless it carries \
         webrtc=allow, which the crate does not emit"
            .into(),
    ));
    if has_self {
        out.push(Finding::new(
            Severity::Info,
            "allowlist-http-self",
            &Source::SelfOrigin,
            "'self' becomes response-origin, the page's exact origin: on an http:// page \
             'self' also admits https:// and wss:// to the page's host and response-origin \
             does not (serve the page over https)",
        ));
    }
    out
}

/// A finding about the whole allowlist (no source).
fn list_finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding {
        severity,
        code,
        source: None,
        message,
    }
}

/// What an allowlist translated from connect-src alone blocks beyond connections.
fn navigations_message(has_self: bool) -> String {
    let own = if has_self {
        "'self' (response-origin) keeps the page's own origin, but links, forms, location \
         changes, images and scripts to any other host are blocked unless listed"
    } else {
        "without 'self' even the page's own links, forms, images and scripts are blocked, \
         and those to other hosts too unless listed"
    };
    format!(
        "Connection-Allowlist governs navigations and subresources, which connect-src does \
         not name: {own}. Send it report-only first, then enforce it with navigation targets \
         (ConnectionAllowlist::navigations, or --navigations)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_with(list: &str, options: &AuditOptions) -> Vec<(&'static str, bool)> {
        let sources: Vec<Source> = list.split(' ').map(|s| s.parse().unwrap()).collect();
        audit_sources(&sources, options)
            .into_iter()
            .map(|f| (f.code, f.refused_in_production()))
            .collect()
    }

    fn codes(list: &str) -> Vec<(&'static str, bool)> {
        codes_with(list, &AuditOptions::default())
    }

    #[test]
    fn codes_and_refusals() {
        assert_eq!(
            codes("*"),
            [("wildcard-star", true), ("wildcard-star-websocket", false)]
        );
        assert_eq!(codes("https://*"), [("wildcard-star", true)]);
        assert_eq!(codes("https:"), [("scheme-only", true)]);
        assert_eq!(codes("blob:"), [("scheme-only", true)]);
        assert_eq!(
            codes("ftp:"),
            [("scheme-only", false), ("unreachable", false)]
        );
        assert_eq!(codes("http://a.com"), [("insecure-scheme", true)]);
        assert_eq!(codes("ws://*.a.com"), [("insecure-scheme", true)]);
        assert_eq!(
            codes("https://10.0.0.1 wss://10.0.0.1"),
            [("ip-literal", false), ("ip-literal", false)]
        );
        assert!(
            codes("http://localhost:3001 ws://127.0.0.1 'self' https://a.com wss://a.com")
                .is_empty()
        );
        assert_eq!(
            codes("https://a.com wss://b.a.com"),
            [("missing-wss-counterpart", false)]
        );
        assert_eq!(codes("https://a.com wss:"), [("scheme-only", true)]);
        assert!(codes("https://a.b.com wss://*.b.com").is_empty());
        assert_eq!(
            codes("https://a.com/api/ wss://a.com"),
            [("path-not-boundary", false)]
        );
        assert_eq!(codes("'self' 'self'"), [("duplicate", false)]);
        assert_eq!(codes("'none' 'self'"), [("none-mixed", false)]);
        assert_eq!(
            codes("https://*.a.com https://x.a.com wss://*.a.com"),
            [("covered", false)]
        );
        // The secure_headers trap: wss://ws.a.com is not covered by https://*.a.com.
        assert_eq!(
            codes("https://*.a.com wss://ws.a.com"),
            [("missing-wss-counterpart", false)]
        );
        assert_eq!(codes("ftp://files.a.com"), [("unreachable", false)]);
        assert_eq!(
            codes("mailto:"),
            [("scheme-only", false), ("unreachable", false)]
        );
    }

    #[test]
    fn public_suffix_wildcards_are_refused_and_never_advised() {
        for list in [
            "'self' https://*.r2.dev",
            "'self' https://*.s3.amazonaws.com",
            "'self' https://*.github.io",
            "'self' https://*.com",
        ] {
            // High (refused), and no hint to add `wss://*.r2.dev` beside it.
            assert_eq!(codes(list), [("public-suffix-wildcard", true)], "{list}");
        }
        // Even when a wss source under the same suffix would make it look like the app's.
        assert_eq!(
            codes("https://*.r2.dev wss://x.r2.dev"),
            [("public-suffix-wildcard", true)]
        );
        for ok in ["https://*.myapp.com", "https://my-bucket.s3.amazonaws.com"] {
            assert!(codes(ok).is_empty(), "{ok}: {:?}", codes(ok));
        }
    }

    #[test]
    fn dev_leftovers_on_loopback() {
        assert_eq!(
            codes("'self' http://localhost:*"),
            [("loopback-port-wildcard", false)]
        );
        assert_eq!(
            codes("ws://*.localhost:*"),
            [("loopback-port-wildcard", false)]
        );
        let dev = AuditOptions::new().environment(Environment::Development);
        assert_eq!(
            codes_with("http://127.0.0.1:*", &dev),
            [("loopback-port-wildcard", false)],
            "a port wildcard on loopback is flagged in development too"
        );
        for leftover in [
            "http://localhost:3000",
            "ws://127.0.0.1:5173",
            "ws://localhost:24678",
            "http://app.localhost:4200",
        ] {
            assert_eq!(
                codes(leftover),
                [("dev-server-leftover", false)],
                "{leftover}"
            );
            assert!(codes_with(leftover, &dev).is_empty(), "{leftover}");
        }
        // A fixed local agent on another port is deliberate; a remote host on 3000 is not
        // loopback.
        assert!(codes("http://127.0.0.1:9229 https://api.x.com:3000").is_empty());
    }

    #[test]
    fn missing_wss_counterpart_only_for_the_apps_own_hosts() {
        // A realistic list: the app's API, its realtime host, and third parties.
        let list = "'self' https://api.myapp.com https://cdn.myapp.com wss://rt.myapp.com \
                    https://o450.ingest.sentry.io https://www.google-analytics.com \
                    https://region1.google-analytics.com https://*.stripe.com \
                    https://api.segment.io https://maps.googleapis.com \
                    https://*.intercom.io wss://*.intercom.io https://fonts.gstatic.com";
        let hints = |o: &AuditOptions| -> Vec<String> {
            let sources: Vec<Source> = list
                .split_whitespace()
                .map(|s| s.parse().unwrap())
                .collect();
            audit_sources(&sources, o)
                .into_iter()
                .map(|f| {
                    assert_eq!(f.code, "missing-wss-counterpart", "{f}");
                    f.source.unwrap()
                })
                .collect()
        };
        assert_eq!(
            hints(&AuditOptions::new()),
            ["https://api.myapp.com", "https://cdn.myapp.com"]
        );
        // Without the realtime host, the page tells which domain is the app's.
        let page = Url::parse("https://www.myapp.com/app").unwrap();
        let sources: Vec<Source> = "'self' https://api.myapp.com https://o450.ingest.sentry.io"
            .split(' ')
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(audit_sources(&sources, &AuditOptions::new()).is_empty());
        let with_page = audit_sources(&sources, &AuditOptions::new().page(&page));
        assert_eq!(with_page.len(), 1);
        assert_eq!(
            with_page[0].source.as_deref(),
            Some("https://api.myapp.com")
        );
        assert!(with_page[0].message.contains("add wss://api.myapp.com"));
    }

    #[test]
    fn allowlist_findings_follow_the_translation() {
        let codes = |list: &str| -> Vec<(&'static str, Option<String>)> {
            let list: ConnectSrc = list.parse().unwrap();
            audit_connection_allowlist(&list)
                .into_iter()
                .map(|f| (f.code, f.source))
                .collect()
        };
        let whole = |c: &'static str| (c, None);
        // No 'self': no http-self finding; 'none' translates to nothing and widens nothing.
        assert_eq!(
            codes("'none'"),
            [
                whole("allowlist-navigations"),
                whole("allowlist-redirects"),
                whole("allowlist-webrtc")
            ]
        );
        let f = codes("wss://ws.x.com ws:");
        assert_eq!(f[0], ("allowlist-widening", Some("wss://ws.x.com".into())));
        assert_eq!(f[1], ("allowlist-widening", Some("ws:".into())));
        assert_eq!(f.len(), 5);
        let nav = |list: &str| {
            let list: ConnectSrc = list.parse().unwrap();
            audit_connection_allowlist(&list)
                .into_iter()
                .find(|f| f.code == "allowlist-navigations")
                .map(|f| (f.severity, f.message))
                .unwrap()
        };
        assert_eq!(nav("https://a.com").0, Severity::Warning);
        assert!(nav("https://a.com").1.contains("without 'self'"));
        assert!(nav("'self'").1.contains("keeps the page's own origin"));
    }

    #[test]
    fn the_three_entry_points_agree() {
        let list: ConnectSrc = "'self' https://*.github.io http://localhost:5173"
            .parse()
            .unwrap();
        let text = audit_text("'self' https://*.github.io http://localhost:5173");
        assert_eq!(audit(&list), text);
        let policy = Policy::builder()
            .enforce(list.clone())
            .report_only(list.clone())
            .environment(Environment::Development)
            .build()
            .unwrap();
        assert_eq!(audit_policy(&policy).len(), 2 * audit(&list).len());
    }
}

//! `Connection-Allowlist` (WICG Connection Allowlists, Chromium 152+), emitted from the same
//! [`ConnectSrc`] as the CSP, and read as Chromium reads it.
//!
//! Every rule here was measured in Chromium 156 (`docs/engine-probe/connection-allowlist/
//! FINDINGS.md`, 383 probes run twice with identical verdicts): the header is a Structured
//! Field List (RFC 9651) whose first member must be an inner list of the token
//! `response-origin` and URLPattern strings; WebSocket URLs are matched as their http(s)
//! form; a pattern without a port matches the default port only, one without a path every
//! path; redirects are blocked unless the list carries `redirects=<token other than block>`;
//! a value that does not parse blocks every connection.
//!
//! ```
//! use connect_src::policy::{AllowlistMode, ConnectionAllowlist};
//! use connect_src::{ConnectSrc, Policy};
//!
//! let policy = Policy::builder()
//!     .enforce(ConnectSrc::builder().self_origin().host("https://api.myapp.com"))
//!     .report_to("csp", "https://myapp.com/csp-reports")
//!     .connection_allowlist(ConnectionAllowlist::report_only())
//!     .build()?;
//! let (name, value) = policy.connection_allowlist_header().unwrap();
//! assert_eq!(name, "connection-allowlist-report-only");
//! assert_eq!(value, r#"(response-origin "https://api.myapp.com");redirects=allow;report-to=csp"#);
//! assert_eq!(policy.connection_allowlist().unwrap().mode(), AllowlistMode::ReportOnly);
//! # Ok::<_, connect_src::PolicyError>(())
//! ```

use std::fmt;

use http::HeaderName;
use sfv::{KeyRef, ListSerializer, StringRef, TokenRef};

mod read;

use read::compile;
pub(crate) use read::{as_matched, AllowlistReading, ReadItem};

use super::error::{Problem, ProblemKind};
use super::list::{ConnectSrc, ConnectSrcBuilder};
use crate::source::{Host, HostSource, Port, Source};

/// `Connection-Allowlist`: the enforced header.
pub const CONNECTION_ALLOWLIST: HeaderName = HeaderName::from_static("connection-allowlist");
/// `Connection-Allowlist-Report-Only`: the header that only reports.
pub const CONNECTION_ALLOWLIST_REPORT_ONLY: HeaderName =
    HeaderName::from_static("connection-allowlist-report-only");

/// The report type and the directive name the collector files these reports under.
pub const CONNECTION_ALLOWLIST_DIRECTIVE: &str = "connection-allowlist";

/// Whether the allowlist blocks or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowlistMode {
    /// `Connection-Allowlist-Report-Only`: Chromium reports what the list would block and
    /// blocks nothing. The default, because the allowlist also governs navigations,
    /// subresources, prefetches and WebRTC, which a connect-src list does not name.
    ReportOnly,
    /// `Connection-Allowlist`: Chromium blocks what the list does not admit.
    Enforce,
}

impl AllowlistMode {
    /// The header this mode is sent as.
    pub fn header_name(self) -> HeaderName {
        match self {
            AllowlistMode::ReportOnly => CONNECTION_ALLOWLIST_REPORT_ONLY,
            AllowlistMode::Enforce => CONNECTION_ALLOWLIST,
        }
    }
}

/// How a policy emits `Connection-Allowlist` beside its CSP: give it to
/// [`PolicyBuilder::connection_allowlist`](super::PolicyBuilder::connection_allowlist).
///
/// The items are the translation of the policy's enforced `connect-src` list (its
/// report-only list when it enforces none), plus the navigation targets. The list never
/// blocks a connection the `connect-src` list allows (for the connections both govern),
/// and what it admits beyond it is named in [`Translation::widenings`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ConnectionAllowlist {
    mode: AllowlistMode,
    navigations: Option<ConnectSrcBuilder>,
    block_redirects: bool,
    value: Option<String>,
}

impl ConnectionAllowlist {
    /// `Connection-Allowlist-Report-Only`: the way to start.
    pub fn report_only() -> Self {
        ConnectionAllowlist {
            mode: AllowlistMode::ReportOnly,
            navigations: None,
            block_redirects: false,
            value: None,
        }
    }

    /// `Connection-Allowlist`, enforced. The allowlist also governs links, forms,
    /// `location` changes and the page's own images and scripts, so an enforced one needs
    /// [`navigations`](Self::navigations): [`PolicyBuilder::build`](super::PolicyBuilder::build)
    /// refuses one without.
    pub fn enforce() -> Self {
        ConnectionAllowlist {
            mode: AllowlistMode::Enforce,
            ..ConnectionAllowlist::report_only()
        }
    }

    /// Where the app's pages navigate and load from beyond its `connect-src` list, as
    /// sources (`'self'` for the page's own origin: its links, forms, images and scripts;
    /// `https://docs.myapp.com`; `ConnectSrc::none()` when there is nothing else). Added
    /// to the allowlist's items, translated as connect-src sources are.
    pub fn navigations(mut self, targets: impl Into<ConnectSrcBuilder>) -> Self {
        self.navigations = Some(targets.into());
        self
    }

    /// Leaves out `redirects=allow`: Chromium then blocks every redirect of a subresource
    /// request, even between listed URLs (measured), which the connect-src list would
    /// allow. Only for an app whose connections never redirect.
    pub fn block_redirects(mut self) -> Self {
        self.block_redirects = true;
        self
    }

    /// A header value written out, emitted in place of the translation: what
    /// `connect-src promote --connection-allowlist` judged, what a staged rollout of an
    /// allowlist enforces ([`report::promote`](crate::report::promote)).
    /// [`PolicyBuilder::build`](super::PolicyBuilder::build) refuses a value Chromium would
    /// not read whole (one that does not parse blocks every connection; an item Chromium
    /// drops, a second list, an empty value), and adds `;report-to=<name>` when the policy
    /// has a [`report_to`](super::PolicyBuilder::report_to) endpoint and the value names
    /// none. The value is the caller's list: it holds its own navigation targets (give it
    /// or [`navigations`](Self::navigations), not both) and nothing here checks that it
    /// admits what the `connect-src` list allows — `connect-src audit
    /// --connection-allowlist` and the readiness gate do.
    ///
    /// ```
    /// use connect_src::policy::ConnectionAllowlist;
    /// use connect_src::{ConnectSrc, Policy};
    ///
    /// let policy = Policy::builder()
    ///     .enforce(ConnectSrc::builder().self_origin())
    ///     .report_to("csp", "https://myapp.com/csp-reports")
    ///     .connection_allowlist(ConnectionAllowlist::enforce().value(r#"(response-origin "https://docs.myapp.com")"#))
    ///     .build()?;
    /// let (name, value) = policy.connection_allowlist_header().unwrap();
    /// assert_eq!(name, "connection-allowlist");
    /// assert_eq!(value, r#"(response-origin "https://docs.myapp.com");report-to=csp"#);
    /// // Chromium would drop the item without a scheme: refused.
    /// let e = Policy::builder()
    ///     .enforce(ConnectSrc::builder().self_origin())
    ///     .connection_allowlist(ConnectionAllowlist::enforce().value(r#"(response-origin "docs.myapp.com")"#))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(e.to_string().contains("drops"), "{e}");
    /// # Ok::<_, connect_src::PolicyError>(())
    /// ```
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// The header value written out ([`value`](Self::value)), if any.
    pub fn written_value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// Enforced or report-only.
    pub fn mode(&self) -> AllowlistMode {
        self.mode
    }

    /// The same allowlist in `mode`.
    pub fn with_mode(mut self, mode: AllowlistMode) -> Self {
        self.mode = mode;
        self
    }
}

/// The allowlist a built [`Policy`](super::Policy) emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltAllowlist {
    pub(crate) mode: AllowlistMode,
    pub(crate) translation: Translation,
    pub(crate) navigations: Option<ConnectSrc>,
    pub(crate) redirects_allowed: bool,
    /// The header value, serialized once (checked to parse back as Chromium parses it).
    pub(crate) value: String,
    /// The value as written ([`ConnectionAllowlist::value`]), when it was.
    pub(crate) written: Option<String>,
}

impl BuiltAllowlist {
    /// Enforced or report-only.
    pub fn mode(&self) -> AllowlistMode {
        self.mode
    }
    /// The header value.
    pub fn value(&self) -> &str {
        &self.value
    }
    /// The translation of the connect-src list and the navigation targets (empty for a
    /// value written out).
    pub fn translation(&self) -> &Translation {
        &self.translation
    }
    /// The navigation targets, when given.
    pub fn navigations(&self) -> Option<&ConnectSrc> {
        self.navigations.as_ref()
    }
    /// Whether the value carries `redirects=allow`.
    pub fn redirects_allowed(&self) -> bool {
        self.redirects_allowed
    }

    /// What [`PolicyBuilder::connection_allowlist`](super::PolicyBuilder::connection_allowlist)
    /// was given to build this, to build it again ([`Policy::to_builder`](super::Policy::to_builder)).
    pub(crate) fn to_config(&self) -> ConnectionAllowlist {
        ConnectionAllowlist {
            mode: self.mode,
            navigations: self.navigations.clone().map(Into::into),
            block_redirects: !self.redirects_allowed,
            value: self.written.clone(),
        }
    }
}

/// The allowlist for `list`, or `None` with its problems pushed.
pub(super) fn build(
    a: ConnectionAllowlist,
    list: &ConnectSrc,
    report_to: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<BuiltAllowlist> {
    let ConnectionAllowlist {
        mode,
        navigations,
        block_redirects,
        value,
    } = a;
    if let Some(text) = value {
        if navigations.is_some() {
            problems.push(Problem::field(
                "connection allowlist",
                "navigations",
                "a value written out holds its own navigation targets: give .navigations(…) or .value(…), not both".into(),
            ));
            return None;
        }
        return written(mode, text, report_to, problems);
    }
    let mut translation = Translation::of(list);
    let navigations = match navigations.map(|b| b.build_in(Some("navigations"))) {
        Some(Ok(n)) => Some(n),
        Some(Err(p)) => {
            problems.extend(p);
            return None;
        }
        None => None,
    };
    if let Some(n) = &navigations {
        translation.extend(Translation::of(n));
    }
    let before = problems.len();
    if mode == AllowlistMode::Enforce && navigations.is_none() {
        problems.push(Problem::field(
            "connection allowlist",
            "enforce",
            "an enforced Connection-Allowlist also governs links, forms, location changes and the page's own images and scripts: name them with .navigations(…) (ConnectSrc::none() for none), or keep it report-only".into(),
        ));
    }
    for u in translation.untranslated() {
        problems.push(Problem::field(
            "connection allowlist",
            &u.source,
            u.why.clone(),
        ));
    }
    if problems.len() > before {
        return None;
    }
    let redirects_allowed = !block_redirects;
    let Some(value) = translation.header_value(redirects_allowed, report_to) else {
        problems.push(Problem::other(ProblemKind::NotAHeaderValue));
        return None;
    };
    Some(BuiltAllowlist {
        mode,
        translation,
        navigations,
        redirects_allowed,
        value,
        written: None,
    })
}

/// Checks a value written out as [`PolicyBuilder::build`](super::PolicyBuilder::build)
/// would ([`ConnectionAllowlist::value`]): Chromium must read every item of it.
pub(crate) fn check_written(text: &str) -> Result<(), super::PolicyError> {
    let mut problems = Vec::new();
    match written(AllowlistMode::Enforce, text.to_owned(), None, &mut problems) {
        Some(_) => Ok(()),
        None => Err(super::PolicyError::new(problems)),
    }
}

/// The allowlist for a value written out ([`ConnectionAllowlist::value`]), or `None` with
/// its problems pushed: refused unless Chromium reads every item of it.
fn written(
    mode: AllowlistMode,
    text: String,
    report_to: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<BuiltAllowlist> {
    let field = |why: String| Problem::field("connection allowlist", text.trim(), why);
    let mut value = text.trim().to_owned();
    let read = match AllowlistReading::parse(&value) {
        AllowlistReading::Ignored => {
            problems.push(field("an empty value is no policy at all".into()));
            return None;
        }
        AllowlistReading::FailsClosed(why) => {
            problems.push(field(format!(
                "{why}: Chromium would block every connection"
            )));
            return None;
        }
        AllowlistReading::List(l) => l,
    };
    let before = problems.len();
    for d in &read.dropped {
        problems.push(field(format!("Chromium drops the item {d}")));
    }
    if read.more_lists {
        problems.push(field(
            "only the first list counts in Chromium: write one list".into(),
        ));
    }
    if problems.len() > before {
        return None;
    }
    if let (None, Some(name)) = (&read.report_to, report_to) {
        value = format!("{value};report-to={name}");
        let again = matches!(AllowlistReading::parse(&value),
            AllowlistReading::List(l) if l.report_to.as_deref() == Some(name) && l.dropped.is_empty());
        if !again {
            problems.push(Problem::other(ProblemKind::NotAHeaderValue));
            return None;
        }
    }
    if http::HeaderValue::from_str(&value).is_err() {
        problems.push(field("not a valid header value".into()));
        return None;
    }
    Some(BuiltAllowlist {
        mode,
        translation: Translation::default(),
        navigations: None,
        redirects_allowed: read.redirects_allowed,
        value,
        written: Some(text),
    })
}

/// One allowlist item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowlistItem {
    /// The token `response-origin`: the page's exact origin.
    ResponseOrigin,
    /// A URLPattern constructor string (`https://*.myapp.com`).
    Pattern(String),
}

impl fmt::Display for AllowlistItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowlistItem::ResponseOrigin => f.write_str("response-origin"),
            AllowlistItem::Pattern(p) => write!(f, "{p:?}"),
        }
    }
}

/// Something the allowlist admits that the source does not (the allowlist can say no less).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widening {
    /// The source, as written in the list (`https://api.myapp.com`).
    pub source: String,
    /// What the items admit beyond it, in words (`wss://api.myapp.com: Chromium matches a
    /// WebSocket URL as its https form`).
    pub admits: String,
}

/// A source the allowlist cannot say, or says only in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslated {
    /// The source, as written.
    pub source: String,
    /// Why, and what the allowlist then blocks that the source allows.
    pub why: String,
}

/// A `connect-src` list said as allowlist items (measured in Chromium 156, FINDINGS.md
/// section 7), with every widening and every gap named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    items: Vec<AllowlistItem>,
    widenings: Vec<Widening>,
    untranslated: Vec<Untranslated>,
    notes: Vec<String>,
}

impl Translation {
    /// Translates `list`:
    ///
    /// | source | items | admits beyond the source |
    /// |---|---|---|
    /// | `'self'` | `response-origin` | nothing on an https page (on an http page `'self'` also admits the https origin: see [`notes`](Self::notes)) |
    /// | `https://h`, `https://h:P`, `https://h:*` | `"https://h"`, `"https://h:P"`, `"https://h:*"` | `wss://` to the same |
    /// | `wss://h` | `"https://h"` | `https://h` requests |
    /// | `http://h`, `ws://h`, `h` | `"http{s}?://h"` | `ws://h`, `wss://h` (and `http://h` for `ws:`) |
    /// | `http://h:P` (P ≠ 80) | `"http://h:P"` | `ws://h:P` |
    /// | `https://*.h` | `"https://*.h"` | `wss://*.h` (the apex is out of both) |
    /// | `https://h/api/`, `https://h/file` | `"https://h/api/*"`, `"https://h/file"` | — |
    /// | `https:`, `wss:` | `"https://*:*"` | every `wss:` / every `https:` |
    /// | `http:`, `ws:`, `*` | `"http{s}?://*:*"` | every `ws:`/`wss:` (none for `*`) |
    /// | `'none'` | none | — |
    /// | `data:`, `blob:` | none: not governed | — |
    pub fn of(list: &ConnectSrc) -> Translation {
        let mut t = Translation::default();
        for s in list.sources() {
            t.add(s);
        }
        t
    }

    fn push(&mut self, item: AllowlistItem) {
        if !self.items.contains(&item) {
            self.items.push(item);
        }
    }

    /// Adds the pattern for `source`, or names the source untranslated when Chromium would
    /// drop that pattern (`*.0.0.1`: a wildcard URLPattern cannot spell).
    fn push_pattern(&mut self, source: &Source, p: String) -> bool {
        match compile(&p) {
            Ok(_) => {
                self.push(AllowlistItem::Pattern(p));
                true
            }
            Err(why) => {
                self.untranslated.push(Untranslated {
                    source: source.to_string(),
                    why: format!("its pattern {p:?} is one Chromium drops ({why}): connections the source allows would be blocked"),
                });
                false
            }
        }
    }

    fn widen(&mut self, source: &Source, admits: String) {
        self.widenings.push(Widening {
            source: source.to_string(),
            admits,
        });
    }

    fn add(&mut self, s: &Source) {
        match s {
            Source::None => {}
            Source::SelfOrigin => {
                self.push(AllowlistItem::ResponseOrigin);
                self.notes.push(
                    "'self' -> response-origin: the same on an https page; on an http:// page \
                     'self' also admits https:// and wss:// to the page's host, which \
                     response-origin does not (serve the page over https)"
                        .into(),
                );
            }
            Source::UnsafeWebTransportHashes => self
                .notes
                .push("'unsafe-webtransport-hashes' matches no URL: nothing to list".into()),
            Source::Scheme(scheme) => match scheme.as_str() {
                "https" => {
                    self.push(pattern("https://*:*"));
                    self.widen(
                        s,
                        "every wss: URL (a WebSocket is matched as its https form)".into(),
                    );
                }
                "wss" => {
                    self.push(pattern("https://*:*"));
                    self.widen(s, "every https: fetch, XHR, EventSource and beacon".into());
                }
                "http" => {
                    self.push(pattern("http{s}?://*:*"));
                    self.widen(s, "every ws: and wss: URL".into());
                }
                "ws" => {
                    self.push(pattern("http{s}?://*:*"));
                    self.widen(s, "every http: and https: request".into());
                }
                "data" | "blob" => self.notes.push(format!(
                    "{s} is not governed by Connection-Allowlist (nothing to list)"
                )),
                other => self.untranslated.push(Untranslated {
                    source: s.to_string(),
                    why: format!(
                        "Chromium matches only http(s) URLs (WebSockets as http(s)): a {other}: \
                         connection would be blocked"
                    ),
                }),
            },
            Source::Host(h) => self.add_host(s, h),
        }
    }

    fn add_host(&mut self, s: &Source, h: &HostSource) {
        if s.is_star() {
            self.push(pattern("http{s}?://*:*"));
            return;
        }
        let host = match h.host() {
            Host::Any => "*".to_owned(),
            Host::Subdomains(d) => format!("*.{d}"),
            Host::Name(n) => n.to_string(),
        };
        let port = h.port();
        let path = h.path().map(|p| {
            let mut out = escape_pattern(p);
            if p.ends_with('/') {
                out.push('*');
            }
            out
        });
        let path = path.unwrap_or_default();
        let scheme = h.scheme().map(|s| s.as_str());
        let with_port = |scheme: &str, default: u16| match port {
            None => format!("{scheme}://{host}"),
            Some(Port::Number(n)) if n == default => format!("{scheme}://{host}"),
            Some(Port::Number(n)) => format!("{scheme}://{host}:{n}"),
            Some(Port::Any) => format!("{scheme}://{host}:*"),
        };
        let default_port = |p: Option<Port>, d: u16| match p {
            None => true,
            Some(Port::Number(n)) => n == d,
            Some(Port::Any) => false,
        };
        match scheme {
            Some("https") => {
                if !self.push_pattern(s, format!("{}{path}", with_port("https", 443))) {
                    return;
                }
                self.widen(
                    s,
                    format!(
                        "{}: Chromium matches a WebSocket URL as its https form",
                        with_port("wss", 443)
                    ),
                );
            }
            Some("wss") => {
                if !self.push_pattern(s, format!("{}{path}", with_port("https", 443))) {
                    return;
                }
                self.widen(s, format!("{}: fetch, XHR, EventSource and beacons (the pattern that admits wss: is the https one)", with_port("https", 443)));
            }
            Some("http") if !default_port(port, 80) && port != Some(Port::Any) => {
                if !self.push_pattern(s, format!("{}{path}", with_port("http", 80))) {
                    return;
                }
                self.widen(
                    s,
                    format!(
                        "{}: a WebSocket is matched as its http form",
                        with_port("ws", 80)
                    ),
                );
            }
            Some("http") | Some("ws") | None => {
                let p = match port {
                    Some(Port::Number(n)) if n != 80 && n != 443 => format!(":{n}"),
                    Some(Port::Any) => ":*".to_owned(),
                    _ => String::new(),
                };
                if !self.push_pattern(s, format!("http{{s}}?://{host}{p}{path}")) {
                    return;
                }
                let also = match scheme {
                    Some("ws") => format!("http://{host}{p} and https://{host}{p} requests"),
                    None => format!("http://{host}{p} on an https page (mixed content blocks it there, loopback aside), and ws:// and wss:// to it"),
                    _ => format!("ws://{host}{p} and wss://{host}{p}"),
                };
                self.widen(s, also);
            }
            Some(other) => self.untranslated.push(Untranslated {
                source: s.to_string(),
                why: format!(
                    "Chromium matches only http(s) URLs (WebSockets as http(s)): a {other}: \
                     connection would be blocked"
                ),
            }),
        }
    }

    /// The items, in the order of the sources, without repeats.
    pub fn items(&self) -> &[AllowlistItem] {
        &self.items
    }
    /// What the items admit beyond the sources.
    pub fn widenings(&self) -> &[Widening] {
        &self.widenings
    }
    /// Sources the allowlist cannot say: with any, it would block connections the list
    /// allows, and [`PolicyBuilder::build`](super::PolicyBuilder::build) refuses it.
    pub fn untranslated(&self) -> &[Untranslated] {
        &self.untranslated
    }
    /// Remarks that do not change what the list admits on an https page.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Another translation's items, widenings, gaps and notes after these (an item or a
    /// note already here is not repeated): how navigation targets join the connect-src
    /// list's translation.
    ///
    /// ```
    /// use connect_src::policy::Translation;
    /// use connect_src::ConnectSrc;
    ///
    /// let mut t = Translation::of(&"https://api.x.com".parse::<ConnectSrc>()?);
    /// t.extend(Translation::of(&"'self' https://api.x.com".parse::<ConnectSrc>()?));
    /// assert_eq!(t.items().len(), 2); // "https://api.x.com" once, then response-origin
    /// # Ok::<_, connect_src::PolicyError>(())
    /// ```
    pub fn extend(&mut self, other: Translation) {
        for i in other.items {
            self.push(i);
        }
        self.widenings.extend(other.widenings);
        self.untranslated.extend(other.untranslated);
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }

    /// The header value: `(items…)` then `;redirects=allow` unless `block_redirects`, then
    /// `;report-to=<endpoint>`. Serialized by `sfv` and read back as Chromium reads it;
    /// `None` if it would not read back the same (a value Chromium cannot parse blocks
    /// every connection, so none is ever emitted).
    pub fn header_value(&self, redirects_allowed: bool, report_to: Option<&str>) -> Option<String> {
        let mut ser = ListSerializer::new();
        {
            let mut inner = ser.inner_list();
            for item in &self.items {
                match item {
                    AllowlistItem::ResponseOrigin => {
                        let _ = inner.bare_item(TokenRef::from_str("response-origin").ok()?);
                    }
                    AllowlistItem::Pattern(p) => {
                        let _ = inner.bare_item(StringRef::from_str(p).ok()?);
                    }
                }
            }
            let mut params = inner.finish();
            if redirects_allowed {
                params = params.parameter(
                    KeyRef::from_str("redirects").ok()?,
                    TokenRef::from_str("allow").ok()?,
                );
            }
            if let Some(name) = report_to {
                let _ = params.parameter(
                    KeyRef::from_str("report-to").ok()?,
                    TokenRef::from_str(name).ok()?,
                );
            }
        }
        let value = ser.finish()?;
        let read = AllowlistReading::parse(&value);
        let same = match &read {
            AllowlistReading::List(l) => {
                l.items.len() == self.items.len()
                    && l.dropped.is_empty()
                    && l.redirects_allowed == redirects_allowed
                    && l.report_to.as_deref() == report_to
            }
            _ => false,
        };
        (same && http::HeaderValue::from_str(&value).is_ok()).then_some(value)
    }
}

fn pattern(p: &str) -> AllowlistItem {
    AllowlistItem::Pattern(p.to_owned())
}

/// A path as a URLPattern pathname matching it literally: the pattern syntax's special
/// characters behind a backslash.
fn escape_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '\\' | ':' | '*' | '(' | ')' | '{' | '}' | '?' | '+') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &str) -> String {
        let l: ConnectSrc = list.parse().unwrap();
        let t = Translation::of(&l);
        t.header_value(true, None).unwrap()
    }

    #[test]
    fn the_measured_table() {
        assert_eq!(items("'self'"), "(response-origin);redirects=allow");
        assert_eq!(
            items("https://h.test"),
            r#"("https://h.test");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test:443"),
            r#"("https://h.test");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test:8443"),
            r#"("https://h.test:8443");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test:*"),
            r#"("https://h.test:*");redirects=allow"#
        );
        assert_eq!(
            items("wss://h.test"),
            r#"("https://h.test");redirects=allow"#
        );
        assert_eq!(
            items("ws://h.test"),
            r#"("http{s}?://h.test");redirects=allow"#
        );
        assert_eq!(
            items("http://h.test"),
            r#"("http{s}?://h.test");redirects=allow"#
        );
        assert_eq!(
            items("http://h.test:8080"),
            r#"("http://h.test:8080");redirects=allow"#
        );
        assert_eq!(items("h.test"), r#"("http{s}?://h.test");redirects=allow"#);
        assert_eq!(
            items("https://*.h.test"),
            r#"("https://*.h.test");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test/api/"),
            r#"("https://h.test/api/*");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test/file"),
            r#"("https://h.test/file");redirects=allow"#
        );
        assert_eq!(items("https:"), r#"("https://*:*");redirects=allow"#);
        assert_eq!(items("wss:"), r#"("https://*:*");redirects=allow"#);
        assert_eq!(items("http: ws:"), r#"("http{s}?://*:*");redirects=allow"#);
        assert_eq!(items("*"), r#"("http{s}?://*:*");redirects=allow"#);
        assert_eq!(items("'none'"), "();redirects=allow");
        assert_eq!(items("data: blob:"), "();redirects=allow");
    }

    #[test]
    fn what_does_not_translate_is_named() {
        let l: ConnectSrc = "'self' ftp://files.test".parse().unwrap();
        let t = Translation::of(&l);
        assert_eq!(t.untranslated().len(), 1);
        assert_eq!(t.untranslated()[0].source, "ftp://files.test");
        let l: ConnectSrc = "https://a.test wss://b.test".parse().unwrap();
        let w = Translation::of(&l);
        assert_eq!(w.widenings().len(), 2);
        assert!(w.widenings()[0].admits.starts_with("wss://a.test"));
    }

    #[test]
    fn a_pattern_chromium_would_drop_is_untranslated() {
        let l: ConnectSrc = "'self' http://*.0.0.1".parse().unwrap();
        let t = Translation::of(&l);
        assert_eq!(t.untranslated().len(), 1, "{t:?}");
        assert_eq!(t.items(), &[AllowlistItem::ResponseOrigin]);
    }

    #[test]
    fn paths_with_pattern_syntax_are_escaped_and_still_parse() {
        let l: ConnectSrc = "https://h.test/a:b/(x)*".parse().unwrap();
        let v = Translation::of(&l)
            .header_value(false, Some("csp"))
            .unwrap();
        assert_eq!(v, r#"("https://h.test/a\\:b/\\(x\\)\\*");report-to=csp"#);
    }
}

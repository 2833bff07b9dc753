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

use http::HeaderName;

mod read;
mod translate;

pub(crate) use read::{as_matched, AllowlistReading, ReadItem, ReadList};
pub use translate::{AllowlistItem, Translation, Untranslated, Widening};

use super::error::{Problem, ProblemKind};
use super::list::{ConnectSrc, ConnectSrcBuilder};

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

/// A value written out ([`ConnectionAllowlist::value`]) as Chromium reads it, checked as
/// [`PolicyBuilder::build`](super::PolicyBuilder::build) checks it: Chromium must read
/// every item of it.
pub(crate) fn check_written(text: &str) -> Result<AllowlistReading, super::PolicyError> {
    read_written(text)
        .map(AllowlistReading::List)
        .map_err(super::PolicyError::new)
}

/// The list of a value written out, or the problems that refuse it: it must parse, and
/// Chromium must keep every item of its one list.
fn read_written(text: &str) -> Result<ReadList, Vec<Problem>> {
    let text = text.trim();
    let field = |why: String| Problem::field("connection allowlist", text, why);
    let read = match AllowlistReading::parse(text) {
        AllowlistReading::Ignored => {
            return Err(vec![field("an empty value is no policy at all".into())])
        }
        AllowlistReading::FailsClosed(why) => {
            return Err(vec![field(format!(
                "{why}: Chromium would block every connection"
            ))])
        }
        AllowlistReading::List(l) => l,
    };
    let mut problems: Vec<Problem> = read
        .dropped
        .iter()
        .map(|d| field(format!("Chromium drops the item {d}")))
        .collect();
    if read.more_lists {
        problems.push(field(
            "only the first list counts in Chromium: write one list".into(),
        ));
    }
    if problems.is_empty() {
        Ok(read)
    } else {
        Err(problems)
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
    let read = match read_written(&text) {
        Ok(l) => l,
        Err(p) => {
            problems.extend(p);
            return None;
        }
    };
    let mut value = text.trim().to_owned();
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
        problems.push(Problem::field(
            "connection allowlist",
            &value,
            "not a valid header value".into(),
        ));
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

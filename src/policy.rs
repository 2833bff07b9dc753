//! The `connect-src` list ([`ConnectSrc`]) and the whole policy ([`Policy`]): enforced and/or
//! report-only lists, where reports go, and the environment that decides what is too loose.
//!
//! ```
//! use connect_src::{ConnectSrc, Policy};
//!
//! let policy = Policy::builder()
//!     .enforce(
//!         ConnectSrc::builder()
//!             .self_origin()
//!             .host("https://api.myapp.com")
//!             .websocket("wss://ws.myapp.com")
//!             .subdomains_of("https://myapp.com"),
//!     )
//!     .report_uri("/csp-reports")
//!     .report_to("csp", "https://myapp.com/csp-reports")
//!     .build()?;
//!
//! assert_eq!(
//!     policy.enforced_header().unwrap(),
//!     "connect-src 'self' https://api.myapp.com wss://ws.myapp.com https://*.myapp.com; \
//!      report-uri /csp-reports; report-to csp"
//! );
//! assert_eq!(policy.reporting_endpoints_header().unwrap(), r#"csp="https://myapp.com/csp-reports""#);
//! # Ok::<_, connect_src::PolicyError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::audit::{self, Finding};
use crate::layer::{Compiled, CspLayer};
use crate::source::{is_loopback_host, HostSource, Scheme, Source, SourceError};

/// A validated `connect-src` source list: ordered as given, without duplicates, and `'none'`
/// only when alone (§2.3.1; browsers silently ignore `'none'` next to other sources, so a
/// list holding both is refused rather than guessed at).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct ConnectSrc {
    sources: Vec<Source>,
}

impl ConnectSrc {
    /// Starts a list. Add sources with the builder's methods, then [`build`](ConnectSrcBuilder::build)
    /// or hand the builder to [`PolicyBuilder::enforce`] / [`PolicyBuilder::report_only`].
    pub fn builder() -> ConnectSrcBuilder {
        ConnectSrcBuilder::default()
    }

    /// `connect-src 'none'`: no connections at all.
    pub fn none() -> ConnectSrc {
        ConnectSrc {
            sources: vec![Source::None],
        }
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Whether the list is `'none'`.
    pub fn is_none(&self) -> bool {
        self.sources == [Source::None]
    }

    /// The whole directive: `connect-src` and the value.
    pub(crate) fn directive(&self) -> String {
        format!("connect-src {}", self.value())
    }

    /// The directive value: the sources joined by single spaces (`'self' https://a.com`).
    pub fn value(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.sources.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&s.to_string());
        }
        out
    }

    /// A list from sources already known to be valid together (one source, or a subset of
    /// a valid list).
    pub(crate) fn from_trusted(sources: Vec<Source>) -> ConnectSrc {
        ConnectSrc { sources }
    }

    /// Checks the list with a set of strict rules; used by [`ConnectSrcBuilder::build`].
    fn from_sources(sources: Vec<Source>) -> Result<ConnectSrc, Vec<ProblemKind>> {
        let mut out: Vec<Source> = Vec::with_capacity(sources.len());
        for s in sources {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        if out.is_empty() {
            return Err(vec![ProblemKind::EmptyList]);
        }
        if out.len() > 1 && out.contains(&Source::None) {
            return Err(vec![ProblemKind::NoneNotAlone]);
        }
        Ok(ConnectSrc { sources: out })
    }
}

impl fmt::Display for ConnectSrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value())
    }
}

/// Parses a whole directive value such as `'self' https://api.myapp.com` (sources separated
/// by ASCII whitespace; a leading `connect-src` name is accepted too). Every bad source is
/// reported in the one error.
impl FromStr for ConnectSrc {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = ConnectSrc::builder();
        let mut words = s.split_ascii_whitespace().peekable();
        if words
            .peek()
            .is_some_and(|w| w.eq_ignore_ascii_case("connect-src"))
        {
            words.next();
        }
        for w in words {
            b = b.source(w);
        }
        b.build()
    }
}

impl TryFrom<&str> for ConnectSrc {
    type Error = PolicyError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl<const N: usize> TryFrom<[&str; N]> for ConnectSrc {
    type Error = PolicyError;
    fn try_from(list: [&str; N]) -> Result<Self, Self::Error> {
        list.into_iter()
            .fold(ConnectSrc::builder(), ConnectSrcBuilder::source)
            .build()
    }
}

impl TryFrom<Vec<String>> for ConnectSrc {
    type Error = PolicyError;
    fn try_from(list: Vec<String>) -> Result<Self, Self::Error> {
        list.iter()
            .fold(ConnectSrc::builder(), |b, s| b.source(s.as_str()))
            .build()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ConnectSrc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value())
    }
}

/// Deserializes from a directive string (`"'self' https://a.com"`) or from a list of source
/// strings (`["'self'", "https://a.com"]`), so allowlists can live in config files and
/// environment variables. Invalid sources fail deserialization with the full error text.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ConnectSrc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            One(String),
            Many(Vec<String>),
        }
        match Repr::deserialize(d)? {
            Repr::One(s) => s.parse(),
            Repr::Many(v) => ConnectSrc::try_from(v),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Consuming builder for a [`ConnectSrc`]. Methods that take strings never panic: problems are
/// collected and all returned together by [`build`](Self::build).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ConnectSrcBuilder {
    sources: Vec<Source>,
    problems: Vec<Problem>,
}

impl ConnectSrcBuilder {
    /// `'self'`: the page's own origin (and its ws/wss equivalent, §6.7.2.8).
    pub fn self_origin(mut self) -> Self {
        self.sources.push(Source::SelfOrigin);
        self
    }

    /// `'none'`: no connections. Must be the only source.
    pub fn none(mut self) -> Self {
        self.sources.push(Source::None);
        self
    }

    /// Any typed source, or a source expression string (`"https://api.x.com:8443"`,
    /// `"'self'"`, `"wss:"`).
    pub fn source(mut self, source: impl IntoSource) -> Self {
        match source.into_source() {
            Ok(s) => self.sources.push(s),
            Err(e) => self.problems.push(Problem::source(e)),
        }
        self
    }

    /// Many sources at once.
    pub fn sources<I>(self, sources: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoSource,
    {
        sources.into_iter().fold(self, Self::source)
    }

    /// A host-source (`https://api.myapp.com`, `api.myapp.com:8443`, `https://cdn.x.com/v1/`).
    /// Keywords and scheme-only sources are refused here: use [`source`](Self::source).
    pub fn host(self, host: &str) -> Self {
        self.host_with(host, None)
    }

    /// A WebSocket origin. Accepts `wss://…`, `ws://…`, or a bare host (which becomes
    /// `wss://host`). Browsers never let an `https://` source cover `wss://` (see the
    /// README's browser differences), so WebSocket endpoints need their own source.
    pub fn websocket(self, origin: &str) -> Self {
        if origin.contains("://") {
            self.host_with(origin, Some(&["ws", "wss"]))
        } else {
            self.host_with(&format!("wss://{origin}"), Some(&["wss"]))
        }
    }

    /// Every subdomain of a host, not the host itself: `subdomains_of("https://myapp.com")`
    /// adds `https://*.myapp.com`. Add [`host`](Self::host) too if the apex connects as well.
    pub fn subdomains_of(self, origin: &str) -> Self {
        let (scheme, rest) = match origin.find("://") {
            Some(i) => (&origin[..i + 3], &origin[i + 3..]),
            None => ("", origin),
        };
        if rest.starts_with('*') {
            return self.host(origin);
        }
        self.host(&format!("{scheme}*.{rest}"))
    }

    /// A scheme-source (`https:`, `wss:`): every URL with that scheme. Production refuses the
    /// broad ones; see [`Environment`].
    pub fn scheme(self, scheme: Scheme) -> Self {
        self.source(Source::Scheme(scheme))
    }

    fn host_with(mut self, text: &str, schemes: Option<&'static [&'static str]>) -> Self {
        match text.parse::<Source>() {
            Ok(Source::Host(h)) => {
                if let Some(allowed) = schemes {
                    if !h.scheme().is_some_and(|s| allowed.contains(&s.as_str())) {
                        self.problems.push(Problem::source(SourceError::new(
                            text,
                            crate::source::SourceErrorKind::WrongScheme(
                                "a ws:// or wss:// origin (browsers never match https:// sources against WebSocket URLs)",
                            ),
                        )));
                        return self;
                    }
                }
                self.sources.push(Source::Host(h));
            }
            Ok(_) => self.problems.push(Problem::source(SourceError::new(
                text,
                crate::source::SourceErrorKind::NotAHostSource,
            ))),
            Err(e) => self.problems.push(Problem::source(e)),
        }
        self
    }

    /// Validates the list: every invalid source, and the list-level rules, in one error.
    /// Environment rules ([`Environment::Production`]) are applied by [`PolicyBuilder::build`].
    pub fn build(self) -> Result<ConnectSrc, PolicyError> {
        self.build_in(None).map_err(PolicyError::new)
    }

    fn build_in(self, list: Option<&'static str>) -> Result<ConnectSrc, Vec<Problem>> {
        let mut problems = self.problems;
        for p in &mut problems {
            p.list = list;
        }
        match ConnectSrc::from_sources(self.sources) {
            Ok(c) if problems.is_empty() => Ok(c),
            Ok(_) => Err(problems),
            Err(kinds) => {
                problems.extend(kinds.into_iter().map(|kind| Problem {
                    list,
                    source: None,
                    kind,
                }));
                Err(problems)
            }
        }
    }
}

impl From<ConnectSrc> for ConnectSrcBuilder {
    fn from(c: ConnectSrc) -> Self {
        ConnectSrcBuilder {
            sources: c.sources,
            problems: Vec::new(),
        }
    }
}

/// What [`ConnectSrcBuilder::source`] accepts: a typed [`Source`] (or [`HostSource`],
/// [`Scheme`]) or a source-expression string.
pub trait IntoSource {
    /// Converts, validating strings.
    fn into_source(self) -> Result<Source, SourceError>;
}
impl IntoSource for Source {
    fn into_source(self) -> Result<Source, SourceError> {
        Ok(self)
    }
}
impl IntoSource for HostSource {
    fn into_source(self) -> Result<Source, SourceError> {
        Ok(Source::Host(self))
    }
}
impl IntoSource for Scheme {
    fn into_source(self) -> Result<Source, SourceError> {
        Ok(Source::Scheme(self))
    }
}
impl IntoSource for &str {
    fn into_source(self) -> Result<Source, SourceError> {
        self.parse()
    }
}
impl IntoSource for &String {
    fn into_source(self) -> Result<Source, SourceError> {
        self.parse()
    }
}
impl IntoSource for String {
    fn into_source(self) -> Result<Source, SourceError> {
        self.parse()
    }
}

/// Where the policy is deployed; decides which sources are too loose to ship.
///
/// The default is [`Production`](Environment::Production) in every build profile: a policy
/// is strict unless you say otherwise, so a forgotten setting fails loudly at start-up
/// instead of shipping `*`. Choose `Development` explicitly (for example from your own
/// config or `cfg!(debug_assertions)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Environment {
    /// Refuses `*`, the scheme-only sources `http:` `https:` `ws:` `wss:` `data:` `blob:`,
    /// and plain `http://` / `ws://` hosts other than loopback. Dev-server sources are left
    /// out.
    #[default]
    Production,
    /// Allows everything the grammar allows and adds the [dev-server](PolicyBuilder::dev_server)
    /// sources.
    Development,
}

/// The whole policy: what is enforced, what is only reported, and where reports go. Its
/// header values are serialized once, here, and never fail at request time.
#[derive(Debug, Clone)]
#[must_use]
pub struct Policy {
    pub(crate) enforced: Option<ConnectSrc>,
    pub(crate) report_only: Option<ConnectSrc>,
    pub(crate) report_uri: Option<String>,
    pub(crate) report_to: Option<(String, String)>,
    pub(crate) environment: Environment,
    compiled: Compiled,
}

impl Policy {
    /// A tower layer that sets this policy on every response ([`HeaderMode::Merge`](crate::HeaderMode::Merge)).
    pub fn layer(&self) -> CspLayer {
        CspLayer::new(self.clone())
    }

    pub(crate) fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// Starts a policy.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The enforced `connect-src` list, if any.
    pub fn enforced(&self) -> Option<&ConnectSrc> {
        self.enforced.as_ref()
    }
    /// The report-only `connect-src` list, if any.
    pub fn report_only(&self) -> Option<&ConnectSrc> {
        self.report_only.as_ref()
    }
    /// The `report-uri` value, if any.
    pub fn report_uri(&self) -> Option<&str> {
        self.report_uri.as_deref()
    }
    /// The `report-to` endpoint name and URL, if any.
    pub fn report_to(&self) -> Option<(&str, &str)> {
        self.report_to
            .as_ref()
            .map(|(n, u)| (n.as_str(), u.as_str()))
    }
    /// The environment the policy was built for.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The reporting directives that follow `connect-src` (`report-uri …`, `report-to …`).
    pub(crate) fn reporting_directives(&self) -> Vec<String> {
        let uri = self.report_uri.iter().map(|u| format!("report-uri {u}"));
        let to = self.report_to.iter().map(|(n, _)| format!("report-to {n}"));
        uri.chain(to).collect()
    }

    fn header_for(&self, list: Option<&ConnectSrc>) -> Option<String> {
        list.map(|l| {
            let mut parts = vec![l.directive()];
            parts.extend(self.reporting_directives());
            parts.join("; ")
        })
    }

    /// The `Content-Security-Policy` header value, if the policy enforces a list.
    pub fn enforced_header(&self) -> Option<String> {
        self.header_for(self.enforced.as_ref())
    }

    /// The `Content-Security-Policy-Report-Only` header value, if the policy has one.
    pub fn report_only_header(&self) -> Option<String> {
        self.header_for(self.report_only.as_ref())
    }

    /// The `Reporting-Endpoints` header value (`name="url"`), when `report-to` is set.
    pub fn reporting_endpoints_header(&self) -> Option<String> {
        self.report_to.as_ref().map(|(n, u)| format!("{n}=\"{u}\""))
    }

    /// The audit findings for every list of this policy (see [`crate::audit`]).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for l in [&self.enforced, &self.report_only].into_iter().flatten() {
            out.extend(audit::audit(l.sources()));
        }
        out
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = self.enforced_header() {
            writeln!(f, "Content-Security-Policy: {h}")?;
        }
        if let Some(h) = self.report_only_header() {
            writeln!(f, "Content-Security-Policy-Report-Only: {h}")?;
        }
        if let Some(h) = self.reporting_endpoints_header() {
            writeln!(f, "Reporting-Endpoints: {h}")?;
        }
        Ok(())
    }
}

/// Consuming builder for a [`Policy`]. [`build`](Self::build) returns every problem at once.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PolicyBuilder {
    enforced: Option<ConnectSrcBuilder>,
    report_only: Option<ConnectSrcBuilder>,
    report_uri: Option<String>,
    report_to: Option<(String, String)>,
    environment: Environment,
    dev_servers: Vec<String>,
}

impl PolicyBuilder {
    /// The list browsers enforce (`Content-Security-Policy`).
    pub fn enforce(mut self, list: impl Into<ConnectSrcBuilder>) -> Self {
        self.enforced = Some(list.into());
        self
    }

    /// A list browsers only report on (`Content-Security-Policy-Report-Only`): roll out a
    /// stricter list next to the enforced one and watch the reports before switching.
    pub fn report_only(mut self, list: impl Into<ConnectSrcBuilder>) -> Self {
        self.report_only = Some(list.into());
        self
    }

    /// `report-uri`: where browsers POST `application/csp-report` bodies. A path (`/csp-reports`)
    /// or an absolute http(s) URL. Sent alongside `report-to` for browsers without the
    /// Reporting API (a browser that supports `report-to` ignores `report-uri`, §5.5).
    pub fn report_uri(mut self, uri: impl Into<String>) -> Self {
        self.report_uri = Some(uri.into());
        self
    }

    /// `report-to <name>` plus a `Reporting-Endpoints: name="url"` header. The URL must be
    /// absolute and https, or http on loopback (browsers ignore other endpoints), and
    /// browsers only honour the header on secure pages.
    pub fn report_to(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.report_to = Some((name.into(), url.into()));
        self
    }

    /// The environment to validate against; defaults to [`Environment::Production`].
    pub fn environment(mut self, env: Environment) -> Self {
        self.environment = env;
        self
    }

    /// A development server whose HMR connections must be allowed: `dev_server("localhost:5173")`
    /// adds `ws://localhost:5173 http://localhost:5173` to every list, in
    /// [`Environment::Development`] only (in production these sources are left out).
    pub fn dev_server(mut self, host_port: impl Into<String>) -> Self {
        self.dev_servers.push(host_port.into());
        self
    }

    /// Validates everything and serializes the policy. The error lists every problem found.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let mut problems = Vec::new();
        let dev = self.environment == Environment::Development;
        let mut lists = [
            (self.enforced, "enforced"),
            (self.report_only, "report-only"),
        ];
        if lists.iter().all(|(l, _)| l.is_none()) {
            problems.push(Problem::other(ProblemKind::NoList));
        }
        if !dev {
            // Left out in production, but a typo is still an error in every environment.
            for d in &self.dev_servers {
                if let Err(e) = format!("ws://{d}").parse::<Source>() {
                    problems.push(Problem::source(e));
                }
            }
        }
        let mut built: [Option<ConnectSrc>; 2] = [None, None];
        for (i, (list, name)) in lists.iter_mut().enumerate() {
            let Some(mut b) = list.take() else { continue };
            if dev {
                for d in &self.dev_servers {
                    for scheme in ["ws", "http"] {
                        b = b.source(format!("{scheme}://{d}"));
                    }
                }
            }
            // Audit the sources that parsed even when others did not: one error, every problem.
            if self.environment == Environment::Production {
                for f in audit::audit(&b.sources) {
                    if f.refused_in_production() {
                        problems.push(Problem {
                            list: Some(name),
                            source: f.source.clone(),
                            kind: ProblemKind::RefusedInProduction(f.message.clone()),
                        });
                    }
                }
            }
            match b.build_in(Some(name)) {
                Ok(c) => built[i] = Some(c),
                Err(p) => problems.extend(p),
            }
        }
        if let Some(uri) = &self.report_uri {
            if let Err(why) = check_report_uri(uri) {
                problems.push(Problem::field("report-uri", uri, why));
            }
        }
        if let Some((name, url)) = &self.report_to {
            if let Err(why) = check_endpoint_name(name) {
                problems.push(Problem::field("report-to name", name, why));
            }
            if let Err(why) = check_endpoint_url(url) {
                problems.push(Problem::field("report-to URL", url, why));
            }
        }
        if !problems.is_empty() {
            return Err(PolicyError::new(problems));
        }
        let [enforced, report_only] = built;
        let mut policy = Policy {
            enforced,
            report_only,
            report_uri: self.report_uri,
            report_to: self.report_to,
            environment: self.environment,
            compiled: Compiled::default(),
        };
        // Serialize the header values once. Validation above admits only visible ASCII, so
        // this cannot fail; if it ever did, it is an error here, never at request time.
        policy.compiled = Compiled::new(&policy)
            .map_err(|_| PolicyError::new(vec![Problem::other(ProblemKind::NotAHeaderValue)]))?;
        Ok(policy)
    }
}

/// Visible ASCII without the policy's separators: what a directive value may hold.
fn check_header_text(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !c.is_ascii_graphic() || matches!(c, ';' | ',' | '"' | '\''))
    {
        return Err(format!(
            "{c:?} is not allowed (whitespace, controls, ';', ',', quotes and non-ASCII would break or inject into the header; percent-encode them)"
        ));
    }
    Ok(())
}

fn check_report_uri(uri: &str) -> Result<(), String> {
    check_header_text(uri)?;
    if uri.starts_with('/') && !uri.starts_with("//") {
        return Ok(());
    }
    match url::Url::parse(uri) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err("must be a path starting with '/' or an absolute http(s) URL".into()),
    }
}

/// Reporting-Endpoints is a structured-field dictionary (RFC 8941 §3.2): keys are
/// `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
fn check_endpoint_name(name: &str) -> Result<(), String> {
    let mut b = name.bytes();
    let first_ok = matches!(b.next(), Some(c) if c.is_ascii_lowercase() || c == b'*');
    if first_ok && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c)) {
        Ok(())
    } else {
        Err("an endpoint name is a lower-case letter followed by lower-case letters, digits, '_', '-', '.' or '*' (RFC 8941 key)".into())
    }
}

fn check_endpoint_url(url: &str) -> Result<(), String> {
    check_header_text(url)?;
    if url.contains('\\') {
        return Err("'\\' is not allowed in a structured-field string".into());
    }
    let u = url::Url::parse(url).map_err(|e| {
        format!("must be an absolute URL ({e}); browsers ignore relative endpoints")
    })?;
    match u.scheme() {
        "https" => Ok(()),
        "http" if u.host_str().is_some_and(is_loopback_host) => Ok(()),
        _ => Err(
            "must be https (or http on loopback): browsers only deliver reports to potentially trustworthy endpoints"
                .into(),
        ),
    }
}

/// Everything wrong with a policy, found in one pass. `Display` prints one problem per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    problems: Vec<Problem>,
}

impl PolicyError {
    fn new(problems: Vec<Problem>) -> Self {
        PolicyError { problems }
    }
    /// Each problem found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid connect-src policy ({n} problem{})",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// One problem in a [`PolicyError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    list: Option<&'static str>,
    source: Option<String>,
    kind: ProblemKind,
}

impl Problem {
    fn source(e: SourceError) -> Problem {
        Problem {
            list: None,
            source: Some(e.text().to_owned()),
            kind: ProblemKind::Source(e),
        }
    }
    fn other(kind: ProblemKind) -> Problem {
        Problem {
            list: None,
            source: None,
            kind,
        }
    }
    fn field(field: &'static str, value: &str, why: String) -> Problem {
        Problem {
            list: None,
            source: Some(value.to_owned()),
            kind: ProblemKind::Field { field, why },
        }
    }
    /// Which list it is in (`"enforced"`, `"report-only"`), if it is about a list.
    pub fn list(&self) -> Option<&str> {
        self.list
    }
    /// The offending source or value as given, if the problem is about one.
    pub fn text(&self) -> Option<&str> {
        self.source.as_deref()
    }
    /// What is wrong.
    pub fn kind(&self) -> &ProblemKind {
        &self.kind
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.list {
            write!(f, "{l} list: ")?;
        }
        match &self.kind {
            ProblemKind::Source(e) => write!(f, "{e}"),
            ProblemKind::NoneNotAlone => f.write_str(
                "'none' must be the only source: browsers ignore it next to others, so the list would not mean 'none'",
            ),
            ProblemKind::EmptyList => f.write_str(
                "the list is empty; write 'none' explicitly to block every connection",
            ),
            ProblemKind::NoList => f.write_str(
                "the policy has neither an enforced nor a report-only list",
            ),
            ProblemKind::RefusedInProduction(why) => write!(
                f,
                "{:?} is refused in production: {why} (use Environment::Development to allow it while developing)",
                self.source.as_deref().unwrap_or("")
            ),
            ProblemKind::NotAHeaderValue => f.write_str(
                "the serialized policy is not a valid header value (this is a bug in connect-src)",
            ),
            ProblemKind::Field { field, why } => write!(
                f,
                "invalid {field} {:?}: {why}",
                self.source.as_deref().unwrap_or("")
            ),
        }
    }
}

/// The kind of a [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A source expression that does not parse or is not allowed where it was given.
    Source(SourceError),
    /// `'none'` together with other sources.
    NoneNotAlone,
    /// A list with no sources.
    EmptyList,
    /// Neither `enforce` nor `report_only` was given.
    NoList,
    /// A source [`Environment::Production`] refuses; the text says why.
    RefusedInProduction(String),
    /// The serialized policy is not a valid header value (a bug: please report it).
    NotAHeaderValue,
    /// An invalid `report-uri` or `report-to` value.
    Field {
        /// Which value.
        field: &'static str,
        /// Why it is refused.
        why: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Result<ConnectSrc, PolicyError> {
        s.parse()
    }

    #[test]
    fn builder_patterns_one_call_each() {
        let c = ConnectSrc::builder()
            .self_origin()
            .host("https://api.myapp.com")
            .websocket("wss://ws.myapp.com")
            .websocket("rt.myapp.com")
            .subdomains_of("https://myapp.com")
            .scheme(Scheme::https())
            .host("https://api.myapp.com:*")
            .host("https://cdn.myapp.com/v1/")
            .build()
            .unwrap();
        assert_eq!(
            c.value(),
            "'self' https://api.myapp.com wss://ws.myapp.com wss://rt.myapp.com https://*.myapp.com https: https://api.myapp.com:* https://cdn.myapp.com/v1/"
        );
        assert_eq!(
            ConnectSrc::builder().none().build().unwrap().value(),
            "'none'"
        );
    }

    #[test]
    fn duplicates_removed_order_kept() {
        let c = list("https://B.com 'self' https://b.com 'SELF' https://a.com").unwrap();
        assert_eq!(c.value(), "https://b.com 'self' https://a.com");
    }

    #[test]
    fn every_problem_in_one_error() {
        let e = ConnectSrc::builder()
            .host("https://ok.com")
            .source("self")
            .host("bad;host")
            .host("x.com:70000")
            .websocket("https://api.x.com")
            .host("'self'")
            .build()
            .unwrap_err();
        assert_eq!(e.problems().len(), 5, "{e}");
        let text = e.to_string();
        for needle in ["\"self\"", "bad;host", "65535", "ws://", "host-source"] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn none_must_be_alone() {
        let e = list("'none' 'self'").unwrap_err();
        assert_eq!(e.problems()[0].kind(), &ProblemKind::NoneNotAlone);
        assert!(list("'none'").unwrap().is_none());
        assert_eq!(
            list("").unwrap_err().problems()[0].kind(),
            &ProblemKind::EmptyList
        );
    }

    #[test]
    fn directive_name_prefix_accepted() {
        assert_eq!(list("connect-src 'self'").unwrap().value(), "'self'");
    }

    #[test]
    fn production_refuses_dangerous_sources() {
        for s in [
            "*",
            "http:",
            "https:",
            "ws:",
            "wss:",
            "data:",
            "blob:",
            "http://api.x.com",
            "ws://api.x.com",
            "http://*.x.com",
        ] {
            let e = Policy::builder()
                .enforce(ConnectSrc::builder().source(s))
                .build()
                .unwrap_err();
            assert!(
                matches!(e.problems()[0].kind(), ProblemKind::RefusedInProduction(_)),
                "{s}: {e}"
            );
            let _ = Policy::builder()
                .enforce(ConnectSrc::builder().source(s))
                .environment(Environment::Development)
                .build()
                .unwrap_or_else(|e| panic!("{s} refused in development: {e}"));
        }
        for s in [
            "http://localhost:3000",
            "ws://127.0.0.1:3000",
            "ws://app.localhost",
            "https://api.x.com",
            "wss://ws.x.com",
            "'self'",
        ] {
            let _ = Policy::builder()
                .enforce(ConnectSrc::builder().source(s))
                .build()
                .unwrap_or_else(|e| panic!("{s} refused: {e}"));
        }
    }

    #[test]
    fn report_only_list_is_checked_too() {
        let e = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .report_only(ConnectSrc::builder().source("*").host("bad host"))
            .build()
            .unwrap_err();
        assert_eq!(e.problems().len(), 2, "{e}");
        assert!(e.problems().iter().all(|p| p.list() == Some("report-only")));
        assert_eq!(e.problems()[0].list(), Some("report-only"));
        let e = Policy::builder()
            .report_only(ConnectSrc::builder().source("*"))
            .build()
            .unwrap_err();
        assert_eq!(e.problems()[0].list(), Some("report-only"));
    }

    #[test]
    fn dev_server_only_in_development() {
        let dev = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .environment(Environment::Development)
            .dev_server("localhost:5173")
            .build()
            .unwrap();
        assert_eq!(
            dev.enforced().unwrap().value(),
            "'self' ws://localhost:5173 http://localhost:5173"
        );
        let prod = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .dev_server("localhost:5173")
            .build()
            .unwrap();
        assert_eq!(prod.enforced().unwrap().value(), "'self'");
        let e = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .report_only(ConnectSrc::builder().self_origin())
            .dev_server("localhost:5173; script-src *")
            .build()
            .unwrap_err();
        assert_eq!(e.problems().len(), 1, "{e}");
        assert!(e.to_string().contains("';'"), "{e}");
    }

    #[test]
    fn reporting_values_are_validated() {
        let base = || Policy::builder().enforce(ConnectSrc::builder().self_origin());
        for uri in [
            "/r; script-src *",
            "/r,x",
            "/r x",
            "/r\r\nX: y",
            "javascript:alert(1)",
            "//evil.com/r",
            "",
            "/ü",
        ] {
            assert!(base().report_uri(uri).build().is_err(), "{uri:?}");
        }
        for uri in [
            "/csp-reports",
            "https://r.example.com/csp?x=1",
            "http://localhost:3000/r",
        ] {
            let _ = base().report_uri(uri).build().unwrap();
        }
        for (name, url) in [
            ("Csp", "https://r.example.com/"),
            ("csp endpoint", "https://r.example.com/"),
            ("csp", "/relative"),
            ("csp", "http://r.example.com/"),
            ("csp", "https://r.example.com/\"x"),
            ("csp", "https://r.example.com/a\\b"),
        ] {
            assert!(base().report_to(name, url).build().is_err(), "{name} {url}");
        }
        let _ = base()
            .report_to("csp-endpoint", "http://127.0.0.1:8080/r")
            .build()
            .unwrap();
        let _ = base()
            .report_to("csp", "https://r.example.com/r")
            .build()
            .unwrap();
    }

    #[test]
    fn no_list_is_an_error() {
        let e = Policy::builder().report_uri("/r").build().unwrap_err();
        assert_eq!(e.problems()[0].kind(), &ProblemKind::NoList);
    }

    #[test]
    fn header_values() {
        let p = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .report_only(ConnectSrc::none())
            .report_uri("/r")
            .build()
            .unwrap();
        assert_eq!(
            p.enforced_header().unwrap(),
            "connect-src 'self'; report-uri /r"
        );
        assert_eq!(
            p.report_only_header().unwrap(),
            "connect-src 'none'; report-uri /r"
        );
        assert!(p.reporting_endpoints_header().is_none());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_from_string_or_list() {
        #[derive(serde::Deserialize)]
        struct Config {
            connect_src: ConnectSrc,
        }
        let c: Config =
            serde_json::from_str(r#"{"connect_src":"'self' https://api.x.com"}"#).unwrap();
        assert_eq!(c.connect_src.value(), "'self' https://api.x.com");
        let c: Config =
            serde_json::from_str(r#"{"connect_src":["'self'","wss://ws.x.com"]}"#).unwrap();
        assert_eq!(c.connect_src.value(), "'self' wss://ws.x.com");
        let e = serde_json::from_str::<Config>(r#"{"connect_src":"self; x"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("self"), "{e}");
        let c: Config = toml::from_str("connect_src = [\"'self'\", \"https://a.com\"]").unwrap();
        assert_eq!(
            serde_json::to_string(&c.connect_src).unwrap(),
            "\"'self' https://a.com\""
        );
    }
}

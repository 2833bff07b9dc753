//! [`Policy`], the whole policy (enforced and report-only lists, where reports go), and its
//! consuming builder, which validates everything at once.

use std::fmt;

use super::allowlist::{BuiltAllowlist, ConnectionAllowlist};
use super::environment::{production_refusals, Environment};
use super::error::{PolicyError, Problem, ProblemKind};
use super::list::{ConnectSrc, ConnectSrcBuilder};
use super::provenance::PROVENANCE_PARAMETER;
use crate::source::{is_loopback_host, Source, SourceError, SourceErrorKind};

/// The query parameter the report-only header's `report-uri` carries, so that reports sent
/// to it are known to be report-only even when their body does not say.
pub const REPORT_ONLY_MARKER: &str = "disposition=report";

/// The whole policy: what is enforced, what is only reported, and where reports go. Every
/// header text it produces is checked to be a valid header value when it is built, so a
/// layer serving it never fails at request time.
#[derive(Debug, Clone)]
#[must_use]
pub struct Policy {
    enforced: Option<ConnectSrc>,
    report_only: Option<ConnectSrc>,
    report_uri: Option<String>,
    report_to: Option<(String, String)>,
    environment: Environment,
    inventory: Option<f64>,
    allowlist: Option<BuiltAllowlist>,
}

impl Policy {
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

    /// The `Connection-Allowlist` this policy emits, if any
    /// ([`PolicyBuilder::connection_allowlist`]).
    pub fn connection_allowlist(&self) -> Option<&BuiltAllowlist> {
        self.allowlist.as_ref()
    }

    /// The allowlist's header: `Connection-Allowlist` or `Connection-Allowlist-Report-Only`
    /// and its value (`(response-origin "https://api.myapp.com");redirects=allow`), if the
    /// policy emits one.
    pub fn connection_allowlist_header(&self) -> Option<(http::HeaderName, &str)> {
        self.allowlist
            .as_ref()
            .map(|a| (a.mode.header_name(), a.value.as_str()))
    }

    /// The share of responses that carry the inventory policy, if any
    /// ([`PolicyBuilder::inventory`]).
    pub fn inventory(&self) -> Option<f64> {
        self.inventory
    }

    /// The inventory policy for one sampled response: `connect-src 'none'` reporting to the
    /// report URI with the page load's id and the sample rate in its query
    /// (`?csp-inventory=<16 hex digits>&csp-sample=<rate>`), and the token when given.
    /// `None` without an inventory.
    pub fn inventory_header(&self, page_load: u64, token: Option<&str>) -> Option<String> {
        let rate = self.inventory?;
        let uri = self.report_uri.as_deref()?;
        let mut u = with_parameter(uri, &format!("csp-inventory={page_load:016x}"));
        u = with_parameter(&u, &format!("csp-sample={rate}"));
        if let Some(t) = token {
            u = with_parameter(&u, &format!("{PROVENANCE_PARAMETER}={t}"));
        }
        Some(format!("connect-src 'none'; report-uri {u}"))
    }

    /// A builder holding everything this policy holds (its lists, report URI, report-to
    /// endpoint and environment), to derive another policy from it: a route's own list,
    /// with the app's reporting and environment kept.
    ///
    /// ```
    /// use connect_src::{ConnectSrc, Policy};
    ///
    /// let app = Policy::builder()
    ///     .enforce(ConnectSrc::builder().self_origin())
    ///     .report_uri("/csp-reports")
    ///     .build()?;
    /// let embed = app.to_builder().enforce(ConnectSrc::none()).build()?;
    /// assert_eq!(embed.enforced_header().unwrap(), "connect-src 'none'; report-uri /csp-reports");
    /// # Ok::<_, connect_src::PolicyError>(())
    /// ```
    pub fn to_builder(&self) -> PolicyBuilder {
        PolicyBuilder {
            enforced: self.enforced.clone().map(Into::into),
            report_only: self.report_only.clone().map(Into::into),
            report_uri: self.report_uri.clone(),
            report_to: self.report_to.clone(),
            environment: self.environment,
            dev_servers: Vec::new(),
            report_path: None,
            inventory: self.inventory,
            allowlist: self.allowlist.as_ref().map(BuiltAllowlist::to_config),
        }
    }

    /// The reporting directives that follow `connect-src` (`report-uri …`, `report-to …`)
    /// in the enforced header, or with `report_only`, in the report-only header, whose
    /// `report-uri` carries [`REPORT_ONLY_MARKER`]; with `proof` (query parameters as
    /// written: `csp-token=…&csp-policy=…`), the `report-uri` carries them too.
    pub(crate) fn reporting_directives(
        &self,
        report_only: bool,
        proof: Option<&str>,
    ) -> Vec<String> {
        let uri = self.report_uri.iter().map(|u| {
            let mut u = u.clone();
            if report_only {
                u = with_parameter(&u, REPORT_ONLY_MARKER);
            }
            if let Some(p) = proof {
                u = with_parameter(&u, p);
            }
            format!("report-uri {u}")
        });
        let to = self.report_to.iter().map(|(n, _)| format!("report-to {n}"));
        uri.chain(to).collect()
    }

    pub(crate) fn header_for(
        &self,
        list: Option<&ConnectSrc>,
        report_only: bool,
        proof: Option<&str>,
    ) -> Option<String> {
        list.map(|l| {
            let mut parts = vec![l.directive()];
            parts.extend(self.reporting_directives(report_only, proof));
            parts.join("; ")
        })
    }

    /// The `Content-Security-Policy` header value, if the policy enforces a list.
    pub fn enforced_header(&self) -> Option<String> {
        self.header_for(self.enforced.as_ref(), false, None)
    }

    /// The `Content-Security-Policy-Report-Only` header value, if the policy has one. Its
    /// `report-uri` carries the query parameter [`REPORT_ONLY_MARKER`]
    /// (`/csp-reports?disposition=report`), so the collector knows a report is report-only
    /// when the browser does not say (WebKit's reports have no `disposition`).
    pub fn report_only_header(&self) -> Option<String> {
        self.header_for(self.report_only.as_ref(), true, None)
    }

    /// The `Reporting-Endpoints` header value (`name="url"`), when `report-to` is set.
    pub fn reporting_endpoints_header(&self) -> Option<String> {
        self.reporting_endpoints_for(None)
    }

    /// [`reporting_endpoints_header`](Self::reporting_endpoints_header), its URL carrying
    /// `proof` (query parameters as written) when given.
    pub(crate) fn reporting_endpoints_for(&self, proof: Option<&str>) -> Option<String> {
        self.report_to.as_ref().map(|(n, u)| match proof {
            Some(p) => format!("{n}=\"{}\"", with_parameter(u, p)),
            None => format!("{n}=\"{u}\""),
        })
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
        if let Some(a) = &self.allowlist {
            let name = match a.mode {
                super::AllowlistMode::Enforce => "Connection-Allowlist",
                super::AllowlistMode::ReportOnly => "Connection-Allowlist-Report-Only",
            };
            writeln!(f, "{name}: {}", a.value)?;
        }
        Ok(())
    }
}

impl From<Policy> for PolicyBuilder {
    fn from(policy: Policy) -> Self {
        policy.to_builder()
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
    /// The collector's path, when the front door wires both: the report URI defaults to
    /// it, and a report URI or report-to URL elsewhere is a problem.
    report_path: Option<String>,
    inventory: Option<f64>,
    allowlist: Option<ConnectionAllowlist>,
}

/// The sources of a [`dev_server`](PolicyBuilder::dev_server): `ws://host:port` and
/// `http://host:port`. `host_port` must be exactly that: a host the source grammar accepts
/// (not all digits, which is a port given alone), `:`, and a port; no scheme, no path.
fn dev_server_sources(host_port: &str) -> Result<[Source; 2], SourceError> {
    let refuse = || SourceError::new(host_port, SourceErrorKind::NotHostPort);
    if host_port.contains("://") || host_port.contains('/') {
        return Err(refuse());
    }
    let Some((host, port)) = host_port.rsplit_once(':') else {
        return Err(refuse());
    };
    if host.is_empty() || port.is_empty() || host.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    let ws = format!("ws://{host_port}").parse::<Source>()?;
    let http = format!("http://{host_port}").parse::<Source>()?;
    Ok([ws, http])
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

    /// Leaves out the report-only list (what [`to_builder`](Policy::to_builder) carried
    /// over): a rollout's enforcing stage serves its candidate enforced, and nothing to
    /// report on beside it.
    pub fn without_report_only(mut self) -> Self {
        self.report_only = None;
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

    /// The inventory: on a sampled share `rate` of responses (in `(0, 1]`, e.g. `0.01` for
    /// one in a hundred; default off), the layer adds a second, report-only policy
    /// `connect-src 'none'` whose reports go to the report URI with a random page-load id
    /// and the rate in their query ([`Policy::inventory_header`]). Every connection such a
    /// page makes is then reported, and the collector keeps them as observations of what
    /// real pages use (never as violations), each page load counted `1 / rate` times. It
    /// only reports: the page works as before. Needs a `report_uri`.
    pub fn inventory(mut self, rate: f64) -> Self {
        self.inventory = Some(rate);
        self
    }

    /// Emits `Connection-Allowlist` (Chromium 152+) beside the CSP, from the same list: the
    /// enforced `connect-src` list (the report-only one when none is enforced) and the
    /// allowlist's navigation targets, translated as [`Translation::of`](super::Translation::of) says, with
    /// `redirects=allow` (unless [`ConnectionAllowlist::block_redirects`]) and
    /// `report-to=<name>` when the policy has [`report_to`](Self::report_to).
    ///
    /// [`build`](Self::build) refuses an enforced allowlist without navigation targets, and
    /// a list with a source the allowlist cannot say (it would block what connect-src
    /// allows). Firefox and WebKit ignore the header (measured).
    pub fn connection_allowlist(mut self, allowlist: ConnectionAllowlist) -> Self {
        self.allowlist = Some(allowlist);
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
    ///
    /// The argument is `host:port`, with no scheme and no path (the scheme is added for
    /// you): [`build`](Self::build) refuses `http://localhost:5173` and a bare `5173`, in
    /// every environment, with a message that says so.
    pub fn dev_server(mut self, host_port: impl Into<String>) -> Self {
        self.dev_servers.push(host_port.into());
        self
    }

    /// Reports go to the collector at `path` (the front door's `report_path`): the report
    /// URI defaults to it, and [`build`](Self::build) refuses a report URI or a report-to
    /// URL whose path is another.
    pub(crate) fn reporting_to(mut self, path: &str) -> Self {
        self.report_path = Some(path.to_owned());
        self
    }

    /// Validates everything and serializes the policy. The error lists every problem found.
    pub fn build(mut self) -> Result<Policy, PolicyError> {
        let mut problems = Vec::new();
        if let Some(path) = &self.report_path {
            let uri = self.report_uri.get_or_insert_with(|| path.clone());
            if url_path(uri) != path {
                problems.push(Problem::field(
                    "report-uri",
                    uri,
                    format!("reports go to the collector at {path}: leave report_uri out (it is set for you) or give that path"),
                ));
            }
            if let Some((_, url)) = &self.report_to {
                if url_path(url) != path {
                    problems.push(Problem::field(
                        "report-to URL",
                        url,
                        format!("reports go to the collector at {path}: give the endpoint URL that path"),
                    ));
                }
            }
        }
        let dev = self.environment == Environment::Development;
        let mut lists = [
            (self.enforced, "enforced"),
            (self.report_only, "report-only"),
        ];
        if lists.iter().all(|(l, _)| l.is_none()) {
            problems.push(Problem::other(ProblemKind::NoList));
        }
        // Left out in production, but a typo is still an error in every environment.
        let mut dev_sources = Vec::new();
        for d in &self.dev_servers {
            match dev_server_sources(d) {
                Ok(pair) => dev_sources.extend(pair),
                Err(e) => problems.push(Problem::source(e)),
            }
        }
        let mut built: [Option<ConnectSrc>; 2] = [None, None];
        for (i, (list, name)) in lists.iter_mut().enumerate() {
            let Some(mut b) = list.take() else { continue };
            if dev {
                for s in &dev_sources {
                    b = b.source(s.clone());
                }
            }
            // Judge the sources that parsed even when others did not: one error, every problem.
            if self.environment == Environment::Production {
                for s in &b.sources {
                    for r in production_refusals(s) {
                        problems.push(Problem {
                            list: Some(name),
                            source: Some(s.to_string()),
                            kind: ProblemKind::RefusedInProduction(r.message.into_owned()),
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
        if let Some(rate) = self.inventory {
            if !(rate.is_finite() && rate > 0.0 && rate <= 1.0) {
                problems.push(Problem::field(
                    "inventory rate",
                    &rate.to_string(),
                    "a share of responses, above 0 and at most 1 (0.01: one in a hundred)".into(),
                ));
            } else if self.report_uri.is_none() {
                problems.push(Problem::field(
                    "inventory rate",
                    &rate.to_string(),
                    "the inventory's reports go to the report URI: set report_uri (the front door, Csp, sets it)".into(),
                ));
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
        let [enforced, report_only] = built;
        let allowlist = self.allowlist.and_then(|a| {
            let none = ConnectSrc::none();
            // A value written out needs no list; a translation needs one.
            let list = match enforced.as_ref().or(report_only.as_ref()) {
                Some(l) => l,
                None if a.written_value().is_some() => &none,
                None => return None,
            };
            super::allowlist::build(
                a,
                list,
                self.report_to.as_ref().map(|(n, _)| n.as_str()),
                &mut problems,
            )
        });
        if !problems.is_empty() {
            return Err(PolicyError::new(problems));
        }
        let policy = Policy {
            enforced,
            report_only,
            report_uri: self.report_uri,
            report_to: self.report_to,
            environment: self.environment,
            inventory: self.inventory,
            allowlist,
        };
        // The checks above admit only visible ASCII, so every header value is valid; this
        // makes sure of it here, at build time, never at request time.
        let headers = [
            policy.enforced_header(),
            policy.report_only_header(),
            policy.reporting_endpoints_header(),
        ];
        if headers
            .iter()
            .flatten()
            .any(|h| http::HeaderValue::from_str(h).is_err())
        {
            return Err(PolicyError::new(vec![Problem::other(
                ProblemKind::NotAHeaderValue,
            )]));
        }
        Ok(policy)
    }
}

/// The path of a report URI or endpoint URL (`/csp-reports` for `/csp-reports?x=1` and for
/// `https://app.example/csp-reports`), without its query or fragment.
fn url_path(uri: &str) -> &str {
    let rest = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            &after[after.find('/').unwrap_or(after.len())..]
        }
        None => uri,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    match &rest[..end] {
        "" => "/",
        p => p,
    }
}

/// `url` with one more query parameter (`name=value`), before any fragment.
fn with_parameter(url: &str, parameter: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{parameter}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
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
    fn dev_server_is_host_colon_port() {
        for env in [Environment::Development, Environment::Production] {
            for bad in [
                "http://localhost:5173",
                "ws://localhost:5173",
                "5173",
                ":5173",
                "localhost",
                "localhost:",
                "localhost:5173/",
                "localhost:5173/hmr",
                "3000:5173",
            ] {
                let e = Policy::builder()
                    .enforce(ConnectSrc::builder().self_origin())
                    .environment(env)
                    .dev_server(bad)
                    .build()
                    .unwrap_err();
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("{bad:?}")) && msg.contains("host:port, no scheme"),
                    "{bad}: {msg}"
                );
            }
        }
        for ok in [
            "localhost:5173",
            "127.0.0.1:3000",
            "app.localhost:*",
            "[::1]:5173",
        ] {
            let built = Policy::builder()
                .enforce(ConnectSrc::builder().self_origin())
                .environment(Environment::Development)
                .dev_server(ok)
                .build();
            if ok.starts_with('[') {
                // IPv6 is not in the CSP host grammar: refused by the grammar's own rule.
                assert!(built.unwrap_err().to_string().contains("IPv6"));
            } else {
                let value = built.unwrap().enforced().unwrap().value();
                assert_eq!(value, format!("'self' ws://{ok} http://{ok}"));
            }
        }
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
    fn a_report_path_sets_and_checks_where_reports_go() {
        let base = || Policy::builder().enforce(ConnectSrc::builder().self_origin());
        let p = base().reporting_to("/r").build().unwrap();
        assert_eq!(p.report_uri(), Some("/r"));
        let p = base()
            .report_uri("https://app.example/r?x=1")
            .report_to("csp", "https://app.example/r")
            .reporting_to("/r")
            .build()
            .unwrap();
        assert_eq!(p.report_uri(), Some("https://app.example/r?x=1"));
        let e = base()
            .report_uri("/elsewhere")
            .report_to("csp", "https://app.example/other")
            .reporting_to("/r")
            .build()
            .unwrap_err();
        assert_eq!(e.problems().len(), 2, "{e}");
        assert!(e.to_string().contains("collector at /r"), "{e}");
        assert_eq!(url_path("https://h"), "/");
        assert_eq!(url_path("/a#b"), "/a");
    }

    #[test]
    fn the_inventory_header() {
        let base = || Policy::builder().enforce(ConnectSrc::builder().self_origin());
        let p = base().report_uri("/r?x=1").inventory(0.01).build().unwrap();
        assert_eq!(p.inventory(), Some(0.01));
        assert_eq!(
            p.inventory_header(255, Some("t0k")).unwrap(),
            "connect-src 'none'; report-uri /r?x=1&csp-inventory=00000000000000ff&csp-sample=0.01&csp-token=t0k"
        );
        assert!(base()
            .report_uri("/r")
            .build()
            .unwrap()
            .inventory_header(1, None)
            .is_none());
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(
                base().report_uri("/r").inventory(bad).build().is_err(),
                "{bad}"
            );
        }
        let e = base().inventory(0.5).build().unwrap_err();
        assert!(e.to_string().contains("set report_uri"), "{e}");
    }

    #[test]
    fn to_builder_keeps_everything() {
        let p = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .report_only(ConnectSrc::none())
            .report_uri("/r")
            .report_to("csp", "https://app.example/r")
            .environment(Environment::Development)
            .build()
            .unwrap();
        let again = p.to_builder().build().unwrap();
        assert_eq!(again.to_string(), p.to_string());
        assert_eq!(again.environment(), Environment::Development);
        let from: PolicyBuilder = p.clone().into();
        assert_eq!(from.build().unwrap().to_string(), p.to_string());
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
            "connect-src 'none'; report-uri /r?disposition=report"
        );
        assert!(p.reporting_endpoints_header().is_none());
    }
}

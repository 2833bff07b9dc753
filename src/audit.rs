//! Findings about a `connect-src` list: each with a severity and a stable code that scripts
//! can match on. [`Environment::Production`](crate::Environment::Production) refuses the
//! findings whose [`refused_in_production`](Finding::refused_in_production) is true.
//!
//! ```
//! use connect_src::{audit, Source};
//!
//! let findings = audit::audit(&[Source::STAR]);
//! assert_eq!(findings[0].code, "wildcard-star");
//! assert!(findings[0].refused_in_production());
//! ```

use std::fmt;

use crate::matcher::Engine;
use crate::minimize::covers;
use crate::policy::text::is_directive_name;
use crate::policy::{production_refusals, Policy};
use crate::source::{is_ip_literal, is_loopback_host, Host, HostSource, Scheme, Source};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; not a weakness by itself.
    Info,
    /// Probably not what was meant, or weaker than it looks.
    Warning,
    /// Lets connections go where an attacker wants: production refuses it.
    High,
}

impl Severity {
    /// `info`, `warning` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
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

    /// Whether [`Environment::Production`](crate::Environment::Production) refuses a policy
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
/// only text can have, then [`audit`] of the sources it holds.
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
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
    }
    out.extend(audit(&sources));
    out
}

/// The findings for every list of a policy (enforced first, then report-only).
pub fn audit_policy(policy: &Policy) -> Vec<Finding> {
    [policy.enforced(), policy.report_only()]
        .into_iter()
        .flatten()
        .flat_map(|l| audit(l.sources()))
        .collect()
}

/// Audits a list of sources.
pub fn audit(sources: &[Source]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in sources {
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
                let loopback = match h.host() {
                    Host::Name(n) => is_loopback_host(n),
                    Host::Subdomains(n) => &**n == "localhost",
                    Host::Any => false,
                };
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
            if h.scheme().map(Scheme::as_str) == Some("https") && h.host() != &Host::Any {
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
    for s in sources {
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
            "by the CSP3 text `*` does not match ws:/wss: URLs from an https page; Chromium and Firefox allow them anyway",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &str) -> Vec<(&'static str, bool)> {
        let sources: Vec<Source> = list.split(' ').map(|s| s.parse().unwrap()).collect();
        audit(&sources)
            .into_iter()
            .map(|f| (f.code, f.refused_in_production()))
            .collect()
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
            codes("http://localhost:3000 ws://127.0.0.1 'self' https://a.com wss://a.com")
                .is_empty()
        );
        assert_eq!(
            codes("https://a.com wss://b.com"),
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
}

//! Where a policy is deployed, and the per-source rules that decide what production refuses.

use std::borrow::Cow;

use crate::source::{is_loopback_host, Host, Source};

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
    /// plain `http://` / `ws://` hosts other than loopback, and host wildcards over a public
    /// suffix (`*.com`, `*.github.io`, `*.r2.dev`: anyone can have a subdomain there).
    /// Dev-server sources are left out.
    #[default]
    Production,
    /// Allows everything the grammar allows and adds the [dev-server](super::PolicyBuilder::dev_server)
    /// sources.
    Development,
}

impl Environment {
    /// `production` or `development`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Development => "development",
        }
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads `production`/`prod` or `development`/`dev`, ASCII case-insensitive, surrounding
/// whitespace ignored: what an `APP_ENV` variable holds.
///
/// ```
/// use connect_src::Environment;
///
/// assert_eq!("Production".parse::<Environment>()?, Environment::Production);
/// assert_eq!(" dev ".parse::<Environment>()?, Environment::Development);
/// assert!("staging".parse::<Environment>().is_err());
/// # Ok::<_, connect_src::policy::EnvironmentError>(())
/// ```
impl std::str::FromStr for Environment {
    type Err = EnvironmentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(Environment::Production),
            "development" | "dev" => Ok(Environment::Development),
            _ => Err(EnvironmentError(s.to_owned())),
        }
    }
}

/// Text that names no [`Environment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentError(String);

impl std::fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not an environment: write production (or prod) or development (or dev)",
            self.0
        )
    }
}

impl std::error::Error for EnvironmentError {}

/// Why [`Environment::Production`] refuses a source: a stable code (the same one
/// [`audit`](crate::audit) reports) and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: &'static str,
    pub(crate) message: Cow<'static, str>,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<Cow<'static, str>>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Every reason production refuses `source` (none for a source it accepts). Rules, each
/// about one source: `*` and any `*` host; the scheme-sources `http:` `https:` `ws:` `wss:`
/// `data:` `blob:`; `http://` and `ws://` hosts other than loopback; a host wildcard whose
/// parent is a public suffix ([`is_public_suffix`]).
pub(crate) fn production_refusals(source: &Source) -> Vec<Refusal> {
    let mut out = Vec::new();
    match source {
        s if s.is_star() => out.push(Refusal::new(
            "wildcard-star",
            "`*` allows connections to any http(s) host (and ws/wss in browsers), so an injected script can send data anywhere; it still does not cover data: or blob:",
        )),
        Source::Scheme(scheme) => {
            let why = match scheme.as_str() {
                "http" | "https" => "allows connections to every host on the web",
                "ws" | "wss" => "allows WebSocket connections to every host",
                "data" | "blob" => "lets scripts fetch data:/blob: URLs they build themselves, a common exfiltration and filter-bypass path",
                _ => return out,
            };
            out.push(Refusal::new("scheme-only", why));
        }
        Source::Host(h) => {
            let loopback = match h.host() {
                Host::Name(n) => is_loopback_host(n),
                Host::Subdomains(n) => &**n == "localhost",
                Host::Any => false,
            };
            if let Some(scheme) = h.scheme() {
                let secure = match scheme.as_str() {
                    "http" => Some("https"),
                    "ws" => Some("wss"),
                    _ => None,
                };
                if let (Some(secure), false) = (secure, loopback) {
                    out.push(Refusal::new(
                        "insecure-scheme",
                        format!("{scheme}:// sends traffic in clear text, readable and changeable by anyone on the path; use {secure}://"),
                    ));
                }
            }
            if h.host() == &Host::Any {
                out.push(Refusal::new(
                    "wildcard-star",
                    "a `*` host allows every host for this scheme and port",
                ));
            }
            if let Host::Subdomains(parent) = h.host() {
                if is_public_suffix(parent) {
                    out.push(Refusal::new(
                        "public-suffix-wildcard",
                        format!(
                            "{parent} is a public suffix (Public Suffix List): anyone can have a \
                             subdomain of it and receive what the page sends there, as loose as \
                             a scheme-only source; name your own host (such as my-app.{parent})"
                        ),
                    ));
                }
            }
        }
        Source::SelfOrigin | Source::None | Source::UnsafeWebTransportHashes => {}
    }
    out
}

/// Whether `name` is a public suffix by the Public Suffix List, ICANN or private section
/// (`com`, `co.uk`, `github.io`, `s3.amazonaws.com`, `r2.dev`, and each name under a
/// wildcard rule such as `*.compute.amazonaws.com`): a name under which anyone can register
/// or be given a subdomain. Names the list does not know (`localhost`, `internal`) are not,
/// though the list's default rule would make their last label one.
pub(crate) fn is_public_suffix(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes() == name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(s: &str) -> Vec<&'static str> {
        production_refusals(&s.parse().unwrap())
            .into_iter()
            .map(|r| r.code)
            .collect()
    }

    #[test]
    fn one_rule_per_source_shape() {
        assert_eq!(codes("*"), ["wildcard-star"]);
        assert_eq!(codes("https://*"), ["wildcard-star"]);
        assert_eq!(codes("http://*"), ["insecure-scheme", "wildcard-star"]);
        for s in ["http:", "https:", "ws:", "wss:", "data:", "blob:"] {
            assert_eq!(codes(s), ["scheme-only"], "{s}");
        }
        assert!(codes("ftp:").is_empty());
        assert_eq!(codes("http://a.com"), ["insecure-scheme"]);
        assert_eq!(codes("ws://*.a.com"), ["insecure-scheme"]);
        for s in [
            "http://localhost:3000",
            "ws://127.0.0.1",
            "ws://*.localhost",
            "https://a.com",
            "wss://*.a.com",
            "'self'",
            "'none'",
            "a.com",
        ] {
            assert!(codes(s).is_empty(), "{s}");
        }
    }

    #[test]
    fn wildcards_over_public_suffixes_are_refused() {
        for s in [
            "https://*.r2.dev",
            "https://*.s3.amazonaws.com",
            "https://*.github.io",
            "https://*.com",
            "wss://*.co.uk",
            "*.vercel.app",
            "https://*.herokuapp.com:443",
            "https://*.GITHUB.IO",
        ] {
            assert_eq!(codes(s), ["public-suffix-wildcard"], "{s}");
        }
        assert_eq!(
            codes("http://*.com"),
            ["insecure-scheme", "public-suffix-wildcard"]
        );
        for s in [
            "https://*.myapp.com",
            "https://my-bucket.s3.amazonaws.com",
            "https://*.my-bucket.s3.amazonaws.com",
            "https://myapp.github.io",
            "https://*.myapp.co.uk",
            "ws://*.localhost",
            "https://*.internal.example",
        ] {
            assert!(codes(s).is_empty(), "{s}: {:?}", codes(s));
        }
        let r = production_refusals(&"https://*.r2.dev".parse().unwrap());
        assert!(
            r[0].message.contains("r2.dev is a public suffix"),
            "{}",
            r[0].message
        );
    }
}

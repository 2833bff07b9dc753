//! Noise: violations caused by browser extensions and browser internals, not by the site.
//!
//! ```
//! use connect_src::report::NoiseFilter;
//!
//! let f = NoiseFilter::default();
//! assert!(f.is_noise("chrome-extension://abcdef/content.js"));
//! assert!(!f.is_noise("https://api.example.com/"));
//! let f = NoiseFilter::default().with_prefix("https://injected-ads.example/");
//! assert!(f.is_noise("https://injected-ads.example/x.js"));
//! ```

use std::fmt;

use super::violation::Violation;

/// Schemes that mark a report as noise: browser extensions, browser-internal pages, and
/// the bridges in-app browsers and webviews inject (REFERENCE "Report quirks" 11). Grown
/// from what the big collectors publish (Sentry's CSP filter, go-csp-collector's ignored
/// URIs). Each entry is a scheme with its colon, and matches both forms a report carries:
/// the URL (`chrome-extension://id/x.js`) and the bare scheme browsers reduce any
/// non-http(s) URL to (`chrome-extension`, CSP3 "strip URL for use in reports").
pub const DEFAULT_NOISE: &[&str] = &[
    // Extensions.
    "chrome-extension:",
    "moz-extension:",
    "safari-extension:",
    "safari-web-extension:",
    "ms-browser-extension:",
    "extension:",
    "mxaddon-pkg:",
    // Browser-internal pages and resources.
    "chrome:",
    "edge:",
    "opera:",
    "about:",
    "resource:",
    "res:",
    "safari-resource:",
    "jar:",
    "file:",
    "ms-appx:",
    "ms-appx-web:",
    "android-webview-video-poster:",
    "symres:",
    // Bridges of in-app browsers, webviews and injected software.
    "chromenull:",
    "chromeinvoke:",
    "chromeinvokeimmediate:",
    "webviewprogressproxy:",
    "mbinit:",
    "mxjscall:",
    "mx:",
    "wvjbscheme:",
    "tmtbff:",
    "nativebaiduhd:",
    "bdvideo:",
    "none:",
];

/// Decides which violations are noise.
///
/// An entry ending in `:` is a scheme: it matches a URL of that scheme and the bare scheme
/// alone (`about:` matches `about:blank` and `about`), ASCII case-insensitively. Any other
/// entry is a URL prefix (`https://injected-ads.example/`).
#[derive(Debug, Clone)]
#[must_use]
pub struct NoiseFilter {
    prefixes: Vec<String>,
}

impl Default for NoiseFilter {
    fn default() -> Self {
        NoiseFilter {
            prefixes: DEFAULT_NOISE.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl NoiseFilter {
    /// A filter that keeps everything.
    pub fn none() -> Self {
        NoiseFilter {
            prefixes: Vec::new(),
        }
    }
    /// Adds an entry: a scheme with its colon (`"foo-extension:"`, which also matches the
    /// bare `foo-extension`) or a URL prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes
            .push(prefix.into().trim().to_ascii_lowercase());
        self
    }
    /// Whether a URL, or the bare scheme a browser reported in its place, is noise.
    pub fn is_noise(&self, url: &str) -> bool {
        let u = url.trim().as_bytes();
        self.prefixes.iter().any(|p| {
            let p = p.as_bytes();
            let prefixed = u.len() >= p.len() && u[..p.len()].eq_ignore_ascii_case(p);
            let bare =
                p.len() > 1 && p.last() == Some(&b':') && u.eq_ignore_ascii_case(&p[..p.len() - 1]);
            prefixed || bare
        })
    }
    /// Whether a violation is noise: its document, blocked URL or source file. The
    /// referrer is not looked at: it says where the reader came from, not what broke the
    /// policy, and a page opened from an extension still runs the site's own code.
    pub fn is_noise_violation(&self, v: &Violation) -> bool {
        self.is_noise(&v.document_url)
            || self.is_noise(&v.blocked_url)
            || v.source_file.as_deref().is_some_and(|s| self.is_noise(s))
    }
}

/// The origin of a document URL as the accept list compares it: `scheme://host[:port]`,
/// lowercase, the scheme's default port dropped, an IDN host in punycode. `None` when the
/// URL has no such origin (`about`, `data`, an empty or relative URL).
pub(crate) fn document_origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    match u.origin() {
        o @ url::Origin::Tuple(..) => Some(o.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Reads an accepted document origin as configured (`https://app.example`, a trailing `/`
/// allowed) and returns its normalized form.
pub(crate) fn parse_accept_origin(text: &str) -> Result<String, AcceptOriginError> {
    let err = |why| AcceptOriginError {
        text: text.to_owned(),
        why,
    };
    let u = url::Url::parse(text.trim()).map_err(|_| err("it is not an absolute URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(err("documents are served over http or https"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(err("an origin has no user name or password"));
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err(err("an origin has no path, query or fragment"));
    }
    document_origin(u.as_str()).ok_or_else(|| err("it has no host"))
}

/// A document origin given to [`CollectorBuilder::accept_origin`](super::CollectorBuilder::accept_origin)
/// or `connect-src serve --accept-origin` that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptOriginError {
    text: String,
    why: &'static str,
}

impl fmt::Display for AcceptOriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a document origin: {}; write scheme://host[:port], e.g. https://app.example",
            self.text, self.why
        )
    }
}

impl std::error::Error for AcceptOriginError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_normalized() {
        for (text, want) in [
            ("https://App.Example", "https://app.example"),
            ("https://app.example/", "https://app.example"),
            ("https://app.example:443", "https://app.example"),
            ("http://app.example:80/", "http://app.example"),
            ("https://app.example:8443", "https://app.example:8443"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ] {
            assert_eq!(parse_accept_origin(text).as_deref(), Ok(want), "{text}");
        }
        for bad in [
            "app.example",
            "",
            "ftp://app.example",
            "https://app.example/page",
            "https://app.example/?q",
            "https://u:p@app.example",
            "data:text/plain,x",
        ] {
            let e = parse_accept_origin(bad).unwrap_err().to_string();
            assert!(e.contains("is not a document origin"), "{bad}: {e}");
        }
        assert_eq!(
            document_origin("https://APP.example:443/a/b?c").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(document_origin("about"), None);
        assert_eq!(document_origin(""), None);
    }

    #[test]
    fn schemes_match_bare_and_prefixed_but_not_longer_schemes() {
        let f = NoiseFilter::default();
        for e in DEFAULT_NOISE {
            let scheme = e.trim_end_matches(':');
            assert!(f.is_noise(scheme), "{scheme}");
            assert!(f.is_noise(&scheme.to_ascii_uppercase()), "{scheme}");
            assert!(f.is_noise(&format!("{scheme}://x/y.js")), "{scheme}");
            assert!(f.is_noise(&format!("{scheme}:blank")), "{scheme}");
        }
        // `chrome:` is not `chrome-extension` nor `chromex`; `mx:` is not `mxjscall-like`.
        let only_chrome = NoiseFilter::none().with_prefix("chrome:");
        assert!(!only_chrome.is_noise("chrome-extension"));
        assert!(!only_chrome.is_noise("chromex://a"));
        assert!(!f.is_noise("mxfoo"));
        assert!(!f.is_noise("https://about.example/"));
        assert!(!f.is_noise("data"));
        assert!(!f.is_noise(""));
        // The real scheme, which the old `webviewprogress:` entry never matched.
        assert!(f.is_noise("webviewprogressproxy://registerProgress"));
        assert!(f.is_noise("webviewprogressproxy"));
    }
}

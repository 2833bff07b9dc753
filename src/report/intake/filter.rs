//! Noise: violations caused by browser extensions and browser internals, not by the site.
//!
//! ```
//! use connect_src::report::intake::NoiseFilter;
//!
//! let f = NoiseFilter::default();
//! assert!(f.is_noise("chrome-extension://abcdef/content.js"));
//! assert!(!f.is_noise("https://api.example.com/"));
//! let f = NoiseFilter::default().with_prefix("https://injected-ads.example/");
//! assert!(f.is_noise("https://injected-ads.example/x.js"));
//! ```

use crate::report::store::Violation;

/// Schemes that mark a report as noise: browser extensions, browser-internal pages, and
/// the bridges in-app browsers and webviews inject, as the big collectors publish them
/// (Sentry Relay's CSP filter, go-csp-collector's ignored URIs). Each entry is a scheme with its colon, and matches both forms a report carries:
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

#[cfg(test)]
mod tests {
    use super::*;

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

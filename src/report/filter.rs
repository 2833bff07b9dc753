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

use super::parse::Violation;

/// Schemes and prefixes that mark a report as noise (REFERENCE "Report quirks" 11).
pub const DEFAULT_NOISE: &[&str] = &[
    "chrome-extension:",
    "chrome:",
    "moz-extension:",
    "safari-extension:",
    "safari-web-extension:",
    "ms-browser-extension:",
    "edge:",
    "extension:",
    "about:",
    "resource:",
    "chromenull:",
    "chromeinvoke:",
    "chromeinvokeimmediate:",
    "webviewprogress:",
    "mbinit:",
    "jar:",
    "file:",
    "android-webview-video-poster:",
];

/// Decides which violations are noise. Matching is by ASCII case-insensitive prefix on the
/// blocked URL and the source file.
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
    /// Adds a prefix (a scheme like `"foo-extension:"` or a URL prefix).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into().to_ascii_lowercase());
        self
    }
    /// Whether a URL or source file is noise.
    pub fn is_noise(&self, url: &str) -> bool {
        let u = url.trim_start();
        self.prefixes.iter().any(|p| {
            u.len() >= p.len() && u.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        })
    }
    /// Whether a violation is noise (its blocked URL or source file).
    pub fn is_noise_violation(&self, v: &Violation) -> bool {
        self.is_noise(&v.blocked_url) || v.source_file.as_deref().is_some_and(|s| self.is_noise(s))
    }
}

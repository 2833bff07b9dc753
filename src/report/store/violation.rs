//! What a report becomes: [`Violation`], with the shape it came in ([`ReportFormat`]) and
//! its disposition; and the path a summary groups it by.

use std::time::SystemTime;

use super::class::Class;
use super::observation::Network;
use crate::source::Origin;

/// Which body shape a violation arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportFormat {
    /// `report-uri`: `{"csp-report": {…}}`, kebab-case fields.
    Legacy,
    /// Reporting API (`report-to`): an array of `{type, url, body}` reports.
    ReportingApi,
    /// A single Reporting API object, not in an array (seen from Safari).
    ReportingApiSingle,
}

impl ReportFormat {
    /// `legacy`, `reporting-api` or `reporting-api-single`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Legacy => "legacy",
            ReportFormat::ReportingApi => "reporting-api",
            ReportFormat::ReportingApiSingle => "reporting-api-single",
        }
    }
    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<ReportFormat> {
        Some(match s {
            "legacy" => ReportFormat::Legacy,
            "reporting-api" => ReportFormat::ReportingApi,
            "reporting-api-single" => ReportFormat::ReportingApiSingle,
            _ => return None,
        })
    }
}

/// Whether the violated policy was enforced or report-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Disposition {
    /// The connection was blocked.
    Enforce,
    /// Report-only: the connection went through and was reported.
    Report,
    /// The report did not say.
    Unknown,
}

impl Disposition {
    /// `enforce`, `report` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Enforce => "enforce",
            Disposition::Report => "report",
            Disposition::Unknown => "unknown",
        }
    }
    /// Reads a report's value; `reporting` (seen in the wild) means `report`.
    pub fn parse(s: &str) -> Disposition {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforce" => Disposition::Enforce,
            "report" | "reporting" => Disposition::Report,
            _ => Disposition::Unknown,
        }
    }
}

/// One normalized violation. Every string is bounded ([`NormalizeOptions::max_field`](crate::report::intake::NormalizeOptions::max_field)) and,
/// by default, URLs have their query and fragment removed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The page that made the connection. Like every URL field, a URL of a scheme other
    /// than http(s) or ws(s) is kept as its scheme alone (`about`), as browsers send it.
    pub document_url: String,
    /// The blocked URL, or a keyword (`inline`, `eval`, `data`, `blob`, …), or empty.
    /// Change it with [`set_blocked_url`](Self::set_blocked_url), which keeps
    /// [`blocked_origin`](Self::blocked_origin) in step.
    pub blocked_url: String,
    /// The blocked URL's origin, read once when the report was parsed: `None` for a
    /// keyword, a bare scheme or anything else that is not an http(s)/ws(s) URL.
    pub blocked_origin: Option<Origin>,
    /// The document URL's origin, read likewise.
    pub document_origin: Option<Origin>,
    /// The directive that decided (`connect-src`, or its fallback `default-src`…): always
    /// a directive name CSP defines, lowercase.
    pub effective_directive: String,
    /// The violated directive as reported (legacy reports only), if any.
    pub violated_directive: Option<String>,
    /// Enforced or report-only.
    pub disposition: Disposition,
    /// The document's HTTP status code, if reported.
    pub status_code: Option<u16>,
    /// The script that made the connection, if reported.
    pub source_file: Option<String>,
    /// Line in `source_file`.
    pub line: Option<u32>,
    /// Column in `source_file`.
    pub column: Option<u32>,
    /// The reported sample (usually empty for connections).
    pub sample: Option<String>,
    /// The document's referrer, if any.
    pub referrer: Option<String>,
    /// The reporting browser's user agent (Reporting API field, or the request's header).
    pub user_agent: Option<String>,
    /// The whole policy as the browser saw it, if reported.
    pub original_policy: Option<String>,
    /// The body shape it came in.
    pub format: ReportFormat,
    /// When the collector received it.
    pub received_at: SystemTime,
    /// The sender's client network, when the collector saw its address.
    pub network: Option<Network>,
    /// What it is, checked against the policies the app served ([`classify`](crate::report::intake::classify));
    /// [`Class::Unverified`] until the collector checks it.
    pub class: Class,
}

impl Violation {
    /// Replaces the blocked URL and, with it, [`blocked_origin`](Self::blocked_origin):
    /// the way to change it that keeps the two in step.
    pub fn set_blocked_url(&mut self, url: impl Into<String>) {
        self.blocked_url = url.into();
        self.blocked_origin = Origin::of_url(&self.blocked_url);
    }

    /// Replaces the document URL and, with it, [`document_origin`](Self::document_origin).
    pub fn set_document_url(&mut self, url: impl Into<String>) {
        self.document_url = url.into();
        self.document_origin = Origin::of_url(&self.document_url);
    }

    /// The document URL's path (no query) as a template, or the whole value when it is
    /// not a URL: each segment that looks like an id becomes `{id}` ([`path_template`]), so
    /// a single-page app's `/orders/8127` and `/orders/8128` are one page.
    pub fn document_path(&self) -> String {
        path_template(&path_of(&self.document_url))
    }
}

/// The path of a URL-looking string (`/` when empty); otherwise the string itself.
pub(crate) fn path_of(url: &str) -> String {
    if let Some(i) = url.find("://") {
        let rest = &url[i + 3..];
        match rest.find('/') {
            Some(p) => {
                let path = &rest[p..];
                let end = path.find(['?', '#']).unwrap_or(path.len());
                path[..end].to_owned()
            }
            None => "/".to_owned(),
        }
    } else {
        url.to_owned()
    }
}

/// A path with its id-like segments replaced by `{id}`: all digits (`8127`), a UUID, 16 or
/// more hex digits, or 20 or more characters of letters, digits, `-` and `_` holding at
/// least one digit (a token). Words, dates and short codes stay: `/orders/8127/items` is
/// `/orders/{id}/items`, `/blog/2026-12-04/hello-world` stays as it is.
///
/// ```
/// # use connect_src::report::store::path_template;
/// assert_eq!(path_template("/orders/8127/items"), "/orders/{id}/items");
/// assert_eq!(path_template("/u/3f2b8c1e-7d4a-4e8f-9b1c-2a6d5e7f8a9b"), "/u/{id}");
/// assert_eq!(path_template("/reset/Zk3q9XvT0pLmN8rB2wYc"), "/reset/{id}");
/// assert_eq!(path_template("/blog/2026-12-04/hello-world"), "/blog/2026-12-04/hello-world");
/// ```
pub fn path_template(path: &str) -> String {
    fn is_id(seg: &str) -> bool {
        let len = seg.len();
        if len == 0 {
            return false;
        }
        if seg.bytes().all(|b| b.is_ascii_digit()) {
            return true;
        }
        let hex = seg.bytes().all(|b| b.is_ascii_hexdigit());
        if hex && len >= 16 {
            return true;
        }
        let uuid = len == 36
            && seg.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            });
        let token = len >= 20
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && seg.bytes().any(|b| b.is_ascii_digit())
            && !seg.contains("--");
        uuid || token
    }
    if !path.starts_with('/') || !path.bytes().any(|b| b.is_ascii_digit()) {
        return path.to_owned();
    }
    path.split('/')
        .map(|seg| if is_id(seg) { "{id}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub(crate) fn bound(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_of("inline"), "inline");
        assert_eq!(path_of("https://x.com"), "/");
        assert_eq!(path_of("https://x.com/a/b?c#d"), "/a/b");
    }

    #[test]
    fn bound_cuts_on_char_boundary() {
        assert_eq!(bound("aé", 2), "a");
        assert_eq!(bound("abc", 5), "abc");
    }
}

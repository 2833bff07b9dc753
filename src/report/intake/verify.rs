//! Every report checked against the policies the app served (issue "verified reports"):
//! was it produced by a policy this app sends, and would the reporting browser really have
//! blocked that connection? The matcher answers the second question per engine, so a
//! report of a connection the policy allows is told apart from a genuine one.
//!
//! ```
//! use connect_src::policy::ServedPolicies;
//! use connect_src::report::intake::{classify, parse_reports, NormalizeOptions};
//! use connect_src::report::store::Class;
//!
//! let served = ServedPolicies::from_headers([
//!     "connect-src 'self' https://api.example.com; report-uri /csp-reports",
//! ]);
//! let report = |blocked: &str, policy: &str| {
//!     let body = format!(
//!         r#"{{"csp-report":{{"document-uri":"https://app.example.com/","effective-directive":
//!         "connect-src","blocked-uri":"{blocked}","original-policy":"{policy}"}}}}"#
//!     );
//!     parse_reports(body.as_bytes(), &NormalizeOptions::default()).unwrap().violations.remove(0)
//! };
//! let ours = "connect-src 'self' https://api.example.com; report-uri /csp-reports";
//! let snapshot = served.snapshot();
//! assert_eq!(classify(&report("https://evil.example.net/x", ours), &snapshot), Class::Genuine);
//! // Allowed itself: blocked only if a redirect led away from it (reported under this URL).
//! assert_eq!(classify(&report("https://api.example.com/x", ours), &snapshot), Class::AfterRedirect);
//! // A WebSocket follows no redirect: the report contradicts the policy.
//! assert_eq!(classify(&report("wss://app.example.com/x", "connect-src 'self' wss:; report-uri /csp-reports"), &ServedPolicies::from_headers(["connect-src 'self' wss:; report-uri /csp-reports"]).snapshot()), Class::Contradicts);
//! assert_eq!(classify(&report("https://evil.example.net/x", "connect-src 'none'"), &snapshot), Class::Foreign);
//! ```

use crate::matcher::{AllowlistPolicy, BlockedUrl, BrowserPolicy, Engine};
use crate::policy::text::{canonical, policies, Canonical};
use crate::policy::{Served, CONNECTION_ALLOWLIST_DIRECTIVE};
use crate::report::store::{Class, Violation};

/// `canonical`, with scheme-less host-sources given the page's scheme, as Firefox writes
/// them in `original-policy` (`c.example` on an https page becomes `https://c.example`).
fn canonical_on(policy: &str, page_scheme: Option<&str>) -> Canonical {
    let mut c = canonical(policy);
    if let Some(scheme) = page_scheme {
        for (_, values) in &mut c {
            for v in values.iter_mut() {
                let schemeless = !v.starts_with('\'')
                    && v != "*"
                    && !v.contains("://")
                    && !v.ends_with(':')
                    && v.parse::<crate::source::Source>()
                        .is_ok_and(|s| s.as_host().is_some_and(|h| h.scheme().is_none()));
                if schemeless {
                    *v = format!("{scheme}://{v}");
                }
            }
            values.sort();
            values.dedup();
        }
    }
    c
}

/// The engine a user agent names ([`Engine::from_user_agent`]).
pub(crate) fn engine_of(user_agent: &str) -> Option<Engine> {
    Engine::from_user_agent(user_agent)
}

/// Whether a report is of the layer's inventory policy, `connect-src 'none'` (compared by
/// meaning, reporting directives left out). A report that says no policy passes here; the
/// token decides.
pub(crate) fn is_inventory(v: &Violation) -> bool {
    match v
        .original_policy
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        None => true,
        Some(text) => canonical(text) == canonical("connect-src 'none'"),
    }
}

/// Classes a violation against the served policies ([`ServedPolicies::snapshot`](crate::policy::ServedPolicies::snapshot)).
pub fn classify(v: &Violation, served: &[Served]) -> Class {
    if v.effective_directive == CONNECTION_ALLOWLIST_DIRECTIVE {
        return classify_allowlist(v, served);
    }
    let Some(text) = v
        .original_policy
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    else {
        return Class::Unverified;
    };
    // A history of allowlists alone (`serve --connection-allowlist-header` without
    // `--policy-header`) says nothing of CSP policies.
    if served.iter().all(|s| s.headers().is_empty()) {
        return Class::Unverified;
    }
    let scheme = v.document_origin.as_ref().map(|o| o.scheme());
    let reported = canonical_on(text, scheme);
    let is_served = |s: &Served| {
        s.headers()
            .iter()
            .flat_map(|h| policies(h))
            .any(|p| canonical_on(p, scheme) == reported)
    };
    // A policy served now wins over the same policy served before.
    let mut matched = served.iter().filter(|s| is_served(s));
    match matched.clone().find(|s| s.is_current()) {
        Some(_) => judge(v, text),
        None if matched.next().is_some() => Class::Stale,
        None => Class::Foreign,
    }
}

/// A `connection-allowlist` report names no policy (Chromium's body holds only the
/// connection and the disposition, measured), so it is checked against the allowlists
/// served: `genuine` when one served now blocks the connection from that page; when those
/// served now all admit it, `after-redirect` if one of them blocks redirects (Chromium then
/// reports the URL that redirected, which may be listed), else `contradicts`; `stale` when
/// only an earlier policy had an allowlist; `foreign` when none ever did; `unverified`
/// without a served history, or for a report whose URLs cannot be read.
fn classify_allowlist(v: &Violation, served: &[Served]) -> Class {
    if served.is_empty() {
        return Class::Unverified;
    }
    let (Ok(page), Ok(url)) = (
        url::Url::parse(&v.document_url),
        url::Url::parse(&v.blocked_url),
    ) else {
        return Class::Unverified;
    };
    let current: Vec<AllowlistPolicy> = served
        .iter()
        .filter(|s| s.is_current())
        .filter_map(|s| s.connection_allowlist_reading())
        .map(|(text, reading)| AllowlistPolicy::from_reading(text, reading.clone()))
        .collect();
    if current.is_empty() {
        return if served.iter().any(|s| s.connection_allowlist().is_some()) {
            Class::Stale
        } else {
            Class::Foreign
        };
    }
    let hop = std::slice::from_ref(&url);
    if current.iter().any(|a| !a.allows(&page, hop)) {
        Class::Genuine
    } else if current.iter().any(|a| !a.redirects_allowed()) {
        Class::AfterRedirect
    } else {
        Class::Contradicts
    }
}

/// A report of the current policy: would the reporting engine have blocked it?
pub(crate) fn judge(v: &Violation, policy: &str) -> Class {
    // The matcher knows connections; other directives' reports stand as served.
    if v.effective_directive != "connect-src" && v.effective_directive != "default-src" {
        return Class::Genuine;
    }
    let engines: Vec<Engine> = match v.user_agent.as_deref().and_then(engine_of) {
        Some(e) => vec![e],
        None => vec![Engine::Chromium, Engine::Firefox, Engine::WebKit],
    };
    // Each engine's reading of the URL reported (with an unknown user agent, every
    // browser's, and the least blocked reading stands: a report must hold in each).
    let p = BrowserPolicy::from_header(policy);
    let mut least = BlockedUrl::Blocked;
    for e in engines {
        match p.read_blocked(&v.document_url, &v.blocked_url, e) {
            Ok(BlockedUrl::Allowed) => return Class::Contradicts,
            Ok(BlockedUrl::AfterRedirect) => least = BlockedUrl::AfterRedirect,
            // Blocked where it was reported, or a value the matcher cannot judge (a keyword
            // such as `data`, a URL stripped to its scheme): it stands.
            Ok(BlockedUrl::Blocked) | Err(_) => {}
        }
    }
    if least == BlockedUrl::AfterRedirect {
        Class::AfterRedirect
    } else {
        Class::Genuine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_compare_by_meaning() {
        assert_eq!(
            canonical("connect-src 'self'  HTTPS://api.x.com; report-uri https://a.example/r"),
            canonical("CONNECT-SRC https://api.x.com 'self' 'self';report-uri /csp-reports?t=1")
        );
        assert_ne!(
            canonical("connect-src 'self'"),
            canonical("connect-src 'none'")
        );
        assert_eq!(
            canonical("connect-src a; connect-src b"),
            canonical("connect-src a")
        );
    }

    #[test]
    fn schemeless_sources_take_the_pages_scheme_as_firefox_writes_them() {
        assert_eq!(
            canonical_on("connect-src c.example 'self'", Some("https")),
            canonical_on("connect-src 'self' https://c.example", Some("https"))
        );
        assert_ne!(
            canonical_on("connect-src c.example", Some("http")),
            canonical_on("connect-src https://c.example", Some("http"))
        );
    }

    #[test]
    fn engines_from_user_agents() {
        let ff = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
        let cr = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        let wk = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/60.5 Safari/605.1.15";
        assert_eq!(engine_of(ff), Some(Engine::Firefox));
        assert_eq!(engine_of(cr), Some(Engine::Chromium));
        assert_eq!(engine_of(wk), Some(Engine::WebKit));
        assert_eq!(engine_of("curl/8.0"), None);
    }
}

//! From a report body's fields to a [`Violation`]: every field bounded, URLs stripped as
//! browsers strip them, the directive a name CSP defines.

use std::borrow::Cow;
use std::time::SystemTime;

use super::parse::{Body, Disposition, NormalizeOptions, ReportFormat, Unusable, Violation};
use super::verify::Class;
use crate::policy::text::DIRECTIVE_NAMES;

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

fn strip_query(s: &str) -> &str {
    match s.find(['?', '#']) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// The directive name a report's field starts with, if CSP defines it. CSP2 browsers put
/// the source list after the name (`script-src 'unsafe-eval'`); names are ASCII
/// case-insensitive (§2.2.1 step 2.4).
fn directive_name(field: Option<&str>) -> Option<&'static str> {
    let word = field?.split_ascii_whitespace().next()?;
    DIRECTIVE_NAMES
        .iter()
        .find(|d| d.eq_ignore_ascii_case(word))
        .copied()
}

/// CSP3 "strip URL for use in reports", step 1: a URL whose scheme is not HTTP(S) is
/// reported as its scheme alone. Browsers already do it for what they send as a blocked
/// URL; doing it here too turns every `data:…` or `blob:…` payload into one `data` or
/// `blob` (the keyword form browsers send), not one group per payload with the payload as
/// its sample. `ws:` and `wss:` are kept whole: browsers report WebSocket URLs as they are.
/// `host:port` without a scheme (a dotted name or `localhost`, then only digits up to a
/// `/` or the end) is not taken for a scheme; `data:0…` is one.
fn scheme_only(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once(':')?;
    let mut bytes = scheme.bytes();
    let starts_alpha = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let port = rest.split('/').next().unwrap_or(rest);
    let host_port = (scheme.contains('.') || scheme.eq_ignore_ascii_case("localhost"))
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit());
    if !starts_alpha
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        || host_port
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "http" | "https" | "ws" | "wss" => None,
        _ => Some(scheme),
    }
}

pub(super) fn normalize(
    b: Body<'_>,
    format: ReportFormat,
    user_agent: Option<Cow<'_, str>>,
    received_at: SystemTime,
    o: &NormalizeOptions,
) -> Result<Violation, Unusable> {
    if b.is_empty() {
        return Err(Unusable::Empty);
    }
    let text = |f: &Option<Cow<'_, str>>| -> Option<String> {
        f.as_deref()
            .map(|s| bound(s.trim(), o.max_field).to_owned())
    };
    let url = |f: &Option<Cow<'_, str>>| -> Option<String> {
        f.as_deref().map(|s| {
            let s = s.trim();
            if let Some(scheme) = scheme_only(s) {
                return bound(&scheme, o.max_field).to_owned();
            }
            let s = if o.strip_query { strip_query(s) } else { s };
            bound(s, o.max_field).to_owned()
        })
    };
    let number = |f: &Option<Cow<'_, str>>| -> Option<u64> {
        f.as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64)
    };
    let violated = text(&b.violated_directive.0);
    // The effective directive if it is one CSP defines; else the violated directive's
    // first word (old Firefox sends no effective-directive; some browsers and proxies send
    // a keyword or nonsense there); else the report says nothing usable.
    let effective = directive_name(b.effective_directive.0.as_deref())
        .or_else(|| directive_name(violated.as_deref()))
        .ok_or(Unusable::NoDirective)?;
    Ok(Violation {
        document_url: url(&b.document_url.0).unwrap_or_default(),
        blocked_url: url(&b.blocked_url.0).unwrap_or_default(),
        effective_directive: effective.to_owned(),
        violated_directive: violated,
        disposition: b
            .disposition
            .0
            .as_deref()
            .map_or(Disposition::Unknown, Disposition::parse),
        status_code: number(&b.status_code.0).and_then(|n| u16::try_from(n).ok()),
        source_file: url(&b.source_file.0).filter(|s| !s.is_empty()),
        line: number(&b.line.0).and_then(|n| u32::try_from(n).ok()),
        column: number(&b.column.0).and_then(|n| u32::try_from(n).ok()),
        sample: text(&b.sample.0).filter(|s| !s.is_empty()),
        referrer: url(&b.referrer.0).filter(|s| !s.is_empty()),
        user_agent: user_agent.map(|u| bound(u.trim(), o.max_field).to_owned()),
        original_policy: text(&b.original_policy.0),
        format,
        received_at,
        class: Class::Unverified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_names() {
        assert_eq!(directive_name(Some("connect-src")), Some("connect-src"));
        assert_eq!(
            directive_name(Some(" Script-Src 'unsafe-eval'")),
            Some("script-src")
        );
        assert_eq!(directive_name(Some("'unsafe-inline'")), None);
        assert_eq!(directive_name(Some("blah")), None);
        assert_eq!(directive_name(Some("connect-src-x")), None);
        assert_eq!(directive_name(Some("")), None);
        for d in DIRECTIVE_NAMES {
            assert_eq!(directive_name(Some(&d.to_ascii_uppercase())), Some(*d));
        }
    }

    #[test]
    fn non_http_urls_become_their_scheme() {
        assert_eq!(
            scheme_only("data:text/plain;base64,SGVsbG8=").as_deref(),
            Some("data")
        );
        assert_eq!(
            scheme_only("blob:https://app.example/1-2").as_deref(),
            Some("blob")
        );
        assert_eq!(scheme_only("About:blank").as_deref(), Some("about"));
        assert_eq!(
            scheme_only("chrome-extension://id/x.js").as_deref(),
            Some("chrome-extension")
        );
        for kept in [
            "https://a.example/",
            "HTTP://a.example/",
            "wss://a.example/",
            "ws://a.example/",
            "inline",
            "data",
            "",
            "api.example.com:443",
            "localhost:8080/x",
            "1a:b",
            ":x",
        ] {
            assert_eq!(scheme_only(kept), None, "{kept}");
        }
    }

    #[test]
    fn bound_cuts_on_char_boundary() {
        assert_eq!(bound("aé", 2), "a");
        assert_eq!(bound("abc", 5), "abc");
    }
}

//! A `Connection-Allowlist` value as Chromium 156 reads it (FINDINGS.md section 1): a
//! Structured Field list (RFC 9651, by `sfv`) whose first member is an inner list of
//! `response-origin` and URLPattern strings (by `urlpattern`), and how its items match a
//! URL (WebSockets as their http(s) form).

use sfv::{BareItem, List, ListEntry, Parser};
use urlpattern::{UrlPattern, UrlPatternInit, UrlPatternMatchInput, UrlPatternOptions};

/// A `Connection-Allowlist` value as Chromium 156 reads it (FINDINGS.md section 1).
#[derive(Debug)]
pub(crate) enum AllowlistReading {
    /// No value, an empty or a whitespace-only one: no policy.
    Ignored,
    /// A value that does not parse, or whose first member is not an inner list: every
    /// connection is blocked. The text says why.
    FailsClosed(String),
    /// The list.
    List(ReadList),
}

/// The first member of a value that parsed.
#[derive(Debug)]
pub(crate) struct ReadList {
    pub(crate) response_origin: bool,
    pub(crate) items: Vec<ReadItem>,
    /// Items Chromium drops (the rest of the list applies), each with why.
    pub(crate) dropped: Vec<String>,
    /// `redirects=<token other than block>`.
    pub(crate) redirects_allowed: bool,
    /// `webrtc=<token other than block>`.
    pub(crate) webrtc_allowed: bool,
    /// `report-to=<token>`.
    pub(crate) report_to: Option<String>,
    /// Members after the first, which Chromium drops.
    pub(crate) more_lists: bool,
}

/// One item Chromium keeps.
#[derive(Debug)]
pub(crate) enum ReadItem {
    ResponseOrigin,
    Pattern(Box<UrlPattern>),
}

impl AllowlistReading {
    /// Reads `value` (several header lines joined with `", "`, as Chromium joins them).
    pub(crate) fn parse(value: &str) -> AllowlistReading {
        if value.bytes().all(|b| b == b' ' || b == b'\t') {
            return AllowlistReading::Ignored;
        }
        let list: List = match Parser::new(value).parse() {
            Ok(l) => l,
            Err(e) => {
                return AllowlistReading::FailsClosed(format!("not a Structured Field list ({e})"))
            }
        };
        let Some(first) = list.first() else {
            return AllowlistReading::Ignored;
        };
        let ListEntry::InnerList(inner) = first else {
            return AllowlistReading::FailsClosed(
                "the first member is not an inner list (write it in parentheses)".into(),
            );
        };
        let mut read = ReadList {
            response_origin: false,
            items: Vec::new(),
            dropped: Vec::new(),
            redirects_allowed: false,
            webrtc_allowed: false,
            report_to: None,
            more_lists: list.len() > 1,
        };
        for item in &inner.items {
            match &item.bare_item {
                BareItem::Token(t) if t.as_str() == "response-origin" => {
                    read.response_origin = true;
                    read.items.push(ReadItem::ResponseOrigin);
                }
                BareItem::String(s) => match compile(s.as_str()) {
                    Ok(p) => read.items.push(ReadItem::Pattern(Box::new(p))),
                    Err(why) => read.dropped.push(format!("{:?}: {why}", s.as_str())),
                },
                other => read.dropped.push(format!(
                    "{other:?}: neither the token response-origin nor a string"
                )),
            }
        }
        // Parameters: the last of a name wins (sfv keeps the last); a token other than
        // `block` allows, anything else blocks.
        for (key, v) in &inner.params {
            let token = match v {
                BareItem::Token(t) => Some(t.as_str()),
                _ => None,
            };
            match key.as_str() {
                "redirects" => read.redirects_allowed = token.is_some_and(|t| t != "block"),
                "webrtc" => read.webrtc_allowed = token.is_some_and(|t| t != "block"),
                "report-to" => read.report_to = token.map(str::to_owned),
                _ => {}
            }
        }
        AllowlistReading::List(read)
    }
}

/// A URLPattern item as Chromium keeps it: a constructor string with a scheme, no regexp
/// groups, no credentials.
pub(super) fn compile(text: &str) -> Result<UrlPattern, String> {
    let init = UrlPatternInit::parse_constructor_string::<regex::Regex>(text, None)
        .map_err(|e| format!("not a URLPattern with a scheme ({e})"))?;
    let p = <UrlPattern>::parse(init, UrlPatternOptions::default())
        .map_err(|e| format!("not a URLPattern ({e})"))?;
    if p.has_regexp_groups() {
        return Err("regular-expression groups are refused".into());
    }
    if !matches!(p.username(), "*" | "") || !matches!(p.password(), "*" | "") {
        return Err("credentials are refused".into());
    }
    Ok(p)
}

impl ReadItem {
    /// Whether the item admits `url` (already in its http(s) form) from `page` (likewise).
    pub(crate) fn admits(&self, page: &url::Url, url: &url::Url) -> bool {
        match self {
            ReadItem::ResponseOrigin => page.origin() == url.origin(),
            ReadItem::Pattern(p) => p
                .test(UrlPatternMatchInput::Url(url.clone()))
                .unwrap_or(false),
        }
    }
}

/// `url` as Chromium matches it against an allowlist: `ws:` as `http:`, `wss:` as `https:`,
/// without fragment or credentials. `None` for a URL the allowlist does not govern
/// (`data:`, `blob:`, …).
pub(crate) fn as_matched(url: &url::Url) -> Option<url::Url> {
    let scheme = match url.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return None,
    };
    let port = url.port_or_known_default();
    let host = url.host_str()?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let default = if scheme == "https" { 443 } else { 80 };
    let port = match port {
        Some(p) if p != default => format!(":{p}"),
        _ => String::new(),
    };
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    url::Url::parse(&format!("{scheme}://{host}{port}{}{query}", url.path())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_reading() {
        use AllowlistReading as R;
        assert!(matches!(R::parse(""), R::Ignored));
        assert!(matches!(R::parse("  "), R::Ignored));
        for bad in [
            "(response-origin\t\"https://a.test\")",
            "(response-origin) ;redirects=allow",
            "(response-origin),",
            "(response-origin",
            "response-origin",
            "\"https://a.test\"",
            "(\"https://b\u{fc}cher.test\")",
        ] {
            assert!(matches!(R::parse(bad), R::FailsClosed(_)), "{bad}");
        }
        let R::List(l) = R::parse(
            r#"(response-origin "https://a.test" "b.test" "*" "https://(a|b).test" "https://u:p@a.test" 1 tok "response-origin");redirects=allow;webrtc="allow";report-to=ep, ("https://c.test")"#,
        ) else {
            panic!("a list")
        };
        assert!(l.response_origin && l.redirects_allowed && !l.webrtc_allowed && l.more_lists);
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.dropped.len(), 7);
        assert_eq!(l.report_to.as_deref(), Some("ep"));
        let R::List(l) = R::parse("();redirects=allow;redirects=block") else {
            panic!("a list")
        };
        assert!(!l.redirects_allowed);
    }

    #[test]
    fn websocket_urls_are_matched_as_http() {
        let u = |s: &str| as_matched(&url::Url::parse(s).unwrap()).map(|u| u.to_string());
        assert_eq!(
            u("wss://a.test/s?x=1#f").as_deref(),
            Some("https://a.test/s?x=1")
        );
        assert_eq!(
            u("ws://a.test:8080/").as_deref(),
            Some("http://a.test:8080/")
        );
        assert_eq!(u("wss://a.test:443/").as_deref(), Some("https://a.test/"));
        assert_eq!(u("data:text/plain,x"), None);
    }
}

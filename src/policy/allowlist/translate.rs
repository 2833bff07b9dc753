//! [`Translation`]: a `connect-src` list said as allowlist items, by the table measured in
//! Chromium 156 (`docs/engine-probe/connection-allowlist/FINDINGS.md` section 7), every
//! widening and every gap named, serialized by `sfv` and read back as Chromium reads it.

use std::fmt;

use sfv::{KeyRef, ListSerializer, StringRef, TokenRef};

use super::read::{compile, AllowlistReading};
use crate::policy::list::ConnectSrc;
use crate::source::{Host, HostSource, Port, Source};

/// One allowlist item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowlistItem {
    /// The token `response-origin`: the page's exact origin.
    ResponseOrigin,
    /// A URLPattern constructor string (`https://*.myapp.com`).
    Pattern(String),
}

impl fmt::Display for AllowlistItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowlistItem::ResponseOrigin => f.write_str("response-origin"),
            AllowlistItem::Pattern(p) => write!(f, "{p:?}"),
        }
    }
}

/// Something the allowlist admits that the source does not (the allowlist can say no less).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widening {
    /// The source, as written in the list (`https://api.myapp.com`).
    pub source: String,
    /// What the items admit beyond it, in words (`wss://api.myapp.com: Chromium matches a
    /// WebSocket URL as its https form`).
    pub admits: String,
}

/// A source the allowlist cannot say, or says only in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslated {
    /// The source, as written.
    pub source: String,
    /// Why, and what the allowlist then blocks that the source allows.
    pub why: String,
}

/// A `connect-src` list said as allowlist items (measured in Chromium 156, FINDINGS.md
/// section 7), with every widening and every gap named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    items: Vec<AllowlistItem>,
    widenings: Vec<Widening>,
    untranslated: Vec<Untranslated>,
    notes: Vec<String>,
}

impl Translation {
    /// Translates `list`:
    ///
    /// | source | items | admits beyond the source |
    /// |---|---|---|
    /// | `'self'` | `response-origin` | nothing on an https page (on an http page `'self'` also admits the https origin: see [`notes`](Self::notes)) |
    /// | `https://h`, `https://h:P`, `https://h:*` | `"https://h"`, `"https://h:P"`, `"https://h:*"` | `wss://` to the same |
    /// | `wss://h` | `"https://h"` | `https://h` requests |
    /// | `http://h`, `ws://h`, `h` | `"http{s}?://h"` | `ws://h`, `wss://h` (and `http://h` for `ws:`) |
    /// | `http://h:P` (P ≠ 80) | `"http://h:P"` | `ws://h:P` |
    /// | `https://*.h` | `"https://*.h"` | `wss://*.h` (the apex is out of both) |
    /// | `https://h/api/`, `https://h/file` | `"https://h/api/*"`, `"https://h/file"` | — |
    /// | `https:`, `wss:` | `"https://*:*"` | every `wss:` / every `https:` |
    /// | `http:`, `ws:`, `*` | `"http{s}?://*:*"` | every `ws:`/`wss:` (none for `*`) |
    /// | `'none'` | none | — |
    /// | `data:`, `blob:` | none: not governed | — |
    pub fn of(list: &ConnectSrc) -> Translation {
        let mut t = Translation::default();
        for s in list.sources() {
            t.add(s);
        }
        t
    }

    fn push(&mut self, item: AllowlistItem) {
        if !self.items.contains(&item) {
            self.items.push(item);
        }
    }

    /// Adds the pattern for `source`, or names the source untranslated when Chromium would
    /// drop that pattern (`*.0.0.1`: a wildcard URLPattern cannot spell).
    fn push_pattern(&mut self, source: &Source, p: String) -> bool {
        match compile(&p) {
            Ok(_) => {
                self.push(AllowlistItem::Pattern(p));
                true
            }
            Err(why) => {
                self.untranslated.push(Untranslated {
                    source: source.to_string(),
                    why: format!("its pattern {p:?} is one Chromium drops ({why}): connections the source allows would be blocked"),
                });
                false
            }
        }
    }

    fn widen(&mut self, source: &Source, admits: String) {
        self.widenings.push(Widening {
            source: source.to_string(),
            admits,
        });
    }

    fn add(&mut self, s: &Source) {
        match s {
            Source::None => {}
            Source::SelfOrigin => {
                self.push(AllowlistItem::ResponseOrigin);
                self.notes.push(
                    "'self' -> response-origin: the same on an https page; on an http:// page \
                     'self' also admits https:// and wss:// to the page's host, which \
                     response-origin does not (serve the page over https)"
                        .into(),
                );
            }
            Source::UnsafeWebTransportHashes => self
                .notes
                .push("'unsafe-webtransport-hashes' matches no URL: nothing to list".into()),
            Source::Scheme(scheme) => match scheme.as_str() {
                "https" => {
                    self.push(pattern("https://*:*"));
                    self.widen(
                        s,
                        "every wss: URL (a WebSocket is matched as its https form)".into(),
                    );
                }
                "wss" => {
                    self.push(pattern("https://*:*"));
                    self.widen(s, "every https: fetch, XHR, EventSource and beacon".into());
                }
                "http" => {
                    self.push(pattern("http{s}?://*:*"));
                    self.widen(s, "every ws: and wss: URL".into());
                }
                "ws" => {
                    self.push(pattern("http{s}?://*:*"));
                    self.widen(s, "every http: and https: request".into());
                }
                "data" | "blob" => self.notes.push(format!(
                    "{s} is not governed by Connection-Allowlist (nothing to list)"
                )),
                other => self.untranslated.push(Untranslated {
                    source: s.to_string(),
                    why: format!(
                        "Chromium matches only http(s) URLs (WebSockets as http(s)): a {other}: \
                         connection would be blocked"
                    ),
                }),
            },
            Source::Host(h) => self.add_host(s, h),
        }
    }

    fn add_host(&mut self, s: &Source, h: &HostSource) {
        if s.is_star() {
            self.push(pattern("http{s}?://*:*"));
            return;
        }
        let host = match h.host() {
            Host::Any => "*".to_owned(),
            Host::Subdomains(d) => format!("*.{d}"),
            Host::Name(n) => n.to_string(),
        };
        let port = h.port();
        let path = h.path().map(|p| {
            let mut out = escape_pattern(p);
            if p.ends_with('/') {
                out.push('*');
            }
            out
        });
        let path = path.unwrap_or_default();
        let scheme = h.scheme().map(|s| s.as_str());
        let with_port = |scheme: &str, default: u16| match port {
            None => format!("{scheme}://{host}"),
            Some(Port::Number(n)) if n == default => format!("{scheme}://{host}"),
            Some(Port::Number(n)) => format!("{scheme}://{host}:{n}"),
            Some(Port::Any) => format!("{scheme}://{host}:*"),
        };
        let default_port = |p: Option<Port>, d: u16| match p {
            None => true,
            Some(Port::Number(n)) => n == d,
            Some(Port::Any) => false,
        };
        match scheme {
            Some("https") => {
                if !self.push_pattern(s, format!("{}{path}", with_port("https", 443))) {
                    return;
                }
                self.widen(
                    s,
                    format!(
                        "{}: Chromium matches a WebSocket URL as its https form",
                        with_port("wss", 443)
                    ),
                );
            }
            Some("wss") => {
                if !self.push_pattern(s, format!("{}{path}", with_port("https", 443))) {
                    return;
                }
                self.widen(s, format!("{}: fetch, XHR, EventSource and beacons (the pattern that admits wss: is the https one)", with_port("https", 443)));
            }
            Some("http") if !default_port(port, 80) && port != Some(Port::Any) => {
                if !self.push_pattern(s, format!("{}{path}", with_port("http", 80))) {
                    return;
                }
                self.widen(
                    s,
                    format!(
                        "{}: a WebSocket is matched as its http form",
                        with_port("ws", 80)
                    ),
                );
            }
            Some("http") | Some("ws") | None => {
                let p = match port {
                    Some(Port::Number(n)) if n != 80 && n != 443 => format!(":{n}"),
                    Some(Port::Any) => ":*".to_owned(),
                    _ => String::new(),
                };
                if !self.push_pattern(s, format!("http{{s}}?://{host}{p}{path}")) {
                    return;
                }
                let also = match scheme {
                    Some("ws") => format!("http://{host}{p} and https://{host}{p} requests"),
                    None => format!("http://{host}{p} on an https page (mixed content blocks it there, loopback aside), and ws:// and wss:// to it"),
                    _ => format!("ws://{host}{p} and wss://{host}{p}"),
                };
                self.widen(s, also);
            }
            Some(other) => self.untranslated.push(Untranslated {
                source: s.to_string(),
                why: format!(
                    "Chromium matches only http(s) URLs (WebSockets as http(s)): a {other}: \
                     connection would be blocked"
                ),
            }),
        }
    }

    /// The items, in the order of the sources, without repeats.
    pub fn items(&self) -> &[AllowlistItem] {
        &self.items
    }
    /// What the items admit beyond the sources.
    pub fn widenings(&self) -> &[Widening] {
        &self.widenings
    }
    /// Sources the allowlist cannot say: with any, it would block connections the list
    /// allows, and [`PolicyBuilder::build`](crate::policy::PolicyBuilder::build) refuses it.
    pub fn untranslated(&self) -> &[Untranslated] {
        &self.untranslated
    }
    /// Remarks that do not change what the list admits on an https page.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Another translation's items, widenings, gaps and notes after these (an item or a
    /// note already here is not repeated): how navigation targets join the connect-src
    /// list's translation.
    ///
    /// ```
    /// use connect_src::policy::Translation;
    /// use connect_src::ConnectSrc;
    ///
    /// let mut t = Translation::of(&"https://api.x.com".parse::<ConnectSrc>()?);
    /// t.extend(Translation::of(&"'self' https://api.x.com".parse::<ConnectSrc>()?));
    /// assert_eq!(t.items().len(), 2); // "https://api.x.com" once, then response-origin
    /// # Ok::<_, connect_src::PolicyError>(())
    /// ```
    pub fn extend(&mut self, other: Translation) {
        for i in other.items {
            self.push(i);
        }
        self.widenings.extend(other.widenings);
        self.untranslated.extend(other.untranslated);
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }

    /// The header value: `(items…)` then `;redirects=allow` unless `block_redirects`, then
    /// `;report-to=<endpoint>`. Serialized by `sfv` and read back as Chromium reads it;
    /// `None` if it would not read back the same (a value Chromium cannot parse blocks
    /// every connection, so none is ever emitted).
    pub fn header_value(&self, redirects_allowed: bool, report_to: Option<&str>) -> Option<String> {
        let mut ser = ListSerializer::new();
        {
            let mut inner = ser.inner_list();
            for item in &self.items {
                match item {
                    AllowlistItem::ResponseOrigin => {
                        let _ = inner.bare_item(TokenRef::from_str("response-origin").ok()?);
                    }
                    AllowlistItem::Pattern(p) => {
                        let _ = inner.bare_item(StringRef::from_str(p).ok()?);
                    }
                }
            }
            let mut params = inner.finish();
            if redirects_allowed {
                params = params.parameter(
                    KeyRef::from_str("redirects").ok()?,
                    TokenRef::from_str("allow").ok()?,
                );
            }
            if let Some(name) = report_to {
                let _ = params.parameter(
                    KeyRef::from_str("report-to").ok()?,
                    TokenRef::from_str(name).ok()?,
                );
            }
        }
        let value = ser.finish()?;
        let read = AllowlistReading::parse(&value);
        let same = match &read {
            AllowlistReading::List(l) => {
                l.items.len() == self.items.len()
                    && l.dropped.is_empty()
                    && l.redirects_allowed == redirects_allowed
                    && l.report_to.as_deref() == report_to
            }
            _ => false,
        };
        (same && http::HeaderValue::from_str(&value).is_ok()).then_some(value)
    }
}

fn pattern(p: &str) -> AllowlistItem {
    AllowlistItem::Pattern(p.to_owned())
}

/// A path as a URLPattern pathname matching it literally: the pattern syntax's special
/// characters behind a backslash.
fn escape_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '\\' | ':' | '*' | '(' | ')' | '{' | '}' | '?' | '+') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &str) -> String {
        let l: ConnectSrc = list.parse().unwrap();
        let t = Translation::of(&l);
        t.header_value(true, None).unwrap()
    }

    #[test]
    fn the_measured_table() {
        assert_eq!(items("'self'"), "(response-origin);redirects=allow");
        assert_eq!(
            items("https://h.test"),
            r#"("https://h.test");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test:443"),
            r#"("https://h.test");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test:8443"),
            r#"("https://h.test:8443");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test:*"),
            r#"("https://h.test:*");redirects=allow"#
        );
        assert_eq!(
            items("wss://h.test"),
            r#"("https://h.test");redirects=allow"#
        );
        assert_eq!(
            items("ws://h.test"),
            r#"("http{s}?://h.test");redirects=allow"#
        );
        assert_eq!(
            items("http://h.test"),
            r#"("http{s}?://h.test");redirects=allow"#
        );
        assert_eq!(
            items("http://h.test:8080"),
            r#"("http://h.test:8080");redirects=allow"#
        );
        assert_eq!(items("h.test"), r#"("http{s}?://h.test");redirects=allow"#);
        assert_eq!(
            items("https://*.h.test"),
            r#"("https://*.h.test");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test/api/"),
            r#"("https://h.test/api/*");redirects=allow"#
        );
        assert_eq!(
            items("https://h.test/file"),
            r#"("https://h.test/file");redirects=allow"#
        );
        assert_eq!(items("https:"), r#"("https://*:*");redirects=allow"#);
        assert_eq!(items("wss:"), r#"("https://*:*");redirects=allow"#);
        assert_eq!(items("http: ws:"), r#"("http{s}?://*:*");redirects=allow"#);
        assert_eq!(items("*"), r#"("http{s}?://*:*");redirects=allow"#);
        assert_eq!(items("'none'"), "();redirects=allow");
        assert_eq!(items("data: blob:"), "();redirects=allow");
    }

    #[test]
    fn what_does_not_translate_is_named() {
        let l: ConnectSrc = "'self' ftp://files.test".parse().unwrap();
        let t = Translation::of(&l);
        assert_eq!(t.untranslated().len(), 1);
        assert_eq!(t.untranslated()[0].source, "ftp://files.test");
        let l: ConnectSrc = "https://a.test wss://b.test".parse().unwrap();
        let w = Translation::of(&l);
        assert_eq!(w.widenings().len(), 2);
        assert!(w.widenings()[0].admits.starts_with("wss://a.test"));
    }

    #[test]
    fn a_pattern_chromium_would_drop_is_untranslated() {
        let l: ConnectSrc = "'self' http://*.0.0.1".parse().unwrap();
        let t = Translation::of(&l);
        assert_eq!(t.untranslated().len(), 1, "{t:?}");
        assert_eq!(t.items(), &[AllowlistItem::ResponseOrigin]);
    }

    #[test]
    fn paths_with_pattern_syntax_are_escaped_and_still_parse() {
        let l: ConnectSrc = "https://h.test/a:b/(x)*".parse().unwrap();
        let v = Translation::of(&l)
            .header_value(false, Some("csp"))
            .unwrap();
        assert_eq!(v, r#"("https://h.test/a\\:b/\\(x\\)\\*");report-to=csp"#);
    }
}

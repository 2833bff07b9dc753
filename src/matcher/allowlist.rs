//! [`AllowlistPolicy`]: a `Connection-Allowlist` value read as Chromium 156 reads it, and
//! asked about connections (`docs/engine-probe/connection-allowlist/FINDINGS.md`).

use std::sync::Arc;

use url::Url;

use crate::policy::{as_matched, AllowlistReading, ReadItem};

/// A `Connection-Allowlist` header value as Chromium reads it (measured in Chromium 156):
/// a Structured Field list whose first member is an inner list of `response-origin` and
/// URLPattern strings. Items Chromium drops (other tokens, patterns without a scheme,
/// with regexp groups or credentials) are named in [`warnings`](Self::warnings) and the
/// rest applies; a value that does not parse blocks every connection; an empty one is no
/// policy. Firefox and WebKit ignore the header, so only the Chromium column of a
/// [`BrowserPolicy`](super::BrowserPolicy) verdict reads it.
///
/// ```
/// use connect_src::matcher::AllowlistPolicy;
/// use url::Url;
///
/// let a = AllowlistPolicy::parse(r#"(response-origin "https://api.x.com")"#);
/// let page = Url::parse("https://x.com/").unwrap();
/// let url = |s| Url::parse(s).unwrap();
/// assert!(a.allows(&page, &[url("https://x.com/a")]));
/// assert!(a.allows(&page, &[url("wss://api.x.com/socket")])); // matched as https://api.x.com/socket
/// assert!(!a.allows(&page, &[url("https://api.x.com:8443/")])); // no port: the default only
/// assert!(!a.allows(&page, &[url("https://api.x.com/r"), url("https://api.x.com/s")])); // no redirects=allow
/// assert!(!AllowlistPolicy::parse("(response-origin").allows(&page, &[url("https://x.com/")])); // fails closed
/// ```
#[derive(Debug, Clone)]
pub struct AllowlistPolicy {
    text: String,
    reading: Arc<AllowlistReading>,
}

impl PartialEq for AllowlistPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for AllowlistPolicy {}

impl AllowlistPolicy {
    /// Reads a header value. Several `Connection-Allowlist` lines are one value joined with
    /// `", "`, and only its first list counts (measured): pass them joined.
    pub fn parse(value: &str) -> AllowlistPolicy {
        AllowlistPolicy {
            text: value.to_owned(),
            reading: Arc::new(AllowlistReading::parse(value)),
        }
    }

    /// A value already read (a served allowlist, read once when it was recorded).
    pub(crate) fn from_reading(value: &str, reading: Arc<AllowlistReading>) -> AllowlistPolicy {
        AllowlistPolicy {
            text: value.to_owned(),
            reading,
        }
    }

    /// The value as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether Chromium, on `page`, lets a connection through whose URLs are `hops` (the
    /// first URL, then each a redirect led to). A URL the allowlist does not govern
    /// (`data:`, `blob:`) passes; WebSocket URLs are matched as their http(s) form; without
    /// `redirects=<token other than block>` a chain of more than one URL is blocked, with
    /// it only the first URL is checked.
    pub fn allows(&self, page: &Url, hops: &[Url]) -> bool {
        let Some(first) = hops.first() else {
            return true;
        };
        let Some(url) = as_matched(first) else {
            return true;
        };
        match &*self.reading {
            AllowlistReading::Ignored => true,
            AllowlistReading::FailsClosed(_) => false,
            AllowlistReading::List(l) => {
                if hops.len() > 1 && !l.redirects_allowed {
                    return false;
                }
                let page = as_matched(page).unwrap_or_else(|| page.clone());
                l.items.iter().any(|i| i.admits(&page, &url))
            }
        }
    }

    /// Whether the value is no policy at all (empty or whitespace).
    pub fn is_ignored(&self) -> bool {
        matches!(&*self.reading, AllowlistReading::Ignored)
    }

    /// Whether the value blocks every connection because it does not parse.
    pub fn fails_closed(&self) -> bool {
        matches!(&*self.reading, AllowlistReading::FailsClosed(_))
    }

    /// Whether the list carries `redirects=<token other than block>`.
    pub fn redirects_allowed(&self) -> bool {
        matches!(&*self.reading, AllowlistReading::List(l) if l.redirects_allowed)
    }

    /// Whether the list lists `response-origin`.
    pub fn lists_response_origin(&self) -> bool {
        matches!(&*self.reading, AllowlistReading::List(l) if l.response_origin)
    }

    /// Whether the list carries `webrtc=<token other than block>`.
    pub fn webrtc_allowed(&self) -> bool {
        matches!(&*self.reading, AllowlistReading::List(l) if l.webrtc_allowed)
    }

    /// The `report-to` endpoint name, if the list names one as a token.
    pub fn report_to(&self) -> Option<&str> {
        match &*self.reading {
            AllowlistReading::List(l) => l.report_to.as_deref(),
            _ => None,
        }
    }

    /// What Chromium would drop or refuse, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        match &*self.reading {
            AllowlistReading::Ignored => Vec::new(),
            AllowlistReading::FailsClosed(why) => vec![format!(
                "Connection-Allowlist does not parse, so Chromium blocks every connection: {why}"
            )],
            AllowlistReading::List(l) => {
                let mut w: Vec<String> = l
                    .dropped
                    .iter()
                    .map(|d| format!("Connection-Allowlist: Chromium drops the item {d}"))
                    .collect();
                if l.more_lists {
                    w.push(
                        "Connection-Allowlist: only the first list counts (a second header line \
                         or list does not narrow it)"
                            .into(),
                    );
                }
                if l.items
                    .iter()
                    .any(|i| matches!(i, ReadItem::ResponseOrigin))
                {
                    return w;
                }
                w.push(
                    "Connection-Allowlist without response-origin: the page's own origin is \
                     blocked too (its fetches, images, scripts and links)"
                        .into(),
                );
                w
            }
        }
    }
}

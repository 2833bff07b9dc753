//! [`ServedPolicies`]: the policies an app serves now and the last few it replaced, so that
//! reports can be checked against the policy that produced them.
//!
//! ```
//! use connect_src::policy::ServedPolicies;
//!
//! // As `connect-src serve --policy-header` takes them: the first is served now, the
//! // others were replaced.
//! let served = ServedPolicies::from_headers([
//!     "connect-src 'self' https://api.example.com; report-uri /csp-reports",
//!     "connect-src 'self'; report-uri /csp-reports",
//! ]);
//! let all = served.snapshot();
//! assert!(all[0].is_current() && all[0].headers()[0].contains("api.example.com"));
//! assert!(!all[1].is_current());
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::text::parse_header;
use super::AllowlistReading;
use super::{Policy, REPORT_ONLY_MARKER};

/// How many replaced policies are remembered by default.
pub const DEFAULT_SERVED_HISTORY: usize = 8;

/// One policy as served: its header values (enforced and report-only, each possibly holding
/// several comma-joined policies), when it started being served, and when it was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    headers: Vec<String>,
    /// The `Connection-Allowlist` (or its report-only twin) value served beside them.
    allowlist: Option<ServedAllowlist>,
    /// Which of `headers` is the report-only one, when known.
    report_only: Option<usize>,
    /// Served by a route's own layer, not the app's.
    route: bool,
    since: SystemTime,
    replaced: Option<SystemTime>,
}

impl Served {
    /// The `Content-Security-Policy` / `…-Report-Only` values as sent.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }
    /// The report-only header among [`headers`](Self::headers), when it is known: the
    /// report-only list of a [`Policy`] recorded by a layer, or a header value whose
    /// `report-uri` carries [`REPORT_ONLY_MARKER`] (as the layer writes the report-only
    /// header), for values given as text ([`ServedPolicies::from_headers`]).
    pub fn report_only_header(&self) -> Option<&str> {
        self.report_only
            .and_then(|i| self.headers.get(i))
            .map(String::as_str)
    }
    /// The `Connection-Allowlist` or `Connection-Allowlist-Report-Only` value served beside
    /// the CSP, if any ([`PolicyBuilder::connection_allowlist`](crate::PolicyBuilder::connection_allowlist)).
    pub fn connection_allowlist(&self) -> Option<&str> {
        self.allowlist.as_ref().map(|a| a.text.as_str())
    }

    /// The allowlist as Chromium reads it, read once when it was recorded (the collector
    /// checks every `connection-allowlist` report against it: no parse per report).
    pub(crate) fn connection_allowlist_reading(&self) -> Option<(&str, &Arc<AllowlistReading>)> {
        self.allowlist
            .as_ref()
            .map(|a| (a.text.as_str(), &a.reading))
    }
    /// When it started being served.
    pub fn since(&self) -> SystemTime {
        self.since
    }
    /// When it was replaced; `None` while it is served.
    pub fn replaced(&self) -> Option<SystemTime> {
        self.replaced
    }
    /// Whether it is served now.
    pub fn is_current(&self) -> bool {
        self.replaced.is_none()
    }
    /// Whether a route's own layer serves it (recorded with
    /// [`ServedPolicies::record_route`], as the front door's
    /// [`route_layer`](crate::Csp::route_layer) does), rather than the app's layer. The
    /// dashboard's suggestion starts from the app's policy, not a route's.
    pub fn is_route(&self) -> bool {
        self.route
    }
}

/// The policies an app serves now (several, when routes have their own layers) and the last
/// few it replaced, shared between the layers that serve them and the collector that checks
/// reports against them: a layer records its policy when it is made, and
/// [`PolicyHandle::set`](crate::PolicyHandle::set) records the swap. Cheap to clone; every
/// clone shares the history. Bounded: past `capacity` replaced policies, the oldest goes.
#[derive(Clone)]
pub struct ServedPolicies {
    inner: Arc<RwLock<VecDeque<Served>>>,
    capacity: usize,
}

impl fmt::Debug for ServedPolicies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServedPolicies")
            .field("served", &self.snapshot())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for ServedPolicies {
    fn default() -> Self {
        ServedPolicies::with_capacity(DEFAULT_SERVED_HISTORY)
    }
}

/// A policy's header values (enforced first), and which is the report-only one.
fn headers_of(policy: &Policy) -> Recorded {
    let headers: Vec<String> = [policy.enforced_header(), policy.report_only_header()]
        .into_iter()
        .flatten()
        .collect();
    let report_only = policy.report_only_header().map(|_| headers.len() - 1);
    Recorded {
        headers,
        report_only,
        allowlist: policy.connection_allowlist().map(|a| a.value().to_owned()),
    }
}

/// What one served policy sends: its CSP header values, which is the report-only one, and
/// its allowlist.
struct Recorded {
    headers: Vec<String>,
    report_only: Option<usize>,
    allowlist: Option<String>,
}

impl Served {
    fn sends(&self, r: &(Vec<String>, Option<String>)) -> bool {
        self.headers == r.0 && self.connection_allowlist() == r.1.as_deref()
    }
}

/// A served allowlist: its text, and Chromium's reading of it.
#[derive(Clone)]
struct ServedAllowlist {
    text: String,
    reading: Arc<AllowlistReading>,
}

impl ServedAllowlist {
    fn new(text: String) -> ServedAllowlist {
        let reading = Arc::new(AllowlistReading::parse(&text));
        ServedAllowlist { text, reading }
    }
}

/// By text: the reading follows from it.
impl PartialEq for ServedAllowlist {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for ServedAllowlist {}

impl fmt::Debug for ServedAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

/// Whether a header value's `report-uri` carries [`REPORT_ONLY_MARKER`] as a query
/// parameter: the layer's report-only header.
fn marked_report_only(value: &str) -> bool {
    parse_header(value).iter().any(|p| {
        p.get("report-uri").is_some_and(|uris| {
            uris.split_ascii_whitespace().any(|u| {
                u.split_once('?')
                    .is_some_and(|(_, q)| q.split(['&', '#']).any(|kv| kv == REPORT_ONLY_MARKER))
            })
        })
    })
}

impl ServedPolicies {
    /// An empty history remembering at most `capacity` replaced policies (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        ServedPolicies {
            inner: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// A history from header values: the first is served now, the others are policies it
    /// replaced, newest first. Each value is a whole `Content-Security-Policy` (or
    /// report-only) header. For an enforced and a report-only header served together, use
    /// [`from_policy_headers`](Self::from_policy_headers).
    pub fn from_headers<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut headers = headers.into_iter().map(Into::into);
        let current = headers.next();
        let report_only = current.as_deref().is_some_and(marked_report_only);
        let (enforced, report_only) = if report_only {
            (None, current)
        } else {
            (current, None)
        };
        ServedPolicies::from_policy_headers(enforced, report_only, headers)
    }

    /// A history from header values, as a response carries them: `enforced` (a
    /// `Content-Security-Policy` value) and `report_only` (a
    /// `Content-Security-Policy-Report-Only` value) are served now, together, like one
    /// [`Policy`] with both lists; `earlier` are whole header values of policies they
    /// replaced, newest first. With neither `enforced` nor `report_only`, every one of
    /// `earlier` counts as replaced.
    pub fn from_policy_headers<I, S>(
        enforced: Option<String>,
        report_only: Option<String>,
        earlier: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let served = ServedPolicies::default();
        let now = SystemTime::now();
        {
            let mut h = served.write();
            let report_only_at = report_only
                .as_ref()
                .map(|_| usize::from(enforced.is_some()));
            let current: Vec<String> = enforced.into_iter().chain(report_only).collect();
            if !current.is_empty() {
                h.push_back(Served {
                    headers: current,
                    allowlist: None,
                    report_only: report_only_at,
                    route: false,
                    since: now,
                    replaced: None,
                });
            }
            for text in earlier {
                let text: String = text.into();
                h.push_back(Served {
                    allowlist: None,
                    report_only: marked_report_only(&text).then_some(0),
                    headers: vec![text],
                    route: false,
                    since: now,
                    replaced: Some(now),
                });
            }
        }
        served.trim();
        served
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, VecDeque<Served>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps at most `capacity` replaced entries, dropping the oldest.
    fn trim(&self) {
        let mut h = self.write();
        while h.iter().filter(|s| !s.is_current()).count() > self.capacity {
            let oldest = h
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.is_current())
                .min_by_key(|(_, s)| s.replaced)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    h.remove(i);
                }
                None => break,
            }
        }
    }

    /// Records `policy` as the app's, served from now on, beside the others served now.
    pub fn record(&self, policy: &Policy) {
        self.record_headers(headers_of(policy), None, false);
    }

    /// Records a header value as the app's, served from now on beside the others (a value
    /// known only as text: what a collector apart from the app derives for a rollout's
    /// stage). A value already recorded is marked served again.
    pub fn record_header(&self, header: impl Into<String>) {
        let header = header.into();
        let report_only = marked_report_only(&header).then_some(0);
        let r = Recorded {
            headers: vec![header],
            report_only,
            allowlist: None,
        };
        self.record_headers(r, None, false);
    }

    /// Records `value` as the `Connection-Allowlist` (or `…-Report-Only`) value served now
    /// beside the app's current policies (each current one, or on its own when none is
    /// recorded): what a collector apart from the app is told (`serve
    /// --connection-allowlist-header`), so that `connection-allowlist` reports are classed
    /// against it. A layer records its policy's allowlist itself.
    pub fn record_connection_allowlist(&self, value: impl Into<String>) {
        let value = ServedAllowlist::new(value.into());
        {
            let mut h = self.write();
            let mut any = false;
            for s in h.iter_mut().filter(|s| s.is_current()) {
                s.allowlist = Some(value.clone());
                any = true;
            }
            if !any {
                h.push_front(Served {
                    headers: Vec::new(),
                    allowlist: Some(value),
                    report_only: None,
                    route: false,
                    since: SystemTime::now(),
                    replaced: None,
                });
            }
        }
        self.trim();
    }

    /// Records `value` as a `Connection-Allowlist` served from now on beside the app's
    /// policies, not in place of their own: what a staged rollout of an allowlist serves on
    /// some responses while the others keep the app's. Recorded once; served again, it is
    /// current again.
    pub(crate) fn record_allowlist_beside(&self, value: &str) {
        let r = Recorded {
            headers: Vec::new(),
            report_only: None,
            allowlist: Some(value.to_owned()),
        };
        self.record_headers(r, None, false);
    }

    /// Marks `value`, recorded by [`record_allowlist_beside`](Self::record_allowlist_beside),
    /// as no longer served (a rollout rolled back or aborted).
    pub(crate) fn end_allowlist_beside(&self, value: &str) {
        let now = SystemTime::now();
        {
            let mut h = self.write();
            for s in h.iter_mut().filter(|s| {
                s.is_current() && s.headers.is_empty() && s.connection_allowlist() == Some(value)
            }) {
                s.replaced = Some(now);
            }
        }
        self.trim();
    }

    /// Records `policy` as a route's own (see [`Served::is_route`]), served from now on.
    pub fn record_route(&self, policy: &Policy) {
        self.record_headers(headers_of(policy), None, true);
    }

    /// Records that `new` replaces `old` from now on (what a policy swap does), served
    /// where `old` was (the app's layer, or a route's).
    pub fn replace(&self, old: &Policy, new: &Policy) {
        let old = headers_of(old);
        let old = (old.headers, old.allowlist);
        let route = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.is_current() && s.sends(&old))
            .is_some_and(|s| s.route);
        self.record_headers(headers_of(new), Some(old), route);
    }

    fn record_headers(
        &self,
        r: Recorded,
        replaces: Option<(Vec<String>, Option<String>)>,
        route: bool,
    ) {
        let now = SystemTime::now();
        let Recorded {
            headers,
            report_only,
            allowlist,
        } = r;
        let new = (headers, allowlist);
        {
            let mut h = self.write();
            if let Some(old) = replaces.filter(|old| *old != new) {
                if let Some(s) = h.iter_mut().find(|s| s.is_current() && s.sends(&old)) {
                    s.replaced = Some(now);
                }
            }
            match h.iter_mut().find(|s| s.sends(&new)) {
                // Served again (or still): current, from its first time.
                Some(s) => s.replaced = None,
                None => h.push_front(Served {
                    headers: new.0,
                    allowlist: new.1.map(ServedAllowlist::new),
                    report_only,
                    route,
                    since: now,
                    replaced: None,
                }),
            }
        }
        self.trim();
    }

    /// Every policy remembered, newest first.
    pub fn snapshot(&self) -> Vec<Served> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ConnectSrc;

    fn p(list: &str) -> Policy {
        Policy::builder()
            .enforce(list.parse::<ConnectSrc>().unwrap())
            .build()
            .unwrap()
    }

    fn current(s: &ServedPolicies) -> Vec<String> {
        s.snapshot()
            .iter()
            .filter(|x| x.is_current())
            .map(|x| x.headers()[0].clone())
            .collect()
    }

    #[test]
    fn the_report_only_header_is_known() {
        let s = ServedPolicies::default();
        let both = Policy::builder()
            .enforce("'self'".parse::<ConnectSrc>().unwrap())
            .report_only("'self' https://a.example".parse::<ConnectSrc>().unwrap())
            .report_to("csp", "https://app.example/csp-reports")
            .build()
            .unwrap();
        s.record(&both);
        let served = &s.snapshot()[0];
        assert_eq!(
            served.report_only_header(),
            Some("connect-src 'self' https://a.example; report-to csp")
        );
        s.record(&p("'none'"));
        assert_eq!(s.snapshot()[0].report_only_header(), None);
        let text = ServedPolicies::from_headers([
            "connect-src 'self'; report-uri /r?x=1&disposition=report",
            "connect-src 'self'; report-uri /r",
            "connect-src 'self'; report-uri /r?disposition=reporting",
        ]);
        let found: Vec<bool> = text
            .snapshot()
            .iter()
            .map(|x| x.report_only_header().is_some())
            .collect();
        assert_eq!(found, [true, false, false]);
    }

    #[test]
    fn an_enforced_and_a_report_only_header_are_served_together() {
        let s = ServedPolicies::from_policy_headers(
            Some("connect-src 'self'; report-uri /r".to_owned()),
            Some("connect-src 'self' https://a.example; report-uri /r".to_owned()),
            ["connect-src 'none'"],
        );
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2);
        assert!(snap[0].is_current() && !snap[1].is_current());
        assert_eq!(snap[0].headers().len(), 2);
        assert_eq!(
            snap[0].report_only_header(),
            Some("connect-src 'self' https://a.example; report-uri /r")
        );
        assert_eq!(snap[1].headers(), ["connect-src 'none'"]);
        // Only earlier ones: none is current.
        let old = ServedPolicies::from_policy_headers(None, None, ["connect-src 'self'"]);
        assert!(!old.snapshot()[0].is_current());
    }

    #[test]
    fn several_current_a_swap_replaces_one_history_bounded() {
        let s = ServedPolicies::with_capacity(2);
        s.record(&p("'self'"));
        s.record(&p("'none'")); // a route's own layer
        s.record(&p("'self'"));
        assert_eq!(current(&s), ["connect-src 'none'", "connect-src 'self'"]);
        s.replace(&p("'self'"), &p("https://a.example"));
        assert_eq!(
            current(&s),
            ["connect-src https://a.example", "connect-src 'none'"]
        );
        s.replace(&p("https://a.example"), &p("https://b.example"));
        s.replace(&p("https://b.example"), &p("https://c.example"));
        let replaced = s.snapshot().iter().filter(|x| !x.is_current()).count();
        assert_eq!(replaced, 2, "bounded: the oldest replaced policy went");
        assert!(!s
            .snapshot()
            .iter()
            .any(|x| x.headers()[0] == "connect-src 'self'"));
    }
}

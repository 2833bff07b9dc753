//! [`ServedPolicies`]: the policies an app has served, newest first, so that reports can be
//! checked against the policy that produced them.
//!
//! ```
//! use connect_src::policy::ServedPolicies;
//!
//! // As `connect-src serve --policy-header` takes them: the first is the current one.
//! let served = ServedPolicies::from_headers([
//!     "connect-src 'self' https://api.example.com; report-uri /csp-reports",
//!     "connect-src 'self'; report-uri /csp-reports",
//! ]);
//! assert_eq!(served.snapshot().len(), 2);
//! assert!(served.snapshot()[0].headers()[0].contains("api.example.com"));
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::Policy;

/// How many policies are remembered by default: the current one and the seven before it.
pub const DEFAULT_SERVED_HISTORY: usize = 8;

/// One policy as served: its header values (enforced and report-only, each possibly holding
/// several comma-joined policies) and when it started being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    headers: Vec<String>,
    since: SystemTime,
}

impl Served {
    /// The `Content-Security-Policy` / `…-Report-Only` values as sent.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }
    /// When it started being served.
    pub fn since(&self) -> SystemTime {
        self.since
    }
}

/// The current policy and the last few it replaced, shared between the layer that serves
/// them (a [`PolicyHandle::set`](crate::PolicyHandle::set) records each new one) and the
/// collector that checks reports against them. Cheap to clone; every clone shares the
/// history. Bounded: the oldest entry goes when a new one would pass the capacity.
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

impl ServedPolicies {
    /// An empty history remembering at most `capacity` policies (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        ServedPolicies {
            inner: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// A history from header values, newest first (the first is the current policy), as
    /// served since now. Each value is a whole `Content-Security-Policy` (or report-only)
    /// header.
    pub fn from_headers<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let served = ServedPolicies::default();
        let list: Vec<String> = headers.into_iter().map(Into::into).collect();
        for h in list.into_iter().rev() {
            served.record_headers(vec![h]);
        }
        served
    }

    /// Records `policy` as the one served from now on.
    pub fn record(&self, policy: &Policy) {
        let headers = [policy.enforced_header(), policy.report_only_header()]
            .into_iter()
            .flatten()
            .collect();
        self.record_headers(headers);
    }

    /// Records header values as the policy served from now on.
    pub fn record_headers(&self, headers: Vec<String>) {
        let mut h = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if h.front().is_some_and(|s| s.headers == headers) {
            return; // the same policy again: still the current one
        }
        h.push_front(Served {
            headers,
            since: SystemTime::now(),
        });
        h.truncate(self.capacity);
    }

    /// The history, newest (current) first.
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
    use crate::ConnectSrc;

    #[test]
    fn newest_first_bounded_and_repeats_ignored() {
        let s = ServedPolicies::with_capacity(2);
        let p = |list: &str| {
            Policy::builder()
                .enforce(list.parse::<ConnectSrc>().unwrap())
                .build()
                .unwrap()
        };
        s.record(&p("'self'"));
        s.record(&p("'self'"));
        assert_eq!(s.snapshot().len(), 1);
        s.record(&p("'none'"));
        s.record(&p("https://a.example"));
        let h: Vec<String> = s
            .snapshot()
            .iter()
            .map(|x| x.headers()[0].clone())
            .collect();
        assert_eq!(h, ["connect-src https://a.example", "connect-src 'none'"]);
    }
}

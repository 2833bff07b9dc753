//! The header values of one policy, serialized once, and how each [`HeaderMode`] puts them
//! on a response.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use http::header::{
    Entry, HeaderMap, HeaderName, HeaderValue, CONTENT_SECURITY_POLICY,
    CONTENT_SECURITY_POLICY_REPORT_ONLY,
};

use super::merge::merge_connect_src;
use super::{HeaderMode, REPORTING_ENDPOINTS};
use crate::policy::{ConnectSrc, Policy, Provenance};
use std::time::SystemTime;

/// A policy and its header values, built when a layer is made or its policy swapped (and,
/// with [`Provenance`], when the token's window changes).
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) policy: Arc<Policy>,
    /// What signs the report URLs, if anything: kept with the values it signed, so a swap
    /// ([`PolicyHandle::set`](super::PolicyHandle::set)) or a handle taken at any time
    /// compiles with it.
    pub(crate) provenance: Option<Provenance>,
    /// The provenance window the report URLs' token belongs to, if they carry one.
    pub(crate) window: Option<u64>,
    enforced: Option<CompiledHeader>,
    report_only: Option<CompiledHeader>,
    endpoints: Option<HeaderValue>,
}

/// One CSP header (enforced or report-only), ready to set or to merge.
#[derive(Debug)]
struct CompiledHeader {
    /// The whole header value (`connect-src …; report-uri …; report-to …`).
    value: HeaderValue,
    /// The last merge done: handlers usually set the same CSP on every response, so merging
    /// into it again is a comparison and a clone. One entry: memory stays bounded.
    memo: ArcSwapOption<(HeaderValue, HeaderValue)>,
    /// `connect-src …` alone, for merging.
    connect: String,
    /// `report-uri …` / `report-to …`, for merging.
    reporting: Vec<String>,
}

/// A header value from text the policy builder validated (visible ASCII only, checked again
/// by [`PolicyBuilder::build`](crate::PolicyBuilder::build)). Should that ever fail, the
/// layer fails closed: `connect-src 'none'`.
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("connect-src 'none'"))
}

impl Compiled {
    pub(crate) fn new(policy: Arc<Policy>, provenance: Option<Provenance>) -> Compiled {
        let now = SystemTime::now();
        let token = provenance.as_ref().map(|p| p.token_at(now));
        let token = token.as_deref();
        let header = |list: Option<&ConnectSrc>, report_only: bool| {
            let l = list?;
            let h = policy.header_for(Some(l), report_only, token)?;
            Some(CompiledHeader {
                value: value(&h),
                memo: ArcSwapOption::empty(),
                connect: l.directive(),
                reporting: policy.reporting_directives(report_only, token),
            })
        };
        Compiled {
            enforced: header(policy.enforced(), false),
            report_only: header(policy.report_only(), true),
            endpoints: policy.reporting_endpoints_for(token).map(|v| value(&v)),
            window: provenance.as_ref().map(|p| p.window(now)),
            provenance,
            policy,
        }
    }

    pub(crate) fn apply(&self, mode: HeaderMode, headers: &mut HeaderMap) {
        if let Some(d) = &self.enforced {
            d.apply(mode, CONTENT_SECURITY_POLICY, headers);
        }
        if let Some(d) = &self.report_only {
            d.apply(mode, CONTENT_SECURITY_POLICY_REPORT_ONLY, headers);
        }
        if let Some(v) = &self.endpoints {
            match mode {
                HeaderMode::Override => {
                    headers.insert(REPORTING_ENDPOINTS, v.clone());
                }
                HeaderMode::IfAbsent => {
                    if let Entry::Vacant(e) = headers.entry(REPORTING_ENDPOINTS) {
                        e.insert(v.clone());
                    }
                }
                // A structured-field dictionary split over several lines is one dictionary
                // (RFC 8941 §3.2), so another line adds our endpoint and keeps theirs.
                HeaderMode::Merge | HeaderMode::Append => {
                    match headers.entry(REPORTING_ENDPOINTS) {
                        Entry::Vacant(e) => {
                            e.insert(v.clone());
                        }
                        Entry::Occupied(mut e) => {
                            if !e.iter().any(|x| x == v) {
                                e.append(v.clone());
                            }
                        }
                    }
                }
            }
        }
    }
}

impl CompiledHeader {
    fn apply(&self, mode: HeaderMode, name: HeaderName, headers: &mut HeaderMap) {
        match mode {
            HeaderMode::Override => {
                headers.insert(name, self.value.clone());
            }
            HeaderMode::Append => {
                headers.append(name, self.value.clone());
            }
            HeaderMode::IfAbsent => {
                if let Entry::Vacant(e) = headers.entry(name) {
                    e.insert(self.value.clone());
                }
            }
            HeaderMode::Merge => {
                // `contains_key` on a map without this header is a cheap miss; `entry` would
                // reserve space first.
                if !headers.contains_key(&name) {
                    headers.insert(name, self.value.clone());
                    return;
                }
                let Entry::Occupied(mut e) = headers.entry(name) else {
                    return;
                };
                let mut values = e.iter();
                if let (Some(only), None) = (values.next(), values.next()) {
                    let merged = self.merge_one(only);
                    e.insert(merged);
                    return;
                }
                let merged: Vec<HeaderValue> = e.iter().map(|v| self.merge_one(v)).collect();
                let mut merged = merged.into_iter();
                if let Some(first) = merged.next() {
                    e.insert(first);
                    for v in merged {
                        e.append(v);
                    }
                }
            }
        }
    }

    /// Merges our connect-src into one existing header value.
    fn merge_one(&self, existing: &HeaderValue) -> HeaderValue {
        if let Some(m) = &*self.memo.load() {
            if m.0 == existing {
                return m.1.clone();
            }
        }
        let merged = existing.to_str().ok().and_then(|text| {
            let reporting: Vec<&str> = self.reporting.iter().map(String::as_str).collect();
            HeaderValue::from_str(&merge_connect_src(text, &self.connect, &reporting)).ok()
        });
        match merged {
            Some(m) => {
                self.memo
                    .store(Some(Arc::new((existing.clone(), m.clone()))));
                m
            }
            // Not visible ASCII: we cannot edit it safely. Keep it as it is and add ours in
            // the same field, comma-separated: two policies, both enforced, which only narrows.
            None => {
                let mut both = existing.as_bytes().to_vec();
                both.extend_from_slice(b", ");
                both.extend_from_slice(self.value.as_bytes());
                HeaderValue::from_bytes(&both).unwrap_or_else(|_| self.value.clone())
            }
        }
    }
}

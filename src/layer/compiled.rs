//! The header values of one policy, serialized once, and how each [`HeaderMode`] puts them
//! on a response.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use http::header::{
    Entry, HeaderMap, HeaderName, HeaderValue, CONTENT_SECURITY_POLICY,
    CONTENT_SECURITY_POLICY_REPORT_ONLY,
};

use super::count::Registration;
use super::merge::{dictionary_has_key, merge_connect_src, restricts_connections};
use super::stage::Stage;
use super::{HeaderMode, REPORTING_ENDPOINTS};
use crate::policy::text::policy_digest;
use crate::policy::{ConnectSrc, Policy, Provenance, POLICY_PARAMETER, PROVENANCE_PARAMETER};
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
    /// `Connection-Allowlist` or its report-only twin, and the value.
    allowlist: Option<(HeaderName, HeaderValue)>,
    /// With an inventory: sample a response when a draw falls below this (`rate × 2⁶⁴`).
    inventory: Option<u64>,
    /// The name our `Reporting-Endpoints` entry defines (`report-to`'s), if any.
    endpoint_name: Option<String>,
    /// The layer's place in the count of layers: held by every compiled value of the layer,
    /// so also by each response future in flight (a service may be dropped before the
    /// services inside it are even called).
    pub(crate) registration: Arc<Registration>,
    /// Staged enforcement: another policy's values, served in place of these on a share of
    /// responses.
    pub(crate) staged: Option<Staged>,
}

/// A [`Stage`] compiled: its share as a threshold for a draw, and its policy's values.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) stage: Stage,
    /// A response is in the share when its draw is at most this (`share × 2⁶⁴`, saturated).
    threshold: u64,
    pub(crate) compiled: Arc<Compiled>,
}

impl Staged {
    /// Whether a response keyed `key` (or, without a key, a fresh draw) is in the share.
    /// A key lands on the same side for as long as the stage's salt and share hold, and a
    /// larger share keeps every key a smaller one had.
    pub(crate) fn takes(&self, key: Option<u64>) -> bool {
        let x = match key {
            Some(k) => mix(k ^ self.stage.salt),
            None => draw(),
        };
        x <= self.threshold
    }
}

/// SplitMix64's finalizer: spreads a key over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The draws for inventory sampling and page-load ids: SplitMix64 over a process-wide
/// counter, seeded at random once per process (so two processes draw apart). Not for
/// secrets: a page load's id is public (its report URL carries it), and its token, not
/// its id, is what cannot be forged.
fn draw() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x636f_6e6e_6563_7473);
        h.finish()
    });
    mix(seed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    ))
}

/// One CSP header (enforced or report-only), ready to set or to merge.
#[derive(Debug)]
struct CompiledHeader {
    /// Our whole header.
    full: Variant,
    /// The same without `report-to`, for a response whose `Reporting-Endpoints` already
    /// names our endpoint (a handler's own): its entry stays, and our reports go by
    /// `report-uri` rather than to the handler's endpoint. `None` when the policy has no
    /// `report-to`.
    without_report_to: Option<Variant>,
}

/// One serialization of our header, with what merging it needs.
#[derive(Debug)]
struct Variant {
    /// The whole header value (`connect-src …; report-uri …; report-to …`).
    value: HeaderValue,
    /// The last merge decision: the handler's value and what it became, or `None` when it
    /// restricts connections (it is kept, ours added beside it). Handlers usually set the
    /// same CSP on every response, so merging into it again is a comparison and a clone.
    /// One entry: memory stays bounded.
    memo: ArcSwapOption<(HeaderValue, Option<HeaderValue>)>,
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

impl Variant {
    fn new(connect: String, reporting: Vec<String>) -> Variant {
        let mut parts = vec![connect.clone()];
        parts.extend(reporting.iter().cloned());
        Variant {
            value: value(&parts.join("; ")),
            memo: ArcSwapOption::empty(),
            connect,
            reporting,
        }
    }
}

impl Compiled {
    pub(crate) fn new(
        policy: Arc<Policy>,
        provenance: Option<Provenance>,
        registration: Arc<Registration>,
    ) -> Compiled {
        let now = SystemTime::now();
        // Each report URL carries a token bound to the policies its reports can be of (their
        // digests): the enforced header's, the report-only header's, both for the shared
        // Reporting-Endpoints URL. A collector with the same secret then knows from a
        // report alone that the app served its policy.
        let digest = |list: Option<&ConnectSrc>, report_only: bool| {
            policy
                .header_for(list, report_only, None)
                .map(|text| policy_digest(&text))
        };
        let (d_enforced, d_report_only) = (
            digest(policy.enforced(), false),
            digest(policy.report_only(), true),
        );
        let proof = |digests: &[&String]| {
            provenance.as_ref().map(|p| {
                let digests: Vec<&str> = digests.iter().map(|d| d.as_str()).collect();
                format!(
                    "{PROVENANCE_PARAMETER}={}&{POLICY_PARAMETER}={}",
                    p.policies_token_at(now, &digests),
                    digests.join(".")
                )
            })
        };
        let header = |list: Option<&ConnectSrc>, report_only: bool, proof: Option<String>| {
            let l = list?;
            let reporting = policy.reporting_directives(report_only, proof.as_deref());
            let has_report_to = policy.report_to().is_some();
            let without_report_to = has_report_to.then(|| {
                let kept = reporting
                    .iter()
                    .filter(|r| !r.starts_with("report-to "))
                    .cloned()
                    .collect();
                Variant::new(l.directive(), kept)
            });
            Some(CompiledHeader {
                full: Variant::new(l.directive(), reporting),
                without_report_to,
            })
        };
        let both: Vec<&String> = d_enforced.iter().chain(&d_report_only).collect();
        Compiled {
            enforced: header(
                policy.enforced(),
                false,
                proof(&d_enforced.iter().collect::<Vec<_>>()),
            ),
            report_only: header(
                policy.report_only(),
                true,
                proof(&d_report_only.iter().collect::<Vec<_>>()),
            ),
            endpoints: policy
                .reporting_endpoints_for(proof(&both).as_deref())
                .map(|v| value(&v)),
            // Built and read back at policy build time; should it ever fail here, the
            // allowlist is left out rather than sent unparsable (which blocks everything).
            allowlist: policy
                .connection_allowlist_header()
                .and_then(|(name, v)| HeaderValue::from_str(v).ok().map(|v| (name, v))),
            inventory: policy.inventory().map(|rate| {
                if rate >= 1.0 {
                    u64::MAX
                } else {
                    (rate * 18_446_744_073_709_551_616.0) as u64
                }
            }),
            endpoint_name: policy.report_to().map(|(name, _)| name.to_owned()),
            window: provenance.as_ref().map(|p| p.window(now)),
            provenance,
            policy,
            registration,
            staged: None,
        }
    }

    /// The same values with `stage` served on its share of responses (none: no stage),
    /// compiled with the same provenance.
    pub(crate) fn staging(mut self, stage: Option<Stage>) -> Compiled {
        self.staged = stage.filter(|s| s.share > 0.0).map(|stage| {
            let threshold = if stage.share >= 1.0 {
                u64::MAX
            } else {
                (stage.share * 18_446_744_073_709_551_616.0) as u64
            };
            let compiled = Compiled::new(
                stage.policy.clone(),
                self.provenance.clone(),
                self.registration.clone(),
            );
            Staged {
                stage,
                threshold,
                compiled: Arc::new(compiled),
            }
        });
        self
    }

    /// The same policy (and stage) compiled again with `provenance`: a new token window.
    pub(crate) fn renewed(&self, provenance: Option<Provenance>) -> Compiled {
        Compiled::new(self.policy.clone(), provenance, self.registration.clone())
            .staging(self.staged.as_ref().map(|s| s.stage.clone()))
    }

    /// On a sampled share of responses, adds the inventory policy as one more
    /// `Content-Security-Policy-Report-Only` value (its own policy: browsers report on
    /// every one, whatever else the response carries), with a fresh page-load id and, with
    /// provenance, a token bound to it. The rest pay one draw.
    #[inline]
    pub(crate) fn add_inventory(&self, headers: &mut HeaderMap) {
        let Some(threshold) = self.inventory else {
            return;
        };
        if draw() > threshold {
            return;
        }
        let page_load = draw();
        let token = self.provenance.as_ref().map(|p| {
            let rate = self.policy.inventory().unwrap_or(1.0).to_string();
            p.inventory_token_at(SystemTime::now(), page_load, &rate)
        });
        if let Some(text) = self.policy.inventory_header(page_load, token.as_deref()) {
            if let Ok(v) = HeaderValue::from_str(&text) {
                headers.append(CONTENT_SECURITY_POLICY_REPORT_ONLY, v);
            }
        }
    }

    #[inline]
    pub(crate) fn apply(&self, mode: HeaderMode, headers: &mut HeaderMap) {
        // A handler's own endpoint of our name stays theirs: modes that keep what the
        // handler set never override it (a dictionary's last member of a name wins, RFC
        // 8941 §3.2, so another line of ours would).
        let taken = matches!(mode, HeaderMode::Merge | HeaderMode::Append)
            && self.endpoints.is_some()
            && self
                .endpoint_name
                .as_deref()
                .is_some_and(|name| endpoint_named(headers, name));
        if let Some(d) = &self.enforced {
            d.variant(taken)
                .apply(mode, CONTENT_SECURITY_POLICY, headers);
        }
        if let Some(d) = &self.report_only {
            d.variant(taken)
                .apply(mode, CONTENT_SECURITY_POLICY_REPORT_ONLY, headers);
        }
        if let Some((name, v)) = &self.allowlist {
            apply_allowlist(mode, name, v, headers);
        }
        if let Some(v) = self.endpoints.as_ref().filter(|_| !taken) {
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
                // (RFC 8941 §3.2), so another line adds our endpoint and keeps theirs (of
                // other names: see `taken`).
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

/// Puts the allowlist on a response. Chromium joins several lines of the header and reads
/// only the first list (measured: a second line does not narrow, and an empty first line
/// makes the joined value unparsable, which blocks everything), so there is only ever one
/// line: `Override` replaces the handler's, every other mode keeps a handler's own.
#[inline]
fn apply_allowlist(mode: HeaderMode, name: &HeaderName, v: &HeaderValue, headers: &mut HeaderMap) {
    match mode {
        HeaderMode::Override => {
            headers.insert(name.clone(), v.clone());
        }
        HeaderMode::IfAbsent | HeaderMode::Merge | HeaderMode::Append => {
            if let Entry::Vacant(e) = headers.entry(name.clone()) {
                e.insert(v.clone());
            }
        }
    }
}

/// Whether a `Reporting-Endpoints` line on the response defines `name`. A line that is not
/// visible ASCII cannot be read, so it is taken to define it (ours is then left out).
fn endpoint_named(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get_all(REPORTING_ENDPOINTS)
        .iter()
        .any(|v| v.to_str().map_or(true, |v| dictionary_has_key(v, name)))
}

impl CompiledHeader {
    #[inline]
    fn variant(&self, endpoint_taken: bool) -> &Variant {
        match &self.without_report_to {
            Some(v) if endpoint_taken => v,
            _ => &self.full,
        }
    }
}

impl Variant {
    #[inline]
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
                let merged: Option<Vec<HeaderValue>> = match (values.next(), values.next()) {
                    (Some(only), None) => self.merge_one(only).map(|m| vec![m]),
                    _ => e.iter().map(|v| self.merge_one(v)).collect(),
                };
                match merged {
                    // Some policy there restricts connections (or cannot be read): every
                    // value stays as it is and ours is added as another policy. Browsers
                    // enforce each, so a handler's `connect-src 'none'` still holds.
                    None => e.append(self.value.clone()),
                    Some(merged) => {
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
        }
    }

    /// Our connect-src merged into one existing header value, or `None` when that value
    /// restricts connections or is not visible ASCII (we cannot read it, so we must assume
    /// it does): it is then kept whole and ours goes beside it.
    fn merge_one(&self, existing: &HeaderValue) -> Option<HeaderValue> {
        if let Some(m) = &*self.memo.load() {
            if m.0 == existing {
                return m.1.clone();
            }
        }
        let merged = existing
            .to_str()
            .ok()
            .filter(|text| !restricts_connections(text))
            .and_then(|text| {
                let reporting: Vec<&str> = self.reporting.iter().map(String::as_str).collect();
                HeaderValue::from_str(&merge_connect_src(text, &self.connect, &reporting)).ok()
            });
        self.memo
            .store(Some(Arc::new((existing.clone(), merged.clone()))));
        merged
    }
}

//! Intake: from a request to the violations (and inventory observations) a store keeps. The body is read within its
//! limit, parsed from every shape browsers send ([`parse_reports`]), cleared of
//! extension and browser noise ([`NoiseFilter`]), kept only for accepted document origins,
//! and classed against the policies the app served ([`classify`]) and the report URL's
//! provenance token. A report whose URL names a sampled page load (`csp-inventory=…`, the
//! layer's inventory policy) becomes an observation instead, never a violation. Each is
//! tagged with its sender's client network (a keyed hash of the /24 or /48), so what is
//! learned from them rests on reach, not on counts one client can inflate.
//!
//! Every byte that reaches the endpoint is hostile: bodies are bounded (never buffered past
//! the limit; the rest of an oversize body is read and discarded, within a bound, so its
//! sender reads the 413), JSON nesting is bounded by the parser, each request keeps at most
//! 100 reports, every field is bounded and, by default, URLs lose their query and fragment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, USER_AGENT};
use axum::http::{Extensions, HeaderMap};

mod body;
mod filter;
mod network;
mod parse;
mod rejection;
mod verify;
mod via;

pub use filter::{NoiseFilter, DEFAULT_NOISE};
pub(crate) use network::{ClientIp, Networks};
pub use parse::{
    parse_reports, parse_reports_with_user_agent, NormalizeOptions, ParseError, Parsed, Unusable,
};
pub use rejection::ReportRejection;
pub use verify::classify;
pub(crate) use via::Via;
pub use via::{INVENTORY_PARAMETER, SAMPLE_PARAMETER};

use super::meter;
use super::store::{Class, Disposition, Observation, PageLoad, ReportSink, StoreError, Violation};
use crate::matcher::Engine;
use crate::policy::{Provenance, ServedPolicies};
use crate::source::Origin;
use body::{drain, read_body, ReadBody};

/// What the intake is set to: limits, filters and what it checks reports against.
#[derive(Debug, Clone)]
pub(crate) struct Intake {
    pub(crate) body_limit: usize,
    pub(crate) drain_limit: u64,
    pub(crate) drain_time: Duration,
    /// Document origins whose reports are kept; `None`: every one.
    pub(crate) accept: Option<Vec<Origin>>,
    pub(crate) filter: NoiseFilter,
    pub(crate) normalize: NormalizeOptions,
    pub(crate) served: Option<ServedPolicies>,
    pub(crate) provenance: Option<Provenance>,
    pub(crate) networks: Networks,
    /// The most observations kept per page load (see [`PageLoads`]).
    pub(crate) observations_per_page_load: u32,
}

/// How many observations each recent page load has sent, so that one page load (whose id
/// anyone can read in a response header) cannot fill the inventory: past the cap its further
/// reports are dropped and counted. Bounded: when it holds 100,000 page loads it starts over.
#[derive(Debug, Default)]
pub(crate) struct PageLoads(std::sync::Mutex<std::collections::HashMap<PageLoad, u32>>);

impl PageLoads {
    /// How many of `n` more observations of `page_load` may be kept.
    fn admit(&self, page_load: PageLoad, n: usize, cap: u32) -> usize {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= 100_000 && !m.contains_key(&page_load) {
            m.clear();
        }
        let seen = m.entry(page_load).or_default();
        let room = cap.saturating_sub(*seen) as usize;
        let take = n.min(room);
        *seen += take as u32;
        take
    }
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            body_limit: 64 * 1024,
            drain_limit: 1024 * 1024,
            drain_time: Duration::from_secs(5),
            accept: None,
            filter: NoiseFilter::default(),
            normalize: NormalizeOptions::default(),
            served: None,
            provenance: None,
            networks: Networks::default(),
            observations_per_page_load: 256,
        }
    }
}

/// Counters since start, as [`Collector::stats`](super::Collector::stats) reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectorStats {
    /// Violations handed to the store and acknowledged.
    pub accepted: u64,
    /// Violations dropped as noise.
    pub filtered: u64,
    /// Non-CSP reports skipped in Reporting API batches.
    pub other_types: u64,
    /// CSP reports past the per-request cap.
    pub dropped: u64,
    /// Requests refused (4xx/5xx).
    pub rejected: u64,
    /// CSP reports refused as unusable: empty, or naming no CSP directive (in a body
    /// refused with 400, or skipped in a batch that held other reports).
    pub invalid: u64,
    /// Violations dropped because their document's origin is not on the accept list
    /// ([`CollectorBuilder::accept_origin`](super::CollectorBuilder::accept_origin)).
    pub unaccepted_origin: u64,
    /// Inventory observations handed to the store and acknowledged.
    pub observed: u64,
    /// Inventory reports dropped: not a connection to an origin, past the per-page-load
    /// cap, of a policy other than the inventory's, without a valid token (with
    /// provenance), or to a store that keeps no inventory.
    pub observations_dropped: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    filtered: AtomicU64,
    other_types: AtomicU64,
    dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    invalid: AtomicU64,
    unaccepted_origin: AtomicU64,
    observed: AtomicU64,
    observations_dropped: AtomicU64,
    pub(crate) page_loads: PageLoads,
    /// Bumped for every batch stored: the read side's cache knows its answers are stale.
    pub(crate) generation: std::sync::Arc<AtomicU64>,
}

impl Counters {
    pub(crate) fn stats(&self) -> CollectorStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CollectorStats {
            accepted: get(&self.accepted),
            filtered: get(&self.filtered),
            other_types: get(&self.other_types),
            dropped: get(&self.dropped),
            rejected: get(&self.rejected),
            invalid: get(&self.invalid),
            unaccepted_origin: get(&self.unaccepted_origin),
            observed: get(&self.observed),
            observations_dropped: get(&self.observations_dropped),
        }
    }
}

/// With provenance: without a valid token, whatever a report claims, no page of ours sent
/// it (`foreign`). A token bound to policies (`csp-policy`, as the layer writes it) also
/// says the app served those very policies within the token's windows: a report of one of
/// them the served history did not know is checked as served now (so a standalone
/// collector needs no list of the app's policies, and follows its swaps); a report of
/// another policy under that token is foreign.
fn provenance_classes(p: &Provenance, via: &Via, kept: &mut [Violation]) {
    let now = std::time::SystemTime::now();
    let Some(token) = via.token.as_deref() else {
        kept.iter_mut().for_each(|v| v.class = Class::Foreign);
        return;
    };
    if via.policies.is_empty() {
        if !p.verify_at(token, now) {
            kept.iter_mut().for_each(|v| v.class = Class::Foreign);
        }
        return;
    }
    let digests: Vec<&str> = via.policies.iter().map(String::as_str).collect();
    if !p.verify_policies_at(token, &digests, now) {
        kept.iter_mut().for_each(|v| v.class = Class::Foreign);
        return;
    }
    for v in kept {
        let Some(text) = v.original_policy.clone().filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        if !digests.contains(&crate::policy::text::policy_digest(&text).as_str()) {
            v.class = Class::Foreign;
        } else if matches!(v.class, Class::Foreign | Class::Unverified) {
            v.class = verify::judge(v, &text);
        }
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(ct.split(';').next()?.trim().to_ascii_lowercase())
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Intake {
    /// Checks, reads, parses, filters, classes and stores one request's reports; and says
    /// whether the connection must close because part of an oversize body was left unread.
    pub(crate) async fn take(
        &self,
        sink: &dyn ReportSink,
        counters: &Counters,
        (headers, extensions): (&HeaderMap, &Extensions),
        via: &Via,
        body: Body,
    ) -> (Result<(), ReportRejection>, bool) {
        let too_large = ReportRejection::PayloadTooLarge(self.body_limit);
        match media_type(headers).as_deref() {
            Some("application/csp-report" | "application/reports+json" | "application/json") => {}
            _ => return (Err(ReportRejection::UnsupportedMediaType), false),
        }
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let limit = self.body_limit as u64;
        let bytes = match declared {
            Some(n) if n > limit => {
                // A client that asked to wait for 100 Continue has not sent its body: say
                // no before it does. One whose body is past the drain bound cannot be
                // drained: answer at once and close.
                let waits = headers
                    .get(EXPECT)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
                if waits || n - limit > self.drain_limit {
                    return (Err(too_large), true);
                }
                // Nothing of it is kept: all `n` bytes are drained.
                let drained = drain(body, self.drain_time, n).await;
                return (Err(too_large), !drained);
            }
            _ => match read_body(body, self.body_limit, self.drain_limit, self.drain_time).await {
                ReadBody::Complete(b) => b,
                ReadBody::TooLarge { drained } => return (Err(too_large), !drained),
                ReadBody::Failed => return (Err(ReportRejection::BodyRead), true),
            },
        };
        let network = self.networks.of_parts(headers, extensions);
        (
            self.keep(sink, counters, headers, via, network, &bytes)
                .await,
            false,
        )
    }

    async fn keep(
        &self,
        sink: &dyn ReportSink,
        c: &Counters,
        headers: &HeaderMap,
        via: &Via,
        network: Option<super::store::Network>,
        bytes: &[u8],
    ) -> Result<(), ReportRejection> {
        let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
        let parsed = match parse_reports_with_user_agent(bytes, &self.normalize, ua) {
            Ok(p) => p,
            Err(e) => {
                if let ParseError::Unusable { reports, .. } = &e {
                    add(&c.invalid, *reports);
                }
                return Err(ReportRejection::Malformed(e));
            }
        };
        add(&c.other_types, parsed.other_types);
        add(&c.dropped, parsed.dropped);
        add(&c.invalid, parsed.invalid);
        let total = parsed.violations.len();
        meter::received(total as u64);
        let mut kept: Vec<_> = parsed
            .violations
            .into_iter()
            .filter(|v| !self.filter.is_noise_violation(v))
            .collect();
        let noise = (total - kept.len()) as u64;
        if noise > 0 {
            add(&c.filtered, noise);
            meter::filtered(noise);
            sink.record_filtered(noise);
        }
        if let Some(accept) = &self.accept {
            let before = kept.len();
            kept.retain(|v| {
                v.document_origin
                    .as_ref()
                    .is_some_and(|o| accept.contains(o))
            });
            let elsewhere = (before - kept.len()) as u64;
            if elsewhere > 0 {
                add(&c.unaccepted_origin, elsewhere);
                meter::unaccepted(elsewhere);
            }
        }
        if kept.is_empty() {
            return Ok(());
        }
        if via.inventory.is_some() || via.bad_inventory {
            return self.observe(sink, c, via, network, kept).await;
        }
        for v in &mut kept {
            v.network = network;
        }
        if via.report_only {
            for v in &mut kept {
                if v.disposition == Disposition::Unknown {
                    v.disposition = Disposition::Report;
                }
            }
        }
        if let Some(served) = &self.served {
            let served = served.snapshot();
            for v in &mut kept {
                v.class = classify(v, &served);
            }
        }
        if let Some(p) = &self.provenance {
            provenance_classes(p, via, &mut kept);
        }
        let n = kept.len() as u64;
        sink.submit(kept)
            .await
            .map_err(ReportRejection::StoreUnavailable)?;
        add(&c.accepted, n);
        c.generation.fetch_add(1, Ordering::Release);
        meter::stored(n);
        Ok(())
    }

    /// An inventory report's violations, as observations: of the inventory's own policy
    /// (`connect-src 'none'`), with a valid token when provenance is on, connections to an
    /// origin, within the page load's cap. What is dropped is counted; a store that keeps
    /// no inventory drops them all (and the request is still answered 204).
    async fn observe(
        &self,
        sink: &dyn ReportSink,
        c: &Counters,
        via: &Via,
        network: Option<super::store::Network>,
        kept: Vec<Violation>,
    ) -> Result<(), ReportRejection> {
        let total = kept.len();
        let dropped = |n: usize| {
            if n > 0 {
                add(&c.observations_dropped, n as u64);
                meter::observations_dropped(n as u64);
            }
        };
        let Some((page_load, rate_text, rate)) = via.inventory.clone() else {
            dropped(total);
            return Ok(());
        };
        let class = match &self.provenance {
            None => Class::Unverified,
            Some(p) => {
                let now = std::time::SystemTime::now();
                let bound = |t: &str| p.verify_inventory_at(t, page_load.0, &rate_text, now);
                if via.token.as_deref().is_some_and(bound) {
                    Class::Genuine
                } else {
                    dropped(total);
                    return Ok(());
                }
            }
        };
        let mut batch: Vec<Observation> = kept
            .into_iter()
            .filter(|v| v.effective_directive == "connect-src" && verify::is_inventory(v))
            .filter_map(|v| {
                let destination = v.blocked_origin.clone()?;
                let mut o = Observation::new(destination, page_load, rate);
                o.document_path = super::store::bound(&v.document_path(), 256).to_owned();
                o.document_origin = v.document_origin;
                o.engine = v.user_agent.as_deref().and_then(Engine::from_user_agent);
                o.network = network;
                o.class = class;
                o.received_at = v.received_at;
                Some(o)
            })
            .collect();
        let admitted = c
            .page_loads
            .admit(page_load, batch.len(), self.observations_per_page_load);
        batch.truncate(admitted);
        dropped(total - batch.len());
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len();
        match sink.observe(batch).await {
            Ok(()) => {
                add(&c.observed, n as u64);
                c.generation.fetch_add(1, Ordering::Release);
                meter::observed(n as u64);
                Ok(())
            }
            Err(StoreError::Unsupported(_)) => {
                dropped(n);
                Ok(())
            }
            Err(e) => Err(ReportRejection::StoreUnavailable(e)),
        }
    }
}

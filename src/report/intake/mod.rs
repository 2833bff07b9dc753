//! Intake: from a request to the violations a store keeps. The body is read within its
//! limit, parsed from every shape browsers send ([`parse_reports`]), cleared of
//! extension and browser noise ([`NoiseFilter`]), kept only for accepted document origins,
//! and classed against the policies the app served ([`classify`]) and the report URL's
//! provenance token.
//!
//! Every byte that reaches the endpoint is hostile: bodies are bounded (never buffered past
//! the limit; the rest of an oversize body is read and discarded, within a bound, so its
//! sender reads the 413), JSON nesting is bounded by the parser, each request keeps at most
//! 100 reports, every field is bounded and, by default, URLs lose their query and fragment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, USER_AGENT};
use axum::http::HeaderMap;

mod body;
mod filter;
mod parse;
mod rejection;
mod verify;
mod via;

pub use filter::{NoiseFilter, DEFAULT_NOISE};
pub use parse::{
    parse_reports, parse_reports_with_user_agent, NormalizeOptions, ParseError, Parsed, Unusable,
};
pub use rejection::ReportRejection;
pub use verify::classify;
pub(crate) use via::Via;

use super::meter;
use super::store::{Class, Disposition, ReportSink};
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
        headers: &HeaderMap,
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
        (self.keep(sink, counters, headers, via, &bytes).await, false)
    }

    async fn keep(
        &self,
        sink: &dyn ReportSink,
        c: &Counters,
        headers: &HeaderMap,
        via: &Via,
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
            add(&c.unaccepted_origin, (before - kept.len()) as u64);
        }
        if kept.is_empty() {
            return Ok(());
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
        // Without a valid token, whatever the report claims, no page of ours sent it.
        if let Some(p) = &self.provenance {
            let now = std::time::SystemTime::now();
            if !via.token.as_deref().is_some_and(|t| p.verify_at(t, now)) {
                for v in &mut kept {
                    v.class = Class::Foreign;
                }
            }
        }
        let n = kept.len() as u64;
        sink.submit(kept)
            .await
            .map_err(ReportRejection::StoreUnavailable)?;
        add(&c.accepted, n);
        meter::stored(n);
        Ok(())
    }
}

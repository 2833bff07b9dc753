//! The axum endpoint browsers POST reports to, and the read side (summary, dashboard).
//!
//! ```
//! use axum::{body::Body, http::{Request, StatusCode}, Router};
//! use connect_src::report::{Collector, MemorySink, ReportStore};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = MemorySink::new();
//! let collector = Collector::builder().store(store.clone()).build();
//! // The POST endpoint is public; mount the read side behind your own auth.
//! let app: Router = collector.report_router().merge(collector.read_router());
//!
//! let body = r#"{"csp-report":{"document-uri":"https://app.example/","effective-directive":
//!     "connect-src","blocked-uri":"https://evil.example/x","disposition":"enforce"}}"#;
//! let res = app
//!     .oneshot(
//!         Request::post("/csp-reports")
//!             .header("content-type", "application/csp-report")
//!             .body(Body::from(body))
//!             .unwrap(),
//!     )
//!     .await
//!     .unwrap();
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert_eq!(store.summary(10).unwrap().groups[0].blocked_origin, "https://evil.example");
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT,
    ORIGIN, USER_AGENT, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::body::{drain, read_body, ReadBody};
use super::dashboard::{self, DASHBOARD_CSS};
use super::filter::{document_origin, parse_accept_origin, AcceptOriginError, NoiseFilter};
use super::meter;
use super::parse::{parse_reports_with_user_agent, NormalizeOptions, ParseError};
pub use super::rejection::ReportRejection;
use super::sink::{MemorySink, ReportSink, ReportStore};
use super::summary::StoreError;
use super::verify::{classify, Class};
use super::violation::Disposition;
use crate::policy::{Provenance, ServedPolicies, PROVENANCE_PARAMETER, REPORT_ONLY_MARKER};

/// What a report's URL says about it: the report-only header's marker, and the provenance
/// token, as the layer put them in its report URLs.
#[derive(Debug, Default)]
struct Via {
    report_only: bool,
    token: Option<String>,
}

impl Via {
    fn from_query(query: &str) -> Via {
        let mut via = Via::default();
        for kv in query.split('&') {
            if kv == REPORT_ONLY_MARKER {
                via.report_only = true;
            } else if let Some(t) = kv
                .strip_prefix(PROVENANCE_PARAMETER)
                .and_then(|r| r.strip_prefix('='))
            {
                via.token = Some(t.chars().take(64).collect());
            }
        }
        via
    }
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectorStats {
    /// Violations handed to the sink and acknowledged.
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
    /// ([`CollectorBuilder::accept_origin`]).
    pub unaccepted_origin: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    filtered: AtomicU64,
    other_types: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    invalid: AtomicU64,
    unaccepted_origin: AtomicU64,
}

#[derive(Debug, Clone)]
enum Origins {
    Any,
    List(Vec<HeaderValue>),
}

/// What the builder sets and the collector reads: one struct, so an option is added once.
#[derive(Debug)]
struct Settings {
    path: String,
    body_limit: usize,
    drain_limit: u64,
    drain_time: Duration,
    origins: Origins,
    accept: Option<Vec<String>>,
    filter: NoiseFilter,
    normalize: NormalizeOptions,
    summary_limit: usize,
    served: Option<ServedPolicies>,
    provenance: Option<Provenance>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            path: "/csp-reports".into(),
            body_limit: 64 * 1024,
            drain_limit: 1024 * 1024,
            drain_time: Duration::from_secs(5),
            origins: Origins::Any,
            accept: None,
            filter: NoiseFilter::default(),
            normalize: NormalizeOptions::default(),
            served: None,
            provenance: None,
            summary_limit: 500,
        }
    }
}

struct Inner {
    sink: Arc<dyn ReportSink>,
    store: Option<Arc<dyn ReportStore>>,
    settings: Settings,
    counters: Counters,
}

/// The report collector: build it once, mount its routers. Cheap to clone.
#[derive(Clone)]
pub struct Collector {
    inner: Arc<Inner>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("settings", &self.inner.settings)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Builder for a [`Collector`].
#[must_use]
#[derive(Default)]
pub struct CollectorBuilder {
    sink: Option<Arc<dyn ReportSink>>,
    store: Option<Arc<dyn ReportStore>>,
    settings: Settings,
}

impl fmt::Debug for CollectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CollectorBuilder {
    /// Where violations go (default: a [`MemorySink`], also used as the store).
    pub fn sink(mut self, sink: impl ReportSink) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// A sink that can also be read back (e.g. [`MemorySink`], `SqliteSink`): used for both.
    pub fn store<S: ReportSink + ReportStore + Clone>(mut self, store: S) -> Self {
        self.store = Some(Arc::new(store.clone()));
        self.sink = Some(Arc::new(store));
        self
    }

    /// The POST path (default `/csp-reports`); the read side lives under it
    /// (`/csp-reports/summary`, `/csp-reports/dashboard`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
        while p.len() > 1 && p.ends_with('/') {
            p.pop();
        }
        self.settings.path = p;
        self
    }

    /// Largest accepted body, in bytes (default 64 KiB). Bigger bodies get 413; no more
    /// than this is ever buffered.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.body_limit = bytes;
        self
    }

    /// Most bytes of an oversize body read and thrown away after the body limit, before the
    /// 413 is sent (default 1 MiB; 0 turns draining off).
    ///
    /// A client writes its whole body before it reads the answer. If the server answered
    /// and closed while the body was still arriving, the kernel would reset the connection
    /// and the client would see a broken pipe, not the 413. So the rest of an oversize body
    /// is read and discarded (never buffered) up to this many bytes and
    /// [`drain_time`](Self::drain_time); past either bound, or when `Content-Length`
    /// already says the body is bigger than `body_limit + drain_limit`, the 413 is sent at
    /// once with `Connection: close`.
    pub fn drain_limit(mut self, bytes: u64) -> Self {
        self.settings.drain_limit = bytes;
        self
    }

    /// Longest time spent draining an oversize body (default 5 seconds); see
    /// [`drain_limit`](Self::drain_limit). The bound is a tokio timer, so the collector
    /// needs a runtime with its time driver (`#[tokio::main]` and `Builder::enable_all`
    /// have it; a runtime built without `enable_time` would panic on an oversize body).
    pub fn drain_time(mut self, time: Duration) -> Self {
        self.settings.drain_time = time;
        self
    }

    /// CORS: allow Reporting API preflights from this origin only (call again for more).
    /// By default any origin may send reports, as anyone can POST to a public endpoint
    /// anyway. This is about who may *send* (the `Origin` header, which a script-less
    /// client sets to anything); to choose which pages' reports are *kept*, see
    /// [`accept_origin`](Self::accept_origin).
    pub fn allow_origin(mut self, origin: &str) -> Self {
        let v = HeaderValue::from_str(origin.trim_end_matches('/'));
        match (&mut self.settings.origins, v) {
            (Origins::List(l), Ok(v)) => l.push(v),
            (o, Ok(v)) => *o = Origins::List(vec![v]),
            // An origin that is not a header value can never match a request's Origin.
            (o @ Origins::Any, Err(_)) => *o = Origins::List(Vec::new()),
            (Origins::List(_), Err(_)) => {}
        }
        self
    }

    /// Keep only reports about documents of this origin (call again for more): a report
    /// whose document URL is of another origin, or has none, is dropped and counted in
    /// [`CollectorStats::unaccepted_origin`], so a stranger cannot fill the store with
    /// another site's reports. Origins are compared as `scheme://host[:port]`, lowercase,
    /// default ports dropped, IDN hosts in punycode. By default every document is accepted.
    ///
    /// Not the same as [`allow_origin`](Self::allow_origin), which answers CORS
    /// preflights by the sender's `Origin` header.
    ///
    /// ```
    /// use connect_src::report::Collector;
    ///
    /// let collector = Collector::builder()
    ///     .accept_origin("https://app.example")?
    ///     .accept_origin("https://www.app.example:8443/")?
    ///     .build();
    /// assert!(Collector::builder().accept_origin("app.example").is_err());
    /// # Ok::<_, connect_src::report::AcceptOriginError>(())
    /// ```
    pub fn accept_origin(mut self, origin: &str) -> Result<Self, AcceptOriginError> {
        let o = parse_accept_origin(origin)?;
        let list = self.settings.accept.get_or_insert_with(Vec::new);
        if !list.contains(&o) {
            list.push(o);
        }
        Ok(self)
    }

    /// The noise filter (default [`NoiseFilter::default`]; [`NoiseFilter::none`] keeps all).
    pub fn noise_filter(mut self, filter: NoiseFilter) -> Self {
        self.settings.filter = filter;
        self
    }

    /// Normalization (query stripping, field bound, per-request cap).
    pub fn normalize(mut self, options: NormalizeOptions) -> Self {
        self.settings.normalize = options;
        self
    }

    /// Most groups in the summary and dashboard (default 500). `total` is never capped.
    pub fn summary_limit(mut self, groups: usize) -> Self {
        self.settings.summary_limit = groups;
        self
    }

    /// The policies the app serves, newest first, to check each report against
    /// ([`classify`](super::classify)): from [`CspLayer::served_policies`](crate::CspLayer::served_policies)
    /// when the app's layer is at hand, else [`ServedPolicies::from_headers`]. Without
    /// them every report is [`Class::Unverified`](super::Class::Unverified).
    pub fn served_policies(mut self, served: ServedPolicies) -> Self {
        self.settings.served = Some(served);
        self
    }

    /// Checks the token the layer's [`Provenance`] puts in report URLs: reports without a
    /// valid one (current or previous rotation window) are [`Class::Foreign`], whatever
    /// they claim. Give every app instance and the collector the same secret.
    pub fn provenance(mut self, provenance: Provenance) -> Self {
        self.settings.provenance = Some(provenance);
        self
    }

    /// Builds the collector.
    pub fn build(self) -> Collector {
        let (sink, store) = match (self.sink, self.store) {
            (Some(sink), store) => (sink, store),
            (None, _) => {
                let m = MemorySink::new();
                (
                    Arc::new(m.clone()) as Arc<dyn ReportSink>,
                    Some(Arc::new(m) as Arc<dyn ReportStore>),
                )
            }
        };
        Collector {
            inner: Arc::new(Inner {
                sink,
                store,
                settings: self.settings,
                counters: Counters::default(),
            }),
        }
    }
}

/// Reads a store on tokio's blocking pool: a database-backed store does file I/O, which
/// must not stall the runtime's workers (and the report endpoint with them). A store that
/// fails (or panics) answers 500 with a plain-text reason, never a summary of zeros.
async fn read<T: Send + 'static>(
    store: Arc<dyn ReportStore>,
    read: impl FnOnce(&dyn ReportStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let failed = |why: String| {
        tracing::error!(target: "connect_src::report", error = %why, "report store failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            why,
        )
            .into_response()
    };
    match tokio::task::spawn_blocking(move || read(&*store)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed("the report store panicked".into())),
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(ct.split(';').next()?.trim().to_ascii_lowercase())
}

impl Collector {
    /// Starts a collector.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    /// The POST path.
    pub fn path(&self) -> &str {
        &self.inner.settings.path
    }

    /// Counters since start.
    pub fn stats(&self) -> CollectorStats {
        let c = &self.inner.counters;
        CollectorStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            filtered: c.filtered.load(Ordering::Relaxed),
            other_types: c.other_types.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            invalid: c.invalid.load(Ordering::Relaxed),
            unaccepted_origin: c.unaccepted_origin.load(Ordering::Relaxed),
        }
    }

    /// The public side: `POST <path>` and its CORS preflight (`OPTIONS <path>`).
    pub fn report_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let post_c = self.clone();
        let opt_c = self.clone();
        Router::new().route(
            &self.inner.settings.path,
            post(
                move |version: Version, uri: Uri, headers: HeaderMap, body: Body| {
                    let c = post_c.clone();
                    let via = Via::from_query(uri.query().unwrap_or(""));
                    async move { c.receive(version, via, headers, body).await }
                },
            )
            .options(move |headers: HeaderMap| {
                let c = opt_c.clone();
                async move { c.preflight(&headers) }
            }),
        )
    }

    /// The read side, to mount behind your own authentication (it shows what browsers
    /// reported, including URLs of your pages): `GET <path>/summary` (JSON) and
    /// `GET <path>/dashboard` (HTML, with `dashboard.css`). Empty without a store.
    pub fn read_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let Some(store) = self.inner.store.clone() else {
            return Router::new();
        };
        let limit = self.inner.settings.summary_limit;
        let served = self.inner.settings.served.clone();
        let (s1, s2) = (store.clone(), store);
        let base = &self.inner.settings.path;
        Router::new()
            .route(
                &format!("{base}/summary"),
                get(move || async move {
                    let json = read(s1, move |s| s.summary(limit)).await?.to_json();
                    Ok::<_, Response>((
                        [
                            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                        ],
                        json,
                    ))
                }),
            )
            .route(
                &format!("{base}/dashboard"),
                get(
                    move |Query(params): Query<HashMap<String, String>>| async move {
                        let filter = dashboard::Filter::from_query(&params);
                        let keep = filter.clone();
                        let (summary, activity) =
                            read(s2, move |s| dashboard::read(s, limit, &keep)).await?;
                        Ok::<_, Response>(dashboard::response(dashboard::render(
                            &dashboard::Page {
                                title: "CSP violation reports",
                                summary: &summary,
                                activity: &activity,
                                filter: &filter,
                                served: served.as_ref(),
                            },
                        )))
                    },
                ),
            )
            .route(
                &format!("{base}/dashboard.css"),
                get(|| async {
                    (
                        [
                            (CONTENT_TYPE, HeaderValue::from_static("text/css")),
                            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                        ],
                        DASHBOARD_CSS,
                    )
                }),
            )
    }

    /// Both routers. Only for development or when the whole router is already protected:
    /// the read side should not be public.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.report_router().merge(self.read_router())
    }

    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        match &self.inner.settings.origins {
            Origins::Any => Some(origin.clone()),
            Origins::List(l) => l.iter().find(|o| *o == origin).cloned(),
        }
    }

    fn preflight(&self, headers: &HeaderMap) -> Response {
        match self.allowed_origin(headers) {
            Some(origin) => (
                StatusCode::NO_CONTENT,
                [
                    (ACCESS_CONTROL_ALLOW_ORIGIN, origin),
                    (
                        ACCESS_CONTROL_ALLOW_METHODS,
                        HeaderValue::from_static("POST, OPTIONS"),
                    ),
                    (
                        ACCESS_CONTROL_ALLOW_HEADERS,
                        HeaderValue::from_static("content-type"),
                    ),
                    (ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400")),
                    (VARY, HeaderValue::from_static("Origin")),
                ],
            )
                .into_response(),
            None => {
                self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
                meter::rejected(ReportRejection::OriginNotAllowed.status());
                ReportRejection::OriginNotAllowed.into_response()
            }
        }
    }

    async fn receive(
        &self,
        version: Version,
        via: Via,
        headers: HeaderMap,
        body: Body,
    ) -> Response {
        let origin = self.allowed_origin(&headers);
        let (result, close) = self.handle(&headers, &via, body).await;
        let mut res = match result {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(rejection) => {
                self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
                meter::rejected(rejection.status());
                if let ReportRejection::SinkUnavailable(e) = &rejection {
                    tracing::warn!(target: "connect_src::report", error = %e, "report sink unavailable");
                }
                rejection.into_response()
            }
        };
        if let Some(o) = origin {
            res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
            res.headers_mut()
                .insert(VARY, HeaderValue::from_static("Origin"));
        }
        // HTTP/1 only: HTTP/2 has no such header (a stream ends on its own).
        if close && version < Version::HTTP_2 {
            res.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }

    /// Checks, reads, parses, filters and stores one request's reports.
    pub async fn accept(&self, headers: &HeaderMap, body: Body) -> Result<(), ReportRejection> {
        self.handle(headers, &Via::default(), body).await.0
    }

    /// [`accept`](Self::accept), and whether the connection must close because part of an
    /// oversize body was left unread.
    async fn handle(
        &self,
        headers: &HeaderMap,
        via: &Via,
        body: Body,
    ) -> (Result<(), ReportRejection>, bool) {
        let inner = &self.inner;
        let settings = &inner.settings;
        let too_large = ReportRejection::PayloadTooLarge(settings.body_limit);
        match media_type(headers).as_deref() {
            Some("application/csp-report" | "application/reports+json" | "application/json") => {}
            _ => return (Err(ReportRejection::UnsupportedMediaType), false),
        }
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let limit = settings.body_limit as u64;
        let bytes = match declared {
            Some(n) if n > limit => {
                // A client that asked to wait for 100 Continue has not sent its body: say
                // no before it does. One whose body is past the drain bound cannot be
                // drained: answer at once and close.
                let waits = headers
                    .get(EXPECT)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
                if waits || n - limit > settings.drain_limit {
                    return (Err(too_large), true);
                }
                // Nothing of it is kept: all `n` bytes are drained.
                let drained = drain(body, settings.drain_time, n).await;
                return (Err(too_large), !drained);
            }
            _ => match read_body(
                body,
                settings.body_limit,
                settings.drain_limit,
                settings.drain_time,
            )
            .await
            {
                ReadBody::Complete(b) => b,
                ReadBody::TooLarge { drained } => return (Err(too_large), !drained),
                ReadBody::Failed => return (Err(ReportRejection::BodyRead), true),
            },
        };
        (self.store(headers, via, &bytes).await, false)
    }

    async fn store(
        &self,
        headers: &HeaderMap,
        via: &Via,
        bytes: &[u8],
    ) -> Result<(), ReportRejection> {
        let inner = &self.inner;
        let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
        let c = &inner.counters;
        let parsed = match parse_reports_with_user_agent(bytes, &inner.settings.normalize, ua) {
            Ok(p) => p,
            Err(e) => {
                if let ParseError::Unusable { reports, .. } = &e {
                    c.invalid.fetch_add(*reports, Ordering::Relaxed);
                }
                return Err(ReportRejection::Malformed(e));
            }
        };
        c.other_types
            .fetch_add(parsed.other_types, Ordering::Relaxed);
        c.dropped.fetch_add(parsed.dropped, Ordering::Relaxed);
        c.invalid.fetch_add(parsed.invalid, Ordering::Relaxed);
        let total = parsed.violations.len();
        meter::received(total as u64);
        let mut kept: Vec<_> = parsed
            .violations
            .into_iter()
            .filter(|v| !inner.settings.filter.is_noise_violation(v))
            .collect();
        let noise = (total - kept.len()) as u64;
        if noise > 0 {
            c.filtered.fetch_add(noise, Ordering::Relaxed);
            meter::filtered(noise);
            inner.sink.record_filtered(noise);
        }
        if let Some(accept) = &inner.settings.accept {
            let before = kept.len();
            kept.retain(|v| document_origin(&v.document_url).is_some_and(|o| accept.contains(&o)));
            let elsewhere = (before - kept.len()) as u64;
            c.unaccepted_origin.fetch_add(elsewhere, Ordering::Relaxed);
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
        if let Some(served) = &inner.settings.served {
            let served = served.snapshot();
            for v in &mut kept {
                v.class = classify(v, &served);
            }
        }
        // Without a valid token, whatever the report claims, no page of ours sent it.
        if let Some(p) = &inner.settings.provenance {
            let now = std::time::SystemTime::now();
            if !via.token.as_deref().is_some_and(|t| p.verify_at(t, now)) {
                for v in &mut kept {
                    v.class = Class::Foreign;
                }
            }
        }
        let n = kept.len() as u64;
        inner
            .sink
            .submit(kept)
            .await
            .map_err(ReportRejection::SinkUnavailable)?;
        c.accepted.fetch_add(n, Ordering::Relaxed);
        meter::stored(n);
        Ok(())
    }
}

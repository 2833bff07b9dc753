//! [`Collector`]: the axum endpoint browsers POST reports to ([`report_router`]), and the
//! read side (summary, dashboard: [`admin_router`]), over one store.
//!
//! [`report_router`]: Collector::report_router
//! [`admin_router`]: Collector::admin_router
//!
//! ```
//! use axum::{body::Body, http::{Request, StatusCode}, Router};
//! use connect_src::report::store::{MemorySink, ReportStore};
//! use connect_src::report::Collector;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemorySink::new();
//! let collector = Collector::builder().store(store.clone()).build();
//! // The POST endpoint is public; mount the read side behind your own authentication.
//! let app: Router = collector.report_router();
//!
//! let body = r#"{"csp-report":{"document-uri":"https://app.example/","effective-directive":
//!     "connect-src","blocked-uri":"https://evil.example/x","disposition":"enforce"}}"#;
//! let res = app
//!     .oneshot(
//!         Request::post("/csp-reports")
//!             .header("content-type", "application/csp-report")
//!             .body(Body::from(body))?,
//!     )
//!     .await?;
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert_eq!(store.summary(10).await?.groups[0].blocked_origin, "https://evil.example");
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CONNECTION, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

mod builder;
mod cache;
mod rollout;

pub use builder::CollectorBuilder;
use cache::CachedReads;
pub use rollout::GATE_CEILING;

use super::intake::{CollectorStats, Counters, Intake, ReportRejection, Via};
use super::meter;
use super::pages;
use super::store::ReportStore;
use crate::policy::ServedPolicies;

/// Counts one refused request in the metrics and logs it: one line with its status and
/// reason (the collector's own text, never the body's), a warning when the store failed.
fn log_refused(rejection: &ReportRejection) {
    let status = rejection.status();
    meter::rejected(status);
    match rejection {
        ReportRejection::StoreUnavailable(e) => tracing::warn!(
            target: "connect_src::report",
            status = status.as_u16(),
            error = %e,
            "report batch refused: the store cannot take it"
        ),
        r => tracing::info!(
            target: "connect_src::report",
            status = status.as_u16(),
            reason = %r,
            "report batch refused"
        ),
    }
}

/// The report path when none is set.
pub(crate) const DEFAULT_PATH: &str = "/csp-reports";

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ReportStore>,
    /// What the intake hands reports to: the store, tapped for alerts when they are on.
    pub(crate) sink: Arc<dyn super::store::ReportSink>,
    /// The running alerts, when on.
    #[cfg(feature = "alerts")]
    pub(crate) alerts: Option<super::alert::AlertHandle>,
    /// The store's reads as the read side makes them: cached (see [`CachedReads`]).
    pub(crate) reads: Arc<CachedReads>,
    pub(crate) path: String,
    pub(crate) intake: Intake,
    pub(crate) senders: Option<Vec<HeaderValue>>,
    pub(crate) summary_limit: usize,
    /// The least reach the dashboard's learning counts (suggestion, unused sources).
    pub(crate) min_reach: u64,
    pub(crate) counters: Counters,
    /// When this collector last ran a rollout's gate, and how long it took (see
    /// [`Collector::step_rollout`]).
    pub(crate) gate_clock: std::sync::Mutex<Option<(std::time::Instant, std::time::Duration)>>,
}

/// The report collector: build it once, mount its routers. Cheap to clone.
#[derive(Clone)]
pub struct Collector {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("path", &self.inner.path)
            .field("intake", &self.inner.intake)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// Starts a collector.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    /// The POST path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The store reports go to and are read back from.
    pub fn store(&self) -> &Arc<dyn ReportStore> {
        &self.inner.store
    }

    /// The served policies reports are classed against, if given.
    pub fn served_policies(&self) -> Option<&ServedPolicies> {
        self.inner.intake.served.as_ref()
    }

    /// The running alerts, when [`CollectorBuilder::alerts`] turned them on: where other
    /// parts of the crate send their own ([`send`](super::alert::AlertHandle::send)).
    #[cfg(feature = "alerts")]
    pub(crate) fn alerts(&self) -> Option<&super::alert::AlertHandle> {
        self.inner.alerts.as_ref()
    }

    /// Counters since start.
    pub fn stats(&self) -> CollectorStats {
        self.inner.counters.stats()
    }

    /// The public side: `POST <path>` and its CORS preflight (`OPTIONS <path>`). Mount it
    /// where browsers can reach it (the policy's `report-uri`).
    pub fn report_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let post_c = self.clone();
        let opt_c = self.clone();
        Router::new().route(
            &self.inner.path,
            post(move |request: Request<Body>| {
                let c = post_c.clone();
                async move { c.receive(request).await }
            })
            .options(move |headers: HeaderMap| {
                let c = opt_c.clone();
                async move { c.preflight(&headers) }
            }),
        )
    }

    /// The read side, for operators only (it shows what browsers reported, including your
    /// pages' paths): `GET <path>/summary` (JSON), `GET <path>/dashboard` (HTML) and its
    /// `dashboard.css`. Mount it behind your own authentication, or on a listener of its
    /// own (`connect-src serve --admin-listen`). The dashboard learns at the
    /// [`min_reach`](CollectorBuilder::min_reach) given.
    pub fn admin_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        pages::router(
            self.inner.reads.clone(),
            &self.inner.path,
            self.inner.summary_limit,
            self.inner.intake.served.clone(),
            self.inner.min_reach,
        )
    }

    fn allowed_sender(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        match &self.inner.senders {
            None => Some(origin.clone()),
            Some(l) => l.iter().find(|o| *o == origin).cloned(),
        }
    }

    /// Counts and logs one refused request, one line with its reason (never the body: the
    /// reason's text is the collector's own), and answers it.
    fn reject(&self, rejection: ReportRejection) -> Response {
        self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
        log_refused(&rejection);
        rejection.into_response()
    }

    fn preflight(&self, headers: &HeaderMap) -> Response {
        match self.allowed_sender(headers) {
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
            None => self.reject(ReportRejection::OriginNotAllowed),
        }
    }

    async fn receive(&self, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let version = parts.version;
        let origin = self.allowed_sender(&parts.headers);
        let via = Via::from_query(parts.uri.query());
        let (result, close) = self.take(&parts, &via, body).await;
        let mut res = match result {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(rejection) => self.reject(rejection),
        };
        // CORS only on what a Reporting API client needs to read: a 204, or a 503 it will
        // retry. A 4xx says nothing a cross-origin page should read.
        let status = res.status();
        let readable = status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE;
        if let (Some(o), true) = (origin, readable) {
            res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
        }
        res.headers_mut()
            .insert(VARY, HeaderValue::from_static("Origin"));
        // HTTP/1 only: HTTP/2 has no such header (a stream ends on its own).
        if close && version < Version::HTTP_2 {
            res.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }

    async fn take(
        &self,
        parts: &axum::http::request::Parts,
        via: &Via,
        body: Body,
    ) -> (Result<(), ReportRejection>, bool) {
        let inner = &self.inner;
        inner
            .intake
            .take(
                &*inner.sink,
                &inner.counters,
                (&parts.headers, &parts.extensions),
                via,
                body,
            )
            .await
    }

    /// Takes one report request outside the routers (another framework, a queue consumer):
    /// checks, reads, parses, filters, classes and stores its reports exactly as
    /// `POST <path>` does, reading the provenance token and the report-only marker from the
    /// request's URL query as the layer wrote them, and the sender's network from its
    /// `ConnectInfo` extension (or the configured header). The request's path is not
    /// checked.
    ///
    /// # Errors
    ///
    /// The [`ReportRejection`] the endpoint would have answered with (its
    /// [`status`](ReportRejection::status) and [`body_text`](ReportRejection::body_text)).
    pub async fn accept(&self, request: Request<Body>) -> Result<(), ReportRejection> {
        let (parts, body) = request.into_parts();
        let via = Via::from_query(parts.uri.query());
        let (result, _) = self.take(&parts, &via, body).await;
        if let Err(e) = &result {
            self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
            log_refused(e);
        }
        result
    }
}

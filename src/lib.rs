//! A typed, validated Content-Security-Policy `connect-src` for [axum] and [tower]: where
//! the browser may connect (fetch, XHR, WebSocket, EventSource, beacons), set on every
//! response by a tower layer, with a collector for the violation reports browsers send and
//! the judgments to tighten the list safely.
//!
//! [axum]: https://docs.rs/axum
//! [tower]: https://docs.rs/tower
//!
//! # Example
//!
//! One definition ([`Csp`]) gives the app its layer, its public report route and its admin
//! routes, so the report path, the served-policy history and the provenance secret are
//! never kept equal by hand:
//!
//! ```
//! # #[cfg(feature = "collector")] {
//! use axum::{routing::get, Router};
//! use connect_src::{ConnectSrc, Csp, Policy};
//!
//! let csp = Csp::builder()
//!     .policy(Policy::builder().enforce(
//!         ConnectSrc::builder()
//!             .self_origin()
//!             .host("https://api.myapp.com")
//!             .websocket("wss://ws.myapp.com"),
//!     ))
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .merge(csp.report_router()) // POST /csp-reports, for browsers
//!     .layer(csp.layer());
//! let admin: Router = csp.admin_router(); // summary and dashboard, behind your auth
//! # let _ = (app, admin); }
//! # Ok::<_, connect_src::PolicyError>(())
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `collector` | yes | [`report`]: the axum report collector and its stores; the [`Csp`] front door |
//! | `serde` | no | `Serialize`/`Deserialize` for [`ConnectSrc`] |
//! | `sqlite` | no | `report::sqlite::SqliteSink`: durable reports on one machine (bundled SQLite) |
//! | `postgres` | no | `report::postgres::PostgresSink`: one report store for a fleet |
//! | `alerts` | no | `report::alert`: webhook alerts from the collector (new destinations, spikes, silence, foreign policies) |
//! | `cli` | no | the `connect-src` binary: `check`, `audit`, `allowlist`, `serve`, `suggest`, `unused`, `promote`, `rollout` |
//!
//! # Modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`source`] | one source expression ([`Source`], CSP3 §2.3.1) and an [`Origin`](source::Origin) |
//! | [`policy`] | the list ([`ConnectSrc`]), the whole [`Policy`], [`Environment`], the served-policy history, provenance tokens, and the `Connection-Allowlist` the list emits ([`policy::ConnectionAllowlist`]) |
//! | [`layer`] | the tower [`CspLayer`], its service and future, header modes, [`PolicyHandle`] and staged enforcement ([`layer::Stage`]) |
//! | [`matcher`] | will this connection be allowed, per engine (CSP3 §6.7.2.8–12 and each engine's measured departures; Chromium's `Connection-Allowlist` beside it, [`matcher::AllowlistPolicy`]) |
//! | [`audit`], [`minimize`], [`learn`] | judgments on the matcher: findings with stable codes, covered sources, suggestions, unused sources, the readiness gate |
//! | `report` | the collector: intake, the store contract, the databases, the dashboard, alerts, promotion (the gate over a store, staged rollouts) |
//!
//! The README has the guide; `docs/` has the collector in depth (`reports.md`), safe
//! promotion (`promotion.md`), Chromium's `Connection-Allowlist` (`connection-allowlist.md`),
//! what each browser does (`browsers.md`), the threat model (`security.md`) and deployment
//! (`deploying.md`); `bench/README.md` has every measurement with its command.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
#[cfg(feature = "collector")]
mod csp;
pub mod layer;
pub mod learn;
pub mod matcher;
pub mod minimize;
pub mod policy;
#[cfg(feature = "collector")]
pub mod report;
pub mod source;

#[cfg(feature = "collector")]
pub use csp::{Csp, CspBuilder};
pub use layer::{CspLayer, CspService, HeaderMode, PolicyHandle};
pub use policy::{ConnectSrc, ConnectSrcBuilder, Environment, Policy, PolicyBuilder, PolicyError};
pub use source::{Host, HostSource, Port, Scheme, Source, SourceError, SourceErrorKind};

// The README's and the guides' examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
#[cfg(doctest)]
#[doc = include_str!("../docs/reports.md")]
struct ReportsDoctests;
#[cfg(doctest)]
#[doc = include_str!("../docs/security.md")]
struct SecurityDoctests;
#[cfg(doctest)]
#[doc = include_str!("../docs/connection-allowlist.md")]
struct ConnectionAllowlistDoctests;

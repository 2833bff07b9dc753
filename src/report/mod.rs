//! Violation reports (feature `collector`): the [`Collector`] browsers POST to, and where
//! their reports are kept and read back.
//!
//! | room | what it holds |
//! |---|---|
//! | [`Collector`], [`CollectorBuilder`] | the axum endpoint ([`Collector::report_router`], public) and the read side ([`Collector::admin_router`], for operators) over one store |
//! | [`intake`] | from a request to violations: body limits, the parser for every shape browsers send, the noise filter, the class check against the served policies |
//! | [`store`] | the store contract: [`Violation`](store::Violation), the async [`ReportSink`](store::ReportSink) and [`ReportStore`](store::ReportStore) traits, [`StoreError`](store::StoreError), the summary and activity types, [`MemorySink`] |
//! | [`promote`] | the readiness gate over a store, and staged rollouts whose state the store keeps |
//! | `sqlite` (feature `sqlite`) | [`SqliteSink`]: durable, one machine |
//! | `postgres` (feature `postgres`) | [`PostgresSink`]: one store for a fleet |
//! | `alert` (feature `alerts`) | [`Alerts`](alert::Alerts): webhook alerts on new destinations, spikes, silence and foreign policies, counted by reach |
//!
//! The dashboard and its charts are served by [`Collector::admin_router`]; the metrics the
//! collector and the SQL stores emit go through the [`metrics`](https://docs.rs/metrics)
//! facade (names in the README).
//!
//! Most apps do not wire these by hand: the front door, [`Csp`](crate::Csp), makes the
//! collector from the same definition as the layer.

#[cfg(feature = "alerts")]
pub mod alert;
mod collector;
pub mod intake;
mod meter;
mod pages;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod promote;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;

pub use collector::{Collector, CollectorBuilder, GATE_CEILING};
pub use intake::{CollectorStats, ReportRejection};
#[cfg(feature = "postgres")]
pub use postgres::PostgresSink;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSink;
pub use store::MemorySink;

//! Violation reports: parse every shape browsers send, drop the noise, keep the rest in a
//! sink, read them back as a summary or a dashboard (feature `collector`), and learn the
//! sources a report-only policy lacks ([`suggest`], every build).
//!
//! The POST endpoint is public and unauthenticated: every byte is hostile. Bodies are
//! bounded (64 KiB by default, never buffered past the limit; the rest of an oversize body
//! is read and discarded, within a bound, so its sender reads the 413), JSON nesting is
//! bounded by the parser, each request keeps at most 100 reports, every field is bounded
//! and, by default, URLs lose their query and fragment. The read side (summary, dashboard) shows what
//! browsers sent about your pages: mount it behind your own authentication.

#[cfg(feature = "collector")]
mod activity;
#[cfg(feature = "collector")]
mod body;
#[cfg(feature = "collector")]
mod chart;
#[cfg(feature = "collector")]
mod class;
#[cfg(feature = "collector")]
mod collector;
#[cfg(feature = "collector")]
mod dashboard;
#[cfg(feature = "collector")]
mod filter;
#[cfg(feature = "collector")]
mod meter;
#[cfg(feature = "collector")]
mod parse;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "collector")]
mod rejection;
#[cfg(feature = "collector")]
mod sink;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod suggest;
#[cfg(feature = "collector")]
mod summary;
#[cfg(feature = "collector")]
mod verify;
#[cfg(feature = "collector")]
mod violation;

#[cfg(feature = "collector")]
pub use activity::{unix_hour, Activity, HourWindow, ACTIVITY_HOURS};
#[cfg(feature = "collector")]
pub use collector::{Collector, CollectorBuilder, CollectorStats, ReportRejection};
#[cfg(feature = "collector")]
pub use filter::{AcceptOriginError, NoiseFilter, DEFAULT_NOISE};
#[cfg(feature = "collector")]
pub use parse::{
    parse_reports, parse_reports_with_user_agent, NormalizeOptions, ParseError, Parsed, Unusable,
};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOpenError, PostgresSink, PostgresSinkBuilder};
#[cfg(feature = "collector")]
pub use sink::{BoxFuture, MemorySink, ReportSink, ReportStore, SinkError, Tee, TracingSink};
#[cfg(feature = "sqlite")]
pub use sqlite::{Durability, OpenError, SqliteSink, SqliteSinkBuilder};
#[cfg(feature = "collector")]
pub use summary::{Group, GroupKey, StoreError, Summary, OVERFLOW};
#[cfg(feature = "collector")]
pub use verify::{classify, engine_of, Class};
#[cfg(feature = "collector")]
pub use violation::{Disposition, ReportFormat, Violation};

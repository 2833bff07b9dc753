//! Promotion over a store: the readiness gate read from what a store kept ([`readiness_in`])
//! and staged rollouts whose state the store keeps ([`start`], [`step`], [`abort`]), so
//! every collector sharing it — and every layer that follows it — sees one stage.
//!
//! A rollout runs report-only first, then enforces the candidate on a growing share of
//! responses ([`Plan`](super::store::Plan)); each stage is held for its minimum time and
//! page loads and advances only when the gate passes on that stage's evidence. While a
//! stage enforces, its watch reads the genuine enforced violations since the stage began:
//! a destination the candidate blocks (and the enforced list allowed) at the minimum reach
//! rolls it back to report-only at once, naming the destination. The change is recorded in
//! the rollout's history; the layers following it return to the enforced list as it was.
//! A rollout of a `Connection-Allowlist` value ([`start_allowlist`]) stages the allowlist
//! the same way, the CSP left as it is.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use connect_src::report::promote;
//! use connect_src::report::store::{MemorySink, Plan, ReportStore, RolloutState};
//! use connect_src::ConnectSrc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemorySink::new();
//! let candidate: ConnectSrc = "'self' https://api.example".parse()?;
//! let plan = Plan::default().min_stage(Duration::from_secs(3600));
//! let started = promote::start(&store, &candidate, None, &plan, SystemTime::now()).await?;
//! assert_eq!((started.stage, started.state), (0, RolloutState::Running));
//! // Nothing seen yet: the gate holds it at report-only.
//! let later = SystemTime::now() + Duration::from_secs(7200);
//! assert!(promote::step(&store, later).await?.is_none());
//! # Ok(()) }
//! ```

mod gate;
mod rollout;

pub use gate::{allowlist_evidence, allowlist_readiness_in, evidence, readiness_in};
pub use rollout::{abort, stage_header, start, start_allowlist, step, step_with, RolloutError};

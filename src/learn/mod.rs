//! Learning: judgments built on the [matcher](crate::matcher), like [`audit`](crate::audit),
//! about what a list should hold given what pages really did.
//!
//! - [`suggest`]: from the destinations a report-only list would have blocked, the sources
//!   to add before enforcing it.
//!
//! The inputs are plain values ([`Observation`]: a destination [`Origin`](crate::source::Origin)
//! and a count), so learning knows nothing of where they were stored; the collector's
//! summary gives them ([`Summary::teaching`](crate::report::store::Summary::teaching)).

mod suggest;

pub use suggest::{suggest, Addition, Observation, SuggestOptions, Suggestion};

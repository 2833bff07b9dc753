//! The `connect-src` list ([`ConnectSrc`]) and the whole policy ([`Policy`]): enforced and/or
//! report-only lists, where reports go, and the environment that decides what is too loose.
//!
//! ```
//! use connect_src::{ConnectSrc, Policy};
//!
//! let policy = Policy::builder()
//!     .enforce(
//!         ConnectSrc::builder()
//!             .self_origin()
//!             .host("https://api.myapp.com")
//!             .websocket("wss://ws.myapp.com")
//!             .subdomains_of("https://myapp.com"),
//!     )
//!     .report_uri("/csp-reports")
//!     .report_to("csp", "https://myapp.com/csp-reports")
//!     .build()?;
//!
//! assert_eq!(
//!     policy.enforced_header().unwrap(),
//!     "connect-src 'self' https://api.myapp.com wss://ws.myapp.com https://*.myapp.com; \
//!      report-uri /csp-reports; report-to csp"
//! );
//! assert_eq!(policy.reporting_endpoints_header().unwrap(), r#"csp="https://myapp.com/csp-reports""#);
//! # Ok::<_, connect_src::PolicyError>(())
//! ```

mod allowlist;
mod builder;
mod environment;
mod error;
mod list;
mod provenance;
mod served;
pub mod text;

pub(crate) use allowlist::{as_matched, check_written, AllowlistReading, ReadItem};
pub use allowlist::{
    AllowlistItem, AllowlistMode, BuiltAllowlist, ConnectionAllowlist, Translation, Untranslated,
    Widening, CONNECTION_ALLOWLIST, CONNECTION_ALLOWLIST_DIRECTIVE,
    CONNECTION_ALLOWLIST_REPORT_ONLY,
};
pub use builder::{Policy, PolicyBuilder, REPORT_ONLY_MARKER};
pub(crate) use environment::production_refusals;
pub use environment::{Environment, EnvironmentError};
pub use error::{PolicyError, Problem, ProblemKind};
pub use list::{ConnectSrc, ConnectSrcBuilder, IntoSource};
pub use provenance::{
    Provenance, ProvenanceError, MIN_SECRET_LEN, POLICY_PARAMETER, PROVENANCE_PARAMETER,
};
pub use served::{Served, ServedPolicies, DEFAULT_SERVED_HISTORY};

/// Response mark: this response's Content-Security-Policy is final, so a layer further
/// from the handler leaves it alone (except in append mode, which only narrows). Set by
/// the layer closest to the handler once it has applied its policy, and by the collector's
/// dashboard, which serves its own strict policy. It lives with the model so the layer and
/// the reports can both name it without importing each other.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinalPolicy;

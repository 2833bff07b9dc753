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

mod builder;
mod environment;
mod error;
mod list;
mod provenance;
mod served;
pub mod text;

pub use builder::{Policy, PolicyBuilder, REPORT_ONLY_MARKER};
pub(crate) use environment::production_refusals;
pub use environment::Environment;
pub use error::{PolicyError, Problem, ProblemKind};
pub use list::{ConnectSrc, ConnectSrcBuilder, IntoSource};
pub use provenance::{Provenance, ProvenanceError, MIN_SECRET_LEN, PROVENANCE_PARAMETER};
pub use served::{Served, ServedPolicies, DEFAULT_SERVED_HISTORY};

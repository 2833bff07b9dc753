#![doc = include_str!("../README.md")]
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

#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod audit;
pub mod layer;
pub mod matcher;
pub mod minimize;
pub mod policy;
pub mod report;
pub mod source;

pub use layer::{CspLayer, CspService, HeaderMode, PolicyHandle};
pub use policy::{ConnectSrc, ConnectSrcBuilder, Environment, Policy, PolicyBuilder, PolicyError};
pub use source::{Host, HostSource, Port, Scheme, Source, SourceError, SourceErrorKind};

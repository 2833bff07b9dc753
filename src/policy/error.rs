//! [`PolicyError`]: every problem with a policy, found in one pass.

use std::fmt;

use crate::source::SourceError;

/// Everything wrong with a policy, found in one pass. `Display` prints one problem per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    problems: Vec<Problem>,
}

impl PolicyError {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        PolicyError { problems }
    }
    /// Each problem found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid connect-src policy ({n} problem{})",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// One problem in a [`PolicyError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub(super) list: Option<&'static str>,
    pub(super) source: Option<String>,
    pub(super) kind: ProblemKind,
}

impl Problem {
    pub(super) fn source(e: SourceError) -> Problem {
        Problem {
            list: None,
            source: Some(e.text().to_owned()),
            kind: ProblemKind::Source(e),
        }
    }
    pub(super) fn other(kind: ProblemKind) -> Problem {
        Problem {
            list: None,
            source: None,
            kind,
        }
    }
    pub(crate) fn field(field: &'static str, value: &str, why: String) -> Problem {
        Problem {
            list: None,
            source: Some(value.to_owned()),
            kind: ProblemKind::Field { field, why },
        }
    }
    /// Which list it is in (`"enforced"`, `"report-only"`), if it is about a list.
    pub fn list(&self) -> Option<&str> {
        self.list
    }
    /// The offending source or value as given, if the problem is about one.
    pub fn text(&self) -> Option<&str> {
        self.source.as_deref()
    }
    /// What is wrong.
    pub fn kind(&self) -> &ProblemKind {
        &self.kind
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.list {
            write!(f, "{l} list: ")?;
        }
        match &self.kind {
            ProblemKind::Source(e) => write!(f, "{e}"),
            ProblemKind::NoneNotAlone => f.write_str(
                "'none' must be the only source: browsers ignore it next to others, so the list would not mean 'none'",
            ),
            ProblemKind::EmptyList => f.write_str(
                "the list is empty; write 'none' explicitly to block every connection",
            ),
            ProblemKind::NoList => f.write_str(
                "the policy has neither an enforced nor a report-only list",
            ),
            ProblemKind::RefusedInProduction(why) => write!(
                f,
                "{:?} is refused in production: {why} (use Environment::Development to allow it while developing)",
                self.source.as_deref().unwrap_or("")
            ),
            ProblemKind::NotAHeaderValue => f.write_str(
                "the serialized policy is not a valid header value (this is a bug in connect-src)",
            ),
            ProblemKind::Field { field, why } => write!(
                f,
                "invalid {field} {:?}: {why}",
                self.source.as_deref().unwrap_or("")
            ),
        }
    }
}

/// The kind of a [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A source expression that does not parse or is not allowed where it was given.
    Source(SourceError),
    /// `'none'` together with other sources.
    NoneNotAlone,
    /// A list with no sources.
    EmptyList,
    /// Neither `enforce` nor `report_only` was given.
    NoList,
    /// A source [`Environment::Production`](super::Environment::Production) refuses; the text says why.
    RefusedInProduction(String),
    /// The serialized policy is not a valid header value (a bug: please report it).
    NotAHeaderValue,
    /// An invalid `report-uri` or `report-to` value.
    Field {
        /// Which value.
        field: &'static str,
        /// Why it is refused.
        why: String,
    },
}

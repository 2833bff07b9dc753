//! [`StoreError`]: the one error every store answers with.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// Why a store could not take, keep or give back reports: one type for every store and
/// every call (opening, writing, reading, pruning), as sqlx has one `Error`.
///
/// The database's own error is never flattened to text: [`Database`](Self::Database)
/// carries it as its [`source`](Error::source) (a `rusqlite::Error` for
/// [`SqliteSink`](super::super::sqlite::SqliteSink), a `tokio_postgres::Error` for
/// [`PostgresSink`](super::super::postgres::PostgresSink)), so a caller can tell a full disk
/// (SQLite `SQLITE_FULL`, PostgreSQL SQLSTATE `53100`) from a refused login (`28P01`) by
/// downcasting it. Cheap to clone (the cause is shared), so one failed commit can answer
/// every batch it held.
///
/// The collector answers every error on the report endpoint with 503 and `Retry-After`
/// (Reporting API clients retry), and on the read side with 500 and the error's text.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// The store's queue is full: it takes more once the writer catches up.
    Full,
    /// The database refused or failed: the driver's error is the source. Connecting, a
    /// statement, a commit, a lost connection.
    Database(Arc<dyn Error + Send + Sync>),
    /// No answer in time: no free connection, or a commit that did not return, within the
    /// store's timeout (the duration).
    Timeout(std::time::Duration),
    /// The configuration cannot work: a connection string that does not parse, a path
    /// that is not a file. The cause is the source.
    Configuration(Arc<dyn Error + Send + Sync>),
    /// The database was written by a later version of connect-src, with a schema this
    /// version does not know; it is left untouched.
    NewerSchema {
        /// The schema version the database holds.
        found: i64,
        /// The newest schema this version reads and writes.
        supported: i64,
    },
    /// The store's own thread or task has stopped (or could not start: the I/O error is
    /// the source), so it takes nothing more.
    Closed(Option<Arc<std::io::Error>>),
    /// This store keeps no reports to read back (a [`TracingSink`](super::TracingSink),
    /// a [`WriteOnly`](super::WriteOnly) sink): the read side has nothing to show.
    Unsupported(&'static str),
}

impl StoreError {
    /// A [`Database`](Self::Database) error caused by `e`.
    pub fn database(e: impl Error + Send + Sync + 'static) -> StoreError {
        StoreError::Database(Arc::new(e))
    }

    /// A [`Configuration`](Self::Configuration) error caused by `e`.
    pub fn configuration(e: impl Error + Send + Sync + 'static) -> StoreError {
        StoreError::Configuration(Arc::new(e))
    }

    /// Whether a retry later may succeed (the queue was full, the database did not answer
    /// in time or failed): everything but a schema, configuration or capability problem.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Full | StoreError::Database(_) | StoreError::Timeout(_)
        )
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Full => f.write_str("the report store's queue is full"),
            StoreError::Database(e) => {
                write!(f, "the database failed: {e}")?;
                // The causes too: tokio-postgres's own text is only "db error".
                let mut cause = e.source();
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                Ok(())
            }
            StoreError::Timeout(d) => {
                write!(f, "the database did not answer within {} ms", d.as_millis())
            }
            StoreError::Configuration(e) => write!(f, "the store cannot be set up: {e}"),
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this \
                 version of connect-src knows; upgrade connect-src or use another database"
            ),
            StoreError::Closed(None) => f.write_str("the report store has stopped"),
            StoreError::Closed(Some(e)) => write!(f, "the report store cannot run: {e}"),
            StoreError::Unsupported(what) => write!(
                f,
                "this store keeps no reports to read back ({what}): use MemorySink, \
                 SqliteSink or PostgresSink, or Tee(MemorySink::new(), your_sink)"
            ),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Database(e) | StoreError::Configuration(e) => Some(&**e as _),
            StoreError::Closed(Some(e)) => Some(&**e as _),
            _ => None,
        }
    }
}

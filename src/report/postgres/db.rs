//! The connection side: the pool the writers and readers share, and the errors of opening.

use std::fmt;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};

/// Why [`PostgresSink`](super::PostgresSink) could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum PostgresOpenError {
    /// The URL is not a PostgreSQL connection string (`postgres://user@host:port/db`).
    Url(tokio_postgres::Error),
    /// No connection could be made (server down, wrong port, authentication refused…).
    Connect(String),
    /// The server refused a statement while reading or migrating the schema.
    Postgres(tokio_postgres::Error),
    /// The database was written by a later version of connect-src, with a schema this
    /// version does not know; it is left untouched.
    NewerSchema {
        /// The version in `connect_src_schema`.
        found: i32,
        /// The newest schema this version reads and writes.
        supported: i32,
    },
    /// The sink's runtime thread could not be started.
    Runtime(std::io::Error),
}

impl fmt::Display for PostgresOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostgresOpenError::Url(e) => write!(
                f,
                "not a PostgreSQL URL ({e}); expected postgres://user[:password]@host[:port]/database"
            ),
            PostgresOpenError::Connect(e) => write!(f, "cannot connect to PostgreSQL: {e}"),
            PostgresOpenError::Postgres(e) => write!(f, "PostgreSQL: {}", pg_text(e)),
            PostgresOpenError::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this \
                 version of connect-src knows; upgrade connect-src or use another database"
            ),
            PostgresOpenError::Runtime(e) => {
                write!(f, "cannot start the PostgreSQL sink's thread: {e}")
            }
        }
    }
}

impl std::error::Error for PostgresOpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PostgresOpenError::Url(e) | PostgresOpenError::Postgres(e) => Some(e),
            PostgresOpenError::Runtime(e) => Some(e),
            PostgresOpenError::Connect(_) | PostgresOpenError::NewerSchema { .. } => None,
        }
    }
}

/// A PostgreSQL error with the server's message when there is one (tokio-postgres's own
/// `Display` says only "db error"), or else with its causes ("error connecting to server:
/// Connection refused (os error 111)").
pub(super) fn pg_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// What the tasks on the sink's runtime share: the pool and the timeout.
pub(super) struct Db {
    pub(super) pool: Pool,
    pub(super) timeout: Duration,
}

impl Db {
    /// A pooled connection, or why not (as a sink error).
    pub(super) async fn connection(&self) -> Result<Object, String> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg_text(&e),
            e => e.to_string(),
        })
    }
}

/// Takes a connection out of the pool for good: after an error it may be broken or in
/// the middle of a transaction, and the pool makes a new one when needed.
pub(super) fn discard(conn: Object) {
    drop(Object::take(conn));
}

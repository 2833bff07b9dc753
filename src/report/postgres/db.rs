//! The connection side: the pool the writers and readers share, and its errors.

use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError};

use crate::report::store::StoreError;

/// A PostgreSQL error as a [`StoreError`]: the driver's error is the source (its
/// `as_db_error()` has the server's message and SQLSTATE code).
pub(super) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::database(e)
}

/// What the tasks on the sink's runtime share: the pool and the timeout.
pub(super) struct Db {
    pub(super) pool: Pool,
    pub(super) timeout: Duration,
}

impl Db {
    /// A pooled connection, or why not: the server's own error (refused, authentication
    /// failed…) as the source, or [`StoreError::Timeout`] when none came in time.
    pub(super) async fn connection(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => db(e),
            PoolError::Timeout(_) => StoreError::Timeout(self.timeout),
            PoolError::Closed => StoreError::Closed(None),
            e => StoreError::database(e),
        })
    }
}

/// Takes a connection out of the pool for good: after an error it may be broken or in
/// the middle of a transaction, and the pool makes a new one when needed.
pub(super) fn discard(conn: Object) {
    drop(Object::take(conn));
}

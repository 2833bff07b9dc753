//! The connection side: the pool the writers and readers share, its errors, and what every
//! task of the sink shares besides (the commits' health, the partitions known).

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError};

use super::partition::Partitions;
use super::tls::{is_tls, Handshake};
use crate::report::store::{CommitHealth, StoreError};

/// A PostgreSQL error as a [`StoreError`]: the driver's error is the source (its
/// `as_db_error()` has the server's message and SQLSTATE code).
pub(super) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::database(e)
}

/// What the tasks on the sink's runtime share: the pool, the timeout, the health of the
/// commits, the partitions known.
pub(super) struct Db {
    pub(super) pool: Pool,
    pub(super) timeout: Duration,
    pub(super) health: CommitHealth,
    pub(super) partitions: Partitions,
    /// `sslmode=…, trusting …`, for a failed handshake's message.
    pub(super) tls_said: Arc<str>,
}

impl Db {
    /// A pooled connection, or why not: the server's own error (refused, authentication
    /// failed…) as the source, or [`StoreError::Timeout`] when none came in time. A failed
    /// TLS handshake says which `sslmode` and roots were used.
    pub(super) async fn connection(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) if is_tls(&e) => StoreError::database(Handshake {
                tls_said: self.tls_said.clone(),
                cause: e,
            }),
            PoolError::Backend(e) => db(e),
            PoolError::Timeout(_) => StoreError::Timeout(self.timeout),
            PoolError::Closed => StoreError::Closed(None),
            e => StoreError::database(e),
        })
    }
}

/// A read or maintenance statement that failed: its connection is taken out of the pool,
/// the error is the driver's.
pub(super) fn read_error(conn: Object, e: tokio_postgres::Error) -> StoreError {
    discard(conn);
    db(e)
}

/// Takes a connection out of the pool for good: after an error it may be broken or in
/// the middle of a transaction, and the pool makes a new one when needed.
pub(super) fn discard(conn: Object) {
    drop(Object::take(conn));
}

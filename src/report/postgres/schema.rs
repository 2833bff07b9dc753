//! The schema: its version, the migrations that reach it, and the statement that
//! recounts the aggregate from the rows.

use super::db::{db, discard, Db};
use crate::report::sql::{group_columns, group_networks_from_rows, groups_from_rows};
use crate::report::store::StoreError;

/// The schema this version writes: 1, the first; 2, each violation's client `network`,
/// each group's `reach` with the `group_networks` it counts, and the inventory's
/// `observations`.
const SCHEMA_VERSION: i32 = 2;

/// Arbitrary and fixed: the advisory lock every connect-src process takes to migrate.
const MIGRATION_LOCK: i64 = 0x636f_6e6e_6563_7473; // "connects"

/// `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    "
CREATE TABLE violations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at BIGINT NOT NULL,
    document_url TEXT NOT NULL,
    document_path TEXT NOT NULL,
    blocked_url TEXT NOT NULL,
    blocked_origin TEXT NOT NULL,
    directive TEXT NOT NULL,
    violated_directive TEXT,
    disposition TEXT NOT NULL,
    status_code BIGINT,
    source_file TEXT,
    line BIGINT,
    col BIGINT,
    sample TEXT,
    referrer TEXT,
    user_agent TEXT,
    original_policy TEXT,
    format TEXT NOT NULL,
    class TEXT NOT NULL
);
CREATE INDEX violations_received_at ON violations (received_at);
CREATE TABLE groups (
    directive TEXT NOT NULL,
    blocked_origin TEXT NOT NULL,
    document_path TEXT NOT NULL,
    disposition TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    sample TEXT NOT NULL,
    class TEXT NOT NULL,
    PRIMARY KEY (directive, blocked_origin, document_path, disposition, class)
);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
",
    "
ALTER TABLE violations ADD COLUMN network BIGINT;
ALTER TABLE groups ADD COLUMN reach BIGINT NOT NULL DEFAULT 0;
CREATE TABLE group_networks (
    directive TEXT NOT NULL,
    blocked_origin TEXT NOT NULL,
    document_path TEXT NOT NULL,
    disposition TEXT NOT NULL,
    class TEXT NOT NULL,
    network BIGINT NOT NULL,
    PRIMARY KEY (directive, blocked_origin, document_path, disposition, class, network)
);
CREATE TABLE observations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at BIGINT NOT NULL,
    destination TEXT NOT NULL,
    document_origin TEXT,
    document_path TEXT NOT NULL,
    page_load BIGINT NOT NULL,
    sample_rate DOUBLE PRECISION NOT NULL,
    engine TEXT,
    network BIGINT,
    class TEXT NOT NULL
);
CREATE INDEX observations_received_at ON observations (received_at);
CREATE INDEX observations_destination ON observations (destination, received_at);
",
];

/// Each group's networks, from the stored rows.
pub(super) const GROUP_NETWORKS_FROM_ROWS: &str =
    concat!("INSERT INTO group_networks ", group_networks_from_rows!());

pub(super) const GROUPS_FROM_ROWS: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") ",
    groups_from_rows!()
);

pub(super) async fn migrate(shared: &Db) -> Result<(), StoreError> {
    let mut conn = shared.connection().await?;
    let result = async {
        let tx = conn.transaction().await?;
        // One migrating process at a time, across the fleet; released at commit/rollback.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('connect_src_schema') IS NOT NULL", &[])
            .await?
            .get(0);
        let found: i32 = if exists {
            tx.query_opt("SELECT max(version) FROM connect_src_schema", &[])
                .await?
                .and_then(|r| r.get::<_, Option<i32>>(0))
                .unwrap_or(0)
        } else {
            0
        };
        if found > SCHEMA_VERSION {
            // Rolled back on drop: nothing was written.
            return Ok(Err(StoreError::NewerSchema {
                found: i64::from(found),
                supported: i64::from(SCHEMA_VERSION),
            }));
        }
        if found < SCHEMA_VERSION {
            if !exists {
                tx.batch_execute("CREATE TABLE connect_src_schema (version INTEGER NOT NULL)")
                    .await?;
            }
            for step in &MIGRATIONS[found.max(0) as usize..] {
                tx.batch_execute(step).await?;
            }
            tx.execute("DELETE FROM connect_src_schema", &[]).await?;
            tx.execute(
                "INSERT INTO connect_src_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => {
            discard(conn);
            Err(db(e))
        }
    }
}

//! The schema: its version, the migrations that reach it, and the statements that recount
//! the aggregate from the rows.

use tokio_postgres::Transaction;

use super::db::{db, discard, Db};
use super::partition::{make_day, DAY, TABLES};
use crate::report::sql::{group_columns, group_networks_from_rows, groups_from_rows};
use crate::report::store::StoreError;

/// The schema this version writes: 1, the first; 2, each violation's client `network`,
/// each group's `reach` with the `group_networks` it counts, and the inventory's
/// `observations`; 3, `violations` and `observations` partitioned by day of `received_at`
/// (each with a default partition; their primary key `(received_at, id)` is also the time
/// index), and each distinct user agent stored once in `user_agents`, a violation holding
/// its key (`user_agent_id`); 4, the `rollout` record (a staged rollout's state, replaced
/// only at the version read).
const SCHEMA_VERSION: i32 = 4;

/// Arbitrary and fixed: the advisory lock every connect-src process takes to migrate.
const MIGRATION_LOCK: i64 = 0x636f_6e6e_6563_7473; // "connects"

/// `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`, with [`TO_VERSION_3`]'s
/// rows moved by [`to_version_3`].
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
    TO_VERSION_3,
    "
CREATE TABLE rollout (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    record TEXT NOT NULL
);
",
];

/// Version 3's tables beside version 2's, which are renamed `…_v2` until their rows are
/// moved. A partitioned table cannot have an identity column on PostgreSQL 15: the ids come
/// from sequences of their own.
const TO_VERSION_3: &str = "
ALTER TABLE violations RENAME TO violations_v2;
ALTER TABLE violations_v2 RENAME CONSTRAINT violations_pkey TO violations_v2_pkey;
ALTER INDEX violations_received_at RENAME TO violations_v2_received_at;
ALTER TABLE observations RENAME TO observations_v2;
ALTER TABLE observations_v2 RENAME CONSTRAINT observations_pkey TO observations_v2_pkey;
ALTER INDEX observations_received_at RENAME TO observations_v2_received_at;
ALTER INDEX observations_destination RENAME TO observations_v2_destination;
CREATE TABLE user_agents (id BIGINT PRIMARY KEY, text TEXT NOT NULL);
CREATE SEQUENCE violation_ids;
CREATE TABLE violations (
    id BIGINT NOT NULL DEFAULT nextval('violation_ids'),
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
    user_agent_id BIGINT,
    original_policy TEXT,
    format TEXT NOT NULL,
    class TEXT NOT NULL,
    network BIGINT,
    PRIMARY KEY (received_at, id)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE violation_ids OWNED BY violations.id;
CREATE TABLE violations_default PARTITION OF violations DEFAULT;
CREATE SEQUENCE observation_ids;
CREATE TABLE observations (
    id BIGINT NOT NULL DEFAULT nextval('observation_ids'),
    received_at BIGINT NOT NULL,
    destination TEXT NOT NULL,
    document_origin TEXT,
    document_path TEXT NOT NULL,
    page_load BIGINT NOT NULL,
    sample_rate DOUBLE PRECISION NOT NULL,
    engine TEXT,
    network BIGINT,
    class TEXT NOT NULL,
    PRIMARY KEY (received_at, id)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE observation_ids OWNED BY observations.id;
CREATE INDEX observations_destination ON observations (destination, received_at);
CREATE TABLE observations_default PARTITION OF observations DEFAULT;
CREATE VIEW violations_with_user_agent AS
    SELECT v.*, ua.text AS user_agent FROM violations v
    LEFT JOIN user_agents ua ON ua.id = v.user_agent_id;
";

/// A user agent's key as [`user_agent_id`](crate::report::sql::user_agent_id) computes it,
/// from the text `t` (the first 8 bytes of its SHA-256, big-endian, signed).
macro_rules! user_agent_key {
    ($t:literal) => {
        concat!(
            "('x' || left(encode(sha256(convert_to(",
            $t,
            ", 'UTF8')), 'hex'), 16))::bit(64)::bigint"
        )
    };
}

/// Version 2's rows into version 3's tables (ids kept, each user agent once), then the old
/// tables dropped and the sequences set past the ids moved.
const MOVE_TO_VERSION_3: &str = concat!(
    "INSERT INTO user_agents (id, text) SELECT DISTINCT ON (k) k, user_agent FROM (SELECT ",
    user_agent_key!("user_agent"),
    " AS k, user_agent FROM violations_v2 WHERE user_agent IS NOT NULL) a ORDER BY k;
INSERT INTO violations (id, received_at, document_url, document_path, blocked_url,
    blocked_origin, directive, violated_directive, disposition, status_code, source_file,
    line, col, sample, referrer, user_agent_id, original_policy, format, class, network)
SELECT id, received_at, document_url, document_path, blocked_url, blocked_origin, directive,
    violated_directive, disposition, status_code, source_file, line, col, sample, referrer,
    CASE WHEN user_agent IS NULL THEN NULL ELSE ",
    user_agent_key!("user_agent"),
    " END, original_policy, format, class, network FROM violations_v2;
INSERT INTO observations (id, received_at, destination, document_origin, document_path,
    page_load, sample_rate, engine, network, class)
SELECT id, received_at, destination, document_origin, document_path, page_load,
    sample_rate, engine, network, class FROM observations_v2;
SELECT setval('violation_ids', COALESCE((SELECT max(id) FROM violations_v2), 0) + 1, false);
SELECT setval('observation_ids', COALESCE((SELECT max(id) FROM observations_v2), 0) + 1, false);
DROP TABLE violations_v2;
DROP TABLE observations_v2;"
);

/// Each group's networks, from the stored rows.
pub(super) const GROUP_NETWORKS_FROM_ROWS: &str =
    concat!("INSERT INTO group_networks ", group_networks_from_rows!());

pub(super) const GROUPS_FROM_ROWS: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") ",
    groups_from_rows!()
);

/// Opens the schema: migrates an older one (under the advisory lock, in one transaction),
/// refuses a newer one untouched.
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
            for (n, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
                tx.batch_execute(step).await?;
                if n == 2 {
                    to_version_3(&tx).await?;
                }
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

/// Version 2's rows into version 3's partitioned tables: a partition for each day that has
/// rows (made before the rows go in, so each row lands in its day), then the rows.
async fn to_version_3(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    for (table, old) in TABLES.iter().zip(["violations_v2", "observations_v2"]) {
        let days = tx
            .query(
                &format!("SELECT DISTINCT received_at / {DAY} FROM {old} ORDER BY 1"),
                &[],
            )
            .await?;
        for day in days {
            make_day(tx, table, day.get(0)).await?;
        }
    }
    tx.batch_execute(MOVE_TO_VERSION_3).await
}

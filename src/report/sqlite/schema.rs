//! The schema: its version, the tables, the migrations that reach it, and the statements
//! that rebuild the aggregates from the rows.

use rusqlite::{params, Connection, TransactionBehavior};

use super::db;
use crate::report::sql::{
    group_columns, group_networks_from_rows, groups_from_rows, user_agent_id,
};
use crate::report::store::StoreError;

/// The schema this version writes. 1: `violations` with an index for grouping (the first
/// version, which did not set `user_version`); 2: the `groups` aggregate replaces the index;
/// 3: each violation and group has its `class` (checked against the served policies);
/// 4: an index on `violations.received_at`, for the activity read by hour; 5: each
/// violation's client `network`, each group's `reach` with the `group_networks` it counts,
/// and the inventory's `observations`; 6: each distinct user agent stored once, in
/// `user_agents`, and `violations.user_agent_id` in place of the text (a request's up to 100
/// reports each copied its up to 2 KB user agent); 7: the `rollout` record (a staged
/// rollout's state, replaced only at the version read).
pub(super) const SCHEMA_VERSION: i64 = 7;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS violations (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    document_url TEXT NOT NULL,
    document_path TEXT NOT NULL,
    blocked_url TEXT NOT NULL,
    blocked_origin TEXT NOT NULL,
    directive TEXT NOT NULL,
    violated_directive TEXT,
    disposition TEXT NOT NULL,
    status_code INTEGER,
    source_file TEXT,
    line INTEGER,
    col INTEGER,
    sample TEXT,
    referrer TEXT,
    user_agent_id INTEGER,
    original_policy TEXT,
    format TEXT NOT NULL,
    class TEXT NOT NULL DEFAULT 'unverified',
    network INTEGER
);
CREATE TABLE IF NOT EXISTS groups (
    directive TEXT NOT NULL,
    blocked_origin TEXT NOT NULL,
    document_path TEXT NOT NULL,
    disposition TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    sample TEXT NOT NULL,
    class TEXT NOT NULL,
    reach INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (directive, blocked_origin, document_path, disposition, class)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_networks (
    directive TEXT NOT NULL,
    blocked_origin TEXT NOT NULL,
    document_path TEXT NOT NULL,
    disposition TEXT NOT NULL,
    class TEXT NOT NULL,
    network INTEGER NOT NULL,
    PRIMARY KEY (directive, blocked_origin, document_path, disposition, class, network)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    destination TEXT NOT NULL,
    document_origin TEXT,
    document_path TEXT NOT NULL,
    page_load INTEGER NOT NULL,
    sample_rate REAL NOT NULL,
    engine TEXT,
    network INTEGER,
    class TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_received_at ON observations (received_at);
CREATE INDEX IF NOT EXISTS observations_destination ON observations (destination, received_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_agents (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollout (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    record TEXT NOT NULL
);
";

/// Every `violations` column with the user agent's text beside its key, for your own
/// queries (what `violations` held before version 6). Made once `violations` has its
/// version 6 columns.
const VIEWS: &str = "
CREATE VIEW IF NOT EXISTS violations_with_user_agent AS
    SELECT v.*, ua.text AS user_agent FROM violations v
    LEFT JOIN user_agents ua ON ua.id = v.user_agent_id;
";

/// Version 6: a key per user agent, from the distinct texts of `violations.user_agent`.
const USER_AGENT_KEYS: &str =
    "CREATE TEMP TABLE user_agent_keys (text TEXT PRIMARY KEY, id INTEGER NOT NULL);";

/// Version 6: each row's key, looked up by its text; then the text goes.
const ROWS_TO_KEYS: &str = "
UPDATE violations SET user_agent_id =
    (SELECT id FROM temp.user_agent_keys k WHERE k.text = violations.user_agent)
    WHERE user_agent IS NOT NULL;
ALTER TABLE violations DROP COLUMN user_agent;
DROP TABLE temp.user_agent_keys;
";

/// The groups counted from the stored rows.
pub(super) const GROUPS_FROM_ROWS: &str = concat!(
    "INSERT OR IGNORE INTO groups (",
    group_columns!(),
    ") ",
    groups_from_rows!(),
    ";"
);

/// Each group's networks, from the stored rows.
pub(super) const GROUP_NETWORKS_FROM_ROWS: &str = concat!(
    "INSERT OR IGNORE INTO group_networks ",
    group_networks_from_rows!(),
    ";"
);

/// Version 1 grouped at read time over every row, with an index; version 2 keeps the groups.
const DROP_VERSION_1_INDEX: &str = "DROP INDEX IF EXISTS violations_group;";

/// Version 4: [`ReportStore::activity`](crate::report::store::ReportStore::activity) reads
/// the rows of a window of hours by time.
const RECEIVED_AT_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS violations_received_at ON violations (received_at);";

/// The database's schema version, refused when newer than this version writes.
pub(super) fn schema_version(c: &Connection) -> Result<i64, StoreError> {
    let found: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

pub(super) fn migrate(c: &mut Connection) -> Result<(), StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    // Read again inside the write transaction: another process may have migrated it.
    let found = schema_version(&tx)?;
    steps(&tx, found).map_err(db)?;
    tx.commit().map_err(db)
}

fn has_column(tx: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    tx.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
        .exists([table, column])
}

/// The steps from schema `found` to [`SCHEMA_VERSION`]. 0 is a new file or version 1
/// (which left `user_version` at 0): the same steps.
fn steps(tx: &Connection, found: i64) -> rusqlite::Result<()> {
    if found < 3 {
        // Version 2's groups have no class in their key: rebuilt from the rows below.
        tx.execute_batch("DROP TABLE IF EXISTS groups;")?;
    }
    // What is missing, created; an older `violations` and `groups` keep their rows and get
    // the columns later versions added (rows of versions 1 and 2 were never checked:
    // `unverified`; rows before 5 have no network, groups no reach: 0).
    tx.execute_batch(TABLES)?;
    for (table, column, def) in [
        ("violations", "class", "TEXT NOT NULL DEFAULT 'unverified'"),
        ("violations", "network", "INTEGER"),
        ("violations", "user_agent_id", "INTEGER"),
        ("groups", "reach", "INTEGER NOT NULL DEFAULT 0"),
    ] {
        if !has_column(tx, table, column)? {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {def};"))?;
        }
    }
    if found < 3 {
        // (Rows of these versions hold no network: reach is 0.)
        tx.execute_batch(GROUP_NETWORKS_FROM_ROWS)?;
        tx.execute_batch(GROUPS_FROM_ROWS)?;
        tx.execute_batch(DROP_VERSION_1_INDEX)?;
    }
    if has_column(tx, "violations", "user_agent")? {
        user_agents_once(tx)?;
    }
    tx.execute_batch(VIEWS)?;
    if found < SCHEMA_VERSION {
        // 3 to 4 only adds an index, 4 to 5 columns and tables, 5 to 6 moves the user
        // agents, 6 to 7 adds a table: the groups are kept as they are (a rebuild would recount them from the
        // rows, and forget rows deleted by hand).
        tx.execute_batch(RECEIVED_AT_INDEX)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(())
}

/// Version 6: every distinct `violations.user_agent` goes to `user_agents` under its key
/// ([`user_agent_id`]), each row gets the key, and the column goes. The table is rewritten
/// once (SQLite's `DROP COLUMN`); the pages the texts held are free pages of the file,
/// reused by new rows (`VACUUM` gives them back to the file system).
fn user_agents_once(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute_batch(USER_AGENT_KEYS)?;
    let texts: Vec<String> = tx
        .prepare("SELECT DISTINCT user_agent FROM violations WHERE user_agent IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut key = tx.prepare("INSERT INTO temp.user_agent_keys (text, id) VALUES (?1, ?2)")?;
    let mut agent = tx.prepare("INSERT OR IGNORE INTO user_agents (id, text) VALUES (?1, ?2)")?;
    for text in &texts {
        let id = user_agent_id(text);
        key.execute(params![text, id])?;
        agent.execute(params![id, text])?;
    }
    tx.execute_batch(ROWS_TO_KEYS)
}

//! A durable report sink on SQLite (feature `sqlite`; SQLite is bundled).
//!
//! A dedicated writer thread commits in WAL mode, groups whatever batches are waiting into
//! one transaction, and acknowledges each batch only after its commit returned: a report the
//! collector answered 204 for is in the database file and survives `kill -9`
//! (`tests/cli.rs`, `acknowledged_reports_survive_kill_9`). With the default
//! [`Durability::PowerLoss`] every commit is also fsynced, so it survives an OS crash or a
//! power cut too. The queue to the writer is bounded; when it is full the collector answers
//! 503 and Reporting API clients retry.
//!
//! The same transaction that stores the violations updates a `groups` table (one row per
//! summary group, with its count and first and last time), so the summary, the dashboard
//! and `connect-src suggest` read as many rows as there are groups, not one per report.
//!
//! ```
//! use connect_src::report::sqlite::{Durability, SqliteSink};
//! use connect_src::report::store::ReportStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("connect-src-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let sink = SqliteSink::builder()
//!     .durability(Durability::PowerLoss) // the default: fsync before each 204
//!     .queue(256)                        // batches waiting for the writer, then 503
//!     .open(dir.join("reports.sqlite"))?;
//! assert_eq!(sink.summary(10).await?.total, 0);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```
//!
//! The tables are plain SQL for your own queries: `violations` (one row per report, every
//! field of [`Violation`]; `received_at` in Unix seconds), `groups` (the summary's
//! aggregate) and `counters` (`filtered`: reports dropped as noise). `PRAGMA user_version`
//! holds the schema version; a database from an earlier version of this crate is migrated
//! when opened, and one from a later version is refused ([`StoreError::NewerSchema`])
//! rather than written to.
//!
//! Reads (summary, activity) run on tokio's blocking pool, so a slow disk never stalls the
//! runtime's workers; every error is a [`StoreError`] whose source is SQLite's own
//! (`rusqlite::Error`).
//!
//! Every report is kept until you delete it: [`SqliteSink::prune_before`] deletes the
//! older ones and recounts the groups from the rest (a `groups` row otherwise counts every
//! report of its group ever stored, so rows deleted by hand stay counted there).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::meter;
use super::sql::{
    self, activity_by_hour, group_columns, groups_from_rows, secs, violation_columns, Commit,
    MAX_ROWS_PER_COMMIT,
};
use super::store::{
    Activity, BoxFuture, GroupKey, HourWindow, ReportSink, ReportStore, StoreError, Summary,
    Violation,
};

/// The schema this version writes. 1: `violations` with an index for grouping (the first
/// version, which did not set `user_version`); 2: the `groups` aggregate replaces the index;
/// 3: each violation and group has its `class` (checked against the served policies);
/// 4: an index on `violations.received_at`, for the activity read by hour.
const SCHEMA_VERSION: i64 = 4;

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
    user_agent TEXT,
    original_policy TEXT,
    format TEXT NOT NULL,
    class TEXT NOT NULL DEFAULT 'unverified'
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
    PRIMARY KEY (directive, blocked_origin, document_path, disposition, class)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// The groups counted from the stored rows.
const GROUPS_FROM_ROWS: &str = concat!(
    "INSERT OR IGNORE INTO groups (",
    group_columns!(),
    ") ",
    groups_from_rows!(),
    ";"
);

/// Version 1 grouped at read time over every row, with an index; version 2 keeps the groups.
const DROP_VERSION_1_INDEX: &str = "DROP INDEX IF EXISTS violations_group;";

/// Version 4: [`ReportStore::activity`] reads the rows of a window of hours by time.
const RECEIVED_AT_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS violations_received_at ON violations (received_at);";

/// Violations per group and per hour, and in all, in `[?1, ?2)` (Unix seconds), for the
/// groups listed in `?3`: a JSON array of `[directive, blocked_origin, document_path,
/// disposition, class]` arrays.
const ACTIVITY: &str = activity_by_hour!(
    "?1",
    "?2",
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?3)"
);

const INSERT_VIOLATION: &str = concat!(
    "INSERT INTO violations (",
    violation_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
);

const UPSERT_GROUP: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (directive, blocked_origin, document_path, disposition, class) DO UPDATE SET
        count = count + excluded.count,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen)"
);

const ADD_FILTERED: &str = "
INSERT INTO counters (name, value) VALUES ('filtered', ?1)
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// What an acknowledged report survives: how far each commit goes before the 204.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is fsynced before its reports are acknowledged (SQLite
    /// `synchronous=FULL`): an acknowledged report survives `kill -9`, an OS crash and a
    /// power cut. The default.
    #[default]
    PowerLoss,
    /// Every commit is written to the WAL file (handed to the OS) before its reports are
    /// acknowledged, and fsynced at checkpoints (SQLite `synchronous=NORMAL`): an
    /// acknowledged report survives `kill -9` and any crash of the process, but an OS crash
    /// or power cut can lose the last commits (the database stays consistent). Faster: the
    /// README's Performance section has the measured ratio.
    ProcessCrash,
}

impl Durability {
    fn synchronous(self) -> &'static str {
        match self {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        }
    }
}

/// SQLite's own error as a [`StoreError`] (its source).
fn db(e: rusqlite::Error) -> StoreError {
    StoreError::database(e)
}

const STOPPED: StoreError = StoreError::Closed(None);

/// Options for [`SqliteSink`]; from [`SqliteSink::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SqliteSinkBuilder {
    queue: usize,
    durability: Durability,
}

impl SqliteSinkBuilder {
    /// Batches (one per report request) that may wait for the writer, at least 1; default
    /// 256. When they are all taken, [`submit`](ReportSink::submit) returns
    /// [`StoreError::Full`] and the collector answers 503.
    pub fn queue(mut self, batches: usize) -> Self {
        self.queue = batches.max(1);
        self
    }

    /// What an acknowledged report survives; default [`Durability::PowerLoss`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Opens (or creates) the database, migrates an older schema, and starts the writer.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when SQLite refuses (the file cannot be created or opened,
    /// is not a database, or is locked by another writer for longer than the busy timeout,
    /// 5 s); [`StoreError::NewerSchema`] for a database of a later version (left untouched);
    /// [`StoreError::Closed`] when the writer thread cannot start.
    pub fn open(self, path: impl AsRef<Path>) -> Result<SqliteSink, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut write = Connection::open(&path).map_err(db)?;
        write.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        // Before anything writes (switching to WAL does): a newer schema is left as it is.
        let found = schema_version(&write)?;
        write
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        write
            .pragma_update(None, "synchronous", self.durability.synchronous())
            .map_err(db)?;
        if found < SCHEMA_VERSION {
            migrate(&mut write)?;
        }
        let read = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db)?;
        read.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        let (tx, rx) = mpsc::sync_channel(self.queue);
        std::thread::Builder::new()
            .name("connect-src-sqlite".into())
            .spawn(move || writer(write, rx))
            .map_err(|e| StoreError::Closed(Some(Arc::new(e))))?;
        Ok(SqliteSink {
            jobs: tx,
            read: Arc::new(Mutex::new(read)),
            path,
            durability: self.durability,
        })
    }
}

/// The database's schema version, refused when newer than this version writes.
fn schema_version(c: &Connection) -> Result<i64, StoreError> {
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

fn migrate(c: &mut Connection) -> Result<(), StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    migrate_in(&tx)?;
    tx.commit().map_err(db)
}

fn migrate_in(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    // Read again inside the write transaction: another process may have migrated it.
    let found = schema_version(tx)?;
    steps(tx, found).map_err(db)
}

/// The steps from schema `found` to [`SCHEMA_VERSION`].
fn steps(tx: &rusqlite::Transaction<'_>, found: i64) -> rusqlite::Result<()> {
    if found < 3 {
        // Version 2's groups have no class in their key: rebuilt from the rows below.
        tx.execute_batch("DROP TABLE IF EXISTS groups;")?;
        tx.execute_batch(TABLES)?;
        // Rows of versions 1 and 2 have no class: they were never checked.
        let has_class: bool = tx
            .prepare("SELECT 1 FROM pragma_table_info('violations') WHERE name = 'class'")?
            .exists([])?;
        if !has_class {
            tx.execute_batch(
                "ALTER TABLE violations ADD COLUMN class TEXT NOT NULL DEFAULT 'unverified';",
            )?;
        }
        // 0 is a new file or version 1 (which left user_version at 0): the same steps.
        tx.execute_batch(GROUPS_FROM_ROWS)?;
        tx.execute_batch(DROP_VERSION_1_INDEX)?;
    }
    if found < SCHEMA_VERSION {
        // 3 to 4 only adds an index: the groups are kept as they are (a rebuild would
        // recount them from the rows, and forget rows deleted by hand).
        tx.execute_batch(RECEIVED_AT_INDEX)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(())
}

enum Job {
    Batch(
        Vec<Violation>,
        tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    ),
    Filtered(u64),
    /// Delete the rows received before these Unix seconds, recount the groups.
    Prune(i64, tokio::sync::oneshot::Sender<Result<u64, StoreError>>),
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Job::Batch(b, _) => write!(f, "Batch({})", b.len()),
            Job::Filtered(n) => write!(f, "Filtered({n})"),
            Job::Prune(t, _) => write!(f, "Prune({t})"),
        }
    }
}

/// SQLite sink and store. Cheap to clone; every clone shares the writer thread.
#[derive(Debug, Clone)]
pub struct SqliteSink {
    jobs: SyncSender<Job>,
    read: Arc<Mutex<Connection>>,
    path: PathBuf,
    durability: Durability,
}

impl SqliteSink {
    /// Options: queue length and durability.
    pub fn builder() -> SqliteSinkBuilder {
        SqliteSinkBuilder {
            queue: 256,
            durability: Durability::default(),
        }
    }

    /// Opens (or creates) the database with the default options: a queue of 256 batches,
    /// [`Durability::PowerLoss`].
    ///
    /// # Errors
    ///
    /// As [`SqliteSinkBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteSink, StoreError> {
        SqliteSink::builder().open(path)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What an acknowledged report survives.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Runs `read` with the read connection on tokio's blocking pool (SQLite does file
    /// I/O, which must not stall the runtime's workers).
    fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let conn = self.read.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let c = conn.lock().unwrap_or_else(|p| p.into_inner());
                read(&c)
            })
            .await
            .unwrap_or(Err(STOPPED))
        })
    }

    /// Deletes the violations received before `t` and recounts the groups from the rest,
    /// in one transaction; returns how many were deleted. It runs on the writer between
    /// commits, so reports keep their order around it; while the groups are recounted (the
    /// time grows with the remaining rows; README, Performance) new reports wait in the
    /// queue, and past its bound get 503.
    pub async fn prune_before(&self, t: SystemTime) -> Result<u64, StoreError> {
        let (ack, done) = tokio::sync::oneshot::channel();
        // Waits for room: maintenance may queue behind reports, never be refused for them.
        let jobs = self.jobs.clone();
        let job = Job::Prune(secs(t), ack);
        tokio::task::spawn_blocking(move || jobs.send(job))
            .await
            .map_err(|_| STOPPED)?
            .map_err(|_| STOPPED)?;
        done.await.unwrap_or(Err(STOPPED))
    }

    /// Number of stored violations (`COUNT(*)` over `violations`).
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.read(|c| count(c).map_err(db)).await
    }
}

fn writer(mut conn: Connection, jobs: Receiver<Job>) {
    let mut pending = Vec::new();
    let mut next = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return, // every SqliteSink clone is gone
            },
        };
        if let Job::Prune(before, ack) = first {
            let _ = ack.send(prune(&mut conn, before).map_err(db));
            continue;
        }
        // Group commit: take what is already waiting (bounded) into one transaction. It
        // does not wait for more: under load, batches queue up during each commit by
        // themselves, and a lone report is not held back.
        let mut rows = first.rows();
        pending.push(first);
        while rows < MAX_ROWS_PER_COMMIT {
            match jobs.try_recv() {
                Ok(prune @ Job::Prune(..)) => {
                    next = Some(prune); // after this commit, in order
                    break;
                }
                Ok(j) => {
                    rows += j.rows();
                    pending.push(j);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = commit(&mut conn, &pending).map_err(db);
        meter::commit("sqlite", started, rows, result.is_ok());
        for job in pending.drain(..) {
            if let Job::Batch(_, ack) = job {
                let _ = ack.send(result.clone());
            }
        }
    }
}

impl Job {
    fn rows(&self) -> usize {
        match self {
            Job::Batch(b, _) => b.len(),
            Job::Filtered(_) | Job::Prune(..) => 0,
        }
    }
}

fn prune(conn: &mut Connection, before: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.execute("DELETE FROM violations WHERE received_at < ?1", [before])?;
    if deleted > 0 {
        tx.execute_batch("DELETE FROM groups;")?;
        tx.execute_batch(GROUPS_FROM_ROWS)?;
    }
    tx.commit()?;
    Ok(deleted as u64)
}

fn count(c: &Connection) -> rusqlite::Result<u64> {
    c.query_row("SELECT COUNT(*) FROM violations", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
}

/// One transaction for all `jobs`; rolled back whole if any statement fails, so a batch is
/// either stored with its group counts or not at all (and then answered 503).
fn commit(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<()> {
    // Cached statements: BEGIN and COMMIT are not parsed again for every transaction.
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let result = insert(conn, jobs).and_then(|()| conn.prepare_cached("COMMIT")?.execute([]));
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result.map(drop)
}

fn insert(conn: &Connection, jobs: &[Job]) -> rusqlite::Result<()> {
    let mut commit = Commit::default();
    for job in jobs {
        match job {
            Job::Batch(batch, _) => commit.add(batch),
            Job::Filtered(n) => commit.add_filtered(*n),
            Job::Prune(..) => {} // never grouped (the writer runs it alone)
        }
    }
    let mut row = conn.prepare_cached(INSERT_VIOLATION)?;
    for r in commit.rows() {
        row.execute(params![
            r.received_at,
            r.document_url,
            r.document_path,
            r.blocked_url,
            r.blocked_origin,
            r.directive,
            r.violated_directive,
            r.disposition,
            r.status_code,
            r.source_file,
            r.line,
            r.col,
            r.sample,
            r.referrer,
            r.user_agent,
            r.original_policy,
            r.format,
            r.class,
        ])?;
    }
    // One upsert per group per transaction, however many of its reports came in.
    let mut upsert = conn.prepare_cached(UPSERT_GROUP)?;
    for g in commit.groups() {
        upsert.execute(params![
            g.directive,
            g.blocked_origin,
            g.document_path,
            g.disposition,
            g.count,
            g.first_seen,
            g.last_seen,
            g.sample,
            g.class
        ])?;
    }
    if commit.filtered() > 0 {
        conn.prepare_cached(ADD_FILTERED)?
            .execute(params![commit.filtered()])?;
    }
    Ok(())
}

impl ReportSink for SqliteSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let sent = self.jobs.try_send(Job::Batch(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done.await.unwrap_or(Err(STOPPED)),
                Err(TrySendError::Full(_)) => Err(StoreError::Full),
                Err(TrySendError::Disconnected(_)) => Err(STOPPED),
            }
        })
    }

    fn record_filtered(&self, n: u64) {
        // Best effort: a full queue drops the count, never a report.
        let _ = self.jobs.try_send(Job::Filtered(n));
    }
}

impl ReportStore for SqliteSink {
    /// Reads the `groups` table (as many rows as groups, not one per report), on tokio's
    /// blocking pool.
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        self.read(move |c| read_summary(c, limit).map_err(db))
    }

    /// Counts the rows of the window by hour (`received_at / 3600`) with the index on
    /// `received_at`: one pass over the window's rows, grouped; on tokio's blocking pool.
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        let listed: Vec<[&str; 5]> = keys
            .iter()
            .map(|k| {
                [
                    k.directive.as_str(),
                    k.blocked_origin.as_str(),
                    k.document_path.as_str(),
                    k.disposition.as_str(),
                    k.class.as_str(),
                ]
            })
            .collect();
        // A list of strings always serializes.
        let listed = serde_json::to_string(&listed).unwrap_or_else(|_| "[]".into());
        let keys = keys.to_vec();
        self.read(move |c| read_activity(c, &keys, window, &listed).map_err(db))
    }
}

fn read_summary(c: &Connection, limit: usize) -> rusqlite::Result<Summary> {
    let total = count(c)?;
    let filtered = c
        .query_row(
            "SELECT value FROM counters WHERE name = 'filtered'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0)
        .max(0) as u64;
    let mut st = c.prepare_cached(
        "SELECT directive, blocked_origin, document_path, disposition, count,
                first_seen, last_seen, sample, class
         FROM groups ORDER BY count DESC, blocked_origin LIMIT ?1",
    )?;
    let groups = st
        .query_map(params![limit.min(i64::MAX as usize) as i64], |r| {
            Ok(sql::group_from_row(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                &r.get::<_, String>(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                &r.get::<_, String>(8)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Summary {
        total,
        filtered,
        groups,
    })
}

fn read_activity(
    c: &Connection,
    keys: &[GroupKey],
    window: HourWindow,
    listed: &str,
) -> rusqlite::Result<Activity> {
    let (from, until) = sql::window_secs(window);
    let mut out = Activity::new(window, keys);
    let mut st = c.prepare_cached(ACTIVITY)?;
    let mut rows = st.query(params![from, until, listed])?;
    while let Some(r) = rows.next()? {
        let key = match r.get::<_, Option<String>>(0)? {
            Some(directive) => Some(sql::activity_key(
                directive,
                r.get(1)?,
                r.get(2)?,
                &r.get::<_, String>(3)?,
                &r.get::<_, String>(4)?,
            )),
            None => None,
        };
        let (hour, count) = (r.get::<_, i64>(5)?, r.get::<_, i64>(6)?);
        let (hour, count) = (hour.max(0) as u64, count.max(0) as u64);
        match key {
            Some(key) => out.add(&key, hour, count),
            None => out.add_total(hour, count),
        }
    }
    Ok(out)
}

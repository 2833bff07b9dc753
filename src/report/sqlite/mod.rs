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

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use super::meter;
use super::sql::{
    group_columns, observation_columns, secs, violation_columns, Commit, MAX_ROWS_PER_COMMIT,
};
use super::store::{
    Activity, BoxFuture, DestinationUse, GroupKey, HourWindow, Observation, ReportSink,
    ReportStore, StoreError, Summary, Violation,
};
use crate::source::Origin;

mod read;
mod schema;

use schema::{migrate, schema_version, GROUPS_FROM_ROWS, GROUP_NETWORKS_FROM_ROWS, SCHEMA_VERSION};

const INSERT_VIOLATION: &str = concat!(
    "INSERT INTO violations (",
    violation_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19)"
);

const INSERT_OBSERVATION: &str = concat!(
    "INSERT INTO observations (",
    observation_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
);

/// A group's network, kept once: when the row is new, the group's reach grows by one.
const ADD_GROUP_NETWORK: &str = "INSERT OR IGNORE INTO group_networks (directive, blocked_origin, \
     document_path, disposition, class, network) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const ADD_REACH: &str = "UPDATE groups SET reach = reach + 1 WHERE directive = ?1 AND \
     blocked_origin = ?2 AND document_path = ?3 AND disposition = ?4 AND class = ?5";

const UPSERT_GROUP: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
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
pub(super) fn db(e: rusqlite::Error) -> StoreError {
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

enum Job {
    Batch(
        Vec<Violation>,
        tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    ),
    Observe(
        Vec<Observation>,
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
            Job::Observe(b, _) => write!(f, "Observe({})", b.len()),
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
            if let Job::Batch(_, ack) | Job::Observe(_, ack) = job {
                let _ = ack.send(result.clone());
            }
        }
    }
}

impl Job {
    fn rows(&self) -> usize {
        match self {
            Job::Batch(b, _) => b.len(),
            Job::Observe(b, _) => b.len(),
            Job::Filtered(_) | Job::Prune(..) => 0,
        }
    }
}

fn prune(conn: &mut Connection, before: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.execute("DELETE FROM violations WHERE received_at < ?1", [before])?;
    if deleted > 0 {
        tx.execute_batch("DELETE FROM groups; DELETE FROM group_networks;")?;
        tx.execute_batch(GROUPS_FROM_ROWS)?;
        tx.execute_batch(GROUP_NETWORKS_FROM_ROWS)?;
    }
    tx.execute("DELETE FROM observations WHERE received_at < ?1", [before])?;
    tx.commit()?;
    Ok(deleted as u64)
}

pub(super) fn count(c: &Connection) -> rusqlite::Result<u64> {
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
            Job::Observe(batch, _) => commit.observe(batch),
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
            r.network,
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
            g.class,
            g.reach
        ])?;
    }
    // After the upsert, so the group rows exist: each network new to its group adds one
    // to the group's reach.
    let mut add_network = conn.prepare_cached(ADD_GROUP_NETWORK)?;
    let mut add_reach = conn.prepare_cached(ADD_REACH)?;
    for r in commit.reach_rows() {
        let key = params![
            r.directive,
            r.blocked_origin,
            r.document_path,
            r.disposition,
            r.class
        ];
        if add_network.execute(params![
            r.directive,
            r.blocked_origin,
            r.document_path,
            r.disposition,
            r.class,
            r.network
        ])? == 1
        {
            add_reach.execute(key)?;
        }
    }
    let mut observe = conn.prepare_cached(INSERT_OBSERVATION)?;
    for o in commit.observation_rows() {
        observe.execute(params![
            o.received_at,
            o.destination,
            o.document_origin,
            o.document_path,
            o.page_load,
            o.sample_rate,
            o.engine,
            o.network,
            o.class
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

    /// Into the same queue and commits as violations, to the `observations` table.
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let sent = self.jobs.try_send(Job::Observe(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done.await.unwrap_or(Err(STOPPED)),
                Err(TrySendError::Full(_)) => Err(StoreError::Full),
                Err(TrySendError::Disconnected(_)) => Err(STOPPED),
            }
        })
    }
}

impl ReportStore for SqliteSink {
    /// Reads the `groups` table (as many rows as groups, not one per report), widest reach
    /// first, on tokio's blocking pool.
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        self.read(move |c| read::summary(c, limit).map_err(db))
    }

    /// Counts the rows of the window by hour (`received_at / 3600`) with the index on
    /// `received_at`: one pass over the window's rows, grouped; on tokio's blocking pool.
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        let keys = keys.to_vec();
        self.read(move |c| read::activity(c, &keys, window).map_err(db))
    }

    /// Reads the `observations` received since `since`, grouped by destination and
    /// document origin, on tokio's blocking pool.
    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        self.read(move |c| read::inventory(c, secs(since)).map_err(db))
    }

    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        let listed: Vec<String> = destinations.iter().map(|d| d.to_string()).collect();
        self.read(move |c| read::page_loads_reaching(c, &listed, secs(since)).map_err(db))
    }
}

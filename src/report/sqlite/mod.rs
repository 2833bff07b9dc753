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
//! field of [`Violation`]; `received_at` in Unix seconds), `user_agents`, `groups` (the
//! summary's aggregate) and `counters` (`filtered`: reports dropped as noise). `PRAGMA
//! user_version` holds the schema version; a database from an earlier version of this crate
//! is migrated when opened, and one from a later version is refused
//! ([`StoreError::NewerSchema`]) rather than written to.
//!
//! Reads (summary, activity) run on tokio's blocking pool, so a slow disk never stalls the
//! runtime's workers; every error is a [`StoreError`] whose source is SQLite's own
//! (`rusqlite::Error`).
//!
//! Every report is kept until you delete it: [`SqliteSink::prune_before`] deletes the
//! older ones and recounts the groups from the rest (a `groups` row otherwise counts every
//! report of its group ever stored, so rows deleted by hand stay counted there).
//!
//! A request's reports share its user agent (up to 2 KB, up to 100 reports): each distinct
//! user agent is stored once, in `user_agents` (`id`, `text`), and a violation holds its
//! key (`user_agent_id`); the view `violations_with_user_agent` puts the text back beside
//! every other column. [`SqliteSink::close`] stops the store cleanly: what was queued is
//! committed, the WAL is checkpointed into the database file and both connections closed,
//! so no `-wal` file stays beside it. [`ReportSink::health`] says whether the last commit
//! failed (and why), or the queue is full.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags};

use super::sql::{self, secs};
use super::store::{
    Activity, BoxFuture, DestinationUse, GroupKey, Health, HourWindow, Observation, ReportSink,
    ReportStore, Reported, Rollout, StoreError, Summary, Violation,
};
use crate::source::Origin;

mod read;
mod schema;
mod write;

use schema::{migrate, schema_version, SCHEMA_VERSION};
use write::{writer, Job, Shared};

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
        let shared = Arc::new(Shared::default());
        let writing = shared.clone();
        std::thread::Builder::new()
            .name("connect-src-sqlite".into())
            .spawn(move || writer(write, rx, &writing))
            .map_err(|e| StoreError::Closed(Some(Arc::new(e))))?;
        Ok(SqliteSink {
            jobs: tx,
            read: Arc::new(Mutex::new(Some(read))),
            path,
            durability: self.durability,
            queue: self.queue,
            shared,
        })
    }
}

/// SQLite sink and store. Cheap to clone; every clone shares the writer thread.
#[derive(Debug, Clone)]
pub struct SqliteSink {
    jobs: SyncSender<Job>,
    /// `None` once [`close`](SqliteSink::close)d.
    read: Arc<Mutex<Option<Connection>>>,
    path: PathBuf,
    durability: Durability,
    queue: usize,
    shared: Arc<Shared>,
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
                match c.as_ref() {
                    Some(c) => read(c),
                    None => Err(STOPPED),
                }
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
        self.send_waiting(Job::Prune(secs(t), ack)).await?;
        done.await.unwrap_or(Err(STOPPED))
    }

    /// Stops the store cleanly, for a process that is about to exit: every batch queued
    /// before the call is committed (and its caller answered) first; then the read
    /// connection is closed, the writer checkpoints the WAL into the database file
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`), closes its connection and stops. When no other
    /// process has the file open, SQLite then removes the `-wal` and `-shm` files. Every
    /// clone is closed with it: afterwards writes and reads answer
    /// [`StoreError::Closed`].
    ///
    /// Dropping every clone also stops the writer, but not in order with the read
    /// connection, and a process that exits without dropping them leaves the WAL beside
    /// the file (SQLite reads it at the next open; nothing is lost either way).
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`] when the store was already closed; [`StoreError::Database`]
    /// when the checkpoint or the close fails (the committed reports are in the WAL then,
    /// and SQLite applies it at the next open).
    pub async fn close(&self) -> Result<(), StoreError> {
        let read = self.read.clone();
        // Waits for a read in progress to finish.
        tokio::task::spawn_blocking(move || {
            let taken = read.lock().unwrap_or_else(|p| p.into_inner()).take();
            match taken.map(Connection::close) {
                Some(Err((_, e))) => Err(db(e)),
                _ => Ok(()),
            }
        })
        .await
        .map_err(|_| STOPPED)??;
        let (ack, done) = tokio::sync::oneshot::channel();
        self.send_waiting(Job::Close(ack)).await?;
        done.await.unwrap_or(Err(STOPPED))
    }

    /// Queues `job`, waiting for room (maintenance may queue behind reports, never be
    /// refused for them).
    async fn send_waiting(&self, job: Job) -> Result<(), StoreError> {
        let (jobs, shared) = (self.jobs.clone(), self.shared.clone());
        tokio::task::spawn_blocking(move || {
            shared.queued.fetch_add(1, Ordering::Relaxed);
            jobs.send(job).map_err(|_| {
                shared.queued.fetch_sub(1, Ordering::Relaxed);
                STOPPED
            })
        })
        .await
        .map_err(|_| STOPPED)?
    }

    /// Queues `job` if there is room.
    fn try_send(&self, job: Job) -> Result<(), TrySendError<Job>> {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        self.jobs.try_send(job).inspect_err(|_| {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        })
    }

    /// Number of stored violations (`COUNT(*)` over `violations`).
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.read(|c| count(c).map_err(db)).await
    }
}

pub(super) fn count(c: &Connection) -> rusqlite::Result<u64> {
    c.query_row("SELECT COUNT(*) FROM violations", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
}

impl ReportSink for SqliteSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let sent = self.try_send(Job::Batch(batch, ack));
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
        let _ = self.try_send(Job::Filtered(n));
    }

    /// Into the same queue and commits as violations, to the `observations` table.
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let sent = self.try_send(Job::Observe(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done.await.unwrap_or(Err(STOPPED)),
                Err(TrySendError::Full(_)) => Err(StoreError::Full),
                Err(TrySendError::Disconnected(_)) => Err(STOPPED),
            }
        })
    }

    /// [`Health::Failing`] from a failed commit until one succeeds (an empty transaction
    /// tried every few seconds while no reports come counts), else [`Health::Full`] while
    /// every place in the queue is taken.
    fn health(&self) -> Health {
        let queued = self.shared.queued.load(Ordering::Relaxed);
        self.shared
            .health
            .health((queued >= self.queue).then_some(queued))
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

    /// Groups the rows received since `since` (the index on `received_at`), on tokio's
    /// blocking pool.
    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        self.read(move |c| read::reported(c, secs(since)).map_err(db))
    }

    /// Violations and observations of the window's rows by hour, on tokio's blocking pool.
    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        self.read(move |c| read::heard(c, window).map_err(db))
    }

    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        self.read(read::rollout)
    }

    /// On the writer, between commits: one `UPDATE … WHERE version = ?` (or an insert when
    /// there is none), atomic across processes sharing the file.
    fn replace_rollout(
        &self,
        expected: Option<u64>,
        next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let version = expected.map_or(1, |v| v + 1);
            let (ack, done) = tokio::sync::oneshot::channel();
            let job = Job::Rollout(
                expected.map(sql::int),
                sql::int(version),
                next.to_record(),
                ack,
            );
            self.send_waiting(job).await?;
            done.await.unwrap_or(Err(STOPPED))
        })
    }
}

//! A report sink on PostgreSQL (feature `postgres`): the shared store for a fleet of
//! collectors, with the same contract as [`SqliteSink`](super::SqliteSink).
//!
//! - **204 only after the commit.** Each batch is acknowledged once the transaction that
//!   stored it committed (with PostgreSQL's default `synchronous_commit = on`, once its WAL
//!   record is flushed). A collector killed with `kill -9` loses no acknowledged report.
//! - **Rows and aggregate together.** The same transaction inserts the `violations` rows
//!   and upserts the `groups` aggregate (`INSERT … ON CONFLICT … DO UPDATE SET count =
//!   groups.count + excluded.count`), so any number of collector processes share one store
//!   and one summary. Group rows are upserted in key order, so concurrent writers do not
//!   deadlock each other; a deadlock or serialization failure reported by the server is
//!   retried (the transaction was rolled back whole).
//! - **Group commit, bounded queue.** Batches wait in a bounded queue; each commit takes
//!   what is waiting (up to 1,024 violations) into one transaction of the same few
//!   statements whatever its size (`unnest` of arrays), pipelined: one round trip. Two
//!   commits are in flight at once by default, pipelined on one connection, so the server
//!   starts the next as soon as the last is done ([`PostgresSinkBuilder::writers`]). A full
//!   queue answers [`StoreError::Full`]: the collector answers 503 and clients retry.
//! - **Losing the database is survivable.** When PostgreSQL goes away, commits fail and the
//!   collector answers 503 (never 204 for a report it did not store); the broken
//!   connection is dropped from the pool and new ones are made on demand, so the sink
//!   accepts again as soon as the server is back. A commit whose answer was lost with the
//!   connection is answered 503 although it may have committed: the client's retry can then
//!   store that report twice (at least once, never lost).
//!
//! ```no_run
//! use connect_src::report::postgres::PostgresSink;
//! use connect_src::report::store::ReportStore;
//! use connect_src::report::Collector;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sink = PostgresSink::builder()
//!     .queue(256)  // batches waiting for a writer, then 503
//!     .writers(2)  // transactions in flight on one connection (the default)
//!     .open("postgres://reports@127.0.0.1:5432/reports")?;
//! let collector = Collector::builder().store(sink.clone()).build();
//! assert_eq!(sink.summary(10).await?.total, 0);
//! # Ok(()) }
//! ```
//!
//! **Runtime.** The writers and their connection run on a small runtime of the sink's own
//! (one thread, `connect-src-postgres`: measured cheaper per report than sharing the
//! application's workers; bench/README.md), so they work the same under any tokio runtime
//! of the application. [`PostgresSinkBuilder::open`] waits for that runtime to connect and
//! migrate (call it before or outside async code, or from `spawn_blocking`). Reads
//! ([`ReportStore::summary`], [`ReportStore::activity`], [`PostgresSink::count`]) and
//! [`PostgresSink::prune_before`] are plain async calls on the caller's own runtime, with
//! connections from the same pool: nothing blocks a thread while PostgreSQL answers.
//!
//! **Errors.** Every call answers [`StoreError`]; its [`Database`](StoreError::Database)
//! variant carries the `tokio_postgres::Error` as its source, whose `as_db_error()` has the
//! server's SQLSTATE (`28P01` a refused password, `53100` a full disk).
//!
//! **Schema.** Plain tables, as in SQLite: `violations` (one row per report, times in Unix
//! seconds), `groups` (the summary's aggregate), `counters` (`filtered`), and
//! `connect_src_schema` (its version). Opening migrates an older schema under
//! `pg_advisory_xact_lock`, so several processes starting at once migrate it once; a schema
//! newer than this version knows is refused untouched ([`StoreError::NewerSchema`]).
//! `total` in the summary is the sum of the group counts, read without scanning
//! `violations` (rows deleted by hand stay counted until [`PostgresSink::prune_before`]
//! recounts).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_postgres::NoTls;

use super::sql::{self, activity_by_hour, group_columns, inventory_by_destination, secs};
use super::store::{
    Activity, BoxFuture, DestinationUse, GroupKey, HourWindow, Observation, ReportSink,
    ReportStore, StoreError, Summary, Violation,
};
use crate::source::Origin;

mod db;
mod schema;
mod write;

use db::{db, discard, Db};
use schema::{migrate, GROUPS_FROM_ROWS, GROUP_NETWORKS_FROM_ROWS};
use write::{dispatch, text, Job};

/// Options for [`PostgresSink`]; from [`PostgresSink::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresSinkBuilder {
    queue: usize,
    writers: usize,
    timeout: Duration,
}

impl PostgresSinkBuilder {
    /// Batches (one per report request) that may wait for a writer, at least 1; default
    /// 256. When they are all taken, [`submit`](ReportSink::submit) returns
    /// [`StoreError::Full`] and the collector answers 503.
    pub fn queue(mut self, batches: usize) -> Self {
        self.queue = batches.max(1);
        self
    }

    /// Transactions in flight at once, at least 1; default 2. They share one connection,
    /// pipelined: each transaction is sent whole (BEGIN to COMMIT) as soon as it is
    /// gathered, so the server starts the next one the moment it finishes the last,
    /// without waiting a round trip for the collector; an error rolls back only its own
    /// transaction. Measured with `bash bench/pg_writers.sh` (README, Performance): two in
    /// flight came out at 0.74 to 1.07 of the bare-PostgreSQL floor against 0.57 to 0.73
    /// for one, in absolute reports/s from about the same to ~1.3x depending on the run
    /// (commits are smaller: ~11 reports instead of ~16); three measured no better. The pool
    /// holds one more connection for reads (summary, prune) and one to replace a writer
    /// connection that failed.
    pub fn writers(mut self, writers: usize) -> Self {
        self.writers = writers.max(1);
        self
    }

    /// Longest wait for a connection or a commit before the batch is answered 503; default
    /// 10 s. A server that hangs (rather than refusing connections) is noticed this way.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Connects, migrates an older schema, and starts the writers. `url` is a libpq-style
    /// connection string: `postgres://user[:password]@host[:port]/database` (or
    /// `postgresql://…`, or `host=… user=… dbname=…`). TLS is not offered: reach a remote
    /// server through a private network or a local proxy.
    ///
    /// Blocks the calling thread until the sink's runtime has connected and migrated: call
    /// it before your runtime starts, or from `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Configuration`] for a `url` that is not a connection string;
    /// [`StoreError::Database`] when the server cannot be reached or refuses (its error is
    /// the source); [`StoreError::Timeout`] when it does not answer within the
    /// [`timeout`](Self::timeout); [`StoreError::NewerSchema`] for a database of a later
    /// version (left untouched); [`StoreError::Closed`] when the sink's thread cannot start.
    pub fn open(self, url: &str) -> Result<PostgresSink, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::configuration(NotAUrl(e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("connect-src");
        }
        let rt = OwnRuntime::start().map_err(|e| StoreError::Closed(Some(Arc::new(e))))?;
        let rt = Arc::new(rt);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed is noticed (its task has ended) and
                // dropped; one broken mid-commit is taken out of the pool by `discard`.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(3)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(StoreError::configuration)?;
        let (jobs, rx) = mpsc::channel(self.queue);
        let db = Arc::new(Db {
            pool,
            timeout: self.timeout,
        });
        let opening = db.clone();
        rt.run(async move { migrate(&opening).await })
            .unwrap_or(Err(STOPPED))?;
        let writers = Arc::new(Semaphore::new(self.writers));
        let dispatcher = db.clone();
        rt.spawn(async move { dispatch(dispatcher, rx, writers).await });
        Ok(PostgresSink {
            jobs,
            queue: self.queue,
            db,
            _runtime: rt,
        })
    }
}

/// A connection string tokio-postgres cannot read: its error, and the form to write.
#[derive(Debug)]
struct NotAUrl(tokio_postgres::Error);

impl fmt::Display for NotAUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a PostgreSQL URL ({}); expected postgres://user[:password]@host[:port]/database",
            self.0
        )
    }
}

impl std::error::Error for NotAUrl {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The sink's own runtime: a current-thread runtime driven by one thread of its own
/// (`connect-src-postgres`); tasks spawned from other threads are queued to it. One thread
/// and no work-stealing: the sink's tasks are a dispatcher, its writers and their
/// connections, and this measured ~6% less CPU per report than a one-worker multi-thread
/// runtime (`bench/load.sh`, PostgreSQL case). When the last sink clone goes, the thread is
/// told to stop and drops the tasks; dropping never blocks, so it is safe anywhere, even in
/// another runtime's task.
struct OwnRuntime {
    handle: tokio::runtime::Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        let stop = self
            .stop
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    }
}

impl OwnRuntime {
    /// Starts the thread.
    fn start() -> std::io::Result<OwnRuntime> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("connect-src-postgres".into())
            .spawn(move || {
                rt.block_on(async move {
                    let _ = stopped.await;
                });
                rt.shutdown_background();
            })?;
        Ok(OwnRuntime {
            handle,
            stop: Mutex::new(Some(stop)),
        })
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        drop(self.handle.spawn(fut));
    }

    /// Runs `fut` on the sink's runtime and waits for it on this thread: the blocking
    /// bridge `open` needs (never `block_on`, so no "runtime within a runtime" panic).
    /// `None` when the runtime stopped before `fut` finished.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().ok()
    }
}

/// PostgreSQL sink and store. Cheap to clone; every clone shares the writers and the pool.
#[derive(Clone)]
pub struct PostgresSink {
    jobs: mpsc::Sender<Job>,
    queue: usize,
    db: Arc<Db>,
    /// Held, not read: when the last clone goes, the runtime's thread stops.
    _runtime: Arc<OwnRuntime>,
}

impl fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.db.pool.status();
        f.debug_struct("PostgresSink")
            .field("queue", &self.queue)
            .field("waiting", &(self.queue - self.jobs.capacity()))
            .field("connections", &status.size)
            .finish_non_exhaustive()
    }
}

const STOPPED: StoreError = StoreError::Closed(None);

impl PostgresSink {
    /// Options: queue length, writers, timeout.
    pub fn builder() -> PostgresSinkBuilder {
        PostgresSinkBuilder {
            queue: 256,
            writers: 2,
            timeout: Duration::from_secs(10),
        }
    }

    /// Connects with the default options (a queue of 256 batches, 2 transactions in flight,
    /// 10 s timeout).
    ///
    /// # Errors
    ///
    /// As [`PostgresSinkBuilder::open`].
    pub fn open(url: &str) -> Result<PostgresSink, StoreError> {
        PostgresSink::builder().open(url)
    }

    /// Deletes the violations received before `t` and recounts the groups from the rest,
    /// in one transaction; returns how many were deleted. It locks both tables against
    /// writers (of every process) while it runs: their commits wait, then go on.
    pub async fn prune_before(&self, t: SystemTime) -> Result<u64, StoreError> {
        prune(&self.db, secs(t)).await
    }

    /// Number of stored violations (`count(*)`: a scan of the table).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let conn = self.db.connection().await?;
        match conn.query_one("SELECT count(*) FROM violations", &[]).await {
            Ok(r) => Ok(r.get::<_, i64>(0).max(0) as u64),
            Err(e) => Err(read_error(conn, e)),
        }
    }
}

/// A connection that failed is taken out of the pool; the error is the driver's.
fn read_error(conn: Object, e: tokio_postgres::Error) -> StoreError {
    discard(conn);
    db(e)
}

async fn prune(shared: &Db, before: i64) -> Result<u64, StoreError> {
    let mut conn = shared.connection().await?;
    let result = async {
        let tx = conn.transaction().await?;
        // Writers take ROW EXCLUSIVE on violations, then on groups; this conflicts with
        // both, taken in the same order, so it waits for commits in flight and holds new
        // ones back until the recount is done.
        tx.batch_execute(
            "LOCK TABLE violations, groups, group_networks IN SHARE ROW EXCLUSIVE MODE",
        )
        .await?;
        let deleted = tx
            .execute("DELETE FROM violations WHERE received_at < $1", &[&before])
            .await?;
        if deleted > 0 {
            tx.batch_execute("DELETE FROM groups; DELETE FROM group_networks")
                .await?;
            tx.batch_execute(GROUPS_FROM_ROWS).await?;
            tx.batch_execute(GROUP_NETWORKS_FROM_ROWS).await?;
        }
        tx.execute(
            "DELETE FROM observations WHERE received_at < $1",
            &[&before],
        )
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }
    .await;
    result.map_err(|e: tokio_postgres::Error| read_error(conn, e))
}

impl ReportSink for PostgresSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (ack, done) = oneshot::channel();
        let sent = self.jobs.try_send(Job::Batch(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done.await.unwrap_or(Err(STOPPED)),
                Err(mpsc::error::TrySendError::Full(_)) => Err(StoreError::Full),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(STOPPED),
            }
        })
    }

    fn record_filtered(&self, n: u64) {
        // Best effort: a full queue drops the count, never a report.
        let _ = self.jobs.try_send(Job::Filtered(n));
    }

    /// Into the same queue and commits as violations, to the `observations` table.
    fn observe(&self, batch: Vec<Observation>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (ack, done) = oneshot::channel();
        let sent = self.jobs.try_send(Job::Observe(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done.await.unwrap_or(Err(STOPPED)),
                Err(mpsc::error::TrySendError::Full(_)) => Err(StoreError::Full),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(STOPPED),
            }
        })
    }
}

/// Violations per group and per hour, and in all, in `[$1, $2)` (Unix seconds, read with
/// the index `violations_received_at`), for the groups whose key columns are listed in the
/// arrays `$3`..`$7`.
const ACTIVITY: &str = activity_by_hour!(
    "$1",
    "$2",
    "SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
);

impl ReportStore for PostgresSink {
    /// Reads the `groups` aggregate and the noise count in one read-only, repeatable-read
    /// transaction (as many rows as groups, not one per report), on the caller's runtime.
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(read_summary(&self.db, sql::int(limit as u64)))
    }

    /// Counts the rows of the window by hour (`received_at / 3600`) in one read-only
    /// statement, with the index on `received_at`, on the caller's runtime.
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        Box::pin(read_activity(&self.db, keys, window))
    }

    /// Reads the `observations` received since `since`, grouped by destination and
    /// document origin, on the caller's runtime.
    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        Box::pin(read_inventory(&self.db, secs(since)))
    }

    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        let listed: Vec<String> = destinations.iter().map(|d| d.to_string()).collect();
        Box::pin(async move {
            let conn = self.db.connection().await?;
            match conn
                .query_one(PAGE_LOADS_REACHING, &[&secs(since), &listed])
                .await
            {
                Ok(r) => Ok(r.get::<_, f64>(0)),
                Err(e) => Err(read_error(conn, e)),
            }
        })
    }
}

const INVENTORY: &str = inventory_by_destination!("$1", "string_agg(DISTINCT o.engine, ',')");

/// Page loads (each once, re-weighted) that reached any destination of `$2` since `$1`.
const PAGE_LOADS_REACHING: &str = "SELECT COALESCE(SUM(w), 0.0)::float8 FROM (SELECT DISTINCT \
     page_load, 1.0::float8 / sample_rate AS w FROM observations WHERE received_at >= $1 \
     AND destination = ANY($2::text[])) x";

async fn read_inventory(shared: &Db, since: i64) -> Result<Vec<DestinationUse>, StoreError> {
    let conn = shared.connection().await?;
    let rows = match conn.query(INVENTORY, &[&since]).await {
        Ok(rows) => rows,
        Err(e) => return Err(read_error(conn, e)),
    };
    let mut out: Vec<DestinationUse> = rows
        .iter()
        .filter_map(|r| {
            let destination = sql::stored_origin(r.get::<_, &str>(0))?;
            let document_origin = r.get::<_, Option<&str>>(1).and_then(sql::stored_origin);
            Some(sql::destination_use(
                destination,
                document_origin,
                r.get(2),
                r.get::<_, Option<f64>>(3),
                r.get(4),
                r.get::<_, Option<&str>>(5),
                r.get(6),
                r.get(7),
                r.get(8),
            ))
        })
        .collect();
    sql::by_page_loads(&mut out);
    Ok(out)
}

async fn read_summary(shared: &Db, limit: i64) -> Result<Summary, StoreError> {
    let mut conn = shared.connection().await?;
    let result = async {
        let tx = conn
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await?;
        let total: i64 = tx
            .query_one("SELECT COALESCE(SUM(count), 0)::BIGINT FROM groups", &[])
            .await?
            .get(0);
        let filtered: i64 = tx
            .query_opt("SELECT value FROM counters WHERE name = 'filtered'", &[])
            .await?
            .map_or(0, |r| r.get(0));
        let rows = tx
            .query(
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups ORDER BY reach DESC, count DESC, blocked_origin COLLATE \"C\" \
                     LIMIT $1"
                ),
                &[&limit],
            )
            .await?;
        tx.commit().await?;
        let groups = rows
            .into_iter()
            .map(|r| {
                sql::group_from_row(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get::<_, &str>(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    r.get(7),
                    r.get::<_, &str>(8),
                    r.get(9),
                )
            })
            .collect();
        Ok(Summary {
            total: total.max(0) as u64,
            filtered: filtered.max(0) as u64,
            groups,
        })
    }
    .await;
    result.map_err(|e| read_error(conn, e))
}

async fn read_activity(
    shared: &Db,
    keys: &[GroupKey],
    window: HourWindow,
) -> Result<Activity, StoreError> {
    let (from, until) = sql::window_secs(window);
    // Rows hold keys as stored (NUL as U+FFFD, `text`): their counts go to every key
    // asked for that is stored so.
    let mut asked: HashMap<GroupKey, Vec<&GroupKey>> = HashMap::new();
    for k in keys {
        let stored = sql::activity_key(
            text(&k.directive).into_owned(),
            text(k.blocked_origin.as_str()).into_owned(),
            text(&k.document_path).into_owned(),
            k.disposition.as_str(),
            k.class.as_str(),
        );
        asked.entry(stored).or_default().push(k);
    }
    let column = |f: fn(&GroupKey) -> &str| -> Vec<String> {
        asked.keys().map(|k| f(k).to_owned()).collect()
    };
    let directive = column(|k| &k.directive);
    let origin = column(|k| k.blocked_origin.as_str());
    let path = column(|k| &k.document_path);
    let disposition = column(|k| k.disposition.as_str());
    let class = column(|k| k.class.as_str());
    let mut out = Activity::new(window, keys);
    let conn = shared.connection().await?;
    let rows = conn
        .query(
            ACTIVITY,
            &[
                &from,
                &until,
                &directive,
                &origin,
                &path,
                &disposition,
                &class,
            ],
        )
        .await
        .map_err(|e| read_error(conn, e))?;
    for r in rows {
        let key = r.get::<_, Option<String>>(0).map(|directive| {
            sql::activity_key(
                directive,
                r.get(1),
                r.get(2),
                r.get::<_, &str>(3),
                r.get::<_, &str>(4),
            )
        });
        let (hour, count) = (r.get::<_, i64>(5).max(0) as u64, r.get::<_, i64>(6).max(0));
        match key {
            Some(stored) => {
                for k in asked.get(&stored).into_iter().flatten() {
                    out.add(k, hour, count as u64);
                }
            }
            None => out.add_total(hour, count as u64),
        }
    }
    Ok(out)
}
